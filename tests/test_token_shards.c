/* Token shards end to end: `wmsim worldmodel tokenize` run as the real
 * binary on a real clip set with a real (tiny) tokenizer, then read back
 * with datasets/token_shards.h and checked against the clips themselves
 * (states.jsonl, frames.mkv through clip_reader, `wmsim tokenizer encode`).
 *
 * The fixture (unchecked, once per test case): `wmsim clips generate` of 2
 * scenarios x 6 variations x 2 s at 32x16 (21 frames a clip; v0005 of each
 * is in validation), a tokenizer trained for 10 steps, and shards of at
 * most 64 frames (3 clips each: 4 shards). Tests that damage files work on
 * copies. */
#include <dirent.h>
#include <jansson.h>
#include <math.h>

#include "core/fileio.h"
#include "datasets/clip_reader.h"
#include "datasets/token_shards.h"
#include "render/image.h"
#include "testutil.h"
#include "worldmodel/tokenizer.h"

#define W 32
#define H 16
#define CLIP_FRAMES 21
#define N_CLIPS 12
#define VAL_CLIPS 2
#define N_SHARDS 4
#define P 8 /* 4 x 2 tokens */
#define K TOKEN_SHARDS_DEFAULT_SLOTS
#define S TOKEN_SHARDS_SLOT_FEATURES

static char *fixture_dir, clips[4200], model[4200], shards[4200];



static void make_fixture(void) {
    fixture_dir = test_tmpdir();
    make_tiny_clips_and_tokenizer(fixture_dir, clips, model);
    join(shards, sizeof shards, fixture_dir, "shards");
    char *out;
    int rc = run_wmsim(&out, (const char *[]){"worldmodel", "tokenize", "--data", clips, "--tokenizer", model, "--out",
                                              shards, "--shard-frames", "64", "--quiet", NULL});
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert_msg(out[0] == 0, "--quiet printed '%s'", out);
    free(out);
}

static void free_fixture(void) {
    test_remove_tree(fixture_dir);
    free(fixture_dir);
}

static void copy_file(const char *from, const char *to) {
    uint8_t *data;
    size_t len;
    wm_error err;
    ck_assert_msg(file_read_all(from, 1 << 28, &data, &len, &err) == 0, "%s", err.msg);
    ck_assert_msg(file_write_atomic(to, data, len, &err) == 0, "%s", err.msg);
    free(data);
}

/* A copy of the fixture's shards folder under dir/NAME. */
static void copy_shards(const char *dir, char *out, size_t n) {
    join(out, n, dir, "sh");
    wm_error err;
    ck_assert_msg(dir_create(out, &err) == 0, "%s", err.msg);
    char from[4400], to[4400], name[32];
    for (int k = 0; k <= N_SHARDS; k++) {
        if (k < N_SHARDS) snprintf(name, sizeof name, "shard_%05d.wmts", k);
        else snprintf(name, sizeof name, "%s", TOKEN_SHARDS_INDEX);
        join(from, sizeof from, shards, name);
        join(to, sizeof to, out, name);
        copy_file(from, to);
    }
}

static void expect_open_error(const char *root, const char *want) {
    token_shards *ts;
    wm_error err;
    ck_assert_int_eq(token_shards_open(&ts, root, &err), -1);
    ck_assert_str_eq(err.msg, want);
}

/* ---- round trip ------------------------------------------------------------ */

/* The frames of one clip, in order, as (F, 3, H, W) floats. */
static float *clip_frames(const char *dir, int *F) {
    clip_reader_config cfg = clip_reader_config_default();
    cfg.root = dir;
    cfg.context = 1, cfg.horizon = 0, cfg.val_fraction = 0, cfg.shuffle_buffer = 1, cfg.interleave = 1;
    clip_reader *r;
    wm_error err;
    ck_assert_msg(clip_reader_open(&r, &cfg, &err) == 0, "%s", err.msg);
    const size_t plane = W * H;
    float *x = MALLOC_CHECK(CLIP_FRAMES * 3 * plane * sizeof(float));
    const clip_window *w;
    int n = 0, rc;
    while ((rc = clip_reader_next(r, &w, &err)) == 1) {
        ck_assert_int_lt(n, CLIP_FRAMES);
        ck_assert_int_eq(w->start, n);
        for (size_t p = 0; p < plane; p++)
            for (int c = 0; c < 3; c++) x[(size_t)n * 3 * plane + c * plane + p] = w->frames[3 * p + c] / 255.0f;
        n++;
    }
    ck_assert_msg(rc == 0, "%s", err.msg);
    clip_reader_close(r);
    *F = n;
    return x;
}

