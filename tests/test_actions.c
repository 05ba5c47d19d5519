/* test_actions.c — the action module: range checks, clamping, rate limits,
 * the growable sequence, and the CSV / JSON-lines files with every error
 * message they can give, on real files. */
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>

#include "actions/action.h"
#include "core/error.h"
#include "core/fileio.h"
#include "core/rng.h"
#include "testutil.h"

/* ------------------------------------------------------------ helpers */

enum { FMT_CSV, FMT_JSONL };

static int seq_read(int fmt, const char *path, action_seq *seq, wm_error *err) {
    return fmt == FMT_CSV ? action_seq_read_csv(path, seq, err) : action_seq_read_jsonl(path, seq, err);
}

static int seq_write(int fmt, const char *path, const action_seq *seq, wm_error *err) {
    return fmt == FMT_CSV ? action_seq_write_csv(path, seq, err) : action_seq_write_jsonl(path, seq, err);
}

static void write_bytes(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static char *read_text(const char *path) {
    uint8_t *data;
    size_t len;
    wm_error err;
    ck_assert_msg(file_read_all(path, 1 << 24, &data, &len, &err) == 0, "%s", err.msg);
    return (char *)data;
}

static int same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* A sequence that already holds data, so a reader that fails must be seen
 * to empty it, not merely to leave a fresh one alone. */
static action_seq prefilled_seq(void) {
    action_seq seq = {0};
    action_seq_push(&seq, 7.0, (action){1, 2, 0.1});
    action_seq_push(&seq, 8.0, (action){1, 2, 0.1});
    return seq;
}

/* Writes len bytes to a fresh file, reads it in fmt and requires failure
 * with exactly "<path><suffix>" and an empty sequence. A macro so a failure
 * names the line of the case, not of the helper. */
static void expect_read_error_at(int line, int fmt, const void *data, size_t len, const char *suffix) {
    char *dir = test_tmpdir();
    char path[4200], want[8400];
    snprintf(path, sizeof path, "%s/actions.%s", dir, fmt == FMT_CSV ? "csv" : "jsonl");
    write_bytes(path, data, len);
    snprintf(want, sizeof want, "%s%s", path, suffix);
    action_seq seq = prefilled_seq();
    wm_error err = {{0}};
    int rc = seq_read(fmt, path, &seq, &err);
    ck_assert_msg(rc == -1, "case at line %d: read returned %d, expected -1", line, rc);
    ck_assert_msg(strcmp(err.msg, want) == 0, "case at line %d:\n got '%s'\nwant '%s'", line, err.msg, want);
    ck_assert_msg(seq.n == 0 && seq.t == NULL && seq.a == NULL && seq.cap == 0,
                  "case at line %d: sequence not left empty", line);
    free(dir);
}
#define EXPECT_CSV_ERROR(text, suffix) expect_read_error_at(__LINE__, FMT_CSV, (text), strlen(text), (suffix))
#define EXPECT_JSONL_ERROR(text, suffix) expect_read_error_at(__LINE__, FMT_JSONL, (text), strlen(text), (suffix))

/* Reads text that must be accepted; the caller frees seq. */
static action_seq read_ok(int fmt, const char *text) {
    char *dir = test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/ok", dir);
    write_text_file(path, text);
    action_seq seq = prefilled_seq();
    wm_error err = {{0}};
    ck_assert_msg(seq_read(fmt, path, &seq, &err) == 0, "%s", err.msg);
    free(dir);
    return seq;
}

/* --------------------------------------------------- limits and checks */

START_TEST(limits_default_match_vehicle_params) {
    action_limits lim = action_limits_default();
    ck_assert_double_eq(lim.accel_max, 3.0);
    ck_assert_double_eq(lim.brake_max, 8.0);
    ck_assert_double_eq(lim.steer_max, 0.5);
    ck_assert_double_eq(lim.jerk_max, 20.0);
    ck_assert_double_eq(lim.steer_rate_max, 0.7);
}
END_TEST

START_TEST(check_accepts_bounds_inclusive) {
    action_limits lim = action_limits_default();
    wm_error err = {{0}};
    const action ok[] = {
        {0, 0, 0}, {3, 8, 0.5}, {0, 0, -0.5}, {-0.0, -0.0, -0.0}, {1.5, 4, 0.25}, {DBL_MIN, DBL_MIN, -DBL_MIN},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        ck_assert_msg(action_check(&ok[i], &lim, &err) == 0, "case %zu: %s", i, err.msg);
}
END_TEST

static void expect_check(int line, action a, const action_limits *lim, const char *want) {
    wm_error err = {{0}};
    ck_assert_msg(action_check(&a, lim, &err) == -1, "case at line %d accepted", line);
    ck_assert_msg(strcmp(err.msg, want) == 0, "case at line %d:\n got '%s'\nwant '%s'", line, err.msg, want);
}
#define EXPECT_CHECK(a, lim, want) expect_check(__LINE__, (a), (lim), (want))

START_TEST(check_names_first_bad_field_exactly) {
    action_limits lim = action_limits_default();
    EXPECT_CHECK(((action){3.5, 0, 0}), &lim, "accel 3.500 m/s^2 outside [0, 3]");
    EXPECT_CHECK(((action){-0.25, 0, 0}), &lim, "accel -0.250 m/s^2 outside [0, 3]");
    EXPECT_CHECK(((action){0, -1, 0}), &lim, "brake -1.000 m/s^2 outside [0, 8]");
    EXPECT_CHECK(((action){0, 8.5, 0}), &lim, "brake 8.500 m/s^2 outside [0, 8]");
    EXPECT_CHECK(((action){0, 0, 0.7}), &lim, "steer 0.700 rad outside [-0.5, 0.5]");
    EXPECT_CHECK(((action){0, 0, -0.7}), &lim, "steer -0.700 rad outside [-0.5, 0.5]");
    EXPECT_CHECK(((action){0, 0, NAN}), &lim, "steer is not a finite number");
    EXPECT_CHECK(((action){INFINITY, 0, 0}), &lim, "accel is not a finite number");
    EXPECT_CHECK(((action){0, -INFINITY, 0}), &lim, "brake is not a finite number");
    EXPECT_CHECK(((action){NAN, 0, 0}), &lim, "accel is not a finite number");
    /* Several bad fields: the first in the order accel, brake, steer wins. */
    EXPECT_CHECK(((action){5, -1, NAN}), &lim, "accel 5.000 m/s^2 outside [0, 3]");
    EXPECT_CHECK(((action){0, 9, NAN}), &lim, "brake 9.000 m/s^2 outside [0, 8]");
    EXPECT_CHECK(((action){1, NAN, 0.9}), &lim, "brake is not a finite number");
    /* The bounds come from the limits given, printed with %g. */
    action_limits small = {.accel_max = 2.5, .brake_max = 6.25, .steer_max = 0.125, .jerk_max = 1, .steer_rate_max = 1};
    EXPECT_CHECK(((action){2.75, 0, 0}), &small, "accel 2.750 m/s^2 outside [0, 2.5]");
    EXPECT_CHECK(((action){0, 7, 0}), &small, "brake 7.000 m/s^2 outside [0, 6.25]");
    EXPECT_CHECK(((action){0, 0, -0.2}), &small, "steer -0.200 rad outside [-0.125, 0.125]");
    /* A caller that only wants the verdict may pass no error. */
    action bad = {0, 0, 1};
    ck_assert_int_eq(action_check(&bad, &lim, NULL), -1);
}
END_TEST

START_TEST(clamp_into_range_reports_change) {
    action_limits lim = action_limits_default();
    action a = {1.25, 0.5, -0.0};
    ck_assert_int_eq(action_clamp(&a, &lim), 0);
    ck_assert(same_bits(a.accel, 1.25) && same_bits(a.brake, 0.5) && same_bits(a.steer, -0.0));

    a = (action){4, -1, 0.6};
    ck_assert_int_eq(action_clamp(&a, &lim), 1);
    ck_assert_double_eq(a.accel, 3);
    ck_assert_double_eq(a.brake, 0);
    ck_assert_double_eq(a.steer, 0.5);

    a = (action){NAN, NAN, NAN};
    ck_assert_int_eq(action_clamp(&a, &lim), 1);
    ck_assert(a.accel == 0 && a.brake == 0 && a.steer == 0);

    a = (action){INFINITY, INFINITY, -INFINITY};
    ck_assert_int_eq(action_clamp(&a, &lim), 1);
    ck_assert(a.accel == 3 && a.brake == 8 && a.steer == -0.5);

    /* Each field on its own must register as a change. */
    const action one_bad[] = {{3.01, 1, 0}, {1, 8.01, 0}, {1, 1, -0.51}, {NAN, 1, 0}, {1, NAN, 0}, {1, 1, NAN}};
    for (size_t i = 0; i < sizeof one_bad / sizeof one_bad[0]; i++) {
        a = one_bad[i];
        ck_assert_msg(action_clamp(&a, &lim) == 1, "case %zu", i);
        ck_assert_msg(action_check(&a, &lim, NULL) == 0, "case %zu still out of range", i);
    }
}
END_TEST

/* ---------------------------------------------------------- rate limit */

START_TEST(rate_limit_bounds_each_field) {
    action_limits lim = action_limits_default();
    action prev = {0, 0, 0}, cmd = {3, 8, 0.5};
    action r = action_rate_limit(&prev, &cmd, &lim, 0.1);
    ck_assert_double_eq_tol(r.accel, 2.0, 1e-12); /* 20 m/s³ × 0.1 s */
    ck_assert_double_eq_tol(r.brake, 2.0, 1e-12);
    ck_assert_double_eq_tol(r.steer, 0.07, 1e-12); /* 0.7 rad/s × 0.1 s */

    prev = (action){3, 8, 0.5}, cmd = (action){0, 0, -0.5};
    r = action_rate_limit(&prev, &cmd, &lim, 0.1);
    ck_assert_double_eq_tol(r.accel, 1.0, 1e-12);
    ck_assert_double_eq_tol(r.brake, 6.0, 1e-12);
    ck_assert_double_eq_tol(r.steer, 0.43, 1e-12);

    /* Accel and brake are limited independently: releasing one while
     * pressing the other moves both. */
    prev = (action){0, 5, 0}, cmd = (action){3, 0, 0};
    r = action_rate_limit(&prev, &cmd, &lim, 0.05);
    ck_assert_double_eq_tol(r.accel, 1.0, 1e-12);
    ck_assert_double_eq_tol(r.brake, 4.0, 1e-12);

    /* Within reach the command is met exactly, not approximately. */
    prev = (action){1, 0, 0.1}, cmd = (action){1.5, 0.2, 0.12};
    r = action_rate_limit(&prev, &cmd, &lim, 0.1);
    ck_assert(same_bits(r.accel, 1.5) && same_bits(r.brake, 0.2) && same_bits(r.steer, 0.12));

    /* No time, or negative time, moves nothing. */
    prev = (action){1, 2, 0.3}, cmd = (action){3, 0, -0.5};
    r = action_rate_limit(&prev, &cmd, &lim, 0.0);
    ck_assert(r.accel == 1 && r.brake == 2 && r.steer == 0.3);
    r = action_rate_limit(&prev, &cmd, &lim, -0.1);
    ck_assert(r.accel == 1 && r.brake == 2 && r.steer == 0.3);

    /* Other limits are honoured, not the defaults. */
    action_limits slow = lim;
    slow.jerk_max = 1, slow.steer_rate_max = 0.1;
    r = action_rate_limit(&(action){0, 0, 0}, &(action){3, 8, 0.5}, &slow, 0.5);
    ck_assert_double_eq_tol(r.accel, 0.5, 1e-12);
    ck_assert_double_eq_tol(r.brake, 0.5, 1e-12);
    ck_assert_double_eq_tol(r.steer, 0.05, 1e-12);
}
END_TEST

START_TEST(rate_limit_reaches_held_command_exactly) {
    action_limits lim = action_limits_default();
    action cur = {0, 0, 0};
    const action cmd = {3, 0, -0.5};
    int steer_steps = 0, accel_steps = 0;
    for (int i = 1; i <= 200; i++) {
        action next = action_rate_limit(&cur, &cmd, &lim, 0.01);
        /* Never faster than the limits allow. */
        ck_assert(fabs(next.accel - cur.accel) <= lim.jerk_max * 0.01 * (1 + 1e-12));
        ck_assert(fabs(next.steer - cur.steer) <= lim.steer_rate_max * 0.01 * (1 + 1e-12));
        cur = next;
        if (!accel_steps && cur.accel == cmd.accel) accel_steps = i;
        if (!steer_steps && cur.steer == cmd.steer) steer_steps = i;
    }
    ck_assert_int_eq(accel_steps, 15); /* 3 / (20 × 0.01) */
    ck_assert_int_eq(steer_steps, 72); /* ceil(0.5 / 0.007) */
    ck_assert(same_bits(cur.accel, 3) && same_bits(cur.brake, 0) && same_bits(cur.steer, -0.5));
}
END_TEST

START_TEST(rate_limit_nan_command_holds) {
    action_limits lim = action_limits_default();
    action prev = {1, 2, 0.1}, cmd = {NAN, 2.1, NAN};
    action r = action_rate_limit(&prev, &cmd, &lim, 0.1);
    ck_assert(r.accel == 1 && r.brake == 2.1 && r.steer == 0.1);
}
END_TEST

/* ------------------------------------------------------------ sequence */

START_TEST(seq_push_grows_by_doubling) {
    action_seq seq = {0};
    size_t growths = 0, last_cap = 0;
    const size_t n = 100000;
    for (size_t i = 0; i < n; i++) {
        action_seq_push(&seq, (double)i, (action){(double)i, 0, -(double)i});
        ck_assert_uint_ge(seq.cap, seq.n);
        if (seq.cap != last_cap) growths++, last_cap = seq.cap;
    }
    ck_assert_uint_eq(seq.n, n);
    /* Amortised O(1): a handful of reallocations, not one per push. */
    ck_assert_uint_le(growths, 20);
    ck_assert_uint_le(seq.cap, 2 * n);
    for (size_t i = 0; i < n; i++)
        ck_assert(seq.t[i] == (double)i && seq.a[i].accel == (double)i && seq.a[i].steer == -(double)i);
    action_seq_free(&seq);
    ck_assert(seq.n == 0 && seq.cap == 0 && seq.t == NULL && seq.a == NULL);
    action_seq_free(&seq); /* freeing twice is harmless */
}
END_TEST

/* ----------------------------------------------------------- round trip */

/* Values that a short decimal format would change: 0.1, subnormals, -0. */
static action_seq tricky_seq(void) {
    static const double t[] = {-0.0, 4.9406564584124654e-324, 1e-300, 0.1, 1.0 / 3, 1e300};
    static const double accel[] = {0.1, 1e-300, 0.0, DBL_MAX, 2.5, 4.9406564584124654e-324};
    static const double brake[] = {-0.0, 0.30000000000000004, 1e-300, 7.999999999999999, 0, 1e-5};
    static const double steer[] = {-0.1, 1e-300, -1e-300, -DBL_MAX, 0.5, 0.50000000000000011};
    action_seq seq = {0};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        action_seq_push(&seq, t[i], (action){accel[i], brake[i], steer[i]});
    wm_rng rng;
    rng_init(&rng, 20240601);
    double tt = 1e300;
    for (int i = 0; i < 1000; i++) {
        tt = nextafter(tt, INFINITY) + rng_uniform(&rng) * 1e290;
        action a = {rng_range(&rng, 0, 3), rng_uniform(&rng) * 8, rng_normal(&rng) * 1e-3};
        action_seq_push(&seq, tt, a);
    }
    return seq;
}

static void expect_same_seq(const action_seq *a, const action_seq *b) {
    ck_assert_uint_eq(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        ck_assert_msg(same_bits(a->t[i], b->t[i]), "t[%zu]: %.17g vs %.17g", i, a->t[i], b->t[i]);
        ck_assert_msg(same_bits(a->a[i].accel, b->a[i].accel), "accel[%zu]: %.17g vs %.17g", i, a->a[i].accel,
                      b->a[i].accel);
        ck_assert_msg(same_bits(a->a[i].brake, b->a[i].brake), "brake[%zu]: %.17g vs %.17g", i, a->a[i].brake,
                      b->a[i].brake);
        ck_assert_msg(same_bits(a->a[i].steer, b->a[i].steer), "steer[%zu]: %.17g vs %.17g", i, a->a[i].steer,
                      b->a[i].steer);
    }
}

static void round_trip(int fmt, const char *first_lines) {
    char *dir = test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/seq", dir);
    action_seq seq = tricky_seq(), back = prefilled_seq();
    wm_error err = {{0}};
    ck_assert_msg(seq_write(fmt, path, &seq, &err) == 0, "%s", err.msg);
    char *text = read_text(path);
    ck_assert_msg(strncmp(text, first_lines, strlen(first_lines)) == 0, "file starts:\n%.300s", text);
    free(text);
    ck_assert_msg(seq_read(fmt, path, &back, &err) == 0, "%s", err.msg);
    expect_same_seq(&seq, &back);
    /* Writing what was read gives the same bytes: the format is stable. */
    char path2[4300];
    snprintf(path2, sizeof path2, "%s/seq2", dir);
    ck_assert_msg(seq_write(fmt, path2, &back, &err) == 0, "%s", err.msg);
    char *t1 = read_text(path), *t2 = read_text(path2);
    ck_assert_str_eq(t1, t2);
    free(t1), free(t2);
    action_seq_free(&seq);
    action_seq_free(&back);
    free(dir);
}

START_TEST(csv_round_trip_bit_exact) {
    round_trip(FMT_CSV, "t,accel,brake,steer\n"
                        "-0,0.10000000000000001,-0,-0.10000000000000001\n"
                        "4.9406564584124654e-324,1e-300,0.30000000000000004,1e-300\n"
                        "1e-300,0,1e-300,-1e-300\n");
}
END_TEST

START_TEST(jsonl_round_trip_bit_exact) {
    round_trip(FMT_JSONL, "{\"t\":-0.0,\"accel\":0.10000000000000001,\"brake\":-0.0,\"steer\":-0.10000000000000001}\n"
                          "{\"t\":4.9406564584124654e-324,\"accel\":1e-300,\"brake\":0.30000000000000004,\"steer\":1e-300}\n"
                          "{\"t\":1e-300,\"accel\":0.0,\"brake\":1e-300,\"steer\":-1e-300}\n");
}
END_TEST

START_TEST(empty_seq_round_trips) {
    char *dir = test_tmpdir();
    char path[4200];
    for (int fmt = FMT_CSV; fmt <= FMT_JSONL; fmt++) {
        snprintf(path, sizeof path, "%s/empty.%d", dir, fmt);
        action_seq empty = {0}, back = prefilled_seq();
        wm_error err = {{0}};
        ck_assert_msg(seq_write(fmt, path, &empty, &err) == 0, "%s", err.msg);
        char *text = read_text(path);
        ck_assert_str_eq(text, fmt == FMT_CSV ? "t,accel,brake,steer\n" : "");
        free(text);
        ck_assert_msg(seq_read(fmt, path, &back, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(back.n, 0);
        action_seq_free(&back);
    }
    free(dir);
}
END_TEST

/* ------------------------------------------------------------ CSV input */

START_TEST(csv_accepts_comments_crlf_spaces_trailing_blanks) {
    action_seq seq = read_ok(FMT_CSV, "# recorded by hand\r\n"
                                      "t,accel,brake,steer\r\n"
                                      "# first row\r\n"
                                      " 0.0 , 1 ,0,\t-0.1 \r\n"
                                      "0.1,0,2.5,1e-3\r\n"
                                      "\r\n"
                                      "\n"
                                      "   \n"
                                      "# trailer\n");
    ck_assert_uint_eq(seq.n, 2); /* the prefilled rows were replaced */
    ck_assert(seq.t[0] == 0.0 && seq.a[0].accel == 1 && seq.a[0].brake == 0 && seq.a[0].steer == -0.1);
    ck_assert(seq.t[1] == 0.1 && seq.a[1].accel == 0 && seq.a[1].brake == 2.5 && seq.a[1].steer == 1e-3);
    action_seq_free(&seq);

    seq = read_ok(FMT_CSV, "t,accel,brake,steer\n0,1,0,0"); /* no final newline */
    ck_assert_uint_eq(seq.n, 1);
    action_seq_free(&seq);

    seq = read_ok(FMT_CSV, "t,accel,brake,steer\n");
    ck_assert_uint_eq(seq.n, 0);
    action_seq_free(&seq);
}
END_TEST

START_TEST(csv_does_not_apply_vehicle_limits) {
    /* A file may hold commands no vehicle accepts; the simulator decides. */
    action_seq seq = read_ok(FMT_CSV, "t,accel,brake,steer\n-5,50,100,-3\n");
    ck_assert_uint_eq(seq.n, 1);
    ck_assert(seq.t[0] == -5 && seq.a[0].accel == 50 && seq.a[0].brake == 100 && seq.a[0].steer == -3);
    action_seq_free(&seq);
}
END_TEST

#define HDR "t,accel,brake,steer\n"

START_TEST(csv_header_errors) {
    EXPECT_CSV_ERROR("", ": empty file, expected header 't,accel,brake,steer'");
    EXPECT_CSV_ERROR("\n\n  \n", ": empty file, expected header 't,accel,brake,steer'");
    EXPECT_CSV_ERROR("# only a comment\n", ": empty file, expected header 't,accel,brake,steer'");
    EXPECT_CSV_ERROR("time,accel,brake,steer\n0,0,0,0\n",
                     ":1: expected header 't,accel,brake,steer', got 'time,accel,brake,steer'");
    EXPECT_CSV_ERROR("# c\nt,accel,brake\n", ":2: expected header 't,accel,brake,steer', got 't,accel,brake'");
    EXPECT_CSV_ERROR("0,1,0,0\n", ":1: expected header 't,accel,brake,steer', got '0,1,0,0'");
    EXPECT_CSV_ERROR(" t,accel,brake,steer\n", ":1: expected header 't,accel,brake,steer', got ' t,accel,brake,steer'");
    EXPECT_CSV_ERROR("\nt,accel,brake,steer\n", ":1: expected header 't,accel,brake,steer', got ''");
    /* Control bytes are shown escaped, long lines cut. */
    EXPECT_CSV_ERROR("t,accel,brake,steer\x01\n",
                     ":1: expected header 't,accel,brake,steer', got 't,accel,brake,steer\\x01'");
    EXPECT_CSV_ERROR("\xef\xbb\xbft,accel,brake,steer\n",
                     ":1: expected header 't,accel,brake,steer', got '\\xef\\xbb\\xbft,accel,brake,steer'");
    char long_line[300];
    memset(long_line, 'a', 200);
    strcpy(long_line + 200, "\n");
    char want[300];
    snprintf(want, sizeof want, ":1: expected header 't,accel,brake,steer', got '%.80s...'", long_line);
    EXPECT_CSV_ERROR(long_line, want);
}
END_TEST

START_TEST(csv_column_and_number_errors) {
    EXPECT_CSV_ERROR(HDR "0,1,0\n", ":2: expected 4 columns, got 3");
    EXPECT_CSV_ERROR(HDR "0,1,0,0\n0.1,1,0,0,5\n", ":3: expected 4 columns, got 5");
    EXPECT_CSV_ERROR(HDR "0,1,0,0\n\n0.1,0,0,0\n", ":3: expected 4 columns, got 1"); /* blank inside */
    EXPECT_CSV_ERROR(HDR "# c\n0 1 0 0\n", ":3: expected 4 columns, got 1");
    EXPECT_CSV_ERROR(HDR "0,abc,0,0\n", ":2: accel: not a number: 'abc'");
    EXPECT_CSV_ERROR(HDR "0,1.0x,0,0\n", ":2: accel: not a number: '1.0x'");
    EXPECT_CSV_ERROR(HDR "0,1,,0\n", ":2: brake: not a number: ''");
    EXPECT_CSV_ERROR(HDR "0,1,0,  0.1 0.2 \n", ":2: steer: not a number: '0.1 0.2'");
    EXPECT_CSV_ERROR(HDR "x,0,0,0\n", ":2: t: not a number: 'x'");
    EXPECT_CSV_ERROR(HDR "0,1,0,0\r\n1,1,0,abc\r\n", ":3: steer: not a number: 'abc'");
}
END_TEST

START_TEST(csv_value_errors) {
    EXPECT_CSV_ERROR(HDR "0,0,0,0\n0.2,0,0,0\n0.1,0,0,0\n", ":4: t 0.100 is not after the previous t 0.200");
    EXPECT_CSV_ERROR(HDR "0.5,0,0,0\n0.5,0,0,0\n", ":3: t 0.500 is not after the previous t 0.500");
    EXPECT_CSV_ERROR(HDR "0,-1,0,0\n", ":2: accel -1.000 m/s^2 is negative");
    EXPECT_CSV_ERROR(HDR "0,0,-2.5,0\n", ":2: brake -2.500 m/s^2 is negative");
    EXPECT_CSV_ERROR(HDR "0,0,0,nan\n", ":2: steer is not a finite number");
    EXPECT_CSV_ERROR(HDR "inf,0,0,0\n", ":2: t is not a finite number");
    EXPECT_CSV_ERROR(HDR "0,1e999,0,0\n", ":2: accel is not a finite number");
    EXPECT_CSV_ERROR(HDR "0,0,-inf,0\n", ":2: brake is not a finite number");
}
END_TEST

START_TEST(csv_embedded_nul_is_an_error) {
    static const char row[] = HDR "0,1\0,0,0\n";
    expect_read_error_at(__LINE__, FMT_CSV, row, sizeof row - 1, ":2: accel: not a number: '1\\x00'");
    static const char header[] = "t,accel\0brake,steer\n0,0,0,0\n";
    expect_read_error_at(__LINE__, FMT_CSV, header, sizeof header - 1,
                         ":1: expected header 't,accel,brake,steer', got 't,accel\\x00brake,steer'");
}
END_TEST

START_TEST(read_missing_file_names_it) {
    for (int fmt = FMT_CSV; fmt <= FMT_JSONL; fmt++) {
        action_seq seq = prefilled_seq();
        wm_error err = {{0}};
        ck_assert_int_eq(seq_read(fmt, "/nonexistent/actions.csv", &seq, &err), -1);
        ck_assert_str_eq(err.msg, "/nonexistent/actions.csv: cannot open: No such file or directory");
        ck_assert(seq.n == 0 && seq.t == NULL && seq.a == NULL);
    }
}
END_TEST

/* ---------------------------------------------------------- JSONL input */

/* jansson's own wording is passed through; ask jansson what it says so the
 * test does not depend on its version. */
static void expect_invalid_json(int line, const char *file, size_t len, int bad_line, const char *bad,
                                size_t bad_len) {
    json_error_t jerr;
    json_t *j = json_loadb(bad, bad_len, JSON_REJECT_DUPLICATES, &jerr);
    ck_assert_msg(j == NULL, "case at line %d: jansson accepts it", line);
    ck_assert_msg(jerr.text[0] != '\0', "case at line %d: jansson gave no text", line);
    char want[512];
    snprintf(want, sizeof want, ":%d: invalid JSON: %s", bad_line, jerr.text);
    expect_read_error_at(line, FMT_JSONL, file, len, want);
}

START_TEST(jsonl_accepts_extra_keys_integers_and_trailing_blanks) {
    action_seq seq = read_ok(FMT_JSONL, "{\"t\":0,\"accel\":1,\"brake\":0,\"steer\":0,\"note\":\"warm-up\"}\r\n"
                                        "  {\"steer\":-0.25,\"brake\":2,\"accel\":0.5,\"t\":0.1}  \n"
                                        "\n  \n");
    ck_assert_uint_eq(seq.n, 2);
    ck_assert(seq.t[0] == 0 && seq.a[0].accel == 1 && seq.a[0].brake == 0 && seq.a[0].steer == 0);
    ck_assert(seq.t[1] == 0.1 && seq.a[1].accel == 0.5 && seq.a[1].brake == 2 && seq.a[1].steer == -0.25);
    action_seq_free(&seq);
    seq = read_ok(FMT_JSONL, "{\"t\":1,\"accel\":20,\"brake\":30,\"steer\":4}"); /* no limits, no newline */
    ck_assert_uint_eq(seq.n, 1);
    action_seq_free(&seq);
}
END_TEST

#define OBJ(t, a, b, s) "{\"t\":" t ",\"accel\":" a ",\"brake\":" b ",\"steer\":" s "}\n"

START_TEST(jsonl_errors) {
    const char *trunc = "{\"t\":0,\"accel\":1,";
    expect_invalid_json(__LINE__, trunc, strlen(trunc), 1, trunc, strlen(trunc));
    const char *bad2 = "{\"t\":0.1,\"accel\":1,\"brake\":0,\"steer\":01}";
    char two[256];
    snprintf(two, sizeof two, "%s%s\n", OBJ("0", "0", "0", "0"), bad2);
    expect_invalid_json(__LINE__, two, strlen(two), 2, bad2, strlen(bad2));
    const char *dup = "{\"t\":0,\"t\":1,\"accel\":0,\"brake\":0,\"steer\":0}";
    expect_invalid_json(__LINE__, dup, strlen(dup), 1, dup, strlen(dup));
    const char *blank_inside = OBJ("0", "0", "0", "0") "\n" OBJ("1", "0", "0", "0");
    expect_invalid_json(__LINE__, blank_inside, strlen(blank_inside), 2, "", 0);
    const char *nan = "{\"t\":0,\"accel\":NaN,\"brake\":0,\"steer\":0}";
    expect_invalid_json(__LINE__, nan, strlen(nan), 1, nan, strlen(nan));
    /* jansson itself would skip this NUL (it follows a number) and accept the line. */
    static const char nul[] = "{\"t\":0,\"accel\":1\0,\"brake\":0,\"steer\":0}\n";
    expect_read_error_at(__LINE__, FMT_JSONL, nul, sizeof nul - 1, ":1: invalid JSON: NUL byte at column 17");
    static const char nul_after[] = OBJ("0", "0", "0", "0") "{\"t\":1,\"accel\":0,\"brake\":0,\"steer\":0}\0\n";
    expect_read_error_at(__LINE__, FMT_JSONL, nul_after, sizeof nul_after - 1, ":2: invalid JSON: NUL byte at column 38");

    EXPECT_JSONL_ERROR("{\"t\":0,\"accel\":1,\"brake\":0}\n", ":1: missing key 'steer'");
    EXPECT_JSONL_ERROR("{\"accel\":1,\"brake\":0,\"steer\":0}\n", ":1: missing key 't'");
    EXPECT_JSONL_ERROR(OBJ("0", "1", "0", "0") OBJ("0.1", "1", "\"0\"", "0"), ":2: key 'brake' is not a number");
    EXPECT_JSONL_ERROR(OBJ("0", "1", "0", "null"), ":1: key 'steer' is not a number");
    EXPECT_JSONL_ERROR(OBJ("0", "true", "0", "0"), ":1: key 'accel' is not a number");
    EXPECT_JSONL_ERROR(OBJ("[0]", "1", "0", "0"), ":1: key 't' is not a number");
    EXPECT_JSONL_ERROR("[0, 1, 0, 0]\n", ":1: expected a JSON object");
    EXPECT_JSONL_ERROR(OBJ("0.2", "0", "0", "0") OBJ("0.1", "0", "0", "0"),
                       ":2: t 0.100 is not after the previous t 0.200");
    EXPECT_JSONL_ERROR(OBJ("0", "-1", "0", "0"), ":1: accel -1.000 m/s^2 is negative");
    EXPECT_JSONL_ERROR(OBJ("0", "0", "-0.5", "0"), ":1: brake -0.500 m/s^2 is negative");
}
END_TEST

/* --------------------------------------------------------------- writers */

START_TEST(writers_refuse_unreadable_sequences_atomically) {
    char *dir = test_tmpdir();
    char path[4200];
    for (int fmt = FMT_CSV; fmt <= FMT_JSONL; fmt++) {
        snprintf(path, sizeof path, "%s/keep.%d", dir, fmt);
        write_text_file(path, "previous contents\n");
        action_seq seq = {0};
        action_seq_push(&seq, 0.0, (action){0, 0, 0});
        action_seq_push(&seq, 0.1, (action){0, 0, NAN});
        wm_error err = {{0}};
        char want[4400];
        ck_assert_int_eq(seq_write(fmt, path, &seq, &err), -1);
        snprintf(want, sizeof want, "%s: action 1: steer is not a finite number", path);
        ck_assert_str_eq(err.msg, want);
        seq.a[1].steer = 0;
        action_seq_push(&seq, 0.05, (action){0, 0, 0});
        ck_assert_int_eq(seq_write(fmt, path, &seq, &err), -1);
        snprintf(want, sizeof want, "%s: action 2: t 0.050 is not after the previous t 0.100", path);
        ck_assert_str_eq(err.msg, want);
        seq.t[2] = 0.2, seq.a[2].brake = -1;
        ck_assert_int_eq(seq_write(fmt, path, &seq, &err), -1);
        snprintf(want, sizeof want, "%s: action 2: brake -1.000 m/s^2 is negative", path);
        ck_assert_str_eq(err.msg, want);
        /* The old file is intact and no temporary is left beside it. */
        char *text = read_text(path);
        ck_assert_str_eq(text, "previous contents\n");
        free(text);
        char tmp[4300];
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
        struct stat st;
        ck_assert_int_ne(stat(tmp, &st), 0);
        /* Fixed, it replaces the old file whole. */
        seq.a[2].brake = 0;
        ck_assert_msg(seq_write(fmt, path, &seq, &err) == 0, "%s", err.msg);
        action_seq back = {0};
        ck_assert_msg(seq_read(fmt, path, &back, &err) == 0, "%s", err.msg);
        expect_same_seq(&seq, &back);
        action_seq_free(&back);
        action_seq_free(&seq);
    }
    free(dir);
}
END_TEST

START_TEST(writers_report_uncreatable_path) {
    action_seq seq = {0};
    action_seq_push(&seq, 0, (action){0, 0, 0});
    for (int fmt = FMT_CSV; fmt <= FMT_JSONL; fmt++) {
        wm_error err = {{0}};
        ck_assert_int_eq(seq_write(fmt, "/nonexistent/dir/a.out", &seq, &err), -1);
        ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/dir/a.out"));
        ck_assert_ptr_nonnull(strstr(err.msg, "cannot create"));
    }
    action_seq_free(&seq);
}
END_TEST

/* ------------------------------------------------------------- garbage */

static void expect_valid_or_clean_error(int fmt, const char *path, int *n_ok, int *n_err) {
    action_seq seq = prefilled_seq();
    wm_error err = {{0}};
    int rc = seq_read(fmt, path, &seq, &err);
    if (rc == 0) {
        /* Whatever a reader accepts must meet its own promises. */
        for (size_t i = 0; i < seq.n; i++) {
            ck_assert(isfinite(seq.t[i]) && isfinite(seq.a[i].accel) && isfinite(seq.a[i].brake) &&
                      isfinite(seq.a[i].steer));
            ck_assert(seq.a[i].accel >= 0 && seq.a[i].brake >= 0);
            if (i) ck_assert(seq.t[i] > seq.t[i - 1]);
        }
        action_seq_free(&seq);
        ++*n_ok;
        return;
    }
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strncmp(err.msg, path, strlen(path)) == 0 && strlen(err.msg) > strlen(path) + 2,
                  "message does not name the file: '%s'", err.msg);
    ck_assert(seq.n == 0 && seq.t == NULL && seq.a == NULL);
    ++*n_err;
}

START_TEST(random_bytes_fail_cleanly) {
    char *dir = test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/garbage", dir);
    wm_rng rng;
    rng_init(&rng, 99);
    uint8_t buf[4096];
    for (int iter = 0; iter < 150; iter++) {
        size_t len = 16 + (size_t)(rng_u64(&rng) % (sizeof buf - 16));
        for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)rng_u64(&rng);
        write_bytes(path, buf, len);
        for (int fmt = FMT_CSV; fmt <= FMT_JSONL; fmt++) {
            int n_ok = 0, n_err = 0;
            expect_valid_or_clean_error(fmt, path, &n_ok, &n_err);
            ck_assert_msg(n_err == 1, "iteration %d: random bytes were accepted", iter);
        }
    }
    free(dir);
}
END_TEST

/* Small corruptions of a valid file: each must be either read as a valid
 * sequence or refused with a message, never crash or half-read. */
START_TEST(mutated_files_fail_cleanly) {
    char *dir = test_tmpdir();
    char path[4200], good[4300];
    wm_rng rng;
    rng_init(&rng, 7);
    static const uint8_t alphabet[] = "0123456789.,-+eE\n\r #{}\":tacelbrksn\0\x01\xff";
    for (int fmt = FMT_CSV; fmt <= FMT_JSONL; fmt++) {
        snprintf(good, sizeof good, "%s/good.%d", dir, fmt);
        snprintf(path, sizeof path, "%s/bad.%d", dir, fmt);
        action_seq seq = {0};
        for (int i = 0; i < 20; i++)
            action_seq_push(&seq, 0.1 * i, (action){rng_uniform(&rng) * 3, rng_uniform(&rng), rng_normal(&rng) * 0.1});
        wm_error err;
        ck_assert_msg(seq_write(fmt, good, &seq, &err) == 0, "%s", err.msg);
        action_seq_free(&seq);
        char *text = read_text(good);
        size_t len = strlen(text);
        int n_ok = 0, n_err = 0;
        for (int iter = 0; iter < 300; iter++) {
            uint8_t *mut = MALLOC_CHECK(len);
            memcpy(mut, text, len);
            int flips = 1 + (int)(rng_u64(&rng) % 4);
            for (int k = 0; k < flips; k++)
                mut[rng_u64(&rng) % len] = alphabet[rng_u64(&rng) % (sizeof alphabet - 1)];
            size_t mlen = rng_u64(&rng) % 8 == 0 ? rng_u64(&rng) % len : len; /* sometimes truncated */
            write_bytes(path, mut, mlen);
            free(mut);
            expect_valid_or_clean_error(fmt, path, &n_ok, &n_err);
        }
        /* Both outcomes occur, so both branches above were exercised. */
        ck_assert_int_gt(n_ok, 0);
        ck_assert_int_gt(n_err, 0);
        free(text);
    }
    free(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("actions");
    TCase *tc = tcase_create("actions");
    tcase_add_test(tc, limits_default_match_vehicle_params);
    tcase_add_test(tc, check_accepts_bounds_inclusive);
    tcase_add_test(tc, check_names_first_bad_field_exactly);
    tcase_add_test(tc, clamp_into_range_reports_change);
    tcase_add_test(tc, rate_limit_bounds_each_field);
    tcase_add_test(tc, rate_limit_reaches_held_command_exactly);
    tcase_add_test(tc, rate_limit_nan_command_holds);
    tcase_add_test(tc, seq_push_grows_by_doubling);
    tcase_add_test(tc, csv_round_trip_bit_exact);
    tcase_add_test(tc, jsonl_round_trip_bit_exact);
    tcase_add_test(tc, empty_seq_round_trips);
    tcase_add_test(tc, csv_accepts_comments_crlf_spaces_trailing_blanks);
    tcase_add_test(tc, csv_does_not_apply_vehicle_limits);
    tcase_add_test(tc, csv_header_errors);
    tcase_add_test(tc, csv_column_and_number_errors);
    tcase_add_test(tc, csv_value_errors);
    tcase_add_test(tc, csv_embedded_nul_is_an_error);
    tcase_add_test(tc, read_missing_file_names_it);
    tcase_add_test(tc, jsonl_accepts_extra_keys_integers_and_trailing_blanks);
    tcase_add_test(tc, jsonl_errors);
    tcase_add_test(tc, writers_refuse_unreadable_sequences_atomically);
    tcase_add_test(tc, writers_report_uncreatable_path);
    tcase_add_test(tc, random_bytes_fail_cleanly);
    tcase_add_test(tc, mutated_files_fail_cleanly);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
