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

tokenizer_config tokenizer_config_default(void) {
    return (tokenizer_config){.width = 128, .height = 64, .down = 8, .channels = 32,
                              .channel_mult = {1, 2, 2, 4, 4}, .code_dim = 32, .codebook_size = 1024, .groups = 8};
}

tokenizer_train_params tokenizer_train_params_default(void) {
    return (tokenizer_train_params){.recon_weight = 1.0f, .gradient_weight = 0.5f, .commit_beta = 0.25f,
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
        int c = cfg->channels * cfg->channel_mult[i];
        if (cfg->channel_mult[i] < 1 || c > 1024 || c % cfg->groups)
            return wm_fail(err, "tokenizer: stage %d width %d is not a positive multiple of %d groups up to 1024", i, c,
                           cfg->groups);
    }
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

static void build(tokenizer *tk, size_t *n_params, size_t *n_stats) {
    const tokenizer_config *cfg = &tk->cfg;
    int S = stages(cfg), G = cfg->groups;
    seq_builder e = {tk->enc, &tk->n_enc, 3, cfg->height, cfg->width, n_params, n_stats, "enc"};
    add_conv(&e, cfg->channels * cfg->channel_mult[0], 3, 1, 1);
    add_silu(&e);
    for (int s = 0; s < S; s++) {
        int c = cfg->channels * cfg->channel_mult[s + 1];
        add_conv(&e, c, 4, 2, 1), add_groupnorm(&e, G), add_silu(&e);
        add_conv(&e, c, 3, 1, 1), add_groupnorm(&e, G), add_silu(&e);
    }
    add_conv(&e, cfg->code_dim, 1, 1, 0);
    tk->hz = e.h, tk->wz = e.w;

    seq_builder d = {tk->dec, &tk->n_dec, cfg->code_dim, e.h, e.w, n_params, n_stats, "dec"};
    add_conv(&d, cfg->channels * cfg->channel_mult[S], 3, 1, 1), add_groupnorm(&d, G), add_silu(&d);
    for (int s = S - 1; s >= 0; s--) {
        add_upsample(&d);
        add_conv(&d, cfg->channels * cfg->channel_mult[s], 3, 1, 1), add_groupnorm(&d, G), add_silu(&d);
    }
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
                size_t s = conv2d_scratch_floats(layers[i].ci, layers[i].h, layers[i].w, layers[i].k,
                                                 layers[i].stride, layers[i].pad);
                if (s > scratch) scratch = s;
            }
        }
    }
    size_t zq = B * (size_t)cfg->code_dim * tk->hz * tk->wz;
    total += B * img + zq + 2 * B * largest + scratch + 2 * B * n_stats;
    tk->arena_floats = total;
    float *arena = CALLOC_CHECK(total, sizeof(float)), *p = arena;
    for (int i = 0; i < tk->n_enc; i++) tk->act_enc[i] = p, p += B * out_floats(&tk->enc[i]);
    for (int i = 0; i < tk->n_dec; i++) tk->act_dec[i] = p, p += B * out_floats(&tk->dec[i]);
    tk->x_in = p, p += B * img;
    tk->zq = p, p += zq;
    tk->d_a = p, p += B * largest;
    tk->d_b = p, p += B * largest;
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

static void layer_forward(tokenizer *tk, const tokenizer_layer *L, const float *in, float *out, int B) {
    const float *P = tk->params;
    size_t n = (size_t)B * out_floats(L);
    switch (L->kind) {
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
    }
}

static const float *enc_input(const tokenizer *tk, int i) { return i ? tk->act_enc[i - 1] : tk->x_in; }
static const float *dec_input(const tokenizer *tk, int i) { return i ? tk->act_dec[i - 1] : tk->zq; }

static void scale_in(tokenizer *tk, const float *x, int B) {
    size_t n = (size_t)B * 3 * tk->cfg.width * tk->cfg.height;
    for (size_t i = 0; i < n; i++) tk->x_in[i] = 2.0f * x[i] - 1.0f;
}

static void encode_forward(tokenizer *tk, int B) {
    for (int i = 0; i < tk->n_enc; i++) layer_forward(tk, &tk->enc[i], enc_input(tk, i), tk->act_enc[i], B);
    vq_forward(tk->codes, tk->zq, tk->act_enc[tk->n_enc - 1], tk->params + tk->codebook_off, B, tk->cfg.code_dim,
               tk->hz * tk->wz, tk->cfg.codebook_size);
}

static void decode_forward(tokenizer *tk, int B) {
    for (int i = 0; i < tk->n_dec; i++) layer_forward(tk, &tk->dec[i], dec_input(tk, i), tk->act_dec[i], B);
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

float tokenizer_train_step(tokenizer *tk, const float *x, int B, const tokenizer_train_params *hp, float lr, int step,
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
    for (int i = tk->n_dec - 1; i >= 0; i--) {
        const tokenizer_layer *L = &tk->dec[i];
        memset(dinp, 0, (size_t)B * L->ci * L->h * L->w * sizeof(float));
        layer_backward(tk, L, dec_input(tk, i), dout, dinp, B);
        float *t = dout;
        dout = dinp, dinp = t;
    }
    /* dout holds d loss / d zq; through the quantiser to z. */
    const float *z = tk->act_enc[tk->n_enc - 1];
    memset(dinp, 0, (size_t)B * D * HW * sizeof(float));
    float commit = vq_backward(dinp, tk->grads + tk->codebook_off, dout, z, tk->params + tk->codebook_off, tk->codes,
                               B, D, HW, N, hp->commit_beta);
    float *t = dout;
    dout = dinp, dinp = t;
    for (int i = tk->n_enc - 1; i >= 0; i--) {
        const tokenizer_layer *L = &tk->enc[i];
        if (i == 0) { /* the input needs no gradient */
            conv2d_backward(NULL, tk->grads + L->w_off, tk->grads + L->b_off, dout, tk->x_in, tk->params + L->w_off,
                            B, L->ci, L->h, L->w, L->co, L->k, L->stride, L->pad, tk->scratch);
            break;
        }
        memset(dinp, 0, (size_t)B * L->ci * L->h * L->w * sizeof(float));
        layer_backward(tk, L, enc_input(tk, i), dout, dinp, B);
        float *u = dout;
        dout = dinp, dinp = u;
    }

    float norm = hp->clip_norm > 0 ? grad_clip_norm(tk->grads, tk->n_params, hp->clip_norm) : 0.0f;
    adamw_params a = hp->adamw;
    a.lr = lr;
    adamw_update(tk->params, tk->grads, tk->m, tk->v, tk->n_params, &a, step);
    int used;
    int restarted = restart_dead_codes(tk, B, step, hp->dead_code_steps, &used);

    float loss = hp->recon_weight * recon + hp->gradient_weight * edge + hp->commit_beta * commit;
    if (stats) {
        memset(stats, 0, sizeof *stats);
        stats->loss = loss, stats->recon = recon, stats->gradient = edge, stats->commit = commit;
        stats->grad_norm = norm;
        stats->psnr = batch_psnr(tk, B);
        stats->restarted = restarted;
        stats->codes_used = used;
    }
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
