/* `wmsim dream` end to end, as the real binary on real clips, a real
 * scenario and real (tiny) models; and the command's own functions
 * (sim/cmd_dream.c is included here, llm.c style) for what the video
 * cannot show: the conditioning matches the training windows of the same
 * clip, the vehicle model replays a clip's own speeds, the CSV's errors.
 *
 * The fixture (unchecked, once): the world-model suites' tiny data set
 * (testutil.h: 2 scenarios x 6 variations x 2 s at 32x16, 21 frames a
 * clip; a tokenizer of 32 codes, 4x2 tokens), its token shards, and a
 * dynamics model of 3-frame windows (so 2 context frames), 1 layer of 16
 * channels, 2 heads, trained 5 steps. */
#include <math.h>

#include "datasets/token_shards.h"
#include "render/video.h"
#include "sim/cmd_dream.c"
#include "testutil.h"

#define CLIP_FRAMES 21
#define W_CTX 2 /* the model's context frames, F-1 */
#define P_TOK 8
#define VOCAB 32
#define FRAME_W 32
#define FRAME_H 16

static char *fixture_dir, clips[4200], tok[4200], shards[4200], dyn[4200], clip[4300], actions_csv[4300];

static const char *scenario_path(void) { return src_path("scenarios/examples/guard_stop_proceed.pbtxt"); }

