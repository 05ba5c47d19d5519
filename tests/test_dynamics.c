/* test_dynamics.c — road geometry and ego dynamics against closed forms.
 *
 * Tolerances: the integrators and the road formulas are exact in real
 * arithmetic, so what is left is rounding: about 1e-16 relative per operation
 * on values of at most a few hundred metres over at most a few thousand
 * operations, i.e. under 1e-11 m. 1e-9 leaves a wide margin while still
 * catching any first-order integration (whose error here is 1e-3 or more). */
#include <math.h>

#include "core/mathx.h"
#include "core/rng.h"
#include "sim/road.h"
#include "sim/vehicle.h"
#include "testutil.h"

#define TOL 1e-9

/* scenario.proto's VehicleParams defaults. */
static vehicle_params car(void) {
    vehicle_params p = {0};
    p.length = 4.6, p.width = 1.9, p.wheelbase = 2.8;
    p.limits.accel_max = 3.0, p.limits.brake_max = 8.0, p.limits.steer_max = 0.5;
    p.limits.jerk_max = 20.0, p.limits.steer_rate_max = 0.7;
    return p;
}

/* ---------------------------------------------------------------- vehicle */

START_TEST(state_at_zeroes_the_rest) {
    vehicle_state st = vehicle_state_at(1.0, -2.0, 0.5, 7.0);
    ck_assert(st.x == 1.0 && st.y == -2.0 && st.yaw == 0.5 && st.speed == 7.0);
    ck_assert(st.yaw_rate == 0.0 && st.accel == 0.0);
    ck_assert(st.applied.accel == 0.0 && st.applied.brake == 0.0 && st.applied.steer == 0.0);
    /* Yaw comes back normalised to (-pi, pi]. */
    ck_assert_double_eq_tol(vehicle_state_at(0, 0, 3 * WM_PI / 2, 0).yaw, -WM_PI / 2, 1e-15);
    ck_assert_double_eq_tol(vehicle_state_at(0, 0, -WM_PI, 0).yaw, WM_PI, 1e-15);
}
END_TEST

START_TEST(center_is_half_a_wheelbase_ahead) {
    vehicle_params p = car();
    vehicle_state st = vehicle_state_at(1.0, 2.0, WM_PI / 2, 0.0);
    double cx, cy;
    vehicle_center(&p, &st, &cx, &cy);
    ck_assert_double_eq_tol(cx, 1.0, 1e-15);
    ck_assert_double_eq_tol(cy, 3.4, 1e-15);
    st.yaw = WM_PI; /* pointing -x */
    vehicle_center(&p, &st, &cx, &cy);
    ck_assert_double_eq_tol(cx, -0.4, 1e-15);
    ck_assert_double_eq_tol(cy, 2.0, 1e-15);
}
END_TEST

/* Brake already at b, actuators instant: a uniformly decelerated stop, so
 * v(t) = v0 - b t and the distance is v0²/(2b) whether or not the stop falls
 * on a sub-step boundary (here t_stop = 3.333 s falls inside one). */
START_TEST(braking_distance_exact) {
    const double v0 = 20.0, b = 6.0, yaw = 2.5;
    vehicle_params p = car();
    p.limits.jerk_max = 1e9;
    vehicle_state st = vehicle_state_at(3.0, -4.0, yaw, v0);
    st.applied.brake = b;
    action cmd = {.accel = 0.0, .brake = b, .steer = 0.0};
    double stop_x = 0, stop_y = 0;
    int stopped_at = -1;
    for (int k = 1; k <= 60; k++) {
        vehicle_step(&p, &st, &cmd, 0.1, 4);
        const double t = 0.1 * k;
        if (t < v0 / b) {
            ck_assert_double_eq_tol(st.speed, v0 - b * t, 1e-12);
            ck_assert_double_eq_tol(st.accel, -b, 1e-9);
            const double dist = v0 * t - 0.5 * b * t * t;
            ck_assert_double_eq_tol(st.x, 3.0 + dist * cos(yaw), TOL);
            ck_assert_double_eq_tol(st.y, -4.0 + dist * sin(yaw), TOL);
        } else if (stopped_at < 0) {
            stopped_at = k;
            ck_assert(st.speed == 0.0);
            /* The step that stopped went from 20 - 6·3.3 = 0.2 m/s to 0. */
            ck_assert_double_eq_tol(st.accel, -0.2 / 0.1, 1e-9);
            const double dist = hypot(st.x - 3.0, st.y + 4.0);
            ck_assert_double_eq_tol(dist, v0 * v0 / (2 * b), TOL);
            stop_x = st.x, stop_y = st.y;
        } else {
            /* Stopped means stopped: no reverse, no creep, bit for bit. */
            ck_assert(st.speed == 0.0);
            ck_assert(st.x == stop_x && st.y == stop_y);
            ck_assert(st.accel == 0.0 && st.yaw_rate == 0.0);
        }
        ck_assert(st.yaw == yaw);
    }
    ck_assert_int_eq(stopped_at, 34);
}
END_TEST

