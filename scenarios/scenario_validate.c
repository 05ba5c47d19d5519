/* scenario_validate.c — every check on an unpacked Wmsim__Scenario.
 *
 * Each problem becomes one line "file:field.path: reason" with the proto's
 * field names, and checking goes on after a problem so an author fixes a file
 * in one round. A check that depends on another field (a lane index needs a
 * valid lane count, positions need the road length) is skipped while that
 * field is itself wrong, so one mistake is reported once, where it is.
 *
 * Range checks are written as "!(x within range)" so NaN always fails them;
 * infinities are rejected first because they pass one-sided bounds. */
#include "scenarios/scenario.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mathx.h"
#include "scenarios/scenario.pb-c.h"
#include "scenarios/scenario_template.h"

/* Past this many lines err->msg (4 KiB) is full anyway; the cap also bounds
 * the work on a hostile binary with millions of unknown fields. */
#define MAX_REPORTED 200

#define SEGMENT_TOL 1e-9 /* s: gap/overlap tolerance between timeline segments */

typedef struct {
    const char *name;
    wm_error *err;
    int n_problems;
    /* Facts the cross-field checks need, each set only when valid. */
    int n_lanes;                 /* 0: lane indices cannot be checked */
    Wmsim__Lane *const *lanes;
    double lane_width;           /* effective; < 0 when invalid */
    double road_len;             /* < 0 when unknown */
    const Wmsim__Scenario *m;
    size_t n_actors;             /* actors considered (at most SCENARIO_MAX_ACTORS) */
} vctx;

