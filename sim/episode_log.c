#include "sim/episode_log.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/version.h"

static void write_record(episode_log_writer *lw, const Wmsim__LogRecord *rec) {
    size_t len = wmsim__log_record__get_packed_size(rec);
    if (len + 10 > lw->cap) {
        lw->cap = (len + 10) * 2;
        lw->buf = REALLOC_CHECK(lw->buf, lw->cap, 1);
    }
    size_t n = 0;
    for (uint64_t v = len; ; v >>= 7) { /* varint length prefix */
        lw->buf[n++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
        if (v < 0x80) break;
    }
    n += wmsim__log_record__pack(rec, lw->buf + n);
    if (fwrite(lw->buf, 1, n, lw->af.f) != n) lw->failed = 1;
}

int episode_log_open(episode_log_writer *lw, const char *path, const scenario *sc, uint64_t seed,
                     const char *policy_name, wm_error *err) {
    memset(lw, 0, sizeof *lw);
    if (atomic_file_open(&lw->af, path, err)) return -1;
    Wmsim__LogHeader h = WMSIM__LOG_HEADER__INIT;
    h.has_format_version = 1, h.format_version = EPISODE_LOG_FORMAT_VERSION;
    h.wmsim_version = (char *)WMSIM_VERSION;
    h.scenario_id = (char *)sc->id;
    h.has_scenario_hash = 1, h.scenario_hash = sc->hash;
    h.has_scenario = 1, h.scenario.data = sc->pb_bytes, h.scenario.len = sc->pb_len;
    h.has_seed = 1, h.seed = seed;
    h.policy = (char *)policy_name;
    h.has_dt_s = 1, h.dt_s = SIM_DT;
    h.has_substeps = 1, h.substeps = SIM_SUBSTEPS;
    Wmsim__LogRecord rec = WMSIM__LOG_RECORD__INIT;
    rec.record_case = WMSIM__LOG_RECORD__RECORD_HEADER, rec.header = &h;
    write_record(lw, &rec);
    return 0;
}

static void fill_action(Wmsim__LogAction *la, const action *a) {
    la->has_accel = la->has_brake = la->has_steer = 1;
    la->accel = a->accel, la->brake = a->brake, la->steer = a->steer;
}

void episode_log_write_step(episode_log_writer *lw, const sim_world *w, const action *command,
                            const char *reasoning, const double (*plan)[3], int n_plan,
                            char extra_events[][METRICS_REASON_LEN], int n_extra) {
    Wmsim__LogAction cmd = WMSIM__LOG_ACTION__INIT, applied = WMSIM__LOG_ACTION__INIT;
    fill_action(&cmd, command);
    fill_action(&applied, &w->ego.applied);
    Wmsim__LogEgo ego = WMSIM__LOG_EGO__INIT;
    ego.has_x = ego.has_y = ego.has_yaw = ego.has_speed = ego.has_yaw_rate = ego.has_accel = ego.has_s = ego.has_d = 1;
    ego.x = w->ego.x, ego.y = w->ego.y, ego.yaw = w->ego.yaw, ego.speed = w->ego.speed;
    ego.yaw_rate = w->ego.yaw_rate, ego.accel = w->ego.accel, ego.s = w->ego_s, ego.d = w->ego_d;

    Wmsim__LogActor actors[SCENARIO_MAX_ACTORS], *actor_ptrs[SCENARIO_MAX_ACTORS];
    size_t n_actors = 0;
    for (int i = 0; i < w->n_actors; i++) {
        const sim_actor *a = &w->actors[i];
        if (!a->dynamic) continue;
        Wmsim__LogActor *la = &actors[n_actors];
        *la = (Wmsim__LogActor)WMSIM__LOG_ACTOR__INIT;
        la->has_index = 1, la->index = (uint32_t)i;
        la->has_x = la->has_y = la->has_yaw = la->has_speed = la->has_s = la->has_d = 1;
        la->x = a->x, la->y = a->y, la->yaw = a->yaw, la->speed = a->speed, la->s = a->s, la->d = a->d;
        if (a->kind == ACTOR_VEHICLE) la->has_braking = 1, la->braking = a->braking != 0;
        if (a->kind == ACTOR_GUARD) la->has_gesture = 1, la->gesture = (Wmsim__Gesture)a->gesture;
        if (a->kind == ACTOR_PEDESTRIAN) la->has_active = 1, la->active = a->triggered != 0;
        actor_ptrs[n_actors++] = la;
    }
    char *events[SIM_MAX_EVENTS + METRICS_MAX_REASONS];
    size_t n_events = 0;
    for (int i = 0; i < w->n_events; i++) events[n_events++] = (char *)w->events[i];
    for (int i = 0; i < n_extra; i++) events[n_events++] = extra_events[i];

    Wmsim__LogStep step = WMSIM__LOG_STEP__INIT;
    step.has_step = 1, step.step = (uint32_t)w->step;
    step.has_t_s = 1, step.t_s = w->t;
    step.command = &cmd, step.applied = &applied, step.ego = &ego;
    step.n_actors = n_actors, step.actors = actor_ptrs;
    step.n_events = n_events, step.events = events;
    if (reasoning && *reasoning) step.reasoning = (char *)reasoning;
    Wmsim__LogWaypoint points[POLICY_PLAN_MAX], *point_ptrs[POLICY_PLAN_MAX];
    for (int i = 0; i < n_plan && i < POLICY_PLAN_MAX; i++) {
        points[i] = (Wmsim__LogWaypoint)WMSIM__LOG_WAYPOINT__INIT;
        points[i].has_x_m = points[i].has_y_m = points[i].has_t_s = 1;
        points[i].x_m = plan[i][0], points[i].y_m = plan[i][1], points[i].t_s = plan[i][2];
        point_ptrs[step.n_plan++] = &points[i];
    }
    step.plan = point_ptrs;
    Wmsim__LogRecord rec = WMSIM__LOG_RECORD__INIT;
    rec.record_case = WMSIM__LOG_RECORD__RECORD_STEP, rec.step = &step;
    write_record(lw, &rec);
}

void episode_log_write_summary(episode_log_writer *lw, const episode_result *res) {
    const char *names[METRICS_N_VALUES];
    double values[METRICS_N_VALUES];
    metrics_values(&res->m, names, values);
    Wmsim__LogMetric metric[METRICS_N_VALUES], *metric_ptrs[METRICS_N_VALUES];
    for (int i = 0; i < METRICS_N_VALUES; i++) {
        metric[i] = (Wmsim__LogMetric)WMSIM__LOG_METRIC__INIT;
        metric[i].name = (char *)names[i];
        metric[i].has_value = 1, metric[i].value = values[i];
        metric_ptrs[i] = &metric[i];
    }
    char *reasons[METRICS_MAX_REASONS];
    for (int i = 0; i < res->m.n_reasons; i++) reasons[i] = (char *)res->m.reasons[i];
    Wmsim__LogSummary s = WMSIM__LOG_SUMMARY__INIT;
    s.has_steps = 1, s.steps = (uint32_t)res->steps;
    s.has_score = 1, s.score = res->m.score;
    s.has_passed = 1, s.passed = res->m.passed != 0;
    s.n_failure_reasons = (size_t)res->m.n_reasons, s.failure_reasons = reasons;
    s.n_metrics = METRICS_N_VALUES, s.metrics = metric_ptrs;
    s.end_reason = (char *)res->end_reason;
    Wmsim__LogRecord rec = WMSIM__LOG_RECORD__INIT;
    rec.record_case = WMSIM__LOG_RECORD__RECORD_SUMMARY, rec.summary = &s;
    write_record(lw, &rec);
}

int episode_log_commit(episode_log_writer *lw, wm_error *err) {
    free(lw->buf);
    lw->buf = NULL;
    if (lw->failed) {
        int e = errno;
        episode_log_abort(lw);
        return wm_fail(err, "%s: write failed: %s", lw->af.path, strerror(e));
    }
    return atomic_file_commit(&lw->af, err);
}

void episode_log_abort(episode_log_writer *lw) {
    free(lw->buf);
    lw->buf = NULL;
    atomic_file_abort(&lw->af);
}

int episode_log_read(const char *path, episode_log_visit on_record, void *ctx, wm_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return wm_fail(err, "%s: cannot open: %s", path, strerror(errno));
    uint8_t *buf = NULL;
    int rc = 0;
    for (long index = 0;; index++) {
        uint64_t len = 0;
        int shift = 0, c = 0, nbytes = 0;
        while ((c = fgetc(f)) != EOF) {
            nbytes++;
            len |= (uint64_t)(c & 0x7f) << shift;
            if (!(c & 0x80)) break;
            if ((shift += 7) > 63) break;
        }
        if (nbytes == 0) break; /* clean end of stream */
        if (c == EOF || (c & 0x80)) {
            rc = wm_fail(err, "%s: record %ld: truncated length prefix", path, index);
            break;
        }
        if (len > EPISODE_LOG_MAX_RECORD) {
            rc = wm_fail(err, "%s: record %ld: length %" PRIu64 " exceeds the %u-byte limit", path, index, len,
                         EPISODE_LOG_MAX_RECORD);
            break;
        }
        buf = REALLOC_CHECK(buf, len ? len : 1, 1);
        size_t got = fread(buf, 1, len, f);
        if (got != len) {
            rc = wm_fail(err, "%s: record %ld: truncated (%zu of %" PRIu64 " bytes)", path, index, got, len);
            break;
        }
        Wmsim__LogRecord *rec = wmsim__log_record__unpack(NULL, len, buf);
        if (!rec) {
            rc = wm_fail(err, "%s: record %ld: not a valid LogRecord", path, index);
            break;
        }
        if (index == 0 && rec->record_case != WMSIM__LOG_RECORD__RECORD_HEADER) {
            wmsim__log_record__free_unpacked(rec, NULL);
            rc = wm_fail(err, "%s: record 0: expected the log header (is this an episode log?)", path);
            break;
        }
        if (index == 0 && (!rec->header->has_format_version ||
                           rec->header->format_version != EPISODE_LOG_FORMAT_VERSION)) {
            unsigned v = rec->header->format_version;
            wmsim__log_record__free_unpacked(rec, NULL);
            rc = wm_fail(err, "%s: record 0: unsupported log format version %u (this wmsim reads %d)", path, v,
                         EPISODE_LOG_FORMAT_VERSION);
            break;
        }
        int stop = on_record(rec, ctx);
        wmsim__log_record__free_unpacked(rec, NULL);
        if (stop) break;
    }
    free(buf);
    fclose(f);
    return rc;
}

typedef struct {
    FILE *out;
    char last_reasoning[POLICY_REASONING_MAX];
    unsigned steps, planned; /* steps, and those whose answer carried a planned path */
    double last_speed;
    double max_speed;
    int have_summary;
} show_state;

static int show_record(const Wmsim__LogRecord *rec, void *ctx) {
    show_state *st = ctx;
    FILE *out = st->out;
    switch (rec->record_case) {
    case WMSIM__LOG_RECORD__RECORD_HEADER: {
        const Wmsim__LogHeader *h = rec->header;
        fprintf(out, "episode log v%u (wmsim %s)\n", h->format_version, h->wmsim_version ? h->wmsim_version : "?");
        fprintf(out, "scenario: %s (hash %016" PRIx64 ", %zu bytes embedded)\n", h->scenario_id ? h->scenario_id : "?",
                h->scenario_hash, h->scenario.len);
        fprintf(out, "seed: %" PRIu64 "  policy: %s  dt: %.2f s x %u substeps\n", h->seed,
                h->policy ? h->policy : "?", h->dt_s, h->substeps);
        break;
    }
    case WMSIM__LOG_RECORD__RECORD_STEP: {
        const Wmsim__LogStep *s = rec->step;
        st->steps++;
        if (s->ego) {
            st->last_speed = s->ego->speed;
            if (s->ego->speed > st->max_speed) st->max_speed = s->ego->speed;
        }
        for (size_t i = 0; i < s->n_events; i++) fprintf(out, "  %s\n", s->events[i]);
        if (s->n_plan) st->planned++;
        if (s->reasoning && strcmp(s->reasoning, st->last_reasoning) != 0) {
            fprintf(out, "  t=%.1f s: policy: %s (speed %.1f m/s", s->t_s, s->reasoning, st->last_speed);
            if (s->n_plan) {
                const Wmsim__LogWaypoint *e = s->plan[s->n_plan - 1];
                fprintf(out, "; plans %zu points to %.1f m ahead, %.1f m left in %.1f s", s->n_plan, e->x_m, e->y_m,
                        e->t_s);
            }
            fputs(")\n", out);
            snprintf(st->last_reasoning, sizeof st->last_reasoning, "%s", s->reasoning);
        }
        break;
    }
    case WMSIM__LOG_RECORD__RECORD_SUMMARY: {
        const Wmsim__LogSummary *s = rec->summary;
        st->have_summary = 1;
        fprintf(out, "steps: %u  max speed: %.1f m/s  end: %s\n", s->steps, st->max_speed,
                s->end_reason ? s->end_reason : "?");
        if (st->planned) fprintf(out, "planned paths: %u of %u steps\n", st->planned, st->steps);
        fprintf(out, "result: %s  score %.3f\n", s->passed ? "PASS" : "FAIL", s->score);
        for (size_t i = 0; i < s->n_failure_reasons; i++) fprintf(out, "  failure: %s\n", s->failure_reasons[i]);
        for (size_t i = 0; i < s->n_metrics; i++)
            fprintf(out, "  %-28s %.4f\n", s->metrics[i]->name ? s->metrics[i]->name : "?", s->metrics[i]->value);
        break;
    }
    case WMSIM__LOG_RECORD__RECORD__NOT_SET:
    default: break;
    }
    return 0;
}

int episode_log_show(const char *path, FILE *out, wm_error *err) {
    show_state st = {.out = out};
    if (episode_log_read(path, show_record, &st, err)) return -1;
    if (!st.have_summary) return wm_fail(err, "%s: no summary record (log incomplete)", path);
    return 0;
}

typedef struct {
    const char *path;
    int (*observe)(const episode_frame *f, void *ctx);
    void *ctx;
    episode_replay_info *info;
    scenario sc;
    int have_scenario;
    sim_world *w;
    metrics m;
    wm_error *err;
    int failed; /* err is set */
} replay_state;

static int replay_fail(replay_state *st) {
    st->failed = 1;
    return 1;
}

static void replay_step(sim_world *w, const Wmsim__LogStep *step) {
    const Wmsim__LogEgo *e = step->ego;
    w->step = (int)step->step, w->t = step->t_s;
    if (e) {
        w->ego.x = e->x, w->ego.y = e->y, w->ego.yaw = e->yaw, w->ego.speed = e->speed;
        w->ego.yaw_rate = e->yaw_rate, w->ego.accel = e->accel;
        w->ego_s = e->s, w->ego_d = e->d;
    }
    if (step->applied)
        w->ego.applied = (action){step->applied->accel, step->applied->brake, step->applied->steer};
    w->ego_stopped_time = w->ego.speed < SIM_STOPPED_SPEED ? w->ego_stopped_time + SIM_DT : 0.0;
    for (size_t k = 0; k < step->n_actors; k++) {
        const Wmsim__LogActor *la = step->actors[k];
        if (la->index >= (uint32_t)w->n_actors) continue;
        sim_actor *a = &w->actors[la->index];
        a->x = la->x, a->y = la->y, a->yaw = la->yaw, a->speed = la->speed, a->s = la->s, a->d = la->d;
        if (la->has_braking) a->braking = la->braking;
        if (la->has_active) a->triggered = la->active;
        if (la->has_gesture && (gesture)la->gesture != a->gesture) a->gesture = (gesture)la->gesture, a->gesture_since = w->t;
    }
    w->n_events = 0;
}

static int replay_record(const Wmsim__LogRecord *rec, void *ctx) {
    replay_state *st = ctx;
    switch (rec->record_case) {
    case WMSIM__LOG_RECORD__RECORD_HEADER: {
        const Wmsim__LogHeader *h = rec->header;
        /* Only the first record is a header; loading a second one over the
         * first leaked its scenario (found by fuzzing). */
        if (st->have_scenario)
            return wm_fail(st->err, "%s: step %d: a second log header", st->path, st->w->step), replay_fail(st);
        if (scenario_load_pb(st->path, h->scenario.data, h->scenario.len, &st->sc, st->err)) {
            wm_error_prefix(st->err, "%s: the embedded scenario: ", st->path);
            return replay_fail(st);
        }
        st->have_scenario = 1;
        snprintf(st->info->scenario_id, sizeof st->info->scenario_id, "%s", st->sc.id);
        snprintf(st->info->policy, sizeof st->info->policy, "%s", h->policy ? h->policy : "");
        st->info->seed = h->seed;
        sim_world_init(st->w, &st->sc, h->seed);
        metrics_init(&st->m, st->w);
        if (st->observe && st->observe(&(episode_frame){.w = st->w, .m = &st->m}, st->ctx)) return st->info->stopped = 1;
        return 0;
    }
    case WMSIM__LOG_RECORD__RECORD_STEP: {
        const Wmsim__LogStep *step = rec->step;
        if (!step->ego || step->step != (uint32_t)st->w->step + 1)
            return wm_fail(st->err, "%s: step %u: out of order or without the ego state (after step %d)", st->path,
                           step->step, st->w->step),
                   replay_fail(st);
        replay_step(st->w, step);
        metrics_update(&st->m, st->w);
        action cmd = step->command ? (action){step->command->accel, step->command->brake, step->command->steer}
                                   : st->w->ego.applied;
        st->info->steps = st->w->step;
        if (st->observe && st->observe(&(episode_frame){.w = st->w, .command = &cmd, .m = &st->m, .reasoning = step->reasoning},
                                       st->ctx))
            return st->info->stopped = 1;
        return 0;
    }
    case WMSIM__LOG_RECORD__RECORD_SUMMARY:
        if (rec->summary->has_score) st->info->logged_score = rec->summary->score;
        return 0;
    default: return 0;
    }
}

int episode_log_replay(const char *path, int (*observe)(const episode_frame *f, void *ctx), void *ctx,
                       episode_replay_info *info, wm_error *err) {
    memset(info, 0, sizeof *info);
    info->logged_score = NAN;
    replay_state *st = CALLOC_CHECK(1, sizeof *st);
    *st = (replay_state){.path = path, .observe = observe, .ctx = ctx, .info = info, .err = err};
    st->w = MALLOC_CHECK(sizeof *st->w);
    int rc = episode_log_read(path, replay_record, st, err);
    if (rc == 0 && st->failed) rc = -1;
    if (rc == 0 && !st->have_scenario) rc = wm_fail(err, "%s: no log header", path);
    if (rc == 0) {
        info->rescored = st->m;
        metrics_finish(&info->rescored, st->w);
    }
    if (st->have_scenario) scenario_free(&st->sc);
    free(st->w);
    free(st);
    return rc;
}
