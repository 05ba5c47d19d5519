/* testutil.h — helpers shared by the Check suites: paths into the source
 * tree, temporary directories, and running the real wmsim binary. */
#ifndef WMSIM_TESTUTIL_H
#define WMSIM_TESTUTIL_H

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/check.h"
#include "core/fileio.h"

/* Runs a suite; the exit status fails the build when any check fails. */
static inline int run_suite(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Absolute path of a file in the source tree (static buffer rotation). */
static inline const char *src_path(const char *rel) {
    static char bufs[8][4096];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", WMSIM_SOURCE_DIR, rel);
    return b;
}

/* A fresh empty directory under $TMPDIR; caller frees the string. */
static inline char *test_tmpdir(void) {
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/wmsim-test-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    ck_assert_msg(d != NULL, "mkdtemp failed");
    return STRDUP_CHECK(d);
}

/* Removes path and everything under it (tests' temporary trees). */
static inline void test_remove_tree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        ck_assert_ptr_nonnull(d);
        for (struct dirent *e; (e = readdir(d));) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[4200];
            ck_assert((size_t)snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) < sizeof sub);
            test_remove_tree(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* out = dir "/" name; the test fails if it does not fit. */
static inline void join(char *out, size_t n, const char *dir, const char *name) {
    ck_assert((size_t)snprintf(out, n, "%s/%s", dir, name) < n);
}

static inline void write_text_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* text written to DIR/name in a fresh temporary directory; the path is
 * malloc'ed (the directory is the path's dirname). */
static inline char *test_write_temp_file(const char *name, const char *text) {
    char *dir = test_tmpdir();
    size_t n = strlen(dir) + strlen(name) + 2;
    char *path = MALLOC_CHECK(n);
    snprintf(path, n, "%s/%s", dir, name);
    free(dir);
    write_text_file(path, text);
    return path;
}

/* Occurrences of needle in s (not overlapping). */
static inline int test_count(const char *s, const char *needle) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

/* A whole file (up to 1 GiB, NUL-terminated past len); the test fails if it cannot be read. */
static inline uint8_t *test_read_file(const char *path, size_t *len) {
    uint8_t *data;
    wm_error err;
    ck_assert_msg(file_read_all(path, 1u << 30, &data, len, &err) == 0, "%s", err.msg);
    return data;
}

/* Whether two files hold the same bytes. */
static inline int test_files_equal(const char *a, const char *b) {
    size_t na, nb;
    uint8_t *x = test_read_file(a, &na), *y = test_read_file(b, &nb);
    int same = na == nb && memcmp(x, y, na) == 0;
    free(x), free(y);
    return same;
}

/* Runs argv (argv[0] looked up on PATH), calling in_child (may be NULL)
 * in the child before the exec; captures stdout+stderr into *out
 * (malloc'ed; out may be NULL). Returns the exit status, or 128 + signal
 * when killed by a signal. */
