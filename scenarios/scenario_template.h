/* scenario_template.h — scenario templates: a scenario whose `parameters`
 * (scenario.proto) declare ranges or value lists for some of its fields,
 * and the concrete scenarios made from it.
 *
 * Usage:
 *     scenario_template t;
 *     if (scenario_template_load("scenarios/templates/guard_timing.pbtxt", &t, &err)) ...
 *     double v[SCENARIO_MAX_PARAMS];               // one value per parameter
 *     synth_grid_point(&t, 7, NULL, v);            // or synth_random_point, or the CEM's samples
 *     scenario sc;
 *     scenario_synthesis how = {.method = "grid", .index = 7};
 *     if (scenario_template_make(&t, v, &how, &sc, &err)) ...   // validated; "TEMPLATE[name=value,...]:field: reason"
 *     scenario_write(&sc, "out/guard_timing_g0007.pbtxt", &err);   // .pb binary, else text
 *     scenario_free(&sc);
 *     scenario_template_free(&t);
 *
 * A parameter's value: a number in [min, max] for a range (rounded for an
 * integer field), or the 0-based index into `values` for a list. Every
 * field a parameter names is set to that value. The concrete scenario is
 * the template with the values set, `parameters` removed and `synthesis`
 * recording where it came from (template id and hash, method, index, seed,
 * each parameter's value; for a search also the policy, score and failure),
 * and the id "TEMPLATEID_" + the method's letter (g, r, s) + the 4-digit
 * index; it is validated like any scenario file, so a combination of
 * values that makes impossible geometry is an error naming the values. */
#ifndef WMSIM_SCENARIO_TEMPLATE_H
#define WMSIM_SCENARIO_TEMPLATE_H

#include <stdint.h>

#include "core/error.h"
#include "scenarios/scenario.h"

#define SCENARIO_MAX_PARAMS 16
#define SCENARIO_MAX_PARAM_VALUES 16
#define SCENARIO_MAX_PARAM_FIELDS 8

typedef struct {
    char name[SCENARIO_ID_MAX];
    int n_values;          /* 0: a range [min, max]; else a list of values */
    double min, max;       /* a range */
    char values[SCENARIO_MAX_PARAM_VALUES][SCENARIO_ID_MAX]; /* a list, as authored ("LIGHTING_NIGHT", "2.5") */
    int grid_points;       /* a range's points in a grid (default 3) */
    int integer;           /* every field it sets is an integer: a range's values are rounded */
} scenario_param;

typedef struct scenario_template {
    char path[4096];
    char id[SCENARIO_ID_MAX];
    uint64_t hash;         /* FNV-1a 64 of the template's binary encoding */
    scenario_param params[SCENARIO_MAX_PARAMS];
    int n_params;
    struct Wmsim__Scenario *msg; /* the template as unpacked (owned) */
} scenario_template;

/* Where a concrete scenario came from (scenario.proto's Synthesis). */
typedef struct {
    const char *method;    /* "grid", "random", "search" */
    int index;
    uint64_t seed;         /* random and search: the sampler's seed */
    /* search only (NULL / NAN otherwise): */
    const char *policy;
    double score;
    const char *failure;
} scenario_synthesis;

/* The parameter checks, called by scenario_validate_msg (so `wmsim
 * scenario check` reports them too): one line per problem appended to err,
 * "name:parameters[0].field[1]: 'actors[guard].guard.s_m': no actor with id
 * 'guard'"; returns how many. A scenario without parameters has none. */
struct Wmsim__Scenario;
int scenario_params_check(const char *name, const struct Wmsim__Scenario *m, wm_error *err);

/* Loads and validates PATH (as scenario_load, plus every parameter: a
 * unique name, at least one field path that exists in the template and
 * holds a number or an enum, min < max or a non-empty list of values of
 * the fields' type). A file without parameters is an error:
 * "PATH: not a template (no parameters)". */
int scenario_template_load(const char *path, scenario_template *t, wm_error *err);
void scenario_template_free(scenario_template *t);

/* The concrete scenario for values (t->n_params of them), loaded into sc as
 * scenario_load_pb would (sc->pb_bytes is its encoding, synthesis included). */
int scenario_template_make(const scenario_template *t, const double *values, const scenario_synthesis *how,
                           scenario *sc, wm_error *err);

/* "name=value" for parameter i at value v: the number ("%.4g") or the list
 * entry. */
void scenario_param_format(const scenario_param *p, double v, char *out, size_t n);

/* Writes sc's encoding to PATH, atomically: binary for .pb, else text
 * format (protoc --decode). */
int scenario_write(const scenario *sc, const char *path, wm_error *err);

/* ---------------------------------------------------------- samplers
 * Deterministic: the same template, index and seed give the same values. */

/* Grid: the product of each range's grid_points (or grid_override[i] when
 * > 0) evenly spaced points from min to max (one point: the midpoint; an
 * integer parameter's points rounded), and each list's values; the first
 * parameter varies slowest. synth_grid_size returns the count, or -1 past
 * 1,000,000. */
long synth_grid_size(const scenario_template *t, const int *grid_override);
void synth_grid_point(const scenario_template *t, long index, const int *grid_override, double *values);

/* Random: point `index` of the stream for seed (rng_fork(seed, index)):
 * uniform in each range (each integer of an integer parameter equally
 * often), uniform over each list, independent of the other indices. */
void synth_random_point(const scenario_template *t, uint64_t seed, long index, double *values);

#endif
