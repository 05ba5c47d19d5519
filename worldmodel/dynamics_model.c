/* dynamics_model.c — the dynamics transformer's CPU path (see
 * dynamics_model.h for the layout, the targets and the file format).
 *
 * Dimensions as in dynamics_model.h: B windows, F frames, P image tokens,
 * K slots, S slot features, A action features, L = 1 + K + P, T = F L,
 * N = B T rows, C channels, NH heads, hs head size, V vocabulary.
 *
 * Layers come from ops.h (linear, AdamW, clipping) and transformer_ops.h
 * (RMSNorm, GELU, embeddings, attention, cross-entropy); both add into
 * gradients, so the backward pass zeroes each gradient buffer before the
 * layer that fills it. The only loops here are elementwise (residual
 * adds, assembling the input rows), each output written by one thread, so
 * results do not depend on the OpenMP thread count. */
#include "worldmodel/dynamics_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/mathx.h"
#include "worldmodel/transformer_ops.h"

/* Below this many elements an elementwise loop runs on one thread. */
#define PAR_MIN 32768
#define INIT_SD 0.02
#define MAX_BATCH 4096
#define MAX_ARENA_BYTES (UINT64_C(1) << 36) /* 64 GiB */

/* Programming errors (bad shapes or ids from the caller) abort: they are
 * bugs, not input to report. */
static void require(int ok, const char *what) {
    if (ok) return;
    fprintf(stderr, "dynamics: %s\n", what);
    abort();
}

dynamics_config dynamics_config_default(void) {
    return (dynamics_config){.vocab = 1024, .frame_tokens = 128, .frames = 3, .slots = 4, .slot_dim = 8,
                             .action_dim = 4, .layers = 4, .channels = 128, .heads = 4};
}

dynamics_train_params dynamics_train_params_default(void) {
    return (dynamics_train_params){
        .adamw = {.lr = 3e-4f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f},
        .clip_norm = 1.0f};
}

int dynamics_frame_positions(const dynamics_config *cfg) { return 1 + cfg->slots + cfg->frame_tokens; }
int dynamics_positions(const dynamics_config *cfg) { return cfg->frames * dynamics_frame_positions(cfg); }

int dynamics_config_check(const dynamics_config *cfg, wm_error *err) {
    const dynamics_config *c = cfg;
    if (c->vocab < 2 || c->vocab > 65536) return wm_fail(err, "dynamics: vocab %d outside [2, 65536]", c->vocab);
    if (c->frame_tokens < 1 || c->frame_tokens > 4096)
        return wm_fail(err, "dynamics: frame_tokens %d outside [1, 4096]", c->frame_tokens);
    if (c->frames < 1 || c->frames > 64) return wm_fail(err, "dynamics: frames %d outside [1, 64]", c->frames);
    if (c->slots < 0 || c->slots > 64) return wm_fail(err, "dynamics: slots %d outside [0, 64]", c->slots);
    if (c->slot_dim < 1 || c->slot_dim > 256)
        return wm_fail(err, "dynamics: slot_dim %d outside [1, 256]", c->slot_dim);
    if (c->action_dim < 1 || c->action_dim > 64)
        return wm_fail(err, "dynamics: action_dim %d outside [1, 64]", c->action_dim);
    if (c->layers < 1 || c->layers > DYNAMICS_MAX_LAYERS)
        return wm_fail(err, "dynamics: layers %d outside [1, %d]", c->layers, DYNAMICS_MAX_LAYERS);
    if (c->channels < 1 || c->channels > 4096)
        return wm_fail(err, "dynamics: channels %d outside [1, 4096]", c->channels);
    if (c->heads < 1 || c->heads > c->channels || c->channels % c->heads)
        return wm_fail(err, "dynamics: heads %d is not a divisor of channels %d", c->heads, c->channels);
    const long L = 1L + c->slots + c->frame_tokens, T = c->frames * L;
    if (T > DYNAMICS_MAX_POSITIONS)
        return wm_fail(err,
                       "dynamics: %d frames of %ld positions (1 action + %d slots + %d image tokens) make %ld, over %d",
                       c->frames, L, c->slots, c->frame_tokens, T, DYNAMICS_MAX_POSITIONS);
    return 0;
}

void dynamics_ar_targets(const dynamics_config *cfg, const int *tokens, int B, int *targets) {
    const int F = cfg->frames, P = cfg->frame_tokens, K = cfg->slots, L = dynamics_frame_positions(cfg);
    const int T = F * L;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            /* position t + 1 is image token j of frame f when j = i - 1 - K >= 0 */
            const int next = t + 1, f = next / L, j = next % L - 1 - K;
            targets[(size_t)b * T + t] = next < T && j >= 0 ? tokens[((size_t)b * F + f) * P + j] : -1;
        }
}

/* ---- building ------------------------------------------------------------ */

