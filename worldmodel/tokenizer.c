/* tokenizer.c — the VQ autoencoder's CPU path (see tokenizer.h).
 *
 * Dimensions: B batch, H x W frame, h x w token grid (H/down x W/down),
 * D code dimension, N codebook entries. Pixels enter in [0, 1] and are
 * scaled to [-1, 1] inside, so the network works on zero-centred values. */
#include "worldmodel/tokenizer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "worldmodel/image_metrics.h"

tokenizer_config tokenizer_config_default(void) {
    return (tokenizer_config){.width = 128, .height = 64, .down = 8, .channels = 32,
                              .channel_mult = {1, 2, 2, 4, 4}, .code_dim = 32, .codebook_size = 1024, .groups = 8,
                              .res_blocks = 1};
}

tokenizer_train_params tokenizer_train_params_default(void) {
    return (tokenizer_train_params){.recon_weight = 1.0f, .gradient_weight = 0.1f, .commit_beta = 0.25f,
                                    .adamw = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f,
                                              .weight_decay = 0.0f},
                                    .clip_norm = 1.0f, .dead_code_steps = 50};
}

static int stages(const tokenizer_config *cfg) { return cfg->down == 16 ? 4 : 3; }

int tokenizer_config_check(const tokenizer_config *cfg, wm_error *err) {
    if (cfg->down != 8 && cfg->down != 16) return wm_fail(err, "tokenizer: down %d is not 8 or 16", cfg->down);
    if (cfg->width < cfg->down || cfg->height < cfg->down || cfg->width % cfg->down || cfg->height % cfg->down ||
        cfg->width > 1920 || cfg->height > 960)
        return wm_fail(err, "tokenizer: frame %dx%d is not a multiple of %d up to 1920x960", cfg->width, cfg->height,
                       cfg->down);
    if (cfg->channels < 1 || cfg->channels > 512) return wm_fail(err, "tokenizer: channels %d outside [1, 512]", cfg->channels);
    if (cfg->groups < 1) return wm_fail(err, "tokenizer: groups %d below 1", cfg->groups);
    for (int i = 0; i <= stages(cfg); i++) {
        /* In 64 bits: a checkpoint's huge mult overflowed int, as it did in
         * estimator_config_check (UBSan, found by fuzzing). */
        long long c = (long long)cfg->channels * cfg->channel_mult[i];
        if (cfg->channel_mult[i] < 1 || c > 1024 || c % cfg->groups)
            return wm_fail(err, "tokenizer: stage %d width %lld is not a positive multiple of %d groups up to 1024", i,
                           c, cfg->groups);
    }
    if (cfg->res_blocks < 0 || cfg->res_blocks > 4)
        return wm_fail(err, "tokenizer: res_blocks %d outside [0, 4]", cfg->res_blocks);
    /* A bound on either sequence's length (build's layers, counted loosely). */
    int S = stages(cfg), layers = 8 + 5 * S + 4 * cfg->res_blocks * (S + 1);
    if (layers > TOKENIZER_MAX_LAYERS)
        return wm_fail(err, "tokenizer: %d stages of %d residual blocks need up to %d layers, more than %d", S,
                       cfg->res_blocks, layers, TOKENIZER_MAX_LAYERS);
    if (cfg->code_dim < 1 || cfg->code_dim > 1024) return wm_fail(err, "tokenizer: code_dim %d outside [1, 1024]", cfg->code_dim);
    if (cfg->codebook_size < 2 || cfg->codebook_size > 65536)
        return wm_fail(err, "tokenizer: codebook_size %d outside [2, 65536]", cfg->codebook_size);
    return 0;
}

/* ---- building the layer sequences --------------------------------------- */

typedef struct {
    tokenizer_layer *layers;
    int *n;
    int c, h, w;
    size_t *params;  /* running parameter count */
    size_t *stats;   /* running group-norm statistics count (per image) */
    const char *prefix;
} seq_builder;

static tokenizer_layer *push(seq_builder *sb, layer_kind kind) {
    tokenizer_layer *L = &sb->layers[(*sb->n)++];
    memset(L, 0, sizeof *L);
    L->kind = kind;
    L->ci = L->co = sb->c, L->h = L->ho = sb->h, L->w = L->wo = sb->w;
    snprintf(L->name, sizeof L->name, "%s.%d", sb->prefix, *sb->n - 1);
    return L;
}

