#include "sim/replay_compare.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.h"
#include "core/fileio.h"
#include "core/version.h"
#include "render/overlay.h"
#include "sim/episode_log.h"
#include "sim/recorder.h"

enum { LOGGED, FRESH }; /* the two sides, left to right */

/* ---- what a log says ---- */

typedef struct {
    replay_compare_logged *lg;
    int have_summary, failed;
    wm_error *err;
} load_state;

/* result.json's metric names, in metrics_values' order. */
static void metric_names(const char *names[METRICS_N_VALUES]) {
    double unused[METRICS_N_VALUES];
    metrics_values(&(metrics){0}, names, unused);
}

static void summary_outcome(const Wmsim__LogSummary *s, replay_compare_outcome *o) {
    o->steps = (int)s->steps, o->passed = s->passed, o->score = s->score;
    snprintf(o->end_reason, sizeof o->end_reason, "%s", s->end_reason ? s->end_reason : "");
    o->n_reasons = 0;
    for (size_t i = 0; i < s->n_failure_reasons && i < METRICS_MAX_REASONS; i++)
        snprintf(o->reasons[o->n_reasons++], METRICS_REASON_LEN, "%s", s->failure_reasons[i]);
    /* By name, in result.json's order: a metric the log lacks stays NAN. */
    const char *names[METRICS_N_VALUES];
    metric_names(names);
    for (int k = 0; k < METRICS_N_VALUES; k++) {
        o->metrics[k] = NAN;
        for (size_t i = 0; i < s->n_metrics; i++)
            if (s->metrics[i]->name && strcmp(s->metrics[i]->name, names[k]) == 0) o->metrics[k] = s->metrics[i]->value;
    }
}

static int load_record(const Wmsim__LogRecord *rec, void *ctx) {
    load_state *st = ctx;
    replay_compare_logged *lg = st->lg;
    if (rec->record_case == WMSIM__LOG_RECORD__RECORD_HEADER) { /* record 0, episode_log_read makes sure */
        const Wmsim__LogHeader *h = rec->header;
        if (scenario_load_pb(lg->path, h->scenario.data, h->scenario.len, &lg->sc, st->err)) {
            wm_error_prefix(st->err, "%s: the embedded scenario: ", lg->path);
            return st->failed = 1;
        }
        lg->seed = h->seed;
        snprintf(lg->outcome.policy, sizeof lg->outcome.policy, "%s", h->policy ? h->policy : "");
    } else if (rec->record_case == WMSIM__LOG_RECORD__RECORD_SUMMARY) {
        summary_outcome(rec->summary, &lg->outcome);
        st->have_summary = 1;
    }
    return 0;
}

int replay_compare_load(const char *log_path, replay_compare_logged **out, wm_error *err) {
    *out = NULL;
    replay_compare_logged *lg = CALLOC_CHECK(1, sizeof *lg);
    if (strlen(log_path) >= sizeof lg->path) return free(lg), wm_fail(err, "%s: path too long", log_path);
    snprintf(lg->path, sizeof lg->path, "%s", log_path);
    load_state st = {.lg = lg, .err = err};
    int rc = episode_log_read(log_path, load_record, &st, err);
    if (rc == 0 && st.failed) rc = -1;
    if (rc == 0 && !st.have_summary) rc = wm_fail(err, "%s: no summary record (log incomplete)", log_path);
    if (rc) return replay_compare_logged_free(lg), -1;
    *out = lg;
    return 0;
}

void replay_compare_logged_free(replay_compare_logged *lg) {
    if (!lg) return;
    scenario_free(&lg->sc);
    free(lg);
}

/* ---- the logged run, replayed on its own thread ---- */

/* The replay's observer hands each frame over and waits until the main
 * thread, which runs the new episode, has drawn it and released it. */
typedef struct {
    const char *path;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    const episode_frame *frame; /* handed over, not yet released */
    int ended, stop, rc;
    episode_replay_info info;
    wm_error err;
} logged_stream;

