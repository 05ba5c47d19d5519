/* Episode pictures end to end, through the real binary: `wmsim run` with
 * --video / --frames / --hud / --bev, `wmsim replay` re-rendering and
 * re-scoring a log without the policy, and `wmsim replay --policy`
 * re-running a log's case with another policy beside the logged run.
 * Videos are decoded back with FFmpeg's libraries. */
#include <dirent.h>
#include <jansson.h>
#include <sys/stat.h>

#include "render/image.h"
#include "render/video.h"
#include "testutil.h"

static int count_files(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

/* Steps the episode took, from "... (goal reached at t=37.0 s)". */
static int steps_from(const char *out) {
    const char *at = strstr(out, " at t=");
    ck_assert_ptr_nonnull(at);
    return (int)(atof(at + 6) * 10.0 + 0.5);
}

START_TEST(run_writes_an_mp4_with_one_frame_per_step) {
    char *dir = test_tmpdir(), *out;
    char video[4200], outdir[4200];
    snprintf(video, sizeof video, "%s/ep.mp4", dir);
    snprintf(outdir, sizeof outdir, "%s/run", dir);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"run", src_path("scenarios/examples/guard_stop_proceed.pbtxt"),
                                                      "--out", outdir, "--video", video, "--hud", "--bev", "--size",
                                                      "256x128", NULL}),
                     0);
    int steps = steps_from(out);
    char want[4300];
    snprintf(want, sizeof want, "  wrote %s (%d frames at 10 fps)\n", video, steps + 1);
    ck_assert_msg(strstr(out, want), "%s", out);
    free(out);
    video_info info;
    wm_error err;
    ck_assert_msg(video_probe(video, &info, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(info.width, 256);
    ck_assert_int_eq(info.height, 128);
    ck_assert_int_eq(info.frames, steps + 1); /* the start, then one per step */
    ck_assert_double_eq_tol(info.duration_s, (steps + 1) / 10.0, 0.1 + 1e-9);
    ck_assert_str_eq(info.codec, "h264");
    free(dir);
}
END_TEST

START_TEST(replay_rerenders_the_run_exactly_and_rescores_it) {
    char *dir = test_tmpdir(), *out;
    char run_mkv[4200], replay_mkv[4200], outdir[4200], log[4300];
    snprintf(run_mkv, sizeof run_mkv, "%s/run.mkv", dir);
    snprintf(replay_mkv, sizeof replay_mkv, "%s/replay.mkv", dir);
    snprintf(outdir, sizeof outdir, "%s/run", dir);
    snprintf(log, sizeof log, "%s/episode.log", outdir);
    const char *scen = src_path("scenarios/examples/guard_slow.pbtxt");
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"run", scen, "--out", outdir, "--video", run_mkv, "--bev",
                                                      NULL}),
                     0);
    const char *score = strstr(out, "score ");
    ck_assert_ptr_nonnull(score);
    char logged[16];
    snprintf(logged, sizeof logged, "%.5s", score + 6);
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"replay", log, "--video", replay_mkv, "--bev", NULL}), 0);
    char want[64];
    snprintf(want, sizeof want, "logged score %s, rescored %s", logged, logged);
    ck_assert_msg(strstr(out, want), "want '%s' in: %s", want, out);
    free(out);

    /* FFV1 is lossless: the replay's frames are the run's, bit for bit. */
    video_reader *a, *b;
    wm_error err;
    ck_assert_msg(video_reader_open(&a, run_mkv, &err) == 0, "%s", err.msg);
    ck_assert_msg(video_reader_open(&b, replay_mkv, &err) == 0, "%s", err.msg);
    image fa = {0}, fb = {0};
    int frames = 0, ra, rb;
    while ((ra = video_reader_next(a, &fa, &err)) == 1) {
        rb = video_reader_next(b, &fb, &err);
        ck_assert_int_eq(rb, 1);
        ck_assert_msg(memcmp(fa.rgb, fb.rgb, (size_t)fa.width * fa.height * 3) == 0, "frame %d differs", frames);
        frames++;
    }
    ck_assert_int_eq(ra, 0);
    ck_assert_int_eq(video_reader_next(b, &fb, &err), 0);
    ck_assert_int_gt(frames, 50);
    image_free(&fa), image_free(&fb);
    video_reader_close(a), video_reader_close(b);
    free(dir);
}
END_TEST

