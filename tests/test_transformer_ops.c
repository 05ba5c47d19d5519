/* test_transformer_ops.c — the dynamics transformer's CPU layers
 * (worldmodel/transformer_ops.h) against plain double-precision references
 * written here, gradients against central differences of those references,
 * the attention mask's reach, KV-cache decoding against the full pass,
 * small cases against hand computation, and determinism across thread
 * counts.
 *
 * Gradient checks (as tests/test_ops.c): for every op and every input it
 * differentiates, the analytic gradient of a random scalar L = sum(dout ⊙
 * out) (the op's backward pass, in float) is compared with central
 * differences of L computed by the double reference; in double those are
 * good to ~1e-10 (step 1e-5), so the comparison measures the float error of
 * the op.
 *
 * Tolerances |got - want| <= abs + rel |want|. u = 2^-24 ≈ 6e-8 is float's
 * unit roundoff. Inputs are uniform in about [-1.5, 1.5]; the float results
 * are sums of m ≤ 40 terms of size ≤ ~2 (an attention output sums T ≤ 8
 * weighted values, dk sums T terms of hs-wide dot products, a norm's
 * dweight sums N = 40 rows). Random-sign rounding errors walk to about
 * sqrt(m) u |partial sums| ≲ 6 · 6e-8 · 5 = 2e-6; SUM_ABS = 1e-5 and
 * SUM_REL = 1e-5 (~170 u) leave room for that, and a bug — a dropped,
 * doubled or misplaced term, a mask off by one — moves a value by a term's
 * size, ~1e-2 to 1, a thousand times more. Elementwise results are a few
 * roundings from exact and get tighter bounds, stated where used. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/rng.h"
#include "numcheck.h"
#include "testutil.h"
#include "worldmodel/transformer_ops.h"

/* ---- helpers ---------------------------------------------------------------- */

static int *ivec(size_t n) { return CALLOC_CHECK(n ? n : 1, sizeof(int)); }

static float *ffill(size_t n, float v) {
    float *x = fvec(n);
    for (size_t i = 0; i < n; i++) x[i] = v;
    return x;
}

static float *fcopy(const float *x, size_t n) {
    float *y = fvec(n);
    memcpy(y, x, n * sizeof(float));
    return y;
}

/* want[i] = base[i] + g[i]: what a backward pass that adds should leave. */
static double *plus(const float *base, const double *g, size_t n) {
    double *w = dvec(n);
    for (size_t i = 0; i < n; i++) w[i] = (double)base[i] + g[i];
    return w;
}

/* ---- rmsnorm ---------------------------------------------------------------- */

static void rmsnorm_ref(double *out, double *rstd, const double *x, const double *w, int N, int C) {
    for (int n = 0; n < N; n++) {
        double ss = 0.0;
        for (int c = 0; c < C; c++) ss += x[n * C + c] * x[n * C + c];
        const double r = 1.0 / sqrt(ss / C + 1e-5);
        if (rstd) rstd[n] = r;
        for (int c = 0; c < C; c++) out[n * C + c] = x[n * C + c] * r * w[c];
    }
}

typedef struct {
    int N, C;
    double *x, *w, *dout, *out;
} rms_ctx;

static double rms_objective(const void *p) {
    const rms_ctx *c = p;
    rmsnorm_ref(c->out, NULL, c->x, c->w, c->N, c->C);
    return dot(c->dout, c->out, (size_t)c->N * c->C);
}

/* Forward: out = (x r) w, two roundings on top of r's one (r is rounded
 * once from double): 4 u relative; rstd itself 2 u. Gradients: dinp sums C
 * terms per row, dweight N: SUM_ABS / SUM_REL, added onto random contents. */
static void check_rmsnorm(int N, int C, double offset, uint64_t seed) {
    wm_rng r;
    rng_init(&r, seed);
    const size_t n = (size_t)N * C;
    float *x = frand(&r, n, offset - 1, offset + 1), *w = frand(&r, C, 0.5, 1.5), *dout = frand(&r, n, -1, 1);
    float *out = fvec(n), *rstd = fvec(N);
    rms_ctx c = {N, C, to_double(x, n), to_double(w, C), to_double(dout, n), dvec(n)};
    char what[96], name[128];
    snprintf(what, sizeof what, "rmsnorm N%d C%d offset %g", N, C, offset);
    rmsnorm_forward(out, rstd, x, w, N, C);
    double *rs = dvec(N);
    rmsnorm_ref(c.out, rs, c.x, c.w, N, C);
    snprintf(name, sizeof name, "%s: forward", what);
    expect_close(name, out, c.out, n, 0, 4 * U);
    snprintf(name, sizeof name, "%s: rstd", what);
    expect_close(name, rstd, rs, N, 0, 2 * U);

    float *dx = frand(&r, n, -1, 1), *dw = frand(&r, C, -1, 1), *dx0 = fcopy(dx, n), *dw0 = fcopy(dw, C);
    rmsnorm_backward(dx, dw, dout, x, rstd, w, N, C);
    double *gx = dvec(n), *gw = dvec(C);
    fd_gradient(gx, c.x, n, rms_objective, &c, FD_STEP);
    fd_gradient(gw, c.w, C, rms_objective, &c, FD_STEP);
    double *wx = plus(dx0, gx, n), *ww = plus(dw0, gw, C);
    snprintf(name, sizeof name, "%s: dinp", what);
    expect_close(name, dx, wx, n, SUM_ABS, SUM_REL);
    snprintf(name, sizeof name, "%s: dweight", what);
    expect_close(name, dw, ww, C, SUM_ABS, SUM_REL);
    /* NULL gradients are skipped and the other one is the same. */
    float *only = fcopy(dx0, n);
    rmsnorm_backward(only, NULL, dout, x, rstd, w, N, C);
    ck_assert(memcmp(only, dx, n * sizeof(float)) == 0);
    memcpy(only, dw0, C * sizeof(float));
    rmsnorm_backward(NULL, only, dout, x, rstd, w, N, C);
    ck_assert(memcmp(only, dw, C * sizeof(float)) == 0);
    free(x), free(w), free(dout), free(out), free(rstd), free(c.x), free(c.w), free(c.dout), free(c.out), free(rs);
    free(dx), free(dw), free(dx0), free(dw0), free(gx), free(gw), free(wx), free(ww), free(only);
}

