/* Closed-loop engine: guard timelines and triggers, actor behaviours,
 * collision and compliance metrics on hand-built cases, every example with
 * the expert and the cruise baseline, policy errors, determinism. */
#include <math.h>

#include "core/fileio.h"
#include "core/mathx.h"
#include "sim/episode.h"
#include "sim/episode_log.h"
#include "testutil.h"

/* A two-lane road (forward + oncoming), 300 m, 13.9 m/s, with ACTORS spliced in. */
static const char *BASE =
    "id: \"t\"\nseed: 1\nduration_s: %g\n"
    "road { segments { length_m: 300 }\n"
    "  lanes { direction: LANE_DIRECTION_FORWARD } lanes { direction: LANE_DIRECTION_ONCOMING }\n"
    "  speed_limit_mps: 13.9 }\n"
    "ego { lane: 0 s_m: %g speed_mps: %g goal_s_m: 280 %s }\n%s\n%s\n";

static scenario *load_text(const char *text) {
    char *dir = test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/s.pbtxt", dir);
    write_text_file(path, text);
    scenario *sc = CALLOC_CHECK(1, sizeof *sc);
    wm_error err;
    ck_assert_msg(scenario_load(path, sc, &err) == 0, "%s", err.msg);
    free(dir);
    return sc;
}

static scenario *make_scenario(double duration, double ego_s, double ego_speed, const char *ego_extra,
                               const char *actors, const char *extra) {
    char text[8192];
    snprintf(text, sizeof text, BASE, duration, ego_s, ego_speed, ego_extra, actors, extra);
    return load_text(text);
}

static void free_scenario(scenario *sc) {
    scenario_free(sc);
    free(sc);
}

/* Runs an episode with a built-in policy; no log. */
static void run_policy(const scenario *sc, const char *name, episode_result *res) {
    policy pol;
    wm_error err;
    ck_assert_int_eq(policy_create(name, NULL, &pol, &err), 0);
    episode_config cfg = {.sc = sc, .seed = sc->seed, .pol = &pol};
    ck_assert_msg(episode_run(&cfg, res, &err) == 0, "%s", err.msg);
    pol.destroy(&pol);
}

static int has_reason(const episode_result *res, const char *needle) {
    for (int i = 0; i < res->m.n_reasons; i++)
        if (strstr(res->m.reasons[i], needle)) return 1;
    return 0;
}

static void dump_reasons(const episode_result *res, char *buf, size_t len) {
    buf[0] = '\0';
    for (int i = 0; i < res->m.n_reasons; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "[%s] ", res->m.reasons[i]);
    }
}

/* ------------------------------------------------------------ guards */

START_TEST(guard_timeline_switches_on_time) {
    scenario *sc = make_scenario(
        10, 10, 0, "", "",
        "actors { id: \"g\" guard { s_m: 100 d_m: -0.4 "
        "timeline { gesture: GESTURE_STOP start_s: 0 duration_s: 2 } "
        "timeline { gesture: GESTURE_SLOW start_s: 2 duration_s: 1.5 } "
        "timeline { gesture: GESTURE_PROCEED start_s: 3.5 } } }");
    sim_world *w = MALLOC_CHECK(sizeof *w);
    sim_world_init(w, sc, 1);
    ck_assert_int_eq(w->actors[0].gesture, GESTURE_STOP);
    action hold = {0, 2, 0};
    gesture seen[60];
    for (int i = 0; i < 50; i++) {
        sim_step(w, &hold);
        seen[i] = w->actors[0].gesture;
        if (w->step == 20) {
            ck_assert_int_eq(w->n_events, 1);
            ck_assert_str_eq(w->events[0], "t=2.0 s: guard 'g' shows SLOW");
        }
    }
    ck_assert_int_eq(seen[18], GESTURE_STOP);    /* t = 1.9 */
    ck_assert_int_eq(seen[19], GESTURE_SLOW);    /* t = 2.0 */
    ck_assert_int_eq(seen[33], GESTURE_SLOW);    /* t = 3.4 */
    ck_assert_int_eq(seen[34], GESTURE_PROCEED); /* t = 3.5 */
    ck_assert_int_eq(seen[49], GESTURE_PROCEED); /* the last segment holds */
    free(w);
    free_scenario(sc);
}
END_TEST

