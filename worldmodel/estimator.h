/* estimator.h — the inverse-dynamics estimator: a small CNN that reads the
 * ego's motion back from two consecutive frames, and the ACT-Bench-style
 * action-fidelity metrics built on it (DESIGN.md §4: does generated video
 * follow the commanded actions?).
 *
 * Usage:
 *     estimator_config cfg = estimator_config_default();    // 128x64 frames, 5 stages
 *     estimator est;
 *     if (estimator_init(&est, &cfg, 32, seed, &err)) ...   // room for batches of up to 32 pairs
 *     float loss = estimator_train_step(&est, x, speed, yaw_rate, B, &hp, lr, step, &stats);
 *                                       // x: (B, 6, H, W) in [0, 1]: frame t's RGB, then frame t+1's
 *     estimator_read_motion(&est, frames, n, speed, yaw_rate);    // frames (n, 3, H, W): n-1 transitions
 *     estimator_score_result r;                                   // one window of a clip, e.g. 4 s
 *     estimator_score(&est, frames, n, true_speed, true_yaw, ESTIMATOR_DT, &r, NULL, NULL, &err);
 *     estimator_free(&est);
 *
 * What it estimates: for a transition from frame t to frame t+1 (1/10 s
 * apart in a clip), the ego's forward speed (m/s) and yaw rate (rad/s, left
 * positive). The training targets from a clip's states (wmsim's CLI,
 * sim/cmd_estimator.c): the speed is the mean of the two frames' speeds,
 * which under the simulator's constant-acceleration step equals the
 * distance travelled over the 0.1 s (to 1e-6 m/s; it differs by up to
 * 0.1 m/s only in a step where the ego comes to rest); the yaw rate is the
 * heading change between the two frames (wrapped to (-pi, pi]) over the
 * 0.1 s, which is what states.jsonl's yaw_rate of frame t+1 holds.
 *
 * The network (layers of worldmodel/ops.h), per stride-2 stage s:
 *     conv4x4/2 (c * mult[s] channels), group norm (when groups > 0), SiLU
 * then the last stage's map (C x H/2^S x W/2^S) flattened, so the head still
 * knows where in the frame a motion happened (an expanding flow field reads
 * as speed, a sideways one as yaw), a linear layer to `hidden`, SiLU, and a
 * linear layer to the 2 outputs: speed / speed_scale and yaw_rate /
 * yaw_scale. The loss is the MSE of those normalised outputs. Pixels enter
 * in [0, 1] and are scaled to [-1, 1] inside. Parameters, gradients and
 * the optimizer's moments are each one allocation; activations one arena
 * sized for max_batch; a training step allocates nothing. Results do not
 * depend on the OpenMP thread count (worldmodel/ops.h).
 *
 * ACT-Bench's 9 command classes for a motion (estimator_classify): see the
 * rule order at ESTIMATOR_CLASS_*; trajectories (x forward, y left) are
 * integrated from speeds and yaw rates (estimator_trajectory) and compared
 * by ADE/FDE (estimator_displacement_errors). Those are pure functions.
 *
 * Dimensions: B pairs, 6 channels (two RGB frames), H x W pixels, S stages,
 * n frames of a window (n - 1 transitions). */
#ifndef WMSIM_ESTIMATOR_H
#define WMSIM_ESTIMATOR_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/rng.h"
#include "worldmodel/checkpoint.h"
#include "worldmodel/ops.h"

#define ESTIMATOR_MAX_STAGES 6
#define ESTIMATOR_MAX_LAYERS (3 * ESTIMATOR_MAX_STAGES + 3)
#define ESTIMATOR_INPUTS 6  /* two RGB frames */
#define ESTIMATOR_OUTPUTS 2 /* speed, yaw rate */
#define ESTIMATOR_DT 0.1f   /* s between a clip's frames (CLIP_FPS 10) */

