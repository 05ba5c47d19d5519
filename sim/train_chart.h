/* train_chart.h — a PNG chart of a training run's CSV (the curves
 * tokenizer_train and dynamics_train log), read back from the file so a
 * resumed run charts its whole history.
 *
 * Usage:
 *     static const train_chart_panel panels[] = {
 *         {"tokenizer: PSNR (dB)", 0, {{"train_psnr", "train PSNR"}, {"val_psnr", "validation PSNR"}}},
 *         {"tokenizer: training loss", PLOT_LOG_Y, {{"loss", "train loss"}}},
 *     };
 *     if (train_chart_write("m.wmck.csv", "m.wmck.png", panels, 2, &err)) ...
 *
 * Each curve plots its column against the `step` column over the rows
 * where it has a value (validation columns are empty between
 * validations). Panels are 640x300, stacked top to bottom. */
#ifndef WMSIM_TRAIN_CHART_H
#define WMSIM_TRAIN_CHART_H

#include "core/error.h"

#define TRAIN_CHART_CURVES 2

typedef struct {
    const char *column, *label; /* label NULL: an unused curve slot */
} train_chart_curve;

typedef struct {
    const char *title;
    int flags; /* render/plot.h's PLOT_LOG_Y or 0 */
    train_chart_curve curves[TRAIN_CHART_CURVES];
} train_chart_panel;

/* Errors: the CSV unreadable, or without `step` or a panel's column
 * ("PATH: no column 'val_psnr' in the training log"). */
int train_chart_write(const char *csv_path, const char *png_path, const train_chart_panel *panels, int n_panels,
                      wm_error *err);

#endif
