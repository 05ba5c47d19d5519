/* svg.h — charts as inline SVG text for HTML reports, and the growable text
 * buffer with XML escaping that they (and the report writers) write into.
 *
 * Usage:
 *     textbuf b = {0};
 *     textbuf_printf(&b, "<h2>%d episodes</h2>\n", n);
 *     textbuf_escape(&b, name);              // any UTF-8: safe as XML/HTML text or "attribute"
 *
 *     double score[3] = {0.9, 0.2, 1.0};
 *     int failed[3] = {0, 1, 0};             // flagged values are drawn in the alarm colour
 *     svg_histogram(&b, "score distribution", "score", score, failed, 3, 0.0, 1.0, 10);
 *
 *     const char *names[2] = {"guard", "traffic"};
 *     double rate[2] = {0.5, 1.0}, target[2] = {0.9, -1};   // < 0: no target
 *     svg_bars(&b, "pass rate by category", names, rate, target, NULL, 2);
 *
 *     const char *metric[2] = {"progress", "min_ttc_s"}, *episode[3] = {"a", "b", "c"};
 *     double v[2 * 3] = {1, 0.4, 1,  2.5, 0.8, NAN};        // (rows, points)
 *     svg_strips(&b, "metrics", metric, 2, v, 3, failed, episode);
 *
 *     file_write_atomic(path, b.data, b.len, &err);
 *     textbuf_free(&b);
 *
 * Each chart is one <svg> element with a fixed size and a viewBox (it scales
 * down with the page), text in the page's font, an accessible name from its
 * title, and a <title> tooltip on every bar and dot. The inputs are plain
 * arrays and labels: render knows nothing of policies or metrics (DESIGN.md
 * §2). Non-finite values are skipped. Colours: SVG_COLOUR_* below. */
#ifndef WMSIM_SVG_H
#define WMSIM_SVG_H

#include <stddef.h>

/* The colours the report's CSS shares, so legends match the charts. */
#define SVG_COLOUR_OK "#2f9e5b"      /* unflagged values, bars at or above target */
#define SVG_COLOUR_FLAG "#d9463b"    /* flagged values, bars below target */
#define SVG_COLOUR_NEUTRAL "#4c7fc0" /* bars without a target */

/* A growing, always NUL-terminated string (data is NULL until the first
 * append). Out of memory aborts (core/check.h). */
typedef struct {
    char *data;
    size_t len, cap;
} textbuf;

void textbuf_append(textbuf *b, const char *s);
void textbuf_printf(textbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s with & < > " ' as entities, so it is safe as element text and inside an
 * attribute in either quote. What XML 1.0 cannot hold (control characters
 * other than tab, newline and carriage return, U+FFFE, U+FFFF) and malformed
 * UTF-8 become U+FFFD. NULL appends nothing. */
void textbuf_escape(textbuf *b, const char *s);
void textbuf_free(textbuf *b);

/* Counts of values in `bins` equal bins over [lo, hi] as bars; values
 * outside fall in the end bins. Bars stack the flagged values (flagged[i]
 * nonzero; flagged may be NULL) on top of the others. */
void svg_histogram(textbuf *b, const char *title, const char *x_label, const double *values, const int *flagged,
                   int n, double lo, double hi, int bins);

/* One horizontal bar per label for values in [0, 1] (clamped), drawn on a
 * 0-100 % axis. targets (NULL, or < 0 for none) are drawn as ticks; a bar
 * below its target is flagged. value_labels (NULL: "NN.N %") are written at
 * the bar ends. */
void svg_bars(textbuf *b, const char *title, const char *const *labels, const double *values, const double *targets,
              const char *const *value_labels, int n);

/* A strip per row (values row-major: (n_rows, n_points)): the row's label,
 * its minimum, one dot per point on a scale from that minimum to the row's
 * maximum, the maximum. Flagged points are drawn last, on top. point_labels
 * (NULL: none) name the points in the dots' tooltips. */
void svg_strips(textbuf *b, const char *title, const char *const *row_labels, int n_rows, const double *values,
                int n_points, const int *flagged, const char *const *point_labels);

#endif
