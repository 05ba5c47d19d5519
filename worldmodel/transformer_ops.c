/* transformer_ops.c — the dynamics transformer's CPU layers (see
 * transformer_ops.h for the contract).
 *
 * Dimensions as in transformer_ops.h: B batch, T positions, C channels, NH
 * heads, hs head size, V vocabulary, N rows, block mask block, T_max cache
 * positions, t0 / Tn the new positions of a cached step.
 *
 * Determinism (as ops.c): every output element is computed by one thread in
 * a fixed order of operations, so results never depend on the OpenMP thread
 * count. Loops run in parallel over rows (a norm's row, an attention row
 * (b, h, t), a logits row) whenever each row writes only its own outputs.
 * Gradients that gather from many rows are split by what they write
 * instead: a norm's weight gradient and an embedding table's gradient by
 * tiles of COL_TILE columns, each visiting the rows in order; attention's
 * key and value gradients by key position, each visiting the queries that
 * see it in order (from the dpreatt and att rows the first pass saved), so
 * no two threads ever add into the same float.
 *
 * The attention row (scores, softmax, weighted sum of values) is one
 * function used by both the full and the cached forward pass, so decoding
 * with a KV cache reproduces the full pass bit for bit. Dot products over a
 * head run in DOT_LANES fixed interleaved partial sums (combined in a fixed
 * order), which the compiler can vectorise without reassociating anything. */
#include "worldmodel/transformer_ops.h"

#include <math.h>
#include <string.h>

/* Below this much work (multiply-adds, roughly) a loop runs on one thread:
 * waking the team costs more. Affects speed only, never results. */
#define PAR_MIN 32768
/* Columns per thread in the column-split gradient sums: a cache line. */
#define COL_TILE 16
/* Interleaved partial sums of a dot product. */
#define DOT_LANES 8

/* a · b over n floats: lane l sums the elements i = l mod DOT_LANES in
 * order, the lanes are combined pairwise, then the tail is added. */
static inline float dotf(const float *a, const float *b, int n) {
    float acc[DOT_LANES] = {0};
    int i = 0;
    for (; i + DOT_LANES <= n; i += DOT_LANES)
        for (int l = 0; l < DOT_LANES; l++) acc[l] += a[i + l] * b[i + l];
    float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* ---- rmsnorm --------------------------------------------------------------- */

void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int N, int C) {
#pragma omp parallel for schedule(static) if ((size_t)N * C >= PAR_MIN)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *o = out + (size_t)n * C;
        double ss = 0.0;
        for (int c = 0; c < C; c++) ss += (double)x[c] * x[c];
        const float r = (float)(1.0 / sqrt(ss / C + RMSNORM_EPS));
        rstd[n] = r;
        for (int c = 0; c < C; c++) o[c] = x[c] * r * weight[c];
    }
}

void rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp, const float *rstd,
                      const float *weight, int N, int C) {
    const int par = (size_t)N * C >= PAR_MIN;
    if (dinp) {
        /* With xhat = x r and dy = dout weight (r depends on the whole row):
         * dx = r (dy - xhat mean(dy xhat)). */
#pragma omp parallel for schedule(static) if (par)
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *g = dout + (size_t)n * C;
            float *dx = dinp + (size_t)n * C;
            const float r = rstd[n];
            double s = 0.0;
            for (int c = 0; c < C; c++) s += (double)(g[c] * weight[c]) * (x[c] * r);
            const float m = (float)(s / C);
            for (int c = 0; c < C; c++) dx[c] += r * (g[c] * weight[c] - x[c] * r * m);
        }
    }
    if (dweight) {
        const int tiles = (C + COL_TILE - 1) / COL_TILE;
#pragma omp parallel for schedule(static) if (par)
        for (int tile = 0; tile < tiles; tile++) {
            const int c0 = tile * COL_TILE, nc = C - c0 < COL_TILE ? C - c0 : COL_TILE;
            double s[COL_TILE] = {0};
            for (int n = 0; n < N; n++) {
                const float *x = inp + (size_t)n * C + c0, *g = dout + (size_t)n * C + c0;
                const float r = rstd[n];
                for (int j = 0; j < nc; j++) s[j] += (double)g[j] * (x[j] * r);
            }
            for (int j = 0; j < nc; j++) dweight[c0 + j] += (float)s[j];
        }
    }
}

