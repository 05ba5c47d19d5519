#include <dirent.h>
#include <png.h>
#include <signal.h>
#include <sys/resource.h>

#include "core/error.h"
#include "core/fileio.h"
#include "core/rng.h"
#include "render/image.h"
#include "testutil.h"

static void fill_random(image *img, uint64_t seed) {
    wm_rng r;
    rng_init(&r, seed);
    size_t n = (size_t)img->width * (size_t)img->height * 3;
    for (size_t i = 0; i < n; i++) img->rgb[i] = (uint8_t)(rng_u64(&r) >> 56);
}

static void assert_same(const image *a, const image *b) {
    ck_assert_int_eq(a->width, b->width);
    ck_assert_int_eq(a->height, b->height);
    ck_assert_int_eq(memcmp(a->rgb, b->rgb, (size_t)a->width * (size_t)a->height * 3), 0);
}

static void assert_empty(const image *img) {
    ck_assert_int_eq(img->width, 0);
    ck_assert_int_eq(img->height, 0);
    ck_assert_ptr_null(img->rgb);
}

static void assert_prefix(const char *msg, const char *prefix) {
    ck_assert_msg(strncmp(msg, prefix, strlen(prefix)) == 0, "'%s' does not start with '%s'",
                  msg, prefix);
}

/* Any leftover "*.tmp.*" means a reader could have seen a partial file. */
static int count_tmp_files(const char *dir) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static void roundtrip(int w, int h, uint64_t seed) {
    char *dir = test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/img.png", dir);
    image a, b;
    image_init(&a, w, h);
    fill_random(&a, seed);
    wm_error err;
    ck_assert_msg(image_write_png(&a, path, &err) == 0, "%s", err.msg);
    ck_assert_msg(image_read_png(path, &b, &err) == 0, "%s", err.msg);
    assert_same(&a, &b);
    ck_assert_int_eq(count_tmp_files(dir), 0);
    image_free(&a);
    image_free(&b);
    assert_empty(&a);
    remove(path);
    rmdir(dir);
    free(dir);
}

START_TEST(roundtrip_random_is_bit_exact) { roundtrip(97, 61, 12345); }
END_TEST

START_TEST(roundtrip_one_pixel) { roundtrip(1, 1, 1); }
END_TEST

START_TEST(roundtrip_non_square) {
    roundtrip(300, 7, 2);
    roundtrip(5, 211, 3);
}
END_TEST

START_TEST(init_zeroes_pixels) {
    image img;
    image_init(&img, 13, 9);
    for (int i = 0; i < 13 * 9 * 3; i++) ck_assert_uint_eq(img.rgb[i], 0);
    image_free(&img);
}
END_TEST

START_TEST(write_into_missing_directory) {
    char *dir = test_tmpdir();
    char path[4200], want[4400];
    snprintf(path, sizeof path, "%s/no/such/dir/out.png", dir);
    snprintf(want, sizeof want, "%s: cannot create: No such file or directory", path);
    image img;
    image_init(&img, 4, 4);
    wm_error err;
    ck_assert_int_eq(image_write_png(&img, path, &err), -1);
    ck_assert_str_eq(err.msg, want);
    image_free(&img);
    rmdir(dir);
    free(dir);
}
END_TEST

START_TEST(truncated_png_is_refused) {
    char *dir = test_tmpdir();
    char path[4200], prefix[4400];
    snprintf(path, sizeof path, "%s/cut.png", dir);
    image img;
    image_init(&img, 64, 64);
    fill_random(&img, 9);
    wm_error err;
    ck_assert_int_eq(image_write_png(&img, path, &err), 0);
    image_free(&img);
    uint8_t *data;
    size_t len;
    ck_assert_int_eq(file_read_all(path, 1 << 20, &data, &len, &err), 0);
    ck_assert_int_eq(file_write_atomic(path, data, len / 2, &err), 0);
    free(data);
    ck_assert_int_eq(image_read_png(path, &img, &err), -1);
    snprintf(prefix, sizeof prefix, "%s: not a readable PNG: ", path);
    assert_prefix(err.msg, prefix);
    ck_assert_uint_gt(strlen(err.msg), strlen(prefix)); /* libpng said why */
    assert_empty(&img);
    remove(path);
    rmdir(dir);
    free(dir);
}
END_TEST

