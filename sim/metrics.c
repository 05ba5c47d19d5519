#include "sim/metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/mathx.h"

/* nuPlan's comfort bounds. */
#define COMFORT_MAX_LON_ACCEL 2.40
#define COMFORT_MIN_LON_ACCEL -4.05
#define COMFORT_MAX_LAT_ACCEL 4.89
#define COMFORT_MAX_YAW_RATE 0.95
#define COMFORT_MAX_YAW_ACCEL 1.93
#define COMFORT_MAX_LON_JERK 4.13

static void add_finding(metrics *m, finding_kind kind, const char *fmt, va_list ap) {
    if (m->n_reasons >= METRICS_MAX_REASONS) return;
    m->reason_kind[m->n_reasons] = kind;
    vsnprintf(m->reasons[m->n_reasons], METRICS_REASON_LEN, fmt, ap);
    m->n_reasons++;
}

void metrics_add_failure(metrics *m, finding_kind kind, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    add_finding(m, kind, fmt, ap);
    va_end(ap);
}

void metrics_init(metrics *m, const sim_world *w) {
    memset(m, 0, sizeof *m);
    m->start_s = w->ego_s;
    m->goal_s = w->sc->ego.goal_s;
    m->collision_mult = m->drivable_mult = m->progress_mult = m->guard_mult = 1.0;
    m->min_ttc = INFINITY;
    m->prev_front_s = sim_ego_front_s(w);
    for (int i = 0; i < SCENARIO_MAX_ACTORS; i++) m->proceed_wait_start[i] = -1.0;
}

static void check_collisions(metrics *m, const sim_world *w, double cx, double cy) {
    const vehicle_params *p = &w->ego_params;
    for (int i = 0; i < w->n_actors; i++) {
        const sim_actor *a = &w->actors[i];
        if (!a->collidable || (m->collided_with >> i) & 1) continue;
        if (!sim_boxes_overlap(cx, cy, w->ego.yaw, p->length, p->width, a->x, a->y, a->yaw, a->length, a->width))
            continue;
        m->collided_with |= 1ull << i;
        const char *id = w->sc->actors[i].id;
        /* Not the ego's fault when it was standing still or was hit from behind. */
        if (w->ego.speed < SIM_STOPPED_SPEED || a->s < w->ego_s - 0.25 * p->length) continue;
        int is_static = a->kind == ACTOR_OBSTACLE;
        double mult = is_static ? 0.5 : 0.0;
        if (mult < m->collision_mult) m->collision_mult = mult;
        m->at_fault_collision = 1;
        metrics_add_failure(m, FINDING_COLLISION, "t=%.1f s: at-fault collision with %s '%s' at %.1f m/s", w->t,
                            actor_kind_name(a->kind), id, w->ego.speed);
    }
}

static void update_ttc(metrics *m, const sim_world *w) {
    if (w->ego.speed < SIM_STOPPED_SPEED) return;
    const vehicle_params *p = &w->ego_params;
    for (int i = 0; i < w->n_actors; i++) {
        const sim_actor *a = &w->actors[i];
        if (!a->collidable || a->s <= w->ego_s) continue;
        if (fabs(a->d - w->ego_d) >= 0.5 * (p->width + a->width)) continue;
        double gap = a->s - w->ego_s - 0.5 * (p->length + a->length);
        double closing = w->ego.speed - (a->kind == ACTOR_VEHICLE ? a->speed * a->dir : 0.0);
        if (gap < 0 || closing <= 0) continue;
        double ttc = gap / closing;
        if (ttc < m->min_ttc) m->min_ttc = ttc;
    }
}

static void update_comfort(metrics *m, const sim_world *w) {
    int k = (w->step - 1) % 5, n = w->step < 5 ? w->step : 5;
    m->accel_hist[k] = w->ego.accel;
    m->yaw_rate_hist[k] = w->ego.yaw_rate;
    double acc = 0, yr = 0;
    for (int i = 0; i < n; i++) acc += m->accel_hist[i], yr += m->yaw_rate_hist[i];
    acc /= n, yr /= n;
    double v = w->ego.speed;
    m->max_lon_accel = fmax(m->max_lon_accel, acc);
    m->min_lon_accel = fmin(m->min_lon_accel, acc);
    m->max_abs_lat_accel = fmax(m->max_abs_lat_accel, fabs(v * yr));
    m->max_abs_yaw_rate = fmax(m->max_abs_yaw_rate, fabs(yr));
    if (w->step > 1) {
        m->max_abs_yaw_accel = fmax(m->max_abs_yaw_accel, fabs(yr - m->prev_yaw_rate_avg) / SIM_DT);
        m->max_abs_lon_jerk = fmax(m->max_abs_lon_jerk, fabs(acc - m->prev_accel_avg) / SIM_DT);
    }
    m->prev_accel_avg = acc, m->prev_yaw_rate_avg = yr;
}

