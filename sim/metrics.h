/* metrics.h — closed-loop scoring from the symbolic state, modelled on
 * nuPlan's closed-loop score (CLS):
 *
 *   score = Π multipliers × (5·progress + 5·ttc + 4·speed_limit + 2·comfort) / 16
 *
 * multipliers: at-fault collision (0 with a road user, 0.5 with a cone or
 * barrier), drivable-area compliance (0 when the ego leaves it), making
 * progress (0 under 20 % of the route), traffic-guard compliance (0 for
 * crossing a stop line during STOP; 0.5 for not moving off within 3 s of
 * PROCEED, passing a SLOW guard too fast, or passing a TURN guard on the
 * wrong side). Never computed from pixels.
 *
 * Usage:
 *     metrics m;  metrics_init(&m, world);
 *     after every sim_step:  metrics_update(&m, world);
 *     metrics_finish(&m, world);   // m.score, m.passed, m.reasons */
#ifndef WMSIM_METRICS_H
#define WMSIM_METRICS_H

#include <stdint.h>

#include "sim/world.h"

#define METRICS_MAX_REASONS 16
#define METRICS_REASON_LEN 512
/* nuPlan's thresholds (nuplan-devkit, closed-loop metric configs). */
#define METRICS_TTC_MIN_S 0.95
#define METRICS_OVERSPEED_TOLERANCE 2.23
#define METRICS_MIN_PROGRESS 0.2
#define METRICS_PROCEED_WAIT_S 3.0

typedef enum {
    FINDING_COLLISION,
    FINDING_OFF_ROAD,
    FINDING_GUARD,
    FINDING_GOAL,
    FINDING_SCORE,
    FINDING_POLICY
} finding_kind;

typedef struct {
    /* route */
    double start_s, goal_s;
    double progress;          /* [0, 1] of the route */
    int goal_reached;
    /* multipliers */
    double collision_mult, drivable_mult, progress_mult, guard_mult;
    int at_fault_collision;   /* ends the episode */
    uint64_t collided_with;   /* bit i: actor i already counted */
    /* weighted terms */
    double min_ttc;           /* s */
    double overspeed_integral; /* m: ∫ max(0, v - limit) dt */
    double speed_limit_score, ttc_score, comfort_score;
    /* comfort, on 0.5 s moving averages (nuPlan filters its signals too) */
    double accel_hist[5], yaw_rate_hist[5];
    double prev_accel_avg, prev_yaw_rate_avg;
    double max_lon_accel, min_lon_accel, max_abs_lat_accel;
    double max_abs_yaw_rate, max_abs_yaw_accel, max_abs_lon_jerk;
    /* guards */
    double prev_front_s;
    double proceed_wait_start[SCENARIO_MAX_ACTORS]; /* < 0: not waiting */
    /* outcome */
    double elapsed;
    double score;
    int passed;
    int n_reasons;
    finding_kind reason_kind[METRICS_MAX_REASONS];
    char reasons[METRICS_MAX_REASONS][METRICS_REASON_LEN];
} metrics;

void metrics_init(metrics *m, const sim_world *w);
void metrics_update(metrics *m, const sim_world *w);
/* Records a failure that is not the world's (e.g. a policy error). */
void metrics_add_failure(metrics *m, finding_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Computes score and pass/fail against the scenario's success criteria;
 * afterwards reasons[] holds only the findings that fail the episode. */
void metrics_finish(metrics *m, const sim_world *w);

/* Named values for result.json and the log, in a fixed order. */
#define METRICS_N_VALUES 18
void metrics_values(const metrics *m, const char *names[METRICS_N_VALUES], double values[METRICS_N_VALUES]);

#endif
