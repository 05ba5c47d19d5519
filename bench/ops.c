/* bench/ops — conv2d (im2col + sgemm) forward and backward in GFLOP/s at
 * tokenizer shapes, next to the baseline in the same process: the same
 * per-image matrix products as bare cblas_sgemm calls (no im2col, no bias),
 * and a large square sgemm for the machine's peak. A ratio near 1 means
 * im2col and the bias/col2im passes cost little beside the products.
 *
 * Then, for the record: whether the results are bit-identical with 1 and 2
 * OpenBLAS threads (ops.h promises independence from the OpenMP thread
 * count; OpenBLAS's own count is a separate knob).
 *
 * Usage: ops [seconds per measurement, default 0.4] */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/check.h"
#include "core/rng.h"
#include "worldmodel/ops.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static float *frand(wm_rng *r, size_t n) {
    float *x = MALLOC_CHECK(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = (float)rng_range(r, -1, 1);
    return x;
}

typedef struct {
    int B, Ci, H, W, Co, K, stride, pad;
} shape;

typedef struct {
    const shape *s;
    float *x, *w, *b, *out, *dout, *dx, *dw, *db, *scratch;
} conv_bufs;

enum { RUN_FWD, RUN_BWD, RUN_GEMM_FWD, RUN_GEMM_BWD };

static void run_once(conv_bufs *c, int what) {
    const shape *s = c->s;
    const int Ho = conv2d_out_size(s->H, s->K, s->stride, s->pad), Wo = conv2d_out_size(s->W, s->K, s->stride, s->pad);
    const int P = Ho * Wo, R = s->Ci * s->K * s->K;
    switch (what) {
    case RUN_FWD:
        conv2d_forward(c->out, c->x, c->w, c->b, s->B, s->Ci, s->H, s->W, s->Co, s->K, s->stride, s->pad, c->scratch);
        break;
    case RUN_BWD:
        conv2d_backward(c->dx, c->dw, c->db, c->dout, c->x, c->w, s->B, s->Ci, s->H, s->W, s->Co, s->K, s->stride,
                        s->pad, c->scratch);
        break;
    case RUN_GEMM_FWD: /* the forward's products alone, on a stand-in im2col matrix */
        for (int b = 0; b < s->B; b++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->Co, P, R, 1.0f, c->w, R, c->scratch, P, 0.0f,
                        c->out + (size_t)b * s->Co * P, P);
        break;
    case RUN_GEMM_BWD: /* the backward's two products per image */
        for (int b = 0; b < s->B; b++) {
            const float *g = c->dout + (size_t)b * s->Co * P;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->Co, R, P, 1.0f, g, P, c->scratch, P, 1.0f, c->dw,
                        R);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, R, P, s->Co, 1.0f, c->w, R, g, P, 0.0f, c->scratch,
                        P);
        }
        break;
    }
}

/* Repetitions per second (after one warm-up call): the best of 5 trials,
 * since this machine is shared and a trial can lose its core. */
static double rate(conv_bufs *c, int what, double seconds) {
    run_once(c, what);
    double best = 0.0;
    for (int trial = 0; trial < 5; trial++) {
        long n = 0;
        double t0 = now_s(), dt;
        do run_once(c, what), n++;
        while ((dt = now_s() - t0) < seconds / 5);
        if (n / dt > best) best = n / dt;
    }
    return best;
}

static void conv_bufs_init(conv_bufs *c, const shape *s, uint64_t seed) {
    wm_rng r;
    rng_init(&r, seed);
    const int Ho = conv2d_out_size(s->H, s->K, s->stride, s->pad), Wo = conv2d_out_size(s->W, s->K, s->stride, s->pad);
    const size_t nin = (size_t)s->B * s->Ci * s->H * s->W, nw = (size_t)s->Co * s->Ci * s->K * s->K;
    const size_t nout = (size_t)s->B * s->Co * Ho * Wo;
    c->s = s;
    c->x = frand(&r, nin), c->w = frand(&r, nw), c->b = frand(&r, s->Co), c->dout = frand(&r, nout);
    c->out = CALLOC_CHECK(nout, sizeof(float));
    c->dx = CALLOC_CHECK(nin, sizeof(float)), c->dw = CALLOC_CHECK(nw, sizeof(float));
    c->db = CALLOC_CHECK(s->Co, sizeof(float));
    c->scratch = frand(&r, conv2d_scratch_floats(s->Ci, s->H, s->W, s->K, s->stride, s->pad));
}

