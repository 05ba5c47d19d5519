/* The camera feed (sim/camera_feed.h) in both modes, on the shipped models
 * (models/dynamics.wmck: 3-frame windows, so W = 2 context frames, 4 scene
 * slots; models/tokenizer.wmck: 128x64 frames, 16x8 tokens of 1024 codes)
 * and on tiny random models saved by the tests for the shapes the shipped
 * ones lack. Checked: oracle frames are render_frame's bytes; world-model
 * frames are the tokenizer's round trip of the render for the first W
 * steps and generated after, conditioned exactly as the training windows;
 * seeded determinism (runs, resets, OpenMP thread counts); the scene slots
 * carry a guard's gesture change, and a change of the slots alone changes
 * a generated frame while a change of the world that the slots do not see
 * does not; every error message exactly; the image <-> float helpers. */
#include <math.h>
#include <omp.h>

#include "datasets/token_shards.h"
#include "datasets/window_source.h"
#include "render/render.h"
#include "sim/camera_feed.h"
#include "testutil.h"
#include "worldmodel/tokenizer.h"

#define SHIPPED_MODEL "models/dynamics.wmck"
#define SHIPPED_TOKENIZER "models/tokenizer.wmck"
#define W_CTX 2 /* the shipped model's context frames, F-1 */

/* A guard 22 m ahead of the ego's front, in view, showing STOP until
 * t = 0.35 s and PROCEED after: the gesture changes between steps 3 and 4. */
static const char GUARD_SCENARIO[] =
    "id: \"feed_guard\"\n"
    "seed: 4\n"
    "duration_s: 10\n"
    "lighting: LIGHTING_DAY\n"
    "instruction: \"Obey the traffic guard.\"\n"
    "road {\n"
    "  segments { length_m: 200 }\n"
    "  lanes { direction: LANE_DIRECTION_FORWARD left_marking: LANE_MARKING_DOUBLE_SOLID }\n"
    "  lanes { direction: LANE_DIRECTION_ONCOMING left_marking: LANE_MARKING_SOLID }\n"
    "  speed_limit_mps: 13.9\n"
    "}\n"
    "ego { lane: 0 s_m: 10 speed_mps: 8 goal_s_m: 180 }\n"
    "actors {\n"
    "  id: \"guard\"\n"
    "  guard {\n"
    "    s_m: 34\n"
    "    d_m: -0.4\n"
    "    timeline { gesture: GESTURE_STOP start_s: 0 duration_s: 0.35 }\n"
    "    timeline { gesture: GESTURE_PROCEED start_s: 0.35 }\n"
    "  }\n"
    "}\n";

/* ---- fixtures ------------------------------------------------------------- */

static char *tmp_dir; /* each test's own (a checked fixture) */

static void make_tmp(void) { tmp_dir = test_tmpdir(); }

static void free_tmp(void) {
    test_remove_tree(tmp_dir);
    free(tmp_dir);
}

/* The guard scenario, loaded from a file in tmp_dir. */
static void load_guard_scenario(scenario *sc) {
    char path[4200];
    join(path, sizeof path, tmp_dir, "feed_guard.pbtxt");
    write_text_file(path, GUARD_SCENARIO);
    wm_error err;
    ck_assert_msg(scenario_load(path, sc, &err) == 0, "%s", err.msg);
}

static void load_example(const char *name, scenario *sc) {
    char rel[256];
    snprintf(rel, sizeof rel, "scenarios/examples/%s", name);
    wm_error err;
    ck_assert_msg(scenario_load(src_path(rel), sc, &err) == 0, "%s", err.msg);
}

/* Options of a world-model feed on the shipped models. */
static camera_feed_options shipped_options(const scenario *sc, float temperature) {
    camera_feed_options o = camera_feed_options_default();
    o.kind = CAMERA_FEED_WORLDMODEL;
    o.cp = sc->camera;
    o.model_path = src_path(SHIPPED_MODEL);
    o.tokenizer_path = src_path(SHIPPED_TOKENIZER);
    o.rp.temperature = temperature;
    return o;
}

static camera_feed *open_ok(const camera_feed_options *o) {
    camera_feed *cf;
    wm_error err;
    ck_assert_msg(camera_feed_open(&cf, o, &err) == 0, "%s", err.msg);
    return cf;
}

/* Expects camera_feed_open to fail with exactly msg, leaving *out NULL. */
static void open_fails(const camera_feed_options *o, const char *msg) {
    camera_feed *cf = (camera_feed *)&cf; /* anything but NULL */
    wm_error err;
    ck_assert_int_eq(camera_feed_open(&cf, o, &err), -1);
    ck_assert_ptr_null(cf);
    ck_assert_str_eq(err.msg, msg);
}