static void problem(vctx *v, const char *base, const char *leaf, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void problem(vctx *v, const char *base, const char *leaf, const char *fmt, ...) {
    v->n_problems++;
    if (!v->err || v->n_problems > MAX_REPORTED) return;
    char reason[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (!*base) wm_error_append(v->err, "%s: %s", v->name, reason);
    else if (!leaf) wm_error_append(v->err, "%s:%s: %s", v->name, base, reason);
    else wm_error_append(v->err, "%s:%s.%s: %s", v->name, base, leaf, reason);
}

/* ---------------------------------------------------------------- helpers */

static int finite_ok(vctx *v, const char *base, const char *leaf, double x) {
    if (isfinite(x)) return 1;
    problem(v, base, leaf, "must be a finite number, got %g", x);
    return 0;
}

static int positive_ok(vctx *v, const char *base, const char *leaf, double x) {
    if (!finite_ok(v, base, leaf, x)) return 0;
    if (x > 0) return 1;
    problem(v, base, leaf, "must be > 0, got %g", x);
    return 0;
}

static int nonneg_ok(vctx *v, const char *base, const char *leaf, double x) {
    if (!finite_ok(v, base, leaf, x)) return 0;
    if (x >= 0) return 1;
    problem(v, base, leaf, "must be >= 0, got %g", x);
    return 0;
}

/* (lo, hi] */
static int open_closed_ok(vctx *v, const char *base, const char *leaf, double x, double lo, double hi) {
    if (x > lo && x <= hi) return 1;
    problem(v, base, leaf, "%g outside (%g, %g]", x, lo, hi);
    return 0;
}

/* [lo, hi] */
static int closed_ok(vctx *v, const char *base, const char *leaf, double x, double lo, double hi) {
    if (x >= lo && x <= hi) return 1;
    problem(v, base, leaf, "%g outside [%g, %g]", x, lo, hi);
    return 0;
}

/* A position along the road, [0, len]; unchecked while the length is unknown. */
static int on_road_ok(vctx *v, const char *base, const char *leaf, double s) {
    if (!finite_ok(v, base, leaf, s)) return 0;
    if (v->road_len < 0 || (s >= 0 && s <= v->road_len)) return 1;
    problem(v, base, leaf, "%g outside the road [0, %g]", s, v->road_len);
    return 0;
}

static int enum_ok(vctx *v, const char *base, const char *leaf, int value, int max) {
    if (value >= 0 && value <= max) return 1;
    problem(v, base, leaf, "unknown enum value %d", value);
    return 0;
}

static int lane_ok(vctx *v, const char *base, const char *leaf, int lane) {
    if (v->n_lanes == 0) return 0;
    if (lane >= 0 && lane < v->n_lanes) return 1;
    problem(v, base, leaf, "lane %d out of range [0, %d]", lane, v->n_lanes - 1);
    return 0;
}

static void text_ok(vctx *v, const char *base, const char *leaf, const char *s, size_t max) {
    if (s && strlen(s) > max) problem(v, base, leaf, "longer than %zu bytes", max);
}

static size_t count_ok(vctx *v, const char *base, const char *leaf, size_t n, size_t max) {
    if (n <= max) return n;
    problem(v, base, leaf, "at most %zu allowed, got %zu", max, n);
    return max;
}

static int gesture_ok(vctx *v, const char *base, int has, Wmsim__Gesture g) {
    if (!has) {
        problem(v, base, "gesture", "missing");
        return 0;
    }
    if (!enum_ok(v, base, "gesture", (int)g, WMSIM__GESTURE__GESTURE_TURN_RIGHT)) return 0;
    if (g != WMSIM__GESTURE__GESTURE_UNSPECIFIED) return 1;
    problem(v, base, "gesture", "gesture must be set");
    return 0;
}

static int find_actor(const vctx *v, const char *id) {
    for (size_t i = 0; i < v->n_actors; i++)
        if (v->m->actors[i]->id && strcmp(v->m->actors[i]->id, id) == 0) return (int)i;
    return -1;
}

/* ---------------------------------------------------------------- unknown fields */

/* Walks every sub-message through the descriptors, so fields added to the
 * schema later are covered without touching this code. */
static void check_unknown(vctx *v, const ProtobufCMessage *msg, const char *path) {
    for (unsigned k = 0; k < msg->n_unknown_fields; k++)
        problem(v, path, NULL, "unknown field number %u", (unsigned)msg->unknown_fields[k].tag);
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    const char *base = (const char *)msg;
    for (unsigned f = 0; f < desc->n_fields; f++) {
        const ProtobufCFieldDescriptor *fd = &desc->fields[f];
        if (fd->type != PROTOBUF_C_TYPE_MESSAGE) continue;
        char sub[512];
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n;
            ProtobufCMessage **items;
            memcpy(&n, base + fd->quantifier_offset, sizeof n);
            memcpy(&items, base + fd->offset, sizeof items);
            for (size_t i = 0; i < n; i++) {
                snprintf(sub, sizeof sub, "%s%s%s[%zu]", path, *path ? "." : "", fd->name, i);
                check_unknown(v, items[i], sub);
            }
            continue;
        }
        if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which;
            memcpy(&which, base + fd->quantifier_offset, sizeof which);
            if (which != fd->id) continue;
        }
        ProtobufCMessage *child;
        memcpy(&child, base + fd->offset, sizeof child);
        if (!child) continue;
        snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", fd->name);
        check_unknown(v, child, sub);
    }
}

/* ---------------------------------------------------------------- road */

