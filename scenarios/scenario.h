/* scenario.h — a validated scenario as plain C structs.
 *
 * Usage:
 *     scenario sc;
 *     wm_error err;
 *     if (scenario_load("scenarios/examples/guard_stop_proceed.pbtxt", &sc, &err))
 *         die("%s", err.msg);          // "file:field: reason"
 *     ...
 *     scenario_free(&sc);
 *
 * scenario_load reads .pb (binary) or .pbtxt (text, encoded by protoc with the
 * schema compiled into wmsim), validates it and fills every default, so code
 * downstream never sees a missing field. The field meanings and units are
 * documented in scenario.proto; this header mirrors them. */
#ifndef WMSIM_SCENARIO_H
#define WMSIM_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#include "actions/action.h"
#include "core/error.h"

#define SCENARIO_MAX_LANES 4
#define SCENARIO_MAX_SEGMENTS 64
#define SCENARIO_MAX_ACTORS 64
#define SCENARIO_MAX_GESTURES 32
#define SCENARIO_MAX_TRIGGERS 8
#define SCENARIO_MAX_PATH 16
#define SCENARIO_ID_MAX 64
#define SCENARIO_TEXT_MAX 256

/* Defaults from scenario.proto that validation needs as well as conversion. */
#define SCENARIO_DEFAULT_LANE_WIDTH 3.5     /* m */
#define SCENARIO_DEFAULT_SHOULDER 0.5       /* m */
#define SCENARIO_DEFAULT_GOAL_FROM_END 10.0 /* m before the road's end */
#define SCENARIO_DEFAULT_VEHICLE_LENGTH 4.6 /* m, ego and actor vehicles */
#define SCENARIO_DEFAULT_VEHICLE_WIDTH 1.9  /* m */
#define SCENARIO_DEFAULT_WHEELBASE 2.8      /* m */

typedef enum { LIGHTING_DAY, LIGHTING_DUSK, LIGHTING_NIGHT } lighting;

#define SCENARIO_CAMERA_MAX_WIDTH 1920
#define SCENARIO_CAMERA_MAX_HEIGHT 960

/* The forward dash camera; render/ draws through it. */
typedef struct {
    int width, height;     /* pixels */
    double hfov_deg;       /* horizontal field of view, (10, 150) */
    double mount_height;   /* m above the ground */
    double mount_forward;  /* m ahead of the rear axle (windscreen) */
    double pitch_deg;      /* + looks down */
} scenario_camera;

scenario_camera scenario_camera_default(void); /* 128x64, 60 deg, 1.4 m, 1.5 m, 2 deg */
/* "width 0 outside [16, 1920]": the first problem, without a prefix. */
int scenario_camera_check(const scenario_camera *c, wm_error *err);
typedef enum { LANE_FORWARD, LANE_ONCOMING } lane_direction;
typedef enum {
    LANE_MARKING_NONE,
    LANE_MARKING_SOLID,
    LANE_MARKING_DASHED,
    LANE_MARKING_DOUBLE_SOLID
} lane_marking;

typedef enum {
    GESTURE_NONE, /* only before a guard's timeline starts; never authored */
    GESTURE_STOP,
    GESTURE_PROCEED,
    GESTURE_SLOW,
    GESTURE_TURN_LEFT,
    GESTURE_TURN_RIGHT
} gesture;

typedef struct {
    double length;    /* m */
    double curvature; /* 1/m, + turns left, 0 straight */
} scenario_segment;

typedef struct {
    scenario_segment segments[SCENARIO_MAX_SEGMENTS];
    int n_segments;
    lane_direction lane_dirs[SCENARIO_MAX_LANES];
    /* markings[i] is the line on lane i's left edge; the right edge of lane 0
     * is always the solid road edge. */
    lane_marking markings[SCENARIO_MAX_LANES];
    int n_lanes;
    double lane_width;  /* m */
    double speed_limit; /* m/s */
    double shoulder;    /* m beyond each outer lane that is still drivable */
} scenario_road;

