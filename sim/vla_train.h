/* vla_train.h — training vla-tiny (worldmodel/vla.h) by behaviour cloning
 * from the privileged expert, with DAgger's relabelling.
 *
 * Usage:
 *     vla_train_config c = vla_train_config_default();
 *     c.scenarios = paths, c.n_scenarios = n, c.out_path = "models/vla-tiny.wmck";
 *     vla_train_report rep;
 *     if (vla_train(&c, &rep, &err)) ...
 *
 * Rounds. Each round drives `variations` new variations of every scenario
 * (scenario_vary: other seeds, speeds, timings, light) in closed loop with
 * the oracle camera at the model's size, and records at every step the
 * frame, the speed, the instruction and the expert's action for that state
 * (the label). Round 0 is driven by the expert with exploration
 * (policy_explore_wrap), so the data covers recoveries; in round r >= 1 each
 * step is driven by the expert with probability 0.5^r and by the current
 * network otherwise (DAgger: the states the network itself reaches,
 * labelled by the expert). The network then trains on everything gathered
 * so far (steps_first in round 0, steps after), AdamW with a warm-up and
 * cosine schedule per round, batches drawn with replacement, each sample
 * with weight 1 + brake_weight x its label's brake fraction: hard braking
 * for a guard or a lead is what most failures lack, and it is rare among
 * cruising steps. After each round the
 * model is written to out_path (with ema_decay > 0 the weights' exponential
 * moving average over the training steps, which also drives the next
 * round: it swings less between rounds than the last step's weights) and,
 * with eval_seeds > 0, driven through
 * every scenario as written with seeds 1..eval_seeds in the oracle loop.
 * out_path.csv gets a row per round. A run restarts from scratch (it keeps
 * every frame in memory: about 25 kB a step at 128x64).
 *
 * Determinism: every draw comes from the seed; the same config gives the
 * same model on any OpenMP thread count. */
#ifndef WMSIM_VLA_TRAIN_H
#define WMSIM_VLA_TRAIN_H

#include <stdint.h>

#include "core/error.h"
#include "worldmodel/vla.h"

#define VLA_TRAIN_MAX_SCENARIOS 64

typedef struct {
    const char *const *scenarios; /* scenario files */
    int n_scenarios;
    const char *out_path;         /* the model; out_path.csv beside it */
    vla_config model;
    int rounds;                   /* >= 1 */
    int variations;               /* per scenario and round, >= 1 */
    int steps_first, steps;       /* training steps in round 0 and in each later round */
    int batch;
    float lr, lr_min;
    int warmup;
    float brake_weight;           /* >= 0 */
    float ema_decay;              /* [0, 1): the saved weights' moving average per step; 0: the weights */
    int eval_seeds;               /* 0: no evaluation */
    uint64_t seed;
    int progress;                 /* a progress line on stderr */
} vla_train_config;

/* 4 rounds of 8 variations, 2000 then 1500 steps of batch 32, brake weight 20, no average, AdamW 2e-3 to
 * 2e-5 with 50 warm-up steps, eval on seeds 1..3, seed 1. */
vla_train_config vla_train_config_default(void);

typedef struct {
    int round;
    int samples;          /* gathered so far */
    double expert_share;  /* of this round's driving */
    float first_loss;     /* mean over the round's first quarter of steps (at most 100) */
    float loss;           /* mean over its last quarter (at most 100) */
    int eval_passed, eval_episodes;
    double seconds;       /* the whole run so far */
} vla_train_round;

typedef struct {
    vla_train_round rounds[16];
    int n_rounds;
    size_t parameters;
} vla_train_report;

/* Errors: bad config ("vla train: rounds 0 outside [1, 16]" ...), a
 * scenario that does not load (its message), a checkpoint that cannot be
 * written. */
int vla_train(const vla_train_config *c, vla_train_report *rep, wm_error *err);

/* Drives every scenario as written with seeds 1..seeds in the oracle loop
 * with the policy spec; passed[i] (may be NULL) counts scenario i's passes. */
int vla_train_evaluate(const char *policy_spec, const char *const *scenarios, int n, int seeds, int *passed,
                       int *total_passed, wm_error *err);

#endif
