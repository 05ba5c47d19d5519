/* `wmsim worldmodel train` end to end, as the real binary on real token
 * shards, and datasets/window_source.h on the same shards.
 *
 * The fixture (unchecked, once): test_token_shards.c's — `wmsim clips
 * generate` of 2 scenarios x 6 variations x 2 s at 32x16 (21 frames a clip,
 * 10 train clips and 2 validation), a tokenizer trained for 10 steps (32
 * codes, 4x2 tokens) and its shards. The dynamics model is tiny: 2 frames,
 * 1 layer of 16 channels, 2 heads. */
#include <math.h>

#include "core/fileio.h"
#include "datasets/token_shards.h"
#include "datasets/window_source.h"
#include "testutil.h"
#include "worldmodel/dynamics_model.h"
#include "worldmodel/dynamics_train.h"

#define CLIP_FRAMES 21
#define TRAIN_CLIPS 10
#define P 8
#define K TOKEN_SHARDS_DEFAULT_SLOTS
#define S TOKEN_SHARDS_SLOT_FEATURES
#define A TOKEN_SHARDS_ACTIONS
#define VOCAB 32

static char *fixture_dir, clips[4200], model[4200], shards[4200];



static void make_fixture(void) {
    fixture_dir = test_tmpdir();
    make_tiny_clips_and_tokenizer(fixture_dir, clips, model);
    join(shards, sizeof shards, fixture_dir, "shards");
    run_wmsim_ok((const char *[]){"worldmodel", "tokenize", "--data", clips, "--tokenizer", model, "--out", shards,
                            "--shard-frames", "64", "--quiet", NULL});
}

static void free_fixture(void) {
    test_remove_tree(fixture_dir);
    free(fixture_dir);
}

/* Runs `wmsim worldmodel train` on the fixture's shards with the tiny
 * model and extra (NULL-terminated) arguments; returns the exit status
 * and the output (caller frees). */
static int train(char **out, const char *model_path, const char *const *extra) {
    const char *args[64] = {"worldmodel", "train", "--shards", shards, "--out", model_path, "--frames", "2",
                            "--layers", "1", "--channels", "16", "--heads", "2", "--val-every", "10"};
    int n = 16;
    for (int i = 0; extra[i]; i++) args[n++] = extra[i];
    args[n] = NULL;
    return run_wmsim(out, args);
}

static void train_ok(const char *model_path, const char *const *extra) {
    char *out;
    int rc = train(&out, model_path, extra);
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
}

static void expect_same_file(const char *a, const char *b) {
    uint8_t *x, *y;
    size_t nx, ny;
    wm_error err;
    ck_assert_msg(file_read_all(a, 1 << 28, &x, &nx, &err) == 0, "%s", err.msg);
    ck_assert_msg(file_read_all(b, 1 << 28, &y, &ny, &err) == 0, "%s", err.msg);
    ck_assert_msg(nx == ny && memcmp(x, y, nx) == 0, "%s and %s differ", a, b);
    free(x), free(y);
}

/* ---- the command ------------------------------------------------------------ */

