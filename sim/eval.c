/* eval.c — running a suite's episodes and writing results.json (then the
 * JUnit file and the report, sim/eval_report.c). */
#include "sim/eval.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/check.h"
#include "core/clock.h"
#include "core/fileio.h"
#include "core/version.h"
#include "render/overlay.h"
#include "scenarios/suite.h"
#include "sim/batch.h"
#include "sim/cluster.h"
#include "sim/episode.h"
#include "sim/recorder.h"

#define EVAL_THUMBS 5 /* frames in an episode's strip: four evenly spaced over its duration, then its last */
#define EVAL_FILE_MAX ((size_t)1 << 30) /* models hashed for results.json */

eval_config eval_config_default(void) {
    eval_config c = {.noise = 0.05, .jobs = 1, .video = EVAL_VIDEO_ALL, .feed = camera_feed_options_default(),
                     .limits = policy_options_default()};
    c.feed.model_path = "models/dynamics.wmck";
    c.feed.tokenizer_path = "models/tokenizer.wmck";
    return c;
}

/* One episode's outcome, kept for the summaries. */
typedef struct {
    json_t *json;
    int passed, error;
    double score;
} eval_slot;

typedef struct {
    const eval_config *cfg;
    const suite *s;
    eval_slot *slots;
    char run_id[17];   /* what makes an earlier episode.json reusable: policy, models, suite, options */
} eval_state;

typedef struct {
    policy pol;
    int pol_ready;
    camera_feed_slot feeds[SUITE_LOOPS];
} eval_worker;

static void episode_dir_name(const suite *s, const suite_episode *e, char *out, size_t n) {
    snprintf(out, n, "episodes/%s_s%llu_%s", s->scenarios[e->scenario].sc.id, (unsigned long long)e->seed,
             suite_loop_name(e->loop));
}

/* ------------------------------------------------------- the observer */

typedef struct {
    recorder *rec;
    int targets[EVAL_THUMBS - 1];
    image thumbs[EVAL_THUMBS];
    int n_thumbs;
    wm_error err;
    int failed;
} episode_pictures;

static int observe(const episode_frame *f, void *ctx) {
    episode_pictures *ep = ctx;
    if (recorder_add(ep->rec, f, &ep->err)) return ep->failed = 1;
    if (ep->n_thumbs < EVAL_THUMBS - 1 && f->w->step == ep->targets[ep->n_thumbs]) {
        const image *last = recorder_last(ep->rec);
        image *t = &ep->thumbs[ep->n_thumbs++];
        image_init(t, last->width, last->height);
        memcpy(t->rgb, last->rgb, (size_t)last->width * last->height * 3);
    }
    return 0;
}

/* The strip: the evenly spaced frames the episode reached, then its last. */
static int write_thumbs(episode_pictures *ep, const char *path, wm_error *err) {
    const image *last = recorder_last(ep->rec);
    if (!last) return 0;
    image *t = &ep->thumbs[ep->n_thumbs++];
    image_init(t, last->width, last->height);
    memcpy(t->rgb, last->rgb, (size_t)last->width * last->height * 3);
    image strip;
    if (overlay_side_by_side(ep->thumbs, NULL, ep->n_thumbs, &strip, err)) return -1;
    int rc = image_write_png(&strip, path, err);
    image_free(&strip);
    return rc;
}

/* ------------------------------------------------------------ one episode */

static int worker_policy(const eval_config *cfg, eval_worker *ws, policy **out, wm_error *err) {
    if (!ws->pol_ready) {
        if (policy_create(cfg->policy, &cfg->limits, &ws->pol, err)) return -1;
        ws->pol_ready = 1;
    }
    *out = &ws->pol;
    return 0;
}

/* The episode's feed: oracle frames, or the world model's in that loop,
 * for a policy that sees frames; none for one that does not (it acts the
 * same whatever the frames show). */