/* ---- gelu ------------------------------------------------------------------ */

#define GELU_K 0.7978845608028654f /* sqrt(2 / pi) */
#define GELU_A 0.044715f

void gelu_forward(float *out, const float *inp, size_t n) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        const float x = inp[i];
        out[i] = 0.5f * x * (1.0f + tanhf(GELU_K * (x + GELU_A * x * x * x)));
    }
}

void gelu_backward(float *dinp, const float *dout, const float *inp, size_t n) {
    /* With u = k (x + a x³) and th = tanh u:
     * d/dx = 0.5 (1 + th) + 0.5 x (1 - th²) k (1 + 3 a x²). */
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        const float x = inp[i], th = tanhf(GELU_K * (x + GELU_A * x * x * x));
        const float d = 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * GELU_K * (1.0f + 3.0f * GELU_A * x * x);
        dinp[i] += dout[i] * d;
    }
}

/* ---- embedding ------------------------------------------------------------- */

void embedding_forward(float *out, const int *ids, const float *table, int N, int C) {
#pragma omp parallel for schedule(static) if ((size_t)N * C >= PAR_MIN)
    for (int n = 0; n < N; n++) memcpy(out + (size_t)n * C, table + (size_t)ids[n] * C, (size_t)C * sizeof *out);
}

void embedding_backward(float *dtable, const float *dout, const int *ids, int N, int C) {
    /* Rows of the table gather from every n with their id: split by column
     * tiles, each thread adding its columns of every row in the order of n. */
    const int tiles = (C + COL_TILE - 1) / COL_TILE;
#pragma omp parallel for schedule(static) if ((size_t)N * C >= PAR_MIN)
    for (int tile = 0; tile < tiles; tile++) {
        const int c0 = tile * COL_TILE, nc = C - c0 < COL_TILE ? C - c0 : COL_TILE;
        for (int n = 0; n < N; n++) {
            const float *g = dout + (size_t)n * C + c0;
            float *d = dtable + (size_t)ids[n] * C + c0;
            for (int j = 0; j < nc; j++) d[j] += g[j];
        }
    }
}

/* ---- attention -------------------------------------------------------------- */

/* Positions [0, visible) that position t sees under the block-causal mask,
 * clamped to the `avail` positions that exist. */
static inline int mask_visible(int t, int block, int avail) {
    const long end = ((long)t / block + 1) * block;
    return end < avail ? (int)end : avail;
}

/* One attention row of one head: the query q (hs) against keys k + s kv_stride
 * and values v + s kv_stride for s < vis. Writes att[s] (and pre[s] unless
 * pre is NULL) for s < len, zero for vis <= s < len, and out (hs). Both
 * forward passes call this, so they agree bit for bit. */
static void attend_row(float *out, float *pre, float *att, const float *q, const float *k, const float *v,
                       size_t kv_stride, int vis, int len, int hs, float scale) {
    float mx = -INFINITY;
    for (int s = 0; s < vis; s++) {
        const float a = dotf(q, k + (size_t)s * kv_stride, hs) * scale;
        att[s] = a;
        if (a > mx) mx = a;
    }
    if (pre) {
        memcpy(pre, att, (size_t)vis * sizeof *pre);
        for (int s = vis; s < len; s++) pre[s] = 0.0f;
    }
    double sum = 0.0;
    for (int s = 0; s < vis; s++) {
        const float e = expf(att[s] - mx);
        att[s] = e;
        sum += e;
    }
    const float inv = (float)(1.0 / sum); /* sum >= 1: the maximum's term is exp(0) */
    for (int s = 0; s < vis; s++) att[s] *= inv;
    for (int s = vis; s < len; s++) att[s] = 0.0f;
    for (int i = 0; i < hs; i++) out[i] = 0.0f;
    for (int s = 0; s < vis; s++) {
        const float a = att[s], *vs = v + (size_t)s * kv_stride;
        for (int i = 0; i < hs; i++) out[i] += a * vs[i];
    }
}