typedef struct {
    int width, height;   /* frame, pixels; multiples of 2^stages */
    int inputs;          /* input channels: ESTIMATOR_INPUTS for the estimator */
    int stages;          /* stride-2 conv stages, 1..ESTIMATOR_MAX_STAGES */
    int channels;        /* c */
    int channel_mult[ESTIMATOR_MAX_STAGES]; /* stage s has c * mult[s] channels */
    int groups;          /* group-norm groups (divides every stage's width); 0: no group norm */
    int hidden;          /* the head's hidden width */
    int outputs;         /* ESTIMATOR_OUTPUTS for the estimator */
    float speed_scale;   /* m/s per unit of the speed output */
    float yaw_scale;     /* rad/s per unit of the yaw-rate output */
} estimator_config;

/* 128x64, 5 stages, c 16, mult 1 2 4 4 4, 4 groups, hidden 128, scales
 * 10 m/s and 0.1 rad/s: 240,210 parameters (0.96 MB). */
estimator_config estimator_config_default(void);
int estimator_config_check(const estimator_config *cfg, wm_error *err);

typedef enum {
    ESTIMATOR_LAYER_CONV,
    ESTIMATOR_LAYER_GROUPNORM,
    ESTIMATOR_LAYER_SILU,
    ESTIMATOR_LAYER_LINEAR
} estimator_layer_kind;

/* One layer of the sequence: its shapes, and where its parameters sit in
 * the one parameter block. A linear layer reads its input as ci features
 * (the flattened map before it) and writes co (ho = wo = 1). */
typedef struct {
    estimator_layer_kind kind;
    int ci, h, w;          /* input (C, H, W) */
    int co, ho, wo;        /* output */
    int k, stride, pad;    /* conv */
    int groups;            /* group norm */
    size_t w_off, b_off;   /* conv / linear: weight, bias; group norm: gamma, beta */
    size_t w_len, b_len;
    size_t stat_off;       /* group norm: its (max_batch, G) slice of gn_mean / gn_rstd */
    char name[32];         /* "conv.0", "fc.1": checkpoint tensor names add ".w" / ".b" */
} estimator_layer;

typedef struct {
    adamw_params adamw;
    float clip_norm;       /* <= 0: no clipping */
} estimator_train_params;

/* AdamW betas 0.9 / 0.99, eps 1e-8, weight decay 1e-4; clipping at 1. */
estimator_train_params estimator_train_params_default(void);

typedef struct {
    float loss;            /* MSE of the normalised outputs */
    float grad_norm;
    float speed_mae;       /* m/s, mean |estimate - target| over the batch */
    float yaw_mae;         /* rad/s */
} estimator_step_stats;

typedef struct {
    estimator_config cfg;
    int max_batch;
    estimator_layer layers[ESTIMATOR_MAX_LAYERS];
    int n_layers;
    size_t n_params;
    float *params, *grads, *m, *v; /* (n_params) each */
    /* activations, for max_batch pairs: act[i] is layer i's output */
    float *act[ESTIMATOR_MAX_LAYERS];
    float *x_in;           /* (B, 6, H, W) input scaled to [-1, 1] */
    float *target;         /* (B, 2) normalised targets */
    float *d_out;          /* (B, 2) the loss gradient */
    float *gn_mean, *gn_rstd; /* per group-norm layer, (max_batch, G) slices */
    float *d_a, *d_b;      /* gradient ping-pong, the largest activation each */
    float *scratch;        /* conv im2col */
    wm_rng rng;            /* initialisation */
    size_t arena_floats;
} estimator;

int estimator_init(estimator *est, const estimator_config *cfg, int max_batch, uint64_t seed, wm_error *err);
void estimator_free(estimator *est);

/* Estimates for B pairs x (B, 6, H, W) in [0, 1] (B <= max_batch):
 * speed (B) m/s and yaw_rate (B) rad/s. */
void estimator_forward(estimator *est, const float *x, int B, float *speed, float *yaw_rate);

/* The loss on B pairs against their true speed and yaw_rate (B each) and
 * its gradients in est->grads (written, not added), without changing the
 * weights. stats may be NULL. */
float estimator_gradients(estimator *est, const float *x, const float *speed, const float *yaw_rate, int B,
                          estimator_step_stats *stats);

/* One optimisation step: gradients, clipping, AdamW; step counts from 1.
 * Returns the loss. */
float estimator_train_step(estimator *est, const float *x, const float *speed, const float *yaw_rate, int B,
                           const estimator_train_params *hp, float lr, int step, estimator_step_stats *stats);

