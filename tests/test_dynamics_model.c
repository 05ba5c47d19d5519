/* The dynamics transformer (worldmodel/dynamics_model.h): config errors,
 * the target layout, the whole model's gradient against finite
 * differences, KV-cache generation against full recomputation, a tiny
 * model overfitting a fixed sequence, determinism of training (runs and
 * thread counts) and of seeded generation, checkpoints (round trip,
 * corruption). Tiny shapes: V 16, P 4, F 3, K 1, S 3, 2 layers of 16
 * channels, 2 heads, batch 2. */
#include <math.h>
#include <omp.h>

#include "numcheck.h"
#include "testutil.h"
#include "worldmodel/dynamics_model.h"

#define BATCH 2

static dynamics_config tiny_config(void) {
    dynamics_config c = dynamics_config_default();
    c.vocab = 16, c.frame_tokens = 4, c.frames = 3, c.slots = 1, c.slot_dim = 3, c.layers = 2, c.channels = 16;
    c.heads = 2;
    return c;
}

/* Random inputs for B windows: tokens in [0, V) (with mask_every > 0,
 * every mask_every-th token is the MASK id V), actions in [-1, 1], and
 * slots present (features in [-1, 1]) or absent (zeros) at random. */
typedef struct {
    int *tokens, *targets;
    float *actions, *slots;
} inputs;

static inputs make_inputs(const dynamics_config *c, int B, uint64_t seed, int mask_every) {
    wm_rng r;
    rng_init(&r, seed);
    const size_t BF = (size_t)B * c->frames, n_tok = BF * c->frame_tokens;
    inputs in = {CALLOC_CHECK(n_tok, sizeof(int)), CALLOC_CHECK((size_t)B * dynamics_positions(c), sizeof(int)),
                 fvec(BF * c->action_dim), fvec(BF * c->slots * c->slot_dim)};
    for (size_t i = 0; i < n_tok; i++)
        in.tokens[i] = mask_every > 0 && i % mask_every == 1 ? c->vocab : (int)(rng_u64(&r) % (uint64_t)c->vocab);
    for (size_t i = 0; i < BF * c->action_dim; i++) in.actions[i] = (float)rng_range(&r, -1, 1);
    for (size_t s = 0; s < BF * c->slots; s++) {
        const int present = rng_uniform(&r) < 0.7;
        for (int k = 0; k < c->slot_dim; k++)
            in.slots[s * c->slot_dim + k] = present ? (float)rng_range(&r, -1, 1) : 0.0f;
    }
    /* Targets: the AR ones, except that a MASK id is never a target. */
    dynamics_ar_targets(c, in.tokens, B, in.targets);
    for (int n = 0; n < B * dynamics_positions(c); n++)
        if (in.targets[n] == c->vocab) in.targets[n] = -1;
    return in;
}

static void free_inputs(inputs *in) { free(in->tokens), free(in->targets), free(in->actions), free(in->slots); }

/* Redraws the weights at a larger scale than the initialisation's (matrices
 * and tables normal(0, 0.2), norm weights 1 +- 0.3), so the network is
 * far from linear and its gradients are large enough to check. */
static void scale_up_weights(dynamics_model *dm, uint64_t seed) {
    wm_rng r;
    rng_init(&r, seed);
    for (int i = 0; i < dm->n_tensors; i++) {
        const ckpt_tensor *t = &dm->tensors[i];
        for (size_t j = 0; j < ckpt_tensor_floats(t); j++)
            t->data[j] = t->rank == 1 ? (float)rng_range(&r, 0.7, 1.3) : (float)(0.2 * rng_normal(&r));
    }
}

static void expect_config_error(const dynamics_config *c, const char *msg) {
    wm_error err = {{0}};
    ck_assert_int_eq(dynamics_config_check(c, &err), -1);
    ck_assert_str_eq(err.msg, msg);
    dynamics_model dm;
    ck_assert_int_eq(dynamics_init(&dm, c, 1, 1, &err), -1);
    ck_assert_str_eq(err.msg, msg);
}