void attention_forward(float *out, float *preatt, float *att, const float *qkv, int B, int T, int C, int NH,
                       int block) {
    const int hs = C / NH;
    const size_t C3 = (size_t)3 * C;
    const float scale = (float)(1.0 / sqrt((double)hs));
    const int rows = B * NH * T;
    /* Row t costs about (t + 1) hs twice; dynamic chunks even out the
     * triangle. */
#pragma omp parallel for schedule(dynamic, 8) if ((size_t)rows * T * hs >= PAR_MIN)
    for (int row = 0; row < rows; row++) {
        const int t = row % T, h = row / T % NH, b = row / (T * NH);
        const float *base = qkv + (size_t)b * T * C3 + (size_t)h * hs;
        const size_t moff = (size_t)row * T;
        attend_row(out + ((size_t)b * T + t) * C + (size_t)h * hs, preatt ? preatt + moff : NULL, att + moff,
                   base + (size_t)t * C3, base + C, base + 2 * (size_t)C, C3, mask_visible(t, block, T), T, hs, scale);
    }
}

void attention_backward(float *dqkv, float *dpreatt, float *datt, const float *dout, const float *qkv, const float *att,
                        int B, int T, int C, int NH, int block) {
    if (!dqkv) return;
    const int hs = C / NH;
    const size_t C3 = (size_t)3 * C;
    const float scale = (float)(1.0 / sqrt((double)hs));
    const int rows = B * NH * T;
    const int par = (size_t)rows * T * hs >= PAR_MIN;
    /* Pass 1, per query row: datt[s] = dout_t · v_s; the softmax's
     * dpreatt[s] = att[s] (datt[s] - sum_r att[r] datt[r]); and
     * dq_t += scale sum_s dpreatt[s] k_s. */
#pragma omp parallel for schedule(dynamic, 8) if (par)
    for (int row = 0; row < rows; row++) {
        const int t = row % T, h = row / T % NH, b = row / (T * NH);
        const int vis = mask_visible(t, block, T);
        const size_t moff = (size_t)row * T;
        const float *a = att + moff, *go = dout + ((size_t)b * T + t) * C + (size_t)h * hs;
        const float *base = qkv + (size_t)b * T * C3 + (size_t)h * hs;
        float *da = datt + moff, *dp = dpreatt + moff;
        double sum = 0.0;
        for (int s = 0; s < vis; s++) {
            da[s] = dotf(go, base + 2 * (size_t)C + (size_t)s * C3, hs);
            sum += (double)a[s] * da[s];
        }
        const float m = (float)sum;
        for (int s = 0; s < vis; s++) dp[s] = a[s] * (da[s] - m);
        for (int s = vis; s < T; s++) da[s] = dp[s] = 0.0f;
        float *dq = dqkv + (size_t)b * T * C3 + (size_t)t * C3 + (size_t)h * hs;
        for (int s = 0; s < vis; s++) {
            const float g = scale * dp[s], *ks = base + C + (size_t)s * C3;
            for (int i = 0; i < hs; i++) dq[i] += g * ks[i];
        }
    }
    /* Pass 2, per key row s: the queries t that see s are those from the
     * start of s's block on; dk_s += scale sum_t dpreatt[t][s] q_t and
     * dv_s += sum_t att[t][s] dout_t, t in order. */
#pragma omp parallel for schedule(dynamic, 8) if (par)
    for (int row = 0; row < rows; row++) {
        const int s = row % T, h = row / T % NH, b = row / (T * NH);
        const int t_lo = s / block * block;
        const size_t moff = (size_t)(row - s) * T; /* row (b, h, 0) of the maps */
        const float *base = qkv + (size_t)b * T * C3 + (size_t)h * hs;
        float *dk = dqkv + (size_t)b * T * C3 + (size_t)s * C3 + C + (size_t)h * hs, *dv = dk + C;
        for (int t = t_lo; t < T; t++) {
            const float g = scale * dpreatt[moff + (size_t)t * T + s], a = att[moff + (size_t)t * T + s];
            const float *qt = base + (size_t)t * C3, *go = dout + ((size_t)b * T + t) * C + (size_t)h * hs;
            for (int i = 0; i < hs; i++) dk[i] += g * qt[i];
            for (int i = 0; i < hs; i++) dv[i] += a * go[i];
        }
    }
}