static int worker_feed(const eval_config *cfg, eval_worker *ws, const scenario *sc, suite_loop loop, camera_feed **out,
                       wm_error *err) {
    camera_feed_options o = camera_feed_options_default();
    if (loop == SUITE_LOOP_WORLDMODEL) o = cfg->feed, o.kind = CAMERA_FEED_WORLDMODEL;
    o.cp = sc->camera;
    return camera_feed_slot_get(&ws->feeds[loop], &o, out, err);
}

static void free_worker(void *worker, void *ctx) {
    (void)ctx;
    eval_worker *ws = worker;
    if (ws->pol_ready) ws->pol.destroy(&ws->pol);
    for (int l = 0; l < SUITE_LOOPS; l++) camera_feed_slot_close(&ws->feeds[l]);
}

static json_t *files_json(const char *dir, int has_video, int has_thumbs) {
    char p[4200];
    json_t *o = json_object();
    snprintf(p, sizeof p, "%s/episode.log", dir);
    json_object_set_new(o, "log", json_string(p));
    snprintf(p, sizeof p, "%s/result.json", dir);
    json_object_set_new(o, "result", json_string(p));
    snprintf(p, sizeof p, "%s/video.mp4", dir);
    json_object_set_new(o, "video", has_video ? json_string(p) : json_null());
    snprintf(p, sizeof p, "%s/thumbs.png", dir);
    json_object_set_new(o, "thumbnails", has_thumbs ? json_string(p) : json_null());
    return o;
}

/* The template point's values as numbers where they are numbers. */
static json_t *parameters_json(const char *parameters) {
    if (!*parameters) return json_null();
    json_t *o = json_object();
    char buf[512];
    snprintf(buf, sizeof buf, "%s", parameters);
    char *save = NULL;
    for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) continue;
        *eq = '\0';
        char *end;
        double v = strtod(eq + 1, &end);
        json_object_set_new(o, kv, *end == '\0' && end != eq + 1 ? json_real(v) : json_string(eq + 1));
    }
    return o;
}

/* An episode's completion record: OUT/episodes/X/episode.json, written
 * last and atomically, so its presence means every file of the episode is
 * complete. Returns 1 loaded into *slot, 0 none there, -1 error (another
 * run's, or unreadable). */
static int load_done(const eval_state *st, int k, eval_slot *slot, wm_error *err) {
    char rel[512], path[4700];
    episode_dir_name(st->s, &st->s->episodes[k], rel, sizeof rel);
    snprintf(path, sizeof path, "%s/%s/episode.json", st->cfg->out_dir, rel);
    if (access(path, F_OK) != 0) return 0;
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) return wm_fail(err, "%s:%d: not JSON: %s (remove the episode's folder to run it again)", path, je.line,
                              je.text);
    const char *run = json_string_value(json_object_get(root, "run"));
    json_t *ej = json_object_get(root, "episode");
    if (!run || strcmp(run, st->run_id) != 0 || !json_is_object(ej)) {
        json_decref(root);
        return wm_fail(err, "%s: an episode of another run (another policy, suite, model or option) is in this "
                            "folder; give a new --out", path);
    }
    *slot = (eval_slot){.json = json_incref(ej), .passed = json_is_true(json_object_get(ej, "passed")),
                        .error = !json_is_null(json_object_get(ej, "error")),
                        .score = json_number_value(json_object_get(ej, "score"))};
    json_decref(root);
    return 1;
}

static int write_done(const eval_state *st, const char *dir, json_t *ej, wm_error *err) {
    char path[4700];
    snprintf(path, sizeof path, "%s/episode.json", dir);
    json_t *root = json_object();
    json_object_set_new(root, "run", json_string(st->run_id));
    json_object_set(root, "episode", ej);
    return file_write_json(path, root, FILE_JSON_REPORT, err);
}

/* Files an attempt at an episode leaves before its episode.json: its
 * outputs and the temporaries of any process's writers (NAME.tmp.PID).
 * Without episode.json they are no result. They are removed before the
 * episode runs (what a killed run left) and after it fails (an episode cut
 * short by a full disk has a well-formed episode.log, which must not pass
 * for a finished episode's). */
