/* Synthetic clip generation: scenario variations, the explore wrapper, and
 * `wmsim clips generate` end to end — determinism across job counts, and
 * resuming after the process is killed mid-way. */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include "core/fileio.h"
#include "datasets/clip.h"
#include "datasets/clip_reader.h"
#include "render/render.h"
#include "sim/clips.h"
#include "sim/episode.h"
#include "testutil.h"

static const char *EXAMPLES[] = {"cut_in", "guard_slow", "guard_stop_proceed", "guard_turn_left",
                                 "lane_closure_merge", "lead_hard_brake", "pedestrian_crossing", "stalled_vehicle"};

static scenario *load_example(const char *name) {
    char rel[128];
    snprintf(rel, sizeof rel, "scenarios/examples/%s.pbtxt", name);
    scenario *sc = CALLOC_CHECK(1, sizeof *sc);
    wm_error err;
    ck_assert_msg(scenario_load(src_path(rel), sc, &err) == 0, "%s", err.msg);
    return sc;
}

static episode_result run_expert(const scenario *sc, int explore) {
    policy pol;
    wm_error err;
    ck_assert_int_eq(policy_create("expert", NULL, &pol, &err), 0);
    if (explore) {
        policy inner = pol;
        policy_explore_wrap(&inner, 99, &pol);
    }
    episode_config cfg = {.sc = sc, .seed = sc->seed, .pol = &pol};
    episode_result res;
    ck_assert_int_eq(episode_run(&cfg, &res, &err), 0);
    pol.destroy(&pol);
    return res;
}

/* Variations stay the situation they vary: the expert passes every one. */
START_TEST(expert_passes_every_variation) {
    scenario *sc = load_example(EXAMPLES[_i]);
    int lighting_seen = 0;
    for (int v = 0; v < 4; v++) {
        scenario varied = *sc;
        scenario_vary(&varied, v);
        if (v == 0) ck_assert_int_eq(memcmp(&varied, sc, sizeof varied), 0);
        else ck_assert(varied.seed != sc->seed);
        lighting_seen |= 1 << varied.lighting;
        episode_result res = run_expert(&varied, 0);
        ck_assert_msg(res.m.passed, "%s variation %d: %s", sc->id, v, res.m.n_reasons ? res.m.reasons[0] : "");
    }
    (void)lighting_seen;
    scenario_free(sc);
    free(sc);
}
END_TEST

START_TEST(variations_are_seeded_and_differ) {
    scenario *sc = load_example("cut_in");
    scenario a = *sc, b = *sc, c = *sc;
    scenario_vary(&a, 3), scenario_vary(&b, 3), scenario_vary(&c, 4);
    ck_assert_int_eq(memcmp(&a, &b, sizeof a), 0);
    ck_assert(a.seed != c.seed);
    ck_assert(a.actors[0].u.vehicle.cruise_speed != c.actors[0].u.vehicle.cruise_speed);
    double f = a.actors[0].u.vehicle.cruise_speed / sc->actors[0].u.vehicle.cruise_speed;
    ck_assert(f >= 0.85 && f <= 1.15);
    scenario_free(sc);
    free(sc);
}
END_TEST

typedef struct {
    double min_accel_gap, brake_max_seen, steer_spread;
    int n;
    action prev;
} action_watch;

/* The explore wrapper moves the actions away from the expert's, stays within
 * the limits, and repeats itself for the same seed. */
