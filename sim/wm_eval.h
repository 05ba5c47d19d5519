/* wm_eval.h — `wmsim worldmodel eval`: how good the world model is, measured
 * on held-out clips against the truth and the oracle renderer (issue #6,
 * DESIGN.md §4 "Fidelity is measured against the oracle").
 *
 * Usage:
 *     wm_eval_config cfg = wm_eval_config_default();
 *     cfg.data = "data/trainset";                   // model, tokenizer, estimator: under models/
 *     wm_eval_result res;
 *     wm_eval_strip strip = {0};                    // may be NULL below
 *     if (wm_eval_run(&cfg, &res, &strip, &err)) ...
 *     wm_eval_print(stdout, &cfg, &res);
 *     wm_eval_write_json("out/eval.json", &cfg, &res, &err);
 *     wm_eval_write_strip("out/eval.png", &strip, &err);
 *     wm_eval_strip_free(&strip);
 *
 * Clips. The validation split of the clips under cfg.data (the split of
 * clip_reader_in_validation by folder name, TOKEN_SHARDS_VAL_FRACTION: the
 * clips neither the tokenizer nor the dynamics model trained on), sorted by
 * path; up to cfg.clips of them evenly spaced over that list. A clip
 * shorter than W + R frames (W = F-1 context frames, R the longest
 * rollout below) is skipped and counted.
 *
 * One window per clip: the context is the W true frames ending at frame
 * c = W-1 + (n - W - R) / 2 (the middle of where the window fits),
 * tokenised by the tokenizer. Conditioning is exactly training's
 * (datasets/window_source.h): frame f's action features are the action
 * that led to it (states.jsonl's action of frame f-1, 0 for frame 0) and
 * its speed, normalised by window_frame_actions; its slots are
 * token_slots_from_state of its state, normalised by
 * window_slot_normalise. Two conditioning modes: actions only (every slot
 * absent, as conditioning dropout trains it) and slots (actions and slots;
 * only when the model has slots).
 *
 * 1. Fidelity. A rollout of R frames under the true future conditioning,
 *    decoded by the tokenizer; PSNR and SSIM (worldmodel/image_metrics.h)
 *    of generated frame c+h against the true frame c+h at each horizon h
 *    (0.5, 1, 2, 3 s = 5, 10, 20, 30 frames). References: "repeat last
 *    frame" (the true frame c, as stored, against frame c+h) and the
 *    tokenizer round trip of the true frame c+h (the ceiling a generator
 *    of tokens can reach). Means over clips of per-frame values; a
 *    per-frame PSNR is capped at WM_EVAL_PSNR_CAP so identical frames
 *    (a stopped ego in a still scene) keep the mean finite.
 *
 * 2. Action discrimination (both modes). From the same context, two pairs
 *    of action sequences over the next WM_EVAL_DISCRIM_FRAMES frames (1 s):
 *      longitudinal: the true actions vs a contrasting sequence: ACCELERATE
 *        (accel_max, no brake) when the true future brakes (mean accel -
 *        brake below -WM_EVAL_BRAKING m/s^2) or the ego is nearly stopped
 *        (below WM_EVAL_SLOW m/s at frame c), else HARD BRAKE
 *        (WM_EVAL_HARD_BRAKE m/s^2, no accel); steer as the true actions;
 *      lateral: steer LEFT vs steer RIGHT (+-WM_EVAL_STEER rad), accel and
 *        brake as the true actions.
 *    Each contrasting sequence is clamped to the ego's limits. Oracle
 *    version (the definition; needs the clip's scenario, below):
 *    the scenario is re-simulated to frame c with the clip's own recorded
 *    actions, the ego state is checked against states.jsonl at every frame
 *    (else the clip counts as oracle_mismatch and gets the simple version
 *    only), then the world is branched per sequence: it steps under the
 *    sequence and the oracle renders each future frame; speeds and slots
 *    for the conditioning come from the branched world. A generation under
 *    sequence X "discriminates" when its mean squared error against the
 *    oracle future of X, over the 1 s, is below that against the oracle
 *    future of the other sequence of its pair: two trials per pair (one
 *    per side). The true side's oracle future is the clip's true frames. A
 *    pair whose two oracle futures are closer than WM_EVAL_SAME_MSE (mean
 *    squared error, pixels in [0, 1]) cannot be told apart and is skipped
 *    and counted (steering a stopped car). Simple version (every clip):
 *    the true-action rollout is closer to the true future than the rollout
 *    under each contrasting sequence (ACCELERATE or HARD BRAKE, LEFT,
 *    RIGHT; three trials); without the scenario the contrasting speeds
 *    come from stepping the vehicle model (sim/vehicle.h, the default
 *    vehicle) from frame c and the slots stay the true ones.
 *
 * 3. ACT-Bench-style action fidelity (both modes; needs an estimator,
 *    worldmodel/estimator.h). The first WM_EVAL_ACT_FRAMES (4 s) frames of
 *    the fidelity rollout, after the tokenizer round trip of frame c, are
 *    read by the estimator and scored (estimator_score) against the true
 *    motion of frames c .. c+40 (speeds: the mean of a transition's two
 *    frames; yaw rates: states.jsonl's of the later frame, which is the
 *    heading change over the step): the 9-class command accuracy and the
 *    ADE/FDE of the integrated trajectory. The ceiling: the same on the
 *    true frames.
 *
 * 4. Gesture legibility (slots mode; needs the scenario). In a clip whose
 *    scene slots hold a traffic guard from W-1 frames before to
 *    WM_EVAL_GESTURE_FRAMES (1 s) after a context end c_g (the c_g where
 *    the guard is nearest WM_EVAL_GESTURE_RANGE m), one rollout per
 *    gesture g (STOP, PROCEED, SLOW, TURN_LEFT, TURN_RIGHT) with the true
 *    actions and slots but the guard slot's gesture set to g; and one
 *    oracle future per g (the re-simulated world under the true actions,
 *    the guard drawn showing g). The guard's arm region in each frame is
 *    the pixel box of a 3 m wide, 2.6 m tall box around the guard
 *    (camera_project of its corners, render/camera.h). The generation
 *    under g is legible when its arm regions' squared error (summed over
 *    the 1 s) is smaller against g's oracle renders than against every
 *    other gesture's. One trial per gesture and guard clip, skipped and
 *    counted when the gesture's oracle renders differ from another
 *    gesture's by less than WM_EVAL_SAME_MSE (mean squared error over the
 *    arm regions): a guard too far away for its arm to show, or two
 *    gestures whose arms cover the same pixels at a small frame size.
 *
 * Oracle scenarios: a clip made by `wmsim clips generate` records its
 * scenario's id, hash, variation and seed (datasets/clip.h); the scenario
 * is the file under cfg.scenarios (default scenarios/examples) whose hash
 * it is, varied by scenario_vary as the generator did, and must give the
 * recorded seed; rendered at the clip's camera without supersampling, as
 * the generator renders. The replayed world drawn at frame c is compared
 * with the stored frame c: those that differ are counted
 * (oracle_frame_differs; 0 when the renderer has not changed since the
 * clips were made).
 *
 * Determinism: the rollouts draw from cfg.rollout.seed (rollout.h), so the
 * same inputs give the same result, bit for bit, and the JSON written is
 * the same bytes (it holds no timing). */
