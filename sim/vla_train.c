/* vla_train.c — behaviour cloning with DAgger for vla-tiny (see vla_train.h).
 *
 * Gathering reuses the closed loop itself: one episode per variation runs
 * through episode_run with an oracle camera feed and a "gatherer" policy
 * that reads the privileged world (for the expert's label) and the frame
 * (for the record and the network), and drives with whichever the round's
 * mixture picks. */
#include "sim/vla_train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/clock.h"
#include "core/rng.h"
#include "sim/camera_feed.h"
#include "sim/episode.h"
#include "sim/policy.h"
#include "worldmodel/train_run.h"

#define LOSS_WINDOW 100

vla_train_config vla_train_config_default(void) {
    return (vla_train_config){.model = vla_config_default(), .rounds = 4, .variations = 8, .steps_first = 2000,
                              .steps = 1500, .batch = 32, .lr = 2e-3f, .lr_min = 2e-5f, .warmup = 50,
                              .brake_weight = 20.0f, .eval_seeds = 3, .seed = 1};
}

/* ---- the gathered data ---------------------------------------------------- */

typedef struct {
    size_t frame_bytes;
    uint8_t *frames;       /* every recorded frame, in order */
    size_t n_frames, cap_frames;
    /* per sample: its frame, the frame gap steps earlier (in the same episode), speed, text, label */
    size_t *now, *earlier;
    float *speed, *text, *label;
    size_t n, cap;
    int text_dims;
} vla_data;

static void data_push_frame(vla_data *d, const uint8_t *rgb) {
    if (d->n_frames == d->cap_frames) {
        d->cap_frames = d->cap_frames ? 2 * d->cap_frames : 1024;
        d->frames = REALLOC_CHECK(d->frames, d->cap_frames, d->frame_bytes);
    }
    memcpy(d->frames + d->n_frames++ * d->frame_bytes, rgb, d->frame_bytes);
}

static void data_push_sample(vla_data *d, size_t now, size_t earlier, float speed, const float *text,
                             const float label[VLA_OUTPUTS]) {
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 1024;
        d->now = REALLOC_CHECK(d->now, d->cap, sizeof *d->now);
        d->earlier = REALLOC_CHECK(d->earlier, d->cap, sizeof *d->earlier);
        d->speed = REALLOC_CHECK(d->speed, d->cap, sizeof *d->speed);
        d->text = REALLOC_CHECK(d->text, d->cap * (size_t)(d->text_dims + 1), sizeof *d->text);
        d->label = REALLOC_CHECK(d->label, d->cap * VLA_OUTPUTS, sizeof *d->label);
    }
    d->now[d->n] = now, d->earlier[d->n] = earlier, d->speed[d->n] = speed;
    memcpy(d->text + d->n * (size_t)(d->text_dims + 1), text, (size_t)d->text_dims * sizeof(float));
    memcpy(d->label + d->n * VLA_OUTPUTS, label, sizeof(float) * VLA_OUTPUTS);
    d->n++;
}

static void data_free(vla_data *d) {
    free(d->frames), free(d->now), free(d->earlier), free(d->speed), free(d->text), free(d->label);
    memset(d, 0, sizeof *d);
}

/* ---- the gatherer: records, labels, and drives by the round's mixture ------ */

typedef struct {
    vla_data *data;
    vla *net;
    policy label;          /* the expert whose answers are the labels */
    policy driver;         /* round 0: the expert with exploration */
    int round;
    double expert_p;       /* per step, the expert's chance to drive (rounds >= 1) */
    wm_rng rng;
    size_t episode_first;  /* this episode's first frame */
    float text[VLA_MAX_TEXT];
    float *x;              /* one sample's planes */
    long steps, expert_steps;
} gatherer;

static int gatherer_reset(policy *self, const sim_world *w, wm_error *err) {
    gatherer *g = self->state;
    g->episode_first = g->data->n_frames;
    vla_text_embedding(w->sc->instruction, g->data->text_dims, g->text);
    if (g->label.reset(&g->label, w, err)) return -1;
    return g->round == 0 ? g->driver.reset(&g->driver, w, err) : 0;
}

static void normalise_label(const action *a, const action_limits *lim, float out[VLA_OUTPUTS]) {
    vla_action_target(a->accel / lim->accel_max, a->brake / lim->brake_max, a->steer / lim->steer_max, out);
}

