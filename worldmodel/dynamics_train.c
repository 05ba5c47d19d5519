/* dynamics_train.c — the dynamics model's training loop (see dynamics_train.h). */
#include "worldmodel/dynamics_train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/clock.h"
#include "core/fileio.h"
#include "worldmodel/train_run.h"
#include "core/mathx.h"
#include "core/rng.h"

dynamics_train_config dynamics_train_config_default(void) {
    return (dynamics_train_config){.steps = 20000, .batch = 8, .warmup_steps = 500, .lr = 1e-3f, .lr_min = 1e-5f,
                                   .hp = dynamics_train_params_default(), .drop_slots = 0.5f, .drop_action = 0.1f,
                                   .mask_share = 0.5f, .changed_weight = 1.0f, .seed = 1, .log_every = 50, .val_every = 1000, .save_every = 500};
}

float dynamics_lr_at(const dynamics_train_config *cfg, int step) {
    return train_lr_at(cfg->lr, cfg->lr_min, cfg->warmup_steps, cfg->steps, step);
}


/* What one objective's validation adds up. */
typedef struct {
    double loss;                       /* summed over windows */
    long long right, counted;          /* argmax = target, targets */
    long long changed_right, changed;  /* the same over targets unlike the frame before's token there */
} eval_sums;

/* Scores one batch's last forward pass against its targets; tokens (b, F, P)
 * the windows' true tokens. A target at position t is image token j of
 * frame f: the next position's (AR: t + 1) or its own (masked: t). */
static void score_batch(const dynamics_model *dm, const int *tokens, const int *targets, int b, int masked, float loss,
                        eval_sums *sum) {
    const dynamics_config *c = &dm->cfg;
    const int V = c->vocab, T = dm->T, L = dm->L, F = c->frames, P = c->frame_tokens, K = c->slots;
    sum->loss += (double)loss * b;
    for (size_t r = 0; r < (size_t)b * T; r++) {
        if (targets[r] < 0) continue;
        const float *lg = dm->logits + r * V;
        int best = 0;
        for (int v = 1; v < V; v++)
            if (lg[v] > lg[best]) best = v;
        const int ok = best == targets[r];
        sum->right += ok, sum->counted++;
        const size_t w = r / T;
        const int at = (int)(r % T) + !masked, f = at / L, j = at % L - 1 - K;
        if (f > 0 && targets[r] != tokens[(w * F + f - 1) * P + j]) sum->changed_right += ok, sum->changed++;
    }
}

static double share(long long num, long long den) { return den ? (double)num / den : 0.0; }

void dynamics_evaluate(dynamics_model *dm, const int *tokens, const float *actions, const float *slots, int n,
                       dynamics_eval *out) {
    const dynamics_config *c = &dm->cfg;
    const int F = c->frames, P = c->frame_tokens, A = c->action_dim, K = c->slots, S = c->slot_dim, T = dm->T;
    int *targets = MALLOC_CHECK((size_t)dm->max_batch * T * sizeof(int));
    int *masked = MALLOC_CHECK((size_t)dm->max_batch * F * P * sizeof(int));
    eval_sums sum[2];
    memset(sum, 0, sizeof sum);
    for (int i = 0; i < n; i += dm->max_batch) {
        int b = n - i < dm->max_batch ? n - i : dm->max_batch;
        const int *tk = tokens + (size_t)i * F * P;
        const float *ac = actions + (size_t)i * F * A, *sl = slots && K ? slots + (size_t)i * F * K * S : NULL;
        dynamics_ar_targets(c, tk, b, targets);
        float l = dynamics_forward(dm, tk, ac, sl, b, 1, targets);
        score_batch(dm, tk, targets, b, 0, l, &sum[0]);
        for (int w = 0; w < b; w++) {
            wm_rng rng = rng_fork(DYNAMICS_EVAL_MASK_SEED, (uint64_t)(i + w));
            dynamics_mask_targets(c, tk + (size_t)w * F * P, 1, &rng, masked + (size_t)w * F * P,
                                  targets + (size_t)w * T);
        }
        l = dynamics_forward(dm, masked, ac, sl, b, dm->L, targets);
        score_batch(dm, tk, targets, b, 1, l, &sum[1]);
    }
    free(targets), free(masked);
    out->windows = n;
    out->loss = n ? sum[0].loss / n : 0;
    out->accuracy = share(sum[0].right, sum[0].counted);
    out->changed_accuracy = share(sum[0].changed_right, sum[0].changed);
    out->changed_share = share(sum[0].changed, sum[0].counted);
    out->mask_loss = n ? sum[1].loss / n : 0;
    out->mask_accuracy = share(sum[1].right, sum[1].counted);
    out->mask_changed_accuracy = share(sum[1].changed_right, sum[1].changed);
}