/* Appends a tensor to the table; returns its offset in the parameter block. */
static size_t add_tensor(dynamics_model *dm, const char *name, int rank, int d0, int d1) {
    ckpt_tensor *t = &dm->tensors[dm->n_tensors++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->rank = rank, t->dims[0] = d0, t->dims[1] = rank > 1 ? d1 : 0;
    const size_t off = dm->n_params;
    dm->n_params += ckpt_tensor_floats(t);
    return off;
}

static void build(dynamics_model *dm) {
    const dynamics_config *c = &dm->cfg;
    const int C = c->channels;
    dm->tok_emb = add_tensor(dm, "tok_emb", 2, c->vocab + 1, C);
    dm->act_w = add_tensor(dm, "act.w", 2, C, c->action_dim);
    if (c->slots) dm->slot_w = add_tensor(dm, "slot.w", 2, C, c->slot_dim);
    dm->pos_emb = add_tensor(dm, "pos_emb", 2, dm->L, C);
    dm->frame_emb = add_tensor(dm, "frame_emb", 2, c->frames, C);
    for (int l = 0; l < c->layers; l++) {
        dynamics_layer *ly = &dm->layer[l];
        char name[CKPT_NAME_LEN];
#define BLK(field, suffix, rank, d0, d1) \
    (snprintf(name, sizeof name, "blk.%d.%s", l, suffix), ly->field = add_tensor(dm, name, rank, d0, d1))
        BLK(ln1_w, "ln1.w", 1, C, 0);
        BLK(qkv_w, "attn.qkv.w", 2, 3 * C, C);
        BLK(attn_proj_w, "attn.proj.w", 2, C, C);
        BLK(ln2_w, "ln2.w", 1, C, 0);
        BLK(fc_w, "mlp.fc.w", 2, 4 * C, C);
        BLK(fc_proj_w, "mlp.proj.w", 2, C, 4 * C);
#undef BLK
    }
    dm->lnf_w = add_tensor(dm, "ln_f.w", 1, C, 0);
    dm->head_w = add_tensor(dm, "head.w", 2, c->vocab, C);
}

static void init_params(dynamics_model *dm, uint64_t seed) {
    wm_rng rng;
    rng_init(&rng, seed);
    const double resid_sd = INIT_SD / sqrt(2.0 * dm->cfg.layers);
    for (int i = 0; i < dm->n_tensors; i++) {
        const ckpt_tensor *t = &dm->tensors[i];
        const size_t n = ckpt_tensor_floats(t);
        const size_t len = strlen(t->name);
        const int resid = len > 7 && !strcmp(t->name + len - 7, ".proj.w"); /* attn.proj.w, mlp.proj.w */
        for (size_t j = 0; j < n; j++)
            t->data[j] = t->rank == 1 ? 1.0f : (float)((resid ? resid_sd : INIT_SD) * rng_normal(&rng));
    }
}

/* Floats of the activation arena for B windows (the layout of
 * dynamics_init). */
static size_t arena_floats(const dynamics_config *c, int T, size_t B) {
    const size_t C = (size_t)c->channels, N = B * T, maps = B * c->heads * (size_t)T * T, F = (size_t)c->frames;
    const size_t per_layer = 18 * N * C + 2 * N + maps; /* 16 N C of activations, 2 N C of KV cache */
    return (size_t)c->layers * per_layer + 2 * N * C + N       /* res_out, lnf, rstdf */
           + 3 * N * (size_t)c->vocab + 2 * N                  /* logits, probs, dlogits, losses, weights */
           + B * F * C * (1 + (size_t)c->slots + c->frame_tokens) /* emb_act, emb_slot, emb_img */
           + B * F * (size_t)c->action_dim + B * F * c->slots * (size_t)c->slot_dim
           + 2 * N * C + 3 * N * C + 8 * N * C + 2 * maps;     /* dres, dln, dqkv, dfc, dfc_gelu, datt, dpreatt */
}

int dynamics_init(dynamics_model *dm, const dynamics_config *cfg, int max_batch, uint64_t seed, wm_error *err) {
    memset(dm, 0, sizeof *dm);
    if (dynamics_config_check(cfg, err)) return -1;
    if (max_batch < 1 || max_batch > MAX_BATCH)
        return wm_fail(err, "dynamics: batch %d outside [1, %d]", max_batch, MAX_BATCH);
    dm->cfg = *cfg;
    dm->max_batch = max_batch;
    dm->L = dynamics_frame_positions(cfg), dm->T = dynamics_positions(cfg);
    const int L = dm->L, T = dm->T;
    const size_t B = (size_t)max_batch, C = (size_t)cfg->channels, N = B * T, F = (size_t)cfg->frames;
    const size_t K = (size_t)cfg->slots, P = (size_t)cfg->frame_tokens, V = (size_t)cfg->vocab;
    const size_t total = arena_floats(cfg, T, B);
    if ((double)total * sizeof(float) > (double)MAX_ARENA_BYTES)
        return wm_fail(err, "dynamics: batch %d needs %.1f GiB of activations, over the 64 GiB limit", max_batch,
                       (double)total * sizeof(float) / (1 << 30));

    build(dm);
    /* Parameters, gradients and both moments: one allocation, four slices. */
    dm->params = CALLOC_CHECK(4 * dm->n_params, sizeof(float));
    dm->grads = dm->params + dm->n_params, dm->m = dm->grads + dm->n_params, dm->v = dm->m + dm->n_params;
    ckpt_tensors_layout(dm->tensors, dm->n_tensors, dm->params);

    dm->arena_floats = total;
    float *p = CALLOC_CHECK(total, sizeof(float));
    const size_t maps = B * cfg->heads * (size_t)T * T;
#define TAKE(ptr, n) ((ptr) = p, p += (n))
    for (int l = 0; l < cfg->layers; l++) {
        dynamics_layer_acts *a = &dm->act[l];
        TAKE(a->res_in, N * C), TAKE(a->ln1, N * C), TAKE(a->rstd1, N), TAKE(a->qkv, 3 * N * C);
        TAKE(a->att, maps), TAKE(a->atty, N * C), TAKE(a->res_mid, N * C), TAKE(a->ln2, N * C);
        TAKE(a->rstd2, N), TAKE(a->fc, 4 * N * C), TAKE(a->fc_gelu, 4 * N * C);
        TAKE(a->kcache, N * C), TAKE(a->vcache, N * C);
    }
    TAKE(dm->res_out, N * C), TAKE(dm->lnf, N * C), TAKE(dm->rstdf, N);
    TAKE(dm->logits, N * V), TAKE(dm->probs, N * V), TAKE(dm->dlogits, N * V), TAKE(dm->losses, N);
    TAKE(dm->weights_in, N);
    TAKE(dm->emb_act, B * F * C), TAKE(dm->emb_slot, B * F * K * C), TAKE(dm->emb_img, B * F * P * C);
    TAKE(dm->actions_in, B * F * cfg->action_dim), TAKE(dm->slots_in, B * F * K * cfg->slot_dim);
    TAKE(dm->dres, N * C), TAKE(dm->dln, N * C), TAKE(dm->dqkv, 3 * N * C);
    TAKE(dm->dfc, 4 * N * C), TAKE(dm->dfc_gelu, 4 * N * C);
    TAKE(dm->datt, maps), TAKE(dm->dpreatt, maps);
#undef TAKE
    require((size_t)(p - dm->act[0].res_in) == total, "arena layout and size disagree");

    int *ip = CALLOC_CHECK(B * F * P + 3 * N, sizeof(int));
    dm->tokens_in = ip, ip += B * F * P;
    dm->targets_in = ip, ip += N;
    dm->pos_ids = ip, ip += N;
    dm->frame_ids = ip;
    for (size_t n = 0; n < N; n++) dm->pos_ids[n] = (int)(n % T % L), dm->frame_ids[n] = (int)(n % T / L);
    dm->candidates = CALLOC_CHECK(V + P, sizeof *dm->candidates);
    dm->guidance = 1.0f;
    init_params(dm, seed);
    return 0;
}

void dynamics_free(dynamics_model *dm) {
    free(dm->params);
    free(dm->act[0].res_in);
    free(dm->tokens_in);
    free(dm->candidates);
    memset(dm, 0, sizeof *dm);
}

/* ---- forward ---------------------------------------------------------------- */

static void add_into(float *y, const float *x, size_t n) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

/* Copies the inputs of B windows into the arena, checking the ids. */
static void take_inputs(dynamics_model *dm, const int *tokens, const float *actions, const float *slots, int B) {
    const dynamics_config *c = &dm->cfg;
    const size_t BF = (size_t)B * c->frames, n_tok = BF * c->frame_tokens, n_slot = BF * c->slots * c->slot_dim;
    for (size_t i = 0; i < n_tok; i++) require(tokens[i] >= 0 && tokens[i] <= c->vocab, "token id outside [0, V]");
    memcpy(dm->tokens_in, tokens, n_tok * sizeof *tokens);
    memcpy(dm->actions_in, actions, BF * c->action_dim * sizeof *actions);
    if (slots) memcpy(dm->slots_in, slots, n_slot * sizeof *slots);
    else memset(dm->slots_in, 0, n_slot * sizeof *dm->slots_in);
}

/* The input rows x (B, T, C) from the inputs in the arena: each position's
 * own embedding (action, slot or image token), plus its position and frame
 * embeddings. */
static void embed_forward(dynamics_model *dm, int B, float *x) {
    const dynamics_config *c = &dm->cfg;
    const int C = c->channels, F = c->frames, K = c->slots, P = c->frame_tokens, L = dm->L, T = dm->T;
    const float *W = dm->params;
    linear_forward(dm->emb_act, dm->actions_in, W + dm->act_w, NULL, B * F, c->action_dim, C);
    if (K) linear_forward(dm->emb_slot, dm->slots_in, W + dm->slot_w, NULL, B * F * K, c->slot_dim, C);
    embedding_forward(dm->emb_img, dm->tokens_in, W + dm->tok_emb, B * F * P, C);
    const int N = B * T;
#pragma omp parallel for schedule(static) if ((size_t)N * C >= PAR_MIN)
    for (int n = 0; n < N; n++) {
        const int b = n / T, t = n % T, f = t / L, i = t % L;
        const size_t bf = (size_t)b * F + f;
        const float *e = i == 0   ? dm->emb_act + bf * C
                         : i <= K ? dm->emb_slot + (bf * K + i - 1) * C
                                  : dm->emb_img + (bf * P + i - 1 - K) * C;
        const float *pe = W + dm->pos_emb + (size_t)i * C, *fe = W + dm->frame_emb + (size_t)f * C;
        float *o = x + (size_t)n * C;
        for (int k = 0; k < C; k++) o[k] = (e[k] + pe[k]) + fe[k];
    }
}

float dynamics_forward(dynamics_model *dm, const int *tokens, const float *actions, const float *slots, int B,
                       int block, const int *targets) {
    return dynamics_forward_weighted(dm, tokens, actions, slots, B, block, targets, NULL);
}

float dynamics_forward_weighted(dynamics_model *dm, const int *tokens, const float *actions, const float *slots, int B,
                                int block, const int *targets, const float *weights) {
    const dynamics_config *c = &dm->cfg;
    require(B >= 1 && B <= dm->max_batch, "batch outside [1, max_batch]");
    require(block >= 1, "attention block below 1");
    const int C = c->channels, NH = c->heads, V = c->vocab, T = dm->T, N = B * T;
    const size_t NC = (size_t)N * C;
    const float *W = dm->params;
    take_inputs(dm, tokens, actions, slots, B);
    embed_forward(dm, B, dm->act[0].res_in);
    for (int l = 0; l < c->layers; l++) {
        const dynamics_layer *ly = &dm->layer[l];
        dynamics_layer_acts *a = &dm->act[l];
        float *out = l + 1 < c->layers ? dm->act[l + 1].res_in : dm->res_out;
        rmsnorm_forward(a->ln1, a->rstd1, a->res_in, W + ly->ln1_w, N, C);
        linear_forward(a->qkv, a->ln1, W + ly->qkv_w, NULL, N, C, 3 * C);
        attention_forward(a->atty, NULL, a->att, a->qkv, B, T, C, NH, block);
        linear_forward(a->res_mid, a->atty, W + ly->attn_proj_w, NULL, N, C, C);
        add_into(a->res_mid, a->res_in, NC);
        rmsnorm_forward(a->ln2, a->rstd2, a->res_mid, W + ly->ln2_w, N, C);
        linear_forward(a->fc, a->ln2, W + ly->fc_w, NULL, N, C, 4 * C);
        gelu_forward(a->fc_gelu, a->fc, 4 * NC);
        linear_forward(out, a->fc_gelu, W + ly->fc_proj_w, NULL, N, 4 * C, C);
        add_into(out, a->res_mid, NC);
    }
    rmsnorm_forward(dm->lnf, dm->rstdf, dm->res_out, W + dm->lnf_w, N, C);
    linear_forward(dm->logits, dm->lnf, W + dm->head_w, NULL, N, C, V);
    dm->batch = B, dm->block = block, dm->has_targets = targets != NULL;
    if (!targets) return 0.0f;
    for (int n = 0; n < N; n++) require(targets[n] >= -1 && targets[n] < V, "target outside [-1, V)");
    memcpy(dm->targets_in, targets, (size_t)N * sizeof *targets);
    const float mean = crossentropy_forward(dm->losses, dm->probs, dm->logits, dm->targets_in, N, V);
    dm->weighted = weights != NULL;
    if (!weights) return mean;
    /* The weighted mean, in order, in double (as the op's own mean). */
    double sum = 0.0, wsum = 0.0;
    for (int n = 0; n < N; n++) {
        require(!(weights[n] < 0.0f) && isfinite(weights[n]), "target weight negative or not finite");
        dm->weights_in[n] = weights[n];
        if (targets[n] < 0) continue;
        sum += (double)weights[n] * dm->losses[n], wsum += weights[n];
    }
    return wsum > 0.0 ? (float)(sum / wsum) : 0.0f;
}

/* ---- backward ----------------------------------------------------------------- */

/* From the gradient of the input rows dx (B, T, C) into the embedding
 * tables and the two projections. */
static void embed_backward(dynamics_model *dm, int B, const float *dx) {
    const dynamics_config *c = &dm->cfg;
    const int C = c->channels, F = c->frames, K = c->slots, P = c->frame_tokens, L = dm->L, T = dm->T, N = B * T;
    float *G = dm->grads;
    embedding_backward(G + dm->pos_emb, dx, dm->pos_ids, N, C);
    embedding_backward(G + dm->frame_emb, dx, dm->frame_ids, N, C);
    /* Each row's gradient back to the buffer its embedding came from. */
#pragma omp parallel for schedule(static) if ((size_t)N * C >= PAR_MIN)
    for (int n = 0; n < N; n++) {
        const int b = n / T, t = n % T, f = t / L, i = t % L;
        const size_t bf = (size_t)b * F + f;
        float *e = i == 0   ? dm->emb_act + bf * C
                   : i <= K ? dm->emb_slot + (bf * K + i - 1) * C
                            : dm->emb_img + (bf * P + i - 1 - K) * C;
        memcpy(e, dx + (size_t)n * C, (size_t)C * sizeof *e);
    }
    linear_backward(NULL, G + dm->act_w, NULL, dm->emb_act, dm->actions_in, dm->params + dm->act_w, B * F,
                    c->action_dim, C);
    if (K)
        linear_backward(NULL, G + dm->slot_w, NULL, dm->emb_slot, dm->slots_in, dm->params + dm->slot_w, B * F * K,
                        c->slot_dim, C);
    embedding_backward(G + dm->tok_emb, dm->emb_img, dm->tokens_in, B * F * P, C);
}

void dynamics_backward(dynamics_model *dm) {
    require(dm->has_targets, "dynamics_backward needs a forward pass with targets");
    const dynamics_config *c = &dm->cfg;
    const int B = dm->batch, C = c->channels, NH = c->heads, V = c->vocab, T = dm->T, N = B * T;
    const size_t NC = (size_t)N * C;
    const float *W = dm->params;
    float *G = dm->grads;
    memset(G, 0, dm->n_params * sizeof *G);

    memset(dm->dlogits, 0, (size_t)N * V * sizeof *dm->dlogits);
    if (dm->weighted) {
        /* Row n of the weighted mean's gradient: w_n / sum(w) (p - onehot). */
        double wsum = 0.0;
        for (int n = 0; n < N; n++)
            if (dm->targets_in[n] >= 0) wsum += dm->weights_in[n];
#pragma omp parallel for schedule(static) if ((size_t)N * V >= PAR_MIN)
        for (int n = 0; n < N; n++) {
            const int t = dm->targets_in[n];
            if (t < 0 || wsum <= 0.0) continue;
            const float scale = (float)(dm->weights_in[n] / wsum);
            float *d = dm->dlogits + (size_t)n * V;
            const float *p = dm->probs + (size_t)n * V;
            for (int v = 0; v < V; v++) d[v] = scale * p[v];
            d[t] -= scale;
        }
    } else {
        const int counted = crossentropy_counted(dm->targets_in, N);
        crossentropy_softmax_backward(dm->dlogits, dm->probs, dm->targets_in, counted ? 1.0f / (float)counted : 0.0f,
                                      N, V);
    }
    memset(dm->dln, 0, NC * sizeof *dm->dln);
    linear_backward(dm->dln, G + dm->head_w, NULL, dm->dlogits, dm->lnf, W + dm->head_w, N, C, V);
    memset(dm->dres, 0, NC * sizeof *dm->dres);
    rmsnorm_backward(dm->dres, G + dm->lnf_w, dm->dln, dm->res_out, dm->rstdf, W + dm->lnf_w, N, C);

    /* dres holds the gradient of a block's output; each residual branch
     * adds its input's gradient into it, leaving the block input's. */
    for (int l = c->layers - 1; l >= 0; l--) {
        const dynamics_layer *ly = &dm->layer[l];
        const dynamics_layer_acts *a = &dm->act[l];
        /* out = res_mid + mlp.proj(gelu(mlp.fc(ln2(res_mid)))) */
        memset(dm->dfc_gelu, 0, 4 * NC * sizeof(float));
        linear_backward(dm->dfc_gelu, G + ly->fc_proj_w, NULL, dm->dres, a->fc_gelu, W + ly->fc_proj_w, N, 4 * C, C);
        memset(dm->dfc, 0, 4 * NC * sizeof(float));
        gelu_backward(dm->dfc, dm->dfc_gelu, a->fc, 4 * NC);
        memset(dm->dln, 0, NC * sizeof(float));
        linear_backward(dm->dln, G + ly->fc_w, NULL, dm->dfc, a->ln2, W + ly->fc_w, N, C, 4 * C);
        rmsnorm_backward(dm->dres, G + ly->ln2_w, dm->dln, a->res_mid, a->rstd2, W + ly->ln2_w, N, C);
        /* res_mid = res_in + attn.proj(attention(attn.qkv(ln1(res_in)))); dln carries d atty */
        memset(dm->dln, 0, NC * sizeof(float));
        linear_backward(dm->dln, G + ly->attn_proj_w, NULL, dm->dres, a->atty, W + ly->attn_proj_w, N, C, C);
        memset(dm->dqkv, 0, 3 * NC * sizeof(float));
        attention_backward(dm->dqkv, dm->dpreatt, dm->datt, dm->dln, a->qkv, a->att, B, T, C, NH, dm->block);
        memset(dm->dln, 0, NC * sizeof(float));
        linear_backward(dm->dln, G + ly->qkv_w, NULL, dm->dqkv, a->ln1, W + ly->qkv_w, N, C, 3 * C);
        rmsnorm_backward(dm->dres, G + ly->ln1_w, dm->dln, a->res_in, a->rstd1, W + ly->ln1_w, N, C);
    }
    embed_backward(dm, B, dm->dres);
}

float dynamics_train_step(dynamics_model *dm, const int *tokens, const float *actions, const float *slots,
                          const int *targets, int B, int block, const dynamics_train_params *hp, float lr, int step,
                          dynamics_step_stats *stats) {
    return dynamics_train_step_weighted(dm, tokens, actions, slots, targets, NULL, B, block, hp, lr, step, stats);
}

float dynamics_train_step_weighted(dynamics_model *dm, const int *tokens, const float *actions, const float *slots,
                                   const int *targets, const float *weights, int B, int block,
                                   const dynamics_train_params *hp, float lr, int step, dynamics_step_stats *stats) {
    const dynamics_train_params def = dynamics_train_params_default();
    if (!hp) hp = &def;
    require(targets != NULL, "a training step needs targets");
    dynamics_step_stats st = {0};
    st.loss = dynamics_forward_weighted(dm, tokens, actions, slots, B, block, targets, weights);
    dynamics_backward(dm);
    if (hp->clip_norm > 0) {
        st.grad_norm = grad_clip_norm(dm->grads, dm->n_params, hp->clip_norm);
    } else {
        double ss = 0.0;
        for (size_t i = 0; i < dm->n_params; i++) ss += (double)dm->grads[i] * dm->grads[i];
        st.grad_norm = (float)sqrt(ss);
    }
    st.skipped = !isfinite(st.grad_norm);
    if (!st.skipped) {
        /* Tensor by tensor: decay on the rank-2 ones only. */
        adamw_params a = hp->adamw;
        a.lr = lr;
        for (int i = 0; i < dm->n_tensors; i++) {
            const ckpt_tensor *t = &dm->tensors[i];
            const size_t off = (size_t)(t->data - dm->params);
            a.weight_decay = t->rank == 2 ? hp->adamw.weight_decay : 0.0f;
            adamw_update(dm->params + off, dm->grads + off, dm->m + off, dm->v + off, ckpt_tensor_floats(t), &a, step);
        }
    }
    if (stats) *stats = st;
    return st.loss;
}

/* ---- generation ----------------------------------------------------------------- */

/* The blocks over Tn new positions t0 .. t0+Tn-1 of B windows whose earlier
 * positions are in the KV caches, with attention block `block`: x (B, Tn, C)
 * in, the last block's output out, in place. Scratch: layer 0's activation
 * buffers. */
static void cached_blocks(dynamics_model *dm, int B, int t0, int Tn, int block, float *x) {
    const dynamics_config *c = &dm->cfg;
    const int C = c->channels, NH = c->heads, T = dm->T, N = B * Tn;
    const size_t NC = (size_t)N * C;
    const float *W = dm->params;
    const dynamics_layer_acts *s = &dm->act[0];
    for (int l = 0; l < c->layers; l++) {
        const dynamics_layer *ly = &dm->layer[l];
        const dynamics_layer_acts *a = &dm->act[l];
        rmsnorm_forward(s->ln1, s->rstd1, x, W + ly->ln1_w, N, C);
        linear_forward(s->qkv, s->ln1, W + ly->qkv_w, NULL, N, C, 3 * C);
        attention_cache_write(a->kcache, a->vcache, s->qkv, B, t0, Tn, T, C, NH);
        attention_forward_cached(s->atty, s->att, s->qkv, a->kcache, a->vcache, B, t0, Tn, T, C, NH, block);
        linear_forward(s->res_mid, s->atty, W + ly->attn_proj_w, NULL, N, C, C);
        add_into(s->res_mid, x, NC);
        rmsnorm_forward(s->ln2, s->rstd2, s->res_mid, W + ly->ln2_w, N, C);
        linear_forward(s->fc, s->ln2, W + ly->fc_w, NULL, N, C, 4 * C);
        gelu_forward(s->fc_gelu, s->fc, 4 * NC);
        linear_forward(x, s->fc_gelu, W + ly->fc_proj_w, NULL, N, 4 * C, C);
        add_into(x, s->res_mid, NC);
    }
}

/* The logits (B, V) of the last of the Tn rows of each window in x (B, Tn, C). */
static void last_logits(dynamics_model *dm, int B, int Tn, const float *x) {
    const int C = dm->cfg.channels;
    for (int b = 0; b < B; b++)
        memcpy(dm->res_out + (size_t)b * C, x + ((size_t)b * Tn + Tn - 1) * C, (size_t)C * sizeof *x);
    rmsnorm_forward(dm->lnf, dm->rstdf, dm->res_out, dm->params + dm->lnf_w, B, C);
    linear_forward(dm->logits, dm->lnf, dm->params + dm->head_w, NULL, B, C, dm->cfg.vocab);
}

static int by_rank(const void *pa, const void *pb) {
    const dynamics_candidate *a = pa, *b = pb;
    if (a->value != b->value) return a->value > b->value ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* One token from a row of V logits (see dynamics_generate_frame). */
static int sample_token(dynamics_model *dm, const float *logits, float temperature, int top_k, wm_rng *rng) {
    const int V = dm->cfg.vocab;
    if (!(temperature > 0.0f)) {
        int best = 0;
        for (int v = 1; v < V; v++)
            if (logits[v] > logits[best]) best = v;
        return best;
    }
    dynamics_candidate *cand = dm->candidates;
    for (int v = 0; v < V; v++) cand[v] = (dynamics_candidate){logits[v], v};
    const int k = top_k <= 0 || top_k >= V ? V : top_k;
    float mx = cand[0].value;
    if (k < V) {
        qsort(cand, (size_t)V, sizeof *cand, by_rank);
        mx = cand[0].value;
    } else {
        for (int v = 1; v < V; v++)
            if (cand[v].value > mx) mx = cand[v].value;
    }
    double sum = 0.0;
    for (int i = 0; i < k; i++) sum += exp(((double)cand[i].value - mx) / temperature);
    const double u = rng_uniform(rng) * sum;
    double acc = 0.0;
    for (int i = 0; i < k; i++) {
        acc += exp(((double)cand[i].value - mx) / temperature);
        if (u < acc) return cand[i].index;
    }
    return cand[k - 1].index; /* rounding left u at the very top */
}

/* Windows the generators run for B: 2B under guidance (dynamics_model.h). */
static int generated_batch(const dynamics_model *dm, int B) {
    const int Bx = dm->guidance != 1.0f ? 2 * B : B;
    require(Bx <= dm->max_batch, "guidance needs room for twice the batch (max_batch)");
    return Bx;
}

/* The generators' window: the context, then the new frame with its tokens
 * masked, embedded as in training into x (Bx, T, C); the new frame's image
 * embeddings are computed and not used. Under guidance windows B .. 2B-1
 * repeat windows 0 .. B-1 with every action feature 0, as action dropout
 * trains the model without them. */
static void embed_window(dynamics_model *dm, const int *context, const float *actions, const float *slots, int B,
                         int Bx, float *x) {
    const dynamics_config *c = &dm->cfg;
    const int F = c->frames, K = c->slots, P = c->frame_tokens, V = c->vocab;
    const size_t FA = (size_t)F * c->action_dim, FKS = (size_t)F * K * c->slot_dim;
    for (int b = 0; b < Bx; b++) {
        int *w = dm->tokens_in + (size_t)b * F * P;
        for (size_t i = 0; i < (size_t)(F - 1) * P; i++) {
            const int id = context[(size_t)(b % B) * (F - 1) * P + i];
            require(id >= 0 && id <= V, "context token id outside [0, V]");
            w[i] = id;
        }
        for (int j = 0; j < P; j++) w[(size_t)(F - 1) * P + j] = V;
        float *a = dm->actions_in + (size_t)b * FA, *sl = dm->slots_in + (size_t)b * FKS;
        if (b < B) memcpy(a, actions + (size_t)b * FA, FA * sizeof *a);
        else memset(a, 0, FA * sizeof *a);
        if (slots) memcpy(sl, slots + (size_t)(b % B) * FKS, FKS * sizeof *sl);
        else memset(sl, 0, FKS * sizeof *sl);
    }
    embed_forward(dm, Bx, x);
}

/* Under guidance, rows r of window b (b < B) of logits (2B windows of R
 * rows, V each) become u + w (l - u), u the same row of window B + b. */
static void guide_logits(const dynamics_model *dm, float *logits, int B, int R) {
    if (dm->guidance == 1.0f) return;
    const int V = dm->cfg.vocab;
    const float w = dm->guidance;
    for (size_t i = 0; i < (size_t)B * R; i++) {
        float *l = logits + i * V;
        const float *u = logits + ((size_t)B * R + i) * V;
        for (int v = 0; v < V; v++) l[v] = u[v] + w * (l[v] - u[v]);
    }
}

void dynamics_generate_frame(dynamics_model *dm, const int *context, const float *actions, const float *slots, int B,
                             float temperature, int top_k, wm_rng *rng, int *out) {
    const dynamics_config *c = &dm->cfg;
    require(B >= 1 && B <= dm->max_batch, "batch outside [1, max_batch]");
    require(temperature <= 0.0f || rng != NULL, "sampling at a temperature needs an rng");
    const int C = c->channels, F = c->frames, K = c->slots, P = c->frame_tokens, V = c->vocab, L = dm->L, T = dm->T;
    const int Bx = generated_batch(dm, B);
    float *x = dm->act[0].res_in;
    embed_window(dm, context, actions, slots, B, Bx, x);

    /* Prefill: positions 0 .. T0-1 (the context, then the new frame's action
     * and slots), packed to (Bx, T0, C). */
    const int T0 = (F - 1) * L + 1 + K;
    for (int b = 1; b < Bx; b++)
        memmove(x + (size_t)b * T0 * C, x + (size_t)b * T * C, (size_t)T0 * C * sizeof *x);
    cached_blocks(dm, Bx, 0, T0, 1, x);
    last_logits(dm, Bx, T0, x);
    const float *W = dm->params;
    const float *fe = W + dm->frame_emb + (size_t)(F - 1) * C;
    for (int j = 0; j < P; j++) {
        guide_logits(dm, dm->logits, B, 1);
        for (int b = 0; b < B; b++)
            out[(size_t)b * P + j] = sample_token(dm, dm->logits + (size_t)b * V, temperature, top_k, rng);
        if (j == P - 1) break;
        /* Token j enters at position T0 + j, embedded as embed_forward does. */
        const float *pe = W + dm->pos_emb + (size_t)(1 + K + j) * C;
        for (int b = 0; b < Bx; b++) {
            const float *e = W + dm->tok_emb + (size_t)out[(size_t)(b % B) * P + j] * C;
            float *o = x + (size_t)b * C;
            for (int k = 0; k < C; k++) o[k] = (e[k] + pe[k]) + fe[k];
        }
        cached_blocks(dm, Bx, T0 + j, 1, 1, x);
        last_logits(dm, Bx, 1, x);
    }
    dm->has_targets = 0;
}

/* After pass s of `steps`, this many of the P tokens are fixed (MaskGIT's
 * cosine schedule); all of them after the last pass. */
static int fixed_after(int P, int s, int steps) {
    if (s >= steps) return P;
    return P - (int)floor(P * cos(WM_PI / 2 * (double)s / steps));
}

/* The probability softmax(logits) gives token v. */
static float token_probability(const float *logits, int V, int v) {
    float mx = logits[0];
    for (int i = 1; i < V; i++) mx = logits[i] > mx ? logits[i] : mx;
    double sum = 0.0;
    for (int i = 0; i < V; i++) sum += exp((double)logits[i] - mx);
    return (float)(exp((double)logits[v] - mx) / sum);
}

void dynamics_generate_frame_parallel(dynamics_model *dm, const int *context, const float *actions, const float *slots,
                                      int B, int steps, float temperature, int top_k, wm_rng *rng, int *out) {
    const dynamics_config *c = &dm->cfg;
    require(B >= 1 && B <= dm->max_batch, "batch outside [1, max_batch]");
    require(temperature <= 0.0f || rng != NULL, "sampling at a temperature needs an rng");
    const int C = c->channels, F = c->frames, K = c->slots, P = c->frame_tokens, V = c->vocab, L = dm->L, T = dm->T;
    require(steps >= 1 && steps <= P, "parallel decoding steps outside [1, P]");
    const int Bx = generated_batch(dm, B);
    float *x = dm->act[0].res_in;
    embed_window(dm, context, actions, slots, B, Bx, x);
    /* The context frames once, into the cache, at block L as the masked
     * objective trains them. Then the new frame's L rows per pass, in y. */
    const int T0 = (F - 1) * L;
    float *y = dm->dres;
    for (int b = 0; b < Bx; b++)
        memcpy(y + (size_t)b * L * C, x + ((size_t)b * T + T0) * C, (size_t)L * C * sizeof *y);
    if (T0) {
        for (int b = 1; b < Bx; b++)
            memmove(x + (size_t)b * T0 * C, x + (size_t)b * T * C, (size_t)T0 * C * sizeof *x);
        cached_blocks(dm, Bx, 0, T0, L, x);
    }
    const float *W = dm->params;
    const float *fe = W + dm->frame_emb + (size_t)(F - 1) * C;
    float *rows = dm->dln; /* (Bx L, C): a pass's rows */
    int *ids = out; /* (B, P): V while masked; windows b and B + b share them */
    for (size_t i = 0; i < (size_t)B * P; i++) ids[i] = V;
    dynamics_candidate *rank = dm->candidates + V;
    int fixed = 0;
    for (int s = 1; s <= steps; s++) {
        /* The pass's input: the frame's action and slot rows as embedded,
         * its image rows from the current ids (MASK or fixed). */
        for (int b = 0; b < Bx; b++)
            for (int i = 0; i < L; i++) {
                float *o = rows + ((size_t)b * L + i) * C;
                if (i <= K) {
                    memcpy(o, y + ((size_t)b * L + i) * C, (size_t)C * sizeof *o);
                    continue;
                }
                const float *e = W + dm->tok_emb + (size_t)ids[(size_t)(b % B) * P + i - 1 - K] * C;
                const float *pe = W + dm->pos_emb + (size_t)i * C;
                for (int k = 0; k < C; k++) o[k] = (e[k] + pe[k]) + fe[k];
            }
        cached_blocks(dm, Bx, T0, L, L, rows);
        /* Logits of the image rows, packed (Bx P, V). */
        for (int b = 0; b < Bx; b++)
            memcpy(dm->res_out + (size_t)b * P * C, rows + ((size_t)b * L + 1 + K) * C, (size_t)P * C * sizeof *rows);
        rmsnorm_forward(dm->lnf, dm->rstdf, dm->res_out, W + dm->lnf_w, Bx * P, C);
        linear_forward(dm->logits, dm->lnf, W + dm->head_w, NULL, Bx * P, C, V);
        guide_logits(dm, dm->logits, B, P);
        const int want = fixed_after(P, s, steps);
        for (int b = 0; b < B; b++) {
            int *id = ids + (size_t)b * P, n = 0;
            for (int j = 0; j < P; j++) {
                if (id[j] != V) continue;
                const float *lg = dm->logits + ((size_t)b * P + j) * V;
                const int v = sample_token(dm, lg, temperature, top_k, rng);
                rank[n++] = (dynamics_candidate){token_probability(lg, V, v), j};
                id[j] = -1 - v; /* a candidate, not yet fixed */
            }
            qsort(rank, (size_t)n, sizeof *rank, by_rank);
            for (int r = 0; r < n; r++) {
                const int j = rank[r].index;
                id[j] = r < want - fixed ? -1 - id[j] : V;
            }
        }
        fixed = want;
    }
    dm->has_targets = 0;
}

void dynamics_mask_targets(const dynamics_config *cfg, const int *tokens, int B, wm_rng *rng, int *masked,
                           int *targets) {
    const int F = cfg->frames, P = cfg->frame_tokens, K = cfg->slots, V = cfg->vocab;
    const int L = dynamics_frame_positions(cfg), T = F * L;
    int *order = MALLOC_CHECK((size_t)P * sizeof *order);
    memcpy(masked, tokens, (size_t)B * F * P * sizeof *masked);
    for (size_t i = 0; i < (size_t)B * T; i++) targets[i] = -1;
    for (int b = 0; b < B; b++)
        for (int f = 0; f < F; f++) {
            if (f < F - 1 && rng_uniform(rng) >= 0.5) continue;
            const double u = rng_uniform(rng);
            int m = (int)ceil(P * cos(WM_PI / 2 * u));
            m = m < 1 ? 1 : m > P ? P : m;
            for (int j = 0; j < P; j++) order[j] = j;
            for (int i = 0; i < m; i++) { /* the first m of a Fisher-Yates shuffle */
                const int r = i + (int)(rng_u64(rng) % (uint64_t)(P - i));
                const int t = order[i];
                order[i] = order[r], order[r] = t;
                const size_t at = ((size_t)b * F + f) * P + order[i];
                targets[(size_t)b * T + (size_t)f * L + 1 + K + order[i]] = tokens[at];
                masked[at] = V;
            }
        }
    free(order);
}

/* ---- checkpoints -------------------------------------------------------------------- */

/* Header config slots of a dynamics model file. */
enum { CFG_VOCAB, CFG_FRAME_TOKENS, CFG_FRAMES, CFG_SLOTS, CFG_SLOT_DIM, CFG_ACTION_DIM, CFG_LAYERS, CFG_CHANNELS,
       CFG_HEADS, CFG_ARCH };

int dynamics_save(const dynamics_model *dm, const char *path, uint64_t *checksum, wm_error *err) {
    const dynamics_config *c = &dm->cfg;
    int32_t config[CKPT_CONFIG_SLOTS] = {0};
    config[CFG_VOCAB] = c->vocab, config[CFG_FRAME_TOKENS] = c->frame_tokens, config[CFG_FRAMES] = c->frames;
    config[CFG_SLOTS] = c->slots, config[CFG_SLOT_DIM] = c->slot_dim, config[CFG_ACTION_DIM] = c->action_dim;
    config[CFG_LAYERS] = c->layers, config[CFG_CHANNELS] = c->channels, config[CFG_HEADS] = c->heads;
    config[CFG_ARCH] = DYNAMICS_ARCH;
    return ckpt_write(path, CKPT_KIND_MODEL, CKPT_MODEL_DYNAMICS, config, dm->tensors, dm->n_tensors, checksum, err);
}

int dynamics_load(dynamics_model *dm, const char *path, int max_batch, wm_error *err) {
    memset(dm, 0, sizeof *dm);
    ckpt_info info;
    if (ckpt_inspect(path, CKPT_KIND_MODEL, CKPT_MODEL_DYNAMICS, &info, err)) return -1;
    const int32_t *k = info.config;
    const dynamics_config c = {.vocab = k[CFG_VOCAB], .frame_tokens = k[CFG_FRAME_TOKENS], .frames = k[CFG_FRAMES],
                               .slots = k[CFG_SLOTS], .slot_dim = k[CFG_SLOT_DIM], .action_dim = k[CFG_ACTION_DIM],
                               .layers = k[CFG_LAYERS], .channels = k[CFG_CHANNELS], .heads = k[CFG_HEADS]};
    const int arch = k[CFG_ARCH];
    size_t have = 0;
    for (int i = 0; i < info.n_tensors; i++) have += ckpt_tensor_floats(&info.tensors[i]);
    ckpt_info_free(&info);
    if (arch != DYNAMICS_ARCH)
        return wm_fail(err, "%s: dynamics architecture %d, but this wmsim builds architecture %d", path, arch,
                       DYNAMICS_ARCH);
    /* The parameters the config describes must be the file's before the
     * network is allocated for it: a few-KB file whose header claims a
     * large model would ask for up to the 64 GiB arena limit (as the
     * tokenizer's loader did: tests/fuzz/fuzz_checkpoint.c). */
    if (dynamics_config_check(&c, err)) return wm_error_prefix(err, "%s: ", path);
    dynamics_model *probe = CALLOC_CHECK(1, sizeof *probe);
    probe->cfg = c;
    probe->L = dynamics_frame_positions(&c), probe->T = dynamics_positions(&c);
    build(probe);
    const size_t want = probe->n_params;
    free(probe);
    if (want != have)
        return wm_fail(err, "%s: its tensors hold %zu floats, but the dynamics model its config describes has %zu "
                       "(file corrupt)", path, have, want);
    if (dynamics_init(dm, &c, max_batch, 0, err)) return wm_error_prefix(err, "%s: ", path);
    if (ckpt_read(path, CKPT_KIND_MODEL, CKPT_MODEL_DYNAMICS, dm->tensors, dm->n_tensors, NULL, err)) {
        dynamics_free(dm);
        return -1;
    }
    return 0;
}

#define STATE_TENSORS 3
static int describe_state(const dynamics_model *dm, ckpt_tensor t[STATE_TENSORS]) {
    static const char *names[STATE_TENSORS] = {"params", "adam.m", "adam.v"};
    float *data[STATE_TENSORS] = {dm->params, dm->m, dm->v};
    memset(t, 0, STATE_TENSORS * sizeof *t);
    for (int i = 0; i < STATE_TENSORS; i++) {
        snprintf(t[i].name, sizeof t[i].name, "%s", names[i]);
        t[i].rank = 1;
        t[i].dims[0] = (int)dm->n_params;
        t[i].data = data[i];
    }
    return STATE_TENSORS;
}

int dynamics_save_state(const dynamics_model *dm, const char *path, const ckpt_train_progress *p, wm_error *err) {
    ckpt_tensor t[STATE_TENSORS];
    int n = describe_state(dm, t);
    int32_t config[CKPT_CONFIG_SLOTS] = {0};
    ckpt_train_progress_put(config, p);
    return ckpt_write(path, CKPT_KIND_TRAIN_STATE, CKPT_MODEL_DYNAMICS, config, t, n, NULL, err);
}

int dynamics_load_state(dynamics_model *dm, const char *path, ckpt_train_progress *p, wm_error *err) {
    ckpt_tensor t[STATE_TENSORS];
    int n = describe_state(dm, t);
    int32_t config[CKPT_CONFIG_SLOTS];
    if (ckpt_read(path, CKPT_KIND_TRAIN_STATE, CKPT_MODEL_DYNAMICS, t, n, config, err)) return -1;
    ckpt_train_progress_get(config, p);
    return 0;
}
