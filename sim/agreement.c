/* agreement.c — every episode in the oracle loop and in the generative
 * loop, compared (sim/agreement.h).
 *
 * Glossary: k an episode's index (scenario-major, then seed, then
 * policy), J worker threads, W x H the generative loop's frame size (the
 * tokenizer's), which the divergence strips are drawn at. */
#include "sim/agreement.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "core/clock.h"
#include "core/fileio.h"
#include "core/version.h"
#include "render/overlay.h"
#include "render/render.h"
#include "scenarios/scenario.h"
#include "sim/batch.h"
#include "sim/episode.h"

#define STRIP_MIN_WIDTH 128 /* px: narrower frames are enlarged for the strip */
#define STRIP_ROW_STEPS 10  /* the strip's rows are whole seconds apart */

static const char *const LOOP_NAMES[AGREEMENT_LOOPS] = {"oracle", "worldmodel"};

const char *agreement_loop_name(int loop) {
    return loop >= 0 && loop < AGREEMENT_LOOPS ? LOOP_NAMES[loop] : "?";
}

const char *agreement_outcome_name(int outcome) {
    switch (outcome) {
    case AGREEMENT_PASS: return "pass";
    case FINDING_COLLISION: return "collision";
    case FINDING_OFF_ROAD: return "off_road";
    case FINDING_GUARD: return "guard";
    case FINDING_GOAL: return "goal";
    case FINDING_SCORE: return "score";
    case FINDING_POLICY: return "policy";
    default: return "?";
    }
}

agreement_config agreement_config_default(void) {
    agreement_config c = {.seeds = 1, .jobs = 1, .feed = camera_feed_options_default(),
                          .limits = policy_options_default()};
    c.feed.model_path = "models/dynamics.wmck";
    c.feed.tokenizer_path = "models/tokenizer.wmck";
    return c;
}

static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

/* -------------------------------------------------------------- naming */

/* src with every byte outside [A-Za-z0-9._-] as '_', runs of '_' as one,
 * at most max bytes, into out (n bytes). */
static void sanitise(const char *src, size_t max, char *out, size_t n) {
    size_t len = 0;
    for (const char *p = src; *p && len < max && len + 1 < n; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                 c == '-' || c == '_';
        if (!ok) c = '_';
        if (c == '_' && len > 0 && out[len - 1] == '_') continue;
        out[len++] = c;
    }
    if (n) out[len] = '\0';
}

void agreement_strip_name(const char *scenario_id, uint64_t seed, const char *policy, char *out, size_t n) {
    char sid[SCENARIO_ID_MAX + 1], pol[AGREEMENT_NAME_MAX + 1];
    sanitise(scenario_id, SCENARIO_ID_MAX, sid, sizeof sid);
    sanitise(policy, AGREEMENT_NAME_MAX, pol, sizeof pol);
    snprintf(out, n, "%s_s%" PRIu64 "_%s.png", sid, seed, pol);
}

/* ---------------------------------------------------------------- strips */

static void fill(image *img, uint8_t v) { memset(img->rgb, v, 3 * (size_t)img->width * (size_t)img->height); }

/* src enlarged k times (nearest neighbour) into dst (allocated here). */
static void enlarge(const image *src, int k, image *dst) {
    image_init(dst, src->width * k, src->height * k);
    for (int y = 0; y < dst->height; y++)
        for (int x = 0; x < dst->width; x++)
            memcpy(dst->rgb + 3 * ((size_t)y * dst->width + x), src->rgb + 3 * ((size_t)(y / k) * src->width + x / k), 3);
}

int agreement_write_strip(const char *path, const agreement_strip_row *rows, int n, int width, int height,
                          wm_error *err) {
    if (n < 1 || n > AGREEMENT_MAX_STRIP_ROWS + 4)
        return wm_fail(err, "%s: strip: %d rows, expected 1..%d", path, n, AGREEMENT_MAX_STRIP_ROWS + 4);
    if (width < 1 || height < 1 || width > IMAGE_MAX_SIDE || height > IMAGE_MAX_SIDE)
        return wm_fail(err, "%s: strip: frame size %dx%d", path, width, height);
    int k = width < STRIP_MIN_WIDTH ? (STRIP_MIN_WIDTH + width - 1) / width : 1;
    const int fw = width * k, fh = height * k;
    if (3L * fw > IMAGE_MAX_SIDE || (long)n * fh > IMAGE_MAX_SIDE)
        return wm_fail(err, "%s: strip: %d rows of 3 frames %dx%d exceed %d px", path, n, fw, fh, IMAGE_MAX_SIDE);
    static const char *const what[3] = {"oracle", "wm", "wm world"};
    image out;
    image_init(&out, 3 * fw, n * fh);
    int rc = 0;
    for (int r = 0; r < n && rc == 0; r++) {
        const image *src[3] = {rows[r].oracle, rows[r].generated, rows[r].generated_world};
        int failed[3] = {rows[r].oracle_failed, rows[r].generated_failed, rows[r].generated_failed};
        image frames[3];
        char text[3][64];
        const char *labels[3];
        for (int i = 0; i < 3; i++) {
            if (src[i] && (src[i]->width != width || src[i]->height != height)) {
                for (int j = 0; j < i; j++) image_free(&frames[j]);
                rc = wm_fail(err, "%s: strip: row %d: the %s frame is %dx%d, not %dx%d", path, r, what[i],
                             src[i]->width, src[i]->height, width, height);
                break;
            }
            if (src[i]) enlarge(src[i], k, &frames[i]);
            else image_init(&frames[i], fw, fh), fill(&frames[i], 40);
            snprintf(text[i], sizeof text[i], "%s %.1fs%s", what[i], rows[r].step * SIM_DT,
                     !src[i] ? " ended" : failed[i] ? " FAIL" : "");
            labels[i] = text[i];
        }
        if (rc) break;
        image row;
        rc = overlay_side_by_side(frames, labels, 3, &row, err);
        for (int i = 0; i < 3; i++) image_free(&frames[i]);
        if (rc) break;
        memcpy(out.rgb + 3 * (size_t)r * fh * out.width, row.rgb, 3 * (size_t)fh * out.width);
        image_free(&row);
    }
    if (rc == 0) rc = image_write_png(&out, path, err);
    image_free(&out);
    return rc;
}

