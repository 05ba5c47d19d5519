#include "sim/policy.h"

#include <stdlib.h>
#include <string.h>

int policy_create(const char *spec, policy *pol, wm_error *err) {
    memset(pol, 0, sizeof *pol);
    if (strcmp(spec, "expert") == 0) policy_expert_init(pol);
    else if (strcmp(spec, "cruise") == 0) policy_cruise_init(pol);
    else return wm_fail(err, "--policy: unknown policy '%s' (known: expert, cruise)", spec);
    return 0;
}

void policy_free_state(policy *pol) {
    free(pol->state);
    pol->state = NULL;
}