START_TEST(guard_trigger_after_ego_stopped) {
    /* Ego stands 30 m before the guard: after 4 s stopped (+1 s delay) PROCEED. */
    scenario *sc = make_scenario(
        20, 60, 0, "", "",
        "actors { id: \"g\" guard { s_m: 100 d_m: -0.4 timeline { gesture: GESTURE_STOP start_s: 0 } "
        "triggers { when { ego_stopped_for_s: 4 } gesture: GESTURE_PROCEED delay_s: 1 } } }");
    sim_world *w = MALLOC_CHECK(sizeof *w);
    sim_world_init(w, sc, 1);
    action hold = {0, 2, 0};
    double proceed_at = -1;
    for (int i = 0; i < 100 && proceed_at < 0; i++) {
        sim_step(w, &hold);
        if (w->actors[0].gesture == GESTURE_PROCEED) proceed_at = w->t;
    }
    /* Stopped from the first step (speed 0 → stopped time counts from t = 0.1). */
    ck_assert_double_eq_tol(proceed_at, 5.0, 1e-9);
    free(w);
    free_scenario(sc);
}
END_TEST

START_TEST(guard_trigger_ego_within_distance) {
    scenario *sc = make_scenario(
        20, 10, 10, "", "",
        "actors { id: \"g\" guard { s_m: 100 d_m: -0.4 timeline { gesture: GESTURE_PROCEED start_s: 0 } "
        "triggers { when { ego_within_m: 30 } gesture: GESTURE_STOP } } }");
    sim_world *w = MALLOC_CHECK(sizeof *w);
    sim_world_init(w, sc, 1);
    action coast = {0, 0, 0};
    while (w->actors[0].gesture == GESTURE_PROCEED && w->step < 200) sim_step(w, &coast);
    /* It fires on the first step with the ego front within 30 m of the guard. */
    double ahead = w->actors[0].s - sim_ego_front_s(w);
    ck_assert_double_le(ahead, 30.0);
    ck_assert_double_gt(ahead, 30.0 - 10.0 * SIM_DT - 1e-9);
    free(w);
    free_scenario(sc);
}
END_TEST

START_TEST(trigger_can_reference_another_actor) {
    /* The guard switches when the ego is within 20 m of the sign, not of the guard. */
    scenario *sc = make_scenario(
        20, 10, 10, "", "",
        "actors { id: \"g\" guard { s_m: 150 d_m: -0.4 timeline { gesture: GESTURE_PROCEED start_s: 0 } "
        "triggers { when { ego_within_m: 20 actor: \"post\" } gesture: GESTURE_SLOW } } }\n"
        "actors { id: \"post\" sign { s_m: 60 d_m: -2 text: \"X\" } }");
    sim_world *w = MALLOC_CHECK(sizeof *w);
    sim_world_init(w, sc, 1);
    action coast = {0, 0, 0};
    while (w->actors[0].gesture == GESTURE_PROCEED && w->step < 200) sim_step(w, &coast);
    ck_assert_double_le(60.0 - sim_ego_front_s(w), 20.0);
    ck_assert_double_gt(60.0 - sim_ego_front_s(w), 19.0 - 1e-9);
    free(w);
    free_scenario(sc);
}
END_TEST

/* ------------------------------------------------------------ actors */

START_TEST(hard_brake_vehicle_stops_at_its_decel) {
    scenario *sc = make_scenario(
        20, 10, 0, "", "",
        "actors { id: \"lead\" vehicle { lane: 0 s_m: 100 speed_mps: 12 "
        "hard_brake { trigger { at_time_s: 1 } decel_mps2: 6 } } }");
    sim_world *w = MALLOC_CHECK(sizeof *w);
    sim_world_init(w, sc, 1);
    action hold = {0, 2, 0};
    double cruise = w->actors[0].cruise_speed; /* the seed perturbs it by up to 3 % */
    ck_assert_double_le(fabs(cruise - 12.0), 0.36 + 1e-9);
    while (w->t < 1.0 - 1e-9) sim_step(w, &hold);
    double s_brake = w->actors[0].s;
    while (w->actors[0].speed > 0) sim_step(w, &hold);
    ck_assert(w->actors[0].braking);
    /* Trapezoidal integration of a constant deceleration is exact up to the final partial step. */
    ck_assert_double_eq_tol(w->actors[0].s - s_brake, cruise * cruise / 12.0, cruise * SIM_DT);
    free(w);
    free_scenario(sc);
}
END_TEST