static int logged_hand_over(const episode_frame *f, void *ctx) {
    logged_stream *ls = ctx;
    pthread_mutex_lock(&ls->lock);
    if (!ls->stop) {
        ls->frame = f;
        pthread_cond_broadcast(&ls->cond);
        while (ls->frame && !ls->stop) pthread_cond_wait(&ls->cond, &ls->lock);
    }
    int stop = ls->stop;
    pthread_mutex_unlock(&ls->lock);
    return stop;
}

static void *logged_main(void *ctx) {
    logged_stream *ls = ctx;
    int rc = episode_log_replay(ls->path, logged_hand_over, ls, &ls->info, &ls->err);
    pthread_mutex_lock(&ls->lock);
    ls->rc = rc, ls->ended = 1, ls->frame = NULL;
    pthread_cond_broadcast(&ls->cond);
    pthread_mutex_unlock(&ls->lock);
    return NULL;
}

static int logged_start(logged_stream *ls, const char *path, wm_error *err) {
    *ls = (logged_stream){.path = path};
    pthread_mutex_init(&ls->lock, NULL);
    pthread_cond_init(&ls->cond, NULL);
    int e = pthread_create(&ls->thread, NULL, logged_main, ls);
    if (e) {
        pthread_mutex_destroy(&ls->lock), pthread_cond_destroy(&ls->cond);
        return wm_fail(err, "%s: cannot start the replay: %s", path, strerror(e));
    }
    return 0;
}

/* 1 with the next frame in *f (valid until logged_release), 0 once the
 * replay has ended, -1 when it failed (err says why). */
static int logged_next(logged_stream *ls, const episode_frame **f, wm_error *err) {
    pthread_mutex_lock(&ls->lock);
    while (!ls->frame && !ls->ended) pthread_cond_wait(&ls->cond, &ls->lock);
    *f = ls->frame;
    int rc = ls->frame ? 1 : ls->rc ? -1 : 0;
    if (rc < 0) *err = ls->err;
    pthread_mutex_unlock(&ls->lock);
    return rc;
}

static void logged_release(logged_stream *ls) {
    pthread_mutex_lock(&ls->lock);
    ls->frame = NULL;
    pthread_cond_broadcast(&ls->cond);
    pthread_mutex_unlock(&ls->lock);
}

/* Stops the replay where it is and waits for its thread. */
static void logged_stop(logged_stream *ls) {
    pthread_mutex_lock(&ls->lock);
    ls->stop = 1;
    pthread_cond_broadcast(&ls->cond);
    pthread_mutex_unlock(&ls->lock);
    pthread_join(ls->thread, NULL);
    pthread_mutex_destroy(&ls->lock), pthread_cond_destroy(&ls->cond);
}

/* ---- both runs, step by step ---- */

/* Step k of a run: the command that led to it and the ego after it (step 0:
 * the start, no command). */
typedef struct {
    double accel, brake, steer, speed, s, d, t;
} compare_row;

typedef struct {
    const char *name; /* the policy's */
    recorder *rec;    /* pictures only: recorder_last */
    compare_row *rows;
    int n, cap;       /* rows: steps + 1 */
    int ended;
    char ended_label[300];
} compare_side;

typedef struct {
    const replay_compare_config *c;
    compare_side side[2];
    logged_stream ls;
    video_writer *video;
    image row; /* the two pictures side by side */
    int frames;
    int failed; /* err is set */
    wm_error err;
} compare_job;

static int side_add(compare_job *job, int which, const episode_frame *f) {
    compare_side *sd = &job->side[which];
    const sim_world *w = f->w;
    if (w->step != sd->n)
        return wm_fail(&job->err, "replay: the %s run is at step %d where step %d was due",
                       which == LOGGED ? "logged" : "new", w->step, sd->n);
    if (sd->n == sd->cap) sd->rows = REALLOC_CHECK(sd->rows, sd->cap = sd->cap ? 2 * sd->cap : 512, sizeof *sd->rows);
    action a = f->command ? *f->command : (action){0, 0, 0};
    sd->rows[sd->n++] = (compare_row){a.accel, a.brake, a.steer, w->ego.speed, w->ego_s, w->ego_d, w->t};
    return recorder_add(sd->rec, f, &job->err);
}