void attention_cache_write(float *kcache, float *vcache, const float *qkv, int B, int t0, int Tn, int T_max, int C,
                           int NH) {
    const int hs = C / NH;
    for (int b = 0; b < B; b++)
        for (int j = 0; j < Tn; j++) {
            const float *row = qkv + ((size_t)b * Tn + j) * 3 * C;
            for (int h = 0; h < NH; h++) {
                const size_t off = (((size_t)b * NH + h) * T_max + t0 + j) * hs;
                memcpy(kcache + off, row + C + (size_t)h * hs, (size_t)hs * sizeof *kcache);
                memcpy(vcache + off, row + 2 * (size_t)C + (size_t)h * hs, (size_t)hs * sizeof *vcache);
            }
        }
}

void attention_forward_cached(float *out, float *att, const float *qkv, const float *kcache, const float *vcache, int B,
                              int t0, int Tn, int T_max, int C, int NH, int block) {
    const int hs = C / NH, avail = t0 + Tn;
    const float scale = (float)(1.0 / sqrt((double)hs));
    const int rows = B * NH * Tn;
#pragma omp parallel for schedule(dynamic, 1) if ((size_t)rows * avail * hs >= PAR_MIN)
    for (int row = 0; row < rows; row++) {
        const int j = row % Tn, h = row / Tn % NH, b = row / (Tn * NH);
        const size_t head = ((size_t)b * NH + h) * T_max * hs;
        const size_t tok = (size_t)b * Tn + j;
        attend_row(out + tok * C + (size_t)h * hs, NULL, att + (size_t)row * T_max, qkv + tok * 3 * C + (size_t)h * hs,
                   kcache + head, vcache + head, (size_t)hs, mask_visible(t0 + j, block, avail), avail, hs, scale);
    }
}

/* ---- cross-entropy ------------------------------------------------------------ */

float crossentropy_forward(float *losses, float *probs, const float *logits, const int *targets, int N, int V) {
#pragma omp parallel for schedule(static) if ((size_t)N * V >= PAR_MIN)
    for (int n = 0; n < N; n++) {
        const float *l = logits + (size_t)n * V;
        float *p = probs + (size_t)n * V;
        float mx = -INFINITY;
        for (int v = 0; v < V; v++)
            if (l[v] > mx) mx = l[v];
        double sum = 0.0;
        for (int v = 0; v < V; v++) {
            p[v] = expf(l[v] - mx);
            sum += p[v];
        }
        const float inv = (float)(1.0 / sum);
        for (int v = 0; v < V; v++) p[v] *= inv;
        const int t = targets[n];
        losses[n] = t < 0 ? 0.0f : (float)(log(sum) - ((double)l[t] - mx));
    }
    /* The mean: N terms, in order, in double (one thread: N is rows, not
     * values). */
    double s = 0.0;
    int counted = 0;
    for (int n = 0; n < N; n++)
        if (targets[n] >= 0) s += losses[n], counted++;
    return counted ? (float)(s / counted) : 0.0f;
}

int crossentropy_counted(const int *targets, int N) {
    int counted = 0;
    for (int n = 0; n < N; n++) counted += targets[n] >= 0;
    return counted;
}

void crossentropy_softmax_backward(float *dlogits, const float *probs, const int *targets, float dloss_scale, int N,
                                   int V) {
    if (!dlogits) return;
#pragma omp parallel for schedule(static) if ((size_t)N * V >= PAR_MIN)
    for (int n = 0; n < N; n++) {
        const int t = targets[n];
        if (t < 0) continue;
        const float *p = probs + (size_t)n * V;
        float *d = dlogits + (size_t)n * V;
        for (int v = 0; v < V; v++) d[v] += dloss_scale * (p[v] - (v == t ? 1.0f : 0.0f));
    }
}