/* The network alone, for other models built on it (worldmodel/vla.h):
 * x (B, inputs, H, W) as the first layer takes it (no scaling), outputs
 * and targets (B, outputs) as the last layer gives them; the loss is their
 * MSE. train_step_raw: gradients, clipping, AdamW (grad_norm may be NULL);
 * the loss, NaN when the gradient is not finite (the weights then stay). */
void estimator_forward_raw(estimator *est, const float *x, int B, float *out);
float estimator_gradients_raw(estimator *est, const float *x, const float *target, int B);
float estimator_train_step_raw(estimator *est, const float *x, const float *target, int B,
                               const estimator_train_params *hp, float lr, int step, float *grad_norm);

/* The motion over n >= 2 consecutive frames (n, 3, H, W) in [0, 1]:
 * speed[i], yaw_rate[i] of the transition from frame i to frame i + 1, for
 * i < n - 1; in batches of up to max_batch pairs. */
void estimator_read_motion(estimator *est, const float *frames, int n, float *speed, float *yaw_rate);

/* How well the estimator reads n pairs x (n, 6, H, W) with their true
 * motion: the loss and the mean absolute errors. */
typedef struct {
    int pairs;
    double loss;           /* MSE of the normalised outputs */
    double speed_mae;      /* m/s */
    double yaw_mae;        /* rad/s */
} estimator_eval;

void estimator_evaluate(estimator *est, const float *x, const float *speed, const float *yaw_rate, int n,
                        estimator_eval *out);

/* Checkpoints (worldmodel/FORMAT.md; model type CKPT_MODEL_ESTIMATOR). The
 * model file holds the config and the weights; loading builds the network
 * from the file's config. The training-state file holds the weights, the
 * optimizer's moments and the caller's progress; loading it needs an
 * estimator of the same config. */
int estimator_save(const estimator *est, const char *path, uint64_t *checksum, wm_error *err);
int estimator_load(estimator *est, const char *path, int max_batch, wm_error *err);
/* The same file layout under another model type, with ESTIMATOR_EXTRA_SLOTS
 * config slots of that type's own (extra may be NULL: zeros / not read). */
#define ESTIMATOR_EXTRA_SLOTS 8
int estimator_save_as(const estimator *est, const char *path, int32_t model_type,
                      const int32_t extra[ESTIMATOR_EXTRA_SLOTS], uint64_t *checksum, wm_error *err);
int estimator_load_as(estimator *est, const char *path, int32_t model_type, int max_batch,
                      int32_t extra[ESTIMATOR_EXTRA_SLOTS], wm_error *err);
int estimator_save_state(const estimator *est, const char *path, const ckpt_train_progress *p, wm_error *err);
int estimator_load_state(estimator *est, const char *path, ckpt_train_progress *p, wm_error *err);

/* ---- ACT-Bench-style metrics (pure functions) ---------------------------- */

/* ACT-Bench's 9 command classes. estimator_classify tests them in this
 * rule order, the first that holds wins; v_start and v_end are the mean
 * speeds over the motion's first and last ESTIMATOR_EDGE_S seconds (at
 * least one step), v_mean over all of it, and the heading change is the
 * sum of yaw_rate x dt:
 *     1 stopped        v_start, v_end and v_mean all below STOPPED_SPEED
 *     2 starting       v_start below STOPPED_SPEED, v_end at least MOVING_SPEED
 *     3 stopping       v_start at least MOVING_SPEED, v_end below STOPPED_SPEED
 *     4 curving left   heading change at least CURVE_RAD (left positive)
 *     5 curving right  heading change at most -CURVE_RAD
 *     6 accelerating   v_end - v_start at least SPEED_CHANGE
 *     7 decelerating   v_end - v_start at most -SPEED_CHANGE
 *     8 straight, constant high speed   v_mean at least HIGH_SPEED
 *     9 straight, constant low speed    otherwise
 * The thresholds suit this simulator's scenarios (data/trainset: speeds
 * 0 to 16 m/s, median 8.6; 4 s heading changes mostly under 0.2 rad, the
 * turns beyond it); on its 2,558 windows of 4 s (one every 4 s of each
 * clip) the classes come out 29% constant high, 13% constant low, 17%
 * accelerating, 27% decelerating, 4.6% curving left, 0.5% curving right,
 * 2.7% starting, 3.9% stopping, 2.1% stopped. */