static void add_conv(seq_builder *sb, int co, int k, int stride, int pad) {
    tokenizer_layer *L = push(sb, LAYER_CONV);
    L->co = co, L->k = k, L->stride = stride, L->pad = pad;
    L->ho = conv2d_out_size(sb->h, k, stride, pad), L->wo = conv2d_out_size(sb->w, k, stride, pad);
    L->w_off = *sb->params, L->w_len = (size_t)co * L->ci * k * k;
    L->b_off = L->w_off + L->w_len, L->b_len = (size_t)co;
    *sb->params += L->w_len + L->b_len;
    sb->c = co, sb->h = L->ho, sb->w = L->wo;
}

static void add_groupnorm(seq_builder *sb, int groups) {
    tokenizer_layer *L = push(sb, LAYER_GROUPNORM);
    L->groups = groups;
    L->w_off = *sb->params, L->w_len = (size_t)sb->c;
    L->b_off = L->w_off + L->w_len, L->b_len = (size_t)sb->c;
    *sb->params += 2 * (size_t)sb->c;
    L->stat_off = *sb->stats;
    *sb->stats += (size_t)groups;
}

static void add_silu(seq_builder *sb) { push(sb, LAYER_SILU); }

static void add_upsample(seq_builder *sb) {
    tokenizer_layer *L = push(sb, LAYER_UPSAMPLE);
    L->ho = 2 * sb->h, L->wo = 2 * sb->w;
    sb->h = L->ho, sb->w = L->wo;
}

/* x + conv3x3(SiLU(GN(x))): the identity path lets gradients reach early
 * layers undamped, so the network trains in fewer steps. */
static void add_res_block(seq_builder *sb, int groups) {
    int input = *sb->n - 1;
    add_groupnorm(sb, groups), add_silu(sb), add_conv(sb, sb->c, 3, 1, 1);
    push(sb, LAYER_ADD)->skip = input;
}

/* A stage's mixing at one resolution: residual blocks, or (res_blocks 0)
 * the plain conv3x3, GN, SiLU of the first architecture. */
static void add_mixing(seq_builder *sb, const tokenizer_config *cfg) {
    if (!cfg->res_blocks) {
        add_conv(sb, sb->c, 3, 1, 1), add_groupnorm(sb, cfg->groups), add_silu(sb);
        return;
    }
    for (int r = 0; r < cfg->res_blocks; r++) add_res_block(sb, cfg->groups);
}

/* Before a projection: residual stacks end without an activation. */
static void add_norm_act(seq_builder *sb, const tokenizer_config *cfg) {
    if (cfg->res_blocks) add_groupnorm(sb, cfg->groups), add_silu(sb);
}

static void build(tokenizer *tk, size_t *n_params, size_t *n_stats) {
    const tokenizer_config *cfg = &tk->cfg;
    int S = stages(cfg), G = cfg->groups, plain = !cfg->res_blocks;
    seq_builder e = {tk->enc, &tk->n_enc, 3, cfg->height, cfg->width, n_params, n_stats, "enc"};
    add_conv(&e, cfg->channels * cfg->channel_mult[0], 3, 1, 1);
    add_silu(&e);
    for (int s = 0; s < S; s++) {
        add_conv(&e, cfg->channels * cfg->channel_mult[s + 1], 4, 2, 1);
        if (plain) add_groupnorm(&e, G), add_silu(&e);
        add_mixing(&e, cfg);
    }
    add_norm_act(&e, cfg);
    add_conv(&e, cfg->code_dim, 1, 1, 0);
    tk->hz = e.h, tk->wz = e.w;

    seq_builder d = {tk->dec, &tk->n_dec, cfg->code_dim, e.h, e.w, n_params, n_stats, "dec"};
    add_conv(&d, cfg->channels * cfg->channel_mult[S], 3, 1, 1);
    if (plain) add_groupnorm(&d, G), add_silu(&d);
    else add_mixing(&d, cfg);
    for (int s = S - 1; s >= 0; s--) {
        add_upsample(&d);
        add_conv(&d, cfg->channels * cfg->channel_mult[s], 3, 1, 1);
        if (plain) add_groupnorm(&d, G), add_silu(&d);
        else add_mixing(&d, cfg);
    }
    add_norm_act(&d, cfg);
    add_conv(&d, 3, 3, 1, 1);
    tk->codebook_off = *n_params;
    *n_params += (size_t)cfg->codebook_size * cfg->code_dim;
}

static size_t out_floats(const tokenizer_layer *L) { return (size_t)L->co * L->ho * L->wo; }