static void guard_violation(metrics *m, double mult, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void guard_violation(metrics *m, double mult, const char *fmt, ...) {
    if (mult < m->guard_mult) m->guard_mult = mult;
    va_list ap;
    va_start(ap, fmt);
    add_finding(m, FINDING_GUARD, fmt, ap);
    va_end(ap);
}

static void update_guards(metrics *m, const sim_world *w, double front) {
    for (int i = 0; i < w->n_actors; i++) {
        const sim_actor *a = &w->actors[i];
        if (a->kind != ACTOR_GUARD) continue;
        const scenario_guard *g = &w->sc->actors[i].u.guard;
        const char *id = w->sc->actors[i].id;
        if (a->gesture == GESTURE_STOP && m->prev_front_s <= g->stop_line_s && front > g->stop_line_s)
            guard_violation(m, 0.0, "t=%.1f s: crossed guard '%s' stop line at %.1f m/s while it showed STOP", w->t,
                            id, w->ego.speed);
        if (a->gesture == GESTURE_PROCEED && a->gesture_since >= w->t - 1e-9 && w->ego.speed < SIM_STOPPED_SPEED &&
            front < a->s && a->s - front < 40.0)
            m->proceed_wait_start[i] = w->t;
        if (m->proceed_wait_start[i] >= 0) {
            if (w->ego.speed > 0.5) {
                m->proceed_wait_start[i] = -1.0;
            } else if (w->t - m->proceed_wait_start[i] > METRICS_PROCEED_WAIT_S + 1e-9) {
                guard_violation(m, 0.5, "t=%.1f s: did not move off within %.0f s of guard '%s' showing PROCEED", w->t,
                                METRICS_PROCEED_WAIT_S, id);
                m->proceed_wait_start[i] = -1.0;
            }
        }
        int passing = m->prev_front_s < a->s && front >= a->s;
        if (passing && a->gesture == GESTURE_SLOW && w->ego.speed > g->slow_speed + 0.5)
            guard_violation(m, 0.5, "t=%.1f s: passed guard '%s' at %.1f m/s while it showed SLOW (%.1f m/s)", w->t, id,
                            w->ego.speed, g->slow_speed);
        if (passing && ((a->gesture == GESTURE_TURN_LEFT && w->ego_d <= a->d) ||
                        (a->gesture == GESTURE_TURN_RIGHT && w->ego_d >= a->d)))
            guard_violation(m, 0.5, "t=%.1f s: passed guard '%s' on the wrong side while it showed %s", w->t, id,
                            gesture_name(a->gesture));
    }
}

void metrics_update(metrics *m, const sim_world *w) {
    const vehicle_params *p = &w->ego_params;
    double cx, cy;
    vehicle_center(p, &w->ego, &cx, &cy);
    double front = sim_ego_front_s(w);
    m->elapsed = w->t;

    check_collisions(m, w, cx, cy);
    update_ttc(m, w);
    double overspeed = w->ego.speed - sim_speed_limit_at(w, front);
    if (overspeed > 0) m->overspeed_integral += overspeed * SIM_DT;
    update_comfort(m, w);
    update_guards(m, w, front);

    /* Drivable area: the body's lateral extent given its angle to the road. */
    if (m->drivable_mult > 0) {
        road_pose rp = road_pose_at(&w->road, w->ego_s, 0.0);
        double rel = wrap_angle(w->ego.yaw - rp.heading);
        double half = 0.5 * p->width * fabs(cos(rel)) + 0.5 * p->length * fabs(sin(rel));
        if (!road_is_drivable(&w->road, w->ego_d, half)) {
            m->drivable_mult = 0.0;
            metrics_add_failure(m, FINDING_OFF_ROAD, "t=%.1f s: left the drivable area (d = %.2f m)", w->t, w->ego_d);
        }
    }

    double route = m->goal_s - m->start_s;
    m->progress = route > 0 ? clampd((w->ego_s - m->start_s) / route, 0.0, 1.0) : 1.0;
    if (front >= m->goal_s) m->goal_reached = 1, m->progress = 1.0;
    m->prev_front_s = front;
}

void metrics_finish(metrics *m, const sim_world *w) {
    const scenario_success *crit = &w->sc->success;
    m->progress_mult = m->progress >= METRICS_MIN_PROGRESS ? 1.0 : 0.0;
    m->ttc_score = m->min_ttc >= METRICS_TTC_MIN_S ? 1.0 : 0.0;
    double duration = fmax(m->elapsed, SIM_DT);
    m->speed_limit_score = fmax(0.0, 1.0 - m->overspeed_integral / (METRICS_OVERSPEED_TOLERANCE * duration));
    m->comfort_score = m->max_lon_accel <= COMFORT_MAX_LON_ACCEL && m->min_lon_accel >= COMFORT_MIN_LON_ACCEL &&
                               m->max_abs_lat_accel <= COMFORT_MAX_LAT_ACCEL &&
                               m->max_abs_yaw_rate <= COMFORT_MAX_YAW_RATE &&
                               m->max_abs_yaw_accel <= COMFORT_MAX_YAW_ACCEL &&
                               m->max_abs_lon_jerk <= COMFORT_MAX_LON_JERK
                           ? 1.0
                           : 0.0;
    double weighted = (5.0 * m->progress + 5.0 * m->ttc_score + 4.0 * m->speed_limit_score + 2.0 * m->comfort_score) / 16.0;
    m->score = m->collision_mult * m->drivable_mult * m->progress_mult * m->guard_mult * weighted;

    if (crit->reach_goal && !m->goal_reached)
        metrics_add_failure(m, FINDING_GOAL, "did not reach the goal (%.0f %% of the route)", 100.0 * m->progress);
    if (m->score < crit->min_score)
        metrics_add_failure(m, FINDING_SCORE, "score %.3f below the required %.3f", m->score, crit->min_score);

    /* Keep only the findings the scenario's criteria count as failures. */
    int kept = 0;
    for (int i = 0; i < m->n_reasons; i++) {
        finding_kind k = m->reason_kind[i];
        int counts = (k == FINDING_COLLISION && crit->no_collision) || (k == FINDING_OFF_ROAD && crit->stay_on_road) ||
                     (k == FINDING_GUARD && crit->obey_guards) || k == FINDING_GOAL || k == FINDING_SCORE ||
                     k == FINDING_POLICY;
        if (!counts) continue;
        if (kept != i) {
            m->reason_kind[kept] = k;
            memcpy(m->reasons[kept], m->reasons[i], METRICS_REASON_LEN);
        }
        kept++;
    }
    m->n_reasons = kept;
    m->passed = kept == 0;
}

void metrics_values(const metrics *m, const char *names[METRICS_N_VALUES], double values[METRICS_N_VALUES]) {
    const char *n[METRICS_N_VALUES] = {
        "score", "progress", "collision_multiplier", "drivable_area_multiplier", "making_progress_multiplier",
        "guard_compliance_multiplier", "ttc_score", "min_ttc_s", "speed_limit_score", "overspeed_integral_m",
        "comfort_score", "max_lon_accel_mps2", "min_lon_accel_mps2", "max_abs_lat_accel_mps2",
        "max_abs_yaw_rate_radps", "max_abs_yaw_accel_radps2", "max_abs_lon_jerk_mps3", "duration_s"};
    double v[METRICS_N_VALUES] = {m->score, m->progress, m->collision_mult, m->drivable_mult, m->progress_mult,
                                  m->guard_mult, m->ttc_score, isfinite(m->min_ttc) ? m->min_ttc : -1.0,
                                  m->speed_limit_score, m->overspeed_integral, m->comfort_score, m->max_lon_accel,
                                  m->min_lon_accel, m->max_abs_lat_accel, m->max_abs_yaw_rate, m->max_abs_yaw_accel,
                                  m->max_abs_lon_jerk, m->elapsed};
    for (int i = 0; i < METRICS_N_VALUES; i++) names[i] = n[i], values[i] = v[i];
}
