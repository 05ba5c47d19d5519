/* synth.h — the cross-entropy method (CEM) over a template's parameters,
 * and the distance between two points of them: the pure maths of `wmsim
 * synth search`, with no simulator in it (sim/synth_search.c runs the
 * episodes). The grid and random samplers are in scenario_template.h.
 *
 * Usage:
 *     synth_cem cem;
 *     synth_cem_init(&cem, &t, seed, 20, 0.2);        // population 20, the best 20 % are the elite
 *     for (int g = 0; g < generations; g++) {
 *         double v[20][SCENARIO_MAX_PARAMS], score[20];
 *         for (int i = 0; i < 20; i++) synth_cem_sample(&cem, i, v[i]);   // any order, any thread
 *         ... run each, score[i] = lower is more interesting (a failure) ...
 *         synth_cem_update(&cem, &v[0][0], SCENARIO_MAX_PARAMS, score, 20);
 *     }
 *
 * The sampling distribution lives in the normalised space u = (v - min) /
 * (max - min) in [0, 1] of each range: a Gaussian per range (mean 0.5 and
 * standard deviation 0.5 at the start, truncated to [0, 1] by redrawing),
 * and categorical probabilities per list (uniform at the start). An update
 * takes the elite (the n_elite lowest scores; ties keep index order, so a
 * generation's result does not depend on the order its episodes finished)
 * and moves the distribution towards it with smoothing 0.7 (new = 0.7 *
 * elite + 0.3 * old), so one lucky generation cannot collapse it; a floor
 * of 0.05 on each standard deviation, and 5 % of each list's probability
 * kept uniform (a floor of 0.05 / number of values), keep it exploring. Member i of generation g is drawn
 * from rng_fork(seed ^ SYNTH_CEM_STREAM, g * population + i): it depends on
 * the seed, the earlier generations' updates and (g, i) only. */
#ifndef WMSIM_SYNTH_H
#define WMSIM_SYNTH_H

#include <stdint.h>

#include "scenarios/scenario_template.h"

#define SYNTH_CEM_STREAM 0x63656d63656dULL /* "cemcem": the CEM's streams differ from the random sampler's */
#define SYNTH_CEM_SMOOTHING 0.7
#define SYNTH_CEM_MIN_STD 0.05
#define SYNTH_CEM_MIN_PROB 0.05 /* of each list's probability, spread evenly */

typedef struct {
    const scenario_template *t;
    uint64_t seed;
    int population, n_elite;
    int generation;                  /* updates so far: the generation synth_cem_sample draws */
    double mean[SCENARIO_MAX_PARAMS]; /* ranges, normalised */
    double std[SCENARIO_MAX_PARAMS];
    double prob[SCENARIO_MAX_PARAMS][SCENARIO_MAX_PARAM_VALUES]; /* lists */
} synth_cem;

/* population >= 2; the elite is max(2, round(elite_frac * population)),
 * at most the population. */
void synth_cem_init(synth_cem *c, const scenario_template *t, uint64_t seed, int population, double elite_frac);

/* Member i of the current generation, as values for scenario_template_make
 * (integer ranges rounded, lists as indices). */
void synth_cem_sample(const synth_cem *c, int member, double *values);

/* Fits the next generation to the n samples just scored (values row-major,
 * stride doubles a row; lower scores are better; NaN counts as worst). */
void synth_cem_update(synth_cem *c, const double *values, int stride, const double *scores, int n);

/* How far apart two points are, in [0, 1]: the root mean square over the
 * parameters of |u_a - u_b| for a range (normalised) and of 0 or 1 (same
 * value or not) for a list. */
double synth_distance(const scenario_template *t, const double *a, const double *b);

#endif
