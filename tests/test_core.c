#include <math.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/fileio.h"
#include "core/rng.h"
#include "testutil.h"

START_TEST(rng_same_seed_same_stream) {
    wm_rng a, b;
    rng_init(&a, 42);
    rng_init(&b, 42);
    for (int i = 0; i < 1000; i++) ck_assert_uint_eq(rng_u64(&a), rng_u64(&b));
    rng_init(&b, 43);
    ck_assert_uint_ne(rng_u64(&a), rng_u64(&b));
}
END_TEST

START_TEST(rng_uniform_and_normal_moments) {
    wm_rng r;
    rng_init(&r, 7);
    double sum = 0, sum2 = 0, nsum = 0, nsum2 = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double u = rng_uniform(&r);
        ck_assert(u >= 0.0 && u < 1.0);
        sum += u, sum2 += u * u;
        double z = rng_normal(&r);
        nsum += z, nsum2 += z * z;
    }
    /* 5 standard errors: a broken generator fails, a good one essentially never. */
    ck_assert_double_eq_tol(sum / n, 0.5, 5 * sqrt(1.0 / 12 / n));
    ck_assert_double_eq_tol(nsum / n, 0.0, 5 * sqrt(1.0 / n));
    ck_assert_double_eq_tol(nsum2 / n, 1.0, 5 * sqrt(2.0 / n));
}
END_TEST

START_TEST(rng_fork_streams_differ) {
    wm_rng a = rng_fork(1, 0), b = rng_fork(1, 1), c = rng_fork(1, 0);
    uint64_t x = rng_u64(&a);
    ck_assert_uint_ne(x, rng_u64(&b));
    ck_assert_uint_eq(x, rng_u64(&c));
}
END_TEST

START_TEST(error_messages_compose) {
    wm_error err = {{0}};
    ck_assert_int_eq(wm_fail(&err, "field %s: value %d", "lane", 7), -1);
    ck_assert_str_eq(err.msg, "field lane: value 7");
    wm_error_prefix(&err, "%s:", "a.pbtxt");
    ck_assert_str_eq(err.msg, "a.pbtxt:field lane: value 7");
    wm_error_append(&err, "second");
    ck_assert_str_eq(err.msg, "a.pbtxt:field lane: value 7\nsecond");
}
END_TEST

START_TEST(atomic_write_replaces_whole_file) {
    char *dir = test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    wm_error err;
    ck_assert_int_eq(file_write_atomic(path, "first", 5, &err), 0);
    atomic_file af;
    ck_assert_int_eq(atomic_file_open(&af, path, &err), 0);
    fputs("partial", af.f);
    atomic_file_abort(&af);
    uint8_t *data;
    size_t len;
    ck_assert_int_eq(file_read_all(path, 1 << 20, &data, &len, &err), 0);
    ck_assert_str_eq((char *)data, "first"); /* the aborted write left nothing */
    free(data);
    struct stat st;
    ck_assert_int_ne(stat(af.tmp_path, &st), 0);
    ck_assert_int_eq(file_write_atomic(path, "second", 6, &err), 0);
    ck_assert_int_eq(file_read_all(path, 1 << 20, &data, &len, &err), 0);
    ck_assert_str_eq((char *)data, "second");
    ck_assert_uint_eq(len, 6);
    free(data);
    free(dir);
}
END_TEST

START_TEST(read_errors_name_the_file) {
    wm_error err;
    uint8_t *data;
    size_t len;
    ck_assert_int_eq(file_read_all("/nonexistent/x.pb", 100, &data, &len, &err), -1);
    ck_assert_str_eq(err.msg, "/nonexistent/x.pb: cannot open: No such file or directory");
    char *dir = test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/big", dir);
    write_text_file(path, "0123456789abcdef0123456789abcdef");
    ck_assert_int_eq(file_read_all(path, 10, &data, &len, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "larger than the 10-byte limit"));
    free(dir);
}
END_TEST

START_TEST(dir_create_nested_and_existing) {
    char *dir = test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/a/b/c", dir);
    wm_error err;
    ck_assert_int_eq(dir_create(path, &err), 0);
    ck_assert_int_eq(dir_create(path, &err), 0);
    snprintf(path, sizeof path, "%s/file", dir);
    write_text_file(path, "x");
    ck_assert_int_eq(dir_create(path, &err), -1);
    free(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, rng_same_seed_same_stream);
    tcase_add_test(tc, rng_uniform_and_normal_moments);
    tcase_add_test(tc, rng_fork_streams_differ);
    tcase_add_test(tc, error_messages_compose);
    tcase_add_test(tc, atomic_write_replaces_whole_file);
    tcase_add_test(tc, read_errors_name_the_file);
    tcase_add_test(tc, dir_create_nested_and_existing);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
