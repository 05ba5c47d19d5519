/* test_closed_loop.c — `wmsim run` with policies outside wmsim, through the
 * real protocol and real processes (`--policy exec:…|unix:…|lib:…`), and
 * with frames from the world model (`--frames worldmodel`).
 *
 * The misbehaving policies are this test binary itself, started as
 * `test_policy_external --as-policy MODE@STEP`: it answers every step
 * properly until STEP and then crashes, hangs, exits, closes its output,
 * writes garbage, announces a 1 GiB message, answers the wrong step, leaves
 * out steer or answers out of range. Each must end its episode with the
 * exact reason in result.json and the log, and the run must still write
 * both. */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "sim/camera_feed.h"
#include "sim/episode.h"
#include "sim/policy.h"
#include "render/video.h"
#include "sim/policy_protocol.pb-c.h"
#include "testpolicy.h"
#include "testutil.h"

#ifndef WMSIM_PYTHON
#define WMSIM_PYTHON "/usr/bin/python3"
#endif

#define SCENARIO "scenarios/examples/cut_in.pbtxt"

/* ------------------------------------------------- the test binary as a policy */

/* Serves Observations from in_fd with Actions on out_fd until EOF; at step
 * `at` misbehaves as mode says. Returns the exit status. */
static int serve_policy(int in_fd, int out_fd, const char *mode, int at) {
    for (;;) {
        int bad;
        Wmsim__Policy__Observation *o = tp_read_observation(in_fd, &bad);
        if (!o) return bad ? 4 : 0; /* a clean end: wmsim closed the stream, the run is over */
        int step = (int)o->step;
        int here = step == at && !(strcmp(mode, "crashonce") == 0 && !strstr(o->episode_id, "/1"));
        Wmsim__Policy__Action a = WMSIM__POLICY__ACTION__INIT;
        a.has_step = a.has_accel = a.has_brake = a.has_steer = 1;
        a.step = o->step, a.accel = 0.5, a.brake = 0.0, a.steer = 0.0;
        char why[200];
        const Wmsim__Policy__CameraFrame *f = o->n_frames ? o->frames[0] : NULL;
        int frame_ok = f && f->has_rgb && f->rgb.len == (size_t)f->width * f->height * 3;
        snprintf(why, sizeof why, "saw %s step %d: %ux%u frame%s, limits %.1f/%.1f/%.2f, '%s'", o->episode_id, step,
                 f ? f->width : 0, f ? f->height : 0, frame_ok ? "" : " MALFORMED", o->accel_max, o->brake_max,
                 o->steer_max, o->instruction);
        a.reasoning = why;
        /* A plan of 3 points, 5 m apart, 0.5 s apart; 40 of them for "manyplan". */
        Wmsim__Policy__Waypoint pts[40], *pp[40];
        a.n_trajectory = here && !strcmp(mode, "manyplan") ? 40 : 3, a.trajectory = pp;
        for (size_t k = 0; k < a.n_trajectory; k++) {
            pts[k] = (Wmsim__Policy__Waypoint)WMSIM__POLICY__WAYPOINT__INIT;
            pts[k].has_x_m = pts[k].has_y_m = pts[k].has_t_s = 1;
            pts[k].x_m = 5.0 * (double)(k + 1), pts[k].y_m = 0.25, pts[k].t_s = 0.5 * (double)(k + 1);
            pp[k] = &pts[k];
        }
        wmsim__policy__observation__free_unpacked(o, NULL);
        if (here) {
            if (!strcmp(mode, "crash") || !strcmp(mode, "crashonce")) abort();
            if (!strcmp(mode, "hang")) sleep(60);
            if (!strcmp(mode, "exit")) exit(0);
            if (!strcmp(mode, "hangup")) return 0; /* the server hangs up on this connection */
            if (!strcmp(mode, "closeout")) {
                shutdown(out_fd, SHUT_WR);
                sleep(60);
            }
            if (!strcmp(mode, "garbage")) {
                tp_write_u32le(out_fd, 8);
                tp_write_exact(out_fd, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
                continue;
            }
            if (!strcmp(mode, "huge")) {
                tp_write_u32le(out_fd, 1u << 30);
                sleep(60);
            }
            if (!strcmp(mode, "wrongstep")) a.step++;
            if (!strcmp(mode, "nosteer")) a.has_steer = 0;
            if (!strcmp(mode, "range")) a.accel = 100.0;
        }
        tp_send_action(out_fd, &a);
    }
}

/* "MODE@STEP" (STEP -1 when absent: never misbehave). */
static int as_policy(const char *spec) {
    char mode[32];
    int at = -1;
    const char *atsign = strchr(spec, '@');
    size_t n = atsign ? (size_t)(atsign - spec) : strlen(spec);
    snprintf(mode, sizeof mode, "%.*s", (int)n, spec);
    if (atsign) at = atoi(atsign + 1);
    return serve_policy(0, 1, mode, at);
}

/* ------------------------------------------------------------------ helpers */

static char self_path[4096];

static void find_self(void) {
    ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    ck_assert_int_gt(n, 0);
    self_path[n] = '\0';
}

/* "exec:SELF --as-policy MODE" */
static const char *self_spec(const char *mode) {
    static char spec[4200];
    find_self();
    snprintf(spec, sizeof spec, "exec:%s --as-policy %s", self_path, mode);
    return spec;
}

typedef struct {
    json_t *root;
    char *log_show;
} run_outcome;

/* Runs `wmsim run SCENARIO --policy spec [extra...] --out DIR --quiet`,
 * requires exit 0, result.json and episode.log, and reads both back. */
static run_outcome run_policy(const char *dir, const char *spec, const char *extra1, const char *extra2) {
    char out_dir[4200], result[4300], log[4300];
    join(out_dir, sizeof out_dir, dir, "run");
    join(result, sizeof result, out_dir, "result.json");
    join(log, sizeof log, out_dir, "episode.log");
    const char *args[16] = {"run", src_path(SCENARIO), "--policy", spec, "--out", out_dir, "--quiet"};
    int n = 7;
    if (extra1) args[n++] = extra1;
    if (extra2) args[n++] = extra2;
    args[n] = NULL;
    char *out;
    int rc = run_wmsim(&out, args);
    ck_assert_msg(rc == 0, "wmsim run exited %d: %s", rc, out);
    free(out);
    run_outcome r;
    json_error_t jerr;
    r.root = json_load_file(result, 0, &jerr);
    ck_assert_msg(r.root != NULL, "%s: %s", result, jerr.text);
    rc = run_wmsim(&r.log_show, (const char *[]){"log", "show", log, NULL});
    ck_assert_msg(rc == 0, "%s", r.log_show);
    return r;
}

static void outcome_free(run_outcome *r) {
    json_decref(r->root);
    free(r->log_show);
}

/* The episode ended by the policy at step `step` with exactly `reason`
 * (after "t=S s: "), in result.json and in the log. */
static void expect_policy_failure(const run_outcome *r, int step, const char *reason) {
    ck_assert_str_eq(json_string_value(json_object_get(r->root, "end_reason")), "policy error");
    ck_assert_int_eq(json_integer_value(json_object_get(r->root, "steps")), step);
    ck_assert(json_is_false(json_object_get(r->root, "passed")));
    char want[1200];
    snprintf(want, sizeof want, "t=%.1f s: %s", step * 0.1, reason);
    /* The first reason: the policy's; the shortfalls it caused (goal, score) follow. */
    const char *first = json_string_value(json_array_get(json_object_get(r->root, "failure_reasons"), 0));
    ck_assert_msg(first != NULL, "no failure reasons");
    ck_assert_str_eq(first, want);
    ck_assert_msg(strstr(r->log_show, reason) != NULL, "the log lacks '%s':\n%s", reason, r->log_show);
}

/* The misbehaving self-policy's failure, with the spec's name in front. */
static void check_misbehaviour(const char *mode, int step, const char *reason_after_name, const char *extra1,
                               const char *extra2) {
    char *dir = test_tmpdir();
    const char *spec = self_spec(mode);
    char reason[1200];
    snprintf(reason, sizeof reason, "policy %s %s", spec, reason_after_name);
    run_outcome r = run_policy(dir, spec, extra1, extra2);
    expect_policy_failure(&r, step, reason);
    /* The steps before the failure were answered and logged, reasoning and all. */
    if (step > 0) ck_assert_ptr_nonnull(strstr(r.log_show, "saw cut_in/"));
    outcome_free(&r);
    test_remove_tree(dir);
    free(dir);
}

/* ------------------------------------------------------------------ the tests */

START_TEST(exec_policy_drives_a_whole_episode) {
    char *dir = test_tmpdir();
    run_outcome r = run_policy(dir, self_spec("good"), NULL, NULL);
    const char *end = json_string_value(json_object_get(r.root, "end_reason"));
    ck_assert_msg(strcmp(end, "policy error") != 0, "%s", json_dumps(r.root, 0));
    ck_assert_int_gt(json_integer_value(json_object_get(r.root, "steps")), 50);
    /* What the policy saw: its episode, every step, a well-formed 128x64 frame, the vehicle's limits, the instruction. */
    ck_assert_msg(strstr(r.log_show, "saw cut_in/") != NULL, "%s", r.log_show);
    ck_assert_msg(strstr(r.log_show, "128x64 frame, limits") != NULL, "%s", r.log_show);
    ck_assert_ptr_null(strstr(r.log_show, "MALFORMED"));
    /* Its planned path is in the log with every answer. */
    ck_assert_msg(strstr(r.log_show, "; plans 3 points to 15.0 m ahead, 0.2 m left in 1.5 s)") != NULL, "%s",
                  r.log_show);
    char want[128];
    long steps = (long)json_integer_value(json_object_get(r.root, "steps"));
    snprintf(want, sizeof want, "planned paths: %ld of %ld steps", steps, steps);
    ck_assert_msg(strstr(r.log_show, want) != NULL, "want '%s' in:\n%s", want, r.log_show);
    outcome_free(&r);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(crashing_policy) {
    check_misbehaviour("crash@3", 3, "was killed by signal 6 (Aborted) before answering step 3", NULL, NULL);
}
END_TEST

START_TEST(hanging_policy_times_out) {
    check_misbehaviour("hang@2", 2, "did not answer step 2 within 0.3 s", "--policy-timeout", "0.3");
}
END_TEST

START_TEST(policy_that_exits_early) {
    check_misbehaviour("exit@1", 1, "exited with status 0 before answering step 1", NULL, NULL);
}
END_TEST

START_TEST(policy_that_closes_its_output) {
    check_misbehaviour("closeout@2", 2, "closed its output before answering step 2", NULL, NULL);
}
END_TEST

START_TEST(policy_sending_garbage) {
    check_misbehaviour("garbage@2", 2, "sent 8 bytes that do not decode as an Action at step 2", NULL, NULL);
}
END_TEST

START_TEST(policy_announcing_a_gigabyte) {
    check_misbehaviour("huge@0", 0,
                       "announced a 1073741824-byte Action (limit 1048576 bytes, --policy-max-bytes) at step 0", NULL,
                       NULL);
}
END_TEST

START_TEST(policy_answering_the_wrong_step) {
    check_misbehaviour("wrongstep@4", 4, "sent an Action for step 5 at step 4", NULL, NULL);
}
END_TEST

START_TEST(policy_planning_too_far) {
    check_misbehaviour("manyplan@3", 3, "sent an Action with 40 waypoints (limit 32) at step 3", NULL, NULL);
}
END_TEST

START_TEST(policy_leaving_out_steer) {
    check_misbehaviour("nosteer@1", 1, "sent an Action without steer at step 1", NULL, NULL);
}
END_TEST

START_TEST(policy_answering_out_of_range) {
    char *dir = test_tmpdir();
    run_outcome r = run_policy(dir, self_spec("range@2"), NULL, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(r.root, "end_reason")), "policy error");
    const char *first = json_string_value(json_array_get(json_object_get(r.root, "failure_reasons"), 0));
    const char *want = "t=0.2 s: policy action out of range: accel 100.000 m/s^2 outside [0, 3]";
    ck_assert_msg(first && strcmp(first, want) == 0, "%s", first);
    outcome_free(&r);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(policy_that_cannot_start) {
    char *out;
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"run", src_path(SCENARIO), "--policy", "exec:/nonexistent/policy -x",
                                                      "--quiet", NULL}),
                     1);
    ck_assert_msg(strstr(out, "wmsim: policy exec:/nonexistent/policy -x: cannot start '/nonexistent/policy': No such "
                              "file or directory") != NULL, "%s", out);
    free(out);
}
END_TEST

