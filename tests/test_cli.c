/* End-to-end: the real wmsim binary on real files. */
#include <jansson.h>
#include <sys/stat.h>

#include "core/fileio.h"
#include "testutil.h"

static char *read_text(const char *path) {
    uint8_t *data;
    size_t len;
    wm_error err;
    ck_assert_msg(file_read_all(path, 1 << 28, &data, &len, &err) == 0, "%s", err.msg);
    return (char *)data;
}

static json_t *load_json(const char *path) {
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    ck_assert_msg(j != NULL, "%s: %s", path, jerr.text);
    return j;
}

static const char *example(const char *name) {
    static char buf[4][512];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "scenarios/examples/%s", name);
    return src_path(b);
}

START_TEST(help_and_version) {
    char *out;
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"--help", NULL}), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: wmsim COMMAND"));
    free(out);
    const char *cmds[] = {"run", "scenario", "log"};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(run_wmsim(&out, (const char *[]){cmds[i], "--help", NULL}), 0);
        ck_assert_ptr_nonnull(strstr(out, "usage: wmsim "));
        ck_assert_ptr_nonnull(strstr(out, cmds[i]));
        free(out);
    }
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"--version", NULL}), 0);
    ck_assert_int_eq(strncmp(out, "wmsim ", 6), 0);
    ck_assert_ptr_nonnull(strstr(out, "backends: cpu"));
    ck_assert_ptr_nonnull(strstr(out, "cuda devices: "));
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"fly", NULL}), 2);
    ck_assert_ptr_nonnull(strstr(out, "wmsim: unknown command 'fly'"));
    free(out);
}
END_TEST

/* The Makefile's CUDA detection itself: on only when NVCC names an executable.
 * A clean environment: an outer make exports its command-line variables. */
static char *make_config(const char *nvcc_arg) {
    char cmd[4600];
    snprintf(cmd, sizeof cmd, "env -i PATH=/usr/bin:/bin make -s --no-print-directory -C '%s' config %s 2>&1", WMSIM_SOURCE_DIR, nvcc_arg);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char *buf = CALLOC_CHECK(1, 8192);
    size_t n = fread(buf, 1, 8191, p);
    buf[n] = '\0';
    ck_assert_int_eq(pclose(p), 0);
    return buf;
}

START_TEST(build_detects_cuda_only_from_a_real_nvcc) {
    char *out = make_config("NVCC=");
    ck_assert_msg(strstr(out, "CUDA=0 (nvcc: not found)") != NULL, "%s", out);
    free(out);
    out = make_config("NVCC=/nonexistent/nvcc");
    ck_assert_msg(strstr(out, "CUDA=0 (nvcc: /nonexistent/nvcc)") != NULL, "%s", out);
    free(out);
    out = make_config("NVCC=/bin/true");
    ck_assert_msg(strstr(out, "CUDA=1 (nvcc: /bin/true)") != NULL, "%s", out);
    free(out);
    out = make_config("NVCC=/bin/true CUDA=0");
    ck_assert_msg(strstr(out, "CUDA=0 (nvcc: /bin/true)") != NULL, "%s", out);
    free(out);
}
END_TEST

START_TEST(run_expert_writes_result_and_log) {
    char *dir = test_tmpdir(), *out;
    char result[4200], log[4200];
    snprintf(result, sizeof result, "%s/result.json", dir);
    snprintf(log, sizeof log, "%s/episode.log", dir);
    int rc = run_wmsim(&out, (const char *[]){"run", example("guard_stop_proceed.pbtxt"), "--policy", "expert",
                                              "--out", dir, NULL});
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "guard_stop_proceed seed 1 policy expert: PASS score "));
    free(out);
    json_t *j = load_json(result);
    ck_assert(json_is_true(json_object_get(j, "passed")));
    ck_assert_str_eq(json_string_value(json_object_get(j, "end_reason")), "goal reached");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "scenario"), "id")), "guard_stop_proceed");
    ck_assert_int_eq(json_array_size(json_object_get(j, "failure_reasons")), 0);
    json_t *metrics = json_object_get(j, "metrics");
    ck_assert_double_eq(json_real_value(json_object_get(metrics, "guard_compliance_multiplier")), 1.0);
    ck_assert_double_gt(json_real_value(json_object_get(j, "score")), 0.5);
    json_decref(j);

    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"log", "show", log, NULL}), 0);
    ck_assert_ptr_nonnull(strstr(out, "scenario: guard_stop_proceed"));
    ck_assert_ptr_nonnull(strstr(out, "guard 'guard' shows PROCEED"));
    ck_assert_ptr_nonnull(strstr(out, "policy: stopping for the guard's STOP"));
    ck_assert_ptr_nonnull(strstr(out, "result: PASS"));
    free(out);
    free(dir);
}
END_TEST