static int gatherer_act(policy *self, const policy_observation *obs, action *cmd, char reasoning[POLICY_REASONING_MAX],
                        wm_error *err) {
    gatherer *g = self->state;
    vla_data *d = g->data;
    size_t now = d->n_frames;
    data_push_frame(d, obs->frame->rgb);
    int gap = g->net->cfg.gap;
    size_t earlier = now - g->episode_first >= (size_t)gap ? now - (size_t)gap : g->episode_first;
    action label;
    if (g->label.act(&g->label, obs, &label, reasoning, err)) return -1;
    float target[VLA_OUTPUTS];
    normalise_label(&label, obs->limits, target);
    data_push_sample(d, now, earlier, (float)obs->speed, g->text, target);
    g->steps++;
    if (g->round == 0) {
        g->expert_steps++;
        if (g->driver.act(&g->driver, obs, cmd, reasoning, err)) return -1;
    } else if (rng_uniform(&g->rng) < g->expert_p) {
        g->expert_steps++;
        *cmd = label;
    } else {
        float out[VLA_OUTPUTS];
        vla_input(g->net, d->frames + now * d->frame_bytes, d->frames + earlier * d->frame_bytes, (float)obs->speed,
                  g->text, g->x);
        vla_forward(g->net, g->x, 1, out);
        double f[VLA_OUTPUTS];
        vla_output_action(out, f);
        *cmd = (action){f[0] * obs->limits->accel_max, f[1] * obs->limits->brake_max, f[2] * obs->limits->steer_max};
    }
    action_clamp(cmd, obs->limits); /* exploration may step past a limit; the label never drives out of range */
    return 0;
}

static void gatherer_destroy(policy *self) { (void)self; }

/* ---- rounds ------------------------------------------------------------------ */

static int config_check(const vla_train_config *c, wm_error *err) {
    if (c->n_scenarios < 1 || c->n_scenarios > VLA_TRAIN_MAX_SCENARIOS)
        return wm_fail(err, "vla train: %d scenarios outside [1, %d]", c->n_scenarios, VLA_TRAIN_MAX_SCENARIOS);
    if (c->rounds < 1 || c->rounds > 16) return wm_fail(err, "vla train: rounds %d outside [1, 16]", c->rounds);
    if (c->variations < 1 || c->variations > 10000)
        return wm_fail(err, "vla train: variations %d outside [1, 10000]", c->variations);
    if (c->steps_first < 1 || c->steps < 1) return wm_fail(err, "vla train: steps must be at least 1");
    if (c->batch < 1 || c->batch > 1024) return wm_fail(err, "vla train: batch %d outside [1, 1024]", c->batch);
    if (!(c->ema_decay >= 0.0f && c->ema_decay < 1.0f))
        return wm_fail(err, "vla train: ema decay %g outside [0, 1)", (double)c->ema_decay);
    if (!(c->brake_weight >= 0.0f && c->brake_weight <= 1000.0f))
        return wm_fail(err, "vla train: brake weight %g outside [0, 1000]", (double)c->brake_weight);
    if (c->eval_seeds < 0 || c->eval_seeds > 1000)
        return wm_fail(err, "vla train: eval seeds %d outside [0, 1000]", c->eval_seeds);
    return train_schedule_check("vla train", c->lr, c->lr_min, c->warmup, err);
}

/* Drives variation `variation` of scenario sc_in with the gatherer. */
static int gather_episode(policy *gp, const scenario *sc_in, int variation, camera_feed *feed,
                          wm_error *err) {
    scenario sc = *sc_in; /* scenario_vary changes plain fields only; the copy shares sc_in's buffers */
    scenario_vary(&sc, variation);
    episode_config ec = {.sc = &sc, .seed = sc.seed, .pol = gp, .feed = feed};
    episode_result res;
    return episode_run(&ec, &res, err);
}

/* Sample i's weight in the batches, growing with its label's braking:
 * hard braking (a guard's STOP close ahead, a lead stopping) is what most
 * failures lack, and it is rare among cruising steps. */
static double sample_weight(const vla_data *d, size_t i, float brake_weight) {
    return 1.0 + brake_weight * d->label[i * VLA_OUTPUTS + 1];
}

/* A sample drawn with probability proportional to its weight (cum: the
 * weights' running sums). */
static size_t draw_sample(const double *cum, size_t n, wm_rng *rng) {
    double u = rng_uniform(rng) * cum[n - 1];
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cum[mid] > u) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/* Trains one round; the loss averaged over its first and its last
 * `window` steps (a quarter of them, at most LOSS_WINDOW) into *first and
 * the return value (NaN on a failure, err set). */
