/* policy_external.h — the Action reader of the external policies
 * (sim/policy_external.c), exposed so that its fuzz harness
 * (tests/fuzz/fuzz_policy_action.c) runs the very checks a live policy's
 * answers go through; nothing else needs it.
 *
 * On the wire an Action is a 4-byte little-endian length and that many
 * bytes of sim/policy_protocol.proto's Action:
 *     uint32_t len;
 *     if (policy_action_length_check(prefix, max_bytes, &len, why, sizeof why)) ... // too big
 *     ... read len bytes into msg ...
 *     if (policy_action_decode(msg, len, step, pol, &cmd, reasoning, why, sizeof why)) ...
 * Both return 0, or -1 with the reason in why ("announced a 9999999-byte
 * Action (limit 1048576 bytes, --policy-max-bytes)", "sent an Action for
 * step 3"), which the policy's error completes with its name and the step. */
#ifndef WMSIM_POLICY_EXTERNAL_H
#define WMSIM_POLICY_EXTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "sim/policy.h"

#define POLICY_FRAME_PREFIX_BYTES 4

/* The length in prefix, refused above max_bytes. */
int policy_action_length_check(const uint8_t prefix[POLICY_FRAME_PREFIX_BYTES], size_t max_bytes, uint32_t *len,
                               char *why, size_t why_len);

/* The Action in msg (len bytes, without its prefix) as the answer to
 * `step`: cmd, reasoning and self's plan (n_plan, plan) are set only when
 * it decodes and passes every check (step, accel, brake and steer present,
 * at most POLICY_PLAN_MAX finite waypoints). The range of cmd is the
 * caller's to check (action_check). */
int policy_action_decode(const uint8_t *msg, size_t len, int step, policy *self, action *cmd,
                         char reasoning[POLICY_REASONING_MAX], char *why, size_t why_len);

#endif
