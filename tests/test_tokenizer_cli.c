/* The tokenizer from the command line, end to end: `wmsim tokenizer
 * train|encode|decode|eval` run as the real binary on a real clip set, and
 * datasets/frame_source (the frames it trains on) in process.
 *
 * The clip set is made once per test case by the real `wmsim clips
 * generate` (an unchecked fixture, in the runner process), with a tiny
 * model trained on it; tests that change files work on copies. Clips are
 * filed as SCENARIO/vNNNN and the split hashes the folder's name, so six
 * variations of each scenario put v0005 in validation and v0000-v0004 in
 * train (checked in the fixture: the tests rely on it). */
#include <math.h>
#include <sys/stat.h>

#include "core/fileio.h"
#include "datasets/clip_reader.h"
#include "datasets/frame_source.h"
#include "render/image.h"
#include "testutil.h"

#define W 32
#define H 16
#define CLIP_FRAMES 31 /* 3 s at 10 Hz: the start and 30 steps */
#define TRAIN_CLIPS 10 /* 2 scenarios x v0000-v0004 */
#define VAL_CLIPS 2    /* 2 scenarios x v0005 */
#define EPOCH_FRAMES (TRAIN_CLIPS * ((CLIP_FRAMES - 1) / 2 + 1)) /* stride 2 */

/* The tiny model's architecture and schedule, shared by every training run. */
#define MODEL_ARGS "--size", "32x16", "--channels", "8", "--code-dim", "8", "--codebook", "32", "--batch", "4", \
                   "--val-frames", "8", "--log-every", "10"

static char *fixture_dir, clips[4200], model[4200], train_out[8192];


static void make_fixture(void) {
    for (int v = 0; v < 6; v++) {
        char name[16];
        snprintf(name, sizeof name, "v%04d", v);
        ck_assert_msg(clip_reader_in_validation(name, FRAME_SOURCE_VAL_FRACTION) == (v == 5),
                      "%s is not on the split this suite expects", name);
    }
    fixture_dir = test_tmpdir();
    join(clips, sizeof clips, fixture_dir, "clips");
    join(model, sizeof model, fixture_dir, "model/m.wmck");
    char *out;
    int rc = run_wmsim(&out, (const char *[]){"clips", "generate", "--scenarios",
                                              src_path("scenarios/examples/guard_stop_proceed.pbtxt"),
                                              src_path("scenarios/examples/cut_in.pbtxt"), "--variations", "6",
                                              "--seconds", "3", "--size", "32x16", "--out", clips, "--jobs", "2",
                                              NULL});
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    rc = run_wmsim(&out, (const char *[]){"tokenizer", "train", "--data", clips, "--out", model, "--steps", "40", "--stop-at", "30",
                                          MODEL_ARGS, NULL});
    snprintf(train_out, sizeof train_out, "%s", out);
    free(out);
    ck_assert_msg(rc == 0, "%s", train_out);
}

static void free_fixture(void) {
    test_remove_tree(fixture_dir);
    free(fixture_dir);
}

/* ---- helpers ------------------------------------------------------------- */

static char *read_text(const char *path) {
    uint8_t *data;
    size_t len;
    wm_error err;
    ck_assert_msg(file_read_all(path, 1 << 28, &data, &len, &err) == 0, "%s", err.msg);
    return (char *)data;
}

static void copy_file(const char *from, const char *to) {
    uint8_t *data;
    size_t len;
    wm_error err;
    ck_assert_msg(file_read_all(from, 1 << 28, &data, &len, &err) == 0, "%s", err.msg);
    ck_assert_msg(file_write_atomic(to, data, len, &err) == 0, "%s", err.msg);
    free(data);
}

/* Copies the fixture's model files with these suffixes ("", ".state", ".csv")
 * into dir/m.wmck*. */
static void copy_model(const char *dir, const char *const *suffixes, int n) {
    for (int i = 0; i < n; i++) {
        char from[4400], to[4400];
        snprintf(from, sizeof from, "%s%s", model, suffixes[i]);
        snprintf(to, sizeof to, "%s/m.wmck%s", dir, suffixes[i]);
        copy_file(from, to);
    }
}

static int same_file(const char *a, const char *b) {
    char *x = read_text(a), *y = read_text(b);
    struct stat sa, sb;
    ck_assert_int_eq(stat(a, &sa), 0);
    ck_assert_int_eq(stat(b, &sb), 0);
    int same = sa.st_size == sb.st_size && memcmp(x, y, (size_t)sa.st_size) == 0;
    free(x), free(y);
    return same;
}