START_TEST(bad_policy_options) {
    const char *cases[][3] = {
        {"--policy-timeout", "0", "wmsim: --policy-timeout: 0 s outside (0, 3600]"},
        {"--policy-startup", "-1", "wmsim: --policy-startup: -1 s outside (0, 3600]"},
        {"--policy-max-bytes", "8", "wmsim: --policy-max-bytes: 8 outside [64, 2^30]"},
        {"--policy-timeout", "soon", "wmsim: --policy-timeout: not a number: 'soon'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out;
        int rc = run_wmsim(&out, (const char *[]){"run", src_path(SCENARIO), cases[i][0], cases[i][1], "--quiet", NULL});
        ck_assert_msg(rc == 1 || rc == 2, "%s %s: exit %d", cases[i][0], cases[i][1], rc);
        ck_assert_msg(strstr(out, cases[i][2]) != NULL, "want '%s' in:\n%s", cases[i][2], out);
        free(out);
    }
}
END_TEST

/* --reasoning: a caption band under each frame with the reasoning of the
 * action that led to it (none under the first), the same in the replay. */
START_TEST(reasoning_caption_in_run_and_replay) {
    char *dir = test_tmpdir(), *out;
    char run_png[4200], replay_png[4200], out_dir[4200], log[4300];
    join(run_png, sizeof run_png, dir, "run_png");
    join(replay_png, sizeof replay_png, dir, "replay_png");
    join(out_dir, sizeof out_dir, dir, "run");
    join(log, sizeof log, out_dir, "episode.log");
    int rc = run_wmsim(&out, (const char *[]){"run", src_path(SCENARIO), "--policy", self_spec("good"), "--out",
                                              out_dir, "--png", run_png, "--reasoning", "--quiet", NULL});
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    rc = run_wmsim(&out, (const char *[]){"replay", log, "--png", replay_png, "--reasoning", NULL});
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    image first, later, replayed;
    wm_error err;
    char path[4300];
    snprintf(path, sizeof path, "%s/frame_00000.png", run_png);
    ck_assert_msg(image_read_png(path, &first, &err) == 0, "%s", err.msg);
    snprintf(path, sizeof path, "%s/frame_00005.png", run_png);
    ck_assert_msg(image_read_png(path, &later, &err) == 0, "%s", err.msg);
    snprintf(path, sizeof path, "%s/frame_00005.png", replay_png);
    ck_assert_msg(image_read_png(path, &replayed, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(first.width, 128);
    ck_assert_int_eq(first.height, 64 + 10);
    /* The band: uniform under the first frame, text under later ones. */
    int distinct_first = 0, distinct_later = 0;
    for (int y = 64; y < 74; y++)
        for (int x = 0; x < 128; x++) {
            size_t i = 3 * ((size_t)y * 128 + x);
            distinct_first += memcmp(first.rgb + i, first.rgb + 3 * (size_t)64 * 128, 3) != 0;
            distinct_later += memcmp(later.rgb + i, later.rgb + 3 * (size_t)64 * 128, 3) != 0;
        }
    ck_assert_int_eq(distinct_first, 0);
    ck_assert_int_gt(distinct_later, 20);
    ck_assert(memcmp(later.rgb, replayed.rgb, (size_t)128 * 74 * 3) == 0);
    image_free(&first), image_free(&later), image_free(&replayed);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* A policy outside wmsim can drive training clips: it gets the oracle's frames. */
START_TEST(external_policy_drives_training_clips) {
    char *dir = test_tmpdir(), *out, clip[4300];
    int rc = run_wmsim(&out, (const char *[]){"clips", "generate", "--scenarios", src_path(SCENARIO), "--policy",
                                              self_spec("good"), "--seconds", "2", "--out", dir, NULL});
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    join(clip, sizeof clip, dir, "cut_in/v0000");
    rc = run_wmsim(&out, (const char *[]){"clips", "check", clip, NULL});
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    char meta[4400];
    join(meta, sizeof meta, clip, "meta.json");
    size_t len;
    char *text = (char *)test_read_file(meta, &len);
    ck_assert_msg(strstr(text, "\"policy\": \"exec:") != NULL, "%s", text);
    free(text);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* One failed episode does not spoil the next: the process that crashed in
 * episode 1 is started again for episode 2, which runs to its end. */
START_TEST(batch_goes_on_after_a_crash) {
    scenario sc;
    wm_error err;
    ck_assert_msg(scenario_load(src_path(SCENARIO), &sc, &err) == 0, "%s", err.msg);
    policy pol;
    ck_assert_msg(policy_create(self_spec("crashonce@2"), NULL, &pol, &err) == 0, "%s", err.msg);
    camera_feed_options fo = camera_feed_options_default();
    fo.cp = sc.camera;
    camera_feed *feed;
    ck_assert_msg(camera_feed_open(&feed, &fo, &err) == 0, "%s", err.msg);
    episode_result res;
    episode_config cfg = {.sc = &sc, .seed = 1, .pol = &pol, .feed = feed};
    ck_assert_msg(episode_run(&cfg, &res, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(res.end_reason, "policy error");
    ck_assert_int_eq(res.steps, 2);
    cfg.seed = 2;
    ck_assert_msg(episode_run(&cfg, &res, &err) == 0, "%s", err.msg);
    ck_assert_str_ne(res.end_reason, "policy error");
    ck_assert_int_gt(res.steps, 50);
    camera_feed_close(feed);
    pol.destroy(&pol);
    scenario_free(&sc);
}
END_TEST

/* A policy that sees frames refuses to run without a camera feed. */
START_TEST(frames_policy_needs_a_feed) {
    scenario sc;
    wm_error err;
    ck_assert_msg(scenario_load(src_path(SCENARIO), &sc, &err) == 0, "%s", err.msg);
    policy pol;
    ck_assert_msg(policy_create(self_spec("good"), NULL, &pol, &err) == 0, "%s", err.msg);
    episode_result res;
    episode_config cfg = {.sc = &sc, .seed = 1, .pol = &pol};
    ck_assert_int_eq(episode_run(&cfg, &res, &err), -1);
    char want[4400];
    snprintf(want, sizeof want, "episode: policy %s sees camera frames, but no camera feed was given", pol.name);
    ck_assert_str_eq(err.msg, want);
    pol.destroy(&pol);
    scenario_free(&sc);
}
END_TEST

/* ------------------------------------------------------------ unix sockets */

/* A policy server in a child process: listens at path, serves connections
 * one after another like the exec policy. */
static pid_t start_server(const char *path, const char *mode, int at) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    ck_assert(strlen(path) < sizeof addr.sun_path);
    strcpy(addr.sun_path, path);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    ck_assert_int_eq(listen(fd, 4), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        for (;;) {
            int c = accept(fd, NULL, NULL);
            if (c < 0) _exit(6);
            serve_policy(c, c, mode, at);
            close(c);
        }
    }
    close(fd);
    return pid;
}

START_TEST(unix_policy_server) {
    char *dir = test_tmpdir();
    char sock[4200], spec[4300];
    join(sock, sizeof sock, dir, "policy.sock");
    snprintf(spec, sizeof spec, "unix:%s", sock);
    pid_t server = start_server(sock, "good", -1);
    run_outcome r = run_policy(dir, spec, NULL, NULL);
    ck_assert_str_ne(json_string_value(json_object_get(r.root, "end_reason")), "policy error");
    ck_assert_msg(strstr(r.log_show, "saw cut_in/") != NULL, "%s", r.log_show);
    outcome_free(&r);
    kill(server, SIGKILL);
    waitpid(server, NULL, 0);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(unix_policy_errors) {
    char *dir = test_tmpdir();
    char sock[4200], spec[4300], reason[4400];
    join(sock, sizeof sock, dir, "policy.sock");
    snprintf(spec, sizeof spec, "unix:%s", sock);
    /* Nobody listening. */
    char *out;
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"run", src_path(SCENARIO), "--policy", spec, "--quiet", NULL}), 1);
    snprintf(reason, sizeof reason, "wmsim: policy %s: cannot connect: No such file or directory", spec);
    ck_assert_msg(strstr(out, reason) != NULL, "%s", out);
    free(out);
    /* A server that hangs up mid-episode. */
    pid_t server = start_server(sock, "hangup", 3);
    run_outcome r = run_policy(dir, spec, NULL, NULL);
    snprintf(reason, sizeof reason, "policy %s closed the connection before answering step 3", spec);
    expect_policy_failure(&r, 3, reason);
    outcome_free(&r);
    kill(server, SIGKILL);
    waitpid(server, NULL, 0);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* -------------------------------------------------- the shipped example clients */

START_TEST(python_example_policy) {
    char *dir = test_tmpdir();
    char pypath[4200], spec[4300];
    snprintf(pypath, sizeof pypath, "%s/python", WMSIM_BUILD_DIR);
    setenv("PYTHONPATH", pypath, 1);
    snprintf(spec, sizeof spec, "exec:%s -m wmsim_policy.example --target-speed 6", WMSIM_PYTHON);
    run_outcome r = run_policy(dir, spec, NULL, NULL);
    ck_assert_msg(strcmp(json_string_value(json_object_get(r.root, "end_reason")), "policy error") != 0, "%s",
                  json_dumps(r.root, 0));
    ck_assert_int_gt(json_integer_value(json_object_get(r.root, "steps")), 50);
    ck_assert_msg(strstr(r.log_show, "holding") != NULL, "%s", r.log_show);
    outcome_free(&r);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* The Python package's Unix-socket server, started on its own, then driven by wmsim. */
START_TEST(python_policy_server) {
    char *dir = test_tmpdir();
    char sock[4200], spec[4300], pypath[4200];
    join(sock, sizeof sock, dir, "py.sock");
    snprintf(spec, sizeof spec, "unix:%s", sock);
    snprintf(pypath, sizeof pypath, "%s/python", WMSIM_BUILD_DIR);
    setenv("PYTHONPATH", pypath, 1);
    pid_t server = fork();
    ck_assert_int_ge(server, 0);
    if (server == 0) {
        execl(WMSIM_PYTHON, WMSIM_PYTHON, "-m", "wmsim_policy.example", "--unix", sock, (char *)NULL);
        _exit(127);
    }
    /* Up to 10 s for the interpreter to start and listen. */
    for (int i = 0; i < 200 && access(sock, F_OK) != 0; i++) nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    ck_assert_msg(access(sock, F_OK) == 0, "the Python server did not create %s", sock);
    run_outcome r = run_policy(dir, spec, NULL, NULL);
    ck_assert_str_ne(json_string_value(json_object_get(r.root, "end_reason")), "policy error");
    ck_assert_int_gt(json_integer_value(json_object_get(r.root, "steps")), 50);
    ck_assert_msg(strstr(r.log_show, "holding") != NULL, "%s", r.log_show);
    outcome_free(&r);
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(c_library_example_policy) {
    char *dir = test_tmpdir();
    char spec[4300];
    snprintf(spec, sizeof spec, "lib:%s/clients/libexample_policy.so target=6", WMSIM_BUILD_DIR);
    run_outcome r = run_policy(dir, spec, NULL, NULL);
    ck_assert_msg(strcmp(json_string_value(json_object_get(r.root, "end_reason")), "policy error") != 0, "%s",
                  json_dumps(r.root, 0));
    ck_assert_int_gt(json_integer_value(json_object_get(r.root, "steps")), 50);
    ck_assert_msg(strstr(r.log_show, "holding") != NULL, "%s", r.log_show);
    outcome_free(&r);
    /* Its create's error comes back whole. */
    char *out;
    snprintf(spec, sizeof spec, "lib:%s/clients/libexample_policy.so target=abc", WMSIM_BUILD_DIR);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"run", src_path(SCENARIO), "--policy", spec, "--quiet", NULL}), 1);
    char want[4400];
    snprintf(want, sizeof want, "wmsim: policy %s: create failed: example_policy: target: not a number: 'abc'", spec);
    ck_assert_msg(strstr(out, want) != NULL, "%s", out);
    free(out);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* A library policy's errors end the episode like a process's, with the reason. */
START_TEST(misbehaving_library_policy) {
    const char *cases[][2] = {
        {"fail@2", "step 2 failed: lost the lane markings"},
        {"plan@3", "step 3 returned n_trajectory 40 outside [0, 32]"},
        {"nan@1", "step 1 returned waypoint 1 not finite"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *dir = test_tmpdir(), spec[4300], reason[4600];
        snprintf(spec, sizeof spec, "lib:%s/tests/libbad_policy.so %s", WMSIM_BUILD_DIR, cases[i][0]);
        snprintf(reason, sizeof reason, "policy %s: %s", spec, cases[i][1]);
        run_outcome r = run_policy(dir, spec, NULL, NULL);
        expect_policy_failure(&r, atoi(strchr(cases[i][0], '@') + 1), reason);
        outcome_free(&r);
        test_remove_tree(dir);
        free(dir);
    }
}
END_TEST

START_TEST(library_that_cannot_load) {
    char *out;
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"run", src_path(SCENARIO), "--policy", "lib:/nonexistent/p.so",
                                                      "--quiet", NULL}),
                     1);
    ck_assert_msg(strstr(out, "wmsim: policy lib:/nonexistent/p.so: cannot load: /nonexistent/p.so: cannot open shared "
                              "object file: No such file or directory") != NULL, "%s", out);
    free(out);
}
END_TEST


/* ------------------------------------------------------- the generative loop */

/* A tiny world model made with the real CLI: a 32x16 tokenizer and a
 * one-layer dynamics model with scene slots, trained a few steps. */
static char *wm_dir, wm_clips[4200], wm_tok[4200], wm_shards[4200], wm_dyn[4200];

static void make_world_model(void) {
    wm_dir = test_tmpdir();
    make_tiny_world_model(wm_dir, wm_clips, wm_tok, wm_shards, wm_dyn);
}

static void free_world_model(void) {
    test_remove_tree(wm_dir);
    free(wm_dir);
}

/* `wmsim run SCENARIO --frames worldmodel` with the tiny model, the policy,
 * the seed and up to two more arguments, into dir/name/. */
static int run_generative(char **out, const char *dir, const char *name, const char *spec, const char *seed,
                          const char *extra1, const char *extra2) {
    static char out_dir[4200];
    join(out_dir, sizeof out_dir, dir, name);
    const char *args[24] = {"run", src_path("scenarios/examples/guard_stop_proceed.pbtxt"), "--frames", "worldmodel",
                            "--model", wm_dyn, "--tokenizer", wm_tok, "--policy", spec, "--seed", seed,
                            "--out", out_dir, "--quiet"};
    int n = 15;
    if (extra1) args[n++] = extra1;
    if (extra2) args[n++] = extra2;
    args[n] = NULL;
    return run_wmsim(out, args);
}

/* The same seed gives the same generated video and log, byte for byte; the
 * policy sees the world model's frames (the tokenizer's 32x16). */
START_TEST(generative_run_is_deterministic) {
    char *dir = test_tmpdir(), *out;
    char va[4200], vb[4200], vc[4200], la[4300], lb[4300];
    join(va, sizeof va, dir, "a.mkv");
    join(vb, sizeof vb, dir, "b.mkv");
    join(vc, sizeof vc, dir, "c.mkv");
    const char *spec = self_spec("good");
    int rc = run_generative(&out, dir, "a", spec, "3", "--video", va);
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    rc = run_generative(&out, dir, "b", spec, "3", "--video", vb);
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    rc = run_generative(&out, dir, "c", spec, "4", "--video", vc);
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    join(la, sizeof la, dir, "a/episode.log");
    join(lb, sizeof lb, dir, "b/episode.log");
    ck_assert(test_files_equal(va, vb));
    ck_assert(test_files_equal(la, lb));
    ck_assert(!test_files_equal(va, vc)); /* sampling at temperature 1 follows the episode seed */
    char *show;
    ck_assert_int_eq(run_wmsim(&show, (const char *[]){"log", "show", la, NULL}), 0);
    ck_assert_msg(strstr(show, "32x16 frame, limits") != NULL, "%s", show);
    free(show);
    /* Side by side: oracle and world model, each at the tokenizer's size. */
    char vs[4200];
    join(vs, sizeof vs, dir, "s.mp4");
    rc = run_generative(&out, dir, "s", "expert", "3", "--video", vs);
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    rc = run_generative(&out, dir, "s", "expert", "3", "--side-by-side", "--video");
    ck_assert_int_eq(rc, 2); /* --video lacks its value */
    free(out);
    char *args_out;
    const char *sbs[] = {"run", src_path("scenarios/examples/guard_stop_proceed.pbtxt"), "--frames", "worldmodel",
                         "--model", wm_dyn, "--tokenizer", wm_tok, "--side-by-side", "--video", vs, "--out", dir,
                         "--quiet", NULL};
    ck_assert_int_eq(run_wmsim(&args_out, sbs), 0);
    free(args_out);
    video_reader *vr;
    wm_error err;
    ck_assert_msg(video_reader_open(&vr, vs, &err) == 0, "%s", err.msg);
    image frame = {0};
    ck_assert_int_eq(video_reader_next(vr, &frame, &err), 1);
    ck_assert_int_eq(frame.width, 64);
    ck_assert_int_eq(frame.height, 16);
    image_free(&frame);
    video_reader_close(vr);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(generative_run_errors) {
    char *out;
    const char *scen = src_path("scenarios/examples/cut_in.pbtxt");
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"run", scen, "--frames", "dreams", NULL}), 2);
    ck_assert_msg(strstr(out, "wmsim: --frames: expected oracle or worldmodel, got 'dreams'") != NULL, "%s", out);
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"run", scen, "--side-by-side", NULL}), 2);
    ck_assert_msg(strstr(out, "wmsim: run: --side-by-side needs --frames worldmodel") != NULL, "%s", out);
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"run", scen, "--frames", "worldmodel", "--model",
                                                      "/nonexistent/d.wmck", "--quiet", NULL}),
                     1);
    ck_assert_msg(strstr(out, "wmsim: camera_feed: /nonexistent/d.wmck: cannot open: No such file or directory") != NULL,
                  "%s", out);
    free(out);
}
END_TEST

