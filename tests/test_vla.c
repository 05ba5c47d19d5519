/* vla-tiny (worldmodel/vla.h, sim/vla_train.h, sim/policy_vla.c,
 * sim/cmd_vla.c): the text embedding and the input planes, the outputs'
 * scaling, checkpoints (round trip, another model type, truncation), a
 * tiny DAgger run on a real scenario (its loss falls, its expert share
 * follows the schedule, the same seed gives the same file), and the real
 * CLI: `wmsim vla train|eval` and `wmsim run --policy vla:...` with their
 * exact errors. Models here are tiny (32x16 frames, 2 stages). */
#include <math.h>

#include "sim/vla_train.h"
#include "testutil.h"
#include "worldmodel/vla.h"

#define W 32
#define H 16

static vla_config tiny_config(void) {
    vla_config c = vla_config_default();
    c.gap = 2, c.text_dims = 4;
    c.net.width = W, c.net.height = H, c.net.stages = 2, c.net.channels = 4, c.net.groups = 2, c.net.hidden = 8;
    c.net.channel_mult[0] = 1, c.net.channel_mult[1] = 2;
    return c;
}

static const char *scenario(void) { return src_path("scenarios/examples/cut_in.pbtxt"); }

START_TEST(text_embedding_is_a_unit_bag_of_words) {
    float a[8], b[8], c[8], z[8];
    vla_text_embedding("Obey the GUARD's signals.", 8, a);
    vla_text_embedding("obey the guard s signals", 8, b);
    vla_text_embedding("Follow the road.", 8, c);
    vla_text_embedding("", 8, z);
    double norm = 0, diff = 0;
    for (int i = 0; i < 8; i++) {
        ck_assert_float_eq(a[i], b[i]); /* case and punctuation do not matter */
        norm += (double)a[i] * a[i], diff += fabs((double)a[i] - c[i]);
        ck_assert_float_eq(z[i], 0.0f);
    }
    ck_assert_double_eq_tol(norm, 1.0, 1e-6);
    ck_assert_double_gt(diff, 0.1);
}
END_TEST

