/* test_ops.c — the world model's CPU layers (worldmodel/ops.h) against
 * plain double-precision references written here, gradients against
 * central differences of those references, small cases against hand
 * computation, and determinism across thread counts.
 *
 * Gradient checks: for every op and every input it differentiates, the
 * analytic gradient of a random scalar L = sum(dout ⊙ out) (the op's
 * backward pass, in float) is compared with central differences of L
 * computed by the double reference. In double the differences are good to
 * about 1e-10 (steps of 1e-5: truncation h² f''' ~ 1e-10, rounding
 * 1e-16 |L| / h ~ 1e-10 for |L| ~ 10), so what the comparison measures is
 * the float error of the op itself.
 *
 * Tolerances |got - want| <= abs + rel |want|. u = 2^-24 ≈ 6e-8 is float's
 * unit roundoff. Values are uniform in [-1, 1], so the float results here
 * are sums of m terms t_j of size ≤ 1 (mean |t_j| ~ 1/4) with m ≤ 100 in
 * these shapes (a conv's dweight: B Ho Wo = 84). The worst-case rounding
 * bound m u sum |t_j| ≈ 100 · 6e-8 · 25 = 1.5e-4 needs every rounding to
 * go the same way; with random signs the errors walk, like the partial sums
 * (size ~ sqrt(m)/2 = 5), to about sqrt(m) · u · 5 = 3e-6. SUM_ABS = 1e-5
 * allows 3 times that, and SUM_REL = 1e-5 (~170 u) scales it for larger
 * values. (Measured: the worst conv, linear and groupnorm errors are under
 * 0.04 of these bounds; the tightest elementwise checks reach 0.4.) A bug —
 * a dropped, doubled or misplaced term — moves a value by a term's size,
 * ~0.01 to 1, a thousand times the tolerance or more; the checks were run
 * against ~35 deliberate bugs (wrong tap offsets, padding not zeroed,
 * gradients overwritten instead of added, a wrong groupnorm term, eps 1e-3,
 * ties to the higher code, straight-through dropped, Adam's bias correction
 * with the wrong beta, a thread-dependent sum, ...) and failed on each.
 * Elementwise ops are a few roundings from exact and get tighter bounds,
 * stated where used. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/rng.h"
#include "numcheck.h"
#include "testutil.h"
#include "worldmodel/ops.h"

/* ---- conv2d ----------------------------------------------------------------- */

typedef struct {
    int B, Ci, H, W, Co, K, stride, pad;
} conv_shape;

static int conv_ho(const conv_shape *s) { return conv2d_out_size(s->H, s->K, s->stride, s->pad); }
static int conv_wo(const conv_shape *s) { return conv2d_out_size(s->W, s->K, s->stride, s->pad); }
static size_t conv_nin(const conv_shape *s) { return (size_t)s->B * s->Ci * s->H * s->W; }
static size_t conv_nw(const conv_shape *s) { return (size_t)s->Co * s->Ci * s->K * s->K; }
static size_t conv_nout(const conv_shape *s) { return (size_t)s->B * s->Co * conv_ho(s) * conv_wo(s); }

/* The textbook direct convolution, in double: each output sums its taps,
 * skipping those that fall in the padding. */
static void conv_ref(double *out, const double *x, const double *w, const double *b, const conv_shape *s) {
    const int Ho = conv_ho(s), Wo = conv_wo(s), K = s->K;
    for (int n = 0; n < s->B; n++)
        for (int co = 0; co < s->Co; co++)
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    double acc = b ? b[co] : 0.0;
                    for (int ci = 0; ci < s->Ci; ci++)
                        for (int kh = 0; kh < K; kh++)
                            for (int kw = 0; kw < K; kw++) {
                                const int ih = oh * s->stride - s->pad + kh, iw = ow * s->stride - s->pad + kw;
                                if (ih < 0 || ih >= s->H || iw < 0 || iw >= s->W) continue;
                                acc += w[((co * s->Ci + ci) * K + kh) * K + kw] *
                                       x[(((size_t)n * s->Ci + ci) * s->H + ih) * s->W + iw];
                            }
                    out[(((size_t)n * s->Co + co) * Ho + oh) * Wo + ow] = acc;
                }
}

typedef struct {
    conv_shape s;
    double *x, *w, *b, *dout, *out;
} conv_ctx;

static double conv_objective(const void *p) {
    const conv_ctx *c = p;
    conv_ref(c->out, c->x, c->w, c->b, &c->s);
    return dot(c->dout, c->out, conv_nout(&c->s));
}

static const conv_shape conv_shapes[] = {
    {1, 1, 5, 5, 1, 3, 1, 1}, /* the basic 3x3 "same" conv */
    {2, 3, 7, 6, 4, 3, 1, 1}, /* batch, odd sizes */
    {2, 3, 7, 5, 4, 3, 2, 1}, /* stride 2 over odd sides */
    {2, 2, 8, 6, 3, 4, 2, 1}, /* the tokenizer's 4x4 stride-2 downsampling */
    {1, 3, 5, 7, 2, 3, 1, 0}, /* no padding */
    {2, 4, 5, 3, 5, 1, 1, 0}, /* 1x1: the pointwise path, im2col skipped */
    {1, 3, 6, 5, 2, 1, 2, 0}, /* 1x1 with stride 2: through im2col */
    {1, 2, 4, 5, 3, 4, 1, 0}, /* even kernel, stride 1 */
    {1, 2, 3, 4, 2, 3, 3, 2}, /* stride 3, padding 2: whole rows of taps in the padding */
    {1, 1, 2, 2, 2, 4, 1, 1}, /* kernel as large as the padded input: one output */
};

/* Forward against the direct reference, then every gradient against central
 * differences; b NULL on request. */