START_TEST(train_writes_model_state_csv_chart_and_one_line) {
    char *tmp = test_tmpdir(), path[4400], want[20000], file[4500];
    join(path, sizeof path, tmp, "d.wmck");
    char *out;
    int rc = train(&out, path, (const char *[]){"--steps", "12", "--batch", "4", NULL});
    ck_assert_msg(rc == 0, "%s", out);
    snprintf(want, sizeof want, "%s: steps 1-12 of 12 in ", path);
    ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s", out);
    ck_assert_msg(strchr(out, '\n') == out + strlen(out) - 1, "not one line: %s", out);
    snprintf(want, sizeof want, "; validation (40 windows) loss ");
    ck_assert_msg(strstr(out, want), "%s", out);
    snprintf(want, sizeof want, "; wrote %s, %s.state, %s.csv and %s.png\n", path, path, path, path);
    ck_assert_msg(strstr(out, want), "%s", out);
    free(out);
    const char *ext[] = {".state", ".csv", ".png"};
    for (int i = 0; i < 3; i++) {
        snprintf(file, sizeof file, "%s%s", path, ext[i]);
        ck_assert_msg(access(file, F_OK) == 0, "no %s", file);
    }
    dynamics_model dm;
    wm_error err;
    ck_assert_msg(dynamics_load(&dm, path, 1, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(dm.cfg.vocab, VOCAB);
    ck_assert_int_eq(dm.cfg.frame_tokens, P);
    ck_assert_int_eq(dm.cfg.slots, K);
    ck_assert_int_eq(dm.cfg.slot_dim, S);
    ck_assert_int_eq(dm.cfg.action_dim, A);
    ck_assert_int_eq(dm.cfg.frames, 2);
    ck_assert_int_eq(dm.cfg.layers, 1);
    ck_assert_int_eq(dm.cfg.channels, 16);
    ckpt_train_progress p;
    snprintf(file, sizeof file, "%s.state", path);
    ck_assert_msg(dynamics_load_state(&dm, file, &p, &err) == 0, "%s", err.msg);
    ck_assert_int_eq((int)p.step, 12);
    ck_assert_int_eq((int)p.position, 48);
    dynamics_free(&dm);
    /* The CSV: header, rows at the log interval (50: only the last) and the validations. */
    snprintf(file, sizeof file, "%s.csv", path);
    uint8_t *csv;
    size_t len;
    ck_assert_msg(file_read_all(file, 1 << 20, &csv, &len, &err) == 0, "%s", err.msg);
    const char *header =
        "step,lr,loss,grad_norm,skipped,windows_per_s,val_loss,val_accuracy,val_mask_loss,val_mask_accuracy,"
        "val_changed_accuracy,val_mask_changed_accuracy\n10,";
    ck_assert_msg(strncmp((char *)csv, header, strlen(header)) == 0, "%.*s", (int)len, (char *)csv);
    ck_assert_ptr_nonnull(strstr((char *)csv, "\n12,"));
    free(csv);
    test_remove_tree(tmp);
    free(tmp);
}
END_TEST

START_TEST(stop_then_resume_equals_an_unbroken_run_byte_for_byte) {
    char *tmp = test_tmpdir(), a[4400], b[4400], sa[4500], sb[4500];
    join(a, sizeof a, tmp, "a.wmck");
    join(b, sizeof b, tmp, "b.wmck");
    train_ok(a, (const char *[]){"--steps", "24", "--batch", "3", "--seed", "5", "--quiet", NULL});
    train_ok(b, (const char *[]){"--steps", "24", "--batch", "3", "--seed", "5", "--stop-at", "11", "--quiet", NULL});
    train_ok(b, (const char *[]){"--steps", "24", "--batch", "3", "--seed", "5", "--resume", "--quiet", NULL});
    snprintf(sa, sizeof sa, "%s.state", a);
    snprintf(sb, sizeof sb, "%s.state", b);
    expect_same_file(a, b);
    expect_same_file(sa, sb);
    /* The same with changing tokens weighted: resumed equals unbroken, and the weight changes the model. */
    char c[4400], d[4400], sc[4500], sd[4500];
    join(c, sizeof c, tmp, "c.wmck");
    join(d, sizeof d, tmp, "d.wmck");
    const char *w[] = {"--changed-weight", "4"};
    train_ok(c, (const char *[]){"--steps", "24", "--batch", "3", "--seed", "5", w[0], w[1], "--quiet", NULL});
    train_ok(d, (const char *[]){"--steps", "24", "--batch", "3", "--seed", "5", w[0], w[1], "--stop-at", "11", "--quiet",
                                 NULL});
    train_ok(d, (const char *[]){"--steps", "24", "--batch", "3", "--seed", "5", w[0], w[1], "--resume", "--quiet", NULL});
    snprintf(sc, sizeof sc, "%s.state", c);
    snprintf(sd, sizeof sd, "%s.state", d);
    expect_same_file(c, d);
    expect_same_file(sc, sd);
    uint8_t *x, *y;
    size_t nx, ny;
    wm_error err;
    ck_assert_msg(file_read_all(a, 1 << 26, &x, &nx, &err) == 0, "%s", err.msg);
    ck_assert_msg(file_read_all(c, 1 << 26, &y, &ny, &err) == 0, "%s", err.msg);
    ck_assert_msg(nx == ny && memcmp(x, y, nx) != 0, "the changed-token weight changed nothing");
    free(x), free(y);
    test_remove_tree(tmp);
    free(tmp);
}
END_TEST

START_TEST(a_fresh_run_over_a_state_and_a_resume_with_another_batch_are_refused) {
    char *tmp = test_tmpdir(), path[4400], want[9000];
    join(path, sizeof path, tmp, "d.wmck");
    train_ok(path, (const char *[]){"--steps", "4", "--batch", "2", "--quiet", NULL});
    char *out;
    int rc = train(&out, path, (const char *[]){"--steps", "4", "--batch", "2", "--quiet", NULL});
    ck_assert_int_eq(rc, 1);
    snprintf(want, sizeof want,
             "wmsim: %s.state: a training state is already there: resume it, or remove it to start afresh\n", path);
    ck_assert_str_eq(out, want);
    free(out);
    rc = train(&out, path, (const char *[]){"--steps", "8", "--batch", "3", "--resume", "--quiet", NULL});
    ck_assert_int_eq(rc, 1);
    snprintf(want, sizeof want, "wmsim: %s.state: trained with batch 2 on stream ", path);
    ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s", out);
    ck_assert_msg(strstr(out, "but this run has batch 3 on stream ") &&
                      strstr(out, ": a resume must read the data in the same order\n"),
                  "%s", out);
    free(out);
    /* Another seed is another window order. */
    rc = train(&out, path, (const char *[]){"--steps", "8", "--batch", "2", "--seed", "9", "--resume", "--quiet", NULL});
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(out, "a resume must read the data in the same order"), "%s", out);
    free(out);
    /* Another mask share trains other steps on the masked objective. */
    rc = train(&out, path,
               (const char *[]){"--steps", "8", "--batch", "2", "--mask-share", "0.25", "--resume", "--quiet", NULL});
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(out, "a resume must read the data in the same order"), "%s", out);
    free(out);
    rc = train(&out, path,
               (const char *[]){"--steps", "8", "--batch", "2", "--changed-weight", "3", "--resume", "--quiet", NULL});
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(out, "a resume must read the data in the same order"), "%s", out);
    free(out);
    rc = train(&out, path, (const char *[]){"--steps", "8", "--changed-weight", "0", "--quiet", NULL});
    ck_assert_int_eq(rc, 2);
    ck_assert_msg(strncmp(out, "wmsim: --changed-weight: expected a weight in (0, 1000], got '0'\n", 65) == 0, "%s", out);
    free(out);
    rc = train(&out, path, (const char *[]){"--steps", "8", "--mask-share", "1.5", "--quiet", NULL});
    ck_assert_int_eq(rc, 2);
    ck_assert_msg(strncmp(out, "wmsim: --mask-share: expected a share in [0, 1], got '1.5'\n", 59) == 0, "%s", out);
    free(out);
    /* Already done. */
    rc = train(&out, path, (const char *[]){"--steps", "4", "--batch", "2", "--resume", "--quiet", NULL});
    ck_assert_int_eq(rc, 1);
    snprintf(want, sizeof want,
             "wmsim: %s.state: training already took 4 steps; ask for more than that with --steps\n", path);
    ck_assert_str_eq(out, want);
    free(out);
    /* A flag that would change the model. */
    rc = train(&out, path, (const char *[]){"--steps", "8", "--batch", "2", "--resume", "--channels", "32", NULL});
    ck_assert_int_eq(rc, 2);
    snprintf(want, sizeof want,
             "wmsim: worldmodel train --resume: --channels differs from the model's 16 (%s); leave it out\n", path);
    ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s", out);
    free(out);
    rc = run_wmsim(&out, (const char *[]){"worldmodel", "train", "--out", path, NULL});
    ck_assert_int_eq(rc, 2);
    ck_assert_msg(strncmp(out, "wmsim: worldmodel train: missing --shards\n", 42) == 0, "%s", out);
    free(out);
    test_remove_tree(tmp);
    free(tmp);
}
END_TEST

