/* Rollouts (worldmodel/rollout.h) on a tiny random dynamics model: ids in
 * range, seeded determinism (runs and OpenMP thread counts), both decoding
 * modes, a one-frame greedy rollout equal to one dynamics_generate_frame
 * call, the window sliding one frame per generated frame (every frame equal
 * to a direct call on the window built by hand, with the one rng carried
 * through), batch independence, absent slots, a one-frame window, and every
 * error message exactly. Tiny shapes: V 16, P 4, F 3, K 1, S 3, 2 layers of
 * 16 channels, 2 heads, room for 2 sequences. */
#include <omp.h>

#include "numcheck.h"
#include "testutil.h"
#include "worldmodel/rollout.h"

#define MAX_B 2

static dynamics_config tiny_config(void) {
    dynamics_config c = dynamics_config_default();
    c.vocab = 16, c.frame_tokens = 4, c.frames = 3, c.slots = 1, c.slot_dim = 3, c.layers = 2, c.channels = 16;
    c.heads = 2;
    return c;
}

/* The model with weights redrawn at 10x the initialisation's scale, so its
 * distributions are far from uniform and greedy and sampled tokens differ
 * in interesting ways. */
static void make_model(dynamics_model *dm, const dynamics_config *c, uint64_t seed) {
    wm_error err;
    ck_assert_msg(dynamics_init(dm, c, MAX_B, seed, &err) == 0, "%s", err.msg);
    wm_rng r;
    rng_init(&r, seed + 1000);
    for (int i = 0; i < dm->n_tensors; i++) {
        const ckpt_tensor *t = &dm->tensors[i];
        for (size_t j = 0; j < ckpt_tensor_floats(t); j++)
            t->data[j] = t->rank == 1 ? (float)rng_range(&r, 0.7, 1.3) : (float)(0.2 * rng_normal(&r));
    }
}

/* A rollout's inputs for B sequences of n_ctx + n_new frames: context
 * tokens in [0, V), actions in [-1, 1], slots present or absent at random. */
typedef struct {
    int B, n_ctx, n_new;
    int *ctx_tokens;
    float *ctx_actions, *ctx_slots, *new_actions, *new_slots;
} rollout_inputs;

static rollout_inputs make_inputs(const dynamics_config *c, int B, int n_ctx, int n_new, uint64_t seed) {
    wm_rng r;
    rng_init(&r, seed);
    const size_t A = (size_t)c->action_dim, KS = (size_t)c->slots * c->slot_dim, P = (size_t)c->frame_tokens;
    rollout_inputs in = {B, n_ctx, n_new, CALLOC_CHECK((size_t)B * n_ctx * P + 1, sizeof(int)),
                         frand(&r, (size_t)B * n_ctx * A, -1, 1), fvec((size_t)B * n_ctx * KS),
                         frand(&r, (size_t)B * n_new * A, -1, 1), fvec((size_t)B * n_new * KS)};
    for (size_t i = 0; i < (size_t)B * n_ctx * P; i++) in.ctx_tokens[i] = (int)(rng_u64(&r) % (uint64_t)c->vocab);
    float *slot_sets[2] = {in.ctx_slots, in.new_slots};
    const int counts[2] = {n_ctx, n_new};
    for (int k = 0; k < 2; k++)
        for (size_t s = 0; s < (size_t)B * counts[k] * c->slots; s++) {
            const int present = rng_uniform(&r) < 0.7;
            for (int j = 0; j < c->slot_dim; j++)
                slot_sets[k][s * c->slot_dim + j] = present ? (float)rng_range(&r, -1, 1) : 0.0f;
        }
    return in;
}

static void free_inputs(rollout_inputs *in) {
    free(in->ctx_tokens), free(in->ctx_actions), free(in->ctx_slots), free(in->new_actions), free(in->new_slots);
}

/* Runs the rollout (which must succeed) into a new array (B, n_new, P). */
static int *roll(dynamics_model *dm, const rollout_params *p, const rollout_inputs *in) {
    int *out = CALLOC_CHECK((size_t)in->B * in->n_new * dm->cfg.frame_tokens, sizeof(int));
    wm_error err;
    ck_assert_msg(rollout_generate(dm, p, in->B, in->n_ctx, in->ctx_tokens, in->ctx_actions, in->ctx_slots, in->n_new,
                                   in->new_actions, in->new_slots, out, &err) == 0,
                  "%s", err.msg);
    return out;
}

