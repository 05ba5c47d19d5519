/* scenario_convert.c — a validated Wmsim__Scenario into the plain scenario
 * struct, with every default from scenario.proto filled in, so code
 * downstream never asks whether a field was set.
 *
 * Assumes scenario_validate_msg passed: counts are within the SCENARIO_MAX_*
 * limits, enums are known, required fields are present and references
 * resolve. */
#include "scenarios/scenario.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "scenarios/scenario.pb-c.h"

/* Defaults documented in scenario.proto that only conversion needs. */
#define DEFAULT_DURATION 30.0       /* s */
#define DEFAULT_MAX_ACCEL 3.0       /* m/s² */
#define DEFAULT_MAX_BRAKE 8.0       /* m/s² */
#define DEFAULT_MAX_STEER 0.5       /* rad */
#define DEFAULT_MAX_STEER_RATE 0.7  /* rad/s */
#define DEFAULT_MAX_JERK 20.0       /* m/s³ */
#define DEFAULT_TIME_HEADWAY 1.5    /* s, IDM T */
#define DEFAULT_MIN_GAP 2.0         /* m, IDM s0 */
#define DEFAULT_CUT_IN_DURATION 2.5 /* s */
#define DEFAULT_BRAKE_DECEL 6.0     /* m/s² */
#define DEFAULT_PEDESTRIAN_SPEED 1.4 /* m/s */
#define DEFAULT_STOP_LINE_BEFORE 6.0 /* m before the guard */
#define DEFAULT_SLOW_SPEED 5.0      /* m/s */
#define DEFAULT_CONE_SPACING 4.0    /* m */
#define DEFAULT_BARRIER_SPACING 2.5 /* m */
#define DEFAULT_MIN_SCORE 0.5

static double opt(int has, double value, double fallback) { return has ? value : fallback; }

static void copy_text(char *dst, size_t cap, const char *src) { snprintf(dst, cap, "%s", src ? src : ""); }

static int actor_index(const Wmsim__Scenario *m, const char *id, int owner) {
    if (!id) return owner;
    for (size_t i = 0; i < m->n_actors; i++)
        if (m->actors[i]->id && strcmp(m->actors[i]->id, id) == 0) return (int)i;
    return owner; /* unreachable after validation */
}

/* Fields are set one by one into the zeroed struct (no struct assignment),
 * so padding stays zero and equal scenarios compare equal byte for byte. */
static void convert_trigger(const Wmsim__Scenario *m, const Wmsim__Trigger *t, int owner, scenario_trigger *out) {
    out->kind = TRIGGER_AT_TIME, out->value = 0, out->ref_actor = owner;
    if (!t) return;
    switch (t->condition_case) {
    case WMSIM__TRIGGER__CONDITION_EGO_WITHIN_M: out->kind = TRIGGER_EGO_WITHIN, out->value = t->ego_within_m; break;
    case WMSIM__TRIGGER__CONDITION_EGO_STOPPED_FOR_S:
        out->kind = TRIGGER_EGO_STOPPED, out->value = t->ego_stopped_for_s;
        break;
    default: out->kind = TRIGGER_AT_TIME, out->value = t->at_time_s; break;
    }
    out->ref_actor = actor_index(m, t->actor, owner);
}

static gesture convert_gesture(Wmsim__Gesture g) {
    switch (g) {
    case WMSIM__GESTURE__GESTURE_STOP: return GESTURE_STOP;
    case WMSIM__GESTURE__GESTURE_PROCEED: return GESTURE_PROCEED;
    case WMSIM__GESTURE__GESTURE_SLOW: return GESTURE_SLOW;
    case WMSIM__GESTURE__GESTURE_TURN_LEFT: return GESTURE_TURN_LEFT;
    case WMSIM__GESTURE__GESTURE_TURN_RIGHT: return GESTURE_TURN_RIGHT;
    default: return GESTURE_NONE;
    }
}