static void init_params(tokenizer *tk) {
    for (int pass = 0; pass < 2; pass++) {
        tokenizer_layer *layers = pass ? tk->dec : tk->enc;
        int n = pass ? tk->n_dec : tk->n_enc;
        for (int i = 0; i < n; i++) {
            tokenizer_layer *L = &layers[i];
            if (L->kind == LAYER_CONV) {
                /* He initialisation: keeps activations' scale through SiLU stacks. */
                float sd = sqrtf(2.0f / (float)(L->ci * L->k * L->k));
                for (size_t j = 0; j < L->w_len; j++) tk->params[L->w_off + j] = sd * (float)rng_normal(&tk->rng);
            } else if (L->kind == LAYER_GROUPNORM) {
                for (size_t j = 0; j < L->w_len; j++) tk->params[L->w_off + j] = 1.0f;
            }
        }
    }
    size_t nc = (size_t)tk->cfg.codebook_size * tk->cfg.code_dim;
    for (size_t j = 0; j < nc; j++) tk->params[tk->codebook_off + j] = (float)rng_normal(&tk->rng);
}

int tokenizer_init(tokenizer *tk, const tokenizer_config *cfg, int max_batch, uint64_t seed, wm_error *err) {
    memset(tk, 0, sizeof *tk);
    if (tokenizer_config_check(cfg, err)) return -1;
    if (max_batch < 1 || max_batch > 4096) return wm_fail(err, "tokenizer: batch %d outside [1, 4096]", max_batch);
    tk->cfg = *cfg;
    tk->max_batch = max_batch;
    size_t n_params = 0, n_stats = 0;
    build(tk, &n_params, &n_stats);
    tk->n_params = n_params;
    /* Parameters, gradients and both moments: one allocation, four slices. */
    tk->params = CALLOC_CHECK(4 * n_params, sizeof(float));
    tk->grads = tk->params + n_params, tk->m = tk->grads + n_params, tk->v = tk->m + n_params;

    /* The activation arena: every layer's output, the VQ buffers, two
     * gradient buffers as large as the largest activation, im2col scratch. */
    size_t B = (size_t)max_batch, img = 3 * (size_t)cfg->width * cfg->height, largest = img, scratch = 0, total = 0;
    for (int pass = 0; pass < 2; pass++) {
        tokenizer_layer *layers = pass ? tk->dec : tk->enc;
        int n = pass ? tk->n_dec : tk->n_enc;
        for (int i = 0; i < n; i++) {
            size_t o = out_floats(&layers[i]);
            total += B * o;
            if (o > largest) largest = o;
            if (layers[i].kind == LAYER_CONV) {
                size_t s = conv2d_scratch_floats(layers[i].ci, layers[i].h, layers[i].w, layers[i].co,
                                                 layers[i].k, layers[i].stride, layers[i].pad);
                if (s > scratch) scratch = s;
            }
        }
    }
    size_t zq = B * (size_t)cfg->code_dim * tk->hz * tk->wz;
    total += B * img + zq + 3 * B * largest + scratch + 2 * B * n_stats;
    tk->arena_floats = total;
    float *arena = CALLOC_CHECK(total, sizeof(float)), *p = arena;
    for (int i = 0; i < tk->n_enc; i++) tk->act_enc[i] = p, p += B * out_floats(&tk->enc[i]);
    for (int i = 0; i < tk->n_dec; i++) tk->act_dec[i] = p, p += B * out_floats(&tk->dec[i]);
    tk->x_in = p, p += B * img;
    tk->zq = p, p += zq;
    tk->d_a = p, p += B * largest;
    tk->d_b = p, p += B * largest;
    tk->d_skip = p, p += B * largest;
    tk->scratch = p, p += scratch;
    tk->gn_mean = p, p += B * n_stats;
    tk->gn_rstd = p, p += B * n_stats;
    tk->codes = CALLOC_CHECK(B * tk->hz * tk->wz, sizeof(int));
    tk->code_last_used = CALLOC_CHECK((size_t)cfg->codebook_size, sizeof(int));
    rng_init(&tk->rng, seed);
    init_params(tk);
    return 0;
}

void tokenizer_free(tokenizer *tk) {
    free(tk->params);
    free(tk->n_enc ? tk->act_enc[0] : NULL);
    free(tk->codes);
    free(tk->code_last_used);
    memset(tk, 0, sizeof *tk);
}

/* ---- forward and backward ------------------------------------------------ */

