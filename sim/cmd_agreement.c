/* cmd_agreement.c — `wmsim agreement`: every episode of a suite in the
 * oracle loop and in the generative loop, and how far they agree
 * (sim/agreement.h does the work). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "scenarios/scenario.h"
#include "sim/agreement.h"
#include "sim/cli_args.h"
#include "sim/commands.h"

static const char AGREEMENT_USAGE[] =
    "usage: wmsim agreement --suite DIR|FILE... --policies P1,P2,... --seeds N [--policy P] [--out DIR] [--jobs J]\n"
    "                       [--model M.wmck] [--tokenizer T.wmck] [--decode ar|parallel] [--decode-steps N]\n"
    "                       [--temperature X] [--guidance W] [--scene-slots on|off] [POLICY LIMITS] [--quiet]\n"
    "\n"
    "Runs every episode (each scenario of the suite x seeds 1..N x each policy)\n"
    "twice: in the oracle loop (frames from the renderer) and in the generative\n"
    "loop (frames from the world model, as `wmsim run --frames worldmodel`).\n"
    "Reports per policy the pass rate and mean score in each loop, the score gap\n"
    "(world model - oracle) and the agreement rate: the share of episodes whose\n"
    "outcome is the same in both loops (pass, or the same kind of first failure:\n"
    "collision, off_road, guard, goal, score, policy); and whether the policies\n"
    "rank the same in both loops (by pass rate, then mean score).\n"
    "\n"
    "  --suite DIR|FILE...  scenario files; a folder means its *.pbtxt and *.pb, sorted\n"
    "  --policies P1,P2,... policies, split at commas: expert, cruise, exec:CMD ARGS,\n"
    "                       unix:PATH, lib:PATH.so ARGS (see wmsim run --help)\n"
    "  --policy P           one more policy, taken whole (for a spec with commas)\n"
    "  --seeds N            episode seeds 1..N per scenario and policy\n"
    "  --out DIR            DIR/agreement.json and DIR/diverge/SCENARIO_sSEED_POLICY.png,\n"
    "                       a strip per disagreeing episode (default out/agreement)\n"
    "  --jobs J             episodes on J threads (default 1); the results are the same\n"
    "  --quiet              print nothing on success\n"
    "%s"
    "\n"
    "Exit status 0 when every episode ran, whatever the agreement; 1 for bad\n"
    "input or an I/O error; 2 for bad usage.\n";

static void print_usage(FILE *f) { fprintf(f, AGREEMENT_USAGE, CLI_LOOP_USAGE); }

/* Appends the comma-separated specs of text to *list (copies). 0, or -1
 * for an empty one. */
static int add_policies(const char *text, char ***list, int *n) {
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0) return -1;
        char *spec = MALLOC_CHECK(len + 1);
        memcpy(spec, p, len);
        spec[len] = '\0';
        *list = REALLOC_CHECK(*list, (size_t)*n + 1, sizeof **list);
        (*list)[(*n)++] = spec;
        if (!comma) return 0;
        p = comma + 1;
    }
}

int cmd_agreement(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) return print_usage(stdout), 0;
    agreement_config cfg = agreement_config_default();
    cfg.out_dir = "out/agreement";
    char **suite = NULL, **policies = NULL;
    int n_suite = 0, n_policies = 0, quiet = 0, seeds_given = 0, rc = 2;
    wm_error err;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        const char *v = has_value ? argv[i + 1] : NULL;
        long n;
        if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
            continue;
        }
        if (!has_value) {
            cli_usage_error(print_usage, "agreement: unknown option or missing value: '%s'", a);
            goto done;
        }
        int taken = cli_take_loop_option(argc, argv, &i, &cfg.feed, &cfg.limits, print_usage);
        if (taken == 2) goto done;
        if (taken) continue;
        if (strcmp(a, "--suite") == 0) {
            if (v[0] == '-') {
                cli_usage_error(print_usage, "agreement: %s", "--suite needs a folder or file");
                goto done;
            }
            while (i + 1 < argc && argv[i + 1][0] != '-')
                if (scenario_files_add(argv[++i], &suite, &n_suite, &err)) {
                    fprintf(stderr, "wmsim: %s\n", err.msg);
                    rc = 1;
                    goto done;
                }
            continue;
        }
        if (strcmp(a, "--policies") == 0) {
            if (add_policies(v, &policies, &n_policies)) {
                cli_usage_error(print_usage, "--policies: an empty policy in '%s'", v);
                goto done;
            }
        } else if (strcmp(a, "--policy") == 0) {
            policies = REALLOC_CHECK(policies, (size_t)n_policies + 1, sizeof *policies);
            policies[n_policies++] = STRDUP_CHECK(v);
        } else if (strcmp(a, "--seeds") == 0) {
            if (cli_parse_long(v, 1, AGREEMENT_MAX_SEEDS, &n)) {
                cli_usage_error(print_usage, "--seeds: expected an integer in [1, 100000], got '%s'", v);
                goto done;
            }
            cfg.seeds = (int)n, seeds_given = 1;
        } else if (strcmp(a, "--jobs") == 0) {
            if (cli_parse_long(v, 1, AGREEMENT_MAX_JOBS, &n)) {
                cli_usage_error(print_usage, "--jobs: expected an integer in [1, 256], got '%s'", v);
                goto done;
            }
            cfg.jobs = (int)n;
        } else if (strcmp(a, "--out") == 0) cfg.out_dir = v;
        else {
            cli_usage_error(print_usage, "agreement: unknown option or missing value: '%s'", a);
            goto done;
        }
        i++;
    }
    if (!n_suite || !n_policies || !seeds_given) {
        cli_usage_error(print_usage, "agreement: %s",
                        !n_suite ? "missing --suite" : !n_policies ? "missing --policies" : "missing --seeds");
        goto done;
    }
    cfg.scenarios = (const char *const *)suite, cfg.n_scenarios = n_suite;
    cfg.policies = (const char *const *)policies, cfg.n_policies = n_policies;
    cfg.progress = !quiet && isatty(2);
    agreement_result res;
    rc = 1;
    if (agreement_run(&cfg, &res, &err)) {
        fprintf(stderr, "wmsim: %s\n", err.msg);
        goto done;
    }
    if (!quiet) {
        agreement_print_table(stdout, &cfg, &res);
        printf("wrote %s/agreement.json and %d strip%s in %s/diverge/ (%.1f s, %.0f steps/s)\n", cfg.out_dir,
               res.disagreeing, res.disagreeing == 1 ? "" : "s", cfg.out_dir, res.elapsed_s,
               res.elapsed_s > 0 ? (res.steps[0] + res.steps[1]) / res.elapsed_s : 0.0);
    }
    agreement_result_free(&res);
    rc = 0;
done:
    scenario_files_free(suite, n_suite);
    for (int i = 0; i < n_policies; i++) free(policies[i]);
    free(policies);
    return rc;
}