/* The two sides' latest pictures as one video frame; a side that has ended
 * shows its last picture, labelled so. With the HUD, the HUD carries the
 * policy's name: the label box would cover its speed. */
static int compose(compare_job *job) {
    image pair[2];
    const char *labels[2];
    for (int i = 0; i < 2; i++) {
        compare_side *sd = &job->side[i];
        const image *picture = recorder_last(sd->rec);
        if (!picture) return wm_fail(&job->err, "replay: the %s run has no picture yet", i == LOGGED ? "logged" : "new");
        pair[i] = *picture;
        labels[i] = sd->ended ? sd->ended_label : job->c->hud ? NULL : sd->name;
    }
    image_free(&job->row);
    if (overlay_side_by_side(pair, labels, 2, &job->row, &job->err) ||
        video_writer_add(job->video, &job->row, &job->err))
        return -1;
    job->frames++;
    return 0;
}

/* The logged run's next step beside the new run's latest; 0 frames drawn
 * once the logged run has ended, 1 one drawn, -1 an error. */
static int logged_step(compare_job *job) {
    const episode_frame *f;
    int got = logged_next(&job->ls, &f, &job->err);
    if (got <= 0) {
        job->side[LOGGED].ended = 1;
        return got;
    }
    int rc = side_add(job, LOGGED, f);
    logged_release(&job->ls);
    return rc ? -1 : 1;
}

/* The new run's observer: its step, then the logged run's, then the frame. */
static int compare_step(const episode_frame *f, void *ctx) {
    compare_job *job = ctx;
    if (side_add(job, FRESH, f) || (!job->side[LOGGED].ended && logged_step(job) < 0) || compose(job))
        job->failed = 1;
    return job->failed;
}

/* ---- the files ---- */

static int write_csv(const char *path, const compare_side *side, wm_error *err) {
    atomic_file af;
    if (atomic_file_open(&af, path, err)) return -1;
    static const char *cols[] = {"accel", "brake", "steer", "speed", "s", "d"};
    fputs("step,t", af.f);
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 6; k++) fprintf(af.f, ",%s_%s", i == LOGGED ? "logged" : "new", cols[k]);
    fputs(",abs_diff_accel,abs_diff_brake,abs_diff_steer\n", af.f);
    int n = side[LOGGED].n > side[FRESH].n ? side[LOGGED].n : side[FRESH].n;
    for (int step = 1; step < n; step++) {
        const compare_row *r[2] = {step < side[LOGGED].n ? &side[LOGGED].rows[step] : NULL,
                                   step < side[FRESH].n ? &side[FRESH].rows[step] : NULL};
        fprintf(af.f, "%d,%.1f", step, (r[LOGGED] ? r[LOGGED] : r[FRESH])->t);
        for (int i = 0; i < 2; i++) {
            if (!r[i]) fputs(",,,,,,", af.f);
            else
                fprintf(af.f, ",%.6f,%.6f,%.6f,%.6f,%.6f,%.6f", r[i]->accel, r[i]->brake, r[i]->steer, r[i]->speed,
                        r[i]->s, r[i]->d);
        }
        if (r[LOGGED] && r[FRESH])
            fprintf(af.f, ",%.6f,%.6f,%.6f\n", fabs(r[FRESH]->accel - r[LOGGED]->accel),
                    fabs(r[FRESH]->brake - r[LOGGED]->brake), fabs(r[FRESH]->steer - r[LOGGED]->steer));
        else fputs(",,,\n", af.f);
    }
    return atomic_file_commit(&af, err);
}

/* Over the common steps: the first where an action component differs by
 * more than the tolerance, and each component's max and mean |difference|. */