START_TEST(rmsnorm_gradients) {
    check_rmsnorm(6, 16, 0.0, 11);  /* one column tile */
    check_rmsnorm(5, 37, 0.0, 12);  /* three tiles, the last partial */
    check_rmsnorm(40, 20, 3.0, 13); /* rows far from 0, many rows into dweight */
    check_rmsnorm(3, 1, 0.0, 14);   /* one channel: out = ±w (up to eps) */
}
END_TEST

/* (3, 4): mean square 12.5; a zero row: rstd = 1 / sqrt(eps), out 0. */
START_TEST(rmsnorm_hand_case) {
    const float x[4] = {3, 4, 0, 0}, w[2] = {2, -1};
    float out[4], rstd[2];
    rmsnorm_forward(out, rstd, x, w, 2, 2);
    const double r0 = 1.0 / sqrt(12.5 + 1e-5), r1 = 1.0 / sqrt(1e-5);
    const double want_r[2] = {r0, r1}, want[4] = {6 * r0, -4 * r0, 0, 0};
    expect_close("rmsnorm hand rstd", rstd, want_r, 2, 0, U);
    expect_close("rmsnorm hand out", out, want, 4, 0, 3 * U);
    /* dout = 1: dweight sums xhat per channel; the zero row adds nothing. */
    const float dout[4] = {1, 1, 1, 1};
    float dx[4] = {0}, dw[2] = {0};
    rmsnorm_backward(dx, dw, dout, x, rstd, w, 2, 2);
    const double want_dw[2] = {3 * r0, 4 * r0};
    expect_close("rmsnorm hand dweight", dw, want_dw, 2, 0, 3 * U);
    /* dx = r (dy - xhat mean(dy xhat)), dy = (2, -1), xhat = (3, 4) r0. */
    const double m = (2 * 3 * r0 - 4 * r0) / 2;
    const double want_dx[4] = {r0 * (2 - 3 * r0 * m), r0 * (-1 - 4 * r0 * m), r1 * 2, r1 * -1};
    expect_close("rmsnorm hand dinp", dx, want_dx, 4, 0, 8 * U);
}
END_TEST

/* ---- gelu ------------------------------------------------------------------- */

static double gelu_ref(double x) { return 0.5 * x * (1 + tanh(sqrt(2 / acos(-1.0)) * (x + 0.044715 * x * x * x))); }

START_TEST(gelu_values_and_gradient) {
    /* tanhf is within a few ulp of a value ≤ 1 (≤ 3e-7 absolute), then
     * multiplied by 0.5 |x| ≤ 3; on the negative side 1 + tanh cancels, so
     * the bound is absolute: 1e-6 plus 4 u relative. */
    const float x[7] = {0, 1, -1, 0.5f, -3, 3, 6};
    float out[7];
    gelu_forward(out, x, 7);
    double want[7];
    for (int i = 0; i < 7; i++) want[i] = gelu_ref(x[i]);
    expect_close("gelu hand values", out, want, 7, 1e-6, 4 * U);
    ck_assert(out[0] == 0.0f);
    ck_assert_double_eq_tol(want[1], 0.8411919906, 1e-9); /* GPT-2's gelu(1) */

    wm_rng r;
    rng_init(&r, 21);
    const size_t n = 300;
    float *xs = frand(&r, n, -6, 6), *g = frand(&r, n, -1, 1), *d = frand(&r, n, -1, 1), *o = fvec(n);
    double *want_o = dvec(n), *want_d = dvec(n);
    for (size_t i = 0; i < n; i++) {
        want_o[i] = gelu_ref(xs[i]);
        const double h = FD_STEP, a = xs[i] + h, b = xs[i] - h;
        want_d[i] = d[i] + g[i] * (gelu_ref(a) - gelu_ref(b)) / (a - b);
    }
    gelu_forward(o, xs, n);
    expect_close("gelu values", o, want_o, n, 2e-6, 4 * U);
    gelu_backward(d, g, xs, n);
    /* The derivative (≤ 1.13) from tanhf: its 1 - th² cancels near
     * saturation, an absolute error of a few ulp of 1 times 0.5 |x| k (1 +
     * 3 a x²) ≤ 2; then times dout and added: 1e-6 absolute. */
    expect_close("gelu gradient vs differences", d, want_d, n, 1e-6, 1e-6);
    free(xs), free(g), free(d), free(o), free(want_o), free(want_d);
}
END_TEST