START_TEST(frames_dir_gets_one_png_per_step) {
    char *dir = test_tmpdir(), *out;
    char frames[4200], outdir[4200], first[4300];
    snprintf(frames, sizeof frames, "%s/frames", dir);
    snprintf(outdir, sizeof outdir, "%s/run", dir);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"run", src_path("scenarios/examples/cut_in.pbtxt"), "--out",
                                                      outdir, "--png", frames, "--semantic", "--hud", NULL}),
                     0);
    int steps = steps_from(out);
    free(out);
    ck_assert_int_eq(count_files(frames, "frame_"), steps + 1);
    ck_assert_int_eq(count_files(frames, "semantic_"), steps + 1);
    snprintf(first, sizeof first, "%s/frame_00000.png", frames);
    image img;
    wm_error err;
    ck_assert_msg(image_read_png(first, &img, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(img.width, 128);
    ck_assert_int_eq(img.height, 64);
    image_free(&img);
    free(dir);
}
END_TEST

START_TEST(unwritable_video_fails_before_the_episode_and_keeps_old_files) {
    char *dir = test_tmpdir(), *out;
    char outdir[4200], result[4300], video[4200];
    snprintf(outdir, sizeof outdir, "%s/run", dir);
    snprintf(result, sizeof result, "%s/result.json", outdir);
    const char *scen = src_path("scenarios/examples/cut_in.pbtxt");
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"run", scen, "--out", outdir, "--quiet", NULL}), 0);
    free(out);
    struct stat before, after;
    ck_assert_int_eq(stat(result, &before), 0);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"run", scen, "--out", outdir, "--video",
                                                      "/nonexistent/dir/ep.mp4", NULL}),
                     1);
    ck_assert_str_eq(out, "wmsim: /nonexistent/dir/ep.mp4: cannot create: No such file or directory\n");
    free(out);
    ck_assert_int_eq(stat(result, &after), 0);
    ck_assert_int_eq(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec); /* not rewritten */
    ck_assert_int_eq(before.st_mtim.tv_sec, after.st_mtim.tv_sec);

    snprintf(video, sizeof video, "%s/ep.webm", dir);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"run", scen, "--out", outdir, "--video", video, NULL}), 1);
    ck_assert_msg(strstr(out, "ep.webm"), "%s", out);
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"run", scen, "--out", outdir, "--video", video, "--codec",
                                                      "theora", NULL}),
                     1);
    ck_assert_msg(strstr(out, "theora"), "%s", out);
    free(out);
    free(dir);
}
END_TEST

START_TEST(replay_of_a_bad_log_names_the_file) {
    char *dir = test_tmpdir(), *out;
    char log[4200];
    snprintf(log, sizeof log, "%s/episode.log", dir);
    write_text_file(log, "this is not a log");
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"replay", log, NULL}), 1);
    char want[4400];
    snprintf(want, sizeof want, "wmsim: %s: record 0:", log);
    ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s", out);
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"replay", NULL}), 2);
    ck_assert_ptr_nonnull(strstr(out, "wmsim: replay: missing LOG\n"));
    free(out);
    free(dir);
}
END_TEST

