/* agreement.h — do policies score the same when the frames they see come
 * from the world model instead of the renderer? (DESIGN.md §1: the
 * project measures its own world model; §5: closed-loop agreement.)
 *
 * Usage:
 *     agreement_config cfg = agreement_config_default();    // models/dynamics.wmck, models/tokenizer.wmck
 *     cfg.scenarios = files, cfg.n_scenarios = n;            // scenario_files_add expands folders
 *     cfg.policies = (const char *[]){"expert", "cruise"}, cfg.n_policies = 2;
 *     cfg.seeds = 3, cfg.jobs = 2, cfg.out_dir = "out/agreement";
 *     agreement_result res;
 *     if (agreement_run(&cfg, &res, &err)) ...   // bad input or I/O; err.msg says which
 *     agreement_print_table(stdout, &cfg, &res);
 *     agreement_result_free(&res);
 *
 * Every episode — each scenario × seed 1..seeds × each policy, in that
 * order — runs in both loops:
 *   oracle loop       frames from the renderer at the scenario's camera;
 *                     a policy that does not see frames gets no feed.
 *   generative loop   camera_feed in world-model mode with cfg.feed's
 *                     model, tokenizer, decoding and scene-slot options
 *                     (as `wmsim run --frames worldmodel`) for a policy
 *                     that sees frames; one that does not acts the same
 *                     whatever they show, so it gets no feed (and agrees
 *                     with itself by construction).
 * An episode's outcome is "pass", or the finding kind of the first
 * failure reason (agreement_outcome_name: collision, off_road, guard,
 * goal, score, policy). The loops agree on an episode when their outcomes
 * are equal (so: same pass/fail and the same kind of failure).
 *
 * Per policy: pass rate and mean score in each loop, the gap (world model
 * minus oracle) and the agreement rate (agreeing episodes / episodes). The
 * ranking orders policies by pass rate, then mean score, both descending;
 * exact ties keep the order of cfg.policies. The verdict: whether the two
 * loops' rankings are the same list.
 *
 * Files (cfg.out_dir non-NULL): OUT/agreement.json (atomic; every
 * episode of both loops, the summaries, the rankings, the version and the
 * model options) and, for each disagreeing episode, a divergence strip
 * OUT/diverge/SCENARIO_sSEED_POLICY.png (agreement_strip_name; should two
 * policies' names come out the same, the later one's gets "-P", its
 * 1-based index in cfg.policies, after the name). The strips
 * of an earlier run that this run did not write are removed from
 * OUT/diverge, so the folder matches the JSON.
 *
 * Threads: cfg.jobs workers take episodes in order; each owns its policy
 * instances (created once, reset per episode) and camera feeds. Results go
 * to per-episode slots, so the JSON is byte-identical for any jobs count,
 * provided each policy's answers depend only on what it sees since reset
 * (true of the built-ins and the example clients). Elapsed times are kept
 * out of the JSON. */
#ifndef WMSIM_AGREEMENT_H
#define WMSIM_AGREEMENT_H

#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "render/image.h"
#include "sim/camera_feed.h"
#include "sim/metrics.h"
#include "sim/policy.h"

#define AGREEMENT_MAX_JOBS 256
#define AGREEMENT_MAX_SEEDS 100000
#define AGREEMENT_MAX_STRIP_ROWS 12 /* time rows; the failure steps may add a few */
#define AGREEMENT_NAME_MAX 96       /* a sanitised policy name in a file name */

/* The two loops, as indices into per-loop arrays. */
enum { AGREEMENT_ORACLE, AGREEMENT_WORLDMODEL, AGREEMENT_LOOPS };

/* "oracle", "worldmodel". */
const char *agreement_loop_name(int loop);

/* An episode's outcome: AGREEMENT_PASS or a finding_kind. Names: "pass",
 * "collision", "off_road", "guard", "goal", "score", "policy". */
#define AGREEMENT_PASS (-1)
const char *agreement_outcome_name(int outcome);

typedef struct {
    const char *const *scenarios; /* scenario files (scenario_files_add expands folders) */
    int n_scenarios;
    const char *const *policies;  /* policy_create specs, distinct */
    int n_policies;
    int seeds;                    /* episode seeds 1..seeds */
    /* The generative loop's feed: model_path, tokenizer_path, rp (mode,
     * steps, temperature, guidance), scene_slots. kind and cp are set per
     * scenario. */
    camera_feed_options feed;
    policy_options limits;        /* for external policies */
    const char *out_dir;          /* NULL: write nothing */
    int jobs;                     /* worker threads, [1, AGREEMENT_MAX_JOBS] */
    int progress;                 /* a progress line with rate and ETA on stderr */
} agreement_config;

