/* vla.c — vla-tiny's network, inputs and checkpoints (see vla.h). */
#include "worldmodel/vla.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

#include "core/check.h"

#define SPEED_UNITS 1e6 /* speed_scale is stored as millionths */

enum { EXTRA_GAP, EXTRA_TEXT_DIMS, EXTRA_SPEED_SCALE };

vla_config vla_config_default(void) {
    vla_config c = {.gap = 3, .text_dims = 8, .speed_scale = 20.0f, .net = estimator_config_default()};
    c.net.inputs = VLA_FRAME_PLANES + 1 + c.text_dims;
    c.net.outputs = VLA_OUTPUTS;
    return c;
}

static int config_check(const vla_config *c, wm_error *err) {
    if (c->gap < 1 || c->gap > 50) return wm_fail(err, "vla: gap %d outside [1, 50]", c->gap);
    if (c->text_dims < 0 || c->text_dims > VLA_MAX_TEXT)
        return wm_fail(err, "vla: text_dims %d outside [0, %d]", c->text_dims, VLA_MAX_TEXT);
    if (!(c->speed_scale >= 0.1f && c->speed_scale <= 1000.0f))
        return wm_fail(err, "vla: speed_scale %g outside [0.1, 1000]", (double)c->speed_scale);
    return 0;
}

int vla_init(vla *v, const vla_config *cfg, int max_batch, uint64_t seed, wm_error *err) {
    memset(v, 0, sizeof *v);
    if (config_check(cfg, err)) return -1;
    v->cfg = *cfg;
    v->cfg.speed_scale = (float)(lrint((double)cfg->speed_scale * SPEED_UNITS) / SPEED_UNITS);
    v->cfg.net.inputs = VLA_FRAME_PLANES + 1 + cfg->text_dims;
    v->cfg.net.outputs = VLA_OUTPUTS;
    v->max_batch = max_batch;
    if (estimator_init(&v->net, &v->cfg.net, max_batch, seed, err)) return -1;
    v->cfg.net = v->net.cfg;
    return 0;
}

void vla_free(vla *v) {
    estimator_free(&v->net);
    memset(v, 0, sizeof *v);
}

size_t vla_input_floats(const vla *v) {
    return (size_t)v->cfg.net.inputs * v->cfg.net.width * v->cfg.net.height;
}

void vla_text_embedding(const char *text, int E, float *out) {
    for (int i = 0; i < E; i++) out[i] = 0.0f;
    if (E == 0 || !text) return;
    for (const char *p = text; *p;) {
        while (*p && !isalnum((unsigned char)*p)) p++;
        if (!*p) break;
        uint64_t h = 1469598103934665603ULL; /* FNV-1a 64 of the lower-cased word */
        for (; isalnum((unsigned char)*p); p++) h = (h ^ (uint64_t)tolower((unsigned char)*p)) * 1099511628211ULL;
        out[(h >> 1) % (uint64_t)E] += (h & 1) ? 1.0f : -1.0f;
    }
    double norm = 0;
    for (int i = 0; i < E; i++) norm += (double)out[i] * out[i];
    if (norm > 0)
        for (int i = 0; i < E; i++) out[i] = (float)(out[i] / sqrt(norm));
}

void vla_input(const vla *v, const uint8_t *frame, const uint8_t *earlier, float speed, const float *text, float *x) {
    const size_t plane = (size_t)v->cfg.net.width * v->cfg.net.height;
    const uint8_t *src[2] = {frame, earlier};
    for (int f = 0; f < 2; f++)
        for (size_t p = 0; p < plane; p++)
            for (int c = 0; c < 3; c++) x[(3 * f + c) * plane + p] = src[f][3 * p + c] * (2.0f / 255.0f) - 1.0f;
    float *rest = x + VLA_FRAME_PLANES * plane;
    float s = speed / v->cfg.speed_scale;
    for (size_t p = 0; p < plane; p++) rest[p] = s;
    for (int e = 0; e < v->cfg.text_dims; e++)
        for (size_t p = 0; p < plane; p++) rest[(1 + e) * plane + p] = text[e];
}

void vla_forward(vla *v, const float *x, int B, float *out) { estimator_forward_raw(&v->net, x, B, out); }

static double clamp(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

void vla_output_action(const float out[VLA_OUTPUTS], double fraction[VLA_OUTPUTS]) {
    fraction[0] = clamp(out[0], 0, 1);
    fraction[1] = clamp(out[1], 0, 1);
    fraction[2] = clamp(out[2] / VLA_STEER_GAIN, -1, 1);
}

void vla_action_target(double accel_fraction, double brake_fraction, double steer_fraction, float out[VLA_OUTPUTS]) {
    out[0] = (float)accel_fraction, out[1] = (float)brake_fraction;
    out[2] = (float)(VLA_STEER_GAIN * steer_fraction);
}

float vla_train_step(vla *v, const float *x, const float *target, int B, const estimator_train_params *hp, float lr,
                     int step, float *grad_norm) {
    return estimator_train_step_raw(&v->net, x, target, B, hp, lr, step, grad_norm);
}

int vla_save(const vla *v, const char *path, uint64_t *checksum, wm_error *err) {
    int32_t extra[ESTIMATOR_EXTRA_SLOTS] = {0};
    extra[EXTRA_GAP] = v->cfg.gap, extra[EXTRA_TEXT_DIMS] = v->cfg.text_dims;
    extra[EXTRA_SPEED_SCALE] = (int32_t)lrint((double)v->cfg.speed_scale * SPEED_UNITS);
    return estimator_save_as(&v->net, path, CKPT_MODEL_VLA, extra, checksum, err);
}

int vla_load(vla *v, const char *path, int max_batch, wm_error *err) {
    memset(v, 0, sizeof *v);
    int32_t extra[ESTIMATOR_EXTRA_SLOTS];
    if (estimator_load_as(&v->net, path, CKPT_MODEL_VLA, max_batch, extra, err)) return -1;
    vla_config c = {.gap = extra[EXTRA_GAP], .text_dims = extra[EXTRA_TEXT_DIMS],
                    .speed_scale = (float)(extra[EXTRA_SPEED_SCALE] / SPEED_UNITS), .net = v->net.cfg};
    int bad = config_check(&c, err);
    if (!bad && (c.net.inputs != VLA_FRAME_PLANES + 1 + c.text_dims || c.net.outputs != VLA_OUTPUTS))
        bad = wm_fail(err, "vla: %d inputs and %d outputs, but %d text dims need %d and %d", c.net.inputs,
                      c.net.outputs, c.text_dims, VLA_FRAME_PLANES + 1 + c.text_dims, VLA_OUTPUTS);
    if (bad) {
        estimator_free(&v->net);
        return wm_error_prefix(err, "%s: ", path);
    }
    v->cfg = c, v->max_batch = max_batch;
    return 0;
}