START_TEST(replay_rescores_a_failed_run_with_its_reasons) {
    char *dir = test_tmpdir(), *out;
    char outdir[4200], log[4300];
    snprintf(outdir, sizeof outdir, "%s/run", dir);
    snprintf(log, sizeof log, "%s/episode.log", outdir);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"run", src_path("scenarios/examples/guard_stop_proceed.pbtxt"),
                                                      "--policy", "cruise", "--out", outdir, "--quiet", NULL}),
                     0);
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"replay", log, NULL}), 0);
    ck_assert_str_eq(out, "guard_stop_proceed seed 1 policy cruise: 201 steps replayed; logged score 0.000, "
                          "rescored 0.000 (FAIL)\n"
                          "  failure: t=8.1 s: crossed guard 'guard' stop line at 13.7 m/s while it showed STOP\n"
                          "  failure: score 0.000 below the required 0.500\n");
    free(out);
    free(dir);
}
END_TEST


/* ---- replay LOG --policy OTHER ---- */

static json_t *load_json(const char *path) {
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    ck_assert_msg(j != NULL, "%s: %s", path, jerr.text);
    return j;
}

/* root's value at a dotted path of object keys; the test fails when absent. */
static json_t *json_at(json_t *root, const char *dotted) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", dotted);
    json_t *j = root;
    for (char *save = NULL, *key = strtok_r(buf, ".", &save); key; key = strtok_r(NULL, ".", &save)) {
        j = json_object_get(j, key);
        ck_assert_msg(j != NULL, "no %s (at %s)", dotted, key);
    }
    return j;
}

/* Runs SCENARIO with policy into dir/run and returns its log path (static). */
static const char *logged_run(const char *dir, const char *scenario, const char *policy) {
    static char log[4300];
    char outdir[4200];
    join(outdir, sizeof outdir, dir, "run");
    join(log, sizeof log, outdir, "episode.log");
    run_wmsim_ok((const char *[]){"run", src_path(scenario), "--policy", policy, "--out", outdir, "--quiet", NULL});
    return log;
}

static int count_char(const char *s, char c) {
    int n = 0;
    for (; *s; s++) n += *s == c;
    return n;
}