static void validate_road(vctx *v, const Wmsim__Road *r) {
    /* Lane facts first: the curvature check needs the road's width. */
    double shoulder = SCENARIO_DEFAULT_SHOULDER;
    int width_known = 1;
    if (r->n_lanes >= 1 && r->n_lanes <= SCENARIO_MAX_LANES) {
        v->n_lanes = (int)r->n_lanes;
        v->lanes = r->lanes;
    } else {
        width_known = 0;
    }
    v->lane_width = SCENARIO_DEFAULT_LANE_WIDTH;
    if (r->has_lane_width_m && !(r->lane_width_m >= 2.5 && r->lane_width_m <= 5)) v->lane_width = -1, width_known = 0;
    else if (r->has_lane_width_m) v->lane_width = r->lane_width_m;
    if (r->has_shoulder_width_m) shoulder = r->shoulder_width_m;
    if (!(isfinite(shoulder) && shoulder >= 0)) width_known = 0;
    double width = width_known ? v->n_lanes * v->lane_width + 2 * shoulder : -1;

    double len = 0;
    int len_known = 1;
    if (r->n_segments == 0) {
        problem(v, "road.segments", NULL, "at least one segment required");
        len_known = 0;
    }
    size_t n_seg = count_ok(v, "road.segments", NULL, r->n_segments, SCENARIO_MAX_SEGMENTS);
    if (n_seg != r->n_segments) len_known = 0;
    for (size_t i = 0; i < n_seg; i++) {
        const Wmsim__RoadSegment *seg = r->segments[i];
        char base[64];
        snprintf(base, sizeof base, "road.segments[%zu]", i);
        int length_ok = 0;
        if (!seg->has_length_m) problem(v, base, "length_m", "missing");
        else length_ok = positive_ok(v, base, "length_m", seg->length_m);
        if (length_ok) len += seg->length_m;
        else len_known = 0;
        if (!seg->has_curvature_per_m || !finite_ok(v, base, "curvature_per_m", seg->curvature_per_m)) continue;
        double k = fabs(seg->curvature_per_m);
        if (k == 0) continue;
        if (width >= 0 && 1.0 / k < width)
            problem(v, base, "curvature_per_m", "radius %g m is smaller than the road width %g m", 1.0 / k, width);
        if (length_ok && k * seg->length_m > WM_PI)
            problem(v, base, NULL, "arc turns %g rad, more than pi (split it)", k * seg->length_m);
    }
    v->road_len = len_known && isfinite(len) ? len : -1;

    if (r->n_lanes < 1 || r->n_lanes > SCENARIO_MAX_LANES)
        problem(v, "road.lanes", NULL, "1 to %d lanes required, got %zu", SCENARIO_MAX_LANES, r->n_lanes);
    for (size_t i = 0; i < r->n_lanes && i < SCENARIO_MAX_LANES; i++) {
        char base[64];
        snprintf(base, sizeof base, "road.lanes[%zu]", i);
        if (r->lanes[i]->has_direction)
            enum_ok(v, base, "direction", (int)r->lanes[i]->direction, WMSIM__LANE_DIRECTION__LANE_DIRECTION_ONCOMING);
        if (r->lanes[i]->has_left_marking)
            enum_ok(v, base, "left_marking", (int)r->lanes[i]->left_marking,
                    WMSIM__LANE_MARKING__LANE_MARKING_DOUBLE_SOLID);
    }
    if (r->has_lane_width_m) closed_ok(v, "road", "lane_width_m", r->lane_width_m, 2.5, 5);
    if (!r->has_speed_limit_mps) problem(v, "road", "speed_limit_mps", "missing");
    else open_closed_ok(v, "road", "speed_limit_mps", r->speed_limit_mps, 0, 40);
    if (r->has_shoulder_width_m) nonneg_ok(v, "road", "shoulder_width_m", r->shoulder_width_m);
}

/* ---------------------------------------------------------------- ego */

static int lane_is_oncoming(const vctx *v, int lane) {
    const Wmsim__Lane *l = v->lanes[lane];
    return l->has_direction && l->direction == WMSIM__LANE_DIRECTION__LANE_DIRECTION_ONCOMING;
}

static void validate_vehicle_params(vctx *v, const Wmsim__VehicleParams *p) {
    const char *base = "ego.vehicle";
    int len_ok = 1, wb_ok = 1;
    if (p->has_length_m) len_ok = positive_ok(v, base, "length_m", p->length_m);
    if (p->has_width_m) positive_ok(v, base, "width_m", p->width_m);
    if (p->has_wheelbase_m) wb_ok = positive_ok(v, base, "wheelbase_m", p->wheelbase_m);
    if (p->has_max_accel_mps2) positive_ok(v, base, "max_accel_mps2", p->max_accel_mps2);
    if (p->has_max_brake_mps2) positive_ok(v, base, "max_brake_mps2", p->max_brake_mps2);
    if (p->has_max_steer_rad) positive_ok(v, base, "max_steer_rad", p->max_steer_rad);
    if (p->has_max_steer_rate_radps) positive_ok(v, base, "max_steer_rate_radps", p->max_steer_rate_radps);
    if (p->has_max_jerk_mps3) positive_ok(v, base, "max_jerk_mps3", p->max_jerk_mps3);
    double length = p->has_length_m ? p->length_m : SCENARIO_DEFAULT_VEHICLE_LENGTH;
    double wheelbase = p->has_wheelbase_m ? p->wheelbase_m : SCENARIO_DEFAULT_WHEELBASE;
    if (len_ok && wb_ok && !(wheelbase < length))
        problem(v, base, "wheelbase_m", "%g must be less than length_m %g", wheelbase, length);
}