/* With the default jerk limit J the brake rises by J·h per sub-step and is
 * held constant within each (its value at the sub-step's end). With m = b/(J h)
 * sub-steps of ramp, sub-step j (0-based) brakes at a_j = J h (j + 1), so
 *   v after the ramp   v1 = v0 - J h² m(m+1)/2
 *   ramp distance      m v0 h - J h³ [(m-1)m(m+1)/6 + m(m+1)/4]
 * and then v1²/(2b) at full brake. As h -> 0 this tends to the continuous ramp
 * (T = b/J): extra distance v0 T/2 - b T²/24 over v0²/(2b); the staircase
 * brakes at least as hard as that ramp and at most as hard as the ramp
 * started h earlier, which bounds it from below by v0 h. */
static double jerk_limited_stop(double v0, double b, double jerk, double dt, int substeps) {
    vehicle_params p = car();
    p.limits.jerk_max = jerk;
    vehicle_state st = vehicle_state_at(0.0, 0.0, 0.0, v0);
    action cmd = {.accel = 0.0, .brake = b, .steer = 0.0};
    for (int k = 0; k < 1000 && !(st.speed == 0.0); k++) vehicle_step(&p, &st, &cmd, dt, substeps);
    ck_assert(st.speed == 0.0);
    ck_assert(st.y == 0.0);
    return st.x;
}

START_TEST(braking_distance_with_jerk_ramp) {
    const double v0 = 20.0, b = 6.0, jerk = 20.0, dt = 0.1;
    const int substeps = 4;
    const double h = dt / substeps;
    const double m = b / (jerk * h);
    ck_assert_double_eq_tol(m, round(m), 1e-12); /* the closed form needs a whole ramp */
    const double v1 = v0 - jerk * h * h * m * (m + 1) / 2;
    const double ramp = m * v0 * h - jerk * h * h * h * ((m - 1) * m * (m + 1) / 6 + m * (m + 1) / 4);
    const double expected = ramp + v1 * v1 / (2 * b);
    const double got = jerk_limited_stop(v0, b, jerk, dt, substeps);
    ck_assert_double_eq_tol(got, expected, TOL);
    ck_assert(got > v0 * v0 / (2 * b) + 2.5); /* the ramp costs metres, not rounding */

    const double T = b / jerk;
    const double continuous = v0 * v0 / (2 * b) + v0 * T / 2 - b * T * T / 24;
    ck_assert(got <= continuous && got >= continuous - v0 * h);
    /* Finer sub-steps approach the continuous ramp within the same bound. */
    const double fine = jerk_limited_stop(v0, b, jerk, dt, 50);
    ck_assert(fine <= continuous && fine >= continuous - v0 * dt / 50);
}
END_TEST