/* A random dynamics model of config c saved at tmp_dir/name; its path. */
static const char *save_tiny_model(const char *name, dynamics_config c) {
    static char paths[4][4200];
    static int next;
    char *path = paths[next++ % 4];
    join(path, 4200, tmp_dir, name);
    dynamics_model dm;
    wm_error err;
    ck_assert_msg(dynamics_init(&dm, &c, 1, 11, &err) == 0, "%s", err.msg);
    ck_assert_msg(dynamics_save(&dm, path, NULL, &err) == 0, "%s", err.msg);
    dynamics_free(&dm);
    return path;
}

/* The shipped model's shape (V 1024, P 128, S 8, A 4) at 1 layer of 16. */
static dynamics_config tiny_config(int frames, int slots) {
    dynamics_config c = dynamics_config_default();
    c.frames = frames, c.slots = slots, c.layers = 1, c.channels = 16, c.heads = 2;
    return c;
}

static int images_equal(const image *a, const image *b) {
    return a->width == b->width && a->height == b->height &&
           memcmp(a->rgb, b->rgb, (size_t)a->width * a->height * 3) == 0;
}

/* The command of step i of the tests' drives: gentle throttle, some steer,
 * varying so that the action features differ from step to step. */
static action drive(int i) { return (action){0.4 + 0.1 * (i % 3), 0.0, 0.01 * (i % 2)}; }

/* Runs feed cf over n steps of sc's world from seed (reset with
 * feed_seed), copying each frame into frames[i] (allocated here). */
static void run_feed(camera_feed *cf, const scenario *sc, uint64_t feed_seed, int n, image *frames) {
    sim_world *w = MALLOC_CHECK(sizeof *w);
    sim_world_init(w, sc, sc->seed);
    wm_error err;
    ck_assert_msg(camera_feed_reset(cf, feed_seed, &err) == 0, "%s", err.msg);
    action cmd;
    for (int i = 0; i < n; i++) {
        if (i) cmd = drive(i - 1), sim_step(w, &cmd);
        const image *f;
        ck_assert_msg(camera_feed_frame(cf, w, i ? &cmd : NULL, &f, &err) == 0, "%s", err.msg);
        image_init(&frames[i], f->width, f->height);
        memcpy(frames[i].rgb, f->rgb, (size_t)f->width * f->height * 3);
    }
    free(w);
}

static void free_frames(image *frames, int n) {
    for (int i = 0; i < n; i++) image_free(&frames[i]);
}

/* ---- names and the image helpers ----------------------------------------- */

START_TEST(kind_names) {
    camera_feed_kind k = CAMERA_FEED_ORACLE;
    ck_assert_int_eq(camera_feed_kind_parse("worldmodel", &k), 0);
    ck_assert_int_eq(k, CAMERA_FEED_WORLDMODEL);
    ck_assert_int_eq(camera_feed_kind_parse("oracle", &k), 0);
    ck_assert_int_eq(k, CAMERA_FEED_ORACLE);
    const char *bad[] = {"Oracle", "", "generative", "world model", "oracle "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        k = CAMERA_FEED_WORLDMODEL;
        ck_assert_int_eq(camera_feed_kind_parse(bad[i], &k), -1);
        ck_assert_int_eq(k, CAMERA_FEED_WORLDMODEL); /* untouched */
    }
    ck_assert_str_eq(camera_feed_kind_name(CAMERA_FEED_ORACLE), "oracle");
    ck_assert_str_eq(camera_feed_kind_name(CAMERA_FEED_WORLDMODEL), "worldmodel");
    camera_feed_options o = camera_feed_options_default();
    ck_assert_int_eq(o.kind, CAMERA_FEED_ORACLE);
    ck_assert_int_eq(o.supersample, 1);
    ck_assert_int_eq(o.scene_slots, -1);
    ck_assert_ptr_null(o.model_path);
    ck_assert_ptr_null(o.tokenizer_path);
    ck_assert_int_eq(o.rp.mode, ROLLOUT_PARALLEL);
}
END_TEST

/* Every byte survives the trip to floats and back; floats are byte / 255,
 * planar; out-of-range floats clamp. */
