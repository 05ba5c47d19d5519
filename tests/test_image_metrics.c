/* test_image_metrics.c — PSNR and SSIM (worldmodel/image_metrics.h): known
 * values, the properties the definitions promise, a direct (non-separable,
 * two-pass) SSIM reference, the float batch path against the 8-bit one,
 * and the exact error messages. */
#include <math.h>
#include <stdarg.h>

#include "core/error.h"
#include "core/rng.h"
#include "testutil.h"
#include "worldmodel/image_metrics.h"

typedef struct {
    int w, h;
    uint8_t *rgb;
} img8;

static img8 img_new(int w, int h) {
    img8 im = {w, h, CALLOC_CHECK((size_t)w * h, 3)};
    return im;
}

static metric_image view(img8 im) { return (metric_image){im.w, im.h, im.rgb}; }

static uint8_t clamp8(double v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lround(v)); }

static void fill_random(img8 im, uint64_t seed, int lo, int hi) {
    wm_rng r;
    rng_init(&r, seed);
    for (size_t i = 0; i < (size_t)im.w * im.h * 3; i++)
        im.rgb[i] = (uint8_t)(lo + rng_u64(&r) % (uint64_t)(hi - lo + 1));
}

/* A smooth scene-like image: gradients and a bright disc, so SSIM has structure to lose. */
static void fill_smooth(img8 im) {
    for (int y = 0; y < im.h; y++)
        for (int x = 0; x < im.w; x++) {
            double d = hypot(x - im.w * 0.6, y - im.h * 0.4);
            uint8_t *p = im.rgb + 3 * ((size_t)y * im.w + x);
            p[0] = clamp8(40 + 150.0 * x / im.w + (d < im.h * 0.25 ? 60 : 0));
            p[1] = clamp8(60 + 100.0 * y / im.h + 40 * sin(x * 0.3));
            p[2] = clamp8(200 - 120.0 * y / im.h);
        }
}

static img8 img_noisy(img8 base, double sigma, uint64_t seed) {
    img8 im = img_new(base.w, base.h);
    wm_rng r;
    rng_init(&r, seed);
    for (size_t i = 0; i < (size_t)im.w * im.h * 3; i++) im.rgb[i] = clamp8(base.rgb[i] + sigma * rng_normal(&r));
    return im;
}

/* (1, 3, H, W) floats in [0, 1], appended at x + b * 3HW. */
static void to_planar(img8 im, float *x) {
    size_t n = (size_t)im.w * im.h;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++) x[c * n + i] = im.rgb[3 * i + c] / 255.0f;
}

static double psnr8(img8 a, img8 b) {
    double p;
    wm_error err;
    ck_assert_msg(psnr_rgb8(view(a), view(b), &p, &err) == 0, "%s", err.msg);
    return p;
}

static double ssim8(img8 a, img8 b) {
    double s;
    wm_error err;
    ck_assert_msg(ssim_rgb8(view(a), view(b), &s, &err) == 0, "%s", err.msg);
    return s;
}

static double luma(const uint8_t *p) { return 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]; }

/* SSIM computed the slow, obvious way: the 2D Gaussian normalised over its
 * 121 taps, each window's statistics as weighted sums of deviations. */
