#include "sim/policy.h"

#include <stdlib.h>
#include <string.h>

policy_options policy_options_default(void) {
    return (policy_options){.step_timeout_s = 5.0, .startup_timeout_s = 30.0, .max_message_bytes = 1u << 20};
}

static int options_check(const policy_options *o, wm_error *err) {
    if (!(o->step_timeout_s > 0 && o->step_timeout_s <= 3600))
        return wm_fail(err, "--policy-timeout: %g s outside (0, 3600]", o->step_timeout_s);
    if (!(o->startup_timeout_s > 0 && o->startup_timeout_s <= 3600))
        return wm_fail(err, "--policy-startup: %g s outside (0, 3600]", o->startup_timeout_s);
    if (o->max_message_bytes < 64 || o->max_message_bytes > (1u << 30))
        return wm_fail(err, "--policy-max-bytes: %zu outside [64, 2^30]", o->max_message_bytes);
    return 0;
}

static int has_prefix(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

int policy_create(const char *spec, const policy_options *o, policy *pol, wm_error *err) {
    memset(pol, 0, sizeof *pol);
    policy_options defaults = policy_options_default();
    if (!o) o = &defaults;
    if (options_check(o, err)) return -1;
    if (strcmp(spec, "expert") == 0) policy_expert_init(pol);
    else if (strcmp(spec, "cruise") == 0) policy_cruise_init(pol);
    else if (has_prefix(spec, "exec:")) return policy_exec_create(spec + 5, o, pol, err);
    else if (has_prefix(spec, "unix:")) return policy_unix_create(spec + 5, o, pol, err);
    else if (has_prefix(spec, "lib:")) return policy_lib_create(spec + 4, pol, err);
    else if (strcmp(spec, "vla-tiny") == 0) return policy_vla_create(POLICY_VLA_TINY_PATH, pol, err);
    else if (has_prefix(spec, "vla:")) return policy_vla_create(spec + 4, pol, err);
    else
        return wm_fail(err, "--policy: unknown policy '%s' (known: expert, cruise, vla-tiny, vla:PATH.wmck, exec:CMD ARGS, "
                            "unix:PATH, lib:PATH.so ARGS)", spec);
    return 0;
}

void policy_free_state(policy *pol) {
    free(pol->state);
    pol->state = NULL;
}