/* The loss column of a training CSV, in order. */
static int read_losses(const char *csv_path, double *loss, double *val, int cap) {
    uint8_t *data;
    size_t len;
    wm_error err;
    ck_assert_msg(file_read_all(csv_path, 1 << 20, &data, &len, &err) == 0, "%s", err.msg);
    int n = 0;
    char *save = NULL, *line = strtok_r((char *)data, "\n", &save); /* the header */
    while ((line = strtok_r(NULL, "\n", &save)) && n < cap) {
        int step, skipped;
        double lr, l, g, rate;
        ck_assert_int_ge(sscanf(line, "%d,%lf,%lf,%lf,%d,%lf", &step, &lr, &l, &g, &skipped, &rate), 6);
        loss[n] = l;
        char *v = line;
        for (int commas = 0; commas < 6 && v; commas++) v = strchr(v, ','), v = v ? v + 1 : NULL;
        val[n++] = v && *v && *v != ',' ? atof(v) : NAN;
    }
    free(data);
    return n;
}

START_TEST(the_loss_falls_on_the_tiny_set) {
    char *tmp = test_tmpdir(), path[4400], csv[4500];
    join(path, sizeof path, tmp, "d.wmck");
    train_ok(path, (const char *[]){"--steps", "60", "--batch", "8", "--lr", "0.003", "--log-every", "5", "--quiet",
                                    NULL});
    snprintf(csv, sizeof csv, "%s.csv", path);
    double loss[64], val[64];
    int n = read_losses(csv, loss, val, 64);
    ck_assert_int_eq(n, 12);
    ck_assert_msg(loss[0] > log(VOCAB) - 0.3, "first interval's loss %g is not near ln 32", loss[0]);
    ck_assert_msg(loss[n - 1] < loss[0] - 1.0, "the loss went from %g to %g", loss[0], loss[n - 1]);
    ck_assert_msg(isfinite(val[1]) && isfinite(val[n - 1]) && val[n - 1] < val[1],
                  "validation loss went from %g to %g", val[1], val[n - 1]);
    test_remove_tree(tmp);
    free(tmp);
}
END_TEST

