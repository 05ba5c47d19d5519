/* The privileged expert: reads the symbolic world, keeps its lane and route,
 * keeps its distance (IDM), obeys traffic guards and speed signs, slows for
 * pedestrians and changes lanes around closures and stalled vehicles. It is
 * the reference every example scenario must pass with, and the driver of
 * synthetic training clips. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/mathx.h"
#include "sim/policy.h"
#include "sim/policy_control.h"

#define COMFORT_JERK 2.5          /* m/s³, under nuPlan's 4.13 */
#define SLOW_DECEL 1.5            /* m/s², planned slow-downs (guard SLOW, speed signs) */
#define LATERAL_ACCEL_MAX 2.0     /* m/s², planned cornering */
#define STOP_LINE_MARGIN 1.0      /* m kept before a guard's stop line */
#define PEDESTRIAN_BAND 2.5       /* m beside the ego's path where a walker makes it stop */
#define PEDESTRIAN_WAIT_SPEED 8.0 /* m/s while passing a pedestrian waiting at the kerb */
#define CREEP_SPEED 3.0           /* m/s round a blocker that stays, once the path clears it */

typedef struct {
    int home_lane;
    int target_lane;
    double prev_accel;
} expert_state;

/* Vehicles that will not move again: stalled, or stopped after a hard brake. */
static int vehicle_stays(const sim_world *w, int i) {
    const scenario_vehicle *v = &w->sc->actors[i].u.vehicle;
    const sim_actor *a = &w->actors[i];
    return v->behavior == VEHICLE_STALLED || (v->behavior == VEHICLE_HARD_BRAKE && a->triggered && a->speed < 0.1);
}

/* Nearest blocking body (obstacle row, vehicle that stays, guard) overlapping
 * lane `lane` between s_from and s_to; returns its near end or INFINITY. */
static double lane_blocked_at(const sim_world *w, int lane, double s_from, double s_to) {
    double center = road_lane_center(&w->road, lane), half = 0.5 * w->road.lane_width;
    double nearest = INFINITY;
    for (int i = 0; i < w->n_actors; i++) {
        const sim_actor *a = &w->actors[i];
        int blocker = a->kind == ACTOR_OBSTACLE || a->kind == ACTOR_GUARD ||
                      (a->kind == ACTOR_VEHICLE && vehicle_stays(w, i));
        if (!blocker || fabs(a->d - center) >= half + 0.5 * a->width) continue;
        double near = a->s - 0.5 * a->length, far = a->s + 0.5 * a->length;
        if (far < s_from || near > s_to) continue;
        if (near < nearest) nearest = near;
    }
    return nearest;
}

/* Whether moving vehicles leave room in `lane` beside the ego; oncoming ones
 * must be far enough ahead for the whole overtaking manoeuvre. */
static int lane_has_room(const sim_world *w, int lane) {
    double center = road_lane_center(&w->road, lane), half = 0.5 * w->road.lane_width;
    for (int i = 0; i < w->n_actors; i++) {
        const sim_actor *a = &w->actors[i];
        if (a->kind != ACTOR_VEHICLE || vehicle_stays(w, i) || fabs(a->d - center) >= half + 0.5 * a->width) continue;
        double rel = a->s - w->ego_s;
        double reach = a->dir > 0 ? 25.0 : 25.0 + 10.0 * (w->ego.speed + a->speed);
        if (rel > -15.0 && rel < reach) return 0;
    }
    return 1;
}

static gesture guard_turn_ahead(const sim_world *w, double front) {
    for (int i = 0; i < w->n_actors; i++) {
        const sim_actor *a = &w->actors[i];
        if (a->kind != ACTOR_GUARD) continue;
        double ahead = a->s - front;
        if (ahead > -5.0 && ahead < 80.0 && (a->gesture == GESTURE_TURN_LEFT || a->gesture == GESTURE_TURN_RIGHT))
            return a->gesture;
    }
    return GESTURE_NONE;
}