static rollout_params params(rollout_mode mode, int steps, float temperature, uint64_t seed) {
    rollout_params p = rollout_params_default();
    p.mode = mode, p.steps = steps, p.temperature = temperature, p.seed = seed;
    return p;
}

START_TEST(defaults_and_mode_names) {
    rollout_params p = rollout_params_default();
    ck_assert_int_eq(p.mode, ROLLOUT_PARALLEL);
    ck_assert_int_eq(p.steps, 8);
    ck_assert_float_eq(p.temperature, 1.0f);
    ck_assert_int_eq(p.top_k, 0);
    ck_assert_uint_eq(p.seed, 1);
    rollout_mode m;
    ck_assert_str_eq(rollout_mode_name(ROLLOUT_AR), "ar");
    ck_assert_str_eq(rollout_mode_name(ROLLOUT_PARALLEL), "parallel");
    ck_assert_int_eq(rollout_mode_parse("ar", &m), 0);
    ck_assert_int_eq(m, ROLLOUT_AR);
    ck_assert_int_eq(rollout_mode_parse("parallel", &m), 0);
    ck_assert_int_eq(m, ROLLOUT_PARALLEL);
    ck_assert_int_eq(rollout_mode_parse("AR", &m), -1);
    ck_assert_int_eq(rollout_mode_parse("", &m), -1);
}
END_TEST

/* Both modes: ids in [0, V), the same seed gives the same tokens (also on
 * one thread), another seed others. */
START_TEST(rollouts_are_in_range_and_seeded) {
    const dynamics_config c = tiny_config();
    dynamics_model dm;
    make_model(&dm, &c, 3);
    rollout_inputs in = make_inputs(&c, MAX_B, 2, 6, 4);
    const size_t n = (size_t)MAX_B * 6 * c.frame_tokens;
    const int threads = omp_get_max_threads();
    for (int mode = ROLLOUT_AR; mode <= ROLLOUT_PARALLEL; mode++) {
        rollout_params p1 = params(mode, 2, 1.0f, 7), p2 = params(mode, 2, 1.0f, 8);
        int *a = roll(&dm, &p1, &in), *b = roll(&dm, &p1, &in), *d = roll(&dm, &p2, &in);
        omp_set_num_threads(1);
        int *one = roll(&dm, &p1, &in);
        omp_set_num_threads(threads);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(a[i] >= 0 && a[i] < c.vocab, "%s: token %d", rollout_mode_name(mode), a[i]);
        ck_assert_msg(memcmp(a, b, n * sizeof *a) == 0, "%s: same seed, other tokens", rollout_mode_name(mode));
        ck_assert_msg(memcmp(a, one, n * sizeof *a) == 0, "%s: other tokens on one thread", rollout_mode_name(mode));
        ck_assert_msg(memcmp(a, d, n * sizeof *a) != 0, "%s: another seed, same tokens", rollout_mode_name(mode));
        free(a), free(b), free(d), free(one);
    }
    free_inputs(&in);
    dynamics_free(&dm);
}
END_TEST

/* A greedy one-frame rollout is one dynamics_generate_frame call on the
 * last F-1 context frames (the earlier ones are not used), and a greedy
 * parallel one a dynamics_generate_frame_parallel call. */
