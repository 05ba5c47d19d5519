/* bench/tokenizer — the frame tokenizer (tokenizer_config_default: 128x64
 * frames to a 16x8 token grid) on the CPU: encode, decode and training-step
 * throughput at batch 16, in frames/s and GFLOP/s, next to the machine's
 * sgemm rate measured in the same process.
 *
 * FLOPs come from the tokenizer's layer table: a convolution costs
 * 2 co ci k² ho wo per image forward and twice that backward (weight and
 * input gradients), except the first encoder convolution, whose input needs
 * no gradient (once); the VQ distances cost 2 N D hz wz per image. Group
 * norm, SiLU, upsampling, the losses and AdamW are elementwise and not
 * counted, so the GFLOP/s slightly understate the work done.
 *
 * Baseline: a 1024^3 cblas_sgemm on one thread, and on every OpenMP thread
 * at once, each running its own product. ops.c holds OpenBLAS to one thread
 * and spreads a batch's images over the OpenMP threads, so the all-thread
 * figure is the peak of the way the network runs; efficiency is achieved /
 * that peak.
 *
 * Frames: 16 oracle frames of scenarios/examples/guard_stop_proceed.pbtxt
 * (the bench runs from the source tree, as `make bench` does); random pixels
 * in [0, 1] when the scenario cannot be loaded, which changes no speed.
 *
 * Last, where the time goes: each layer's forward and (training) backward
 * pass at batch 16, timed on its own with the tokenizer's own buffers.
 *
 * Usage: tokenizer [seconds per measurement, default 2] */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_SGEMM
#include "benchutil.h"
#include "core/check.h"
#include "core/rng.h"
#include "render/render.h"
#include "scenarios/scenario.h"
#include "sim/episode.h"
#include "sim/policy.h"
#include "worldmodel/ops.h"
#include "worldmodel/tokenizer.h"

#define BATCH 16

/* ---- frames ---------------------------------------------------------------- */

typedef struct {
    renderer r;
    float *x; /* (BATCH, 3, H, W) */
    int n, every;
} frame_grab;

static int grab(const episode_frame *f, void *ctx) {
    frame_grab *g = ctx;
    if (f->w->step % g->every) return 0;
    render_frame(&g->r, f->w);
    const image *img = &g->r.frame;
    const size_t plane = (size_t)img->width * img->height;
    for (size_t p = 0; p < plane; p++)
        for (int c = 0; c < 3; c++) g->x[(size_t)g->n * 3 * plane + c * plane + p] = img->rgb[3 * p + c] / 255.0f;
    return ++g->n == BATCH;
}

/* BATCH oracle frames of a scenario at W x H, every 10th step; the frames
 * the episode had cycle when it ends early. Returns the frames grabbed (0
 * and a reason in err when the scenario cannot be run). */
static int render_frames(const char *path, int width, int height, float *x, wm_error *err) {
    scenario sc;
    if (scenario_load(path, &sc, err)) return 0;
    sc.camera.width = width, sc.camera.height = height;
    frame_grab g = {.x = x, .every = 10};
    policy pol;
    int ok = 0;
    if (renderer_init(&g.r, &sc.camera, 1, err) == 0) {
        if (policy_create("expert", NULL, &pol, err) == 0) {
            episode_config cfg = {.sc = &sc, .seed = sc.seed, .pol = &pol, .observe = grab, .observe_ctx = &g};
            episode_result res;
            ok = episode_run(&cfg, &res, err) == 0 && (g.n > 0 || wm_fail(err, "%s: no frame grabbed", path) == 0);
            pol.destroy(&pol);
        }
        renderer_free(&g.r);
    }
    scenario_free(&sc);
    if (!ok) return 0;
    const size_t img = (size_t)3 * width * height;
    for (int i = g.n; i < BATCH; i++) memcpy(x + i * img, x + (i % g.n) * img, img * sizeof(float));
    return g.n;
}

/* ---- the sgemm baseline ---------------------------------------------------- */

/* ---- what is timed ----------------------------------------------------------- */

typedef struct {
    tokenizer *tk;
    const float *x;
    float *x_out;
    int *codes;
    tokenizer_train_params hp;
    int step;
    const tokenizer_layer *L;
    const float *in, *skip; /* skip: an add layer's other input */
    float *out;
    int backward, first; /* layer runs: the backward pass; the first encoder conv (no input gradient) */
} job;