static void check_conv(const conv_shape *s, int with_bias, uint64_t seed) {
    wm_rng r;
    rng_init(&r, seed);
    const size_t nin = conv_nin(s), nw = conv_nw(s), nout = conv_nout(s);
    ck_assert_msg(nout > 0, "bad test shape");
    float *x = frand(&r, nin, -1, 1), *w = frand(&r, nw, -1, 1), *b = frand(&r, s->Co, -1, 1);
    float *dout = frand(&r, nout, -1, 1), *out = fvec(nout);
    float *scratch = fvec(conv2d_scratch_floats(s->Ci, s->H, s->W, s->Co, s->K, s->stride, s->pad));
    conv_ctx c = {*s, to_double(x, nin), to_double(w, nw), with_bias ? to_double(b, s->Co) : NULL,
                  to_double(dout, nout), dvec(nout)};
    char what[160];
    snprintf(what, sizeof what, "conv B%d Ci%d %dx%d Co%d K%d s%d p%d%s", s->B, s->Ci, s->H, s->W, s->Co, s->K,
             s->stride, s->pad, with_bias ? "" : " no bias");

    conv2d_forward(out, x, w, with_bias ? b : NULL, s->B, s->Ci, s->H, s->W, s->Co, s->K, s->stride, s->pad, scratch);
    conv_ref(c.out, c.x, c.w, c.b, s);
    char name[200];
    snprintf(name, sizeof name, "%s: forward", what);
    expect_close(name, out, c.out, nout, SUM_ABS, SUM_REL);

    float *dx = fvec(nin), *dw = fvec(nw), *db = fvec(s->Co);
    conv2d_backward(dx, dw, with_bias ? db : NULL, dout, x, w, s->B, s->Ci, s->H, s->W, s->Co, s->K, s->stride, s->pad,
                    scratch);
    double *gx = dvec(nin), *gw = dvec(nw), *gb = dvec(s->Co);
    fd_gradient(gx, c.x, nin, conv_objective, &c, FD_STEP);
    fd_gradient(gw, c.w, nw, conv_objective, &c, FD_STEP);
    snprintf(name, sizeof name, "%s: dinp", what);
    expect_close(name, dx, gx, nin, SUM_ABS, SUM_REL);
    snprintf(name, sizeof name, "%s: dweight", what);
    expect_close(name, dw, gw, nw, SUM_ABS, SUM_REL);
    if (with_bias) {
        fd_gradient(gb, c.b, s->Co, conv_objective, &c, FD_STEP);
        snprintf(name, sizeof name, "%s: dbias", what);
        expect_close(name, db, gb, s->Co, SUM_ABS, SUM_REL);
    }
    free(x), free(w), free(b), free(dout), free(out), free(scratch), free(dx), free(dw), free(db);
    free(c.x), free(c.w), free(c.b), free(c.dout), free(c.out), free(gx), free(gw), free(gb);
}

START_TEST(conv_out_size_and_scratch) {
    ck_assert_int_eq(conv2d_out_size(128, 4, 2, 1), 64);
    ck_assert_int_eq(conv2d_out_size(7, 3, 2, 1), 4);
    ck_assert_int_eq(conv2d_out_size(5, 3, 1, 0), 3);
    ck_assert_int_eq(conv2d_out_size(2, 4, 1, 1), 1);
    ck_assert_int_eq(conv2d_out_size(1, 4, 1, 1), 0); /* kernel larger than the padded input */
    ck_assert_int_eq(conv2d_out_size(1, 3, 2, 0), 0);
    ck_assert_uint_eq(conv2d_scratch_floats(3, 7, 5, 4, 3, 2, 1), CONV_SLICES * (3u * 9 * 4 * 3 + 4u * 3 * 9));
    ck_assert_uint_eq(conv2d_scratch_floats(64, 64, 32, 16, 3, 1, 1), CONV_SLICES * (64u * 9 * 64 * 32 + 16u * 64 * 9));
}
END_TEST

START_TEST(conv_matches_reference_and_gradients) {
    for (size_t i = 0; i < sizeof conv_shapes / sizeof conv_shapes[0]; i++) check_conv(&conv_shapes[i], 1, 100 + i);
    check_conv(&conv_shapes[2], 0, 7);
    check_conv(&conv_shapes[5], 0, 8);
}
END_TEST

/* A 3x3 kernel with a single 1 at (kh, kw) shifts the image by (kh-1, kw-1)
 * with zeroes shifted in: exact in float, so compared bit for bit. */
START_TEST(conv_single_tap_shifts_exactly) {
    const int H = 4, W = 5;
    float x[20], out[20], scratch[9 * 20];
    for (int i = 0; i < H * W; i++) x[i] = (float)(i + 1);
    for (int kh = 0; kh < 3; kh++)
        for (int kw = 0; kw < 3; kw++) {
            float w[9] = {0}, b = 0.5f;
            w[kh * 3 + kw] = 1.0f;
            conv2d_forward(out, x, w, &b, 1, 1, H, W, 1, 3, 1, 1, scratch);
            for (int h = 0; h < H; h++)
                for (int c = 0; c < W; c++) {
                    const int ih = h + kh - 1, iw = c + kw - 1;
                    const float want = 0.5f + (ih >= 0 && ih < H && iw >= 0 && iw < W ? x[ih * W + iw] : 0.0f);
                    ck_assert_msg(out[h * W + c] == want, "tap (%d,%d) at (%d,%d): %g, want %g", kh, kw, h, c,
                                  out[h * W + c], want);
                }
        }
}
END_TEST

/* Backward passes add: gradients land on top of what the buffers held, and
 * a second call adds the same again. NULL gradients are skipped without
 * changing the others. */
static void check_conv_accumulates(const conv_shape *sp, uint64_t seed) {
    const conv_shape s = *sp;
    wm_rng r;
    rng_init(&r, seed);
    const size_t nin = conv_nin(&s), nw = conv_nw(&s), nout = conv_nout(&s);
    float *x = frand(&r, nin, -1, 1), *w = frand(&r, nw, -1, 1), *dout = frand(&r, nout, -1, 1);
    float *scratch = fvec(conv2d_scratch_floats(s.Ci, s.H, s.W, s.Co, s.K, s.stride, s.pad));
    float *dx1 = fvec(nin), *dw1 = fvec(nw), *db1 = fvec(s.Co);
    conv2d_backward(dx1, dw1, db1, dout, x, w, s.B, s.Ci, s.H, s.W, s.Co, s.K, s.stride, s.pad, scratch);
    /* Onto random contents: the result is contents + gradient. */
    float *dx = frand(&r, nin, -1, 1), *dw = frand(&r, nw, -1, 1), *db = frand(&r, s.Co, -1, 1);
    double *ex = dvec(nin), *ew = dvec(nw), *eb = dvec(s.Co);
    for (size_t i = 0; i < nin; i++) ex[i] = (double)dx[i] + 2.0 * dx1[i];
    for (size_t i = 0; i < nw; i++) ew[i] = (double)dw[i] + 2.0 * dw1[i];
    for (int i = 0; i < s.Co; i++) eb[i] = (double)db[i] + 2.0 * db1[i];
    for (int k = 0; k < 2; k++)
        conv2d_backward(dx, dw, db, dout, x, w, s.B, s.Ci, s.H, s.W, s.Co, s.K, s.stride, s.pad, scratch);
    expect_close("conv dinp after two calls", dx, ex, nin, SUM_ABS, SUM_REL);
    expect_close("conv dweight after two calls", dw, ew, nw, SUM_ABS, SUM_REL);
    expect_close("conv dbias after two calls", db, eb, s.Co, SUM_ABS, SUM_REL);
    /* One gradient at a time: the same values as all three at once. */
    float *only = fvec(nin);
    conv2d_backward(only, NULL, NULL, dout, x, w, s.B, s.Ci, s.H, s.W, s.Co, s.K, s.stride, s.pad, scratch);
    ck_assert(memcmp(only, dx1, nin * sizeof(float)) == 0);
    memset(only, 0, nw * sizeof(float));
    conv2d_backward(NULL, only, NULL, dout, x, w, s.B, s.Ci, s.H, s.W, s.Co, s.K, s.stride, s.pad, scratch);
    ck_assert(memcmp(only, dw1, nw * sizeof(float)) == 0);
    memset(only, 0, s.Co * sizeof(float));
    conv2d_backward(NULL, NULL, only, dout, x, w, s.B, s.Ci, s.H, s.W, s.Co, s.K, s.stride, s.pad, scratch);
    ck_assert(memcmp(only, db1, s.Co * sizeof(float)) == 0);
    free(x), free(w), free(dout), free(scratch), free(dx1), free(dw1), free(db1), free(dx), free(dw), free(db);
    free(ex), free(ew), free(eb), free(only);
}