START_TEST(no_reverse_from_standstill) {
    vehicle_params p = car();
    vehicle_state st = vehicle_state_at(5.0, 6.0, -1.0, 0.0);
    st.applied = (action){.accel = 0.0, .brake = 8.0, .steer = 0.3};
    action cmd = {.accel = 0.0, .brake = 8.0, .steer = 0.3};
    for (int k = 0; k < 20; k++) {
        vehicle_step(&p, &st, &cmd, 0.1, 4);
        ck_assert(st.speed == 0.0 && st.x == 5.0 && st.y == 6.0 && st.yaw == -1.0);
        ck_assert(st.accel == 0.0 && st.yaw_rate == 0.0);
    }
    /* Accelerating away afterwards: from rest at a, v = a t exactly. */
    st.applied = (action){.accel = 2.0, .brake = 0.0, .steer = 0.0};
    cmd = st.applied;
    vehicle_step(&p, &st, &cmd, 0.1, 4);
    ck_assert_double_eq_tol(st.speed, 0.2, 1e-15);
    ck_assert_double_eq_tol(hypot(st.x - 5.0, st.y - 6.0), 0.5 * 2.0 * 0.01, 1e-15);
}
END_TEST

/* Held steer δ at speed v: a circle of radius R = L/tan δ about the point R
 * to the left of the start (to the right for δ < 0), yaw rate v tan δ / L,
 * and after time t the vehicle has turned v t / R. */
static void check_circle(double steer, double v, double yaw0, int substeps) {
    vehicle_params p = car();
    const double L = p.wheelbase, R = L / tan(steer); /* signed: < 0 turns right */
    const double x0 = 5.0, y0 = -3.0;
    const double cx = x0 - R * sin(yaw0), cy = y0 + R * cos(yaw0);
    vehicle_state st = vehicle_state_at(x0, y0, yaw0, v);
    st.applied.steer = steer;
    action cmd = {.accel = 0.0, .brake = 0.0, .steer = steer};
    const double lap = 2 * WM_PI * fabs(R) / v;
    const int steps = (int)ceil(lap / 0.1) + 1;
    double max_dev = 0.0;
    for (int k = 1; k <= steps; k++) {
        vehicle_step(&p, &st, &cmd, 0.1, substeps);
        max_dev = fmax(max_dev, fabs(hypot(st.x - cx, st.y - cy) - fabs(R)));
        ck_assert_double_eq_tol(st.yaw_rate, v * tan(steer) / L, 1e-12);
        ck_assert(st.yaw > -WM_PI && st.yaw <= WM_PI);
        const double turned = v * 0.1 * k / R;
        ck_assert_double_eq_tol(wrap_angle(st.yaw - (yaw0 + turned)), 0.0, 1e-9);
        const double ex = cx + R * sin(yaw0 + turned), ey = cy - R * cos(yaw0 + turned);
        ck_assert_msg(hypot(st.x - ex, st.y - ey) < 1e-6, "step %d: off by %g m", k,
                      hypot(st.x - ex, st.y - ey));
    }
    ck_assert_msg(max_dev < 1e-6, "radius deviation %g m", max_dev);
    ck_assert(st.speed == v);
}

START_TEST(constant_steer_circle) {
    check_circle(0.3, 10.0, 0.7, 4);   /* left, R = 9.05 m */
    check_circle(-0.2, 15.0, -2.9, 4); /* right, R = 13.8 m, yaw wraps past -pi */
    check_circle(0.5, 3.0, 0.0, 4);    /* full lock */
    /* 0.3 rad per step: past the series branch of the arc factors. */
    check_circle(0.4, 20.0, 1.0, 1);
}
END_TEST

START_TEST(steer_rate_limit) {
    vehicle_params p = car();
    const double v = 10.0, L = p.wheelbase;
    action cmd = {.accel = 0.0, .brake = 0.0, .steer = 0.5};
    vehicle_state st = vehicle_state_at(0.0, 0.0, 0.0, v);
    vehicle_step(&p, &st, &cmd, 0.1, 4);
    ck_assert_double_eq_tol(st.applied.steer, 0.07, 1e-15); /* 0.7 rad/s × 0.1 s */
    /* Each sub-step drives at its rate-limited steer 0.0175·j, j = 1..4. */
    double yaw = 0.0;
    for (int j = 1; j <= 4; j++) yaw += tan(0.0175 * j) / L * v * 0.025;
    ck_assert_double_eq_tol(st.yaw, yaw, 1e-12);
    ck_assert_double_eq_tol(st.yaw_rate, yaw / 0.1, 1e-11);
    vehicle_step(&p, &st, &cmd, 0.1, 4);
    ck_assert_double_eq_tol(st.applied.steer, 0.14, 1e-15);

    st = vehicle_state_at(0.0, 0.0, 0.0, v);
    vehicle_step(&p, &st, &cmd, 0.1, 1);
    ck_assert_double_eq_tol(st.applied.steer, 0.07, 1e-15);
    cmd.steer = -0.5; /* and back the other way at the same rate */
    vehicle_step(&p, &st, &cmd, 0.1, 1);
    ck_assert_double_eq_tol(st.applied.steer, 0.0, 1e-15);
}
END_TEST