static void validate_ego(vctx *v, const Wmsim__Ego *e) {
    if (!e->has_lane) problem(v, "ego", "lane", "missing");
    else if (lane_ok(v, "ego", "lane", e->lane) && lane_is_oncoming(v, e->lane))
        problem(v, "ego", "lane", "lane %d is an ONCOMING lane", e->lane);
    double s = e->has_s_m ? e->s_m : 0;
    int s_ok = finite_ok(v, "ego", "s_m", s);
    if (s_ok && v->road_len >= 0 && !(s >= 0 && s < v->road_len)) {
        problem(v, "ego", "s_m", "%g outside the road [0, %g)", s, v->road_len);
        s_ok = 0;
    }
    if (e->has_speed_mps) nonneg_ok(v, "ego", "speed_mps", e->speed_mps);
    if (v->road_len >= 0) {
        double goal = e->has_goal_s_m ? e->goal_s_m : v->road_len - SCENARIO_DEFAULT_GOAL_FROM_END;
        if (finite_ok(v, "ego", "goal_s_m", goal) && s_ok && !(goal > s && goal <= v->road_len))
            problem(v, "ego", "goal_s_m", "%g must be after ego.s_m %g and within the road length %g", goal, s,
                    v->road_len);
    } else if (e->has_goal_s_m) {
        finite_ok(v, "ego", "goal_s_m", e->goal_s_m);
    }
    if (e->vehicle) validate_vehicle_params(v, e->vehicle);
}

/* ---------------------------------------------------------------- actors */

static void validate_trigger(vctx *v, const char *base, const Wmsim__Trigger *t) {
    switch (t->condition_case) {
    case WMSIM__TRIGGER__CONDITION_AT_TIME_S: nonneg_ok(v, base, "at_time_s", t->at_time_s); break;
    case WMSIM__TRIGGER__CONDITION_EGO_WITHIN_M: positive_ok(v, base, "ego_within_m", t->ego_within_m); break;
    case WMSIM__TRIGGER__CONDITION_EGO_STOPPED_FOR_S:
        positive_ok(v, base, "ego_stopped_for_s", t->ego_stopped_for_s);
        break;
    default:
        problem(v, base, NULL, "no condition set (one of at_time_s, ego_within_m, ego_stopped_for_s)");
        break;
    }
    if (t->actor && find_actor(v, t->actor) < 0) problem(v, base, "actor", "no actor with id '%s'", t->actor);
}