static double ssim_reference(img8 a, img8 b) {
    double w[11][11], sum = 0;
    for (int i = 0; i < 11; i++)
        for (int j = 0; j < 11; j++) sum += w[i][j] = exp(-((i - 5) * (i - 5) + (j - 5) * (j - 5)) / (2 * 1.5 * 1.5));
    for (int i = 0; i < 11; i++)
        for (int j = 0; j < 11; j++) w[i][j] /= sum;
    const double C1 = pow(0.01 * 255, 2), C2 = pow(0.03 * 255, 2);
    double total = 0;
    int count = 0;
    for (int y0 = 0; y0 + 11 <= a.h; y0++)
        for (int x0 = 0; x0 + 11 <= a.w; x0++) {
            double ma = 0, mb = 0;
            for (int i = 0; i < 11; i++)
                for (int j = 0; j < 11; j++) {
                    size_t o = 3 * ((size_t)(y0 + i) * a.w + x0 + j);
                    ma += w[i][j] * luma(a.rgb + o);
                    mb += w[i][j] * luma(b.rgb + o);
                }
            double va = 0, vb = 0, cov = 0;
            for (int i = 0; i < 11; i++)
                for (int j = 0; j < 11; j++) {
                    size_t o = 3 * ((size_t)(y0 + i) * a.w + x0 + j);
                    double da = luma(a.rgb + o) - ma, db = luma(b.rgb + o) - mb;
                    va += w[i][j] * da * da;
                    vb += w[i][j] * db * db;
                    cov += w[i][j] * da * db;
                }
            total += (2 * ma * mb + C1) * (2 * cov + C2) / ((ma * ma + mb * mb + C1) * (va + vb + C2));
            count++;
        }
    return total / count;
}

static void assert_msg(const wm_error *err, const char *want) { ck_assert_str_eq(err->msg, want); }

/* ---- PSNR ---- */

START_TEST(psnr_constant_difference) {
    const int ds[] = {1, 2, 3, 5, 10, 64, 128, 255};
    for (size_t k = 0; k < sizeof ds / sizeof ds[0]; k++) {
        int d = ds[k];
        img8 a = img_new(17, 13), b = img_new(17, 13);
        fill_random(a, 1 + k, 0, 255 - d);
        for (size_t i = 0; i < 17 * 13 * 3; i++) b.rgb[i] = (uint8_t)(a.rgb[i] + d);
        double want = 20 * log10(255.0 / d);
        /* MSE is exactly d^2 (integer sums), so only the log's rounding differs. */
        ck_assert_double_eq_tol(psnr8(a, b), want, 1e-12);
        ck_assert_double_eq_tol(psnr8(b, a), want, 1e-12);
        free(a.rgb), free(b.rgb);
    }
    ck_assert_double_eq_tol(20 * log10(255.0 / 255), 0.0, 1e-15); /* d = 255: 0 dB */
}
END_TEST

START_TEST(psnr_identical_is_infinity) {
    img8 a = img_new(5, 4);
    fill_random(a, 3, 0, 255);
    double p = psnr8(a, a);
    ck_assert(isinf(p) && p > 0);
    float x[3 * 5 * 4];
    to_planar(a, x);
    double per[1], mean;
    wm_error err;
    ck_assert_int_eq(psnr_batch(x, x, 1, 4, 5, per, &mean, &err), 0);
    ck_assert(isinf(per[0]) && per[0] > 0 && isinf(mean));
    free(a.rgb);
}
END_TEST

START_TEST(psnr_half_the_samples_differ) {
    /* 24 samples, 12 of them off by 10: MSE = 50. */
    img8 a = img_new(4, 2), b = img_new(4, 2);
    for (int i = 0; i < 24; i++) a.rgb[i] = b.rgb[i] = (uint8_t)(i * 10);
    for (int i = 0; i < 24; i += 2) b.rgb[i] += 10;
    ck_assert_double_eq_tol(psnr8(a, b), 10 * log10(255.0 * 255.0 / 50.0), 1e-12);
    free(a.rgb), free(b.rgb);
}
END_TEST

