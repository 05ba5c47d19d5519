/* image.h — an 8-bit RGB image and its PNG file form.
 *
 * Usage:
 *     image img;
 *     image_init(&img, 128, 64);                 // zeroed pixels
 *     img.rgb[3 * (y * img.width + x) + c] = ...;
 *     if (image_write_png(&img, "frame.png", &err)) ...   // atomic
 *     image_to_floats(&img, x);                  // (3, H, W) in [0, 1], for the tokenizer
 *     image_free(&img);
 *
 * Pixels are row-major from the top-left, 3 bytes per pixel, no padding. */
#ifndef WMSIM_IMAGE_H
#define WMSIM_IMAGE_H

#include <stdint.h>

#include "core/error.h"

#define IMAGE_MAX_SIDE 8192

typedef struct {
    int width, height;
    uint8_t *rgb; /* width * height * 3 */
} image;

typedef struct {
    uint8_t r, g, b;
} rgb8;

void image_init(image *img, int width, int height);
void image_free(image *img);

/* Writes 8-bit RGB PNG through a temporary file renamed into place. Errors
 * name the path and libpng's reason. */
int image_write_png(const image *img, const char *path, wm_error *err);

/* Reads any PNG libpng reads, converted to 8-bit RGB (alpha dropped, grey
 * expanded). Refuses sides over IMAGE_MAX_SIDE. On failure img is empty. */
int image_read_png(const char *path, image *img, wm_error *err);

/* The planar float form the tokenizer takes (datasets/frame_source.h's
 * scaling): x (3, H, W), value = byte / 255. image_from_floats clamps each
 * value to [0, 1] and rounds it to the nearest byte; img must already have
 * the size x is read at. */
void image_to_floats(const image *img, float *x);
void image_from_floats(const float *x, image *img);

#endif