typedef enum {
    ESTIMATOR_CLASS_CURVING_LEFT,
    ESTIMATOR_CLASS_CURVING_RIGHT,
    ESTIMATOR_CLASS_STRAIGHT_HIGH,
    ESTIMATOR_CLASS_STRAIGHT_LOW,
    ESTIMATOR_CLASS_ACCELERATING,
    ESTIMATOR_CLASS_DECELERATING,
    ESTIMATOR_CLASS_STARTING,
    ESTIMATOR_CLASS_STOPPING,
    ESTIMATOR_CLASS_STOPPED,
    ESTIMATOR_CLASS_COUNT
} estimator_class;

#define ESTIMATOR_STOPPED_SPEED 0.5 /* m/s */
#define ESTIMATOR_MOVING_SPEED 2.0  /* m/s */
#define ESTIMATOR_CURVE_RAD 0.2     /* rad over the motion */
#define ESTIMATOR_SPEED_CHANGE 2.0  /* m/s between the ends */
#define ESTIMATOR_HIGH_SPEED 8.0    /* m/s */
#define ESTIMATOR_EDGE_S 0.5        /* s averaged at each end */

/* "curving_left", "curving_right", "straight_high", "straight_low",
 * "accelerating", "decelerating", "starting", "stopping", "stopped";
 * "unknown" outside the enum. */
const char *estimator_class_name(estimator_class c);

/* The class of a motion of n >= 1 steps of dt seconds: speed[i] (m/s) and
 * yaw_rate[i] (rad/s) over step i. */
estimator_class estimator_classify(const float *speed, const float *yaw_rate, int n, float dt);

/* The ego's positions after each of n steps, xy (n, 2) in metres, in the
 * frame of its start: x forward, y left, starting at the origin heading
 * along x. Each step is an arc of constant speed and yaw rate (exact for
 * them): heading psi to psi + w dt, chord v dt sin(w dt / 2) / (w dt / 2)
 * along psi + w dt / 2. */
void estimator_trajectory(const float *speed, const float *yaw_rate, int n, float dt, double *xy);

/* Mean (ADE) and last (FDE) Euclidean distance between two trajectories of
 * n >= 1 points each, (n, 2). */
void estimator_displacement_errors(const double *a, const double *b, int n, double *ade, double *fde);

/* One window scored: the estimated motion against the true one. */
typedef struct {
    int transitions;
    estimator_class true_class, est_class;
    double ade, fde;       /* m, estimated vs true trajectory */
    double speed_mae;      /* m/s, mean over the transitions */
    double yaw_mae;        /* rad/s */
} estimator_score_result;

/* Scores n >= 1 transitions of an estimated motion against the true one. */
void estimator_score_motion(const float *est_speed, const float *est_yaw, const float *true_speed,
                            const float *true_yaw, int n, float dt, estimator_score_result *out);

/* Reads the motion of n >= 2 frames (n, 3, H, W) in [0, 1] (generated or
 * oracle) and scores it against the true motion (n - 1 transitions each);
 * est_speed, est_yaw (n - 1 each, may be NULL) receive the estimates.
 * Errors: n below 2. */
int estimator_score(estimator *est, const float *frames, int n, const float *true_speed, const float *true_yaw,
                    float dt, estimator_score_result *out, float *est_speed, float *est_yaw, wm_error *err);

/* Many windows' scores summed up. */
typedef struct {
    long long windows, transitions;
    long long confusion[ESTIMATOR_CLASS_COUNT][ESTIMATOR_CLASS_COUNT]; /* [true][estimated] */
    double ade_sum, fde_sum;             /* over windows */
    double speed_abs_sum, yaw_abs_sum;   /* over transitions */
} estimator_tally;

typedef struct {
    long long windows, transitions;
    double accuracy;       /* windows whose estimated class is the true one, share */
    double ade, fde;       /* m, means over windows */
    double speed_mae, yaw_mae; /* means over transitions */
} estimator_summary;

void estimator_tally_add(estimator_tally *t, const estimator_score_result *r);
void estimator_tally_summary(const estimator_tally *t, estimator_summary *s);

#endif