START_TEST(replay_with_another_policy_compares_the_two_runs) {
    char *dir = test_tmpdir(), *out;
    const char *log = logged_run(dir, "scenarios/examples/guard_stop_proceed.pbtxt", "expert");
    char cmp[4200], video[4300], csv[4300], js[4300], result[4300], newlog[4300];
    join(cmp, sizeof cmp, dir, "cmp");
    join(video, sizeof video, cmp, "compare.mp4");
    join(csv, sizeof csv, cmp, "diff.csv");
    join(js, sizeof js, cmp, "diff.json");
    join(result, sizeof result, cmp, "result.json");
    join(newlog, sizeof newlog, cmp, "episode.log");
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"replay", log, "--policy", "cruise", "--out", cmp, "--hud",
                                                      "--reasoning", NULL}),
                     0);
    /* The expert passes after 359 steps; cruise runs the guard's STOP and reaches the goal after 201. */
    const char *head = "guard_stop_proceed seed 1: logged expert vs new cruise\n"
                       "  logged expert: PASS score 1.000 (goal reached, 359 steps)\n"
                       "  new cruise: FAIL score 0.000 (goal reached, 201 steps)\n"
                       "    failure: t=8.1 s: crossed guard 'guard' stop line at 13.7 m/s while it showed STOP\n"
                       "    failure: score 0.000 below the required 0.500\n"
                       "  score change -1.000; actions first differ at step 4 (t=0.4 s); ";
    ck_assert_msg(strncmp(out, head, strlen(head)) == 0, "want:\n%s\ngot:\n%s", head, out);
    char want[24000];
    snprintf(want, sizeof want, "  wrote %s (360 frames at 10 fps), %s, %s, %s and %s\n", video, csv, js, result,
             newlog);
    ck_assert_msg(strstr(out, want), "want '%s' in:\n%s", want, out);
    free(out);

    /* Side by side at 2 x 128 wide, 64 + a 10-row caption band high; one
     * frame for the start and one per step of the longer run. */
    video_info info;
    wm_error err;
    ck_assert_msg(video_probe(video, &info, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(info.width, 256);
    ck_assert_int_eq(info.height, 74);
    ck_assert_int_eq(info.frames, 360);

    /* diff.csv: a header and steps 1..359; cruise's columns empty past its 201 steps. */
    size_t len;
    char *text = (char *)test_read_file(csv, &len);
    int lines = 0, row_beyond = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save), lines++) {
        ck_assert_int_eq(count_char(line, ','), 16);
        if (lines == 0) {
            ck_assert_str_eq(line, "step,t,logged_accel,logged_brake,logged_steer,logged_speed,logged_s,logged_d,"
                                   "new_accel,new_brake,new_steer,new_speed,new_s,new_d,abs_diff_accel,"
                                   "abs_diff_brake,abs_diff_steer");
            continue;
        }
        char prefix[32];
        snprintf(prefix, sizeof prefix, "%d,%d.%d,", lines, lines / 10, lines % 10);
        ck_assert_msg(strncmp(line, prefix, strlen(prefix)) == 0, "row %d: %s", lines, line);
        if (lines == 201) ck_assert_msg(!strstr(line, ",,"), "%s", line);
        if (lines == 202) {
            row_beyond = 1;
            /* the logged run's six values, then six empty columns and three empty differences */
            ck_assert_msg(strlen(line) > 9 && strcmp(line + strlen(line) - 9, ",,,,,,,,,") == 0, "%s", line);
            ck_assert_msg(!strstr(line, ",,,,,,,,,,"), "%s", line);
        }
    }
    ck_assert_int_eq(lines, 360);
    ck_assert(row_beyond);
    free(text);

    /* diff.json: logged PASS, new FAIL for the guard, and the deltas. */
    json_t *j = load_json(js);
    ck_assert_str_eq(json_string_value(json_at(j, "scenario.id")), "guard_stop_proceed");
    ck_assert_int_eq(json_integer_value(json_at(j, "seed")), 1);
    ck_assert_str_eq(json_string_value(json_at(j, "logged.policy")), "expert");
    ck_assert_str_eq(json_string_value(json_at(j, "new.policy")), "cruise");
    ck_assert(json_is_true(json_at(j, "logged.passed")));
    ck_assert(json_is_false(json_at(j, "new.passed")));
    ck_assert_str_eq(json_string_value(json_at(j, "logged.end_reason")), "goal reached");
    ck_assert_int_eq(json_integer_value(json_at(j, "logged.steps")), 359);
    ck_assert_int_eq(json_integer_value(json_at(j, "new.steps")), 201);
    ck_assert_int_eq(json_array_size(json_at(j, "logged.failure_reasons")), 0);
    const char *reason = json_string_value(json_array_get(json_at(j, "new.failure_reasons"), 0));
    ck_assert_ptr_nonnull(reason);
    ck_assert_str_eq(reason, "t=8.1 s: crossed guard 'guard' stop line at 13.7 m/s while it showed STOP");
    double logged_score = json_number_value(json_at(j, "logged.score")),
           new_score = json_number_value(json_at(j, "new.score"));
    ck_assert_double_eq(json_number_value(json_at(j, "delta.score")), new_score - logged_score);
    ck_assert_double_eq_tol(json_number_value(json_at(j, "delta.score")), -1.0, 1e-12);
    ck_assert_int_eq(json_integer_value(json_at(j, "delta.steps")), 201 - 359);
    ck_assert_double_eq(json_number_value(json_at(j, "delta.metrics.guard_compliance_multiplier")),
                        json_number_value(json_at(j, "new.metrics.guard_compliance_multiplier")) -
                            json_number_value(json_at(j, "logged.metrics.guard_compliance_multiplier")));
    ck_assert_double_eq(json_number_value(json_at(j, "new.metrics.guard_compliance_multiplier")), 0.0);
    ck_assert_int_eq(json_object_size(json_at(j, "new.metrics")), 18);
    ck_assert_int_eq(json_object_size(json_at(j, "logged.metrics")), 18);
    ck_assert_int_eq(json_object_size(json_at(j, "delta.metrics")), 18);
    ck_assert_int_eq(json_integer_value(json_at(j, "actions.common_steps")), 201);
    ck_assert_int_eq(json_integer_value(json_at(j, "actions.first_diverging_step")), 4);
    ck_assert_double_gt(json_number_value(json_at(j, "actions.max_abs_diff.brake")), 1.0);
    ck_assert_double_gt(json_number_value(json_at(j, "actions.mean_abs_diff.accel")), 0.0);
    json_decref(j);

    /* The new run is a run of its own: its log replays to its score. */
    j = load_json(result);
    ck_assert_str_eq(json_string_value(json_at(j, "policy")), "cruise");
    ck_assert_double_eq(json_number_value(json_at(j, "score")), new_score);
    json_decref(j);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"replay", newlog, NULL}), 0);
    ck_assert_msg(strncmp(out, "guard_stop_proceed seed 1 policy cruise: 201 steps replayed; logged score 0.000, "
                               "rescored 0.000 (FAIL)\n", 99) == 0, "%s", out);
    free(out);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* The same policy on the same case repeats itself exactly: no action
 * differs, the new log is the logged one byte for byte, and (FFV1 being
 * lossless, the HUD off) each frame's halves are the same picture. */