static void action_diffs(const compare_side *side, replay_compare_report *rep) {
    int n = (side[LOGGED].n < side[FRESH].n ? side[LOGGED].n : side[FRESH].n) - 1;
    rep->common_steps = n;
    rep->first_diverging_step = -1;
    double sum[3] = {0, 0, 0};
    for (int step = 1; step <= n; step++) {
        const compare_row *a = &side[LOGGED].rows[step], *b = &side[FRESH].rows[step];
        double d[3] = {fabs(b->accel - a->accel), fabs(b->brake - a->brake), fabs(b->steer - a->steer)};
        for (int k = 0; k < 3; k++) {
            if (d[k] > rep->max_abs_diff[k]) rep->max_abs_diff[k] = d[k];
            sum[k] += d[k];
            if (d[k] > REPLAY_COMPARE_TOLERANCE && rep->first_diverging_step < 0) rep->first_diverging_step = step;
        }
    }
    for (int k = 0; k < 3; k++) rep->mean_abs_diff[k] = n > 0 ? sum[k] / n : 0.0;
}

static json_t *number_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *outcome_json(const replay_compare_outcome *o, const char *log_path) {
    json_t *j = json_object();
    json_object_set_new(j, "policy", json_string(o->policy));
    json_object_set_new(j, "log", json_string(log_path));
    json_object_set_new(j, "passed", json_boolean(o->passed));
    json_object_set_new(j, "score", number_or_null(o->score));
    json_object_set_new(j, "end_reason", json_string(o->end_reason));
    json_object_set_new(j, "steps", json_integer(o->steps));
    json_t *reasons = json_array();
    for (int i = 0; i < o->n_reasons; i++) json_array_append_new(reasons, json_string(o->reasons[i]));
    json_object_set_new(j, "failure_reasons", reasons);
    const char *names[METRICS_N_VALUES];
    metric_names(names);
    json_t *m = json_object();
    for (int k = 0; k < METRICS_N_VALUES; k++) json_object_set_new(m, names[k], number_or_null(o->metrics[k]));
    json_object_set_new(j, "metrics", m);
    return j;
}

static json_t *components_json(const double v[3]) {
    json_t *j = json_object();
    json_object_set_new(j, "accel", json_real(v[0]));
    json_object_set_new(j, "brake", json_real(v[1]));
    json_object_set_new(j, "steer", json_real(v[2]));
    return j;
}

static int write_json(const replay_compare_report *rep, const replay_compare_logged *lg, wm_error *err) {
    json_t *root = json_object();
    json_object_set_new(root, "wmsim_version", json_string(WMSIM_VERSION));
    char hash[17];
    snprintf(hash, sizeof hash, "%016" PRIx64, lg->sc.hash);
    json_t *sc = json_object();
    json_object_set_new(sc, "id", json_string(rep->scenario_id));
    json_object_set_new(sc, "hash", json_string(hash));
    json_object_set_new(root, "scenario", sc);
    json_object_set_new(root, "seed", json_integer((json_int_t)rep->seed));
    json_object_set_new(root, "logged", outcome_json(&rep->logged, lg->path));
    json_t *fresh = outcome_json(&rep->fresh, rep->log);
    json_object_set_new(fresh, "result", json_string(rep->result));
    json_object_set_new(root, "new", fresh);

    json_t *delta = json_object(), *dm = json_object();
    json_object_set_new(delta, "score", number_or_null(rep->fresh.score - rep->logged.score));
    json_object_set_new(delta, "steps", json_integer(rep->fresh.steps - rep->logged.steps));
    const char *names[METRICS_N_VALUES];
    metric_names(names);
    for (int k = 0; k < METRICS_N_VALUES; k++)
        json_object_set_new(dm, names[k], number_or_null(rep->fresh.metrics[k] - rep->logged.metrics[k]));
    json_object_set_new(delta, "metrics", dm);
    json_object_set_new(root, "delta", delta);

    json_t *act = json_object();
    json_object_set_new(act, "tolerance", json_real(REPLAY_COMPARE_TOLERANCE));
    json_object_set_new(act, "common_steps", json_integer(rep->common_steps));
    int first = rep->first_diverging_step;
    json_object_set_new(act, "first_diverging_step", first < 0 ? json_null() : json_integer(first));
    json_object_set_new(act, "first_diverging_t", first < 0 ? json_null() : json_real(first * SIM_DT));
    json_object_set_new(act, "max_abs_diff", components_json(rep->max_abs_diff));
    json_object_set_new(act, "mean_abs_diff", components_json(rep->mean_abs_diff));
    json_object_set_new(root, "actions", act);

    json_t *files = json_object();
    json_object_set_new(files, "video", json_string(rep->video));
    json_object_set_new(files, "csv", json_string(rep->csv));
    json_object_set_new(files, "log", json_string(rep->log));
    json_object_set_new(files, "result", json_string(rep->result));
    json_object_set_new(root, "files", files);
    return file_write_json(rep->json, root, FILE_JSON_REPORT, err);
}