#define CSV_HEADER                                                                                         \
    "step,lr,loss,grad_norm,skipped,windows_per_s,val_loss,val_accuracy,val_mask_loss,val_mask_accuracy," \
    "val_changed_accuracy,val_mask_changed_accuracy\n"


typedef struct {
    double loss, grad_norm;
    int skipped, n;
} interval_sums;

static void progress_line(const dynamics_train_config *cfg, int step, const interval_sums *s, double rate,
                          const dynamics_eval *val, int final) {
    double eta = rate > 0 ? (double)(cfg->steps - step) * cfg->batch / rate : 0;
    fprintf(stderr, "\rstep %d/%d  loss %.4f", step, cfg->steps, s->loss / s->n);
    if (val->windows)
        fprintf(stderr, "  val %.4f (acc %.3f, masked %.3f)", val->loss, val->accuracy, val->mask_accuracy);
    fprintf(stderr, "  %.1f windows/s  ETA %dm%02ds   %s", rate, (int)eta / 60, (int)eta % 60, final ? "\n" : "");
    fflush(stderr);
}

/* The window order (the caller's stream_id), the dropout's seed, the mask
 * share and the changed-token weight: a resume must keep them all (a
 * weight of 1 leaves the id as runs before the weight existed had it). */
static uint64_t run_id(const dynamics_train_config *cfg) {
    uint32_t share, weight;
    memcpy(&share, &cfg->mask_share, sizeof share);
    memcpy(&weight, &cfg->changed_weight, sizeof weight);
    const uint64_t weight_bits = cfg->changed_weight == 1.0f ? 0 : (uint64_t)weight * UINT64_C(0xff51afd7ed558ccd);
    return cfg->stream_id ^ (cfg->seed * UINT64_C(0x9e3779b97f4a7c15)) ^ ((uint64_t)share << 17) ^ weight_bits;
}

static int save_checkpoint(dynamics_model *dm, const dynamics_train_config *cfg, const char *state_path, int step,
                           wm_error *err) {
    ckpt_train_progress p = {.step = (uint64_t)step, .position = (uint64_t)step * cfg->batch};
    train_progress_tag(&p, cfg->batch, run_id(cfg));
    /* The model first: a resume reads the model's architecture from
     * out_path, so a kill between the two files must not leave a state
     * without a model. The state alone decides where a resume continues. */
    if (dynamics_save(dm, cfg->out_path, NULL, err)) return -1;
    return dynamics_save_state(dm, state_path, &p, err);
}

/* weights (B, T): changed_weight where a target differs from the true
 * token at its place in the frame before, else 1 (dynamics_train.h). A
 * target at position t is image token j of frame f: the next position's
 * (AR) or its own (masked). */
static void changed_weights(const dynamics_model *dm, float w, const int *tokens, const int *targets, int B, int masked,
                            float *weights) {
    const dynamics_config *c = &dm->cfg;
    const int T = dm->T, L = dm->L, F = c->frames, P = c->frame_tokens, K = c->slots;
    for (size_t r = 0; r < (size_t)B * T; r++) {
        const size_t b = r / T;
        const int at = (int)(r % T) + !masked, f = at / L, j = at % L - 1 - K;
        weights[r] = targets[r] >= 0 && f > 0 && targets[r] != tokens[(b * F + f - 1) * P + j] ? w : 1.0f;
    }
}

