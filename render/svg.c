/* svg.c — see svg.h. */
#include "render/svg.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "render/font.h"

/* Text metrics without a font engine: a glyph of the page's 11 px
 * sans-serif is at most about 6.6 px wide on average over a label
 * (underscores and digits are wide); labels are sized and clipped on that. */
#define GLYPH_W 6.6
#define TEXT_COLOUR "#333"
#define AXIS_COLOUR "#888"
#define GRID_COLOUR "#e4e4e4"
#define TRACK_COLOUR "#f0f0f0"

static void textbuf_reserve(textbuf *b, size_t extra) {
    if (b->cap - b->len > extra) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= extra) cap *= 2;
    b->data = REALLOC_CHECK(b->data, cap, 1);
    b->cap = cap;
}

static void textbuf_add(textbuf *b, const char *s, size_t n) {
    textbuf_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void textbuf_append(textbuf *b, const char *s) { textbuf_add(b, s, strlen(s)); }

void textbuf_printf(textbuf *b, const char *fmt, ...) {
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n > 0) {
        textbuf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
        b->len += (size_t)n;
    }
    va_end(again);
}

void textbuf_free(textbuf *b) {
    free(b->data);
    *b = (textbuf){0};
}

/* XML 1.0's Char production, less what utf8_next already refuses. */
static int xml_char(uint32_t c) {
    return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c != 0xFFFE && c != 0xFFFF);
}

/* Escapes at most max_cp codepoints of s, then "…" when some were left. */
static void escape_clipped(textbuf *b, const char *s, long max_cp) {
    if (!s) return;
    uint32_t c;
    long n = 0;
    for (const char *p = s; n < max_cp; n++) {
        const char *at = p;
        int rc = utf8_next(&p, &c);
        if (rc == 0) return;
        switch (c) {
        case '&': textbuf_append(b, "&amp;"); break;
        case '<': textbuf_append(b, "&lt;"); break;
        case '>': textbuf_append(b, "&gt;"); break;
        case '"': textbuf_append(b, "&quot;"); break;
        case '\'': textbuf_append(b, "&#39;"); break;
        default:
            if (rc < 0 || !xml_char(c)) textbuf_append(b, "\xEF\xBF\xBD");
            else textbuf_add(b, at, (size_t)(p - at));
        }
        if (n + 1 == max_cp && *p) textbuf_append(b, "\xE2\x80\xA6");
    }
}

void textbuf_escape(textbuf *b, const char *s) { escape_clipped(b, s, LONG_MAX); }

static int codepoints(const char *s) {
    uint32_t c;
    int n = 0;
    while (s && utf8_next(&s, &c)) n++;
    return n;
}

/* The label column's width for these labels, within [min_w, max_w] px. */
static double label_width(const char *const *labels, int n, double min_w, double max_w) {
    double w = min_w;
    for (int i = 0; labels && i < n; i++) w = fmax(w, codepoints(labels[i]) * GLYPH_W + 14);
    return fmin(w, max_w);
}

static void svg_open(textbuf *b, const char *title, int w, int h) {
    textbuf_printf(b,
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 %d %d\" width=\"%d\" "
                   "height=\"%d\" role=\"img\" font-size=\"11\" fill=\"" TEXT_COLOUR "\" aria-label=\"",
                   w, h, w, h);
    textbuf_escape(b, title);
    textbuf_append(b, "\"><title>");
    textbuf_escape(b, title);
    textbuf_append(b, "</title>\n");
}

/* A text element at (x, y); anchor "start", "middle" or "end"; at most
 * max_cp codepoints shown, the whole text in its tooltip when clipped. */
static void svg_text(textbuf *b, double x, double y, const char *anchor, const char *s, long max_cp) {
    textbuf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">", x, y, anchor);
    int clipped = codepoints(s) > max_cp;
    if (clipped) {
        textbuf_append(b, "<title>");
        textbuf_escape(b, s);
        textbuf_append(b, "</title>");
    }
    escape_clipped(b, s, clipped ? max_cp - 1 : max_cp); /* the "…" takes the last place */
    textbuf_append(b, "</text>\n");
}

static void svg_number(textbuf *b, double x, double y, const char *anchor, const char *fmt, double v) {
    char s[64];
    snprintf(s, sizeof s, fmt, v);
    svg_text(b, x, y, anchor, s, 64);
}

