/* test_agreement.c — `wmsim agreement` and sim/agreement.h: episodes in the
 * oracle loop and the generative loop, compared.
 *
 * The world model is a tiny one made with the real CLI (32x16 tokenizer,
 * one-layer dynamics model, a few training steps), the suite two short
 * scenarios written here. Its frames are poor, which suits the tests: a
 * policy that sees them may well drive differently. One disagreement is
 * forced: this test binary as an exec: policy (`--as-policy sizes`) that
 * answers out of range at step 15 when its frames are the oracle's 128x64
 * and brakes to a stop when they are the world model's 32x16, so the loops
 * end with a policy failure and a missed goal. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>

#include "core/fileio.h"
#include "render/image.h"
#include "sim/agreement.h"
#include "sim/policy_protocol.pb-c.h"
#include "testpolicy.h"
#include "testutil.h"

/* ------------------------------------------------ the test binary as a policy */

/* `--as-policy sizes`: serves Observations on stdin with Actions on stdout. */
static int as_policy(void) {
    for (;;) {
        int bad;
        Wmsim__Policy__Observation *o = tp_read_observation(0, &bad);
        if (!o) return bad ? 4 : 0;
        Wmsim__Policy__Action a = WMSIM__POLICY__ACTION__INIT;
        a.has_step = a.has_accel = a.has_brake = a.has_steer = 1;
        a.step = o->step;
        int width = o->n_frames ? (int)o->frames[0]->width : 0;
        if (width < 64) a.brake = o->brake_max;        /* the world model's frames: stop */
        else a.accel = o->step == 15 ? 100.0 : 0.5;     /* the oracle's: out of range at step 15 */
        wmsim__policy__observation__free_unpacked(o, NULL);
        tp_send_action(1, &a);
    }
}

/* ---------------------------------------------------------------- fixture */

static const char STRAIGHT[] =
    "id: \"short_straight\"\n"
    "seed: 1\n"
    "duration_s: 6\n"
    "instruction: \"Follow the road.\"\n"
    "road {\n"
    "  segments { length_m: 120 }\n"
    "  lanes { direction: LANE_DIRECTION_FORWARD left_marking: LANE_MARKING_SOLID }\n"
    "  speed_limit_mps: 13.9\n"
    "}\n"
    "ego { lane: 0 s_m: 10 speed_mps: 10 goal_s_m: 60 }\n";

static const char GUARD[] =
    "id: \"short_guard\"\n"
    "seed: 1\n"
    "duration_s: 6\n"
    "instruction: \"Obey the traffic guard.\"\n"
    "road {\n"
    "  segments { length_m: 160 }\n"
    "  lanes { direction: LANE_DIRECTION_FORWARD left_marking: LANE_MARKING_SOLID }\n"
    "  speed_limit_mps: 13.9\n"
    "}\n"
    "ego { lane: 0 s_m: 10 speed_mps: 10 goal_s_m: 120 }\n"
    "actors {\n"
    "  id: \"guard\"\n"
    "  guard { s_m: 60 d_m: -0.4 stop_line_s_m: 54 timeline { gesture: GESTURE_STOP start_s: 0 } }\n"
    "}\n";

/* The tiny world model, the suite folder (a_straight.pbtxt, b_guard.pbtxt)
 * and the policies' specs. */
static char *fx_dir, fx_clips[4200], fx_tok[4200], fx_shards[4200], fx_dyn[4200], fx_suite[4200];
static char lib_spec[4300], self_spec[4300];

static void make_fixture(void) {
    fx_dir = test_tmpdir();
    make_tiny_world_model(fx_dir, fx_clips, fx_tok, fx_shards, fx_dyn);
    join(fx_suite, sizeof fx_suite, fx_dir, "suite");
    ck_assert_int_eq(mkdir(fx_suite, 0755), 0);
    char path[4300];
    join(path, sizeof path, fx_suite, "a_straight.pbtxt");
    write_text_file(path, STRAIGHT);
    join(path, sizeof path, fx_suite, "b_guard.pbtxt");
    write_text_file(path, GUARD);
    join(path, sizeof path, fx_suite, "notes.txt"); /* not a scenario: left out */
    write_text_file(path, "not a scenario\n");
    snprintf(lib_spec, sizeof lib_spec, "lib:%s/clients/libexample_policy.so", WMSIM_BUILD_DIR);
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    ck_assert_int_gt(n, 0);
    self[n] = '\0';
    snprintf(self_spec, sizeof self_spec, "exec:%s --as-policy sizes", self);
}

