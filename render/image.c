#include "render/image.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/fileio.h"

void image_init(image *img, int width, int height) {
    /* Sizes come from code, not from files (image_read_png checks those), so
     * a bad one is a bug: stop where it happened. */
    if (width < 1 || width > IMAGE_MAX_SIDE || height < 1 || height > IMAGE_MAX_SIDE) {
        fprintf(stderr, "image_init: size %dx%d outside 1..%d per side\n", width, height,
                IMAGE_MAX_SIDE);
        abort();
    }
    img->width = width;
    img->height = height;
    img->rgb = CALLOC_CHECK((size_t)width * (size_t)height, 3);
}

void image_free(image *img) {
    free(img->rgb);
    memset(img, 0, sizeof *img);
}

void image_to_floats(const image *img, float *x) {
    const size_t plane = (size_t)img->width * img->height;
    for (size_t p = 0; p < plane; p++)
        for (int c = 0; c < 3; c++) x[c * plane + p] = img->rgb[3 * p + c] / 255.0f;
}

void image_from_floats(const float *x, image *img) {
    const size_t plane = (size_t)img->width * img->height;
    for (size_t p = 0; p < plane; p++)
        for (int c = 0; c < 3; c++) {
            const float v = x[c * plane + p];
            img->rgb[3 * p + c] = (uint8_t)lrintf((v < 0 ? 0 : v > 1 ? 1 : v) * 255.0f);
        }
}

int image_write_png(const image *img, const char *path, wm_error *err) {
    atomic_file af;
    if (atomic_file_open(&af, path, err)) return -1;
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    pi.width = (png_uint_32)img->width;
    pi.height = (png_uint_32)img->height;
    pi.format = PNG_FORMAT_RGB;
    errno = 0;
    if (!png_image_write_to_stdio(&pi, af.f, 0, img->rgb, 0, NULL)) {
        /* libpng's stdio writer reports only "Write Error"; errno says why. */
        int e = errno;
        char reason[sizeof pi.message + 256];
        if (pi.message[0] && e)
            snprintf(reason, sizeof reason, "%s (%s)", pi.message, strerror(e));
        else
            snprintf(reason, sizeof reason, "%s", pi.message[0] ? pi.message : strerror(e));
        png_image_free(&pi);
        atomic_file_abort(&af);
        return wm_fail(err, "%s: cannot write PNG: %s", path, reason);
    }
    png_image_free(&pi);
    /* Buffered bytes may still fail to reach the disk; commit names the path. */
    return atomic_file_commit(&af, err);
}

int image_read_png(const char *path, image *img, wm_error *err) {
    memset(img, 0, sizeof *img);
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&pi, path)) {
        png_image_free(&pi);
        return wm_fail(err, "%s: not a readable PNG: %s", path, pi.message);
    }
    /* The header alone decides the allocation, so refuse a hostile or
     * corrupt size before trusting it. */
    if (pi.width > IMAGE_MAX_SIDE || pi.height > IMAGE_MAX_SIDE) {
        unsigned w = pi.width, h = pi.height;
        png_image_free(&pi);
        return wm_fail(err, "%s: PNG too large: %ux%u (max %d per side)", path, w, h,
                       IMAGE_MAX_SIDE);
    }
    pi.format = PNG_FORMAT_RGB;
    image_init(img, (int)pi.width, (int)pi.height);
    /* With a NULL background libpng composes alpha onto the buffer's current
     * contents; image_init zeroed them, so translucent pixels land on black. */
    if (!png_image_finish_read(&pi, NULL, img->rgb, 0, NULL)) {
        png_image_free(&pi);
        image_free(img);
        return wm_fail(err, "%s: not a readable PNG: %s", path, pi.message);
    }
    png_image_free(&pi);
    return 0;
}
