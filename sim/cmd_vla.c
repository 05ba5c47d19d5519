/* cmd_vla.c — `wmsim vla train|eval`: the camera-based baseline policy
 * vla-tiny (worldmodel/vla.h), trained by behaviour cloning with DAgger
 * (sim/vla_train.h) and measured in the oracle loop. Exit codes as for
 * every command (sim/commands.h). */
#include "sim/commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "scenarios/scenario.h"
#include "sim/cli_args.h"
#include "sim/vla_train.h"

static const char USAGE[] =
    "usage: wmsim vla train --scenarios DIR|FILE... --out MODEL.wmck [--rounds R] [--variations V]\n"
    "                       [--steps-first N] [--steps N] [--batch B] [--lr X] [--brake-weight W]\n"
    "                       [--ema D] [--eval-seeds N]\n"
    "                       [--seed S] [--quiet]\n"
    "       wmsim vla eval --model MODEL.wmck --scenarios DIR|FILE... [--seeds N]\n"
    "\n"
    "train  behaviour cloning of the expert from oracle frames, with DAgger: R rounds\n"
    "       (default 4), each driving V new variations (default 8) of every scenario\n"
    "       (round 0 by the expert with exploration, round r by the expert with\n"
    "       probability 0.5^r, else by the network), labelling every step with the\n"
    "       expert's action, then training on all the data so far (--steps-first\n"
    "       2000 in round 0, --steps 1500 after; batch 32, AdamW --lr 2e-3 with a\n"
    "       cosine decay; a step drawn 1 + --brake-weight (default 20) x its\n"
    "       label's brake fraction times as often as a step without braking).\n"
    "       After each round MODEL.wmck is written (with --ema D in (0, 1): the\n"
    "       weights' moving average, decay D a step) and driven through\n"
    "       every scenario as written with seeds 1..--eval-seeds (default 3; 0:\n"
    "       none); MODEL.wmck.csv gets a row per round. --seed (default 1) makes\n"
    "       the run reproducible.\n"
    "eval   drives every scenario with seeds 1..N (default 10) in the oracle loop\n"
    "       and prints each scenario's passes and the total.\n"
    "The model sees only camera frames, its speed and the instruction text;\n"
    "run it with `wmsim run SCENARIO --policy vla-tiny` (models/vla-tiny.wmck)\n"
    "or --policy vla:MODEL.wmck.\n";

static void print_usage(FILE *f) { fputs(USAGE, f); }
static int usage_error(const char *fmt, const char *arg) { return cli_usage_error(print_usage, fmt, arg); }

typedef struct {
    char **scenarios;
    int n_scenarios;
    const char *model, *out;
    int seeds, quiet;
    vla_train_config tc;
} vla_options;