static float train_round(vla *net, const vla_data *d, int steps, const vla_train_config *c, wm_rng *rng,
                         float *x, float *target, float *ema, double t0, int round, float *first, wm_error *err) {
    const size_t per = vla_input_floats(net);
    estimator_train_params hp = estimator_train_params_default();
    double loss_sum = 0, *cum = MALLOC_CHECK(d->n * sizeof *cum), run = 0;
    for (size_t i = 0; i < d->n; i++) cum[i] = run += sample_weight(d, i, c->brake_weight);
    int loss_n = 0, window = steps / 4 < 1 ? 1 : steps / 4 > LOSS_WINDOW ? LOSS_WINDOW : steps / 4;
    double first_sum = 0;
    for (int step = 1; step <= steps; step++) {
        for (int b = 0; b < c->batch; b++) {
            size_t i = draw_sample(cum, d->n, rng);
            vla_input(net, d->frames + d->now[i] * d->frame_bytes, d->frames + d->earlier[i] * d->frame_bytes,
                      d->speed[i], d->text + i * (size_t)(d->text_dims + 1), x + (size_t)b * per);
            memcpy(target + (size_t)b * VLA_OUTPUTS, d->label + i * VLA_OUTPUTS, sizeof(float) * VLA_OUTPUTS);
        }
        float lr = train_lr_at(c->lr, c->lr_min, c->warmup, steps, step);
        float loss = vla_train_step(net, x, target, c->batch, &hp, lr, step, NULL);
        if (!isfinite(loss)) {
            free(cum);
            return wm_fail(err, "vla train: round %d step %d: loss is %g", round, step, (double)loss), NAN;
        }
        if (ema) {
            const float a = c->ema_decay, *p = net->net.params;
            for (size_t j = 0; j < net->net.n_params; j++) ema[j] = a * ema[j] + (1.0f - a) * p[j];
        }
        if (step <= window) first_sum += loss;
        if (step > steps - window) loss_sum += loss, loss_n++;
        if (c->progress && (step % 10 == 0 || step == steps)) {
            double el = clock_now_s() - t0;
            fprintf(stderr, "\r  vla round %d: step %d/%d  loss %.4f  %.1f samples/s  (%.0f s elapsed) ", round, step,
                    steps, (double)loss, step * c->batch / fmax(el, 1e-6), el);
            fflush(stderr);
        }
    }
    if (c->progress) fputc('\n', stderr);
    free(cum);
    *first = (float)(first_sum / window);
    return (float)(loss_sum / (loss_n ? loss_n : 1));
}

int vla_train_evaluate(const char *policy_spec, const char *const *scenarios, int n, int seeds, int *passed,
                       int *total_passed, wm_error *err) {
    *total_passed = 0;
    policy pol;
    if (policy_create(policy_spec, NULL, &pol, err)) return -1;
    camera_feed *feed = NULL;
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        scenario sc;
        if (scenario_load(scenarios[i], &sc, err)) {
            rc = -1;
            break;
        }
        camera_feed_options fo = camera_feed_options_default();
        fo.cp = sc.camera;
        camera_feed_close(feed);
        feed = NULL;
        if (pol.sees_frames && camera_feed_open(&feed, &fo, err)) rc = -1;
        if (passed) passed[i] = 0;
        for (int s = 1; s <= seeds && !rc; s++) {
            episode_config ec = {.sc = &sc, .seed = (uint64_t)s, .pol = &pol, .feed = feed};
            episode_result res;
            if (episode_run(&ec, &res, err)) rc = -1;
            else if (res.m.passed) {
                (*total_passed)++;
                if (passed) passed[i]++;
            }
        }
        scenario_free(&sc);
    }
    camera_feed_close(feed);
    pol.destroy(&pol);
    return rc;
}