/* ---- the comparison ---- */

static int report_paths(const replay_compare_logged *lg, const replay_compare_config *c, replay_compare_report *rep,
                        wm_error *err) {
    int n = c->out_dir ? snprintf(rep->out_dir, sizeof rep->out_dir, "%s", c->out_dir)
                       : snprintf(rep->out_dir, sizeof rep->out_dir, "out/compare_%s", lg->sc.id);
    if ((size_t)n >= sizeof rep->out_dir) return wm_fail(err, "%s: path too long", rep->out_dir);
    if (c->video_path && strlen(c->video_path) >= sizeof rep->video) return wm_fail(err, "%s: path too long", c->video_path);
    if (c->video_path) snprintf(rep->video, sizeof rep->video, "%s", c->video_path);
    else snprintf(rep->video, sizeof rep->video, "%s/compare.mp4", rep->out_dir);
    snprintf(rep->csv, sizeof rep->csv, "%s/diff.csv", rep->out_dir);
    snprintf(rep->json, sizeof rep->json, "%s/diff.json", rep->out_dir);
    snprintf(rep->result, sizeof rep->result, "%s/result.json", rep->out_dir);
    snprintf(rep->log, sizeof rep->log, "%s/episode.log", rep->out_dir);
    return 0;
}

static int side_open(compare_side *sd, const char *name, const replay_compare_config *c, wm_error *err) {
    sd->name = name;
    snprintf(sd->ended_label, sizeof sd->ended_label, "ended: %s", name);
    recorder_options ro = {.cp = c->cp, .supersample = c->supersample, .hud = c->hud, .bev = c->bev,
                           .reasoning = c->reasoning, .label = name};
    return recorder_open(&sd->rec, &ro, err);
}

static void fresh_outcome(const policy *pol, const episode_result *res, replay_compare_outcome *o) {
    snprintf(o->policy, sizeof o->policy, "%s", pol->name);
    o->steps = res->steps, o->passed = res->m.passed, o->score = res->m.score;
    snprintf(o->end_reason, sizeof o->end_reason, "%s", res->end_reason);
    o->n_reasons = res->m.n_reasons;
    memcpy(o->reasons, res->m.reasons, sizeof o->reasons);
    const char *names[METRICS_N_VALUES];
    metrics_values(&res->m, names, o->metrics);
}

