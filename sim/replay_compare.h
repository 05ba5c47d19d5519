/* replay_compare.h — `wmsim replay LOG --policy OTHER`: the logged
 * episode's scenario (embedded in the log) re-run in closed loop with the
 * log's seed and another policy, and the two runs compared, so the policy
 * in the car and a candidate are judged on the same case.
 *
 * Usage:
 *     replay_compare_logged *lg;
 *     if (replay_compare_load("out/x/episode.log", &lg, &err)) ...   // header, summary, scenario
 *     replay_compare_config c = {.policy = "cruise", .cp = lg->sc.camera, .supersample = 1, .hud = 1};
 *     replay_compare_report rep;
 *     if (replay_compare_run(lg, &c, &rep, &err)) ...   // err names the policy, file or folder
 *     replay_compare_print(&rep, stdout);
 *     replay_compare_logged_free(lg);
 *
 * The new run is `wmsim run`'s episode: a policy that sees frames gets the
 * oracle's at c->cp (give the logged run's camera options again for one).
 * The logged run is replayed from the log (episode_log_replay), never re-run.
 * Both advance in step: the replay runs on a thread of its own and hands
 * over one step at a time, so neither run's history is kept (an episode
 * may last 6,000 steps). Files, in c->out_dir (default out/compare_ID;
 * created):
 *
 *   compare.mp4 (or c->video_path)  per step, side by side: the logged run
 *       left, the new run right, each the oracle render of its own world
 *       with the recorder's HUD, bird's-eye view and reasoning caption as
 *       asked, and its policy's name (in the HUD with c->hud, else at the
 *       top left). A run that has ended holds its last picture, labelled
 *       "ended: NAME", until the other ends: 1 + max(steps) frames at 10 fps.
 *   diff.csv  header step,t,logged_accel,logged_brake,logged_steer,
 *       logged_speed,logged_s,logged_d,new_accel,...,new_d,abs_diff_accel,
 *       abs_diff_brake,abs_diff_steer; one row per step 1..max(steps), as
 *       the log numbers them: the action of step k (the command that led
 *       from step k-1 to k) and the ego's speed (m/s), s and d (m, road
 *       coordinates) after it, at t = k * 0.1 s. A run's columns (and the
 *       differences) are empty past its last step.
 *   diff.json  scenario id and hash, seed, both runs (policy, passed,
 *       score, end reason, steps, failure reasons, every metric of
 *       result.json), the deltas new minus logged (score, steps, each
 *       metric; null where the log lacks a metric), and the actions: the
 *       common steps, the first diverging step (null when none), and per
 *       component the max and mean absolute difference over the common
 *       steps.
 *   episode.log, result.json  the new run, as `wmsim run` writes them
 *       (result.json without a scenario file), so it can be replayed too.
 * The logged run's outcome is the log's summary, as the car judged it (a
 * rescore from states would miss a policy's own errors).
 *
 * Actions diverge at the first common step where |accel|, |brake| or
 * |steer| differ by more than REPLAY_COMPARE_TOLERANCE: far below anything
 * a policy means, above nothing a deterministic policy does (logs keep
 * doubles, so the same policy on the same case repeats its answers bit for
 * bit).
 *
 * Errors (0, or -1 with err naming the thing): the log unreadable or
 * corrupt ("LOG: record N: ...", "LOG: no summary record (log
 * incomplete)"), an out_dir that holds LOG itself (the new run's log would
 * replace it), an unknown policy or one that cannot start (policy_create's
 * message), the camera, the folder or a file that cannot be written. Every
 * file is written atomically; the video is aborted and the new run's log
 * not put in place when anything fails, and the policy is created before
 * the folder, so a bad policy leaves nothing behind. */
#ifndef WMSIM_REPLAY_COMPARE_H
#define WMSIM_REPLAY_COMPARE_H

#include <stdint.h>
#include <stdio.h>

#include "render/camera.h"
#include "render/video.h"
#include "sim/metrics.h"
#include "sim/policy.h"

#define REPLAY_COMPARE_TOLERANCE 1e-6 /* m/s², m/s², rad */

/* One run's outcome, as result.json has it. */
typedef struct {
    char policy[256];
    int steps;
    int passed;
    double score;
    char end_reason[256];
    int n_reasons;
    char reasons[METRICS_MAX_REASONS][METRICS_REASON_LEN];
    double metrics[METRICS_N_VALUES]; /* metrics_values' order; NAN: not in the log */
} replay_compare_outcome;

/* What a log says before any replay. */
typedef struct {
    char path[4096];
    scenario sc; /* embedded in the header */
    uint64_t seed;
    replay_compare_outcome outcome; /* the header's policy, the summary's result */
} replay_compare_logged;

int replay_compare_load(const char *log_path, replay_compare_logged **out, wm_error *err);
void replay_compare_logged_free(replay_compare_logged *lg); /* NULL is fine */

typedef struct {
    const char *policy;           /* a policy_create spec */
    const policy_options *limits; /* NULL: defaults */
    const char *out_dir;          /* NULL: out/compare_SCENARIO_ID */
    const char *video_path;       /* NULL: OUT_DIR/compare.mp4 */
    video_codec codec;
    camera_params cp;             /* the pictures' and the new policy's camera */
    int supersample;              /* 1 or 2 */
    int hud, bev, reasoning;      /* as for `wmsim run` */
} replay_compare_config;

typedef struct {
    char scenario_id[SCENARIO_ID_MAX];
    uint64_t seed;
    replay_compare_outcome logged, fresh; /* fresh: the new run */
    int common_steps;                     /* min of the two runs' steps */
    int first_diverging_step;             /* -1: none within the common steps */
    double max_abs_diff[3], mean_abs_diff[3]; /* accel, brake, steer over the common steps */
    int frames;                           /* in the video */
    char out_dir[4096], video[4200], csv[4200], json[4200], result[4200], log[4200];
} replay_compare_report;

int replay_compare_run(const replay_compare_logged *lg, const replay_compare_config *c, replay_compare_report *rep,
                       wm_error *err);

/* Both runs' PASS/FAIL, score, end reason and failure reasons, the score
 * delta, the first diverging step and the files written. */
void replay_compare_print(const replay_compare_report *rep, FILE *out);

#endif