START_TEST(psnr_batch_matches_rgb8) {
    enum { B = 3, W = 24, H = 16 };
    const size_t n = 3 * W * H;
    float *x = MALLOC_CHECK(B * n * sizeof(float)), *y = MALLOC_CHECK(B * n * sizeof(float));
    double want[B], per[B], mean;
    img8 base = img_new(W, H);
    fill_smooth(base);
    for (int b = 0; b < B; b++) {
        img8 noisy = img_noisy(base, 3.0 + 20 * b, 10 + b);
        to_planar(base, x + b * n);
        to_planar(noisy, y + b * n);
        want[b] = psnr8(base, noisy);
        free(noisy.rgb);
    }
    wm_error err;
    ck_assert_int_eq(psnr_batch(x, y, B, H, W, per, &mean, &err), 0);
    /* The floats are u8 / 255 rounded to float (abs error <= 2^-25 each), so
     * a sample's difference (>= 1/255 when nonzero) is off by <= 1.5e-5
     * relative, its square by 3e-5, and PSNR by <= 4.343 * 3e-5 = 1.3e-4 dB. */
    for (int b = 0; b < B; b++) ck_assert_double_eq_tol(per[b], want[b], 2e-4);
    ck_assert_double_eq_tol(mean, (per[0] + per[1] + per[2]) / 3, 1e-12);
    ck_assert(per[0] > per[1] && per[1] > per[2]);
    /* NULL outputs are allowed */
    double mean2;
    ck_assert_int_eq(psnr_batch(x, y, B, H, W, NULL, &mean2, &err), 0);
    ck_assert(mean2 == mean);
    ck_assert_int_eq(psnr_batch(x, y, B, H, W, per, NULL, &err), 0);
    /* the constant-difference law in float form: d / 255 everywhere */
    for (size_t i = 0; i < n; i++) x[i] = 0.25f, y[i] = 0.25f + 5 / 255.0f;
    ck_assert_int_eq(psnr_batch(x, y, 1, H, W, per, NULL, &err), 0);
    ck_assert_double_eq_tol(per[0], 20 * log10(255.0 / 5), 2e-4);
    free(x), free(y), free(base.rgb);
}
END_TEST

/* ---- SSIM ---- */

START_TEST(ssim_identical_is_exactly_one) {
    img8 a = img_new(40, 30);
    fill_random(a, 5, 0, 255);
    ck_assert(ssim8(a, a) == 1.0);
    fill_smooth(a);
    ck_assert(ssim8(a, a) == 1.0);
    float x[3 * 40 * 30];
    to_planar(a, x);
    double s;
    wm_error err;
    ck_assert_int_eq(ssim_batch(x, x, 1, 30, 40, &s, NULL, &err), 0);
    ck_assert(s == 1.0);
    free(a.rgb);
}
END_TEST

START_TEST(ssim_is_symmetric) {
    img8 a = img_new(33, 21);
    fill_smooth(a);
    img8 b = img_noisy(a, 25, 8), c = img_new(33, 21);
    fill_random(c, 9, 0, 255);
    ck_assert(ssim8(a, b) == ssim8(b, a)); /* exactly: see image_metrics.c */
    ck_assert(ssim8(a, c) == ssim8(c, a));
    free(a.rgb), free(b.rgb), free(c.rgb);
}
END_TEST

START_TEST(ssim_decreases_with_noise) {
    img8 a = img_new(64, 32);
    fill_smooth(a);
    const double sigmas[] = {1, 4, 12, 30, 80};
    double prev = 1.0;
    for (size_t i = 0; i < sizeof sigmas / sizeof sigmas[0]; i++) {
        img8 b = img_noisy(a, sigmas[i], 100 + i);
        double s = ssim8(a, b);
        ck_assert_msg(s < prev, "sigma %g: SSIM %.6f not below %.6f", sigmas[i], s, prev);
        ck_assert(s > 0);
        prev = s;
        free(b.rgb);
    }
    ck_assert_double_lt(prev, 0.5);
    free(a.rgb);
}
END_TEST

START_TEST(ssim_negative_for_inverted_structure) {
    img8 a = img_new(32, 32), b = img_new(32, 32);
    fill_random(a, 12, 0, 255);
    for (size_t i = 0; i < 32 * 32 * 3; i++) b.rgb[i] = (uint8_t)(255 - a.rgb[i]);
    double s = ssim8(a, b);
    ck_assert_msg(s < 0 && s >= -1, "SSIM %.6f", s);
    free(a.rgb), free(b.rgb);
}
END_TEST