/* ---- embedding --------------------------------------------------------------- */

typedef struct {
    int N, C;
    const int *ids;
    double *table, *dout;
} emb_ctx;

static double emb_objective(const void *p) {
    const emb_ctx *c = p;
    double L = 0.0;
    for (int n = 0; n < c->N; n++)
        for (int k = 0; k < c->C; k++) L += c->dout[n * c->C + k] * c->table[c->ids[n] * c->C + k];
    return L;
}

static void check_embedding(int N, int C, int V, uint64_t seed) {
    wm_rng r;
    rng_init(&r, seed);
    const size_t nt = (size_t)V * C, no = (size_t)N * C;
    int *ids = ivec(N);
    /* Every third id is 3 (repeated), the others random; the last row of
     * the table is never used. */
    for (int n = 0; n < N; n++) ids[n] = n % 3 == 0 ? 3 : (int)(rng_u64(&r) % (uint64_t)(V - 1));
    float *table = frand(&r, nt, -1, 1), *dout = frand(&r, no, -1, 1), *out = fvec(no);
    embedding_forward(out, ids, table, N, C);
    for (int n = 0; n < N; n++) ck_assert(memcmp(out + (size_t)n * C, table + (size_t)ids[n] * C, C * 4) == 0);

    float *dt = frand(&r, nt, -1, 1), *dt0 = fcopy(dt, nt);
    embedding_backward(dt, dout, ids, N, C);
    emb_ctx c = {N, C, ids, to_double(table, nt), to_double(dout, no)};
    double *g = dvec(nt);
    fd_gradient(g, c.table, nt, emb_objective, &c, FD_STEP);
    double *want = plus(dt0, g, nt);
    /* Row 3 sums N / 3 + its start, ≤ 6 values of size ≤ 1: a few u times
     * ≤ 6 per addition: 2e-6. */
    char name[64];
    snprintf(name, sizeof name, "embedding N%d C%d V%d: dtable", N, C, V);
    expect_close(name, dt, want, nt, 2e-6, 0);
    /* The unused row is untouched; the repeated row is exactly its start
     * plus its rows added in the order of n. */
    ck_assert(memcmp(dt + (size_t)(V - 1) * C, dt0 + (size_t)(V - 1) * C, C * 4) == 0);
    for (int k = 0; k < C; k++) {
        float s = dt0[3 * C + k];
        for (int n = 0; n < N; n++)
            if (ids[n] == 3) s += dout[(size_t)n * C + k];
        ck_assert_msg(dt[3 * C + k] == s, "row 3 column %d: %.9g, want %.9g in the order of n", k, dt[3 * C + k], s);
    }
    free(ids), free(table), free(dout), free(out), free(dt), free(dt0), free(c.table), free(c.dout), free(g);
    free(want);
}

START_TEST(embedding_rows_and_repeated_ids) {
    check_embedding(16, 16, 11, 31); /* B 2 x T 8, one column tile */
    check_embedding(12, 37, 11, 32); /* partial tile */
}
END_TEST

/* ---- attention ---------------------------------------------------------------- */

typedef struct {
    int B, T, C, NH, block;
} att_shape;

static size_t att_nqkv(const att_shape *s) { return (size_t)s->B * s->T * 3 * s->C; }
static size_t att_nout(const att_shape *s) { return (size_t)s->B * s->T * s->C; }
static size_t att_nmap(const att_shape *s) { return (size_t)s->B * s->NH * s->T * s->T; }
static int sees(int t, int s, int block) { return s / block <= t / block; }

/* The textbook attention in double: scores over the visible positions,
 * softmax, weighted values. att (may be NULL) gets the weights, 0 where
 * masked. */
static void attention_ref(double *out, double *att, const double *qkv, const att_shape *sh) {
    const int T = sh->T, C = sh->C, NH = sh->NH, hs = C / NH;
    double *w = dvec(T);
    for (int b = 0; b < sh->B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const double *q = qkv + ((size_t)b * T + t) * 3 * C + h * hs;
                double mx = -INFINITY, sum = 0.0;
                for (int s = 0; s < T; s++) {
                    if (!sees(t, s, sh->block)) continue;
                    const double *k = qkv + ((size_t)b * T + s) * 3 * C + C + h * hs;
                    double d = 0.0;
                    for (int i = 0; i < hs; i++) d += q[i] * k[i];
                    w[s] = d / sqrt((double)hs);
                    mx = fmax(mx, w[s]);
                }
                for (int s = 0; s < T; s++) {
                    w[s] = sees(t, s, sh->block) ? exp(w[s] - mx) : 0.0;
                    sum += w[s];
                }
                double *o = out + ((size_t)b * T + t) * C + h * hs;
                for (int i = 0; i < hs; i++) o[i] = 0.0;
                for (int s = 0; s < T; s++) {
                    w[s] /= sum;
                    if (att) att[(((size_t)b * NH + h) * T + t) * T + s] = w[s];
                    const double *v = qkv + ((size_t)b * T + s) * 3 * C + 2 * C + h * hs;
                    for (int i = 0; i < hs; i++) o[i] += w[s] * v[i];
                }
            }
    free(w);
}