START_TEST(shards_hold_the_clips_tokens_actions_and_slots) {
    token_shards *ts;
    wm_error err;
    ck_assert_msg(token_shards_open(&ts, shards, &err) == 0, "%s", err.msg);
    ck_assert_msg(token_shards_check_tokenizer(ts, model, &err) == 0, "%s", err.msg);
    const token_shards_info *in = token_shards_info_get(ts);
    ck_assert_int_eq(in->shards, N_SHARDS);
    ck_assert_int_eq(in->clips, N_CLIPS);
    ck_assert_int_eq(in->validation_clips, VAL_CLIPS);
    ck_assert_int_eq(in->train_clips, N_CLIPS - VAL_CLIPS);
    ck_assert_int_eq(in->frames, N_CLIPS * CLIP_FRAMES);
    ck_assert_int_eq(in->validation_frames, VAL_CLIPS * CLIP_FRAMES);
    ck_assert_int_eq(in->hz * in->wz, P);
    ck_assert_int_eq(in->wz, W / 8);
    ck_assert_int_eq(in->vocab, 32);
    ck_assert_int_eq(in->actions, TOKEN_SHARDS_ACTIONS);
    ck_assert_int_eq(in->slots, K);
    ck_assert_int_eq(in->slot_features, S);

    tokenizer tk;
    ck_assert_msg(tokenizer_load(&tk, model, CLIP_FRAMES, &err) == 0, "%s", err.msg);
    int *codes = MALLOC_CHECK(CLIP_FRAMES * P * sizeof(int));
    clip_state *st = MALLOC_CHECK(sizeof *st);
    const char *scen[2] = {"cut_in", "guard_stop_proceed"};
    const token_clip *c;
    int n = 0, rc, slots_seen = 0, actions_nonzero = 0;
    while ((rc = token_shards_next(ts, &c, &err)) == 1) {
        char want[64], dir[4400];
        snprintf(want, sizeof want, "%s/v%04d", scen[n / 6], n % 6); /* sorted */
        ck_assert_str_eq(c->name, want);
        ck_assert_int_eq(c->shard, n / 3);
        ck_assert_int_eq(c->validation, clip_reader_in_validation(c->name, 0.1));
        ck_assert_int_eq(c->validation, n % 6 == 5);
        ck_assert_int_eq(c->frames, CLIP_FRAMES);
        join(dir, sizeof dir, clips, c->name);
        /* Codes: the tokenizer on the clip's decoded frames, exactly. */
        int F;
        float *x = clip_frames(dir, &F);
        ck_assert_int_eq(F, CLIP_FRAMES);
        tokenizer_encode(&tk, x, F, codes);
        for (int j = 0; j < F * P; j++) ck_assert_msg(c->codes[j] == codes[j], "%s: frame %d token %d", c->name, j / P, j % P);
        free(x);
        /* Actions and slots: states.jsonl's. */
        char path[4500];
        join(path, sizeof path, dir, CLIP_FILE_STATES);
        uint8_t *text;
        size_t len;
        ck_assert_msg(file_read_all(path, 1 << 24, &text, &len, &err) == 0, "%s", err.msg);
        char *save = NULL, *line = strtok_r((char *)text, "\n", &save);
        for (int i = 0; i < F; i++, line = strtok_r(NULL, "\n", &save)) {
            ck_assert_ptr_nonnull(line);
            ck_assert_msg(clip_state_from_json(line, st, &err) == 0, "%s", err.msg);
            const float *a = c->actions + i * TOKEN_SHARDS_ACTIONS;
            ck_assert_int_eq(st->has_action, i < F - 1);
            ck_assert(a[TOKEN_ACTION_ACCEL] == (st->has_action ? (float)st->action.accel : 0.0f));
            ck_assert(a[TOKEN_ACTION_BRAKE] == (st->has_action ? (float)st->action.brake : 0.0f));
            ck_assert(a[TOKEN_ACTION_STEER] == (st->has_action ? (float)st->action.steer : 0.0f));
            ck_assert(a[TOKEN_ACTION_SPEED] == (float)st->speed);
            actions_nonzero += a[TOKEN_ACTION_ACCEL] != 0 || a[TOKEN_ACTION_BRAKE] != 0;
            /* Slots: present ones nearest first, each one of the frame's actors. */
            const float *s = c->slots + (size_t)i * K * S;
            int present = 0;
            double last = 0;
            for (int k = 0; k < K; k++, s += S) {
                if (s[TOKEN_SLOT_PRESENT] == 0) {
                    for (int f = 0; f < S; f++) ck_assert(s[f] == 0);
                    continue;
                }
                ck_assert_int_eq(k, present); /* absent slots come last */
                present++;
                double d = hypot(s[TOKEN_SLOT_X], s[TOKEN_SLOT_Y]);
                ck_assert(d >= last - 1e-4);
                last = d;
                int found = 0;
                for (int q = 0; q < st->n_actors && !found; q++) {
                    const clip_actor *ac = &st->actors[q];
                    found = (float)ac->x == s[TOKEN_SLOT_X] && (float)ac->y == s[TOKEN_SLOT_Y] &&
                            (float)ac->heading == s[TOKEN_SLOT_HEADING] && (float)ac->speed == s[TOKEN_SLOT_SPEED] &&
                            (int)ac->kind + 1 == (int)s[TOKEN_SLOT_KIND] &&
                            (ac->kind == ACTOR_GUARD ? (int)ac->gesture : 0) == (int)s[TOKEN_SLOT_GESTURE];
                }
                ck_assert_msg(found, "%s frame %d slot %d is none of its actors", c->name, i, k);
            }
            ck_assert_int_eq(present, st->n_actors < K ? st->n_actors : K);
            slots_seen += present;
        }
        free(text);
        n++;
    }
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert_int_eq(n, N_CLIPS);
    ck_assert_msg(slots_seen > 0, "no actor in view in any frame: the slots went untested");
    ck_assert_msg(actions_nonzero > 0, "every action is zero: the actions went untested");
    /* Rewind gives the same first clip. */
    token_shards_rewind(ts);
    ck_assert_int_eq(token_shards_next(ts, &c, &err), 1);
    ck_assert_str_eq(c->name, "cut_in/v0000");
    free(codes), free(st);
    tokenizer_free(&tk);
    token_shards_close(ts);
}
END_TEST

