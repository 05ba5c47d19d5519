/* fuzz_episode_log.c — episode logs (sim/episode_log.h): the reader
 * (length-delimited LogRecord messages: varint prefixes, the record limit,
 * header first with a known format version) as `wmsim log show` uses it
 * (episode_log_show), and as `wmsim replay` and the re-scoring use it
 * (episode_log_replay: the embedded scenario is loaded and validated, the
 * world rebuilt from every step's states and the metrics recomputed).
 *
 * Input: an episode log (wmsim run ... --out DIR writes DIR/episode.log).
 * Result: "show: ok|ERROR" and "replay: ok, N steps|ERROR", scratch
 * folder as TMP. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tests/fuzz/fuzz_util.h"

#include "sim/episode_log.h"

/* What a replay's observer reads of every frame. */
static int fuzz_episode_log_observe(const episode_frame *f, void *ctx) {
    long *frames = ctx;
    if (!f->w || !f->m) abort();
    ++*frames;
    return 0;
}

static int fuzz_episode_log_run(const uint8_t *data, size_t size, wm_error *err) {
    static const char *dir;
    static char path[300];
    if (!dir) {
        dir = fuzz_scratch_dir("episode_log");
        snprintf(path, sizeof path, "%s/episode.log", dir);
    }
    fuzz_write_file(path, data, size);
    wm_error e;
    int rc = episode_log_show(path, fuzz_devnull(), &e);
    err->msg[0] = '\0';
    fuzz_append(err, "show: %s\n", rc ? e.msg : "ok");
    episode_replay_info info;
    long frames = 0;
    if (episode_log_replay(path, fuzz_episode_log_observe, &frames, &info, &e)) {
        rc = -1;
        fuzz_append(err, "replay: %s\n", e.msg);
    } else {
        fuzz_append(err, "replay: ok, %d steps\n", info.steps);
    }
    fuzz_error_scrub(err, dir);
    return rc;
}

FUZZ_ENTRY(fuzz_episode_log_run)