/* No scenarios or policies, 1 seed, 1 job, no progress, no out_dir;
 * feed: camera_feed_options_default() with models/dynamics.wmck and
 * models/tokenizer.wmck; limits: policy_options_default(). */
agreement_config agreement_config_default(void);

/* One loop's run of an episode. */
typedef struct {
    int passed;
    double score;
    char end_reason[64];               /* episode_result's */
    int steps;
    double t;                          /* s */
    int outcome;                       /* AGREEMENT_PASS or the first failure's finding_kind */
    char failure[METRICS_REASON_LEN];  /* the first failure reason; "" when passed */
    int failure_step;                  /* the step it happened at; -1 passed or untimed (goal, score) */
} agreement_loop_result;

typedef struct {
    int scenario, policy;              /* indices into cfg's lists */
    uint64_t seed;
    char scenario_id[64];
    agreement_loop_result loop[AGREEMENT_LOOPS];
    int agree;                         /* same outcome */
    char strip[256];                   /* "diverge/NAME.png" under out_dir; "" none */
} agreement_episode;

typedef struct {
    int episodes;                      /* scenarios × seeds */
    int passed[AGREEMENT_LOOPS];
    double pass_rate[AGREEMENT_LOOPS];
    double mean_score[AGREEMENT_LOOPS];
    double score_gap;                  /* mean_score[WORLDMODEL] - mean_score[ORACLE] */
    int agreeing;
    double agreement_rate;             /* agreeing / episodes */
} agreement_policy_summary;

typedef struct {
    agreement_episode *episodes;       /* n_episodes, scenario-major, then seed, then policy */
    int n_episodes;
    agreement_policy_summary *policies; /* cfg.n_policies */
    int *ranking[AGREEMENT_LOOPS];     /* policy indices, best first */
    int same_ranking;
    int agreeing, disagreeing;         /* over every policy */
    long steps[AGREEMENT_LOOPS];       /* simulated steps, for rates */
    double elapsed_s;                  /* wall clock (not in the JSON) */
} agreement_result;

/* Checks cfg, loads the scenarios (distinct ids), creates each policy once
 * (an unknown spec or one that cannot start fails here), runs every
 * episode in both loops, writes the files. 0, or -1 with err:
 *     agreement: no scenarios / no policies
 *     agreement: seeds N outside [1, 100000]
 *     agreement: jobs N outside [1, 256]
 *     agreement: policy 'P' given twice
 *     agreement: A and B share the scenario id 'ID'
 *     <scenario_load's, policy_create's, camera_feed_open's, episode_run's
 *      or a file's reason>
 * res is filled on success only (free it with agreement_result_free). */
int agreement_run(const agreement_config *cfg, agreement_result *res, wm_error *err);
void agreement_result_free(agreement_result *res);

/* The readable table: per policy the pass rates, mean scores, gap and
 * agreement; the rankings and the verdict; each disagreeing episode with
 * what each loop did and its strip. */
void agreement_print_table(FILE *f, const agreement_config *cfg, const agreement_result *res);

/* The file name of an episode's strip, "SCENARIO_sSEED_POLICY.png": every
 * byte of the ids outside [A-Za-z0-9._-] becomes '_', runs of '_' become
 * one, the policy part keeps at most AGREEMENT_NAME_MAX bytes. */
void agreement_strip_name(const char *scenario_id, uint64_t seed, const char *policy, char *out, size_t n);

/* One row of a divergence strip: what each loop's policy saw at step. */
typedef struct {
    int step;
    const image *oracle;          /* the oracle loop's frame; NULL: that loop had ended */
    const image *generated;       /* the generative loop's frame; NULL: ended */
    const image *generated_world; /* the oracle's render of the generative loop's world; NULL: ended */
    int oracle_failed, generated_failed; /* the loop's first failure is at this step */
} agreement_strip_row;

/* Writes rows (1..AGREEMENT_MAX_STRIP_ROWS + 4, top to bottom) as one PNG:
 * each row [oracle loop | world model | oracle render of the world model's
 * world], every frame width x height (frames narrower than 128 px are
 * enlarged by a whole factor, nearest neighbour), labelled with the loop,
 * the time and "FAIL" at a failure; a missing frame is dark grey, labelled
 * "ended". 0, or -1 with err (a frame of another size, a file error). */
int agreement_write_strip(const char *path, const agreement_strip_row *rows, int n, int width, int height,
                          wm_error *err);

#endif
