#include "sim/episode.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/clock.h"
#include "core/fileio.h"
#include "core/version.h"
#include "sim/episode_log.h"

/* Feeds the frame at w into *frame, timing it. */
static int feed_frame(const episode_config *cfg, const sim_world *w, const action *led_by, const image **frame,
                      episode_result *res, wm_error *err) {
    if (!cfg->feed) return 0;
    double t0 = clock_now_s();
    int rc = camera_feed_frame(cfg->feed, w, led_by, frame, err);
    res->frames_s += clock_now_s() - t0;
    return rc;
}

static void policy_failure(episode_result *res, const sim_world *w, const char *what) {
    metrics_add_failure(&res->m, FINDING_POLICY, "t=%.1f s: %s", w->t, what);
    snprintf(res->end_reason, sizeof res->end_reason, "policy error");
}

int episode_run(const episode_config *cfg, episode_result *res, wm_error *err) {
    memset(res, 0, sizeof *res);
    if (cfg->pol->sees_frames && !cfg->feed)
        return wm_fail(err, "episode: policy %s sees camera frames, but no camera feed was given", cfg->pol->name);
    if (cfg->feed && camera_feed_reset(cfg->feed, cfg->seed, err)) return -1;
    char episode_id[SCENARIO_ID_MAX + 24];
    snprintf(episode_id, sizeof episode_id, "%s/%" PRIu64, cfg->sc->id, cfg->seed);
    sim_world *w = MALLOC_CHECK(sizeof *w);
    sim_world_init(w, cfg->sc, cfg->seed);
    metrics_init(&res->m, w);
    snprintf(res->end_reason, sizeof res->end_reason, "duration elapsed");

    episode_log_writer lw;
    if (cfg->log_path && episode_log_open(&lw, cfg->log_path, cfg->sc, cfg->seed, cfg->pol->name, err)) {
        free(w);
        return -1;
    }
    wm_error perr = {{0}};
    int running = 1;
    const image *frame = NULL;
    if (feed_frame(cfg, w, NULL, &frame, res, err)) goto feed_failed;
    if (cfg->pol->reset(cfg->pol, w, &perr)) policy_failure(res, w, perr.msg), running = 0;

    if (cfg->observe && cfg->observe(&(episode_frame){w, NULL, &res->m, frame, cfg->feed, NULL}, cfg->observe_ctx)) {
        snprintf(res->end_reason, sizeof res->end_reason, "stopped by observer");
        running = 0;
    }
    const action_limits *lim = &w->ego_params.limits;
    int n_steps = (int)llround(cfg->sc->duration / SIM_DT);
    while (running && w->step < n_steps) {
        policy_observation obs = {.world = w, .episode_id = episode_id, .step = w->step, .t = w->t,
                                  .speed = w->ego.speed, .yaw_rate = w->ego.yaw_rate,
                                  .instruction = cfg->sc->instruction, .limits = lim,
                                  .frame = cfg->pol->sees_frames ? frame : NULL};
        action cmd = {0, 0, 0};
        char reasoning[POLICY_REASONING_MAX] = "";
        double t0 = clock_now_s();
        cfg->pol->n_plan = 0;
        int failed = cfg->pol->act(cfg->pol, &obs, &cmd, reasoning, &perr);
        res->policy_s += clock_now_s() - t0;
        if (failed) {
            policy_failure(res, w, perr.msg);
            break;
        }
        int n_before = res->m.n_reasons;
        char clamp_note[METRICS_REASON_LEN] = "";
        wm_error range = {{0}};
        if (action_check(&cmd, lim, &range)) {
            if (!cfg->sc->ego.vehicle.clamp_actions) {
                char what[METRICS_REASON_LEN];
                snprintf(what, sizeof what, "policy action out of range: %.150s", range.msg);
                policy_failure(res, w, what);
                break;
            }
            action clamped = cmd;
            action_clamp(&clamped, lim);
            snprintf(clamp_note, sizeof clamp_note, "t=%.1f s: clamped %.150s", w->t, range.msg);
            cmd = clamped;
        }
        t0 = clock_now_s();
        sim_step(w, &cmd);
        metrics_update(&res->m, w);
        res->sim_s += clock_now_s() - t0;
        if (feed_frame(cfg, w, &cmd, &frame, res, err)) goto feed_failed;
        if (cfg->log_path) {
            /* Findings of this step (collisions, guard violations) are events too. */
            char extra[METRICS_MAX_REASONS + 1][METRICS_REASON_LEN];
            int n_extra = 0;
            if (clamp_note[0]) memcpy(extra[n_extra++], clamp_note, METRICS_REASON_LEN);
            for (int i = n_before; i < res->m.n_reasons; i++) memcpy(extra[n_extra++], res->m.reasons[i], METRICS_REASON_LEN);
            episode_log_write_step(&lw, w, &cmd, reasoning, (const double(*)[3])cfg->pol->plan, cfg->pol->n_plan, extra,
                                   n_extra);
        }
        if (cfg->observe && cfg->observe(&(episode_frame){w, &cmd, &res->m, frame, cfg->feed, reasoning}, cfg->observe_ctx)) {
            snprintf(res->end_reason, sizeof res->end_reason, "stopped by observer");
            break;
        }
        if (res->m.at_fault_collision) {
            snprintf(res->end_reason, sizeof res->end_reason, "collision");
            break;
        }
        if (res->m.goal_reached) {
            snprintf(res->end_reason, sizeof res->end_reason, "goal reached");
            break;
        }
    }
    res->steps = w->step;
    res->t = w->t;
    metrics_finish(&res->m, w);
    free(w);
    if (cfg->log_path) {
        episode_log_write_summary(&lw, res);
        if (episode_log_commit(&lw, err)) return -1;
    }
    return 0;

feed_failed:
    free(w);
    if (cfg->log_path) episode_log_abort(&lw);
    return -1;
}