START_TEST(codes_equal_the_cli_encoder) {
    /* Frames 0 and 20 of one clip as PNGs through `wmsim tokenizer encode`. */
    token_shards *ts;
    wm_error err;
    ck_assert_msg(token_shards_open(&ts, shards, &err) == 0, "%s", err.msg);
    const token_clip *c;
    ck_assert_int_eq(token_shards_next(ts, &c, &err), 1);
    char dir[4400], png[4400];
    join(dir, sizeof dir, clips, c->name);
    int F;
    float *x = clip_frames(dir, &F);
    char *tmp = test_tmpdir();
    join(png, sizeof png, tmp, "f.png");
    const int at[] = {0, CLIP_FRAMES - 1};
    for (int q = 0; q < 2; q++) {
        image img;
        image_init(&img, W, H);
        for (int p = 0; p < W * H; p++)
            for (int ch = 0; ch < 3; ch++)
                img.rgb[3 * p + ch] = (uint8_t)lrintf(x[(size_t)at[q] * 3 * W * H + ch * W * H + p] * 255.0f);
        ck_assert_msg(image_write_png(&img, png, &err) == 0, "%s", err.msg);
        image_free(&img);
        char *out;
        int rc = run_wmsim(&out, (const char *[]){"tokenizer", "encode", "--model", model, png, NULL});
        ck_assert_msg(rc == 0, "%s", out);
        char *p = out, *e;
        for (int j = 0; j < P; j++, p = e) {
            long v = strtol(p, &e, 10);
            ck_assert_msg(e != p, "token %d missing in '%s'", j, out);
            ck_assert_int_eq(v, c->codes[at[q] * P + j]);
        }
        free(out);
    }
    free(x);
    test_remove_tree(tmp);
    free(tmp);
    token_shards_close(ts);
}
END_TEST

