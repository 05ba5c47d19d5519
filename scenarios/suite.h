/* suite.h — an evaluation suite (scenarios/suite.proto) loaded, validated
 * and expanded into its episodes.
 *
 * Usage:
 *     suite s;
 *     if (suite_load("scenarios/suites/nightly.pbtxt", &s, &err)) ...   // "FILE:field: reason"
 *     for (int k = 0; k < s.n_episodes; k++) {
 *         const suite_episode *e = &s.episodes[k];
 *         run s.scenarios[e->scenario] with seed e->seed in loop e->loop ...
 *     }
 *     suite_free(&s);
 *
 * Entries expand in order: each scenario of the entry (a file, a folder's
 * files sorted by name, or a template's sampled points), then seeds
 * 1..seeds, then the loops as listed. */
#ifndef WMSIM_SUITE_H
#define WMSIM_SUITE_H

#include <stdint.h>

#include "core/error.h"
#include "scenarios/scenario.h"

#define SUITE_MAX_SEEDS 1000
#define SUITE_MAX_SAMPLES 1000
#define SUITE_MAX_EPISODES 1000000

typedef enum { SUITE_LOOP_ORACLE, SUITE_LOOP_WORLDMODEL, SUITE_LOOPS } suite_loop;
const char *suite_loop_name(suite_loop l); /* "oracle", "worldmodel" */

typedef struct {
    char path[4096];          /* as written in the suite */
    char category[SCENARIO_ID_MAX];
    int seeds;
    int loops[SUITE_LOOPS];   /* loops[l]: 1 when loop l runs */
    double min_score;         /* NAN: each scenario's own */
    double min_pass_rate;
} suite_entry;

typedef struct {
    scenario sc;              /* min_score already applied to sc.success */
    int entry;
    char file[4096];          /* the scenario or template file it came from */
    char parameters[512];     /* a template's point: "name=value,..."; "" otherwise */
} suite_scenario;

typedef struct {
    int scenario;             /* index into scenarios */
    uint64_t seed;
    suite_loop loop;
} suite_episode;

typedef struct {
    char path[4096];
    char id[SCENARIO_ID_MAX];
    char description[SCENARIO_TEXT_MAX];
    uint64_t hash;            /* FNV-1a 64 of its binary encoding */
    suite_entry *entries;
    int n_entries;
    suite_scenario *scenarios;
    int n_scenarios;
    suite_episode *episodes;
    int n_episodes;
    int uses_loop[SUITE_LOOPS];
} suite;

/* Reads FILE (.pb binary, anything else text format through protoc),
 * validates it, loads every scenario and template point it names and
 * lists its episodes. Errors name the suite file and field, or the
 * scenario file:
 *     FILE:id: missing
 *     FILE:entries: at least one entry required
 *     FILE:entries[2].seeds: 0 outside [1, 1000]
 *     FILE:entries[1].path: missing
 *     FILE:entries[1].path: DIR/x.pbtxt: No such file or directory
 *     FILE:entries[3].sample: only a template file can be sampled
 *     FILE:entries[0] and entries[2] both run scenario 'cut_in'
 *     X.pbtxt:road.speed_limit_mps: missing      (a scenario's own problem)
 * On failure s is left empty (safe to free). */
int suite_load(const char *path, suite *s, wm_error *err);
void suite_free(suite *s);

#endif
