#include "sim/world.h"

#include "core/mathx.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Body sizes of things the scenario gives only a position for. */
#define PEDESTRIAN_SIZE 0.6
#define CONE_SIZE 0.5
#define BARRIER_DEPTH 0.6
/* Follow-lane IDM parameters not in the scenario (Treiber's textbook values). */
#define IDM_MAX_ACCEL 1.5
#define IDM_COMFORT_DECEL 2.0

static void add_event(sim_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add_event(sim_world *w, const char *fmt, ...) {
    if (w->n_events >= SIM_MAX_EVENTS) return;
    char *e = w->events[w->n_events++];
    int n = snprintf(e, SIM_EVENT_LEN, "t=%.1f s: ", w->t);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e + n, SIM_EVENT_LEN - (size_t)n, fmt, ap);
    va_end(ap);
}

static void actor_update_pose(const sim_world *w, sim_actor *a) {
    road_pose p = road_pose_at(&w->road, a->s, a->d);
    a->x = p.x, a->y = p.y, a->yaw = p.heading;
    if (a->kind != ACTOR_VEHICLE) return;
    if (a->d_rate != 0.0) a->yaw += atan2(a->d_rate, fmax(a->speed, 0.5));
    if (a->dir < 0) a->yaw = wrap_angle(a->yaw + WM_PI);
}

static gesture timeline_gesture(const scenario_guard *g, double t) {
    for (int j = 0; j < g->n_timeline; j++) {
        const scenario_gesture_segment *seg = &g->timeline[j];
        if (seg->duration < 0 || t < seg->start + seg->duration) return seg->gesture;
    }
    return g->timeline[g->n_timeline - 1].gesture; /* a finite timeline holds its last gesture */
}

double sim_ego_front_s(const sim_world *w) { return w->ego_s + 0.5 * w->ego_params.length; }

double sim_speed_limit_at(const sim_world *w, double s) {
    double limit = w->road.speed_limit;
    for (int i = 0; i < w->n_limits && w->limit_s[i] <= s; i++) limit = w->limit_v[i];
    return limit;
}

static void collect_speed_limits(sim_world *w) {
    for (int i = 0; i < w->sc->n_actors; i++) {
        const scenario_actor *sa = &w->sc->actors[i];
        if (sa->kind != ACTOR_SIGN || sa->u.sign.kind != SIGN_SPEED_LIMIT) continue;
        int k = w->n_limits++;
        /* Insertion sort; equal s keeps scenario order (the later sign wins). */
        while (k > 0 && w->limit_s[k - 1] > sa->u.sign.s) {
            w->limit_s[k] = w->limit_s[k - 1], w->limit_v[k] = w->limit_v[k - 1];
            k--;
        }
        w->limit_s[k] = sa->u.sign.s, w->limit_v[k] = sa->u.sign.speed_limit;
    }
}

static void ego_update_road_coords(sim_world *w) {
    double cx, cy;
    vehicle_center(&w->ego_params, &w->ego, &cx, &cy);
    road_project(&w->road, cx, cy, &w->ego_hint, &w->ego_s, &w->ego_d);
}

