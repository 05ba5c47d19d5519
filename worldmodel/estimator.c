/* estimator.c — the inverse-dynamics estimator's CPU path and the
 * ACT-Bench-style metrics (see estimator.h).
 *
 * Dimensions: B pairs, 6 input channels (frame t's RGB planes, then frame
 * t+1's), H x W pixels, S stages, 2 outputs (speed, yaw rate), n frames of
 * a window. */
#include "worldmodel/estimator.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"

estimator_config estimator_config_default(void) {
    return (estimator_config){.width = 128, .height = 64, .inputs = ESTIMATOR_INPUTS, .stages = 5, .channels = 16,
                              .channel_mult = {1, 2, 4, 4, 4, 4}, .groups = 4, .hidden = 128,
                              .outputs = ESTIMATOR_OUTPUTS, .speed_scale = 10.0f, .yaw_scale = 0.1f};
}

estimator_train_params estimator_train_params_default(void) {
    return (estimator_train_params){.adamw = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f,
                                              .weight_decay = 1e-4f},
                                    .clip_norm = 1.0f};
}

/* The scales are stored in the checkpoint as millionths (an int32 config
 * slot each), so a model holds exactly what its file can say. */
#define SCALE_UNITS 1e6
static float quantise_scale(float s) { return (float)((double)lrint((double)s * SCALE_UNITS) / SCALE_UNITS); }

int estimator_config_check(const estimator_config *cfg, wm_error *err) {
    if (cfg->stages < 1 || cfg->stages > ESTIMATOR_MAX_STAGES)
        return wm_fail(err, "estimator: stages %d outside [1, %d]", cfg->stages, ESTIMATOR_MAX_STAGES);
    int m = 1 << cfg->stages;
    if (cfg->width < m || cfg->height < m || cfg->width % m || cfg->height % m || cfg->width > 1920 ||
        cfg->height > 960)
        return wm_fail(err, "estimator: frame %dx%d is not a multiple of %d up to 1920x960", cfg->width, cfg->height,
                       m);
    if (cfg->inputs < 1 || cfg->inputs > 64) return wm_fail(err, "estimator: inputs %d outside [1, 64]", cfg->inputs);
    if (cfg->outputs < 1 || cfg->outputs > 64)
        return wm_fail(err, "estimator: outputs %d outside [1, 64]", cfg->outputs);
    if (cfg->channels < 1 || cfg->channels > 512)
        return wm_fail(err, "estimator: channels %d outside [1, 512]", cfg->channels);
    if (cfg->groups < 0) return wm_fail(err, "estimator: groups %d below 0", cfg->groups);
    for (int s = 0; s < cfg->stages; s++) {
        /* In 64 bits: a checkpoint's mult of 1426063361 overflowed int
         * (UBSan, found by fuzzing). */
        long long c = (long long)cfg->channels * cfg->channel_mult[s];
        if (cfg->channel_mult[s] < 1 || c > 1024 || (cfg->groups && c % cfg->groups))
            return wm_fail(err, "estimator: stage %d width %lld is not a positive multiple of %d groups up to 1024", s,
                           c, cfg->groups);
    }
    if (cfg->hidden < 1 || cfg->hidden > 4096) return wm_fail(err, "estimator: hidden %d outside [1, 4096]", cfg->hidden);
    long long flat = (long long)cfg->channels * cfg->channel_mult[cfg->stages - 1] * (cfg->width >> cfg->stages) *
                     (cfg->height >> cfg->stages);
    if (flat * cfg->hidden > (1LL << 26))
        return wm_fail(err, "estimator: the head's %lld x %d weights are over %lld", flat, cfg->hidden, 1LL << 26);
    if (!(cfg->speed_scale >= 1e-3f && cfg->speed_scale <= 1000.0f) ||
        !(cfg->yaw_scale >= 1e-3f && cfg->yaw_scale <= 1000.0f))
        return wm_fail(err, "estimator: scales %g m/s and %g rad/s outside [0.001, 1000]", (double)cfg->speed_scale,
                       (double)cfg->yaw_scale);
    return 0;
}

/* ---- building the layer sequence ----------------------------------------- */

typedef struct {
    estimator *est;
    int c, h, w;
    size_t params, stats;
} seq_builder;

static estimator_layer *push(seq_builder *sb, estimator_layer_kind kind, const char *name) {
    estimator_layer *L = &sb->est->layers[sb->est->n_layers++];
    memset(L, 0, sizeof *L);
    L->kind = kind;
    L->ci = L->co = sb->c, L->h = L->ho = sb->h, L->w = L->wo = sb->w;
    snprintf(L->name, sizeof L->name, "%s", name);
    return L;
}