/* Constant images: no variance, so SSIM is its luminance term alone,
 * (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1), with C1 = (0.01 * 255)^2 = 6.5025. */
START_TEST(ssim_constant_images_by_hand) {
    const uint8_t cols[][2][3] = {
        {{0, 0, 0}, {255, 255, 255}},    /* 6.5025 / (65025 + 6.5025) = 0.0000999900... */
        {{100, 100, 100}, {110, 110, 110}},
        {{50, 50, 50}, {50, 50, 50}},
        {{200, 10, 30}, {10, 200, 30}},  /* luma 75.13 vs 120.41 */
        {{0, 0, 1}, {0, 0, 0}},
    };
    for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
        img8 a = img_new(12, 15), b = img_new(12, 15);
        for (int i = 0; i < 12 * 15; i++) memcpy(a.rgb + 3 * i, cols[k][0], 3), memcpy(b.rgb + 3 * i, cols[k][1], 3);
        double mx = luma(cols[k][0]), my = luma(cols[k][1]), C1 = 6.5025;
        double want = (2 * mx * my + C1) / (mx * mx + my * my + C1);
        ck_assert_double_eq_tol(ssim8(a, b), want, 1e-12);
        free(a.rgb), free(b.rgb);
    }
    img8 a = img_new(11, 11), b = img_new(11, 11);
    memset(a.rgb, 0, 11 * 11 * 3);
    memset(b.rgb, 255, 11 * 11 * 3);
    ck_assert_double_eq_tol(ssim8(a, b), 6.5025 / (65025 + 6.5025), 1e-15);
    free(a.rgb), free(b.rgb);
}
END_TEST

START_TEST(ssim_matches_direct_reference) {
    const int sizes[][2] = {{11, 11}, {12, 11}, {23, 19}, {40, 17}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        img8 a = img_new(sizes[k][0], sizes[k][1]);
        fill_smooth(a);
        img8 b = img_noisy(a, 20, 40 + k), c = img_new(a.w, a.h);
        fill_random(c, 50 + k, 0, 255);
        /* The two differ only in rounding: E[x^2] - mu^2 near 255^2 loses
         * about 1e-11 to cancellation, which against C2 = 58.5 moves SSIM by
         * ~1e-13 at worst (observed: under 1e-14). */
        ck_assert_double_eq_tol(ssim8(a, b), ssim_reference(a, b), 1e-12);
        ck_assert_double_eq_tol(ssim8(a, c), ssim_reference(a, c), 1e-12);
        ck_assert_double_eq_tol(ssim8(b, c), ssim_reference(b, c), 1e-12);
        free(a.rgb), free(b.rgb), free(c.rgb);
    }
}
END_TEST

START_TEST(ssim_batch_matches_rgb8) {
    enum { B = 4, W = 30, H = 20 };
    const size_t n = 3 * W * H;
    float *x = MALLOC_CHECK(B * n * sizeof(float)), *y = MALLOC_CHECK(B * n * sizeof(float));
    double want[B], per[B], mean;
    img8 base = img_new(W, H);
    fill_smooth(base);
    for (int b = 0; b < B; b++) {
        img8 noisy = img_noisy(base, 2.0 + 15 * b, 20 + b);
        to_planar(base, x + b * n);
        to_planar(noisy, y + b * n);
        want[b] = ssim8(base, noisy);
        free(noisy.rgb);
    }
    wm_error err;
    ck_assert_int_eq(ssim_batch(x, y, B, H, W, per, &mean, &err), 0);
    /* Float inputs are u8 / 255 rounded to float: luma is off by about
     * 255 * 2^-25 ~ 8e-6, against C1 = 6.5 and C2 = 58.5 that moves SSIM
     * by well under 1e-6. */
    for (int b = 0; b < B; b++) ck_assert_double_eq_tol(per[b], want[b], 1e-6);
    ck_assert_double_eq_tol(mean, (per[0] + per[1] + per[2] + per[3]) / 4, 1e-15);
    for (int b = 1; b < B; b++) ck_assert(per[b] < per[b - 1]);
    free(x), free(y), free(base.rgb);
}
END_TEST