/* The steps of a training CSV's rows, in file order; checks its header. */
static int csv_steps(const char *path, int *steps, int max) {
    char *text = read_text(path);
    ck_assert_msg(strncmp(text, "step,lr,loss,", 13) == 0, "%s: header '%.40s'", path, text);
    int n = 0;
    for (char *line = strchr(text, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        ck_assert_int_lt(n, max);
        steps[n++] = atoi(line + 1);
    }
    free(text);
    return n;
}

static void expect_png(const char *path, int width, int height) {
    image img;
    wm_error err;
    ck_assert_msg(image_read_png(path, &img, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(img.width, width);
    ck_assert_int_eq(img.height, height);
    image_free(&img);
}

/* Runs wmsim and requires exit status rc and output exactly `want`. */
static void expect_exact(int rc, const char *want, const char *const *args) {
    char *out;
    int got = run_wmsim(&out, args);
    ck_assert_msg(got == rc, "exit %d, expected %d: %s", got, rc, out);
    ck_assert_str_eq(out, want);
    free(out);
}

/* ---- frame_source --------------------------------------------------------- */

static float *read_frames(frame_source *fs, int n) {
    float *x = MALLOC_CHECK((size_t)n * 3 * W * H * sizeof(float));
    wm_error err;
    ck_assert_msg(frame_source_next(fs, x, n, &err) == 0, "%s", err.msg);
    return x;
}

START_TEST(frame_source_streams_planar_frames_endlessly) {
    frame_source *fs;
    wm_error err;
    ck_assert_msg(frame_source_open(&fs, clips, FRAME_SPLIT_TRAIN, 2, 7, &err) == 0, "%s", err.msg);
    int w, h;
    frame_source_size(fs, &w, &h);
    ck_assert_int_eq(w, W);
    ck_assert_int_eq(h, H);
    ck_assert_int_eq(frame_source_clips(fs), TRAIN_CLIPS);
    ck_assert_int_eq(frame_source_epoch_frames(fs), EPOCH_FRAMES);
    /* Two epochs and a bit: the stream goes on past each epoch's end. */
    const int n = 2 * EPOCH_FRAMES + 7;
    float *x = read_frames(fs, n);
    const size_t img = 3 * W * H;
    for (size_t i = 0; i < (size_t)n * img; i++) {
        float b = x[i] * 255.0f;
        ck_assert_msg(b >= 0 && b <= 255 && fabsf(b - rintf(b)) < 1e-3f, "value %g is not a byte / 255", x[i]);
    }
    /* Each epoch holds the same frames, in another order. */
    uint64_t *e0 = MALLOC_CHECK(EPOCH_FRAMES * sizeof *e0), *e1 = MALLOC_CHECK(EPOCH_FRAMES * sizeof *e1);
    int same_order = 1;
    for (int i = 0; i < EPOCH_FRAMES; i++) {
        e0[i] = hash_fnv1a64(x + i * img, img * sizeof(float));
        e1[i] = hash_fnv1a64(x + (EPOCH_FRAMES + i) * img, img * sizeof(float));
        same_order &= e0[i] == e1[i];
    }
    ck_assert_msg(!same_order, "epoch 1 repeats epoch 0's order");
    for (int i = 0; i < EPOCH_FRAMES; i++) {
        int found = 0;
        for (int j = 0; j < EPOCH_FRAMES && !found; j++) found = e0[i] == e1[j];
        ck_assert_msg(found, "frame %d of epoch 0 is not in epoch 1", i);
    }
    free(e0), free(e1), free(x);
    frame_source_close(fs);
}
END_TEST

START_TEST(frame_source_seek_is_bit_identical_to_reading_through) {
    frame_source *fs;
    wm_error err;
    const int n = 2 * EPOCH_FRAMES + 40;
    const size_t img = 3 * W * H;
    ck_assert_msg(frame_source_open(&fs, clips, FRAME_SPLIT_TRAIN, 2, 3, &err) == 0, "%s", err.msg);
    float *straight = read_frames(fs, n);
    /* Fresh sources, and the used one seeking back and forth: the first
     * frame, mid-epoch, either side of each epoch boundary. */
    const uint64_t at[] = {0, 1, 93, EPOCH_FRAMES - 1, EPOCH_FRAMES, EPOCH_FRAMES + 1, 250, 2 * EPOCH_FRAMES, 3};
    for (int k = 0; k < (int)(sizeof at / sizeof at[0]); k++) {
        frame_source *fresh;
        ck_assert_msg(frame_source_open(&fresh, clips, FRAME_SPLIT_TRAIN, 2, 3, &err) == 0, "%s", err.msg);
        frame_source *both[2] = {fresh, fs};
        for (int s = 0; s < 2; s++) {
            ck_assert_msg(frame_source_seek(both[s], at[k], &err) == 0, "%s", err.msg);
            int m = n - (int)at[k] < 40 ? n - (int)at[k] : 40;
            float *x = read_frames(both[s], m);
            ck_assert_msg(memcmp(x, straight + at[k] * img, (size_t)m * img * sizeof(float)) == 0,
                          "seek to %d (%s source) differs from reading through", (int)at[k], s ? "used" : "fresh");
            free(x);
        }
        frame_source_close(fresh);
    }
    free(straight);
    frame_source_close(fs);
}
END_TEST

START_TEST(frame_source_read_takes_a_split) {
    float *x;
    int got, w, h;
    wm_error err;
    /* More than the split has: all of it, every frame (spacing 1). */
    ck_assert_msg(frame_source_read(clips, FRAME_SPLIT_VALIDATION, 1000, 0, 0, &x, &got, &w, &h, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(got, VAL_CLIPS * CLIP_FRAMES);
    ck_assert_int_eq(w, W);
    ck_assert_int_eq(h, H);
    free(x);
    ck_assert_msg(frame_source_read(clips, FRAME_SPLIT_VALIDATION, 8, 0, 0, &x, &got, &w, &h, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(got, 8);
    float *again;
    ck_assert_msg(frame_source_read(clips, FRAME_SPLIT_VALIDATION, 8, 0, 0, &again, &got, &w, &h, &err) == 0, "%s",
                  err.msg);
    ck_assert_msg(memcmp(x, again, 8 * 3 * W * H * sizeof(float)) == 0, "the same read gave other frames");
    free(x), free(again);
    /* A fixed stride: frames 0 and 25 of each clip. */
    ck_assert_msg(frame_source_read(clips, FRAME_SPLIT_ALL, 1000, 25, 0, &x, &got, &w, &h, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(got, 2 * (TRAIN_CLIPS + VAL_CLIPS));
    free(x);
    /* A tree with no validation clip says so, naming the folder. */
    char *one = test_tmpdir(), *out;
    int rc = run_wmsim(&out, (const char *[]){"clips", "generate", "--scenarios",
                                              src_path("scenarios/examples/cut_in.pbtxt"), "--seconds", "1", "--size",
                                              "32x16", "--out", one, NULL});
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    ck_assert_int_eq(frame_source_read(one, FRAME_SPLIT_VALIDATION, 8, 0, 0, &x, &got, &w, &h, &err), -1);
    ck_assert_ptr_null(x);
    char want[4600];
    snprintf(want, sizeof want, "%s: no windows of 1 frames in the validation split (0 clips there, 0 of them "
             "shorter; 1 in the other split; 0 incomplete skipped)", one);
    ck_assert_str_eq(err.msg, want);
    test_remove_tree(one);
    free(one);
}
END_TEST

/* ---- the CLI --------------------------------------------------------------- */

START_TEST(help_lists_the_tokenizer) {
    char *out;
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"--help", NULL}), 0);
    ck_assert_ptr_nonnull(strstr(out, "  tokenizer train|encode|decode|eval"));
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"tokenizer", "--help", NULL}), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: wmsim tokenizer train --data CLIPS --out MODEL.wmck"));
    ck_assert_ptr_nonnull(strstr(out, "--steps 10000, --batch 16, --lr 0.002"));
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"tokenizer", NULL}), 2);
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"tokenizer", "fly", NULL}), 2);
    ck_assert_int_eq(strncmp(out, "wmsim: tokenizer: unknown subcommand 'fly'\n\nusage: wmsim tokenizer", 66), 0);
    free(out);
}
END_TEST

