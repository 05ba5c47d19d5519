/* batch.c — the worker pool behind batch_run. */
#include "sim/batch.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/check.h"
#include "core/clock.h"

typedef struct {
    const batch_config *cfg;
    int ranks, mine;      /* mine: the items this rank runs */
    pthread_mutex_t lock;
    int next, done, failed;
    wm_error err;
} batch_state;

static void *worker(void *arg) {
    batch_state *st = arg;
    const batch_config *cfg = st->cfg;
    void *ws = cfg->worker_size ? CALLOC_CHECK(1, cfg->worker_size) : NULL;
    for (;;) {
        pthread_mutex_lock(&st->lock);
        int j = st->failed ? st->mine : st->next++;
        pthread_mutex_unlock(&st->lock);
        if (j >= st->mine) break;
        int k = cfg->rank + j * st->ranks;
        wm_error err = {0};
        int rc = cfg->run_item(k, ws, cfg->ctx, &err);
        pthread_mutex_lock(&st->lock);
        if (rc && !st->failed) st->failed = 1, st->err = err;
        if (!rc) st->done++;
        pthread_mutex_unlock(&st->lock);
    }
    if (ws && cfg->worker_free) cfg->worker_free(ws, cfg->ctx);
    free(ws);
    return NULL;
}

static void print_progress(batch_state *st, double elapsed, int final) {
    const batch_config *cfg = st->cfg;
    pthread_mutex_lock(&st->lock);
    int done = st->done;
    pthread_mutex_unlock(&st->lock);
    double rate = elapsed > 0 ? done / elapsed : 0;
    char eta[32] = "--", extra[256] = "";
    if (rate > 0) {
        int left = (int)((st->mine - done) / rate);
        snprintf(eta, sizeof eta, "%d:%02d", left / 60, left % 60);
    }
    if (cfg->status) cfg->status(cfg->ctx, elapsed, extra, sizeof extra);
    fprintf(stderr, "\r%s %d/%d %s %.2f %s/s ETA %s%s   %s", cfg->label, done, st->mine, cfg->unit, rate, cfg->unit,
            eta, extra, final ? "\n" : "");
    fflush(stderr);
}

int batch_run(const batch_config *cfg, wm_error *err) {
    if (cfg->jobs < 1 || cfg->jobs > BATCH_MAX_JOBS)
        return wm_fail(err, "%s: jobs %d outside [1, %d]", cfg->label, cfg->jobs, BATCH_MAX_JOBS);
    int ranks = cfg->ranks > 0 ? cfg->ranks : 1;
    if (cfg->rank < 0 || cfg->rank >= ranks) return wm_fail(err, "%s: rank %d of %d", cfg->label, cfg->rank, ranks);
    int mine = cfg->n_items > cfg->rank ? (cfg->n_items - cfg->rank + ranks - 1) / ranks : 0;
    if (mine <= 0) return 0;
    batch_state st = {.cfg = cfg, .ranks = ranks, .mine = mine};
    pthread_mutex_init(&st.lock, NULL);
    int jobs = cfg->jobs < mine ? cfg->jobs : mine;
    pthread_t *threads = CALLOC_CHECK((size_t)jobs, sizeof *threads);
    double t0 = clock_now_s();
    for (int i = 0; i < jobs; i++) pthread_create(&threads[i], NULL, worker, &st);
    if (cfg->progress) {
        for (;;) {
            pthread_mutex_lock(&st.lock);
            int finished = st.done == st.mine || st.failed;
            pthread_mutex_unlock(&st.lock);
            if (finished) break;
            print_progress(&st, clock_now_s() - t0, 0);
            nanosleep(&(struct timespec){0, 250000000}, NULL);
        }
    }
    for (int i = 0; i < jobs; i++) pthread_join(threads[i], NULL);
    free(threads);
    if (cfg->progress) print_progress(&st, clock_now_s() - t0, 1);
    pthread_mutex_destroy(&st.lock);
    if (st.failed) {
        *err = st.err;
        return -1;
    }
    return 0;
}