static inline int run_capture_in(char **out, const char *const *argv, void (*in_child)(void *), void *ctx) {
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (in_child) in_child(ctx);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    size_t cap = 4096, len = 0;
    char *buf = MALLOC_CHECK(cap);
    ssize_t got;
    while ((got = read(fds[0], buf + len, cap - len - 1)) > 0) {
        len += (size_t)got;
        if (cap - len < 2) buf = REALLOC_CHECK(buf, cap *= 2, 1);
    }
    buf[len] = '\0';
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    if (out) *out = buf; else free(buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static inline int run_capture(char **out, const char *const *argv) { return run_capture_in(out, argv, NULL, NULL); }

/* results.json of an eval folder without what differs between two runs of
 * the same night (started, elapsed_s, jobs, ranks), as text (malloc'ed). */
static inline char *test_stable_results(const char *dir) {
    char path[4200];
    join(path, sizeof path, dir, "results.json");
    json_error_t je;
    json_t *r = json_load_file(path, 0, &je);
    ck_assert_msg(r != NULL, "%s: %s", path, je.text);
    json_object_del(r, "started");
    json_object_del(r, "elapsed_s");
    json_object_del(r, "jobs");
    json_object_del(r, "ranks");
    char *text = json_dumps(r, JSON_PRESERVE_ORDER | JSON_INDENT(1));
    json_decref(r);
    return text;
}

static inline const char *wmsim_bin(void) {
    const char *bin = getenv("WMSIM_BIN");
    ck_assert_msg(bin != NULL, "WMSIM_BIN not set: run through 'make test'");
    return bin;
}

/* argv (64 entries) = WMSIM_BIN, then args (NULL-terminated), NULL. */
static inline void wmsim_argv(const char *const *args, const char **argv) {
    int n = 0;
    argv[n++] = wmsim_bin();
    for (int i = 0; args[i] && n < 63; i++) argv[n++] = args[i];
    argv[n] = NULL;
}

/* Runs the wmsim binary (WMSIM_BIN) with args (NULL-terminated, without
 * argv[0]), as run_capture. */
static inline int run_wmsim(char **out, const char *const *args) {
    const char *argv[64];
    wmsim_argv(args, argv);
    return run_capture(out, argv);
}

/* Runs `mpirun --oversubscribe -np ranks $WMSIM_BIN args...`, as run_wmsim
 * (Open MPI refuses root unless told: CI runs as root). */
static inline int run_mpi(char **out, int ranks, const char *const *args) {
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    char np[16];
    snprintf(np, sizeof np, "%d", ranks);
    const char *argv[64] = {"mpirun", "--oversubscribe", "-np", np, wmsim_bin()};
    int n = 5;
    for (int i = 0; args[i] && n < 63; i++) argv[n++] = args[i];
    argv[n] = NULL;
    return run_capture(out, argv);
}

/* Runs wmsim with args; the test fails, showing the output, unless it exits 0. */
static inline void run_wmsim_ok(const char *const *args) {
    char *out;
    int rc = run_wmsim(&out, args);
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
}

/* The world-model suites' small real data set, made with the real CLI in
 * dir: clips (2 examples x 6 variations x 2 s at 32x16, so both splits
 * have clips), a tokenizer trained 10 steps on them (32-code codebook), and
 * nothing else. Paths of 4200 bytes. */
static inline void make_tiny_clips_and_tokenizer(const char *dir, char *clips, char *model) {
    join(clips, 4200, dir, "clips");
    join(model, 4200, dir, "m.wmck");
    run_wmsim_ok((const char *[]){"clips", "generate", "--scenarios",
                                  src_path("scenarios/examples/guard_stop_proceed.pbtxt"),
                                  src_path("scenarios/examples/cut_in.pbtxt"), "--variations", "6", "--seconds", "2",
                                  "--size", "32x16", "--out", clips, "--jobs", "2", NULL});
    run_wmsim_ok((const char *[]){"tokenizer", "train", "--data", clips, "--out", model, "--steps", "10", "--size",
                                  "32x16", "--channels", "8", "--code-dim", "8", "--codebook", "32", "--batch", "4",
                                  "--val-frames", "8", "--quiet", NULL});
}

/* make_tiny_clips_and_tokenizer, then token shards and a one-layer dynamics
 * model over 3-frame windows trained 5 steps, all with the real CLI, in
 * dir/shards and dir/dyn.wmck (paths of 4200 bytes). */
static inline void make_tiny_world_model(const char *dir, char *clips, char *tok, char *shards, char *dyn) {
    make_tiny_clips_and_tokenizer(dir, clips, tok);
    join(shards, 4200, dir, "shards");
    join(dyn, 4200, dir, "dyn.wmck");
    run_wmsim_ok((const char *[]){"worldmodel", "tokenize", "--data", clips, "--tokenizer", tok, "--out", shards,
                                  "--quiet", NULL});
    run_wmsim_ok((const char *[]){"worldmodel", "train", "--shards", shards, "--out", dyn, "--steps", "5", "--frames",
                                  "3", "--layers", "1", "--channels", "16", "--heads", "2", "--val-windows", "0",
                                  "--quiet", NULL});
}

#endif