START_TEST(run_cruise_fails_with_reason_and_exit_zero) {
    char *dir = test_tmpdir(), *out;
    char result[4200];
    snprintf(result, sizeof result, "%s/result.json", dir);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"run", example("guard_stop_proceed.pbtxt"), "--policy", "cruise",
                                                      "--out", dir, NULL}),
                     0);
    ck_assert_ptr_nonnull(strstr(out, ": FAIL score 0.000"));
    free(out);
    json_t *j = load_json(result);
    ck_assert(json_is_false(json_object_get(j, "passed")));
    const char *reason = json_string_value(json_array_get(json_object_get(j, "failure_reasons"), 0));
    ck_assert_ptr_nonnull(reason);
    ck_assert_ptr_nonnull(strstr(reason, "crossed guard 'guard' stop line"));
    json_decref(j);
    free(dir);
}
END_TEST

START_TEST(two_runs_identical_bytes) {
    char *a = test_tmpdir(), *b = test_tmpdir(), *out;
    const char *scn = example("pedestrian_crossing.pbtxt");
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"run", scn, "--seed", "42", "--out", a, "--quiet", NULL}), 0);
    ck_assert_str_eq(out, "");
    free(out);
    ck_assert_int_eq(run_wmsim(NULL, (const char *[]){"run", scn, "--seed", "42", "--out", b, "--quiet", NULL}), 0);
    const char *files[] = {"episode.log", "result.json"};
    for (int i = 0; i < 2; i++) {
        char pa[4200], pb[4200];
        snprintf(pa, sizeof pa, "%s/%s", a, files[i]);
        snprintf(pb, sizeof pb, "%s/%s", b, files[i]);
        uint8_t *da, *db;
        size_t la, lb;
        wm_error err;
        ck_assert_int_eq(file_read_all(pa, 1 << 28, &da, &la, &err), 0);
        ck_assert_int_eq(file_read_all(pb, 1 << 28, &db, &lb, &err), 0);
        /* result.json names its output-independent inputs only, so even it matches. */
        ck_assert_uint_eq(la, lb);
        ck_assert_msg(memcmp(da, db, la) == 0, "%s differs between identical runs", files[i]);
        free(da), free(db);
    }
    free(a), free(b);
}
END_TEST

START_TEST(compiled_pb_runs_the_same) {
    char *dir = test_tmpdir(), *out;
    char pb[4200], ra[4200], rb[4200], oa[4200], ob[4200];
    snprintf(pb, sizeof pb, "%s/cut_in.pb", dir);
    snprintf(oa, sizeof oa, "%s/a", dir);
    snprintf(ob, sizeof ob, "%s/b", dir);
    snprintf(ra, sizeof ra, "%s/a/episode.log", dir);
    snprintf(rb, sizeof rb, "%s/b/episode.log", dir);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"scenario", "compile", example("cut_in.pbtxt"), pb, NULL}), 0);
    free(out);
    ck_assert_int_eq(run_wmsim(NULL, (const char *[]){"run", example("cut_in.pbtxt"), "--out", oa, NULL}), 0);
    ck_assert_int_eq(run_wmsim(NULL, (const char *[]){"run", pb, "--out", ob, NULL}), 0);
    /* Text and compiled binary embed the same scenario bytes: whole logs match. */
    uint8_t *la, *lb;
    size_t na, nb;
    wm_error err;
    ck_assert_int_eq(file_read_all(ra, 1 << 28, &la, &na, &err), 0);
    ck_assert_int_eq(file_read_all(rb, 1 << 28, &lb, &nb, &err), 0);
    ck_assert_uint_eq(na, nb);
    ck_assert_int_eq(memcmp(la, lb, na), 0);
    free(la), free(lb), free(dir);
}
END_TEST