/* skip: for an add layer, the output of layer L->skip. */
static void layer_forward(tokenizer *tk, const tokenizer_layer *L, const float *in, const float *skip, float *out,
                          int B) {
    const float *P = tk->params;
    size_t n = (size_t)B * out_floats(L);
    switch (L->kind) {
    case LAYER_ADD:
        for (size_t i = 0; i < n; i++) out[i] = in[i] + skip[i];
        break;
    case LAYER_CONV:
        conv2d_forward(out, in, P + L->w_off, P + L->b_off, B, L->ci, L->h, L->w, L->co, L->k, L->stride, L->pad,
                       tk->scratch);
        break;
    case LAYER_GROUPNORM:
        groupnorm_forward(out, tk->gn_mean + (size_t)B * L->stat_off, tk->gn_rstd + (size_t)B * L->stat_off, in,
                          P + L->w_off, P + L->b_off, B, L->ci, L->h * L->w, L->groups);
        break;
    case LAYER_SILU: silu_forward(out, in, n); break;
    case LAYER_UPSAMPLE: upsample2x_forward(out, in, B, L->ci, L->h, L->w); break;
    }
}

/* dinp must be zeroed by the caller: backward passes add. */
static void layer_backward(tokenizer *tk, const tokenizer_layer *L, const float *in, const float *dout, float *dinp,
                           int B) {
    const float *P = tk->params;
    float *Gr = tk->grads;
    switch (L->kind) {
    case LAYER_CONV:
        conv2d_backward(dinp, Gr + L->w_off, Gr + L->b_off, dout, in, P + L->w_off, B, L->ci, L->h, L->w, L->co, L->k,
                        L->stride, L->pad, tk->scratch);
        break;
    case LAYER_GROUPNORM:
        groupnorm_backward(dinp, Gr + L->w_off, Gr + L->b_off, dout, in, tk->gn_mean + (size_t)B * L->stat_off,
                           tk->gn_rstd + (size_t)B * L->stat_off, P + L->w_off, B, L->ci, L->h * L->w, L->groups);
        break;
    case LAYER_SILU: silu_backward(dinp, dout, in, (size_t)B * out_floats(L)); break;
    case LAYER_UPSAMPLE: upsample2x_backward(dinp, dout, B, L->ci, L->h, L->w); break;
    case LAYER_ADD:
        for (size_t i = 0, n = (size_t)B * out_floats(L); i < n; i++) dinp[i] += dout[i];
        break;
    }
}

static const float *enc_input(const tokenizer *tk, int i) { return i ? tk->act_enc[i - 1] : tk->x_in; }
static const float *dec_input(const tokenizer *tk, int i) { return i ? tk->act_dec[i - 1] : tk->zq; }

static void scale_in(tokenizer *tk, const float *x, int B) {
    size_t n = (size_t)B * 3 * tk->cfg.width * tk->cfg.height;
    for (size_t i = 0; i < n; i++) tk->x_in[i] = 2.0f * x[i] - 1.0f;
}

static void encode_forward(tokenizer *tk, int B) {
    for (int i = 0; i < tk->n_enc; i++) {
        const tokenizer_layer *L = &tk->enc[i];
        layer_forward(tk, L, enc_input(tk, i), L->kind == LAYER_ADD ? tk->act_enc[L->skip] : NULL, tk->act_enc[i], B);
    }
    vq_forward(tk->codes, tk->zq, tk->act_enc[tk->n_enc - 1], tk->params + tk->codebook_off, B, tk->cfg.code_dim,
               tk->hz * tk->wz, tk->cfg.codebook_size);
}

static void decode_forward(tokenizer *tk, int B) {
    for (int i = 0; i < tk->n_dec; i++) {
        const tokenizer_layer *L = &tk->dec[i];
        layer_forward(tk, L, dec_input(tk, i), L->kind == LAYER_ADD ? tk->act_dec[L->skip] : NULL, tk->act_dec[i], B);
    }
}

/* Backpropagates *dout (the gradient of the sequence's output) through
 * layers n-1 .. 0, ping-ponging between *dout and *dinp; on return *dout
 * holds the gradient of the sequence's input (unless need_input_grad is 0:
 * the first layer then skips it). An add layer's gradient for its skip
 * source waits in d_skip until the backward pass reaches that layer. */