static void make_fixture(void) {
    fixture_dir = test_tmpdir();
    make_tiny_world_model(fixture_dir, clips, tok, shards, dyn);
    join(clip, sizeof clip, clips, "cut_in/v0000");
    join(actions_csv, sizeof actions_csv, fixture_dir, "actions.csv");
    /* 12 rows at 10 Hz: speeding up gently while steering a little left. */
    char text[1024] = "t,accel,brake,steer\n";
    for (int i = 0; i < 12; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%.1f,1.0,0,0.05\n", 0.1 * i);
    write_text_file(actions_csv, text);
}

static void free_fixture(void) {
    test_remove_tree(fixture_dir);
    free(fixture_dir);
}

/* Runs `wmsim dream` with the fixture's models and args (NULL-terminated);
 * returns the exit status and the output (caller frees). */
static int dream(char **out, const char *const *args) {
    const char *argv[64] = {"dream", "--model", dyn, "--tokenizer", tok};
    int n = 5;
    for (int i = 0; args[i]; i++) argv[n++] = args[i];
    argv[n] = NULL;
    return run_wmsim(out, argv);
}

static void dream_ok(const char *const *args) {
    char *out;
    int rc = dream(&out, args);
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
}

/* Expects exit status rc and a first output line equal to line. */
static void dream_fails(int rc, const char *line, const char *const *args) {
    char *out;
    int got = dream(&out, args);
    char *nl = strchr(out, '\n');
    if (nl) *nl = '\0';
    ck_assert_msg(got == rc, "exit %d, expected %d: %s", got, rc, out);
    ck_assert_str_eq(out, line);
    free(out);
}

static void expect_video(const char *path, int frames, int width, int height) {
    video_info info;
    wm_error err;
    ck_assert_msg(video_probe(path, &info, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(info.frames, frames);
    ck_assert_int_eq(info.width, width);
    ck_assert_int_eq(info.height, height);
}

/* Every frame of a video (n of them, *n), as images. */
static image *read_video(const char *path, int *n) {
    video_reader *vr;
    wm_error err;
    ck_assert_msg(video_reader_open(&vr, path, &err) == 0, "%s", err.msg);
    image *frames = NULL;
    *n = 0;
    for (;;) {
        frames = REALLOC_CHECK(frames, (size_t)*n + 1, sizeof *frames);
        frames[*n] = (image){0};
        int r = video_reader_next(vr, &frames[*n], &err);
        ck_assert_msg(r >= 0, "%s", err.msg);
        if (r == 0) break;
        ++*n;
    }
    image_free(&frames[*n]);
    video_reader_close(vr);
    return frames;
}

static void free_video(image *frames, int n) {
    for (int i = 0; i < n; i++) image_free(&frames[i]);
    free(frames);
}

static char *read_text(const char *path) {
    uint8_t *data;
    size_t len;
    wm_error err;
    ck_assert_msg(file_read_all(path, 1 << 20, &data, &len, &err) == 0, "%s", err.msg);
    return (char *)data;
}

/* The rows 10 .. 15 of the W-wide tile `tile` of a side-by-side frame
 * equal those of img: below the label box (10 px tall at this size). */
static int tile_rows_equal(const image *row, int tile, const image *img) {
    for (int y = 10; y < FRAME_H; y++)
        if (memcmp(row->rgb + 3 * ((size_t)y * row->width + tile * FRAME_W), img->rgb + 3 * (size_t)y * FRAME_W,
                   3 * FRAME_W))
            return 0;
    return 1;
}

/* ---- the command ------------------------------------------------------------ */

START_TEST(a_clip_context_gives_a_video_the_tokens_and_one_line) {
    char *tmp = test_tmpdir(), video[4400], tokens[4400], tokens2[4400], want[9000];
    join(video, sizeof video, tmp, "dream.mp4");
    join(tokens, sizeof tokens, tmp, "t/tokens.txt");
    join(tokens2, sizeof tokens2, tmp, "tokens2.txt");
    char *out;
    int rc = dream(&out, (const char *[]){"--context", clip, "--actions", actions_csv, "--frames", "6", "--out", video,
                                          "--tokens", tokens, "--seed", "3", NULL});
    ck_assert_msg(rc == 0, "%s", out);
    snprintf(want, sizeof want, "%s: 2 context + 6 generated frames at 32x16; parallel decoding, 8 steps, ", video);
    ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s", out);
    ck_assert_msg(strstr(out, " frames/s\n") && !strchr(out, '\n')[1], "%s", out);
    free(out);
    expect_video(video, W_CTX + 6, FRAME_W, FRAME_H);
    /* The tokens: 6 lines of 8 codes. */
    char *text = read_text(tokens), *p = text;
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < P_TOK; j++) {
            char *end;
            long v = strtol(p, &end, 10);
            ck_assert_msg(end != p && v >= 0 && v < VOCAB, "line %d token %d: '%.20s'", i, j, p);
            ck_assert_int_eq(*end, j + 1 < P_TOK ? ' ' : '\n');
            p = end + 1;
        }
    ck_assert_int_eq(*p, '\0');
    /* The same seed, the same tokens; another seed, others. */
    dream_ok((const char *[]){"--context", clip, "--actions", actions_csv, "--frames", "6", "--out", video, "--tokens",
                              tokens2, "--seed", "3", "--quiet", NULL});
    char *again = read_text(tokens2);
    ck_assert_str_eq(again, text);
    free(again);
    dream_ok((const char *[]){"--context", clip, "--actions", actions_csv, "--frames", "6", "--out", video, "--tokens",
                              tokens2, "--seed", "4", "--quiet", NULL});
    again = read_text(tokens2);
    ck_assert_str_ne(again, text);
    free(again), free(text);
    /* Token by token, greedy, without slots: quiet prints nothing. */
    rc = dream(&out, (const char *[]){"--context", clip, "--actions", actions_csv, "--frames", "3", "--out", video,
                                      "--mode", "ar", "--temperature", "0", "--scene-slots", "off", "--quiet", NULL});
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert_str_eq(out, "");
    free(out);
    expect_video(video, W_CTX + 3, FRAME_W, FRAME_H);
    /* Guided by the actions: the model runs each window twice and still writes every frame. */
    dream_ok((const char *[]){"--context", clip, "--actions", actions_csv, "--frames", "3", "--out", video,
                              "--guidance", "3", "--quiet", NULL});
    expect_video(video, W_CTX + 3, FRAME_W, FRAME_H);
    test_remove_tree(tmp);
    free(tmp);
}
END_TEST

/* Side by side from frame 17 of a 21-frame clip: the left tile holds the
 * clip's true frames 17 .. 20, then grey; the right tile the context
 * frames through the tokenizer, then the dream. Lossless (.mkv), so the
 * pixels can be compared exactly. */
START_TEST(side_by_side_shows_the_clip_then_grey) {
    char *tmp = test_tmpdir(), video[4400], mkv[4500];
    join(video, sizeof video, tmp, "dream.mkv");
    dream_ok((const char *[]){"--context", clip, "--actions", actions_csv, "--frames", "6", "--out", video, "--start",
                              "17", "--side-by-side", "--quiet", NULL});
    expect_video(video, W_CTX + 6, 2 * FRAME_W, FRAME_H);
    int n, n_clip;
    image *got = read_video(video, &n);
    snprintf(mkv, sizeof mkv, "%s/%s", clip, CLIP_FILE_FRAMES);
    image *truth = read_video(mkv, &n_clip);
    ck_assert_int_eq(n, W_CTX + 6);
    ck_assert_int_eq(n_clip, CLIP_FRAMES);
    for (int g = 0; g < n; g++) {
        if (17 + g < CLIP_FRAMES) {
            ck_assert_msg(tile_rows_equal(&got[g], 0, &truth[17 + g]), "frame %d: not the clip's frame %d", g, 17 + g);
        } else {
            for (int y = 10; y < FRAME_H; y++)
                for (int x = 0; x < 3 * FRAME_W; x++)
                    ck_assert_int_eq(got[g].rgb[3 * (size_t)y * got[g].width + x], DREAM_GREY);
        }
    }
    /* The context frames on the right: the clip's frames 17 and 18 through the tokenizer. */
    tokenizer tk;
    wm_error err;
    ck_assert_msg(tokenizer_load(&tk, tok, 1, &err) == 0, "%s", err.msg);
    float x[3 * FRAME_W * FRAME_H];
    int codes[P_TOK];
    image round = {0};
    image_init(&round, FRAME_W, FRAME_H);
    for (int g = 0; g < W_CTX; g++) {
        encode_image(&tk, &truth[17 + g], x, codes);
        tokenizer_decode(&tk, codes, 1, x);
        image_from_floats(x, &round);
        ck_assert_msg(tile_rows_equal(&got[g], 1, &round),
                      "context frame %d: not the clip's frame through the tokenizer", g);
    }
    image_free(&round);
    tokenizer_free(&tk);
    free_video(got, n), free_video(truth, n_clip);
    test_remove_tree(tmp);
    free(tmp);
}
END_TEST

START_TEST(a_scenario_context_side_by_side) {
    char *tmp = test_tmpdir(), video[4400], want[9000];
    join(video, sizeof video, tmp, "dream.mp4");
    char *out;
    int rc = dream(&out, (const char *[]){"--context", scenario_path(), "--actions", actions_csv, "--frames", "5",
                                          "--out", video, "--side-by-side", "--mode", "ar", NULL});
    ck_assert_msg(rc == 0, "%s", out);
    snprintf(want, sizeof want, "%s: 2 context + 5 generated frames at 64x16 (oracle | dream); ar decoding, ", video);
    ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s", out);
    free(out);
    expect_video(video, W_CTX + 5, 2 * FRAME_W, FRAME_H);
    /* Later in the scenario, parallel, lossless: every left tile is an oracle render (no grey). */
    join(video, sizeof video, tmp, "dream.mkv");
    dream_ok((const char *[]){"--context", scenario_path(), "--actions", actions_csv, "--frames", "12", "--out", video,
                              "--side-by-side", "--start", "10", "--quiet", NULL});
    int n;
    image *got = read_video(video, &n);
    ck_assert_int_eq(n, W_CTX + 12);
    for (int g = 0; g < n; g++) {
        int grey = 1;
        for (int y = 10; y < FRAME_H && grey; y++)
            for (int x = 0; x < 3 * FRAME_W && grey; x++)
                grey = got[g].rgb[3 * (size_t)y * got[g].width + x] == DREAM_GREY;
        ck_assert_msg(!grey, "frame %d: grey", g);
    }
    free_video(got, n);
    test_remove_tree(tmp);
    free(tmp);
}
END_TEST

START_TEST(bad_usage_is_exit_2_with_the_reason) {
    const char *o = "o.mp4";
    dream_fails(2, "wmsim: dream: missing --context",
                (const char *[]){"--actions", actions_csv, "--frames", "3", "--out", o, NULL});
    dream_fails(2, "wmsim: dream: missing --actions",
                (const char *[]){"--context", clip, "--frames", "3", "--out", o, NULL});
    dream_fails(2, "wmsim: dream: missing --frames",
                (const char *[]){"--context", clip, "--actions", actions_csv, "--out", o, NULL});
    dream_fails(2, "wmsim: dream: missing --out",
                (const char *[]){"--context", clip, "--actions", actions_csv, "--frames", "3", NULL});
    dream_fails(2, "wmsim: --frames: expected an integer in [1, 100000], got '0'",
                (const char *[]){"--frames", "0", NULL});
    dream_fails(2, "wmsim: --mode: expected ar or parallel, got 'fast'", (const char *[]){"--mode", "fast", NULL});
    dream_fails(2, "wmsim: --scene-slots: expected on or off, got 'yes'",
                (const char *[]){"--scene-slots", "yes", NULL});
    dream_fails(2, "wmsim: --temperature: expected a number in [0, 100], got '-1'",
                (const char *[]){"--temperature", "-1", NULL});
    dream_fails(2, "wmsim: --guidance: expected a number in [0, 100], got 'x'", (const char *[]){"--guidance", "x", NULL});
    dream_fails(2, "wmsim: --seed: not a non-negative integer: 'x'", (const char *[]){"--seed", "x", NULL});
    dream_fails(2, "wmsim: dream: unknown option or missing value: '--fast'", (const char *[]){"--fast", NULL});
    dream_fails(2, "wmsim: dream: unknown option or missing value: '--out'", (const char *[]){"--out", NULL});
    dream_fails(2, "wmsim: dream: unexpected argument 'extra'", (const char *[]){"extra", NULL});
    char msg[4400];
    snprintf(msg, sizeof msg, "wmsim: --steps 9: above the 8 tokens a frame of %s", dyn);
    dream_fails(2, msg, (const char *[]){"--context", clip, "--actions", actions_csv, "--frames", "3", "--out", o,
                                         "--steps", "9", NULL});
    /* Token by token, the steps do not matter. */
    char *tmp = test_tmpdir(), video[4400];
    join(video, sizeof video, tmp, "d.mp4");
    dream_ok((const char *[]){"--context", clip, "--actions", actions_csv, "--frames", "2", "--out", video, "--steps",
                              "9", "--mode", "ar", "--quiet", NULL});
    char *out;
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"dream", "--help", NULL}), 0);
    ck_assert_msg(strncmp(out, "usage: wmsim dream --context", 28) == 0, "%s", out);
    free(out);
    test_remove_tree(tmp);
    free(tmp);
}
END_TEST

