/* vla.h — vla-tiny, the project's camera-based vision-language-action
 * driving policy: two camera frames, the ego's speed and the instruction
 * text in; accel, brake and steer out. It sees no symbolic state, so it can
 * drive in the generative loop exactly as in the oracle loop.
 *
 * Usage:
 *     vla_config cfg = vla_config_default();          // 128x64, frames 3 steps apart, 8 text dims
 *     vla v;
 *     if (vla_init(&v, &cfg, 32, seed, &err)) ...      // or vla_load(&v, "models/vla-tiny.wmck", 1, &err)
 *     float text[VLA_MAX_TEXT];
 *     vla_text_embedding("Obey the guard.", cfg.text_dims, text);
 *     vla_input(&v, frame, earlier, speed, text, x);   // one sample's planes into x
 *     vla_forward(&v, x, 1, out);                      // out: accel, brake, steer as fractions of the limits
 *     vla_train_step(&v, x, target, B, &hp, lr, step, &grad_norm);
 *     vla_free(&v);
 *
 * The network is the inverse-dynamics estimator's CNN (estimator.h: stride-2
 * conv stages, group norm, SiLU, a flattened map into a hidden layer) over
 * VLA_FRAME_PLANES + 1 + E input planes:
 *     0..2    the current frame's RGB, scaled to [-1, 1]
 *     3..5    the frame `gap` control steps earlier (motion: a guard waving,
 *             a car closing in), the same; the first frame at an episode's start
 *     6       the ego's speed / speed_scale, constant over the plane
 *     7..6+E  the instruction's embedding, each value constant over its plane
 * Constant planes let the first convolution weigh speed and text at every
 * pixel, so the trunk stays the estimator's, unchanged. The text embedding
 * is a hashed bag of words: each lower-cased run of letters and digits is
 * hashed (FNV-1a 64) to a dimension and a sign, and the sums are scaled to
 * unit length; the network learns what the dimensions mean.
 *
 * Outputs (3): accel / accel_max and brake / brake_max, trained towards
 * [0, 1], and VLA_STEER_GAIN x steer / steer_max towards [-4, 4]; the MSE
 * of those is the loss. vla_output_action turns them into an action's
 * fractions of the limits, clamped.
 *
 * Checkpoints: the estimator's file layout under model type CKPT_MODEL_VLA
 * with gap, text_dims and speed_scale (in millionths) in its extra slots
 * (worldmodel/FORMAT.md).
 *
 * Dimensions: B samples, H x W pixels, E text dims. */
#ifndef WMSIM_VLA_H
#define WMSIM_VLA_H

#include <stdint.h>

#include "core/error.h"
#include "worldmodel/estimator.h"

#define VLA_FRAME_PLANES 6 /* two RGB frames */
#define VLA_MAX_TEXT 32
#define VLA_OUTPUTS 3      /* accel, brake, steer */
/* The steer output is VLA_STEER_GAIN x steer / steer_max: lane keeping
 * needs a few hundredths of the limit, which an unscaled MSE would barely
 * weigh against the pedals. */
#define VLA_STEER_GAIN 4.0f

typedef struct {
    int gap;             /* control steps between the two frames, >= 1 */
    int text_dims;       /* E, 0..VLA_MAX_TEXT */
    float speed_scale;   /* m/s per unit of the speed plane */
    estimator_config net;  /* its width/height are the frames'; inputs and outputs follow from the rest */
} vla_config;

/* Frames 3 steps (0.3 s) apart, 8 text dims, speed / 20 m/s, the
 * estimator's default CNN at 128x64 with 15 inputs and 3 outputs. */
vla_config vla_config_default(void);

typedef struct {
    vla_config cfg;
    estimator net;
    int max_batch;
} vla;

/* vla_init: "vla: gap N outside [1, 50]", "vla: text_dims N outside [0, 32]",
 * "vla: speed_scale X outside [0.1, 1000]", or the estimator's config errors. */
int vla_init(vla *v, const vla_config *cfg, int max_batch, uint64_t seed, wm_error *err);
void vla_free(vla *v);

/* Floats of one sample's input planes: (7 + E) * H * W. */
size_t vla_input_floats(const vla *v);

void vla_text_embedding(const char *text, int E, float *out);

/* One sample's planes into x (vla_input_floats): frame and earlier are
 * RGB8, W x H (the config's), earlier may equal frame. */
void vla_input(const vla *v, const uint8_t *frame, const uint8_t *earlier, float speed, const float *text, float *x);

/* out (B, 3): the network's outputs (above). */
void vla_forward(vla *v, const float *x, int B, float *out);

/* One sample's outputs to fractions of the limits, clamped: accel and
 * brake in [0, 1], steer in [-1, 1]; and back, for labels. */
void vla_output_action(const float out[VLA_OUTPUTS], double fraction[VLA_OUTPUTS]);
void vla_action_target(double accel_fraction, double brake_fraction, double steer_fraction, float out[VLA_OUTPUTS]);

float vla_train_step(vla *v, const float *x, const float *target, int B, const estimator_train_params *hp, float lr,
                     int step, float *grad_norm);

int vla_save(const vla *v, const char *path, uint64_t *checksum, wm_error *err);
/* Errors name the file: the checkpoint's (wrong type, checksum, ...) or
 * "PATH: vla gap N outside [1, 50]" for a config it cannot build. */
int vla_load(vla *v, const char *path, int max_batch, wm_error *err);

#endif