START_TEST(conv_backward_accumulates) {
    check_conv_accumulates(&conv_shapes[2], 11); /* through im2col and col2im */
    check_conv_accumulates(&conv_shapes[5], 12); /* pointwise: straight into dinp */
    check_conv_accumulates(&conv_shapes[3], 13); /* 4x4 stride 2 */
}
END_TEST

/* ---- upsample2x ---------------------------------------------------------------- */

START_TEST(upsample_hand_case) {
    const float x[6] = {1, 2, 3, 4, 5, 6}; /* (1, 1, 2, 3) */
    float out[24];
    upsample2x_forward(out, x, 1, 1, 2, 3);
    const float want[24] = {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 4, 4, 5, 5, 6, 6};
    ck_assert(memcmp(out, want, sizeof want) == 0);
    float dout[24], dx[6] = {100, 100, 100, 100, 100, 100};
    for (int i = 0; i < 24; i++) dout[i] = (float)i;
    upsample2x_backward(dx, dout, 1, 1, 2, 3);
    /* dx(h, w) adds the four outputs it was copied to: 0+1+6+7 = 14, ... */
    const float dwant[6] = {114, 122, 130, 162, 170, 178};
    ck_assert(memcmp(dx, dwant, sizeof dwant) == 0);
}
END_TEST

typedef struct {
    int B, C, H, W;
    double *x, *dout;
} up_ctx;

static double up_objective(const void *p) {
    const up_ctx *c = p;
    double L = 0.0;
    for (int bc = 0; bc < c->B * c->C; bc++)
        for (int h = 0; h < 2 * c->H; h++)
            for (int w = 0; w < 2 * c->W; w++)
                L += c->dout[((size_t)bc * 2 * c->H + h) * 2 * c->W + w] *
                     c->x[((size_t)bc * c->H + h / 2) * c->W + w / 2];
    return L;
}

START_TEST(upsample_gradient) {
    wm_rng r;
    rng_init(&r, 21);
    up_ctx c = {2, 3, 3, 5, NULL, NULL};
    const size_t n = (size_t)c.B * c.C * c.H * c.W;
    float *x = frand(&r, n, -1, 1), *dout = frand(&r, 4 * n, -1, 1), *dx = fvec(n);
    c.x = to_double(x, n), c.dout = to_double(dout, 4 * n);
    upsample2x_backward(dx, dout, c.B, c.C, c.H, c.W);
    double *g = dvec(n);
    fd_gradient(g, c.x, n, up_objective, &c, FD_STEP);
    /* Sums of four values: within 4 u of the value's size (≤ 4). */
    expect_close("upsample dinp", dx, g, n, 2e-6, 1e-6);
    free(x), free(dout), free(dx), free(c.x), free(c.dout), free(g);
}
END_TEST

/* ---- groupnorm ----------------------------------------------------------------- */

static void groupnorm_ref(double *out, const double *x, const double *gamma, const double *beta, int B, int C, int HW,
                          int G) {
    const int Cg = C / G;
    const size_t n = (size_t)Cg * HW;
    for (int bg = 0; bg < B * G; bg++) {
        const double *xb = x + bg * n;
        double m = 0.0, v = 0.0;
        for (size_t i = 0; i < n; i++) m += xb[i];
        m /= n;
        for (size_t i = 0; i < n; i++) v += (xb[i] - m) * (xb[i] - m);
        const double rs = 1.0 / sqrt(v / n + 1e-5);
        for (size_t i = 0; i < n; i++) {
            const int ch = bg % G * Cg + (int)(i / HW);
            out[bg * n + i] = (xb[i] - m) * rs * gamma[ch] + beta[ch];
        }
    }
}

typedef struct {
    int B, C, HW, G;
    double *x, *gamma, *beta, *dout, *out;
} gn_ctx;

static double gn_objective(const void *p) {
    const gn_ctx *c = p;
    groupnorm_ref(c->out, c->x, c->gamma, c->beta, c->B, c->C, c->HW, c->G);
    return dot(c->dout, c->out, (size_t)c->B * c->C * c->HW);
}

/* Normalised values are O(1) and formed by a few float operations on
 * float statistics (mean and rstd each within an ulp or two): 1e-5 absolute.
 * The gradients sum up to m = 60 terms of O(1) (in double) and each term is
 * a few roundings off: SUM_ABS / SUM_REL. One more error is systematic: the
 * mean is saved in float, off by up to u |mean| / 2, which shifts every xhat
 * of its group the same way by that times rstd (≤ 2 for data of spread ±1);
 * dgamma sums B HW such terms, so it gets that much more room. */
static void check_groupnorm(int B, int C, int HW, int G, double offset, uint64_t seed) {
    wm_rng r;
    rng_init(&r, seed);
    const size_t n = (size_t)B * C * HW;
    float *x = frand(&r, n, offset - 1, offset + 1), *gamma = frand(&r, C, 0.5, 1.5), *beta = frand(&r, C, -1, 1);
    float *dout = frand(&r, n, -1, 1), *out = fvec(n), *mean = fvec(B * G), *rstd = fvec(B * G);
    gn_ctx c = {B, C, HW, G, to_double(x, n), to_double(gamma, C), to_double(beta, C), to_double(dout, n), dvec(n)};
    char what[128], name[160];
    snprintf(what, sizeof what, "groupnorm B%d C%d HW%d G%d offset %g", B, C, HW, G, offset);
    groupnorm_forward(out, mean, rstd, x, gamma, beta, B, C, HW, G);
    groupnorm_ref(c.out, c.x, c.gamma, c.beta, B, C, HW, G);
    snprintf(name, sizeof name, "%s: forward", what);
    expect_close(name, out, c.out, n, 1e-5, 1e-5);
    float *dx = fvec(n), *dg = fvec(C), *dbt = fvec(C);
    groupnorm_backward(dx, dg, dbt, dout, x, mean, rstd, gamma, B, C, HW, G);
    double *gx = dvec(n), *gg = dvec(C), *gb = dvec(C);
    fd_gradient(gx, c.x, n, gn_objective, &c, FD_STEP);
    fd_gradient(gg, c.gamma, C, gn_objective, &c, FD_STEP);
    fd_gradient(gb, c.beta, C, gn_objective, &c, FD_STEP);
    snprintf(name, sizeof name, "%s: dinp", what);
    expect_close(name, dx, gx, n, SUM_ABS, SUM_REL);
    snprintf(name, sizeof name, "%s: dgamma", what);
    const double shift = 0.5 * U * (fabs(offset) + 1) * 2;
    expect_close(name, dg, gg, C, SUM_ABS + B * HW * shift, SUM_REL);
    snprintf(name, sizeof name, "%s: dbeta", what);
    expect_close(name, dbt, gb, C, SUM_ABS, SUM_REL);
    free(x), free(gamma), free(beta), free(dout), free(out), free(mean), free(rstd), free(dx), free(dg), free(dbt);
    free(c.x), free(c.gamma), free(c.beta), free(c.dout), free(c.out), free(gx), free(gg), free(gb);
}

