/* estimator_train.c — the inverse-dynamics estimator's training loop (see
 * estimator_train.h).
 *
 * Dimensions: B pairs a step, 6 channels, H x W pixels. */
#include "worldmodel/estimator_train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/clock.h"
#include "core/rng.h"
#include "worldmodel/train_run.h"

estimator_train_config estimator_train_config_default(void) {
    return (estimator_train_config){.steps = 2000, .batch = 32, .warmup_steps = 100, .lr = 2e-3f, .lr_min = 2e-5f,
                                    .hp = estimator_train_params_default(), .flip = 1, .seed = 1, .log_every = 25,
                                    .val_every = 500, .save_every = 250};
}

float estimator_lr_at(const estimator_train_config *cfg, int step) {
    return train_lr_at(cfg->lr, cfg->lr_min, cfg->warmup_steps, cfg->steps, step);
}

void estimator_mirror(float *x, float *yaw_rate, int B, int W, int H) {
    const size_t rows = (size_t)B * ESTIMATOR_INPUTS * H;
    for (size_t r = 0; r < rows; r++) {
        float *row = x + r * W;
        for (int i = 0, j = W - 1; i < j; i++, j--) {
            float t = row[i];
            row[i] = row[j], row[j] = t;
        }
    }
    for (int b = 0; b < B; b++) yaw_rate[b] = -yaw_rate[b];
}

#define CSV_HEADER "step,lr,loss,speed_mae,yaw_mae,grad_norm,pairs_per_s,val_loss,val_speed_mae,val_yaw_mae\n"

typedef struct {
    double loss, speed_mae, yaw_mae, grad_norm;
    int n;
} interval_sums;

static void progress_line(const estimator_train_config *cfg, int step, const interval_sums *s, double rate,
                          const estimator_eval *val, int final) {
    double eta = rate > 0 ? (double)(cfg->steps - step) * cfg->batch / rate : 0;
    fprintf(stderr, "\rstep %d/%d  loss %.4f  speed %.2f m/s  yaw %.4f rad/s", step, cfg->steps, s->loss / s->n,
            s->speed_mae / s->n, s->yaw_mae / s->n);
    if (val->pairs) fprintf(stderr, "  val %.2f m/s %.4f rad/s", val->speed_mae, val->yaw_mae);
    fprintf(stderr, "  %.1f pairs/s  ETA %dm%02ds   %s", rate, (int)eta / 60, (int)eta % 60, final ? "\n" : "");
    fflush(stderr);
}

/* The pair order (the caller's stream_id) and the augmentation: a resume
 * must keep them. */
static uint64_t run_id(const estimator_train_config *cfg) {
    return cfg->stream_id ^ ((cfg->flip ? cfg->seed : ~cfg->seed) * UINT64_C(0x9e3779b97f4a7c15));
}

static int save_checkpoint(estimator *est, const estimator_train_config *cfg, const char *state_path, int step,
                           wm_error *err) {
    ckpt_train_progress p = {.step = (uint64_t)step, .position = (uint64_t)step * cfg->batch};
    train_progress_tag(&p, cfg->batch, run_id(cfg));
    /* The model first: a resume reads the model's architecture from
     * out_path, so a kill between the two files must not leave a state
     * without a model. The state alone decides where a resume continues. */
    if (estimator_save(est, cfg->out_path, NULL, err)) return -1;
    return estimator_save_state(est, state_path, &p, err);
}

/* Mirrors the batch's pairs that their rng picks; pair b is the stream's
 * pair first + b. */
static void augment(const estimator_train_config *cfg, const estimator *est, uint64_t first, float *x, float *yaw) {
    if (!cfg->flip) return;
    const int W = est->cfg.width, H = est->cfg.height;
    const size_t pair = (size_t)ESTIMATOR_INPUTS * W * H;
    for (int b = 0; b < cfg->batch; b++) {
        wm_rng rng = rng_fork(cfg->seed, first + (uint64_t)b);
        if (rng_uniform(&rng) < 0.5) estimator_mirror(x + b * pair, yaw + b, 1, W, H);
    }
}

static int validate_now(const estimator_train_config *cfg, int step, int last) {
    return cfg->val_x && cfg->val_speed && cfg->val_yaw_rate && cfg->n_val > 0 &&
           (last || (cfg->val_every > 0 && step % cfg->val_every == 0));
}

