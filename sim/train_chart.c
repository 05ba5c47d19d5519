/* train_chart.c — see train_chart.h. */
#include "sim/train_chart.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/fileio.h"
#include "render/image.h"
#include "render/plot.h"

#define CSV_MAX_FIELDS 64
#define PANEL_W 640
#define PANEL_H 300

static const uint8_t COLOURS[TRAIN_CHART_CURVES][3] = {{220, 60, 60}, {60, 120, 220}};

/* Splits a line at commas in place; returns the field count. */
static int csv_split(char *line, char **fields) {
    int n = 0;
    for (char *p = line; n < CSV_MAX_FIELDS;) {
        fields[n++] = p;
        char *comma = strchr(p, ',');
        if (!comma) break;
        *comma = '\0', p = comma + 1;
    }
    return n;
}

static int csv_column(char **fields, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(fields[i], name) == 0) return i;
    return -1;
}

/* A field as a number; an empty one (nothing logged) is NAN. */
static double csv_number(char **fields, int n, int col) {
    if (col >= n || !fields[col][0]) return NAN;
    char *end;
    double v = strtod(fields[col], &end);
    return *end ? NAN : v;
}

/* One column's (step, value) points where it has a value. */
typedef struct {
    int col, n;
    double *x, *y;
} column_points;

int train_chart_write(const char *csv_path, const char *png_path, const train_chart_panel *panels, int n_panels,
                      wm_error *err) {
    uint8_t *data;
    size_t len;
    if (file_read_all(csv_path, (size_t)1 << 30, &data, &len, err)) return -1;
    char *fields[CSV_MAX_FIELDS], *save = NULL, *line = strtok_r((char *)data, "\r\n", &save);
    int nf = line ? csv_split(line, fields) : 0, col_step = csv_column(fields, nf, "step");
    column_points pts[8][TRAIN_CHART_CURVES];
    memset(pts, 0, sizeof pts);
    size_t cap = len / 2 + 1; /* a row is at least two bytes */
    int rc = col_step < 0 ? wm_fail(err, "%s: no column 'step' in the training log", csv_path) : 0;
    if (n_panels > 8) rc = wm_fail(err, "train chart: %d panels, at most 8", n_panels);
    for (int p = 0; p < n_panels && !rc; p++)
        for (int c = 0; c < TRAIN_CHART_CURVES && !rc; c++) {
            const train_chart_curve *cv = &panels[p].curves[c];
            if (!cv->label) continue;
            column_points *cp = &pts[p][c];
            cp->col = csv_column(fields, nf, cv->column);
            if (cp->col < 0) rc = wm_fail(err, "%s: no column '%s' in the training log", csv_path, cv->column);
            cp->x = MALLOC_CHECK(cap * sizeof(double)), cp->y = MALLOC_CHECK(cap * sizeof(double));
        }
    while (!rc && (line = strtok_r(NULL, "\r\n", &save))) {
        nf = csv_split(line, fields);
        double step = csv_number(fields, nf, col_step);
        for (int p = 0; p < n_panels; p++)
            for (int c = 0; c < TRAIN_CHART_CURVES; c++) {
                column_points *cp = &pts[p][c];
                if (!cp->x) continue;
                double v = csv_number(fields, nf, cp->col);
                if (isfinite(v)) cp->x[cp->n] = step, cp->y[cp->n++] = v;
            }
    }
    free(data);
    if (!rc) {
        image chart;
        image_init(&chart, PANEL_W, PANEL_H * n_panels);
        for (int p = 0; p < n_panels; p++) {
            plot_series s[TRAIN_CHART_CURVES];
            int n = 0;
            for (int c = 0; c < TRAIN_CHART_CURVES; c++) {
                if (!pts[p][c].x) continue;
                s[n] = (plot_series){panels[p].curves[c].label, pts[p][c].x, pts[p][c].y, pts[p][c].n,
                                     {COLOURS[c][0], COLOURS[c][1], COLOURS[c][2]}};
                n++;
            }
            image panel;
            plot_lines(&panel, PANEL_W, PANEL_H, panels[p].title, "step", s, n, panels[p].flags);
            memcpy(chart.rgb + 3 * (size_t)PANEL_W * PANEL_H * p, panel.rgb, 3 * (size_t)PANEL_W * PANEL_H);
            image_free(&panel);
        }
        rc = image_write_png(&chart, png_path, err);
        image_free(&chart);
    }
    for (int p = 0; p < 8; p++)
        for (int c = 0; c < TRAIN_CHART_CURVES; c++) free(pts[p][c].x), free(pts[p][c].y);
    return rc;
}
