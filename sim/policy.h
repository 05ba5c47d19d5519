/* policy.h — the one interface every driving policy sits behind.
 *
 * Usage:
 *     policy pol;
 *     if (policy_create("expert", NULL, &pol, &err)) die(err.msg);   // NULL: default options
 *     pol.reset(&pol, world, &err);
 *     each step: pol.act(&pol, &obs, &cmd, reasoning, &err);   // cmd is range-checked by the caller
 *     pol.destroy(&pol);
 *
 * Built-in policies ("expert", "cruise") are privileged: they read the
 * symbolic world through obs->world. Policies that see only pixels set
 * sees_frames, get the camera frame in obs->frame and must not touch
 * obs->world: "vla-tiny" (the project's camera-based baseline,
 * POLICY_VLA_TINY_PATH) or "vla:PATH.wmck" (another vla checkpoint,
 * worldmodel/vla.h). External policies (the policy under test lives outside
 * wmsim) are specs:
 *     exec:CMD ARGS...   a process spawned without a shell (ARGS split at
 *                        spaces, no quoting), speaking sim/policy_protocol.proto
 *                        on its stdin/stdout
 *     unix:PATH          a running policy server's Unix stream socket, same protocol
 *     lib:PATH.so ARGS   a shared library with the C ABI of clients/c/wmsim_policy.h,
 *                        ARGS (the rest of the spec) handed to its create
 * Their failures (timeout, crash, closed stream, oversized or undecodable
 * answers, a wrong step) come back from act as errors whose text names the
 * policy, the step and the reason; the episode ends there and a later reset
 * starts the process (or connection) anew, so a batch goes on. */
#ifndef WMSIM_POLICY_H
#define WMSIM_POLICY_H

#include <stddef.h>

#include "actions/action.h"
#include "core/error.h"
#include "render/image.h"
#include "sim/world.h"

#define POLICY_REASONING_MAX 256
#define POLICY_PLAN_MAX 32 /* planned-path points an answer may carry */

typedef struct {
    const sim_world *world; /* privileged state, for built-in policies only */
    const char *episode_id; /* "SCENARIO_ID/SEED" */
    int step;
    double t;               /* s */
    double speed, yaw_rate; /* ego, m/s and rad/s */
    const char *instruction;
    const action_limits *limits; /* what the answer must respect */
    const image *frame;     /* the front camera at t; NULL unless the policy sees_frames */
} policy_observation;

typedef struct policy policy;
struct policy {
    char name[256];
    int sees_frames; /* needs obs->frame every step */
    /* The path the last answer planned, in the ego frame at the observation
     * (x ahead, y left, m; t s from then): act sets it when the policy
     * plans; the episode clears it before each act and logs it after. */
    int n_plan;
    double plan[POLICY_PLAN_MAX][3];
    void *state;
    int (*reset)(policy *self, const sim_world *w, wm_error *err);
    /* Fills cmd and, optionally, reasoning (free text shown in logs/reports). */
    int (*act)(policy *self, const policy_observation *obs, action *cmd,
               char reasoning[POLICY_REASONING_MAX], wm_error *err);
    void (*destroy)(policy *self);
};

/* How long and how much an external policy may take. */
typedef struct {
    double step_timeout_s;    /* for each Action (default 5) */
    double startup_timeout_s; /* for the first Action after a start or connect (default 30) */
    size_t max_message_bytes; /* an Action's encoded size (default 1 MiB) */
} policy_options;

policy_options policy_options_default(void);

/* spec: "expert", "cruise", or an external policy (above); o NULL: defaults.
 * Unknown specs fail with the list of known ones; an external policy that
 * cannot start fails here with the reason. */
int policy_create(const char *spec, const policy_options *o, policy *pol, wm_error *err);

/* destroy for policies whose state is one malloc'ed block. */
void policy_free_state(policy *pol);

/* The built-ins, for policy_create and tests. */
void policy_expert_init(policy *pol);
void policy_cruise_init(policy *pol);

/* Wraps inner (taken over: out's destroy destroys it) so its actions get
 * smooth random offsets and occasional hard brakes and swerves, seeded; for
 * training clips that cover the action space. Named "INNER+explore". */
void policy_explore_wrap(policy *inner, uint64_t seed, policy *out);

/* The external kinds, for policy_create: spec without its "exec:"/"unix:"
 * or "lib:" prefix (sim/policy_external.c, sim/policy_lib.c). */
int policy_exec_create(const char *cmdline, const policy_options *o, policy *pol, wm_error *err);
int policy_unix_create(const char *path, const policy_options *o, policy *pol, wm_error *err);
int policy_lib_create(const char *path_and_args, policy *pol, wm_error *err);

#define POLICY_VLA_TINY_PATH "models/vla-tiny.wmck"
/* A vla checkpoint as a policy (sim/policy_vla.c); errors name the file. */
int policy_vla_create(const char *path, policy *pol, wm_error *err);

#endif