#ifndef WMSIM_WM_EVAL_H
#define WMSIM_WM_EVAL_H

#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "datasets/clip.h"
#include "render/image.h"
#include "worldmodel/rollout.h"

#define WM_EVAL_MAX_HORIZONS 8
#define WM_EVAL_DEFAULT_CLIPS 24
#define WM_EVAL_PSNR_CAP 60.0        /* dB, per frame */
#define WM_EVAL_DISCRIM_FRAMES 10    /* 1 s */
#define WM_EVAL_ACT_FRAMES 40        /* 4 s, ACT-Bench's clip */
#define WM_EVAL_GESTURE_FRAMES 10    /* 1 s */
#define WM_EVAL_GESTURE_RANGE 15.0   /* m: guards are legible from here (DESIGN.md §3) */
#define WM_EVAL_BRAKING 0.5          /* m/s^2 */
#define WM_EVAL_SLOW 1.0             /* m/s */
#define WM_EVAL_HARD_BRAKE 6.0       /* m/s^2 */
#define WM_EVAL_STEER 0.15           /* rad */
#define WM_EVAL_SAME_MSE 1e-4        /* 40 dB */
#define WM_EVAL_N_GESTURES 5         /* STOP .. TURN_RIGHT */
#define WM_EVAL_STRIP_CLIPS 4