/* Whether step s (1-based) is on the masked objective (dynamics_train.h). */
static int masked_step(float share, int s) { return floorf((float)s * share) > floorf((float)(s - 1) * share); }

/* The conditioning dropout of the batch's windows, then (on a masked step)
 * their masks, from each window's own rng; window b is the stream's window
 * first + b. Writes the step's input tokens and targets. */
static void prepare_batch(const dynamics_train_config *cfg, const dynamics_model *dm, uint64_t first, int masked,
                          const int *tokens, float *actions, float *slots, int *inputs, int *targets) {
    const dynamics_config *c = &dm->cfg;
    const int F = c->frames, P = c->frame_tokens, A = c->action_dim, K = c->slots, S = c->slot_dim;
    for (int b = 0; b < cfg->batch; b++) {
        wm_rng rng = rng_fork(cfg->seed, first + (uint64_t)b);
        double u_slots = rng_uniform(&rng), u_action = rng_uniform(&rng);
        if (slots && K && u_slots < cfg->drop_slots) memset(slots + (size_t)b * F * K * S, 0, (size_t)F * K * S * sizeof(float));
        if (u_action < cfg->drop_action) memset(actions + (size_t)b * F * A, 0, (size_t)F * A * sizeof(float));
        const size_t at = (size_t)b * F * P;
        if (masked) {
            dynamics_mask_targets(c, tokens + at, 1, &rng, inputs + at, targets + (size_t)b * dm->T);
        } else {
            memcpy(inputs + at, tokens + at, (size_t)F * P * sizeof *inputs);
            dynamics_ar_targets(c, tokens + at, 1, targets + (size_t)b * dm->T);
        }
    }
}

