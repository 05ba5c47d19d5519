/* action.h — the driving action: what a policy commands each 0.1 s step.
 *
 * Usage:
 *     action a = {.accel = 1.2, .brake = 0, .steer = 0.05};
 *     if (action_check(&a, &limits, &err)) ...   // "steer 0.700 rad outside [-0.5, 0.5]"
 *     action applied = action_rate_limit(&prev, &a, &limits, 0.1);
 *
 *     action_seq seq = {0};
 *     if (action_seq_read_csv("actions.csv", &seq, &err)) ...  // "actions.csv:7: ..."
 *     action_seq_free(&seq);
 *
 * Units: accel and brake in m/s² (both >= 0, applied as accel - brake), steer
 * in rad at the front wheel, positive to the left. */
#ifndef WMSIM_ACTION_H
#define WMSIM_ACTION_H

#include <stddef.h>

#include "core/error.h"

typedef struct {
    double accel; /* m/s², [0, accel_max] */
    double brake; /* m/s², [0, brake_max] */
    double steer; /* rad,  [-steer_max, steer_max] */
} action;

typedef struct {
    double accel_max, brake_max, steer_max; /* m/s², m/s², rad */
    double jerk_max;       /* m/s³: how fast accel and brake may change */
    double steer_rate_max; /* rad/s */
} action_limits;

/* Defaults of a mid-size car (match scenario.proto's VehicleParams). */
action_limits action_limits_default(void);

/* 0 when a is finite and within limits; else -1 naming the field, value and range. */
int action_check(const action *a, const action_limits *lim, wm_error *err);

/* Clamps into limits (NaN → 0). Returns 1 if anything changed. */
int action_clamp(action *a, const action_limits *lim);

/* The action the actuators reach from prev in dt seconds when commanded cmd:
 * each field moves toward cmd by at most its rate limit × dt. */
action action_rate_limit(const action *prev, const action *cmd, const action_limits *lim, double dt);

/* A timed action sequence (t in s, strictly increasing). */
typedef struct {
    double *t;
    action *a;
    size_t n, cap;
} action_seq;

void action_seq_push(action_seq *seq, double t, action a);
void action_seq_free(action_seq *seq);

/* CSV with the header "t,accel,brake,steer". Errors name the file and line:
 * "file.csv:7: steer: not a number: 'abc'". */
int action_seq_read_csv(const char *path, action_seq *seq, wm_error *err);
int action_seq_write_csv(const char *path, const action_seq *seq, wm_error *err);
/* JSON lines: {"t":0.1,"accel":1.0,"brake":0,"steer":0.02} per line. */
int action_seq_read_jsonl(const char *path, action_seq *seq, wm_error *err);
int action_seq_write_jsonl(const char *path, const action_seq *seq, wm_error *err);

#endif