static void validate_vehicle(vctx *v, const char *base, const Wmsim__Vehicle *veh) {
    int lane_valid = 0;
    if (!veh->has_lane) problem(v, base, "lane", "missing");
    else lane_valid = lane_ok(v, base, "lane", veh->lane);
    if (!veh->has_s_m) problem(v, base, "s_m", "missing");
    else on_road_ok(v, base, "s_m", veh->s_m);
    int speed_ok = 1;
    if (veh->has_speed_mps) speed_ok = nonneg_ok(v, base, "speed_mps", veh->speed_mps);
    if (veh->has_length_m) positive_ok(v, base, "length_m", veh->length_m);
    if (veh->has_width_m) positive_ok(v, base, "width_m", veh->width_m);
    char sub[128];
    switch (veh->behavior_case) {
    case WMSIM__VEHICLE__BEHAVIOR_CRUISE:
        snprintf(sub, sizeof sub, "%s.cruise", base);
        if (veh->cruise->has_speed_mps) nonneg_ok(v, sub, "speed_mps", veh->cruise->speed_mps);
        break;
    case WMSIM__VEHICLE__BEHAVIOR_FOLLOW_LANE: {
        const Wmsim__FollowLane *f = veh->follow_lane;
        snprintf(sub, sizeof sub, "%s.follow_lane", base);
        if (f->has_desired_speed_mps) nonneg_ok(v, sub, "desired_speed_mps", f->desired_speed_mps);
        if (f->has_time_headway_s) nonneg_ok(v, sub, "time_headway_s", f->time_headway_s);
        if (f->has_min_gap_m) nonneg_ok(v, sub, "min_gap_m", f->min_gap_m);
        break;
    }
    case WMSIM__VEHICLE__BEHAVIOR_CUT_IN: {
        const Wmsim__CutIn *c = veh->cut_in;
        snprintf(sub, sizeof sub, "%s.cut_in", base);
        if (!c->has_target_lane) problem(v, sub, "target_lane", "missing");
        else if (lane_ok(v, sub, "target_lane", c->target_lane) && lane_valid && abs(c->target_lane - veh->lane) != 1)
            problem(v, sub, "target_lane", "lane %d is not adjacent to the start lane %d", c->target_lane, veh->lane);
        char tb[160];
        snprintf(tb, sizeof tb, "%s.trigger", sub);
        if (!c->trigger) problem(v, sub, "trigger", "missing");
        else validate_trigger(v, tb, c->trigger);
        if (c->has_duration_s) positive_ok(v, sub, "duration_s", c->duration_s);
        if (c->has_speed_mps) nonneg_ok(v, sub, "speed_mps", c->speed_mps);
        break;
    }
    case WMSIM__VEHICLE__BEHAVIOR_HARD_BRAKE: {
        const Wmsim__HardBrake *h = veh->hard_brake;
        snprintf(sub, sizeof sub, "%s.hard_brake", base);
        char tb[160];
        snprintf(tb, sizeof tb, "%s.trigger", sub);
        if (!h->trigger) problem(v, sub, "trigger", "missing");
        else validate_trigger(v, tb, h->trigger);
        if (h->has_decel_mps2) positive_ok(v, sub, "decel_mps2", h->decel_mps2);
        if (h->has_speed_mps) nonneg_ok(v, sub, "speed_mps", h->speed_mps);
        break;
    }
    case WMSIM__VEHICLE__BEHAVIOR_STALLED:
        if (veh->has_speed_mps && speed_ok && veh->speed_mps != 0)
            problem(v, base, "speed_mps", "a stalled vehicle must have speed 0, got %g", veh->speed_mps);
        break;
    default: break; /* no behaviour: cruise at the start speed */
    }
}

static void validate_pedestrian(vctx *v, const char *base, const Wmsim__Pedestrian *p) {
    char pb[128];
    snprintf(pb, sizeof pb, "%s.path", base);
    if (p->n_path < 2) problem(v, pb, NULL, "at least 2 points required, got %zu", p->n_path);
    size_t n = count_ok(v, pb, NULL, p->n_path, SCENARIO_MAX_PATH);
    for (size_t j = 0; j < n; j++) {
        char pt[160];
        snprintf(pt, sizeof pt, "%s[%zu]", pb, j);
        if (!p->path[j]->has_s_m) problem(v, pt, "s_m", "missing");
        else on_road_ok(v, pt, "s_m", p->path[j]->s_m);
        if (!p->path[j]->has_d_m) problem(v, pt, "d_m", "missing");
        else finite_ok(v, pt, "d_m", p->path[j]->d_m);
    }
    if (p->has_speed_mps) open_closed_ok(v, base, "speed_mps", p->speed_mps, 0, 4);
    if (p->start) {
        char sb[160];
        snprintf(sb, sizeof sb, "%s.start", base);
        validate_trigger(v, sb, p->start);
    }
}

static void validate_timeline(vctx *v, const char *base, const Wmsim__TrafficGuard *g) {
    char tl[128];
    snprintf(tl, sizeof tl, "%s.timeline", base);
    if (g->n_timeline == 0) problem(v, tl, NULL, "at least one segment required");
    size_t n = count_ok(v, tl, NULL, g->n_timeline, SCENARIO_MAX_GESTURES);
    /* End of the previous segment; NAN when unknown (its start or duration is
     * wrong or missing), which skips the gap/overlap check. */
    double prev_end = NAN;
    for (size_t j = 0; j < n; j++) {
        const Wmsim__GestureSegment *seg = g->timeline[j];
        char sb[160];
        snprintf(sb, sizeof sb, "%s[%zu]", tl, j);
        gesture_ok(v, sb, seg->has_gesture, seg->gesture);
        int start_ok = 0;
        if (!seg->has_start_s) {
            problem(v, sb, "start_s", "missing");
        } else if (finite_ok(v, sb, "start_s", seg->start_s)) {
            start_ok = 1;
            if (j == 0 && fabs(seg->start_s) > SEGMENT_TOL)
                problem(v, sb, "start_s", "timeline must start at 0, starts at %g", seg->start_s);
            else if (j > 0 && !isnan(prev_end) && seg->start_s > prev_end + SEGMENT_TOL)
                problem(v, sb, "start_s", "gap after the previous segment, which ends at %g", prev_end);
            else if (j > 0 && !isnan(prev_end) && seg->start_s < prev_end - SEGMENT_TOL)
                problem(v, sb, "start_s", "overlaps the previous segment, which ends at %g", prev_end);
        }
        int dur_ok = 0;
        if (seg->has_duration_s) dur_ok = positive_ok(v, sb, "duration_s", seg->duration_s);
        else if (j + 1 < g->n_timeline) problem(v, sb, "duration_s", "missing (only the last segment may omit it)");
        prev_end = start_ok && dur_ok ? seg->start_s + seg->duration_s : NAN;
    }
}

