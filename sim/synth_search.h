/* synth_search.h — `wmsim synth search`: adversarial search for the values
 * of a template's parameters that make a policy fail, by the cross-entropy
 * method (scenarios/synth.h), against plain random sampling on the same
 * budget as the baseline.
 *
 * Usage:
 *     synth_search_config cfg = synth_search_config_default();
 *     cfg.t = &t, cfg.policy = "cruise", cfg.budget = 40, cfg.seed = 1, cfg.jobs = 2;
 *     synth_search_result res;
 *     if (synth_search_run(&cfg, &res, &err)) ...          // bad policy, I/O: err
 *     if (synth_search_write(&cfg, &res, "out/s", &err)) ... // out/s/failures/ID.pbtxt, out/s/search.json
 *     synth_search_print(stdout, &cfg, &res);
 *     synth_search_result_free(&res);
 *
 * Each episode materialises the point (scenario_template_make; CEM point i
 * is "TEMPLATEID_s000i" with method "search", random point i is
 * "TEMPLATEID_r000i" with method "random", the very scenario `synth sweep
 * --random --seed S` writes as point i) and runs it in closed loop with the
 * policy at the scenario's seed, oracle camera frames for a policy that
 * sees them. The CEM minimises passed + score: every failure ranks before
 * every pass, and lower scores before higher; a point whose values make no
 * valid scenario counts as worse than any episode (3) and is reported as
 * invalid. Generations of `population` points run in parallel on `jobs`
 * threads; generation g is drawn from the updates of generations < g only,
 * and results go into per-episode slots, so a seed gives the same search
 * whatever the jobs count.
 *
 * Under MPI (cfg.cl, sim/cluster.h) every rank calls synth_search_run with
 * the same config: each generation's points (and the baseline's) are
 * shared by index (point k on rank k % ranks), and their episodes are
 * merged (cluster_merge_slots) so every rank holds all of them before the
 * CEM update and draws the same next generation; every rank returns the
 * same result, the same whatever the rank count. Write and print on rank
 * 0 only.
 *
 * Distinct failures: an episode fails when !passed; its kind is its first
 * failure's (collision, off_road, guard, goal, score, policy). Within a
 * method, in episode order, a failure is distinct unless an earlier
 * distinct failure of the same kind lies within distinct_distance
 * (synth_distance: RMS over the parameters of the normalised range gap,
 * 0 or 1 for a list) of it. The files written are the distinct failures
 * of the CEM, then those of the random baseline that are not within that
 * distance of a same-kind file already written. */
#ifndef WMSIM_SYNTH_SEARCH_H
#define WMSIM_SYNTH_SEARCH_H

#include <jansson.h>
#include <stdio.h>

#include "scenarios/scenario_template.h"
#include "sim/metrics.h"
#include "sim/policy.h"

#define SYNTH_MAX_BUDGET 100000
#define SYNTH_DEFAULT_ELITE 0.2
#define SYNTH_DEFAULT_DISTINCT 0.2

enum { SYNTH_CEM, SYNTH_RANDOM, SYNTH_METHODS };

typedef struct {
    const scenario_template *t;
    const char *policy;       /* a policy_create spec */
    policy_options limits;    /* an external policy's */
    int budget;               /* episodes per method, [1, SYNTH_MAX_BUDGET] */
    int population;           /* CEM points a generation; 0: budget / 4 within [4, 20] */
    double elite_frac;        /* (0, 1] */
    double distinct_distance; /* [0, 1] */
    uint64_t seed;
    int random_baseline;      /* 1: the random baseline too */
    int jobs;
    int progress;             /* a progress line on stderr */
    const struct cluster *cl; /* the MPI job's ranks (sim/cluster.h); NULL: this process alone */
} synth_search_config;

/* budget 100, population 0, elite 0.2, distinct 0.2, seed 1, random
 * baseline on, 1 job, no progress line. */
synth_search_config synth_search_config_default(void);

/* Plain values only (no pointers): ranks merge episodes byte for byte. */
typedef struct {
    int method;               /* SYNTH_CEM or SYNTH_RANDOM */
    int index;                /* in the method's stream (the scenario id's number) */
    int generation;           /* CEM; -1 for random */
    double values[SCENARIO_MAX_PARAMS];
    int valid;                /* 0: the values make no valid scenario; the reason is in failure */
    int passed;
    double score;
    int failure_kind;         /* the first failure's finding_kind; -1 when passed or invalid */
    char failure[METRICS_REASON_LEN]; /* the first failure reason (or why the values are invalid) */
    char end_reason[64];
    int steps;
    int distinct;             /* a distinct failure within its method */
    char file[SCENARIO_ID_MAX + 32]; /* "failures/ID.pbtxt" when written; "" otherwise */
} synth_episode;

typedef struct {
    int episodes;             /* valid episodes run */
    int invalid;
    int failures;
    int distinct;
    double failures_per_100;  /* failures per 100 valid episodes */
} synth_method_summary;

typedef struct {
    synth_episode *episodes;  /* the CEM's budget, then the random baseline's */
    int n_episodes;
    int population, n_elite, generations;
    synth_method_summary summary[SYNTH_METHODS];
    int n_files;              /* distinct failures written */
    long steps;               /* of every rank */
    double elapsed_s;         /* wall clock, printed, never written */
} synth_search_result;

int synth_search_run(const synth_search_config *cfg, synth_search_result *res, wm_error *err);

/* DIR/failures/ID.pbtxt for each distinct failure (its Synthesis with the
 * policy, score and failure) and DIR/search.json: the configuration, the
 * summary, the files and every episode. */
int synth_search_write(const synth_search_config *cfg, synth_search_result *res, const char *dir, wm_error *err);

void synth_search_print(FILE *f, const synth_search_config *cfg, const synth_search_result *res);
void synth_search_result_free(synth_search_result *res);

/* JSON shared with `synth sweep`'s manifest: the template's parameters
 * (name, fields, min/max/grid_points or values) and a point's values
 * ({name: number, or the list's value}). */
json_t *synth_params_json(const scenario_template *t);
json_t *synth_values_json(const scenario_template *t, const double *values);
json_t *synth_template_json(const scenario_template *t); /* {path, id, hash} */

#endif