typedef struct {
    double length, width, wheelbase; /* m */
    action_limits limits;
    int clamp_actions; /* 1: clamp out-of-range actions; 0: error */
} vehicle_params;

typedef struct {
    int lane;
    double s, speed, goal_s;
    vehicle_params vehicle;
} scenario_ego;

typedef enum {
    TRIGGER_AT_TIME,     /* value = time in s */
    TRIGGER_EGO_WITHIN,  /* value = distance in m from the ego front to the ref actor */
    TRIGGER_EGO_STOPPED  /* value = seconds stopped, within 40 m of the ref actor */
} trigger_kind;

typedef struct {
    trigger_kind kind;
    double value;
    int ref_actor; /* index into scenario.actors; already resolved from the id */
} scenario_trigger;

typedef enum {
    VEHICLE_CRUISE,
    VEHICLE_FOLLOW_LANE,
    VEHICLE_CUT_IN,
    VEHICLE_HARD_BRAKE,
    VEHICLE_STALLED
} vehicle_behavior;

typedef struct {
    int lane;
    double s, speed, length, width;
    vehicle_behavior behavior;
    double cruise_speed;       /* CRUISE, CUT_IN, HARD_BRAKE: speed held */
    double desired_speed;      /* FOLLOW_LANE: IDM v0 */
    double time_headway;       /* FOLLOW_LANE: IDM T */
    double min_gap;            /* FOLLOW_LANE: IDM s0 */
    int target_lane;           /* CUT_IN */
    double cut_in_duration;    /* CUT_IN: lateral move time */
    double brake_decel;        /* HARD_BRAKE */
    scenario_trigger trigger;  /* CUT_IN, HARD_BRAKE */
} scenario_vehicle;

typedef struct {
    double s[SCENARIO_MAX_PATH], d[SCENARIO_MAX_PATH];
    int n_points;
    double speed;
    int has_start;             /* 0: walks from t = 0 */
    scenario_trigger start;
} scenario_pedestrian;

typedef struct {
    gesture gesture;
    double start, duration; /* duration < 0: holds until a trigger / the end */
} scenario_gesture_segment;

typedef struct {
    scenario_trigger when;
    gesture gesture;
    double delay;
} scenario_gesture_trigger;

typedef struct {
    double s, d, stop_line_s, slow_speed;
    scenario_gesture_segment timeline[SCENARIO_MAX_GESTURES];
    int n_timeline;
    scenario_gesture_trigger triggers[SCENARIO_MAX_TRIGGERS];
    int n_triggers;
} scenario_guard;

typedef enum {
    SIGN_INFO,
    SIGN_WORK_ZONE,
    SIGN_SPEED_LIMIT,
    SIGN_STOP
} sign_kind;

typedef struct {
    double s, d;
    sign_kind kind;
    char text[SCENARIO_TEXT_MAX];
    double speed_limit; /* SIGN_SPEED_LIMIT only */
} scenario_sign;

typedef enum { OBSTACLE_CONE, OBSTACLE_BARRIER } obstacle_kind;

typedef struct {
    obstacle_kind kind;
    int lane;
    double s_start, s_end, spacing;
} scenario_obstacle;

typedef enum {
    ACTOR_VEHICLE,
    ACTOR_PEDESTRIAN,
    ACTOR_GUARD,
    ACTOR_SIGN,
    ACTOR_OBSTACLE
} actor_kind;

typedef struct {
    char id[SCENARIO_ID_MAX];
    actor_kind kind;
    union {
        scenario_vehicle vehicle;
        scenario_pedestrian pedestrian;
        scenario_guard guard;
        scenario_sign sign;
        scenario_obstacle obstacle;
    } u;
} scenario_actor;

typedef struct {
    double min_score;
    int reach_goal, no_collision, stay_on_road, obey_guards;
} scenario_success;