/* 1, 2 or 5 times a power of ten, so that max / step is at most 5. */
static double nice_step(double max) {
    static const double mantissa[3] = {1, 2, 5};
    for (double p = 1;; p *= 10)
        for (int k = 0; k < 3; k++)
            if (max / (p * mantissa[k]) <= 5) return p * mantissa[k];
}

void svg_histogram(textbuf *b, const char *title, const char *x_label, const double *values, const int *flagged,
                   int n, double lo, double hi, int bins) {
    const int W = 360, H = 200;
    const double left = 36, right = W - 10, top = 10, bottom = H - 36;
    if (bins < 1) bins = 1;
    if (!(hi > lo)) hi = lo + 1;
    int *plain = CALLOC_CHECK((size_t)bins, sizeof(int)), *flag = CALLOC_CHECK((size_t)bins, sizeof(int));
    for (int i = 0; i < n; i++) {
        if (!isfinite(values[i])) continue;
        double f = floor((values[i] - lo) / (hi - lo) * bins);
        int k = f < 0 ? 0 : f >= bins ? bins - 1 : (int)f;
        (flagged && flagged[i] ? flag : plain)[k]++;
    }
    int max = 1;
    for (int k = 0; k < bins; k++) max = plain[k] + flag[k] > max ? plain[k] + flag[k] : max;
    double step = nice_step(max), ymax = ceil(max / step) * step, scale = (bottom - top) / ymax;

    svg_open(b, title, W, H);
    for (double t = 0; t <= ymax + 1e-9; t += step) {
        double y = bottom - t * scale;
        textbuf_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"" GRID_COLOUR "\"/>\n", left,
                       right, y, y);
        svg_number(b, left - 5, y + 4, "end", "%g", t);
    }
    double bw = (right - left) / bins;
    char tip[160];
    for (int k = 0; k < bins; k++) {
        double x = left + k * bw + 1, w = bw - 2 > 1 ? bw - 2 : 1;
        double a = lo + (hi - lo) * k / bins, z = lo + (hi - lo) * (k + 1) / bins;
        snprintf(tip, sizeof tip, "%g to %g: %d (%d flagged)", a, z, plain[k] + flag[k], flag[k]);
        textbuf_append(b, "<g><title>");
        textbuf_escape(b, tip);
        textbuf_append(b, "</title>");
        /* A transparent full-height hit area keeps the tooltip on empty bins. */
        textbuf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"transparent\"/>", x, top,
                       w, bottom - top);
        double y = bottom;
        for (int part = 0; part < 2; part++) {
            int c = part ? flag[k] : plain[k];
            if (!c) continue;
            y -= c * scale;
            textbuf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>", x, y, w,
                           c * scale, part ? SVG_COLOUR_FLAG : SVG_COLOUR_OK);
        }
        textbuf_append(b, "</g>\n");
    }
    textbuf_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"" AXIS_COLOUR "\"/>\n", left,
                   right, bottom, bottom);
    int every = (bins + 4) / 5;
    for (int k = 0; k <= bins; k += every)
        svg_number(b, left + k * bw, bottom + 14, "middle", "%g", lo + (hi - lo) * k / bins);
    if (x_label) svg_text(b, (left + right) / 2, H - 6, "middle", x_label, 60);
    textbuf_append(b, "</svg>\n");
    free(plain);
    free(flag);
}