void sim_world_init(sim_world *w, const scenario *sc, uint64_t seed) {
    memset(w, 0, sizeof *w);
    w->sc = sc;
    road_init(&w->road, &sc->road);
    collect_speed_limits(w);
    w->ego_params = sc->ego.vehicle;
    road_pose p = road_pose_at(&w->road, sc->ego.s, road_lane_center(&w->road, sc->ego.lane));
    w->ego = vehicle_state_at(p.x, p.y, p.heading, sc->ego.speed);
    ego_update_road_coords(w);

    w->n_actors = sc->n_actors;
    for (int i = 0; i < sc->n_actors; i++) {
        const scenario_actor *sa = &sc->actors[i];
        sim_actor *a = &w->actors[i];
        /* One stream per actor: adding an actor does not change the others' draws. */
        wm_rng r = rng_fork(seed, (uint64_t)i + 1);
        a->kind = sa->kind;
        a->override_trigger = -1;
        switch (sa->kind) {
        case ACTOR_VEHICLE: {
            const scenario_vehicle *v = &sa->u.vehicle;
            a->s = v->s;
            a->d = a->start_d = a->target_d = road_lane_center(&w->road, v->lane);
            a->speed = v->speed;
            a->dir = w->road.lane_dirs[v->lane] == LANE_ONCOMING ? -1 : 1;
            a->length = v->length, a->width = v->width;
            a->dynamic = 1, a->collidable = 1;
            /* ±3 %: enough for seeds to matter, small enough that authored
             * gaps and timings keep their meaning. */
            a->cruise_speed = v->cruise_speed * (1.0 + rng_range(&r, -0.03, 0.03));
            if (v->behavior == VEHICLE_CUT_IN) a->target_d = road_lane_center(&w->road, v->target_lane);
            if (v->behavior == VEHICLE_STALLED) a->speed = 0;
            break;
        }
        case ACTOR_PEDESTRIAN: {
            const scenario_pedestrian *ped = &sa->u.pedestrian;
            a->s = ped->s[0], a->d = ped->d[0];
            a->length = a->width = PEDESTRIAN_SIZE;
            a->speed = ped->speed * (1.0 + rng_range(&r, -0.1, 0.1));
            a->triggered = !ped->has_start;
            a->dynamic = 1, a->collidable = 1;
            break;
        }
        case ACTOR_GUARD: {
            const scenario_guard *g = &sa->u.guard;
            a->s = g->s, a->d = g->d;
            a->length = a->width = PEDESTRIAN_SIZE;
            a->gesture = timeline_gesture(g, 0.0);
            a->anim_phase = rng_uniform(&r);
            a->dynamic = 1, a->collidable = 1;
            break;
        }
        case ACTOR_SIGN:
            a->s = sa->u.sign.s, a->d = sa->u.sign.d;
            a->length = a->width = 0.3; /* a post beside the road: drawn, not collided with */
            break;
        case ACTOR_OBSTACLE: {
            const scenario_obstacle *o = &sa->u.obstacle;
            a->s = 0.5 * (o->s_start + o->s_end);
            a->d = road_lane_center(&w->road, o->lane);
            int barrier = o->kind == OBSTACLE_BARRIER;
            a->length = o->s_end - o->s_start + (barrier ? BARRIER_DEPTH : CONE_SIZE);
            a->width = barrier ? 0.8 * w->road.lane_width : CONE_SIZE;
            a->collidable = 1;
            break;
        }
        }
        actor_update_pose(w, a);
    }
}

static int trigger_holds(const sim_world *w, const scenario_trigger *tr) {
    const sim_actor *ref = &w->actors[tr->ref_actor];
    double ahead = ref->s - sim_ego_front_s(w);
    switch (tr->kind) {
    case TRIGGER_AT_TIME: return w->t >= tr->value - 1e-9;
    case TRIGGER_EGO_WITHIN: return ahead <= tr->value;
    case TRIGGER_EGO_STOPPED:
        return w->ego_stopped_time >= tr->value - 1e-9 && ahead >= -5.0 && ahead <= 40.0;
    }
    return 0;
}