/* ------------------------------------------------------- frame capture */

typedef struct {
    int step;
    image img[2]; /* oracle loop: what its policy saw (or the oracle's render at W x H); world-model loop:
                     the generated frame and the oracle's render of the same world */
} kept_frame;

/* What an episode's observer records: the step each finding appeared at
 * and, for strips, frames at W x H. */
typedef struct {
    int loop;
    int frames;                 /* keep frames at all */
    int keep_all;               /* every step (the oracle loop: the other loop's failure step is not known yet) */
    int extra[2];               /* steps to keep besides the whole seconds; -1 none */
    int width, height;          /* W x H */
    renderer *r;                /* oracle loop: renders at W x H when the policy's frame is another size or absent */
    kept_frame *kept;
    int n_kept, cap_kept;
    kept_frame pending;         /* the latest frame not kept, for the episode's last step */
    int have_pending;
    int n_seen;                 /* findings seen so far */
    int finding_step[METRICS_MAX_REASONS];
    char finding[METRICS_MAX_REASONS][METRICS_REASON_LEN];
} capture;

static void copy_image(const image *src, image *dst) {
    if (dst->width != src->width || dst->height != src->height) {
        image_free(dst);
        image_init(dst, src->width, src->height);
    }
    memcpy(dst->rgb, src->rgb, 3 * (size_t)src->width * (size_t)src->height);
}

static void kept_free(kept_frame *k) {
    image_free(&k->img[0]);
    image_free(&k->img[1]);
}

static void capture_free(capture *c) {
    for (int i = 0; i < c->n_kept; i++) kept_free(&c->kept[i]);
    free(c->kept);
    kept_free(&c->pending);
    memset(c, 0, sizeof *c);
}

static int capture_observe(const episode_frame *f, void *ctx) {
    capture *c = ctx;
    const int step = f->w->step;
    int found = 0;
    for (; c->n_seen < f->m->n_reasons && c->n_seen < METRICS_MAX_REASONS; c->n_seen++, found = 1) {
        c->finding_step[c->n_seen] = step;
        memcpy(c->finding[c->n_seen], f->m->reasons[c->n_seen], METRICS_REASON_LEN);
    }
    if (!c->frames) return 0;
    int keep = c->keep_all || found || step % STRIP_ROW_STEPS == 0 || step == c->extra[0] || step == c->extra[1];
    kept_frame *k = &c->pending;
    if (keep) {
        if (c->n_kept == c->cap_kept) {
            c->cap_kept = c->cap_kept ? 2 * c->cap_kept : 64;
            c->kept = REALLOC_CHECK(c->kept, (size_t)c->cap_kept, sizeof *c->kept);
        }
        k = &c->kept[c->n_kept++];
        memset(k, 0, sizeof *k);
    } else c->have_pending = 1;
    k->step = step;
    if (c->loop == AGREEMENT_ORACLE) {
        const image *cam = f->camera;
        if (!cam || cam->width != c->width || cam->height != c->height) {
            render_frame(c->r, f->w);
            cam = &c->r->frame;
        }
        copy_image(cam, &k->img[0]);
    } else {
        copy_image(f->camera, &k->img[0]);
        copy_image(camera_feed_oracle_frame(f->feed), &k->img[1]);
    }
    return 0;
}

/* The kept frame at step, NULL when there is none. */
static const kept_frame *capture_at(const capture *c, int step) {
    for (int i = 0; i < c->n_kept; i++)
        if (c->kept[i].step == step) return &c->kept[i];
    if (c->have_pending && c->pending.step == step) return &c->pending;
    return NULL;
}

/* The step the first failure reason happened at: where the observer saw
 * it appear, else its "t=S s:" prefix (policy errors end the episode
 * before the observer runs again); -1 for untimed failures (goal, score). */