static void free_fixture(void) {
    test_remove_tree(fx_dir);
    free(fx_dir);
}

/* ---------------------------------------------------------------- helpers */

static json_t *load_json(const char *path) {
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    ck_assert_msg(root != NULL, "%s: %s", path, jerr.text);
    return root;
}

static const char *str(const json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    ck_assert_msg(s != NULL, "no string '%s'", key);
    return s;
}

static long integer(const json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_integer(v), "no integer '%s'", key);
    return (long)json_integer_value(v);
}

static double real(const json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_number(v), "no number '%s'", key);
    return json_number_value(v);
}

/* The JSON keeps 10 significant digits (JSON_REAL_PRECISION(10)): values
 * recomputed from the rows' rounded scores agree to within 1e-9 (scores
 * and rates are in [0, 1]). */
#define JSON_TOL 1e-9

static const char *const LOOPS[2] = {"oracle", "worldmodel"};

/* Every number of the summary, the totals and the ranking, recomputed from
 * the episode rows; each row's outcome consistent with its pass/fail and
 * failure kind, agree with the outcomes. Returns the disagreeing rows. */
static int check_summary_matches_rows(const json_t *root, int n_scenarios, int seeds, int n_policies) {
    const json_t *eps = json_object_get(root, "episodes"), *sum = json_object_get(root, "summary");
    ck_assert_int_eq(json_array_size(eps), (size_t)(n_scenarios * seeds * n_policies));
    ck_assert_int_eq(json_array_size(sum), (size_t)n_policies);
    ck_assert_int_eq(integer(root, "episodes_per_loop"), n_scenarios * seeds * n_policies);
    int total_agree = 0, total_disagree = 0;
    double mean[16][2] = {{0}};
    int passed[16][2] = {{0}};
    for (int p = 0; p < n_policies; p++) {
        const json_t *s = json_array_get(sum, (size_t)p);
        const char *name = str(s, "policy");
        ck_assert_str_eq(name, json_string_value(json_array_get(json_object_get(root, "policies"), (size_t)p)));
        int n = 0, agreeing = 0;
        double score[2] = {0, 0};
        for (size_t k = 0; k < json_array_size(eps); k++) {
            const json_t *ep = json_array_get(eps, k);
            /* Rows are scenario-major, then seed, then policy. */
            ck_assert_int_eq(integer(ep, "seed"), (long)(k / (size_t)n_policies % (size_t)seeds + 1));
            if (strcmp(str(ep, "policy"), name) != 0) continue;
            ck_assert_int_eq((long)(k % (size_t)n_policies), p);
            n++;
            const char *outcome[2];
            for (int l = 0; l < 2; l++) {
                const json_t *r = json_object_get(ep, LOOPS[l]);
                int ok = json_is_true(json_object_get(r, "passed"));
                passed[p][l] += ok;
                score[l] += real(r, "score");
                outcome[l] = str(r, "outcome");
                ck_assert_int_eq(strcmp(outcome[l], "pass") == 0, ok);
                ck_assert_int_gt(integer(r, "steps"), 0);
                if (ok) {
                    ck_assert(json_is_null(json_object_get(r, "failure_reason")));
                    ck_assert(json_is_null(json_object_get(r, "failure_kind")));
                } else {
                    ck_assert_str_eq(str(r, "failure_kind"), outcome[l]);
                    ck_assert(strlen(str(r, "failure_reason")) > 0);
                }
            }
            int agree = strcmp(outcome[0], outcome[1]) == 0;
            ck_assert_int_eq(json_is_true(json_object_get(ep, "agree")), agree);
            ck_assert_int_eq(json_is_null(json_object_get(ep, "strip")), agree);
            agreeing += agree;
        }
        ck_assert_int_eq(n, n_scenarios * seeds);
        ck_assert_int_eq(integer(s, "episodes"), n);
        for (int l = 0; l < 2; l++) {
            const json_t *sl = json_object_get(s, LOOPS[l]);
            mean[p][l] = score[l] / n;
            ck_assert_int_eq(integer(sl, "passed"), passed[p][l]);
            ck_assert_double_eq_tol(real(sl, "pass_rate"), (double)passed[p][l] / n, JSON_TOL);
            ck_assert_double_eq_tol(real(sl, "mean_score"), mean[p][l], JSON_TOL);
        }
        ck_assert_double_eq_tol(real(s, "score_gap"), mean[p][1] - mean[p][0], JSON_TOL);
        ck_assert_int_eq(integer(s, "agreeing"), agreeing);
        ck_assert_double_eq_tol(real(s, "agreement_rate"), (double)agreeing / n, JSON_TOL);
        total_agree += agreeing, total_disagree += n - agreeing;
    }
    ck_assert_int_eq(integer(root, "agreeing"), total_agree);
    ck_assert_int_eq(integer(root, "disagreeing"), total_disagree);
    /* The rankings: by passes, then mean score (as printed), stable. */
    const json_t *rank = json_object_get(root, "ranking");
    int same = 1;
    for (int l = 0; l < 2; l++) {
        const json_t *list = json_object_get(rank, LOOPS[l]);
        ck_assert_int_eq(json_array_size(list), (size_t)n_policies);
        int order[16];
        for (int i = 0; i < n_policies; i++) {
            order[i] = -1;
            for (int p = 0; p < n_policies; p++)
                if (!strcmp(json_string_value(json_array_get(list, (size_t)i)),
                            str(json_array_get(sum, (size_t)p), "policy")))
                    order[i] = p;
            ck_assert_int_ge(order[i], 0);
        }
        for (int i = 1; i < n_policies; i++) {
            int a = order[i - 1], b = order[i];
            int before = passed[a][l] > passed[b][l] ||
                         (passed[a][l] == passed[b][l] && (mean[a][l] > mean[b][l] - JSON_TOL));
            ck_assert_msg(before, "%s ranking: %d before %d", LOOPS[l], a, b);
        }
        if (l == 1)
            for (int i = 0; i < n_policies; i++)
                same &= !strcmp(json_string_value(json_array_get(json_object_get(rank, "oracle"), (size_t)i)),
                                json_string_value(json_array_get(list, (size_t)i)));
    }
    ck_assert_int_eq(json_is_true(json_object_get(rank, "same")), same);
    return total_disagree;
}