static void guard_update(sim_world *w, int i) {
    const scenario_guard *g = &w->sc->actors[i].u.guard;
    sim_actor *a = &w->actors[i];
    for (int j = 0; j < g->n_triggers; j++) {
        if (a->triggers_fired & (1u << j) || !trigger_holds(w, &g->triggers[j].when)) continue;
        a->triggers_fired |= 1u << j;
        a->switch_time[j] = w->t + g->triggers[j].delay;
        add_event(w, "guard '%s' trigger %d fired", w->sc->actors[i].id, j);
    }
    /* The latest switch already due wins; before any, the timeline rules. */
    int best = -1;
    for (int j = 0; j < g->n_triggers; j++)
        if (a->triggers_fired & (1u << j) && a->switch_time[j] <= w->t + 1e-9 &&
            (best < 0 || a->switch_time[j] >= a->switch_time[best]))
            best = j;
    a->override_trigger = best;
    gesture now = best >= 0 ? g->triggers[best].gesture : timeline_gesture(g, w->t);
    if (now != a->gesture) {
        a->gesture = now;
        a->gesture_since = w->t;
        add_event(w, "guard '%s' shows %s", w->sc->actors[i].id, gesture_name(now));
    }
}

/* Intelligent Driver Model acceleration towards the nearest body ahead in the
 * same lane corridor (other actors and the ego), in the actor's direction of
 * travel; lead speeds are projected on it (oncoming bodies close faster). */
static double follow_lane_accel(const sim_world *w, int i, const scenario_vehicle *v) {
    const sim_actor *a = &w->actors[i];
    double gap = INFINITY, lead_speed = 0;
    for (int j = 0; j < w->n_actors; j++) {
        const sim_actor *b = &w->actors[j];
        double ahead = (b->s - a->s) * a->dir;
        if (j == i || !b->collidable || ahead <= 0) continue;
        if (fabs(b->d - a->d) >= 0.5 * (a->width + b->width)) continue;
        double g = ahead - 0.5 * (a->length + b->length);
        if (g < gap) gap = g, lead_speed = b->kind == ACTOR_VEHICLE ? b->speed * b->dir * a->dir : 0;
    }
    double ego_ahead = (w->ego_s - a->s) * a->dir;
    if (ego_ahead > 0 && fabs(w->ego_d - a->d) < 0.5 * (a->width + w->ego_params.width)) {
        double g = ego_ahead - 0.5 * (a->length + w->ego_params.length);
        if (g < gap) gap = g, lead_speed = w->ego.speed * a->dir;
    }
    double vr = a->speed / fmax(v->desired_speed, 0.1);
    double acc = IDM_MAX_ACCEL * (1.0 - vr * vr * vr * vr);
    if (isfinite(gap)) {
        double s_star = v->min_gap + fmax(0.0, a->speed * v->time_headway +
                                          a->speed * (a->speed - lead_speed) /
                                              (2.0 * sqrt(IDM_MAX_ACCEL * IDM_COMFORT_DECEL)));
        double ratio = s_star / fmax(gap, 0.1);
        acc -= IDM_MAX_ACCEL * ratio * ratio;
    }
    return acc;
}

static void vehicle_actor_step(sim_world *w, int i) {
    const scenario_vehicle *v = &w->sc->actors[i].u.vehicle;
    sim_actor *a = &w->actors[i];
    double acc = 0;
    switch (v->behavior) {
    case VEHICLE_STALLED: return;
    case VEHICLE_CRUISE: a->speed = a->cruise_speed; break;
    case VEHICLE_FOLLOW_LANE: acc = follow_lane_accel(w, i, v); break;
    case VEHICLE_CUT_IN:
        a->speed = a->cruise_speed;
        if (!a->triggered && trigger_holds(w, &v->trigger)) {
            a->triggered = 1, a->trigger_time = w->t;
            add_event(w, "vehicle '%s' starts its cut-in", w->sc->actors[i].id);
        }
        if (a->triggered) {
            /* Cosine lateral profile: zero lateral speed at both ends. */
            double u = fmin(1.0, (w->t - a->trigger_time) / v->cut_in_duration);
            double span = a->target_d - a->start_d;
            double d_new = a->start_d + span * 0.5 * (1.0 - cos(WM_PI * u));
            a->d_rate = (d_new - a->d) / SIM_DT;
            a->d = d_new;
        }
        break;
    case VEHICLE_HARD_BRAKE:
        if (!a->triggered && trigger_holds(w, &v->trigger)) {
            a->triggered = 1, a->trigger_time = w->t;
            add_event(w, "vehicle '%s' brakes hard", w->sc->actors[i].id);
        }
        if (a->triggered) acc = -v->brake_decel;
        else a->speed = a->cruise_speed;
        break;
    }
    double v0 = a->speed;
    a->speed = fmax(0.0, a->speed + acc * SIM_DT);
    a->s += a->dir * 0.5 * (v0 + a->speed) * SIM_DT;
    a->braking = acc < -0.5 || (v->behavior == VEHICLE_HARD_BRAKE && a->triggered);
}

