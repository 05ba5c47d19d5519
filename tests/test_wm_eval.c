/* `wmsim worldmodel eval` end to end, as the real binary on real clips and
 * models, and sim/wm_eval.h's measurements called directly.
 *
 * The fixture (unchecked, once): testutil.h's tiny clips and tokenizer
 * (2 scenarios x 6 variations x 2 s at 32x16, 21 frames a clip; the
 * validation split is cut_in/v0005 and guard_stop_proceed/v0005), their
 * token shards, a tiny dynamics model (2-frame windows, 1 layer of 16
 * channels, 10 steps) and a tiny estimator (10 steps), all made by the CLI;
 * and "near": a copy of guard_stop_proceed with the guard 35 m ahead
 * instead of 110, 6 variations x 2 s, so that its validation clip shows
 * the guard close enough for gesture legibility.
 *
 * Windows: W = 1 context frame, horizons 0.5 and 1 s, ACT-Bench over 1 s,
 * so R = 10 rolled-out frames and the context ends at frame
 * c = 0 + (21 - 1 - 10) / 2 = 5. */
#include <jansson.h>
#include <math.h>

#include "core/fileio.h"
#include "datasets/window_source.h"
#include "render/image.h"
#include "sim/wm_eval.h"
#include "testutil.h"
#include "worldmodel/image_metrics.h"
#include "worldmodel/tokenizer.h"

#define CLIP_FRAMES 21
#define LAST 5 /* the context end c */

static char *fixture_dir, clips[4200], tok[4200], shards[4200], dyn[4200], est[4200], near_dir[4200],
    near_clips[4200];

static void make_fixture(void) {
    fixture_dir = test_tmpdir();
    make_tiny_clips_and_tokenizer(fixture_dir, clips, tok);
    join(shards, sizeof shards, fixture_dir, "shards");
    join(dyn, sizeof dyn, fixture_dir, "d.wmck");
    join(est, sizeof est, fixture_dir, "e.wmck");
    run_wmsim_ok((const char *[]){"worldmodel", "tokenize", "--data", clips, "--tokenizer", tok, "--out", shards,
                                  "--shard-frames", "64", "--quiet", NULL});
    run_wmsim_ok((const char *[]){"worldmodel", "train", "--shards", shards, "--out", dyn, "--frames", "2", "--layers",
                                  "1", "--channels", "16", "--heads", "2", "--steps", "10", "--batch", "4", "--quiet",
                                  NULL});
    run_wmsim_ok((const char *[]){"worldmodel", "estimator", "train", "--data", clips, "--out", est, "--steps", "10",
                                  "--batch", "4", "--channels", "4", "--hidden", "8", "--val-pairs", "8", "--quiet",
                                  NULL});
    /* The near guard. */
    join(near_dir, sizeof near_dir, fixture_dir, "near");
    join(near_clips, sizeof near_clips, fixture_dir, "near_clips");
    ck_assert_int_eq(mkdir(near_dir, 0755), 0);
    uint8_t *text;
    size_t len;
    wm_error err;
    ck_assert_msg(file_read_all(src_path("scenarios/examples/guard_stop_proceed.pbtxt"), 1 << 20, &text, &len, &err) == 0,
                  "%s", err.msg);
    char *s = (char *)text, out[8192], path[4400];
    const char *from[] = {"id: \"guard_stop_proceed\"", "s_m: 120", "stop_line_s_m: 114"};
    const char *to[] = {"id: \"guard_near\"", "s_m: 45", "stop_line_s_m: 39"};
    size_t n = 0;
    while (*s) {
        int k = -1;
        for (int i = 0; i < 3 && k < 0; i++)
            if (strncmp(s, from[i], strlen(from[i])) == 0) k = i;
        if (k >= 0) {
            n += (size_t)snprintf(out + n, sizeof out - n, "%s", to[k]);
            s += strlen(from[k]);
        } else out[n++] = *s++;
        ck_assert(n < sizeof out - 64);
    }
    out[n] = 0;
    free(text);
    join(path, sizeof path, near_dir, "guard_near.pbtxt");
    write_text_file(path, out);
    run_wmsim_ok((const char *[]){"clips", "generate", "--scenarios", path, "--variations", "6", "--seconds", "2",
                                  "--size", "32x16", "--out", near_clips, "--jobs", "2", "--quiet", NULL});
}