static void convert_road(const Wmsim__Road *r, scenario_road *out) {
    out->n_segments = (int)r->n_segments;
    for (size_t i = 0; i < r->n_segments; i++) {
        out->segments[i].length = r->segments[i]->length_m;
        out->segments[i].curvature = opt(r->segments[i]->has_curvature_per_m, r->segments[i]->curvature_per_m, 0);
    }
    out->n_lanes = (int)r->n_lanes;
    for (size_t i = 0; i < r->n_lanes; i++) {
        const Wmsim__Lane *l = r->lanes[i];
        out->lane_dirs[i] = l->has_direction && l->direction == WMSIM__LANE_DIRECTION__LANE_DIRECTION_ONCOMING
                                ? LANE_ONCOMING
                                : LANE_FORWARD;
        switch (l->has_left_marking ? l->left_marking : WMSIM__LANE_MARKING__LANE_MARKING_UNSPECIFIED) {
        case WMSIM__LANE_MARKING__LANE_MARKING_NONE: out->markings[i] = LANE_MARKING_NONE; break;
        case WMSIM__LANE_MARKING__LANE_MARKING_SOLID: out->markings[i] = LANE_MARKING_SOLID; break;
        case WMSIM__LANE_MARKING__LANE_MARKING_DASHED: out->markings[i] = LANE_MARKING_DASHED; break;
        case WMSIM__LANE_MARKING__LANE_MARKING_DOUBLE_SOLID: out->markings[i] = LANE_MARKING_DOUBLE_SOLID; break;
        default: /* unspecified: dashed between lanes, solid at the road's left edge */
            out->markings[i] = i + 1 < r->n_lanes ? LANE_MARKING_DASHED : LANE_MARKING_SOLID;
            break;
        }
    }
    out->lane_width = opt(r->has_lane_width_m, r->lane_width_m, SCENARIO_DEFAULT_LANE_WIDTH);
    out->speed_limit = r->speed_limit_mps;
    out->shoulder = opt(r->has_shoulder_width_m, r->shoulder_width_m, SCENARIO_DEFAULT_SHOULDER);
}

static double road_length(const scenario_road *r) {
    double len = 0;
    for (int i = 0; i < r->n_segments; i++) len += r->segments[i].length;
    return len;
}

static void convert_ego(const Wmsim__Ego *e, double road_len, scenario_ego *out) {
    out->lane = e->lane;
    out->s = opt(e->has_s_m, e->s_m, 0);
    out->speed = opt(e->has_speed_mps, e->speed_mps, 0);
    out->goal_s = opt(e->has_goal_s_m, e->goal_s_m, road_len - SCENARIO_DEFAULT_GOAL_FROM_END);
    static const Wmsim__VehicleParams no_params = WMSIM__VEHICLE_PARAMS__INIT;
    const Wmsim__VehicleParams *p = e->vehicle ? e->vehicle : &no_params;
    vehicle_params *vp = &out->vehicle;
    vp->length = opt(p->has_length_m, p->length_m, SCENARIO_DEFAULT_VEHICLE_LENGTH);
    vp->width = opt(p->has_width_m, p->width_m, SCENARIO_DEFAULT_VEHICLE_WIDTH);
    vp->wheelbase = opt(p->has_wheelbase_m, p->wheelbase_m, SCENARIO_DEFAULT_WHEELBASE);
    vp->limits.accel_max = opt(p->has_max_accel_mps2, p->max_accel_mps2, DEFAULT_MAX_ACCEL);
    vp->limits.brake_max = opt(p->has_max_brake_mps2, p->max_brake_mps2, DEFAULT_MAX_BRAKE);
    vp->limits.steer_max = opt(p->has_max_steer_rad, p->max_steer_rad, DEFAULT_MAX_STEER);
    vp->limits.steer_rate_max = opt(p->has_max_steer_rate_radps, p->max_steer_rate_radps, DEFAULT_MAX_STEER_RATE);
    vp->limits.jerk_max = opt(p->has_max_jerk_mps3, p->max_jerk_mps3, DEFAULT_MAX_JERK);
    vp->clamp_actions = p->has_clamp_actions && p->clamp_actions;
}