START_TEST(index_json_counts_shards_clips_and_splits) {
    char path[4400];
    join(path, sizeof path, shards, TOKEN_SHARDS_INDEX);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    ck_assert_msg(j != NULL, "%s", je.text);
    json_t *t = json_object_get(j, "totals");
    ck_assert_int_eq(json_integer_value(json_object_get(t, "clips")), N_CLIPS);
    ck_assert_int_eq(json_integer_value(json_object_get(t, "frames")), N_CLIPS * CLIP_FRAMES);
    ck_assert_int_eq(json_integer_value(json_object_get(t, "train_clips")), N_CLIPS - VAL_CLIPS);
    ck_assert_int_eq(json_integer_value(json_object_get(t, "validation_frames")), VAL_CLIPS * CLIP_FRAMES);
    json_t *sh = json_object_get(j, "shards"), *cl = json_object_get(j, "clips");
    ck_assert_int_eq(json_array_size(sh), N_SHARDS);
    ck_assert_int_eq(json_array_size(cl), N_CLIPS);
    for (int k = 0; k < N_SHARDS; k++) {
        json_t *s = json_array_get(sh, k);
        char name[32], sp[4400];
        snprintf(name, sizeof name, "shard_%05d.wmts", k);
        ck_assert_str_eq(json_string_value(json_object_get(s, "file")), name);
        ck_assert_int_eq(json_integer_value(json_object_get(s, "clips")), 3);
        ck_assert_int_eq(json_integer_value(json_object_get(s, "frames")), 3 * CLIP_FRAMES);
        join(sp, sizeof sp, shards, name);
        struct stat sb;
        ck_assert_int_eq(stat(sp, &sb), 0);
        ck_assert_int_eq(json_integer_value(json_object_get(s, "bytes")), sb.st_size);
    }
    for (int i = 0; i < N_CLIPS; i++) {
        json_t *c = json_array_get(cl, i);
        const char *name = json_string_value(json_object_get(c, "name"));
        ck_assert_str_eq(json_string_value(json_object_get(c, "split")),
                         clip_reader_in_validation(name, 0.1) ? "validation" : "train");
        ck_assert_int_eq(json_integer_value(json_object_get(c, "shard")), i / 3);
    }
    json_decref(j);
}
END_TEST

/* ---- damage ------------------------------------------------------------------ */

static void rewrite(const char *path, void (*edit)(uint8_t *d, size_t *len)) {
    uint8_t *d;
    size_t len;
    wm_error err;
    ck_assert_msg(file_read_all(path, 1 << 28, &d, &len, &err) == 0, "%s", err.msg);
    edit(d, &len);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(d, 1, len, f), len);
    fclose(f);
    free(d);
}
static void flip_middle(uint8_t *d, size_t *len) { d[*len / 2] ^= 0x10; }
static void cut_100(uint8_t *d, size_t *len) { (void)d, *len -= 100; }
static void bad_magic(uint8_t *d, size_t *len) { (void)len, memcpy(d, "\x89PNG", 4); }
static void version_2(uint8_t *d, size_t *len) { (void)len, d[4] = 2; }