int replay_compare_run(const replay_compare_logged *lg, const replay_compare_config *c, replay_compare_report *rep,
                       wm_error *err) {
    memset(rep, 0, sizeof *rep);
    snprintf(rep->scenario_id, sizeof rep->scenario_id, "%s", lg->sc.id);
    rep->seed = lg->seed;
    rep->logged = lg->outcome;
    if (report_paths(lg, c, rep, err)) return -1;
    struct stat a, b; /* the new run's log would replace the one being compared */
    if (stat(lg->path, &a) == 0 && stat(rep->log, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        return wm_fail(err, "%s: is the log being compared; choose another output folder", rep->log);
    policy pol;
    if (policy_create(c->policy, c->limits, &pol, err)) return -1;

    compare_job *job = CALLOC_CHECK(1, sizeof *job);
    job->c = c;
    camera_feed *feed = NULL;
    char pending[4300]; /* the new run's log until everything else is written */
    snprintf(pending, sizeof pending, "%s.pending", rep->log);
    int rc = -1, started = 0, ran = 0;
    camera_feed_options fo = camera_feed_options_default(); /* oracle frames, as `wmsim run` gives */
    fo.cp = c->cp, fo.supersample = c->supersample;
    /* A caption band is 10 s rows under the picture (overlay_caption). */
    int width = 2 * c->cp.width, height = c->cp.height + (c->reasoning ? 10 * OVERLAY_SCALE(c->cp.width) : 0);
    if ((pol.sees_frames && camera_feed_open(&feed, &fo, err)) || side_open(&job->side[LOGGED], lg->outcome.policy, c, err) ||
        side_open(&job->side[FRESH], pol.name, c, err) || dir_create(rep->out_dir, err) ||
        video_writer_open(&job->video, rep->video, width, height, (int)llround(1.0 / SIM_DT), c->codec, err) ||
        logged_start(&job->ls, lg->path, err))
        goto done;
    started = 1;

    episode_config cfg = {.sc = &lg->sc, .seed = lg->seed, .pol = &pol, .feed = feed, .log_path = pending,
                          .observe = compare_step, .observe_ctx = job};
    episode_result res;
    if (episode_run(&cfg, &res, err)) goto done;
    ran = 1;
    job->side[FRESH].ended = 1;
    while (!job->failed && !job->side[LOGGED].ended) {
        int got = logged_step(job);
        if (got < 0 || (got > 0 && compose(job))) job->failed = 1;
    }
    if (job->failed) {
        *err = job->err;
        goto done;
    }
    logged_stop(&job->ls), started = 0;
    rep->frames = job->frames;
    int closed = video_writer_close(job->video, err);
    job->video = NULL;
    if (closed) goto done;

    fresh_outcome(&pol, &res, &rep->fresh);
    action_diffs(job->side, rep);
    if (write_csv(rep->csv, job->side, err) || write_json(rep, lg, err) ||
        episode_write_result_json(rep->result, &cfg, &res, err))
        goto done;
    if (rename(pending, rep->log) != 0) {
        wm_fail(err, "%s: cannot rename %s into place: %s", rep->log, pending, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    if (started) logged_stop(&job->ls);
    if (ran && rc) unlink(pending);
    video_writer_abort(job->video);
    image_free(&job->row);
    for (int i = 0; i < 2; i++) {
        if (job->side[i].rec) recorder_abort(job->side[i].rec);
        free(job->side[i].rows);
    }
    free(job);
    camera_feed_close(feed);
    pol.destroy(&pol);
    return rc;
}

static void print_outcome(FILE *out, const char *which, const replay_compare_outcome *o) {
    fprintf(out, "  %s %s: %s score %.3f (%s, %d steps)\n", which, o->policy, o->passed ? "PASS" : "FAIL", o->score,
            o->end_reason, o->steps);
    for (int i = 0; i < o->n_reasons; i++) fprintf(out, "    failure: %s\n", o->reasons[i]);
}

void replay_compare_print(const replay_compare_report *rep, FILE *out) {
    fprintf(out, "%s seed %" PRIu64 ": logged %s vs new %s\n", rep->scenario_id, rep->seed, rep->logged.policy,
            rep->fresh.policy);
    print_outcome(out, "logged", &rep->logged);
    print_outcome(out, "new", &rep->fresh);
    fprintf(out, "  score change %+.3f; ", rep->fresh.score - rep->logged.score);
    if (rep->first_diverging_step < 0)
        fprintf(out, "actions agree at all %d common steps (within %g)\n", rep->common_steps, REPLAY_COMPARE_TOLERANCE);
    else
        fprintf(out, "actions first differ at step %d (t=%.1f s); max |difference| accel %.3f, brake %.3f, steer %.3f\n",
                rep->first_diverging_step, rep->first_diverging_step * SIM_DT, rep->max_abs_diff[0],
                rep->max_abs_diff[1], rep->max_abs_diff[2]);
    fprintf(out, "  wrote %s (%d frames at 10 fps), %s, %s, %s and %s\n", rep->video, rep->frames, rep->csv, rep->json,
            rep->result, rep->log);
}