int estimator_train(estimator *est, const estimator_train_config *cfg, const estimator_pair_stream *data,
                    estimator_train_report *rep, wm_error *err) {
    memset(rep, 0, sizeof *rep);
    if (cfg->steps < 1) return wm_fail(err, "estimator train: steps %d below 1", cfg->steps);
    if (cfg->stop_at < 0 || cfg->stop_at > cfg->steps)
        return wm_fail(err, "estimator train: stop at step %d outside [1, %d]", cfg->stop_at, cfg->steps);
    const int end = cfg->stop_at ? cfg->stop_at : cfg->steps;
    if (cfg->batch < 1 || cfg->batch > est->max_batch)
        return wm_fail(err, "estimator train: batch %d outside [1, %d]", cfg->batch, est->max_batch);
    if (!cfg->out_path) return wm_fail(err, "estimator train: no output path");
    if (train_schedule_check("estimator train", cfg->lr, cfg->lr_min, cfg->warmup_steps, err)) return -1;
    char state_path[4096];
    if (train_state_path(cfg->out_path, cfg->resume, state_path, sizeof state_path, err)) return -1;

    int step = 0;
    if (cfg->resume) {
        ckpt_train_progress p;
        if (estimator_load_state(est, state_path, &p, err)) return wm_error_prefix(err, "resume: ");
        if (train_progress_check(&p, state_path, cfg->batch, run_id(cfg), end, err)) return -1;
        step = (int)p.step;
        if (data->seek(data->ctx, (uint64_t)step * cfg->batch, err)) return -1;
    }
    FILE *csv;
    if (train_csv_open(cfg->log_path, CSV_HEADER, cfg->resume, step, &csv, err)) return -1;

    const size_t B = (size_t)cfg->batch, pair = (size_t)ESTIMATOR_INPUTS * est->cfg.width * est->cfg.height;
    float *x = MALLOC_CHECK(B * pair * sizeof(float));
    float *speed = MALLOC_CHECK(B * sizeof(float)), *yaw = MALLOC_CHECK(B * sizeof(float));
    rep->first_step = step + 1;
    interval_sums sums = {0};
    double t0 = clock_now_s(), t_interval = t0;
    int rc = 0, log_every = cfg->log_every > 0 ? cfg->log_every : 25;
    while (step < end) {
        if (data->next(data->ctx, x, speed, yaw, cfg->batch, err)) {
            rc = -1;
            break;
        }
        augment(cfg, est, (uint64_t)step * cfg->batch, x, yaw);
        step++;
        float lr = estimator_lr_at(cfg, step);
        estimator_step_stats st;
        float loss = estimator_train_step(est, x, speed, yaw, cfg->batch, &cfg->hp, lr, step, &st);
        if (!isfinite(loss)) {
            rc = wm_fail(err, "estimator train: step %d: loss is %g; the last checkpoint (%s) is kept", step,
                         (double)loss, cfg->out_path);
            break;
        }
        sums.loss += st.loss, sums.speed_mae += st.speed_mae, sums.yaw_mae += st.yaw_mae;
        sums.grad_norm += st.grad_norm, sums.n++;

        int last = step == end, validate = validate_now(cfg, step, last);
        if (validate) estimator_evaluate(est, cfg->val_x, cfg->val_speed, cfg->val_yaw_rate, cfg->n_val, &rep->val);
        if (step % log_every == 0 || last || validate) {
            double t = clock_now_s(), rate = sums.n * cfg->batch / fmax(t - t_interval, 1e-6);
            rep->loss = (float)(sums.loss / sums.n), rep->speed_mae = (float)(sums.speed_mae / sums.n);
            rep->yaw_mae = (float)(sums.yaw_mae / sums.n);
            if (csv) {
                fprintf(csv, "%d,%.6g,%.6g,%.6g,%.6g,%.6g,%.2f", step, lr, sums.loss / sums.n, sums.speed_mae / sums.n,
                        sums.yaw_mae / sums.n, sums.grad_norm / sums.n, rate);
                if (validate) fprintf(csv, ",%.6g,%.6g,%.6g\n", rep->val.loss, rep->val.speed_mae, rep->val.yaw_mae);
                else fputs(",,,\n", csv);
                fflush(csv);
            }
            if (cfg->progress)
                progress_line(cfg, step, &sums, (step - rep->first_step + 1) * cfg->batch / fmax(t - t0, 1e-6),
                              &rep->val, last);
            memset(&sums, 0, sizeof sums);
            t_interval = t;
        }
        if ((last || (cfg->save_every > 0 && step % cfg->save_every == 0)) &&
            save_checkpoint(est, cfg, state_path, step, err)) {
            rc = -1;
            break;
        }
    }
    rep->steps = step;
    rep->seconds = clock_now_s() - t0;
    rep->pairs_per_s = rep->seconds > 0 ? (step - rep->first_step + 1) * cfg->batch / rep->seconds : 0;
    if (csv && fclose(csv) && !rc) rc = wm_fail(err, "%s: %s", cfg->log_path, strerror(errno));
    free(x), free(speed), free(yaw);
    return rc;
}
