/* fuzz_suite.c — binary evaluation suites (.pb): suite_load, which
 * unpacks, validates every field ("FILE:entries[2].seeds: 0 outside [1,
 * 1000]"), resolves each entry's path against the suite's folder, loads
 * the scenarios and template points it names and lists the episodes.
 *
 * The input is written to SCRATCH/s/suite.pb. Beside it, made once from
 * the examples (protoc at start-up, not per input), lie scenario files the
 * seed suites name, so the fuzzer reaches expansion, sampling and the
 * duplicate-id check rather than only "No such file or directory":
 *     a.pb        scenarios/examples/cut_in.pbtxt            (id cut_in)
 *     dir/b.pb    scenarios/examples/stalled_vehicle.pbtxt   (id stalled_vehicle)
 *     dir/c.pb    scenarios/examples/guard_stop_proceed.pbtxt
 *     t.pb        scenarios/templates/lead_brake.pbtxt       (a template)
 * Text suites (.pbtxt) reach the same validation through protoc, as text
 * scenarios do (fuzz_scenario_pbtxt.c covers that path).
 *
 * Input: a binary wmsim.Suite (scenarios/suite.proto).
 * Result: "ok: N scenarios, M episodes" or the error, scratch folder as TMP. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/fuzz/fuzz_util.h"

#include "core/check.h"
#include "scenarios/scenario.h"
#include "scenarios/suite.h"

static void fuzz_suite_fixture(const char *dir, const char *name, const char *source) {
    char in[4096], out[4096];
    snprintf(in, sizeof in, "%s/%s", WMSIM_SOURCE_DIR, source);
    snprintf(out, sizeof out, "%s/s/%s", dir, name);
    uint8_t *pb;
    size_t len;
    wm_error err;
    if (scenario_encode_text(in, &pb, &len, &err)) {
        fprintf(stderr, "fuzz_suite: cannot make its fixture %s: %s\n", out, err.msg);
        abort();
    }
    fuzz_write_file(out, pb, len);
    free(pb);
}

static int fuzz_suite_run(const uint8_t *data, size_t size, wm_error *err) {
    static const char *dir;
    static char path[300];
    if (!dir) {
        dir = fuzz_scratch_dir("suite");
        char sub[300];
        snprintf(sub, sizeof sub, "%s/s", dir);
        snprintf(path, sizeof path, "%s/s/dir", dir);
        if (mkdir(sub, 0700) || mkdir(path, 0700)) abort();
        fuzz_suite_fixture(dir, "a.pb", "scenarios/examples/cut_in.pbtxt");
        fuzz_suite_fixture(dir, "dir/b.pb", "scenarios/examples/stalled_vehicle.pbtxt");
        fuzz_suite_fixture(dir, "dir/c.pb", "scenarios/examples/guard_stop_proceed.pbtxt");
        fuzz_suite_fixture(dir, "t.pb", "scenarios/templates/lead_brake.pbtxt");
        snprintf(path, sizeof path, "%s/s/suite.pb", dir);
    }
    fuzz_write_file(path, data, size);
    suite *s = CALLOC_CHECK(1, sizeof *s);
    int rc = suite_load(path, s, err);
    if (rc == 0) {
        /* What eval reads of a loaded suite: every episode's scenario and entry. */
        int bad = 0;
        for (int k = 0; k < s->n_episodes; k++) {
            const suite_episode *e = &s->episodes[k];
            bad |= e->scenario < 0 || e->scenario >= s->n_scenarios || (int)e->loop < 0 || e->loop >= SUITE_LOOPS;
            bad |= !bad && (s->scenarios[e->scenario].entry < 0 || s->scenarios[e->scenario].entry >= s->n_entries);
        }
        if (bad) abort(); /* an inconsistent suite passed validation */
        snprintf(err->msg, sizeof err->msg, "ok: %d scenarios, %d episodes", s->n_scenarios, s->n_episodes);
    }
    fuzz_error_scrub(err, dir);
    suite_free(s);
    free(s);
    return rc;
}

FUZZ_ENTRY(fuzz_suite_run)