START_TEST(cut_in_reaches_target_lane_in_its_duration) {
    scenario *sc = make_scenario(
        20, 10, 0, "", "",
        "actors { id: \"c\" vehicle { lane: 1 s_m: 60 speed_mps: 5 "
        "cut_in { target_lane: 0 trigger { at_time_s: 2 } duration_s: 2 } } }");
    sim_world *w = MALLOC_CHECK(sizeof *w);
    sim_world_init(w, sc, 1);
    action hold = {0, 2, 0};
    ck_assert_double_eq_tol(w->actors[0].d, 5.25, 1e-12);
    while (w->t < 2.0 + 1.0 - 1e-9) sim_step(w, &hold);
    ck_assert_double_eq_tol(w->actors[0].d, 3.5, 1e-9); /* cosine profile: half way at half time */
    while (w->t < 4.0 - 1e-9) sim_step(w, &hold);
    ck_assert_double_eq_tol(w->actors[0].d, 1.75, 1e-9);
    free(w);
    free_scenario(sc);
}
END_TEST

START_TEST(pedestrian_walks_its_path_after_trigger) {
    scenario *sc = make_scenario(
        30, 10, 0, "", "",
        "actors { id: \"p\" pedestrian { path { s_m: 50 d_m: -2 } path { s_m: 50 d_m: 2 } "
        "path { s_m: 53 d_m: 2 } speed_mps: 1 start { at_time_s: 1 } } }");
    sim_world *w = MALLOC_CHECK(sizeof *w);
    sim_world_init(w, sc, 1);
    double speed = w->actors[0].speed;
    ck_assert_double_le(fabs(speed - 1.0), 0.1 + 1e-12);
    action hold = {0, 2, 0};
    while (w->t < 0.9 - 1e-9) sim_step(w, &hold);
    ck_assert_double_eq_tol(w->actors[0].d, -2.0, 1e-12); /* waiting */
    sim_step(w, &hold); /* t = 1.0: starts and walks its first 0.1 s */
    ck_assert_double_eq_tol(w->actors[0].d, -2.0 + 0.1 * speed, 1e-12);
    for (int i = 0; i < 300; i++) sim_step(w, &hold);
    ck_assert(w->actors[0].finished);
    ck_assert_double_eq_tol(w->actors[0].s, 53.0, 1e-12);
    ck_assert_double_eq_tol(w->actors[0].d, 2.0, 1e-12);
    free(w);
    free_scenario(sc);
}
END_TEST

START_TEST(follow_lane_vehicle_keeps_distance_behind_stopped_ego) {
    scenario *sc = make_scenario(40, 100, 0, "", "",
                                 "actors { id: \"f\" vehicle { lane: 0 s_m: 20 speed_mps: 12 follow_lane {} } }");
    sim_world *w = MALLOC_CHECK(sizeof *w);
    sim_world_init(w, sc, 1);
    action hold = {0, 2, 0};
    for (int i = 0; i < 400; i++) sim_step(w, &hold);
    double gap = w->ego_s - w->actors[0].s - 0.5 * (w->ego_params.length + w->actors[0].length);
    ck_assert_double_gt(gap, 1.0);       /* no collision */
    ck_assert_double_lt(gap, 2.0 + 0.5); /* settles near min_gap 2 */
    ck_assert_double_lt(w->actors[0].speed, 0.05);
    free(w);
    free_scenario(sc);
}
END_TEST

START_TEST(box_overlap_cases) {
    ck_assert(sim_boxes_overlap(0, 0, 0, 4, 2, 3.9, 0, 0, 4, 2));
    ck_assert(!sim_boxes_overlap(0, 0, 0, 4, 2, 4.1, 0, 0, 4, 2));
    ck_assert(!sim_boxes_overlap(0, 0, 0, 4, 2, 0, 2.1, 0, 4, 2));
    /* Rotated 45°: corner reaches sqrt(2) * 1 along x from its centre. */
    ck_assert(sim_boxes_overlap(0, 0, 0, 2, 2, 2.3, 0, WM_PI / 4, 2, 2));
    ck_assert(!sim_boxes_overlap(0, 0, 0, 2, 2, 2.5, 0, WM_PI / 4, 2, 2));
}
END_TEST

