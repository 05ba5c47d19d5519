/* bench/worldmodel — the dynamics model on the CPU: generated frames/s for
 * autoregressive KV-cache decoding (dynamics_generate_frame, temperature 1,
 * top-k 50) and MaskGIT-style parallel decoding
 * (dynamics_generate_frame_parallel, 8 and 4 passes, temperature 1) at
 * batch 1 and 8, and the full causal forward pass over a window
 * (dynamics_forward) in windows/s, in GFLOP/s next to the machine's sgemm
 * rate measured in the same process.
 *
 * The model: the shipped one's size (models/dynamics.wmck, or the file
 * given) when it exists, else dynamics_config_default. Weights random
 * (seed 1), context tokens, actions and slots random (seed 2): no step's
 * cost depends on their values (the sampler's sorts only slightly), so
 * the figures are those of a trained model of that size.
 *
 * FLOPs count the matrix products only. Per position per layer:
 * 2 (3C C + C C + 8 C C) = 24 C² for the qkv, attention-output and MLP
 * projections, plus 4 C n for its attention over the n positions it sees
 * (QK and AV); plus the head, 2 C V per position whose logits are
 * computed. An AR frame runs the prefill over T0 = (F-1) L + 1 + K
 * positions (causal: position t sees t + 1) and then P - 1 single-position
 * steps, with the head at P positions. A parallel frame runs the (F-1) L
 * context positions once (block L: a position of frame f sees (f + 1) L)
 * and then each pass the new frame's L positions (each sees F L), with the
 * head at P positions per pass. A forward pass runs all T positions
 * (causal) and the head at every one. Embeddings, RMSNorm, GELU, softmax,
 * sampling and the passes' ranking are not counted, so GFLOP/s slightly
 * understate the work done.
 *
 * Baseline: a 1024^3 cblas_sgemm on one thread, and on every OpenMP thread
 * at once, each running its own product. ops.c holds OpenBLAS to one thread
 * (the model's linear layers spread rows over the OpenMP threads), so the
 * all-thread figure is the peak of the way the network runs; efficiency is
 * achieved / that peak.
 *
 * Other load: the CPU time that other processes used during the run
 * (/proc/stat busy time less this process's own) is printed last.
 *
 * Usage: worldmodel [seconds per measurement, default 3] [MODEL.wmck, default models/dynamics.wmck] */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define BENCH_SGEMM
#include "benchutil.h"
#include "core/check.h"
#include "core/rng.h"
#include "worldmodel/dynamics_model.h"

#define MAX_BATCH 8
#define BAR_FPS 10.0 /* real time at 10 Hz */



/* ---- the sgemm baseline ---------------------------------------------------- */

/* ---- FLOPs ------------------------------------------------------------------- */

/* Matrix-product FLOPs of running positions [t0, t1) through the blocks
 * with attention block `block` (position t sees (t / block + 1) block
 * positions), plus the head at `heads` positions. */
static double flops_positions(const dynamics_config *c, int t0, int t1, int block, int heads) {
    const double C = c->channels, V = c->vocab;
    double f = 0.0;
    for (int t = t0; t < t1; t++) f += 24.0 * C * C + 4.0 * C * ((double)(t / block + 1) * block);
    return c->layers * f + heads * 2.0 * C * V;
}

/* One parallel-decoded frame of `steps` passes. */
static double flops_parallel(const dynamics_config *c, int L, int steps) {
    const int F = c->frames, T = F * L;
    return flops_positions(c, 0, (F - 1) * L, L, 0) + steps * flops_positions(c, (F - 1) * L, T, L, c->frame_tokens);
}

/* ---- what is timed ----------------------------------------------------------- */

typedef struct {
    dynamics_model *dm;
    int B;
    const int *context, *tokens; /* (B, F-1, P), (B, F, P) */
    const float *actions, *slots;
    wm_rng rng;
    int *out;
    int steps; /* parallel decoding's passes */
} job;

static void run_generate(void *p) {
    job *j = p;
    dynamics_generate_frame(j->dm, j->context, j->actions, j->slots, j->B, 1.0f, 50, &j->rng, j->out);
}

static void run_parallel(void *p) {
    job *j = p;
    dynamics_generate_frame_parallel(j->dm, j->context, j->actions, j->slots, j->B, j->steps, 1.0f, 0, &j->rng, j->out);
}