static void conv_bufs_free(conv_bufs *c) {
    free(c->x), free(c->w), free(c->b), free(c->dout), free(c->out), free(c->dx), free(c->dw), free(c->db);
    free(c->scratch);
}

static const shape shapes[] = {
    {16, 64, 64, 32, 64, 3, 1, 1},  /* 3x3 at 64x32 */
    {16, 64, 32, 16, 64, 3, 1, 1},  /* 3x3 at 32x16 */
    {16, 64, 64, 32, 64, 4, 2, 1},  /* 4x4 stride-2 downsampling 64x32 -> 32x16 */
    {16, 128, 16, 8, 128, 3, 1, 1}, /* 3x3 at the token grid, wider */
};

/* GFLOP/s of the products (2 Co Ho Wo Ci K² per image and pass; the
 * backward pass makes two). */
static void conv_speed(const shape *s, double seconds) {
    conv_bufs c;
    conv_bufs_init(&c, s, 3);
    const int Ho = conv2d_out_size(s->H, s->K, s->stride, s->pad), Wo = conv2d_out_size(s->W, s->K, s->stride, s->pad);
    const double flops = 2.0 * s->B * s->Co * Ho * Wo * s->Ci * s->K * s->K;
    const double fwd = rate(&c, RUN_FWD, seconds), gf = rate(&c, RUN_GEMM_FWD, seconds);
    const double bwd = rate(&c, RUN_BWD, seconds), gb = rate(&c, RUN_GEMM_BWD, seconds);
    printf("  conv B%d Ci%d %dx%d Co%d K%d s%d p%d: forward %5.1f GFLOP/s (%5.2f ms) vs its sgemm calls %5.1f "
           "(ratio %.2f); backward %5.1f GFLOP/s (%5.2f ms) vs its sgemm calls %5.1f (ratio %.2f)\n",
           s->B, s->Ci, s->H, s->W, s->Co, s->K, s->stride, s->pad, flops * fwd * 1e-9, 1e3 / fwd, flops * gf * 1e-9,
           fwd / gf, 2 * flops * bwd * 1e-9, 1e3 / bwd, 2 * flops * gb * 1e-9, bwd / gb);
    conv_bufs_free(&c);
}

/* One tokenizer block, conv 3x3 -> groupnorm -> silu, forward and backward
 * (B 16, 64 channels, 64x32, 8 groups): OpenMP regions and sgemm calls in
 * turn, as in the network. Milliseconds per forward + backward, best of 5. */
static double block_ms(double seconds) {
    static const shape s = {16, 64, 64, 32, 64, 3, 1, 1};
    const int G = 8, HW = s.H * s.W;
    const size_t n = (size_t)s.B * s.Co * HW;
    conv_bufs c;
    conv_bufs_init(&c, &s, 5);
    wm_rng r;
    rng_init(&r, 6);
    float *gamma = frand(&r, s.Co), *beta = frand(&r, s.Co), *mean = MALLOC_CHECK(s.B * G * sizeof(float));
    float *rstd = MALLOC_CHECK(s.B * G * sizeof(float)), *gn = MALLOC_CHECK(n * sizeof(float));
    float *act = MALLOC_CHECK(n * sizeof(float)), *dact = frand(&r, n), *dgn = CALLOC_CHECK(n, sizeof(float));
    float *dgamma = CALLOC_CHECK(s.Co, sizeof(float)), *dbeta = CALLOC_CHECK(s.Co, sizeof(float));
    double best = INFINITY;
    for (int trial = 0; trial < 6; trial++) { /* trial 0 warms up */
        long reps = 0;
        double t0 = now_s(), dt;
        do {
            run_once(&c, RUN_FWD);
            groupnorm_forward(gn, mean, rstd, c.out, gamma, beta, s.B, s.Co, HW, G);
            silu_forward(act, gn, n);
            memset(dgn, 0, n * sizeof(float));
            silu_backward(dgn, dact, gn, n);
            memset(c.dout, 0, n * sizeof(float));
            groupnorm_backward(c.dout, dgamma, dbeta, dgn, c.out, mean, rstd, gamma, s.B, s.Co, HW, G);
            run_once(&c, RUN_BWD);
            reps++;
        } while ((dt = now_s() - t0) < seconds / 5);
        if (trial && 1e3 * dt / reps < best) best = 1e3 * dt / reps;
    }
    conv_bufs_free(&c);
    free(gamma), free(beta), free(mean), free(rstd), free(gn), free(act), free(dact), free(dgn), free(dgamma);
    free(dbeta);
    return best;
}