static int episode_leftover(const char *name, void *ctx) {
    (void)ctx;
    static const char *const files[] = {"episode.log", "result.json", "video.mp4", "thumbs.png", "episode.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        size_t n = strlen(files[i]);
        if (strncmp(name, files[i], n) == 0 && (name[n] == '\0' ? i < 4 : strncmp(name + n, ".tmp.", 5) == 0))
            return 1;
    }
    return 0;
}

static int run_episode(int k, void *worker, void *ctx, wm_error *err) {
    eval_state *st = ctx;
    const eval_config *cfg = st->cfg;
    const suite *s = st->s;
    const suite_episode *e = &s->episodes[k];
    const suite_scenario *ss = &s->scenarios[e->scenario];
    const scenario *sc = &ss->sc;
    eval_worker *ws = worker;
    /* A rerun after a crash keeps what finished and runs the rest. */
    int done = load_done(st, k, &st->slots[k], err);
    if (done) return done < 0 ? -1 : 0;
    policy *pol;
    camera_feed *feed = NULL;
    if (worker_policy(cfg, ws, &pol, err) || (pol->sees_frames && worker_feed(cfg, ws, sc, e->loop, &feed, err)))
        return wm_error_prefix(err, "%s: ", sc->id), -1;

    char rel[512], dir[4600], log_path[4700], result_path[4700], video_path[4700], thumbs_path[4700];
    episode_dir_name(s, e, rel, sizeof rel);
    snprintf(dir, sizeof dir, "%s/%s", cfg->out_dir, rel);
    snprintf(log_path, sizeof log_path, "%s/episode.log", dir);
    snprintf(result_path, sizeof result_path, "%s/result.json", dir);
    snprintf(video_path, sizeof video_path, "%s/video.mp4", dir);
    snprintf(thumbs_path, sizeof thumbs_path, "%s/thumbs.png", dir);
    if (dir_create(dir, err) || dir_remove_stale(dir, episode_leftover, NULL, err)) return -1;

    int generated = feed && e->loop == SUITE_LOOP_WORLDMODEL;
    recorder_options ro = {.cp = generated ? *camera_feed_camera(feed) : sc->camera, .supersample = 1,
                           .video_path = cfg->video == EVAL_VIDEO_NONE ? NULL : video_path,
                           .codec = VIDEO_CODEC_AUTO, .hud = 1, .label = pol->name,
                           .view = generated ? RECORDER_VIEW_SIDE_BY_SIDE : RECORDER_VIEW_ORACLE,
                           .feed_label = "world model", .reasoning = 1};
    episode_pictures ep = {0};
    int planned = (int)llround(sc->duration / SIM_DT);
    for (int i = 0; i < EVAL_THUMBS - 1; i++) ep.targets[i] = (int)((long)i * planned / (EVAL_THUMBS - 1));
    int rc = -1;
    if (recorder_open(&ep.rec, &ro, err)) goto done;

    episode_config ec = {.sc = sc, .scenario_path = ss->file, .seed = e->seed, .pol = pol, .feed = feed,
                         .log_path = log_path, .observe = observe, .observe_ctx = &ep};
    episode_result res;
    if (episode_run(&ec, &res, err)) goto done;
    if (ep.failed) {
        *err = ep.err;
        goto done;
    }
    int keep_video = cfg->video == EVAL_VIDEO_ALL || (cfg->video == EVAL_VIDEO_FAILED && !res.m.passed);
    if (write_thumbs(&ep, thumbs_path, err)) goto done;
    wm_error close_err;
    int closed = recorder_close(ep.rec, &close_err);
    ep.rec = NULL;
    if (closed) {
        *err = close_err;
        goto done;
    }
    if (ro.video_path && !keep_video) unlink(video_path);
    if (episode_write_result_json(result_path, &ec, &res, err)) goto done;

    json_t *o = episode_result_json(&ec, &res);
    char key[512];
    snprintf(key, sizeof key, "%s/s%llu/%s", sc->id, (unsigned long long)e->seed, suite_loop_name(e->loop));
    int policy_error = strcmp(res.end_reason, "policy error") == 0;
    json_t *ej = json_object();
    json_object_set_new(ej, "key", json_string(key));
    json_object_set_new(ej, "entry", json_integer(ss->entry));
    json_object_set_new(ej, "category", json_string(s->entries[ss->entry].category));
    json_object_set_new(ej, "scenario", json_string(sc->id));
    json_object_set_new(ej, "scenario_file", json_string(ss->file));
    json_object_set(ej, "scenario_hash", json_object_get(json_object_get(o, "scenario"), "hash"));
    json_object_set_new(ej, "parameters", parameters_json(ss->parameters));
    json_object_set_new(ej, "seed", json_integer((json_int_t)e->seed));
    json_object_set_new(ej, "loop", json_string(suite_loop_name(e->loop)));
    json_object_set_new(ej, "passed", json_boolean(res.m.passed));
    json_object_set_new(ej, "score", json_real(res.m.score));
    json_object_set_new(ej, "min_score", json_real(sc->success.min_score));
    json_object_set_new(ej, "end_reason", json_string(res.end_reason));
    json_object_set_new(ej, "steps", json_integer(res.steps));
    json_object_set_new(ej, "duration_s", json_real(res.t));
    json_object_set_new(ej, "error", policy_error && res.m.n_reasons ? json_string(res.m.reasons[0]) : json_null());
    json_object_set(ej, "failure_reasons", json_object_get(o, "failure_reasons"));
    json_object_set(ej, "metrics", json_object_get(o, "metrics"));
    json_object_set_new(ej, "files", files_json(rel, keep_video && ro.video_path, 1));
    json_decref(o);
    if (write_done(st, dir, ej, err)) {
        json_decref(ej);
        goto done;
    }
    st->slots[k] = (eval_slot){.json = ej, .passed = res.m.passed, .error = policy_error, .score = res.m.score};
    rc = 0;
done:
    if (ep.rec) recorder_abort(ep.rec);
    for (int i = 0; i < ep.n_thumbs; i++) image_free(&ep.thumbs[i]);
    if (rc) {
        wm_error ignored;
        dir_remove_stale(dir, episode_leftover, NULL, &ignored);
        wm_error_prefix(err, "%s seed %llu (%s loop): ", sc->id, (unsigned long long)e->seed, suite_loop_name(e->loop));
    }
    return rc;
}