/* Bad input is exit 1 naming the file (and line and field, or row), and
 * leaves no video. The reader's own errors (actions/action_io.c) name the
 * line; dream's name the row, counted from 0 as in "row i leads to generated
 * frame i". */
START_TEST(bad_input_is_exit_1_naming_the_file) {
    char *tmp = test_tmpdir(), video[4400], csv[4400], msg[9000], missing[4400];
    join(video, sizeof video, tmp, "d.mp4");
    join(csv, sizeof csv, tmp, "a.csv");
    join(missing, sizeof missing, tmp, "none.wmck");
    const char *base[] = {"--context", clip, "--actions", csv, "--frames", "3", "--out", video, NULL};
    static const struct {
        const char *text, *why;
    } cases[] = {
        /* The reader's. */
        {"t,accel,brake,steer\n0,1,0,0\n0.1,0.5,abc,0\n0.2,1,0,0\n", ":3: brake: not a number: 'abc'"},
        {"accel,brake,steer\n1,0,0\n1,0,0\n1,0,0\n",
         ":1: expected header 't,accel,brake,steer', got 'accel,brake,steer'"},
        {"", ": empty file, expected header 't,accel,brake,steer'"},
        /* The vehicle's limits. */
        {"t,accel,brake,steer\n0,1,0,0.9\n0.1,1,0,0\n0.2,1,0,0\n",
         ": row 0 (t 0 s): steer 0.900 rad outside [-0.5, 0.5]"},
        {"t,accel,brake,steer\n3.5,1,0,0\n3.6,1,0,0\n3.7,5,0,0\n",
         ": row 2 (t 3.7 s): accel 5.000 m/s^2 outside [0, 3]"},
        /* The time step: 10 Hz from the first row, whatever its t. */
        {"t,accel,brake,steer\n0,1,0,0\n0.1,1,0,0\n0.25,1,0,0\n",
         ": row 2 at t=0.25 s, but row 2 of a 10 Hz sequence from t=0 s is at t=0.2 s"},
        {"t,accel,brake,steer\n1,1,0,0\n1.05,1,0,0\n1.1,1,0,0\n1.15,1,0,0\n",
         ": row 1 at t=1.05 s, but row 1 of a 10 Hz sequence from t=1 s is at t=1.1 s"},
        {"t,accel,brake,steer\n0,1,0,0\n0.1000011,1,0,0\n0.2,1,0,0\n",
         ": row 1 at t=0.1000011 s, but row 1 of a 10 Hz sequence from t=0 s is at t=0.1 s"},
        /* Too few. */
        {"t,accel,brake,steer\n0,1,0,0\n0.1,1,0,0\n",
         ": 2 action rows, but --frames 3 needs 3 (row i leads to generated frame i)"},
        {"t,accel,brake,steer\n", ": 0 action rows, but --frames 3 needs 3 (row i leads to generated frame i)"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        write_text_file(csv, cases[k].text);
        snprintf(msg, sizeof msg, "wmsim: %s%s", csv, cases[k].why); /* "file:line: ..." or "file: ..." */
        dream_fails(1, msg, base);
        ck_assert_int_eq(access(video, F_OK), -1);
    }
    /* Comments, trailing blank lines, any start time, t within 1e-6 s of the
     * step (a writer's rounding) and rows beyond --frames are fine. */
    write_text_file(csv, "# a comment\nt,accel,brake,steer\n12.3,1,0,0\n# braking\n12.4000009,0,2,0\n"
                         " 12.5 , 0 , 0 , -0.1 \n12.6,0,0,0\n\n\n");
    dream_ok((const char *[]){"--context", clip, "--actions", csv, "--frames", "3", "--out", video, "--quiet", NULL});
    expect_video(video, W_CTX + 3, FRAME_W, FRAME_H);
    unlink(video);

    /* Models and contexts. */
    snprintf(msg, sizeof msg, "wmsim: %s: cannot open: No such file or directory", missing);
    dream_fails(1, msg, (const char *[]){"--context", clip, "--actions", actions_csv, "--frames", "3", "--out", video,
                                         "--model", missing, NULL});
    dream_fails(1, msg, (const char *[]){"--context", clip, "--actions", actions_csv, "--frames", "3", "--out", video,
                                         "--tokenizer", missing, NULL});
    /* A tokenizer of other codes than the model's; one of the model's codes but another frame size than the clip's. */
    tokenizer other;
    wm_error err;
    ck_assert_msg(tokenizer_load(&other, src_path("models/tokenizer.wmck"), 1, &err) == 0, "%s", err.msg);
    snprintf(msg, sizeof msg, "wmsim: %s: %d codes and %d tokens a frame, but %s takes 32 codes and 8 tokens a frame",
             src_path("models/tokenizer.wmck"), other.cfg.codebook_size, other.hz * other.wz, dyn);
    tokenizer_free(&other);
    dream_fails(1, msg, (const char *[]){"--context", clip, "--actions", actions_csv, "--frames", "3", "--out", video,
                                         "--tokenizer", src_path("models/tokenizer.wmck"), NULL});
    tokenizer_config wide = tokenizer_config_default();
    wide.width = 64, wide.height = 8, wide.channels = 8, wide.code_dim = 8, wide.codebook_size = VOCAB;
    char wide_path[4400];
    join(wide_path, sizeof wide_path, tmp, "wide.wmck");
    ck_assert_msg(tokenizer_init(&other, &wide, 1, 1, &err) == 0, "%s", err.msg);
    ck_assert_msg(tokenizer_save(&other, wide_path, NULL, &err) == 0, "%s", err.msg);
    tokenizer_free(&other);
    snprintf(msg, sizeof msg, "wmsim: %s/meta.json: frames are 32x16, but %s takes 64x8", clip, wide_path);
    dream_fails(1, msg, (const char *[]){"--context", clip, "--actions", actions_csv, "--frames", "3", "--out", video,
                                         "--tokenizer", wide_path, NULL});
    snprintf(msg, sizeof msg, "wmsim: %s: 21 frames, but --start 20 and the 2 context frames of %s need 22", clip, dyn);
    dream_fails(1, msg, (const char *[]){"--context", clip, "--actions", actions_csv, "--frames", "3", "--out", video,
                                         "--start", "20", NULL});
    snprintf(msg, sizeof msg, "wmsim: %s: not a complete clip (no meta.json)", tmp);
    dream_fails(1, msg,
                (const char *[]){"--context", tmp, "--actions", actions_csv, "--frames", "3", "--out", video, NULL});
    snprintf(msg, sizeof msg, "wmsim: %s: neither a clip folder nor a scenario file (.pbtxt, .pb)", actions_csv);
    dream_fails(1, msg, (const char *[]){"--context", actions_csv, "--actions", actions_csv, "--frames", "3", "--out",
                                         video, NULL});
    snprintf(msg, sizeof msg, "wmsim: %s: no such clip folder or scenario file", missing);
    dream_fails(
        1, msg,
        (const char *[]){"--context", missing, "--actions", actions_csv, "--frames", "3", "--out", video, NULL});
    /* A scenario's own limits judge the rows: brake 9 is beyond its 8 m/s^2. */
    write_text_file(csv, "t,accel,brake,steer\n0,0,9,0\n");
    snprintf(msg, sizeof msg, "wmsim: %s: row 0 (t 0 s): brake 9.000 m/s^2 outside [0, 8]", csv);
    dream_fails(1, msg, (const char *[]){"--context", scenario_path(), "--actions", csv, "--frames", "1", "--out",
                                         video, NULL});
    ck_assert_int_eq(access(video, F_OK), -1);
    test_remove_tree(tmp);
    free(tmp);
}
END_TEST

/* ---- the conditioning (cmd_dream.c's functions) ----------------------------- */

typedef struct {
    dynamics_model dm;
    tokenizer tk;
} models;

static void load_models(models *m) {
    wm_error err;
    ck_assert_msg(dynamics_load(&m->dm, dyn, 1, &err) == 0, "%s", err.msg);
    ck_assert_msg(tokenizer_load(&m->tk, tok, DREAM_DECODE_BATCH, &err) == 0, "%s", err.msg);
}

static void free_models(models *m) {
    dynamics_free(&m->dm);
    tokenizer_free(&m->tk);
}

static dream_options options(const char *context, const char *actions, int frames, int start) {
    dream_options o = {.context = context, .actions = actions, .frames = frames, .start = start, .model = dyn,
                       .tokenizer = tok, .out = "unused.mp4"};
    return o;
}

/* The clip's own record in the shards. */
static const token_clip *shard_clip(token_shards *ts, const char *name) {
    const token_clip *c;
    wm_error err;
    int rc;
    while ((rc = token_shards_next(ts, &c, &err)) == 1)
        if (strcmp(c->name, name) == 0) return c;
    ck_abort_msg("%s not in the shards (%s)", name, rc < 0 ? err.msg : "end");
    return NULL;
}

/* A clip's context is the training window's: the shards' tokens of the
 * same frames, window_source's action features (the action that led to a
 * frame, its speed) and slots. The future's slots are the clip's, held at
 * its last frame; with the clip's own actions as rows the vehicle model
 * gives back the clip's speeds. */
START_TEST(a_clip_context_is_the_training_window) {
    models m;
    load_models(&m);
    const dynamics_config *c = &m.dm.cfg;
    const int A = c->action_dim, K = c->slots, S = c->slot_dim, P = c->frame_tokens;
    ck_assert_int_eq(c->frames - 1, W_CTX);
    ck_assert_int_eq(K, TOKEN_SHARDS_DEFAULT_SLOTS);
    token_shards *ts;
    wm_error err;
    ck_assert_msg(token_shards_open(&ts, shards, &err) == 0, "%s", err.msg);
    const token_clip *tc = shard_clip(ts, "cut_in/v0000");
    ck_assert_int_eq(tc->frames, CLIP_FRAMES);
    /* The clip's own actions after frames 6 .. 17 as the rows. */
    char *tmp = test_tmpdir(), csv[4400], text[4096] = "t,accel,brake,steer\n";
    join(csv, sizeof csv, tmp, "own.csv");
    clip_states cs;
    ck_assert_msg(read_clip_states(clip, K, &cs, &err) == 0, "%s", err.msg);
    const int start = 5, N = 14; /* context frames 5, 6; future frames 7 .. 20, then 3 held */
    for (int i = 0; i < N; i++) {
        const action a = 7 + i - 1 < CLIP_FRAMES - 1 ? cs.after[7 + i - 1] : (action){0, 0, 0};
        snprintf(text + strlen(text), sizeof text - strlen(text), "%.17g,%.17g,%.17g,%.17g\n",
                 (double)(7 + i - 1) / CLIP_FPS, a.accel, a.brake, a.steer); /* t: the frame it follows */
    }
    write_text_file(csv, text);
    dream_options o = options(clip, csv, N, start);
    dream_inputs in = {0};
    ck_assert_msg(clip_context(&o, c, &m.tk, 1, &in, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(in.W, W_CTX);
    ck_assert_int_eq(in.N, N);
    ck_assert_str_eq(in.oracle_label, "clip");
    for (int f = 0; f < W_CTX; f++) {
        const int g = start + f;
        for (int j = 0; j < P; j++) ck_assert_int_eq(in.ctx_tokens[f * P + j], tc->codes[g * P + j]);
        float want[TOKEN_SHARDS_ACTIONS], slot[TOKEN_SHARDS_SLOT_FEATURES];
        window_frame_actions(tc->actions + (g - 1) * A, tc->actions + g * A, want);
        for (int a = 0; a < A; a++) ck_assert_float_eq(in.ctx_actions[f * A + a], want[a]);
        for (int k = 0; k < K; k++) {
            window_slot_normalise(tc->slots + (g * K + k) * S, slot);
            for (int s = 0; s < S; s++) ck_assert_float_eq(in.ctx_slots[(f * K + k) * S + s], slot[s]);
        }
    }
    for (int i = 0; i < N; i++) {
        const int g = start + W_CTX + i, held = g < CLIP_FRAMES ? g : CLIP_FRAMES - 1;
        const float *got = in.new_actions + i * A;
        /* The action that led to the frame is the row, scaled. */
        if (g < CLIP_FRAMES) {
            const float *row = tc->actions + (g - 1) * A;
            ck_assert_float_eq(got[TOKEN_ACTION_ACCEL], row[TOKEN_ACTION_ACCEL] / WINDOW_ACCEL_SCALE);
            ck_assert_float_eq(got[TOKEN_ACTION_STEER], row[TOKEN_ACTION_STEER] / WINDOW_STEER_SCALE);
            /* The speed: the vehicle model replays the clip's within 1 cm/s. */
            const double speed = got[TOKEN_ACTION_SPEED] * WINDOW_SPEED_SCALE;
            ck_assert_msg(fabs(speed - tc->actions[g * A + TOKEN_ACTION_SPEED]) < 0.01,
                          "frame %d: speed %.4f, clip %.4f", g, speed, (double)tc->actions[g * A + TOKEN_ACTION_SPEED]);
        }
        for (int k = 0; k < K; k++) {
            float slot[TOKEN_SHARDS_SLOT_FEATURES];
            window_slot_normalise(tc->slots + (held * K + k) * S, slot);
            for (int s = 0; s < S; s++) ck_assert_float_eq(in.new_slots[(i * K + k) * S + s], slot[s]);
        }
    }
    dream_inputs_free(&in);
    /* Without slots: none at all; the first frame of a clip has no action before it. */
    memset(&in, 0, sizeof in);
    o = options(clip, csv, 2, 0);
    ck_assert_msg(clip_context(&o, c, &m.tk, 0, &in, &err) == 0, "%s", err.msg);
    ck_assert_ptr_null(in.ctx_slots);
    ck_assert_ptr_null(in.new_slots);
    for (int a = TOKEN_ACTION_ACCEL; a <= TOKEN_ACTION_STEER; a++) ck_assert_float_eq(in.ctx_actions[a], 0.0f);
    ck_assert_float_eq(in.ctx_actions[TOKEN_ACTION_SPEED], tc->actions[TOKEN_ACTION_SPEED] / WINDOW_SPEED_SCALE);
    dream_inputs_free(&in);
    clip_states_free(&cs);
    token_shards_close(ts);
    free_models(&m);
    test_remove_tree(tmp);
    free(tmp);
}
END_TEST

/* A scenario's context: the ego coasts (no action led to the frames, the
 * speed holds), then the rows drive it: speeding up at 1 m/s^2 adds about
 * 0.1 m/s a frame (the actuator ramps up within the first sub-step); the
 * slots come from the world (cut_in's car 60 m ahead is present). */
START_TEST(a_scenario_context_coasts_then_follows_the_rows) {
    models m;
    load_models(&m);
    const dynamics_config *c = &m.dm.cfg;
    const int A = c->action_dim, K = c->slots, S = c->slot_dim;
    scenario *sc = CALLOC_CHECK(1, sizeof *sc);
    wm_error err;
    const char *path = src_path("scenarios/examples/cut_in.pbtxt");
    ck_assert_msg(scenario_load(path, sc, &err) == 0, "%s", err.msg);
    scenario_run run = {.sc = sc, .cp = sc->camera};
    run.cp.width = FRAME_W, run.cp.height = FRAME_H;
    run.w = MALLOC_CHECK(sizeof *run.w);
    dream_options o = options(path, actions_csv, 12, 3);
    dream_inputs in = {0};
    ck_assert_msg(scenario_context(&o, c, &m.tk, 1, &run, &in, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(in.oracle_label, "oracle");
    const double v0 = sc->ego.speed;
    for (int f = 0; f < W_CTX; f++) {
        for (int a = TOKEN_ACTION_ACCEL; a <= TOKEN_ACTION_STEER; a++)
            ck_assert_float_eq(in.ctx_actions[f * A + a], 0.0f);
        ck_assert_double_eq_tol(in.ctx_actions[f * A + TOKEN_ACTION_SPEED] * WINDOW_SPEED_SCALE, v0, 1e-4);
        ck_assert_float_eq(in.ctx_slots[f * K * S + TOKEN_SLOT_PRESENT], 1.0f);
        ck_assert_float_eq(in.ctx_slots[f * K * S + TOKEN_SLOT_KIND], 1.0f / WINDOW_SLOT_CLASS_SCALE);
        ck_assert_float_eq(in.ctx_slots[f * K * S + S + TOKEN_SLOT_PRESENT], 0.0f); /* one actor only */
    }
    for (int i = 0; i < 12; i++) {
        const float *a = in.new_actions + i * A;
        ck_assert_float_eq(a[TOKEN_ACTION_ACCEL], 1.0f / WINDOW_ACCEL_SCALE);
        ck_assert_float_eq(a[TOKEN_ACTION_STEER], 0.05f / WINDOW_STEER_SCALE);
        const double v = a[TOKEN_ACTION_SPEED] * WINDOW_SPEED_SCALE;
        const double before = i ? in.new_actions[(i - 1) * A + TOKEN_ACTION_SPEED] * WINDOW_SPEED_SCALE : v0;
        ck_assert_double_eq_tol(v - before, 0.1, 1e-4);
        ck_assert_float_eq(in.new_slots[i * K * S + TOKEN_SLOT_PRESENT], 1.0f);
    }
    dream_inputs_free(&in);
    action_seq_free(&run.rows);
    free(run.w);
    scenario_free(sc);
    free(sc);
    free_models(&m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("dream_cli");
    TCase *tc = tcase_create("dream_cli");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, make_fixture, free_fixture);
    tcase_add_test(tc, a_clip_context_gives_a_video_the_tokens_and_one_line);
    tcase_add_test(tc, side_by_side_shows_the_clip_then_grey);
    tcase_add_test(tc, a_scenario_context_side_by_side);
    tcase_add_test(tc, bad_usage_is_exit_2_with_the_reason);
    tcase_add_test(tc, bad_input_is_exit_1_naming_the_file);
    tcase_add_test(tc, a_clip_context_is_the_training_window);
    tcase_add_test(tc, a_scenario_context_coasts_then_follows_the_rows);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