START_TEST(explore_covers_more_of_the_action_space_within_limits) {
    scenario *sc = load_example("guard_slow");
    policy expert, wrapped, inner;
    wm_error err;
    ck_assert_int_eq(policy_create("expert", NULL, &expert, &err), 0);
    ck_assert_int_eq(policy_create("expert", NULL, &inner, &err), 0);
    policy_explore_wrap(&inner, 7, &wrapped);
    ck_assert_str_eq(wrapped.name, "expert+explore");
    sim_world *w = MALLOC_CHECK(sizeof *w);
    sim_world_init(w, sc, sc->seed);
    ck_assert_int_eq(expert.reset(&expert, w, &err), 0);
    ck_assert_int_eq(wrapped.reset(&wrapped, w, &err), 0);
    const action_limits *lim = &w->ego_params.limits;
    double steer_diff = 0, max_brake = 0;
    int differ = 0, n = 300;
    action first[300];
    for (int k = 0; k < n; k++) {
        policy_observation obs = {.world = w, .step = w->step, .t = w->t, .speed = w->ego.speed};
        action a, b;
        char why[POLICY_REASONING_MAX];
        ck_assert_int_eq(expert.act(&expert, &obs, &a, why, &err), 0);
        ck_assert_int_eq(wrapped.act(&wrapped, &obs, &b, why, &err), 0);
        ck_assert_msg(action_check(&b, lim, &err) == 0, "step %d: %s", k, err.msg);
        differ += memcmp(&a, &b, sizeof a) != 0;
        steer_diff += fabs(a.steer - b.steer);
        max_brake = fmax(max_brake, b.brake);
        first[k] = b;
        sim_step(w, &b);
    }
    ck_assert_int_gt(differ, n * 9 / 10);
    ck_assert_double_gt(steer_diff / n, 0.003);
    ck_assert_double_gt(max_brake, 0.45 * lim->brake_max); /* a hard brake happened in 30 s */
    /* Same seed, same world: the same actions. */
    sim_world_init(w, sc, sc->seed);
    ck_assert_int_eq(wrapped.reset(&wrapped, w, &err), 0);
    for (int k = 0; k < n; k++) {
        policy_observation obs = {.world = w, .step = w->step, .t = w->t, .speed = w->ego.speed};
        action b;
        char why[POLICY_REASONING_MAX];
        ck_assert_int_eq(wrapped.act(&wrapped, &obs, &b, why, &err), 0);
        ck_assert_int_eq(memcmp(&b, &first[k], sizeof b), 0);
        sim_step(w, &b);
    }
    free(w);
    expert.destroy(&expert);
    wrapped.destroy(&wrapped);
    scenario_free(sc);
    free(sc);
}
END_TEST

static int same_file(const char *a, const char *b) {
    uint8_t *da, *db;
    size_t la, lb;
    wm_error err;
    ck_assert_msg(file_read_all(a, 1 << 28, &da, &la, &err) == 0, "%s", err.msg);
    ck_assert_msg(file_read_all(b, 1 << 28, &db, &lb, &err) == 0, "%s", err.msg);
    int same = la == lb && memcmp(da, db, la) == 0;
    free(da), free(db);
    return same;
}

static const char *GEN_ARGS_TAIL[] = {"--variations", "2", "--seconds", "3", "--size", "64x32", "--explore", NULL};

static int generate(char **out, const char *dir, const char *jobs) {
    const char *args[32] = {"clips", "generate", "--scenarios", src_path("scenarios/examples/cut_in.pbtxt"),
                            src_path("scenarios/examples/guard_slow.pbtxt"), "--out", dir, "--jobs", jobs};
    int n = 9;
    for (int i = 0; GEN_ARGS_TAIL[i]; i++) args[n++] = GEN_ARGS_TAIL[i];
    args[n] = NULL;
    return run_wmsim(out, args);
}

START_TEST(generated_clips_check_and_do_not_depend_on_jobs) {
    char *dir = test_tmpdir(), *out;
    char one[4200], two[4200];
    snprintf(one, sizeof one, "%s/one", dir);
    snprintf(two, sizeof two, "%s/two", dir);
    ck_assert_int_eq(generate(&out, one, "1"), 0);
    char want[4400];
    snprintf(want, sizeof want, "4 clips in %s: 4 written", one);
    ck_assert_msg(strstr(out, want), "%s", out);
    free(out);
    ck_assert_int_eq(generate(&out, two, "2"), 0);
    free(out);
    const char *clips[] = {"cut_in/v0000", "cut_in/v0001", "guard_slow/v0000", "guard_slow/v0001"};
    const char *files[] = {CLIP_FILE_FRAMES, CLIP_FILE_STATES, CLIP_FILE_CAPTIONS, CLIP_FILE_META};
    for (int c = 0; c < 4; c++) {
        char a[4400], b[4400];
        snprintf(a, sizeof a, "%s/%s", one, clips[c]);
        wm_error err;
        ck_assert_msg(clip_check(a, &err) == 0, "%s", err.msg);
        for (int f = 0; f < 4; f++) {
            snprintf(a, sizeof a, "%s/%s/%s", one, clips[c], files[f]);
            snprintf(b, sizeof b, "%s/%s/%s", two, clips[c], files[f]);
            ck_assert_msg(same_file(a, b), "%s differs between --jobs 1 and --jobs 2", a);
        }
    }
    /* A second run keeps what is complete. */
    ck_assert_int_eq(generate(&out, one, "2"), 0);
    snprintf(want, sizeof want, "4 clips in %s: 0 written (0 frames", one);
    ck_assert_msg(strstr(out, want), "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "4 complete already and kept"));
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"clips", "check", one, NULL}), 0);
    snprintf(want, sizeof want, "%s: 4 clips ok\n", one);
    ck_assert_str_eq(out, want);
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"clips", "stats", one, NULL}), 0);
    snprintf(want, sizeof want, "%s: 4 clips, 124 frames, ", one); /* 2 x 2 clips of the start + 30 steps */
    ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "  cut_in                        2 clips        62 frames\n"));
    ck_assert_ptr_nonnull(strstr(out, "  SLOW "));
    free(out);
    free(dir);
}
END_TEST