static void add_conv(seq_builder *sb, const char *name, int co, int k, int stride, int pad) {
    estimator_layer *L = push(sb, ESTIMATOR_LAYER_CONV, name);
    L->co = co, L->k = k, L->stride = stride, L->pad = pad;
    L->ho = conv2d_out_size(sb->h, k, stride, pad), L->wo = conv2d_out_size(sb->w, k, stride, pad);
    L->w_off = sb->params, L->w_len = (size_t)co * L->ci * k * k;
    L->b_off = L->w_off + L->w_len, L->b_len = (size_t)co;
    sb->params += L->w_len + L->b_len;
    sb->c = co, sb->h = L->ho, sb->w = L->wo;
}

static void add_groupnorm(seq_builder *sb, const char *name, int groups) {
    estimator_layer *L = push(sb, ESTIMATOR_LAYER_GROUPNORM, name);
    L->groups = groups;
    L->w_off = sb->params, L->w_len = (size_t)sb->c;
    L->b_off = L->w_off + L->w_len, L->b_len = (size_t)sb->c;
    sb->params += 2 * (size_t)sb->c;
    L->stat_off = sb->stats;
    sb->stats += (size_t)groups;
}

static void add_silu(seq_builder *sb, const char *name) { push(sb, ESTIMATOR_LAYER_SILU, name); }

/* Reads the current map (C, H, W) as C H W features. */
static void add_linear(seq_builder *sb, const char *name, int co) {
    estimator_layer *L = push(sb, ESTIMATOR_LAYER_LINEAR, name);
    L->ci = sb->c * sb->h * sb->w, L->h = L->w = 1;
    L->co = co, L->ho = L->wo = 1;
    L->w_off = sb->params, L->w_len = (size_t)co * L->ci;
    L->b_off = L->w_off + L->w_len, L->b_len = (size_t)co;
    sb->params += L->w_len + L->b_len;
    sb->c = co, sb->h = sb->w = 1;
}

static void build(estimator *est, size_t *n_params, size_t *n_stats) {
    const estimator_config *cfg = &est->cfg;
    seq_builder sb = {est, cfg->inputs, cfg->height, cfg->width, 0, 0};
    char name[32];
    for (int s = 0; s < cfg->stages; s++) {
        snprintf(name, sizeof name, "conv.%d", s);
        add_conv(&sb, name, cfg->channels * cfg->channel_mult[s], 4, 2, 1);
        if (cfg->groups) snprintf(name, sizeof name, "norm.%d", s), add_groupnorm(&sb, name, cfg->groups);
        snprintf(name, sizeof name, "act.%d", s);
        add_silu(&sb, name);
    }
    add_linear(&sb, "fc.0", cfg->hidden);
    add_silu(&sb, "act.fc");
    add_linear(&sb, "fc.1", cfg->outputs);
    *n_params = sb.params, *n_stats = sb.stats;
}

static size_t out_floats(const estimator_layer *L) { return (size_t)L->co * L->ho * L->wo; }
static size_t in_floats(const estimator_layer *L) { return (size_t)L->ci * L->h * L->w; }

static void init_params(estimator *est) {
    for (int i = 0; i < est->n_layers; i++) {
        const estimator_layer *L = &est->layers[i];
        if (L->kind == ESTIMATOR_LAYER_CONV || L->kind == ESTIMATOR_LAYER_LINEAR) {
            /* He initialisation for layers before a SiLU; the output layer
             * starts at a tenth of that, so the first estimates sit near 0. */
            int fan_in = L->kind == ESTIMATOR_LAYER_CONV ? L->ci * L->k * L->k : L->ci;
            float sd = sqrtf(2.0f / (float)fan_in) * (i == est->n_layers - 1 ? 0.1f : 1.0f);
            for (size_t j = 0; j < L->w_len; j++) est->params[L->w_off + j] = sd * (float)rng_normal(&est->rng);
        } else if (L->kind == ESTIMATOR_LAYER_GROUPNORM) {
            for (size_t j = 0; j < L->w_len; j++) est->params[L->w_off + j] = 1.0f;
        }
    }
}

