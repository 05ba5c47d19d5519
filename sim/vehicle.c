/* vehicle.c — kinematic bicycle about the rear axle, integrated exactly.
 *
 * Glossary: v speed, a net longitudinal acceleration (accel - brake), h
 * sub-step length, tau time spent moving within a sub-step, ds path length,
 * kappa = tan(steer) / wheelbase path curvature, dpsi = kappa * ds yaw change.
 *
 * With a and steer constant over a sub-step the path is a circular arc of
 * curvature kappa whatever the speed profile along it, so only its length ds
 * depends on a: that is why the result does not depend on the number of
 * sub-steps while the actuators are at rest. */
#include "sim/vehicle.h"

#include <math.h>

#include "core/mathx.h"

/* sin(x)/x and (1 - cos x)/x, both to about an ulp. Below |x| = 0.25 the Taylor series is used:
 * its first dropped terms (x^12/13!, x^13/14!) are under 1e-17 there, and it
 * avoids both the 0/0 at x = 0 and the cancellation in 1 - cos x. */
static inline void arc_factors(double x, double *sinc, double *cosc) {
    if (fabs(x) < 0.25) {
        const double x2 = x * x;
        /* Coefficients as folded constants: a chain of divisions by 3!, 5!, ...
         * would cost more than the sin and cos it replaces. */
        *sinc = 1.0 + x2 * (-1.0 / 6 + x2 * (1.0 / 120 + x2 * (-1.0 / 5040 + x2 * (1.0 / 362880 +
                x2 * (-1.0 / 39916800)))));
        *cosc = x * (1.0 / 2 + x2 * (-1.0 / 24 + x2 * (1.0 / 720 + x2 * (-1.0 / 40320 + x2 * (1.0 / 3628800 +
                x2 * (-1.0 / 479001600))))));
    } else {
        const double s = sin(x), c = cos(x);
        *sinc = s / x;
        /* sin²/(1 + cos) is 1 - cos without cancellation while cos >= 0. */
        *cosc = c >= 0.0 ? s * *sinc / (1.0 + c) : (1.0 - c) / x;
    }
}

vehicle_state vehicle_state_at(double x, double y, double yaw, double speed) {
    vehicle_state st = {0};
    st.x = x;
    st.y = y;
    st.yaw = isfinite(yaw) ? wrap_angle(yaw) : yaw; /* wrap_angle never ends on inf */
    st.speed = speed > 0.0 ? speed : 0.0; /* there is no reverse */
    return st;
}

void vehicle_step(const vehicle_params *p, vehicle_state *st, const action *cmd, double dt, int substeps) {
    if (!(dt > 0.0)) return;
    if (substeps < 1) substeps = 1;
    const double h = dt / substeps;
    const double v_start = st->speed;
    double x = st->x, y = st->y, yaw = st->yaw, v = st->speed, yaw_change = 0.0;
    action applied = st->applied;
    /* tan is the dearest call here and the steer is usually held; the cache
     * starts at steer 0, kappa 0, which is consistent. */
    double kappa_steer = 0.0, kappa = 0.0;
    /* cos/sin of the yaw are carried through the sub-steps by rotation, which
     * the arc factors already give, instead of a sincos per sub-step. */
    double c = cos(yaw), s = sin(yaw);
    for (int i = 0; i < substeps; i++) {
        applied = action_rate_limit(&applied, cmd, &p->limits, h);
        const double a = applied.accel - applied.brake;
        double v_end = v + a * h, ds;
        if (v_end >= 0.0) {
            ds = (v + 0.5 * a * h) * h;
        } else {
            /* Stops at tau = -v/a inside the sub-step and stays stopped. */
            ds = -v * v / (2.0 * a);
            v_end = 0.0;
        }
        if (ds > 0.0) {
            if (applied.steer != kappa_steer) {
                kappa_steer = applied.steer;
                kappa = tan(applied.steer) / p->wheelbase;
            }
            const double dpsi = kappa * ds;
            double sinc, cosc;
            arc_factors(dpsi, &sinc, &cosc);
            /* Chord of the arc: ds·sinc along the heading, ds·cosc to its left. */
            x += ds * (c * sinc - s * cosc);
            y += ds * (s * sinc + c * cosc);
            const double cd = 1.0 - dpsi * cosc, sd = dpsi * sinc; /* cos, sin of dpsi */
            const double c_next = c * cd - s * sd;
            s = s * cd + c * sd;
            c = c_next;
            yaw = wrap_angle(yaw + dpsi);
            yaw_change += dpsi;
        }
        v = v_end;
    }
    st->x = x;
    st->y = y;
    st->yaw = yaw;
    st->speed = v;
    st->applied = applied;
    st->yaw_rate = yaw_change / dt;
    st->accel = (v - v_start) / dt;
}

void vehicle_center(const vehicle_params *p, const vehicle_state *st, double *cx, double *cy) {
    const double half = 0.5 * p->wheelbase;
    *cx = st->x + half * cos(st->yaw);
    *cy = st->y + half * sin(st->yaw);
}