START_TEST(config_errors_are_exact) {
    wm_error err;
    dynamics_config d = dynamics_config_default(), c;
    ck_assert_int_eq(dynamics_config_check(&d, &err), 0);
    ck_assert_int_eq(dynamics_frame_positions(&d), 133);
    ck_assert_int_eq(dynamics_positions(&d), 399);
#define BAD(field, value, msg) (c = d, c.field = (value), expect_config_error(&c, msg))
    BAD(vocab, 1, "dynamics: vocab 1 outside [2, 65536]");
    BAD(vocab, 65537, "dynamics: vocab 65537 outside [2, 65536]");
    BAD(frame_tokens, 0, "dynamics: frame_tokens 0 outside [1, 4096]");
    BAD(frames, 0, "dynamics: frames 0 outside [1, 64]");
    BAD(frames, 65, "dynamics: frames 65 outside [1, 64]");
    BAD(slots, -1, "dynamics: slots -1 outside [0, 64]");
    BAD(slot_dim, 0, "dynamics: slot_dim 0 outside [1, 256]");
    BAD(action_dim, 65, "dynamics: action_dim 65 outside [1, 64]");
    BAD(layers, 0, "dynamics: layers 0 outside [1, 64]");
    BAD(channels, 4097, "dynamics: channels 4097 outside [1, 4096]");
    BAD(heads, 3, "dynamics: heads 3 is not a divisor of channels 128");
    BAD(heads, 0, "dynamics: heads 0 is not a divisor of channels 128");
    BAD(heads, 256, "dynamics: heads 256 is not a divisor of channels 128");
    BAD(frames, 62,
        "dynamics: 62 frames of 133 positions (1 action + 4 slots + 128 image tokens) make 8246, over 8192");
#undef BAD
    dynamics_model dm;
    ck_assert_int_eq(dynamics_init(&dm, &d, 0, 1, &err), -1);
    ck_assert_str_eq(err.msg, "dynamics: batch 0 outside [1, 4096]");
    c = d, c.frames = 61; /* T = 8113: 4096 windows need ~20 TiB */
    ck_assert_int_eq(dynamics_init(&dm, &c, 4096, 1, &err), -1);
    ck_assert_msg(strstr(err.msg, "dynamics: batch 4096 needs ") == err.msg &&
                      strstr(err.msg, " GiB of activations, over the 64 GiB limit"),
                  "%s", err.msg);
}
END_TEST

/* The parameter block at the default config: the documented tensors, in
 * order, back to back. */