START_TEST(train_writes_model_state_log_and_chart) {
    char want[18000];
    snprintf(want, sizeof want, "%s: steps 1-30 of 40 in ", model);
    ck_assert_msg(strncmp(train_out, want, strlen(want)) == 0, "%s", train_out);
    ck_assert_msg(strstr(train_out, "; validation (8 frames) PSNR ") != NULL, "%s", train_out);
    ck_assert_msg(strstr(train_out, " dB, SSIM ") && strstr(train_out, "/32 used, perplexity "), "%s", train_out);
    snprintf(want, sizeof want, "  wrote %s, %s.state, %s.csv and %s.png\n", model, model, model, model);
    ck_assert_msg(strstr(train_out, want) != NULL, "%s", train_out);
    char path[4400];
    int steps[64];
    snprintf(path, sizeof path, "%s.csv", model);
    ck_assert_int_eq(csv_steps(path, steps, 64), 3);
    for (int i = 0; i < 3; i++) ck_assert_int_eq(steps[i], 10 * (i + 1));
    snprintf(path, sizeof path, "%s.png", model);
    expect_png(path, 640, 600);
    snprintf(path, sizeof path, "%s.state", model);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
}
END_TEST

/* The fixture's 40-step schedule stopped at 30 and resumed to 40 gives
 * the same model, bit for bit, as 40 steps in one go: the state holds
 * everything and the frame source seeks exactly. */
