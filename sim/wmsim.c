/* wmsim — the command-line entry. Exit codes: 0 the command did its job
 * (an episode that ran and failed its scenario is still 0), 1 bad input or
 * an I/O error (message on stderr), 2 bad usage. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/device.h"
#include "core/fileio.h"
#include "core/version.h"
#include "render/render.h"
#include "scenarios/scenario.h"
#include "sim/episode.h"
#include "sim/episode_log.h"

static const char USAGE[] =
    "usage: wmsim COMMAND [ARGS]\n"
    "\n"
    "A generative world-model driving simulator: closed-loop scenarios for\n"
    "driving policies, scored from the symbolic world state.\n"
    "\n"
    "commands:\n"
    "  run SCENARIO          run one episode in closed loop and score it\n"
    "  scenario check FILE…  validate scenario files (file:field: reason)\n"
    "  scenario compile IN OUT  text format (.pbtxt) to binary (.pb)\n"
    "  log show FILE         print an episode log readably\n"
    "  render SCENARIO       render the dash camera at one time of an episode\n"
    "\n"
    "  wmsim COMMAND --help  help on one command;  wmsim --version\n";

static const char RUN_USAGE[] =
    "usage: wmsim run SCENARIO [--policy expert|cruise] [--seed N] [--out DIR] [--quiet]\n"
    "\n"
    "Runs SCENARIO (.pbtxt or .pb) in closed loop at 10 Hz against a policy and\n"
    "scores it. Writes DIR/result.json (metrics, score, pass/fail, failure\n"
    "reasons with times) and DIR/episode.log (every step; see `wmsim log show`).\n"
    "\n"
    "  --policy P   expert (default; privileged, obeys guards and signs) or\n"
    "               cruise (keeps its lane at the speed limit, sees nothing)\n"
    "  --seed N     episode seed (default: the scenario's seed)\n"
    "  --out DIR    output folder (default: out/SCENARIO_ID)\n"
    "  --quiet      print nothing on success\n"
    "\n"
    "Exit status 0 when the episode ran, whatever its score; 1 for bad input.\n";

static const char SCENARIO_USAGE[] =
    "usage: wmsim scenario check FILE...\n"
    "       wmsim scenario compile IN.pbtxt OUT.pb\n"
    "\n"
    "check    validates each file and prints every problem as file:field: reason;\n"
    "         exit status 1 when any file has a problem.\n"
    "compile  validates IN (text or binary) and writes its binary encoding to OUT.\n"
    "Text files are encoded with protoc (Debian's protobuf-compiler) and the\n"
    "schema built into wmsim (scenarios/scenario.proto).\n";

static const char RENDER_USAGE[] =
    "usage: wmsim render SCENARIO [--t SECONDS] [--out FRAME.png] [--size WxH]\n"
    "                             [--policy expert|cruise] [--seed N]\n"
    "\n"
    "Runs SCENARIO in closed loop with the policy (default expert) up to time\n"
    "SECONDS (default 0) and writes the dash-camera frame there as an 8-bit RGB\n"
    "PNG (default frame.png). --size defaults to 128x64 and may go up to 1920x960.\n";

static const char LOG_USAGE[] =
    "usage: wmsim log show FILE\n"
    "\n"
    "Prints an episode log: header, events (gestures, triggers, collisions),\n"
    "the policy's reasoning as it changes, and the result with every metric.\n";

static int wants_help(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
    return 0;
}

static int usage_error(const char *usage, const char *fmt, const char *arg) {
    fprintf(stderr, "wmsim: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n\n%s", usage);
    return 2;
}

static int parse_u64(const char *text, uint64_t *out) {
    if (!*text || *text == '-') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

static int cmd_run(int argc, char **argv) {
    if (wants_help(argc, argv)) return fputs(RUN_USAGE, stdout), 0;
    const char *scenario_path = NULL, *policy_spec = "expert", *out_dir = NULL;
    uint64_t seed = 0;
    int have_seed = 0, quiet = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(a, "--policy") == 0 && has_value) policy_spec = argv[++i];
        else if (strcmp(a, "--out") == 0 && has_value) out_dir = argv[++i];
        else if (strcmp(a, "--seed") == 0 && has_value) {
            if (parse_u64(argv[++i], &seed)) return usage_error(RUN_USAGE, "--seed: not a non-negative integer: '%s'", argv[i]);
            have_seed = 1;
        } else if (strcmp(a, "--quiet") == 0) quiet = 1;
        else if (a[0] == '-') return usage_error(RUN_USAGE, "run: unknown option or missing value: '%s'", a);
        else if (!scenario_path) scenario_path = a;
        else return usage_error(RUN_USAGE, "run: unexpected argument '%s'", a);
    }
    if (!scenario_path) return usage_error(RUN_USAGE, "run: %s", "missing SCENARIO");

    wm_error err;
    policy pol;
    if (policy_create(policy_spec, &pol, &err)) return fprintf(stderr, "wmsim: %s\n", err.msg), 1;
    scenario *sc = CALLOC_CHECK(1, sizeof *sc);
    int rc = 1;
    if (scenario_load(scenario_path, sc, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        goto done;
    }
    char default_out[SCENARIO_ID_MAX + 8];
    snprintf(default_out, sizeof default_out, "out/%s", sc->id);
    if (!out_dir) out_dir = default_out;
    char log_path[4096], result_path[4096];
    snprintf(log_path, sizeof log_path, "%s/episode.log", out_dir);
    snprintf(result_path, sizeof result_path, "%s/result.json", out_dir);
    if (dir_create(out_dir, &err)) {
        fprintf(stderr, "wmsim: %s\n", err.msg);
        goto done;
    }
    episode_config cfg = {.sc = sc, .scenario_path = scenario_path, .seed = have_seed ? seed : sc->seed,
                          .pol = &pol, .log_path = log_path};
    episode_result res;
    if (episode_run(&cfg, &res, &err) || episode_write_result_json(result_path, &cfg, &res, &err)) {
        fprintf(stderr, "wmsim: %s\n", err.msg);
        goto done;
    }
    if (!quiet) {
        printf("%s seed %" PRIu64 " policy %s: %s score %.3f (%s at t=%.1f s)\n", sc->id, cfg.seed, pol.name,
               res.m.passed ? "PASS" : "FAIL", res.m.score, res.end_reason, res.t);
        for (int i = 0; i < res.m.n_reasons; i++) printf("  failure: %s\n", res.m.reasons[i]);
        printf("  wrote %s and %s\n", result_path, log_path);
    }
    rc = 0;
done:
    pol.destroy(&pol);
    scenario_free(sc);
    free(sc);
    return rc;
}

typedef struct {
    int target_step;
    camera_params cp;
    framebuffer fb;
    int rendered;
} render_job;

static int render_at_step(const sim_world *w, void *ctx) {
    render_job *job = ctx;
    if (w->step < job->target_step) return 0;
    render_frame(w, &job->cp, &job->fb);
    job->rendered = 1;
    return 1;
}

static int parse_size(const char *text, int *w, int *h) {
    char *end;
    long a = strtol(text, &end, 10);
    if (end == text || (*end != 'x' && *end != 'X')) return -1;
    char *end2;
    long b = strtol(end + 1, &end2, 10);
    if (end2 == end + 1 || *end2 || a <= 0 || b <= 0 || a > 100000 || b > 100000) return -1;
    *w = (int)a, *h = (int)b;
    return 0;
}

static int cmd_render(int argc, char **argv) {
    if (wants_help(argc, argv)) return fputs(RENDER_USAGE, stdout), 0;
    const char *scenario_path = NULL, *out = "frame.png", *policy_spec = "expert";
    double t = 0;
    uint64_t seed = 0;
    int have_seed = 0;
    render_job job = {.cp = camera_params_default()};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(a, "--t") == 0 && has_value) {
            char *end;
            t = strtod(argv[++i], &end);
            if (*end || !(t >= 0 && t <= 3600)) return usage_error(RENDER_USAGE, "--t: not a time in [0, 3600] s: '%s'", argv[i]);
        } else if (strcmp(a, "--out") == 0 && has_value) out = argv[++i];
        else if (strcmp(a, "--policy") == 0 && has_value) policy_spec = argv[++i];
        else if (strcmp(a, "--size") == 0 && has_value) {
            if (parse_size(argv[++i], &job.cp.width, &job.cp.height))
                return usage_error(RENDER_USAGE, "--size: expected WxH, got '%s'", argv[i]);
        } else if (strcmp(a, "--seed") == 0 && has_value) {
            if (parse_u64(argv[++i], &seed)) return usage_error(RENDER_USAGE, "--seed: not a non-negative integer: '%s'", argv[i]);
            have_seed = 1;
        } else if (a[0] == '-') return usage_error(RENDER_USAGE, "render: unknown option or missing value: '%s'", a);
        else if (!scenario_path) scenario_path = a;
        else return usage_error(RENDER_USAGE, "render: unexpected argument '%s'", a);
    }
    if (!scenario_path) return usage_error(RENDER_USAGE, "render: %s", "missing SCENARIO");
    wm_error err;
    if (camera_params_check(&job.cp, &err)) return fprintf(stderr, "wmsim: %s\n", err.msg), 1;
    policy pol;
    if (policy_create(policy_spec, &pol, &err)) return fprintf(stderr, "wmsim: %s\n", err.msg), 1;
    scenario *sc = CALLOC_CHECK(1, sizeof *sc);
    int rc = 1;
    framebuffer_init(&job.fb, job.cp.width, job.cp.height);
    job.target_step = (int)llround(t / SIM_DT);
    if (scenario_load(scenario_path, sc, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        goto done;
    }
    episode_config cfg = {.sc = sc, .seed = have_seed ? seed : sc->seed, .pol = &pol,
                          .observe = render_at_step, .observe_ctx = &job};
    episode_result res;
    if (episode_run(&cfg, &res, &err)) {
        fprintf(stderr, "wmsim: %s\n", err.msg);
        goto done;
    }
    if (!job.rendered) {
        fprintf(stderr, "wmsim: --t %g s: the episode ended at t=%.1f s (%s)\n", t, res.t, res.end_reason);
        goto done;
    }
    if (image_write_png(&job.fb.img, out, &err)) {
        fprintf(stderr, "wmsim: %s\n", err.msg);
        goto done;
    }
    printf("%s: t=%.1f s, %dx%d, wrote %s\n", sc->id, job.target_step * SIM_DT, job.cp.width, job.cp.height, out);
    rc = 0;
done:
    framebuffer_free(&job.fb);
    pol.destroy(&pol);
    scenario_free(sc);
    free(sc);
    return rc;
}

static int cmd_scenario(int argc, char **argv) {
    if (argc == 0 || wants_help(argc, argv)) return fputs(SCENARIO_USAGE, argc ? stdout : stderr), argc ? 0 : 2;
    wm_error err;
    if (strcmp(argv[0], "check") == 0) {
        if (argc < 2) return usage_error(SCENARIO_USAGE, "scenario check: %s", "no FILE given");
        int bad = 0;
        scenario *sc = CALLOC_CHECK(1, sizeof *sc);
        for (int i = 1; i < argc; i++) {
            if (scenario_load(argv[i], sc, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                bad = 1;
            } else {
                printf("%s: ok (%s, %d actors, %.0f s)\n", argv[i], sc->id, sc->n_actors, sc->duration);
            }
            scenario_free(sc);
        }
        free(sc);
        return bad;
    }
    if (strcmp(argv[0], "compile") == 0) {
        if (argc != 3) return usage_error(SCENARIO_USAGE, "scenario compile: %s", "expected IN and OUT");
        if (scenario_compile(argv[1], argv[2], &err)) return fprintf(stderr, "%s\n", err.msg), 1;
        printf("%s: compiled to %s\n", argv[1], argv[2]);
        return 0;
    }
    return usage_error(SCENARIO_USAGE, "scenario: unknown subcommand '%s'", argv[0]);
}

static int cmd_log(int argc, char **argv) {
    if (argc == 0 || wants_help(argc, argv)) return fputs(LOG_USAGE, argc ? stdout : stderr), argc ? 0 : 2;
    if (strcmp(argv[0], "show") != 0) return usage_error(LOG_USAGE, "log: unknown subcommand '%s'", argv[0]);
    if (argc != 2) return usage_error(LOG_USAGE, "log show: %s", "expected one FILE");
    wm_error err;
    if (episode_log_show(argv[1], stdout, &err)) return fprintf(stderr, "wmsim: %s\n", err.msg), 1;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return fputs(USAGE, stderr), 2;
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) return fputs(USAGE, stdout), 0;
    if (strcmp(cmd, "--version") == 0) {
        char why[256] = "";
        int n = device_cuda_count(why, sizeof why);
        printf("wmsim %s\nbackends: cpu%s\ncuda devices: %d%s%s%s\n", WMSIM_VERSION, device_cuda_built() ? ", cuda" : "",
               n, why[0] ? " (" : "", why, why[0] ? ")" : "");
        return 0;
    }
    if (strcmp(cmd, "run") == 0) return cmd_run(argc - 2, argv + 2);
    if (strcmp(cmd, "scenario") == 0) return cmd_scenario(argc - 2, argv + 2);
    if (strcmp(cmd, "log") == 0) return cmd_log(argc - 2, argv + 2);
    if (strcmp(cmd, "render") == 0) return cmd_render(argc - 2, argv + 2);
    return usage_error(USAGE, "unknown command '%s'", cmd);
}