/* One sub-step whose turn lands just either side of |dpsi| = 0.25, where the
 * arc factors switch from their series to sin/cos: both must give the chord
 * of the arc, sin(dpsi)/kappa ahead and 2 sin²(dpsi/2)/kappa to the side, to
 * within a few ulp (1e-15 relative; a wrong series term shows as 2e-15). */
START_TEST(arc_factors_meet_at_the_switch) {
    vehicle_params p = car();
    const double kappa = tan(0.4) / p.wheelbase;
    for (int sign = -1; sign <= 1; sign += 2) {
        for (int side = -1; side <= 1; side += 2) {
            const double ds = 0.25 / kappa * (1 + side * 1e-6);
            vehicle_state st = vehicle_state_at(0.0, 0.0, 0.0, ds / 0.1);
            action cmd = {.accel = 0.0, .brake = 0.0, .steer = sign * 0.4};
            st.applied = cmd;
            vehicle_step(&p, &st, &cmd, 0.1, 1);
            const double k = sign * kappa, dpsi = k * (st.speed * 0.1);
            const double ex = sin(dpsi) / k, ey = 2 * sin(dpsi / 2) * sin(dpsi / 2) / k;
            ck_assert_msg(fabs(st.x - ex) <= 1e-15 * fabs(ex) && fabs(st.y - ey) <= 1e-15 * fabs(ey),
                          "dpsi %.17g: (%.17g, %.17g) vs (%.17g, %.17g)", dpsi, st.x, st.y, ex, ey);
            ck_assert(st.yaw == dpsi);
        }
    }
}
END_TEST

/* Actuators at rest on the command: sub-stepping must not change anything. */
static void check_substep_invariance(action cmd, double v0, int steps) {
    vehicle_params p = car();
    vehicle_state a = vehicle_state_at(1.0, 2.0, 0.3, v0), b = a;
    a.applied = b.applied = cmd;
    for (int k = 0; k < steps; k++) {
        vehicle_step(&p, &a, &cmd, 0.1, 1);
        vehicle_step(&p, &b, &cmd, 0.1, 8);
        ck_assert_double_eq_tol(a.x, b.x, TOL);
        ck_assert_double_eq_tol(a.y, b.y, TOL);
        ck_assert_double_eq_tol(wrap_angle(a.yaw - b.yaw), 0.0, TOL);
        ck_assert_double_eq_tol(a.speed, b.speed, TOL);
        ck_assert_double_eq_tol(a.yaw_rate, b.yaw_rate, TOL);
        ck_assert_double_eq_tol(a.accel, b.accel, TOL);
    }
}

START_TEST(substeps_invariance) {
    check_substep_invariance((action){.accel = 2.0, .brake = 0.0, .steer = 0.1}, 5.0, 40);
    /* Stops at 1.75 s, inside a step, while turning right at full lock. */
    check_substep_invariance((action){.accel = 0.0, .brake = 4.0, .steer = -0.5}, 7.0, 30);
    /* Turns through several laps: yaw wraps many times. */
    check_substep_invariance((action){.accel = 0.5, .brake = 0.0, .steer = 0.45}, 8.0, 200);
}
END_TEST

/* ---------------------------------------------------------------- road */