static void convert_vehicle(const Wmsim__Scenario *m, const Wmsim__Vehicle *v, double speed_limit, int self,
                            scenario_vehicle *out) {
    out->lane = v->lane;
    out->s = v->s_m;
    out->speed = opt(v->has_speed_mps, v->speed_mps, 0);
    out->length = opt(v->has_length_m, v->length_m, SCENARIO_DEFAULT_VEHICLE_LENGTH);
    out->width = opt(v->has_width_m, v->width_m, SCENARIO_DEFAULT_VEHICLE_WIDTH);
    /* Every behaviour's parameters get their defaults, used or not, so a
     * reader of any field sees a meaningful value. */
    out->behavior = VEHICLE_CRUISE;
    out->cruise_speed = out->speed;
    out->desired_speed = speed_limit;
    out->time_headway = DEFAULT_TIME_HEADWAY;
    out->min_gap = DEFAULT_MIN_GAP;
    out->target_lane = v->lane;
    out->cut_in_duration = DEFAULT_CUT_IN_DURATION;
    out->brake_decel = DEFAULT_BRAKE_DECEL;
    convert_trigger(m, NULL, self, &out->trigger);
    switch (v->behavior_case) {
    case WMSIM__VEHICLE__BEHAVIOR_CRUISE:
        out->cruise_speed = opt(v->cruise->has_speed_mps, v->cruise->speed_mps, out->speed);
        break;
    case WMSIM__VEHICLE__BEHAVIOR_FOLLOW_LANE: {
        const Wmsim__FollowLane *f = v->follow_lane;
        out->behavior = VEHICLE_FOLLOW_LANE;
        out->desired_speed = opt(f->has_desired_speed_mps, f->desired_speed_mps, speed_limit);
        out->time_headway = opt(f->has_time_headway_s, f->time_headway_s, DEFAULT_TIME_HEADWAY);
        out->min_gap = opt(f->has_min_gap_m, f->min_gap_m, DEFAULT_MIN_GAP);
        break;
    }
    case WMSIM__VEHICLE__BEHAVIOR_CUT_IN: {
        const Wmsim__CutIn *c = v->cut_in;
        out->behavior = VEHICLE_CUT_IN;
        out->target_lane = c->target_lane;
        convert_trigger(m, c->trigger, self, &out->trigger);
        out->cut_in_duration = opt(c->has_duration_s, c->duration_s, DEFAULT_CUT_IN_DURATION);
        out->cruise_speed = opt(c->has_speed_mps, c->speed_mps, out->speed);
        break;
    }
    case WMSIM__VEHICLE__BEHAVIOR_HARD_BRAKE: {
        const Wmsim__HardBrake *h = v->hard_brake;
        out->behavior = VEHICLE_HARD_BRAKE;
        convert_trigger(m, h->trigger, self, &out->trigger);
        out->brake_decel = opt(h->has_decel_mps2, h->decel_mps2, DEFAULT_BRAKE_DECEL);
        out->cruise_speed = opt(h->has_speed_mps, h->speed_mps, out->speed);
        break;
    }
    case WMSIM__VEHICLE__BEHAVIOR_STALLED:
        out->behavior = VEHICLE_STALLED;
        out->speed = out->cruise_speed = 0;
        break;
    default: break; /* no behaviour: cruise at the start speed */
    }
}

static void convert_pedestrian(const Wmsim__Scenario *m, const Wmsim__Pedestrian *p, int self,
                               scenario_pedestrian *out) {
    out->n_points = (int)p->n_path;
    for (size_t j = 0; j < p->n_path; j++) out->s[j] = p->path[j]->s_m, out->d[j] = p->path[j]->d_m;
    out->speed = opt(p->has_speed_mps, p->speed_mps, DEFAULT_PEDESTRIAN_SPEED);
    out->has_start = p->start != NULL;
    convert_trigger(m, p->start, self, &out->start);
}

