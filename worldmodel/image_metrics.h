/* image_metrics.h — PSNR and SSIM between two frames, weight-free: how close
 * a generated frame is to the oracle's.
 *
 * Usage:
 *     metric_image a = {img.width, img.height, img.rgb}, b = {...};  // render/image.h's layout
 *     double db, s;
 *     if (psnr_rgb8(a, b, &db, &err) || ssim_rgb8(a, b, &s, &err)) ...   // sizes differ, too small
 *
 *     double per_image[B], mean;                      // the tokenizer's (B, 3, H, W) floats in [0, 1]
 *     psnr_batch(x, y, B, H, W, per_image, &mean, &err);
 *     ssim_batch(x, y, B, H, W, NULL, &mean, &err);
 *
 * PSNR = 10 log10(MAX^2 / MSE), the MSE over every channel of every pixel;
 * MAX is 255 for 8-bit images and 1 for floats in [0, 1]. Identical images
 * have MSE 0 and PSNR +INFINITY (so does a batch mean that includes one).
 *
 * SSIM follows Wang, Bovik, Sheikh & Simoncelli (2004): an 11x11 Gaussian
 * window (sigma 1.5, normalised to sum 1), K1 = 0.01, K2 = 0.03, L = 255,
 * biased (window-weighted) variances, on luma Y = 0.299 R + 0.587 G +
 * 0.114 B (BT.601, kept in double, not rounded), averaged over the windows
 * that lie wholly inside the image (no padding): images must be at least
 * 11x11. Float images are scaled by 255 first, which gives the same value
 * as L = 1. Identical images give exactly 1; the value is exactly symmetric
 * in its arguments, at most 1, and negative for inverted structure.
 *
 * Batch values are per image; the mean is of the per-image values (the
 * usual video-prediction average), not PSNR of the pooled MSE. Float inputs
 * are used as given (not clamped); NaN in, NaN out. */
#ifndef WMSIM_IMAGE_METRICS_H
#define WMSIM_IMAGE_METRICS_H

#include <stdint.h>

#include "core/error.h"

#define SSIM_WINDOW 11
#define SSIM_SIGMA 1.5
#define SSIM_K1 0.01
#define SSIM_K2 0.03

/* An 8-bit RGB image: row-major from the top-left, 3 bytes per pixel, no padding. */
typedef struct {
    int width, height;
    const uint8_t *rgb;
} metric_image;

/* Errors: "PSNR: image sizes differ: 128x64 vs 64x32", "PSNR: empty image (0x64)". */
int psnr_rgb8(metric_image a, metric_image b, double *psnr, wm_error *err);
/* Errors as psnr_rgb8's, and "SSIM: images are 10x64, smaller than the 11x11 window". */
int ssim_rgb8(metric_image a, metric_image b, double *ssim, wm_error *err);

/* x, y: (B, 3, H, W), channel planes of each image one after another.
 * per_image (B values) and mean may each be NULL. */
int psnr_batch(const float *x, const float *y, int B, int H, int W, double *per_image, double *mean,
               wm_error *err);
int ssim_batch(const float *x, const float *y, int B, int H, int W, double *per_image, double *mean,
               wm_error *err);

#endif