typedef enum { WM_EVAL_ACTIONS, WM_EVAL_SLOTS, WM_EVAL_N_MODES } wm_eval_mode;
typedef enum { WM_EVAL_LONGITUDINAL, WM_EVAL_LATERAL, WM_EVAL_N_PAIRS } wm_eval_pair;

/* "actions_only", "slots"; "longitudinal", "lateral". */
const char *wm_eval_mode_name(wm_eval_mode m);
const char *wm_eval_pair_name(wm_eval_pair p);

typedef struct {
    const char *model;      /* dynamics checkpoint */
    const char *tokenizer;  /* the tokenizer the model's tokens are of */
    const char *estimator;  /* inverse-dynamics estimator; NULL: ACT-Bench not measured */
    const char *data;       /* folder tree of clips */
    const char *scenarios;  /* folder of scenario files for the oracle; NULL: no oracle */
    int clips;              /* at most this many validation clips, >= 1 */
    double horizons[WM_EVAL_MAX_HORIZONS]; /* s, increasing, multiples of 0.1 */
    int n_horizons;
    int act_frames;         /* ACT-Bench's window, transitions (>= 1); 0: not measured */
    rollout_params rollout; /* mode, steps, temperature, top_k, seed */
    int strip_clips;        /* rows of the strip, at most WM_EVAL_STRIP_CLIPS */
    int progress;           /* a progress line on stderr */
} wm_eval_config;

/* models/dynamics.wmck, models/tokenizer.wmck, models/estimator.wmck,
 * scenarios/examples, data NULL; 24 clips; horizons 0.5 1 2 3 s; act 40;
 * rollout_params_default() but temperature 0 (greedy); 4 strip rows. */
wm_eval_config wm_eval_config_default(void);

/* A mean of per-frame PSNR (dB) and SSIM values. */
typedef struct {
    int n;
    double psnr_sum, ssim_sum;
} wm_eval_mean;

typedef struct {
    int trials, correct;
} wm_eval_count;

/* The ACT-Bench figures of one set of windows. */
typedef struct {
    int windows, class_correct;
    double ade_sum, fde_sum, speed_mae_sum, yaw_mae_sum; /* over windows */
} wm_eval_act;

typedef struct {
    wm_eval_mean fidelity[WM_EVAL_MAX_HORIZONS];
    wm_eval_count discrim[WM_EVAL_N_PAIRS];      /* oracle version */
    int discrim_skipped[WM_EVAL_N_PAIRS];        /* pairs of indistinguishable oracle futures */
    wm_eval_count discrim_vs_true[WM_EVAL_N_PAIRS]; /* simple version */
    wm_eval_act act;
} wm_eval_mode_result;

typedef struct {
    int frames_per_window;       /* the model's F */
    int horizon_frames[WM_EVAL_MAX_HORIZONS];
    int n_horizons;
    int rollout_frames;          /* R */
    int validation_clips;        /* in the split */
    int chosen;                  /* evenly spaced over them (<= cfg.clips) */
    int evaluated, too_short;    /* evaluated + too_short = chosen */
    int oracle;                  /* evaluated clips re-simulated exactly */
    int oracle_missing;          /* no scenario file for the clip (or a dashcam clip) */
    int oracle_mismatch;         /* the re-simulation left the recorded ego states */
    int oracle_frame_differs;    /* of the oracle clips, those whose frame c the oracle does not redraw byte for byte */
    int has_slots;               /* the model has slots: WM_EVAL_SLOTS measured */
    int act_measured;            /* an estimator was given */
    wm_eval_mean repeat_last[WM_EVAL_MAX_HORIZONS];
    wm_eval_mean round_trip[WM_EVAL_MAX_HORIZONS];
    wm_eval_mode_result mode[WM_EVAL_N_MODES];
    wm_eval_act act_oracle;      /* the estimator on the true frames: the ceiling */
    int gesture_clips;           /* clips with a guard window and the oracle */
    int gesture_skipped;         /* trials skipped: a gesture's oracle render like another's in the arm region */
    wm_eval_count gesture;
    long long generated_frames;  /* every frame the model drew */
    double seconds;              /* wall time (not in the JSON) */
} wm_eval_result;