typedef struct {
    att_shape s;
    double *qkv, *dout, *out;
} att_ctx;

static double att_objective(const void *p) {
    const att_ctx *c = p;
    attention_ref(c->out, NULL, c->qkv, &c->s);
    return dot(c->dout, c->out, att_nout(&c->s));
}

static const att_shape att_shapes[] = {
    {2, 6, 16, 2, 1}, /* ordinary causal attention */
    {2, 8, 16, 4, 3}, /* frames of 3, the last one partial (8 = 3 + 3 + 2) */
    {1, 7, 12, 3, 3}, /* head size 4, partial last block */
    {2, 6, 16, 2, 6}, /* block = T: every position sees every other */
    {1, 5, 8, 1, 9},  /* block > T: the same, one head */
    {1, 5, 20, 2, 2}, /* head size 10: the dot product's tail after its lanes */
    {1, 1, 8, 2, 1},  /* one position: att is 1 */
};

static void check_attention(const att_shape *s, uint64_t seed) {
    wm_rng r;
    rng_init(&r, seed);
    const size_t nq = att_nqkv(s), no = att_nout(s), nm = att_nmap(s);
    const int T = s->T;
    float *qkv = frand(&r, nq, -1.5, 1.5), *dout = frand(&r, no, -1, 1);
    float *out = fvec(no), *pre = ffill(nm, NAN), *att = ffill(nm, NAN);
    att_ctx c = {*s, to_double(qkv, nq), to_double(dout, no), dvec(no)};
    char what[96], name[128];
    snprintf(what, sizeof what, "attention B%d T%d C%d NH%d block %d", s->B, T, s->C, s->NH, s->block);

    attention_forward(out, pre, att, qkv, s->B, T, s->C, s->NH, s->block);
    double *want_att = dvec(nm);
    attention_ref(c.out, want_att, c.qkv, s);
    snprintf(name, sizeof name, "%s: forward", what);
    expect_close(name, out, c.out, no, SUM_ABS, SUM_REL);
    /* The weights: an exp, a sum and a division, a few u; scores are dot
     * products of hs terms. */
    snprintf(name, sizeof name, "%s: att", what);
    expect_close(name, att, want_att, nm, 1e-6, 1e-5);
    const float scale = 1.0f / sqrtf((float)(s->C / s->NH));
    for (size_t row = 0; row < nm / T; row++) {
        const int t = (int)(row % T);
        double sum = 0.0;
        for (int j = 0; j < T; j++) {
            const size_t i = row * T + j;
            if (!sees(t, j, s->block))
                ck_assert_msg(att[i] == 0.0f && pre[i] == 0.0f, "%s: masked (%d, %d) is %g / %g", what, t, j, att[i],
                              pre[i]);
            else
                ck_assert_msg(att[i] > 0.0f, "%s: visible (%d, %d) has weight %g", what, t, j, att[i]);
            sum += att[i];
        }
        ck_assert_msg(fabs(sum - 1.0) <= T * 4 * U, "%s: row %zu sums to %.9g", what, row, sum);
    }
    /* preatt: the scaled scores, against the reference dot products. */
    double *want_pre = dvec(nm);
    const int hs = s->C / s->NH;
    for (size_t row = 0; row < nm / T; row++) {
        const int t = (int)(row % T), h = (int)(row / T % s->NH), b = (int)(row / T / s->NH);
        for (int j = 0; j < T && sees(t, j, s->block); j++) {
            double d = 0.0;
            for (int i = 0; i < hs; i++)
                d += c.qkv[((size_t)b * T + t) * 3 * s->C + h * hs + i] *
                     c.qkv[((size_t)b * T + j) * 3 * s->C + s->C + h * hs + i];
            want_pre[row * T + j] = d * scale;
        }
    }
    snprintf(name, sizeof name, "%s: preatt", what);
    expect_close(name, pre, want_pre, nm, 1e-6, 1e-6);
    /* Without preatt: the same bits. */
    float *out2 = fvec(no), *att2 = fvec(nm);
    attention_forward(out2, NULL, att2, qkv, s->B, T, s->C, s->NH, s->block);
    ck_assert(memcmp(out2, out, no * 4) == 0 && memcmp(att2, att, nm * 4) == 0);

    /* Backward onto random dqkv; datt and dpreatt hold NaN, which must be
     * overwritten, never read. */
    float *dqkv = frand(&r, nq, -1, 1), *dqkv0 = fcopy(dqkv, nq), *datt = ffill(nm, NAN), *dpre = ffill(nm, NAN);
    attention_backward(dqkv, dpre, datt, dout, qkv, att, s->B, T, s->C, s->NH, s->block);
    double *g = dvec(nq);
    fd_gradient(g, c.qkv, nq, att_objective, &c, FD_STEP);
    double *want = plus(dqkv0, g, nq);
    snprintf(name, sizeof name, "%s: dqkv", what);
    expect_close(name, dqkv, want, nq, SUM_ABS, SUM_REL);
    /* datt = dout_t · v_s where visible, 0 where masked; dpreatt 0 there too. */
    double *want_datt = dvec(nm);
    for (size_t row = 0; row < nm / T; row++) {
        const int t = (int)(row % T), h = (int)(row / T % s->NH), b = (int)(row / T / s->NH);
        for (int j = 0; j < T; j++) {
            if (!sees(t, j, s->block)) {
                ck_assert(datt[row * T + j] == 0.0f && dpre[row * T + j] == 0.0f);
                continue;
            }
            double d = 0.0;
            for (int i = 0; i < hs; i++)
                d += c.dout[((size_t)b * T + t) * s->C + h * hs + i] *
                     c.qkv[((size_t)b * T + j) * 3 * s->C + 2 * s->C + h * hs + i];
            want_datt[row * T + j] = d;
        }
    }
    snprintf(name, sizeof name, "%s: datt", what);
    expect_close(name, datt, want_datt, nm, 1e-6, 1e-6);
    /* A second call adds the same again (datt, dpreatt rewritten, not summed). */
    attention_backward(dqkv, dpre, datt, dout, qkv, att, s->B, T, s->C, s->NH, s->block);
    for (size_t i = 0; i < nq; i++) want[i] = (double)dqkv0[i] + 2 * g[i];
    snprintf(name, sizeof name, "%s: dqkv after two calls", what);
    expect_close(name, dqkv, want, nq, SUM_ABS, SUM_REL);
    snprintf(name, sizeof name, "%s: datt after two calls", what);
    expect_close(name, datt, want_datt, nm, 1e-6, 1e-6);
    free(qkv), free(dout), free(out), free(pre), free(att), free(c.qkv), free(c.dout), free(c.out), free(want_att);
    free(want_pre), free(out2), free(att2), free(dqkv), free(dqkv0), free(datt), free(dpre), free(g), free(want);
    free(want_datt);
}