static char *hex64(uint64_t v, char buf[17]) {
    snprintf(buf, 17, "%016" PRIx64, v);
    return buf;
}

json_t *episode_result_json(const episode_config *cfg, const episode_result *res) {
    char hash[17];
    json_t *root = json_object();
    json_object_set_new(root, "wmsim_version", json_string(WMSIM_VERSION));
    json_t *sc = json_object();
    json_object_set_new(sc, "id", json_string(cfg->sc->id));
    if (cfg->scenario_path) json_object_set_new(sc, "file", json_string(cfg->scenario_path));
    json_object_set_new(sc, "hash", json_string(hex64(cfg->sc->hash, hash)));
    json_object_set_new(root, "scenario", sc);
    json_object_set_new(root, "seed", json_integer((json_int_t)cfg->seed));
    json_object_set_new(root, "policy", json_string(cfg->pol->name));
    json_object_set_new(root, "passed", json_boolean(res->m.passed));
    json_object_set_new(root, "score", json_real(res->m.score));
    json_object_set_new(root, "end_reason", json_string(res->end_reason));
    json_object_set_new(root, "steps", json_integer(res->steps));
    json_object_set_new(root, "duration_s", json_real(res->t));
    json_t *reasons = json_array();
    for (int i = 0; i < res->m.n_reasons; i++) json_array_append_new(reasons, json_string(res->m.reasons[i]));
    json_object_set_new(root, "failure_reasons", reasons);
    const char *names[METRICS_N_VALUES];
    double values[METRICS_N_VALUES];
    metrics_values(&res->m, names, values);
    json_t *mj = json_object();
    for (int i = 0; i < METRICS_N_VALUES; i++) json_object_set_new(mj, names[i], json_real(values[i]));
    json_object_set_new(root, "metrics", mj);
    return root;
}

int episode_write_result_json(const char *path, const episode_config *cfg, const episode_result *res,
                              wm_error *err) {
    return file_write_json(path, episode_result_json(cfg, res), FILE_JSON_REPORT, err);
}