static scenario_road make_road(const double (*segs)[2], int n) {
    scenario_road sr;
    memset(&sr, 0, sizeof sr);
    for (int i = 0; i < n; i++) {
        sr.segments[i].length = segs[i][0];
        sr.segments[i].curvature = segs[i][1];
    }
    sr.n_segments = n;
    sr.n_lanes = 3;
    sr.lane_width = 3.5;
    sr.shoulder = 0.5;
    sr.speed_limit = 15.0;
    sr.lane_dirs[2] = LANE_ONCOMING;
    return sr;
}

static const double straight_road[][2] = {{200.0, 0.0}};
static const double left_arc_road[][2] = {{100.0, 1.0 / 50}};
static const double right_arc_road[][2] = {{100.0, -1.0 / 50}};
static const double multi_road[][2] = {
    {40.0, 0.0}, {60.0, 1.0 / 40}, {30.0, 0.0}, {80.0, -1.0 / 60},
    {40 * WM_PI, 1.0 / 40}, {50.0, 0.0}, {30.0, -1.0 / 25}, {20.0, 1e-7},
};

START_TEST(init_copies_and_chains) {
    scenario_road sr = make_road(multi_road, 8);
    road r;
    road_init(&r, &sr);
    ck_assert_int_eq(r.n_segments, 8);
    ck_assert_int_eq(r.n_lanes, 3);
    ck_assert(r.lane_width == 3.5 && r.shoulder == 0.5 && r.speed_limit == 15.0);
    ck_assert_int_eq(r.lane_dirs[2], LANE_ONCOMING);
    double total = 0;
    for (int i = 0; i < 8; i++) {
        ck_assert(r.segments[i].s0 == total);
        total += multi_road[i][0];
    }
    ck_assert_double_eq_tol(r.length, total, 1e-12);
    ck_assert(r.segments[0].x0 == 0.0 && r.segments[0].y0 == 0.0 && r.segments[0].heading0 == 0.0);
    /* Headings add up the turns: 0, 0, 1.5, 1.5, 1.5 - 4/3, +pi, ... */
    ck_assert_double_eq_tol(r.segments[2].heading0, 1.5, 1e-12);
    ck_assert_double_eq_tol(r.segments[4].heading0, 1.5 - 80.0 / 60, 1e-12);
    ck_assert_double_eq_tol(r.segments[5].heading0, wrap_angle(1.5 - 80.0 / 60 + WM_PI), 1e-12);
    /* The first straight ends 40 m out along +x. */
    ck_assert_double_eq_tol(r.segments[1].x0, 40.0, 1e-12);
    ck_assert_double_eq_tol(r.segments[1].y0, 0.0, 1e-12);
}
END_TEST

/* Quarter turns of length pi R/2 end R ahead and R to the side, turned pi/2. */
START_TEST(quarter_circle_endpoints) {
    const double R = 30.0;
    for (int sign = -1; sign <= 1; sign += 2) {
        const double seg[][2] = {{WM_PI / 2 * R, sign / R}};
        scenario_road sr = make_road(seg, 1);
        road r;
        road_init(&r, &sr);
        road_pose p = road_pose_at(&r, r.length, 0.0);
        ck_assert_double_eq_tol(p.x, R, TOL);
        ck_assert_double_eq_tol(p.y, sign * R, TOL);
        ck_assert_double_eq_tol(p.heading, sign * WM_PI / 2, TOL);
        /* d = 2 to the left: for a left turn toward the centre (0, R). */
        p = road_pose_at(&r, r.length, 2.0);
        ck_assert_double_eq_tol(p.x, sign > 0 ? R - 2.0 : R + 2.0, TOL);
        ck_assert_double_eq_tol(p.y, sign * R, TOL);
        /* Halfway round: R(sin 45°, ±(1 - cos 45°)). */
        p = road_pose_at(&r, r.length / 2, 0.0);
        ck_assert_double_eq_tol(p.x, R * sqrt(0.5), TOL);
        ck_assert_double_eq_tol(p.y, sign * R * (1 - sqrt(0.5)), TOL);
        ck_assert_double_eq_tol(p.heading, sign * WM_PI / 4, TOL);
        ck_assert(road_curvature_at(&r, 10.0) == sign / R);
    }
}
END_TEST

