/* synth.c — the samplers of scenarios/scenario_template.h (grid, random)
 * and the cross-entropy method of scenarios/synth.h.
 *
 * Glossary: P parameters, M the CEM's population, E its elite, u a range's
 * value normalised to [0, 1]. */
#include "scenarios/synth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/rng.h"

#define SYNTH_GRID_MAX 1000000L
#define CEM_REDRAWS 16 /* truncation by redrawing, then a clamp: never an endless loop */

/* ---------------------------------------------------------------- grid */

static int grid_points(const scenario_param *p, const int *grid_override, int i) {
    if (p->n_values) return p->n_values;
    return grid_override && grid_override[i] > 0 ? grid_override[i] : p->grid_points;
}

long synth_grid_size(const scenario_template *t, const int *grid_override) {
    long n = 1;
    for (int i = 0; i < t->n_params; i++) {
        n *= grid_points(&t->params[i], grid_override, i);
        if (n > SYNTH_GRID_MAX) return -1;
    }
    return n;
}

/* Point k of a range's n, from min to max; one point is the midpoint. */
static double range_point(const scenario_param *p, int k, int n) {
    double v = n == 1 ? 0.5 * (p->min + p->max)
               : k == n - 1 ? p->max
                            : p->min + (p->max - p->min) * k / (n - 1);
    return p->integer ? nearbyint(v) : v;
}

void synth_grid_point(const scenario_template *t, long index, const int *grid_override, double *values) {
    /* Mixed radix with the last parameter varying fastest. */
    for (int i = t->n_params - 1; i >= 0; i--) {
        const scenario_param *p = &t->params[i];
        int n = grid_points(p, grid_override, i);
        int k = (int)(index % n);
        index /= n;
        values[i] = p->n_values ? k : range_point(p, k, n);
    }
}

/* ---------------------------------------------------------------- random */

/* An integer range draws each integer in [ceil(min), floor(max)] equally
 * often (rounding a uniform number would halve the end points' share). */
static double draw_range(const scenario_param *p, wm_rng *r) {
    if (!p->integer) return rng_range(r, p->min, p->max);
    double lo = ceil(p->min), hi = floor(p->max);
    double v = floor(rng_range(r, lo, hi + 1));
    return v > hi ? hi : v;
}

void synth_random_point(const scenario_template *t, uint64_t seed, long index, double *values) {
    wm_rng r = rng_fork(seed, (uint64_t)index);
    for (int i = 0; i < t->n_params; i++) {
        const scenario_param *p = &t->params[i];
        if (p->n_values) {
            int k = (int)(rng_uniform(&r) * p->n_values);
            values[i] = k < p->n_values ? k : p->n_values - 1;
        } else {
            values[i] = draw_range(p, &r);
        }
    }
}

/* ---------------------------------------------------------------- CEM */

void synth_cem_init(synth_cem *c, const scenario_template *t, uint64_t seed, int population, double elite_frac) {
    memset(c, 0, sizeof *c);
    c->t = t;
    c->seed = seed;
    c->population = population < 2 ? 2 : population;
    int e = (int)lround(elite_frac * c->population);
    c->n_elite = e < 2 ? 2 : e > c->population ? c->population : e;
    for (int i = 0; i < t->n_params; i++) {
        const scenario_param *p = &t->params[i];
        c->mean[i] = 0.5, c->std[i] = 0.5;
        for (int k = 0; k < p->n_values; k++) c->prob[i][k] = 1.0 / p->n_values;
    }
}

static double range_value(const scenario_param *p, double u) {
    double v = p->min + (p->max - p->min) * u;
    if (v > p->max) v = p->max;
    if (v < p->min) v = p->min;
    return p->integer ? nearbyint(v) : v;
}

static double range_unit(const scenario_param *p, double v) { return (v - p->min) / (p->max - p->min); }

void synth_cem_sample(const synth_cem *c, int member, double *values) {
    const scenario_template *t = c->t;
    wm_rng r = rng_fork(c->seed ^ SYNTH_CEM_STREAM, (uint64_t)c->generation * (uint64_t)c->population + (uint64_t)member);
    for (int i = 0; i < t->n_params; i++) {
        const scenario_param *p = &t->params[i];
        if (p->n_values) {
            double x = rng_uniform(&r), acc = 0;
            int k = 0;
            for (; k < p->n_values - 1; k++) {
                acc += c->prob[i][k];
                if (x < acc) break;
            }
            values[i] = k;
            continue;
        }
        double u = 0;
        int tries = 0;
        do u = c->mean[i] + c->std[i] * rng_normal(&r);
        while ((u < 0 || u > 1) && ++tries < CEM_REDRAWS);
        values[i] = range_value(p, u < 0 ? 0 : u > 1 ? 1 : u);
    }
}

typedef struct {
    double score;
    int index;
} ranked;

static int ranked_cmp(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    return x->index - y->index;
}

void synth_cem_update(synth_cem *c, const double *values, int stride, const double *scores, int n) {
    const scenario_template *t = c->t;
    if (n < 1) return;
    ranked *order = MALLOC_CHECK((size_t)n * sizeof *order);
    for (int k = 0; k < n; k++) order[k] = (ranked){isnan(scores[k]) ? INFINITY : scores[k], k};
    qsort(order, (size_t)n, sizeof *order, ranked_cmp);
    int e = c->n_elite < n ? c->n_elite : n;
    const double a = SYNTH_CEM_SMOOTHING;
    for (int i = 0; i < t->n_params; i++) {
        const scenario_param *p = &t->params[i];
        if (p->n_values) {
            double freq[SCENARIO_MAX_PARAM_VALUES] = {0};
            for (int k = 0; k < e; k++) freq[(int)values[(size_t)order[k].index * stride + i]] += 1.0 / e;
            /* Mixing in SYNTH_CEM_MIN_PROB of the uniform distribution puts
             * the floor under every value and keeps the sum 1. */
            for (int k = 0; k < p->n_values; k++) {
                double q = a * freq[k] + (1 - a) * c->prob[i][k];
                c->prob[i][k] = SYNTH_CEM_MIN_PROB / p->n_values + (1 - SYNTH_CEM_MIN_PROB) * q;
            }
            continue;
        }
        double mean = 0, var = 0;
        for (int k = 0; k < e; k++) mean += range_unit(p, values[(size_t)order[k].index * stride + i]) / e;
        for (int k = 0; k < e; k++) {
            double d = range_unit(p, values[(size_t)order[k].index * stride + i]) - mean;
            var += d * d / e;
        }
        c->mean[i] = a * mean + (1 - a) * c->mean[i];
        double s = a * sqrt(var) + (1 - a) * c->std[i];
        c->std[i] = s < SYNTH_CEM_MIN_STD ? SYNTH_CEM_MIN_STD : s;
    }
    free(order);
    c->generation++;
}

double synth_distance(const scenario_template *t, const double *a, const double *b) {
    if (t->n_params == 0) return 0;
    double sum = 0;
    for (int i = 0; i < t->n_params; i++) {
        const scenario_param *p = &t->params[i];
        double d = p->n_values ? (nearbyint(a[i]) != nearbyint(b[i])) : fabs(range_unit(p, a[i]) - range_unit(p, b[i]));
        sum += d * d;
    }
    return sqrt(sum / t->n_params);
}
