/* batch.h — a fixed list of independent items (episodes, clips) run by J
 * worker threads, with a progress line.
 *
 * Usage:
 *     batch_config b = {.n_items = n, .jobs = 4, .worker_size = sizeof(my_worker),
 *                       .run_item = run_one, .worker_free = free_worker, .ctx = &my_run,
 *                       .label = "eval", .unit = "episodes", .progress = isatty(2)};
 *     if (batch_run(&b, &err)) ...    // the first item that failed, its err
 *
 * Workers take items in index order; each has its own zeroed state of
 * worker_size bytes (policies, camera feeds, renderers it creates lazily in
 * run_item and releases in worker_free). run_item writes its results into a
 * per-item slot of ctx, so the outcome does not depend on the jobs count.
 * A run_item that returns non-zero is a hard error (I/O, bad input): no
 * new item starts, the ones running finish, and batch_run returns -1 with
 * the first such error. Episode failures are results, not errors.
 *
 * The progress line (stderr, redrawn four times a second): "LABEL 12/40
 * UNIT 2.31 UNIT/s ETA 0:12", then whatever status() appends. */
#ifndef WMSIM_BATCH_H
#define WMSIM_BATCH_H

#include <stddef.h>

#include "core/error.h"

#define BATCH_MAX_JOBS 256

typedef struct {
    int n_items;
    int jobs;                 /* [1, BATCH_MAX_JOBS]; more than n_items is fine */
    size_t worker_size;       /* bytes of per-worker state; 0: none */
    int (*run_item)(int item, void *worker, void *ctx, wm_error *err);
    void (*worker_free)(void *worker, void *ctx); /* may be NULL */
    void *ctx;
    const char *label, *unit; /* progress line words */
    int progress;
    /* Optional: appends to the progress line, e.g. " 1234 steps/s"; called
     * from the progress thread, so it must read ctx under its own lock. */
    void (*status)(void *ctx, double elapsed_s, char *out, size_t n);
    /* Under MPI (sim/cluster.h): this rank runs the items k with
     * k % ranks == rank; ranks 0 means 1. */
    int rank, ranks;
} batch_config;

int batch_run(const batch_config *cfg, wm_error *err);

#endif