START_TEST(nearly_straight_arc_is_not_cancelled) {
    /* k = 1e-9 (R = 1e9 m): a formula through the radius would lose ~1e-7 m. */
    const double seg[][2] = {{100.0, 1e-9}};
    scenario_road sr = make_road(seg, 1);
    road r;
    road_init(&r, &sr);
    road_pose p = road_pose_at(&r, 100.0, 3.0);
    /* Sagitta 100²·k/2 = 5e-6 m; heading turns 1e-7 rad. */
    ck_assert_double_eq_tol(p.x, 100.0 - 3.0 * 1e-7, 1e-12);
    ck_assert_double_eq_tol(p.y, 3.0 + 5e-6, 1e-12);
    int hint = 0;
    double s, d;
    road_project(&r, p.x, p.y, &hint, &s, &d);
    ck_assert_double_eq_tol(s, 100.0, 1e-12);
    ck_assert_double_eq_tol(d, 3.0, 1e-12);
}
END_TEST

static int true_segment(const road *r, double s) {
    int i = 0;
    while (i + 1 < r->n_segments && r->segments[i + 1].s0 <= s) i++;
    return i;
}

/* Random (s, d) on the road and up to 30 m past its ends -> world -> back. */
static void check_round_trip(const double (*segs)[2], int n, uint64_t seed) {
    scenario_road sr = make_road(segs, n);
    road r;
    road_init(&r, &sr);
    wm_rng rng;
    rng_init(&rng, seed);
    int hint = 0;
    const double dmin = -r.shoulder, dmax = r.n_lanes * r.lane_width + r.shoulder;
    for (int k = 0; k < 5000; k++) {
        const double s = rng_range(&rng, -30.0, r.length + 30.0);
        const double d = rng_range(&rng, dmin, dmax);
        road_pose p = road_pose_at(&r, s, d);
        ck_assert(p.heading > -WM_PI && p.heading <= WM_PI);
        double s2, d2;
        /* Half the queries reuse the last hint (a jump anywhere), half a
         * nearby one as in the simulation loop. */
        if (k % 2) hint = true_segment(&r, s) + (int)(rng_u64(&rng) % 3) - 1;
        road_project(&r, p.x, p.y, &hint, &s2, &d2);
        ck_assert_msg(fabs(s2 - s) < TOL && fabs(d2 - d) < TOL,
                      "seed %llu k %d: (s, d) = (%.12f, %.12f) came back as (%.12f, %.12f)",
                      (unsigned long long)seed, k, s, d, s2, d2);
        const road_segment *g = &r.segments[hint];
        ck_assert(hint >= 0 && hint < r.n_segments);
        ck_assert(s2 >= g->s0 - TOL || hint == 0);
        ck_assert(s2 <= g->s0 + g->length + TOL || hint == r.n_segments - 1);
        /* The pose's heading is the road direction: a step along it is a step in s. */
        road_pose q = road_pose_at(&r, s + 1e-4, d);
        const double ds_dir = (q.x - p.x) * cos(p.heading) + (q.y - p.y) * sin(p.heading);
        ck_assert(ds_dir > 0.0);
    }
}

START_TEST(round_trip_straight) { check_round_trip(straight_road, 1, 1); }
END_TEST
START_TEST(round_trip_left_arc) { check_round_trip(left_arc_road, 1, 2); }
END_TEST
START_TEST(round_trip_right_arc) { check_round_trip(right_arc_road, 1, 3); }
END_TEST
START_TEST(round_trip_multi_segment) {
    check_round_trip(multi_road, 8, 4);
    check_round_trip(multi_road, 8, 5);
}
END_TEST