/* ------------------------------------------------------------ results.json */

/* {file, hash} of a model file; null when there is none to name. */
static json_t *file_json(const char *path, wm_error *err) {
    uint8_t *bytes;
    size_t len;
    if (file_read_all(path, EVAL_FILE_MAX, &bytes, &len, err)) return NULL;
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)hash_fnv1a64(bytes, len));
    free(bytes);
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(path));
    json_object_set_new(o, "hash", json_string(hex));
    return o;
}

/* The file that holds the policy, when the spec names one: a vla
 * checkpoint or a shared library. */
static int policy_json(const char *spec, const policy *pol, json_t **out, wm_error *err) {
    char file[4096] = "";
    if (strcmp(spec, "vla-tiny") == 0) snprintf(file, sizeof file, "%s", POLICY_VLA_TINY_PATH);
    else if (strncmp(spec, "vla:", 4) == 0) snprintf(file, sizeof file, "%s", spec + 4);
    else if (strncmp(spec, "lib:", 4) == 0) snprintf(file, sizeof file, "%.*s", (int)strcspn(spec + 4, " "), spec + 4);
    json_t *model = json_null();
    if (file[0] && !(model = file_json(file, err))) return -1;
    *out = json_object();
    json_object_set_new(*out, "spec", json_string(spec));
    json_object_set_new(*out, "name", json_string(pol->name));
    json_object_set_new(*out, "model", model);
    return 0;
}

static double rate(int n, int d) { return d ? (double)n / d : 0.0; }