/* Shares and means; NAN when nothing was counted. */
double wm_eval_psnr(const wm_eval_mean *m);
double wm_eval_ssim(const wm_eval_mean *m);
double wm_eval_rate(const wm_eval_count *c);
/* The counts of several pairs together. */
wm_eval_count wm_eval_total(const wm_eval_count *c, int n);

/* ---- one clip, read whole ------------------------------------------------- */

typedef struct {
    char dir[4096];
    clip_meta meta;
    int n;              /* frames */
    uint8_t *rgb;       /* (n, H, W, 3) */
    clip_state *states; /* (n) */
} wm_eval_clip;

/* meta.json, states.jsonl (one line per frame, frames 0 .. n-1) and
 * frames.mkv, whose counts and sizes must agree; errors name the file. */
int wm_eval_clip_read(const char *dir, wm_eval_clip *c, wm_error *err);
void wm_eval_clip_free(wm_eval_clip *c);

/* Frame f's pixels as floats (3, H, W) in [0, 1]. */
void wm_eval_clip_frame(const wm_eval_clip *c, int f, float *x);

/* The conditioning of every frame as training sees it: actions (n, A=4)
 * and, when K > 0 and slots is not NULL, slots (n, K, S), normalised. */
void wm_eval_conditioning(const wm_eval_clip *c, int K, float *actions, float *slots);

/* The context end c of a clip of n frames for W context frames and R
 * rollout frames; -1 when the clip is too short (n < W + R). */
int wm_eval_window(int n, int W, int R);

/* The "repeat last frame" reference: PSNR (capped) and SSIM of the true
 * frame `last` against the true frames last + offsets[i], i < n. */
void wm_eval_repeat_last(const wm_eval_clip *c, int last, const int *offsets, int n, double *psnr, double *ssim);

/* The contrasting longitudinal action (the rule above) given the true
 * future's actions (n) and the ego's speed at the context end; steer is
 * left 0 (the caller keeps the true steer). Sets *brakes to 1 for HARD
 * BRAKE, 0 for ACCELERATE. */
action wm_eval_contrast(const action *future, int n, double speed, const action_limits *lim, int *brakes);

/* ---- the whole evaluation --------------------------------------------------- */

/* The [true | generated] strip: per row (clip) the last context frame,
 * then per horizon the true frame and the generations of each measured
 * mode, with a header of labels. */
typedef struct {
    int rows, n_horizons, n_modes, width, height;
    double horizons[WM_EVAL_MAX_HORIZONS];
    char names[WM_EVAL_STRIP_CLIPS][64];
    /* per row: 1 + n_horizons * (1 + n_modes) frames, in that order */
    image frames[WM_EVAL_STRIP_CLIPS][1 + WM_EVAL_MAX_HORIZONS * (1 + WM_EVAL_N_MODES)];
} wm_eval_strip;

/* Runs every measurement. strip may be NULL. Errors: the checkpoints'
 * (a missing or damaged file, named), a model whose tokens are not the
 * tokenizer's ("M.wmck: 1024 codes, 128 tokens a frame, but T.wmck has
 * ..."), clips of another size, no validation clip ("DATA: no validation
 * clips (N complete clips, all in the train split)"), a bad config, a
 * damaged clip. */
int wm_eval_run(const wm_eval_config *cfg, wm_eval_result *res, wm_eval_strip *strip, wm_error *err);

/* The human-readable table. */
void wm_eval_print(FILE *f, const wm_eval_config *cfg, const wm_eval_result *res);
/* The JSON summary (documented in README.md), written atomically;
 * unmeasurable values are null. */
int wm_eval_write_json(const char *path, const wm_eval_config *cfg, const wm_eval_result *res, wm_error *err);
/* The strip as PNG; an error when it has no rows. */
int wm_eval_write_strip(const char *path, const wm_eval_strip *strip, wm_error *err);
void wm_eval_strip_free(wm_eval_strip *strip);

#endif