/* ------------------------------------------------------------ metrics */

START_TEST(collision_with_stalled_car_is_at_fault) {
    scenario *sc = make_scenario(30, 10, 12, "", "", "actors { id: \"car\" vehicle { lane: 0 s_m: 80 stalled {} } }");
    episode_result res;
    run_policy(sc, "cruise", &res);
    ck_assert_str_eq(res.end_reason, "collision");
    ck_assert_double_eq(res.m.collision_mult, 0.0);
    ck_assert_double_eq(res.m.score, 0.0);
    ck_assert(!res.m.passed);
    ck_assert_int_ge(res.m.n_reasons, 1);
    ck_assert_msg(strncmp(res.m.reasons[0] + strcspn(res.m.reasons[0], ":"), ": at-fault collision with vehicle 'car' at ",
                          43) == 0,
                  "%s", res.m.reasons[0]);
    free_scenario(sc);
}
END_TEST

START_TEST(collision_with_cones_halves_the_score) {
    scenario *sc = make_scenario(30, 10, 12, "", "",
                                 "actors { id: \"cones\" obstacle { lane: 0 s_start_m: 80 s_end_m: 100 } }");
    episode_result res;
    run_policy(sc, "cruise", &res);
    ck_assert_double_eq(res.m.collision_mult, 0.5);
    ck_assert(has_reason(&res, "at-fault collision with obstacle 'cones'"));
    free_scenario(sc);
}
END_TEST

START_TEST(being_rear_ended_while_stopped_is_not_at_fault) {
    /* A blind cruiser drives into the stopped ego from behind. */
    scenario *sc = make_scenario(10, 100, 0, "", "",
                                 "actors { id: \"blind\" vehicle { lane: 0 s_m: 40 speed_mps: 12 cruise {} } }");
    sim_world *w = MALLOC_CHECK(sizeof *w);
    sim_world_init(w, sc, 1);
    metrics m;
    metrics_init(&m, w);
    action hold = {0, 2, 0};
    for (int i = 0; i < 80; i++) sim_step(w, &hold), metrics_update(&m, w);
    ck_assert(w->actors[0].s > w->ego_s - 5.0); /* it did reach the ego */
    ck_assert_int_eq(m.at_fault_collision, 0);
    ck_assert_double_eq(m.collision_mult, 1.0);
    free(w);
    free_scenario(sc);
}
END_TEST

START_TEST(running_a_stop_line_zeroes_the_score) {
    scenario *sc = make_scenario(20, 10, 12, "", "",
                                 "actors { id: \"g\" guard { s_m: 80 d_m: -0.4 stop_line_s_m: 74 "
                                 "timeline { gesture: GESTURE_STOP start_s: 0 } } }");
    episode_result res;
    run_policy(sc, "cruise", &res);
    ck_assert_double_eq(res.m.guard_mult, 0.0);
    ck_assert_double_eq(res.m.score, 0.0);
    ck_assert_msg(has_reason(&res, "crossed guard 'g' stop line at "), "%s", res.m.reasons[0]);
    ck_assert(has_reason(&res, "m/s while it showed STOP"));
    free_scenario(sc);
}
END_TEST

START_TEST(not_moving_off_after_proceed_halves_guard_compliance) {
    /* The ego brakes to a stop and stays: a policy that ignores PROCEED. */
    scenario *sc = make_scenario(
        12, 60, 0, "", "",
        "actors { id: \"g\" guard { s_m: 80 d_m: -0.4 timeline { gesture: GESTURE_STOP start_s: 0 duration_s: 2 } "
        "timeline { gesture: GESTURE_PROCEED start_s: 2 } } }");
    sim_world *w = MALLOC_CHECK(sizeof *w);
    sim_world_init(w, sc, 1);
    metrics m;
    metrics_init(&m, w);
    action hold = {0, 2, 0};
    for (int i = 0; i < 60; i++) sim_step(w, &hold), metrics_update(&m, w);
    ck_assert_double_eq(m.guard_mult, 0.5);
    ck_assert_int_eq(m.n_reasons, 1);
    ck_assert_str_eq(m.reasons[0], "t=5.1 s: did not move off within 3 s of guard 'g' showing PROCEED");
    free(w);
    free_scenario(sc);
}
END_TEST

