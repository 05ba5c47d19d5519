/* cmd_wm_eval.c — `wmsim worldmodel eval`: the world model measured on
 * held-out clips (sim/wm_eval.h says what and how).
 *
 * Exit codes as for every command (sim/commands.h): 0 done (whatever the
 * figures), 1 bad input or I/O ("wmsim: ..." on stderr), 2 bad usage. */
#include "sim/commands.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/cli_args.h"
#include "sim/wm_eval.h"

#define DEFAULT_JSON "out/worldmodel_eval.json"
#define DEFAULT_STRIP "out/worldmodel_eval.png"

static const char USAGE[] =
    "usage: wmsim worldmodel eval --data CLIPS [--model MODEL.wmck] [--tokenizer MODEL.wmck]\n"
    "                             [--estimator MODEL.wmck] [--scenarios DIR] [--clips N]\n"
    "                             [--mode ar|parallel] [--steps N] [--temperature X] [--top-k N]\n"
    "                             [--guidance W] [--seed N] [--horizons S,S,...] [--act-seconds S]\n"
    "                             [--json OUT.json] [--strip OUT.png] [--quiet]\n"
    "\n"
    "eval      measures the dynamics model (--model, default %s) with its\n"
    "          tokenizer (--tokenizer, default %s) on up to --clips (default\n"
    "          %d) validation clips of CLIPS, one window each, in both\n"
    "          conditioning modes (actions only; actions and scene slots):\n"
    "          - PSNR/SSIM of generated vs true frames at the --horizons (default\n"
    "            0.5,1,2,3 s), beside repeating the last context frame and the\n"
    "            tokenizer round trip;\n"
    "          - action discrimination: rollouts from one context under the true\n"
    "            actions vs a hard brake or acceleration, and steering left vs\n"
    "            right, each closer to the oracle future of its own actions?\n"
    "            (the oracle re-simulates the clip's scenario, found by hash in\n"
    "            --scenarios, default %s when present);\n"
    "          - ACT-Bench action fidelity: the inverse-dynamics --estimator\n"
    "            (default %s when present) reads the motion back from\n"
    "            --act-seconds (default %g) of generated frames and of the true\n"
    "            ones: 9-class accuracy, ADE/FDE;\n"
    "          - gesture legibility (slots): a guard's arm region under each\n"
    "            commanded gesture nearest the oracle render of that gesture.\n"
    "          Rollouts: --mode (default %s), --steps passes per frame (default\n"
    "          %d), --temperature (default %g: greedy), --top-k (default %d: all),\n"
    "          --guidance (classifier-free, on the actions; default %g), --seed\n"
    "          (default %llu). Prints a table; writes the JSON summary\n"
    "          (--json, default %s) and a strip of true and generated frames\n"
    "          (--strip, default %s). --quiet prints nothing on success.\n";

static void print_usage(FILE *f) {
    wm_eval_config d = wm_eval_config_default();
    fprintf(f, USAGE, d.model, d.tokenizer, d.clips, d.scenarios, d.estimator, d.act_frames / 10.0,
            rollout_mode_name(d.rollout.mode), d.rollout.steps, (double)d.rollout.temperature, d.rollout.top_k,
            (double)d.rollout.guidance, (unsigned long long)d.rollout.seed, DEFAULT_JSON, DEFAULT_STRIP);
}

static int usage_error(const char *fmt, const char *arg) { return cli_usage_error(print_usage, fmt, arg); }