static void backward_sequence(tokenizer *tk, const tokenizer_layer *layers, int n, float *const *acts,
                              const float *input, float **dout, float **dinp, int B, int need_input_grad) {
    int pending = -2; /* the layer whose output gradient d_skip adds to; -2: none */
    for (int i = n - 1; i >= 0; i--) {
        const tokenizer_layer *L = &layers[i];
        const float *in = i ? acts[i - 1] : input;
        size_t n_in = (size_t)B * L->ci * L->h * L->w;
        if (i == 0 && !need_input_grad) {
            if (L->kind == LAYER_CONV)
                conv2d_backward(NULL, tk->grads + L->w_off, tk->grads + L->b_off, *dout, in, tk->params + L->w_off,
                                B, L->ci, L->h, L->w, L->co, L->k, L->stride, L->pad, tk->scratch);
            return;
        }
        memset(*dinp, 0, n_in * sizeof(float));
        layer_backward(tk, L, in, *dout, *dinp, B);
        if (L->kind == LAYER_ADD) memcpy(tk->d_skip, *dout, n_in * sizeof(float)), pending = L->skip;
        if (pending == i - 1) {
            for (size_t k = 0; k < n_in; k++) (*dinp)[k] += tk->d_skip[k];
            pending = -2;
        }
        float *t = *dout;
        *dout = *dinp, *dinp = t;
    }
}

/* The decoder's output in [-1, 1] space back to [0, 1] pixels. */
static void scale_out(const tokenizer *tk, int B, float *x_out) {
    size_t n = (size_t)B * 3 * tk->cfg.width * tk->cfg.height;
    const float *r = tk->act_dec[tk->n_dec - 1];
    for (size_t i = 0; i < n; i++) {
        float v = 0.5f * (r[i] + 1.0f);
        x_out[i] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    }
}

static float batch_psnr(const tokenizer *tk, int B) {
    size_t n = (size_t)B * 3 * tk->cfg.width * tk->cfg.height;
    const float *r = tk->act_dec[tk->n_dec - 1];
    double se = 0;
    for (size_t i = 0; i < n; i++) {
        float v = 0.5f * (r[i] + 1.0f), t = 0.5f * (tk->x_in[i] + 1.0f);
        v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
        se += (double)(v - t) * (v - t);
    }
    double mse = se / (double)n;
    return mse > 0 ? (float)(10.0 * log10(1.0 / mse)) : INFINITY;
}

/* Codes unused for dead_code_steps restart on a random encoder output of
 * this batch, so the whole codebook stays in use. */
static int restart_dead_codes(tokenizer *tk, int B, int step, int dead_steps, int *used) {
    const int N = tk->cfg.codebook_size, D = tk->cfg.code_dim, HW = tk->hz * tk->wz;
    *used = 0;
    for (int i = 0; i < B * HW; i++) {
        int *last = &tk->code_last_used[tk->codes[i]];
        *used += *last != step;
        *last = step;
    }
    if (dead_steps <= 0) return 0;
    const float *z = tk->act_enc[tk->n_enc - 1];
    int restarted = 0;
    for (int c = 0; c < N; c++) {
        if (step - tk->code_last_used[c] < dead_steps) continue;
        int pick = (int)(rng_u64(&tk->rng) % (uint64_t)(B * HW)), b = pick / HW, p = pick % HW;
        size_t row = tk->codebook_off + (size_t)c * D;
        for (int d = 0; d < D; d++) {
            tk->params[row + d] = z[((size_t)b * D + d) * HW + p] + 0.01f * (float)rng_normal(&tk->rng);
            tk->m[row + d] = tk->v[row + d] = 0.0f;
        }
        tk->code_last_used[c] = step;
        restarted++;
    }
    return restarted;
}

