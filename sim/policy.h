/* policy.h — the one interface every driving policy sits behind.
 *
 * Usage:
 *     policy pol;
 *     if (policy_create("expert", &pol, &err)) die(err.msg);
 *     pol.reset(&pol, world, &err);
 *     each step: pol.act(&pol, &obs, &cmd, &err);   // cmd is range-checked by the caller
 *     pol.destroy(&pol);
 *
 * Built-in policies ("expert", "cruise") are privileged: they read the
 * symbolic world through obs->world. Policies that see only pixels (external
 * processes, camera baselines) receive frames in later extensions of
 * policy_observation and must not touch obs->world. */
#ifndef WMSIM_POLICY_H
#define WMSIM_POLICY_H

#include <stddef.h>

#include "actions/action.h"
#include "core/error.h"
#include "sim/world.h"

#define POLICY_REASONING_MAX 256

typedef struct {
    const sim_world *world; /* privileged state, for built-in policies only */
    int step;
    double t;               /* s */
    double speed, yaw_rate; /* ego, m/s and rad/s */
    const char *instruction;
} policy_observation;

typedef struct policy policy;
struct policy {
    char name[64];
    void *state;
    int (*reset)(policy *self, const sim_world *w, wm_error *err);
    /* Fills cmd and, optionally, reasoning (free text shown in logs/reports). */
    int (*act)(policy *self, const policy_observation *obs, action *cmd,
               char reasoning[POLICY_REASONING_MAX], wm_error *err);
    void (*destroy)(policy *self);
};

/* spec: "expert" or "cruise". Unknown specs fail with the list of known ones. */
int policy_create(const char *spec, policy *pol, wm_error *err);

/* destroy for policies whose state is one malloc'ed block. */
void policy_free_state(policy *pol);

/* The built-ins, for policy_create and tests. */
void policy_expert_init(policy *pol);
void policy_cruise_init(policy *pol);

/* Wraps inner (taken over: out's destroy destroys it) so its actions get
 * smooth random offsets and occasional hard brakes and swerves, seeded; for
 * training clips that cover the action space. Named "INNER+explore". */
void policy_explore_wrap(policy *inner, uint64_t seed, policy *out);

#endif