/* ---- window_source ---------------------------------------------------------- */

/* Changed-token accuracy counts only the targets unlike the frame before's
 * token at the same place: none when every frame repeats the first; all of
 * frames 1 .. F-1 when every token changes, where it is the accuracy of
 * those frames' targets (checked against the logits directly). */
START_TEST(validation_separates_the_tokens_that_change) {
    dynamics_config c = dynamics_config_default();
    c.vocab = 16, c.frame_tokens = 4, c.frames = 3, c.slots = 0, c.layers = 1, c.channels = 16, c.heads = 2;
    const int nf = 3, np = 4, nt = dynamics_positions(&c), nl = dynamics_frame_positions(&c), n = 4;
    dynamics_model dm;
    wm_error err;
    ck_assert_msg(dynamics_init(&dm, &c, n, 3, &err) == 0, "%s", err.msg);
    int tokens[4 * 3 * 4], targets[4 * 3 * 5];
    float actions[4 * 3 * 4] = {0};
    for (int k = 0; k < 2; k++) {
        for (int w = 0; w < n; w++)
            for (int f = 0; f < nf; f++)
                for (int j = 0; j < np; j++) tokens[(w * nf + f) * np + j] = k ? (w + 5 * f + j) % 16 : (w + j) % 16;
        dynamics_eval e;
        dynamics_evaluate(&dm, tokens, actions, NULL, n, &e);
        if (k == 0) {
            ck_assert(e.changed_share == 0.0 && e.changed_accuracy == 0.0 && e.mask_changed_accuracy == 0.0);
            continue;
        }
        ck_assert_double_eq_tol(e.changed_share, 2.0 / 3.0, 1e-12);
        dynamics_ar_targets(&c, tokens, n, targets);
        dynamics_forward(&dm, tokens, actions, NULL, n, 1, targets);
        int right = 0, counted = 0;
        for (int r = 0; r < n * nt; r++) {
            if (targets[r] < 0 || (r % nt + 1) / nl == 0) continue;
            const float *lg = dm.logits + (size_t)r * 16;
            int best = 0;
            for (int v = 1; v < 16; v++)
                if (lg[v] > lg[best]) best = v;
            right += best == targets[r], counted++;
        }
        ck_assert_int_eq(counted, n * (nf - 1) * np);
        ck_assert_double_eq_tol(e.changed_accuracy, (double)right / counted, 1e-12);
    }
    dynamics_free(&dm);
}
END_TEST

