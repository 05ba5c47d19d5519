/* vehicle.h — ego dynamics: a kinematic bicycle model with actuator rate
 * limits and no reverse.
 *
 * Usage:
 *     vehicle_state st = vehicle_state_at(x, y, yaw, speed);
 *     vehicle_step(&params, &st, &cmd, 0.1, 4);   // one control step, 4 sub-steps
 *
 * The pose is the rear-axle centre; the body box is centred wheelbase/2 ahead
 * of it. Within a sub-step acceleration and steering are constant and the
 * motion is integrated exactly (the vehicle stops at zero speed, it never
 * reverses), so braking distance is v²/(2b) and a held steer angle drives a
 * circle of radius wheelbase / tan(steer). */
#ifndef WMSIM_VEHICLE_H
#define WMSIM_VEHICLE_H

#include "actions/action.h"
#include "scenarios/scenario.h"

typedef struct {
    double x, y, yaw;   /* rear axle, m; rad */
    double speed;       /* m/s, >= 0 */
    double yaw_rate;    /* rad/s, over the last step */
    double accel;       /* m/s², longitudinal, over the last step (negative braking) */
    action applied;     /* actuator state after rate limits */
} vehicle_state;

vehicle_state vehicle_state_at(double x, double y, double yaw, double speed);

/* Advances by dt seconds under command cmd (already range-checked), in
 * substeps equal parts; actuators follow cmd within p->limits' rate limits. */
void vehicle_step(const vehicle_params *p, vehicle_state *st, const action *cmd, double dt, int substeps);

/* Centre of the body box. */
void vehicle_center(const vehicle_params *p, const vehicle_state *st, double *cx, double *cy);

#endif