static int count_complete(const char *root, const char *scenario_id, int n) {
    int complete = 0;
    for (int v = 0; v < n; v++) {
        char d[4400];
        snprintf(d, sizeof d, "%s/%s/v%04d", root, scenario_id, v);
        complete += clip_is_complete(d);
    }
    return complete;
}

/* A real SIGKILL in the middle of generation: only complete clips carry a
 * meta.json, they survive the rerun untouched, and the rerun finishes. */
START_TEST(generation_resumes_after_kill) {
    char *dir = test_tmpdir();
    char out_dir[4200];
    snprintf(out_dir, sizeof out_dir, "%s/clips", dir);
    const char *bin = getenv("WMSIM_BIN");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1), dup2(devnull, 2);
        execl(bin, bin, "clips", "generate", "--scenarios", src_path("scenarios/examples/guard_slow.pbtxt"), "--out",
              out_dir, "--variations", "12", "--seconds", "4", "--size", "64x32", "--quiet", (char *)NULL);
        _exit(127);
    }
    /* Wait for two complete clips, then kill without warning. */
    for (int tries = 0; tries < 600 && count_complete(out_dir, "guard_slow", 12) < 2; tries++)
        nanosleep(&(struct timespec){0, 20000000}, NULL);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    ck_assert(WIFSIGNALED(status));
    int before = count_complete(out_dir, "guard_slow", 12);
    ck_assert_int_ge(before, 2);
    ck_assert_int_lt(before, 12);
    char meta0[4400];
    snprintf(meta0, sizeof meta0, "%s/guard_slow/v0000/%s", out_dir, CLIP_FILE_META);
    struct stat st0, st1;
    ck_assert_int_eq(stat(meta0, &st0), 0);
    for (int v = 0; v < 12; v++) {
        char d[4400];
        snprintf(d, sizeof d, "%s/guard_slow/v%04d", out_dir, v);
        wm_error err;
        if (clip_is_complete(d)) ck_assert_msg(clip_check(d, &err) == 0, "%s", err.msg);
    }
    char *out;
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"clips", "generate", "--scenarios",
                                                      src_path("scenarios/examples/guard_slow.pbtxt"), "--out",
                                                      out_dir, "--variations", "12", "--seconds", "4", "--size",
                                                      "64x32", NULL}),
                     0);
    char want[4400];
    snprintf(want, sizeof want, "12 clips in %s: %d written", out_dir, 12 - before);
    ck_assert_msg(strstr(out, want), "%s", out);
    free(out);
    ck_assert_int_eq(count_complete(out_dir, "guard_slow", 12), 12);
    ck_assert_int_eq(stat(meta0, &st1), 0);
    ck_assert_int_eq(st0.st_mtim.tv_sec, st1.st_mtim.tv_sec);
    ck_assert_int_eq(st0.st_mtim.tv_nsec, st1.st_mtim.tv_nsec);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"clips", "check", out_dir, NULL}), 0);
    free(out);
    free(dir);
}
END_TEST

START_TEST(generate_option_errors) {
    char *out;
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"clips", "generate", "--scenarios", "/no/such.pbtxt", "--out",
                                                      "/tmp/x", NULL}),
                     1);
    ck_assert_str_eq(out, "wmsim: /no/such.pbtxt: No such file or directory\n");
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"clips", "generate", "--scenarios",
                                                      src_path("scenarios/examples/cut_in.pbtxt"), "--out", "/tmp/x",
                                                      "--jobs", "0", NULL}),
                     1);
    ck_assert_str_eq(out, "wmsim: clips generate: --jobs 0 outside [1, 256]\n");
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"clips", "generate", "--scenarios",
                                                      src_path("scenarios/examples/cut_in.pbtxt"), NULL}),
                     2);
    ck_assert_ptr_nonnull(strstr(out, "wmsim: clips generate: missing --out\n"));
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"clips", "generate", "--scenarios",
                                                      src_path("scenarios/examples/cut_in.pbtxt"),
                                                      src_path("scenarios/examples/cut_in.pbtxt"), "--out", "/tmp/x",
                                                      NULL}),
                     1);
    ck_assert_ptr_nonnull(strstr(out, "share the scenario id 'cut_in'"));
    free(out);
}
END_TEST

/* The episode of clip variation v rendered directly: frames and the command
 * after each frame, as generation should have stored them. */