static int failure_step(const capture *c, const char *reason) {
    for (int i = 0; i < c->n_seen; i++)
        if (strcmp(c->finding[i], reason) == 0) return c->finding_step[i];
    double t;
    if (sscanf(reason, "t=%lf s:", &t) == 1 && isfinite(t) && t >= 0) return (int)llround(t / SIM_DT);
    return -1;
}

/* ------------------------------------------------------------ the run */

/* What a worker owns: its policy instances, feeds and renderer. */
typedef struct {
    policy *pols;      /* cfg->n_policies */
    int *pol_ready;
    camera_feed_slot feeds[AGREEMENT_LOOPS];
    renderer r;
    int r_ready;
} worker_state;

typedef struct {
    const agreement_config *cfg;
    scenario *scenarios;
    char (*strip_names)[AGREEMENT_NAME_MAX + 1]; /* per policy: sanitised, made distinct */
    agreement_result *res;
    pthread_mutex_t lock; /* guards res->steps */
} agreement_run_state;

/* The loop's feed for sc (opened or reopened as its camera needs). */
static int worker_feed(const agreement_config *cfg, worker_state *ws, int loop, const scenario *sc, camera_feed **out,
                       wm_error *err) {
    camera_feed_options o = camera_feed_options_default();
    if (loop == AGREEMENT_WORLDMODEL) o = cfg->feed, o.kind = CAMERA_FEED_WORLDMODEL;
    o.cp = sc->camera;
    if (camera_feed_slot_get(&ws->feeds[loop], &o, out, err)) return wm_error_prefix(err, "%s: ", sc->id);
    return 0;
}

static int worker_policy(const agreement_config *cfg, worker_state *ws, int p, policy **out, wm_error *err) {
    if (!ws->pol_ready[p]) {
        if (policy_create(cfg->policies[p], &cfg->limits, &ws->pols[p], err)) return -1;
        ws->pol_ready[p] = 1;
    }
    *out = &ws->pols[p];
    return 0;
}

static int worker_renderer(worker_state *ws, const camera_params *cp, wm_error *err) {
    if (ws->r_ready && camera_params_equal(&ws->r.cp, cp)) return 0;
    if (ws->r_ready) renderer_free(&ws->r), ws->r_ready = 0;
    if (renderer_init(&ws->r, cp, 1, err)) return -1;
    ws->r_ready = 1;
    return 0;
}

static void worker_free(const agreement_config *cfg, worker_state *ws) {
    for (int p = 0; p < cfg->n_policies; p++)
        if (ws->pol_ready[p]) ws->pols[p].destroy(&ws->pols[p]);
    free(ws->pols);
    free(ws->pol_ready);
    for (int l = 0; l < AGREEMENT_LOOPS; l++) camera_feed_slot_close(&ws->feeds[l]);
    if (ws->r_ready) renderer_free(&ws->r);
}

static void worker_init(const agreement_config *cfg, worker_state *ws) {
    memset(ws, 0, sizeof *ws);
    ws->pols = CALLOC_CHECK((size_t)cfg->n_policies, sizeof *ws->pols);
    ws->pol_ready = CALLOC_CHECK((size_t)cfg->n_policies, sizeof *ws->pol_ready);
}

/* One loop of an episode into out. */
static int run_loop(const agreement_config *cfg, worker_state *ws, const scenario *sc, uint64_t seed, policy *pol,
                    int loop, capture *cap, agreement_loop_result *out, wm_error *err) {
    /* A policy that sees no frames acts the same whatever they show: its
     * generative loop needs the world model only to draw a strip. */
    int needs_feed = pol->sees_frames || (loop == AGREEMENT_WORLDMODEL && cap->frames);
    camera_feed *feed = NULL;
    if (needs_feed && worker_feed(cfg, ws, loop, sc, &feed, err)) return -1;
    episode_config ec = {.sc = sc, .seed = seed, .pol = pol, .feed = feed, .observe = capture_observe,
                         .observe_ctx = cap};
    episode_result *r = MALLOC_CHECK(sizeof *r);
    if (episode_run(&ec, r, err)) {
        free(r);
        return wm_error_prefix(err, "%s seed %" PRIu64 " policy %s, %s loop: ", sc->id, seed, pol->name,
                               agreement_loop_name(loop));
    }
    memset(out, 0, sizeof *out);
    out->passed = r->m.passed;
    out->score = r->m.score;
    snprintf(out->end_reason, sizeof out->end_reason, "%.63s", r->end_reason);
    out->steps = r->steps;
    out->t = r->t;
    out->outcome = r->m.passed || r->m.n_reasons == 0 ? AGREEMENT_PASS : (int)r->m.reason_kind[0];
    out->failure_step = -1;
    if (!r->m.passed && r->m.n_reasons > 0) {
        memcpy(out->failure, r->m.reasons[0], METRICS_REASON_LEN);
        out->failure_step = failure_step(cap, out->failure);
    }
    free(r);
    return 0;
}

