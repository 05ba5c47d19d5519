#include "sim/policy_control.h"

#include <math.h>

#include "core/mathx.h"

/* Comfortable IDM values (Treiber & Kesting) — the expert drives like a
 * careful human, well inside nuPlan's comfort bounds. */
#define IDM_MAX_ACCEL 1.5
#define IDM_COMFORT_DECEL 2.5

double control_steer_to_offset(const sim_world *w, double target_d) {
    const vehicle_state *st = &w->ego;
    const vehicle_params *p = &w->ego_params;
    /* Lookahead grows with speed so lane changes stay within nuPlan's
     * lateral-acceleration bound at highway speed. */
    double lookahead = clampd(5.0 + 1.2 * st->speed, 8.0, 40.0);
    road_pose goal = road_pose_at(&w->road, w->ego_s + lookahead, target_d);
    double dx = goal.x - st->x, dy = goal.y - st->y;
    double c = cos(st->yaw), s = sin(st->yaw);
    double lx = c * dx + s * dy, ly = -s * dx + c * dy;
    double ld2 = lx * lx + ly * ly;
    double curvature = 2.0 * ly / fmax(ld2, 1e-6);
    return clampd(atan(curvature * p->wheelbase), -p->limits.steer_max, p->limits.steer_max);
}

double control_idm_accel(double v, double v_ref, double gap, double lead_speed,
                         double time_headway, double min_gap) {
    /* Above v_ref the textbook free-road term brakes with (v/v0)^4 — −9 m/s²
     * at 1.6 × v0, when a speed limit drops — so slow down gently instead. */
    double vr = v / fmax(v_ref, 0.1);
    double acc = v <= v_ref ? IDM_MAX_ACCEL * (1.0 - vr * vr * vr * vr) : fmax(-IDM_COMFORT_DECEL, v_ref - v);
    if (isfinite(gap)) {
        double s_star = min_gap + fmax(0.0, v * time_headway +
                                                v * (v - lead_speed) /
                                                    (2.0 * sqrt(IDM_MAX_ACCEL * IDM_COMFORT_DECEL)));
        double ratio = s_star / fmax(gap, 0.05);
        acc -= IDM_MAX_ACCEL * ratio * ratio;
    }
    return acc;
}

action control_accel_to_action(const sim_world *w, double desired, double *prev_accel, double jerk) {
    const action_limits *lim = &w->ego_params.limits;
    double a = clampd(desired, -lim->brake_max, lim->accel_max);
    double step = jerk * SIM_DT;
    int emergency = a < -4.0 && a < *prev_accel - 1.0; /* beyond comfort: no ramp */
    if (!emergency) a = clampd(a, *prev_accel - step, *prev_accel + step);
    *prev_accel = a;
    action cmd = {0, 0, 0};
    if (w->ego.speed < 0.05 && a <= 0.0) {
        cmd.brake = fmin(2.0, lim->brake_max); /* hold at standstill */
        *prev_accel = 0.0;
    } else if (a >= 0) {
        cmd.accel = a;
    } else {
        cmd.brake = -a;
    }
    return cmd;
}