static void run_encode(void *p) {
    job *j = p;
    tokenizer_encode(j->tk, j->x, BATCH, j->codes);
}

static void run_decode(void *p) {
    job *j = p;
    tokenizer_decode(j->tk, j->codes, BATCH, j->x_out);
}

static void run_train(void *p) {
    job *j = p;
    tokenizer_train_step(j->tk, j->x, BATCH, &j->hp, j->hp.adamw.lr, ++j->step, NULL);
}

/* One layer alone, as the tokenizer runs it (the ops of worldmodel/ops.h on
 * the tokenizer's buffers): forward into its activation, or backward from
 * d_a into d_b, zeroed first as the training step does. */
static void run_layer(void *p) {
    job *j = p;
    tokenizer *tk = j->tk;
    const tokenizer_layer *L = j->L;
    const float *P = tk->params;
    float *G = tk->grads;
    const int B = BATCH;
    const size_t n_out = (size_t)B * L->co * L->ho * L->wo;
    float *gn_mean = tk->gn_mean + (size_t)B * L->stat_off, *gn_rstd = tk->gn_rstd + (size_t)B * L->stat_off;
    if (!j->backward) {
        switch (L->kind) {
        case LAYER_CONV:
            conv2d_forward(j->out, j->in, P + L->w_off, P + L->b_off, B, L->ci, L->h, L->w, L->co, L->k, L->stride,
                           L->pad, tk->scratch);
            break;
        case LAYER_GROUPNORM:
            groupnorm_forward(j->out, gn_mean, gn_rstd, j->in, P + L->w_off, P + L->b_off, B, L->ci, L->h * L->w,
                              L->groups);
            break;
        case LAYER_SILU: silu_forward(j->out, j->in, n_out); break;
        case LAYER_UPSAMPLE: upsample2x_forward(j->out, j->in, B, L->ci, L->h, L->w); break;
        case LAYER_ADD:
            for (size_t i = 0; i < n_out; i++) j->out[i] = j->in[i] + j->skip[i];
            break;
        }
        return;
    }
    float *dinp = j->first ? NULL : tk->d_b;
    if (dinp) memset(dinp, 0, (size_t)B * L->ci * L->h * L->w * sizeof(float));
    switch (L->kind) {
    case LAYER_CONV:
        conv2d_backward(dinp, G + L->w_off, G + L->b_off, tk->d_a, j->in, P + L->w_off, B, L->ci, L->h, L->w, L->co,
                        L->k, L->stride, L->pad, tk->scratch);
        break;
    case LAYER_GROUPNORM:
        groupnorm_backward(dinp, G + L->w_off, G + L->b_off, tk->d_a, j->in, gn_mean, gn_rstd, P + L->w_off, B, L->ci,
                           L->h * L->w, L->groups);
        break;
    case LAYER_SILU: silu_backward(dinp, tk->d_a, j->in, n_out); break;
    case LAYER_UPSAMPLE: upsample2x_backward(dinp, tk->d_a, B, L->ci, L->h, L->w); break;
    case LAYER_ADD:
        for (size_t i = 0; i < n_out; i++) dinp[i] += tk->d_a[i];
        break;
    }
}

static void run_vq(void *p) {
    job *j = p;
    tokenizer *tk = j->tk;
    vq_forward(tk->codes, tk->zq, tk->act_enc[tk->n_enc - 1], tk->params + tk->codebook_off, BATCH, tk->cfg.code_dim,
               tk->hz * tk->wz, tk->cfg.codebook_size);
}

/* ---- FLOPs ------------------------------------------------------------------- */

static double conv_flops(const tokenizer_layer *L) {
    return L->kind == LAYER_CONV ? 2.0 * L->co * L->ci * L->k * L->k * L->ho * L->wo : 0.0;
}

static double vq_flops(const tokenizer *tk) {
    return 2.0 * tk->cfg.codebook_size * tk->cfg.code_dim * tk->hz * tk->wz;
}

enum { KINDS = LAYER_ADD + 1 };

static const char *kind_name(layer_kind k) {
    static const char *const names[KINDS] = {"conv", "group norm", "silu", "upsample", "residual add"};
    return names[k];
}