static void choose_lane(const sim_world *w, expert_state *st, char *why, size_t why_len) {
    double front = sim_ego_front_s(w), rear = w->ego_s - 0.5 * w->ego_params.length;
    double horizon = front + fmax(40.0, 3.0 * w->ego.speed + 20.0);
    if (st->target_lane != st->home_lane &&
        !isfinite(lane_blocked_at(w, st->home_lane, rear - 3.0, horizon)) && lane_has_room(w, st->home_lane)) {
        st->target_lane = st->home_lane;
        snprintf(why, why_len, "back to lane %d; ", st->home_lane);
        return;
    }
    if (!isfinite(lane_blocked_at(w, st->target_lane, front, horizon))) return;
    /* Blocked: left first, unless a guard points the other way. */
    int order[2] = {st->target_lane + 1, st->target_lane - 1};
    if (guard_turn_ahead(w, front) == GESTURE_TURN_RIGHT) order[0] = st->target_lane - 1, order[1] = st->target_lane + 1;
    for (int k = 0; k < 2; k++) {
        int lane = order[k];
        if (lane < 0 || lane >= w->road.n_lanes) continue;
        if (isfinite(lane_blocked_at(w, lane, rear, horizon)) || !lane_has_room(w, lane)) continue;
        snprintf(why, why_len, "lane %d blocked ahead, moving to lane %d; ", st->target_lane, lane);
        st->target_lane = lane;
        return;
    }
}

/* Lateral position the ego will have when it reaches s, during a lane change. */
static double path_d_at(const sim_world *w, double target_d, double s) {
    double settle = 2.5 * w->ego.speed + 5.0;
    double u = clampd((s - w->ego_s) / settle, 0.0, 1.0);
    return w->ego_d + (target_d - w->ego_d) * u;
}

static int expert_reset(policy *self, const sim_world *w, wm_error *err) {
    (void)err;
    expert_state *st = self->state;
    st->home_lane = st->target_lane = w->sc->ego.lane;
    st->prev_accel = 0.0;
    return 0;
}

