/* rollout.c — many frames from the dynamics model by sliding its window
 * (see rollout.h).
 *
 * Dimension glossary (rollout.h's): B sequences, F frames per window, W =
 * F-1 context frames a window holds, P image tokens per frame, A action
 * features, K slots of S features, V vocabulary.
 *
 * Frame g of a sequence is context frame g for g < n_ctx and generated
 * frame g - n_ctx after it. Generated frame i is drawn from the window of
 * frames n_ctx + i - W .. n_ctx + i - 1 (its context) plus itself (its
 * action and slots, its tokens to draw), so the window moves on by one
 * frame per generated frame and the newest generated frames become
 * context. */
#include "worldmodel/rollout.h"

#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/rng.h"

rollout_params rollout_params_default(void) {
    return (rollout_params){.mode = ROLLOUT_PARALLEL, .steps = 8, .temperature = 1.0f, .top_k = 0, .guidance = 1.0f,
                            .seed = 1};
}

const char *rollout_mode_name(rollout_mode m) {
    switch (m) {
    case ROLLOUT_AR: return "ar";
    case ROLLOUT_PARALLEL: return "parallel";
    }
    return "?";
}

int rollout_mode_parse(const char *name, rollout_mode *m) {
    if (strcmp(name, "ar") == 0) return *m = ROLLOUT_AR, 0;
    if (strcmp(name, "parallel") == 0) return *m = ROLLOUT_PARALLEL, 0;
    return -1;
}

static int check_args(const dynamics_model *dm, const rollout_params *p, int B, int n_ctx, const int *ctx_tokens,
                      int n_new, wm_error *err) {
    const dynamics_config *c = &dm->cfg;
    const int W = c->frames - 1, P = c->frame_tokens, V = c->vocab;
    if (B < 1 || B > dm->max_batch)
        return wm_fail(err, "rollout: batch %d outside [1, max_batch %d]", B, dm->max_batch);
    if (p->guidance != 1.0f && 2 * B > dm->max_batch)
        return wm_fail(err, "rollout: guidance %g runs 2B = %d windows, but the model has room for %d (max_batch)",
                       (double)p->guidance, 2 * B, dm->max_batch);
    if (n_ctx < W)
        return wm_fail(err, "rollout: %d context frames, but the model's windows need F-1 = %d", n_ctx, W);
    if (n_new < 1) return wm_fail(err, "rollout: %d new frames is below 1", n_new);
    if (p->mode == ROLLOUT_PARALLEL && (p->steps < 1 || p->steps > P))
        return wm_fail(err, "rollout: steps %d outside [1, %d]", p->steps, P);
    for (int b = 0; b < B; b++)
        for (int f = 0; f < n_ctx; f++)
            for (int j = 0; j < P; j++) {
                const int id = ctx_tokens[((size_t)b * n_ctx + f) * P + j];
                if (id < 0 || id >= V)
                    return wm_fail(err, "rollout: context token %d at (%d, %d, %d) outside [0, %d)", id, b, f, j, V);
            }
    return 0;
}

int rollout_generate(dynamics_model *dm, const rollout_params *p, int B, int n_ctx, const int *ctx_tokens,
                     const float *ctx_actions, const float *ctx_slots, int n_new, const float *new_actions,
                     const float *new_slots, int *out, wm_error *err) {
    if (check_args(dm, p, B, n_ctx, ctx_tokens, n_new, err)) return -1;
    const dynamics_config *c = &dm->cfg;
    const int F = c->frames, W = F - 1, P = c->frame_tokens, A = c->action_dim;
    const size_t KS = (size_t)c->slots * c->slot_dim;
    const int with_slots = KS > 0 && (ctx_slots || new_slots);
    /* One window per sequence: (B, W, P) tokens, (B, F, A) actions,
     * (B, F, K, S) slots; the +1 keeps a zero size off malloc. */
    int *context = MALLOC_CHECK(((size_t)B * W * P + 1) * sizeof *context);
    float *actions = MALLOC_CHECK((size_t)B * F * A * sizeof *actions);
    float *slots = with_slots ? MALLOC_CHECK((size_t)B * F * KS * sizeof *slots) : NULL;
    int *frame = MALLOC_CHECK((size_t)B * P * sizeof *frame);
    wm_rng rng = rng_fork(p->seed, 0);
    const float guidance = dm->guidance;
    dm->guidance = p->guidance;
    for (int i = 0; i < n_new; i++) {
        for (int b = 0; b < B; b++)
            for (int f = 0; f < F; f++) {
                const int g = n_ctx + i - W + f; /* the sequence's frame at window slot f */
                const int in_ctx = g < n_ctx, k = in_ctx ? g : g - n_ctx;
                const int n = in_ctx ? n_ctx : n_new;
                if (f < W) {
                    const int *src = in_ctx ? ctx_tokens : out;
                    memcpy(context + ((size_t)b * W + f) * P, src + ((size_t)b * n + k) * P, (size_t)P * sizeof *src);
                }
                const float *a = (in_ctx ? ctx_actions : new_actions) + ((size_t)b * n + k) * A;
                memcpy(actions + ((size_t)b * F + f) * A, a, (size_t)A * sizeof *a);
                if (slots) {
                    const float *s = in_ctx ? ctx_slots : new_slots;
                    float *dst = slots + ((size_t)b * F + f) * KS;
                    if (s) memcpy(dst, s + ((size_t)b * n + k) * KS, KS * sizeof *s);
                    else memset(dst, 0, KS * sizeof *dst);
                }
            }
        if (p->mode == ROLLOUT_AR)
            dynamics_generate_frame(dm, context, actions, slots, B, p->temperature, p->top_k, &rng, frame);
        else
            dynamics_generate_frame_parallel(dm, context, actions, slots, B, p->steps, p->temperature, p->top_k,
                                             &rng, frame);
        for (int b = 0; b < B; b++)
            memcpy(out + ((size_t)b * n_new + i) * P, frame + (size_t)b * P, (size_t)P * sizeof *frame);
    }
    dm->guidance = guidance;
    free(context), free(actions), free(slots), free(frame);
    return 0;
}