static void validate_guard(vctx *v, const char *base, const Wmsim__TrafficGuard *g) {
    int s_ok = 0;
    if (!g->has_s_m) problem(v, base, "s_m", "missing");
    else s_ok = on_road_ok(v, base, "s_m", g->s_m);
    if (!g->has_d_m) problem(v, base, "d_m", "missing");
    else finite_ok(v, base, "d_m", g->d_m);
    if (g->has_stop_line_s_m && on_road_ok(v, base, "stop_line_s_m", g->stop_line_s_m) && s_ok &&
        g->stop_line_s_m > g->s_m)
        problem(v, base, "stop_line_s_m", "%g is after the guard's s_m %g", g->stop_line_s_m, g->s_m);
    if (g->has_slow_speed_mps) nonneg_ok(v, base, "slow_speed_mps", g->slow_speed_mps);
    validate_timeline(v, base, g);
    char tb[128];
    snprintf(tb, sizeof tb, "%s.triggers", base);
    size_t n = count_ok(v, tb, NULL, g->n_triggers, SCENARIO_MAX_TRIGGERS);
    for (size_t j = 0; j < n; j++) {
        const Wmsim__GestureTrigger *t = g->triggers[j];
        char jb[160], wb[192];
        snprintf(jb, sizeof jb, "%s[%zu]", tb, j);
        snprintf(wb, sizeof wb, "%s.when", jb);
        if (!t->when) problem(v, jb, "when", "missing");
        else validate_trigger(v, wb, t->when);
        gesture_ok(v, jb, t->has_gesture, t->gesture);
        if (t->has_delay_s) nonneg_ok(v, jb, "delay_s", t->delay_s);
    }
}

static void validate_sign(vctx *v, const char *base, const Wmsim__Sign *sg) {
    if (!sg->has_s_m) problem(v, base, "s_m", "missing");
    else on_road_ok(v, base, "s_m", sg->s_m);
    if (!sg->has_d_m) problem(v, base, "d_m", "missing");
    else finite_ok(v, base, "d_m", sg->d_m);
    if (sg->has_kind) enum_ok(v, base, "kind", (int)sg->kind, WMSIM__SIGN_KIND__SIGN_KIND_STOP);
    text_ok(v, base, "text", sg->text, SCENARIO_TEXT_MAX - 1);
    int is_limit = sg->has_kind && sg->kind == WMSIM__SIGN_KIND__SIGN_KIND_SPEED_LIMIT;
    if (is_limit && !sg->has_speed_limit_mps) problem(v, base, "speed_limit_mps", "missing");
    else if (sg->has_speed_limit_mps) open_closed_ok(v, base, "speed_limit_mps", sg->speed_limit_mps, 0, 40);
}

static void validate_obstacle(vctx *v, const char *base, const Wmsim__Obstacle *o) {
    if (o->has_kind) enum_ok(v, base, "kind", (int)o->kind, WMSIM__OBSTACLE_KIND__OBSTACLE_KIND_BARRIER);
    if (!o->has_lane) problem(v, base, "lane", "missing");
    else lane_ok(v, base, "lane", o->lane);
    int start_ok = 0;
    if (!o->has_s_start_m) problem(v, base, "s_start_m", "missing");
    else start_ok = on_road_ok(v, base, "s_start_m", o->s_start_m);
    if (o->has_s_end_m && on_road_ok(v, base, "s_end_m", o->s_end_m) && start_ok && o->s_end_m < o->s_start_m)
        problem(v, base, "s_end_m", "%g is before s_start_m %g", o->s_end_m, o->s_start_m);
    if (o->has_spacing_m) positive_ok(v, base, "spacing_m", o->spacing_m);
}

