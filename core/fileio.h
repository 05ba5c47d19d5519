/* fileio.h — whole-file reads and atomic writes.
 *
 * Results, logs and checkpoints are written to "PATH.tmp.PID", flushed,
 * fsync'ed and renamed over PATH, so a reader never sees a partial file and an
 * interrupted run leaves the previous complete file (or none) in place. */
#ifndef WMSIM_FILEIO_H
#define WMSIM_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <stdio.h>

#include "core/error.h"

/* Reads all of PATH into a malloc'ed buffer (NUL-terminated for text use;
 * the terminator is not counted in *len). Refuses files over max_len. */
int file_read_all(const char *path, size_t max_len, uint8_t **data, size_t *len, wm_error *err);

int file_write_atomic(const char *path, const void *data, size_t len, wm_error *err);

/* root (taken over: decref'ed here) as JSON text with a final newline,
 * written atomically; flags are jansson's json_dumps flags, FILE_JSON_REPORT
 * for the project's summaries (2-space indent, keys in insertion order, 10
 * significant digits). */
#define FILE_JSON_REPORT (JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10))
int file_write_json(const char *path, json_t *root, size_t flags, wm_error *err);

typedef struct {
    FILE *f;
    char path[4096];
    char tmp_path[4096 + 32];
} atomic_file;

int atomic_file_open(atomic_file *af, const char *path, wm_error *err);
/* Flushes, fsyncs and renames into place; closes in every case. */
int atomic_file_commit(atomic_file *af, wm_error *err);
/* Closes and removes the temporary file; PATH is untouched. */
void atomic_file_abort(atomic_file *af);

/* mkdir -p; existing directories are fine. */
int dir_create(const char *path, wm_error *err);
/* dir_create of the folder holding path (a bare file name: nothing to do). */
int dir_create_parent(const char *path, wm_error *err);
/* Removes the files in dir that stale(name, ctx) says an earlier run left
 * and this one did not write, so a folder of outputs matches its index. */
int dir_remove_stale(const char *dir, int (*stale)(const char *name, void *ctx), void *ctx, wm_error *err);

/* FNV-1a, 64 bit: content hashes for scenarios and logs (not cryptographic). */
uint64_t hash_fnv1a64(const void *data, size_t len);

#endif