START_TEST(one_greedy_frame_is_one_generate_call) {
    const dynamics_config c = tiny_config();
    const int F = c.frames, P = c.frame_tokens, A = c.action_dim, KS = c.slots * c.slot_dim;
    dynamics_model dm;
    make_model(&dm, &c, 5);
    rollout_inputs in = make_inputs(&c, 1, 4, 1, 6);
    /* The window: context frames 2 and 3, then the new frame's conditioning. */
    int context[2 * 4], want[4], want_par[4];
    float actions[3 * 4], slots[3 * 3];
    memcpy(context, in.ctx_tokens + 2 * P, (size_t)(F - 1) * P * sizeof(int));
    memcpy(actions, in.ctx_actions + 2 * A, (size_t)(F - 1) * A * sizeof(float));
    memcpy(actions + (F - 1) * A, in.new_actions, (size_t)A * sizeof(float));
    memcpy(slots, in.ctx_slots + 2 * KS, (size_t)(F - 1) * KS * sizeof(float));
    memcpy(slots + (F - 1) * KS, in.new_slots, (size_t)KS * sizeof(float));
    dynamics_generate_frame(&dm, context, actions, slots, 1, 0.0f, 0, NULL, want);
    dynamics_generate_frame_parallel(&dm, context, actions, slots, 1, 3, 0.0f, 0, NULL, want_par);
    rollout_params ar = params(ROLLOUT_AR, 8, 0.0f, 1), par = params(ROLLOUT_PARALLEL, 3, 0.0f, 1);
    int *got = roll(&dm, &ar, &in), *got_par = roll(&dm, &par, &in);
    ck_assert_int_eq(memcmp(got, want, sizeof want), 0);
    ck_assert_int_eq(memcmp(got_par, want_par, sizeof want_par), 0);
    /* Changing the unused first context frames changes nothing. */
    for (int j = 0; j < 2 * P; j++) in.ctx_tokens[j] = (in.ctx_tokens[j] + 5) % c.vocab;
    in.ctx_actions[0] += 0.5f;
    int *again = roll(&dm, &ar, &in);
    ck_assert_int_eq(memcmp(again, want, sizeof want), 0);
    free(got), free(got_par), free(again);
    free_inputs(&in);
    dynamics_free(&dm);
}
END_TEST

/* Frame i of a sampled rollout is a direct generate call on the window
 * of sequence frames n_ctx + i - 2 .. n_ctx + i (context, then generated
 * frames as they become context), drawing from one rng = rng_fork(seed, 0)
 * carried from frame to frame. The sequence is built whole here, so the
 * window is a plain slice of it. */
START_TEST(the_window_slides_one_frame_per_generated_frame) {
    const dynamics_config c = tiny_config();
    const int F = c.frames, P = c.frame_tokens, A = c.action_dim, KS = c.slots * c.slot_dim;
    enum { N_CTX = 3, N_NEW = 5, N = N_CTX + N_NEW };
    dynamics_model dm;
    make_model(&dm, &c, 9);
    rollout_inputs in = make_inputs(&c, 1, N_CTX, N_NEW, 10);
    for (int mode = ROLLOUT_AR; mode <= ROLLOUT_PARALLEL; mode++) {
        int seq[N * 4];
        float seq_actions[N * 4], seq_slots[N * 3];
        memcpy(seq, in.ctx_tokens, sizeof(int) * N_CTX * P);
        memcpy(seq_actions, in.ctx_actions, sizeof(float) * N_CTX * A);
        memcpy(seq_actions + N_CTX * A, in.new_actions, sizeof(float) * N_NEW * A);
        memcpy(seq_slots, in.ctx_slots, sizeof(float) * N_CTX * KS);
        memcpy(seq_slots + N_CTX * KS, in.new_slots, sizeof(float) * N_NEW * KS);
        wm_rng rng = rng_fork(77, 0);
        for (int i = 0; i < N_NEW; i++) {
            const int g = N_CTX + i, w0 = g - (F - 1);
            if (mode == ROLLOUT_AR)
                dynamics_generate_frame(&dm, seq + w0 * P, seq_actions + w0 * A, seq_slots + w0 * KS, 1, 1.0f, 0, &rng,
                                        seq + g * P);
            else
                dynamics_generate_frame_parallel(&dm, seq + w0 * P, seq_actions + w0 * A, seq_slots + w0 * KS, 1, 2,
                                                 1.0f, 0, &rng, seq + g * P);
        }
        rollout_params p = params(mode, 2, 1.0f, 77);
        int *got = roll(&dm, &p, &in);
        for (int i = 0; i < N_NEW; i++)
            for (int j = 0; j < P; j++)
                ck_assert_msg(got[i * P + j] == seq[(N_CTX + i) * P + j], "%s: frame %d token %d: %d, expected %d",
                              rollout_mode_name(mode), i, j, got[i * P + j], seq[(N_CTX + i) * P + j]);
        /* The frames differ from each other: the window really moved. */
        ck_assert(memcmp(got, got + P, sizeof(int) * P) != 0 || memcmp(got + P, got + 2 * P, sizeof(int) * P) != 0);
        free(got);
    }
    free_inputs(&in);
    dynamics_free(&dm);
}
END_TEST

