/* tokenizer_train.h — the tokenizer's training loop: AdamW with a linear
 * warm-up and a cosine decay, gradient clipping, validation on held-out
 * frames, atomic checkpoints with bit-exact resume, a CSV of the curves and
 * a progress line.
 *
 * Usage:
 *     frame_stream data = {next_frames, seek_frames, my_source};   // the caller's frames
 *     tokenizer_train_config cfg = tokenizer_train_config_default();
 *     cfg.steps = 8000; cfg.out_path = "models/tokenizer.wmck"; cfg.log_path = "out/tok.csv";
 *     cfg.val_frames = val; cfg.n_val = 256;
 *     tokenizer tk;                                   // fresh: tokenizer_init; resuming: tokenizer_load(out_path)
 *     if (tokenizer_train(&tk, &cfg, &data, &report, &err)) ...
 *
 * Files: the model at out_path (tokenizer_save), and beside it the training
 * state at out_path + ".state" (tokenizer_save_state, with the weights
 * too), both written atomically every save_every steps and at the end. The
 * state alone decides where a resumed run continues: its step, the data
 * position (step x batch frames, through data->seek), the weights, the
 * moments and the RNG; a resumed run then gives the same bits as one that
 * never stopped (same thread count: see worldmodel/ops.h). The CSV keeps
 * the rows up to the resumed step and goes on from there.
 *
 * The worldmodel module knows nothing of clips: the frames come from the
 * caller's frame_stream (wmsim feeds it from datasets/clip_reader.h). */
#ifndef WMSIM_TOKENIZER_TRAIN_H
#define WMSIM_TOKENIZER_TRAIN_H

#include <stdint.h>

#include "core/error.h"
#include "worldmodel/tokenizer.h"

typedef struct {
    /* Writes the next B frames (B, 3, H, W) in [0, 1] to x; 0, or -1 with err set. */
    int (*next)(void *ctx, float *x, int B, wm_error *err);
    /* Makes frame `index` (counted from the stream's start, 0 first) the next
     * one handed out; 0, or -1 with err set. */
    int (*seek)(void *ctx, uint64_t index, wm_error *err);
    void *ctx;
} frame_stream;

typedef struct {
    int steps;             /* optimizer steps in all, >= 1: the schedule's length */
    int stop_at;           /* stop after this step (0: at `steps`); a resume goes on */
    int batch;             /* frames per step, 1..the tokenizer's max_batch */
    int warmup_steps;      /* linear warm-up from 0 to lr */
    float lr, lr_min;      /* peak, and the cosine's end at `steps` */
    tokenizer_train_params hp;
    int log_every;         /* steps per CSV row and progress update */
    int val_every;         /* steps between validations (and at the end); 0: at the end only */
    int save_every;        /* steps between checkpoints (and at the end); 0: at the end only */
    const char *out_path;  /* the model file; the state goes to out_path + ".state" */
    const char *log_path;  /* CSV of the curves; NULL: none */
    int resume;            /* continue from out_path + ".state" */
    uint64_t stream_id;    /* the caller's name for its frame order (seed, stride...): a
                              resume with another id, or another batch, is refused */
    int progress;          /* a progress line on stderr (for terminals) */
    const float *val_frames; /* (n_val, 3, H, W) held-out frames; NULL: no validation */
    int n_val;
} tokenizer_train_config;

/* steps 10000, batch 16, warm-up 200, lr 2e-3 to 2e-5, log every 50,
 * validate every 1000, save every 500; no paths. */
tokenizer_train_config tokenizer_train_config_default(void);

/* The learning rate at step (1-based): linear warm-up over
 * min(warmup_steps, steps / 10) steps, then the cosine. */
float tokenizer_lr_at(const tokenizer_train_config *cfg, int step);

typedef struct {
    int first_step;        /* 1, or the step after the resumed one */
    int steps;             /* the last step taken */
    float loss, train_psnr; /* mean over the last log interval */
    tokenizer_eval val;    /* the last validation (frames 0: none) */
    double seconds, images_per_s; /* this run's, resumed part only */
} tokenizer_train_report;

/* Trains tk (built by the caller: fresh, or loaded from out_path to
 * resume) on data; a resumed run follows this config's schedule from the
 * state's step. Errors name the file: a fresh run where a state already
 * exists (nothing is overwritten), a missing state, one whose tensors do
 * not fit the model, one of another batch or stream_id, one already at or
 * past `steps`, a write failure, or the stream's own error. A non-finite
 * loss stops the run with an error and leaves the last checkpoint as it
 * was. */
int tokenizer_train(tokenizer *tk, const tokenizer_train_config *cfg, const frame_stream *data,
                    tokenizer_train_report *rep, wm_error *err);

#endif
