/* test_fuzz_regressions.c — the fuzz harnesses of tests/fuzz/ in the
 * ordinary build (gcc, and under ASan/UBSan in `make test-asan`):
 *
 *   corpus_*      every seed of tests/fuzz/corpus/NAME through its harness:
 *                 no crash, no leak, and the valid seeds still load (a
 *                 harness whose fixtures broke would fuzz nothing but the
 *                 first error);
 *   regression_*  every input the fuzzer found a crash with (kept in
 *                 tests/fuzz/regressions/NAME/) now gives the exact error
 *                 listed here, the scratch folder's name written TMP.
 *
 * The harnesses are included whole (FUZZ_NO_ENTRY leaves out their
 * LLVMFuzzerTestOneInput), so this runs the very code `make fuzz` builds.
 * tests/FUZZING.md says how the inputs were found. */
#define FUZZ_NO_ENTRY
#include "tests/fuzz/fuzz_checkpoint.c"
#include "tests/fuzz/fuzz_clip.c"
#include "tests/fuzz/fuzz_episode_log.c"
#include "tests/fuzz/fuzz_policy_action.c"
#include "tests/fuzz/fuzz_scenario_pb.c"
#include "tests/fuzz/fuzz_scenario_pbtxt.c"
#include "tests/fuzz/fuzz_suite.c"

#include "testutil.h"

typedef int (*fuzz_run_fn)(const uint8_t *data, size_t size, wm_error *err);

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The files of tests/fuzz/DIR, sorted; *n of them. */
static char **list_files(const char *dir, int *n) {
    DIR *d = opendir(src_path(dir));
    ck_assert_msg(d != NULL, "cannot open %s", src_path(dir));
    char **names = NULL;
    *n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        names = REALLOC_CHECK(names, (size_t)*n + 1, sizeof *names);
        names[(*n)++] = STRDUP_CHECK(e->d_name);
    }
    closedir(d);
    if (*n) qsort(names, (size_t)*n, sizeof *names, compare_names);
    return names;
}

