#include "render/plot.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "render/font.h"

static const rgb8 BACKGROUND = {250, 250, 250}, AXIS = {60, 60, 60}, GRID = {225, 225, 225}, TEXT = {30, 30, 30};

static void put(image *img, int x, int y, rgb8 c) {
    if (x < 0 || y < 0 || x >= img->width || y >= img->height) return;
    uint8_t *p = img->rgb + 3 * ((size_t)y * img->width + x);
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
}

/* Bresenham, two pixels thick so curves read at a glance. */
static void line(image *img, int x0, int y0, int x1, int y1, rgb8 c) {
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, e = dx + dy;
    for (;;) {
        put(img, x0, y0, c), put(img, x0, y0 + 1, c);
        if (x0 == x1 && y0 == y1) return;
        int e2 = 2 * e;
        if (e2 >= dy) e += dy, x0 += sx;
        if (e2 <= dx) e += dx, y0 += sy;
    }
}

static double y_value(double y, int log_y) { return log_y ? log10(y) : y; }

static int usable(double x, double y, int log_y) { return isfinite(x) && isfinite(y) && (!log_y || y > 0); }

void plot_lines(image *img, int width, int height, const char *title, const char *x_label, const plot_series *series,
                int n_series, int flags) {
    width = width < 160 ? 160 : width, height = height < 100 ? 100 : height;
    image_init(img, width, height);
    for (size_t i = 0; i < (size_t)width * height; i++)
        img->rgb[3 * i] = BACKGROUND.r, img->rgb[3 * i + 1] = BACKGROUND.g, img->rgb[3 * i + 2] = BACKGROUND.b;
    const int log_y = flags & PLOT_LOG_Y;
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int s = 0; s < n_series; s++)
        for (int i = 0; i < series[s].n; i++) {
            double x = series[s].x[i], y = series[s].y[i];
            if (!usable(x, y, log_y)) continue;
            double v = y_value(y, log_y);
            x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, v), y1 = fmax(y1, v);
        }
    if (!(x1 >= x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1; /* nothing to draw: empty axes */
    if (x1 == x0) x1 = x0 + 1;
    if (y1 == y0) y0 -= 0.5, y1 += 0.5;
    double pad = 0.05 * (y1 - y0);
    y0 -= pad, y1 += pad;
    const int left = 62, right = width - 12, top = 22, bottom = height - 30;
    font_draw(img, left, 6, title, 1, TEXT);
    /* Five horizontal grid lines with their values. */
    for (int k = 0; k <= 4; k++) {
        double v = y0 + (y1 - y0) * k / 4.0;
        int py = bottom - (int)lround((bottom - top) * k / 4.0);
        for (int x = left; x <= right; x++) put(img, x, py, GRID);
        char label[32];
        snprintf(label, sizeof label, "%.4g", log_y ? pow(10.0, v) : v);
        font_draw(img, left - 4 - font_text_width(label, 1), py - 4, label, 1, TEXT);
    }
    for (int k = 0; k <= 4; k++) {
        double v = x0 + (x1 - x0) * k / 4.0;
        int px = left + (int)lround((right - left) * k / 4.0);
        char label[32];
        snprintf(label, sizeof label, "%.6g", v);
        font_draw(img, px - font_text_width(label, 1) / 2, bottom + 5, label, 1, TEXT);
    }
    font_draw(img, (left + right - font_text_width(x_label, 1)) / 2, bottom + 17, x_label, 1, TEXT);
    line(img, left, top, left, bottom, AXIS);
    line(img, left, bottom, right, bottom, AXIS);
    for (int s = 0; s < n_series; s++) {
        int have = 0, px_prev = 0, py_prev = 0;
        for (int i = 0; i < series[s].n; i++) {
            double x = series[s].x[i], y = series[s].y[i];
            if (!usable(x, y, log_y)) continue;
            int px = left + (int)lround((right - left) * (x - x0) / (x1 - x0));
            int py = bottom - (int)lround((bottom - top) * (y_value(y, log_y) - y0) / (y1 - y0));
            if (have) line(img, px_prev, py_prev, px, py, series[s].colour);
            else put(img, px, py, series[s].colour);
            have = 1, px_prev = px, py_prev = py;
        }
        /* The legend, top right. */
        int ly = top + 4 + 12 * s, lx = right - 8 - font_text_width(series[s].name, 1);
        line(img, lx - 16, ly + 3, lx - 4, ly + 3, series[s].colour);
        font_draw(img, lx, ly, series[s].name, 1, TEXT);
    }
}