/* "0.5,1,2,3": seconds, each a positive multiple of 0.1, increasing. */
static int parse_horizons(const char *text, wm_eval_config *c) {
    char buf[256];
    if (strlen(text) >= sizeof buf) return -1;
    strcpy(buf, text);
    c->n_horizons = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        double v;
        if (c->n_horizons == WM_EVAL_MAX_HORIZONS || cli_parse_double(tok, &v)) return -1;
        double f = v * 10;
        if (!(f >= 0.5) || fabs(f - lround(f)) > 1e-6 || f > 10000) return -1;
        if (c->n_horizons && !(v > c->horizons[c->n_horizons - 1])) return -1;
        c->horizons[c->n_horizons++] = v;
    }
    return c->n_horizons ? 0 : -1;
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int cmd_worldmodel_eval(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) return print_usage(stdout), 0;
    wm_eval_config c = wm_eval_config_default();
    const char *json = DEFAULT_JSON, *strip_path = DEFAULT_STRIP;
    int quiet = 0, estimator_given = 0, scenarios_given = 0, steps = c.rollout.steps, top_k = c.rollout.top_k;
    const cli_int_option ints[] = {
        {"--clips", &c.clips, 1, 100000, NULL},
        {"--steps", &steps, 1, 4096, NULL},
        {"--top-k", &top_k, 0, 65536, NULL},
    };
    for (int i = 0; i < argc; i++) {
        int taken = cli_take_int_option(argc, argv, &i, ints, (int)(sizeof ints / sizeof ints[0]), print_usage);
        if (taken == 2) return 2;
        if (taken) continue;
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
            continue;
        }
        if (!v) {
            if (a[0] == '-') return usage_error("worldmodel eval: unknown option or missing value: '%s'", a);
            return usage_error("worldmodel eval: unexpected argument '%s'", a);
        }
        if (strcmp(a, "--data") == 0) c.data = v;
        else if (strcmp(a, "--model") == 0) c.model = v;
        else if (strcmp(a, "--tokenizer") == 0) c.tokenizer = v;
        else if (strcmp(a, "--estimator") == 0) c.estimator = v, estimator_given = 1;
        else if (strcmp(a, "--scenarios") == 0) c.scenarios = v, scenarios_given = 1;
        else if (strcmp(a, "--json") == 0) json = v;
        else if (strcmp(a, "--strip") == 0) strip_path = v;
        else if (strcmp(a, "--mode") == 0) {
            if (rollout_mode_parse(v, &c.rollout.mode)) return usage_error("--mode: expected ar or parallel, got '%s'", v);
        } else if (strcmp(a, "--temperature") == 0) {
            double t;
            if (cli_parse_double(v, &t) || t < 0 || t > 100)
                return usage_error("--temperature: expected a number in [0, 100], got '%s'", v);
            c.rollout.temperature = (float)t;
        } else if (strcmp(a, "--guidance") == 0) {
            double g;
            if (cli_parse_double(v, &g) || g < 0 || g > 100)
                return usage_error("--guidance: expected a number in [0, 100], got '%s'", v);
            c.rollout.guidance = (float)g;
        } else if (strcmp(a, "--seed") == 0) {
            if (cli_parse_u64(v, &c.rollout.seed)) return usage_error("--seed: not a non-negative integer: '%s'", v);
        } else if (strcmp(a, "--horizons") == 0) {
            if (parse_horizons(v, &c))
                return usage_error("--horizons: expected increasing seconds in steps of 0.1 (up to 8), got '%s'", v);
        } else if (strcmp(a, "--act-seconds") == 0) {
            double s;
            if (cli_parse_double(v, &s) || s < 0 || s > 1000 || fabs(s * 10 - lround(s * 10)) > 1e-6)
                return usage_error("--act-seconds: expected seconds in steps of 0.1 (0: none), got '%s'", v);
            c.act_frames = (int)lround(s * 10);
        } else if (a[0] == '-') return usage_error("worldmodel eval: unknown option or missing value: '%s'", a);
        else return usage_error("worldmodel eval: unexpected argument '%s'", a);
        i++;
    }
    if (!c.data) return usage_error("worldmodel eval: %s", "missing --data");
    c.rollout.steps = steps, c.rollout.top_k = top_k;
    /* The defaults are optional; what is named must be there. */
    if (!estimator_given && access(c.estimator, F_OK) != 0) c.estimator = NULL;
    if (!scenarios_given && !is_dir(c.scenarios)) c.scenarios = NULL;
    c.progress = !quiet && isatty(2);
    wm_eval_result res;
    wm_eval_strip strip;
    wm_error err;
    int rc = 0;
    if (wm_eval_run(&c, &res, &strip, &err) || wm_eval_write_json(json, &c, &res, &err) ||
        wm_eval_write_strip(strip_path, &strip, &err)) {
        fprintf(stderr, "wmsim: %s\n", err.msg);
        rc = 1;
    } else if (!quiet) {
        wm_eval_print(stdout, &c, &res);
        printf("\nwrote %s and %s\n", json, strip_path);
    }
    wm_eval_strip_free(&strip);
    return rc;
}