START_TEST(input_planes_follow_the_layout) {
    vla_config cfg = tiny_config();
    vla v;
    wm_error err;
    ck_assert_msg(vla_init(&v, &cfg, 2, 1, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(v.cfg.net.inputs, VLA_FRAME_PLANES + 1 + 4);
    ck_assert_int_eq(vla_input_floats(&v), (size_t)11 * W * H);
    uint8_t now[W * H * 3], then[W * H * 3];
    for (int i = 0; i < W * H * 3; i++) now[i] = (uint8_t)(i % 251), then[i] = 255;
    float text[4] = {0.5f, -0.5f, 0.25f, 0.0f}, *x = MALLOC_CHECK(vla_input_floats(&v) * sizeof(float));
    vla_input(&v, now, then, 5.0f, text, x);
    const size_t plane = (size_t)W * H;
    int p = 7 * W + 3; /* pixel (3, 7) */
    for (int c = 0; c < 3; c++) {
        ck_assert_float_eq_tol(x[c * plane + p], now[3 * p + c] * 2.0f / 255.0f - 1.0f, 1e-6);
        ck_assert_float_eq_tol(x[(3 + c) * plane + p], 1.0f, 1e-6);
    }
    ck_assert_float_eq_tol(x[6 * plane + p], 5.0f / 20.0f, 1e-6);
    for (int e = 0; e < 4; e++) ck_assert_float_eq(x[(7 + e) * plane + p], text[e]);
    free(x);
    vla_free(&v);
}
END_TEST

START_TEST(outputs_scale_and_clamp) {
    float t[VLA_OUTPUTS];
    vla_action_target(0.5, 0.25, -0.1, t);
    ck_assert_float_eq_tol(t[2], -0.1f * VLA_STEER_GAIN, 1e-6);
    double f[VLA_OUTPUTS];
    vla_output_action(t, f);
    ck_assert_double_eq_tol(f[0], 0.5, 1e-6);
    ck_assert_double_eq_tol(f[1], 0.25, 1e-6);
    ck_assert_double_eq_tol(f[2], -0.1, 1e-6);
    float wild[VLA_OUTPUTS] = {1.7f, -0.3f, 9.0f};
    vla_output_action(wild, f);
    ck_assert_double_eq(f[0], 1.0);
    ck_assert_double_eq(f[1], 0.0);
    ck_assert_double_eq(f[2], 1.0);
}
END_TEST

START_TEST(checkpoint_round_trip_and_bad_files) {
    char *dir = test_tmpdir(), path[4200], est_path[4200], cut[4200];
    join(path, sizeof path, dir, "v.wmck");
    join(est_path, sizeof est_path, dir, "e.wmck");
    join(cut, sizeof cut, dir, "cut.wmck");
    vla_config cfg = tiny_config();
    vla v, back;
    wm_error err;
    ck_assert_msg(vla_init(&v, &cfg, 1, 7, &err) == 0, "%s", err.msg);
    ck_assert_msg(vla_save(&v, path, NULL, &err) == 0, "%s", err.msg);
    ck_assert_msg(vla_load(&back, path, 1, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(back.cfg.gap, 2);
    ck_assert_int_eq(back.cfg.text_dims, 4);
    ck_assert_float_eq(back.cfg.speed_scale, 20.0f);
    float *x = CALLOC_CHECK(vla_input_floats(&v), sizeof(float)), a[3], b[3];
    for (size_t i = 0; i < vla_input_floats(&v); i++) x[i] = (float)sin((double)i);
    vla_forward(&v, x, 1, a);
    vla_forward(&back, x, 1, b);
    for (int k = 0; k < 3; k++) ck_assert_float_eq(a[k], b[k]);
    vla_free(&back);
    /* An estimator file is not a vla. */
    ck_assert_msg(estimator_save(&v.net, est_path, NULL, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(vla_load(&back, est_path, 1, &err), -1);
    ck_assert_msg(strstr(err.msg, est_path) && strstr(err.msg, "estimator"), "%s", err.msg);
    /* A truncated file. */
    size_t len;
    uint8_t *bytes = test_read_file(path, &len);
    FILE *f = fopen(cut, "wb");
    fwrite(bytes, 1, len / 2, f);
    fclose(f);
    free(bytes);
    ck_assert_int_eq(vla_load(&back, cut, 1, &err), -1);
    ck_assert_msg(strstr(err.msg, cut) != NULL, "%s", err.msg);
    free(x);
    vla_free(&v);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* A tiny DAgger run: 2 rounds of 1 variation on cut_in. */
static vla_train_config tiny_run(const char *out, const char *const *scen) {
    vla_train_config c = vla_train_config_default();
    c.scenarios = scen, c.n_scenarios = 1, c.out_path = out, c.model = tiny_config();
    c.rounds = 2, c.variations = 1, c.steps_first = 200, c.steps = 20, c.batch = 8, c.eval_seeds = 1;
    return c;
}

START_TEST(dagger_run_learns_and_is_reproducible) {
    char *dir = test_tmpdir(), a[4200], b[4200], csv[4300];
    join(a, sizeof a, dir, "a.wmck");
    join(b, sizeof b, dir, "b.wmck");
    const char *scen[] = {scenario()};
    vla_train_report ra, rb;
    wm_error err;
    vla_train_config c = tiny_run(a, scen);
    ck_assert_msg(vla_train(&c, &ra, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ra.n_rounds, 2);
    ck_assert_double_eq(ra.rounds[0].expert_share, 1.0);
    /* Round 1: the expert drives each step with probability 1/2. */
    ck_assert_double_gt(ra.rounds[1].expert_share, 0.35);
    ck_assert_double_lt(ra.rounds[1].expert_share, 0.65);
    ck_assert_int_gt(ra.rounds[1].samples, ra.rounds[0].samples);
    ck_assert_int_eq(ra.rounds[1].eval_episodes, 1);
    /* The labels are learnable: round 0's loss falls to under half of where
     * the untrained network starts. */
    ck_assert_msg(ra.rounds[0].loss < 0.5f * ra.rounds[0].first_loss, "loss %g from %g", (double)ra.rounds[0].loss,
                  (double)ra.rounds[0].first_loss);
    snprintf(csv, sizeof csv, "%s.csv", a);
    size_t len;
    char *text = (char *)test_read_file(csv, &len);
    text[len] = '\0';
    ck_assert_ptr_nonnull(strstr(text, "round,samples,expert_share,loss,eval_passed,eval_episodes,seconds\n0,"));
    ck_assert_ptr_nonnull(strstr(text, "\n1,"));
    free(text);
    c = tiny_run(b, scen);
    ck_assert_msg(vla_train(&c, &rb, &err) == 0, "%s", err.msg);
    ck_assert(test_files_equal(a, b));
    /* With a moving average the saved weights are the average, not the last step's. */
    c = tiny_run(b, scen);
    c.ema_decay = 0.9f;
    ck_assert_msg(vla_train(&c, &rb, &err) == 0, "%s", err.msg);
    ck_assert(!test_files_equal(a, b));
    vla v;
    ck_assert_msg(vla_load(&v, b, 1, &err) == 0, "%s", err.msg);
    vla_free(&v);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(bad_training_configs) {
    const char *scen[] = {scenario()};
    vla_train_report r;
    wm_error err;
    vla_train_config c = tiny_run("/tmp/never.wmck", scen);
    c.rounds = 0;
    ck_assert_int_eq(vla_train(&c, &r, &err), -1);
    ck_assert_str_eq(err.msg, "vla train: rounds 0 outside [1, 16]");
    c = tiny_run("/tmp/never.wmck", scen);
    c.brake_weight = -1.0f;
    ck_assert_int_eq(vla_train(&c, &r, &err), -1);
    ck_assert_str_eq(err.msg, "vla train: brake weight -1 outside [0, 1000]");
    c = tiny_run("/tmp/never.wmck", scen);
    c.ema_decay = 1.0f;
    ck_assert_int_eq(vla_train(&c, &r, &err), -1);
    ck_assert_str_eq(err.msg, "vla train: ema decay 1 outside [0, 1)");
    c = tiny_run("/tmp/never.wmck", scen);
    c.model.gap = 0;
    ck_assert_int_eq(vla_train(&c, &r, &err), -1);
    ck_assert_str_eq(err.msg, "vla: gap 0 outside [1, 50]");
    const char *missing[] = {"/nonexistent/s.pbtxt"};
    c = tiny_run("/tmp/never.wmck", missing);
    ck_assert_int_eq(vla_train(&c, &r, &err), -1);
    ck_assert_msg(strstr(err.msg, "/nonexistent/s.pbtxt") != NULL, "%s", err.msg);
}
END_TEST

/* The real CLI: train a tiny model, drive it, and every usage error. */
START_TEST(cli_trains_runs_and_reports_errors) {
    char *dir = test_tmpdir(), model[4200], spec[4300], outdir[4200], result[4300];
    join(model, sizeof model, dir, "v.wmck");
    join(outdir, sizeof outdir, dir, "run");
    join(result, sizeof result, outdir, "result.json");
    /* The CLI trains the default network; a vla file written by the test is the tiny one. */
    vla_config cfg = tiny_config();
    vla v;
    wm_error err;
    ck_assert_msg(vla_init(&v, &cfg, 1, 3, &err) == 0, "%s", err.msg);
    ck_assert_msg(vla_save(&v, model, NULL, &err) == 0, "%s", err.msg);
    vla_free(&v);
    snprintf(spec, sizeof spec, "vla:%s", model);
    char *out;
    int rc = run_wmsim(&out, (const char *[]){"run", scenario(), "--policy", spec, "--size", "32x16", "--out", outdir,
                                              NULL});
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert_msg(strstr(out, "policy vla:") != NULL, "%s", out);
    free(out);
    ck_assert_int_eq(access(result, F_OK), 0);
    /* At the camera's default size the model cannot see: a policy error naming both sizes. */
    rc = run_wmsim(&out, (const char *[]){"run", scenario(), "--policy", spec, "--out", outdir, NULL});
    ck_assert_int_eq(rc, 0);
    char want[4600];
    snprintf(want, sizeof want, "policy %s: the camera gives 128x64 frames, but the model takes 32x16", spec);
    ck_assert_msg(strstr(out, want) != NULL, "%s", out);
    free(out);
    rc = run_wmsim(&out, (const char *[]){"run", scenario(), "--policy", "vla:/nonexistent/v.wmck", NULL});
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(out, "wmsim: policy vla: /nonexistent/v.wmck: ") != NULL, "%s", out);
    free(out);
    rc = run_wmsim(&out, (const char *[]){"vla", "eval", "--model", model, "--scenarios", scenario(), "--seeds", "1",
                                          NULL});
    /* eval drives at the scenario's camera (128x64): every episode a policy error, none passed. */
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert_msg(strstr(out, "passed 0/1 (0 %) in the oracle loop") != NULL, "%s", out);
    free(out);
    struct {
        const char *args[10];
        int rc;
        const char *msg;
    } cases[] = {
        {{"vla", "train", "--scenarios", scenario(), NULL}, 2, "wmsim: vla train: missing --out"},
        {{"vla", "eval", "--scenarios", scenario(), NULL}, 2, "wmsim: vla eval: missing --model"},
        {{"vla", "train", "--out", model, NULL}, 2, "wmsim: vla: missing --scenarios"},
        {{"vla", "fly", "--scenarios", scenario(), NULL}, 2, "wmsim: vla: unknown subcommand 'fly' (train, eval)"},
        {{"vla", "train", "--scenarios", "/nonexistent", "--out", model, NULL}, 1,
         "wmsim: /nonexistent: No such file or directory"},
        {{"vla", "train", "--scenarios", scenario(), "--out", model, "--rounds", "0", NULL}, 2,
         "wmsim: --rounds: expected an integer in [1, 16], got '0'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rc = run_wmsim(&out, cases[i].args);
        ck_assert_msg(rc == cases[i].rc, "case %zu: exit %d: %s", i, rc, out);
        ck_assert_msg(strstr(out, cases[i].msg) != NULL, "case %zu: want '%s' in:\n%s", i, cases[i].msg, out);
        free(out);
    }
    test_remove_tree(dir);
    free(dir);
}
END_TEST

static Suite *vla_suite(void) {
    Suite *s = suite_create("vla");
    TCase *tc = tcase_create("vla");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, text_embedding_is_a_unit_bag_of_words);
    tcase_add_test(tc, input_planes_follow_the_layout);
    tcase_add_test(tc, outputs_scale_and_clamp);
    tcase_add_test(tc, checkpoint_round_trip_and_bad_files);
    tcase_add_test(tc, dagger_run_learns_and_is_reproducible);
    tcase_add_test(tc, bad_training_configs);
    tcase_add_test(tc, cli_trains_runs_and_reports_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(vla_suite()); }
