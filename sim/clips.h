/* clips.h — synthetic training clips at scale: scenarios × variations, each
 * driven by a policy (optionally exploring), rendered by the oracle camera
 * and written in the clip format (datasets/clip.h), on several threads.
 *
 * Usage:
 *     clips_config cfg = {.scenarios = paths, .n_scenarios = n, .variations = 8,
 *                         .policy = "expert", .explore = 1, .out_dir = "data/clips", .jobs = 2};
 *     clips_report rep;
 *     if (clips_generate(&cfg, &rep, &err)) ...
 *
 * Clip k of scenario ID is OUT/ID/vKKKK and depends only on the scenario
 * file and k: the same clips whatever --jobs or rank count. Generation
 * resumes: complete clips (meta.json present) are kept as they are;
 * partial ones are redone.
 *
 * Under MPI (cfg.cl, sim/cluster.h) every rank calls clips_generate with
 * the same config: rank r makes the clips k with k % ranks == r into the
 * shared OUT, and every rank returns the report of all the clips (written
 * and kept by any rank), or -1 when any rank failed. */
#ifndef WMSIM_CLIPS_H
#define WMSIM_CLIPS_H

#include "core/error.h"

typedef struct {
    const char *const *scenarios; /* scenario files */
    int n_scenarios;
    int variations;               /* per scenario; variation 0 is the scenario as written */
    const char *policy;           /* "expert", "cruise" */
    int explore;                  /* perturb the policy's actions (policy_explore_wrap) */
    const char *out_dir;
    int width, height;            /* 0: the scenario's camera */
    double seconds;               /* clip length cap; 0: the scenario's duration */
    int jobs;                     /* threads, >= 1 */
    int progress;                 /* a progress line on stderr (for terminals) */
    const struct cluster *cl;     /* the MPI job's ranks (sim/cluster.h); NULL: this process alone */
} clips_config;

typedef struct {
    int planned;        /* scenarios × variations */
    int written;        /* clips written by this call (on every rank) */
    int kept;           /* complete already: left untouched */
    long frames;        /* frames written by this call (on every rank) */
    double elapsed_s;   /* this rank's wall clock, until every rank was done */
} clips_report;

int clips_generate(const clips_config *cfg, clips_report *rep, wm_error *err);

#endif