START_TEST(groupnorm_gradients) {
    check_groupnorm(1, 2, 5, 1, 0.0, 31);  /* one group over everything */
    check_groupnorm(2, 6, 7, 3, 0.0, 32);  /* two channels per group, odd pixel count */
    check_groupnorm(2, 4, 6, 4, 0.0, 33);  /* one channel per group */
    check_groupnorm(3, 8, 5, 2, 20.0, 34); /* mean far from 0: the two-pass variance */
}
END_TEST

/* x = (-1, 1, 3, 5) as two channels of two pixels, one group: mean 2,
 * variance (9 + 1 + 1 + 9) / 4 = 5; then per-channel gamma and beta. */
START_TEST(groupnorm_hand_case) {
    const float x[4] = {-1, 1, 3, 5}, gamma[2] = {2, -1}, beta[2] = {0.5f, 0};
    float out[4], mean, rstd;
    groupnorm_forward(out, &mean, &rstd, x, gamma, beta, 1, 2, 2, 1);
    const double rs = 1.0 / sqrt(5.0 + 1e-5);
    ck_assert(mean == 2.0f);
    ck_assert_double_eq_tol(rstd, rs, 2 * U * rs);
    const double want[4] = {-3 * rs * 2 + 0.5, -1 * rs * 2 + 0.5, 1 * rs * -1, 3 * rs * -1};
    expect_close("groupnorm hand case", out, want, 4, 0, 4 * U);
    /* dout = 1 everywhere: dbeta counts pixels, dgamma sums xhat per channel,
     * and dinp is 0 wherever gamma is constant over the group ... which it
     * is not here: dy = gamma, so dinp = rs (gamma - mean(gamma) - xhat
     * mean(gamma xhat)). */
    const float dout[4] = {1, 1, 1, 1};
    float dx[4] = {0}, dg[2] = {0}, db[2] = {0};
    groupnorm_backward(dx, dg, db, dout, x, &mean, &rstd, gamma, 1, 2, 2, 1);
    const double xh[4] = {-3 * rs, -rs, rs, 3 * rs}, gm[4] = {2, 2, -1, -1};
    double mg = 0, mgx = 0;
    for (int i = 0; i < 4; i++) mg += gm[i] / 4, mgx += gm[i] * xh[i] / 4;
    double want_dx[4];
    for (int i = 0; i < 4; i++) want_dx[i] = rs * (gm[i] - mg - xh[i] * mgx);
    expect_close("groupnorm hand dinp", dx, want_dx, 4, 1e-6, 1e-5);
    const double want_dg[2] = {-4 * rs, 4 * rs}, want_db[2] = {2, 2};
    expect_close("groupnorm hand dgamma", dg, want_dg, 2, 0, 4 * U);
    expect_close("groupnorm hand dbeta", db, want_db, 2, 0, 0);
}
END_TEST

/* ---- silu --------------------------------------------------------------------- */

START_TEST(silu_values_and_gradient) {
    const float x[5] = {0, 1, -1, 20, -20};
    float out[5];
    silu_forward(out, x, 5);
    const double want[5] = {0, 1 / (1 + exp(-1.0)), -1 / (1 + exp(1.0)), 20 / (1 + exp(-20.0)), -20 / (1 + exp(20.0))};
    /* A division and an expf (within 2 ulp): 4 u relative. */
    expect_close("silu hand values", out, want, 5, 1e-30, 4 * U);
    const float dout[5] = {1, 1, 1, 1, 1};
    float dx[5] = {0};
    silu_backward(dx, dout, x, 5);
    const double s1 = 1 / (1 + exp(-1.0)), sm = 1 / (1 + exp(1.0));
    const double dwant[5] = {0.5, s1 * (1 + 1 * (1 - s1)), sm * (1 - 1 * (1 - sm)), 1.0, 0.0};
    /* Saturated ends: the derivative at ±20 is 1 - 2e-8 and -4e-8. */
    expect_close("silu hand gradient", dx, dwant, 5, 1e-7, 8 * U);

    wm_rng r;
    rng_init(&r, 41);
    const size_t n = 200;
    float *xs = frand(&r, n, -6, 6), *g = frand(&r, n, -1, 1), *d = frand(&r, n, -1, 1);
    double *want_d = dvec(n);
    for (size_t i = 0; i < n; i++) {
        /* central difference of silu in double, times dout, on top of d */
        const double h = FD_STEP, a = xs[i] + h, b = xs[i] - h;
        const double fd = (a / (1 + exp(-a)) - b / (1 + exp(-b))) / (a - b);
        want_d[i] = d[i] + g[i] * fd;
    }
    silu_backward(d, g, xs, n);
    /* A handful of roundings on values ≤ 2: 1e-6 absolute. */
    expect_close("silu gradient vs differences", d, want_d, n, 1e-6, 1e-6);
    free(xs), free(g), free(d), free(want_d);
}
END_TEST

/* ---- linear ------------------------------------------------------------------- */

typedef struct {
    int B, Ci, Co;
    double *x, *w, *b, *dout;
} lin_ctx;

static double lin_objective(const void *p) {
    const lin_ctx *c = p;
    double L = 0.0;
    for (int n = 0; n < c->B; n++)
        for (int o = 0; o < c->Co; o++) {
            double acc = c->b[o];
            for (int i = 0; i < c->Ci; i++) acc += c->x[n * c->Ci + i] * c->w[o * c->Ci + i];
            L += c->dout[n * c->Co + o] * acc;
        }
    return L;
}

START_TEST(linear_hand_case) {
    const float x[2] = {1, 1}, w[4] = {1, 2, 3, 4}, b[2] = {0.5f, -0.5f};
    float out[2];
    linear_forward(out, x, w, b, 1, 2, 2);
    ck_assert(out[0] == 3.5f && out[1] == 6.5f);
    linear_forward(out, x, w, NULL, 1, 2, 2);
    ck_assert(out[0] == 3.0f && out[1] == 7.0f);
    const float dout[2] = {1, -2};
    float dx[2] = {10, 10}, dw[4] = {0}, db[2] = {1, 1};
    linear_backward(dx, dw, db, dout, x, w, 1, 2, 2);
    /* dx = dout w = (1 - 6, 2 - 8); dw = dout^T x; db = dout; all added. */
    ck_assert(dx[0] == 5.0f && dx[1] == 4.0f);
    ck_assert(dw[0] == 1.0f && dw[1] == 1.0f && dw[2] == -2.0f && dw[3] == -2.0f);
    ck_assert(db[0] == 2.0f && db[1] == -1.0f);
}
END_TEST