static json_t *summary_json(const eval_slot *slots, int n) {
    int passed = 0, errors = 0;
    double score = 0;
    for (int k = 0; k < n; k++) passed += slots[k].passed, errors += slots[k].error, score += slots[k].score;
    json_t *o = json_object();
    json_object_set_new(o, "episodes", json_integer(n));
    json_object_set_new(o, "passed", json_integer(passed));
    json_object_set_new(o, "failed", json_integer(n - passed));
    json_object_set_new(o, "errors", json_integer(errors));
    json_object_set_new(o, "pass_rate", json_real(rate(passed, n)));
    json_object_set_new(o, "mean_score", json_real(n ? score / n : 0.0));
    return o;
}

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Per category, sorted by name. */
static json_t *categories_json(const suite *s, const eval_slot *slots) {
    const char **names = CALLOC_CHECK((size_t)s->n_entries, sizeof *names);
    int n = 0;
    for (int e = 0; e < s->n_entries; e++) {
        int seen = 0;
        for (int j = 0; j < n && !seen; j++) seen = strcmp(names[j], s->entries[e].category) == 0;
        if (!seen) names[n++] = s->entries[e].category;
    }
    qsort(names, (size_t)n, sizeof *names, compare_names);
    json_t *arr = json_array();
    for (int c = 0; c < n; c++) {
        int episodes = 0, passed = 0;
        double score = 0;
        for (int k = 0; k < s->n_episodes; k++) {
            if (strcmp(s->entries[s->scenarios[s->episodes[k].scenario].entry].category, names[c])) continue;
            episodes++, passed += slots[k].passed, score += slots[k].score;
        }
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(names[c]));
        json_object_set_new(o, "episodes", json_integer(episodes));
        json_object_set_new(o, "passed", json_integer(passed));
        json_object_set_new(o, "pass_rate", json_real(rate(passed, episodes)));
        json_object_set_new(o, "mean_score", json_real(episodes ? score / episodes : 0.0));
        json_array_append_new(arr, o);
    }
    free(names);
    return arr;
}

static json_t *entries_json(const suite *s, const eval_slot *slots) {
    json_t *arr = json_array();
    for (int e = 0; e < s->n_entries; e++) {
        const suite_entry *se = &s->entries[e];
        int episodes = 0, passed = 0;
        for (int k = 0; k < s->n_episodes; k++)
            if (s->scenarios[s->episodes[k].scenario].entry == e) episodes++, passed += slots[k].passed;
        json_t *o = json_object();
        json_object_set_new(o, "index", json_integer(e));
        json_object_set_new(o, "path", json_string(se->path));
        json_object_set_new(o, "category", json_string(se->category));
        json_object_set_new(o, "episodes", json_integer(episodes));
        json_object_set_new(o, "passed", json_integer(passed));
        json_object_set_new(o, "pass_rate", json_real(rate(passed, episodes)));
        json_object_set_new(o, "min_pass_rate", json_real(se->min_pass_rate));
        json_object_set_new(o, "passed_entry", json_boolean(episodes && rate(passed, episodes) >= se->min_pass_rate));
        json_array_append_new(arr, o);
    }
    return arr;
}

static void utc_now(char *out, size_t n) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* results.json without episodes and summaries: who ran what. */
static int header_json(const eval_config *cfg, const suite *s, const policy *pol, json_t *root, wm_error *err) {
    json_t *w = json_object();
    json_object_set_new(w, "version", json_string(WMSIM_VERSION));
    json_object_set_new(root, "wmsim", w);
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)s->hash);
    json_t *sj = json_object();
    json_object_set_new(sj, "id", json_string(s->id));
    json_object_set_new(sj, "description", json_string(s->description));
    json_object_set_new(sj, "file", json_string(s->path));
    json_object_set_new(sj, "hash", json_string(hex));
    json_object_set_new(root, "suite", sj);
    json_t *pj;
    if (policy_json(cfg->policy, pol, &pj, err)) return -1;
    json_object_set_new(root, "policy", pj);
    json_t *models = json_object();
    if (s->uses_loop[SUITE_LOOP_WORLDMODEL] && pol->sees_frames) {
        json_t *d = file_json(cfg->feed.model_path, err), *t = d ? file_json(cfg->feed.tokenizer_path, err) : NULL;
        if (!t) return json_decref(d), json_decref(models), -1;
        json_object_set_new(models, "dynamics", d);
        json_object_set_new(models, "tokenizer", t);
    }
    json_object_set_new(root, "models", models);
    return 0;
}

