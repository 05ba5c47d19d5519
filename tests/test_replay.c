/* Episode pictures end to end, through the real binary: `wmsim run` with
 * --video / --frames / --hud / --bev, and `wmsim replay` re-rendering and
 * re-scoring a log without the policy. Videos are decoded back with
 * FFmpeg's libraries. */
#include <dirent.h>
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
    suite_add_tcase(s, tc);
    return run_suite(s);
}
