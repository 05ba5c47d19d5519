/* test_scenarios.c — loading, validating and compiling scenarios.
 *
 * Every validation rule has a case in the table below whose whole error
 * message is compared, so a changed wording, a missing line or an extra
 * (cascading) line all fail. Text files go through the real protoc; binary
 * files are also built by editing an unpacked message and packing it again,
 * which reaches values protoc's text parser would refuse (unknown enums,
 * unknown fields). */
#include <dirent.h>
#include <math.h>
#include <stdint.h>

#include "core/error.h"
#include "core/fileio.h"
#include "core/rng.h"
#include "scenarios/scenario.h"
#include "scenarios/scenario.pb-c.h"
#include "testutil.h"

/* ------------------------------------------------------------ helpers */

#define ROAD                                                                                                  \
    "road { segments { length_m: 200 } lanes { direction: LANE_DIRECTION_FORWARD }"                          \
    " lanes { direction: LANE_DIRECTION_ONCOMING } speed_limit_mps: 13 }\n"
#define EGO "ego { lane: 0 s_m: 10 speed_mps: 5 }\n"
#define BASE "id: \"t\"\n" ROAD EGO
#define GUARD_AT(extra) "actors { id: \"g\" guard { s_m: 100 d_m: -0.5 " extra " } }\n"
#define STOP0 "timeline { gesture: GESTURE_STOP start_s: 0 }"

/* A scenario with every kind of actor and behaviour, most fields left to
 * their defaults. */
static const char *const full_text =
    "road { segments { length_m: 300 } segments { length_m: 100 curvature_per_m: 0.01 }\n"
    "  lanes {} lanes { direction: LANE_DIRECTION_ONCOMING } speed_limit_mps: 12 }\n"
    "ego { lane: 0 }\n"
    "actors { id: \"car\" vehicle { lane: 0 s_m: 50 speed_mps: 8 } }\n"
    "actors { id: \"follow\" vehicle { lane: 1 s_m: 80 follow_lane {} } }\n"
    "actors { id: \"cutter\" vehicle { lane: 1 s_m: 120 speed_mps: 6\n"
    "  cut_in { target_lane: 0 trigger { ego_within_m: 20 } } } }\n"
    "actors { id: \"braker\" vehicle { lane: 0 s_m: 150 speed_mps: 9\n"
    "  hard_brake { trigger { at_time_s: 3 actor: \"car\" } } } }\n"
    "actors { id: \"stalled\" vehicle { lane: 0 s_m: 200 stalled {} } }\n"
    "actors { id: \"walker\" pedestrian { path { s_m: 100 d_m: -2 } path { s_m: 100 d_m: 9 } } }\n"
    "actors { id: \"guard\" guard { s_m: 250 d_m: -0.5\n"
    "  timeline { gesture: GESTURE_STOP start_s: 0 duration_s: 5 }\n"
    "  timeline { gesture: GESTURE_PROCEED start_s: 5 }\n"
    "  triggers { when { ego_stopped_for_s: 2 } gesture: GESTURE_SLOW } } }\n"
    "actors { id: \"sign\" sign { s_m: 20 d_m: -2 } }\n"
    "actors { id: \"cones\" obstacle { lane: 1 s_start_m: 300 } }\n"
    "actors { id: \"barrier\" obstacle { kind: OBSTACLE_KIND_BARRIER lane: 1 s_start_m: 310 s_end_m: 320 } }\n";

static scenario *new_scenario(void) { return CALLOC_CHECK(1, sizeof(scenario)); }