START_TEST(image_float_helpers) {
    image a, b;
    image_init(&a, 16, 16), image_init(&b, 16, 16);
    for (int i = 0; i < 16 * 16 * 3; i++) a.rgb[i] = (uint8_t)(i * 7 + i / 3);
    float *x = MALLOC_CHECK((size_t)3 * 16 * 16 * sizeof *x);
    image_to_floats(&a, x);
    for (int p = 0; p < 16 * 16; p++)
        for (int c = 0; c < 3; c++) ck_assert_float_eq(x[c * 256 + p], a.rgb[3 * p + c] / 255.0f);
    image_from_floats(x, &b);
    ck_assert(images_equal(&a, &b));
    x[0] = -0.5f, x[1] = 1.5f, x[3] = 0.5f / 255.0f + 1e-4f;
    image_from_floats(x, &b);
    ck_assert_int_eq(b.rgb[0], 0);
    ck_assert_int_eq(b.rgb[3], 255);
    ck_assert_int_eq(b.rgb[9], 1); /* 0.5004 rounds up */
    free(x);
    image_free(&a), image_free(&b);
}
END_TEST

/* ---- oracle --------------------------------------------------------------- */

/* Oracle frames are render_frame's pixels at the options' size and
 * supersampling, handed out as the oracle frame too; nothing generated. */
START_TEST(oracle_frames_are_the_renders) {
    scenario sc;
    load_example("cut_in.pbtxt", &sc);
    camera_feed_options o = camera_feed_options_default();
    o.cp = sc.camera;
    o.cp.width = 96, o.cp.height = 48;
    o.supersample = 2;
    camera_feed *cf = open_ok(&o);
    ck_assert_int_eq(camera_feed_camera(cf)->width, 96);
    wm_error err;
    renderer r;
    ck_assert_msg(renderer_init(&r, &o.cp, 2, &err) == 0, "%s", err.msg);
    sim_world *w = MALLOC_CHECK(sizeof *w);
    for (int episode = 0; episode < 2; episode++) {
        sim_world_init(w, &sc, sc.seed + (uint64_t)episode);
        ck_assert_int_eq(camera_feed_reset(cf, 1, &err), 0);
        ck_assert_ptr_null(camera_feed_oracle_frame(cf));
        action cmd;
        for (int i = 0; i < 6; i++) {
            if (i) cmd = drive(i), sim_step(w, &cmd);
            const image *f;
            ck_assert_msg(camera_feed_frame(cf, w, i ? &cmd : NULL, &f, &err) == 0, "%s", err.msg);
            render_frame(&r, w);
            ck_assert_int_eq(f->width, 96);
            ck_assert_int_eq(f->height, 48);
            ck_assert_msg(images_equal(f, &r.frame), "episode %d step %d: not render_frame's pixels", episode, i);
            ck_assert_ptr_eq(camera_feed_oracle_frame(cf), f);
            ck_assert_int_eq(camera_feed_generated(cf), 0);
            ck_assert_int_eq(camera_feed_steps(cf), i + 1);
            int P = -1, A = -1, K = -1, S = -1;
            ck_assert_ptr_null(camera_feed_last_tokens(cf, &P));
            ck_assert_ptr_null(camera_feed_last_actions(cf, &A));
            ck_assert_ptr_null(camera_feed_last_slots(cf, &K, &S));
            ck_assert_int_eq(P, 0);
            ck_assert_int_eq(A, 0);
            ck_assert_int_eq(K, 0);
        }
    }
    free(w);
    renderer_free(&r);
    camera_feed_close(cf);
    scenario_free(&sc);
}
END_TEST

/* ---- world model ---------------------------------------------------------- */

/* Steps 0 .. W-1: the frame is the test's own encode + decode of the
 * oracle render at the tokenizer's size (supersample 1) and the tokens are
 * the encoding; after: generated, and equal to the test's own
 * rollout_generate over the last W frames' tokens, actions and slots with
 * the header's seed, so the window slides one frame a step. Every step:
 * the oracle frame is the render, and the action features and slots are
 * the training windows'. */