int estimator_init(estimator *est, const estimator_config *cfg, int max_batch, uint64_t seed, wm_error *err) {
    memset(est, 0, sizeof *est);
    if (estimator_config_check(cfg, err)) return -1;
    if (max_batch < 1 || max_batch > 4096) return wm_fail(err, "estimator: batch %d outside [1, 4096]", max_batch);
    est->cfg = *cfg;
    est->cfg.speed_scale = quantise_scale(cfg->speed_scale);
    est->cfg.yaw_scale = quantise_scale(cfg->yaw_scale);
    for (int s = cfg->stages; s < ESTIMATOR_MAX_STAGES; s++) est->cfg.channel_mult[s] = 0;
    est->max_batch = max_batch;
    size_t n_params = 0, n_stats = 0;
    build(est, &n_params, &n_stats);
    est->n_params = n_params;
    /* Parameters, gradients and both moments: one allocation, four slices. */
    est->params = CALLOC_CHECK(4 * n_params, sizeof(float));
    est->grads = est->params + n_params, est->m = est->grads + n_params, est->v = est->m + n_params;

    /* The arena: every layer's output, the scaled input, targets and the
     * loss gradient, two gradient buffers as large as the largest
     * activation, im2col scratch, group-norm statistics. */
    const size_t B = (size_t)max_batch, img = (size_t)cfg->inputs * cfg->width * cfg->height;
    size_t largest = img, scratch = 0, total = 0;
    for (int i = 0; i < est->n_layers; i++) {
        const estimator_layer *L = &est->layers[i];
        total += B * out_floats(L);
        if (out_floats(L) > largest) largest = out_floats(L);
        if (L->kind == ESTIMATOR_LAYER_CONV) {
            size_t s = conv2d_scratch_floats(L->ci, L->h, L->w, L->co, L->k, L->stride, L->pad);
            if (s > scratch) scratch = s;
        }
    }
    total += B * img + 2 * B * cfg->outputs + 2 * B * largest + scratch + 2 * B * n_stats;
    est->arena_floats = total;
    float *p = CALLOC_CHECK(total, sizeof(float));
    for (int i = 0; i < est->n_layers; i++) est->act[i] = p, p += B * out_floats(&est->layers[i]);
    est->x_in = p, p += B * img;
    est->target = p, p += B * cfg->outputs;
    est->d_out = p, p += B * cfg->outputs;
    est->d_a = p, p += B * largest;
    est->d_b = p, p += B * largest;
    est->scratch = p, p += scratch;
    est->gn_mean = p, p += B * n_stats;
    est->gn_rstd = p, p += B * n_stats;
    rng_init(&est->rng, seed);
    init_params(est);
    return 0;
}

void estimator_free(estimator *est) {
    free(est->params);
    free(est->n_layers ? est->act[0] : NULL);
    memset(est, 0, sizeof *est);
}

/* ---- forward and backward -------------------------------------------------- */

static void layer_forward(estimator *est, const estimator_layer *L, const float *in, float *out, int B) {
    const float *P = est->params;
    switch (L->kind) {
    case ESTIMATOR_LAYER_CONV:
        conv2d_forward(out, in, P + L->w_off, P + L->b_off, B, L->ci, L->h, L->w, L->co, L->k, L->stride, L->pad,
                       est->scratch);
        break;
    case ESTIMATOR_LAYER_GROUPNORM:
        groupnorm_forward(out, est->gn_mean + (size_t)B * L->stat_off, est->gn_rstd + (size_t)B * L->stat_off, in,
                          P + L->w_off, P + L->b_off, B, L->ci, L->h * L->w, L->groups);
        break;
    case ESTIMATOR_LAYER_SILU: silu_forward(out, in, (size_t)B * out_floats(L)); break;
    case ESTIMATOR_LAYER_LINEAR: linear_forward(out, in, P + L->w_off, P + L->b_off, B, L->ci, L->co); break;
    }
}

/* dinp (NULL: not needed) must be zeroed by the caller: backward passes add. */
static void layer_backward(estimator *est, const estimator_layer *L, const float *in, const float *dout, float *dinp,
                           int B) {
    const float *P = est->params;
    float *G = est->grads;
    switch (L->kind) {
    case ESTIMATOR_LAYER_CONV:
        conv2d_backward(dinp, G + L->w_off, G + L->b_off, dout, in, P + L->w_off, B, L->ci, L->h, L->w, L->co, L->k,
                        L->stride, L->pad, est->scratch);
        break;
    case ESTIMATOR_LAYER_GROUPNORM:
        groupnorm_backward(dinp, G + L->w_off, G + L->b_off, dout, in, est->gn_mean + (size_t)B * L->stat_off,
                           est->gn_rstd + (size_t)B * L->stat_off, P + L->w_off, B, L->ci, L->h * L->w, L->groups);
        break;
    case ESTIMATOR_LAYER_SILU:
        if (dinp) silu_backward(dinp, dout, in, (size_t)B * out_floats(L));
        break;
    case ESTIMATOR_LAYER_LINEAR:
        linear_backward(dinp, G + L->w_off, G + L->b_off, dout, in, P + L->w_off, B, L->ci, L->co);
        break;
    }
}

static const float *layer_input(const estimator *est, int i) { return i ? est->act[i - 1] : est->x_in; }
static const float *outputs(const estimator *est) { return est->act[est->n_layers - 1]; }

static void forward_scaled(estimator *est, int B) {
    for (int i = 0; i < est->n_layers; i++) layer_forward(est, &est->layers[i], layer_input(est, i), est->act[i], B);
}