START_TEST(damaged_shards_are_exact_errors_naming_the_file) {
    char *tmp = test_tmpdir(), root[4400], path[4500], want[5000];
    copy_shards(tmp, root, sizeof root);
    struct stat sb;

    join(path, sizeof path, root, "shard_00001.wmts");
    rewrite(path, flip_middle);
    snprintf(want, sizeof want, "%s: checksum mismatch (file corrupt)", path);
    expect_open_error(root, want);
    copy_shards(tmp, root, sizeof root);

    join(path, sizeof path, root, "shard_00002.wmts");
    rewrite(path, cut_100);
    ck_assert_int_eq(stat(path, &sb), 0);
    snprintf(want, sizeof want, "%s: truncated: %lld bytes, record 2 of 3 runs past the end", path,
             (long long)sb.st_size);
    expect_open_error(root, want);
    copy_shards(tmp, root, sizeof root);

    join(path, sizeof path, root, "shard_00000.wmts");
    rewrite(path, bad_magic);
    snprintf(want, sizeof want, "%s: not a wmsim token shard (magic 0x474e5089, expected 20261201)", path);
    expect_open_error(root, want);
    copy_shards(tmp, root, sizeof root);

    rewrite(path, version_2);
    snprintf(want, sizeof want, "%s: format version 2 is newer than this wmsim reads (1)", path);
    expect_open_error(root, want);

    /* Without index.json the folder is incomplete. */
    join(path, sizeof path, root, TOKEN_SHARDS_INDEX);
    unlink(path);
    snprintf(want, sizeof want,
             "%s: missing: not a complete folder of token shards (wmsim worldmodel tokenize writes it last)", path);
    expect_open_error(root, want);
    test_remove_tree(tmp);
    free(tmp);
}
END_TEST

START_TEST(a_tokenizer_of_another_size_is_refused_naming_both) {
    char *tmp = test_tmpdir(), other[4400], out_dir[4400], want[9000];
    join(other, sizeof other, tmp, "other.wmck");
    join(out_dir, sizeof out_dir, tmp, "sh");
    tokenizer_config cfg = tokenizer_config_default();
    cfg.width = 32, cfg.height = 32, cfg.channels = 8, cfg.code_dim = 8, cfg.codebook_size = 32;
    tokenizer tk;
    wm_error err;
    ck_assert_msg(tokenizer_init(&tk, &cfg, 1, 1, &err) == 0, "%s", err.msg);
    uint64_t sum;
    ck_assert_msg(tokenizer_save(&tk, other, &sum, &err) == 0, "%s", err.msg);
    tokenizer_free(&tk);

    token_shards *ts;
    ck_assert_msg(token_shards_open(&ts, shards, &err) == 0, "%s", err.msg);
    const token_shards_info *in = token_shards_info_get(ts);
    snprintf(want, sizeof want,
             "%s/index.json: made by tokenizer 0x%016llx (4x2 tokens of 32x16 frames, 32 codes), but %s is "
             "0x%016llx (4x4 tokens of 32x32 frames, 32 codes)",
             shards, (unsigned long long)in->tokenizer_checksum, other, (unsigned long long)sum);
    ck_assert_int_eq(token_shards_check_tokenizer(ts, other, &err), -1);
    ck_assert_str_eq(err.msg, want);
    token_shards_close(ts);

    char *out;
    int rc = run_wmsim(&out, (const char *[]){"worldmodel", "tokenize", "--data", clips, "--tokenizer", other, "--out",
                                              out_dir, NULL});
    snprintf(want, sizeof want, "wmsim: %s/cut_in/v0000/meta.json: frames are 32x16, but %s takes 32x32\n", clips,
             other);
    ck_assert_int_eq(rc, 1);
    ck_assert_str_eq(out, want);
    free(out);
    test_remove_tree(tmp);
    free(tmp);
}
END_TEST

/* A meta.json that claims far more frames than the clip holds (a damaged or
 * hostile clip) is an error naming states.jsonl, not an allocation sized by
 * the claim. */
