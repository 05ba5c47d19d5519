/* The explore wrapper: another policy's actions with smooth random offsets
 * and occasional hard braking and swerves, so that training clips cover the
 * action space and not only the expert's narrow habits. The inner policy
 * still drives, so it recovers from each push and episodes stay plausible.
 *
 * Offsets are Ornstein-Uhlenbeck processes (mean-reverting noise): they
 * wander for seconds, as a human's pedal and wheel do, rather than jitter
 * from step to step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/mathx.h"
#include "core/rng.h"
#include "sim/policy.h"

#define EXPLORE_ACCEL_TAU 2.0   /* s: how long a longitudinal offset lasts */
#define EXPLORE_ACCEL_SIGMA 0.8 /* m/s², stationary spread */
#define EXPLORE_STEER_TAU 1.5
#define EXPLORE_STEER_SIGMA 0.006 /* rad: a lane-wander, not a lane change */
#define EXPLORE_BRAKE_RATE (1.0 / 15.0)  /* hard brakes per second */
#define EXPLORE_SWERVE_RATE (1.0 / 20.0) /* swerves per second */

typedef struct {
    policy inner;
    uint64_t seed;
    wm_rng rng;
    double accel_offset, steer_offset;
    double brake_until, brake_level;              /* a hard-brake event */
    double swerve_until, swerve_steer;            /* a swerve event */
} explore_state;

static int explore_reset(policy *self, const sim_world *w, wm_error *err) {
    explore_state *st = self->state;
    rng_init(&st->rng, st->seed);
    st->accel_offset = st->steer_offset = 0.0;
    st->brake_until = st->swerve_until = -1.0;
    return st->inner.reset(&st->inner, w, err);
}

/* One exact OU step of dt: x decays towards 0 and gains fresh noise so that
 * its spread stays sigma. */
static double ou_step(wm_rng *r, double x, double tau, double sigma, double dt) {
    double a = exp(-dt / tau);
    return a * x + sigma * sqrt(1.0 - a * a) * rng_normal(r);
}

static int explore_act(policy *self, const policy_observation *obs, action *cmd,
                       char reasoning[POLICY_REASONING_MAX], wm_error *err) {
    explore_state *st = self->state;
    if (st->inner.act(&st->inner, obs, cmd, reasoning, err)) return -1;
    const action_limits *lim = &obs->world->ego_params.limits;
    wm_rng *r = &st->rng;
    st->accel_offset = ou_step(r, st->accel_offset, EXPLORE_ACCEL_TAU, EXPLORE_ACCEL_SIGMA, SIM_DT);
    st->steer_offset = ou_step(r, st->steer_offset, EXPLORE_STEER_TAU, EXPLORE_STEER_SIGMA, SIM_DT);
    /* Both event draws happen every step, so the stream does not depend on
     * which events were active. */
    double u_brake = rng_uniform(r), u_swerve = rng_uniform(r), u_a = rng_uniform(r), u_b = rng_uniform(r);
    if (obs->t >= st->brake_until && u_brake < EXPLORE_BRAKE_RATE * SIM_DT)
        st->brake_until = obs->t + 1.0 + u_a, st->brake_level = (0.5 + 0.4 * u_b) * lim->brake_max;
    if (obs->t >= st->swerve_until && u_swerve < EXPLORE_SWERVE_RATE * SIM_DT)
        st->swerve_until = obs->t + 0.4 + 0.4 * u_b, st->swerve_steer = (u_a < 0.5 ? -1 : 1) * (0.06 + 0.06 * u_b) * lim->steer_max;

    double net = cmd->accel - cmd->brake + st->accel_offset;
    cmd->accel = clampd(net, 0.0, lim->accel_max);
    cmd->brake = clampd(-net, 0.0, lim->brake_max);
    cmd->steer = clampd(cmd->steer + st->steer_offset, -lim->steer_max, lim->steer_max);
    const char *event = "";
    if (obs->t < st->brake_until) cmd->accel = 0.0, cmd->brake = st->brake_level, event = "; exploring: hard brake";
    if (obs->t < st->swerve_until) cmd->steer = st->swerve_steer, event = "; exploring: swerve";
    size_t n = strlen(reasoning);
    snprintf(reasoning + n, POLICY_REASONING_MAX - n, "%s", event);
    return 0;
}

static void explore_destroy(policy *self) {
    explore_state *st = self->state;
    st->inner.destroy(&st->inner);
    policy_free_state(self);
}

void policy_explore_wrap(policy *inner, uint64_t seed, policy *out) {
    policy wrapped = *inner;
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%.200s+explore", wrapped.name);
    out->sees_frames = wrapped.sees_frames;
    explore_state *st = CALLOC_CHECK(1, sizeof *st);
    st->inner = wrapped;
    st->seed = seed;
    out->state = st;
    out->reset = explore_reset;
    out->act = explore_act;
    out->destroy = explore_destroy;
}
