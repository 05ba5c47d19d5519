/* policy_lib.c — a policy in a shared library with the C ABI of
 * clients/c/wmsim_policy.h, loaded with dlopen. It runs in wmsim's process:
 * its errors are reported like any policy's, its crashes are wmsim's. */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/c/wmsim_policy.h"
#include "core/check.h"
#include "sim/policy.h"

typedef struct {
    void *lib;
    void *handle; /* what the library's create returned */
    int (*abi_version)(void);
    void *(*create)(const char *, char *, size_t);
    int (*reset)(void *, const char *, char *, size_t);
    int (*step)(void *, const wmsim_policy_observation *, wmsim_policy_action *, char *, size_t);
    void (*destroy)(void *);
} lib_state;

/* The library's reset runs at step 0, when the episode's id is known. */
static int lib_reset(policy *self, const sim_world *w, wm_error *err) {
    (void)self, (void)w, (void)err;
    return 0;
}

static int lib_act(policy *self, const policy_observation *obs, action *cmd, char reasoning[POLICY_REASONING_MAX],
                   wm_error *err) {
    lib_state *st = self->state;
    const char *episode_id = obs->episode_id ? obs->episode_id : "";
    char why[512] = "";
    if (obs->step == 0 && st->reset(st->handle, episode_id, why, sizeof why))
        return wm_fail(err, "policy %s: reset failed: %.*s", self->name, (int)sizeof why, why);
    wmsim_policy_frame frame = {0};
    wmsim_policy_observation o = {.episode_id = episode_id,
                                  .step = obs->step, .t_s = obs->t, .speed_mps = obs->speed,
                                  .yaw_rate_rps = obs->yaw_rate, .instruction = obs->instruction ? obs->instruction : ""};
    if (obs->limits)
        o.accel_max = obs->limits->accel_max, o.brake_max = obs->limits->brake_max, o.steer_max = obs->limits->steer_max;
    if (obs->frame) {
        frame = (wmsim_policy_frame){"front", obs->frame->width, obs->frame->height, obs->frame->rgb};
        o.n_frames = 1, o.frames = &frame;
    }
    wmsim_policy_action a;
    memset(&a, 0, sizeof a);
    if (st->step(st->handle, &o, &a, why, sizeof why))
        return wm_fail(err, "policy %s: step %d failed: %.*s", self->name, obs->step, (int)sizeof why, why);
    if (a.n_trajectory < 0 || a.n_trajectory > WMSIM_POLICY_TRAJECTORY_MAX)
        return wm_fail(err, "policy %s: step %d returned n_trajectory %d outside [0, %d]", self->name, obs->step,
                       a.n_trajectory, WMSIM_POLICY_TRAJECTORY_MAX);
    for (int i = 0; i < a.n_trajectory; i++) {
        const wmsim_policy_waypoint *w = &a.trajectory[i];
        if (!isfinite(w->x_m) || !isfinite(w->y_m) || !isfinite(w->t_s))
            return wm_fail(err, "policy %s: step %d returned waypoint %d not finite", self->name, obs->step, i);
        self->plan[i][0] = w->x_m, self->plan[i][1] = w->y_m, self->plan[i][2] = w->t_s;
    }
    self->n_plan = a.n_trajectory;
    *cmd = (action){a.accel, a.brake, a.steer};
    /* The library may have left reasoning unterminated; %.*s reads no further than its array. */
    snprintf(reasoning, POLICY_REASONING_MAX, "%.*s", (int)sizeof a.reasoning, a.reasoning);
    return 0;
}

static void lib_destroy(policy *self) {
    lib_state *st = self->state;
    if (!st) return;
    if (st->handle) st->destroy(st->handle);
    if (st->lib) dlclose(st->lib);
    free(st);
    self->state = NULL;
}

/* dlsym into a function pointer: POSIX guarantees the conversion works, C
 * does not allow it directly, hence the memcpy. */
static int lib_symbol(lib_state *st, const char *name, void *fn, size_t size, const char *policy_name,
                      wm_error *err) {
    void *sym = dlsym(st->lib, name);
    if (!sym) return wm_fail(err, "policy %s: the library lacks %s", policy_name, name);
    memcpy(fn, &sym, size);
    return 0;
}

int policy_lib_create(const char *path_and_args, policy *pol, wm_error *err) {
    memset(pol, 0, sizeof *pol);
    size_t path_len = strcspn(path_and_args, " \t");
    if (path_len == 0) return wm_fail(err, "--policy lib: no library path (expected lib:PATH.so ARGS)");
    char *path = STRDUP_CHECK(path_and_args);
    path[path_len] = '\0';
    const char *args = path_and_args + path_len;
    args += strspn(args, " \t");
    snprintf(pol->name, sizeof pol->name, "lib:%s", path_and_args);
    lib_state *st = CALLOC_CHECK(1, sizeof *st);
    pol->state = st;
    pol->sees_frames = 1;
    pol->reset = lib_reset;
    pol->act = lib_act;
    pol->destroy = lib_destroy;
    /* A bare file name would make dlopen search the loader's path, not the working directory. */
    char resolved[4200];
    snprintf(resolved, sizeof resolved, "%s%s", strchr(path, '/') ? "" : "./", path);
    free(path);
    st->lib = dlopen(resolved, RTLD_NOW | RTLD_LOCAL);
    int rc = -1;
    char why[512] = "";
    if (!st->lib) {
        wm_fail(err, "policy %s: cannot load: %s", pol->name, dlerror());
    } else if (lib_symbol(st, "wmsim_policy_abi_version", &st->abi_version, sizeof st->abi_version, pol->name, err) ||
               lib_symbol(st, "wmsim_policy_create", &st->create, sizeof st->create, pol->name, err) ||
               lib_symbol(st, "wmsim_policy_reset", &st->reset, sizeof st->reset, pol->name, err) ||
               lib_symbol(st, "wmsim_policy_step", &st->step, sizeof st->step, pol->name, err) ||
               lib_symbol(st, "wmsim_policy_destroy", &st->destroy, sizeof st->destroy, pol->name, err)) {
    } else if (st->abi_version() != WMSIM_POLICY_ABI_VERSION) {
        wm_fail(err, "policy %s: ABI version %d, but wmsim speaks %d (clients/c/wmsim_policy.h)", pol->name,
                st->abi_version(), WMSIM_POLICY_ABI_VERSION);
    } else if (!(st->handle = st->create(args, why, sizeof why))) {
        wm_fail(err, "policy %s: create failed: %.*s", pol->name, (int)sizeof why, why);
    } else {
        rc = 0;
    }
    if (rc) lib_destroy(pol);
    return rc;
}