START_TEST(linear_gradients) {
    const int shapes[][3] = {{1, 3, 2}, {5, 7, 3}, {4, 33, 17}};
    for (size_t k = 0; k < 3; k++) {
        wm_rng r;
        rng_init(&r, 50 + k);
        lin_ctx c = {shapes[k][0], shapes[k][1], shapes[k][2], NULL, NULL, NULL, NULL};
        const size_t nx = (size_t)c.B * c.Ci, nw = (size_t)c.Co * c.Ci, no = (size_t)c.B * c.Co;
        float *x = frand(&r, nx, -1, 1), *w = frand(&r, nw, -1, 1), *b = frand(&r, c.Co, -1, 1);
        float *dout = frand(&r, no, -1, 1), *out = fvec(no);
        c.x = to_double(x, nx), c.w = to_double(w, nw), c.b = to_double(b, c.Co), c.dout = to_double(dout, no);
        linear_forward(out, x, w, b, c.B, c.Ci, c.Co);
        double *want = dvec(no);
        for (int n = 0; n < c.B; n++)
            for (int o = 0; o < c.Co; o++) {
                want[n * c.Co + o] = c.b[o];
                for (int i = 0; i < c.Ci; i++) want[n * c.Co + o] += c.x[n * c.Ci + i] * c.w[o * c.Ci + i];
            }
        expect_close("linear forward", out, want, no, SUM_ABS, SUM_REL);
        float *dx = fvec(nx), *dw = fvec(nw), *db = fvec(c.Co);
        linear_backward(dx, dw, db, dout, x, w, c.B, c.Ci, c.Co);
        double *gx = dvec(nx), *gw = dvec(nw), *gb = dvec(c.Co);
        fd_gradient(gx, c.x, nx, lin_objective, &c, FD_STEP);
        fd_gradient(gw, c.w, nw, lin_objective, &c, FD_STEP);
        fd_gradient(gb, c.b, c.Co, lin_objective, &c, FD_STEP);
        expect_close("linear dinp", dx, gx, nx, SUM_ABS, SUM_REL);
        expect_close("linear dweight", dw, gw, nw, SUM_ABS, SUM_REL);
        expect_close("linear dbias", db, gb, c.Co, SUM_ABS, SUM_REL);
        free(x), free(w), free(b), free(dout), free(out), free(want), free(dx), free(dw), free(db);
        free(c.x), free(c.w), free(c.b), free(c.dout), free(gx), free(gw), free(gb);
    }
}
END_TEST

/* ---- losses ------------------------------------------------------------------- */

START_TEST(loss_hand_cases) {
    const float x[3] = {1, 2, 3}, y[3] = {1, 0, 0};
    float dx[3] = {9, 9, 9};
    /* mean of 0, 4, 9; d = 2 (x - y) / 3 */
    ck_assert_float_eq_tol(mse_loss(x, y, 3, dx), 13.0f / 3, 2 * U * 13 / 3);
    const double mwant[3] = {0, 4.0 / 3, 2};
    expect_close("mse gradient", dx, mwant, 3, 0, 2 * U);
    ck_assert_float_eq_tol(mse_loss(x, y, 3, NULL), 13.0f / 3, 2 * U * 13 / 3);
    /* mean of 0, 2, 3; the gradient of |0| is 0 */
    ck_assert_float_eq_tol(l1_loss(x, y, 3, dx), 5.0f / 3, 2 * U * 5 / 3);
    const double lwant[3] = {0, 1.0 / 3, 1.0 / 3};
    expect_close("l1 gradient", dx, lwant, 3, 0, 2 * U);
    /* e = [[0, 1], [3, 7]]: down |3| + |6|, right |1| + |4|: 14 / 4 pixels.
     * Each pixel's gradient: -sign of the differences it starts, + sign of
     * those it ends: (-1 -1, -1 +1, +1 -1, +1 +1) / 4. */
    const float gx[4] = {1, 2, 3, 8}, gy[4] = {1, 1, 0, 1};
    float gd[4];
    ck_assert(gradient_loss(gx, gy, 1, 1, 2, 2, gd) == 3.5f);
    const double gwant[4] = {-0.5, 0, 0, 0.5};
    expect_close("gradient_loss gradient", gd, gwant, 4, 0, 0);
    /* One row: only horizontal differences; flat: zero loss and gradient. */
    const float row[3] = {0, 2, 1}, zero[3] = {0, 0, 0};
    ck_assert(gradient_loss(row, zero, 1, 1, 1, 3, gd) == 1.0f);
    ck_assert(gradient_loss(zero, zero, 1, 1, 1, 3, gd) == 0.0f);
    ck_assert(gd[0] == 0 && gd[1] == 0 && gd[2] == 0);
}
END_TEST

typedef struct {
    int kind; /* 0 mse, 1 l1, 2 gradient */
    int B, C, H, W;
    double *x, *y;
} loss_ctx;

static double loss_objective(const void *p) {
    const loss_ctx *c = p;
    const size_t n = (size_t)c->B * c->C * c->H * c->W;
    double s = 0.0;
    if (c->kind == 0)
        for (size_t i = 0; i < n; i++) s += (c->x[i] - c->y[i]) * (c->x[i] - c->y[i]);
    else if (c->kind == 1)
        for (size_t i = 0; i < n; i++) s += fabs(c->x[i] - c->y[i]);
    else
        for (size_t pl = 0; pl < n / ((size_t)c->H * c->W); pl++)
            for (int h = 0; h < c->H; h++)
                for (int w = 0; w < c->W; w++) {
                    const size_t i = (pl * c->H + h) * c->W + w;
                    const double e = c->x[i] - c->y[i];
                    if (h + 1 < c->H) s += fabs(c->x[i + c->W] - c->y[i + c->W] - e);
                    if (w + 1 < c->W) s += fabs(c->x[i + 1] - c->y[i + 1] - e);
                }
    return s / n;
}

/* Smallest |difference| the L1-type losses take a kink at: central
 * differences are only valid when it is well above the step. */
static double loss_min_kink(const loss_ctx *c) {
    const size_t n = (size_t)c->B * c->C * c->H * c->W;
    double m = INFINITY;
    for (size_t i = 0; i < n; i++) {
        const double e = c->x[i] - c->y[i];
        if (c->kind == 1) m = fmin(m, fabs(e));
        if (c->kind == 2 && (i / c->W) % c->H + 1 < (size_t)c->H)
            m = fmin(m, fabs(c->x[i + c->W] - c->y[i + c->W] - e));
        if (c->kind == 2 && i % c->W + 1 < (size_t)c->W) m = fmin(m, fabs(c->x[i + 1] - c->y[i + 1] - e));
    }
    return m;
}