START_TEST(default_model_has_the_documented_tensors) {
    dynamics_config c = dynamics_config_default();
    dynamics_model dm;
    wm_error err;
    ck_assert_msg(dynamics_init(&dm, &c, 1, 1, &err) == 0, "%s", err.msg);
    const size_t C = 128, V = 1024, per_block = C + 3 * C * C + C * C + C + 8 * C * C;
    ck_assert_uint_eq(dm.n_params, (V + 1) * C + C * 4 + C * 8 + 133 * C + 3 * C + 4 * per_block + C + V * C);
    ck_assert_uint_eq(dm.n_params, 1068800);
    ck_assert_int_eq(dm.n_tensors, 5 + 4 * 6 + 2);
    const char *first[] = {"tok_emb", "act.w", "slot.w", "pos_emb", "frame_emb", "blk.0.ln1.w", "blk.0.attn.qkv.w",
                           "blk.0.attn.proj.w", "blk.0.ln2.w", "blk.0.mlp.fc.w", "blk.0.mlp.proj.w", "blk.1.ln1.w"};
    for (int i = 0; i < 12; i++) ck_assert_str_eq(dm.tensors[i].name, first[i]);
    ck_assert_str_eq(dm.tensors[dm.n_tensors - 2].name, "ln_f.w");
    ck_assert_str_eq(dm.tensors[dm.n_tensors - 1].name, "head.w");
    ck_assert_int_eq(dm.tensors[0].dims[0], 1025);
    ck_assert_int_eq(dm.tensors[6].dims[0], 384);
    size_t off = 0;
    for (int i = 0; i < dm.n_tensors; i++) {
        ck_assert_ptr_eq(dm.tensors[i].data, dm.params + off);
        off += ckpt_tensor_floats(&dm.tensors[i]);
    }
    ck_assert_uint_eq(off, dm.n_params);
    dynamics_free(&dm);
    /* No slots: no slot tensor. */
    c.slots = 0;
    ck_assert_msg(dynamics_init(&dm, &c, 1, 1, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(dm.tensors[2].name, "pos_emb");
    dynamics_free(&dm);
}
END_TEST

/* Frame f is at f L: action, K slots, P image tokens; each position whose
 * next one is an image token predicts it. */
START_TEST(ar_targets_follow_the_layout) {
    dynamics_config c = tiny_config(); /* L = 6, T = 18 */
    int tokens[BATCH * 3 * 4], targets[BATCH * 18];
    for (int i = 0; i < BATCH * 12; i++) tokens[i] = 100 + i;
    dynamics_ar_targets(&c, tokens, BATCH, targets);
    const int want0[18] = {-1, 100, 101, 102, 103, -1, -1, 104, 105, 106, 107, -1, -1, 108, 109, 110, 111, -1};
    for (int t = 0; t < 18; t++) {
        ck_assert_int_eq(targets[t], want0[t]);
        ck_assert_int_eq(targets[18 + t], want0[t] < 0 ? -1 : want0[t] + 12);
    }
    c.slots = 0; /* L = 5: the action predicts token 0 */
    dynamics_ar_targets(&c, tokens, 1, targets);
    const int want1[15] = {100, 101, 102, 103, -1, 104, 105, 106, 107, -1, 108, 109, 110, 111, -1};
    for (int t = 0; t < 15; t++) ck_assert_int_eq(targets[t], want1[t]);
}
END_TEST

static double loss_of(dynamics_model *dm, const inputs *in, int block, const float *weights) {
    return dynamics_forward_weighted(dm, in->tokens, in->actions, in->slots, BATCH, block, in->targets, weights);
}

/* The whole model's gradient (every tensor: embeddings, projections, norms,
 * attention, head) against central differences of the float loss, for
 * SAMPLES elements of each tensor, with the causal mask and the frame-block
 * mask. Inputs include MASK tokens and absent slots. Step 1e-2: the loss
 * is a float near 2-5, so its rounding (~3e-7) over the 2e-2 difference
 * is ~2e-5 absolute, and the third-order term of a step of 1e-2 on
 * weights of 0.2 is a fraction of a percent; hence |analytic - numeric| <=
 * 3e-5 + 1e-2 |numeric| (measured worst: 0.32 of that; 1e-5 + 3e-3 is
 * just met, so there is no slack to hide a wrong term). The test also
 * requires most sampled gradients to exceed 10x the absolute tolerance,
 * so it cannot pass on zeros. */
#define SAMPLES 12
START_TEST(gradients_match_finite_differences) {
    const dynamics_config c = tiny_config();
    const int L = dynamics_frame_positions(&c), blocks[3] = {1, L, 1};
    dynamics_model dm;
    wm_error err;
    ck_assert_msg(dynamics_init(&dm, &c, BATCH, 7, &err) == 0, "%s", err.msg);
    scale_up_weights(&dm, 8);
    inputs in = make_inputs(&c, BATCH, 9, 5);
    float *analytic = fvec(dm.n_params);
    wm_rng r;
    rng_init(&r, 10);
    int checked = 0, large = 0;
    /* The third pass: the causal mask with a weight per target in [0, 3). */
    const int N = BATCH * dynamics_positions(&c);
    float *weights = fvec((size_t)N);
    for (int n = 0; n < N; n++) weights[n] = (float)rng_range(&r, 0, 3);
    for (int bi = 0; bi < 3; bi++) {
        const float *w = bi == 2 ? weights : NULL;
        loss_of(&dm, &in, blocks[bi], w);
        dynamics_backward(&dm);
        memcpy(analytic, dm.grads, dm.n_params * sizeof(float));
        for (int ti = 0; ti < dm.n_tensors; ti++) {
            const ckpt_tensor *t = &dm.tensors[ti];
            const size_t n = ckpt_tensor_floats(t), off = (size_t)(t->data - dm.params);
            for (int k = 0; k < SAMPLES; k++) {
                const size_t i = off + rng_u64(&r) % n;
                const float keep = dm.params[i], eps = 1e-2f;
                dm.params[i] = keep + eps;
                const double up = loss_of(&dm, &in, blocks[bi], w);
                dm.params[i] = keep - eps;
                const double down = loss_of(&dm, &in, blocks[bi], w);
                dm.params[i] = keep;
                const double numeric = (up - down) / (2.0 * eps), e = fabs(numeric - analytic[i]);
                const double tol = 3e-5 + 1e-2 * fabs(numeric);
                ck_assert_msg(e <= tol, "block %d, %s[%zu]: analytic %.6g, numeric %.6g", blocks[bi], t->name, i - off,
                              analytic[i], numeric);
                checked++;
                large += fabs(numeric) > 1e-3;
            }
        }
    }
    ck_assert_msg(large * 4 >= checked * 3, "only %d of %d sampled gradients above 1e-3", large, checked);
    /* Weights of 1 are the plain mean. */
    for (int n = 0; n < N; n++) weights[n] = 1.0f;
    const double plain = loss_of(&dm, &in, 1, NULL), ones = loss_of(&dm, &in, 1, weights);
    ck_assert_double_eq_tol(ones, plain, 1e-6 * plain);
    free(weights);
    free(analytic);
    free_inputs(&in);
    dynamics_free(&dm);
}
END_TEST

/* Positions of the new frame in a window: its action is at (F-1) L. */
static int first_image_position(const dynamics_config *c) {
    return (c->frames - 1) * dynamics_frame_positions(c) + 1 + c->slots;
}

/* Temperature 0 with the KV cache gives the tokens that the full forward
 * pass picks when rerun token by token (the new frame's later tokens
 * MASKed), and the last token's logits agree with the full pass's. */
START_TEST(cached_generation_matches_full_recomputation) {
    const dynamics_config c = tiny_config();
    const int F = c.frames, P = c.frame_tokens, V = c.vocab, T = dynamics_positions(&c);
    const int t_img = first_image_position(&c);
    dynamics_model dm;
    wm_error err;
    ck_assert_msg(dynamics_init(&dm, &c, BATCH, 3, &err) == 0, "%s", err.msg);
    scale_up_weights(&dm, 4);
    inputs in = make_inputs(&c, BATCH, 5, 0);
    int context[BATCH * 2 * 4], out[BATCH * 4];
    for (int b = 0; b < BATCH; b++)
        memcpy(context + b * (F - 1) * P, in.tokens + b * F * P, (size_t)(F - 1) * P * sizeof(int));
    dynamics_generate_frame(&dm, context, in.actions, in.slots, BATCH, 0.0f, 0, NULL, out);
    float last[BATCH * 16];
    memcpy(last, dm.logits, sizeof last);

    int *window = in.tokens;
    for (int j = 0; j < P; j++) {
        for (int b = 0; b < BATCH; b++)
            for (int i = 0; i < P; i++) window[(b * F + F - 1) * P + i] = i < j ? out[b * P + i] : V;
        dynamics_forward(&dm, window, in.actions, in.slots, BATCH, 1, NULL);
        for (int b = 0; b < BATCH; b++) {
            const float *row = dm.logits + ((size_t)b * T + t_img - 1 + j) * V;
            int best = 0;
            for (int v = 1; v < V; v++)
                if (row[v] > row[best]) best = v;
            ck_assert_msg(out[b * P + j] == best, "window %d token %d: cached %d, full %d", b, j, out[b * P + j], best);
            if (j == P - 1) {
                double want[16];
                for (int v = 0; v < V; v++) want[v] = row[v];
                expect_close("last logits", last + b * V, want, (size_t)V, 1e-5, 1e-5);
            }
        }
    }
    /* The tokens are not all the same (the check would be weak otherwise). */
    int distinct = 0;
    for (int i = 1; i < BATCH * P; i++) distinct += out[i] != out[0];
    ck_assert_int_gt(distinct, 0);
    free_inputs(&in);
    dynamics_free(&dm);
}
END_TEST

/* Masks: the last frame always, an earlier frame sometimes; a masked
 * position is MASK in the inputs and its token in the targets, every other
 * position is whole and untargeted; the same rng seed masks alike. */
START_TEST(mask_targets_follow_the_layout) {
    dynamics_config c = tiny_config();
    c.frame_tokens = 20;
    const int B = 64, F = c.frames, P = c.frame_tokens, V = c.vocab, L = dynamics_frame_positions(&c);
    const int T = dynamics_positions(&c);
    inputs in = make_inputs(&c, B, 31, 0);
    int *masked = CALLOC_CHECK((size_t)B * F * P, sizeof(int)), *targets = CALLOC_CHECK((size_t)B * T, sizeof(int));
    int *again = CALLOC_CHECK((size_t)B * T, sizeof(int));
    wm_rng r;
    rng_init(&r, 5);
    dynamics_mask_targets(&c, in.tokens, B, &r, masked, targets);
    int frames_masked[3] = {0, 0, 0}, full = 0, one = 0;
    for (int b = 0; b < B; b++)
        for (int f = 0; f < F; f++) {
            int m = 0;
            for (int i = 0; i < L; i++) {
                const int t = targets[b * T + f * L + i];
                if (i < 1 + c.slots) {
                    ck_assert_int_eq(t, -1);
                    continue;
                }
                const int at = (b * F + f) * P + i - 1 - c.slots;
                if (masked[at] == V) {
                    ck_assert_int_eq(t, in.tokens[at]);
                    m++;
                } else {
                    ck_assert_int_eq(t, -1);
                    ck_assert_int_eq(masked[at], in.tokens[at]);
                }
            }
            frames_masked[f] += m > 0;
            full += m == P, one += m == 1;
            if (f == F - 1) ck_assert_int_ge(m, 1);
        }
    ck_assert_int_eq(frames_masked[F - 1], B);
    for (int f = 0; f < F - 1; f++) /* about half of 64 */
        ck_assert_msg(frames_masked[f] > 16 && frames_masked[f] < 48, "frame %d masked in %d", f, frames_masked[f]);
    ck_assert_int_gt(full, 0); /* the cosine schedule reaches whole frames and single tokens */
    ck_assert_int_gt(one, 0);
    rng_init(&r, 5);
    dynamics_mask_targets(&c, in.tokens, B, &r, masked, again);
    ck_assert_int_eq(memcmp(targets, again, (size_t)B * T * sizeof(int)), 0);
    free(masked), free(targets), free(again);
    free_inputs(&in);
}
END_TEST

/* Parallel decoding, greedy, against a reference built from full forward
 * passes at block L: each pass takes the argmax of every masked position
 * from the whole window's logits, fixes the most probable ones (ties to
 * the lower position) up to the cosine schedule's count, and the next pass
 * sees them. Equal tokens mean the cached context (block L) and the
 * per-pass rows are what the full model computes. */
static void parallel_reference(dynamics_model *dm, const inputs *in, int B, int steps, int *out) {
    const dynamics_config *c = &dm->cfg;
    const int F = c->frames, P = c->frame_tokens, V = c->vocab, L = dm->L, T = dm->T;
    const int t_img = (F - 1) * L + 1 + c->slots;
    int *window = CALLOC_CHECK((size_t)B * F * P, sizeof(int));
    memcpy(window, in->tokens, (size_t)B * F * P * sizeof(int));
    for (int b = 0; b < B; b++)
        for (int j = 0; j < P; j++) window[(b * F + F - 1) * P + j] = V;
    int fixed = 0;
    for (int s = 1; s <= steps; s++) {
        const int want = s == steps ? P : P - (int)floor(P * cos(3.14159265358979323846 / 2 * s / steps));
        dynamics_forward(dm, window, in->actions, in->slots, B, L, NULL);
        for (int b = 0; b < B; b++) {
            int *w = window + (b * F + F - 1) * P, best[64];
            double conf[64];
            for (int j = 0; j < P; j++) {
                const float *row = dm->logits + ((size_t)b * T + t_img + j) * V;
                best[j] = 0;
                double mx = row[0], sum = 0;
                for (int v = 1; v < V; v++)
                    if (row[v] > row[best[j]]) best[j] = v, mx = row[v];
                for (int v = 0; v < V; v++) sum += exp(row[v] - mx);
                conf[j] = w[j] == V ? (float)(1.0 / sum) : -1; /* fixed ones are not candidates */
            }
            for (int k = fixed; k < want; k++) { /* the most confident still-masked position */
                int pick = -1;
                for (int j = 0; j < P; j++)
                    if (w[j] == V && conf[j] >= 0 && (pick < 0 || conf[j] > conf[pick])) pick = j;
                w[pick] = best[pick], conf[pick] = -1;
            }
        }
        fixed = want;
    }
    for (int b = 0; b < B; b++) memcpy(out + b * P, window + (b * F + F - 1) * P, (size_t)P * sizeof(int));
    free(window);
}

START_TEST(parallel_decoding_matches_full_recomputation) {
    dynamics_config c = tiny_config();
    c.frame_tokens = 12;
    const int F = c.frames, P = c.frame_tokens;
    dynamics_model dm;
    wm_error err;
    ck_assert_msg(dynamics_init(&dm, &c, BATCH, 41, &err) == 0, "%s", err.msg);
    scale_up_weights(&dm, 42);
    inputs in = make_inputs(&c, BATCH, 43, 0);
    int context[BATCH * 2 * 12], out[BATCH * 12], want[BATCH * 12];
    for (int b = 0; b < BATCH; b++)
        memcpy(context + b * (F - 1) * P, in.tokens + b * F * P, (size_t)(F - 1) * P * sizeof(int));
    const int steps[3] = {1, 3, 12};
    for (int k = 0; k < 3; k++) {
        dynamics_generate_frame_parallel(&dm, context, in.actions, in.slots, BATCH, steps[k], 0.0f, 0, NULL, out);
        parallel_reference(&dm, &in, BATCH, steps[k], want);
        for (int i = 0; i < BATCH * P; i++)
            ck_assert_msg(out[i] == want[i], "steps %d, token %d: parallel %d, reference %d", steps[k], i, out[i],
                          want[i]);
    }
    int distinct = 0;
    for (int i = 1; i < BATCH * P; i++) distinct += out[i] != out[0];
    ck_assert_int_gt(distinct, 0);
    free_inputs(&in);
    dynamics_free(&dm);
}
END_TEST

/* At temperature 1 parallel decoding is seeded like AR decoding, and its
 * tokens are valid ids. */
START_TEST(parallel_generation_is_seeded) {
    const dynamics_config c = tiny_config();
    const int F = c.frames, P = c.frame_tokens;
    dynamics_model dm;
    wm_error err;
    ck_assert_msg(dynamics_init(&dm, &c, BATCH, 51, &err) == 0, "%s", err.msg);
    scale_up_weights(&dm, 52);
    inputs in = make_inputs(&c, BATCH, 53, 0);
    int context[BATCH * 2 * 4], out[3][BATCH * 4];
    for (int b = 0; b < BATCH; b++)
        memcpy(context + b * (F - 1) * P, in.tokens + b * F * P, (size_t)(F - 1) * P * sizeof(int));
    const uint64_t seeds[3] = {7, 7, 8};
    int differ = 0;
    for (int trial = 0; trial < 8 && !differ; trial++) {
        for (int k = 0; k < 3; k++) {
            wm_rng r;
            rng_init(&r, seeds[k] + 100 * (uint64_t)trial);
            dynamics_generate_frame_parallel(&dm, context, in.actions, in.slots, BATCH, 2, 1.0f, 0, &r, out[k]);
        }
        ck_assert_int_eq(memcmp(out[0], out[1], sizeof out[0]), 0);
        differ = memcmp(out[0], out[2], sizeof out[0]) != 0;
        for (int i = 0; i < BATCH * P; i++) ck_assert(out[0][i] >= 0 && out[0][i] < c.vocab);
    }
    ck_assert_msg(differ, "another seed never changed the frame");
    free_inputs(&in);
    dynamics_free(&dm);
}
END_TEST

/* Classifier-free guidance, greedy, against a reference from full forward
 * passes: with the actions and with every action feature 0, logits
 * combined as u + w (l - u), the argmax token by token (AR) or of every
 * position at once (parallel, one pass). And w = 1 is no guidance. */
START_TEST(guided_generation_matches_full_recomputation) {
    dynamics_config c = tiny_config();
    const int F = c.frames, P = c.frame_tokens, V = c.vocab, T = dynamics_positions(&c), L = dynamics_frame_positions(&c);
    const int t_img = first_image_position(&c);
    const float w = 8.0f;
    dynamics_model dm;
    wm_error err;
    ck_assert_msg(dynamics_init(&dm, &c, 2 * BATCH, 61, &err) == 0, "%s", err.msg);
    scale_up_weights(&dm, 62);
    inputs in = make_inputs(&c, BATCH, 63, 0);
    const size_t na = (size_t)BATCH * F * c.action_dim;
    float *no_action = fvec(na);
    int context[BATCH * 2 * 4], out[BATCH * 4], plain[BATCH * 4];
    for (int b = 0; b < BATCH; b++)
        memcpy(context + b * (F - 1) * P, in.tokens + b * F * P, (size_t)(F - 1) * P * sizeof(int));
    float *with = fvec((size_t)BATCH * T * V), *without = fvec((size_t)BATCH * T * V);
    int *window = in.tokens;
    for (int mode = 0; mode < 2; mode++) {
        dm.guidance = w;
        if (mode == 0) dynamics_generate_frame(&dm, context, in.actions, in.slots, BATCH, 0.0f, 0, NULL, out);
        else dynamics_generate_frame_parallel(&dm, context, in.actions, in.slots, BATCH, 1, 0.0f, 0, NULL, out);
        for (int j = 0; j < P; j++) {
            for (int b = 0; b < BATCH; b++)
                for (int i = 0; i < P; i++) window[(b * F + F - 1) * P + i] = mode == 0 && i < j ? out[b * P + i] : V;
            const int block = mode == 0 ? 1 : L, row = mode == 0 ? t_img - 1 + j : t_img + j;
            dynamics_forward(&dm, window, in.actions, in.slots, BATCH, block, NULL);
            memcpy(with, dm.logits, (size_t)BATCH * T * V * sizeof(float));
            dynamics_forward(&dm, window, no_action, in.slots, BATCH, block, NULL);
            memcpy(without, dm.logits, (size_t)BATCH * T * V * sizeof(float));
            for (int b = 0; b < BATCH; b++) {
                const float *l = with + ((size_t)b * T + row) * V, *u = without + ((size_t)b * T + row) * V;
                int best = 0;
                for (int v = 1; v < V; v++)
                    if (u[v] + w * (l[v] - u[v]) > u[best] + w * (l[best] - u[best])) best = v;
                ck_assert_msg(out[b * P + j] == best, "mode %d window %d token %d: guided %d, reference %d", mode, b,
                              j, out[b * P + j], best);
            }
        }
        dm.guidance = 1.0f;
        if (mode == 0) dynamics_generate_frame(&dm, context, in.actions, in.slots, BATCH, 0.0f, 0, NULL, plain);
        else dynamics_generate_frame_parallel(&dm, context, in.actions, in.slots, BATCH, 1, 0.0f, 0, NULL, plain);
        ck_assert_msg(memcmp(out, plain, sizeof out) != 0, "mode %d: guidance changed nothing", mode);
    }
    free(no_action), free(with), free(without);
    free_inputs(&in);
    dynamics_free(&dm);
}
END_TEST

/* Two fixed windows, learned by heart: the mean next-token loss falls from
 * ln 16 = 2.77 below 0.01 within OVERFIT_STEPS steps at a learning rate of
 * 1e-2 (0.0024 here; it crosses 0.05 near step 40). */
#define OVERFIT_STEPS 100
START_TEST(tiny_model_overfits_a_fixed_sequence) {
    const dynamics_config c = tiny_config();
    dynamics_model dm;
    wm_error err;
    ck_assert_msg(dynamics_init(&dm, &c, BATCH, 11, &err) == 0, "%s", err.msg);
    inputs in = make_inputs(&c, BATCH, 12, 0);
    float first = 0, loss = 0;
    for (int step = 1; step <= OVERFIT_STEPS; step++) {
        loss = dynamics_train_step(&dm, in.tokens, in.actions, in.slots, in.targets, BATCH, 1, NULL, 1e-2f, step, NULL);
        if (step == 1) first = loss;
    }
    ck_assert_msg(first > 2.5f, "first loss %.4f", first);
    ck_assert_msg(loss < 0.01f, "loss %.4f after %d steps", loss, OVERFIT_STEPS);
    free_inputs(&in);
    dynamics_free(&dm);
}
END_TEST

/* STEPS training steps from a seed: the losses and the final weights. */
#define STEPS 8
static void train_run(const dynamics_config *c, int B, int threads, float *losses, float **params, size_t *n) {
    omp_set_num_threads(threads);
    dynamics_model dm;
    wm_error err;
    ck_assert_msg(dynamics_init(&dm, c, B, 21, &err) == 0, "%s", err.msg);
    inputs in = make_inputs(c, B, 22, 0);
    for (int step = 1; step <= STEPS; step++)
        losses[step - 1] = dynamics_train_step(&dm, in.tokens, in.actions, in.slots, in.targets, B, 1, NULL, 3e-3f,
                                               step, NULL);
    *n = dm.n_params;
    *params = fvec(dm.n_params);
    memcpy(*params, dm.params, dm.n_params * sizeof(float));
    free_inputs(&in);
    dynamics_free(&dm);
}

/* The same losses and weights, bit for bit, twice in a row and on 1 and 2
 * OpenMP threads. The second config is large enough (N C = 32768, N V =
 * 32768, attention 4.2M multiply-adds) that every op's parallel loop runs
 * on more than one thread. */
START_TEST(training_is_deterministic) {
    dynamics_config big = tiny_config();
    big.vocab = 64, big.frame_tokens = 28, big.frames = 4, big.slots = 3, big.channels = 64, big.heads = 4;
    const dynamics_config cfgs[2] = {tiny_config(), big};
    const int batch[2] = {BATCH, 4};
    const int max_threads = omp_get_max_threads();
    for (int k = 0; k < 2; k++) {
        float losses[3][STEPS], *params[3];
        size_t n;
        train_run(&cfgs[k], batch[k], 1, losses[0], &params[0], &n);
        train_run(&cfgs[k], batch[k], 1, losses[1], &params[1], &n);
        train_run(&cfgs[k], batch[k], 2, losses[2], &params[2], &n);
        for (int run = 1; run < 3; run++) {
            ck_assert_msg(memcmp(losses[0], losses[run], sizeof losses[0]) == 0, "config %d run %d: losses differ", k,
                          run);
            ck_assert_msg(memcmp(params[0], params[run], n * sizeof(float)) == 0, "config %d run %d: weights differ",
                          k, run);
        }
        ck_assert(losses[0][STEPS - 1] < losses[0][0]);
        for (int run = 0; run < 3; run++) free(params[run]);
    }
    omp_set_num_threads(max_threads);
}
END_TEST

/* At temperature 1 a seed gives the same frame twice and another seed a
 * different one; top_k 1 is the argmax whatever the seed. */
START_TEST(generation_is_seeded) {
    const dynamics_config c = tiny_config();
    const int F = c.frames, P = c.frame_tokens;
    dynamics_model dm;
    wm_error err;
    ck_assert_msg(dynamics_init(&dm, &c, BATCH, 13, &err) == 0, "%s", err.msg);
    inputs in = make_inputs(&c, BATCH, 14, 0);
    int context[BATCH * 2 * 4], out[4][BATCH * 4];
    for (int b = 0; b < BATCH; b++)
        memcpy(context + b * (F - 1) * P, in.tokens + b * F * P, (size_t)(F - 1) * P * sizeof(int));
    const uint64_t seeds[3] = {1, 1, 2};
    for (int k = 0; k < 3; k++) {
        wm_rng r;
        rng_init(&r, seeds[k]);
        dynamics_generate_frame(&dm, context, in.actions, in.slots, BATCH, 1.0f, 0, &r, out[k]);
    }
    ck_assert_int_eq(memcmp(out[0], out[1], sizeof out[0]), 0);
    ck_assert_int_ne(memcmp(out[0], out[2], sizeof out[0]), 0);
    for (int i = 0; i < BATCH * P; i++) ck_assert(out[0][i] >= 0 && out[0][i] < c.vocab);
    int argmax[BATCH * 4];
    dynamics_generate_frame(&dm, context, in.actions, in.slots, BATCH, 0.0f, 0, NULL, argmax);
    for (int s = 0; s < 2; s++) {
        wm_rng r;
        rng_init(&r, 100 + s);
        dynamics_generate_frame(&dm, context, in.actions, in.slots, BATCH, 1.0f, 1, &r, out[3]);
        ck_assert_int_eq(memcmp(out[3], argmax, sizeof argmax), 0);
    }
    free_inputs(&in);
    dynamics_free(&dm);
}
END_TEST

/* A model without slots (K 0, slots NULL) and with one frame (no context)
 * trains and generates. */
START_TEST(edge_configs_train_and_generate) {
    dynamics_config cs[2] = {tiny_config(), tiny_config()};
    cs[0].slots = 0, cs[1].frames = 1;
    for (int k = 0; k < 2; k++) {
        dynamics_model dm;
        wm_error err;
        ck_assert_msg(dynamics_init(&dm, &cs[k], BATCH, 15, &err) == 0, "%s", err.msg);
        inputs in = make_inputs(&cs[k], BATCH, 16, 0);
        float first = 0, loss = 0;
        for (int step = 1; step <= 30; step++) {
            loss = dynamics_train_step(&dm, in.tokens, in.actions, k ? in.slots : NULL, in.targets, BATCH, 1, NULL,
                                       1e-2f, step, NULL);
            if (step == 1) first = loss;
        }
        ck_assert_msg(loss < first, "config %d: %.4f -> %.4f", k, first, loss);
        int out[BATCH * 4];
        wm_rng r;
        rng_init(&r, 17);
        dynamics_generate_frame(&dm, in.tokens, in.actions, k ? in.slots : NULL, BATCH, 1.0f, 4, &r, out);
        for (int i = 0; i < BATCH * 4; i++) ck_assert(out[i] >= 0 && out[i] < cs[k].vocab);
        free_inputs(&in);
        dynamics_free(&dm);
    }
}
END_TEST

/* Save, load: the same config, weights and logits, bit for bit. One
 * flipped byte: the checkpoint's checksum error, naming the path. */
START_TEST(checkpoint_round_trip_and_corruption) {
    const dynamics_config c = tiny_config();
    const size_t NV = (size_t)BATCH * dynamics_positions(&c) * c.vocab;
    dynamics_model a, b;
    wm_error err;
    ck_assert_msg(dynamics_init(&a, &c, BATCH, 18, &err) == 0, "%s", err.msg);
    inputs in = make_inputs(&c, BATCH, 19, 0);
    for (int step = 1; step <= 3; step++)
        dynamics_train_step(&a, in.tokens, in.actions, in.slots, in.targets, BATCH, 1, NULL, 1e-2f, step, NULL);
    char *dir = test_tmpdir(), path[4200], bad[4200];
    snprintf(path, sizeof path, "%s/dynamics.wmck", dir);
    snprintf(bad, sizeof bad, "%s/corrupt.wmck", dir);
    uint64_t sum = 0;
    ck_assert_msg(dynamics_save(&a, path, &sum, &err) == 0, "%s", err.msg);
    ck_assert(sum != 0);
    ck_assert_msg(dynamics_load(&b, path, 1, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(memcmp(&a.cfg, &b.cfg, sizeof a.cfg), 0);
    ck_assert_int_eq(b.max_batch, 1);
    ck_assert_uint_eq(a.n_params, b.n_params);
    ck_assert_int_eq(memcmp(a.params, b.params, a.n_params * sizeof(float)), 0);
    dynamics_free(&b);
    ck_assert_msg(dynamics_load(&b, path, BATCH, &err) == 0, "%s", err.msg);
    dynamics_forward(&a, in.tokens, in.actions, in.slots, BATCH, 1, NULL);
    dynamics_forward(&b, in.tokens, in.actions, in.slots, BATCH, 1, NULL);
    ck_assert_int_eq(memcmp(a.logits, b.logits, NV * sizeof(float)), 0);
    dynamics_free(&b);

    /* One byte of the weights flipped. */
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    const long len = ftell(f);
    rewind(f);
    unsigned char *bytes = MALLOC_CHECK((size_t)len);
    ck_assert_int_eq(fread(bytes, 1, (size_t)len, f), len);
    fclose(f);
    bytes[len / 2] ^= 0x10;
    f = fopen(bad, "wb");
    ck_assert_int_eq(fwrite(bytes, 1, (size_t)len, f), len);
    fclose(f);
    char want[4300];
    snprintf(want, sizeof want, "%s: checksum mismatch (file corrupt)", bad);
    ck_assert_int_eq(dynamics_load(&b, bad, 1, &err), -1);
    ck_assert_str_eq(err.msg, want);
    free(bytes);
    test_remove_tree(dir);
    free(dir);
    free_inputs(&in);
    dynamics_free(&a);
}
END_TEST

int main(void) {
    Suite *s = suite_create("dynamics_model");
    TCase *tc = tcase_create("dynamics_model");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, config_errors_are_exact);
    tcase_add_test(tc, default_model_has_the_documented_tensors);
    tcase_add_test(tc, ar_targets_follow_the_layout);
    tcase_add_test(tc, gradients_match_finite_differences);
    tcase_add_test(tc, cached_generation_matches_full_recomputation);
    tcase_add_test(tc, mask_targets_follow_the_layout);
    tcase_add_test(tc, parallel_decoding_matches_full_recomputation);
    tcase_add_test(tc, parallel_generation_is_seeded);
    tcase_add_test(tc, guided_generation_matches_full_recomputation);
    tcase_add_test(tc, tiny_model_overfits_a_fixed_sequence);
    tcase_add_test(tc, training_is_deterministic);
    tcase_add_test(tc, generation_is_seeded);
    tcase_add_test(tc, edge_configs_train_and_generate);
    tcase_add_test(tc, checkpoint_round_trip_and_corruption);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