START_TEST(passing_slow_guard_fast_and_turn_guard_wrong_side) {
    scenario *sc = make_scenario(20, 10, 12, "", "",
                                 "actors { id: \"slow\" guard { s_m: 60 d_m: -0.4 slow_speed_mps: 5 "
                                 "timeline { gesture: GESTURE_SLOW start_s: 0 } } }\n"
                                 "actors { id: \"turn\" guard { s_m: 120 d_m: 4.5 "
                                 "timeline { gesture: GESTURE_TURN_LEFT start_s: 0 } } }");
    episode_result res;
    run_policy(sc, "cruise", &res);
    char why[2048];
    dump_reasons(&res, why, sizeof why);
    ck_assert_msg(has_reason(&res, "passed guard 'slow' at 1"), "%s", why);
    ck_assert_msg(has_reason(&res, "m/s while it showed SLOW (5.0 m/s)"), "%s", why);
    ck_assert_msg(has_reason(&res, "passed guard 'turn' on the wrong side while it showed TURN_LEFT"), "%s", why);
    ck_assert_double_eq(res.m.guard_mult, 0.5);
    free_scenario(sc);
}
END_TEST

START_TEST(leaving_the_road_zeroes_drivable_area) {
    scenario *sc = make_scenario(10, 10, 10, "", "", "");
    sim_world *w = MALLOC_CHECK(sizeof *w);
    sim_world_init(w, sc, 1);
    metrics m;
    metrics_init(&m, w);
    action right = {0.5, 0, -0.2};
    for (int i = 0; i < 40; i++) sim_step(w, &right), metrics_update(&m, w);
    ck_assert_double_eq(m.drivable_mult, 0.0);
    ck_assert_int_eq(m.n_reasons, 1);
    /* The body corner leaves first: the centre is still inside (d > 0). */
    ck_assert_msg(strstr(m.reasons[0], "t=0.5 s: left the drivable area (d = 0.80 m)") != NULL, "%s", m.reasons[0]);
    free(w);
    free_scenario(sc);
}
END_TEST

START_TEST(speed_limit_score_integrates_overspeed) {
    /* 3 m/s over the limit for the whole episode: 1 - 3/2.23 < 0 → 0. */
    scenario *sc = make_scenario(5, 10, 16.9, "", "", "");
    sim_world *w = MALLOC_CHECK(sizeof *w);
    sim_world_init(w, sc, 1);
    metrics m;
    metrics_init(&m, w);
    action coast = {0, 0, 0};
    for (int i = 0; i < 50; i++) sim_step(w, &coast), metrics_update(&m, w);
    metrics_finish(&m, w);
    ck_assert_double_eq_tol(m.overspeed_integral, 3.0 * 5.0, 1e-9);
    ck_assert_double_eq(m.speed_limit_score, 0.0);
    free(w);
    free_scenario(sc);
}
END_TEST

/* ------------------------------------------------------------ examples */

typedef struct {
    const char *file;
    const char *cruise_reason; /* what must fail the cruise baseline */
} example_case;

static const example_case EXAMPLES[] = {
    {"guard_stop_proceed.pbtxt", "crossed guard 'guard' stop line"},
    {"guard_slow.pbtxt", "passed guard 'guard' at"},
    {"guard_turn_left.pbtxt", "at-fault collision with guard 'guard'"},
    {"lane_closure_merge.pbtxt", "at-fault collision with obstacle 'cones'"},
    {"stalled_vehicle.pbtxt", "at-fault collision with vehicle 'stalled_car'"},
    {"cut_in.pbtxt", "at-fault collision with vehicle 'cutter'"},
    {"pedestrian_crossing.pbtxt", "at-fault collision with pedestrian 'walker'"},
    {"lead_hard_brake.pbtxt", "at-fault collision with vehicle 'lead'"},
};