float tokenizer_gradients(tokenizer *tk, const float *x, int B, const tokenizer_train_params *hp,
                          tokenizer_step_stats *stats) {
    const int D = tk->cfg.code_dim, HW = tk->hz * tk->wz, N = tk->cfg.codebook_size;
    const int H = tk->cfg.height, W = tk->cfg.width;
    const size_t n_img = (size_t)B * 3 * W * H;
    scale_in(tk, x, B);
    encode_forward(tk, B);
    decode_forward(tk, B);
    memset(tk->grads, 0, tk->n_params * sizeof(float));

    /* Loss on the decoder output: pixels and their gradients. */
    const float *r = tk->act_dec[tk->n_dec - 1];
    float recon = mse_loss(r, tk->x_in, n_img, tk->d_a);
    float edge = gradient_loss(r, tk->x_in, B, 3, H, W, tk->d_b);
    for (size_t i = 0; i < n_img; i++) tk->d_a[i] = hp->recon_weight * tk->d_a[i] + hp->gradient_weight * tk->d_b[i];

    float *dout = tk->d_a, *dinp = tk->d_b;
    backward_sequence(tk, tk->dec, tk->n_dec, tk->act_dec, tk->zq, &dout, &dinp, B, 1);
    /* dout holds d loss / d zq; through the quantiser to z. */
    const float *z = tk->act_enc[tk->n_enc - 1];
    memset(dinp, 0, (size_t)B * D * HW * sizeof(float));
    float commit = vq_backward(dinp, tk->grads + tk->codebook_off, dout, z, tk->params + tk->codebook_off, tk->codes,
                               B, D, HW, N, hp->commit_beta);
    float *t = dout;
    dout = dinp, dinp = t;
    backward_sequence(tk, tk->enc, tk->n_enc, tk->act_enc, tk->x_in, &dout, &dinp, B, 0);

    float loss = hp->recon_weight * recon + hp->gradient_weight * edge + hp->commit_beta * commit;
    if (stats) {
        memset(stats, 0, sizeof *stats);
        stats->loss = loss, stats->recon = recon, stats->gradient = edge, stats->commit = commit;
        stats->psnr = batch_psnr(tk, B);
    }
    return loss;
}

float tokenizer_train_step(tokenizer *tk, const float *x, int B, const tokenizer_train_params *hp, float lr, int step,
                           tokenizer_step_stats *stats) {
    tokenizer_step_stats st;
    float loss = tokenizer_gradients(tk, x, B, hp, &st);
    st.grad_norm = hp->clip_norm > 0 ? grad_clip_norm(tk->grads, tk->n_params, hp->clip_norm) : 0.0f;
    adamw_params a = hp->adamw;
    a.lr = lr;
    adamw_update(tk->params, tk->grads, tk->m, tk->v, tk->n_params, &a, step);
    st.restarted = restart_dead_codes(tk, B, step, hp->dead_code_steps, &st.codes_used);
    if (stats) *stats = st;
    return loss;
}

void tokenizer_encode(tokenizer *tk, const float *x, int B, int *codes) {
    scale_in(tk, x, B);
    encode_forward(tk, B);
    memcpy(codes, tk->codes, (size_t)B * tk->hz * tk->wz * sizeof(int));
}

void tokenizer_decode(tokenizer *tk, const int *codes, int B, float *x_out) {
    const int D = tk->cfg.code_dim, HW = tk->hz * tk->wz;
    const float *cb = tk->params + tk->codebook_off;
    for (int b = 0; b < B; b++)
        for (int p = 0; p < HW; p++)
            for (int d = 0; d < D; d++)
                tk->zq[((size_t)b * D + d) * HW + p] = cb[(size_t)codes[b * HW + p] * D + d];
    decode_forward(tk, B);
    scale_out(tk, B, x_out);
}

float tokenizer_reconstruct(tokenizer *tk, const float *x, int B, float *x_out) {
    scale_in(tk, x, B);
    encode_forward(tk, B);
    decode_forward(tk, B);
    scale_out(tk, B, x_out);
    return batch_psnr(tk, B);
}

int tokenizer_evaluate(tokenizer *tk, const float *x, int n, float *recon, tokenizer_eval *out, wm_error *err) {
    const int HW = tk->hz * tk->wz, N = tk->cfg.codebook_size, H = tk->cfg.height, W = tk->cfg.width;
    const size_t img = 3 * (size_t)W * H;
    memset(out, 0, sizeof *out);
    if (n < 1) return wm_fail(err, "tokenizer eval: no frames");
    double *psnr = CALLOC_CHECK((size_t)n, sizeof(double)), *ssim = CALLOC_CHECK((size_t)n, sizeof(double));
    long *hist = CALLOC_CHECK((size_t)N, sizeof(long));
    float *y = MALLOC_CHECK((size_t)tk->max_batch * img * sizeof(float));
    int rc = 0;
    for (int first = 0; first < n && !rc; first += tk->max_batch) {
        int B = n - first < tk->max_batch ? n - first : tk->max_batch;
        const float *xb = x + (size_t)first * img;
        float *yb = recon ? recon + (size_t)first * img : y;
        tokenizer_reconstruct(tk, xb, B, yb);
        for (int i = 0; i < B * HW; i++) hist[tk->codes[i]]++;
        rc = psnr_batch(yb, xb, B, H, W, psnr + first, NULL, err) || ssim_batch(yb, xb, B, H, W, ssim + first, NULL, err);
    }
    if (!rc) {
        double entropy = 0, total = (double)n * HW;
        for (int c = 0; c < N; c++) {
            if (!hist[c]) continue;
            double p = hist[c] / total;
            entropy -= p * log(p);
            out->codes_used++;
        }
        for (int i = 0; i < n; i++) out->psnr += psnr[i] / n, out->ssim += ssim[i] / n;
        out->frames = n;
        out->perplexity = exp(entropy);
    }
    free(psnr), free(ssim), free(hist), free(y);
    return rc ? -1 : 0;
}