static void convert_guard(const Wmsim__Scenario *m, const Wmsim__TrafficGuard *g, int self, scenario_guard *out) {
    out->s = g->s_m;
    out->d = g->d_m;
    out->stop_line_s = opt(g->has_stop_line_s_m, g->stop_line_s_m, g->s_m - DEFAULT_STOP_LINE_BEFORE);
    out->slow_speed = opt(g->has_slow_speed_mps, g->slow_speed_mps, DEFAULT_SLOW_SPEED);
    out->n_timeline = (int)g->n_timeline;
    for (size_t j = 0; j < g->n_timeline; j++) {
        const Wmsim__GestureSegment *seg = g->timeline[j];
        out->timeline[j].gesture = convert_gesture(seg->gesture);
        out->timeline[j].start = seg->start_s;
        out->timeline[j].duration = opt(seg->has_duration_s, seg->duration_s, -1);
    }
    out->n_triggers = (int)g->n_triggers;
    for (size_t j = 0; j < g->n_triggers; j++) {
        const Wmsim__GestureTrigger *t = g->triggers[j];
        convert_trigger(m, t->when, self, &out->triggers[j].when);
        out->triggers[j].gesture = convert_gesture(t->gesture);
        out->triggers[j].delay = opt(t->has_delay_s, t->delay_s, 0);
    }
}

static void convert_sign(const Wmsim__Sign *sg, scenario_sign *out) {
    out->s = sg->s_m;
    out->d = sg->d_m;
    switch (sg->has_kind ? sg->kind : WMSIM__SIGN_KIND__SIGN_KIND_UNSPECIFIED) {
    case WMSIM__SIGN_KIND__SIGN_KIND_WORK_ZONE: out->kind = SIGN_WORK_ZONE; break;
    case WMSIM__SIGN_KIND__SIGN_KIND_SPEED_LIMIT: out->kind = SIGN_SPEED_LIMIT; break;
    case WMSIM__SIGN_KIND__SIGN_KIND_STOP: out->kind = SIGN_STOP; break;
    default: out->kind = SIGN_INFO; break;
    }
    copy_text(out->text, sizeof out->text, sg->text);
    out->speed_limit = opt(sg->has_speed_limit_mps, sg->speed_limit_mps, 0);
}

static void convert_obstacle(const Wmsim__Obstacle *o, scenario_obstacle *out) {
    int barrier = o->has_kind && o->kind == WMSIM__OBSTACLE_KIND__OBSTACLE_KIND_BARRIER;
    out->kind = barrier ? OBSTACLE_BARRIER : OBSTACLE_CONE;
    out->lane = o->lane;
    out->s_start = o->s_start_m;
    out->s_end = opt(o->has_s_end_m, o->s_end_m, o->s_start_m);
    out->spacing = opt(o->has_spacing_m, o->spacing_m, barrier ? DEFAULT_BARRIER_SPACING : DEFAULT_CONE_SPACING);
}

scenario_camera scenario_camera_default(void) {
    return (scenario_camera){.width = 128, .height = 64, .hfov_deg = 60.0, .mount_height = 1.4,
                             .mount_forward = 1.5, .pitch_deg = 2.0};
}

scenario_camera scenario_camera_from_msg(const Wmsim__Camera *m) {
    scenario_camera c = scenario_camera_default();
    if (!m) return c;
    if (m->has_width_px) c.width = m->width_px;
    if (m->has_height_px) c.height = m->height_px;
    c.hfov_deg = opt(m->has_hfov_deg, m->hfov_deg, c.hfov_deg);
    c.mount_height = opt(m->has_mount_height_m, m->mount_height_m, c.mount_height);
    c.mount_forward = opt(m->has_mount_forward_m, m->mount_forward_m, c.mount_forward);
    c.pitch_deg = opt(m->has_pitch_deg, m->pitch_deg, c.pitch_deg);
    return c;
}