START_TEST(example_passes_with_expert_and_fails_cruise) {
    const example_case *ex = &EXAMPLES[_i];
    char rel[256];
    snprintf(rel, sizeof rel, "scenarios/examples/%s", ex->file);
    scenario *sc = CALLOC_CHECK(1, sizeof *sc);
    wm_error err;
    ck_assert_msg(scenario_load(src_path(rel), sc, &err) == 0, "%s", err.msg);
    char why[4096];
    for (uint64_t seed = sc->seed; seed < sc->seed + 3; seed++) {
        policy pol;
        policy_create("expert", NULL, &pol, &err);
        episode_config cfg = {.sc = sc, .seed = seed, .pol = &pol};
        episode_result res;
        ck_assert_int_eq(episode_run(&cfg, &res, &err), 0);
        pol.destroy(&pol);
        dump_reasons(&res, why, sizeof why);
        ck_assert_msg(res.m.passed, "%s seed %lu: expert failed: score %.3f %s", ex->file, (unsigned long)seed,
                      res.m.score, why);
        ck_assert_str_eq(res.end_reason, "goal reached");
    }
    episode_result res;
    run_policy(sc, "cruise", &res);
    dump_reasons(&res, why, sizeof why);
    ck_assert_msg(!res.m.passed, "%s: cruise passed", ex->file);
    ck_assert_msg(has_reason(&res, ex->cruise_reason), "%s: cruise failed for another reason: %s", ex->file, why);
    scenario_free(sc);
    free(sc);
}
END_TEST

/* ------------------------------------------------------------ policies */

static int bad_act(policy *self, const policy_observation *obs, action *cmd, char reasoning[POLICY_REASONING_MAX],
                   wm_error *err) {
    (void)self, (void)err, (void)reasoning;
    *cmd = (action){0.5, 0, obs->step >= 3 ? 0.7 : 0.0};
    return 0;
}
static int ok_reset(policy *self, const sim_world *w, wm_error *err) { return (void)self, (void)w, (void)err, 0; }
static void no_destroy(policy *self) { (void)self; }
static int failing_act(policy *self, const policy_observation *obs, action *cmd, char reasoning[POLICY_REASONING_MAX],
                       wm_error *err) {
    (void)self, (void)cmd, (void)reasoning;
    if (obs->step < 5) return *cmd = (action){0, 0, 0}, 0;
    return wm_fail(err, "policy process exited with status 3");
}

START_TEST(out_of_range_action_ends_episode_with_reason) {
    scenario *sc = make_scenario(10, 10, 5, "", "", "");
    policy pol = {.name = "bad", .reset = ok_reset, .act = bad_act, .destroy = no_destroy};
    char *dir = test_tmpdir();
    char log[4200];
    snprintf(log, sizeof log, "%s/episode.log", dir);
    episode_config cfg = {.sc = sc, .seed = 1, .pol = &pol, .log_path = log};
    episode_result res;
    wm_error err;
    ck_assert_int_eq(episode_run(&cfg, &res, &err), 0);
    ck_assert_str_eq(res.end_reason, "policy error");
    ck_assert_int_eq(res.steps, 3);
    ck_assert(!res.m.passed);
    ck_assert_str_eq(res.m.reasons[0], "t=0.3 s: policy action out of range: steer 0.700 rad outside [-0.5, 0.5]");
    /* The steps before the error are in the log, which is complete. */
    FILE *devnull = fopen("/dev/null", "w");
    ck_assert_int_eq(episode_log_show(log, devnull, &err), 0);
    fclose(devnull);
    free(dir);
    free_scenario(sc);
}
END_TEST

START_TEST(clamp_actions_clamps_and_logs) {
    scenario *sc = make_scenario(2, 10, 5, "vehicle { clamp_actions: true }", "", "");
    policy pol = {.name = "bad", .reset = ok_reset, .act = bad_act, .destroy = no_destroy};
    episode_config cfg = {.sc = sc, .seed = 1, .pol = &pol};
    episode_result res;
    wm_error err;
    ck_assert_int_eq(episode_run(&cfg, &res, &err), 0);
    ck_assert_str_eq(res.end_reason, "duration elapsed");
    ck_assert_int_eq(res.steps, 20);
    free_scenario(sc);
}
END_TEST