/* A short hash of everything that must match for an earlier episode.json
 * to stand for this run's episode. */
static void make_run_id(const eval_config *cfg, const suite *s, json_t *root, char out[17]) {
    json_t *id = json_object();
    json_object_set(id, "policy", json_object_get(root, "policy"));
    json_object_set(id, "models", json_object_get(root, "models"));
    json_object_set(id, "suite", json_object_get(json_object_get(root, "suite"), "hash"));
    char opts[256];
    snprintf(opts, sizeof opts, "%d %d %.9g %.9g %d %d", (int)cfg->feed.rp.mode, cfg->feed.rp.steps,
             (double)cfg->feed.rp.temperature, (double)cfg->feed.rp.guidance, cfg->feed.scene_slots, (int)cfg->video);
    json_object_set_new(id, "options", json_string(opts));
    char *text = json_dumps(id, JSON_COMPACT | JSON_PRESERVE_ORDER);
    snprintf(out, 17, "%016llx", (unsigned long long)hash_fnv1a64(text, strlen(text)) ^ (unsigned long long)s->hash);
    free(text);
    json_decref(id);
}

/* The temporary files of the three, left by a night killed while writing
 * them: a rerun that completes leaves none. */
static int night_leftover(const char *name, void *ctx) {
    (void)ctx;
    static const char *const files[] = {"results.json", "junit.xml", "report.html"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        size_t n = strlen(files[i]);
        if (strncmp(name, files[i], n) == 0 && strncmp(name + n, ".tmp.", 5) == 0) return 1;
    }
    return 0;
}

/* Rank 0, once every episode is done: the episodes other ranks ran (from
 * their episode.json), the summaries, the comparison and the three files. */
static int write_night(const eval_config *cfg, eval_state *st, json_t *root, double t0, eval_outcome *out,
                       wm_error *err) {
    const suite *s = st->s;
    for (int k = 0; k < s->n_episodes; k++) {
        if (st->slots[k].json) continue;
        int got = load_done(st, k, &st->slots[k], err);
        if (got <= 0) {
            if (got == 0) {
                char rel[512];
                episode_dir_name(s, &s->episodes[k], rel, sizeof rel);
                wm_fail(err, "%s/%s/episode.json: missing after every rank finished", cfg->out_dir, rel);
            }
            return -1;
        }
    }
    json_object_set_new(root, "elapsed_s", json_real(clock_now_s() - t0));
    json_object_set_new(root, "jobs", json_integer(cfg->jobs));
    json_object_set_new(root, "ranks", json_integer(cfg->cl ? cfg->cl->size : 1));
    json_object_set_new(root, "summary", summary_json(st->slots, s->n_episodes));
    json_object_set_new(root, "categories", categories_json(s, st->slots));
    json_object_set_new(root, "entries", entries_json(s, st->slots));
    json_t *eps = json_array();
    for (int k = 0; k < s->n_episodes; k++) json_array_append(eps, st->slots[k].json);
    json_object_set_new(root, "episodes", eps);
    json_object_set_new(root, "baseline", json_null());
    json_object_set_new(root, "regressed", json_false());
    if (cfg->baseline_dir && eval_compare(root, cfg->baseline_dir, cfg->noise, err)) return -1;

    if (dir_remove_stale(cfg->out_dir, night_leftover, NULL, err)) return -1;
    char path[4200];
    snprintf(path, sizeof path, "%s/results.json", cfg->out_dir);
    json_incref(root);
    if (file_write_json(path, root, FILE_JSON_REPORT, err)) return -1;
    snprintf(path, sizeof path, "%s/junit.xml", cfg->out_dir);
    if (eval_write_junit(path, root, err)) return -1;
    snprintf(path, sizeof path, "%s/report.html", cfg->out_dir);
    if (eval_write_report(path, root, err)) return -1;

    for (int k = 0; k < s->n_episodes; k++) out->passed += st->slots[k].passed, out->errors += st->slots[k].error;
    out->episodes = s->n_episodes;
    out->failed = s->n_episodes - out->passed;
    json_t *bl = json_object_get(root, "baseline");
    out->regressions = (int)json_array_size(json_object_get(bl, "regressions"));
    out->score_drops = (int)json_array_size(json_object_get(bl, "score_drops"));
    out->fixed = (int)json_array_size(json_object_get(bl, "fixed"));
    out->regressed = json_is_true(json_object_get(root, "regressed"));
    return 0;
}