/* ---- checkpoints --------------------------------------------------------- */

/* Header config slots of a tokenizer model file. */
enum {
    CFG_WIDTH, CFG_HEIGHT, CFG_DOWN, CFG_CHANNELS, CFG_MULT0, CFG_CODE_DIM = CFG_MULT0 + TOKENIZER_MAX_STAGES + 1,
    CFG_CODEBOOK, CFG_GROUPS, CFG_ARCH, CFG_RES_BLOCKS
};
/* The layer sequence's version: a file of another one cannot be loaded
 * into this build's network. */
#define TOKENIZER_ARCH 1

/* The model's tensors in parameter-block order, data pointing into block
 * (params, or one of the moments). Returns the count. */
static int describe_tensors(const tokenizer *tk, ckpt_tensor *t, float *block) {
    int n = 0;
    for (int pass = 0; pass < 2; pass++) {
        const tokenizer_layer *layers = pass ? tk->dec : tk->enc;
        int count = pass ? tk->n_dec : tk->n_enc;
        for (int i = 0; i < count; i++) {
            const tokenizer_layer *L = &layers[i];
            if (L->kind != LAYER_CONV && L->kind != LAYER_GROUPNORM) continue;
            ckpt_tensor *w = &t[n++], *b = &t[n++];
            memset(w, 0, sizeof *w), memset(b, 0, sizeof *b);
            snprintf(w->name, sizeof w->name, "%s.w", L->name);
            snprintf(b->name, sizeof b->name, "%s.b", L->name);
            if (L->kind == LAYER_CONV) w->rank = 4, w->dims[0] = L->co, w->dims[1] = L->ci, w->dims[2] = w->dims[3] = L->k;
            else w->rank = 1, w->dims[0] = L->ci;
            b->rank = 1, b->dims[0] = L->co;
        }
    }
    ckpt_tensor *cb = &t[n++];
    memset(cb, 0, sizeof *cb);
    snprintf(cb->name, sizeof cb->name, "codebook");
    cb->rank = 2, cb->dims[0] = tk->cfg.codebook_size, cb->dims[1] = tk->cfg.code_dim;
    ckpt_tensors_layout(t, n, block);
    return n;
}

#define MAX_TENSORS (4 * TOKENIZER_MAX_LAYERS + 2)

int tokenizer_save(const tokenizer *tk, const char *path, uint64_t *checksum, wm_error *err) {
    const tokenizer_config *c = &tk->cfg;
    int32_t config[CKPT_CONFIG_SLOTS] = {0};
    config[CFG_WIDTH] = c->width, config[CFG_HEIGHT] = c->height, config[CFG_DOWN] = c->down;
    config[CFG_CHANNELS] = c->channels;
    for (int i = 0; i <= TOKENIZER_MAX_STAGES; i++) config[CFG_MULT0 + i] = c->channel_mult[i];
    config[CFG_CODE_DIM] = c->code_dim, config[CFG_CODEBOOK] = c->codebook_size, config[CFG_GROUPS] = c->groups;
    config[CFG_ARCH] = TOKENIZER_ARCH, config[CFG_RES_BLOCKS] = c->res_blocks;
    ckpt_tensor t[MAX_TENSORS];
    int n = describe_tensors(tk, t, tk->params);
    return ckpt_write(path, CKPT_KIND_MODEL, CKPT_MODEL_TOKENIZER, config, t, n, checksum, err);
}