START_TEST(loss_gradients) {
    static const char *names[3] = {"mse", "l1", "gradient_loss"};
    for (int kind = 0; kind < 3; kind++) {
        wm_rng r;
        rng_init(&r, 60 + kind);
        loss_ctx c = {kind, 2, 3, 5, 4, NULL, NULL};
        const size_t n = (size_t)c.B * c.C * c.H * c.W;
        float *x = frand(&r, n, -1, 1), *y = frand(&r, n, -1, 1), *dx = fvec(n);
        c.x = to_double(x, n), c.y = to_double(y, n);
        ck_assert_msg(kind == 0 || loss_min_kink(&c) > 100 * FD_STEP, "%s: a difference within the step of its kink",
                      names[kind]);
        float L = kind == 0 ? mse_loss(x, y, n, dx) : kind == 1 ? l1_loss(x, y, n, dx)
                                                                : gradient_loss(x, y, c.B, c.C, c.H, c.W, dx);
        /* The value: float differences of floats, summed in double and
         * rounded once: a few u relative. */
        const double want = loss_objective(&c);
        ck_assert_msg(fabs(L - want) <= 4 * U * want, "%s: %.9g, want %.9g", names[kind], L, want);
        double *g = dvec(n);
        fd_gradient(g, c.x, n, loss_objective, &c, FD_STEP);
        /* Each gradient is a few roundings off (2 e / n, or ±k / n); the
         * differences in double are good to ~1e-10 on values ~1e-2. */
        char name[64];
        snprintf(name, sizeof name, "%s gradient", names[kind]);
        expect_close(name, dx, g, n, 1e-8, 1e-5);
        free(x), free(y), free(dx), free(c.x), free(c.y), free(g);
    }
}
END_TEST

/* ---- vector quantisation ----------------------------------------------------- */

/* Nearest code by exact squared distance in double, lower index on ties. */
static int nearest_ref(const float *z, int HW, const float *cb, int D, int N, double *best, double *second) {
    int arg = 0;
    *best = *second = INFINITY;
    for (int n = 0; n < N; n++) {
        double d = 0.0;
        for (int k = 0; k < D; k++) {
            const double e = (double)z[(size_t)k * HW] - cb[n * D + k];
            d += e * e;
        }
        if (d < *best) *second = *best, *best = d, arg = n;
        else if (d < *second) *second = d;
    }
    return arg;
}

START_TEST(vq_picks_nearest_and_lower_index_on_ties) {
    /* D = 2. Codes 1 and 3 are the same point; 2 and 4 mirror each other. */
    const float cb[5 * 2] = {5, 5, 1, 0, 0, 1, 1, 0, 0, -1};
    /* Pixels (B = 1, HW = 4), stored (D, HW): (0.9, 0.1) -> 1 (not its twin
     * 3); (0, 0) is at distance 1 from 1, 2, 3 and 4 -> 1; (-0.2, 0) is at
     * equal distance from 2 and 4 -> 2; (4, 4) -> 0. */
    const float z[2 * 4] = {0.9f, 0.0f, -0.2f, 4.0f, 0.1f, 0.0f, 0.0f, 4.0f};
    int codes[4];
    float zq[8];
    vq_forward(codes, zq, z, cb, 1, 2, 4, 5);
    ck_assert_int_eq(codes[0], 1);
    ck_assert_int_eq(codes[1], 1);
    ck_assert_int_eq(codes[2], 2);
    ck_assert_int_eq(codes[3], 0);
    for (int p = 0; p < 4; p++)
        for (int k = 0; k < 2; k++) ck_assert(zq[k * 4 + p] == cb[codes[p] * 2 + k]);
}
END_TEST

/* Random data over several tiles and a partial one: every pick is the exact
 * nearest whenever the runner-up is more than float rounding away, and
 * never more than rounding worse otherwise; zq is the code's row. */
START_TEST(vq_random_against_brute_force) {
    wm_rng r;
    rng_init(&r, 71);
    const int B = 3, D = 8, HW = 37, N = 64;
    float *z = frand(&r, (size_t)B * D * HW, -1, 1), *cb = frand(&r, (size_t)N * D, -1, 1);
    int *codes = CALLOC_CHECK((size_t)B * HW, sizeof(int));
    float *zq = fvec((size_t)B * D * HW);
    vq_forward(codes, zq, z, cb, B, D, HW, N);
    /* ||c||² - 2 z·c in float: terms ≤ 2 in magnitude, D = 8 of them, so
     * the computed distance is within ~ 2 D · 2 u = 2e-6 of the exact one
     * (minus ||z||²); 1e-5 between the picks leaves a margin. */
    const double margin = 1e-5;
    int exact = 0;
    for (int b = 0; b < B; b++)
        for (int p = 0; p < HW; p++) {
            double best, second;
            const float *zp = z + (size_t)b * D * HW + p;
            const int want = nearest_ref(zp, HW, cb, D, N, &best, &second), got = codes[b * HW + p];
            ck_assert(got >= 0 && got < N);
            double dgot = 0.0;
            for (int k = 0; k < D; k++) {
                const double e = (double)zp[(size_t)k * HW] - cb[got * D + k];
                dgot += e * e;
            }
            ck_assert_msg(dgot <= best + margin, "pixel %d,%d: code %d at %g, nearest %d at %g", b, p, got, dgot,
                          want, best);
            if (second - best > margin) {
                ck_assert_int_eq(got, want);
                exact++;
            }
            for (int k = 0; k < D; k++) ck_assert(zq[(size_t)b * D * HW + (size_t)k * HW + p] == cb[got * D + k]);
        }
    ck_assert_int_gt(exact, B * HW * 9 / 10); /* the margin clause did not excuse everything */
    free(z), free(cb), free(codes), free(zq);
}
END_TEST

/* F(z, c) = sum(dzq ⊙ z) + beta mean((z - zq0)²) + mean((z0 - c[codes])²):
 * the straight-through term, the commitment loss against the fixed zq0 and
 * the codebook loss against the fixed z0, codes held. vq_backward's
 * gradients are exactly F's. */
typedef struct {
    int B, D, HW, N;
    double beta;
    const int *codes;
    double *z, *c, *z0, *zq0, *dzq;
} vq_ctx;

static double vq_objective(const void *p) {
    const vq_ctx *v = p;
    const size_t n = (size_t)v->B * v->D * v->HW;
    double st = 0.0, commit = 0.0, book = 0.0;
    for (int b = 0; b < v->B; b++)
        for (int k = 0; k < v->D; k++)
            for (int q = 0; q < v->HW; q++) {
                const size_t i = ((size_t)b * v->D + k) * v->HW + q;
                const double ck = v->c[(size_t)v->codes[b * v->HW + q] * v->D + k];
                st += v->dzq[i] * v->z[i];
                commit += (v->z[i] - v->zq0[i]) * (v->z[i] - v->zq0[i]);
                book += (v->z0[i] - ck) * (v->z0[i] - ck);
            }
    return st + v->beta * commit / n + book / n;
}