static void scale_in(estimator *est, const float *x, int B) {
    size_t n = (size_t)B * est->cfg.inputs * est->cfg.width * est->cfg.height;
    for (size_t i = 0; i < n; i++) est->x_in[i] = 2.0f * x[i] - 1.0f;
}

static void unscale_out(const estimator *est, int B, float *speed, float *yaw_rate) {
    const float *o = outputs(est);
    for (int b = 0; b < B; b++) {
        speed[b] = o[2 * b] * est->cfg.speed_scale;
        yaw_rate[b] = o[2 * b + 1] * est->cfg.yaw_scale;
    }
}

void estimator_forward(estimator *est, const float *x, int B, float *speed, float *yaw_rate) {
    scale_in(est, x, B);
    forward_scaled(est, B);
    unscale_out(est, B, speed, yaw_rate);
}

/* The normalised targets of B pairs into est->target. */
static void set_targets(estimator *est, const float *speed, const float *yaw_rate, int B) {
    for (int b = 0; b < B; b++) {
        est->target[2 * b] = speed[b] / est->cfg.speed_scale;
        est->target[2 * b + 1] = yaw_rate[b] / est->cfg.yaw_scale;
    }
}

/* Mean absolute errors of the current outputs against the targets, in
 * physical units (sums in double). */
static void batch_mae(const estimator *est, int B, double *speed, double *yaw) {
    const float *o = outputs(est);
    double s = 0, y = 0;
    for (int b = 0; b < B; b++) {
        s += fabs((double)o[2 * b] - est->target[2 * b]);
        y += fabs((double)o[2 * b + 1] - est->target[2 * b + 1]);
    }
    *speed = s / B * est->cfg.speed_scale, *yaw = y / B * est->cfg.yaw_scale;
}

/* The MSE of the outputs against est->target for the input in est->x_in,
 * and its gradients in est->grads (written, not added). */
static float gradients_in_place(estimator *est, int B) {
    forward_scaled(est, B);
    float loss = mse_loss(outputs(est), est->target, (size_t)B * est->cfg.outputs, est->d_out);
    memset(est->grads, 0, est->n_params * sizeof(float));
    /* Back through the sequence, ping-ponging between d_a and d_b; the first
     * layer's input gradient is not needed. */
    const float *dout = est->d_out;
    float *bufs[2] = {est->d_a, est->d_b};
    int next = 0;
    for (int i = est->n_layers - 1; i >= 0; i--) {
        const estimator_layer *L = &est->layers[i];
        float *dinp = NULL;
        if (i > 0) {
            dinp = bufs[next];
            memset(dinp, 0, (size_t)B * in_floats(L) * sizeof(float));
        }
        layer_backward(est, L, layer_input(est, i), dout, dinp, B);
        dout = dinp, next ^= 1;
    }
    return loss;
}

float estimator_gradients(estimator *est, const float *x, const float *speed, const float *yaw_rate, int B,
                          estimator_step_stats *stats) {
    scale_in(est, x, B);
    set_targets(est, speed, yaw_rate, B);
    float loss = gradients_in_place(est, B);
    if (stats) {
        double sm, ym;
        batch_mae(est, B, &sm, &ym);
        stats->loss = loss, stats->speed_mae = (float)sm, stats->yaw_mae = (float)ym, stats->grad_norm = 0;
    }
    return loss;
}

/* Clipping and AdamW on est->grads; the loss, NaN when the gradient is not finite. */
static float optimise(estimator *est, float loss, const estimator_train_params *hp, float lr, int step,
                      float *grad_norm) {
    float max_norm = hp->clip_norm > 0 ? hp->clip_norm : INFINITY;
    *grad_norm = grad_clip_norm(est->grads, est->n_params, max_norm);
    if (!isfinite(*grad_norm) || !isfinite(loss)) return isfinite(loss) ? NAN : loss;
    adamw_params a = hp->adamw;
    a.lr = lr;
    adamw_update(est->params, est->grads, est->m, est->v, est->n_params, &a, step);
    return loss;
}

float estimator_train_step(estimator *est, const float *x, const float *speed, const float *yaw_rate, int B,
                           const estimator_train_params *hp, float lr, int step, estimator_step_stats *stats) {
    estimator_step_stats local;
    estimator_step_stats *st = stats ? stats : &local;
    float loss = estimator_gradients(est, x, speed, yaw_rate, B, st);
    return optimise(est, loss, hp, lr, step, &st->grad_norm);
}

void estimator_forward_raw(estimator *est, const float *x, int B, float *out) {
    memcpy(est->x_in, x, (size_t)B * est->cfg.inputs * est->cfg.width * est->cfg.height * sizeof(float));
    forward_scaled(est, B);
    memcpy(out, outputs(est), (size_t)B * est->cfg.outputs * sizeof(float));
}