static Suite *closed_loop_suite(void) {
    Suite *s = suite_create("closed_loop");
    TCase *tc = tcase_create("exec");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, exec_policy_drives_a_whole_episode);
    tcase_add_test(tc, crashing_policy);
    tcase_add_test(tc, hanging_policy_times_out);
    tcase_add_test(tc, policy_that_exits_early);
    tcase_add_test(tc, policy_that_closes_its_output);
    tcase_add_test(tc, policy_sending_garbage);
    tcase_add_test(tc, policy_announcing_a_gigabyte);
    tcase_add_test(tc, policy_answering_the_wrong_step);
    tcase_add_test(tc, policy_leaving_out_steer);
    tcase_add_test(tc, policy_planning_too_far);
    tcase_add_test(tc, policy_answering_out_of_range);
    tcase_add_test(tc, bad_policy_options);
    tcase_add_test(tc, batch_goes_on_after_a_crash);
    tcase_add_test(tc, frames_policy_needs_a_feed);
    tcase_add_test(tc, reasoning_caption_in_run_and_replay);
    tcase_add_test(tc, external_policy_drives_training_clips);
    suite_add_tcase(s, tc);
    /* Under valgrind, posix_spawn runs as a plain fork, so an exec that
     * fails in the child is not reported to the parent: make test-valgrind
     * leaves "spawn" out. */
    TCase *ts = tcase_create("exec spawn");
    tcase_set_tags(ts, "spawn");
    tcase_add_test(ts, policy_that_cannot_start);
    suite_add_tcase(s, ts);
    TCase *tu = tcase_create("unix");
    tcase_set_timeout(tu, 120);
    tcase_add_test(tu, unix_policy_server);
    tcase_add_test(tu, unix_policy_errors);
    suite_add_tcase(s, tu);
    TCase *tk = tcase_create("clients");
    tcase_set_timeout(tk, 120);
    tcase_add_test(tk, python_example_policy);
    tcase_add_test(tk, python_policy_server);
    tcase_add_test(tk, c_library_example_policy);
    tcase_add_test(tk, library_that_cannot_load);
    tcase_add_test(tk, misbehaving_library_policy);
    suite_add_tcase(s, tk);
    TCase *tw = tcase_create("worldmodel");
    tcase_set_tags(tw, "heavy"); /* a world model trained here: make test-valgrind skips it */
    tcase_set_timeout(tw, 300);
    tcase_add_unchecked_fixture(tw, make_world_model, free_world_model);
    tcase_add_test(tw, generative_run_is_deterministic);
    tcase_add_test(tw, generative_run_errors);
    suite_add_tcase(s, tw);
    return s;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--as-policy") == 0) return as_policy(argv[2]);
    return run_suite(closed_loop_suite());
}
