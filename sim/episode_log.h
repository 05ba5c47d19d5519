/* episode_log.h — the episode log: length-delimited LogRecord messages
 * (sim/episode_log.proto), header first, one step per control step, summary
 * last; written atomically, so a log that exists is complete.
 *
 * Usage (writing):
 *     episode_log_writer lw;
 *     episode_log_open(&lw, path, sc, seed, "expert", &err);
 *     per step: episode_log_write_step(&lw, world, &cmd, reasoning, plan, n_plan, extra_events, n_extra);
 *     episode_log_write_summary(&lw, &result);
 *     episode_log_commit(&lw, &err);        // or episode_log_abort(&lw)
 * Reading:  episode_log_read(path, on_record, ctx, &err); episode_log_show(path, stdout, &err). */
#ifndef WMSIM_EPISODE_LOG_H
#define WMSIM_EPISODE_LOG_H

#include <stdio.h>

#include "core/fileio.h"
#include "sim/episode.h"
#include "sim/episode_log.pb-c.h"

#define EPISODE_LOG_FORMAT_VERSION 1
#define EPISODE_LOG_MAX_RECORD (64u << 20)

typedef struct {
    atomic_file af;
    uint8_t *buf;
    size_t cap;
    int failed; /* a write failed; commit reports it */
} episode_log_writer;

int episode_log_open(episode_log_writer *lw, const char *path, const scenario *sc, uint64_t seed,
                     const char *policy_name, wm_error *err);
/* plan: the policy's planned path with this answer, n_plan (x, y, t)
 * points (policy.h); 0 for none. */
void episode_log_write_step(episode_log_writer *lw, const sim_world *w, const action *command,
                            const char *reasoning, const double (*plan)[3], int n_plan,
                            char extra_events[][METRICS_REASON_LEN], int n_extra);
void episode_log_write_summary(episode_log_writer *lw, const episode_result *res);
int episode_log_commit(episode_log_writer *lw, wm_error *err);
void episode_log_abort(episode_log_writer *lw);

/* Calls on_record for each record in order; stops with its non-zero return.
 * Truncated or corrupt logs fail with "file: record N: reason". */
typedef int (*episode_log_visit)(const Wmsim__LogRecord *rec, void *ctx);
int episode_log_read(const char *path, episode_log_visit on_record, void *ctx, wm_error *err);

/* Rebuilds the episode from its log alone (the embedded scenario, the seed,
 * every step's ego and actor states) and shows each step to observe, as
 * episode_run did, with metrics recomputed from the replayed states; the
 * policy is not run; a non-zero observe ends the replay early (not an
 * error). info gets the header's facts, the summary's logged
 * score and the rescored metrics. */
typedef struct {
    char scenario_id[SCENARIO_ID_MAX];
    char policy[64];
    uint64_t seed;
    int steps;
    double logged_score; /* NAN when the log has no summary */
    metrics rescored;    /* finished */
    int stopped;         /* observe returned non-zero: the replay ended there */
} episode_replay_info;
int episode_log_replay(const char *path, int (*observe)(const episode_frame *f, void *ctx), void *ctx,
                       episode_replay_info *info, wm_error *err);

/* `wmsim log show`: a readable summary (header, events, reasoning changes, result). */
int episode_log_show(const char *path, FILE *out, wm_error *err);

#endif