float estimator_gradients_raw(estimator *est, const float *x, const float *target, int B) {
    memcpy(est->x_in, x, (size_t)B * est->cfg.inputs * est->cfg.width * est->cfg.height * sizeof(float));
    memcpy(est->target, target, (size_t)B * est->cfg.outputs * sizeof(float));
    return gradients_in_place(est, B);
}

float estimator_train_step_raw(estimator *est, const float *x, const float *target, int B,
                               const estimator_train_params *hp, float lr, int step, float *grad_norm) {
    float loss = estimator_gradients_raw(est, x, target, B), norm;
    loss = optimise(est, loss, hp, lr, step, &norm);
    if (grad_norm) *grad_norm = norm;
    return loss;
}

void estimator_read_motion(estimator *est, const float *frames, int n, float *speed, float *yaw_rate) {
    const size_t plane3 = 3 * (size_t)est->cfg.width * est->cfg.height;
    for (int first = 0; first < n - 1; first += est->max_batch) {
        int B = n - 1 - first < est->max_batch ? n - 1 - first : est->max_batch;
        for (int b = 0; b < B; b++) {
            const float *f0 = frames + (size_t)(first + b) * plane3, *f1 = f0 + plane3;
            float *x = est->x_in + (size_t)b * 2 * plane3;
            for (size_t i = 0; i < plane3; i++) x[i] = 2.0f * f0[i] - 1.0f, x[plane3 + i] = 2.0f * f1[i] - 1.0f;
        }
        forward_scaled(est, B);
        unscale_out(est, B, speed + first, yaw_rate + first);
    }
}

void estimator_evaluate(estimator *est, const float *x, const float *speed, const float *yaw_rate, int n,
                        estimator_eval *out) {
    const size_t pair = (size_t)ESTIMATOR_INPUTS * est->cfg.width * est->cfg.height;
    double loss = 0, sm = 0, ym = 0;
    for (int first = 0; first < n; first += est->max_batch) {
        int B = n - first < est->max_batch ? n - first : est->max_batch;
        scale_in(est, x + (size_t)first * pair, B);
        set_targets(est, speed + first, yaw_rate + first, B);
        forward_scaled(est, B);
        loss += (double)mse_loss(outputs(est), est->target, (size_t)B * ESTIMATOR_OUTPUTS, NULL) * B;
        double s, y;
        batch_mae(est, B, &s, &y);
        sm += s * B, ym += y * B;
    }
    out->pairs = n;
    out->loss = n ? loss / n : 0;
    out->speed_mae = n ? sm / n : 0;
    out->yaw_mae = n ? ym / n : 0;
}

/* ---- checkpoints ------------------------------------------------------------ */

/* Header config slots of an estimator model file (worldmodel/FORMAT.md). */
enum {
    CFG_WIDTH, CFG_HEIGHT, CFG_STAGES, CFG_CHANNELS, CFG_MULT0, CFG_GROUPS = CFG_MULT0 + ESTIMATOR_MAX_STAGES,
    CFG_HIDDEN, CFG_SPEED_SCALE, CFG_YAW_SCALE, CFG_ARCH, CFG_INPUTS, CFG_OUTPUTS,
    CFG_EXTRA0 /* ESTIMATOR_EXTRA_SLOTS slots of the model type built on the network (a VLA's) */
};
/* The layer sequence's version: a file of another one cannot be loaded
 * into this build's network. */
#define ESTIMATOR_ARCH 1
#define MAX_TENSORS (2 * ESTIMATOR_MAX_LAYERS)

/* The model's tensors in parameter-block order, data pointing into block.
 * Returns the count. */
static int describe_tensors(const estimator *est, ckpt_tensor *t, float *block) {
    int n = 0;
    for (int i = 0; i < est->n_layers; i++) {
        const estimator_layer *L = &est->layers[i];
        if (L->kind == ESTIMATOR_LAYER_SILU) continue;
        ckpt_tensor *w = &t[n++], *b = &t[n++];
        memset(w, 0, sizeof *w), memset(b, 0, sizeof *b);
        snprintf(w->name, sizeof w->name, "%s.w", L->name);
        snprintf(b->name, sizeof b->name, "%s.b", L->name);
        if (L->kind == ESTIMATOR_LAYER_CONV) w->rank = 4, w->dims[0] = L->co, w->dims[1] = L->ci, w->dims[2] = w->dims[3] = L->k;
        else if (L->kind == ESTIMATOR_LAYER_LINEAR) w->rank = 2, w->dims[0] = L->co, w->dims[1] = L->ci;
        else w->rank = 1, w->dims[0] = L->ci;
        b->rank = 1, b->dims[0] = L->kind == ESTIMATOR_LAYER_GROUPNORM ? L->ci : L->co;
    }
    ckpt_tensors_layout(t, n, block);
    return n;
}