static int parse(int argc, char **argv, vla_options *o) {
    wm_error err;
    cli_int_option ints[] = {
        {"--rounds", &o->tc.rounds, 1, 16, NULL},           {"--variations", &o->tc.variations, 1, 10000, NULL},
        {"--steps-first", &o->tc.steps_first, 1, 1000000, NULL}, {"--steps", &o->tc.steps, 1, 1000000, NULL},
        {"--batch", &o->tc.batch, 1, 1024, NULL},           {"--eval-seeds", &o->tc.eval_seeds, 0, 1000, NULL},
        {"--seeds", &o->seeds, 1, 1000, NULL},
    };
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int taken = cli_take_int_option(argc, argv, &i, ints, (int)(sizeof ints / sizeof ints[0]), print_usage);
        if (taken == 2) return 2;
        if (taken) continue;
        int has_value = i + 1 < argc;
        if (strcmp(a, "--scenarios") == 0 && has_value) {
            /* Every argument up to the next option is a scenario path. */
            while (i + 1 < argc && argv[i + 1][0] != '-')
                if (scenario_files_add(argv[++i], &o->scenarios, &o->n_scenarios, &err))
                    return fprintf(stderr, "wmsim: %s\n", err.msg), 1;
        } else if (strcmp(a, "--out") == 0 && has_value) o->out = argv[++i];
        else if (strcmp(a, "--model") == 0 && has_value) o->model = argv[++i];
        else if (strcmp(a, "--brake-weight") == 0 && has_value) {
            double w;
            if (cli_parse_double(argv[++i], &w)) return usage_error("--brake-weight: not a number: '%s'", argv[i]);
            o->tc.brake_weight = (float)w;
        } else if (strcmp(a, "--ema") == 0 && has_value) {
            double d;
            if (cli_parse_double(argv[++i], &d)) return usage_error("--ema: not a number: '%s'", argv[i]);
            o->tc.ema_decay = (float)d;
        } else if (strcmp(a, "--lr") == 0 && has_value) {
            if (cli_parse_lr(argv[++i], &o->tc.lr, &o->tc.lr_min))
                return usage_error("--lr: expected a rate in (0, 1], got '%s'", argv[i]);
        } else if (strcmp(a, "--seed") == 0 && has_value) {
            if (cli_parse_u64(argv[++i], &o->tc.seed)) return usage_error("--seed: not a non-negative integer: '%s'", argv[i]);
        } else if (strcmp(a, "--quiet") == 0) o->quiet = 1;
        else if (a[0] == '-') return usage_error("vla: unknown option or missing value: '%s'", a);
        else return usage_error("vla: unexpected argument '%s'", a);
    }
    if (!o->n_scenarios) return usage_error("vla: %s", "missing --scenarios");
    return 0;
}

static int vla_train_command(vla_options *o) {
    if (!o->out) return usage_error("vla train: %s", "missing --out");
    o->tc.scenarios = (const char *const *)o->scenarios, o->tc.n_scenarios = o->n_scenarios;
    o->tc.out_path = o->out;
    o->tc.progress = !o->quiet && isatty(2);
    vla_train_report rep;
    wm_error err;
    if (vla_train(&o->tc, &rep, &err)) return fprintf(stderr, "wmsim: %s\n", err.msg), 1;
    if (!o->quiet) {
        const vla_train_round *last = &rep.rounds[rep.n_rounds - 1];
        printf("%s: %d rounds, %d samples, %zu parameters, final loss %.4f", o->out, rep.n_rounds, last->samples,
               rep.parameters, (double)last->loss);
        if (last->eval_episodes) printf(", passed %d/%d", last->eval_passed, last->eval_episodes);
        printf(" in %.0f s; wrote %s and %s.csv\n", last->seconds, o->out, o->out);
    }
    return 0;
}

static int vla_eval_command(vla_options *o) {
    if (!o->model) return usage_error("vla eval: %s", "missing --model");
    char spec[4200];
    snprintf(spec, sizeof spec, "vla:%s", o->model);
    int *passed = CALLOC_CHECK((size_t)o->n_scenarios, sizeof *passed), total = 0;
    wm_error err;
    int rc = vla_train_evaluate(spec, (const char *const *)o->scenarios, o->n_scenarios, o->seeds, passed, &total,
                                &err);
    if (rc) fprintf(stderr, "wmsim: %s\n", err.msg);
    else {
        for (int i = 0; i < o->n_scenarios; i++) printf("%-48s %d/%d\n", o->scenarios[i], passed[i], o->seeds);
        printf("%s: passed %d/%d (%.0f %%) in the oracle loop\n", o->model, total, o->n_scenarios * o->seeds,
               100.0 * total / (o->n_scenarios * o->seeds));
    }
    free(passed);
    return rc ? 1 : 0;
}

int cmd_vla(int argc, char **argv) {
    if (argc < 1 || cli_wants_help(argc, argv)) {
        print_usage(argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    vla_options o = {.seeds = 10, .tc = vla_train_config_default()};
    int rc = parse(argc - 1, argv + 1, &o);
    if (!rc) {
        if (strcmp(argv[0], "train") == 0) rc = vla_train_command(&o);
        else if (strcmp(argv[0], "eval") == 0) rc = vla_eval_command(&o);
        else rc = usage_error("vla: unknown subcommand '%s' (train, eval)", argv[0]);
    }
    scenario_files_free(o.scenarios, o.n_scenarios);
    return rc;
}
