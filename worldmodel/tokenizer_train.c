/* tokenizer_train.c — the tokenizer's training loop (see tokenizer_train.h). */
#include "worldmodel/tokenizer_train.h"

#include <errno.h>
#include <sys/stat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/check.h"
#include "core/fileio.h"
#include "core/mathx.h"

tokenizer_train_config tokenizer_train_config_default(void) {
    return (tokenizer_train_config){.steps = 10000, .batch = 16, .warmup_steps = 200, .lr = 2e-3f, .lr_min = 2e-5f,
                                    .hp = tokenizer_train_params_default(), .log_every = 50, .val_every = 1000,
                                    .save_every = 500};
}

float tokenizer_lr_at(const tokenizer_train_config *cfg, int step) {
    /* Short runs (tests, smoke runs) still reach the peak rate. */
    int warmup = cfg->warmup_steps < cfg->steps / 10 ? cfg->warmup_steps : cfg->steps / 10;
    if (step <= warmup) return cfg->lr * (float)step / (float)warmup;
    double span = cfg->steps - warmup, done = (step - warmup) / (span > 0 ? span : 1);
    if (done > 1) done = 1;
    return cfg->lr_min + (cfg->lr - cfg->lr_min) * (float)(0.5 * (1.0 + cos(WM_PI * done)));
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

#define CSV_HEADER                                                                                                   \
    "step,lr,loss,recon,gradient,commit,train_psnr,codes_used,restarted,images_per_s,val_psnr,val_ssim,"            \
    "val_codes_used,val_perplexity\n"

/* The CSV as it stood at `step`: the header and the rows up to it (a
 * resumed run rewrites what the crashed one logged after its checkpoint). */
static int csv_truncate(const char *path, int step, wm_error *err) {
    uint8_t *data = NULL;
    size_t len = 0;
    struct stat sb;
    if (stat(path, &sb) != 0 && errno == ENOENT) return file_write_atomic(path, CSV_HEADER, strlen(CSV_HEADER), err);
    if (file_read_all(path, (size_t)1 << 30, &data, &len, err)) return -1;
    size_t keep = 0;
    for (size_t line = 0; line < len;) {
        size_t end = line;
        while (end < len && data[end] != '\n') end++;
        int row_step = atoi((const char *)data + line); /* the header reads as 0 */
        if (row_step > step) break;
        keep = end < len ? end + 1 : end;
        line = keep;
    }
    int rc = file_write_atomic(path, keep ? (const char *)data : CSV_HEADER, keep ? keep : strlen(CSV_HEADER), err);
    free(data);
    return rc;
}

typedef struct {
    double loss, recon, gradient, commit, psnr;
    int codes_used, restarted, n;
} interval_sums;

static void progress_line(const tokenizer_train_config *cfg, int step, const interval_sums *s, double rate,
                          const tokenizer_eval *val, int final) {
    double eta = rate > 0 ? (double)(cfg->steps - step) * cfg->batch / rate : 0;
    fprintf(stderr, "\rstep %d/%d  loss %.4f  psnr %.2f dB", step, cfg->steps, s->loss / s->n, s->psnr / s->n);
    if (val->frames) fprintf(stderr, "  val %.2f dB", val->psnr);
    fprintf(stderr, "  %.1f img/s  ETA %dm%02ds   %s", rate, (int)eta / 60, (int)eta % 60, final ? "\n" : "");
    fflush(stderr);
}

/* The trainer's own slots of the state's config. */
#define SLOT_BATCH CKPT_TRAIN_SLOT_FREE
#define SLOT_STREAM_ID (CKPT_TRAIN_SLOT_FREE + 2)

static int save_checkpoint(tokenizer *tk, const tokenizer_train_config *cfg, const char *state_path, int step,
                           wm_error *err) {
    ckpt_train_progress p = {.step = (uint64_t)step, .position = (uint64_t)step * cfg->batch};
    ckpt_config_put_u64(p.own, SLOT_BATCH - CKPT_TRAIN_SLOT_FREE, (uint64_t)cfg->batch);
    ckpt_config_put_u64(p.own, SLOT_STREAM_ID - CKPT_TRAIN_SLOT_FREE, cfg->stream_id);
    /* The state first: it alone is enough to resume. */
    if (tokenizer_save_state(tk, state_path, &p, err)) return -1;
    return tokenizer_save(tk, cfg->out_path, NULL, err);
}

int tokenizer_train(tokenizer *tk, const tokenizer_train_config *cfg, const frame_stream *data,
                    tokenizer_train_report *rep, wm_error *err) {
    memset(rep, 0, sizeof *rep);
    if (cfg->steps < 1) return wm_fail(err, "tokenizer train: steps %d below 1", cfg->steps);
    if (cfg->stop_at < 0 || cfg->stop_at > cfg->steps)
        return wm_fail(err, "tokenizer train: stop at step %d outside [1, %d]", cfg->stop_at, cfg->steps);
    const int end = cfg->stop_at ? cfg->stop_at : cfg->steps;
    if (cfg->batch < 1 || cfg->batch > tk->max_batch)
        return wm_fail(err, "tokenizer train: batch %d outside [1, %d]", cfg->batch, tk->max_batch);
    if (!cfg->out_path) return wm_fail(err, "tokenizer train: no output path");
    if (cfg->warmup_steps < 0 || cfg->lr <= 0 || cfg->lr_min < 0 || cfg->lr_min > cfg->lr)
        return wm_fail(err, "tokenizer train: learning rate %g to %g with %d warm-up steps is not a schedule",
                       cfg->lr, cfg->lr_min, cfg->warmup_steps);
    char state_path[4096];
    if (snprintf(state_path, sizeof state_path, "%s.state", cfg->out_path) >= (int)sizeof state_path)
        return wm_fail(err, "%s: path too long", cfg->out_path);

    int step = 0;
    struct stat sb;
    if (!cfg->resume && stat(state_path, &sb) == 0)
        return wm_fail(err, "%s: a training state is already there: resume it, or remove it to start afresh",
                       state_path);
    if (cfg->resume) {
        ckpt_train_progress p;
        if (tokenizer_load_state(tk, state_path, &p, err)) return wm_error_prefix(err, "resume: ");
        uint64_t batch = ckpt_config_get_u64(p.own, SLOT_BATCH - CKPT_TRAIN_SLOT_FREE);
        uint64_t stream = ckpt_config_get_u64(p.own, SLOT_STREAM_ID - CKPT_TRAIN_SLOT_FREE);
        if (batch != (uint64_t)cfg->batch || stream != cfg->stream_id)
            return wm_fail(err,
                           "%s: trained with batch %llu on stream %llu, but this run has batch %d on stream %llu: a "
                           "resume must read the frames in the same order",
                           state_path, (unsigned long long)batch, (unsigned long long)stream, cfg->batch,
                           (unsigned long long)cfg->stream_id);
        if (p.step >= (uint64_t)end)
            return wm_fail(err, "%s: training already took %llu steps; ask for more than that with --steps", state_path,
                           (unsigned long long)p.step);
        step = (int)p.step;
        if (data->seek(data->ctx, (uint64_t)step * cfg->batch, err)) return -1;
    }
    if (cfg->log_path && (cfg->resume ? csv_truncate(cfg->log_path, step, err)
                                      : file_write_atomic(cfg->log_path, CSV_HEADER, strlen(CSV_HEADER), err)))
        return -1;
    FILE *csv = cfg->log_path ? fopen(cfg->log_path, "a") : NULL;
    if (cfg->log_path && !csv) return wm_fail(err, "%s: %s", cfg->log_path, strerror(errno));

    const size_t img = 3 * (size_t)tk->cfg.width * tk->cfg.height;
    float *x = MALLOC_CHECK((size_t)cfg->batch * img * sizeof(float));
    rep->first_step = step + 1;
    interval_sums sums = {0};
    double t0 = now_s(), t_interval = t0;
    int rc = 0, log_every = cfg->log_every > 0 ? cfg->log_every : 50;
    while (step < end) {
        if (data->next(data->ctx, x, cfg->batch, err)) {
            rc = -1;
            break;
        }
        step++;
        float lr = tokenizer_lr_at(cfg, step);
        tokenizer_step_stats st;
        tokenizer_train_step(tk, x, cfg->batch, &cfg->hp, lr, step, &st);
        if (!isfinite(st.loss)) {
            rc = wm_fail(err, "tokenizer train: step %d: loss is %g; the last checkpoint (%s) is kept", step, st.loss,
                         cfg->out_path);
            break;
        }
        sums.loss += st.loss, sums.recon += st.recon, sums.gradient += st.gradient, sums.commit += st.commit;
        sums.psnr += st.psnr, sums.codes_used += st.codes_used, sums.restarted += st.restarted, sums.n++;

        int last = step == end;
        int validate = cfg->val_frames && cfg->n_val > 0 && (last || (cfg->val_every > 0 && step % cfg->val_every == 0));
        if (validate && tokenizer_evaluate(tk, cfg->val_frames, cfg->n_val, NULL, &rep->val, err)) {
            rc = -1;
            break;
        }
        if (step % log_every == 0 || last || validate) {
            double t = now_s(), rate = sums.n * cfg->batch / fmax(t - t_interval, 1e-6);
            rep->loss = (float)(sums.loss / sums.n), rep->train_psnr = (float)(sums.psnr / sums.n);
            if (csv) {
                fprintf(csv, "%d,%.6g,%.6g,%.6g,%.6g,%.6g,%.4f,%.1f,%d,%.2f", step, lr, sums.loss / sums.n,
                        sums.recon / sums.n, sums.gradient / sums.n, sums.commit / sums.n, sums.psnr / sums.n,
                        (double)sums.codes_used / sums.n, sums.restarted, rate);
                if (validate)
                    fprintf(csv, ",%.4f,%.5f,%d,%.1f\n", rep->val.psnr, rep->val.ssim, rep->val.codes_used,
                            rep->val.perplexity);
                else
                    fputs(",,,,\n", csv);
                fflush(csv);
            }
            if (cfg->progress) progress_line(cfg, step, &sums, (step - rep->first_step + 1) * cfg->batch / fmax(t - t0, 1e-6),
                                            &rep->val, last);
            memset(&sums, 0, sizeof sums);
            t_interval = t;
        }
        if ((last || (cfg->save_every > 0 && step % cfg->save_every == 0)) &&
            save_checkpoint(tk, cfg, state_path, step, err)) {
            rc = -1;
            break;
        }
    }
    rep->steps = step;
    rep->seconds = now_s() - t0;
    rep->images_per_s = rep->seconds > 0 ? (step - rep->first_step + 1) * cfg->batch / rep->seconds : 0;
    if (csv && fclose(csv) && !rc) rc = wm_fail(err, "%s: %s", cfg->log_path, strerror(errno));
    free(x);
    return rc;
}