int estimator_save_as(const estimator *est, const char *path, int32_t model_type,
                      const int32_t extra[ESTIMATOR_EXTRA_SLOTS], uint64_t *checksum, wm_error *err) {
    const estimator_config *c = &est->cfg;
    int32_t config[CKPT_CONFIG_SLOTS] = {0};
    config[CFG_WIDTH] = c->width, config[CFG_HEIGHT] = c->height, config[CFG_STAGES] = c->stages;
    config[CFG_CHANNELS] = c->channels;
    for (int s = 0; s < ESTIMATOR_MAX_STAGES; s++) config[CFG_MULT0 + s] = c->channel_mult[s];
    config[CFG_GROUPS] = c->groups, config[CFG_HIDDEN] = c->hidden;
    config[CFG_SPEED_SCALE] = (int32_t)lrint((double)c->speed_scale * SCALE_UNITS);
    config[CFG_YAW_SCALE] = (int32_t)lrint((double)c->yaw_scale * SCALE_UNITS);
    config[CFG_ARCH] = ESTIMATOR_ARCH;
    config[CFG_INPUTS] = c->inputs, config[CFG_OUTPUTS] = c->outputs;
    for (int i = 0; extra && i < ESTIMATOR_EXTRA_SLOTS; i++) config[CFG_EXTRA0 + i] = extra[i];
    ckpt_tensor t[MAX_TENSORS];
    int n = describe_tensors(est, t, est->params);
    return ckpt_write(path, CKPT_KIND_MODEL, model_type, config, t, n, checksum, err);
}

int estimator_save(const estimator *est, const char *path, uint64_t *checksum, wm_error *err) {
    return estimator_save_as(est, path, CKPT_MODEL_ESTIMATOR, NULL, checksum, err);
}

int estimator_load_as(estimator *est, const char *path, int32_t model_type, int max_batch,
                      int32_t extra[ESTIMATOR_EXTRA_SLOTS], wm_error *err) {
    memset(est, 0, sizeof *est);
    ckpt_info info;
    if (ckpt_inspect(path, CKPT_KIND_MODEL, model_type, &info, err)) return -1;
    const int32_t *k = info.config;
    /* Files from before inputs and outputs were configurable hold 0 there: the estimator's 6 and 2. */
    estimator_config c = {.width = k[CFG_WIDTH], .height = k[CFG_HEIGHT], .stages = k[CFG_STAGES],
                          .channels = k[CFG_CHANNELS], .groups = k[CFG_GROUPS], .hidden = k[CFG_HIDDEN],
                          .inputs = k[CFG_INPUTS] ? k[CFG_INPUTS] : ESTIMATOR_INPUTS,
                          .outputs = k[CFG_OUTPUTS] ? k[CFG_OUTPUTS] : ESTIMATOR_OUTPUTS,
                          .speed_scale = (float)(k[CFG_SPEED_SCALE] / SCALE_UNITS),
                          .yaw_scale = (float)(k[CFG_YAW_SCALE] / SCALE_UNITS)};
    for (int s = 0; s < ESTIMATOR_MAX_STAGES; s++) c.channel_mult[s] = k[CFG_MULT0 + s];
    for (int i = 0; extra && i < ESTIMATOR_EXTRA_SLOTS; i++) extra[i] = k[CFG_EXTRA0 + i];
    int arch = k[CFG_ARCH];
    size_t have = 0;
    for (int i = 0; i < info.n_tensors; i++) have += ckpt_tensor_floats(&info.tensors[i]);
    ckpt_info_free(&info);
    if (arch != ESTIMATOR_ARCH)
        return wm_fail(err, "%s: estimator architecture %d, but this wmsim builds architecture %d", path, arch,
                       ESTIMATOR_ARCH);
    /* The parameters the config describes must be the file's before the
     * network is allocated for it: a few-KB file whose header claims a
     * large network would ask for gigabytes of activations (as the
     * tokenizer's loader did: tests/fuzz/fuzz_checkpoint.c). */
    if (estimator_config_check(&c, err)) return wm_error_prefix(err, "%s: ", path);
    estimator *probe = CALLOC_CHECK(1, sizeof *probe);
    size_t want = 0, stats = 0;
    probe->cfg = c;
    for (int s = c.stages; s < ESTIMATOR_MAX_STAGES; s++) probe->cfg.channel_mult[s] = 0;
    build(probe, &want, &stats);
    free(probe);
    if (want != have)
        return wm_fail(err, "%s: its tensors hold %zu floats, but the network its config describes has %zu "
                       "(file corrupt)", path, have, want);
    if (estimator_init(est, &c, max_batch, 0, err)) return wm_error_prefix(err, "%s: ", path);
    ckpt_tensor t[MAX_TENSORS];
    int n = describe_tensors(est, t, est->params);
    if (ckpt_read(path, CKPT_KIND_MODEL, model_type, t, n, NULL, err)) {
        estimator_free(est);
        return -1;
    }
    return 0;
}