START_TEST(failing_policy_ends_episode_keeps_log) {
    scenario *sc = make_scenario(10, 10, 5, "", "", "");
    policy pol = {.name = "crashy", .reset = ok_reset, .act = failing_act, .destroy = no_destroy};
    char *dir = test_tmpdir();
    char log[4200];
    snprintf(log, sizeof log, "%s/episode.log", dir);
    episode_config cfg = {.sc = sc, .seed = 1, .pol = &pol, .log_path = log};
    episode_result res;
    wm_error err;
    ck_assert_int_eq(episode_run(&cfg, &res, &err), 0);
    ck_assert_str_eq(res.end_reason, "policy error");
    ck_assert_str_eq(res.m.reasons[0], "t=0.5 s: policy process exited with status 3");
    ck_assert_int_eq(res.steps, 5);
    free(dir);
    free_scenario(sc);
}
END_TEST

START_TEST(unknown_policy_is_an_error) {
    policy pol;
    wm_error err;
    ck_assert_int_eq(policy_create("genius", NULL, &pol, &err), -1);
    ck_assert_str_eq(err.msg, "--policy: unknown policy 'genius' (known: expert, cruise, vla-tiny, vla:PATH.wmck, exec:CMD ARGS, unix:PATH, lib:PATH.so ARGS)");
}
END_TEST

/* ------------------------------------------------------------ logs, determinism */

static uint8_t *run_to_log(const scenario *sc, uint64_t seed, const char *dir, const char *name, size_t *len) {
    char log[4200];
    snprintf(log, sizeof log, "%s/%s", dir, name);
    policy pol;
    wm_error err;
    policy_create("expert", NULL, &pol, &err);
    episode_config cfg = {.sc = sc, .seed = seed, .pol = &pol, .log_path = log};
    episode_result res;
    ck_assert_int_eq(episode_run(&cfg, &res, &err), 0);
    pol.destroy(&pol);
    uint8_t *data;
    ck_assert_int_eq(file_read_all(log, 1 << 28, &data, len, &err), 0);
    return data;
}

START_TEST(same_seed_same_log_bytes) {
    scenario *sc = CALLOC_CHECK(1, sizeof *sc);
    wm_error err;
    ck_assert_int_eq(scenario_load(src_path("scenarios/examples/cut_in.pbtxt"), sc, &err), 0);
    char *dir = test_tmpdir();
    size_t la, lb, lc;
    uint8_t *a = run_to_log(sc, 5, dir, "a.log", &la);
    uint8_t *b = run_to_log(sc, 5, dir, "b.log", &lb);
    uint8_t *c = run_to_log(sc, 6, dir, "c.log", &lc);
    ck_assert_uint_eq(la, lb);
    ck_assert_int_eq(memcmp(a, b, la), 0);
    ck_assert(lc != la || memcmp(a, c, la) != 0); /* the seed changes the cutter's speed */
    free(a), free(b), free(c), free(dir);
    scenario_free(sc);
    free(sc);
}
END_TEST

typedef struct {
    int headers, steps, summaries;
    size_t scenario_len;
    uint64_t hash;
    int passed;
} log_counts;

static int count_record(const Wmsim__LogRecord *rec, void *ctx) {
    log_counts *c = ctx;
    if (rec->record_case == WMSIM__LOG_RECORD__RECORD_HEADER)
        c->headers++, c->scenario_len = rec->header->scenario.len, c->hash = rec->header->scenario_hash;
    if (rec->record_case == WMSIM__LOG_RECORD__RECORD_STEP) c->steps++;
    if (rec->record_case == WMSIM__LOG_RECORD__RECORD_SUMMARY) c->summaries++, c->passed = rec->summary->passed;
    return 0;
}

