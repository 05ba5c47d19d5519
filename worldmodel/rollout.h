/* rollout.h — many future frames from the dynamics model: the window of F
 * frames slides one frame per generated frame, so a rollout can run as
 * long as there are actions to condition on. Tokens only: turning them
 * into pixels is the tokenizer's (tokenizer_decode).
 *
 * Usage:
 *     rollout_params rp = rollout_params_default();      // parallel decoding, 8 steps, seed 1
 *     rp.mode = ROLLOUT_AR;                              // or token by token
 *     int *out = malloc(B * n_new * P * sizeof *out);
 *     if (rollout_generate(&dm, &rp, B, n_ctx, ctx_tokens, ctx_actions, ctx_slots,
 *                          n_new, new_actions, new_slots, out, &err)) ...
 *
 * Conditioning (datasets/window_source.h's normalisation): a frame's action
 * features are the action that LED to it (the accel, brake and steer applied
 * after the frame before) and the ego's speed at it; its slots are the
 * scene at it. So generating frame f+1 needs what a closed loop knows once
 * the policy has answered frame f and the vehicle has moved.
 *
 * Arrays, contiguous row-major (P, A, K, S: the model's config):
 *     ctx_tokens  (B, n_ctx, P)      the context frames' tokens, ids in [0, V)
 *     ctx_actions (B, n_ctx, A)      their action features
 *     ctx_slots   (B, n_ctx, K, S)   their slots; NULL: none (every slot absent)
 *     new_actions (B, n_new, A)      the action features of each frame to generate
 *     new_slots   (B, n_new, K, S)   their slots; NULL: none
 *     out         (B, n_new, P)      the generated frames' tokens, in [0, V)
 * Only the last F-1 context frames are used, so n_ctx >= F-1.
 *
 * Determinism: the whole rollout draws from rng_fork(seed, 0) in a fixed
 * order, so the same inputs and params give the same tokens (for any
 * OpenMP thread count). */
#ifndef WMSIM_ROLLOUT_H
#define WMSIM_ROLLOUT_H

#include <stdint.h>

#include "core/error.h"
#include "worldmodel/dynamics_model.h"

typedef enum {
    ROLLOUT_AR,       /* token by token with the KV cache (dynamics_generate_frame) */
    ROLLOUT_PARALLEL  /* MaskGIT-style: a whole frame in `steps` passes (dynamics_generate_frame_parallel) */
} rollout_mode;

typedef struct {
    rollout_mode mode;
    int steps;         /* parallel decoding passes per frame, >= 1 */
    float temperature; /* <= 0: greedy (argmax) */
    int top_k;         /* <= 0: all V */
    float guidance;    /* classifier-free guidance on the actions (dynamics_model.h); 1: none */
    uint64_t seed;
} rollout_params;

/* Parallel, 8 steps, temperature 1, top_k 0 (all), guidance 1, seed 1. */
rollout_params rollout_params_default(void);

/* "ar" or "parallel"; parse: 0, or -1 for another name. */
const char *rollout_mode_name(rollout_mode m);
int rollout_mode_parse(const char *name, rollout_mode *m);

/* Generates n_new frames of B sequences into out. 0, or -1 with one of:
 *     rollout: batch B outside [1, max_batch M]
 *     rollout: guidance W runs 2B = N windows, but the model has room for M (max_batch)
 *     rollout: N context frames, but the model's windows need F-1 = M
 *     rollout: N new frames is below 1
 *     rollout: steps N outside [1, P]                  (parallel mode only)
 *     rollout: context token T at (b, f, j) outside [0, V)
 * (b, f, j: sequence, context frame, token; every one of the n_ctx frames
 * is checked, not only the F-1 used). On error out is untouched. With
 * F = 1 no context is needed (n_ctx 0; ctx_tokens may then be NULL).
 * Overwrites the model's activations. */
int rollout_generate(dynamics_model *dm, const rollout_params *p, int B, int n_ctx, const int *ctx_tokens,
                     const float *ctx_actions, const float *ctx_slots, int n_new, const float *new_actions,
                     const float *new_slots, int *out, wm_error *err);

#endif
