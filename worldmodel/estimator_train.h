/* estimator_train.h — the inverse-dynamics estimator's training loop, the
 * tokenizer's (worldmodel/tokenizer_train.h) twin: AdamW with a linear
 * warm-up and a cosine decay (worldmodel/train_run.h), gradient clipping,
 * mirror augmentation, validation on held-out pairs, atomic checkpoints
 * with bit-exact resume, a CSV of the curves and a progress line.
 *
 * Usage:
 *     estimator_pair_stream data = {next_pairs, seek_pairs, my_source};   // the caller's frame pairs
 *     estimator_train_config cfg = estimator_train_config_default();
 *     cfg.steps = 2000; cfg.out_path = "models/estimator.wmck"; cfg.log_path = "out/est.csv";
 *     cfg.val_x = vx; cfg.val_speed = vs; cfg.val_yaw_rate = vy; cfg.n_val = 256;
 *     estimator est;                         // fresh: estimator_init; resuming: estimator_load(out_path)
 *     if (estimator_train(&est, &cfg, &data, &report, &err)) ...
 *
 * Mirror augmentation (flip, on by default): pair b of step s is the
 * stream's pair g = (s - 1) batch + b; when the first rng_uniform draw of
 * rng_fork(seed, g) is below 0.5 both frames are mirrored left to right
 * and its yaw rate negated (a left turn seen in a mirror is a right turn;
 * the speed stays). It depends on (seed, g) only, so a resumed run mirrors
 * exactly what an unbroken one does. The scenarios turn left far more
 * often than right; mirroring gives the estimator both.
 *
 * Files: the model at out_path (estimator_save), and beside it the
 * training state at out_path + ".state" (estimator_save_state: weights,
 * moments, progress), both written atomically every save_every steps and
 * at the end, the model first (a resume reads its architecture). The
 * state decides where a resumed run continues: its step, and the data
 * position (step x batch pairs, through data->seek); a resumed run then
 * gives the same bits as one that never stopped (same thread count). The
 * CSV keeps the rows up to the resumed step.
 *
 * The worldmodel module knows nothing of clips: the pairs come from the
 * caller's stream (wmsim feeds it from datasets/clip_reader.h windows of
 * two frames, sim/cmd_estimator.c). */
#ifndef WMSIM_ESTIMATOR_TRAIN_H
#define WMSIM_ESTIMATOR_TRAIN_H

#include <stdint.h>

#include "core/error.h"
#include "worldmodel/estimator.h"

typedef struct {
    /* Writes the next B pairs: x (B, 6, H, W) in [0, 1] (frame t's RGB
     * planes, then frame t+1's), speed (B) m/s and yaw_rate (B) rad/s of
     * each transition; 0, or -1 with err set. */
    int (*next)(void *ctx, float *x, float *speed, float *yaw_rate, int B, wm_error *err);
    /* Makes pair `index` (counted from the stream's start, 0 first) the next
     * one handed out; 0, or -1 with err set. */
    int (*seek)(void *ctx, uint64_t index, wm_error *err);
    void *ctx;
} estimator_pair_stream;

typedef struct {
    int steps;             /* optimizer steps in all, >= 1: the schedule's length */
    int stop_at;           /* stop after this step (0: at `steps`); a resume goes on */
    int batch;             /* pairs per step, 1..the estimator's max_batch */
    int warmup_steps;      /* linear warm-up from 0 to lr (at most steps / 10) */
    float lr, lr_min;      /* peak, and the cosine's end at `steps` */
    estimator_train_params hp;
    int flip;              /* mirror augmentation (above) */
    uint64_t seed;         /* the augmentation's */
    int log_every;         /* steps per CSV row and progress update */
    int val_every;         /* steps between validations (and at the end); 0: at the end only */
    int save_every;        /* steps between checkpoints (and at the end); 0: at the end only */
    const char *out_path;  /* the model file; the state goes to out_path + ".state" */
    const char *log_path;  /* CSV of the curves; NULL: none */
    int resume;            /* continue from out_path + ".state" */
    uint64_t stream_id;    /* the caller's name for its pair order: a resume with another id,
                              another seed or flip, or another batch, is refused */
    int progress;          /* a progress line on stderr (for terminals) */
    /* held-out pairs; val_x NULL or n_val 0: no validation */
    const float *val_x;        /* (n_val, 6, H, W) */
    const float *val_speed;    /* (n_val) */
    const float *val_yaw_rate; /* (n_val) */
    int n_val;
} estimator_train_config;

/* steps 2000, batch 32, warm-up 100, lr 2e-3 to 2e-5, flip on, seed 1, log
 * every 25, validate every 500, save every 250; no paths. */
estimator_train_config estimator_train_config_default(void);

/* The learning rate at step (1-based): linear warm-up over
 * min(warmup_steps, steps / 10) steps, then the cosine to lr_min. */
float estimator_lr_at(const estimator_train_config *cfg, int step);

/* Mirrors B pairs x (B, 6, H, W) left to right in place and negates their
 * yaw rates. */
void estimator_mirror(float *x, float *yaw_rate, int B, int W, int H);

typedef struct {
    int first_step;        /* 1, or the step after the resumed one */
    int steps;             /* the last step taken */
    float loss, speed_mae, yaw_mae; /* means over the last log interval */
    estimator_eval val;    /* the last validation (pairs 0: none) */
    double seconds, pairs_per_s; /* this run's, resumed part only */
} estimator_train_report;

/* Trains est (built by the caller: fresh, or loaded from out_path to
 * resume) on data; a resumed run follows this config's schedule from the
 * state's step. Errors name the file: a fresh run where a state already
 * exists (nothing is overwritten), a missing state, one whose tensors do
 * not fit the model, one of another batch or run, one already at or past
 * `steps`, a write failure, or the stream's own error. A non-finite loss
 * stops the run with an error and leaves the last checkpoint as it was. */
int estimator_train(estimator *est, const estimator_train_config *cfg, const estimator_pair_stream *data,
                    estimator_train_report *rep, wm_error *err);

#endif
