/* dynamics_train.h — the dynamics model's training loop, the tokenizer's
 * (worldmodel/tokenizer_train.h) twin: AdamW with a linear warm-up and a
 * cosine decay, gradient clipping, validation on held-out windows, atomic
 * checkpoints with bit-exact resume, a CSV of the curves and a progress
 * line.
 *
 * Usage:
 *     window_stream data = {next_windows, seek_windows, my_source};   // the caller's windows
 *     dynamics_train_config cfg = dynamics_train_config_default();
 *     cfg.steps = 20000; cfg.out_path = "models/dynamics.wmck"; cfg.log_path = "out/dyn.csv";
 *     cfg.val_tokens = vt; cfg.val_actions = va; cfg.val_slots = vs; cfg.n_val = 64;
 *     dynamics_model dm;                              // fresh: dynamics_init; resuming: dynamics_load(out_path)
 *     if (dynamics_train(&dm, &cfg, &data, &report, &err)) ...
 *
 * Objectives, so one model decodes both ways: a share mask_share of the
 * steps is masked (MaskGIT: attention block L, dynamics_mask_targets), the
 * rest autoregressive (next-token cross-entropy, attention block 1,
 * dynamics_ar_targets, over each window's F P image tokens). Step s is
 * masked when floor(s mask_share) > floor((s - 1) mask_share): an exact,
 * evenly spread share that needs no draws (0.5: every even step). With
 * changed_weight w != 1 both losses are weighted means: a target unlike
 * the true token at its place in the frame before weighs w (motion, which
 * copying the frame before cannot get), every other one 1.
 *
 * Conditioning dropout, so the model also learns to dream without scene
 * slots and to lean on the action: window b of step s is the stream's
 * window g = (s - 1) batch + b; u1, u2 = the first two rng_uniform draws of
 * rng_fork(seed, g); u1 < drop_slots zeroes all its slots (every frame),
 * u2 < drop_action zeroes its actions; on a masked step the same rng then
 * draws the window's masks. It depends on (seed, g) only, so a resumed run
 * drops and masks exactly what an unbroken one does.
 *
 * Files: the model at out_path (dynamics_save), and beside it the training
 * state at out_path + ".state" (dynamics_save_state: weights, moments,
 * progress), both written atomically every save_every steps and at the end,
 * the model first (a resume reads its architecture). The state decides
 * where a resumed run continues: its step, and the data position (step x
 * batch windows, through data->seek); a resumed run then gives the same
 * bits as one that never stopped (same thread count). The CSV keeps the
 * rows up to the resumed step.
 *
 * The worldmodel module knows nothing of shards: the windows come from the
 * caller's window_stream (wmsim feeds it from datasets/window_source.h). */
#ifndef WMSIM_DYNAMICS_TRAIN_H
#define WMSIM_DYNAMICS_TRAIN_H

#include <stdint.h>

#include "core/error.h"
#include "worldmodel/dynamics_model.h"

typedef struct {
    /* Writes the next B windows: tokens (B, F, P), actions (B, F, A),
     * slots (B, F, K, S) (NULL when K = 0); 0, or -1 with err set. */
    int (*next)(void *ctx, int *tokens, float *actions, float *slots, int B, wm_error *err);
    /* Makes window `index` (counted from the stream's start) the next; 0, or -1. */
    int (*seek)(void *ctx, uint64_t index, wm_error *err);
    void *ctx;
} window_stream;

typedef struct {
    int steps;             /* optimizer steps in all, >= 1: the schedule's length */
    int stop_at;           /* stop after this step (0: at `steps`); a resume goes on */
    int batch;             /* windows per step, 1..the model's max_batch */
    int warmup_steps;      /* linear warm-up from 0 to lr (at most steps / 10) */
    float lr, lr_min;      /* peak, and the cosine's end at `steps` */
    dynamics_train_params hp;
    float drop_slots, drop_action; /* conditioning dropout probabilities, per window */
    float mask_share;      /* [0, 1]: share of the steps on the masked objective */
    float changed_weight;  /* > 0: a target token unlike the frame before's token at the same place
                              weighs this much in the loss, the rest 1 (1: the plain mean) */
    uint64_t seed;         /* the dropout's */
    int log_every;         /* steps per CSV row and progress update */
    int val_every;         /* steps between validations (and at the end); 0: at the end only */
    int save_every;        /* steps between checkpoints (and at the end); 0: at the end only */
    const char *out_path;  /* the model file; the state goes to out_path + ".state" */
    const char *log_path;  /* CSV of the curves; NULL: none */
    int resume;            /* continue from out_path + ".state" */
    uint64_t stream_id;    /* the caller's name for its window order: a resume with another
                              id, or another batch, is refused */
    int progress;          /* a progress line on stderr */
    /* held-out windows, full conditioning; val_tokens NULL or n_val 0: no validation */
    const int *val_tokens;     /* (n_val, F, P) */
    const float *val_actions;  /* (n_val, F, A) */
    const float *val_slots;    /* (n_val, F, K, S); NULL: absent */
    int n_val;
} dynamics_train_config;

/* steps 20000, batch 8, warm-up 500, lr 1e-3 to 1e-5, drop slots 0.5 and
 * action 0.1, mask share 0.5, changed weight 1, seed 1, log every 50,
 * validate every 1000, save every 500. */
dynamics_train_config dynamics_train_config_default(void);

/* The learning rate at step (1-based): linear warm-up over
 * min(warmup_steps, steps / 10) steps, then the cosine to lr_min. */
float dynamics_lr_at(const dynamics_train_config *cfg, int step);

typedef struct {
    double loss;           /* mean next-token cross-entropy */
    double accuracy;       /* share of target tokens whose argmax logit is the target */
    double mask_loss, mask_accuracy; /* the same on the masked objective */
    /* Accuracy on the target tokens that differ from the frame before's
     * token at the same place (frames 1 .. F-1): what copying cannot get,
     * so where the model shows it has learned motion. changed_share: their
     * share of all the AR targets (frame 0's never count as changed). */
    double changed_accuracy, mask_changed_accuracy, changed_share;
    int windows;           /* 0: none */
} dynamics_eval;

/* Mean loss and token accuracy of n windows on both objectives: AR targets
 * at block 1; masked targets at block L, window i's masks drawn from
 * rng_fork(DYNAMICS_EVAL_MASK_SEED, i) so every validation masks alike.
 * In batches of up to max_batch. Overwrites the activations. */
#define DYNAMICS_EVAL_MASK_SEED UINT64_C(20261129)
void dynamics_evaluate(dynamics_model *dm, const int *tokens, const float *actions, const float *slots, int n,
                       dynamics_eval *out);

typedef struct {
    int first_step;        /* 1, or the step after the resumed one */
    int steps;             /* the last step taken */
    float loss;            /* mean over the last log interval */
    dynamics_eval val;     /* the last validation (windows 0: none) */
    double seconds, windows_per_s; /* this run's, resumed part only */
} dynamics_train_report;

/* Trains dm (built by the caller: fresh, or loaded from out_path to
 * resume) on data. Errors name the file: a fresh run where a state already
 * exists ("PATH.state: a training state is already there: resume it, or
 * remove it to start afresh"), a missing or mismatched state, one of
 * another batch or stream_id, one already at or past the end, a write
 * failure, or the stream's own error. A non-finite loss stops the run with
 * an error and leaves the last checkpoint as it was. */
int dynamics_train(dynamics_model *dm, const dynamics_train_config *cfg, const window_stream *data,
                   dynamics_train_report *rep, wm_error *err);

#endif