START_TEST(replay_with_the_same_policy_finds_no_difference) {
    char *dir = test_tmpdir(), *out;
    const char *log = logged_run(dir, "scenarios/examples/guard_slow.pbtxt", "expert");
    char cmp[4200], video[4300], js[4300], newlog[4300];
    join(cmp, sizeof cmp, dir, "cmp");
    join(video, sizeof video, dir, "same.mkv");
    join(js, sizeof js, cmp, "diff.json");
    join(newlog, sizeof newlog, cmp, "episode.log");
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"replay", log, "--policy", "expert", "--out", cmp, "--video",
                                                      video, NULL}),
                     0);
    ck_assert_msg(strstr(out, "  score change +0.000; actions agree at all "), "%s", out);
    ck_assert_msg(strstr(out, " common steps (within 1e-06)\n"), "%s", out);
    free(out);
    ck_assert(test_files_equal(log, newlog));
    json_t *j = load_json(js);
    ck_assert(json_is_null(json_at(j, "actions.first_diverging_step")));
    const char *comps[] = {"accel", "brake", "steer"};
    for (int k = 0; k < 3; k++) {
        char key[64];
        snprintf(key, sizeof key, "actions.max_abs_diff.%s", comps[k]);
        ck_assert_double_eq(json_number_value(json_at(j, key)), 0.0);
    }
    ck_assert_double_eq(json_number_value(json_at(j, "delta.score")), 0.0);
    int steps = (int)json_integer_value(json_at(j, "new.steps"));
    ck_assert_int_eq(json_integer_value(json_at(j, "logged.steps")), steps);
    ck_assert_int_eq(json_integer_value(json_at(j, "actions.common_steps")), steps);
    json_decref(j);

    video_reader *vr;
    wm_error err;
    ck_assert_msg(video_reader_open(&vr, video, &err) == 0, "%s", err.msg);
    image f = {0};
    int frames = 0, rc;
    while ((rc = video_reader_next(vr, &f, &err)) == 1) {
        ck_assert_int_eq(f.width, 256);
        int half = f.width / 2;
        for (int y = 0; y < f.height; y++)
            ck_assert_msg(memcmp(f.rgb + (size_t)y * f.width * 3, f.rgb + ((size_t)y * f.width + half) * 3,
                                 (size_t)half * 3) == 0,
                          "frame %d row %d: the halves differ", frames, y);
        frames++;
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(frames, steps + 1);
    image_free(&f);
    video_reader_close(vr);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* The shorter run holds its last picture, marked ended, while the longer
 * one goes on: here the logged cruise run (201 steps) beside the expert. */
START_TEST(replay_compare_holds_the_run_that_ended_first) {
    char *dir = test_tmpdir(), *out;
    const char *log = logged_run(dir, "scenarios/examples/guard_stop_proceed.pbtxt", "cruise");
    char cmp[4200], video[4300];
    join(cmp, sizeof cmp, dir, "cmp");
    join(video, sizeof video, dir, "held.mkv");
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"replay", log, "--policy", "expert", "--out", cmp, "--video",
                                                      video, NULL}),
                     0);
    ck_assert_msg(strstr(out, "(360 frames at 10 fps)"), "%s", out);
    free(out);
    video_reader *vr;
    wm_error err;
    ck_assert_msg(video_reader_open(&vr, video, &err) == 0, "%s", err.msg);
    image f = {0};
    size_t half_row = 128 * 3;
    uint8_t *last_live = CALLOC_CHECK(64, half_row), *held = CALLOC_CHECK(64, half_row),
            *right = CALLOC_CHECK(64, half_row);
    int frames = 0, rc, right_changed = 0;
    while ((rc = video_reader_next(vr, &f, &err)) == 1) {
        ck_assert_int_eq(f.width, 256);
        ck_assert_int_eq(f.height, 64);
        uint8_t left[64 * 128 * 3], now_right[64 * 128 * 3];
        for (int y = 0; y < 64; y++) {
            memcpy(left + y * half_row, f.rgb + (size_t)y * 256 * 3, half_row);
            memcpy(now_right + y * half_row, f.rgb + (size_t)y * 256 * 3 + half_row, half_row);
        }
        if (frames == 201) memcpy(last_live, left, sizeof left);
        if (frames == 202) {
            memcpy(held, left, sizeof left);
            /* the same picture, labelled "ended: cruise" instead of "cruise" */
            ck_assert(memcmp(held, last_live, sizeof left) != 0);
            ck_assert(memcmp(held + 20 * half_row, last_live + 20 * half_row, 44 * half_row) == 0);
        }
        if (frames > 202) {
            ck_assert_msg(memcmp(left, held, sizeof left) == 0, "frame %d: the ended run's picture changed", frames);
            right_changed += memcmp(now_right, right, sizeof now_right) != 0;
        }
        memcpy(right, now_right, sizeof now_right);
        frames++;
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(frames, 360);
    ck_assert_int_gt(right_changed, 100);
    free(last_live), free(held), free(right);
    image_free(&f);
    video_reader_close(vr);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* A policy that sees the camera gets the oracle frames `wmsim run` would
 * give it, so its new run is that run, log for log. */
START_TEST(replay_compare_gives_a_camera_policy_the_frames_of_run) {
    char *dir = test_tmpdir();
    const char *log = logged_run(dir, "scenarios/examples/guard_stop_proceed.pbtxt", "cruise");
    char spec[4200], cmp[4200], alone[4200], cmp_log[4300], alone_log[4300];
    snprintf(spec, sizeof spec, "vla:%s", src_path("models/vla-tiny.wmck"));
    join(cmp, sizeof cmp, dir, "cmp");
    join(alone, sizeof alone, dir, "alone");
    join(cmp_log, sizeof cmp_log, cmp, "episode.log");
    join(alone_log, sizeof alone_log, alone, "episode.log");
    run_wmsim_ok((const char *[]){"replay", log, "--policy", spec, "--out", cmp, "--reasoning", NULL});
    run_wmsim_ok((const char *[]){"run", src_path("scenarios/examples/guard_stop_proceed.pbtxt"), "--policy", spec,
                                  "--out", alone, "--quiet", NULL});
    ck_assert(test_files_equal(cmp_log, alone_log));
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* Nothing is created for a policy that does not exist. */
START_TEST(replay_compare_errors_name_the_policy_the_log_and_the_folder) {
    char *dir = test_tmpdir(), *out;
    const char *log = logged_run(dir, "scenarios/examples/cut_in.pbtxt", "expert");
    char cmp[4200], bad[4200], file[4200], under_file[4300];
    struct stat st;
    join(cmp, sizeof cmp, dir, "cmp");
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"replay", log, "--policy", "nonesuch", "--out", cmp, NULL}), 1);
    ck_assert_str_eq(out, "wmsim: --policy: unknown policy 'nonesuch' (known: expert, cruise, vla-tiny, "
                          "vla:PATH.wmck, exec:CMD ARGS, unix:PATH, lib:PATH.so ARGS)\n");
    free(out);
    ck_assert_int_ne(stat(cmp, &st), 0);

    join(bad, sizeof bad, dir, "bad.log");
    write_text_file(bad, "this is not a log");
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"replay", bad, "--policy", "cruise", "--out", cmp, NULL}), 1);
    char want[4400];
    snprintf(want, sizeof want, "wmsim: %s: record 0:", bad);
    ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s", out);
    free(out);
    ck_assert_int_ne(stat(cmp, &st), 0);

    /* A log cut short names the file too. */
    size_t len;
    uint8_t *data = test_read_file(log, &len);
    FILE *fp = fopen(bad, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(data, 1, len / 2, fp), len / 2);
    fclose(fp);
    free(data);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"replay", bad, "--policy", "cruise", "--out", cmp, NULL}), 1);
    snprintf(want, sizeof want, "wmsim: %s: record ", bad);
    ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s", out);
    free(out);
    ck_assert_int_ne(stat(cmp, &st), 0);

    /* A folder that cannot be made. */
    join(file, sizeof file, dir, "plain");
    write_text_file(file, "x");
    join(under_file, sizeof under_file, file, "cmp");
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"replay", log, "--policy", "cruise", "--out", under_file, NULL}),
                     1);
    snprintf(want, sizeof want, "wmsim: %s: cannot create directory: Not a directory\n", under_file);
    ck_assert_str_eq(out, want);
    free(out);

    /* The logged run's own folder: its log is not replaced. */
    char rundir[4200];
    join(rundir, sizeof rundir, dir, "run");
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"replay", log, "--policy", "cruise", "--out", rundir, NULL}), 1);
    snprintf(want, sizeof want, "wmsim: %s: is the log being compared; choose another output folder\n", log);
    ck_assert_str_eq(out, want);
    free(out);

    /* Usage: compare options without --policy, and pictures it does not make. */
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"replay", log, "--out", cmp, NULL}), 2);
    ck_assert_msg(strstr(out, "wmsim: replay: --out needs --policy\n"), "%s", out);
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"replay", log, "--policy", "cruise", "--png", cmp, NULL}), 2);
    ck_assert_msg(strstr(out, "wmsim: replay: --png and --semantic do not go with --policy\n"), "%s", out);
    free(out);
    ck_assert_int_ne(stat(cmp, &st), 0);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("replay");
    TCase *tc = tcase_create("episode pictures");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, run_writes_an_mp4_with_one_frame_per_step);
    tcase_add_test(tc, replay_rerenders_the_run_exactly_and_rescores_it);
    tcase_add_test(tc, frames_dir_gets_one_png_per_step);
    tcase_add_test(tc, unwritable_video_fails_before_the_episode_and_keeps_old_files);
    tcase_add_test(tc, replay_of_a_bad_log_names_the_file);
    tcase_add_test(tc, replay_rescores_a_failed_run_with_its_reasons);
    tcase_add_test(tc, replay_with_another_policy_compares_the_two_runs);
    tcase_add_test(tc, replay_with_the_same_policy_finds_no_difference);
    tcase_add_test(tc, replay_compare_holds_the_run_that_ended_first);
    tcase_add_test(tc, replay_compare_errors_name_the_policy_the_log_and_the_folder);
    /* vla-tiny drives: too slow under valgrind (make test-valgrind skips "heavy"). */
    TCase *th = tcase_create("camera policy");
    tcase_set_tags(th, "heavy");
    tcase_set_timeout(th, 120);
    tcase_add_test(th, replay_compare_gives_a_camera_policy_the_frames_of_run);
    suite_add_tcase(s, th);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