static int expert_act(policy *self, const policy_observation *obs, action *cmd,
                      char reasoning[POLICY_REASONING_MAX], wm_error *err) {
    (void)err;
    expert_state *st = self->state;
    const sim_world *w = obs->world;
    const double v = w->ego.speed, front = sim_ego_front_s(w), half_w = 0.5 * w->ego_params.width;
    char lane_why[96] = "";
    choose_lane(w, st, lane_why, sizeof lane_why);
    double target_d = road_lane_center(&w->road, st->target_lane);

    /* Reference speed: limits, curves, slow-downs planned ahead. */
    const char *why = "cruising";
    double v_ref = sim_speed_limit_at(w, front);
    for (double ahead = 10.0; ahead <= 60.0; ahead += 10.0) {
        double k = fabs(road_curvature_at(&w->road, front + ahead));
        double v_curve = k > 1e-6 ? sqrt(LATERAL_ACCEL_MAX / k) : INFINITY;
        double v_ok = sqrt(v_curve * v_curve + 2.0 * SLOW_DECEL * ahead);
        if (v_ok < v_ref) v_ref = v_ok, why = "slowing for a curve";
        double lim = sim_speed_limit_at(w, front + ahead);
        double v_sign = sqrt(lim * lim + 2.0 * SLOW_DECEL * ahead);
        if (v_sign < v_ref) v_ref = v_sign, why = "slowing for a speed limit";
    }

    double gap = INFINITY, lead_speed = 0.0, min_gap = 2.0;
    for (int i = 0; i < w->n_actors; i++) {
        const sim_actor *a = &w->actors[i];
        double ahead = a->s - 0.5 * a->length - front;
        if (a->kind == ACTOR_GUARD) {
            const scenario_guard *g = &w->sc->actors[i].u.guard;
            double to_line = g->stop_line_s - front;
            if (a->gesture == GESTURE_STOP && to_line > -0.5) {
                double stop_gap = to_line - STOP_LINE_MARGIN;
                /* Only when a stop is still physically possible. */
                if (v * v <= 2.0 * 0.9 * w->ego_params.limits.brake_max * fmax(stop_gap, 0.01) + 1.0 &&
                    stop_gap < gap)
                    gap = stop_gap, lead_speed = 0.0, why = "stopping for the guard's STOP";
            }
            if (a->gesture == GESTURE_SLOW && a->s - w->ego_s > -0.5 * w->ego_params.length - 1.0) {
                double slow = 0.9 * g->slow_speed;
                double v_ok = sqrt(slow * slow + 2.0 * SLOW_DECEL * fmax(0.0, to_line));
                if (v_ok < v_ref) v_ref = v_ok, why = "guard signals SLOW";
            }
        }
        if (a->kind == ACTOR_PEDESTRIAN && a->s - front > -1.0 && a->s - front < 60.0) {
            double off = fabs(a->d - path_d_at(w, target_d, a->s));
            int near_path = off < half_w + PEDESTRIAN_BAND;
            const scenario_pedestrian *ped = &w->sc->actors[i].u.pedestrian;
            if (a->triggered && !a->finished && near_path) {
                if (ahead < gap) gap = ahead, lead_speed = 0.0, min_gap = 3.0, why = "yielding to a pedestrian";
            } else if (!a->triggered && off < half_w + 2.0 * PEDESTRIAN_BAND && ped->n_points > 1) {
                if (PEDESTRIAN_WAIT_SPEED < v_ref) v_ref = PEDESTRIAN_WAIT_SPEED, why = "pedestrian waiting at the kerb";
            }
            continue;
        }
        if (!a->collidable || ahead < -0.5 * a->length) continue;
        double path_d = path_d_at(w, target_d, a->s);
        /* A vehicle moving sideways (a cut-in) counts wherever it will be
         * within 2 s: the distance is to the span it sweeps. */
        double d0 = a->d, d1 = a->kind == ACTOR_VEHICLE ? a->d + 2.0 * a->d_rate : a->d;
        double lo = fmin(d0, d1), hi = fmax(d0, d1);
        double reach = half_w + 0.5 * a->width + 0.3;
        int path_clear = fabs(clampd(path_d, lo, hi) - path_d) >= reach;
        if (path_clear && fabs(clampd(w->ego_d, lo, hi) - w->ego_d) >= reach) continue;
        /* Slowed down behind a blocker that stays put, with a planned path
         * that already clears it: steer round it at a creep. Waiting for the
         * body to clear it first would wait there forever. */
        int stays = a->kind == ACTOR_OBSTACLE || (a->kind == ACTOR_VEHICLE && vehicle_stays(w, i));
        if (path_clear && stays && ahead > 1.5 && v < CREEP_SPEED) {
            if (v_ref > CREEP_SPEED) v_ref = CREEP_SPEED, why = "creeping round a blocked lane";
            continue;
        }
        if (ahead < gap) {
            gap = ahead;
            lead_speed = a->kind == ACTOR_VEHICLE ? a->speed * a->dir : 0.0;
            min_gap = a->kind == ACTOR_VEHICLE && a->speed > 0.5 ? 2.0 : 3.0;
            /* Changing lanes round it: stop far enough back to steer out. */
            if (stays && st->target_lane != road_lane_at(&w->road, w->ego_d)) min_gap = 8.0;
            why = a->kind == ACTOR_VEHICLE ? (a->speed > 0.5 ? "following a vehicle" : "stopping behind a vehicle")
                                            : "stopping for an obstacle";
        }
    }

    double desired = control_idm_accel(v, v_ref, gap, lead_speed, 1.5, min_gap);
    /* IDM brakes hard on a sudden short gap even when there is time (a
     * cut-in 3 s away); a careful driver brakes firmly, not in panic. Against
     * a steady lead the deceleration needed is closing / (2 TTC): with more
     * than 2 s to contact, 3.5 m/s² (inside nuPlan's comfort) suffices up to
     * 14 m/s of closing speed; the limit lifts as soon as TTC drops. */
    double closing = v - lead_speed;
    if (isfinite(gap) && closing > 0.1 && closing < 14.0 && gap / closing > 2.0) desired = fmax(desired, -3.5);
    *cmd = control_accel_to_action(w, desired, &st->prev_accel, COMFORT_JERK);
    cmd->steer = control_steer_to_offset(w, target_d);
    snprintf(reasoning, POLICY_REASONING_MAX, "%s%s", lane_why, why);
    return 0;
}

void policy_expert_init(policy *pol) {
    memset(pol, 0, sizeof *pol);
    snprintf(pol->name, sizeof pol->name, "expert");
    pol->state = CALLOC_CHECK(1, sizeof(expert_state));
    pol->reset = expert_reset;
    pol->act = expert_act;
    pol->destroy = policy_free_state;
}