/* Differing floats between two runs and the largest relative difference. */
static void compare(const char *what, const float *a, const float *b, size_t n) {
    size_t diff = 0;
    double worst = 0.0;
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float))) {
            diff++;
            const double rel = fabs((double)a[i] - b[i]) / fmax(fabs((double)a[i]), 1e-30);
            if (rel > worst) worst = rel;
        }
    printf("    %-9s %s (%zu of %zu floats differ, largest relative difference %.2g)\n", what,
           diff ? "DIFFER" : "bit-identical", diff, n, worst);
}

/* Forward and backward results with 1 and then 2 OpenBLAS threads. A
 * relative difference can be large where a value is a near-cancellation
 * (close to 0); the absolute differences are rounding-sized. */
static void blas_thread_determinism(const shape *s) {
    const int Ho = conv2d_out_size(s->H, s->K, s->stride, s->pad), Wo = conv2d_out_size(s->W, s->K, s->stride, s->pad);
    const size_t nin = (size_t)s->B * s->Ci * s->H * s->W, nw = (size_t)s->Co * s->Ci * s->K * s->K;
    const size_t nout = (size_t)s->B * s->Co * Ho * Wo;
    conv_bufs c[2];
    for (int t = 0; t < 2; t++) {
        conv_bufs_init(&c[t], s, 7);
        memset(c[t].dw, 0, nw * sizeof(float));
        openblas_set_num_threads(t + 1);
        run_once(&c[t], RUN_FWD);
        run_once(&c[t], RUN_BWD);
    }
    printf("  B%d Ci%d %dx%d Co%d K%d stride %d pad %d:\n", s->B, s->Ci, s->H, s->W, s->Co, s->K, s->stride, s->pad);
    compare("out", c[0].out, c[1].out, nout);
    compare("dinp", c[0].dx, c[1].dx, nin);
    compare("dweight", c[0].dw, c[1].dw, nw);
    conv_bufs_free(&c[0]), conv_bufs_free(&c[1]);
}

int main(int argc, char **argv) {
    const double seconds = argc > 1 ? atof(argv[1]) : 0.4;
    char model[256] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    for (char line[512]; f && fgets(line, sizeof line, f);)
        if (strncmp(line, "model name", 10) == 0) {
            snprintf(model, sizeof model, "%s", strchr(line, ':') + 2);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    if (f) fclose(f);
    const int blas_threads = openblas_get_num_threads();
    printf("machine: %s, compiler %s; OpenMP %d threads, OpenBLAS %d threads (%s, core %s)\n", model, __VERSION__,
           omp_get_max_threads(), blas_threads, openblas_get_config(), openblas_get_corename());

    /* Peak: one large square product. */
    {
        const int n = 1024;
        wm_rng r;
        rng_init(&r, 1);
        float *a = frand(&r, (size_t)n * n), *b = frand(&r, (size_t)n * n), *c = frand(&r, (size_t)n * n);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        long reps = 0;
        double t0 = now_s(), dt;
        do cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n), reps++;
        while ((dt = now_s() - t0) < seconds);
        printf("sgemm %dx%dx%d (peak baseline): %.1f GFLOP/s\n", n, n, n, 2.0 * n * n * n * reps / dt * 1e-9);
        free(a), free(b), free(c);
    }

    /* Thread configurations, set in-process: OpenMP threads for the ops'
     * loops, OpenBLAS threads for sgemm. The first is the default. */
    const int omp_default = omp_get_max_threads();
    const int configs[][2] = {{omp_default, blas_threads}, {1, blas_threads}, {omp_default, 1}, {1, 1}};
    for (int cf = 0; cf < 4; cf++) {
        omp_set_num_threads(configs[cf][0]);
        openblas_set_num_threads(configs[cf][1]);
        printf("OpenMP %d threads, OpenBLAS %d threads:\n", configs[cf][0], configs[cf][1]);
        for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) conv_speed(&shapes[k], seconds);
        printf("  block conv3x3 + groupnorm + silu, forward + backward, B16 64ch 64x32: %.2f ms\n", block_ms(seconds));
    }
    omp_set_num_threads(omp_default);

    printf("OpenBLAS thread count (1 vs 2), same inputs:\n");
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) blas_thread_determinism(&shapes[k]);
    openblas_set_num_threads(blas_threads);
    return 0;
}