int estimator_load(estimator *est, const char *path, int max_batch, wm_error *err) {
    return estimator_load_as(est, path, CKPT_MODEL_ESTIMATOR, max_batch, NULL, err);
}

/* Training state: the weights and the two moments as whole blocks. The
 * weights make the state complete on its own: a crash between writing it
 * and the model file loses nothing. */
#define STATE_TENSORS 3
static int describe_state(const estimator *est, ckpt_tensor t[STATE_TENSORS]) {
    static const char *names[STATE_TENSORS] = {"params", "adam.m", "adam.v"};
    float *data[STATE_TENSORS] = {est->params, est->m, est->v};
    memset(t, 0, STATE_TENSORS * sizeof *t);
    for (int i = 0; i < STATE_TENSORS; i++) {
        snprintf(t[i].name, sizeof t[i].name, "%s", names[i]);
        t[i].rank = 1;
        t[i].dims[0] = (int)est->n_params;
        t[i].data = data[i];
    }
    return STATE_TENSORS;
}

int estimator_save_state(const estimator *est, const char *path, const ckpt_train_progress *p, wm_error *err) {
    ckpt_tensor t[STATE_TENSORS];
    int n = describe_state(est, t);
    int32_t config[CKPT_CONFIG_SLOTS] = {0};
    ckpt_train_progress q = *p;
    q.rng = est->rng;
    ckpt_train_progress_put(config, &q);
    return ckpt_write(path, CKPT_KIND_TRAIN_STATE, CKPT_MODEL_ESTIMATOR, config, t, n, NULL, err);
}

int estimator_load_state(estimator *est, const char *path, ckpt_train_progress *p, wm_error *err) {
    ckpt_tensor t[STATE_TENSORS];
    int n = describe_state(est, t);
    int32_t config[CKPT_CONFIG_SLOTS];
    if (ckpt_read(path, CKPT_KIND_TRAIN_STATE, CKPT_MODEL_ESTIMATOR, t, n, config, err)) return -1;
    ckpt_train_progress_get(config, p);
    est->rng = p->rng;
    return 0;
}

/* ---- ACT-Bench-style metrics ------------------------------------------------ */

static const char *const CLASS_NAMES[ESTIMATOR_CLASS_COUNT] = {
    [ESTIMATOR_CLASS_CURVING_LEFT] = "curving_left",   [ESTIMATOR_CLASS_CURVING_RIGHT] = "curving_right",
    [ESTIMATOR_CLASS_STRAIGHT_HIGH] = "straight_high", [ESTIMATOR_CLASS_STRAIGHT_LOW] = "straight_low",
    [ESTIMATOR_CLASS_ACCELERATING] = "accelerating",   [ESTIMATOR_CLASS_DECELERATING] = "decelerating",
    [ESTIMATOR_CLASS_STARTING] = "starting",           [ESTIMATOR_CLASS_STOPPING] = "stopping",
    [ESTIMATOR_CLASS_STOPPED] = "stopped"};

const char *estimator_class_name(estimator_class c) {
    return (int)c >= 0 && c < ESTIMATOR_CLASS_COUNT ? CLASS_NAMES[c] : "unknown";
}

static double mean_of(const float *x, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += x[i];
    return s / n;
}

estimator_class estimator_classify(const float *speed, const float *yaw_rate, int n, float dt) {
    long edge = lround(ESTIMATOR_EDGE_S / dt);
    int k = edge < 1 ? 1 : edge > n ? n : (int)edge;
    double v_start = mean_of(speed, k), v_end = mean_of(speed + n - k, k), v_mean = mean_of(speed, n);
    double heading = 0;
    for (int i = 0; i < n; i++) heading += (double)yaw_rate[i] * dt;
    if (v_start < ESTIMATOR_STOPPED_SPEED && v_end < ESTIMATOR_STOPPED_SPEED && v_mean < ESTIMATOR_STOPPED_SPEED)
        return ESTIMATOR_CLASS_STOPPED;
    if (v_start < ESTIMATOR_STOPPED_SPEED && v_end >= ESTIMATOR_MOVING_SPEED) return ESTIMATOR_CLASS_STARTING;
    if (v_start >= ESTIMATOR_MOVING_SPEED && v_end < ESTIMATOR_STOPPED_SPEED) return ESTIMATOR_CLASS_STOPPING;
    if (heading >= ESTIMATOR_CURVE_RAD) return ESTIMATOR_CLASS_CURVING_LEFT;
    if (heading <= -ESTIMATOR_CURVE_RAD) return ESTIMATOR_CLASS_CURVING_RIGHT;
    if (v_end - v_start >= ESTIMATOR_SPEED_CHANGE) return ESTIMATOR_CLASS_ACCELERATING;
    if (v_end - v_start <= -ESTIMATOR_SPEED_CHANGE) return ESTIMATOR_CLASS_DECELERATING;
    return v_mean >= ESTIMATOR_HIGH_SPEED ? ESTIMATOR_CLASS_STRAIGHT_HIGH : ESTIMATOR_CLASS_STRAIGHT_LOW;
}

