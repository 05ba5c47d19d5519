/* episode.h — one closed-loop episode: the policy sees the world, answers an
 * action every 0.1 s, the world steps, metrics judge it, the log records it.
 *
 * Usage:
 *     episode_config cfg = {.sc = &sc, .seed = sc.seed, .pol = &pol, .log_path = "out/episode.log"};
 *     episode_result res;
 *     if (episode_run(&cfg, &res, &err)) ...          // I/O failure only
 *     episode_write_result_json("out/result.json", &cfg, &res, &err);
 *
 * A policy that fails or answers out-of-range actions ends its episode with
 * a failure reason in res (the episode still "ran"); episode_run returns -1
 * when the log cannot be written, the camera feed fails (no log is left),
 * or a policy that sees frames gets no feed. */
#ifndef WMSIM_EPISODE_H
#define WMSIM_EPISODE_H

#include "sim/camera_feed.h"
#include "sim/metrics.h"
#include "sim/policy.h"

/* What an observer sees: the world, the action that led to it (NULL before
 * the first step), the metrics so far, and with a camera feed its frame at
 * w (what the policy saw or will see) and the feed itself. */
typedef struct {
    const sim_world *w;
    const action *command;
    const metrics *m;
    const image *camera;      /* NULL without a feed */
    const camera_feed *feed;  /* NULL without a feed */
    const char *reasoning;    /* the policy's reasoning with command; NULL before the first step */
} episode_frame;

typedef struct {
    const scenario *sc;
    const char *scenario_path; /* recorded in result.json; may be NULL */
    uint64_t seed;
    policy *pol;
    /* The policy's camera frames (oracle or world model); required when the
     * policy sees_frames, else optional (observers may show it). */
    camera_feed *feed;
    const char *log_path;      /* NULL: no log */
    /* Optional observer (renderers, video writers): called with the world
     * before the first step and after every step; non-zero stops the episode
     * there ("stopped by observer"). */
    int (*observe)(const episode_frame *f, void *ctx);
    void *observe_ctx;
} episode_config;

typedef struct {
    metrics m;
    int steps;
    double t;
    char end_reason[256];      /* "goal reached", "duration elapsed", "collision", "policy error",
                                  "stopped by observer" */
    /* Wall-clock seconds spent, for benchmarks (never in logs or results,
     * which stay byte-identical): the camera feed (render or generate),
     * the policy's answers, the simulator's steps and metrics. */
    double frames_s, policy_s, sim_s;
} episode_result;

int episode_run(const episode_config *cfg, episode_result *res, wm_error *err);

/* result.json: the scenario, seed, policy, outcome, failure reasons and
 * every metric. episode_result_json builds the same object (a new
 * reference) for files that gather many episodes. */
int episode_write_result_json(const char *path, const episode_config *cfg, const episode_result *res,
                              wm_error *err);
struct json_t;
struct json_t *episode_result_json(const episode_config *cfg, const episode_result *res);

#endif
