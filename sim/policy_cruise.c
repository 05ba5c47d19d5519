/* The cruise baseline: keeps its start lane at the speed limit and sees
 * nothing else — no guards, no obstacles, no other road users. Scenarios that
 * test reactions must fail it; that is how they prove they test something. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "sim/policy.h"
#include "sim/policy_control.h"

#define CRUISE_JERK 2.5

typedef struct {
    double prev_accel;
} cruise_state;

static int cruise_reset(policy *self, const sim_world *w, wm_error *err) {
    (void)w, (void)err;
    ((cruise_state *)self->state)->prev_accel = 0.0;
    return 0;
}

static int cruise_act(policy *self, const policy_observation *obs, action *cmd,
                      char reasoning[POLICY_REASONING_MAX], wm_error *err) {
    (void)err;
    cruise_state *st = self->state;
    const sim_world *w = obs->world;
    double v_ref = sim_speed_limit_at(w, sim_ego_front_s(w));
    double desired = control_idm_accel(w->ego.speed, v_ref, INFINITY, 0.0, 1.5, 2.0);
    *cmd = control_accel_to_action(w, desired, &st->prev_accel, CRUISE_JERK);
    cmd->steer = control_steer_to_offset(w, road_lane_center(&w->road, w->sc->ego.lane));
    snprintf(reasoning, POLICY_REASONING_MAX, "keeping lane %d at %.1f m/s", w->sc->ego.lane, v_ref);
    return 0;
}

void policy_cruise_init(policy *pol) {
    memset(pol, 0, sizeof *pol);
    snprintf(pol->name, sizeof pol->name, "cruise");
    pol->state = CALLOC_CHECK(1, sizeof(cruise_state));
    pol->reset = cruise_reset;
    pol->act = cruise_act;
    pol->destroy = policy_free_state;
}