/* Greedy rollouts of two sequences at once equal each sequence alone; NULL
 * slots equal all-zero slots, and NULL for one of the two arrays zeroes
 * just that part. */
START_TEST(batches_and_absent_slots) {
    const dynamics_config c = tiny_config();
    const int P = c.frame_tokens, A = c.action_dim, KS = c.slots * c.slot_dim;
    enum { N_CTX = 2, N_NEW = 4 };
    dynamics_model dm;
    make_model(&dm, &c, 11);
    rollout_inputs both = make_inputs(&c, 2, N_CTX, N_NEW, 12);
    for (int mode = ROLLOUT_AR; mode <= ROLLOUT_PARALLEL; mode++) {
        rollout_params p = params(mode, 4, 0.0f, 1);
        int *pair = roll(&dm, &p, &both);
        for (int b = 0; b < 2; b++) {
            rollout_inputs one = {1, N_CTX, N_NEW, both.ctx_tokens + b * N_CTX * P, both.ctx_actions + b * N_CTX * A,
                                  both.ctx_slots + b * N_CTX * KS, both.new_actions + b * N_NEW * A,
                                  both.new_slots + b * N_NEW * KS};
            int *alone = roll(&dm, &p, &one);
            ck_assert_msg(memcmp(alone, pair + b * N_NEW * P, sizeof(int) * N_NEW * P) == 0, "%s: sequence %d",
                          rollout_mode_name(mode), b);
            free(alone);
        }
        free(pair);
    }
    /* Absent slots. */
    rollout_inputs zero = both;
    zero.ctx_slots = fvec((size_t)2 * N_CTX * KS), zero.new_slots = fvec((size_t)2 * N_NEW * KS);
    rollout_inputs none = both, ctx_only = both, new_only = both;
    none.ctx_slots = none.new_slots = NULL;
    rollout_inputs ctx_zero = both, new_zero = both;
    ctx_only.new_slots = NULL, new_zero.new_slots = zero.new_slots;
    new_only.ctx_slots = NULL, ctx_zero.ctx_slots = zero.ctx_slots;
    rollout_params p = params(ROLLOUT_AR, 1, 0.0f, 1);
    const size_t n = sizeof(int) * 2 * N_NEW * P;
    int *a = roll(&dm, &p, &zero), *b = roll(&dm, &p, &none);
    ck_assert_int_eq(memcmp(a, b, n), 0);
    free(a), free(b);
    a = roll(&dm, &p, &ctx_only), b = roll(&dm, &p, &new_zero);
    ck_assert_int_eq(memcmp(a, b, n), 0);
    free(a), free(b);
    a = roll(&dm, &p, &new_only), b = roll(&dm, &p, &ctx_zero);
    ck_assert_int_eq(memcmp(a, b, n), 0);
    free(a), free(b);
    free(zero.ctx_slots), free(zero.new_slots);
    free_inputs(&both);
    dynamics_free(&dm);
}
END_TEST

/* A one-frame window needs no context: every frame comes from its own
 * conditioning alone. A model without slots takes NULL slots. */
START_TEST(one_frame_windows_and_models_without_slots) {
    dynamics_config c = tiny_config();
    c.frames = 1, c.slots = 0;
    dynamics_model dm;
    make_model(&dm, &c, 13);
    rollout_inputs in = make_inputs(&c, 1, 0, 3, 14);
    for (int mode = ROLLOUT_AR; mode <= ROLLOUT_PARALLEL; mode++) {
        rollout_params p = params(mode, 2, 0.0f, 1);
        int *got = roll(&dm, &p, &in);
        for (int i = 0; i < 3; i++) {
            int want[4];
            if (mode == ROLLOUT_AR)
                dynamics_generate_frame(&dm, NULL, in.new_actions + i * c.action_dim, NULL, 1, 0.0f, 0, NULL, want);
            else
                dynamics_generate_frame_parallel(&dm, NULL, in.new_actions + i * c.action_dim, NULL, 1, 2, 0.0f, 0,
                                                 NULL, want);
            ck_assert_int_eq(memcmp(got + i * 4, want, sizeof want), 0);
        }
        free(got);
    }
    free_inputs(&in);
    dynamics_free(&dm);
}
END_TEST