int eval_run(const eval_config *cfg, eval_outcome *out, wm_error *err) {
    memset(out, 0, sizeof *out);
    if (cfg->jobs < 1 || cfg->jobs > BATCH_MAX_JOBS)
        return wm_fail(err, "eval: --jobs %d outside [1, %d]", cfg->jobs, BATCH_MAX_JOBS);
    if (!(cfg->noise >= 0 && cfg->noise < 1)) return wm_fail(err, "eval: --noise %g outside [0, 1)", cfg->noise);
    cluster alone = {.size = 1};
    const cluster *cl = cfg->cl ? cfg->cl : &alone;
    /* The baseline is read before the night's episodes run, so a wrong
     * --baseline costs seconds, not the night. */
    json_t *baseline;
    if (cfg->baseline_dir) {
        if (eval_baseline_load(cfg->baseline_dir, &baseline, err)) return -1;
        json_decref(baseline);
    }
    double t0 = clock_now_s();
    char started[32];
    utc_now(started, sizeof started);
    suite s;
    if (suite_load(cfg->suite_path, &s, err)) return -1;
    eval_state st = {.cfg = cfg, .s = &s, .slots = CALLOC_CHECK((size_t)s.n_episodes, sizeof *st.slots)};
    json_t *root = json_object();
    int rc = -1;
    /* A policy or model that cannot start is found before any episode runs
     * (on every rank alike: the same inputs give the same answer). */
    {
        eval_worker probe = {0};
        policy *pol;
        camera_feed *cf;
        int bad = worker_policy(cfg, &probe, &pol, err) || header_json(cfg, &s, pol, root, err);
        for (int l = 0; l < SUITE_LOOPS && !bad; l++)
            if (s.uses_loop[l] && pol->sees_frames) bad = worker_feed(cfg, &probe, &s.scenarios[0].sc, l, &cf, err);
        free_worker(&probe, NULL);
        if (bad) goto done;
    }
    json_object_set_new(root, "started", json_string(started));
    make_run_id(cfg, &s, root, st.run_id);
    if (dir_create(cfg->out_dir, err)) goto done;
    batch_config b = {.n_items = s.n_episodes, .jobs = cfg->jobs, .worker_size = sizeof(eval_worker),
                      .run_item = run_episode, .worker_free = free_worker, .ctx = &st, .label = "eval",
                      .unit = "episodes", .progress = cfg->progress, .rank = cl->rank, .ranks = cl->size};
    int mine_ok = batch_run(&b, err) == 0;
    if (!cluster_all_ok(cl, mine_ok)) {
        if (mine_ok) wm_fail(err, "eval: another rank failed (its message is on its standard error)");
        goto done;
    }
    int written = cl->rank != 0 || write_night(cfg, &st, root, t0, out, err) == 0;
    if (!cluster_all_ok(cl, written)) {
        if (written && cl->rank != 0) wm_fail(err, "eval: rank 0 could not write the results");
        goto done;
    }
    /* Every rank exits as rank 0 does. */
    out->regressed = !cluster_all_ok(cl, !out->regressed);
    out->elapsed_s = clock_now_s() - t0;
    rc = 0;
done:
    json_decref(root);
    for (int k = 0; k < s.n_episodes; k++) json_decref(st.slots[k].json);
    free(st.slots);
    suite_free(&s);
    return rc;
}
