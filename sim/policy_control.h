/* policy_control.h — low-level controllers shared by the built-in policies:
 * pure-pursuit steering onto a lateral offset of the road, and turning a
 * desired acceleration into an action with a comfortable jerk. */
#ifndef WMSIM_POLICY_CONTROL_H
#define WMSIM_POLICY_CONTROL_H

#include "actions/action.h"
#include "sim/world.h"

/* Steer angle that makes the ego converge onto road offset target_d. */
double control_steer_to_offset(const sim_world *w, double target_d);

/* Acceleration of the Intelligent Driver Model: free-road term towards
 * v_ref, plus interaction with a body `gap` metres ahead moving at lead_speed
 * (gap = INFINITY for none). */
double control_idm_accel(double v, double v_ref, double gap, double lead_speed,
                         double time_headway, double min_gap);

/* Command for a desired acceleration. prev_accel is the last value returned
 * through *prev_accel; changes are limited to `jerk` m/s³ unless the desired
 * value is an emergency stop (harder than 4 m/s², beyond comfort). */
action control_accel_to_action(const sim_world *w, double desired, double *prev_accel, double jerk);

#endif