static void run_forward(void *p) {
    job *j = p;
    dynamics_forward(j->dm, j->tokens, j->actions, j->slots, j->B, 1, NULL);
}

int main(int argc, char **argv) {
    const double seconds = argc > 1 ? atof(argv[1]) : 3.0;
    const double busy0 = machine_busy_s(), wall0 = now_s();
    char model[256];
    cpu_model(model, sizeof model);
    const int threads = omp_get_max_threads();

    const char *model_path = argc > 2 ? argv[2] : "models/dynamics.wmck";
    dynamics_config cfg = dynamics_config_default();
    const char *size_from = "dynamics_config_default (no models/dynamics.wmck)";
    dynamics_model dm;
    wm_error err;
    if (access(model_path, R_OK) == 0) {
        if (dynamics_load(&dm, model_path, 1, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
        cfg = dm.cfg, size_from = model_path;
        dynamics_free(&dm);
    }
    if (dynamics_init(&dm, &cfg, MAX_BATCH, 1, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    const int F = cfg.frames, P = cfg.frame_tokens, K = cfg.slots, L = dm.L, T = dm.T;
    const int T0 = (F - 1) * L + 1 + K;

    wm_rng r;
    rng_init(&r, 2);
    int *tokens = MALLOC_CHECK((size_t)MAX_BATCH * F * P * sizeof(int));
    int *context = MALLOC_CHECK((size_t)MAX_BATCH * (F - 1) * P * sizeof(int));
    int *out = MALLOC_CHECK((size_t)MAX_BATCH * P * sizeof(int));
    float *actions = MALLOC_CHECK((size_t)MAX_BATCH * F * cfg.action_dim * sizeof(float));
    float *slots = MALLOC_CHECK((size_t)MAX_BATCH * F * K * cfg.slot_dim * sizeof(float) + 1);
    for (size_t i = 0; i < (size_t)MAX_BATCH * F * P; i++) tokens[i] = (int)(rng_uniform(&r) * cfg.vocab) % cfg.vocab;
    for (int b = 0; b < MAX_BATCH; b++)
        memcpy(context + (size_t)b * (F - 1) * P, tokens + (size_t)b * F * P, (size_t)(F - 1) * P * sizeof(int));
    for (size_t i = 0; i < (size_t)MAX_BATCH * F * cfg.action_dim; i++) actions[i] = (float)rng_range(&r, -1, 1);
    for (size_t i = 0; i < (size_t)MAX_BATCH * F * K * cfg.slot_dim; i++) slots[i] = (float)rng_range(&r, -1, 1);

    job j = {.dm = &dm, .B = 1, .context = context, .tokens = tokens, .actions = actions, .slots = slots, .out = out};
    rng_init(&j.rng, 3);
    run_forward(&j); /* the first linear layer sets OpenBLAS to one thread */

    printf("machine: %s, compiler %s; OpenMP %d threads; OpenBLAS %d thread (%s)\n", model, __VERSION__, threads,
           openblas_get_num_threads(), openblas_get_corename());
    printf("dynamics V %d, P %d (128x64 frame), F %d, K %d, L %d, T %d, %d layers, C %d, %d heads: %zu parameters, "
           "the size of %s; random weights (seed 1; speed does not depend on them)\n",
           cfg.vocab, P, F, K, L, T, cfg.layers, cfg.channels, cfg.heads, dm.n_params, size_from);

    const double gf_gen = 1e-9 * flops_positions(&cfg, 0, T - 1, 1, P);
    const double gf_prefill = 1e-9 * flops_positions(&cfg, 0, T0, 1, 1);
    const double gf_fwd = 1e-9 * flops_positions(&cfg, 0, T, 1, T);
    printf("GFLOP (matrix products: 24 C^2 + 4 C (t+1) per position t per layer, 2 C V per head position): per "
           "generated frame %.3f (prefill of %d positions %.3f, %d steps %.3f); per forward window of %d positions "
           "%.3f\n",
           gf_gen, T0, gf_prefill, P - 1, gf_gen - gf_prefill, T, gf_fwd);

    const double peak1 = sgemm_peak(1, seconds), peak = sgemm_peak(threads, seconds);
    printf("sgemm 1024^3 (baseline): 1 thread %.1f GFLOP/s; %d threads, one product each, %.1f GFLOP/s (ratio %.2f)\n",
           peak1, threads, peak, peak / peak1);

    double fps1 = 0.0, fps8 = 0.0;
    static const int batches[2] = {1, MAX_BATCH};
    for (int i = 0; i < 2; i++) {
        j.B = batches[i];
        long calls;
        const double s = seconds_per_call(run_generate, &j, seconds, &calls);
        const double fps = j.B / s, gfs = gf_gen * j.B / s;
        if (j.B == 1) fps1 = fps;
        else fps8 = fps;
        printf("AR generate B%d: %7.2f frames/s (%7.1f ms per call, %ld calls), %5.1f GFLOP/s; efficiency %.2f of the "
               "%d-thread sgemm\n",
               j.B, fps, 1e3 * s, calls, gfs, gfs / peak, threads);
    }
    static const int passes[2] = {8, 4};
    double par1 = 0.0;
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 2; i++) {
            j.B = batches[i], j.steps = passes[k];
            long calls;
            const double gf = 1e-9 * flops_parallel(&cfg, L, j.steps);
            const double s = seconds_per_call(run_parallel, &j, seconds, &calls);
            const double fps = j.B / s, gfs = gf * j.B / s;
            if (j.B == 1 && fps > par1) par1 = fps;
            printf("parallel %d passes B%d: %7.2f frames/s (%7.1f ms per call, %ld calls), %.3f GFLOP per frame, "
                   "%5.1f GFLOP/s; efficiency %.2f of the %d-thread sgemm; ratio to AR B%d %.2f\n",
                   j.steps, j.B, fps, 1e3 * s, calls, gf, gfs, gfs / peak, threads, j.B, fps / (i ? fps8 : fps1));
        }
    for (int i = 0; i < 2; i++) {
        j.B = batches[i];
        long calls;
        const double s = seconds_per_call(run_forward, &j, seconds, &calls);
        const double gfs = gf_fwd * j.B / s;
        printf("forward    B%d: %7.2f windows/s (%7.1f ms per call, %ld calls), %5.1f GFLOP/s; efficiency %.2f of the "
               "%d-thread sgemm\n",
               j.B, j.B / s, 1e3 * s, calls, gfs, gfs / peak, threads);
    }
    /* The same decoding on one OpenMP thread: each step is small, so its
     * parallel regions cost a barrier each, and on a loaded machine every
     * barrier may wait for a descheduled thread. */
    double fps1_one = 0.0;
    if (threads > 1) {
        omp_set_num_threads(1);
        for (int i = 0; i < 2; i++) {
            j.B = batches[i];
            long calls;
            const double s = seconds_per_call(run_generate, &j, seconds, &calls);
            const double gfs = gf_gen * j.B / s;
            if (j.B == 1) fps1_one = j.B / s;
            printf("AR generate B%d, 1 OpenMP thread: %7.2f frames/s (%7.1f ms per call, %ld calls), %5.1f GFLOP/s; "
                   "efficiency %.2f of the 1-thread sgemm; ratio to %d threads %.2f\n",
                   j.B, j.B / s, 1e3 * s, calls, gfs, gfs / peak1, threads, j.B / s / (i ? fps8 : fps1));
        }
        omp_set_num_threads(threads);
    }
    if (fps1_one > fps1) fps1 = fps1_one;
    printf("bar %.0f frames/s (real time at 10 Hz), one rollout (B1): AR (the faster thread count) %.2f frames/s: %s "
           "(%.2fx); parallel (the faster pass count) %.2f frames/s: %s (%.2fx)\n",
           BAR_FPS, fps1, fps1 >= BAR_FPS ? "met" : "not met", fps1 / BAR_FPS, par1,
           par1 >= BAR_FPS ? "met" : "not met", par1 / BAR_FPS);

    const double wall = now_s() - wall0, busy1 = machine_busy_s();
    if (busy0 >= 0 && busy1 >= 0)
        printf("other load: other processes used %.1f CPU s during this %.1f s run (this process %.1f CPU s)\n",
               busy1 - busy0 - own_cpu_s(), wall, own_cpu_s());
    free(tokens), free(context), free(out), free(actions), free(slots);
    dynamics_free(&dm);
    return 0;
}