static void pedestrian_step(sim_world *w, int i) {
    const scenario_pedestrian *p = &w->sc->actors[i].u.pedestrian;
    sim_actor *a = &w->actors[i];
    if (!a->triggered && trigger_holds(w, &p->start)) {
        a->triggered = 1, a->trigger_time = w->t;
        add_event(w, "pedestrian '%s' starts walking", w->sc->actors[i].id);
    }
    if (!a->triggered || a->finished) return;
    double left = a->speed * SIM_DT;
    while (left > 0 && !a->finished) {
        int k = a->path_leg + 1;
        double ds = p->s[k] - a->s, dd = p->d[k] - a->d, dist = hypot(ds, dd);
        if (dist <= left) {
            a->s = p->s[k], a->d = p->d[k], left -= dist;
            if (++a->path_leg >= p->n_points - 1) a->finished = 1;
        } else {
            a->s += ds / dist * left, a->d += dd / dist * left, left = 0;
        }
    }
}

void sim_step(sim_world *w, const action *cmd) {
    w->n_events = 0;
    vehicle_step(&w->ego_params, &w->ego, cmd, SIM_DT, SIM_SUBSTEPS);
    ego_update_road_coords(w);
    w->ego_stopped_time = w->ego.speed < SIM_STOPPED_SPEED ? w->ego_stopped_time + SIM_DT : 0.0;
    w->step++;
    w->t = w->step * SIM_DT; /* not t += dt: no drift over long episodes */

    for (int i = 0; i < w->n_actors; i++) {
        sim_actor *a = &w->actors[i];
        switch (a->kind) {
        case ACTOR_VEHICLE: vehicle_actor_step(w, i); break;
        case ACTOR_PEDESTRIAN: pedestrian_step(w, i); break;
        case ACTOR_GUARD: guard_update(w, i); continue; /* guards stand still */
        case ACTOR_SIGN:
        case ACTOR_OBSTACLE: continue;
        }
        actor_update_pose(w, a);
    }
}

int sim_boxes_overlap(double ax, double ay, double ayaw, double alen, double awid,
                      double bx, double by, double byaw, double blen, double bwid) {
    double dx = bx - ax, dy = by - ay;
    double ra = 0.5 * hypot(alen, awid), rb = 0.5 * hypot(blen, bwid);
    if (dx * dx + dy * dy > (ra + rb) * (ra + rb)) return 0; /* cheap reject: bounding circles */
    double axes[4][2] = {{cos(ayaw), sin(ayaw)}, {-sin(ayaw), cos(ayaw)},
                         {cos(byaw), sin(byaw)}, {-sin(byaw), cos(byaw)}};
    for (int k = 0; k < 4; k++) {
        double ux = axes[k][0], uy = axes[k][1];
        double pa = 0.5 * alen * fabs(axes[0][0] * ux + axes[0][1] * uy) +
                    0.5 * awid * fabs(axes[1][0] * ux + axes[1][1] * uy);
        double pb = 0.5 * blen * fabs(axes[2][0] * ux + axes[2][1] * uy) +
                    0.5 * bwid * fabs(axes[3][0] * ux + axes[3][1] * uy);
        if (fabs(dx * ux + dy * uy) > pa + pb) return 0;
    }
    return 1;
}
