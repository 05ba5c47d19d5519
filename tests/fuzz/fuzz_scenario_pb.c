/* fuzz_scenario_pb.c — binary scenarios (.pb), the bytes wmsim parses
 * itself: scenario_load_pb (unpack, validation with its "name:field:
 * reason" errors, conversion to the C structs), then what a scenario that
 * passed must survive: a variation (scenario_vary) and a few simulation
 * steps of the world it describes. The same bytes are also loaded as a
 * template file (scenario_template_load of a .pb: the parameter checks),
 * and a template that loads makes its first random and grid points.
 *
 * Input: a binary wmsim.Scenario (scenarios/scenario.proto).
 * Result (for the regression test): "load: ok|ERROR" and "template:
 * ok|ERROR" lines. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_util.h"

#include "core/check.h"
#include "scenarios/scenario.h"
#include "scenarios/scenario_template.h"
#include "sim/world.h"

#define FUZZ_SCENARIO_SIM_STEPS 10

/* A validated scenario through the code that trusts validation. */
static void fuzz_scenario_exercise(const scenario *sc) {
    scenario *v = MALLOC_CHECK(sizeof *v);
    *v = *sc; /* scenario_vary changes numbers only; pb_bytes stays sc's */
    scenario_vary(v, 1);
    sim_world *w = MALLOC_CHECK(sizeof *w);
    sim_world_init(w, v, v->seed);
    action brake = {0.0, 2.0, 0.0};
    for (int i = 0; i < FUZZ_SCENARIO_SIM_STEPS; i++) sim_step(w, i < 5 ? &(action){1.0, 0.0, 0.0} : &brake);
    free(w);
    free(v);
}

static int fuzz_scenario_pb_run(const uint8_t *data, size_t size, wm_error *err) {
    static const char *dir;
    static char path[300];
    if (!dir) {
        dir = fuzz_scratch_dir("scenario_pb");
        snprintf(path, sizeof path, "%s/input.pb", dir);
    }
    wm_error e;
    int rc = 0;
    err->msg[0] = '\0';
    scenario *sc = CALLOC_CHECK(1, sizeof *sc);
    if (scenario_load_pb("input.pb", data, size, sc, &e) == 0) {
        fuzz_scenario_exercise(sc);
        fuzz_append(err, "load: ok\n");
    } else {
        rc = -1;
        fuzz_append(err, "load: %s\n", e.msg);
    }
    scenario_free(sc);

    fuzz_write_file(path, data, size);
    scenario_template *t = CALLOC_CHECK(1, sizeof *t);
    if (scenario_template_load(path, t, &e) == 0) {
        double v[SCENARIO_MAX_PARAMS];
        scenario_synthesis how = {.method = "random", .index = 0, .seed = 1, .score = NAN};
        synth_random_point(t, 1, 0, v);
        int made = scenario_template_make(t, v, &how, sc, &e) == 0;
        if (made) fuzz_scenario_exercise(sc);
        scenario_free(sc);
        long n = synth_grid_size(t, NULL);
        if (made && n >= 1) {
            how.method = "grid", how.seed = 0;
            synth_grid_point(t, n - 1, NULL, v);
            made = scenario_template_make(t, v, &how, sc, &e) == 0;
            scenario_free(sc);
        }
        if (made) e.msg[0] = '\0';
        fuzz_error_scrub(&e, dir);
        fuzz_append(err, "template: ok%s%s\n", made ? "" : ", point: ", e.msg);
        scenario_template_free(t);
    } else {
        fuzz_error_scrub(&e, dir);
        fuzz_append(err, "template: %s\n", e.msg);
    }
    free(t);
    free(sc);
    return rc;
}

FUZZ_ENTRY(fuzz_scenario_pb_run)