START_TEST(vq_backward_gradients) {
    wm_rng r;
    rng_init(&r, 81);
    const int B = 2, D = 3, HW = 5, N = 6;
    const size_t n = (size_t)B * D * HW;
    const float beta = 0.25f;
    float *z = frand(&r, n, -1, 1), *cb = frand(&r, (size_t)N * D, -1, 1), *dzq = frand(&r, n, -1, 1);
    int codes[10];
    float *zq = fvec(n);
    vq_forward(codes, zq, z, cb, B, D, HW, N);
    float *dz = fvec(n), *dc = fvec((size_t)N * D);
    const float commit = vq_backward(dz, dc, dzq, z, cb, codes, B, D, HW, N, beta);
    vq_ctx v = {B, D, HW, N, beta, codes, to_double(z, n), to_double(cb, (size_t)N * D), to_double(z, n),
                to_double(zq, n), to_double(dzq, n)};
    double want_commit = 0.0;
    for (size_t i = 0; i < n; i++) want_commit += (v.z[i] - v.zq0[i]) * (v.z[i] - v.zq0[i]) / n;
    ck_assert_msg(fabs(commit - want_commit) <= 4 * U * want_commit, "commitment %.9g, want %.9g", commit,
                  want_commit);
    double *gz = dvec(n), *gc = dvec((size_t)N * D);
    fd_gradient(gz, v.z, n, vq_objective, &v, FD_STEP);
    fd_gradient(gc, v.c, (size_t)N * D, vq_objective, &v, FD_STEP);
    /* dz: dzq plus a term of ~1e-2, a few roundings; dc: sums of ≤ 30 terms
     * of ~1e-1. */
    expect_close("vq dz", dz, gz, n, 1e-6, 1e-6);
    expect_close("vq dcodebook", dc, gc, (size_t)N * D, 1e-6, 1e-5);
    /* The codebook gradient needs the codebook loss: some code was used. */
    double used = 0;
    for (size_t i = 0; i < (size_t)N * D; i++) used += fabs(gc[i]);
    ck_assert(used > 0.1);

    /* Straight through: with beta 0 and no codebook gradient, dz gains
     * exactly dzq, on top of what it held. */
    float *dz2 = frand(&r, n, -1, 1), *before = fvec(n);
    memcpy(before, dz2, n * sizeof(float));
    vq_backward(dz2, NULL, dzq, z, cb, codes, B, D, HW, N, 0.0f);
    for (size_t i = 0; i < n; i++) ck_assert(dz2[i] == before[i] + dzq[i]);
    free(z), free(cb), free(dzq), free(zq), free(dz), free(dc), free(v.z), free(v.c), free(v.z0), free(v.zq0);
    free(v.dzq), free(gz), free(gc), free(dz2), free(before);
}
END_TEST

/* ---- optimiser ----------------------------------------------------------------- */

START_TEST(adamw_one_step_by_hand) {
    /* Step 1: m = (1 - b1) g, v = (1 - b2) g², so mhat = g, vhat = g² and the
     * step is lr (g / (|g| + eps) + wd p) ≈ lr (±1 + wd p). */
    adamw_params hp = {.lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.01f};
    float p[3] = {1.0f, -2.0f, 0.5f}, g[3] = {0.5f, -0.25f, 0.0f}, m[3] = {0}, v[3] = {0};
    adamw_update(p, g, m, v, 3, &hp, 1);
    const double pw[3] = {1 - 0.1 * (0.5 / (0.5 + 1e-8) + 0.01), -2 - 0.1 * (-0.25 / (0.25 + 1e-8) - 0.02),
                          0.5 - 0.1 * 0.005};
    /* lr (±1 + 0.01): the float hyperparameters (0.1f is 1.5e-9 off 0.1)
     * and a few roundings: 8 u relative. */
    expect_close("adamw step 1 params", p, pw, 3, 0, 8 * U);
    /* The moments use the float betas, 1 - 0.9f = 0.10000002: against them. */
    const double b1 = hp.beta1, b2 = hp.beta2, lr = hp.lr, eps = hp.eps, wd = hp.weight_decay;
    const double mw[3] = {(1 - b1) * 0.5, (1 - b1) * -0.25, 0}, vw[3] = {(1 - b2) * 0.25, (1 - b2) * 0.0625, 0};
    expect_close("adamw step 1 m", m, mw, 3, 0, 2 * U);
    expect_close("adamw step 1 v", v, vw, 3, 0, 2 * U);
    /* Step 2 against the same formulas in double. */
    const float g2[3] = {-1.0f, 0.125f, 2.0f};
    double md[3], vd[3], pwant[3];
    for (int i = 0; i < 3; i++) {
        md[i] = b1 * m[i] + (1 - b1) * g2[i], vd[i] = b2 * v[i] + (1 - b2) * (double)g2[i] * g2[i];
        const double mh = md[i] / (1 - b1 * b1), vh = vd[i] / (1 - b2 * b2);
        pwant[i] = p[i] - lr * (mh / (sqrt(vh) + eps) + wd * p[i]);
    }
    adamw_update(p, g2, m, v, 3, &hp, 2);
    /* m and v: two products and a sum; the step: O(1) ± a few roundings,
     * and 1 - b2² = 0.002 loses no accuracy in double (it does lose ~9 bits
     * if formed in float: the op forms it in double). */
    expect_close("adamw step 2 params", p, pwant, 3, 0, 8 * U);
    expect_close("adamw step 2 m", m, md, 3, 0, 4 * U);
    expect_close("adamw step 2 v", v, vd, 3, 0, 4 * U);
}
END_TEST

START_TEST(grad_clip_by_hand) {
    float g[2] = {3, 4};
    ck_assert_float_eq(grad_clip_norm(g, 2, 10.0f), 5.0f);
    ck_assert(g[0] == 3 && g[1] == 4); /* under the limit: untouched */
    ck_assert_float_eq(grad_clip_norm(g, 2, 1.0f), 5.0f);
    ck_assert_float_eq_tol(g[0], 0.6f, 2 * U);
    ck_assert_float_eq_tol(g[1], 0.8f, 2 * U);
    float bad[3] = {1, NAN, 2};
    ck_assert(isnan(grad_clip_norm(bad, 3, 1.0f)));
    ck_assert(bad[0] == 1 && bad[2] == 2);
    /* Many values (the parallel, sliced sum) against a double sum. */
    wm_rng r;
    rng_init(&r, 91);
    const size_t n = 100003;
    float *x = frand(&r, n, -1, 1);
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    const double norm = sqrt(s);
    const float got = grad_clip_norm(x, n, 2.0f);
    ck_assert_msg(fabs(got - norm) <= 2 * U * norm, "norm %.9g, want %.9g", got, norm);
    double s2 = 0.0;
    for (size_t i = 0; i < n; i++) s2 += (double)x[i] * x[i];
    ck_assert_double_eq_tol(sqrt(s2), 2.0, 1e-5);
    free(x);
}
END_TEST

/* ---- determinism ------------------------------------------------------------------ */

/* Every op on shapes large enough to run in parallel, once per OpenMP
 * thread count; all outputs are concatenated and compared byte for byte.
 * The convolution's batch of 5 splits unevenly over 2 and 3 threads. */