/* Returns 1 when the actor had no problem (its geometry can be trusted). */
static int validate_actor(vctx *v, size_t i) {
    const Wmsim__Actor *a = v->m->actors[i];
    int before = v->n_problems;
    char base[64];
    snprintf(base, sizeof base, "actors[%zu]", i);
    if (!a->id || !*a->id) {
        problem(v, base, "id", "missing");
    } else if (strlen(a->id) >= SCENARIO_ID_MAX) {
        problem(v, base, "id", "longer than %d bytes", SCENARIO_ID_MAX - 1);
    } else {
        for (size_t j = 0; j < i; j++)
            if (v->m->actors[j]->id && strcmp(v->m->actors[j]->id, a->id) == 0) {
                problem(v, base, "id", "duplicate id '%s' (also actors[%zu])", a->id, j);
                break;
            }
    }
    char kb[96];
    const ProtobufCFieldDescriptor *kind_field =
        protobuf_c_message_descriptor_get_field(&wmsim__actor__descriptor, (unsigned)a->kind_case);
    snprintf(kb, sizeof kb, "%s.%s", base, kind_field ? kind_field->name : "?");
    switch (a->kind_case) {
    case WMSIM__ACTOR__KIND_VEHICLE: validate_vehicle(v, kb, a->vehicle); break;
    case WMSIM__ACTOR__KIND_PEDESTRIAN: validate_pedestrian(v, kb, a->pedestrian); break;
    case WMSIM__ACTOR__KIND_GUARD: validate_guard(v, kb, a->guard); break;
    case WMSIM__ACTOR__KIND_SIGN: validate_sign(v, kb, a->sign); break;
    case WMSIM__ACTOR__KIND_OBSTACLE: validate_obstacle(v, kb, a->obstacle); break;
    default:
        problem(v, base, NULL, "no kind set (one of vehicle, pedestrian, guard, sign, obstacle)");
        break;
    }
    return v->n_problems == before;
}

/* ---------------------------------------------------------------- start overlaps */

typedef struct {
    double s0, s1, d0, d1;
} box;

static int boxes_overlap(box a, box b) { return a.s0 < b.s1 && b.s0 < a.s1 && a.d0 < b.d1 && b.d0 < a.d1; }

static double lane_center(const vctx *v, int lane) { return (lane + 0.5) * v->lane_width; }

/* ego.s_m is the rear axle (as in sim/vehicle.h); the overhangs split the
 * rest of the length evenly between front and back. */
static box ego_box(const vctx *v, const Wmsim__Ego *e) {
    const Wmsim__VehicleParams *p = e->vehicle;
    double length = p && p->has_length_m ? p->length_m : SCENARIO_DEFAULT_VEHICLE_LENGTH;
    double width = p && p->has_width_m ? p->width_m : SCENARIO_DEFAULT_VEHICLE_WIDTH;
    double wheelbase = p && p->has_wheelbase_m ? p->wheelbase_m : SCENARIO_DEFAULT_WHEELBASE;
    double s = e->has_s_m ? e->s_m : 0, overhang = 0.5 * (length - wheelbase), d = lane_center(v, e->lane);
    return (box){s - overhang, s + wheelbase + overhang, d - 0.5 * width, d + 0.5 * width};
}

static box vehicle_box(const vctx *v, const Wmsim__Vehicle *veh) {
    double length = veh->has_length_m ? veh->length_m : SCENARIO_DEFAULT_VEHICLE_LENGTH;
    double width = veh->has_width_m ? veh->width_m : SCENARIO_DEFAULT_VEHICLE_WIDTH;
    double d = lane_center(v, veh->lane);
    return (box){veh->s_m - 0.5 * length, veh->s_m + 0.5 * length, d - 0.5 * width, d + 0.5 * width};
}