START_TEST(log_round_trip_and_corruption) {
    scenario *sc = CALLOC_CHECK(1, sizeof *sc);
    wm_error err;
    ck_assert_int_eq(scenario_load(src_path("scenarios/examples/guard_stop_proceed.pbtxt"), sc, &err), 0);
    char *dir = test_tmpdir();
    size_t len;
    uint8_t *data = run_to_log(sc, 1, dir, "ep.log", &len);
    char path[4200];
    snprintf(path, sizeof path, "%s/ep.log", dir);
    log_counts c = {0};
    ck_assert_int_eq(episode_log_read(path, count_record, &c, &err), 0);
    ck_assert_int_eq(c.headers, 1);
    ck_assert_int_eq(c.summaries, 1);
    ck_assert_int_gt(c.steps, 100);
    ck_assert_uint_eq(c.scenario_len, sc->pb_len);
    ck_assert_uint_eq(c.hash, sc->hash);
    ck_assert(c.passed);

    /* Truncated in the middle of a record: an error naming the record, no crash. */
    char cut[4200];
    snprintf(cut, sizeof cut, "%s/cut.log", dir);
    ck_assert_int_eq(file_write_atomic(cut, data, len / 2, &err), 0);
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(episode_log_read(cut, count_record, &c, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, ": truncated ("));
    ck_assert_int_eq(strncmp(err.msg, cut, strlen(cut)), 0);
    FILE *devnull = fopen("/dev/null", "w");
    ck_assert_int_eq(episode_log_show(cut, devnull, &err), -1);
    fclose(devnull);

    /* Not a log at all. */
    snprintf(cut, sizeof cut, "%s/junk.log", dir);
    write_text_file(cut, "\x05" "hello world");
    ck_assert_int_eq(episode_log_read(cut, count_record, &c, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, ": record 0: "));

    /* Every prefix of a real log fails cleanly or reads a shorter log. */
    for (size_t n = 0; n < len && n < 4096; n += 7) {
        ck_assert_int_eq(file_write_atomic(cut, data, n, &err), 0);
        memset(&c, 0, sizeof c);
        (void)episode_log_read(cut, count_record, &c, &err);
    }
    free(data);
    free(dir);
    scenario_free(sc);
    free(sc);
}
END_TEST

int main(void) {
    Suite *s = suite_create("sim");
    TCase *tc = tcase_create("world");
    tcase_add_test(tc, guard_timeline_switches_on_time);
    tcase_add_test(tc, guard_trigger_after_ego_stopped);
    tcase_add_test(tc, guard_trigger_ego_within_distance);
    tcase_add_test(tc, trigger_can_reference_another_actor);
    tcase_add_test(tc, hard_brake_vehicle_stops_at_its_decel);
    tcase_add_test(tc, cut_in_reaches_target_lane_in_its_duration);
    tcase_add_test(tc, pedestrian_walks_its_path_after_trigger);
    tcase_add_test(tc, follow_lane_vehicle_keeps_distance_behind_stopped_ego);
    tcase_add_test(tc, box_overlap_cases);
    suite_add_tcase(s, tc);
    tc = tcase_create("metrics");
    tcase_add_test(tc, collision_with_stalled_car_is_at_fault);
    tcase_add_test(tc, collision_with_cones_halves_the_score);
    tcase_add_test(tc, being_rear_ended_while_stopped_is_not_at_fault);
    tcase_add_test(tc, running_a_stop_line_zeroes_the_score);
    tcase_add_test(tc, not_moving_off_after_proceed_halves_guard_compliance);
    tcase_add_test(tc, passing_slow_guard_fast_and_turn_guard_wrong_side);
    tcase_add_test(tc, leaving_the_road_zeroes_drivable_area);
    tcase_add_test(tc, speed_limit_score_integrates_overspeed);
    suite_add_tcase(s, tc);
    tc = tcase_create("examples");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, example_passes_with_expert_and_fails_cruise, 0,
                        (int)(sizeof EXAMPLES / sizeof EXAMPLES[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("policies");
    tcase_add_test(tc, out_of_range_action_ends_episode_with_reason);
    tcase_add_test(tc, clamp_actions_clamps_and_logs);
    tcase_add_test(tc, failing_policy_ends_episode_keeps_log);
    tcase_add_test(tc, unknown_policy_is_an_error);
    suite_add_tcase(s, tc);
    tc = tcase_create("logs");
    tcase_add_test(tc, same_seed_same_log_bytes);
    tcase_add_test(tc, log_round_trip_and_corruption);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