START_TEST(worldmodel_context_is_the_round_trip_then_generated) {
    scenario sc;
    load_guard_scenario(&sc);
    camera_feed_options o = shipped_options(&sc, 1.0f);
    o.cp.width = 640, o.cp.height = 480; /* ignored: the tokenizer's size rules */
    o.supersample = 2;                   /* checked, unused */
    camera_feed *cf = open_ok(&o);
    wm_error err;
    tokenizer tk;
    ck_assert_msg(tokenizer_load(&tk, src_path(SHIPPED_TOKENIZER), 1, &err) == 0, "%s", err.msg);
    const int Wd = tk.cfg.width, Hd = tk.cfg.height, P = tk.hz * tk.wz;
    const camera_params *cam = camera_feed_camera(cf);
    ck_assert_int_eq(cam->width, Wd);
    ck_assert_int_eq(cam->height, Hd);
    ck_assert_double_eq(cam->hfov_deg, sc.camera.hfov_deg);
    renderer r;
    ck_assert_msg(renderer_init(&r, cam, 1, &err) == 0, "%s", err.msg);
    float *x = MALLOC_CHECK((size_t)3 * Wd * Hd * sizeof *x);
    int *codes = MALLOC_CHECK((size_t)P * sizeof *codes);
    image round;
    image_init(&round, Wd, Hd);
    sim_world *w = MALLOC_CHECK(sizeof *w);
    sim_world_init(w, &sc, sc.seed);
    ck_assert_int_eq(camera_feed_frame(cf, w, NULL, &(const image *){NULL}, &err), -1);
    ck_assert_str_eq(err.msg, "camera_feed: camera_feed_frame before camera_feed_reset");
    ck_assert_int_eq(camera_feed_reset(cf, 3, &err), 0);
    ck_assert_ptr_null(camera_feed_last_tokens(cf, NULL));
    action cmd;
    enum { n = W_CTX + 3 };
    int rec_tokens[n][128];
    float rec_actions[n][4], rec_slots[n][4 * 8];
    ck_assert_int_eq(P, 128);
    for (int i = 0; i < n; i++) {
        if (i) cmd = drive(i), sim_step(w, &cmd);
        const image *f;
        ck_assert_msg(camera_feed_frame(cf, w, i ? &cmd : NULL, &f, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(f->width, Wd);
        ck_assert_int_eq(f->height, Hd);
        render_frame(&r, w);
        ck_assert_msg(images_equal(camera_feed_oracle_frame(cf), &r.frame), "step %d: oracle frame", i);
        int fP, A, K, S;
        const int *tokens = camera_feed_last_tokens(cf, &fP);
        const float *acts = camera_feed_last_actions(cf, &A), *slots = camera_feed_last_slots(cf, &K, &S);
        ck_assert_int_eq(fP, P);
        ck_assert_int_eq(A, 4);
        ck_assert_int_eq(K, 4);
        ck_assert_int_eq(S, 8);
        ck_assert_ptr_nonnull(tokens);
        ck_assert_ptr_nonnull(acts);
        ck_assert_ptr_nonnull(slots);
        /* The training windows' normalisation, written out. */
        const float want_acts[4] = {i ? (float)cmd.accel / 4.0f : 0.0f, i ? (float)cmd.brake / 4.0f : 0.0f,
                                    i ? (float)cmd.steer / 0.5f : 0.0f, (float)w->ego.speed / 20.0f};
        for (int a = 0; a < 4; a++) ck_assert_float_eq(acts[a], want_acts[a]);
        float want_slots[4 * 8];
        window_slots_from_world(w, cam, 4, want_slots);
        ck_assert_mem_eq(slots, want_slots, sizeof want_slots);
        ck_assert_float_eq(slots[TOKEN_SLOT_PRESENT], 1.0f); /* the guard */
        for (int j = 0; j < P; j++) ck_assert(tokens[j] >= 0 && tokens[j] < tk.cfg.codebook_size);
        if (i < W_CTX) {
            ck_assert_int_eq(camera_feed_generated(cf), 0);
            image_to_floats(&r.frame, x);
            tokenizer_encode(&tk, x, 1, codes);
            ck_assert_mem_eq(tokens, codes, (size_t)P * sizeof *codes);
            tokenizer_decode(&tk, codes, 1, x);
            image_from_floats(x, &round);
            ck_assert_msg(images_equal(f, &round), "step %d: not the tokenizer's round trip", i);
            ck_assert_msg(!images_equal(f, &r.frame), "step %d: the raw render, not its round trip", i);
        } else {
            ck_assert_int_eq(camera_feed_generated(cf), 1);
            tokenizer_decode(&tk, tokens, 1, x); /* the frame is its tokens, decoded */
            image_from_floats(x, &round);
            ck_assert_msg(images_equal(f, &round), "step %d: not its tokens decoded", i);
        }
        ck_assert_int_eq(camera_feed_steps(cf), i + 1);
        memcpy(rec_tokens[i], tokens, sizeof rec_tokens[i]);
        memcpy(rec_actions[i], acts, sizeof rec_actions[i]);
        memcpy(rec_slots[i], slots, sizeof rec_slots[i]);
    }
    dynamics_model dm;
    ck_assert_msg(dynamics_load(&dm, src_path(SHIPPED_MODEL), 1, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(dm.cfg.frames - 1, W_CTX);
    wm_rng root_rng = rng_fork(3, CAMERA_FEED_STREAM);
    const uint64_t root = rng_u64(&root_rng);
    for (int i = W_CTX; i < n; i++) {
        rollout_params rp = o.rp;
        wm_rng step_rng = rng_fork(root, (uint64_t)i);
        rp.seed = rng_u64(&step_rng);
        int want[128];
        const int c = i - W_CTX;
        ck_assert_msg(rollout_generate(&dm, &rp, 1, W_CTX, rec_tokens[c], rec_actions[c], rec_slots[c], 1,
                                       rec_actions[i], rec_slots[i], want, &err) == 0,
                      "%s", err.msg);
        ck_assert_msg(memcmp(want, rec_tokens[i], sizeof want) == 0, "step %d: not the rollout of the last %d frames",
                      i, W_CTX);
    }
    dynamics_free(&dm);
    free(w), free(x), free(codes);
    image_free(&round);
    renderer_free(&r);
    tokenizer_free(&tk);
    camera_feed_close(cf);
    scenario_free(&sc);
}
END_TEST

/* The same episode seed gives the same bytes: two feeds, a reset feed,
 * one OpenMP thread; another seed other generated frames (temperature 1)
 * but the same context frames. */
START_TEST(same_seed_same_bytes) {
    scenario sc;
    load_guard_scenario(&sc);
    const camera_feed_options o = shipped_options(&sc, 1.0f);
    camera_feed *a = open_ok(&o), *b = open_ok(&o);
    enum { N = W_CTX + 3 };
    image fa[N], fb[N], fa2[N], f1[N], fo[N];
    run_feed(a, &sc, 42, N, fa);
    run_feed(b, &sc, 42, N, fb);
    run_feed(a, &sc, 7, N, fo);   /* another episode seed */
    run_feed(a, &sc, 42, N, fa2); /* back to 42 after a reset */
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    run_feed(b, &sc, 42, N, f1);
    omp_set_num_threads(threads);
    int differ = 0;
    for (int i = 0; i < N; i++) {
        ck_assert_msg(images_equal(&fa[i], &fb[i]), "step %d: two feeds differ", i);
        ck_assert_msg(images_equal(&fa[i], &fa2[i]), "step %d: differs after a reset", i);
        ck_assert_msg(images_equal(&fa[i], &f1[i]), "step %d: differs on 1 thread (of %d)", i, threads);
        if (i < W_CTX) ck_assert_msg(images_equal(&fa[i], &fo[i]), "context step %d depends on the seed", i);
        else differ += !images_equal(&fa[i], &fo[i]);
    }
    ck_assert_msg(differ == N - W_CTX, "only %d of %d generated frames differ under another seed", differ, N - W_CTX);
    free_frames(fa, N), free_frames(fb, N), free_frames(fa2, N), free_frames(f1, N), free_frames(fo, N);
    camera_feed_close(a), camera_feed_close(b);
    scenario_free(&sc);
}
END_TEST

/* The guard's slot follows the timeline: STOP (1/5) up to t = 0.35 s,
 * PROCEED (2/5) after, with its kind (guard: 3/5) and presence. */
START_TEST(slots_carry_the_gesture_change) {
    scenario sc;
    load_guard_scenario(&sc);
    camera_feed_options o = shipped_options(&sc, 1.0f);
    o.scene_slots = 1;
    camera_feed *cf = open_ok(&o);
    sim_world *w = MALLOC_CHECK(sizeof *w);
    sim_world_init(w, &sc, sc.seed);
    wm_error err;
    ck_assert_int_eq(camera_feed_reset(cf, 1, &err), 0);
    int seen[6] = {0};
    action cmd;
    for (int i = 0; i < 6; i++) {
        if (i) cmd = drive(i), sim_step(w, &cmd);
        const image *f;
        ck_assert_msg(camera_feed_frame(cf, w, i ? &cmd : NULL, &f, &err) == 0, "%s", err.msg);
        int K, S;
        const float *slots = camera_feed_last_slots(cf, &K, &S);
        ck_assert_int_eq(K, 4);
        const float *g = NULL; /* the guard's slot */
        for (int k = 0; k < K; k++)
            if (slots[k * S + TOKEN_SLOT_PRESENT] == 1.0f && slots[k * S + TOKEN_SLOT_KIND] == 3.0f / 5.0f) {
                ck_assert_ptr_null(g); /* one guard */
                g = slots + k * S;
            }
        ck_assert_msg(g != NULL, "step %d: no guard among the slots", i);
        const gesture want = i < 4 ? GESTURE_STOP : GESTURE_PROCEED; /* t = 0.1 i against 0.35 s */
        ck_assert_int_eq(w->actors[0].gesture, want);
        ck_assert_float_eq(g[TOKEN_SLOT_GESTURE], (float)want / 5.0f);
        ck_assert(g[TOKEN_SLOT_X] > 15.0f / 20.0f && g[TOKEN_SLOT_X] < 30.0f / 20.0f); /* ahead, m / 20 */
        seen[want] = 1;
    }
    ck_assert(seen[GESTURE_STOP] && seen[GESTURE_PROCEED]);
    free(w);
    camera_feed_close(cf);
    scenario_free(&sc);
}
END_TEST

/* Ways to change the guard (the scenario's only actor, so slot 0): its
 * gesture, which the oracle draws, or its speed, which it does not. */
typedef void (*world_change)(sim_world *w);
static void guard_turn_right(sim_world *w) { w->actors[0].gesture = GESTURE_TURN_RIGHT; /* was STOP */ }
static void guard_running(sim_world *w) { w->actors[0].speed = 20.0; /* was 0 */ }

/* Feeds a and b, reset with seed, run the same W+1 steps, except that b
 * sees the world changed by `change` at step `at`, which the oracle draws
 * (drawn 1) or not (0). Returns whether their frames at step W (the first
 * generated one) differ. Checks along the way: the action features always
 * agree; with slots on, the slots differ at step `at` in feature `feature`
 * of slot 0 and nowhere else; the oracle's renders differ at step `at` if
 * drawn, else never; a context frame differs exactly when the render does. */
static int changed_world_differs(camera_feed *a, camera_feed *b, const scenario *sc, uint64_t seed, int at,
                                 world_change change, int drawn, int feature) {
    sim_world *w = MALLOC_CHECK(sizeof *w), *w2 = MALLOC_CHECK(sizeof *w2);
    wm_error err;
    ck_assert_int_eq(camera_feed_reset(a, seed, &err), 0);
    ck_assert_int_eq(camera_feed_reset(b, seed, &err), 0);
    sim_world_init(w, sc, sc->seed);
    action cmd;
    const image *fa = NULL, *fb = NULL;
    for (int i = 0; i <= W_CTX; i++) {
        if (i) cmd = drive(i), sim_step(w, &cmd);
        memcpy(w2, w, sizeof *w);
        if (i == at) change(w2);
        ck_assert_msg(camera_feed_frame(a, w, i ? &cmd : NULL, &fa, &err) == 0, "%s", err.msg);
        ck_assert_msg(camera_feed_frame(b, w2, i ? &cmd : NULL, &fb, &err) == 0, "%s", err.msg);
        ck_assert_mem_eq(camera_feed_last_actions(a, NULL), camera_feed_last_actions(b, NULL), 4 * sizeof(float));
        const float *sa = camera_feed_last_slots(a, NULL, NULL), *sb = camera_feed_last_slots(b, NULL, NULL);
        if (sa)
            for (int j = 0; j < 4 * 8; j++)
                ck_assert_msg((sa[j] != sb[j]) == (i == at && j == feature), "step %d: slot feature %d: %g vs %g", i,
                              j, (double)sa[j], (double)sb[j]);
        const int oracle_differs = !images_equal(camera_feed_oracle_frame(a), camera_feed_oracle_frame(b));
        ck_assert_msg(oracle_differs == (i == at && drawn), "step %d: the oracle's renders %s", i,
                      oracle_differs ? "differ" : "agree");
        if (i < W_CTX) ck_assert_int_eq(!images_equal(fa, fb), oracle_differs);
    }
    ck_assert_int_eq(camera_feed_generated(a), 1);
    const int differ = !images_equal(fa, fb);
    free(w), free(w2);
    return differ;
}

/* The scene reaches a generated frame through the slots, the new frame's
 * and the context's, and through nothing else of the world.
 *   - The guard's gesture changed at the first generated step (drawn by
 *     the oracle, but the render is not used there).
 *   - The guard's speed changed at the last context step (not drawn: the
 *     context frames and tokens stay the same; only its slot changes).
 * With slots on, each change alters the generated frame (for at least one
 * of a few seeds: the sampler may absorb a small change of the logits);
 * with slots off, neither does, for any of them. */
START_TEST(only_the_slots_reach_a_generated_frame) {
    scenario sc;
    load_guard_scenario(&sc);
    const struct {
        const char *what;
        int at, drawn, feature;
        world_change change;
    } cases[] = {{"the gesture at the new frame", W_CTX, 1, TOKEN_SLOT_GESTURE, guard_turn_right},
                 {"the speed at the last context frame", W_CTX - 1, 0, TOKEN_SLOT_SPEED, guard_running}};
    enum { SEEDS = 4 };
    for (int slots_on = 1; slots_on >= 0; slots_on--) {
        camera_feed_options o = shipped_options(&sc, 1.0f);
        o.scene_slots = slots_on;
        camera_feed *a = open_ok(&o), *b = open_ok(&o);
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            int differ = 0, tried = 0;
            for (uint64_t seed = 1; seed <= SEEDS && !(slots_on && differ); seed++, tried++)
                differ += changed_world_differs(a, b, &sc, seed, cases[c].at, cases[c].change, cases[c].drawn,
                                                cases[c].feature);
            if (slots_on)
                ck_assert_msg(differ > 0, "%s: a change of the slots alone left the generated frame as it was (%d seeds)",
                              cases[c].what, tried);
            else
                ck_assert_msg(differ == 0, "%s: with slots off, %d of %d generated frames saw the changed world",
                              cases[c].what, differ, tried);
        }
        camera_feed_close(a), camera_feed_close(b);
    }
    scenario_free(&sc);
}
END_TEST

/* A one-frame window (W = 0) and no slots: every frame is generated, from
 * step 0, and scene_slots -1 leaves the slots off. Greedy decoding does
 * not depend on the seed. */
START_TEST(one_frame_windows_without_slots) {
    scenario sc;
    load_example("guard_stop_proceed.pbtxt", &sc);
    camera_feed_options o = shipped_options(&sc, 0.0f);
    o.model_path = save_tiny_model("f1.wmck", tiny_config(1, 0));
    o.rp.mode = ROLLOUT_AR;
    camera_feed *cf = open_ok(&o);
    sim_world *w = MALLOC_CHECK(sizeof *w);
    sim_world_init(w, &sc, sc.seed);
    wm_error err;
    image frames[2][3];
    for (int run = 0; run < 2; run++) {
        ck_assert_int_eq(camera_feed_reset(cf, (uint64_t)run, &err), 0);
        sim_world_init(w, &sc, sc.seed);
        for (int i = 0; i < 3; i++) {
            action cmd = drive(i);
            if (i) sim_step(w, &cmd);
            const image *f;
            ck_assert_msg(camera_feed_frame(cf, w, i ? &cmd : NULL, &f, &err) == 0, "%s", err.msg);
            ck_assert_int_eq(camera_feed_generated(cf), 1);
            int K = -1;
            ck_assert_ptr_null(camera_feed_last_slots(cf, &K, NULL));
            ck_assert_int_eq(K, 0);
            image_init(&frames[run][i], f->width, f->height);
            memcpy(frames[run][i].rgb, f->rgb, (size_t)f->width * f->height * 3);
        }
    }
    for (int i = 0; i < 3; i++) ck_assert(images_equal(&frames[0][i], &frames[1][i]));
    free_frames(frames[0], 3), free_frames(frames[1], 3);
    free(w);
    camera_feed_close(cf);
    scenario_free(&sc);
}
END_TEST

/* ---- errors --------------------------------------------------------------- */

START_TEST(option_errors_are_exact) {
    scenario sc;
    load_example("cut_in.pbtxt", &sc);
    char msg[8192];
    camera_feed_options o = camera_feed_options_default();
    o.kind = (camera_feed_kind)7;
    open_fails(&o, "camera_feed: kind 7 is not oracle (0) or worldmodel (1)");
    o = camera_feed_options_default();
    o.supersample = 3;
    open_fails(&o, "camera_feed: supersample 3 is not 1 or 2");
    o.supersample = 0;
    open_fails(&o, "camera_feed: supersample 0 is not 1 or 2");
    o = camera_feed_options_default();
    o.scene_slots = 2;
    open_fails(&o, "camera_feed: scene_slots 2 is not -1, 0 or 1");
    o = camera_feed_options_default();
    o.cp.width = 0;
    snprintf(msg, sizeof msg, "camera_feed: camera: width 0 outside [16, %d]", SCENARIO_CAMERA_MAX_WIDTH);
    open_fails(&o, msg);

    o = shipped_options(&sc, 1.0f);
    o.model_path = NULL;
    open_fails(&o, "camera_feed: worldmodel frames need a dynamics model (model_path)");
    o = shipped_options(&sc, 1.0f);
    o.tokenizer_path = NULL;
    open_fails(&o, "camera_feed: worldmodel frames need a tokenizer (tokenizer_path)");
    o = shipped_options(&sc, 1.0f);
    o.rp.mode = (rollout_mode)5;
    open_fails(&o, "camera_feed: rollout mode 5 is not ar (0) or parallel (1)");
    o = shipped_options(&sc, NAN);
    open_fails(&o, "camera_feed: temperature nan is not a finite number");
    o = shipped_options(&sc, 1.0f);
    o.rp.guidance = INFINITY;
    open_fails(&o, "camera_feed: guidance inf is not a finite number");

    o = shipped_options(&sc, 1.0f);
    o.model_path = "/nonexistent/wmsim/x.wmck";
    open_fails(&o, "camera_feed: /nonexistent/wmsim/x.wmck: cannot open: No such file or directory");
    o = shipped_options(&sc, 1.0f);
    o.tokenizer_path = "/nonexistent/wmsim/t.wmck";
    open_fails(&o, "camera_feed: /nonexistent/wmsim/t.wmck: cannot open: No such file or directory");
    o = shipped_options(&sc, 1.0f);
    o.tokenizer_path = o.model_path; /* a dynamics checkpoint where the tokenizer belongs */
    wm_error want;
    tokenizer tk;
    ck_assert_int_eq(tokenizer_load(&tk, o.tokenizer_path, 1, &want), -1);
    snprintf(msg, sizeof msg, "camera_feed: %s", want.msg);
    open_fails(&o, msg);

    o = shipped_options(&sc, 1.0f);
    o.rp.steps = 0;
    snprintf(msg, sizeof msg, "camera_feed: steps 0 outside [1, 128] (the tokens a frame of %s)", o.model_path);
    open_fails(&o, msg);
    o.rp.steps = 129;
    snprintf(msg, sizeof msg, "camera_feed: steps 129 outside [1, 128] (the tokens a frame of %s)", o.model_path);
    open_fails(&o, msg);
    o.rp.mode = ROLLOUT_AR; /* steps are parallel decoding's only */
    camera_feed_close(open_ok(&o));

    o = shipped_options(&sc, 1.0f);
    o.cp.hfov_deg = 5;
    snprintf(msg, sizeof msg, "camera_feed: at %s's size: camera: hfov 5 deg outside (10, 150)", o.tokenizer_path);
    open_fails(&o, msg);
    scenario_free(&sc);
}
END_TEST

/* Models that do not fit: no slots when asked for, other feature counts,
 * another codebook or token grid than the tokenizer's. */
START_TEST(model_errors_are_exact) {
    scenario sc;
    load_example("cut_in.pbtxt", &sc);
    char msg[8192];
    camera_feed_options o = shipped_options(&sc, 1.0f);
    o.model_path = save_tiny_model("no_slots.wmck", tiny_config(3, 0));
    o.scene_slots = 1;
    snprintf(msg, sizeof msg, "camera_feed: scene_slots on, but %s has no scene slots", o.model_path);
    open_fails(&o, msg);
    o.scene_slots = -1; /* the default takes a model without slots */
    camera_feed_close(open_ok(&o));

    dynamics_config c = tiny_config(3, 4);
    c.action_dim = 3;
    o.model_path = save_tiny_model("a3.wmck", c);
    snprintf(msg, sizeof msg, "camera_feed: %s: 3 action and 8 slot features, but camera_feed makes 4 and 8",
             o.model_path);
    open_fails(&o, msg);
    c = tiny_config(3, 4);
    c.slot_dim = 6;
    o.model_path = save_tiny_model("s6.wmck", c);
    snprintf(msg, sizeof msg, "camera_feed: %s: 4 action and 6 slot features, but camera_feed makes 4 and 8",
             o.model_path);
    open_fails(&o, msg);

    c = tiny_config(3, 4);
    c.vocab = 16, c.frame_tokens = 4;
    o.model_path = save_tiny_model("v16.wmck", c);
    o.rp.steps = 4;
    snprintf(msg, sizeof msg,
             "camera_feed: %s: 1024 codes and 128 tokens a frame, but %s takes 16 codes and 4 tokens a frame",
             o.tokenizer_path, o.model_path);
    open_fails(&o, msg);
    c = tiny_config(3, 4);
    c.frame_tokens = 64;
    o.model_path = save_tiny_model("p64.wmck", c);
    snprintf(msg, sizeof msg,
             "camera_feed: %s: 1024 codes and 128 tokens a frame, but %s takes 1024 codes and 64 tokens a frame",
             o.tokenizer_path, o.model_path);
    open_fails(&o, msg);
    scenario_free(&sc);
}
END_TEST

int main(void) {
    Suite *s = suite_create("camera_feed");
    TCase *tc = tcase_create("camera_feed");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, make_tmp, free_tmp);
    tcase_add_test(tc, kind_names);
    tcase_add_test(tc, image_float_helpers);
    tcase_add_test(tc, oracle_frames_are_the_renders);
    tcase_add_test(tc, worldmodel_context_is_the_round_trip_then_generated);
    tcase_add_test(tc, same_seed_same_bytes);
    tcase_add_test(tc, slots_carry_the_gesture_change);
    tcase_add_test(tc, only_the_slots_reach_a_generated_frame);
    tcase_add_test(tc, one_frame_windows_without_slots);
    tcase_add_test(tc, option_errors_are_exact);
    tcase_add_test(tc, model_errors_are_exact);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