static int compare_ints(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* The strip of a disagreeing episode from both loops' captures. */
static int write_episode_strip(const char *path, const agreement_episode *ep, const capture cap[AGREEMENT_LOOPS],
                               wm_error *err) {
    const agreement_loop_result *o = &ep->loop[AGREEMENT_ORACLE], *g = &ep->loop[AGREEMENT_WORLDMODEL];
    int end = o->steps < g->steps ? o->steps : g->steps;
    int seconds = end / STRIP_ROW_STEPS;
    int stride = STRIP_ROW_STEPS * (seconds > AGREEMENT_MAX_STRIP_ROWS - 1
                                        ? (seconds + AGREEMENT_MAX_STRIP_ROWS - 2) / (AGREEMENT_MAX_STRIP_ROWS - 1)
                                        : 1);
    int steps[AGREEMENT_MAX_STRIP_ROWS + 4], n = 0;
    for (int s = 0; s <= end && n < AGREEMENT_MAX_STRIP_ROWS; s += stride) steps[n++] = s;
    steps[n++] = end;
    if (o->failure_step >= 0) steps[n++] = o->failure_step;
    if (g->failure_step >= 0) steps[n++] = g->failure_step;
    qsort(steps, (size_t)n, sizeof *steps, compare_ints);
    agreement_strip_row rows[AGREEMENT_MAX_STRIP_ROWS + 4];
    int n_rows = 0;
    for (int i = 0; i < n; i++) {
        if (n_rows && rows[n_rows - 1].step == steps[i]) continue;
        const kept_frame *ko = steps[i] <= o->steps ? capture_at(&cap[AGREEMENT_ORACLE], steps[i]) : NULL;
        const kept_frame *kg = steps[i] <= g->steps ? capture_at(&cap[AGREEMENT_WORLDMODEL], steps[i]) : NULL;
        rows[n_rows++] = (agreement_strip_row){.step = steps[i], .oracle = ko ? &ko->img[0] : NULL,
                                               .generated = kg ? &kg->img[0] : NULL,
                                               .generated_world = kg ? &kg->img[1] : NULL,
                                               .oracle_failed = steps[i] == o->failure_step,
                                               .generated_failed = steps[i] == g->failure_step};
    }
    return agreement_write_strip(path, rows, n_rows, cap[AGREEMENT_WORLDMODEL].width,
                                 cap[AGREEMENT_WORLDMODEL].height, err);
}

/* Episode k in both loops, into res->episodes[k]. */
static int run_episode(agreement_run_state *run, worker_state *ws, int k, wm_error *err) {
    const agreement_config *cfg = run->cfg;
    const int per_scenario = cfg->seeds * cfg->n_policies;
    agreement_episode *ep = &run->res->episodes[k];
    memset(ep, 0, sizeof *ep);
    ep->scenario = k / per_scenario;
    ep->seed = (uint64_t)(k % per_scenario / cfg->n_policies + 1);
    ep->policy = k % cfg->n_policies;
    const scenario *sc = &run->scenarios[ep->scenario];
    snprintf(ep->scenario_id, sizeof ep->scenario_id, "%s", sc->id);
    policy *pol;
    camera_feed *wm_feed;
    if (worker_policy(cfg, ws, ep->policy, &pol, err) || worker_feed(cfg, ws, AGREEMENT_WORLDMODEL, sc, &wm_feed, err))
        return -1;
    const camera_params *strip_cp = camera_feed_camera(wm_feed);
    /* A policy that sees no frames drives both loops alike, so it never needs a strip. */
    const int frames = cfg->out_dir != NULL && pol->sees_frames;
    if (frames && worker_renderer(ws, strip_cp, err)) return -1;
    capture *cap = CALLOC_CHECK(AGREEMENT_LOOPS, sizeof *cap);
    for (int l = 0; l < AGREEMENT_LOOPS; l++)
        cap[l] = (capture){.loop = l, .frames = frames, .keep_all = l == AGREEMENT_ORACLE, .extra = {-1, -1},
                           .width = strip_cp->width, .height = strip_cp->height, .r = &ws->r};
    int rc = run_loop(cfg, ws, sc, ep->seed, pol, AGREEMENT_ORACLE, &cap[0], &ep->loop[AGREEMENT_ORACLE], err);
    if (rc == 0) {
        /* The world-model loop keeps the frames the strip may need from it. */
        cap[1].extra[0] = ep->loop[AGREEMENT_ORACLE].failure_step;
        cap[1].extra[1] = ep->loop[AGREEMENT_ORACLE].steps;
        rc = run_loop(cfg, ws, sc, ep->seed, pol, AGREEMENT_WORLDMODEL, &cap[1], &ep->loop[AGREEMENT_WORLDMODEL], err);
    }
    if (rc == 0) {
        ep->agree = ep->loop[AGREEMENT_ORACLE].outcome == ep->loop[AGREEMENT_WORLDMODEL].outcome;
        if (!ep->agree && frames) {
            char name[200], path[4096 + 256];
            agreement_strip_name(sc->id, ep->seed, run->strip_names[ep->policy], name, sizeof name);
            snprintf(ep->strip, sizeof ep->strip, "diverge/%s", name);
            snprintf(path, sizeof path, "%s/%s", cfg->out_dir, ep->strip);
            rc = write_episode_strip(path, ep, cap, err);
        }
    }
    for (int l = 0; l < AGREEMENT_LOOPS; l++) capture_free(&cap[l]);
    free(cap);
    return rc;
}

/* batch_run's item: episode k in both loops. */
static int run_item(int k, void *worker, void *ctx, wm_error *err) {
    agreement_run_state *run = ctx;
    worker_state *ws = worker;
    if (!ws->pols) worker_init(run->cfg, ws);
    if (run_episode(run, ws, k, err)) return -1;
    pthread_mutex_lock(&run->lock);
    for (int l = 0; l < AGREEMENT_LOOPS; l++) run->res->steps[l] += run->res->episodes[k].loop[l].steps;
    pthread_mutex_unlock(&run->lock);
    return 0;
}

static void free_item_worker(void *worker, void *ctx) {
    worker_state *ws = worker;
    if (ws->pols) worker_free(((agreement_run_state *)ctx)->cfg, ws);
}

static void progress_status(void *ctx, double elapsed, char *out, size_t n) {
    agreement_run_state *run = ctx;
    pthread_mutex_lock(&run->lock);
    long steps = run->res->steps[AGREEMENT_ORACLE] + run->res->steps[AGREEMENT_WORLDMODEL];
    pthread_mutex_unlock(&run->lock);
    snprintf(out, n, " (both loops) %.0f steps/s", elapsed > 0 ? steps / elapsed : 0);
}

/* ------------------------------------------------------------- summary */

static int rank_before(const agreement_policy_summary *a, const agreement_policy_summary *b, int loop) {
    if (a->passed[loop] != b->passed[loop]) return a->passed[loop] > b->passed[loop];
    return a->mean_score[loop] > b->mean_score[loop];
}

static void summarise(const agreement_config *cfg, agreement_result *res) {
    res->policies = CALLOC_CHECK((size_t)cfg->n_policies, sizeof *res->policies);
    for (int k = 0; k < res->n_episodes; k++) {
        const agreement_episode *ep = &res->episodes[k];
        agreement_policy_summary *s = &res->policies[ep->policy];
        s->episodes++;
        for (int l = 0; l < AGREEMENT_LOOPS; l++) {
            s->passed[l] += ep->loop[l].passed;
            s->mean_score[l] += ep->loop[l].score; /* a sum until divided below */
        }
        s->agreeing += ep->agree;
        ep->agree ? res->agreeing++ : res->disagreeing++;
    }
    for (int p = 0; p < cfg->n_policies; p++) {
        agreement_policy_summary *s = &res->policies[p];
        for (int l = 0; l < AGREEMENT_LOOPS; l++) {
            s->pass_rate[l] = (double)s->passed[l] / s->episodes;
            s->mean_score[l] /= s->episodes;
        }
        s->score_gap = s->mean_score[AGREEMENT_WORLDMODEL] - s->mean_score[AGREEMENT_ORACLE];
        s->agreement_rate = (double)s->agreeing / s->episodes;
    }
    res->same_ranking = 1;
    for (int l = 0; l < AGREEMENT_LOOPS; l++) {
        int *r = res->ranking[l] = MALLOC_CHECK((size_t)cfg->n_policies * sizeof *r);
        /* Insertion sort: stable, so exact ties keep cfg's order. */
        for (int i = 0; i < cfg->n_policies; i++) {
            int j = i;
            for (; j > 0 && rank_before(&res->policies[i], &res->policies[r[j - 1]], l); j--) r[j] = r[j - 1];
            r[j] = i;
        }
    }
    for (int i = 0; i < cfg->n_policies; i++)
        if (res->ranking[AGREEMENT_ORACLE][i] != res->ranking[AGREEMENT_WORLDMODEL][i]) res->same_ranking = 0;
}

/* ---------------------------------------------------------------- JSON */

static json_t *loop_json(const agreement_loop_result *r) {
    json_t *o = json_object();
    json_object_set_new(o, "passed", json_boolean(r->passed));
    json_object_set_new(o, "score", json_real(r->score));
    json_object_set_new(o, "end_reason", json_string(r->end_reason));
    json_object_set_new(o, "steps", json_integer(r->steps));
    json_object_set_new(o, "duration_s", json_real(r->t));
    json_object_set_new(o, "outcome", json_string(agreement_outcome_name(r->outcome)));
    json_object_set_new(o, "failure_reason", r->passed ? json_null() : json_string(r->failure));
    json_object_set_new(o, "failure_kind", r->passed ? json_null() : json_string(agreement_outcome_name(r->outcome)));
    return o;
}

/* A float option as the decimal it was given as (0.7, not 0.6999999881). */
static double float_value(float x) {
    char text[32];
    snprintf(text, sizeof text, "%.7g", (double)x);
    return strtod(text, NULL);
}

static int write_json(const char *path, const agreement_config *cfg, const agreement_run_state *run,
                      const agreement_result *res, wm_error *err) {
    json_t *root = json_object();
    json_object_set_new(root, "wmsim_version", json_string(WMSIM_VERSION));
    json_t *gen = json_object();
    json_object_set_new(gen, "model", json_string(cfg->feed.model_path));
    json_object_set_new(gen, "tokenizer", json_string(cfg->feed.tokenizer_path));
    json_object_set_new(gen, "decode", json_string(rollout_mode_name(cfg->feed.rp.mode)));
    json_object_set_new(gen, "decode_steps", json_integer(cfg->feed.rp.steps));
    json_object_set_new(gen, "temperature", json_real(float_value(cfg->feed.rp.temperature)));
    json_object_set_new(gen, "guidance", json_real(float_value(cfg->feed.rp.guidance)));
    json_object_set_new(gen, "scene_slots", json_string(cfg->feed.scene_slots < 0    ? "auto"
                                                        : cfg->feed.scene_slots ? "on"
                                                                                : "off"));
    json_object_set_new(root, "generative_loop", gen);
    json_t *scs = json_array();
    for (int i = 0; i < cfg->n_scenarios; i++) {
        json_t *s = json_object();
        json_object_set_new(s, "id", json_string(run->scenarios[i].id));
        json_object_set_new(s, "file", json_string(cfg->scenarios[i]));
        json_array_append_new(scs, s);
    }
    json_object_set_new(root, "scenarios", scs);
    json_object_set_new(root, "seeds", json_integer(cfg->seeds));
    json_t *pols = json_array();
    for (int p = 0; p < cfg->n_policies; p++) json_array_append_new(pols, json_string(cfg->policies[p]));
    json_object_set_new(root, "policies", pols);
    json_object_set_new(root, "episodes_per_loop", json_integer(res->n_episodes));
    json_object_set_new(root, "agreeing", json_integer(res->agreeing));
    json_object_set_new(root, "disagreeing", json_integer(res->disagreeing));
    json_t *sum = json_array();
    for (int p = 0; p < cfg->n_policies; p++) {
        const agreement_policy_summary *s = &res->policies[p];
        json_t *o = json_object();
        json_object_set_new(o, "policy", json_string(cfg->policies[p]));
        json_object_set_new(o, "episodes", json_integer(s->episodes));
        for (int l = 0; l < AGREEMENT_LOOPS; l++) {
            json_t *lj = json_object();
            json_object_set_new(lj, "passed", json_integer(s->passed[l]));
            json_object_set_new(lj, "pass_rate", json_real(s->pass_rate[l]));
            json_object_set_new(lj, "mean_score", json_real(s->mean_score[l]));
            json_object_set_new(o, agreement_loop_name(l), lj);
        }
        json_object_set_new(o, "score_gap", json_real(s->score_gap));
        json_object_set_new(o, "agreeing", json_integer(s->agreeing));
        json_object_set_new(o, "agreement_rate", json_real(s->agreement_rate));
        json_array_append_new(sum, o);
    }
    json_object_set_new(root, "summary", sum);
    json_t *rank = json_object();
    for (int l = 0; l < AGREEMENT_LOOPS; l++) {
        json_t *a = json_array();
        for (int i = 0; i < cfg->n_policies; i++) json_array_append_new(a, json_string(cfg->policies[res->ranking[l][i]]));
        json_object_set_new(rank, agreement_loop_name(l), a);
    }
    json_object_set_new(rank, "same", json_boolean(res->same_ranking));
    json_object_set_new(root, "ranking", rank);
    json_t *eps = json_array();
    for (int k = 0; k < res->n_episodes; k++) {
        const agreement_episode *ep = &res->episodes[k];
        json_t *o = json_object();
        json_object_set_new(o, "scenario", json_string(ep->scenario_id));
        json_object_set_new(o, "seed", json_integer((json_int_t)ep->seed));
        json_object_set_new(o, "policy", json_string(cfg->policies[ep->policy]));
        json_object_set_new(o, "agree", json_boolean(ep->agree));
        json_object_set_new(o, "strip", ep->strip[0] ? json_string(ep->strip) : json_null());
        for (int l = 0; l < AGREEMENT_LOOPS; l++) json_object_set_new(o, agreement_loop_name(l), loop_json(&ep->loop[l]));
        json_array_append_new(eps, o);
    }
    json_object_set_new(root, "episodes", eps);
    return file_write_json(path, root, FILE_JSON_REPORT, err);
}

/* A PNG in OUT/diverge that this run did not write. */
static int stale_strip(const char *name, void *ctx) {
    const agreement_result *res = ctx;
    if (!has_suffix(name, ".png")) return 0;
    for (int k = 0; k < res->n_episodes; k++)
        if (res->episodes[k].strip[0] && strcmp(res->episodes[k].strip + 8, name) == 0) return 0;
    return 1;
}

static int prune_strips(const agreement_config *cfg, const agreement_result *res, wm_error *err) {
    char dir[4096 + 16];
    snprintf(dir, sizeof dir, "%s/diverge", cfg->out_dir);
    return dir_remove_stale(dir, stale_strip, (void *)res, err);
}

/* ------------------------------------------------------------ the entry */

static int check_config(const agreement_config *cfg, wm_error *err) {
    if (cfg->n_scenarios < 1) return wm_fail(err, "agreement: no scenarios");
    if (cfg->n_policies < 1) return wm_fail(err, "agreement: no policies");
    if (cfg->seeds < 1 || cfg->seeds > AGREEMENT_MAX_SEEDS)
        return wm_fail(err, "agreement: seeds %d outside [1, %d]", cfg->seeds, AGREEMENT_MAX_SEEDS);
    if (cfg->jobs < 1 || cfg->jobs > AGREEMENT_MAX_JOBS)
        return wm_fail(err, "agreement: jobs %d outside [1, %d]", cfg->jobs, AGREEMENT_MAX_JOBS);
    if ((long)cfg->n_scenarios * cfg->seeds * cfg->n_policies > 100000000L)
        return wm_fail(err, "agreement: %d scenarios x %d seeds x %d policies are too many episodes", cfg->n_scenarios,
                       cfg->seeds, cfg->n_policies);
    for (int p = 0; p < cfg->n_policies; p++)
        for (int q = 0; q < p; q++)
            if (strcmp(cfg->policies[p], cfg->policies[q]) == 0)
                return wm_fail(err, "agreement: policy '%s' given twice", cfg->policies[p]);
    return 0;
}

/* Per policy, the name its strips carry: the spec, sanitised; when that
 * equals an earlier policy's, cut to leave room and "-P" (its 1-based
 * index) appended. Sanitising is idempotent, so a name that needed no
 * suffix gives agreement_strip_name's file name for the spec itself. */
static void make_strip_names(const agreement_config *cfg, char (*names)[AGREEMENT_NAME_MAX + 1]) {
    for (int p = 0; p < cfg->n_policies; p++) {
        sanitise(cfg->policies[p], AGREEMENT_NAME_MAX, names[p], AGREEMENT_NAME_MAX + 1);
        for (int q = 0; q < p; q++)
            if (strcmp(names[p], names[q]) == 0) {
                char cut[AGREEMENT_NAME_MAX + 1], with[AGREEMENT_NAME_MAX + 16];
                sanitise(cfg->policies[p], AGREEMENT_NAME_MAX - 11, cut, sizeof cut); /* "-" and 10 digits fit */
                int len = snprintf(with, sizeof with, "%s-%d", cut, p + 1);
                memcpy(names[p], with, (size_t)len + 1);
                break;
            }
    }
}

int agreement_run(const agreement_config *cfg, agreement_result *res, wm_error *err) {
    memset(res, 0, sizeof *res);
    if (check_config(cfg, err)) return -1;
    double t0 = clock_now_s();
    agreement_run_state *run = CALLOC_CHECK(1, sizeof *run);
    run->cfg = cfg;
    run->res = res;
    run->scenarios = CALLOC_CHECK((size_t)cfg->n_scenarios, sizeof *run->scenarios);
    run->strip_names = CALLOC_CHECK((size_t)cfg->n_policies, sizeof *run->strip_names);
    make_strip_names(cfg, run->strip_names);
    int rc = -1, loaded = 0;
    if (scenario_load_all("agreement", cfg->scenarios, cfg->n_scenarios, run->scenarios, &loaded, err)) goto done;
    /* Bad policies, models and cameras are bad input: found before any episode runs. */
    {
        worker_state probe;
        worker_init(cfg, &probe);
        int bad = 0;
        for (int p = 0; p < cfg->n_policies && !bad; p++) {
            policy *pol;
            bad = worker_policy(cfg, &probe, p, &pol, err);
            for (int i = 0; i < cfg->n_scenarios && !bad && pol->sees_frames; i++) {
                camera_feed *cf;
                bad = worker_feed(cfg, &probe, AGREEMENT_ORACLE, &run->scenarios[i], &cf, err);
            }
        }
        for (int i = 0; i < cfg->n_scenarios && !bad; i++) {
            camera_feed *cf;
            bad = worker_feed(cfg, &probe, AGREEMENT_WORLDMODEL, &run->scenarios[i], &cf, err);
        }
        worker_free(cfg, &probe);
        if (bad) goto done;
    }
    if (cfg->out_dir) {
        char dir[4096 + 16];
        snprintf(dir, sizeof dir, "%s/diverge", cfg->out_dir);
        if (dir_create(dir, err)) goto done;
    }
    res->n_episodes = cfg->n_scenarios * cfg->seeds * cfg->n_policies;
    res->episodes = CALLOC_CHECK((size_t)res->n_episodes, sizeof *res->episodes);
    pthread_mutex_init(&run->lock, NULL);
    batch_config b = {.n_items = res->n_episodes, .jobs = cfg->jobs, .worker_size = sizeof(worker_state),
                      .run_item = run_item, .worker_free = free_item_worker, .ctx = run, .label = "agreement",
                      .unit = "episodes", .progress = cfg->progress, .status = progress_status};
    int failed = batch_run(&b, err);
    pthread_mutex_destroy(&run->lock);
    if (failed) goto done;
    summarise(cfg, res);
    if (cfg->out_dir) {
        char path[4096 + 32];
        snprintf(path, sizeof path, "%s/agreement.json", cfg->out_dir);
        if (write_json(path, cfg, run, res, err) || prune_strips(cfg, res, err)) goto done;
    }
    res->elapsed_s = clock_now_s() - t0;
    rc = 0;
done:
    if (rc) agreement_result_free(res);
    for (int i = 0; i < loaded; i++) scenario_free(&run->scenarios[i]);
    free(run->scenarios);
    free(run->strip_names);
    free(run);
    return rc;
}

void agreement_result_free(agreement_result *res) {
    free(res->episodes);
    free(res->policies);
    for (int l = 0; l < AGREEMENT_LOOPS; l++) free(res->ranking[l]);
    memset(res, 0, sizeof *res);
}

/* --------------------------------------------------------------- table */

static void print_loop(FILE *f, const char *label, const agreement_loop_result *r) {
    fprintf(f, "    %-12s %s score %.3f (%s at t=%.1f s)", label, r->passed ? "PASS" : "FAIL", r->score, r->end_reason,
            r->t);
    if (!r->passed) fprintf(f, ": %s: %s", agreement_outcome_name(r->outcome), r->failure);
    fputc('\n', f);
}

void agreement_print_table(FILE *f, const agreement_config *cfg, const agreement_result *res) {
    int width = 6;
    for (int p = 0; p < cfg->n_policies; p++) {
        int n = (int)strlen(cfg->policies[p]);
        if (n > width) width = n;
    }
    if (width > 40) width = 40;
    fprintf(f, "agreement: %d scenario%s x %d seed%s x %d polic%s = %d episodes in each loop (world model %s)\n",
            cfg->n_scenarios, cfg->n_scenarios == 1 ? "" : "s", cfg->seeds, cfg->seeds == 1 ? "" : "s",
            cfg->n_policies, cfg->n_policies == 1 ? "y" : "ies", res->n_episodes, cfg->feed.model_path);
    fprintf(f, "%-*s  %-16s %-16s %8s %8s %8s  %s\n", width, "policy", "pass oracle", "pass worldmodel", "score o",
            "score wm", "gap", "agreement");
    for (int p = 0; p < cfg->n_policies; p++) {
        const agreement_policy_summary *s = &res->policies[p];
        char name[64], cell[2][32], agree[32];
        int n = (int)strlen(cfg->policies[p]);
        if (n > width) snprintf(name, sizeof name, "%.*s...", width - 3, cfg->policies[p]);
        else snprintf(name, sizeof name, "%s", cfg->policies[p]);
        for (int l = 0; l < AGREEMENT_LOOPS; l++)
            snprintf(cell[l], sizeof cell[l], "%d/%d %5.1f%%", s->passed[l], s->episodes, 100.0 * s->pass_rate[l]);
        snprintf(agree, sizeof agree, "%d/%d %5.1f%%", s->agreeing, s->episodes, 100.0 * s->agreement_rate);
        fprintf(f, "%-*s  %-16s %-16s %8.3f %8.3f %+8.3f  %s\n", width, name, cell[0], cell[1], s->mean_score[0],
                s->mean_score[1], s->score_gap, agree);
    }
    fprintf(f, "ranking by pass rate, then mean score:\n");
    for (int l = 0; l < AGREEMENT_LOOPS; l++) {
        fprintf(f, "  %-11s", l == AGREEMENT_ORACLE ? "oracle:" : "worldmodel:");
        for (int i = 0; i < cfg->n_policies; i++)
            fprintf(f, "%s%s", i ? " > " : " ", cfg->policies[res->ranking[l][i]]);
        fputc('\n', f);
    }
    fprintf(f, "  %s\n", res->same_ranking ? "the same in both loops" : "DIFFERENT between the loops");
    fprintf(f, "agreement over all policies: %d/%d episodes (%.1f%%)\n", res->agreeing, res->n_episodes,
            res->n_episodes ? 100.0 * res->agreeing / res->n_episodes : 0.0);
    if (!res->disagreeing) return;
    fprintf(f, "disagreements:\n");
    for (int k = 0; k < res->n_episodes; k++) {
        const agreement_episode *ep = &res->episodes[k];
        if (ep->agree) continue;
        fprintf(f, "  %s seed %" PRIu64 " policy %s\n", ep->scenario_id, ep->seed, cfg->policies[ep->policy]);
        print_loop(f, "oracle:", &ep->loop[AGREEMENT_ORACLE]);
        print_loop(f, "worldmodel:", &ep->loop[AGREEMENT_WORLDMODEL]);
        if (ep->strip[0] && cfg->out_dir) fprintf(f, "    strip: %s/%s\n", cfg->out_dir, ep->strip);
    }
}