int main(int argc, char **argv) {
    const double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    char model[256];
    cpu_model(model, sizeof model);
    const int threads = omp_get_max_threads();

    tokenizer_config cfg = tokenizer_config_default();
    tokenizer tk;
    wm_error err;
    if (tokenizer_init(&tk, &cfg, BATCH, 1, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    const size_t img = (size_t)3 * cfg.width * cfg.height;
    float *x = MALLOC_CHECK(BATCH * img * sizeof(float)), *x_out = MALLOC_CHECK(BATCH * img * sizeof(float));
    int *codes = MALLOC_CHECK((size_t)BATCH * tk.hz * tk.wz * sizeof(int));
    const char *scenario_path = "scenarios/examples/guard_stop_proceed.pbtxt";
    char frames_note[512];
    const int grabbed = render_frames(scenario_path, cfg.width, cfg.height, x, &err);
    if (grabbed) {
        snprintf(frames_note, sizeof frames_note, "%d oracle frames of %s, every 10th step%s", grabbed, scenario_path,
                 grabbed < BATCH ? " (cycled to fill the batch)" : "");
    } else {
        wm_rng r;
        rng_init(&r, 2);
        for (size_t i = 0; i < BATCH * img; i++) x[i] = (float)rng_range(&r, 0, 1);
        snprintf(frames_note, sizeof frames_note, "random pixels in [0, 1] (no scenario: %.300s)", err.msg);
    }

    job j = {.tk = &tk, .x = x, .x_out = x_out, .codes = codes, .hp = tokenizer_train_params_default()};
    run_encode(&j); /* the first convolution sets OpenBLAS to one thread for the process */
    printf("machine: %s, compiler %s; OpenMP %d threads; OpenBLAS %d thread (%s)\n", model, __VERSION__, threads,
           openblas_get_num_threads(), openblas_get_corename());
    char mult[64] = "";
    for (int s = 0; s <= (cfg.down == 16 ? 4 : 3); s++)
        snprintf(mult + strlen(mult), sizeof mult - strlen(mult), " %d", cfg.channel_mult[s]);
    printf("tokenizer %dx%d -> %dx%d tokens, c %d, mult%s, res_blocks %d, D %d, N %d: %zu parameters (%.1f MB each "
           "for weights, gradients, Adam m, v); activation arena at batch %d: %.1f MB\n",
           cfg.width, cfg.height, tk.wz, tk.hz, cfg.channels, mult, cfg.res_blocks, cfg.code_dim, cfg.codebook_size,
           tk.n_params, tk.n_params * 4e-6, BATCH, tk.arena_floats * 4e-6);
    printf("frames: %s\n", frames_note);

    double enc_flops = vq_flops(&tk), dec_flops = 0.0, bwd_flops = 0.0;
    for (int i = 0; i < tk.n_enc; i++)
        enc_flops += conv_flops(&tk.enc[i]), bwd_flops += (i ? 2 : 1) * conv_flops(&tk.enc[i]);
    for (int i = 0; i < tk.n_dec; i++) dec_flops += conv_flops(&tk.dec[i]), bwd_flops += 2 * conv_flops(&tk.dec[i]);
    const double train_flops = enc_flops + dec_flops + bwd_flops;
    printf("GFLOP per image (convolutions and VQ distances; elementwise layers not counted): encode %.3f, decode "
           "%.3f, training step %.3f\n",
           enc_flops * 1e-9, dec_flops * 1e-9, train_flops * 1e-9);

    const double peak1 = sgemm_peak(1, seconds), peakn = sgemm_peak(threads, seconds);
    printf("sgemm 1024^3 (baseline): 1 thread %.1f GFLOP/s; %d threads, one product each, %.1f GFLOP/s\n", peak1,
           threads, peakn);

    const double t_enc = seconds_per_call(run_encode, &j, seconds, NULL);
    const double t_dec = seconds_per_call(run_decode, &j, seconds, NULL);
    const double t_train = seconds_per_call(run_train, &j, seconds, NULL);
    const struct {
        const char *what, *unit;
        double t, flops;
    } rows[] = {{"encode", "frames/s", t_enc, enc_flops},
                {"decode", "frames/s", t_dec, dec_flops},
                {"training", "images/s", t_train, train_flops}};
    for (int r = 0; r < 3; r++) {
        const double per_s = BATCH / rows[r].t, gflops = per_s * rows[r].flops * 1e-9;
        printf("%-8s B%d: %6.1f %s (%7.1f ms per batch), %5.1f GFLOP/s; efficiency %.2f of the %d-thread sgemm\n",
               rows[r].what, BATCH, per_s, rows[r].unit, 1e3 * rows[r].t, gflops, gflops / peakn, threads);
    }

    /* Where the time goes: every layer alone, forward and backward. */
    printf("per layer, B%d, ms (forward; backward as in a training step) and conv GFLOP/s:\n", BATCH);
    const double t_layer = seconds / 20;
    double sum_fwd = 0.0, sum_bwd = 0.0, kind_fwd[KINDS] = {0}, kind_bwd[KINDS] = {0};
    int kind_n[KINDS] = {0};
    for (int pass = 0; pass < 2; pass++) {
        const int n = pass ? tk.n_dec : tk.n_enc;
        for (int i = 0; i < n; i++) {
            const tokenizer_layer *L = pass ? &tk.dec[i] : &tk.enc[i];
            j.L = L;
            j.in = pass ? (i ? tk.act_dec[i - 1] : tk.zq) : (i ? tk.act_enc[i - 1] : tk.x_in);
            j.out = pass ? tk.act_dec[i] : tk.act_enc[i];
            j.skip = L->kind != LAYER_ADD ? NULL : L->skip >= 0 ? (pass ? tk.act_dec : tk.act_enc)[L->skip]
                                                                : (pass ? tk.zq : tk.x_in);
            j.first = !pass && i == 0;
            j.backward = 0;
            const double tf = seconds_per_call(run_layer, &j, t_layer, NULL);
            j.backward = 1;
            const double tb = seconds_per_call(run_layer, &j, t_layer, NULL);
            sum_fwd += tf, sum_bwd += tb;
            kind_fwd[L->kind] += tf, kind_bwd[L->kind] += tb, kind_n[L->kind]++;
            if (L->kind != LAYER_CONV) continue;
            const double fl = BATCH * conv_flops(L);
            printf("  %-6s conv %dx%d/%d %4dx%3dx%3d -> %4dx%3dx%3d  forward %6.2f ms %5.1f GFLOP/s  backward %6.2f "
                   "ms %5.1f GFLOP/s  (%4.1f%% of a step)\n",
                   L->name, L->k, L->k, L->stride, L->ci, L->h, L->w, L->co, L->ho, L->wo, 1e3 * tf, fl / tf * 1e-9,
                   1e3 * tb, (j.first ? 1 : 2) * fl / tb * 1e-9, 100 * (tf + tb) / t_train);
        }
    }
    j.backward = 0;
    const double t_vq = seconds_per_call(run_vq, &j, t_layer, NULL);
    sum_fwd += t_vq;
    for (int k = LAYER_GROUPNORM; k < KINDS; k++)
        if (kind_n[k])
            printf("  %-12s (%2d layers) forward %6.2f ms, backward %6.2f ms  (%4.1f%% of a step)\n", kind_name(k),
                   kind_n[k], 1e3 * kind_fwd[k], 1e3 * kind_bwd[k], 100 * (kind_fwd[k] + kind_bwd[k]) / t_train);
    printf("  vq distances forward %6.2f ms, %5.1f GFLOP/s  (%4.1f%% of a step)\n", 1e3 * t_vq,
           BATCH * vq_flops(&tk) / t_vq * 1e-9, 100 * t_vq / t_train);
    printf("  all layers: forward %.1f ms (encode + decode measured %.1f), backward %.1f ms; training step %.1f ms, "
           "of which %.1f ms (%.1f%%) elsewhere (losses, VQ backward, zeroing, clipping, AdamW)\n",
           1e3 * sum_fwd, 1e3 * (t_enc + t_dec), 1e3 * sum_bwd, 1e3 * t_train, 1e3 * (t_train - sum_fwd - sum_bwd),
           100 * (t_train - sum_fwd - sum_bwd) / t_train);

    tokenizer_free(&tk);
    free(x), free(x_out), free(codes);
    return 0;
}