START_TEST(text_file_is_refused) {
    char *dir = test_tmpdir();
    char path[4200], prefix[4400];
    snprintf(path, sizeof path, "%s/notes.png", dir);
    write_text_file(path, "this is not a PNG file\n");
    image img;
    wm_error err;
    ck_assert_int_eq(image_read_png(path, &img, &err), -1);
    snprintf(prefix, sizeof prefix, "%s: not a readable PNG: ", path);
    assert_prefix(err.msg, prefix);
    ck_assert_uint_gt(strlen(err.msg), strlen(prefix));
    assert_empty(&img);
    remove(path);
    rmdir(dir);
    free(dir);
}
END_TEST

START_TEST(missing_file_is_refused) {
    image img;
    wm_error err;
    ck_assert_int_eq(image_read_png("/nonexistent/x.png", &img, &err), -1);
    assert_prefix(err.msg, "/nonexistent/x.png: not a readable PNG: ");
    assert_empty(&img);
}
END_TEST

START_TEST(oversized_png_is_refused) {
    /* image_init refuses this size, so write it with libpng directly. */
    char *dir = test_tmpdir();
    char path[4200], want[4400];
    snprintf(path, sizeof path, "%s/wide.png", dir);
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    pi.width = IMAGE_MAX_SIDE + 1;
    pi.height = 2;
    pi.format = PNG_FORMAT_RGB;
    uint8_t *buf = CALLOC_CHECK((size_t)pi.width * pi.height, 3);
    ck_assert_int_ne(png_image_write_to_file(&pi, path, 0, buf, 0, NULL), 0);
    free(buf);
    image img;
    wm_error err;
    ck_assert_int_eq(image_read_png(path, &img, &err), -1);
    snprintf(want, sizeof want, "%s: PNG too large: 8193x2 (max 8192 per side)", path);
    ck_assert_str_eq(err.msg, want);
    assert_empty(&img);
    remove(path);
    rmdir(dir);
    free(dir);
}
END_TEST

START_TEST(failed_write_keeps_previous_file) {
    char *dir = test_tmpdir();
    char path[4200], prefix[4400];
    snprintf(path, sizeof path, "%s/frame.png", dir);
    image small, big, back;
    image_init(&small, 3, 2);
    fill_random(&small, 5);
    wm_error err;
    ck_assert_int_eq(image_write_png(&small, path, &err), 0);
    /* A file-size limit makes the disk "fill up" part way through the big
     * image; without SIGXFSZ ignored the kernel would kill the test instead. */
    image_init(&big, 512, 512);
    fill_random(&big, 6);
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 4096;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = image_write_png(&big, path, &err);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    ck_assert_int_eq(rc, -1);
    snprintf(prefix, sizeof prefix, "%s: ", path);
    assert_prefix(err.msg, prefix);
    ck_assert_int_eq(count_tmp_files(dir), 0);
    ck_assert_msg(image_read_png(path, &back, &err) == 0, "%s", err.msg);
    assert_same(&small, &back);
    image_free(&small);
    image_free(&big);
    image_free(&back);
    remove(path);
    rmdir(dir);
    free(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("image");
    TCase *tc = tcase_create("png");
    tcase_add_test(tc, roundtrip_random_is_bit_exact);
    tcase_add_test(tc, roundtrip_one_pixel);
    tcase_add_test(tc, roundtrip_non_square);
    tcase_add_test(tc, init_zeroes_pixels);
    tcase_add_test(tc, write_into_missing_directory);
    tcase_add_test(tc, truncated_png_is_refused);
    tcase_add_test(tc, text_file_is_refused);
    tcase_add_test(tc, missing_file_is_refused);
    tcase_add_test(tc, oversized_png_is_refused);
    tcase_add_test(tc, failed_write_keeps_previous_file);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
