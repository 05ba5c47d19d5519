/* train_run.h — what the world model's training loops share
 * (tokenizer_train.c, dynamics_train.c): the learning-rate schedule, the
 * training-state file beside the model and its resume checks, and the CSV
 * of the curves kept consistent with the resumed step. */
#ifndef WMSIM_TRAIN_RUN_H
#define WMSIM_TRAIN_RUN_H

#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "worldmodel/checkpoint.h"

/* Linear warm-up over min(warmup, steps / 10) steps (so short runs still
 * reach the peak), then a cosine from lr to lr_min at `steps`; step from 1. */
float train_lr_at(float lr, float lr_min, int warmup, int steps, int step);

/* "WHO: learning rate ... is not a schedule" when lr, lr_min, warmup do not make one. */
int train_schedule_check(const char *who, float lr, float lr_min, int warmup, wm_error *err);

/* MODEL.state into buf; a fresh run (resume 0) where that file already
 * exists is refused, so nothing a run could resume is overwritten. */
int train_state_path(const char *out_path, int resume, char *buf, size_t size, wm_error *err);

/* The run's identity in a state's progress: the batch and the caller's
 * stream_id (its frame or window order). */
void train_progress_tag(ckpt_train_progress *p, int batch, uint64_t stream_id);
/* A resume's checks: the same batch and stream_id, and fewer steps taken
 * than `end`. Errors name state_path. */
int train_progress_check(const ckpt_train_progress *p, const char *state_path, int batch, uint64_t stream_id,
                         int end, wm_error *err);

/* The curves' CSV, opened to append: a fresh run starts it with header; a
 * resumed one keeps the rows up to `step` (what the stopped run logged
 * after its checkpoint goes). path NULL: *out NULL, no file. */
int train_csv_open(const char *path, const char *header, int resume, int step, FILE **out, wm_error *err);


#endif