START_TEST(attention_matches_reference_and_gradients) {
    for (size_t i = 0; i < sizeof att_shapes / sizeof att_shapes[0]; i++) check_attention(&att_shapes[i], 40 + i);
}
END_TEST

/* One position at T = 1 sees only itself: out is its v exactly. */
START_TEST(attention_single_position_is_v) {
    wm_rng r;
    rng_init(&r, 49);
    const int C = 8;
    float *qkv = frand(&r, 3 * C, -1, 1), out[8], att[2], pre[2];
    attention_forward(out, pre, att, qkv, 1, 1, C, 2, 1);
    ck_assert(att[0] == 1.0f && att[1] == 1.0f);
    ck_assert(memcmp(out, qkv + 2 * C, sizeof out) == 0);
    free(qkv);
}
END_TEST

/* Changing position p's k and v (in sequence 0 only): outputs that may see
 * p change, the others keep their bits. */
static void check_mask_reach(int block, int p, uint64_t seed) {
    const int B = 2, T = 8, C = 16, NH = 2;
    wm_rng r;
    rng_init(&r, seed);
    const size_t nq = (size_t)B * T * 3 * C, no = (size_t)B * T * C, nm = (size_t)B * NH * T * T;
    float *qkv = frand(&r, nq, -1.5, 1.5), *out = fvec(no), *out2 = fvec(no), *att = fvec(nm);
    attention_forward(out, NULL, att, qkv, B, T, C, NH, block);
    for (int i = C; i < 3 * C; i++) qkv[(size_t)p * 3 * C + i] += 0.5f;
    attention_forward(out2, NULL, att, qkv, B, T, C, NH, block);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const int same = !memcmp(out + ((size_t)b * T + t) * C, out2 + ((size_t)b * T + t) * C, C * 4);
            const int reach = b == 0 && sees(t, p, block);
            ck_assert_msg(same != reach, "block %d, k/v of position %d changed: output (%d, %d) %s", block, p, b, t,
                          same ? "did not change" : "changed");
        }
    free(qkv), free(out), free(out2), free(att);
}

START_TEST(attention_mask_reach) {
    check_mask_reach(1, 5, 51); /* causal: t >= 5 change, t < 5 do not */
    check_mask_reach(1, 0, 52); /* the first position reaches everything */
    check_mask_reach(3, 4, 53); /* block 3..5: position 3 (earlier, same block) changes; 0..2 do not */
    check_mask_reach(3, 6, 54); /* the partial last block 6..7 */
    check_mask_reach(8, 7, 55); /* one block: the last position reaches the first */
}
END_TEST

/* Decoding with a KV cache against the full pass over the whole sequence
 * (with mask block full_block): step by step (Tn = 1, block 1), and block by
 * block (Tn = block = 3, the last block partial). The cache has room for more positions than used and
 * starts as NaN, so a read of an unwritten slot would show; att slots past
 * the cache's written positions keep a sentinel.
 *
 * Tolerance: the two paths compute each output as the same sums; if their
 * orders ever differ (a faster full pass), outputs of size ~0.5 summed from
 * T ≤ 8 terms differ by a few u: 1e-6 relative + 1e-7 absolute. Today they
 * run the same code (transformer_ops.h promises it) and agree bit for bit,
 * which is checked too. */