/* PNG files in dir (sorted names into names, up to 32). */
static int list_pngs(const char *dir, char names[32][256]) {
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "%s", dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".png") == 0 && n < 32) snprintf(names[n++], 256, "%s", e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, 256, (int (*)(const void *, const void *))strcmp);
    return n;
}

/* ----------------------------------------------------------------- strips */

static void solid(image *img, int w, int h, uint8_t r, uint8_t g, uint8_t b) {
    image_init(img, w, h);
    for (int i = 0; i < w * h; i++) img->rgb[3 * i] = r, img->rgb[3 * i + 1] = g, img->rgb[3 * i + 2] = b;
}

static const uint8_t *pixel(const image *img, int x, int y) { return img->rgb + 3 * ((size_t)y * img->width + x); }

/* Two fake frame sequences: rows of [oracle | world model | its world],
 * small frames enlarged, a loop that ended drawn dark grey. */
START_TEST(strip_writer_lays_out_rows) {
    char *dir = test_tmpdir();
    char path[4300];
    join(path, sizeof path, dir, "strip.png");
    image o[2], g[2], gw;
    solid(&o[0], 32, 16, 200, 0, 0);
    solid(&o[1], 32, 16, 0, 200, 0);
    solid(&g[0], 32, 16, 0, 0, 200);
    solid(&g[1], 32, 16, 200, 200, 0);
    solid(&gw, 32, 16, 0, 200, 200);
    o[1].rgb[3 * (15 * 32 + 31)] = 17; /* the bottom-right pixel, to find after enlarging */
    agreement_strip_row rows[3] = {
        {.step = 0, .oracle = &o[0], .generated = &g[0], .generated_world = &gw},
        {.step = 10, .oracle = &o[1], .generated = &g[1], .generated_world = &gw, .generated_failed = 1},
        {.step = 25, .oracle = NULL, .generated = &g[1], .generated_world = &gw},
    };
    wm_error err;
    ck_assert_msg(agreement_write_strip(path, rows, 3, 32, 16, &err) == 0, "%s", err.msg);
    image img;
    ck_assert_msg(image_read_png(path, &img, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(img.width, 3 * 128); /* 32 px frames enlarged 4 times */
    ck_assert_int_eq(img.height, 3 * 64);
    /* Below the label boxes (10 px tall at scale 1), each cell is its frame. */
    const struct {
        int x, y;
        uint8_t r, g, b;
    } want[] = {{64, 40, 200, 0, 0},     {192, 40, 0, 0, 200},   {320, 40, 0, 200, 200},
                {64, 104, 0, 200, 0},    {192, 104, 200, 200, 0}, {64, 168, 40, 40, 40},
                {192, 168, 200, 200, 0}, {127, 127, 17, 200, 0},  {124, 124, 17, 200, 0}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const uint8_t *p = pixel(&img, want[i].x, want[i].y);
        ck_assert_msg(p[0] == want[i].r && p[1] == want[i].g && p[2] == want[i].b, "(%d, %d) is %d,%d,%d", want[i].x,
                      want[i].y, p[0], p[1], p[2]);
    }
    /* Labels: white text on a near-black box at each cell's top-left. */
    int white = 0;
    for (int y = 0; y < 10; y++)
        for (int x = 0; x < 128; x++) white += pixel(&img, x, 64 + y)[0] == 255 && pixel(&img, x, 64 + y)[2] == 255;
    ck_assert_int_gt(white, 20);
    image_free(&img);
    /* A frame of another size is refused with the row and the frame named. */
    image big;
    solid(&big, 64, 32, 1, 2, 3);
    rows[1].generated = &big;
    ck_assert_int_eq(agreement_write_strip(path, rows, 3, 32, 16, &err), -1);
    char msg[4400];
    snprintf(msg, sizeof msg, "%s: strip: row 1: the wm frame is 64x32, not 32x16", path);
    ck_assert_str_eq(err.msg, msg);
    ck_assert_int_eq(agreement_write_strip(path, rows, 0, 32, 16, &err), -1);
    snprintf(msg, sizeof msg, "%s: strip: 0 rows, expected 1..16", path);
    ck_assert_str_eq(err.msg, msg);
    /* Frames 128 px wide or more stay as they are. */
    rows[0] = (agreement_strip_row){.step = 3, .oracle = &big, .generated = &big, .generated_world = NULL};
    ck_assert_msg(agreement_write_strip(path, rows, 1, 64, 32, &err) == 0, "%s", err.msg);
    ck_assert_msg(image_read_png(path, &img, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(img.width, 3 * 128);
    ck_assert_int_eq(img.height, 64);
    image_free(&img);
    image_free(&gw);
    solid(&gw, 200, 100, 0, 0, 0);
    rows[0] = (agreement_strip_row){.step = 3, .oracle = &gw, .generated = &gw, .generated_world = &gw};
    ck_assert_msg(agreement_write_strip(path, rows, 1, 200, 100, &err) == 0, "%s", err.msg);
    ck_assert_msg(image_read_png(path, &img, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(img.width, 600);
    ck_assert_int_eq(img.height, 100);
    image_free(&img);
    image_free(&big);
    for (int i = 0; i < 2; i++) image_free(&o[i]), image_free(&g[i]);
    image_free(&gw);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(strip_names_are_file_names) {
    char name[256];
    agreement_strip_name("cut_in", 3, "lib:/opt/p.so target=8", name, sizeof name);
    ck_assert_str_eq(name, "cut_in_s3_lib_opt_p.so_target_8.png");
    agreement_strip_name("guard", 12, "expert", name, sizeof name);
    ck_assert_str_eq(name, "guard_s12_expert.png");
    agreement_strip_name("x", 1, "exec:/usr/bin/python3 -m wmsim_policy.example --target-speed 8", name, sizeof name);
    ck_assert_str_eq(name, "x_s1_exec_usr_bin_python3_-m_wmsim_policy.example_--target-speed_8.png");
    char longp[300];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    agreement_strip_name("x", 1, longp, name, sizeof name);
    ck_assert_int_eq(strlen(name), strlen("x_s1_") + AGREEMENT_NAME_MAX + strlen(".png"));
    ck_assert_str_eq(agreement_outcome_name(AGREEMENT_PASS), "pass");
    ck_assert_str_eq(agreement_outcome_name(FINDING_OFF_ROAD), "off_road");
    ck_assert_str_eq(agreement_outcome_name(FINDING_POLICY), "policy");
}
END_TEST

/* ------------------------------------------------------------- the loops */

static agreement_config tiny_config(const char *const *scenarios, int n_scenarios) {
    agreement_config cfg = agreement_config_default();
    cfg.scenarios = scenarios, cfg.n_scenarios = n_scenarios;
    cfg.feed.model_path = fx_dyn;
    cfg.feed.tokenizer_path = fx_tok;
    return cfg;
}

/* Policies that read the world and never see a frame end every episode
 * the same way in both loops: 100 % agreement, equal pass rates and
 * scores, the same ranking, no strips; the JSON's numbers are the rows'. */
START_TEST(privileged_policies_agree_with_themselves) {
    char *dir = test_tmpdir();
    char a[4300], b[4300], json[4400], diverge[4400];
    join(a, sizeof a, fx_suite, "a_straight.pbtxt");
    join(b, sizeof b, fx_suite, "b_guard.pbtxt");
    const char *scen[] = {a, b};
    agreement_config cfg = tiny_config(scen, 2);
    cfg.policies = (const char *[]){"cruise", "expert"}, cfg.n_policies = 2;
    cfg.seeds = 2, cfg.jobs = 2, cfg.out_dir = dir;
    agreement_result res;
    wm_error err;
    ck_assert_msg(agreement_run(&cfg, &res, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(res.n_episodes, 8);
    ck_assert_int_eq(res.agreeing, 8);
    ck_assert_int_eq(res.disagreeing, 0);
    for (int k = 0; k < res.n_episodes; k++) {
        const agreement_episode *ep = &res.episodes[k];
        const agreement_loop_result *o = &ep->loop[AGREEMENT_ORACLE], *g = &ep->loop[AGREEMENT_WORLDMODEL];
        ck_assert(ep->agree);
        ck_assert_int_eq(o->passed, g->passed);
        ck_assert(o->score == g->score);
        ck_assert_int_eq(o->steps, g->steps);
        ck_assert_str_eq(o->failure, g->failure);
        ck_assert_str_eq(o->end_reason, g->end_reason);
        ck_assert_str_eq(ep->strip, "");
    }
    /* expert passes the straight road and misses the goal behind STOP;
     * cruise passes the straight road and runs the stop line. */
    ck_assert_str_eq(res.episodes[0].scenario_id, "short_straight");
    ck_assert(res.episodes[0].loop[0].passed && res.episodes[1].loop[0].passed);
    ck_assert_str_eq(res.episodes[4].scenario_id, "short_guard");
    ck_assert_int_eq(res.episodes[4].loop[0].outcome, FINDING_GUARD); /* cruise */
    ck_assert_int_eq(res.episodes[5].loop[0].outcome, FINDING_GOAL);  /* expert */
    ck_assert_int_eq(res.episodes[4].loop[0].failure_step, 36);       /* t=3.6 s: crossed the stop line */
    ck_assert_int_eq(res.episodes[5].loop[0].failure_step, -1);       /* untimed */
    for (int p = 0; p < 2; p++) {
        const agreement_policy_summary *s = &res.policies[p];
        ck_assert_int_eq(s->episodes, 4);
        ck_assert_int_eq(s->passed[0], 2);
        ck_assert_int_eq(s->passed[1], 2);
        ck_assert(s->mean_score[0] == s->mean_score[1]);
        ck_assert(s->score_gap == 0.0);
        ck_assert(s->agreement_rate == 1.0);
    }
    ck_assert(res.same_ranking);
    ck_assert_int_eq(res.ranking[0][0], 1); /* expert: the same passes, a better score */
    ck_assert_int_eq(res.ranking[1][0], 1);
    agreement_result_free(&res);
    join(json, sizeof json, dir, "agreement.json");
    json_t *root = load_json(json);
    ck_assert_int_eq(check_summary_matches_rows(root, 2, 2, 2), 0);
    const json_t *eps = json_object_get(root, "episodes");
    for (size_t k = 0; k < json_array_size(eps); k++) {
        const json_t *ep = json_array_get(eps, k);
        ck_assert(json_equal(json_object_get(ep, "oracle"), json_object_get(ep, "worldmodel")));
    }
    const json_t *sum = json_object_get(root, "summary");
    for (size_t p = 0; p < 2; p++) {
        const json_t *s = json_array_get(sum, p);
        ck_assert(real(s, "score_gap") == 0.0);
        ck_assert(real(s, "agreement_rate") == 1.0);
        ck_assert(real(json_object_get(s, "oracle"), "pass_rate") == 0.5);
        ck_assert(real(json_object_get(s, "worldmodel"), "pass_rate") == 0.5);
    }
    ck_assert(json_is_true(json_object_get(json_object_get(root, "ranking"), "same")));
    const json_t *gen = json_object_get(root, "generative_loop");
    ck_assert_str_eq(str(gen, "model"), fx_dyn);
    ck_assert_str_eq(str(gen, "tokenizer"), fx_tok);
    ck_assert_str_eq(str(gen, "decode"), "parallel");
    ck_assert_str_eq(str(gen, "scene_slots"), "auto");
    ck_assert_str_eq(str(root, "wmsim_version"), "0.1.0");
    json_decref(root);
    join(diverge, sizeof diverge, dir, "diverge");
    char names[32][256];
    ck_assert_int_eq(list_pngs(diverge, names), 0);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* The CLI with policies that see frames (the C example library and the
 * size-minded exec: policy) beside expert: both loops ran every episode,
 * the summary is the rows', a strip per disagreeing episode and no other,
 * and --jobs 1 and --jobs 2 write the same JSON, byte for byte. */
START_TEST(frame_policies_run_in_both_loops) {
    char *dir = test_tmpdir();
    char out1[4300], out2[4300], json1[4400], json2[4400], diverge[4400], policies[9000];
    join(out1, sizeof out1, dir, "j1");
    join(out2, sizeof out2, dir, "j2");
    snprintf(policies, sizeof policies, "expert,%s,%s", lib_spec, self_spec);
    char *out;
    int rc = run_wmsim(&out, (const char *[]){"agreement", "--suite", fx_suite, "--policies", policies, "--seeds", "2",
                                              "--model", fx_dyn, "--tokenizer", fx_tok, "--out", out1, "--jobs", "1",
                                              "--quiet", NULL});
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert_str_eq(out, ""); /* --quiet, and no progress line off a terminal */
    free(out);
    /* A strip left by an earlier run goes; the folder matches the JSON. */
    join(diverge, sizeof diverge, out2, "diverge");
    char stale[4500];
    join(stale, sizeof stale, diverge, "old_s9_gone.png");
    wm_error err;
    ck_assert(dir_create(diverge, &err) == 0);
    write_text_file(stale, "stale");
    rc = run_wmsim(&out, (const char *[]){"agreement", "--suite", fx_suite, "--policies", policies, "--seeds", "2",
                                          "--model", fx_dyn, "--tokenizer", fx_tok, "--out", out2, "--jobs", "2",
                                          NULL});
    ck_assert_msg(rc == 0, "%s", out);
    /* The table: a header, a row per policy, the rankings, the disagreements. */
    ck_assert_msg(strstr(out, "agreement: 2 scenarios x 2 seeds x 3 policies = 12 episodes in each loop") != NULL, "%s",
                  out);
    ck_assert_msg(strstr(out, "expert ") != NULL && strstr(out, "2/4  50.0%") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "disagreements:\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "\n  short_straight seed 1 policy exec:") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "    oracle:      FAIL score ") != NULL, "%s", out);
    ck_assert_msg(strstr(out, " (policy error at t=1.5 s): policy: t=1.5 s: policy action out of range: accel 100.000") !=
                      NULL, "%s", out);
    ck_assert_msg(strstr(out, "    worldmodel:  FAIL") != NULL && strstr(out, "goal: did not reach the goal") != NULL,
                  "%s", out);
    free(out);
    join(json1, sizeof json1, out1, "agreement.json");
    join(json2, sizeof json2, out2, "agreement.json");
    size_t n1, n2;
    uint8_t *d1 = test_read_file(json1, &n1), *d2 = test_read_file(json2, &n2);
    ck_assert_msg(n1 == n2 && memcmp(d1, d2, n1) == 0, "--jobs 1 and --jobs 2 differ:\n%s\n---\n%s", d1, d2);
    free(d1), free(d2);

    json_t *root = load_json(json2);
    int disagreeing = check_summary_matches_rows(root, 2, 2, 3);
    const json_t *eps = json_object_get(root, "episodes");
    char names[32][256];
    int n_png = list_pngs(diverge, names);
    ck_assert_int_eq(n_png, disagreeing);
    int self_rows = 0;
    for (size_t k = 0; k < json_array_size(eps); k++) {
        const json_t *ep = json_array_get(eps, k);
        const json_t *o = json_object_get(ep, "oracle"), *g = json_object_get(ep, "worldmodel");
        if (!strcmp(str(ep, "policy"), "expert")) ck_assert(json_equal(o, g));
        if (json_is_true(json_object_get(ep, "agree"))) continue;
        /* Its strip: named as documented, listed, a PNG of 3 columns of
         * 128 px (the 32x16 frames enlarged 4 times). */
        char name[256], want[300], png[4700];
        agreement_strip_name(str(ep, "scenario"), (uint64_t)integer(ep, "seed"), str(ep, "policy"), name, sizeof name);
        snprintf(want, sizeof want, "diverge/%s", name);
        ck_assert_str_eq(str(ep, "strip"), want);
        join(png, sizeof png, out2, want);
        image img;
        ck_assert_msg(image_read_png(png, &img, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(img.width, 384);
        ck_assert_int_eq(img.height % 64, 0);
        if (strncmp(str(ep, "policy"), "exec:", 5) == 0) {
            /* The forced disagreement: out of range at step 15 beside a stop;
             * rows at 0 s, 1 s and the failure at 1.5 s (the shorter's end). */
            self_rows++;
            ck_assert_str_eq(str(o, "outcome"), "policy");
            ck_assert_int_eq(integer(o, "steps"), 15);
            ck_assert_str_eq(str(g, "outcome"), "goal");
            ck_assert_int_eq(integer(g, "steps"), 60);
            ck_assert_int_eq(img.height, 3 * 64);
        }
        image_free(&img);
    }
    ck_assert_int_eq(self_rows, 4); /* every scenario and seed */
    /* The library policy ran in both loops, each episode to its end. */
    for (size_t k = 1; k < json_array_size(eps); k += 3) {
        const json_t *ep = json_array_get(eps, k);
        ck_assert_str_eq(str(ep, "policy"), lib_spec);
        for (int l = 0; l < 2; l++) {
            const json_t *r = json_object_get(ep, LOOPS[l]);
            ck_assert_str_ne(str(r, "end_reason"), "policy error");
        }
    }
    json_decref(root);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* Runs wmsim agreement with args (NULL-terminated); expects rc and msg in its output. */
static void expect_failure(int want_rc, const char *msg, const char *const *args) {
    const char *full[40] = {"agreement"};
    int n = 1;
    for (; args[n - 1]; n++) full[n] = args[n - 1];
    full[n] = NULL;
    char *out;
    int rc = run_wmsim(&out, full);
    ck_assert_msg(rc == want_rc, "exit %d, not %d: %s", rc, want_rc, out);
    ck_assert_msg(strstr(out, msg) != NULL, "wanted '%s' in:\n%s", msg, out);
    free(out);
}

START_TEST(bad_inputs) {
    char *dir = test_tmpdir();
    char empty[4300], outd[4300], msg[9000];
    join(empty, sizeof empty, dir, "empty");
    join(outd, sizeof outd, dir, "out");
    ck_assert_int_eq(mkdir(empty, 0755), 0);
    const char *m[] = {"--model", fx_dyn, "--tokenizer", fx_tok, "--out", outd};
#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
    expect_failure(1, "unknown policy 'bogus'",
                   ARGS("--suite", fx_suite, "--policies", "expert,bogus", "--seeds", "1", m[0], m[1], m[2], m[3], m[4],
                        m[5]));
    expect_failure(2, "wmsim: --seeds: expected an integer in [1, 100000], got '0'",
                   ARGS("--suite", fx_suite, "--policies", "expert", "--seeds", "0"));
    expect_failure(1, "wmsim: /nonexistent/suite: No such file or directory",
                   ARGS("--suite", "/nonexistent/suite", "--policies", "expert", "--seeds", "1"));
    snprintf(msg, sizeof msg, "wmsim: %s: no scenario files (*.pbtxt, *.pb)", empty);
    expect_failure(1, msg, ARGS("--suite", empty, "--policies", "expert", "--seeds", "1"));
    expect_failure(2, "wmsim: --jobs: expected an integer in [1, 256], got '0'",
                   ARGS("--suite", fx_suite, "--policies", "expert", "--seeds", "1", "--jobs", "0"));
    expect_failure(2, "wmsim: --jobs: expected an integer in [1, 256], got 'two'",
                   ARGS("--suite", fx_suite, "--policies", "expert", "--seeds", "1", "--jobs", "two"));
    expect_failure(2, "wmsim: --jobs: expected an integer in [1, 256], got '257'",
                   ARGS("--suite", fx_suite, "--policies", "expert", "--seeds", "1", "--jobs", "257"));
    expect_failure(2, "wmsim: --policies: an empty policy in 'expert,,cruise'",
                   ARGS("--suite", fx_suite, "--policies", "expert,,cruise", "--seeds", "1"));
    expect_failure(1, "wmsim: agreement: policy 'expert' given twice",
                   ARGS("--suite", fx_suite, "--policies", "expert,cruise,expert", "--seeds", "1"));
    expect_failure(2, "wmsim: agreement: missing --suite", ARGS("--policies", "expert", "--seeds", "1"));
    expect_failure(2, "wmsim: agreement: missing --policies", ARGS("--suite", fx_suite, "--seeds", "1"));
    expect_failure(2, "wmsim: agreement: missing --seeds", ARGS("--suite", fx_suite, "--policies", "expert"));
    expect_failure(2, "wmsim: agreement: unknown option or missing value: '--frobnicate'",
                   ARGS("--suite", fx_suite, "--frobnicate", "1"));
    expect_failure(2, "wmsim: --decode: expected ar or parallel, got 'slow'",
                   ARGS("--suite", fx_suite, "--policies", "expert", "--seeds", "1", "--decode", "slow"));
    expect_failure(1, "wmsim: short_straight: camera_feed: /nonexistent/d.wmck: cannot open: No such file or directory",
                   ARGS("--suite", fx_suite, "--policies", "expert", "--seeds", "1", "--model", "/nonexistent/d.wmck",
                        "--out", outd));
#undef ARGS
    /* Nothing ran, so nothing was written. */
    char json[4400];
    join(json, sizeof json, outd, "agreement.json");
    ck_assert_int_ne(access(json, F_OK), 0);
    /* The library checks its config too. */
    agreement_config cfg = tiny_config((const char *[]){src_path("scenarios/examples/cut_in.pbtxt")}, 1);
    agreement_result res;
    wm_error err;
    ck_assert_int_eq(agreement_run(&cfg, &res, &err), -1);
    ck_assert_str_eq(err.msg, "agreement: no policies");
    cfg.policies = (const char *[]){"expert"}, cfg.n_policies = 1;
    cfg.seeds = 0;
    ck_assert_int_eq(agreement_run(&cfg, &res, &err), -1);
    ck_assert_str_eq(err.msg, "agreement: seeds 0 outside [1, 100000]");
    cfg.seeds = 1, cfg.jobs = 0;
    ck_assert_int_eq(agreement_run(&cfg, &res, &err), -1);
    ck_assert_str_eq(err.msg, "agreement: jobs 0 outside [1, 256]");
    cfg.jobs = 1, cfg.n_scenarios = 0;
    ck_assert_int_eq(agreement_run(&cfg, &res, &err), -1);
    ck_assert_str_eq(err.msg, "agreement: no scenarios");
    char a[4300];
    join(a, sizeof a, fx_suite, "a_straight.pbtxt");
    cfg = tiny_config((const char *[]){a, a}, 2);
    cfg.policies = (const char *[]){"expert"}, cfg.n_policies = 1;
    ck_assert_int_eq(agreement_run(&cfg, &res, &err), -1);
    snprintf(msg, sizeof msg, "agreement: %s and %s share the scenario id 'short_straight'", a, a);
    ck_assert_str_eq(err.msg, msg);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

static Suite *agreement_suite(void) {
    Suite *s = suite_create("agreement");
    TCase *ts = tcase_create("strips");
    tcase_add_test(ts, strip_writer_lays_out_rows);
    tcase_add_test(ts, strip_names_are_file_names);
    suite_add_tcase(s, ts);
    TCase *tl = tcase_create("loops");
    tcase_set_timeout(tl, 300);
    tcase_add_unchecked_fixture(tl, make_fixture, free_fixture);
    tcase_add_test(tl, privileged_policies_agree_with_themselves);
    tcase_add_test(tl, frame_policies_run_in_both_loops);
    tcase_add_test(tl, bad_inputs);
    suite_add_tcase(s, tl);
    return s;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--as-policy") == 0 && strcmp(argv[2], "sizes") == 0) return as_policy();
    return run_suite(agreement_suite());
}