int scenario_camera_check(const scenario_camera *p, wm_error *err) {
    if (p->width < 16 || p->width > SCENARIO_CAMERA_MAX_WIDTH)
        return wm_fail(err, "width %d outside [16, %d]", p->width, SCENARIO_CAMERA_MAX_WIDTH);
    if (p->height < 8 || p->height > SCENARIO_CAMERA_MAX_HEIGHT)
        return wm_fail(err, "height %d outside [8, %d]", p->height, SCENARIO_CAMERA_MAX_HEIGHT);
    if (!(p->hfov_deg > 10.0 && p->hfov_deg < 150.0))
        return wm_fail(err, "hfov %g deg outside (10, 150)", p->hfov_deg);
    if (!(p->mount_height > 0.2 && p->mount_height < 10.0))
        return wm_fail(err, "mount height %g m outside (0.2, 10)", p->mount_height);
    if (!(p->pitch_deg > -45.0 && p->pitch_deg < 45.0))
        return wm_fail(err, "pitch %g deg outside (-45, 45)", p->pitch_deg);
    if (!isfinite(p->mount_forward) || fabs(p->mount_forward) > 10.0)
        return wm_fail(err, "mount forward %g m outside [-10, 10]", p->mount_forward);
    return 0;
}

void scenario_from_msg(const Wmsim__Scenario *m, const char *default_id, scenario *sc) {
    memset(sc, 0, sizeof *sc);

    copy_text(sc->id, sizeof sc->id, m->id && *m->id ? m->id : default_id);
    copy_text(sc->description, sizeof sc->description, m->description);
    copy_text(sc->instruction, sizeof sc->instruction, m->instruction);
    sc->seed = m->has_seed ? m->seed : 0;
    sc->duration = opt(m->has_duration_s, m->duration_s, DEFAULT_DURATION);
    switch (m->has_lighting ? m->lighting : WMSIM__LIGHTING__LIGHTING_UNSPECIFIED) {
    case WMSIM__LIGHTING__LIGHTING_DUSK: sc->lighting = LIGHTING_DUSK; break;
    case WMSIM__LIGHTING__LIGHTING_NIGHT: sc->lighting = LIGHTING_NIGHT; break;
    default: sc->lighting = LIGHTING_DAY; break;
    }
    sc->camera = scenario_camera_from_msg(m->camera);
    convert_road(m->road, &sc->road);
    convert_ego(m->ego, road_length(&sc->road), &sc->ego);

    sc->n_actors = (int)m->n_actors;
    for (size_t i = 0; i < m->n_actors; i++) {
        const Wmsim__Actor *a = m->actors[i];
        scenario_actor *out = &sc->actors[i];
        int self = (int)i;
        copy_text(out->id, sizeof out->id, a->id);
        switch (a->kind_case) {
        case WMSIM__ACTOR__KIND_VEHICLE:
            out->kind = ACTOR_VEHICLE;
            convert_vehicle(m, a->vehicle, sc->road.speed_limit, self, &out->u.vehicle);
            break;
        case WMSIM__ACTOR__KIND_PEDESTRIAN:
            out->kind = ACTOR_PEDESTRIAN;
            convert_pedestrian(m, a->pedestrian, self, &out->u.pedestrian);
            break;
        case WMSIM__ACTOR__KIND_GUARD:
            out->kind = ACTOR_GUARD;
            convert_guard(m, a->guard, self, &out->u.guard);
            break;
        case WMSIM__ACTOR__KIND_SIGN:
            out->kind = ACTOR_SIGN;
            convert_sign(a->sign, &out->u.sign);
            break;
        default:
            out->kind = ACTOR_OBSTACLE;
            convert_obstacle(a->obstacle, &out->u.obstacle);
            break;
        }
    }

    const Wmsim__SuccessCriteria *s = m->success;
    sc->success.min_score = s && s->has_min_score ? s->min_score : DEFAULT_MIN_SCORE;
    sc->success.reach_goal = !(s && s->has_reach_goal) || s->reach_goal;
    sc->success.no_collision = !(s && s->has_no_collision) || s->no_collision;
    sc->success.stay_on_road = !(s && s->has_stay_on_road) || s->stay_on_road;
    sc->success.obey_guards = !(s && s->has_obey_guards) || s->obey_guards;
}