static void check_cache(int block, int step, int full_block, uint64_t seed) {
    const int B = 2, T = 8, C = 16, NH = 4, hs = C / NH, T_max = 11;
    wm_rng r;
    rng_init(&r, seed);
    const size_t nq = (size_t)B * T * 3 * C, no = (size_t)B * T * C, nm = (size_t)B * NH * T * T;
    const size_t ncache = (size_t)B * NH * T_max * hs;
    float *qkv = frand(&r, nq, -1.5, 1.5), *out = fvec(no), *att = fvec(nm);
    attention_forward(out, NULL, att, qkv, B, T, C, NH, full_block);
    float *kc = ffill(ncache, NAN), *vc = ffill(ncache, NAN);
    float *q_new = fvec((size_t)B * step * 3 * C), *o_new = fvec((size_t)B * step * C);
    float *a_new = fvec((size_t)B * NH * step * T_max);
    for (int t0 = 0; t0 < T; t0 += step) {
        const int Tn = t0 + step <= T ? step : T - t0;
        for (int b = 0; b < B; b++) /* the new positions' qkv rows, (B, Tn, 3C) */
            memcpy(q_new + (size_t)b * Tn * 3 * C, qkv + ((size_t)b * T + t0) * 3 * C, (size_t)Tn * 3 * C * 4);
        for (size_t i = 0; i < (size_t)B * NH * step * T_max; i++) a_new[i] = 7.0f;
        attention_cache_write(kc, vc, q_new, B, t0, Tn, T_max, C, NH);
        attention_forward_cached(o_new, a_new, q_new, kc, vc, B, t0, Tn, T_max, C, NH, block);
        double want[16];
        for (int b = 0; b < B; b++)
            for (int j = 0; j < Tn; j++) {
                const float *full = out + ((size_t)b * T + t0 + j) * C, *got = o_new + ((size_t)b * Tn + j) * C;
                for (int i = 0; i < C; i++) want[i] = full[i];
                char name[96];
                snprintf(name, sizeof name, "cached attention block %d, sequence %d position %d", block, b, t0 + j);
                expect_close(name, got, want, C, 1e-7, 1e-6);
                ck_assert_msg(!memcmp(got, full, C * 4), "%s: not bit-equal to the full pass", name);
                for (int h = 0; h < NH; h++) {
                    const float *ar = a_new + (((size_t)b * NH + h) * Tn + j) * T_max;
                    const float *fr = att + (((size_t)b * NH + h) * T + t0 + j) * T;
                    ck_assert_msg(!memcmp(ar, fr, (size_t)(t0 + Tn) * 4), "%s head %d: att differs", name, h);
                    for (int k = t0 + Tn; k < T_max; k++) ck_assert(ar[k] == 7.0f);
                }
            }
    }
    /* The cache holds k and v in (B, NH, T_max, hs); slots past T were not
     * written. */
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T_max; t++)
                for (int i = 0; i < hs; i++) {
                    const size_t ci = (((size_t)b * NH + h) * T_max + t) * hs + i;
                    const size_t qi = ((size_t)b * T + t) * 3 * C + h * hs + i;
                    if (t >= T) {
                        ck_assert(isnan(kc[ci]) && isnan(vc[ci]));
                        continue;
                    }
                    ck_assert(kc[ci] == qkv[qi + C] && vc[ci] == qkv[qi + 2 * C]);
                }
    free(qkv), free(out), free(att), free(kc), free(vc), free(q_new), free(o_new), free(a_new);
}

START_TEST(attention_kv_cache_equals_full_pass) {
    check_cache(1, 1, 1, 61); /* token by token */
    check_cache(3, 3, 3, 62); /* a block (frame) at a time */
    /* Token by token under a block mask: the cache holds only the block's
     * earlier positions, so each sees what causal attention sees. */
    check_cache(3, 1, 1, 63);
}
END_TEST

/* ---- cross-entropy ------------------------------------------------------------- */

typedef struct {
    int N, V;
    const int *targets;
    double *logits;
} ce_ctx;

/* Mean loss over the counted rows, in double; losses and probs optional. */
static double ce_ref(const ce_ctx *c, double *losses, double *probs) {
    double total = 0.0;
    int counted = 0;
    for (int n = 0; n < c->N; n++) {
        const double *l = c->logits + (size_t)n * c->V;
        double mx = -INFINITY, sum = 0.0;
        for (int v = 0; v < c->V; v++) mx = fmax(mx, l[v]);
        for (int v = 0; v < c->V; v++) sum += exp(l[v] - mx);
        if (probs)
            for (int v = 0; v < c->V; v++) probs[(size_t)n * c->V + v] = exp(l[v] - mx) / sum;
        const int t = c->targets[n];
        const double loss = t < 0 ? 0.0 : log(sum) - (l[t] - mx);
        if (losses) losses[n] = loss;
        if (t >= 0) total += loss, counted++;
    }
    return counted ? total / counted : 0.0;
}

static double ce_objective(const void *p) { return ce_ref(p, NULL, NULL); }