START_TEST(a_clip_claiming_more_frames_than_it_holds_is_refused) {
    char *tmp = test_tmpdir(), root[4400], dir[4600], from[4800], to[4800], src_dir[4400], want[9000];
    join(root, sizeof root, tmp, "clips");
    snprintf(dir, sizeof dir, "%s/cut_in/v0000", root);
    snprintf(src_dir, sizeof src_dir, "%s/cut_in/v0000", clips);
    wm_error err;
    ck_assert_msg(dir_create(dir, &err) == 0, "%s", err.msg);
    DIR *d = opendir(src_dir);
    ck_assert_ptr_nonnull(d);
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        join(from, sizeof from, src_dir, e->d_name);
        join(to, sizeof to, dir, e->d_name);
        copy_file(from, to);
    }
    closedir(d);
    join(to, sizeof to, dir, "meta.json");
    json_error_t je;
    json_t *meta = json_load_file(to, 0, &je);
    ck_assert_msg(meta != NULL, "%s", je.text);
    ck_assert_int_eq(json_integer_value(json_object_get(meta, "frames")), CLIP_FRAMES);
    json_object_set_new(meta, "frames", json_integer(2000000000));
    ck_assert_int_eq(json_dump_file(meta, to, JSON_PRESERVE_ORDER), 0);
    json_decref(meta);
    char out_dir[4400], *out;
    join(out_dir, sizeof out_dir, tmp, "sh");
    int rc = run_wmsim(&out, (const char *[]){"worldmodel", "tokenize", "--data", root, "--tokenizer", model, "--out",
                                              out_dir, NULL});
    snprintf(want, sizeof want, "wmsim: %s/states.jsonl: %d lines, but meta.json says 2000000000 frames\n", dir,
             CLIP_FRAMES);
    ck_assert_int_eq(rc, 1);
    ck_assert_str_eq(out, want);
    free(out);
    test_remove_tree(tmp);
    free(tmp);
}
END_TEST

/* ---- the command line -------------------------------------------------------- */

START_TEST(cli_usage_summary_and_rerun) {
    char *out;
    int rc = run_wmsim(&out, (const char *[]){"worldmodel", "tokenize", "--tokenizer", model, "--out", "x", NULL});
    ck_assert_int_eq(rc, 2);
    ck_assert_msg(strncmp(out, "wmsim: worldmodel tokenize: missing --data\n\nusage: wmsim worldmodel tokenize", 74) == 0,
                  "%s", out);
    free(out);
    rc = run_wmsim(&out, (const char *[]){"worldmodel", "tokenize", "--data", clips, "--tokenizer", model, "--out", "x",
                                          "--slots", "65", NULL});
    ck_assert_int_eq(rc, 2);
    free(out);
    rc = run_wmsim(&out, (const char *[]){"--help", NULL});
    ck_assert_ptr_nonnull(strstr(out, "  worldmodel tokenize"));
    free(out);

    /* Not quiet: one summary line. A rerun into the same folder with one
     * bigger shard removes the stale ones. */
    char *tmp = test_tmpdir(), root[4400], path[4500], want[5000];
    copy_shards(tmp, root, sizeof root);
    rc = run_wmsim(&out, (const char *[]){"worldmodel", "tokenize", "--data", clips, "--tokenizer", model, "--out",
                                          root, "--slots", "2", NULL});
    ck_assert_msg(rc == 0, "%s", out);
    snprintf(want, sizeof want, "%s: 12 clips (10 train, 2 validation), 252 frames, in 1 shard of ", root);
    ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s", out);
    ck_assert_msg(strchr(out, '\n') == out + strlen(out) - 1, "not one line: %s", out);
    free(out);
    join(path, sizeof path, root, "shard_00001.wmts");
    ck_assert_int_eq(access(path, F_OK), -1);
    token_shards *ts;
    wm_error err;
    ck_assert_msg(token_shards_open(&ts, root, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(token_shards_info_get(ts)->shards, 1);
    ck_assert_int_eq(token_shards_info_get(ts)->slots, 2);
    token_shards_close(ts);
    test_remove_tree(tmp);
    free(tmp);
}
END_TEST

int main(void) {
    Suite *s = suite_create("token_shards");
    TCase *tc = tcase_create("token_shards");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, make_fixture, free_fixture);
    tcase_add_test(tc, shards_hold_the_clips_tokens_actions_and_slots);
    tcase_add_test(tc, codes_equal_the_cli_encoder);
    tcase_add_test(tc, index_json_counts_shards_clips_and_splits);
    tcase_add_test(tc, damaged_shards_are_exact_errors_naming_the_file);
    tcase_add_test(tc, a_tokenizer_of_another_size_is_refused_naming_both);
    tcase_add_test(tc, a_clip_claiming_more_frames_than_it_holds_is_refused);
    tcase_add_test(tc, cli_usage_summary_and_rerun);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