static void expect_error(dynamics_model *dm, const rollout_params *p, const rollout_inputs *in, int B, int n_ctx,
                         int n_new, const char *msg) {
    int out[64] = {0};
    wm_error err = {{0}};
    ck_assert_int_eq(rollout_generate(dm, p, B, n_ctx, in->ctx_tokens, in->ctx_actions, in->ctx_slots, n_new,
                                      in->new_actions, in->new_slots, out, &err),
                     -1);
    ck_assert_str_eq(err.msg, msg);
    for (int i = 0; i < 64; i++) ck_assert_int_eq(out[i], 0); /* nothing written */
}

START_TEST(errors_are_exact) {
    const dynamics_config c = tiny_config();
    dynamics_model dm;
    make_model(&dm, &c, 15);
    rollout_inputs in = make_inputs(&c, 2, 3, 2, 16);
    rollout_params ar = params(ROLLOUT_AR, 0, 1.0f, 1), par = params(ROLLOUT_PARALLEL, 2, 1.0f, 1);
    expect_error(&dm, &ar, &in, 0, 3, 2, "rollout: batch 0 outside [1, max_batch 2]");
    expect_error(&dm, &ar, &in, 3, 3, 2, "rollout: batch 3 outside [1, max_batch 2]");
    ar.guidance = 3.0f; /* 2B windows: B 2 does not fit a max_batch of 2, B 1 does */
    expect_error(&dm, &ar, &in, 2, 3, 2,
                 "rollout: guidance 3 runs 2B = 4 windows, but the model has room for 2 (max_batch)");
    int guided[2 * 4];
    wm_error gerr;
    ck_assert_msg(rollout_generate(&dm, &ar, 1, 3, in.ctx_tokens, in.ctx_actions, in.ctx_slots, 2, in.new_actions,
                                   in.new_slots, guided, &gerr) == 0, "%s", gerr.msg);
    ck_assert(dm.guidance == 1.0f); /* the model is left as it was */
    ar.guidance = 1.0f;
    expect_error(&dm, &ar, &in, 1, 1, 2, "rollout: 1 context frames, but the model's windows need F-1 = 2");
    expect_error(&dm, &ar, &in, 1, 3, 0, "rollout: 0 new frames is below 1");
    expect_error(&dm, &ar, &in, 1, 3, -4, "rollout: -4 new frames is below 1");
    par.steps = 0;
    expect_error(&dm, &par, &in, 1, 3, 2, "rollout: steps 0 outside [1, 4]");
    par.steps = 5;
    expect_error(&dm, &par, &in, 1, 3, 2, "rollout: steps 5 outside [1, 4]");
    /* Steps do not matter token by token (ar's steps are 0 here). */
    int out[2 * 2 * 4];
    wm_error err;
    ck_assert_msg(rollout_generate(&dm, &ar, 2, 3, in.ctx_tokens, in.ctx_actions, in.ctx_slots, 2, in.new_actions,
                                   in.new_slots, out, &err) == 0, "%s", err.msg);
    /* Context tokens: (b, f, j) of the caller's array, every frame checked;
     * the MASK id V is not a frame's token. */
    par.steps = 2;
    in.ctx_tokens[(1 * 3 + 0) * 4 + 2] = 16;
    expect_error(&dm, &par, &in, 2, 3, 2, "rollout: context token 16 at (1, 0, 2) outside [0, 16)");
    in.ctx_tokens[(1 * 3 + 0) * 4 + 2] = 0;
    in.ctx_tokens[(0 * 3 + 2) * 4 + 3] = -1;
    expect_error(&dm, &ar, &in, 2, 3, 2, "rollout: context token -1 at (0, 2, 3) outside [0, 16)");
    free_inputs(&in);
    dynamics_free(&dm);
}
END_TEST

int main(void) {
    Suite *s = suite_create("rollout");
    TCase *tc = tcase_create("rollout");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, defaults_and_mode_names);
    tcase_add_test(tc, rollouts_are_in_range_and_seeded);
    tcase_add_test(tc, one_greedy_frame_is_one_generate_call);
    tcase_add_test(tc, the_window_slides_one_frame_per_generated_frame);
    tcase_add_test(tc, batches_and_absent_slots);
    tcase_add_test(tc, one_frame_windows_and_models_without_slots);
    tcase_add_test(tc, errors_are_exact);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