int tokenizer_load(tokenizer *tk, const char *path, int max_batch, wm_error *err) {
    memset(tk, 0, sizeof *tk);
    ckpt_info info;
    if (ckpt_inspect(path, CKPT_KIND_MODEL, CKPT_MODEL_TOKENIZER, &info, err)) return -1;
    const int32_t *k = info.config;
    tokenizer_config c = {.width = k[CFG_WIDTH], .height = k[CFG_HEIGHT], .down = k[CFG_DOWN],
                          .channels = k[CFG_CHANNELS], .code_dim = k[CFG_CODE_DIM],
                          .codebook_size = k[CFG_CODEBOOK], .groups = k[CFG_GROUPS],
                          .res_blocks = k[CFG_RES_BLOCKS]};
    for (int i = 0; i <= TOKENIZER_MAX_STAGES; i++) c.channel_mult[i] = k[CFG_MULT0 + i];
    int arch = k[CFG_ARCH];
    size_t have = 0;
    for (int i = 0; i < info.n_tensors; i++) have += ckpt_tensor_floats(&info.tensors[i]);
    ckpt_info_free(&info);
    if (arch != TOKENIZER_ARCH)
        return wm_fail(err, "%s: tokenizer architecture %d, but this wmsim builds architecture %d", path, arch,
                       TOKENIZER_ARCH);
    /* The parameters the config describes must be the file's before the
     * network is allocated for it: a few-KB file whose header claimed
     * 1920x960 frames of 512 channels asked for 600 GB of activations and
     * aborted (tests/fuzz/fuzz_checkpoint.c). */
    if (tokenizer_config_check(&c, err)) return wm_error_prefix(err, "%s: ", path);
    tokenizer *probe = CALLOC_CHECK(1, sizeof *probe);
    size_t want = 0, stats = 0;
    probe->cfg = c;
    build(probe, &want, &stats);
    free(probe);
    if (want != have)
        return wm_fail(err, "%s: its tensors hold %zu floats, but the tokenizer its config describes has %zu "
                       "(file corrupt)", path, have, want);
    if (tokenizer_init(tk, &c, max_batch, 0, err)) return wm_error_prefix(err, "%s: ", path);
    ckpt_tensor t[MAX_TENSORS];
    int n = describe_tensors(tk, t, tk->params);
    if (ckpt_read(path, CKPT_KIND_MODEL, CKPT_MODEL_TOKENIZER, t, n, NULL, err)) {
        tokenizer_free(tk);
        return -1;
    }
    return 0;
}

/* Training state: the weights and the two moments as whole blocks, then
 * each code's last-use step. The weights make the state complete on its
 * own: a crash between writing it and the model file loses nothing. */
#define STATE_TENSORS 4
static int describe_state(const tokenizer *tk, ckpt_tensor t[STATE_TENSORS], float *last_used) {
    static const char *names[STATE_TENSORS] = {"params", "adam.m", "adam.v", "codes.last_used"};
    float *data[STATE_TENSORS] = {tk->params, tk->m, tk->v, last_used};
    memset(t, 0, STATE_TENSORS * sizeof *t);
    for (int i = 0; i < STATE_TENSORS; i++) {
        snprintf(t[i].name, sizeof t[i].name, "%s", names[i]);
        t[i].rank = 1;
        t[i].dims[0] = i < 3 ? (int)tk->n_params : tk->cfg.codebook_size;
        t[i].data = data[i];
    }
    return STATE_TENSORS;
}

int tokenizer_save_state(const tokenizer *tk, const char *path, const ckpt_train_progress *p, wm_error *err) {
    float *last = MALLOC_CHECK((size_t)tk->cfg.codebook_size * sizeof(float));
    for (int c = 0; c < tk->cfg.codebook_size; c++) last[c] = (float)tk->code_last_used[c]; /* exact below 2^24 */
    ckpt_tensor t[STATE_TENSORS];
    int n = describe_state(tk, t, last);
    int32_t config[CKPT_CONFIG_SLOTS] = {0};
    ckpt_train_progress q = *p;
    q.rng = tk->rng;
    ckpt_train_progress_put(config, &q);
    int rc = ckpt_write(path, CKPT_KIND_TRAIN_STATE, CKPT_MODEL_TOKENIZER, config, t, n, NULL, err);
    free(last);
    return rc;
}

int tokenizer_load_state(tokenizer *tk, const char *path, ckpt_train_progress *p, wm_error *err) {
    float *last = MALLOC_CHECK((size_t)tk->cfg.codebook_size * sizeof(float));
    ckpt_tensor t[STATE_TENSORS];
    int n = describe_state(tk, t, last);
    int32_t config[CKPT_CONFIG_SLOTS];
    int rc = ckpt_read(path, CKPT_KIND_TRAIN_STATE, CKPT_MODEL_TOKENIZER, t, n, config, err);
    if (!rc) {
        for (int c = 0; c < tk->cfg.codebook_size; c++) tk->code_last_used[c] = (int)last[c];
        ckpt_train_progress_get(config, p);
        tk->rng = p->rng;
    }
    free(last);
    return rc;
}