typedef struct {
    char id[SCENARIO_ID_MAX];
    char description[SCENARIO_TEXT_MAX];
    char instruction[SCENARIO_TEXT_MAX];
    uint64_t seed;
    double duration; /* s */
    lighting lighting;
    scenario_camera camera;
    scenario_road road;
    scenario_ego ego;
    scenario_actor actors[SCENARIO_MAX_ACTORS];
    int n_actors;
    scenario_success success;
    /* The binary protobuf encoding of the scenario as loaded: the episode log
     * embeds it so an episode can be replayed without the source file. */
    uint8_t *pb_bytes;
    size_t pb_len;
    uint64_t hash; /* FNV-1a 64 of pb_bytes */
} scenario;

/* Loads FILE (.pb binary, anything else is text format), validates it and
 * fills sc. On failure returns -1 with every problem in err->msg, one per
 * line, as "file:field: reason"; sc is then left empty (safe to free). */
int scenario_load(const char *path, scenario *sc, wm_error *err);

/* As scenario_load, from bytes already in memory; name is used in messages. */
int scenario_load_pb(const char *name, const uint8_t *pb, size_t len,
                     scenario *sc, wm_error *err);

/* The schema, for protoc_encode_file / protoc_decode (scenarios/protoc.h). */
struct protoc_schema;
extern const struct protoc_schema scenario_schema;

/* Text format → binary, via protoc. *out is malloc'ed. */
int scenario_encode_text(const char *path, uint8_t **out, size_t *out_len,
                         wm_error *err);

/* `wmsim scenario compile`: text (or binary) in, validated binary out,
 * written atomically. */
int scenario_compile(const char *in_path, const char *out_path, wm_error *err);

void scenario_free(scenario *sc);

/* The id of a scenario file without one: its base name up to the first
 * '.', lower-cased, other bytes outside [a-z0-9_-] as '_'. */
void scenario_default_id(const char *name, char *id, size_t cap);

/* The two steps of scenario_load_pb after unpacking, for tools that build a
 * Wmsim__Scenario in code (edge-case synthesis). scenario_validate_msg puts
 * every problem in err->msg, one per line, as "name:field: reason", and
 * returns -1 if there was any; scenario_from_msg fills sc from a message
 * that passed, using default_id when the message has no id (pb_bytes, pb_len
 * and hash are left zero for the caller). */
struct Wmsim__Scenario;
int scenario_validate_msg(const char *name, const struct Wmsim__Scenario *m, wm_error *err);
void scenario_from_msg(const struct Wmsim__Scenario *m, const char *default_id, scenario *sc);
struct Wmsim__Camera;
scenario_camera scenario_camera_from_msg(const struct Wmsim__Camera *m); /* NULL: the default */

/* Variation `variation` of sc for training clips: a new seed (roadside,
 * actor noise), random lighting, and per-actor speed, position, guard
 * timing and trigger changes of up to ±15 % (±3 m), all drawn from the
 * scenario's seed and hash, and 20 % more time for the slower cases.
 * Variation 0 leaves sc as written. */
void scenario_vary(scenario *sc, int variation);

/* Appends the scenario files path names to *list (*n of them so far): the
 * file itself, or a folder's *.pbtxt and *.pb files sorted by name (so a
 * suite's order never depends on the directory's). Errors: "PATH: No such
 * file or directory", "PATH: no scenario files (*.pbtxt, *.pb)". */
int scenario_files_add(const char *path, char ***list, int *n, wm_error *err);
void scenario_files_free(char **list, int n);

/* Loads n scenario files into out, refusing two with one id ("WHO: A and
 * B share the scenario id 'X'": results and clips are filed by id).
 * *loaded counts the scenarios to scenario_free, on failure too. */
int scenario_load_all(const char *who, const char *const *paths, int n, scenario *out, int *loaded, wm_error *err);

const char *gesture_name(gesture g);        /* "STOP", "PROCEED", ... */
const char *actor_kind_name(actor_kind k);  /* "vehicle", "pedestrian", ... */

#endif