START_TEST(resume_continues_log_and_matches_one_run) {
    char *dir = test_tmpdir(), *out, resumed[4400], straight[4400], csv[4500];
    copy_model(dir, (const char *[]){"", ".state", ".csv"}, 3);
    snprintf(resumed, sizeof resumed, "%s/m.wmck", dir);
    int rc = run_wmsim(&out, (const char *[]){"tokenizer", "train", "--data", clips, "--out", resumed, "--resume",
                                              "--steps", "40", MODEL_ARGS, NULL});
    ck_assert_msg(rc == 0, "%s", out);
    char want[4600];
    snprintf(want, sizeof want, "%s: steps 31-40 of 40 in ", resumed);
    ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s", out);
    free(out);
    int steps[64];
    snprintf(csv, sizeof csv, "%s.csv", resumed);
    int n = csv_steps(csv, steps, 64);
    ck_assert_int_eq(n, 4);
    for (int i = 0; i < n; i++) ck_assert_int_eq(steps[i], 10 * (i + 1));
    snprintf(straight, sizeof straight, "%s/straight/m.wmck", dir);
    /* --quiet: nothing on stdout or stderr (no terminal, so no progress line either). */
    expect_exact(0, "", (const char *[]){"tokenizer", "train", "--data", clips, "--out", straight, "--steps", "40",
                                         "--quiet", MODEL_ARGS, NULL});
    ck_assert_msg(same_file(resumed, straight), "30 + 10 resumed steps differ from 40 steps");
    /* Already there: more steps are needed. */
    snprintf(want, sizeof want,
             "wmsim: %s.state: training already took 40 steps; ask for more than that with --steps\n", resumed);
    expect_exact(1, want, (const char *[]){"tokenizer", "train", "--data", clips, "--out", resumed, "--resume",
                                           "--steps", "40", MODEL_ARGS, NULL});
    test_remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(eval_prints_metrics_and_writes_a_sheet) {
    char *dir = test_tmpdir(), *out, sheet[4400];
    snprintf(sheet, sizeof sheet, "%s/sheet.png", dir);
    int rc = run_wmsim(&out, (const char *[]){"tokenizer", "eval", "--model", model, "--data", clips, "--frames", "8",
                                              "--sheet", sheet, NULL});
    ck_assert_msg(rc == 0, "%s", out);
    char want[9000];
    snprintf(want, sizeof want, "%s on %s (validation split, 8 frames): PSNR ", model, clips);
    ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s", out);
    double psnr = atof(out + strlen(want));
    ck_assert_msg(psnr > 5 && psnr < 60, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "/32 used, perplexity "));
    free(out);
    expect_png(sheet, 2 * W, 8 * H); /* 8 pairs, originals left */
    rc = run_wmsim(&out, (const char *[]){"tokenizer", "eval", "--model", model, "--data", clips, "--split", "all",
                                          "--frames", "3", NULL});
    ck_assert_msg(rc == 0, "%s", out);
    snprintf(want, sizeof want, "%s on %s (all clips, 3 frames): PSNR ", model, clips);
    ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s", out);
    free(out);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(encode_decode_round_trip) {
    char *dir = test_tmpdir(), *out, png[4400], tokens[4400], back[4400];
    join(png, sizeof png, dir, "frame.png");
    join(tokens, sizeof tokens, dir, "tokens.txt");
    join(back, sizeof back, dir, "back.png");
    int rc = run_wmsim(&out, (const char *[]){"render", src_path("scenarios/examples/cut_in.pbtxt"), "--size", "32x16",
                                              "--t", "1", "--out", png, NULL});
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    /* To stdout: 2 lines of 4 codes below 32, one space apart. */
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"tokenizer", "encode", "--model", model, png, NULL}), 0);
    int spaces = 0, lines = 0;
    for (const char *p = out; *p; p++) {
        if (*p == ' ' || *p == '\n') {
            spaces += *p == ' ', lines += *p == '\n';
            continue;
        }
        char *end;
        long code = strtol(p, &end, 10);
        ck_assert_msg(end > p && code >= 0 && code < 32 && (*end == ' ' || *end == '\n'), "%s", out);
        p = end - 1;
    }
    ck_assert_msg(spaces == 6 && lines == 2 && out[strlen(out) - 1] == '\n', "%s", out);
    /* To a file: the same text. */
    expect_exact(0, "", (const char *[]){"tokenizer", "encode", "--model", model, png, "--out", tokens, NULL});
    char *text = read_text(tokens);
    ck_assert_str_eq(text, out);
    free(text), free(out);
    expect_exact(0, "", (const char *[]){"tokenizer", "decode", "--model", model, tokens, "--out", back, NULL});
    expect_png(back, W, H);
    /* A last line without its newline is fine. */
    write_text_file(tokens, "0 1 2 3\n4 5 6 31");
    expect_exact(0, "", (const char *[]){"tokenizer", "decode", "--model", model, tokens, "--out", back, NULL});
    test_remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(decode_rejects_bad_token_files) {
    static const struct {
        const char *text, *error; /* the error after "wmsim: FILE" */
    } cases[] = {
        {"1 2 3 4\n5 6 7 32\n", ":2: code 32 outside [0, 32)"},
        {"-1 2 3 4\n5 6 7 8\n", ":1: code -1 outside [0, 32)"},
        {"1 2 3 4\n5 6 7 99999999999999999999\n", ":2: code 99999999999999999999 outside [0, 32)"},
        {"1 2 3 4\n5 6 7\n", ":2: 3 codes, but the model's token grid is 4 wide"},
        {"1 2 3 4 5\n5 6 7 8\n", ":1: 5 codes, but the model's token grid is 4 wide"},
        {"1 2 3 4\n5 6 x7 1\n", ":2: 'x7' is not an integer code"},
        {"1 2 3.0 4\n5 6 7 1\n", ":1: '3.0' is not an integer code"},
        {"1 2 3 4\n", ": ends after row 1; the model's token grid has 2 rows"},
        {"", ": empty; the model's token grid has 2 rows"},
        {"1 2 3 4\n1 2 3 4\n1 2 3 4\n", ":3: more rows than the model's token grid has (2)"},
        {"1 2 3 4\n\n1 2 3 4\n", ":2: 0 codes, but the model's token grid is 4 wide"},
    };
    char *dir = test_tmpdir(), tokens[4400], png[4400], want[9000];
    join(tokens, sizeof tokens, dir, "tokens.txt");
    join(png, sizeof png, dir, "out.png");
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        write_text_file(tokens, cases[i].text);
        snprintf(want, sizeof want, "wmsim: %s%s\n", tokens, cases[i].error);
        expect_exact(1, want, (const char *[]){"tokenizer", "decode", "--model", model, tokens, "--out", png, NULL});
        ck_assert_msg(access(png, F_OK) != 0, "case %d wrote a PNG", i);
    }
    test_remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(bad_models_and_frames_are_clear_errors) {
    char *dir = test_tmpdir(), png[4400], bad[4400], want[9000];
    wm_error err;
    /* A frame of another size. */
    join(png, sizeof png, dir, "big.png");
    image img;
    image_init(&img, 64, 32);
    ck_assert_msg(image_write_png(&img, png, &err) == 0, "%s", err.msg);
    image_free(&img);
    snprintf(want, sizeof want, "wmsim: %s: 64x32 pixels, but %s takes 32x16 frames\n", png, model);
    expect_exact(1, want, (const char *[]){"tokenizer", "encode", "--model", model, png, NULL});
    /* One flipped byte in the weights: the checksum catches it. */
    copy_model(dir, (const char *[]){""}, 1);
    join(bad, sizeof bad, dir, "m.wmck");
    uint8_t *data;
    size_t len;
    ck_assert_msg(file_read_all(bad, 1 << 28, &data, &len, &err) == 0, "%s", err.msg);
    data[len / 2] ^= 0x10;
    ck_assert_msg(file_write_atomic(bad, data, len, &err) == 0, "%s", err.msg);
    free(data);
    snprintf(want, sizeof want, "wmsim: %s: checksum mismatch (file corrupt)\n", bad);
    expect_exact(1, want, (const char *[]){"tokenizer", "encode", "--model", bad, png, NULL});
    expect_exact(1, want, (const char *[]){"tokenizer", "eval", "--model", bad, "--data", clips, NULL});
    test_remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(train_rejects_bad_usage_and_missing_state) {
    char *dir = test_tmpdir(), *out, m[4400], want[9000];
    join(m, sizeof m, dir, "m.wmck");
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"tokenizer", "train", "--out", m, NULL}), 2);
    const char *usage = "wmsim: tokenizer train: missing --data\n\nusage: wmsim tokenizer train --data CLIPS";
    ck_assert_msg(strncmp(out, usage, strlen(usage)) == 0, "%s", out);
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"tokenizer", "train", "--data", clips, "--out", m, "--down", "4",
                                                      NULL}),
                     2);
    ck_assert_int_eq(strncmp(out, "wmsim: --down: expected 8 or 16, got '4'\n", 41), 0);
    free(out);
    for (int k = 0; k < 3; k++) { /* outside (0, 1], and not a number */
        const char *bad[] = {"0", "2", "1e-3x"};
        char want[128];
        snprintf(want, sizeof want, "wmsim: --lr: expected a rate in (0, 1], got '%s'\n\nusage: ", bad[k]);
        ck_assert_int_eq(run_wmsim(&out, (const char *[]){"tokenizer", "train", "--data", clips, "--out", m, "--lr",
                                                          bad[k], NULL}),
                         2);
        ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s", out);
        free(out);
    }
    /* The model without its state: nothing to resume from. */
    copy_model(dir, (const char *[]){""}, 1);
    snprintf(want, sizeof want, "wmsim: resume: %s.state: cannot open: No such file or directory\n", m);
    expect_exact(1, want, (const char *[]){"tokenizer", "train", "--data", clips, "--out", m, "--resume", "--steps",
                                           "40", MODEL_ARGS, NULL});
    /* --resume keeps the architecture. */
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"tokenizer", "train", "--data", clips, "--out", m, "--resume",
                                                      "--steps", "40", "--codebook", "64", NULL}),
                     2);
    snprintf(want, sizeof want,
             "wmsim: tokenizer train --resume: --codebook differs from the model's 32 (%s); leave it out\n", m);
    ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s", out);
    free(out);
    /* Clips without a validation split: said, not skipped. */
    char one[4400];
    join(one, sizeof one, dir, "one");
    int rc = run_wmsim(&out, (const char *[]){"clips", "generate", "--scenarios",
                                              src_path("scenarios/examples/cut_in.pbtxt"), "--seconds", "1", "--size",
                                              "32x16", "--out", one, NULL});
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    snprintf(want, sizeof want, "wmsim: validation frames: %s: no windows of 1 frames in the validation split "
             "(0 clips there, 0 of them shorter; 1 in the other split; 0 incomplete skipped) (--val-frames 0 trains "
             "without validation)\n", one);
    join(m, sizeof m, dir, "fresh/m.wmck");
    expect_exact(1, want, (const char *[]){"tokenizer", "train", "--data", one, "--out", m, "--steps", "2", MODEL_ARGS,
                                           NULL});
    test_remove_tree(dir);
    free(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("tokenizer_cli");
    TCase *tc = tcase_create("tokenizer_cli");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, make_fixture, free_fixture);
    tcase_add_test(tc, frame_source_streams_planar_frames_endlessly);
    tcase_add_test(tc, frame_source_seek_is_bit_identical_to_reading_through);
    tcase_add_test(tc, frame_source_read_takes_a_split);
    tcase_add_test(tc, help_lists_the_tokenizer);
    tcase_add_test(tc, train_writes_model_state_log_and_chart);
    tcase_add_test(tc, resume_continues_log_and_matches_one_run);
    tcase_add_test(tc, eval_prints_metrics_and_writes_a_sheet);
    tcase_add_test(tc, encode_decode_round_trip);
    tcase_add_test(tc, decode_rejects_bad_token_files);
    tcase_add_test(tc, bad_models_and_frames_are_clear_errors);
    tcase_add_test(tc, train_rejects_bad_usage_and_missing_state);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