START_TEST(joints_are_continuous) {
    scenario_road sr = make_road(multi_road, 8);
    road r;
    road_init(&r, &sr);
    for (int i = 1; i < r.n_segments; i++) {
        const double s = r.segments[i].s0;
        /* The last representable s before the joint still evaluates segment i-1. */
        const double before = nextafter(s, -INFINITY);
        ck_assert_int_eq(true_segment(&r, before), i - 1);
        for (double d = -0.5; d <= 11.0; d += 5.75) {
            road_pose a = road_pose_at(&r, before, d), b = road_pose_at(&r, s, d);
            ck_assert_msg(hypot(a.x - b.x, a.y - b.y) < TOL, "joint %d, d %g: gap %g m", i, d,
                          hypot(a.x - b.x, a.y - b.y));
            ck_assert_double_eq_tol(wrap_angle(a.heading - b.heading), 0.0, TOL);
        }
        ck_assert(road_curvature_at(&r, s) == multi_road[i][1]);
        ck_assert(road_curvature_at(&r, before) == multi_road[i - 1][1]);
    }
}
END_TEST

START_TEST(extension_beyond_the_ends) {
    /* Starts on a left arc and ends on a left quarter: both ends extend straight. */
    const double R = 40.0;
    const double seg[][2] = {{20.0, 1.0 / R}, {30.0, 0.0}, {WM_PI / 2 * R, 1.0 / R}};
    scenario_road sr = make_road(seg, 3);
    road r;
    road_init(&r, &sr);
    road_pose p = road_pose_at(&r, -10.0, 1.0);
    ck_assert_double_eq_tol(p.x, -10.0, TOL);
    ck_assert_double_eq_tol(p.y, 1.0, TOL);
    ck_assert_double_eq_tol(p.heading, 0.0, TOL);
    int hint = 2;
    double s, d;
    road_project(&r, -10.0, 1.0, &hint, &s, &d);
    ck_assert_double_eq_tol(s, -10.0, TOL);
    ck_assert_double_eq_tol(d, 1.0, TOL);
    ck_assert_int_eq(hint, 0);
    /* Past the end: straight on along the end heading, 25 m. */
    road_pose e = road_pose_at(&r, r.length, 0.0);
    p = road_pose_at(&r, r.length + 25.0, -0.5);
    const double eh = e.heading;
    ck_assert_double_eq_tol(p.x, e.x + 25.0 * cos(eh) + 0.5 * sin(eh), TOL);
    ck_assert_double_eq_tol(p.y, e.y + 25.0 * sin(eh) - 0.5 * cos(eh), TOL);
    ck_assert_double_eq_tol(p.heading, eh, TOL);
    hint = 0;
    road_project(&r, p.x, p.y, &hint, &s, &d);
    ck_assert_double_eq_tol(s, r.length + 25.0, TOL);
    ck_assert_double_eq_tol(d, -0.5, TOL);
    ck_assert_int_eq(hint, 2);
    ck_assert(road_curvature_at(&r, -1.0) == 0.0 && road_curvature_at(&r, r.length + 1) == 0.0);
    ck_assert(road_curvature_at(&r, 0.0) == 1.0 / R && road_curvature_at(&r, r.length) == 1.0 / R);
}
END_TEST

/* A road that curls back: seg 0 turns left a quarter, seg 1 right half a
 * circle, seg 2 runs back down past seg 0's start. Points on seg 2 lie
 * inside seg 0's wedge (beyond its centre), so a walk that trusts the first
 * in-span segment would answer seg 0 with d = -270 m. */
START_TEST(stale_hint_finds_the_segment) {
    const double seg[][2] = {{25 * WM_PI, 1.0 / 50}, {100 * WM_PI, -1.0 / 100}, {250.0, 0.0}, {50.0, 0.0}};
    scenario_road sr = make_road(seg, 4);
    road r;
    road_init(&r, &sr);
    ck_assert_double_eq_tol(r.segments[2].x0, 250.0, TOL); /* the geometry is as drawn */
    ck_assert_double_eq_tol(r.segments[2].y0, 50.0, TOL);
    const int hints[] = {0, 1, 2, 3, -5, 99};
    for (int i = 0; i < 4; i++) {
        for (double frac = 0.05; frac < 1.0; frac += 0.3) {
            const double s = r.segments[i].s0 + frac * r.segments[i].length, d = 1.75;
            road_pose p = road_pose_at(&r, s, d);
            for (size_t h = 0; h < sizeof hints / sizeof hints[0]; h++) {
                int hint = hints[h];
                double s2, d2;
                road_project(&r, p.x, p.y, &hint, &s2, &d2);
                ck_assert_msg(fabs(s2 - s) < TOL && fabs(d2 - d) < TOL,
                              "seg %d hint %d: (%g, %g) came back as (%g, %g)", i, hints[h], s, d, s2, d2);
                ck_assert_int_eq(hint, i);
            }
        }
    }
}
END_TEST

