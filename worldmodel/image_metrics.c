/* image_metrics.c — PSNR and SSIM (see image_metrics.h for the definitions).
 *
 * Dimensions: B images, H x W pixels, 3 channels; SSIM's valid region is
 * Hv x Wv = (H - 10) x (W - 10) window positions. SSIM's Gaussian window is
 * separable: a horizontal pass over the five maps x, y, x^2, y^2, xy (H x Wv
 * each), then a vertical pass that forms each window's statistics. All
 * arithmetic is double; the build's -std=c11 keeps floating-point
 * contraction off, so identical images give exactly 1 and swapping the
 * arguments gives exactly the same value. */
#include "worldmodel/image_metrics.h"

#include <math.h>
#include <stdlib.h>

#include "core/check.h"

#define HALF (SSIM_WINDOW / 2)

static int check_one(const char *metric, int w, int h, const void *pixels, wm_error *err) {
    if (w < 1 || h < 1) return wm_fail(err, "%s: empty image (%dx%d)", metric, w, h);
    if (!pixels) return wm_fail(err, "%s: no pixel data for a %dx%d image", metric, w, h);
    return 0;
}

static int check_pair(const char *metric, metric_image a, metric_image b, wm_error *err) {
    if (check_one(metric, a.width, a.height, a.rgb, err) || check_one(metric, b.width, b.height, b.rgb, err))
        return -1;
    if (a.width != b.width || a.height != b.height)
        return wm_fail(err, "%s: image sizes differ: %dx%d vs %dx%d", metric, a.width, a.height, b.width, b.height);
    return 0;
}

static int check_ssim_size(int w, int h, wm_error *err) {
    if (w < SSIM_WINDOW || h < SSIM_WINDOW)
        return wm_fail(err, "SSIM: images are %dx%d, smaller than the %dx%d window", w, h, SSIM_WINDOW, SSIM_WINDOW);
    return 0;
}

static int check_batch(const char *metric, const float *x, const float *y, int B, int H, int W, wm_error *err) {
    if (B < 1) return wm_fail(err, "%s: batch of %d images", metric, B);
    return check_one(metric, W, H, x, err) || check_one(metric, W, H, y, err) ? -1 : 0;
}

static double psnr_from_mse(double mse, double max) {
    return mse > 0 ? 10.0 * log10(max * max / mse) : INFINITY;
}

int psnr_rgb8(metric_image a, metric_image b, double *psnr, wm_error *err) {
    if (check_pair("PSNR", a, b, err)) return -1;
    size_t n = (size_t)a.width * (size_t)a.height * 3;
    uint64_t se = 0; /* exact: at most 65025 per sample */
    for (size_t i = 0; i < n; i++) {
        int d = (int)a.rgb[i] - (int)b.rgb[i];
        se += (uint64_t)(d * d);
    }
    *psnr = psnr_from_mse((double)se / (double)n, 255.0);
    return 0;
}

int psnr_batch(const float *x, const float *y, int B, int H, int W, double *per_image, double *mean,
               wm_error *err) {
    if (check_batch("PSNR", x, y, B, H, W, err)) return -1;
    size_t n = (size_t)3 * H * W;
    double sum = 0;
    for (int b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * n, *yb = y + (size_t)b * n;
        double se = 0;
        for (size_t i = 0; i < n; i++) {
            double d = (double)xb[i] - (double)yb[i];
            se += d * d;
        }
        double p = psnr_from_mse(se / (double)n, 1.0);
        if (per_image) per_image[b] = p;
        sum += p;
    }
    if (mean) *mean = sum / B;
    return 0;
}

/* Work space for SSIM on H x W luma planes. */
typedef struct {
    int H, W;
    double g[SSIM_WINDOW];
    double *ya, *yb;                    /* (H, W) luma, 0..255 */
    double *ma, *mb, *maa, *mbb, *mab;  /* (H, Wv) horizontally filtered maps */
} ssim_work;

static void ssim_work_init(ssim_work *sw, int H, int W) {
    sw->H = H, sw->W = W;
    double sum = 0;
    for (int i = 0; i < SSIM_WINDOW; i++) {
        double t = i - HALF;
        sw->g[i] = exp(-t * t / (2.0 * SSIM_SIGMA * SSIM_SIGMA));
        sum += sw->g[i];
    }
    for (int i = 0; i < SSIM_WINDOW; i++) sw->g[i] /= sum;
    size_t plane = (size_t)H * (size_t)W, hplane = (size_t)H * (size_t)(W - 2 * HALF);
    sw->ya = CALLOC_CHECK(plane, sizeof(double));
    sw->yb = CALLOC_CHECK(plane, sizeof(double));
    sw->ma = CALLOC_CHECK(hplane, sizeof(double));
    sw->mb = CALLOC_CHECK(hplane, sizeof(double));
    sw->maa = CALLOC_CHECK(hplane, sizeof(double));
    sw->mbb = CALLOC_CHECK(hplane, sizeof(double));
    sw->mab = CALLOC_CHECK(hplane, sizeof(double));
}