/* ---- errors ---- */

START_TEST(size_errors) {
    img8 a = img_new(128, 64), b = img_new(64, 32), small = img_new(10, 64), flat = img_new(64, 10);
    double out = 42;
    wm_error err;
    ck_assert_int_eq(psnr_rgb8(view(a), view(b), &out, &err), -1);
    assert_msg(&err, "PSNR: image sizes differ: 128x64 vs 64x32");
    ck_assert_int_eq(ssim_rgb8(view(a), view(b), &out, &err), -1);
    assert_msg(&err, "SSIM: image sizes differ: 128x64 vs 64x32");
    ck_assert_int_eq(ssim_rgb8(view(small), view(small), &out, &err), -1);
    assert_msg(&err, "SSIM: images are 10x64, smaller than the 11x11 window");
    ck_assert_int_eq(ssim_rgb8(view(flat), view(flat), &out, &err), -1);
    assert_msg(&err, "SSIM: images are 64x10, smaller than the 11x11 window");
    ck_assert_int_eq(psnr_rgb8(view(small), view(small), &out, &err), 0); /* PSNR has no window */
    out = 42;
    metric_image empty = {0, 64, a.rgb}, none = {4, 4, NULL};
    ck_assert_int_eq(psnr_rgb8(empty, view(a), &out, &err), -1);
    assert_msg(&err, "PSNR: empty image (0x64)");
    ck_assert_int_eq(ssim_rgb8(view(a), none, &out, &err), -1);
    assert_msg(&err, "SSIM: no pixel data for a 4x4 image");
    ck_assert(out == 42); /* untouched on failure */
    float x[3 * 16 * 16] = {0};
    double per[2] = {42, 42};
    ck_assert_int_eq(psnr_batch(x, x, 0, 16, 16, per, &out, &err), -1);
    assert_msg(&err, "PSNR: batch of 0 images");
    ck_assert_int_eq(psnr_batch(x, x, 1, 16, -2, per, &out, &err), -1);
    assert_msg(&err, "PSNR: empty image (-2x16)");
    ck_assert_int_eq(ssim_batch(x, NULL, 1, 16, 16, per, &out, &err), -1);
    assert_msg(&err, "SSIM: no pixel data for a 16x16 image");
    ck_assert_int_eq(ssim_batch(x, x, 1, 16, 10, per, &out, &err), -1);
    assert_msg(&err, "SSIM: images are 10x16, smaller than the 11x11 window");
    ck_assert(out == 42 && per[0] == 42 && per[1] == 42);
    free(a.rgb), free(b.rgb), free(small.rgb), free(flat.rgb);
}
END_TEST

int main(void) {
    Suite *s = suite_create("image_metrics");
    TCase *tc = tcase_create("psnr");
    tcase_add_test(tc, psnr_constant_difference);
    tcase_add_test(tc, psnr_identical_is_infinity);
    tcase_add_test(tc, psnr_half_the_samples_differ);
    tcase_add_test(tc, psnr_batch_matches_rgb8);
    suite_add_tcase(s, tc);
    tc = tcase_create("ssim");
    tcase_add_test(tc, ssim_identical_is_exactly_one);
    tcase_add_test(tc, ssim_is_symmetric);
    tcase_add_test(tc, ssim_decreases_with_noise);
    tcase_add_test(tc, ssim_negative_for_inverted_structure);
    tcase_add_test(tc, ssim_constant_images_by_hand);
    tcase_add_test(tc, ssim_matches_direct_reference);
    tcase_add_test(tc, ssim_batch_matches_rgb8);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, size_errors);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
