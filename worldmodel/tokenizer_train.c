/* tokenizer_train.c — the tokenizer's training loop (see tokenizer_train.h). */
#include "worldmodel/tokenizer_train.h"

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

tokenizer_train_config tokenizer_train_config_default(void) {
    return (tokenizer_train_config){.steps = 10000, .batch = 16, .warmup_steps = 200, .lr = 2e-3f, .lr_min = 2e-5f,
                                    .hp = tokenizer_train_params_default(), .log_every = 50, .val_every = 1000,
                                    .save_every = 500};
}

float tokenizer_lr_at(const tokenizer_train_config *cfg, int step) {
    return train_lr_at(cfg->lr, cfg->lr_min, cfg->warmup_steps, cfg->steps, step);
}


#define CSV_HEADER                                                                                                   \
    "step,lr,loss,recon,gradient,commit,train_psnr,codes_used,restarted,images_per_s,val_psnr,val_ssim,"            \
    "val_codes_used,val_perplexity\n"


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

static int save_checkpoint(tokenizer *tk, const tokenizer_train_config *cfg, const char *state_path, int step,
                           wm_error *err) {
    ckpt_train_progress p = {.step = (uint64_t)step, .position = (uint64_t)step * cfg->batch};
    train_progress_tag(&p, cfg->batch, cfg->stream_id);
    /* The model first: a resume reads the model's architecture from
     * out_path, so a kill between the two files must not leave a state
     * without a model (the first save would then be neither resumable nor
     * restartable). A model a save ahead of its state is harmless: the
     * state alone decides where a resumed run continues. */
    if (tokenizer_save(tk, cfg->out_path, NULL, err)) return -1;
    return tokenizer_save_state(tk, state_path, &p, err);
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
    if (train_schedule_check("tokenizer train", cfg->lr, cfg->lr_min, cfg->warmup_steps, err)) return -1;
    char state_path[4096];
    if (train_state_path(cfg->out_path, cfg->resume, state_path, sizeof state_path, err)) return -1;

    int step = 0;
    if (cfg->resume) {
        ckpt_train_progress p;
        if (tokenizer_load_state(tk, state_path, &p, err)) return wm_error_prefix(err, "resume: ");
        if (train_progress_check(&p, state_path, cfg->batch, cfg->stream_id, end, err)) return -1;
        step = (int)p.step;
        if (data->seek(data->ctx, (uint64_t)step * cfg->batch, err)) return -1;
    }
    FILE *csv;
    if (train_csv_open(cfg->log_path, CSV_HEADER, cfg->resume, step, &csv, err)) return -1;

    const size_t img = 3 * (size_t)tk->cfg.width * tk->cfg.height;
    float *x = MALLOC_CHECK((size_t)cfg->batch * img * sizeof(float));
    rep->first_step = step + 1;
    interval_sums sums = {0};
    double t0 = clock_now_s(), t_interval = t0;
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
            double t = clock_now_s(), rate = sums.n * cfg->batch / fmax(t - t_interval, 1e-6);
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
    rep->seconds = clock_now_s() - t0;
    rep->images_per_s = rep->seconds > 0 ? (step - rep->first_step + 1) * cfg->batch / rep->seconds : 0;
    if (csv && fclose(csv) && !rc) rc = wm_fail(err, "%s: %s", cfg->log_path, strerror(errno));
    free(x);
    return rc;
}
