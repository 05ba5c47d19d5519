/* action.c — limits, range checks, clamping, rate limiting and the growable
 * action sequence. File formats are in action_io.c. */
#include "actions/action.h"

#include <math.h>
#include <stdlib.h>

#include "core/check.h"

action_limits action_limits_default(void) {
    /* Keep in step with the defaults documented in scenarios/scenario.proto. */
    return (action_limits){
        .accel_max = 3.0,
        .brake_max = 8.0,
        .steer_max = 0.5,
        .jerk_max = 20.0,
        .steer_rate_max = 0.7,
    };
}

int action_check(const action *a, const action_limits *lim, wm_error *err) {
    /* !(v >= lo && v <= hi) rather than v < lo || v > hi, so that nothing
     * slips through if a non-finite value ever reached the range test. */
    if (!isfinite(a->accel)) return wm_fail(err, "accel is not a finite number");
    if (!(a->accel >= 0.0 && a->accel <= lim->accel_max))
        return wm_fail(err, "accel %.3f m/s^2 outside [0, %g]", a->accel, lim->accel_max);
    if (!isfinite(a->brake)) return wm_fail(err, "brake is not a finite number");
    if (!(a->brake >= 0.0 && a->brake <= lim->brake_max))
        return wm_fail(err, "brake %.3f m/s^2 outside [0, %g]", a->brake, lim->brake_max);
    if (!isfinite(a->steer)) return wm_fail(err, "steer is not a finite number");
    if (!(a->steer >= -lim->steer_max && a->steer <= lim->steer_max))
        return wm_fail(err, "steer %.3f rad outside [%g, %g]", a->steer, -lim->steer_max, lim->steer_max);
    return 0;
}

/* Returns 1 when *v had to change. Values already in range are left
 * bit-for-bit alone (a -0.0 accel stays -0.0). */
static int clamp_field(double *v, double lo, double hi) {
    double c = *v;
    if (isnan(c)) c = 0.0;
    else if (c < lo) c = lo;
    else if (c > hi) c = hi;
    if (c == *v) return 0; /* NaN never compares equal, so NaN → 0 counts */
    *v = c;
    return 1;
}

int action_clamp(action *a, const action_limits *lim) {
    int changed = clamp_field(&a->accel, 0.0, lim->accel_max);
    changed |= clamp_field(&a->brake, 0.0, lim->brake_max);
    changed |= clamp_field(&a->steer, -lim->steer_max, lim->steer_max);
    return changed;
}

/* Lands exactly on the target once it is within reach, so a held command is
 * reached bit-for-bit and the actuators then stay at rest. A NaN command holds
 * the current value rather than poisoning the vehicle state. */
static double move_toward(double from, double to, double max_step) {
    if (to > from + max_step) return from + max_step;
    if (to < from - max_step) return from - max_step;
    return isnan(to) ? from : to;
}

action action_rate_limit(const action *prev, const action *cmd, const action_limits *lim, double dt) {
    /* A negative dt would reverse the direction of travel; treat it as no time. */
    const double t = dt > 0.0 ? dt : 0.0;
    const double pedal_step = lim->jerk_max * t, steer_step = lim->steer_rate_max * t;
    return (action){
        .accel = move_toward(prev->accel, cmd->accel, pedal_step),
        .brake = move_toward(prev->brake, cmd->brake, pedal_step),
        .steer = move_toward(prev->steer, cmd->steer, steer_step),
    };
}

void action_seq_push(action_seq *seq, double t, action a) {
    if (seq->n == seq->cap) {
        /* Doubling keeps a push amortised O(1) for logs of any length. */
        size_t cap = seq->cap ? seq->cap * 2 : 64;
        seq->t = REALLOC_CHECK(seq->t, cap, sizeof *seq->t);
        seq->a = REALLOC_CHECK(seq->a, cap, sizeof *seq->a);
        seq->cap = cap;
    }
    seq->t[seq->n] = t;
    seq->a[seq->n] = a;
    seq->n++;
}

void action_seq_free(action_seq *seq) {
    free(seq->t);
    free(seq->a);
    *seq = (action_seq){0};
}
