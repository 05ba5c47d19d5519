/* error.h — the one error style of wmsim.
 *
 * A function that can fail returns 0 on success and -1 on failure, and fills a
 * caller-owned wm_error whose message names the file, the field and the value:
 *
 *     wm_error err;
 *     if (scenario_load(path, &sc, &err)) { fprintf(stderr, "%s\n", err.msg); ... }
 *
 * Inside such a function:  return wm_fail(err, "%s:%d: steer %.3f outside [%g, %g]", ...);
 * Allocation failure and programming errors are not reported this way: they
 * abort through the checked-call macros in core/check.h. */
#ifndef WMSIM_ERROR_H
#define WMSIM_ERROR_H

#define WM_ERROR_MAX 4096

typedef struct wm_error {
    char msg[WM_ERROR_MAX];
} wm_error;

/* Sets err->msg (err may be NULL) and returns -1. */
int wm_fail(wm_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends a line to err->msg (for validators that report every problem). */
void wm_error_append(wm_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefixes err->msg with context, e.g. the file being read. Returns -1. */
int wm_error_prefix(wm_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