int dynamics_train(dynamics_model *dm, const dynamics_train_config *cfg, const window_stream *data,
                   dynamics_train_report *rep, wm_error *err) {
    memset(rep, 0, sizeof *rep);
    if (cfg->steps < 1) return wm_fail(err, "worldmodel train: steps %d below 1", cfg->steps);
    if (cfg->stop_at < 0 || cfg->stop_at > cfg->steps)
        return wm_fail(err, "worldmodel train: stop at step %d outside [1, %d]", cfg->stop_at, cfg->steps);
    const int end = cfg->stop_at ? cfg->stop_at : cfg->steps;
    if (!(cfg->changed_weight > 0.0f && cfg->changed_weight <= 1000.0f))
        return wm_fail(err, "worldmodel train: changed-token weight %g outside (0, 1000]", cfg->changed_weight);
    if (!(cfg->mask_share >= 0.0f && cfg->mask_share <= 1.0f))
        return wm_fail(err, "worldmodel train: mask share %g outside [0, 1]", cfg->mask_share);
    if (cfg->batch < 1 || cfg->batch > dm->max_batch)
        return wm_fail(err, "worldmodel train: batch %d outside [1, %d]", cfg->batch, dm->max_batch);
    if (!cfg->out_path) return wm_fail(err, "worldmodel train: no output path");
    if (train_schedule_check("worldmodel train", cfg->lr, cfg->lr_min, cfg->warmup_steps, err)) return -1;
    char state_path[4096];
    if (train_state_path(cfg->out_path, cfg->resume, state_path, sizeof state_path, err)) return -1;

    int step = 0;
    if (cfg->resume) {
        ckpt_train_progress p;
        if (dynamics_load_state(dm, state_path, &p, err)) return wm_error_prefix(err, "resume: ");
        if (train_progress_check(&p, state_path, cfg->batch, run_id(cfg), end, err)) return -1;
        step = (int)p.step;
        if (data->seek(data->ctx, (uint64_t)step * cfg->batch, err)) return -1;
    }
    FILE *csv;
    if (train_csv_open(cfg->log_path, CSV_HEADER, cfg->resume, step, &csv, err)) return -1;

    const dynamics_config *c = &dm->cfg;
    const size_t B = (size_t)cfg->batch, F = (size_t)c->frames;
    int *tokens = MALLOC_CHECK(B * F * c->frame_tokens * sizeof(int));
    int *targets = MALLOC_CHECK(B * dm->T * sizeof(int));
    int *inputs = MALLOC_CHECK(B * F * c->frame_tokens * sizeof(int));
    float *weights = cfg->changed_weight != 1.0f ? MALLOC_CHECK(B * dm->T * sizeof(float)) : NULL;
    float *actions = MALLOC_CHECK(B * F * c->action_dim * sizeof(float));
    float *slots = c->slots ? MALLOC_CHECK(B * F * c->slots * c->slot_dim * sizeof(float)) : NULL;
    rep->first_step = step + 1;
    interval_sums sums = {0};
    double t0 = clock_now_s(), t_interval = t0;
    int rc = 0, log_every = cfg->log_every > 0 ? cfg->log_every : 50;
    const int have_val = cfg->val_tokens && cfg->val_actions && cfg->n_val > 0;
    while (step < end) {
        if (data->next(data->ctx, tokens, actions, slots, cfg->batch, err)) {
            rc = -1;
            break;
        }
        const int masked = masked_step(cfg->mask_share, step + 1);
        prepare_batch(cfg, dm, (uint64_t)step * cfg->batch, masked, tokens, actions, slots, inputs, targets);
        step++;
        float lr = dynamics_lr_at(cfg, step);
        dynamics_step_stats st;
        if (weights) changed_weights(dm, cfg->changed_weight, tokens, targets, cfg->batch, masked, weights);
        dynamics_train_step_weighted(dm, inputs, actions, slots, targets, weights, cfg->batch, masked ? dm->L : 1,
                                     &cfg->hp, lr, step, &st);
        if (!isfinite(st.loss)) {
            rc = wm_fail(err, "worldmodel train: step %d: loss is %g; the last checkpoint (%s) is kept", step,
                         st.loss, cfg->out_path);
            break;
        }
        sums.loss += st.loss, sums.grad_norm += st.grad_norm, sums.skipped += st.skipped, sums.n++;

        int last = step == end;
        int validate = have_val && (last || (cfg->val_every > 0 && step % cfg->val_every == 0));
        if (validate) dynamics_evaluate(dm, cfg->val_tokens, cfg->val_actions, cfg->val_slots, cfg->n_val, &rep->val);
        if (step % log_every == 0 || last || validate) {
            double t = clock_now_s(), rate = sums.n * cfg->batch / fmax(t - t_interval, 1e-6);
            rep->loss = (float)(sums.loss / sums.n);
            if (csv) {
                fprintf(csv, "%d,%.6g,%.6g,%.6g,%d,%.2f", step, lr, sums.loss / sums.n, sums.grad_norm / sums.n,
                        sums.skipped, rate);
                if (validate)
                    fprintf(csv, ",%.6g,%.5f,%.6g,%.5f,%.5f,%.5f\n", rep->val.loss, rep->val.accuracy,
                            rep->val.mask_loss, rep->val.mask_accuracy, rep->val.changed_accuracy,
                            rep->val.mask_changed_accuracy);
                else
                    fputs(",,,,,,\n", csv);
                fflush(csv);
            }
            if (cfg->progress)
                progress_line(cfg, step, &sums, (step - rep->first_step + 1) * cfg->batch / fmax(t - t0, 1e-6),
                              &rep->val, last);
            memset(&sums, 0, sizeof sums);
            t_interval = t;
        }
        if ((last || (cfg->save_every > 0 && step % cfg->save_every == 0)) &&
            save_checkpoint(dm, cfg, state_path, step, err)) {
            rc = -1;
            break;
        }
    }
    rep->steps = step;
    rep->seconds = clock_now_s() - t0;
    rep->windows_per_s = rep->seconds > 0 ? (step - rep->first_step + 1) * cfg->batch / rep->seconds : 0;
    if (csv && fclose(csv) && !rc) rc = wm_fail(err, "%s: %s", cfg->log_path, strerror(errno));
    free(tokens), free(targets), free(inputs), free(weights), free(actions), free(slots);
    return rc;
}
