/* eval.h — nightly closed-loop evaluation: every episode of a suite
 * against one policy, written as results.json, junit.xml and report.html,
 * and compared with the previous night's results.
 *
 * Usage:
 *     eval_config cfg = eval_config_default();
 *     cfg.suite_path = "scenarios/suites/nightly.pbtxt", cfg.policy = "vla-tiny";
 *     cfg.out_dir = "out/nightly/2026-11-29", cfg.baseline_dir = "out/nightly/2026-11-28";
 *     eval_outcome out;
 *     if (eval_run(&cfg, &out, &err)) ...   // exit 2: bad suite, policy, baseline, I/O
 *     return out.regressed ? 1 : 0;
 *
 * OUT/results.json (the contract the report, the JUnit file, the next
 * night's --baseline and users' own tools read):
 *   wmsim        {version}
 *   suite        {id, description, file, hash (FNV-1a 64 of its binary
 *                 encoding, 16 hex digits)}
 *   policy       {spec (as given), name, model: {file, hash} | null}
 *   models       {dynamics: {file, hash}, tokenizer: {file, hash}} when a
 *                 worldmodel loop ran, else {}
 *   started      UTC "YYYY-MM-DDTHH:MM:SSZ";  elapsed_s;  jobs;  ranks
 *   summary      {episodes, passed, failed, errors, pass_rate, mean_score}
 *                 errors: episodes ended by a policy error (also failed)
 *   categories   [{name, episodes, passed, pass_rate, mean_score}] by name
 *   entries      [{index, path, category, episodes, passed, pass_rate,
 *                  min_pass_rate, passed_entry}] in suite order
 *   episodes     [{key "SCENARIO/sSEED/LOOP", entry, category, scenario,
 *                  scenario_file, scenario_hash, parameters {name: value} |
 *                  null, seed, loop "oracle"|"worldmodel", passed, score,
 *                  min_score, end_reason, steps, duration_s, error (the
 *                  policy error text) | null, failure_reasons [..],
 *                  metrics {name: number} (metrics_values' names),
 *                  files {log, result, video | null, thumbnails | null},
 *                  paths relative to OUT}] in run order (entry, scenario,
 *                  seed, loop)
 *   baseline     null, or {dir, suite_hash_matches, noise, compared,
 *                  regressions [{key, before_score, after_score, delta,
 *                  reasons [..]}]  (passed before, fail now),
 *                  score_drops [{key, before_score, after_score, delta}]
 *                  (both passed, score fell by more than noise),
 *                  fixed [{key, before_score, after_score, delta}],
 *                  added [key], removed [key]}
 *   regressed    true when baseline.regressions or score_drops is non-empty
 * Per episode: OUT/episodes/SCENARIO_sSEED_LOOP/{episode.log, result.json,
 * video.mp4, thumbs.png} and, written last and atomically, episode.json:
 * the episode's entry of results.json with the run's identity (a hash of
 * the policy and its model, the world-model files, the suite and the
 * options). It marks the episode complete: a rerun into the same OUT keeps
 * every complete episode of the same run and runs the rest (a crash loses
 * only the episodes in flight); an episode.json of another run is an error,
 * never overwritten. Under MPI (cfg.cl) the episodes are shared between the
 * ranks by index and rank 0 writes the three files from the episode.json
 * files. results.json is byte-identical for a seed whatever --jobs and the
 * rank count, apart from started, elapsed_s, jobs and ranks. */
#ifndef WMSIM_EVAL_H
#define WMSIM_EVAL_H

#include "core/error.h"
#include "sim/camera_feed.h"
#include "sim/policy.h"

typedef enum { EVAL_VIDEO_ALL, EVAL_VIDEO_FAILED, EVAL_VIDEO_NONE } eval_video;

typedef struct {
    const char *suite_path;
    const char *policy;        /* policy_create spec */
    const char *out_dir;
    const char *baseline_dir;  /* NULL: no comparison */
    double noise;              /* score drops up to this are noise (default 0.05) */
    int jobs;                  /* worker threads */
    eval_video video;          /* which episodes get video.mp4 (default all) */
    int progress;              /* progress line on stderr */
    camera_feed_options feed;  /* the worldmodel loop's model options */
    policy_options limits;     /* for external policies */
    const struct cluster *cl;  /* the MPI job's ranks (sim/cluster.h); NULL: this process alone */
} eval_config;

eval_config eval_config_default(void);

typedef struct {
    int episodes, passed, failed, errors;
    int regressions, score_drops, fixed;
    int regressed;             /* regressions + score_drops > 0 */
    double elapsed_s;
} eval_outcome;

int eval_run(const eval_config *cfg, eval_outcome *out, wm_error *err);

/* The files made from results.json (sim/eval_report.c): junit.xml (one
 * testcase per episode) and report.html (summary, categories, plots,
 * regressions, a row per episode with thumbnails, video and reasons).
 * junit.xml: a policy error is an <error>, so its failures count excludes
 * summary.errors. report.html links results.json's paths as they are
 * (relative to OUT), so it belongs in OUT; it needs no network (inline CSS,
 * SVG and script). For tests (tests/browser.h reads them): the summary
 * cells #summary-{episodes,passed,failed,errors,pass_rate,mean_score} carry
 * data-value; after load the page checks every <img> and <video>, shows
 * #media-warning naming the broken ones and leaves {"images", "videos",
 * "broken", "pending"} as JSON in #selfcheck (data-state="done"). Both
 * refuse a results object without suite.id, summary counts or episodes'
 * key and passed, with an error naming path. */
struct json_t;
int eval_write_junit(const char *path, const struct json_t *results, wm_error *err);
int eval_write_report(const char *path, const struct json_t *results, wm_error *err);

/* Compares results (this night) with the results.json in baseline_dir and
 * sets results' "baseline" and "regressed" (sim/eval_compare.c). */
int eval_compare(struct json_t *results, const char *baseline_dir, double noise, wm_error *err);
/* DIR/results.json, checked to hold an episodes array: "--baseline DIR:
 * DIR/results.json: No such file or directory", "...:LINE: not JSON: ...". */
int eval_baseline_load(const char *dir, struct json_t **out, wm_error *err);

#endif
