/* fuzz_policy_action.c — the policy protocol reader: what wmsim does with
 * the bytes an external policy (exec:/unix:) sends back. The input is the
 * stream as it arrives: length-prefixed Action messages (4-byte
 * little-endian length, then sim/policy_protocol.proto's Action), the
 * answers to steps 0, 1, 2, ... Each goes through the reader's own checks
 * (sim/policy_external.h: the length limit, the default 1 MiB of
 * --policy-max-bytes; decoding; step, accel, brake, steer present; at most
 * POLICY_PLAN_MAX finite waypoints) and then the range check the episode
 * applies to every command (action_check, with the default limits), until
 * the first problem or the end of the input. A stream that ends inside a
 * message is what a policy that closed its end sends; the socket code
 * reports that, so it just ends here.
 *
 * Result: one line per message, "step N: ok" or "step N: reason". */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tests/fuzz/fuzz_util.h"

#include "actions/action.h"
#include "sim/policy.h"
#include "sim/policy_external.h"

#define FUZZ_POLICY_MAX_STEPS 64

static int fuzz_policy_action_run(const uint8_t *data, size_t size, wm_error *err) {
    policy_options o = policy_options_default();
    action_limits lim = action_limits_default();
    policy pol;
    memset(&pol, 0, sizeof pol);
    size_t off = 0;
    int rc = 0;
    err->msg[0] = '\0';
    for (int step = 0; step < FUZZ_POLICY_MAX_STEPS && size - off >= POLICY_FRAME_PREFIX_BYTES; step++) {
        char why[200], reasoning[POLICY_REASONING_MAX] = "";
        uint32_t len;
        action cmd;
        wm_error e;
        if (policy_action_length_check(data + off, o.max_message_bytes, &len, why, sizeof why)) {
            fuzz_append(err, "step %d: %s\n", step, why);
            rc = -1;
            break;
        }
        off += POLICY_FRAME_PREFIX_BYTES;
        if (len > size - off) break; /* the stream closed mid-message */
        pol.n_plan = 0;
        if (policy_action_decode(data + off, len, step, &pol, &cmd, reasoning, why, sizeof why)) {
            fuzz_append(err, "step %d: %s\n", step, why);
            rc = -1;
            break;
        }
        off += len;
        if (pol.n_plan < 0 || pol.n_plan > POLICY_PLAN_MAX || strlen(reasoning) >= POLICY_REASONING_MAX) abort();
        if (action_check(&cmd, &lim, &e)) {
            fuzz_append(err, "step %d: %s\n", step, e.msg);
            rc = -1;
            break;
        }
        fuzz_append(err, "step %d: ok\n", step);
    }
    return rc;
}

FUZZ_ENTRY(fuzz_policy_action_run)