static void check_start_overlaps(vctx *v, int ego_ok, const int *actor_ok) {
    if (v->lane_width < 0 || v->n_lanes == 0) return;
    const Wmsim__Scenario *m = v->m;
    for (size_t i = 0; i < v->n_actors; i++) {
        if (!actor_ok[i] || m->actors[i]->kind_case != WMSIM__ACTOR__KIND_VEHICLE) continue;
        char base[64];
        snprintf(base, sizeof base, "actors[%zu]", i);
        box bi = vehicle_box(v, m->actors[i]->vehicle);
        if (ego_ok && boxes_overlap(bi, ego_box(v, m->ego))) problem(v, base, NULL, "overlaps the ego at the start");
        for (size_t j = 0; j < i; j++) {
            if (!actor_ok[j] || m->actors[j]->kind_case != WMSIM__ACTOR__KIND_VEHICLE) continue;
            if (boxes_overlap(bi, vehicle_box(v, m->actors[j]->vehicle)))
                problem(v, base, NULL, "overlaps actors[%zu] ('%s') at the start", j, m->actors[j]->id);
        }
    }
}

/* ---------------------------------------------------------------- scenario */

static void validate_id(vctx *v, const char *id) {
    if (!id || !*id) return; /* optional: the file name stands in */
    if (strlen(id) >= SCENARIO_ID_MAX) {
        problem(v, "id", NULL, "longer than %d bytes", SCENARIO_ID_MAX - 1);
        return;
    }
    /* It names the default output folder (out/<id>), so no '/' or '..'. */
    for (const char *c = id; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-')) {
            problem(v, "id", NULL, "'%s' may only contain a-z, 0-9, '_' and '-'", id);
            return;
        }
}

int scenario_validate_msg(const char *name, const Wmsim__Scenario *m, wm_error *err) {
    if (err) err->msg[0] = '\0';
    vctx v = {.name = name, .err = err, .lane_width = -1, .road_len = -1, .m = m};
    check_unknown(&v, &m->base, "");

    validate_id(&v, m->id);
    text_ok(&v, "description", NULL, m->description, SCENARIO_TEXT_MAX - 1);
    if (m->has_duration_s) open_closed_ok(&v, "duration_s", NULL, m->duration_s, 0, 600);
    if (m->has_lighting) enum_ok(&v, "lighting", NULL, (int)m->lighting, WMSIM__LIGHTING__LIGHTING_NIGHT);
    if (m->camera) {
        scenario_camera cam = scenario_camera_from_msg(m->camera);
        wm_error cam_err;
        if (scenario_camera_check(&cam, &cam_err)) problem(&v, "camera", NULL, "%s", cam_err.msg);
    }
    if (!m->road) problem(&v, "road", NULL, "missing");
    else validate_road(&v, m->road);

    v.n_actors = m->n_actors < SCENARIO_MAX_ACTORS ? m->n_actors : SCENARIO_MAX_ACTORS;
    int ego_ok = 0;
    if (!m->ego) {
        problem(&v, "ego", NULL, "missing");
    } else {
        int before = v.n_problems;
        validate_ego(&v, m->ego);
        ego_ok = v.n_problems == before && m->ego->has_lane && v.n_lanes > 0;
    }
    text_ok(&v, "instruction", NULL, m->instruction, SCENARIO_TEXT_MAX - 1);

    count_ok(&v, "actors", NULL, m->n_actors, SCENARIO_MAX_ACTORS);
    int actor_ok[SCENARIO_MAX_ACTORS];
    for (size_t i = 0; i < v.n_actors; i++) actor_ok[i] = validate_actor(&v, i) && v.n_lanes > 0 && v.road_len >= 0;
    check_start_overlaps(&v, ego_ok, actor_ok);

    if (m->success && m->success->has_min_score)
        closed_ok(&v, "success", "min_score", m->success->min_score, 0, 1);

    /* A template's parameters (scenarios/scenario_template.c). */
    v.n_problems += scenario_params_check(name, m, v.n_problems < MAX_REPORTED ? err : NULL);

    if (v.n_problems > MAX_REPORTED)
        wm_error_append(err, "%s: ... and %d more problems", name, v.n_problems - MAX_REPORTED);
    return v.n_problems ? -1 : 0;
}