void estimator_trajectory(const float *speed, const float *yaw_rate, int n, float dt, double *xy) {
    double x = 0, y = 0, psi = 0;
    for (int i = 0; i < n; i++) {
        double half = 0.5 * yaw_rate[i] * dt;
        /* sin(h) / h, by its series where h is tiny (exact to double there). */
        double sinc = fabs(half) < 1e-4 ? 1.0 - half * half / 6.0 : sin(half) / half;
        double chord = (double)speed[i] * dt * sinc;
        x += chord * cos(psi + half);
        y += chord * sin(psi + half);
        psi += 2 * half;
        xy[2 * i] = x, xy[2 * i + 1] = y;
    }
}

void estimator_displacement_errors(const double *a, const double *b, int n, double *ade, double *fde) {
    double sum = 0, d = 0;
    for (int i = 0; i < n; i++) {
        d = hypot(a[2 * i] - b[2 * i], a[2 * i + 1] - b[2 * i + 1]);
        sum += d;
    }
    *ade = n ? sum / n : 0;
    *fde = d;
}

void estimator_score_motion(const float *est_speed, const float *est_yaw, const float *true_speed,
                            const float *true_yaw, int n, float dt, estimator_score_result *out) {
    memset(out, 0, sizeof *out);
    out->transitions = n;
    out->true_class = estimator_classify(true_speed, true_yaw, n, dt);
    out->est_class = estimator_classify(est_speed, est_yaw, n, dt);
    double *a = MALLOC_CHECK(4 * (size_t)n * sizeof(double)), *b = a + 2 * (size_t)n;
    estimator_trajectory(est_speed, est_yaw, n, dt, a);
    estimator_trajectory(true_speed, true_yaw, n, dt, b);
    estimator_displacement_errors(a, b, n, &out->ade, &out->fde);
    free(a);
    double s = 0, y = 0;
    for (int i = 0; i < n; i++) {
        s += fabs((double)est_speed[i] - true_speed[i]);
        y += fabs((double)est_yaw[i] - true_yaw[i]);
    }
    out->speed_mae = s / n, out->yaw_mae = y / n;
}

int estimator_score(estimator *est, const float *frames, int n, const float *true_speed, const float *true_yaw,
                    float dt, estimator_score_result *out, float *est_speed, float *est_yaw, wm_error *err) {
    memset(out, 0, sizeof *out);
    if (n < 2) return wm_fail(err, "estimator: %d frames, a motion needs at least 2", n);
    float *s = est_speed ? est_speed : MALLOC_CHECK((size_t)(n - 1) * sizeof(float));
    float *y = est_yaw ? est_yaw : MALLOC_CHECK((size_t)(n - 1) * sizeof(float));
    estimator_read_motion(est, frames, n, s, y);
    estimator_score_motion(s, y, true_speed, true_yaw, n - 1, dt, out);
    if (!est_speed) free(s);
    if (!est_yaw) free(y);
    return 0;
}

void estimator_tally_add(estimator_tally *t, const estimator_score_result *r) {
    t->windows++;
    t->transitions += r->transitions;
    t->confusion[r->true_class][r->est_class]++;
    t->ade_sum += r->ade, t->fde_sum += r->fde;
    t->speed_abs_sum += r->speed_mae * r->transitions;
    t->yaw_abs_sum += r->yaw_mae * r->transitions;
}

void estimator_tally_summary(const estimator_tally *t, estimator_summary *s) {
    memset(s, 0, sizeof *s);
    s->windows = t->windows, s->transitions = t->transitions;
    if (t->windows) {
        long long right = 0;
        for (int c = 0; c < ESTIMATOR_CLASS_COUNT; c++) right += t->confusion[c][c];
        s->accuracy = (double)right / t->windows;
        s->ade = t->ade_sum / t->windows, s->fde = t->fde_sum / t->windows;
    }
    if (t->transitions) s->speed_mae = t->speed_abs_sum / t->transitions, s->yaw_mae = t->yaw_abs_sum / t->transitions;
}