static void free_fixture(void) {
    test_remove_tree(fixture_dir);
    free(fixture_dir);
}

/* Runs the eval on data with the fixture's models, the short horizons and
 * extra (NULL-terminated) arguments; returns the exit status and output. */
static int eval(char **out, const char *data, const char *json, const char *strip, const char *const *extra) {
    const char *args[64] = {"worldmodel", "eval", "--data", data, "--model", dyn, "--tokenizer", tok,
                            "--estimator", est, "--horizons", "0.5,1", "--act-seconds", "1", "--json", json,
                            "--strip", strip};
    int n = 18;
    for (int i = 0; extra[i]; i++) args[n++] = extra[i];
    args[n] = NULL;
    return run_wmsim(out, args);
}

static json_t *eval_json(const char *data, const char *tmp, const char *const *extra) {
    char json[4400], strip[4400];
    join(json, sizeof json, tmp, "e.json");
    join(strip, sizeof strip, tmp, "e.png");
    char *out;
    int rc = eval(&out, data, json, strip, extra);
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    json_error_t jerr;
    json_t *root = json_load_file(json, 0, &jerr);
    ck_assert_msg(root != NULL, "%s: %s", json, jerr.text);
    return root;
}

/* The value at a dotted path ("a.b.c"), which must exist. */
static json_t *at(json_t *root, const char *path) {
    char buf[256], *save = NULL;
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = root;
    for (char *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
        v = json_object_get(v, k);
        ck_assert_msg(v != NULL, "JSON has no %s (at '%s')", path, k);
    }
    return v;
}

static int geti(json_t *root, const char *path) {
    json_t *v = at(root, path);
    ck_assert_msg(json_is_integer(v), "%s is not an integer", path);
    return (int)json_integer_value(v);
}

static double getr(json_t *root, const char *path) {
    json_t *v = at(root, path);
    ck_assert_msg(json_is_number(v), "%s is not a number", path);
    double x = json_number_value(v);
    ck_assert_msg(isfinite(x), "%s is not finite", path);
    return x;
}

/* An array of n finite numbers. */
static void finite_array(json_t *root, const char *path, int n, double *out) {
    json_t *a = at(root, path);
    ck_assert_msg(json_is_array(a) && (int)json_array_size(a) == n, "%s: not an array of %d", path, n);
    for (int i = 0; i < n; i++) {
        json_t *v = json_array_get(a, (size_t)i);
        ck_assert_msg(json_is_number(v) && isfinite(json_number_value(v)), "%s[%d] is not a finite number", path, i);
        if (out) out[i] = json_number_value(v);
    }
}

static void validation_clip(const char *name, char *out) {
    ck_assert((size_t)snprintf(out, 4400, "%s/%s", clips, name) < 4400);
}

/* ---- the command ------------------------------------------------------------ */