typedef struct {
    renderer r;
    uint8_t *frames; /* (n, H, W, 3) */
    action *after;   /* (n) */
    int n, cap;
} direct_render;

static int direct_observe(const episode_frame *f, void *ctx) {
    direct_render *d = ctx;
    if (f->command) d->after[d->n - 1] = *f->command;
    ck_assert_int_lt(d->n, d->cap);
    render_frame(&d->r, f->w);
    size_t sz = (size_t)d->r.frame.width * d->r.frame.height * 3;
    memcpy(d->frames + sz * d->n, d->r.frame.rgb, sz);
    d->n++;
    return 0;
}

START_TEST(clips_read_back_through_the_training_reader_match_a_direct_render) {
    char *dir = test_tmpdir();
    const char *path = src_path("scenarios/examples/pedestrian_crossing.pbtxt");
    clips_config cfg = {.scenarios = &path, .n_scenarios = 1, .variations = 3, .policy = "expert", .explore = 1,
                        .out_dir = dir, .width = 64, .height = 32, .seconds = 2.5, .jobs = 2};
    clips_report rep;
    wm_error err;
    ck_assert_msg(clips_generate(&cfg, &rep, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(rep.written, 3);
    int ok = 0;
    ck_assert_msg(clip_check_tree(dir, &ok, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ok, 3);

    /* Direct renders of the three variations, as clips_generate drives them. */
    scenario *sc = load_example("pedestrian_crossing");
    direct_render d[3];
    for (int v = 0; v < 3; v++) {
        scenario varied = *sc;
        scenario_vary(&varied, v);
        varied.duration = fmin(varied.duration, 2.5);
        varied.camera.width = 64, varied.camera.height = 32;
        memset(&d[v], 0, sizeof d[v]);
        ck_assert_int_eq(renderer_init(&d[v].r, &varied.camera, 1, &err), 0);
        d[v].cap = 64;
        d[v].frames = MALLOC_CHECK((size_t)d[v].cap * 64 * 32 * 3);
        d[v].after = CALLOC_CHECK((size_t)d[v].cap, sizeof(action));
        policy pol, inner;
        ck_assert_int_eq(policy_create("expert", NULL, &inner, &err), 0);
        policy_explore_wrap(&inner, varied.seed ^ 0x6578706c6f7265ULL, &pol);
        episode_config ec = {.sc = &varied, .seed = varied.seed, .pol = &pol, .observe = direct_observe,
                             .observe_ctx = &d[v]};
        episode_result res;
        ck_assert_int_eq(episode_run(&ec, &res, &err), 0);
        pol.destroy(&pol);
        ck_assert_int_eq(d[v].n, 26); /* the start and 25 steps */
    }

    clip_reader_config rc = clip_reader_config_default();
    rc.root = dir, rc.context = 4, rc.horizon = 2, rc.stride = 5, rc.val_fraction = 0, rc.seed = 5;
    clip_reader *r;
    ck_assert_msg(clip_reader_open(&r, &rc, &err) == 0, "%s", err.msg);
    const clip_window *w;
    int windows = 0, got;
    size_t sz = 64 * 32 * 3;
    while ((got = clip_reader_next(r, &w, &err)) == 1) {
        int v = -1;
        ck_assert_int_eq(sscanf(w->clip, "pedestrian_crossing/v%d", &v), 1);
        for (int j = 0; j < w->n; j++) {
            int frame = w->start + j;
            ck_assert_msg(memcmp(w->frames + sz * j, d[v].frames + sz * frame, sz) == 0, "%s frame %d pixels",
                          w->clip, frame);
            if (j < w->n - 1 || w->last_has_action)
                ck_assert_msg(memcmp(&w->actions[j], &d[v].after[frame], sizeof(action)) == 0, "%s frame %d action",
                              w->clip, frame);
        }
        windows++;
    }
    ck_assert_msg(got == 0, "%s", err.msg);
    ck_assert_int_eq(windows, 3 * ((26 - 6) / 5 + 1));
    clip_reader_close(r);
    for (int v = 0; v < 3; v++) renderer_free(&d[v].r), free(d[v].frames), free(d[v].after);
    scenario_free(sc);
    free(sc);
    free(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("generate");
    TCase *tc = tcase_create("generate");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, expert_passes_every_variation, 0, 8);
    tcase_add_test(tc, variations_are_seeded_and_differ);
    tcase_add_test(tc, explore_covers_more_of_the_action_space_within_limits);
    tcase_add_test(tc, generated_clips_check_and_do_not_depend_on_jobs);
    tcase_add_test(tc, generation_resumes_after_kill);
    tcase_add_test(tc, generate_option_errors);
    tcase_add_test(tc, clips_read_back_through_the_training_reader_match_a_direct_render);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