int vla_train(const vla_train_config *c, vla_train_report *rep, wm_error *err) {
    memset(rep, 0, sizeof *rep);
    if (config_check(c, err)) return -1;
    vla net;
    if (vla_init(&net, &c->model, c->batch, c->seed, err)) return -1;
    rep->parameters = net.net.n_params;
    const int W = net.cfg.net.width, H = net.cfg.net.height;

    scenario *scs = CALLOC_CHECK((size_t)c->n_scenarios, sizeof *scs);
    int loaded = 0, rc = scenario_load_all("vla train", c->scenarios, c->n_scenarios, scs, &loaded, err);
    char csv_path[4200];
    snprintf(csv_path, sizeof csv_path, "%s.csv", c->out_path);
    FILE *csv = NULL;
    if (!rc && !(csv = fopen(csv_path, "w"))) rc = wm_fail(err, "%s: cannot create: %s", csv_path, strerror(errno));
    if (csv) fputs("round,samples,expert_share,loss,eval_passed,eval_episodes,seconds\n", csv);

    vla_data data = {.frame_bytes = (size_t)W * H * 3, .text_dims = net.cfg.text_dims};
    gatherer g = {.data = &data, .net = &net, .x = CALLOC_CHECK(vla_input_floats(&net), sizeof(float))};
    policy gp = {.sees_frames = 1, .state = &g, .reset = gatherer_reset, .act = gatherer_act,
                 .destroy = gatherer_destroy};
    snprintf(gp.name, sizeof gp.name, "vla-train");
    policy_expert_init(&g.label);
    policy inner;
    policy_expert_init(&inner);
    policy_explore_wrap(&inner, c->seed ^ 0x6578706c6f7265ULL, &g.driver);
    float *x = MALLOC_CHECK((size_t)c->batch * vla_input_floats(&net) * sizeof(float));
    float *target = MALLOC_CHECK((size_t)c->batch * VLA_OUTPUTS * sizeof(float));
    wm_rng batch_rng = rng_fork(c->seed, 2);
    const size_t bytes = net.net.n_params * sizeof(float);
    float *ema = NULL, *raw = NULL;
    if (c->ema_decay > 0) {
        ema = MALLOC_CHECK(bytes), raw = MALLOC_CHECK(bytes);
        memcpy(ema, net.net.params, bytes), memcpy(raw, net.net.params, bytes);
    }
    g.rng = rng_fork(c->seed, 3);
    camera_feed *feed = NULL;
    const double t0 = clock_now_s();

    for (int round = 0; round < c->rounds && !rc; round++) {
        g.round = round, g.expert_p = round ? pow(0.5, round) : 1.0, g.steps = g.expert_steps = 0;
        for (int i = 0; i < c->n_scenarios && !rc; i++) {
            camera_feed_options fo = camera_feed_options_default();
            fo.cp = scs[i].camera;
            fo.cp.width = W, fo.cp.height = H;
            camera_feed_close(feed);
            feed = NULL;
            if (camera_feed_open(&feed, &fo, err)) {
                rc = -1;
                break;
            }
            for (int v = 0; v < c->variations && !rc; v++) {
                /* Variation 0 is the scenario as written, kept for evaluation: training sees 1, 2, ... */
                int variation = 1 + round * c->variations + v;
                if (gather_episode(&gp, &scs[i], variation, feed, err)) rc = -1;
            }
            if (c->progress)
                fprintf(stderr, "\r  vla round %d: gathered %zu samples (%d/%d scenarios) ", round, data.n, i + 1,
                        c->n_scenarios);
        }
        if (rc) break;
        if (c->progress) fputc('\n', stderr);
        vla_train_round *r = &rep->rounds[rep->n_rounds++];
        r->round = round, r->samples = (int)data.n;
        r->expert_share = g.steps ? (double)g.expert_steps / g.steps : 0;
        if (ema) memcpy(net.net.params, raw, bytes); /* training goes on from its own weights */
        r->loss = train_round(&net, &data, round ? c->steps : c->steps_first, c, &batch_rng, x, target, ema, t0,
                              round, &r->first_loss, err);
        /* From here to the next round's training (saving, evaluating, driving
         * the next round's episodes) the network is its weights' average. */
        if (ema) memcpy(raw, net.net.params, bytes), memcpy(net.net.params, ema, bytes);
        if (!isfinite(r->loss) || vla_save(&net, c->out_path, NULL, err)) {
            rc = -1;
            break;
        }
        if (c->eval_seeds) {
            char spec[4300];
            snprintf(spec, sizeof spec, "vla:%s", c->out_path);
            if (vla_train_evaluate(spec, c->scenarios, c->n_scenarios, c->eval_seeds, NULL, &r->eval_passed, err)) {
                rc = -1;
                break;
            }
            r->eval_episodes = c->n_scenarios * c->eval_seeds;
        }
        r->seconds = clock_now_s() - t0;
        if (csv) {
            fprintf(csv, "%d,%d,%.4f,%.6g,%d,%d,%.1f\n", round, r->samples, r->expert_share, (double)r->loss,
                    r->eval_passed, r->eval_episodes, r->seconds);
            fflush(csv);
        }
        if (c->progress)
            fprintf(stderr, "  vla round %d: %d samples, loss %.4f, passed %d/%d, %.0f s\n", round, r->samples,
                    (double)r->loss, r->eval_passed, r->eval_episodes, r->seconds);
    }
    if (csv && fclose(csv) && !rc) rc = wm_fail(err, "%s: %s", csv_path, strerror(errno));
    camera_feed_close(feed);
    g.label.destroy(&g.label);
    g.driver.destroy(&g.driver);
    free(g.x), free(x), free(target), free(ema), free(raw);
    data_free(&data);
    for (int i = 0; i < loaded; i++) scenario_free(&scs[i]);
    free(scs);
    vla_free(&net);
    return rc;
}