static float *run_all_ops(int threads, size_t *len) {
    omp_set_num_threads(threads);
    wm_rng r;
    rng_init(&r, 1234);
    const conv_shape s = {5, 16, 32, 24, 16, 3, 1, 1};
    const size_t nin = conv_nin(&s), nw = conv_nw(&s), nout = conv_nout(&s);
    const int C = 16, HW = 32 * 24, G = 4, B = 4, D = 16, Nc = 128, HWq = 200, Bl = 64, Ci = 96, Co = 80;
    const size_t ngn = (size_t)B * C * HW, nq = (size_t)2 * D * HWq, big = 100003;
    const size_t cap = 2 * (nout + nin + nw) + 20 * ngn + 4 * (size_t)Bl * (Ci + Co) * 2 + (size_t)Co * Ci + 8 * big +
                       4 * nq + (size_t)Nc * D + 1000;
    float *res = fvec(cap), *o = res; /* zeroed: the backward passes add into it */
    float *x = frand(&r, nin, -1, 1), *w = frand(&r, nw, -1, 1), *b = frand(&r, s.Co, -1, 1);
    float *dout = frand(&r, nout, -1, 1);
    float *scratch = fvec(conv2d_scratch_floats(s.Ci, s.H, s.W, s.Co, s.K, s.stride, s.pad));
    conv2d_forward(o, x, w, b, s.B, s.Ci, s.H, s.W, s.Co, s.K, s.stride, s.pad, scratch), o += nout;
    conv2d_backward(o, o + nin, o + nin + nw, dout, x, w, s.B, s.Ci, s.H, s.W, s.Co, s.K, s.stride, s.pad, scratch);
    o += nin + nw + s.Co;

    float *gx = frand(&r, ngn, -3, 5), *gam = frand(&r, C, 0.5, 1.5), *bet = frand(&r, C, -1, 1);
    float *gd = frand(&r, ngn, -1, 1);
    float *mean = o + ngn, *rstd = mean + B * G;
    groupnorm_forward(o, mean, rstd, gx, gam, bet, B, C, HW, G), o += ngn + 2 * B * G;
    groupnorm_backward(o, o + ngn, o + ngn + C, gd, gx, mean, rstd, gam, B, C, HW, G), o += ngn + 2 * C;
    silu_forward(o, gx, ngn), o += ngn;
    silu_backward(o, gd, gx, ngn), o += ngn;
    upsample2x_forward(o, gx, B, C, 32, 24), o += 4 * ngn;
    float *up = frand(&r, 4 * ngn, -1, 1);
    upsample2x_backward(o, up, B, C, 32, 24), o += ngn;

    float *lx = frand(&r, (size_t)Bl * Ci, -1, 1), *lw = frand(&r, (size_t)Co * Ci, -1, 1);
    float *lb = frand(&r, Co, -1, 1), *ld = frand(&r, (size_t)Bl * Co, -1, 1);
    linear_forward(o, lx, lw, lb, Bl, Ci, Co), o += (size_t)Bl * Co;
    linear_backward(o, o + (size_t)Bl * Ci, o + (size_t)Bl * Ci + (size_t)Co * Ci, ld, lx, lw, Bl, Ci, Co);
    o += (size_t)Bl * Ci + (size_t)Co * Ci + Co;

    float *a = frand(&r, big, -1, 1), *t = frand(&r, big, -1, 1);
    *o = mse_loss(a, t, big, o + 1), o += big + 1;
    *o = l1_loss(a, t, big, o + 1), o += big + 1;
    *o = gradient_loss(gx, gd, B, C, 32, 24, o + 1), o += ngn + 1;

    float *z = frand(&r, nq, -1, 1), *cb = frand(&r, (size_t)Nc * D, -1, 1), *dzq = frand(&r, nq, -1, 1);
    int *codes = (int *)(o + nq); /* stored as bits in the result */
    vq_forward(codes, o, z, cb, 2, D, HWq, Nc), o += nq + 2 * HWq;
    *(o + nq + (size_t)Nc * D) = vq_backward(o, o + nq, dzq, z, cb, codes, 2, D, HWq, Nc, 0.25f);
    o += nq + (size_t)Nc * D + 1;

    adamw_params hp = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f, .weight_decay = 0.1f};
    memcpy(o, a, big * sizeof(float)), memcpy(o + big, t, big * sizeof(float));
    adamw_update(o, t, o + big, o + 2 * big, big, &hp, 3), o += 3 * big;
    memcpy(o, a, big * sizeof(float));
    o[big] = grad_clip_norm(o, big, 1.0f), o += big + 1;
    ck_assert_uint_le((size_t)(o - res), cap);
    free(x), free(w), free(b), free(dout), free(scratch), free(gx), free(gam), free(bet), free(gd), free(up);
    free(lx), free(lw), free(lb), free(ld), free(a), free(t), free(z), free(cb), free(dzq);
    *len = (size_t)(o - res);
    return res;
}

START_TEST(same_bits_on_any_thread_count) {
    size_t n1, n2, n3;
    float *r1 = run_all_ops(1, &n1), *r2 = run_all_ops(2, &n2), *r3 = run_all_ops(3, &n3);
    ck_assert_uint_eq(n1, n2);
    for (size_t i = 0; i < n1; i++)
        ck_assert_msg(!memcmp(&r1[i], &r2[i], sizeof(float)) && !memcmp(&r1[i], &r3[i], sizeof(float)),
                      "value %zu of %zu: %.9g (1 thread), %.9g (2), %.9g (3)", i, n1, r1[i], r2[i], r3[i]);
    free(r1), free(r2), free(r3);
}
END_TEST

int main(void) {
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("conv");
    tcase_add_test(tc, conv_out_size_and_scratch);
    tcase_add_test(tc, conv_matches_reference_and_gradients);
    tcase_add_test(tc, conv_single_tap_shifts_exactly);
    tcase_add_test(tc, conv_backward_accumulates);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    TCase *tl = tcase_create("layers");
    tcase_add_test(tl, upsample_hand_case);
    tcase_add_test(tl, upsample_gradient);
    tcase_add_test(tl, groupnorm_gradients);
    tcase_add_test(tl, groupnorm_hand_case);
    tcase_add_test(tl, silu_values_and_gradient);
    tcase_add_test(tl, linear_hand_case);
    tcase_add_test(tl, linear_gradients);
    tcase_set_timeout(tl, 60);
    suite_add_tcase(s, tl);
    TCase *tq = tcase_create("losses, vq, optimiser");
    tcase_add_test(tq, loss_hand_cases);
    tcase_add_test(tq, loss_gradients);
    tcase_add_test(tq, vq_picks_nearest_and_lower_index_on_ties);
    tcase_add_test(tq, vq_random_against_brute_force);
    tcase_add_test(tq, vq_backward_gradients);
    tcase_add_test(tq, adamw_one_step_by_hand);
    tcase_add_test(tq, grad_clip_by_hand);
    tcase_set_timeout(tq, 60);
    suite_add_tcase(s, tq);
    TCase *td = tcase_create("determinism");
    tcase_add_test(td, same_bits_on_any_thread_count);
    tcase_set_timeout(td, 60);
    suite_add_tcase(s, td);
    return run_suite(s);
}