START_TEST(crossentropy_values_and_gradient) {
    const int N = 12, V = 11; /* B 2 x T 6 */
    wm_rng r;
    rng_init(&r, 71);
    const size_t n = (size_t)N * V;
    float *logits = frand(&r, n, -3, 3), *probs = fvec(n), *losses = fvec(N);
    int targets[12];
    for (int i = 0; i < N; i++) targets[i] = (int)(rng_u64(&r) % V);
    targets[2] = targets[7] = -1; /* ignored rows */
    ck_assert_int_eq(crossentropy_counted(targets, N), 10);
    ce_ctx c = {N, V, targets, to_double(logits, n)};
    double *wl = dvec(N), *wp = dvec(n);
    const double want_mean = ce_ref(&c, wl, wp);
    const float mean = crossentropy_forward(losses, probs, logits, targets, N, V);
    /* probs: expf's argument l - max is rounded to float, off by up to
     * u |l - max| ≤ 6 u here (logits in [-3, 3]), which exp turns into that
     * relative error; then expf (≤ 1 ulp), the reciprocal rounded once, the
     * product: 12 u relative. Losses ~2: log of a double sum of float exps
     * (each within the same few u), and l - max taken in double: a few u of
     * 1 absolute. The mean: one more rounding. */
    expect_close("crossentropy probs", probs, wp, n, 0, 12 * U);
    expect_close("crossentropy losses", losses, wl, N, 4 * U, 2 * U);
    ck_assert(losses[2] == 0.0f && losses[7] == 0.0f);
    ck_assert_msg(fabs(mean - want_mean) <= 4 * U * want_mean, "mean %.9g, want %.9g", mean, want_mean);

    float *dl = frand(&r, n, -1, 1), *dl0 = fcopy(dl, n);
    crossentropy_softmax_backward(dl, probs, targets, 1.0f / crossentropy_counted(targets, N), N, V);
    double *g = dvec(n);
    fd_gradient(g, c.logits, n, ce_objective, &c, FD_STEP);
    double *want = plus(dl0, g, n);
    /* (p - onehot) / 10, a few roundings, added onto values ≤ 1: the sum's
     * rounding is ≤ u. */
    expect_close("crossentropy dlogits", dl, want, n, 2 * U, 4 * U);
    ck_assert(memcmp(dl + 2 * V, dl0 + 2 * V, V * 4) == 0 && memcmp(dl + 7 * V, dl0 + 7 * V, V * 4) == 0);
    /* NULL dlogits: nothing to do. */
    crossentropy_softmax_backward(NULL, probs, targets, 1.0f, N, V);

    /* Every row ignored: the mean is 0, the gradient nothing. */
    const int none[3] = {-1, -1, -1};
    ck_assert_int_eq(crossentropy_counted(none, 3), 0);
    ck_assert(crossentropy_forward(losses, probs, logits, none, 3, V) == 0.0f);
    free(logits), free(probs), free(losses), free(c.logits), free(wl), free(wp), free(dl), free(dl0), free(g);
    free(want);
}
END_TEST

/* Logits far apart: no overflow and no lost precision in the loss. */
START_TEST(crossentropy_hand_cases) {
    const float logits[6] = {1000, 0, -1000, 2, 2, 2};
    const int targets[2] = {1, 0};
    float probs[6], losses[2];
    const float mean = crossentropy_forward(losses, probs, logits, targets, 2, 3);
    ck_assert(probs[0] == 1.0f && probs[1] == 0.0f && probs[2] == 0.0f);
    ck_assert(losses[0] == 1000.0f); /* -log p = 1000 though p underflows */
    ck_assert_float_eq_tol(losses[1], (float)log(3.0), 2 * U);
    ck_assert_float_eq_tol(probs[4], 1.0f / 3, 2 * U);
    ck_assert_float_eq_tol(mean, (1000 + log(3.0)) / 2, 2 * U * 500);
    float dl[6] = {0};
    crossentropy_softmax_backward(dl, probs, targets, 0.5f, 2, 3);
    const double want[6] = {0.5, -0.5, 0, (1.0 / 3 - 1) / 2, 1.0 / 6, 1.0 / 6};
    expect_close("crossentropy hand dlogits", dl, want, 6, 0, 4 * U);
}
END_TEST

/* ---- determinism -------------------------------------------------------------- */

/* Every op on shapes large enough to run in parallel (each past the ops'
 * 32768 threshold), once per OpenMP thread count; all outputs are
 * concatenated and compared byte for byte. */