void svg_bars(textbuf *b, const char *title, const char *const *labels, const double *values, const double *targets,
              const char *const *value_labels, int n) {
    const int W = 640, row = 22, bar = 14;
    const double top = 6, label_w = label_width(labels, n, 60, 260), x0 = label_w, x1 = W - 110;
    const int H = (int)top + row * (n > 0 ? n : 1) + 22;
    const double bottom = top + row * (n > 0 ? n : 1);
    svg_open(b, title, W, H);
    for (int p = 0; p <= 100; p += 25) {
        double x = x0 + (x1 - x0) * p / 100;
        textbuf_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"" GRID_COLOUR "\"/>\n", x, x,
                       top, bottom);
        svg_number(b, x, bottom + 14, "middle", "%.0f %%", p);
    }
    long max_cp = lround((label_w - 14) / GLYPH_W);
    char tip[96];
    for (int i = 0; i < n; i++) {
        double y = top + row * i + (row - bar) / 2.0, v = isfinite(values[i]) ? fmin(fmax(values[i], 0), 1) : 0;
        double target = targets && isfinite(targets[i]) && targets[i] >= 0 ? fmin(targets[i], 1) : -1;
        const char *colour = target < 0 ? SVG_COLOUR_NEUTRAL : v < target ? SVG_COLOUR_FLAG : SVG_COLOUR_OK;
        svg_text(b, x0 - 8, y + bar - 3, "end", labels ? labels[i] : "", max_cp);
        textbuf_append(b, "<g><title>");
        textbuf_escape(b, labels ? labels[i] : "");
        snprintf(tip, sizeof tip, ": %.1f %%", 100 * v);
        textbuf_escape(b, tip);
        if (target >= 0) textbuf_printf(b, " (target %.1f %%)", 100 * target);
        textbuf_append(b, "</title>");
        textbuf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"" TRACK_COLOUR "\"/>", x0,
                       y, x1 - x0, bar);
        textbuf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>", x0, y,
                       (x1 - x0) * v, bar, colour);
        if (target >= 0) {
            double x = x0 + (x1 - x0) * target;
            textbuf_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#222\" "
                              "stroke-width=\"2\"/>", x, x, y - 3, y + bar + 3);
        }
        textbuf_append(b, "</g>\n");
        if (value_labels) {
            svg_text(b, x1 + 8, y + bar - 3, "start", value_labels[i], 18);
        } else {
            svg_number(b, x1 + 8, y + bar - 3, "start", "%.1f %%", 100 * v);
        }
    }
    textbuf_append(b, "</svg>\n");
}

void svg_strips(textbuf *b, const char *title, const char *const *row_labels, int n_rows, const double *values,
                int n_points, const int *flagged, const char *const *point_labels) {
    const int W = 720, row = 22;
    const double label_w = label_width(row_labels, n_rows, 60, 220), x0 = label_w + 64, x1 = W - 64;
    const int H = row * (n_rows > 0 ? n_rows : 1) + 4;
    svg_open(b, title, W, H);
    long max_cp = lround((label_w - 14) / GLYPH_W);
    char tip[64];
    for (int r = 0; r < n_rows; r++) {
        const double *v = values + (size_t)r * n_points, yc = 2 + row * r + row / 2.0;
        double lo = INFINITY, hi = -INFINITY;
        for (int i = 0; i < n_points; i++)
            if (isfinite(v[i])) lo = fmin(lo, v[i]), hi = fmax(hi, v[i]);
        if (r % 2 == 0)
            textbuf_printf(b, "<rect x=\"0\" y=\"%.1f\" width=\"%d\" height=\"%d\" fill=\"#f7f7f7\"/>\n",
                           yc - row / 2.0, W, row);
        svg_text(b, label_w - 8, yc + 4, "end", row_labels ? row_labels[r] : "", max_cp);
        if (lo > hi) {
            svg_text(b, x0, yc + 4, "start", "no values", 20);
            continue;
        }
        svg_number(b, x0 - 10, yc + 4, "end", "%.3g", lo);
        svg_number(b, x1 + 10, yc + 4, "start", "%.3g", hi);
        textbuf_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"" AXIS_COLOUR "\"/>\n", x0,
                       x1, yc, yc);
        /* Unflagged first, flagged on top, so a failure is never hidden
         * under a pass at the same value. */
        for (int pass = 0; pass < 2; pass++)
            for (int i = 0; i < n_points; i++) {
                int f = flagged && flagged[i];
                if (f != pass || !isfinite(v[i])) continue;
                double x = hi > lo ? x0 + (x1 - x0) * (v[i] - lo) / (hi - lo) : (x0 + x1) / 2;
                /* A fixed vertical spread by index: equal values stay
                 * countable, and the same input draws the same chart. */
                double y = yc + ((i * 5) % 9 - 4) * 1.2;
                textbuf_printf(b,
                               "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\" fill-opacity=\"%s\" "
                               "stroke=\"#fff\" stroke-width=\"0.6\"><title>",
                               x, y, f ? SVG_COLOUR_FLAG : SVG_COLOUR_OK, f ? "0.9" : "0.6");
                if (point_labels) {
                    textbuf_escape(b, point_labels[i]);
                    textbuf_append(b, ": ");
                }
                snprintf(tip, sizeof tip, "%.6g", v[i]);
                textbuf_append(b, tip);
                textbuf_append(b, "</title></circle>\n");
            }
    }
    textbuf_append(b, "</svg>\n");
}