START_TEST(eval_writes_every_figure_finite_with_the_right_counts) {
    char *tmp = test_tmpdir(), json[4400], strip[4400];
    join(json, sizeof json, tmp, "e.json");
    join(strip, sizeof strip, tmp, "e.png");
    char *out;
    int rc = eval(&out, clips, json, strip, (const char *[]){"--scenarios", src_path("scenarios/examples"), NULL});
    ck_assert_msg(rc == 0, "%s", out);
    const char *want[] = {"worldmodel eval: ", ": 2 of 2 validation clips evaluated (0 too short), 2 with the oracle",
                          "repeat last frame", "tokenizer round trip", "action discrimination, actions only",
                          "action discrimination, slots", "ACT-Bench action fidelity (1 s windows)",
                          "true frames (the ceiling)", "gesture legibility (slots)"};
    for (int i = 0; i < (int)(sizeof want / sizeof want[0]); i++) ck_assert_msg(strstr(out, want[i]), "%s", out);
    char line[9000];
    snprintf(line, sizeof line, "\nwrote %s and %s\n", json, strip);
    ck_assert_msg(strstr(out, line), "%s", out);
    free(out);

    json_error_t jerr;
    json_t *r = json_load_file(json, 0, &jerr);
    ck_assert_msg(r != NULL, "%s", jerr.text);
    ck_assert_str_eq(json_string_value(at(r, "model")), dyn);
    ck_assert_str_eq(json_string_value(at(r, "estimator")), est);
    ck_assert_str_eq(json_string_value(at(r, "settings.mode")), "parallel");
    ck_assert_int_eq(geti(r, "settings.frames_per_window"), 2);
    ck_assert_int_eq(geti(r, "settings.rollout_frames"), 10);
    ck_assert_int_eq(geti(r, "settings.act_frames"), 10);
    ck_assert_int_eq(geti(r, "clips.validation"), 2);
    ck_assert_int_eq(geti(r, "clips.chosen"), 2);
    ck_assert_int_eq(geti(r, "clips.evaluated"), 2);
    ck_assert_int_eq(geti(r, "clips.too_short"), 0);
    ck_assert_int_eq(geti(r, "clips.oracle"), 2); /* both replay onto their recorded states */
    ck_assert_int_eq(geti(r, "clips.oracle_mismatch"), 0);
    ck_assert_int_eq(geti(r, "clips.oracle_frame_differs"), 0); /* and redraw the stored frames exactly */
    double hs[2];
    finite_array(r, "fidelity.horizons_s", 2, hs);
    ck_assert(hs[0] == 0.5 && hs[1] == 1.0);
    const char *fid[] = {"actions_only", "slots", "repeat_last_frame", "tokenizer_round_trip"};
    for (int i = 0; i < 4; i++) {
        char p[128];
        snprintf(p, sizeof p, "fidelity.%s.psnr", fid[i]);
        finite_array(r, p, 2, NULL);
        snprintf(p, sizeof p, "fidelity.%s.ssim", fid[i]);
        finite_array(r, p, 2, NULL);
        snprintf(p, sizeof p, "fidelity.%s.frames", fid[i]);
        ck_assert_int_eq(geti(r, p), 2);
    }
    /* Per mode and clip: 2 pairs x 2 sides with the oracle (a skipped pair
     * takes both), 3 contrasting rollouts against the true future. */
    const char *modes[] = {"actions_only", "slots"};
    for (int m = 0; m < 2; m++) {
        char p[128], q[128];
        snprintf(p, sizeof p, "discrimination.%s.oracle.trials", modes[m]);
        snprintf(q, sizeof q, "discrimination.%s.oracle.skipped", modes[m]);
        ck_assert_int_eq(geti(r, p) + 2 * geti(r, q), 2 * 4);
        ck_assert_int_gt(geti(r, p), 0);
        snprintf(p, sizeof p, "discrimination.%s.oracle.rate", modes[m]);
        double rate = getr(r, p);
        ck_assert(rate >= 0 && rate <= 1);
        snprintf(p, sizeof p, "discrimination.%s.oracle.longitudinal.trials", modes[m]);
        snprintf(q, sizeof q, "discrimination.%s.oracle.lateral.trials", modes[m]);
        ck_assert_int_eq(geti(r, p) + geti(r, q), geti(r, "discrimination.actions_only.oracle.trials"));
        snprintf(p, sizeof p, "discrimination.%s.vs_true.trials", modes[m]);
        ck_assert_int_eq(geti(r, p), 2 * 3);
        snprintf(p, sizeof p, "discrimination.%s.vs_true.longitudinal.trials", modes[m]);
        ck_assert_int_eq(geti(r, p), 2);
        snprintf(p, sizeof p, "discrimination.%s.vs_true.rate", modes[m]);
        getr(r, p);
        const char *act[] = {"class_accuracy", "ade_m", "fde_m", "speed_mae_mps", "yaw_rate_mae_radps"};
        snprintf(p, sizeof p, "act_bench.%s.windows", modes[m]);
        ck_assert_int_eq(geti(r, p), 2);
        for (int i = 0; i < 5; i++) {
            snprintf(p, sizeof p, "act_bench.%s.%s", modes[m], act[i]);
            ck_assert(getr(r, p) >= 0);
        }
        snprintf(p, sizeof p, "bars.%s.psnr_gain_1s_db", modes[m]);
        getr(r, p);
    }
    ck_assert(json_is_true(at(r, "act_bench.measured")));
    ck_assert_int_eq(geti(r, "act_bench.oracle.windows"), 2);
    ck_assert(getr(r, "act_bench.oracle.ade_m") >= 0);
    /* Untrained, 2 s clips: the far guard's arm never shows, so every
     * gesture trial there is skipped. */
    ck_assert_int_eq(geti(r, "gesture_legibility.trials") + geti(r, "gesture_legibility.skipped"),
                     5 * geti(r, "gesture_legibility.clips"));
    /* Per mode and clip the 10-frame true rollout and 3 x 10 contrasting; per guard clip 5 x 10. */
    ck_assert_int_eq(geti(r, "generated_frames"),
                     2 * 2 * (10 + 3 * 10) + 5 * 10 * geti(r, "gesture_legibility.clips"));
    json_decref(r);

    /* The strip: a header, then per clip a label line over context, true, gen, gen+slots at each horizon. */
    image img;
    wm_error err;
    ck_assert_msg(image_read_png(strip, &img, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(img.width, (1 + 2 * 3) * 32 + 3 * 2);
    ck_assert_int_eq(img.height, 12 + 2 * (16 + 10 + 2));
    image_free(&img);
    test_remove_tree(tmp);
    free(tmp);
}
END_TEST

START_TEST(the_repeat_last_reference_is_the_direct_psnr_of_the_stored_frames) {
    /* A known case, built in memory: frames of 100, 110 and 100 again. */
    wm_eval_clip c;
    memset(&c, 0, sizeof c);
    c.meta.width = 16, c.meta.height = 12, c.n = 3;
    const size_t fb = 3 * 16 * 12;
    c.rgb = MALLOC_CHECK(3 * fb);
    memset(c.rgb, 100, fb);
    memset(c.rgb + fb, 110, fb);
    memset(c.rgb + 2 * fb, 100, fb);
    int offsets[2] = {1, 2};
    double psnr[2], ssim[2];
    wm_eval_repeat_last(&c, 0, offsets, 2, psnr, ssim);
    ck_assert_double_eq_tol(psnr[0], 10 * log10(255.0 * 255.0 / 100.0), 1e-12);
    ck_assert_double_eq(psnr[1], WM_EVAL_PSNR_CAP); /* identical frames: capped, not infinite */
    ck_assert_double_eq(ssim[1], 1.0);
    ck_assert(ssim[0] > 0 && ssim[0] < 1);
    free(c.rgb);

    /* The JSON's reference is the mean of psnr_rgb8 over the clips' frame c vs c+5 and c+10. */
    char *tmp = test_tmpdir();
    json_t *r = eval_json(clips, tmp, (const char *[]){"--quiet", NULL});
    double got[2], want[2] = {0, 0};
    finite_array(r, "fidelity.repeat_last_frame.psnr", 2, got);
    const char *names[] = {"cut_in/v0005", "guard_stop_proceed/v0005"};
    for (int i = 0; i < 2; i++) {
        char dir[4400];
        validation_clip(names[i], dir);
        wm_eval_clip vc;
        wm_error err;
        ck_assert_msg(wm_eval_clip_read(dir, &vc, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(vc.n, CLIP_FRAMES);
        ck_assert_int_eq(wm_eval_window(vc.n, 1, 10), LAST);
        for (int h = 0; h < 2; h++) {
            metric_image a = {32, 16, vc.rgb + (size_t)LAST * 3 * 32 * 16};
            metric_image b = {32, 16, vc.rgb + (size_t)(LAST + 5 * (h + 1)) * 3 * 32 * 16};
            double p;
            ck_assert(psnr_rgb8(a, b, &p, &err) == 0);
            want[h] += p / 2;
        }
        wm_eval_clip_free(&vc);
    }
    for (int h = 0; h < 2; h++) ck_assert_double_eq_tol(got[h], want[h], 1e-8 * want[h]);
    json_decref(r);
    test_remove_tree(tmp);
    free(tmp);
}
END_TEST

START_TEST(the_round_trip_ceiling_is_the_tokenizer_on_the_true_frames) {
    char *tmp = test_tmpdir();
    json_t *r = eval_json(clips, tmp, (const char *[]){"--quiet", NULL});
    double got[2], want[2] = {0, 0};
    finite_array(r, "fidelity.tokenizer_round_trip.psnr", 2, got);
    tokenizer tk;
    wm_error err;
    ck_assert_msg(tokenizer_load(&tk, tok, 4, &err) == 0, "%s", err.msg);
    const char *names[] = {"cut_in/v0005", "guard_stop_proceed/v0005"};
    float x[3 * 32 * 16], y[3 * 32 * 16];
    for (int i = 0; i < 2; i++) {
        char dir[4400];
        validation_clip(names[i], dir);
        wm_eval_clip vc;
        ck_assert_msg(wm_eval_clip_read(dir, &vc, &err) == 0, "%s", err.msg);
        for (int h = 0; h < 2; h++) {
            wm_eval_clip_frame(&vc, LAST + 5 * (h + 1), x);
            want[h] += tokenizer_reconstruct(&tk, x, 1, y) / 2;
        }
        wm_eval_clip_free(&vc);
    }
    tokenizer_free(&tk);
    /* tokenizer_reconstruct's PSNR is float: 1e-5 relative is its rounding. */
    for (int h = 0; h < 2; h++) ck_assert_double_eq_tol(got[h], want[h], 1e-5 * want[h]);
    /* And the generation cannot beat... nothing here: an untrained model; only the ceiling is checked. */
    json_decref(r);
    test_remove_tree(tmp);
    free(tmp);
}
END_TEST

START_TEST(the_same_seed_gives_the_same_json_byte_for_byte) {
    char *tmp = test_tmpdir(), a[4400], b[4400], strip[4400];
    join(a, sizeof a, tmp, "a.json");
    join(b, sizeof b, tmp, "b.json");
    join(strip, sizeof strip, tmp, "s.png");
    const char *const extra[] = {"--temperature", "1", "--guidance", "2", "--seed", "7", "--quiet", NULL};
    char *out;
    ck_assert_msg(eval(&out, clips, a, strip, extra) == 0, "%s", out);
    ck_assert_str_eq(out, ""); /* --quiet */
    free(out);
    ck_assert_msg(eval(&out, clips, b, strip, extra) == 0, "%s", out);
    free(out);
    uint8_t *x, *y;
    size_t nx, ny;
    wm_error err;
    ck_assert_msg(file_read_all(a, 1 << 24, &x, &nx, &err) == 0, "%s", err.msg);
    ck_assert_msg(file_read_all(b, 1 << 24, &y, &ny, &err) == 0, "%s", err.msg);
    ck_assert_msg(nx == ny && memcmp(x, y, nx) == 0, "%s and %s differ", a, b);
    ck_assert_ptr_nonnull(strstr((char *)x, "\"seed\": 7"));
    free(x), free(y);
    /* Token by token too. */
    json_t *r = eval_json(clips, tmp, (const char *[]){"--mode", "ar", "--quiet", NULL});
    ck_assert_str_eq(json_string_value(at(r, "settings.mode")), "ar");
    ck_assert_int_eq(geti(r, "clips.evaluated"), 2);
    finite_array(r, "fidelity.actions_only.psnr", 2, NULL);
    json_decref(r);
    test_remove_tree(tmp);
    free(tmp);
}
END_TEST

START_TEST(conditioning_is_the_training_windows_own) {
    /* The whole validation clip cut_in/v0005 as one window of the shards. */
    window_source *ws;
    wm_error err;
    ck_assert_msg(window_source_open(&ws, shards, WINDOW_SPLIT_VALIDATION, CLIP_FRAMES, 1, 0, &err) == 0, "%s",
                  err.msg);
    const window_source_info *in = window_source_info_get(ws);
    ck_assert_int_eq((int)in->windows, 2);
    const int A = in->action_dim, K = in->slots, S = in->slot_dim;
    float *wa = MALLOC_CHECK((size_t)CLIP_FRAMES * A * sizeof *wa), *wsl = MALLOC_CHECK((size_t)CLIP_FRAMES * K * S * sizeof *wsl);
    float *ea = MALLOC_CHECK((size_t)CLIP_FRAMES * A * sizeof *ea), *esl = MALLOC_CHECK((size_t)CLIP_FRAMES * K * S * sizeof *esl);
    int *tokens = MALLOC_CHECK((size_t)CLIP_FRAMES * in->frame_tokens * sizeof *tokens);
    window_source_get(ws, 0, tokens, wa, wsl);
    char dir[4400];
    validation_clip("cut_in/v0005", dir);
    wm_eval_clip vc;
    ck_assert_msg(wm_eval_clip_read(dir, &vc, &err) == 0, "%s", err.msg);
    wm_eval_conditioning(&vc, K, ea, esl);
    ck_assert_int_eq(memcmp(wa, ea, (size_t)CLIP_FRAMES * A * sizeof *wa), 0);
    ck_assert_int_eq(memcmp(wsl, esl, (size_t)CLIP_FRAMES * K * S * sizeof *wsl), 0);
    /* Frame 0 was led by no action; frame 1 by frame 0's. */
    ck_assert(ea[0] == 0 && ea[1] == 0 && ea[2] == 0);
    ck_assert(ea[A + 0] == (float)vc.states[0].action.accel / WINDOW_ACCEL_SCALE);
    wm_eval_clip_free(&vc);
    window_source_close(ws);
    free(wa), free(wsl), free(ea), free(esl), free(tokens);
}
END_TEST

START_TEST(window_and_contrast_rules) {
    ck_assert_int_eq(wm_eval_window(21, 1, 10), 5);
    ck_assert_int_eq(wm_eval_window(11, 1, 10), 0);
    ck_assert_int_eq(wm_eval_window(10, 1, 10), -1);
    ck_assert_int_eq(wm_eval_window(200, 2, 40), 1 + (200 - 42) / 2);
    action_limits lim = action_limits_default();
    action cruise[3] = {{0.3, 0, 0}, {0, 0, 0}, {0.2, 0, 0.1}}, braking[2] = {{0, 2, 0}, {0, 1.5, 0}};
    int brakes;
    action a = wm_eval_contrast(cruise, 3, 10.0, &lim, &brakes);
    ck_assert_int_eq(brakes, 1);
    ck_assert(a.accel == 0 && a.brake == WM_EVAL_HARD_BRAKE);
    a = wm_eval_contrast(braking, 2, 10.0, &lim, &brakes);
    ck_assert_int_eq(brakes, 0);
    ck_assert(a.accel == lim.accel_max && a.brake == 0);
    a = wm_eval_contrast(cruise, 3, 0.5, &lim, &brakes); /* nearly stopped: braking would change nothing */
    ck_assert_int_eq(brakes, 0);
    lim.brake_max = 4;
    a = wm_eval_contrast(cruise, 3, 10.0, &lim, &brakes);
    ck_assert(a.brake == 4);
}
END_TEST

START_TEST(a_near_guard_gives_gesture_trials_and_no_scenario_no_oracle) {
    char *tmp = test_tmpdir();
    json_t *r = eval_json(near_clips, tmp, (const char *[]){"--scenarios", near_dir, "--quiet", NULL});
    ck_assert_int_eq(geti(r, "clips.evaluated"), 1);
    ck_assert_int_eq(geti(r, "clips.oracle"), 1);
    ck_assert_int_eq(geti(r, "gesture_legibility.clips"), 1);
    int trials = geti(r, "gesture_legibility.trials");
    ck_assert_int_eq(trials + geti(r, "gesture_legibility.skipped"), 5);
    /* At 32x16 PROCEED's and TURN_LEFT's arms cover the same pixels; the other three differ. */
    ck_assert_int_eq(trials, 3);
    double rate = getr(r, "gesture_legibility.rate");
    ck_assert(rate >= 0 && rate <= 1);
    json_decref(r);
    /* The main clips' scenarios are not in near_dir: the simple version only. */
    r = eval_json(clips, tmp, (const char *[]){"--scenarios", near_dir, "--quiet", NULL});
    ck_assert_int_eq(geti(r, "clips.oracle"), 0);
    ck_assert_int_eq(geti(r, "clips.oracle_missing"), 2);
    ck_assert_int_eq(geti(r, "discrimination.actions_only.oracle.trials"), 0);
    ck_assert(json_is_null(at(r, "discrimination.actions_only.oracle.rate")));
    ck_assert_int_eq(geti(r, "discrimination.actions_only.vs_true.trials"), 6);
    ck_assert_int_eq(geti(r, "gesture_legibility.clips"), 0);
    ck_assert(json_is_null(at(r, "gesture_legibility.rate")));
    json_decref(r);
    test_remove_tree(tmp);
    free(tmp);
}
END_TEST

START_TEST(errors_name_the_problem) {
    char *tmp = test_tmpdir(), json[4400], strip[4400], missing[4400], train_only[4400], want[9000];
    join(json, sizeof json, tmp, "e.json");
    join(strip, sizeof strip, tmp, "e.png");
    join(missing, sizeof missing, tmp, "none.wmck");
    char *out;
    /* A missing model. */
    int rc = run_wmsim(&out, (const char *[]){"worldmodel", "eval", "--data", clips, "--model", missing, "--tokenizer",
                                              tok, "--json", json, "--strip", strip, NULL});
    ck_assert_int_eq(rc, 1);
    snprintf(want, sizeof want, "wmsim: %s: ", missing);
    ck_assert_msg(strncmp(out, want, strlen(want)) == 0 && strchr(out, '\n') == out + strlen(out) - 1, "%s", out);
    free(out);
    ck_assert_int_ne(access(json, F_OK), 0);
    /* A named estimator that is not there. */
    rc = run_wmsim(&out, (const char *[]){"worldmodel", "eval", "--data", clips, "--model", dyn, "--tokenizer", tok,
                                          "--estimator", missing, "--json", json, "--strip", strip, NULL});
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s", out);
    free(out);
    /* Clips of the train split only: cut_in variation 0. */
    join(train_only, sizeof train_only, tmp, "train_only");
    run_wmsim_ok((const char *[]){"clips", "generate", "--scenarios", src_path("scenarios/examples/cut_in.pbtxt"),
                                  "--variations", "1", "--seconds", "1", "--size", "32x16", "--out", train_only,
                                  "--quiet", NULL});
    rc = eval(&out, train_only, json, strip, (const char *[]){NULL});
    ck_assert_int_eq(rc, 1);
    snprintf(want, sizeof want, "wmsim: %s: no validation clips (1 complete clip, all in the train split)\n",
             train_only);
    ck_assert_str_eq(out, want);
    free(out);
    /* Clips too short for the window. */
    rc = eval(&out, clips, json, strip, (const char *[]){"--horizons", "3", NULL});
    ck_assert_int_eq(rc, 1);
    snprintf(want, sizeof want,
             "wmsim: %s: none of the 2 validation clips chosen has the 31 frames a window needs (1 context + 30 "
             "rolled out)\n",
             clips);
    ck_assert_str_eq(out, want);
    free(out);
    /* Bad usage: exit 2 with the reason first. */
    struct {
        const char *args[8], *msg;
    } bad[] = {
        {{"worldmodel", "eval", NULL}, "wmsim: worldmodel eval: missing --data\n"},
        {{"worldmodel", "eval", "--data", clips, "--mode", "fast", NULL}, "wmsim: --mode: expected ar or parallel, got 'fast'\n"},
        {{"worldmodel", "eval", "--data", clips, "--clips", "0", NULL}, "wmsim: --clips: expected an integer in [1, 100000], got '0'\n"},
        {{"worldmodel", "eval", "--data", clips, "--horizons", "1,0.5", NULL},
         "wmsim: --horizons: expected increasing seconds in steps of 0.1 (up to 8), got '1,0.5'\n"},
        {{"worldmodel", "eval", "--data", clips, "--horizons", "0.25", NULL},
         "wmsim: --horizons: expected increasing seconds in steps of 0.1 (up to 8), got '0.25'\n"},
        {{"worldmodel", "eval", "--data", clips, "--temperature", "-1", NULL},
         "wmsim: --temperature: expected a number in [0, 100], got '-1'\n"},
        {{"worldmodel", "eval", "--data", clips, "--guidance", "-2", NULL},
         "wmsim: --guidance: expected a number in [0, 100], got '-2'\n"},
        {{"worldmodel", "eval", "--data", clips, "--frobnicate", NULL},
         "wmsim: worldmodel eval: unknown option or missing value: '--frobnicate'\n"},
        {{"worldmodel", "eval", "--data", clips, "extra", NULL}, "wmsim: worldmodel eval: unexpected argument 'extra'\n"},
    };
    for (int i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
        rc = run_wmsim(&out, bad[i].args);
        ck_assert_msg(rc == 2, "exit %d: %s", rc, out);
        ck_assert_msg(strncmp(out, bad[i].msg, strlen(bad[i].msg)) == 0, "%s", out);
        ck_assert_msg(strstr(out, "usage: wmsim worldmodel eval --data CLIPS"), "%s", out);
        free(out);
    }
    /* --help: the usage on stdout, exit 0; the worldmodel usage mentions eval. */
    rc = run_wmsim(&out, (const char *[]){"worldmodel", "eval", "--help", NULL});
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(strncmp(out, "usage: wmsim worldmodel eval --data CLIPS", 41) == 0, "%s", out);
    free(out);
    rc = run_wmsim(&out, (const char *[]){"worldmodel", "--help", NULL});
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(strstr(out, "wmsim worldmodel eval --data CLIPS"), "%s", out);
    free(out);
    test_remove_tree(tmp);
    free(tmp);
}
END_TEST

int main(void) {
    Suite *s = suite_create("wm_eval");
    TCase *tc = tcase_create("wm_eval");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, make_fixture, free_fixture);
    tcase_add_test(tc, eval_writes_every_figure_finite_with_the_right_counts);
    tcase_add_test(tc, the_repeat_last_reference_is_the_direct_psnr_of_the_stored_frames);
    tcase_add_test(tc, the_round_trip_ceiling_is_the_tokenizer_on_the_true_frames);
    tcase_add_test(tc, the_same_seed_gives_the_same_json_byte_for_byte);
    tcase_add_test(tc, conditioning_is_the_training_windows_own);
    tcase_add_test(tc, window_and_contrast_rules);
    tcase_add_test(tc, a_near_guard_gives_gesture_trials_and_no_scenario_no_oracle);
    tcase_add_test(tc, errors_name_the_problem);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