static float *run_all_ops(int threads, size_t *len) {
    omp_set_num_threads(threads);
    wm_rng r;
    rng_init(&r, 4321);
    const int N = 515, C = 128, V = 257, Ve = 50;
    const size_t nx = (size_t)N * C, big = 100003;
    /* attention: rows B NH T x T x hs = 2 4 64 x 64 x 16 = 524288 */
    const int B = 2, T = 64, Ca = 64, NH = 4, hs = Ca / NH;
    const size_t nq = (size_t)B * T * 3 * Ca, no = (size_t)B * T * Ca, nm = (size_t)B * NH * T * T;
    /* cached: B NH Tn x (t0 + Tn) x hs = 4 4 5 x 50 x 16 = 64000 */
    const int Bc = 4, t0 = 45, Tn = 5, T_max = 64, blk = 5;
    const size_t cap = 3 * nx + N + C + 2 * big + (size_t)Ve * C + 2 * (no + nq + 4 * nm) + (size_t)Bc * Tn * Ca +
                       (size_t)Bc * NH * Tn * T_max + N + 2 * (size_t)N * V + 1;
    float *res = fvec(cap), *o = res; /* zeroed: the backward passes add into it */

    float *x = frand(&r, nx, -1, 2), *w = frand(&r, C, 0.5, 1.5), *d = frand(&r, nx, -1, 1);
    float *rstd = o + nx;
    rmsnorm_forward(o, rstd, x, w, N, C), o += nx + N;
    rmsnorm_backward(o, o + nx, d, x, rstd, w, N, C), o += nx + C;
    float *gx = frand(&r, big, -5, 5), *gd = frand(&r, big, -1, 1);
    gelu_forward(o, gx, big), o += big;
    gelu_backward(o, gd, gx, big), o += big;
    int *ids = ivec(N);
    for (int i = 0; i < N; i++) ids[i] = (int)(rng_u64(&r) % Ve);
    float *table = frand(&r, (size_t)Ve * C, -1, 1);
    embedding_forward(o, ids, table, N, C), o += nx;
    embedding_backward(o, d, ids, N, C), o += (size_t)Ve * C;

    float *qkv = frand(&r, nq, -1.5, 1.5), *dout = frand(&r, no, -1, 1);
    for (int k = 0; k < 2; k++) {
        const int block = k ? 5 : 1;
        float *att = o + no + nm;
        attention_forward(o, o + no, att, qkv, B, T, Ca, NH, block), o += no + 2 * nm;
        attention_backward(o, o + nq, o + nq + nm, dout, qkv, att, B, T, Ca, NH, block), o += nq + 2 * nm;
    }
    float *kc = frand(&r, (size_t)Bc * NH * T_max * hs, -1, 1), *vc = frand(&r, (size_t)Bc * NH * T_max * hs, -1, 1);
    float *qn = frand(&r, (size_t)Bc * Tn * 3 * Ca, -1, 1);
    attention_cache_write(kc, vc, qn, Bc, t0, Tn, T_max, Ca, NH);
    attention_forward_cached(o, o + (size_t)Bc * Tn * Ca, qn, kc, vc, Bc, t0, Tn, T_max, Ca, NH, blk);
    o += (size_t)Bc * Tn * Ca + (size_t)Bc * NH * Tn * T_max;

    float *logits = frand(&r, (size_t)N * V, -4, 4);
    int *targets = ivec(N);
    for (int i = 0; i < N; i++) targets[i] = i % 7 == 3 ? -1 : (int)(rng_u64(&r) % V);
    float *probs = o + N;
    o[N + (size_t)N * V] = crossentropy_forward(o, probs, logits, targets, N, V), o += N + (size_t)N * V + 1;
    crossentropy_softmax_backward(o, probs, targets, 1.0f / crossentropy_counted(targets, N), N, V);
    o += (size_t)N * V;
    ck_assert_uint_le((size_t)(o - res), cap);
    free(x), free(w), free(d), free(gx), free(gd), free(ids), free(table), free(qkv), free(dout), free(kc), free(vc);
    free(qn), free(logits), free(targets);
    *len = (size_t)(o - res);
    return res;
}

START_TEST(same_bits_on_any_thread_count) {
    size_t n1, n2, n3;
    float *r1 = run_all_ops(1, &n1), *r2 = run_all_ops(2, &n2), *r3 = run_all_ops(3, &n3);
    ck_assert_uint_eq(n1, n2);
    ck_assert_uint_eq(n1, n3);
    for (size_t i = 0; i < n1; i++)
        ck_assert_msg(!memcmp(&r1[i], &r2[i], sizeof(float)) && !memcmp(&r1[i], &r3[i], sizeof(float)),
                      "value %zu of %zu: %.9g (1 thread), %.9g (2), %.9g (3)", i, n1, r1[i], r2[i], r3[i]);
    free(r1), free(r2), free(r3);
}
END_TEST

int main(void) {
    Suite *s = suite_create("transformer_ops");
    TCase *tl = tcase_create("layers");
    tcase_add_test(tl, rmsnorm_gradients);
    tcase_add_test(tl, rmsnorm_hand_case);
    tcase_add_test(tl, gelu_values_and_gradient);
    tcase_add_test(tl, embedding_rows_and_repeated_ids);
    tcase_set_timeout(tl, 60);
    suite_add_tcase(s, tl);
    TCase *ta = tcase_create("attention");
    tcase_add_test(ta, attention_matches_reference_and_gradients);
    tcase_add_test(ta, attention_single_position_is_v);
    tcase_add_test(ta, attention_mask_reach);
    tcase_add_test(ta, attention_kv_cache_equals_full_pass);
    tcase_set_timeout(ta, 60);
    suite_add_tcase(s, ta);
    TCase *tc = tcase_create("cross-entropy");
    tcase_add_test(tc, crossentropy_values_and_gradient);
    tcase_add_test(tc, crossentropy_hand_cases);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    TCase *td = tcase_create("determinism");
    tcase_add_test(td, same_bits_on_any_thread_count);
    tcase_set_timeout(td, 60);
    suite_add_tcase(s, td);
    return run_suite(s);
}
