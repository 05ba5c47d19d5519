/* fuzz_util.h — what the fuzz harnesses in tests/fuzz/ share: a scratch
 * folder per harness (removed at exit), writing an input to a file there,
 * and error messages with that folder's random name replaced by "TMP", so
 * tests/test_fuzz_regressions.c can compare them exactly.
 *
 * A harness is one C file:
 *     static int fuzz_NAME_run(const uint8_t *data, size_t size, wm_error *err);
 *     #ifndef FUZZ_NO_ENTRY
 *     int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { ... fuzz_NAME_run ... }
 *     #endif
 * so the regression test includes every harness (with FUZZ_NO_ENTRY
 * defined) and runs the same code in the ordinary gcc build. Everything
 * here is static: the harness files can all be included in one unit. */
#ifndef WMSIM_FUZZ_UTIL_H
#define WMSIM_FUZZ_UTIL_H

#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.h"
#include "core/error.h"

#ifndef WMSIM_SOURCE_DIR
#define WMSIM_SOURCE_DIR "."
#endif

#define FUZZ_MAX_DIRS 16

/* The scratch folders made so far, removed by fuzz_cleanup at exit. */
static char fuzz_dirs[FUZZ_MAX_DIRS][256];
static int fuzz_n_dirs;

/* rm -r path (a missing path is fine; links are removed, not followed). */
/* libFuzzer's entry point for a harness's run function; left out when
 * tests/test_fuzz_regressions.c includes the harnesses (FUZZ_NO_ENTRY). */
#ifndef FUZZ_NO_ENTRY
#define FUZZ_ENTRY(run)                                                     \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);           \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {          \
        wm_error err;                                                       \
        run(data, size, &err);                                              \
        return 0;                                                           \
    }
#else
#define FUZZ_ENTRY(run)
#endif

static inline void fuzz_rm_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[4096];
            if ((size_t)snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) < sizeof sub) fuzz_rm_tree(sub);
        }
        if (d) closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static inline void fuzz_cleanup(void) {
    for (int i = 0; i < fuzz_n_dirs; i++) fuzz_rm_tree(fuzz_dirs[i]);
    fuzz_n_dirs = 0;
}

/* A new folder $TMPDIR/wmsim-fuzz-TAG-XXXXXX; aborts when it cannot be made
 * (a harness without its folder would report nothing but that). */
static inline const char *fuzz_scratch_dir(const char *tag) {
    if (fuzz_n_dirs == FUZZ_MAX_DIRS) abort();
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    char *d = fuzz_dirs[fuzz_n_dirs];
    snprintf(d, sizeof fuzz_dirs[0], "%s/wmsim-fuzz-%s-XXXXXX", base, tag);
    if (!mkdtemp(d)) {
        perror(d);
        abort();
    }
    if (fuzz_n_dirs++ == 0) atexit(fuzz_cleanup);
    return d;
}

/* Writes size bytes to path (replacing it); aborts on failure. */
static inline void fuzz_write_file(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

/* snprintf through a va_list: results are built from error messages as
 * long as the buffer, and truncating them is fine (gcc's
 * -Wformat-truncation would refuse the plain calls). */
static inline int fuzz_printf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static inline int fuzz_printf(char *buf, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

/* Appends to out->msg, truncating at its end. */
static inline void fuzz_append(wm_error *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void fuzz_append(wm_error *out, const char *fmt, ...) {
    size_t k = strlen(out->msg);
    if (k + 1 >= sizeof out->msg) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->msg + k, sizeof out->msg - k, fmt, ap);
    va_end(ap);
}

/* Replaces every occurrence of dir in err->msg with "TMP". */
static inline void fuzz_error_scrub(wm_error *err, const char *dir) {
    size_t n = strlen(dir);
    if (!n) return;
    char out[WM_ERROR_MAX];
    size_t k = 0;
    for (const char *p = err->msg; *p && k + 4 < sizeof out;) {
        if (strncmp(p, dir, n) == 0) {
            memcpy(out + k, "TMP", 3), k += 3, p += n;
        } else {
            out[k++] = *p++;
        }
    }
    out[k] = '\0';
    memcpy(err->msg, out, k + 1);
}

/* /dev/null for the parsers that print (episode_log_show, clip_stats). */
static inline FILE *fuzz_devnull(void) {
    static FILE *f;
    if (!f && !(f = fopen("/dev/null", "w"))) abort();
    return f;
}

#endif
