/* fuzz_scenario_pbtxt.c — scenarios in text format (.pbtxt): scenario_load
 * on a file, the path `wmsim run x.pbtxt` takes: wmsim writes the schema to
 * a scratch folder, runs `protoc --encode` with the file on stdin, reads
 * its output (or turns its stderr into "file:line:column: reason" errors)
 * and validates the result as fuzz_scenario_pb does.
 *
 * Each input costs a protoc process (a few milliseconds), so this harness
 * runs some hundred times slower than the binary one; most of its time is
 * spent in protoc's own parser, which is not wmsim's code and not
 * instrumented. What it covers of wmsim: the spawning, the output and
 * error plumbing, and validation of whatever protoc accepts.
 *
 * Input: scenario text format (scenarios/examples/ *.pbtxt).
 * Result: "ok" or the error, the scratch folder written TMP. */
#include <stdint.h>
#include <stdlib.h>

#include "tests/fuzz/fuzz_util.h"

#include "core/check.h"
#include "scenarios/scenario.h"

static int fuzz_scenario_pbtxt_run(const uint8_t *data, size_t size, wm_error *err) {
    static const char *dir;
    static char path[300];
    if (!dir) {
        dir = fuzz_scratch_dir("scenario_pbtxt");
        snprintf(path, sizeof path, "%s/input.pbtxt", dir);
    }
    fuzz_write_file(path, data, size);
    scenario *sc = CALLOC_CHECK(1, sizeof *sc);
    int rc = scenario_load(path, sc, err);
    if (rc == 0) snprintf(err->msg, sizeof err->msg, "ok");
    fuzz_error_scrub(err, dir);
    scenario_free(sc);
    free(sc);
    return rc;
}

FUZZ_ENTRY(fuzz_scenario_pbtxt_run)