START_TEST(lanes_and_drivable_area) {
    scenario_road sr = make_road(straight_road, 1);
    road r;
    road_init(&r, &sr);
    ck_assert(road_lane_center(&r, 0) == 1.75);
    ck_assert(road_lane_center(&r, 2) == 8.75);
    ck_assert_int_eq(road_lane_at(&r, 0.0), 0);
    ck_assert_int_eq(road_lane_at(&r, nextafter(3.5, 0)), 0);
    ck_assert_int_eq(road_lane_at(&r, 3.5), 1);
    ck_assert_int_eq(road_lane_at(&r, 8.75), 2);
    ck_assert_int_eq(road_lane_at(&r, nextafter(10.5, 0)), 2);
    ck_assert_int_eq(road_lane_at(&r, 10.5), -1);
    ck_assert_int_eq(road_lane_at(&r, nextafter(0.0, -1)), -1);
    ck_assert_int_eq(road_lane_at(&r, NAN), -1);
    /* 2.6 × 3 rounds up to 7.800000000000001, so d = 7.8 is on the road, yet
     * 7.8 / 2.6 rounds to 3.0: it must still be the last lane, not a fourth. */
    sr.lane_width = 2.6;
    road_init(&r, &sr);
    ck_assert(7.8 < 3 * r.lane_width && floor(7.8 / r.lane_width) == 3.0);
    ck_assert_int_eq(road_lane_at(&r, 7.8), 2);
    sr.lane_width = 3.5;
    road_init(&r, &sr);
    /* Drivable: [-0.5, 11.0] for the whole body; half-width 1. The edges are
     * exact in binary; 1e-12 past them is out (one ulp would round back). */
    ck_assert(road_is_drivable(&r, 0.5, 1.0));
    ck_assert(!road_is_drivable(&r, 0.5 - 1e-12, 1.0));
    ck_assert(road_is_drivable(&r, 10.0, 1.0));
    ck_assert(!road_is_drivable(&r, 10.0 + 1e-12, 1.0));
    ck_assert(road_is_drivable(&r, 5.0, 0.0));
    ck_assert(!road_is_drivable(&r, 5.0, 6.0)); /* a body wider than the road */
    ck_assert(!road_is_drivable(&r, NAN, 1.0));
}
END_TEST

int main(void) {
    Suite *s = suite_create("dynamics");
    TCase *tv = tcase_create("vehicle");
    tcase_add_test(tv, state_at_zeroes_the_rest);
    tcase_add_test(tv, center_is_half_a_wheelbase_ahead);
    tcase_add_test(tv, braking_distance_exact);
    tcase_add_test(tv, braking_distance_with_jerk_ramp);
    tcase_add_test(tv, no_reverse_from_standstill);
    tcase_add_test(tv, constant_steer_circle);
    tcase_add_test(tv, steer_rate_limit);
    tcase_add_test(tv, arc_factors_meet_at_the_switch);
    tcase_add_test(tv, substeps_invariance);
    suite_add_tcase(s, tv);
    TCase *tr = tcase_create("road");
    tcase_add_test(tr, init_copies_and_chains);
    tcase_add_test(tr, quarter_circle_endpoints);
    tcase_add_test(tr, nearly_straight_arc_is_not_cancelled);
    tcase_add_test(tr, round_trip_straight);
    tcase_add_test(tr, round_trip_left_arc);
    tcase_add_test(tr, round_trip_right_arc);
    tcase_add_test(tr, round_trip_multi_segment);
    tcase_add_test(tr, joints_are_continuous);
    tcase_add_test(tr, extension_beyond_the_ends);
    tcase_add_test(tr, stale_hint_finds_the_segment);
    tcase_add_test(tr, lanes_and_drivable_area);
    suite_add_tcase(s, tr);
    return run_suite(s);
}