START_TEST(window_source_seek_equals_reading_through_and_windows_hold_the_clips) {
    window_source *ws;
    wm_error err;
    const int F = 3;
    ck_assert_msg(window_source_open(&ws, shards, WINDOW_SPLIT_TRAIN, F, 2, 7, &err) == 0, "%s", err.msg);
    const window_source_info *in = window_source_info_get(ws);
    ck_assert_int_eq(in->frame_tokens, P);
    ck_assert_int_eq(in->slots, K);
    ck_assert_int_eq(in->clips, TRAIN_CLIPS);
    const int per_clip = (CLIP_FRAMES - F) / 2 + 1; /* starts 0, 2, ..., 18 */
    ck_assert_int_eq(in->windows, TRAIN_CLIPS * per_clip);
    const int n = (int)in->windows * 2 + 7; /* past two epoch boundaries */
    const size_t nt = (size_t)F * P, na = (size_t)F * A, ns = (size_t)F * K * S;
    int *tok = MALLOC_CHECK(n * nt * sizeof(int));
    float *act = MALLOC_CHECK(n * na * sizeof(float)), *slo = MALLOC_CHECK(n * ns * sizeof(float));
    for (int i = 0; i < n; i += 5) {
        int b = n - i < 5 ? n - i : 5;
        ck_assert_int_eq(window_source_next(ws, b, tok + i * nt, act + i * na, slo + i * ns, &err), 0);
    }
    /* An epoch is every window once: its first tokens and first action
     * together tell windows apart well enough to count distinct ones. */
    int t1[nt], t2[nt];
    float a1[na], a2[na];
    for (int e = 0; e < 2; e++) {
        int distinct = 0;
        for (int i = 0; i < in->windows; i++) {
            int same = 0;
            for (int j = 0; j < i && !same; j++)
                same = !memcmp(tok + (e * in->windows + i) * nt, tok + (e * in->windows + j) * nt, nt * sizeof(int)) &&
                       !memcmp(act + (e * in->windows + i) * na, act + (e * in->windows + j) * na, na * sizeof(float));
            distinct += !same;
        }
        ck_assert_int_ge(distinct, in->windows - 2);
    }
    /* The epochs' orders differ. */
    ck_assert(memcmp(tok, tok + in->windows * nt, 10 * nt * sizeof(int)) != 0);
    const uint64_t at[] = {0, 1, 37, (uint64_t)in->windows - 1, (uint64_t)in->windows, (uint64_t)in->windows + 3,
                           (uint64_t)n - 1, 5};
    for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
        ck_assert_int_eq(window_source_seek(ws, at[k], &err), 0);
        int tt[nt];
        float aa[na], ss[ns];
        ck_assert_int_eq(window_source_next(ws, 1, tt, aa, ss, &err), 0);
        ck_assert_msg(!memcmp(tt, tok + at[k] * nt, sizeof tt) && !memcmp(aa, act + at[k] * na, sizeof aa) &&
                          !memcmp(ss, slo + at[k] * ns, sizeof ss),
                      "window %d after a seek differs", (int)at[k]);
    }
    /* A second source of the same seed gives the same stream. */
    window_source *w2;
    ck_assert_msg(window_source_open(&w2, shards, WINDOW_SPLIT_TRAIN, F, 2, 7, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(window_source_seek(w2, 3, &err), 0);
    ck_assert_int_eq(window_source_next(w2, 1, t1, a1, NULL, &err), 0);
    ck_assert(!memcmp(t1, tok + 3 * nt, sizeof t1) && !memcmp(a1, act + 3 * na, sizeof a1));
    window_source_close(w2);

    /* Window 0 of the numbering is the first train clip's frames 0 .. F-1, normalised. */
    token_shards *ts;
    ck_assert_msg(token_shards_open(&ts, shards, &err) == 0, "%s", err.msg);
    const token_clip *c;
    while (token_shards_next(ts, &c, &err) == 1 && c->validation) {
    }
    ck_assert_int_eq(c->validation, 0);
    float s1[ns];
    window_source_get(ws, 0, t2, a2, s1); /* a clip's first frame: no action led to it */
    for (int i = TOKEN_ACTION_ACCEL; i <= TOKEN_ACTION_STEER; i++) ck_assert_float_eq(a2[i], 0.0f);
    ck_assert_float_eq(a2[TOKEN_ACTION_SPEED], c->actions[TOKEN_ACTION_SPEED] / WINDOW_SPEED_SCALE);
    window_source_get(ws, 1, t2, a2, s1); /* window 1 starts at frame 2 */
    for (int f = 0; f < F; f++) {
        for (int p = 0; p < P; p++) ck_assert_int_eq(t2[f * P + p], c->codes[(2 + f) * P + p]);
        /* the action that led to the frame (the one after the clip's frame before), its own speed */
        const float *led = c->actions + (1 + f) * A, *at = c->actions + (2 + f) * A;
        ck_assert_float_eq(a2[f * A + TOKEN_ACTION_ACCEL], led[TOKEN_ACTION_ACCEL] / WINDOW_ACCEL_SCALE);
        ck_assert_float_eq(a2[f * A + TOKEN_ACTION_BRAKE], led[TOKEN_ACTION_BRAKE] / WINDOW_BRAKE_SCALE);
        ck_assert_float_eq(a2[f * A + TOKEN_ACTION_STEER], led[TOKEN_ACTION_STEER] / WINDOW_STEER_SCALE);
        ck_assert_float_eq(a2[f * A + TOKEN_ACTION_SPEED], at[TOKEN_ACTION_SPEED] / WINDOW_SPEED_SCALE);
        for (int k = 0; k < K; k++) {
            const float *cs = c->slots + ((2 + f) * K + k) * S;
            ck_assert_float_eq(s1[(f * K + k) * S + TOKEN_SLOT_PRESENT], cs[TOKEN_SLOT_PRESENT]);
            ck_assert_float_eq(s1[(f * K + k) * S + TOKEN_SLOT_X], cs[TOKEN_SLOT_X] / WINDOW_SLOT_POS_SCALE);
        }
    }
    token_shards_close(ts);
    free(tok), free(act), free(slo);
    window_source_close(ws);

    /* Clips too short for the window. */
    ck_assert_int_eq(window_source_open(&ws, shards, WINDOW_SPLIT_VALIDATION, 30, 1, 1, &err), -1);
    char want[4600];
    snprintf(want, sizeof want, "%s: no clip of the validation split has 30 frames (the longest has 21)", shards);
    ck_assert_str_eq(err.msg, want);
}
END_TEST

int main(void) {
    Suite *s = suite_create("dynamics_train");
    TCase *tc = tcase_create("dynamics_train");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, make_fixture, free_fixture);
    tcase_add_test(tc, train_writes_model_state_csv_chart_and_one_line);
    tcase_add_test(tc, stop_then_resume_equals_an_unbroken_run_byte_for_byte);
    tcase_add_test(tc, a_fresh_run_over_a_state_and_a_resume_with_another_batch_are_refused);
    tcase_add_test(tc, the_loss_falls_on_the_tiny_set);
    tcase_add_test(tc, validation_separates_the_tokens_that_change);
    tcase_add_test(tc, window_source_seek_equals_reading_through_and_windows_hold_the_clips);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
