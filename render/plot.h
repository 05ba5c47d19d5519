/* plot.h — line charts as images: training curves, metrics over nights.
 *
 * Usage:
 *     plot_series s[2] = {{"train loss", steps, loss, n, {220, 60, 60}},
 *                         {"val PSNR", vsteps, psnr, m, {60, 120, 220}}};
 *     image img;
 *     plot_lines(&img, 640, 360, "tokenizer", "step", s, 2, 0);
 *     image_write_png(&img, "curves.png", &err);
 *
 * Axes are fitted to the data (a log y axis with PLOT_LOG_Y, for losses);
 * non-finite points are skipped. Labels use the built-in font. */
#ifndef WMSIM_PLOT_H
#define WMSIM_PLOT_H

#include "render/image.h"

#define PLOT_LOG_Y 1

typedef struct {
    const char *name;
    const double *x, *y;
    int n;
    rgb8 colour;
} plot_series;

/* img is allocated at width x height (at least 160 x 100). */
void plot_lines(image *img, int width, int height, const char *title, const char *x_label, const plot_series *series,
                int n_series, int flags);

#endif