static void ssim_work_free(ssim_work *sw) {
    free(sw->ya), free(sw->yb), free(sw->ma), free(sw->mb), free(sw->maa), free(sw->mbb), free(sw->mab);
}

/* Mean SSIM of the luma planes in sw->ya and sw->yb. */
static double ssim_planes(ssim_work *sw) {
    const int H = sw->H, W = sw->W, Wv = W - 2 * HALF, Hv = H - 2 * HALF;
    const double *g = sw->g;
    for (int r = 0; r < H; r++) {
        const double *a = sw->ya + (size_t)r * W, *b = sw->yb + (size_t)r * W;
        size_t o = (size_t)r * Wv;
        for (int c = 0; c < Wv; c++) {
            double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
            for (int k = 0; k < SSIM_WINDOW; k++) {
                double va = a[c + k], vb = b[c + k];
                sa += g[k] * va;
                sb += g[k] * vb;
                saa += g[k] * (va * va);
                sbb += g[k] * (vb * vb);
                sab += g[k] * (va * vb);
            }
            sw->ma[o + c] = sa, sw->mb[o + c] = sb;
            sw->maa[o + c] = saa, sw->mbb[o + c] = sbb, sw->mab[o + c] = sab;
        }
    }
    const double C1 = (SSIM_K1 * 255.0) * (SSIM_K1 * 255.0), C2 = (SSIM_K2 * 255.0) * (SSIM_K2 * 255.0);
    double total = 0;
    for (int r = 0; r < Hv; r++) {
        double row = 0;
        for (int c = 0; c < Wv; c++) {
            double mu_a = 0, mu_b = 0, eaa = 0, ebb = 0, eab = 0;
            for (int k = 0; k < SSIM_WINDOW; k++) {
                size_t o = (size_t)(r + k) * Wv + c;
                mu_a += g[k] * sw->ma[o];
                mu_b += g[k] * sw->mb[o];
                eaa += g[k] * sw->maa[o];
                ebb += g[k] * sw->mbb[o];
                eab += g[k] * sw->mab[o];
            }
            double var_a = eaa - mu_a * mu_a, var_b = ebb - mu_b * mu_b, cov = eab - mu_a * mu_b;
            double num = (2.0 * (mu_a * mu_b) + C1) * (2.0 * cov + C2);
            double den = ((mu_a * mu_a + mu_b * mu_b) + C1) * ((var_a + var_b) + C2);
            row += num / den;
        }
        total += row;
    }
    return total / ((double)Hv * (double)Wv);
}

static void luma_rgb8(double *dst, const uint8_t *rgb, size_t n) {
    for (size_t i = 0; i < n; i++)
        dst[i] = 0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2];
}

/* One (3, H, W) image in [0, 1] to luma in 0..255. */
static void luma_planar(double *dst, const float *x, size_t n) {
    const float *r = x, *g = x + n, *b = x + 2 * n;
    for (size_t i = 0; i < n; i++) dst[i] = 255.0 * (0.299 * r[i] + 0.587 * g[i] + 0.114 * b[i]);
}

int ssim_rgb8(metric_image a, metric_image b, double *ssim, wm_error *err) {
    if (check_pair("SSIM", a, b, err) || check_ssim_size(a.width, a.height, err)) return -1;
    ssim_work sw;
    ssim_work_init(&sw, a.height, a.width);
    size_t n = (size_t)a.width * (size_t)a.height;
    luma_rgb8(sw.ya, a.rgb, n);
    luma_rgb8(sw.yb, b.rgb, n);
    *ssim = ssim_planes(&sw);
    ssim_work_free(&sw);
    return 0;
}

int ssim_batch(const float *x, const float *y, int B, int H, int W, double *per_image, double *mean,
               wm_error *err) {
    if (check_batch("SSIM", x, y, B, H, W, err) || check_ssim_size(W, H, err)) return -1;
    ssim_work sw;
    ssim_work_init(&sw, H, W);
    size_t n = (size_t)H * W;
    double sum = 0;
    for (int b = 0; b < B; b++) {
        luma_planar(sw.ya, x + (size_t)b * 3 * n, n);
        luma_planar(sw.yb, y + (size_t)b * 3 * n, n);
        double s = ssim_planes(&sw);
        if (per_image) per_image[b] = s;
        sum += s;
    }
    ssim_work_free(&sw);
    if (mean) *mean = sum / B;
    return 0;
}