static void free_names(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* Runs fn on the file tests/fuzz/DIR/NAME; the result's text in err. */
static int run_file(fuzz_run_fn fn, const char *dir, const char *name, wm_error *err) {
    char rel[512];
    snprintf(rel, sizeof rel, "%s/%s", dir, name);
    uint8_t *data;
    size_t len;
    wm_error e;
    ck_assert_msg(file_read_all(src_path(rel), 16 << 20, &data, &len, &e) == 0, "%s", e.msg);
    int rc = fn(data, len, err);
    free(data);
    return rc;
}

/* Every seed of tests/fuzz/corpus/NAME; the ones named in ok (NULL-ended)
 * must pass the harness (return 0). */
static void replay_corpus(const char *name, fuzz_run_fn fn, const char *const *ok) {
    char dir[256];
    snprintf(dir, sizeof dir, "tests/fuzz/corpus/%s", name);
    int n;
    char **files = list_files(dir, &n);
    ck_assert_msg(n > 0, "%s: no seeds", dir);
    for (const char *const *o = ok; *o; o++) {
        int found = 0;
        for (int i = 0; i < n && !found; i++) found = !strcmp(files[i], *o);
        ck_assert_msg(found, "%s: seed %s is missing", dir, *o);
    }
    for (int i = 0; i < n; i++) {
        wm_error err;
        int rc = run_file(fn, dir, files[i], &err);
        int must_pass = 0;
        for (const char *const *o = ok; *o && !must_pass; o++) must_pass = !strcmp(files[i], *o);
        if (must_pass) ck_assert_msg(rc == 0, "%s/%s: %s", dir, files[i], err.msg);
    }
    free_names(files, n);
}

START_TEST(corpus_scenario_pb) {
    static const char *const ok[] = {"cut_in.pb", "guard_stop_proceed.pb", "lane_closure_merge.pb", NULL};
    replay_corpus("scenario_pb", fuzz_scenario_pb_run, ok);
    /* A template seed also loads as a template and makes its points. */
    wm_error err;
    ck_assert_int_eq(run_file(fuzz_scenario_pb_run, "tests/fuzz/corpus/scenario_pb", "template_lead_brake.pb", &err), 0);
    ck_assert_str_eq(err.msg, "load: ok\ntemplate: ok\n");
    ck_assert_int_eq(run_file(fuzz_scenario_pb_run, "tests/fuzz/corpus/scenario_pb", "cut_in.pb", &err), 0);
    ck_assert_str_eq(err.msg, "load: ok\ntemplate: TMP/input.pb: not a template (no parameters)\n");
}
END_TEST

START_TEST(corpus_scenario_pbtxt) {
    static const char *const ok[] = {"cut_in.pbtxt", "guard_stop_proceed.pbtxt", NULL};
    replay_corpus("scenario_pbtxt", fuzz_scenario_pbtxt_run, ok);
    wm_error err;
    ck_assert_int_eq(run_file(fuzz_scenario_pbtxt_run, "tests/fuzz/corpus/scenario_pbtxt", "bad_syntax.pbtxt", &err), -1);
    ck_assert_msg(strncmp(err.msg, "TMP/input.pbtxt:", 16) == 0, "%s", err.msg);
}
END_TEST

START_TEST(corpus_suite) {
    static const char *const ok[] = {"one_file.pb", "folder_and_file.pb", "template_samples.pb", NULL};
    replay_corpus("suite", fuzz_suite_run, ok);
    wm_error err;
    ck_assert_int_eq(run_file(fuzz_suite_run, "tests/fuzz/corpus/suite", "folder_and_file.pb", &err), 0);
    ck_assert_str_eq(err.msg, "ok: 3 scenarios, 11 episodes"); /* 2 x 2 seeds x 2 loops + 3 seeds */
    ck_assert_int_eq(run_file(fuzz_suite_run, "tests/fuzz/corpus/suite", "missing_file.pb", &err), -1);
    ck_assert_str_eq(err.msg, "TMP/s/suite.pb:entries[0].path: TMP/s/nonexistent.pb: No such file or directory");
}
END_TEST

START_TEST(corpus_policy_action) {
    static const char *const ok[] = {"three_steps.bin", "with_trajectory.bin", "truncated.bin", NULL};
    replay_corpus("policy_action", fuzz_policy_action_run, ok);
    wm_error err;
    ck_assert_int_eq(run_file(fuzz_policy_action_run, "tests/fuzz/corpus/policy_action", "three_steps.bin", &err), 0);
    ck_assert_str_eq(err.msg, "step 0: ok\nstep 1: ok\nstep 2: ok\n");
    ck_assert_int_eq(run_file(fuzz_policy_action_run, "tests/fuzz/corpus/policy_action", "wrong_step.bin", &err), -1);
    ck_assert_str_eq(err.msg, "step 0: ok\nstep 1: sent an Action for step 7\n");
    ck_assert_int_eq(run_file(fuzz_policy_action_run, "tests/fuzz/corpus/policy_action", "oversized.bin", &err), -1);
    ck_assert_str_eq(err.msg, "step 0: announced a 5242880-byte Action (limit 1048576 bytes, --policy-max-bytes)\n");
}
END_TEST

START_TEST(corpus_checkpoint) {
    static const char *const ok[] = {"tokenizer.wmck", "dynamics.wmck", "estimator.wmck", "vla.wmck",
                                     "tokenizer_state.wmck", NULL};
    replay_corpus("checkpoint", fuzz_checkpoint_run, ok);
    wm_error err;
    ck_assert_int_eq(run_file(fuzz_checkpoint_run, "tests/fuzz/corpus/checkpoint", "vla.wmck", &err), 0);
    ck_assert_str_eq(err.msg, "as is: ok vla\n");
}
END_TEST

START_TEST(corpus_clip) {
    static const char *const ok[] = {"guard_stop_proceed.clip", "cut_in.clip", "actors_and_captions.clip", NULL};
    replay_corpus("clip", fuzz_clip_run, ok);
    wm_error err;
    ck_assert_int_eq(run_file(fuzz_clip_run, "tests/fuzz/corpus/clip", "cut_in.clip", &err), 0);
    ck_assert_str_eq(err.msg, "reader: ok\ncheck: ok\nstats: ok\nstates: ok\n");
}
END_TEST

START_TEST(corpus_episode_log) {
    static const char *const ok[] = {"cut_in.log", "guard_stop_proceed.log", "external_policy_reasoning.log", NULL};
    replay_corpus("episode_log", fuzz_episode_log_run, ok);
    wm_error err;
    ck_assert_int_eq(run_file(fuzz_episode_log_run, "tests/fuzz/corpus/episode_log", "cut_in.log", &err), 0);
    ck_assert_str_eq(err.msg, "show: ok\nreplay: ok, 8 steps\n");
}
END_TEST

/* ---- regressions: inputs that crashed a harness, and what they give now ---- */

typedef struct {
    const char *harness; /* tests/fuzz/regressions/HARNESS/ */
    const char *file;
    int rc;
    const char *result;  /* the harness's text, exactly */
} regression;

static const regression regressions[] = {
    /* A second header record: the replay loaded its scenario over the first
     * one's and leaked it (LeakSanitizer; sim/episode_log.c). */
    {"episode_log", "second_header_leak.log", -1,
     "show: TMP/episode.log: record 8: not a valid LogRecord\n"
     "replay: TMP/episode.log: step 5: a second log header\n"},
    /* meta.json claims 2e9 frames: clip_states_read allocated them all up
     * front, 14 TB, and aborted (datasets/clip.c). */
    {"clip", "meta_frames_2e9.clip", -1,
     "reader: TMP/root/clip_0000/states.jsonl: line 4: frame 3 has no action (only the last frame may lack one)\n"
     "check: TMP/root/clip_0000/frames.mkv: 4 frames, but meta.json says 2000000000\n"
     "stats: ok\n"
     "states: TMP/root/clip_0000/states.jsonl: 4 lines, but meta.json says 2000000000 frames\n"},
    /* A tokenizer file of 8 KB whose header claims 1920x960 frames and 512
     * channels: tokenizer_load allocated that network (600 GB) before
     * comparing it with the file's tensors, and aborted
     * (worldmodel/tokenizer.c; the same check guards dynamics and estimator). */
    {"checkpoint", "tokenizer_huge_config.wmck", -1,
     "as is: tokenizer load: TMP/input.wmck: its tensors hold 631 floats, but the tokenizer its config describes has "
     "107062285 (file corrupt)\n"},
    /* A corrupt estimator header whose stage multiplier is 1426063361:
     * channels x mult overflowed int in estimator_config_check (UBSan;
     * worldmodel/estimator.c, and the same product in tokenizer.c). */
    {"checkpoint", "estimator_mult_overflow.wmck", -1,
     "as is: TMP/input.wmck: checksum mismatch (file corrupt)\n"
     "repaired: estimator load: TMP/input.wmck: estimator: stage 1 width 2852126722 is not a positive multiple of 0 "
     "groups up to 1024\n"},
    /* 1000 template points: the suite grew its scenario array one 80 KB
     * entry at a time, 37 s of copying (a timeout; scenarios/suite.c). */
    {"suite", "thousand_points_slow.pb", 0, "ok: 1000 scenarios, 1000 episodes"},
    /* Twice 1000 points of one template: the same copying, twice as long,
     * before the duplicate ids are noticed. */
    {"suite", "duplicate_points_slow.pb", -1,
     "TMP/s/suite.pb:entries[0] and entries[1] both run scenario 'lead_brake_r0000' (TMP/s/t.pb, TMP/s/t.pb)"},
    {NULL, NULL, 0, NULL},
};

static fuzz_run_fn harness_fn(const char *name) {
    if (!strcmp(name, "scenario_pb")) return fuzz_scenario_pb_run;
    if (!strcmp(name, "scenario_pbtxt")) return fuzz_scenario_pbtxt_run;
    if (!strcmp(name, "suite")) return fuzz_suite_run;
    if (!strcmp(name, "policy_action")) return fuzz_policy_action_run;
    if (!strcmp(name, "checkpoint")) return fuzz_checkpoint_run;
    if (!strcmp(name, "clip")) return fuzz_clip_run;
    if (!strcmp(name, "episode_log")) return fuzz_episode_log_run;
    ck_abort_msg("no harness %s", name);
    return NULL;
}

START_TEST(regression_inputs) {
    int listed = 0;
    for (const regression *r = regressions; r->harness; r++, listed++) {
        char dir[256];
        snprintf(dir, sizeof dir, "tests/fuzz/regressions/%s", r->harness);
        wm_error err;
        int rc = run_file(harness_fn(r->harness), dir, r->file, &err);
        ck_assert_msg(rc == r->rc, "%s/%s: rc %d, expected %d: %s", dir, r->file, rc, r->rc, err.msg);
        ck_assert_msg(!strcmp(err.msg, r->result), "%s/%s:\n%s\nexpected:\n%s", dir, r->file, err.msg, r->result);
    }
    /* Every file in tests/fuzz/regressions/ is listed above (and so checked). */
    static const char *const names[] = {"scenario_pb", "scenario_pbtxt", "suite", "policy_action",
                                        "checkpoint", "clip", "episode_log"};
    int on_disk = 0;
    for (size_t h = 0; h < sizeof names / sizeof *names; h++) {
        char dir[256];
        snprintf(dir, sizeof dir, "tests/fuzz/regressions/%s", names[h]);
        struct stat st;
        if (stat(src_path(dir), &st) != 0) continue;
        int n;
        char **files = list_files(dir, &n);
        for (int i = 0; i < n; i++) {
            int found = 0;
            for (const regression *r = regressions; r->harness && !found; r++)
                found = !strcmp(r->harness, names[h]) && !strcmp(r->file, files[i]);
            ck_assert_msg(found, "%s/%s has no expected result in tests/test_fuzz_regressions.c", dir, files[i]);
        }
        on_disk += n;
        free_names(files, n);
    }
    ck_assert_int_eq(on_disk, listed);
}
END_TEST

int main(void) {
    Suite *s = suite_create("fuzz_regressions");
    TCase *tc = tcase_create("fuzz");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, corpus_scenario_pb);
    tcase_add_test(tc, corpus_scenario_pbtxt);
    tcase_add_test(tc, corpus_suite);
    tcase_add_test(tc, corpus_policy_action);
    tcase_add_test(tc, corpus_checkpoint);
    tcase_add_test(tc, corpus_clip);
    tcase_add_test(tc, corpus_episode_log);
    tcase_add_test(tc, regression_inputs);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