START_TEST(scenario_check_reports_and_exits_nonzero) {
    char *dir = test_tmpdir(), *out;
    char bad[4200];
    snprintf(bad, sizeof bad, "%s/bad.pbtxt", dir);
    write_text_file(bad, "id: \"bad\"\nroad { segments { length_m: 100 } lanes {} speed_limit_mps: 10 }\n"
                         "ego { lane: 3 }\n");
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"scenario", "check", example("cut_in.pbtxt"), bad, NULL}), 1);
    ck_assert_ptr_nonnull(strstr(out, "cut_in.pbtxt: ok (cut_in, 1 actors, 40 s)"));
    char expect[4400];
    snprintf(expect, sizeof expect, "%s:ego.lane: lane 3 out of range [0, 0]", bad);
    ck_assert_msg(strstr(out, expect) != NULL, "%s", out);
    free(out);
    free(dir);
}
END_TEST

START_TEST(bad_input_fails_without_losing_results) {
    char *dir = test_tmpdir(), *out;
    char result[4200], bad[4200], trunc[4200];
    snprintf(result, sizeof result, "%s/result.json", dir);
    ck_assert_int_eq(run_wmsim(NULL, (const char *[]){"run", example("cut_in.pbtxt"), "--out", dir, NULL}), 0);
    char *before = read_text(result);

    /* A scenario with an error, into the same folder: exit 1, the earlier result intact. */
    snprintf(bad, sizeof bad, "%s/bad.pbtxt", dir);
    write_text_file(bad, "id: \"x\" road { lanez: 1 }\n");
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"run", bad, "--out", dir, NULL}), 1);
    char expect[4400];
    snprintf(expect, sizeof expect, "%s:1:", bad);
    ck_assert_msg(strstr(out, expect) != NULL, "%s", out);
    free(out);
    /* A truncated binary scenario. */
    snprintf(trunc, sizeof trunc, "%s/t.pb", dir);
    write_text_file(trunc, "\x0a\x05" "ab");
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"run", trunc, "--out", dir, NULL}), 1);
    ck_assert_ptr_nonnull(strstr(out, "t.pb: not a valid binary Scenario protobuf"));
    free(out);
    /* Missing file, unknown policy, bad seed, missing argument. */
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"run", "/nonexistent.pbtxt", "--out", dir, NULL}), 1);
    ck_assert_str_eq(out, "/nonexistent.pbtxt: cannot open: No such file or directory\n");
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"run", example("cut_in.pbtxt"), "--policy", "genius", NULL}), 1);
    ck_assert_ptr_nonnull(strstr(out, "wmsim: --policy: unknown policy 'genius' (known: expert, cruise, vla-tiny, vla:PATH.wmck, exec:CMD ARGS, unix:PATH, lib:PATH.so ARGS)"));
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"run", example("cut_in.pbtxt"), "--seed", "-3", NULL}), 2);
    ck_assert_ptr_nonnull(strstr(out, "wmsim: --seed: not a non-negative integer: '-3'"));
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"run", NULL}), 2);
    ck_assert_ptr_nonnull(strstr(out, "wmsim: run: missing SCENARIO"));
    free(out);

    char *after = read_text(result);
    ck_assert_str_eq(before, after);
    free(before), free(after), free(dir);
}
END_TEST

START_TEST(unwritable_output_is_a_clear_error) {
    char *dir = test_tmpdir(), *out;
    char file[4200];
    snprintf(file, sizeof file, "%s/not_a_dir", dir);
    write_text_file(file, "x");
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"run", example("cut_in.pbtxt"), "--out", file, NULL}), 1);
    char expect[4400];
    snprintf(expect, sizeof expect, "wmsim: %s: not a directory", file);
    ck_assert_msg(strstr(out, expect) != NULL, "%s", out);
    free(out);
    free(dir);
}
END_TEST

START_TEST(log_show_rejects_non_logs) {
    char *dir = test_tmpdir(), *out;
    char junk[4200];
    snprintf(junk, sizeof junk, "%s/junk.log", dir);
    write_text_file(junk, "this is not a log");
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"log", "show", junk, NULL}), 1);
    ck_assert_ptr_nonnull(strstr(out, "junk.log: record 0: "));
    free(out);
    free(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, help_and_version);
    tcase_add_test(tc, build_detects_cuda_only_from_a_real_nvcc);
    tcase_add_test(tc, run_expert_writes_result_and_log);
    tcase_add_test(tc, run_cruise_fails_with_reason_and_exit_zero);
    tcase_add_test(tc, two_runs_identical_bytes);
    tcase_add_test(tc, compiled_pb_runs_the_same);
    tcase_add_test(tc, scenario_check_reports_and_exits_nonzero);
    tcase_add_test(tc, bad_input_fails_without_losing_results);
    tcase_add_test(tc, unwritable_output_is_a_clear_error);
    tcase_add_test(tc, log_show_rejects_non_logs);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