static void write_bytes(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* "field: reason" lines → the full message expected for path. */
static void build_expected(char *want, size_t cap, const char *path, const char *lines) {
    size_t n = 0;
    want[0] = '\0';
    while (*lines && n < cap) {
        size_t l = strcspn(lines, "\n");
        n += (size_t)snprintf(want + n, cap - n, "%s%s:%.*s", n ? "\n" : "", path, (int)l, lines);
        lines += l;
        if (*lines == '\n') lines++;
    }
}

/* The binary encoding of a text scenario, through protoc. */
static uint8_t *encode_text(const char *text, size_t *len) {
    char *path = test_write_temp_file("enc.pbtxt", text);
    uint8_t *bytes;
    wm_error err;
    ck_assert_msg(scenario_encode_text(path, &bytes, len, &err) == 0, "%s", err.msg);
    free(path);
    return bytes;
}

/* Packs an edited message into a fresh malloc'ed buffer. */
static uint8_t *pack(const Wmsim__Scenario *m, size_t *len) {
    *len = wmsim__scenario__get_packed_size(m);
    uint8_t *buf = MALLOC_CHECK(*len);
    ck_assert_uint_eq(wmsim__scenario__pack(m, buf), *len);
    return buf;
}

static size_t put_varint(uint8_t *p, uint64_t v) {
    size_t n = 0;
    do {
        p[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) p[n] |= 0x80;
        n++;
    } while (v);
    return n;
}

static void expect_pb_problems(const uint8_t *pb, size_t len, const char *lines) {
    scenario *sc = new_scenario();
    wm_error err;
    char want[2 * WM_ERROR_MAX];
    build_expected(want, sizeof want, "edited.pb", lines);
    ck_assert_int_eq(scenario_load_pb("edited.pb", pb, len, sc, &err), -1);
    ck_assert_str_eq(err.msg, want);
    ck_assert_ptr_null(sc->pb_bytes);
    ck_assert_int_eq(sc->n_actors, 0);
    free(sc);
}

/* ------------------------------------------------------------ one rule, one case */

typedef struct {
    const char *rule;
    const char *text;
    const char *expected; /* "field: reason" lines, without the file name */
} rule_case;

static const rule_case rule_cases[] = {
    /* required fields */
    {"road missing", "id: \"t\"\n" EGO, "road: missing"},
    {"ego missing", "id: \"t\"\n" ROAD, "ego: missing"},
    {"speed limit missing", "road { segments { length_m: 200 } lanes {} }\n" EGO, "road.speed_limit_mps: missing"},
    {"ego lane missing", "id: \"t\"\n" ROAD "ego { s_m: 10 }", "ego.lane: missing"},
    {"actor id missing", BASE "actors { sign { s_m: 20 d_m: -2 } }", "actors[0].id: missing"},
    {"actor kind missing", BASE "actors { id: \"x\" }",
     "actors[0]: no kind set (one of vehicle, pedestrian, guard, sign, obstacle)"},
    {"vehicle lane and s missing", BASE "actors { id: \"v\" vehicle { speed_mps: 3 } }",
     "actors[0].vehicle.lane: missing\nactors[0].vehicle.s_m: missing"},
    {"guard s and d missing", BASE "actors { id: \"g\" guard { " STOP0 " } }",
     "actors[0].guard.s_m: missing\nactors[0].guard.d_m: missing"},
    {"sign s and d missing", BASE "actors { id: \"s\" sign { text: \"HI\" } }",
     "actors[0].sign.s_m: missing\nactors[0].sign.d_m: missing"},
    {"speed-limit sign without a limit", BASE "actors { id: \"s\" sign { s_m: 5 d_m: -2 kind: SIGN_KIND_SPEED_LIMIT } }",
     "actors[0].sign.speed_limit_mps: missing"},
    {"obstacle lane and start missing", BASE "actors { id: \"o\" obstacle { s_end_m: 50 } }",
     "actors[0].obstacle.lane: missing\nactors[0].obstacle.s_start_m: missing"},
    {"cut-in target and trigger missing", BASE "actors { id: \"c\" vehicle { lane: 1 s_m: 60 cut_in { } } }",
     "actors[0].vehicle.cut_in.target_lane: missing\nactors[0].vehicle.cut_in.trigger: missing"},
    {"hard-brake trigger missing", BASE "actors { id: \"h\" vehicle { lane: 0 s_m: 60 hard_brake { decel_mps2: 4 } } }",
     "actors[0].vehicle.hard_brake.trigger: missing"},
    {"timeline gesture and start missing", BASE GUARD_AT("timeline { duration_s: 3 }"),
     "actors[0].guard.timeline[0].gesture: missing\nactors[0].guard.timeline[0].start_s: missing"},
    {"trigger when and gesture missing", BASE GUARD_AT(STOP0 " triggers { delay_s: 1 }"),
     "actors[0].guard.triggers[0].when: missing\nactors[0].guard.triggers[0].gesture: missing"},
    {"road point s and d missing", BASE "actors { id: \"p\" pedestrian { path { s_m: 50 } path { d_m: 2 } } }",
     "actors[0].pedestrian.path[0].d_m: missing\nactors[0].pedestrian.path[1].s_m: missing"},
    {"segment length missing", "road { segments { curvature_per_m: 0 } lanes {} speed_limit_mps: 10 }\n" EGO,
     "road.segments[0].length_m: missing"},

    /* empty and over-full lists */
    {"no segments", "road { lanes {} speed_limit_mps: 10 }\n" EGO, "road.segments: at least one segment required"},
    {"no lanes", "road { segments { length_m: 100 } speed_limit_mps: 10 }\n" EGO,
     "road.lanes: 1 to 4 lanes required, got 0"},
    {"five lanes", "road { segments { length_m: 100 } lanes {} lanes {} lanes {} lanes {} lanes {} speed_limit_mps: 10 }\n" EGO,
     "road.lanes: 1 to 4 lanes required, got 5"},
    {"empty timeline", BASE GUARD_AT(""), "actors[0].guard.timeline: at least one segment required"},
    {"one-point path", BASE "actors { id: \"p\" pedestrian { path { s_m: 50 d_m: 1 } } }",
     "actors[0].pedestrian.path: at least 2 points required, got 1"},
    {"trigger without condition", BASE GUARD_AT(STOP0 " triggers { when { actor: \"g\" } gesture: GESTURE_PROCEED }"),
     "actors[0].guard.triggers[0].when: no condition set (one of at_time_s, ego_within_m, ego_stopped_for_s)"},
    {"cut-in trigger without condition", BASE "actors { id: \"c\" vehicle { lane: 1 s_m: 60 cut_in { target_lane: 0 trigger {} } } }",
     "actors[0].vehicle.cut_in.trigger: no condition set (one of at_time_s, ego_within_m, ego_stopped_for_s)"},

    /* ranges */
    {"duration too long", "duration_s: 700\n" BASE, "duration_s: 700 outside (0, 600]"},
    {"duration zero", "duration_s: 0\n" BASE, "duration_s: 0 outside (0, 600]"},
    {"duration infinite", "duration_s: inf\n" BASE, "duration_s: inf outside (0, 600]"},
    {"lane too narrow", "road { segments { length_m: 200 } lanes {} lane_width_m: 2 speed_limit_mps: 10 }\n" EGO,
     "road.lane_width_m: 2 outside [2.5, 5]"},
    {"lane too wide", "road { segments { length_m: 200 } lanes {} lane_width_m: 5.5 speed_limit_mps: 10 }\n" EGO,
     "road.lane_width_m: 5.5 outside [2.5, 5]"},
    {"speed limit zero", "road { segments { length_m: 200 } lanes {} speed_limit_mps: 0 }\n" EGO,
     "road.speed_limit_mps: 0 outside (0, 40]"},
    {"speed limit too high", "road { segments { length_m: 200 } lanes {} speed_limit_mps: 41 }\n" EGO,
     "road.speed_limit_mps: 41 outside (0, 40]"},
    {"segment length zero", "road { segments { length_m: 0 } lanes {} speed_limit_mps: 10 }\n" EGO,
     "road.segments[0].length_m: must be > 0, got 0"},
    {"segment length negative", "road { segments { length_m: 100 } segments { length_m: -5 } lanes {} speed_limit_mps: 10 }\n" EGO,
     "road.segments[1].length_m: must be > 0, got -5"},
    {"curve tighter than the road", "road { segments { length_m: 10 curvature_per_m: -0.2 } lanes {} lanes {} speed_limit_mps: 10 }\nego { lane: 0 s_m: 1 goal_s_m: 9 }",
     "road.segments[0].curvature_per_m: radius 5 m is smaller than the road width 8 m"},
    {"arc over pi", "road { segments { length_m: 400 curvature_per_m: 0.01 } lanes {} speed_limit_mps: 10 }\n" EGO,
     "road.segments[0]: arc turns 4 rad, more than pi (split it)"},
    {"shoulder negative", "road { segments { length_m: 200 } lanes {} speed_limit_mps: 10 shoulder_width_m: -1 }\n" EGO,
     "road.shoulder_width_m: must be >= 0, got -1"},
    {"ego lane too high", "id: \"t\"\n" ROAD "ego { lane: 2 }", "ego.lane: lane 2 out of range [0, 1]"},
    {"ego lane negative", "id: \"t\"\n" ROAD "ego { lane: -1 }", "ego.lane: lane -1 out of range [0, 1]"},
    {"ego in an oncoming lane", "id: \"t\"\n" ROAD "ego { lane: 1 }", "ego.lane: lane 1 is an ONCOMING lane"},
    {"ego at the road end", "id: \"t\"\n" ROAD "ego { lane: 0 s_m: 200 goal_s_m: 200 }",
     "ego.s_m: 200 outside the road [0, 200)"},
    {"ego before the road", "id: \"t\"\n" ROAD "ego { lane: 0 s_m: -1 }", "ego.s_m: -1 outside the road [0, 200)"},
    {"goal behind the ego", "id: \"t\"\n" ROAD "ego { lane: 0 s_m: 10 goal_s_m: 5 }",
     "ego.goal_s_m: 5 must be after ego.s_m 10 and within the road length 200"},
    {"goal beyond the road", "id: \"t\"\n" ROAD "ego { lane: 0 s_m: 10 goal_s_m: 250 }",
     "ego.goal_s_m: 250 must be after ego.s_m 10 and within the road length 200"},
    {"default goal behind the ego", "id: \"t\"\n" ROAD "ego { lane: 0 s_m: 195 }",
     "ego.goal_s_m: 190 must be after ego.s_m 195 and within the road length 200"},
    {"ego speed negative", "id: \"t\"\n" ROAD "ego { lane: 0 speed_mps: -1 }", "ego.speed_mps: must be >= 0, got -1"},
    {"ego speed infinite", "id: \"t\"\n" ROAD "ego { lane: 0 speed_mps: inf }",
     "ego.speed_mps: must be a finite number, got inf"},
    {"vehicle params not positive", "id: \"t\"\n" ROAD "ego { lane: 0 vehicle { length_m: 0 width_m: -1 wheelbase_m: 0"
                                    " max_accel_mps2: 0 max_brake_mps2: 0 max_steer_rad: 0 max_steer_rate_radps: 0 max_jerk_mps3: -2 } }",
     "ego.vehicle.length_m: must be > 0, got 0\nego.vehicle.width_m: must be > 0, got -1\n"
     "ego.vehicle.wheelbase_m: must be > 0, got 0\nego.vehicle.max_accel_mps2: must be > 0, got 0\n"
     "ego.vehicle.max_brake_mps2: must be > 0, got 0\nego.vehicle.max_steer_rad: must be > 0, got 0\n"
     "ego.vehicle.max_steer_rate_radps: must be > 0, got 0\nego.vehicle.max_jerk_mps3: must be > 0, got -2"},
    {"wheelbase not shorter than the car", "id: \"t\"\n" ROAD "ego { lane: 0 vehicle { wheelbase_m: 4.6 } }",
     "ego.vehicle.wheelbase_m: 4.6 must be less than length_m 4.6"},
    {"vehicle beyond the road", BASE "actors { id: \"v\" vehicle { lane: 0 s_m: 250 } }",
     "actors[0].vehicle.s_m: 250 outside the road [0, 200]"},
    {"vehicle before the road", BASE "actors { id: \"v\" vehicle { lane: 0 s_m: -20 } }",
     "actors[0].vehicle.s_m: -20 outside the road [0, 200]"},
    {"guard, sign, obstacle and path beyond the road",
     BASE GUARD_AT(STOP0 " stop_line_s_m: 201") "actors { id: \"s\" sign { s_m: 300 d_m: -2 } }\n"
     "actors { id: \"o\" obstacle { lane: 1 s_start_m: -1 s_end_m: 210 } }\n"
     "actors { id: \"p\" pedestrian { path { s_m: 50 d_m: 1 } path { s_m: 201 d_m: 1 } } }",
     "actors[0].guard.stop_line_s_m: 201 outside the road [0, 200]\n"
     "actors[1].sign.s_m: 300 outside the road [0, 200]\n"
     "actors[2].obstacle.s_start_m: -1 outside the road [0, 200]\n"
     "actors[2].obstacle.s_end_m: 210 outside the road [0, 200]\n"
     "actors[3].pedestrian.path[1].s_m: 201 outside the road [0, 200]"},
    {"guard beyond the road", BASE "actors { id: \"g\" guard { s_m: 200.5 d_m: 1 " STOP0 " } }",
     "actors[0].guard.s_m: 200.5 outside the road [0, 200]"},
    {"stop line after the guard", BASE GUARD_AT(STOP0 " stop_line_s_m: 101"),
     "actors[0].guard.stop_line_s_m: 101 is after the guard's s_m 100"},
    {"negative speeds",
     BASE "actors { id: \"a\" vehicle { lane: 0 s_m: 40 speed_mps: -1 cruise { speed_mps: -2 } } }\n"
     "actors { id: \"b\" vehicle { lane: 1 s_m: 60 cut_in { target_lane: 0 trigger { at_time_s: 1 } speed_mps: -3 } } }\n"
     "actors { id: \"c\" vehicle { lane: 0 s_m: 80 hard_brake { trigger { at_time_s: 1 } speed_mps: -4 } } }\n"
     "actors { id: \"d\" vehicle { lane: 0 s_m: 100 follow_lane { desired_speed_mps: -5 time_headway_s: -1 min_gap_m: -2 } } }\n"
     "actors { id: \"g\" guard { s_m: 150 d_m: 1 slow_speed_mps: -6 " STOP0 " } }",
     "actors[0].vehicle.speed_mps: must be >= 0, got -1\nactors[0].vehicle.cruise.speed_mps: must be >= 0, got -2\n"
     "actors[1].vehicle.cut_in.speed_mps: must be >= 0, got -3\n"
     "actors[2].vehicle.hard_brake.speed_mps: must be >= 0, got -4\n"
     "actors[3].vehicle.follow_lane.desired_speed_mps: must be >= 0, got -5\n"
     "actors[3].vehicle.follow_lane.time_headway_s: must be >= 0, got -1\n"
     "actors[3].vehicle.follow_lane.min_gap_m: must be >= 0, got -2\n"
     "actors[4].guard.slow_speed_mps: must be >= 0, got -6"},
    {"vehicle size and behaviour parameters not positive",
     BASE "actors { id: \"a\" vehicle { lane: 1 s_m: 60 length_m: 0 width_m: -1\n"
     "  cut_in { target_lane: 0 trigger { at_time_s: 1 } duration_s: 0 } } }\n"
     "actors { id: \"b\" vehicle { lane: 0 s_m: 80 hard_brake { trigger { at_time_s: 1 } decel_mps2: -6 } } }",
     "actors[0].vehicle.length_m: must be > 0, got 0\nactors[0].vehicle.width_m: must be > 0, got -1\n"
     "actors[0].vehicle.cut_in.duration_s: must be > 0, got 0\n"
     "actors[1].vehicle.hard_brake.decel_mps2: must be > 0, got -6"},
    {"pedestrian speed zero", BASE "actors { id: \"p\" pedestrian { path { s_m: 50 d_m: 1 } path { s_m: 50 d_m: 5 } speed_mps: 0 } }",
     "actors[0].pedestrian.speed_mps: 0 outside (0, 4]"},
    {"pedestrian speed too high", BASE "actors { id: \"p\" pedestrian { path { s_m: 50 d_m: 1 } path { s_m: 50 d_m: 5 } speed_mps: 4.5 } }",
     "actors[0].pedestrian.speed_mps: 4.5 outside (0, 4]"},
    {"sign speed limit out of range", BASE "actors { id: \"s\" sign { s_m: 5 d_m: -2 kind: SIGN_KIND_SPEED_LIMIT speed_limit_mps: 50 } }",
     "actors[0].sign.speed_limit_mps: 50 outside (0, 40]"},
    {"cut-in lane not adjacent",
     "road { segments { length_m: 200 } lanes {} lanes {} lanes {} speed_limit_mps: 10 }\n" EGO
     "actors { id: \"c\" vehicle { lane: 2 s_m: 60 cut_in { target_lane: 0 trigger { at_time_s: 1 } } } }",
     "actors[0].vehicle.cut_in.target_lane: lane 0 is not adjacent to the start lane 2"},
    {"cut-in into its own lane", BASE "actors { id: \"c\" vehicle { lane: 1 s_m: 60 cut_in { target_lane: 1 trigger { at_time_s: 1 } } } }",
     "actors[0].vehicle.cut_in.target_lane: lane 1 is not adjacent to the start lane 1"},
    {"lane indices out of range",
     BASE "actors { id: \"c\" vehicle { lane: 1 s_m: 60 cut_in { target_lane: 2 trigger { at_time_s: 1 } } } }\n"
     "actors { id: \"v\" vehicle { lane: 4 s_m: 90 } }\nactors { id: \"o\" obstacle { lane: -1 s_start_m: 100 } }",
     "actors[0].vehicle.cut_in.target_lane: lane 2 out of range [0, 1]\n"
     "actors[1].vehicle.lane: lane 4 out of range [0, 1]\nactors[2].obstacle.lane: lane -1 out of range [0, 1]"},
    {"stalled vehicle moving", BASE "actors { id: \"v\" vehicle { lane: 0 s_m: 60 speed_mps: 3 stalled {} } }",
     "actors[0].vehicle.speed_mps: a stalled vehicle must have speed 0, got 3"},
    {"obstacle ends before it starts", BASE "actors { id: \"o\" obstacle { lane: 1 s_start_m: 100 s_end_m: 90 } }",
     "actors[0].obstacle.s_end_m: 90 is before s_start_m 100"},
    {"obstacle spacing zero", BASE "actors { id: \"o\" obstacle { lane: 1 s_start_m: 100 s_end_m: 120 spacing_m: 0 } }",
     "actors[0].obstacle.spacing_m: must be > 0, got 0"},
    {"min score above one", BASE "success { min_score: 1.5 }", "success.min_score: 1.5 outside [0, 1]"},
    {"min score negative", BASE "success { min_score: -0.1 }", "success.min_score: -0.1 outside [0, 1]"},

    /* gestures */
    {"unspecified gesture in a timeline", BASE GUARD_AT("timeline { gesture: GESTURE_UNSPECIFIED start_s: 0 }"),
     "actors[0].guard.timeline[0].gesture: gesture must be set"},
    {"unspecified gesture in a trigger",
     BASE GUARD_AT(STOP0 " triggers { when { at_time_s: 3 } gesture: GESTURE_UNSPECIFIED }"),
     "actors[0].guard.triggers[0].gesture: gesture must be set"},

    /* ids and text */
    {"duplicate actor id", BASE "actors { id: \"a\" sign { s_m: 5 d_m: -2 } }\nactors { id: \"b\" sign { s_m: 6 d_m: -2 } }\n"
                           "actors { id: \"a\" sign { s_m: 7 d_m: -2 } }",
     "actors[2].id: duplicate id 'a' (also actors[0])"},
    {"actor id too long", BASE "actors { id: \"0123456789012345678901234567890123456789012345678901234567890123\" sign { s_m: 5 d_m: -2 } }",
     "actors[0].id: longer than 63 bytes"},
    {"actor id of 63 bytes", BASE "actors { id: \"012345678901234567890123456789012345678901234567890123456789012\" sign { s_m: 5 d_m: -2 } }",
     ""},
    {"scenario id too long", "id: \"0123456789012345678901234567890123456789012345678901234567890123\"\n" ROAD EGO,
     "id: longer than 63 bytes"},
    {"scenario id with a slash", "id: \"../etc\"\n" ROAD EGO, "id: '../etc' may only contain a-z, 0-9, '_' and '-'"},

    /* triggers */
    {"trigger names an unknown actor",
     BASE GUARD_AT(STOP0 " triggers { when { ego_within_m: 10 actor: \"nobody\" } gesture: GESTURE_PROCEED }"),
     "actors[0].guard.triggers[0].when.actor: no actor with id 'nobody'"},
    {"trigger values not positive",
     BASE GUARD_AT(STOP0 " triggers { when { ego_within_m: 0 } gesture: GESTURE_PROCEED }"
                         " triggers { when { ego_stopped_for_s: -1 } gesture: GESTURE_PROCEED }"
                         " triggers { when { at_time_s: -2 } gesture: GESTURE_PROCEED delay_s: -1 }"),
     "actors[0].guard.triggers[0].when.ego_within_m: must be > 0, got 0\n"
     "actors[0].guard.triggers[1].when.ego_stopped_for_s: must be > 0, got -1\n"
     "actors[0].guard.triggers[2].when.at_time_s: must be >= 0, got -2\n"
     "actors[0].guard.triggers[2].delay_s: must be >= 0, got -1"},
    {"at time zero is fine", BASE GUARD_AT(STOP0 " triggers { when { at_time_s: 0 } gesture: GESTURE_PROCEED }"), ""},
    {"pedestrian start trigger checked",
     BASE "actors { id: \"p\" pedestrian { path { s_m: 50 d_m: 1 } path { s_m: 50 d_m: 5 } start { ego_within_m: -3 actor: \"q\" } } }",
     "actors[0].pedestrian.start.ego_within_m: must be > 0, got -3\nactors[0].pedestrian.start.actor: no actor with id 'q'"},

    /* guard timelines */
    {"timeline starts late", BASE GUARD_AT("timeline { gesture: GESTURE_STOP start_s: 1 }"),
     "actors[0].guard.timeline[0].start_s: timeline must start at 0, starts at 1"},
    {"timeline duration zero", BASE GUARD_AT("timeline { gesture: GESTURE_STOP start_s: 0 duration_s: 0 }"),
     "actors[0].guard.timeline[0].duration_s: must be > 0, got 0"},
    {"timeline duration missing before the end",
     BASE GUARD_AT(STOP0 " timeline { gesture: GESTURE_PROCEED start_s: 5 }"),
     "actors[0].guard.timeline[0].duration_s: missing (only the last segment may omit it)"},
    {"timeline gap",
     BASE GUARD_AT("timeline { gesture: GESTURE_STOP start_s: 0 duration_s: 5 }"
                   " timeline { gesture: GESTURE_PROCEED start_s: 6 }"),
     "actors[0].guard.timeline[1].start_s: gap after the previous segment, which ends at 5"},
    {"timeline overlap",
     BASE GUARD_AT("timeline { gesture: GESTURE_STOP start_s: 0 duration_s: 5 }"
                   " timeline { gesture: GESTURE_SLOW start_s: 5 duration_s: 2.5 }"
                   " timeline { gesture: GESTURE_PROCEED start_s: 7 }"),
     "actors[0].guard.timeline[2].start_s: overlaps the previous segment, which ends at 7.5"},
    {"timeline rounding is tolerated",
     BASE GUARD_AT("timeline { gesture: GESTURE_STOP start_s: 0 duration_s: 0.1 }"
                   " timeline { gesture: GESTURE_SLOW start_s: 0.1 duration_s: 0.2 }"
                   " timeline { gesture: GESTURE_PROCEED start_s: 0.3 }"),
     ""},

    /* count limits */
    {"too many path points",
     BASE "actors { id: \"p\" pedestrian {"
     " path { s_m: 1 d_m: 1 } path { s_m: 2 d_m: 1 } path { s_m: 3 d_m: 1 } path { s_m: 4 d_m: 1 }"
     " path { s_m: 5 d_m: 1 } path { s_m: 6 d_m: 1 } path { s_m: 7 d_m: 1 } path { s_m: 8 d_m: 1 }"
     " path { s_m: 9 d_m: 1 } path { s_m: 10 d_m: 1 } path { s_m: 11 d_m: 1 } path { s_m: 12 d_m: 1 }"
     " path { s_m: 13 d_m: 1 } path { s_m: 14 d_m: 1 } path { s_m: 15 d_m: 1 } path { s_m: 16 d_m: 1 }"
     " path { s_m: 17 d_m: 1 } } }",
     "actors[0].pedestrian.path: at most 16 allowed, got 17"},
    {"too many triggers",
     BASE GUARD_AT(STOP0
                   " triggers { when { at_time_s: 1 } gesture: GESTURE_SLOW } triggers { when { at_time_s: 2 } gesture: GESTURE_SLOW }"
                   " triggers { when { at_time_s: 3 } gesture: GESTURE_SLOW } triggers { when { at_time_s: 4 } gesture: GESTURE_SLOW }"
                   " triggers { when { at_time_s: 5 } gesture: GESTURE_SLOW } triggers { when { at_time_s: 6 } gesture: GESTURE_SLOW }"
                   " triggers { when { at_time_s: 7 } gesture: GESTURE_SLOW } triggers { when { at_time_s: 8 } gesture: GESTURE_SLOW }"
                   " triggers { when { at_time_s: 9 } gesture: GESTURE_SLOW }"),
     "actors[0].guard.triggers: at most 8 allowed, got 9"},

    /* overlaps at the start */
    {"vehicle on the ego", BASE "actors { id: \"v\" vehicle { lane: 0 s_m: 15 } }", "actors[0]: overlaps the ego at the start"},
    {"vehicle on the ego's rear overhang", BASE "actors { id: \"v\" vehicle { lane: 0 s_m: 7 } }",
     "actors[0]: overlaps the ego at the start"},
    {"vehicles clear of the ego and each other", BASE "actors { id: \"v\" vehicle { lane: 0 s_m: 16.2 } }\n"
                                 "actors { id: \"w\" vehicle { lane: 1 s_m: 12 } }\n"
                                 "actors { id: \"x\" vehicle { lane: 0 s_m: 3 } }\n"
                                 "actors { id: \"y\" vehicle { lane: 1 s_m: 6 } }", ""},
    {"vehicles on each other", BASE "actors { id: \"v\" vehicle { lane: 1 s_m: 50 } }\n"
                               "actors { id: \"s\" sign { s_m: 50 d_m: 6 } }\n"
                               "actors { id: \"w\" vehicle { lane: 1 s_m: 54 length_m: 5 } }",
     "actors[2]: overlaps actors[0] ('v') at the start"},

    /* every problem at once, in field order */
    {"several problems", "duration_s: 0\n" ROAD "ego { lane: 1 speed_mps: -1 }\n"
                         "actors { id: \"a\" vehicle { lane: 0 s_m: 300 } }\nactors { id: \"a\" }",
     "duration_s: 0 outside (0, 600]\nego.lane: lane 1 is an ONCOMING lane\nego.speed_mps: must be >= 0, got -1\n"
     "actors[0].vehicle.s_m: 300 outside the road [0, 200]\nactors[1].id: duplicate id 'a' (also actors[0])\n"
     "actors[1]: no kind set (one of vehicle, pedestrian, guard, sign, obstacle)"},
};

#define N_RULE_CASES ((int)(sizeof rule_cases / sizeof rule_cases[0]))

START_TEST(validation_rule) {
    const rule_case *c = &rule_cases[_i];
    char *path = test_write_temp_file("case.pbtxt", c->text);
    scenario *sc = new_scenario();
    wm_error err;
    int rc = scenario_load(path, sc, &err);
    if (!*c->expected) {
        ck_assert_msg(rc == 0, "case '%s' should load: %s", c->rule, err.msg);
        scenario_free(sc);
    } else {
        char want[2 * WM_ERROR_MAX];
        build_expected(want, sizeof want, path, c->expected);
        ck_assert_msg(rc == -1, "case '%s' should fail", c->rule);
        ck_assert_msg(strcmp(err.msg, want) == 0, "case '%s':\n got: %s\nwant: %s", c->rule, err.msg, want);
        /* The struct is left empty on failure. */
        ck_assert_ptr_null(sc->pb_bytes);
        ck_assert_int_eq(sc->n_actors, 0);
        ck_assert_str_eq(sc->id, "");
    }
    free(sc);
    free(path);
}
END_TEST

/* Limits that take too much text for the table. */
START_TEST(count_limits_on_segments_timeline_and_actors) {
    size_t cap = 1 << 16, n = 0;
    char *text = MALLOC_CHECK(cap);
    n += (size_t)snprintf(text + n, cap - n, "road { ");
    for (int i = 0; i < 65; i++) n += (size_t)snprintf(text + n, cap - n, "segments { length_m: 4 } ");
    n += (size_t)snprintf(text + n, cap - n, "lanes {} speed_limit_mps: 10 }\nego { lane: 0 goal_s_m: 200 }\n");
    n += (size_t)snprintf(text + n, cap - n, "actors { id: \"g\" guard { s_m: 100 d_m: 1 ");
    for (int i = 0; i < 33; i++)
        n += (size_t)snprintf(text + n, cap - n, "timeline { gesture: GESTURE_STOP start_s: %d duration_s: 1 } ", i);
    n += (size_t)snprintf(text + n, cap - n, "} }\n");
    for (int i = 1; i < 65; i++)
        n += (size_t)snprintf(text + n, cap - n, "actors { id: \"s%d\" sign { s_m: %d d_m: -2 } }\n", i, i);
    ck_assert_uint_lt(n, cap - 1);
    char *path = test_write_temp_file("limits.pbtxt", text);
    scenario *sc = new_scenario();
    wm_error err;
    ck_assert_int_eq(scenario_load(path, sc, &err), -1);
    char want[2 * WM_ERROR_MAX];
    build_expected(want, sizeof want, path,
                   "road.segments: at most 64 allowed, got 65\n"
                   "actors: at most 64 allowed, got 65\n"
                   "actors[0].guard.timeline: at most 32 allowed, got 33");
    /* The road length is unknown with too many segments, so the positions
     * are not checked against it: exactly three problems. */
    ck_assert_str_eq(err.msg, want);
    free(sc), free(path), free(text);
}
END_TEST

/* Over-long text fields (255 bytes is the most). */
START_TEST(text_fields_longer_than_255_bytes) {
    char long_text[300], ok_text[256];
    memset(long_text, 'x', 256), long_text[256] = '\0';
    memset(ok_text, 'y', 255), ok_text[255] = '\0';
    char text[2048];
    snprintf(text, sizeof text,
             "description: \"%s\"\n" ROAD EGO "instruction: \"%s\"\n"
             "actors { id: \"s\" sign { s_m: 5 d_m: -2 text: \"%s\" } }\n"
             "actors { id: \"t\" sign { s_m: 6 d_m: -2 text: \"%s\" } }\n",
             long_text, long_text, long_text, ok_text);
    char *path = test_write_temp_file("text.pbtxt", text);
    scenario *sc = new_scenario();
    wm_error err;
    ck_assert_int_eq(scenario_load(path, sc, &err), -1);
    char want[2 * WM_ERROR_MAX];
    build_expected(want, sizeof want, path,
                   "description: longer than 255 bytes\ninstruction: longer than 255 bytes\n"
                   "actors[0].sign.text: longer than 255 bytes");
    ck_assert_str_eq(err.msg, want);
    free(sc), free(path);
}
END_TEST

/* ------------------------------------------------------------ binary-only problems */

START_TEST(unknown_enum_values_in_binary_files) {
    size_t len;
    uint8_t *bytes = encode_text(full_text, &len);
    Wmsim__Scenario *m = wmsim__scenario__unpack(NULL, len, bytes);
    ck_assert_ptr_nonnull(m);
    /* protobuf-c keeps out-of-range enum values as they are: the validator
     * is what stands between them and the switch statements downstream. */
    m->has_lighting = 1, m->lighting = (Wmsim__Lighting)9;
    m->road->lanes[0]->has_direction = 1, m->road->lanes[0]->direction = (Wmsim__LaneDirection)7;
    m->road->lanes[1]->has_left_marking = 1, m->road->lanes[1]->left_marking = (Wmsim__LaneMarking)-1;
    Wmsim__TrafficGuard *g = m->actors[6]->guard;
    g->timeline[1]->gesture = (Wmsim__Gesture)6;
    g->triggers[0]->gesture = (Wmsim__Gesture)100;
    m->actors[7]->sign->has_kind = 1, m->actors[7]->sign->kind = (Wmsim__SignKind)5;
    m->actors[8]->obstacle->has_kind = 1, m->actors[8]->obstacle->kind = (Wmsim__ObstacleKind)3;
    size_t plen;
    uint8_t *pb = pack(m, &plen);
    wmsim__scenario__free_unpacked(m, NULL);
    expect_pb_problems(pb, plen,
                       "lighting: unknown enum value 9\n"
                       "road.lanes[0].direction: unknown enum value 7\n"
                       "road.lanes[1].left_marking: unknown enum value -1\n"
                       "actors[6].guard.timeline[1].gesture: unknown enum value 6\n"
                       "actors[6].guard.triggers[0].gesture: unknown enum value 100\n"
                       "actors[7].sign.kind: unknown enum value 5\n"
                       "actors[8].obstacle.kind: unknown enum value 3");
    free(pb), free(bytes);
}
END_TEST

START_TEST(unknown_fields_in_binary_files) {
    size_t len;
    uint8_t *bytes = encode_text(full_text, &len);
    uint8_t *buf = MALLOC_CHECK(len + 64);
    memcpy(buf, bytes, len);
    size_t n = len;
    /* Field 1000, varint 1, at the top level. */
    n += put_varint(buf + n, 1000u << 3 | 0);
    n += put_varint(buf + n, 1);
    /* A second `road` (field 6) holding field 99: protobuf merges it into
     * the first, so the unknown field lands inside road. */
    uint8_t inner[8];
    size_t k = put_varint(inner, 99u << 3 | 0);
    k += put_varint(inner + k, 5);
    n += put_varint(buf + n, 6u << 3 | 2);
    n += put_varint(buf + n, k);
    memcpy(buf + n, inner, k), n += k;
    scenario *sc = new_scenario();
    wm_error err;
    ck_assert_int_eq(scenario_load_pb("u.pb", buf, n, sc, &err), -1);
    ck_assert_str_eq(err.msg, "u.pb: unknown field number 1000\nu.pb:road: unknown field number 99");

    /* Deeper: inside the guard's second timeline segment, through the
     * unpacked message so protobuf-c packs the unknown field itself. */
    Wmsim__Scenario *m = wmsim__scenario__unpack(NULL, len, bytes);
    ck_assert_ptr_nonnull(m);
    uint8_t one = 1;
    ProtobufCMessageUnknownField uf = {.tag = 77, .wire_type = PROTOBUF_C_WIRE_TYPE_VARINT, .len = 1, .data = &one};
    ProtobufCMessage *seg = &m->actors[6]->guard->timeline[1]->base;
    seg->n_unknown_fields = 1, seg->unknown_fields = &uf;
    size_t plen;
    uint8_t *pb = pack(m, &plen);
    seg->n_unknown_fields = 0, seg->unknown_fields = NULL; /* not ours to free */
    wmsim__scenario__free_unpacked(m, NULL);
    expect_pb_problems(pb, plen, "actors[6].guard.timeline[1]: unknown field number 77");
    free(pb), free(buf), free(bytes), free(sc);
}
END_TEST

/* ------------------------------------------------------------ loading */

START_TEST(defaults_are_filled) {
    char *path = test_write_temp_file("defaults.pbtxt", full_text);
    scenario *sc = new_scenario();
    wm_error err;
    ck_assert_msg(scenario_load(path, sc, &err) == 0, "%s", err.msg);

    ck_assert_str_eq(sc->id, "defaults"); /* no id: the file's base name */
    ck_assert_str_eq(sc->description, "");
    ck_assert_str_eq(sc->instruction, "");
    ck_assert_uint_eq(sc->seed, 0);
    ck_assert_double_eq(sc->duration, 30);
    ck_assert_int_eq(sc->lighting, LIGHTING_DAY);

    const scenario_road *r = &sc->road;
    ck_assert_int_eq(r->n_segments, 2);
    ck_assert_double_eq(r->segments[0].length, 300);
    ck_assert_double_eq(r->segments[0].curvature, 0);
    ck_assert_double_eq(r->segments[1].length, 100);
    ck_assert_double_eq(r->segments[1].curvature, 0.01);
    ck_assert_int_eq(r->n_lanes, 2);
    ck_assert_int_eq(r->lane_dirs[0], LANE_FORWARD);
    ck_assert_int_eq(r->lane_dirs[1], LANE_ONCOMING);
    ck_assert_int_eq(r->markings[0], LANE_MARKING_DASHED); /* between lanes */
    ck_assert_int_eq(r->markings[1], LANE_MARKING_SOLID);  /* the road's left edge */
    ck_assert_double_eq(r->lane_width, 3.5);
    ck_assert_double_eq(r->shoulder, 0.5);
    ck_assert_double_eq(r->speed_limit, 12);

    const scenario_ego *e = &sc->ego;
    ck_assert_int_eq(e->lane, 0);
    ck_assert_double_eq(e->s, 0);
    ck_assert_double_eq(e->speed, 0);
    ck_assert_double_eq(e->goal_s, 390);
    ck_assert_double_eq(e->vehicle.length, 4.6);
    ck_assert_double_eq(e->vehicle.width, 1.9);
    ck_assert_double_eq(e->vehicle.wheelbase, 2.8);
    ck_assert_double_eq(e->vehicle.limits.accel_max, 3.0);
    ck_assert_double_eq(e->vehicle.limits.brake_max, 8.0);
    ck_assert_double_eq(e->vehicle.limits.steer_max, 0.5);
    ck_assert_double_eq(e->vehicle.limits.steer_rate_max, 0.7);
    ck_assert_double_eq(e->vehicle.limits.jerk_max, 20);
    ck_assert_int_eq(e->vehicle.clamp_actions, 0);

    ck_assert_int_eq(sc->n_actors, 10);
    const char *ids[] = {"car", "follow", "cutter", "braker", "stalled", "walker", "guard", "sign", "cones", "barrier"};
    const actor_kind kinds[] = {ACTOR_VEHICLE, ACTOR_VEHICLE,    ACTOR_VEHICLE, ACTOR_VEHICLE, ACTOR_VEHICLE,
                                ACTOR_PEDESTRIAN, ACTOR_GUARD, ACTOR_SIGN, ACTOR_OBSTACLE, ACTOR_OBSTACLE};
    for (int i = 0; i < 10; i++) {
        ck_assert_str_eq(sc->actors[i].id, ids[i]);
        ck_assert_int_eq(sc->actors[i].kind, kinds[i]);
    }
    const scenario_vehicle *car = &sc->actors[0].u.vehicle;
    ck_assert_int_eq(car->behavior, VEHICLE_CRUISE); /* no behaviour given */
    ck_assert_double_eq(car->speed, 8);
    ck_assert_double_eq(car->cruise_speed, 8);
    ck_assert_double_eq(car->length, 4.6);
    ck_assert_double_eq(car->width, 1.9);
    const scenario_vehicle *follow = &sc->actors[1].u.vehicle;
    ck_assert_int_eq(follow->behavior, VEHICLE_FOLLOW_LANE);
    ck_assert_double_eq(follow->speed, 0);
    ck_assert_double_eq(follow->desired_speed, 12); /* the speed limit */
    ck_assert_double_eq(follow->time_headway, 1.5);
    ck_assert_double_eq(follow->min_gap, 2);
    const scenario_vehicle *cutter = &sc->actors[2].u.vehicle;
    ck_assert_int_eq(cutter->behavior, VEHICLE_CUT_IN);
    ck_assert_int_eq(cutter->lane, 1);
    ck_assert_int_eq(cutter->target_lane, 0);
    ck_assert_double_eq(cutter->cut_in_duration, 2.5);
    ck_assert_double_eq(cutter->cruise_speed, 6);
    ck_assert_int_eq(cutter->trigger.kind, TRIGGER_EGO_WITHIN);
    ck_assert_double_eq(cutter->trigger.value, 20);
    ck_assert_int_eq(cutter->trigger.ref_actor, 2); /* its own actor */
    const scenario_vehicle *braker = &sc->actors[3].u.vehicle;
    ck_assert_int_eq(braker->behavior, VEHICLE_HARD_BRAKE);
    ck_assert_double_eq(braker->brake_decel, 6);
    ck_assert_double_eq(braker->cruise_speed, 9);
    ck_assert_int_eq(braker->trigger.kind, TRIGGER_AT_TIME);
    ck_assert_double_eq(braker->trigger.value, 3);
    ck_assert_int_eq(braker->trigger.ref_actor, 0); /* "car" */
    const scenario_vehicle *stalled = &sc->actors[4].u.vehicle;
    ck_assert_int_eq(stalled->behavior, VEHICLE_STALLED);
    ck_assert_double_eq(stalled->speed, 0);
    ck_assert_double_eq(stalled->cruise_speed, 0);

    const scenario_pedestrian *ped = &sc->actors[5].u.pedestrian;
    ck_assert_int_eq(ped->n_points, 2);
    ck_assert_double_eq(ped->s[1], 100);
    ck_assert_double_eq(ped->d[1], 9);
    ck_assert_double_eq(ped->speed, 1.4);
    ck_assert_int_eq(ped->has_start, 0);

    const scenario_guard *g = &sc->actors[6].u.guard;
    ck_assert_double_eq(g->s, 250);
    ck_assert_double_eq(g->d, -0.5);
    ck_assert_double_eq(g->stop_line_s, 244);
    ck_assert_double_eq(g->slow_speed, 5);
    ck_assert_int_eq(g->n_timeline, 2);
    ck_assert_int_eq(g->timeline[0].gesture, GESTURE_STOP);
    ck_assert_double_eq(g->timeline[0].duration, 5);
    ck_assert_int_eq(g->timeline[1].gesture, GESTURE_PROCEED);
    ck_assert_double_eq(g->timeline[1].start, 5);
    ck_assert_double_eq(g->timeline[1].duration, -1); /* holds to the end */
    ck_assert_int_eq(g->n_triggers, 1);
    ck_assert_int_eq(g->triggers[0].when.kind, TRIGGER_EGO_STOPPED);
    ck_assert_double_eq(g->triggers[0].when.value, 2);
    ck_assert_int_eq(g->triggers[0].when.ref_actor, 6);
    ck_assert_int_eq(g->triggers[0].gesture, GESTURE_SLOW);
    ck_assert_double_eq(g->triggers[0].delay, 0);

    const scenario_sign *sign = &sc->actors[7].u.sign;
    ck_assert_int_eq(sign->kind, SIGN_INFO);
    ck_assert_str_eq(sign->text, "");
    ck_assert_double_eq(sign->speed_limit, 0);
    const scenario_obstacle *cones = &sc->actors[8].u.obstacle, *barrier = &sc->actors[9].u.obstacle;
    ck_assert_int_eq(cones->kind, OBSTACLE_CONE);
    ck_assert_double_eq(cones->s_end, 300);
    ck_assert_double_eq(cones->spacing, 4);
    ck_assert_int_eq(barrier->kind, OBSTACLE_BARRIER);
    ck_assert_double_eq(barrier->s_end, 320);
    ck_assert_double_eq(barrier->spacing, 2.5);

    ck_assert_double_eq(sc->success.min_score, 0.5);
    ck_assert_int_eq(sc->success.reach_goal, 1);
    ck_assert_int_eq(sc->success.no_collision, 1);
    ck_assert_int_eq(sc->success.stay_on_road, 1);
    ck_assert_int_eq(sc->success.obey_guards, 1);

    ck_assert_ptr_nonnull(sc->pb_bytes);
    ck_assert_uint_gt(sc->pb_len, 100);
    ck_assert_uint_eq(sc->hash, hash_fnv1a64(sc->pb_bytes, sc->pb_len));
    scenario_free(sc);
    ck_assert_ptr_null(sc->pb_bytes);
    free(sc), free(path);
}
END_TEST

START_TEST(explicit_values_are_kept) {
    const char *text =
        "id: \"explicit\" description: \"d\" instruction: \"Go.\" seed: 77 duration_s: 12.5 lighting: LIGHTING_NIGHT\n"
        "road { segments { length_m: 100 } lanes { left_marking: LANE_MARKING_NONE }\n"
        "  lanes { direction: LANE_DIRECTION_FORWARD left_marking: LANE_MARKING_DOUBLE_SOLID }\n"
        "  lane_width_m: 3 speed_limit_mps: 20 shoulder_width_m: 1 }\n"
        "ego { lane: 1 s_m: 5 speed_mps: 7 goal_s_m: 90 vehicle { length_m: 5 width_m: 2 wheelbase_m: 3\n"
        "  max_accel_mps2: 2 max_brake_mps2: 6 max_steer_rad: 0.4 max_steer_rate_radps: 0.3 max_jerk_mps3: 10\n"
        "  clamp_actions: true } }\n"
        "actors { id: \"guard\" guard { s_m: 50 d_m: 0 stop_line_s_m: 40 slow_speed_mps: 3\n"
        "  timeline { gesture: GESTURE_TURN_LEFT start_s: 0 duration_s: 1 }\n"
        "  timeline { gesture: GESTURE_TURN_RIGHT start_s: 1 duration_s: 2 }\n"
        "  triggers { when { ego_within_m: 9 actor: \"lim\" } gesture: GESTURE_STOP delay_s: 0.5 } } }\n"
        "actors { id: \"lim\" sign { s_m: 10 d_m: -1 kind: SIGN_KIND_SPEED_LIMIT text: \"30\" speed_limit_mps: 8.3 } }\n"
        "actors { id: \"p\" pedestrian { path { s_m: 60 d_m: 8 } path { s_m: 60 d_m: -1 } speed_mps: 2\n"
        "  start { ego_stopped_for_s: 1 } } }\n"
        "actors { id: \"v\" vehicle { lane: 0 s_m: 30 speed_mps: 4 length_m: 6 width_m: 2.2\n"
        "  follow_lane { desired_speed_mps: 9 time_headway_s: 2 min_gap_m: 3 } } }\n"
        "actors { id: \"c\" vehicle { lane: 0 s_m: 70 speed_mps: 4 cut_in { target_lane: 1 duration_s: 4 speed_mps: 5\n"
        "  trigger { at_time_s: 2 } } } }\n"
        "actors { id: \"h\" vehicle { lane: 1 s_m: 80 speed_mps: 4 hard_brake { trigger { at_time_s: 2 } decel_mps2: 3 speed_mps: 6 } } }\n"
        "actors { id: \"cr\" vehicle { lane: 0 s_m: 90 speed_mps: 4 cruise { speed_mps: 7 } } }\n"
        "actors { id: \"b\" obstacle { kind: OBSTACLE_KIND_CONE lane: 1 s_start_m: 95 s_end_m: 99 spacing_m: 1 } }\n"
        "success { min_score: 0.8 reach_goal: false no_collision: false stay_on_road: false obey_guards: false }\n";
    char *path = test_write_temp_file("explicit.pbtxt", text);
    scenario *sc = new_scenario();
    wm_error err;
    ck_assert_msg(scenario_load(path, sc, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(sc->id, "explicit");
    ck_assert_str_eq(sc->description, "d");
    ck_assert_str_eq(sc->instruction, "Go.");
    ck_assert_uint_eq(sc->seed, 77);
    ck_assert_double_eq(sc->duration, 12.5);
    ck_assert_int_eq(sc->lighting, LIGHTING_NIGHT);
    ck_assert_int_eq(sc->road.markings[0], LANE_MARKING_NONE);
    ck_assert_int_eq(sc->road.markings[1], LANE_MARKING_DOUBLE_SOLID);
    ck_assert_int_eq(sc->road.lane_dirs[0], LANE_FORWARD);
    ck_assert_double_eq(sc->road.lane_width, 3);
    ck_assert_double_eq(sc->road.shoulder, 1);
    ck_assert_double_eq(sc->road.speed_limit, 20);
    const scenario_ego *e = &sc->ego;
    ck_assert_int_eq(e->lane, 1);
    ck_assert_double_eq(e->s, 5);
    ck_assert_double_eq(e->speed, 7);
    ck_assert_double_eq(e->goal_s, 90);
    ck_assert_double_eq(e->vehicle.length, 5);
    ck_assert_double_eq(e->vehicle.width, 2);
    ck_assert_double_eq(e->vehicle.wheelbase, 3);
    ck_assert_double_eq(e->vehicle.limits.accel_max, 2);
    ck_assert_double_eq(e->vehicle.limits.brake_max, 6);
    ck_assert_double_eq(e->vehicle.limits.steer_max, 0.4);
    ck_assert_double_eq(e->vehicle.limits.steer_rate_max, 0.3);
    ck_assert_double_eq(e->vehicle.limits.jerk_max, 10);
    ck_assert_int_eq(e->vehicle.clamp_actions, 1);
    const scenario_guard *g = &sc->actors[0].u.guard;
    ck_assert_double_eq(g->stop_line_s, 40);
    ck_assert_double_eq(g->slow_speed, 3);
    ck_assert_int_eq(g->timeline[0].gesture, GESTURE_TURN_LEFT);
    ck_assert_int_eq(g->timeline[1].gesture, GESTURE_TURN_RIGHT);
    ck_assert_double_eq(g->timeline[1].duration, 2);
    ck_assert_int_eq(g->triggers[0].when.ref_actor, 1); /* "lim" */
    ck_assert_double_eq(g->triggers[0].delay, 0.5);
    ck_assert_int_eq(g->triggers[0].gesture, GESTURE_STOP);
    const scenario_sign *lim = &sc->actors[1].u.sign;
    ck_assert_int_eq(lim->kind, SIGN_SPEED_LIMIT);
    ck_assert_str_eq(lim->text, "30");
    ck_assert_double_eq(lim->speed_limit, 8.3);
    const scenario_pedestrian *p = &sc->actors[2].u.pedestrian;
    ck_assert_double_eq(p->speed, 2);
    ck_assert_int_eq(p->has_start, 1);
    ck_assert_int_eq(p->start.kind, TRIGGER_EGO_STOPPED);
    ck_assert_int_eq(p->start.ref_actor, 2);
    const scenario_vehicle *v = &sc->actors[3].u.vehicle;
    ck_assert_double_eq(v->length, 6);
    ck_assert_double_eq(v->width, 2.2);
    ck_assert_double_eq(v->desired_speed, 9);
    ck_assert_double_eq(v->time_headway, 2);
    ck_assert_double_eq(v->min_gap, 3);
    const scenario_vehicle *c = &sc->actors[4].u.vehicle;
    ck_assert_double_eq(c->cut_in_duration, 4);
    ck_assert_double_eq(c->cruise_speed, 5);
    ck_assert_int_eq(c->target_lane, 1);
    const scenario_vehicle *h = &sc->actors[5].u.vehicle;
    ck_assert_double_eq(h->brake_decel, 3);
    ck_assert_double_eq(h->cruise_speed, 6);
    ck_assert_double_eq(sc->actors[6].u.vehicle.cruise_speed, 7);
    ck_assert_double_eq(sc->actors[6].u.vehicle.speed, 4);
    const scenario_obstacle *o = &sc->actors[7].u.obstacle;
    ck_assert_int_eq(o->kind, OBSTACLE_CONE);
    ck_assert_double_eq(o->spacing, 1);
    ck_assert_double_eq(o->s_end, 99);
    ck_assert_double_eq(sc->success.min_score, 0.8);
    ck_assert_int_eq(sc->success.reach_goal, 0);
    ck_assert_int_eq(sc->success.no_collision, 0);
    ck_assert_int_eq(sc->success.stay_on_road, 0);
    ck_assert_int_eq(sc->success.obey_guards, 0);
    scenario_free(sc);
    free(sc), free(path);
}
END_TEST

START_TEST(compiled_binary_loads_identically) {
    char *path = test_write_temp_file("same.pbtxt", full_text);
    char pb[4200];
    snprintf(pb, sizeof pb, "%.*s.pb", (int)(strlen(path) - strlen(".pbtxt")), path);
    wm_error err;
    ck_assert_msg(scenario_compile(path, pb, &err) == 0, "%s", err.msg);
    scenario *a = new_scenario(), *b = new_scenario();
    ck_assert_msg(scenario_load(path, a, &err) == 0, "%s", err.msg);
    ck_assert_msg(scenario_load(pb, b, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(a->pb_len, b->pb_len);
    ck_assert_int_eq(memcmp(a->pb_bytes, b->pb_bytes, a->pb_len), 0);
    ck_assert_uint_eq(a->hash, b->hash);
    /* Everything else, byte for byte (both structs started zeroed). */
    uint8_t *pa = a->pb_bytes, *pbb = b->pb_bytes;
    a->pb_bytes = b->pb_bytes = NULL;
    ck_assert_int_eq(memcmp(a, b, sizeof *a), 0);
    a->pb_bytes = pa, b->pb_bytes = pbb;

    /* The same bytes in memory load the same too, under any name with the
     * same base name. */
    scenario *c = new_scenario();
    ck_assert_int_eq(scenario_load_pb("elsewhere/same.pb", a->pb_bytes, a->pb_len, c, &err), 0);
    ck_assert_str_eq(c->id, "same");
    ck_assert_uint_eq(c->hash, a->hash);
    scenario_free(a), scenario_free(b), scenario_free(c);
    free(a), free(b), free(c), free(path);
}
END_TEST

START_TEST(compile_refuses_invalid_input_and_leaves_no_file) {
    char *path = test_write_temp_file("bad.pbtxt", BASE "duration_s: -1\n");
    char out[4200];
    snprintf(out, sizeof out, "%s.pb", path);
    wm_error err;
    ck_assert_int_eq(scenario_compile(path, out, &err), -1);
    char want[8400];
    snprintf(want, sizeof want, "%s:duration_s: -1 outside (0, 600]", path);
    ck_assert_str_eq(err.msg, want);
    ck_assert_int_ne(access(out, F_OK), 0);
    /* An unwritable destination is an error naming it. */
    char *good = test_write_temp_file("good.pbtxt", BASE);
    ck_assert_int_eq(scenario_compile(good, "/nonexistent-dir/x.pb", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent-dir/x.pb"));
    free(path), free(good);
}
END_TEST

START_TEST(protoc_missing_is_a_clear_error) {
    char *path = test_write_temp_file("a.pbtxt", BASE);
    char want[8400];
    snprintf(want, sizeof want,
             "%s: cannot encode text format: protoc not found on PATH "
             "(install Debian's protobuf-compiler, or use a compiled .pb)",
             path);
    scenario *sc = new_scenario();
    wm_error err;

    char *old_path = STRDUP_CHECK(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    char *empty = test_tmpdir();
    unsetenv("WMSIM_PROTOC");
    setenv("PATH", empty, 1);
    ck_assert_int_eq(scenario_load(path, sc, &err), -1);
    setenv("PATH", old_path, 1);
    ck_assert_str_eq(err.msg, want);

    setenv("WMSIM_PROTOC", "/nonexistent/protoc", 1);
    ck_assert_int_eq(scenario_load(path, sc, &err), -1);
    ck_assert_str_eq(err.msg, want);

    /* WMSIM_PROTOC is really the program run: one that fails says so. */
    setenv("WMSIM_PROTOC", "false", 1);
    ck_assert_int_eq(scenario_load(path, sc, &err), -1);
    snprintf(want, sizeof want, "%s: cannot encode text format: protoc exited with status 1", path);
    ck_assert_str_eq(err.msg, want);
    unsetenv("WMSIM_PROTOC");

    /* And with both restored, the file loads. */
    ck_assert_msg(scenario_load(path, sc, &err) == 0, "%s", err.msg);
    scenario_free(sc);
    free(sc), free(path), free(old_path), free(empty);
}
END_TEST

START_TEST(protoc_syntax_errors_name_the_file_line_and_column) {
    char *path = test_write_temp_file("syntax.pbtxt", "id: \"x\"\nroad {\n  lanez: 3\n}\n");
    scenario *sc = new_scenario();
    wm_error err;
    ck_assert_int_eq(scenario_load(path, sc, &err), -1);
    /* "<path>:3:<column>: <protoc's reason>" */
    char want[8400];
    snprintf(want, sizeof want, "%s:3:", path);
    ck_assert_msg(strncmp(err.msg, want, strlen(want)) == 0, "%s", err.msg);
    int column = 0, used = 0;
    ck_assert_int_eq(sscanf(err.msg + strlen(want), "%d: %n", &column, &used), 1);
    ck_assert_int_gt(column, 0);
    ck_assert_int_gt(used, 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "lanez"));
    ck_assert_ptr_null(strstr(err.msg, "input:"));
    ck_assert_ptr_null(strchr(err.msg, '\n')); /* protoc's "Failed to parse input." is dropped */
    free(path);

    /* A negative unsigned seed on line 2, column 7. */
    path = test_write_temp_file("seed.pbtxt", "id: \"x\"\nseed: -5\nduration_s: 3\n");
    ck_assert_int_eq(scenario_load(path, sc, &err), -1);
    snprintf(want, sizeof want, "%s:2:7: ", path);
    ck_assert_msg(strncmp(err.msg, want, strlen(want)) == 0, "%s", err.msg);
    free(sc), free(path);
}
END_TEST

START_TEST(text_loading_leaves_no_temporary_files_and_uses_no_shell) {
    char *tmp = test_tmpdir();
    setenv("TMPDIR", tmp, 1);
    /* A name a shell would split and expand. */
    char *path = test_write_temp_file("a b;$(touch x)'.pbtxt", BASE);
    scenario *sc = new_scenario();
    wm_error err;
    ck_assert_msg(scenario_load(path, sc, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(sc->id, "t");
    scenario_free(sc);
    char *bad = test_write_temp_file("bad.pbtxt", "nonsense {");
    ck_assert_int_eq(scenario_load(bad, sc, &err), -1);
    /* write_scenario made two directories under tmp; protoc's are gone. */
    DIR *d = opendir(tmp);
    ck_assert_ptr_nonnull(d);
    struct dirent *ent;
    int n = 0;
    while ((ent = readdir(d))) {
        ck_assert_msg(strncmp(ent->d_name, "wmsim-protoc-", 13) != 0, "left behind: %s", ent->d_name);
        if (strncmp(ent->d_name, "wmsim-test-", 11) == 0) n++;
    }
    closedir(d);
    ck_assert_int_eq(n, 2);
    free(sc), free(path), free(bad), free(tmp);
}
END_TEST

START_TEST(missing_files_and_directories) {
    scenario *sc = new_scenario();
    wm_error err;
    ck_assert_int_eq(scenario_load("/nonexistent/x.pbtxt", sc, &err), -1);
    ck_assert_str_eq(err.msg, "/nonexistent/x.pbtxt: cannot open: No such file or directory");
    ck_assert_int_eq(scenario_load("/nonexistent/x.pb", sc, &err), -1);
    ck_assert_str_eq(err.msg, "/nonexistent/x.pb: cannot open: No such file or directory");
    char *dir = test_tmpdir();
    ck_assert_int_eq(scenario_load(dir, sc, &err), -1);
    char want[4200];
    snprintf(want, sizeof want, "%s: is a directory", dir);
    ck_assert_str_eq(err.msg, want);
    free(sc), free(dir);
}
END_TEST

START_TEST(oversized_binary_is_refused) {
    char *dir = test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/big.pb", dir);
    size_t len = ((size_t)16 << 20) + 1;
    uint8_t *zeros = CALLOC_CHECK(len, 1);
    write_bytes(path, zeros, len);
    scenario *sc = new_scenario();
    wm_error err;
    ck_assert_int_eq(scenario_load(path, sc, &err), -1);
    char want[4400];
    snprintf(want, sizeof want, "%s: file larger than the 16777216-byte limit", path);
    ck_assert_str_eq(err.msg, want);
    ck_assert_int_eq(scenario_load_pb("mem.pb", zeros, len, sc, &err), -1);
    ck_assert_str_eq(err.msg, "mem.pb: 16777217 bytes, larger than the 16777216-byte limit for a scenario");
    unlink(path);
    free(zeros), free(sc), free(dir);
}
END_TEST

/* ------------------------------------------------------------ corrupt binaries */

/* Ends of the top-level fields of a well-formed encoding. */
static int top_level_ends(const uint8_t *p, size_t len, size_t *ends, int max) {
    size_t i = 0;
    int n = 0;
    while (i < len && n < max) {
        uint64_t tag = 0;
        int shift = 0;
        while (p[i] & 0x80) tag |= (uint64_t)(p[i++] & 0x7f) << shift, shift += 7;
        tag |= (uint64_t)p[i++] << shift;
        switch (tag & 7) {
        case 0: while (p[i++] & 0x80) {} break;
        case 1: i += 8; break;
        case 5: i += 4; break;
        case 2: {
            uint64_t l = 0;
            shift = 0;
            while (p[i] & 0x80) l |= (uint64_t)(p[i++] & 0x7f) << shift, shift += 7;
            l |= (uint64_t)p[i++] << shift;
            i += l;
            break;
        }
        default: ck_abort_msg("unexpected wire type");
        }
        ends[n++] = i;
    }
    ck_assert_uint_eq(i, len);
    return n;
}

START_TEST(every_truncation_fails_cleanly) {
    size_t len;
    uint8_t *bytes = encode_text(full_text, &len);
    size_t ends[64];
    int n_ends = top_level_ends(bytes, len, ends, 64);
    ck_assert_int_eq(n_ends, 12); /* road, ego, ten actors */
    scenario *sc = new_scenario();
    wm_error err;
    for (size_t cut = 0; cut < len; cut++) {
        int at_boundary = cut == 0;
        for (int k = 0; k < n_ends; k++) at_boundary |= ends[k] == cut;
        int rc = scenario_load_pb("cut.pb", bytes, cut, sc, &err);
        if (!at_boundary) {
            /* A cut inside a field can never unpack. */
            ck_assert_msg(rc == -1, "prefix %zu loaded", cut);
            ck_assert_str_eq(err.msg, "cut.pb: not a valid binary Scenario protobuf (truncated or corrupt)");
        } else if (cut == 0) {
            ck_assert_int_eq(rc, -1);
            ck_assert_str_eq(err.msg, "cut.pb:road: missing\ncut.pb:ego: missing");
        } else if (cut == ends[0]) {
            ck_assert_int_eq(rc, -1);
            ck_assert_str_eq(err.msg, "cut.pb:ego: missing");
        } else {
            /* Whole actors dropped from the end: every remaining reference
             * points backwards, so the rest is a valid scenario. */
            ck_assert_msg(rc == 0, "prefix %zu: %s", cut, err.msg);
            int k = 0;
            while (ends[k] != cut) k++;
            ck_assert_int_eq(sc->n_actors, k - 1);
            scenario_free(sc);
        }
    }
    free(sc), free(bytes);
}
END_TEST

START_TEST(random_bytes_fail_cleanly) {
    char *dir = test_tmpdir();
    wm_rng rng;
    rng_init(&rng, 20240611);
    scenario *sc = new_scenario();
    uint8_t buf[512];
    int loaded = 0;
    for (int i = 0; i < 1000; i++) {
        size_t len = (size_t)(rng_u64(&rng) % sizeof buf);
        for (size_t k = 0; k < len; k++) buf[k] = (uint8_t)rng_u64(&rng);
        char path[4200];
        snprintf(path, sizeof path, "%s/r%04d.pb", dir, i);
        write_bytes(path, buf, len);
        wm_error err;
        int rc = scenario_load(path, sc, &err);
        if (rc == 0) loaded++, scenario_free(sc);
        else ck_assert_msg(strncmp(err.msg, path, strlen(path)) == 0 && strlen(err.msg) > strlen(path) + 2,
                           "file %d: '%s'", i, err.msg);
        unlink(path);
    }
    ck_assert_int_eq(loaded, 0); /* noise has no road and ego */
    free(sc), free(dir);
}
END_TEST

/* Valid bytes with a few bytes changed reach much deeper than pure noise. */
START_TEST(mutated_scenarios_never_crash) {
    size_t len;
    uint8_t *bytes = encode_text(full_text, &len);
    uint8_t *buf = MALLOC_CHECK(len);
    wm_rng rng;
    rng_init(&rng, 99);
    scenario *sc = new_scenario();
    int failed = 0;
    for (int i = 0; i < 2000; i++) {
        memcpy(buf, bytes, len);
        int flips = 1 + (int)(rng_u64(&rng) % 4);
        for (int k = 0; k < flips; k++) buf[rng_u64(&rng) % len] = (uint8_t)rng_u64(&rng);
        wm_error err;
        if (scenario_load_pb("m.pb", buf, len, sc, &err) == 0) {
            /* Whatever loaded is within the struct's limits. */
            ck_assert_int_le(sc->n_actors, SCENARIO_MAX_ACTORS);
            ck_assert_int_ge(sc->road.n_lanes, 1);
            ck_assert_int_le(sc->road.n_lanes, SCENARIO_MAX_LANES);
            ck_assert(sc->ego.lane >= 0 && sc->ego.lane < sc->road.n_lanes);
            scenario_free(sc);
        } else {
            ck_assert_msg(strncmp(err.msg, "m.pb:", 5) == 0, "%s", err.msg);
            failed++;
        }
    }
    ck_assert_int_gt(failed, 0);
    free(sc), free(buf), free(bytes);
}
END_TEST

START_TEST(names_of_gestures_and_actor_kinds) {
    ck_assert_str_eq(gesture_name(GESTURE_NONE), "NONE");
    ck_assert_str_eq(gesture_name(GESTURE_STOP), "STOP");
    ck_assert_str_eq(gesture_name(GESTURE_PROCEED), "PROCEED");
    ck_assert_str_eq(gesture_name(GESTURE_SLOW), "SLOW");
    ck_assert_str_eq(gesture_name(GESTURE_TURN_LEFT), "TURN_LEFT");
    ck_assert_str_eq(gesture_name(GESTURE_TURN_RIGHT), "TURN_RIGHT");
    ck_assert_str_eq(actor_kind_name(ACTOR_VEHICLE), "vehicle");
    ck_assert_str_eq(actor_kind_name(ACTOR_PEDESTRIAN), "pedestrian");
    ck_assert_str_eq(actor_kind_name(ACTOR_GUARD), "guard");
    ck_assert_str_eq(actor_kind_name(ACTOR_SIGN), "sign");
    ck_assert_str_eq(actor_kind_name(ACTOR_OBSTACLE), "obstacle");
}
END_TEST

int main(void) {
    Suite *s = suite_create("scenarios");
    TCase *tc = tcase_create("scenarios");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, validation_rule, 0, N_RULE_CASES);
    tcase_add_test(tc, count_limits_on_segments_timeline_and_actors);
    tcase_add_test(tc, text_fields_longer_than_255_bytes);
    tcase_add_test(tc, unknown_enum_values_in_binary_files);
    tcase_add_test(tc, unknown_fields_in_binary_files);
    tcase_add_test(tc, defaults_are_filled);
    tcase_add_test(tc, explicit_values_are_kept);
    tcase_add_test(tc, compiled_binary_loads_identically);
    tcase_add_test(tc, compile_refuses_invalid_input_and_leaves_no_file);
    tcase_add_test(tc, protoc_missing_is_a_clear_error);
    tcase_add_test(tc, protoc_syntax_errors_name_the_file_line_and_column);
    tcase_add_test(tc, text_loading_leaves_no_temporary_files_and_uses_no_shell);
    tcase_add_test(tc, missing_files_and_directories);
    tcase_add_test(tc, oversized_binary_is_refused);
    tcase_add_test(tc, every_truncation_fails_cleanly);
    tcase_add_test(tc, random_bytes_fail_cleanly);
    tcase_add_test(tc, mutated_scenarios_never_crash);
    tcase_add_test(tc, names_of_gestures_and_actor_kinds);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
