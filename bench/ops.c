/* bench/ops — conv2d (im2col + sgemm) forward and backward in GFLOP/s at
 * tokenizer shapes, on one OpenMP thread and on the default (all cores).
 * Convolutions run in parallel over the images of a batch, each image's
 * products a single-threaded OpenBLAS sgemm (ops.c holds OpenBLAS to one
 * thread for the whole process), so the two runs show the parallel
 * speed-up of that design.
 *
 * Baselines, in the same process: the same per-image matrix products as
 * bare single-threaded cblas_sgemm calls (no im2col, no bias, no col2im),
 * and a 1024^3 sgemm on one thread (the core's peak) and on every thread
 * at once, each its own product (the machine's peak for this design). A
 * conv/sgemm ratio near 1 means im2col and the bias/col2im passes cost
 * little beside the products.
 *
 * Then one tokenizer block (conv3x3, group norm, SiLU, forward and
 * backward) on 1 and on all threads, and a check that the convolutions'
 * results are the same bits with 1 and with all threads (ops.h promises it).
 *
 * Usage: ops [seconds per measurement, default 0.5] */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_SGEMM
#include "benchutil.h"
#include "core/check.h"
#include "core/rng.h"
#include "worldmodel/ops.h"


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
    c->scratch = frand(&r, conv2d_scratch_floats(s->Ci, s->H, s->W, s->Co, s->K, s->stride, s->pad));
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
 * backward pass makes two), on 1 thread and on `all` threads. */
static void conv_speed(const shape *s, int all, double seconds) {
    conv_bufs c;
    conv_bufs_init(&c, s, 3);
    const int Ho = conv2d_out_size(s->H, s->K, s->stride, s->pad), Wo = conv2d_out_size(s->W, s->K, s->stride, s->pad);
    const double gflop = 2e-9 * s->B * s->Co * Ho * Wo * s->Ci * s->K * s->K;
    double r1[2], rn[2], rg[2];
    for (int pass = 0; pass < 2; pass++) {
        omp_set_num_threads(1);
        r1[pass] = rate(&c, pass ? RUN_BWD : RUN_FWD, seconds);
        rg[pass] = rate(&c, pass ? RUN_GEMM_BWD : RUN_GEMM_FWD, seconds);
        omp_set_num_threads(all);
        rn[pass] = rate(&c, pass ? RUN_BWD : RUN_FWD, seconds);
    }
    printf("  B%d Ci%d %dx%d Co%d K%d s%d p%d:\n", s->B, s->Ci, s->H, s->W, s->Co, s->K, s->stride, s->pad);
    for (int pass = 0; pass < 2; pass++) {
        const double g = (pass ? 2 : 1) * gflop;
        printf("    %-8s 1 thread %5.1f GFLOP/s (%6.2f ms), %d threads %5.1f (%6.2f ms), speed-up %.2f; "
               "sgemm calls %5.1f, ratio conv/sgemm %.2f\n",
               pass ? "backward" : "forward", g * r1[pass], 1e3 / r1[pass], all, g * rn[pass], 1e3 / rn[pass],
               rn[pass] / r1[pass], g * rg[pass], r1[pass] / rg[pass]);
    }
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

/* Floats whose bits differ between a and b. */
static size_t differing(const float *a, const float *b, size_t n) {
    size_t diff = 0;
    for (size_t i = 0; i < n; i++) diff += memcmp(&a[i], &b[i], sizeof(float)) != 0;
    return diff;
}

/* Forward and backward from the same inputs on 1 and on `all` threads; the
 * outputs and all three gradients compared bit for bit. */
static void thread_determinism(const shape *s, int all) {
    const int Ho = conv2d_out_size(s->H, s->K, s->stride, s->pad), Wo = conv2d_out_size(s->W, s->K, s->stride, s->pad);
    const size_t nin = (size_t)s->B * s->Ci * s->H * s->W, nw = (size_t)s->Co * s->Ci * s->K * s->K;
    const size_t nout = (size_t)s->B * s->Co * Ho * Wo;
    conv_bufs c[2];
    for (int t = 0; t < 2; t++) {
        conv_bufs_init(&c[t], s, 7);
        omp_set_num_threads(t ? all : 1);
        run_once(&c[t], RUN_FWD);
        run_once(&c[t], RUN_BWD);
    }
    const size_t d_out = differing(c[0].out, c[1].out, nout), d_dx = differing(c[0].dx, c[1].dx, nin);
    const size_t d_dw = differing(c[0].dw, c[1].dw, nw), d_db = differing(c[0].db, c[1].db, (size_t)s->Co);
    printf("  B%d Ci%d %dx%d Co%d K%d s%d p%d: ", s->B, s->Ci, s->H, s->W, s->Co, s->K, s->stride, s->pad);
    if (d_out + d_dx + d_dw + d_db == 0)
        printf("bit-identical (%zu + %zu + %zu + %zu floats)\n", nout, nin, nw, (size_t)s->Co);
    else
        printf("DIFFER: out %zu of %zu, dinp %zu of %zu, dweight %zu of %zu, dbias %zu of %d floats\n", d_out, nout,
               d_dx, nin, d_dw, nw, d_db, s->Co);
    conv_bufs_free(&c[0]), conv_bufs_free(&c[1]);
}

int main(int argc, char **argv) {
    const double seconds = argc > 1 ? atof(argv[1]) : 0.5;
    char model[256];
    cpu_model(model, sizeof model);
    const int all = omp_get_max_threads();
    /* The first convolution sets OpenBLAS to one thread for the process; do
     * it now, so the sgemm baselines run as the convolutions' products do. */
    {
        float one = 1.0f, out, scratch[CONV_SLICES * 2];
        conv2d_forward(&out, &one, &one, NULL, 1, 1, 1, 1, 1, 1, 1, 0, scratch);
    }
    printf("machine: %s, compiler %s; OpenMP %d threads by default; OpenBLAS %d thread after the first convolution "
           "(%s, core %s)\n",
           model, __VERSION__, all, openblas_get_num_threads(), openblas_get_config(), openblas_get_corename());

    const double peak1 = sgemm_peak(1, seconds), peakn = sgemm_peak(all, seconds);
    printf("sgemm 1024^3 (peak baseline): 1 thread %.1f GFLOP/s; %d threads, one product each, %.1f GFLOP/s "
           "(ratio %.2f)\n",
           peak1, all, peakn, peakn / peak1);

    printf("conv, GFLOP/s of the products (2 Co Ho Wo Ci K^2 per image forward, twice that backward):\n");
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) conv_speed(&shapes[k], all, seconds);

    omp_set_num_threads(1);
    const double block1 = block_ms(seconds);
    omp_set_num_threads(all);
    const double blockn = block_ms(seconds);
    printf("block conv3x3 + groupnorm + silu, forward + backward, B16 64ch 64x32: 1 thread %.2f ms, %d threads "
           "%.2f ms (speed-up %.2f)\n",
           block1, all, blockn, block1 / blockn);

    printf("results with 1 vs %d OpenMP threads, same inputs (out, dinp, dweight, dbias):\n", all);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) thread_determinism(&shapes[k], all);
    omp_set_num_threads(all);
    return 0;
}
