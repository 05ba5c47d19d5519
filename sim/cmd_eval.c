/* cmd_eval.c — `wmsim eval`: the nightly closed-loop evaluation of one
 * policy on a suite (sim/eval.h does the work). Exit status as the issue
 * for nightly jobs asks: 0 no regression, 1 regression, 2 error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scenarios/suite.h"
#include "sim/cli_args.h"
#include "sim/cluster.h"
#include "sim/commands.h"
#include "sim/eval.h"

static const char EVAL_USAGE[] =
    "usage: wmsim eval --suite SUITE --policy P --out DIR [--baseline PREV_DIR] [--noise X]\n"
    "                  [--jobs J] [--video all|failed|none] [WORLD MODEL] [POLICY LIMITS] [--quiet]\n"
    "       wmsim eval --suite SUITE --dry-run\n"
    "\n"
    "Runs every episode of SUITE (scenarios/suite.proto: scenarios or template\n"
    "samples x seeds x loops, with pass criteria) against the policy and writes\n"
    "  DIR/results.json  every episode's metrics, pass/fail, failure reasons,\n"
    "                    and the versions of wmsim, the models and the suite\n"
    "  DIR/junit.xml     one testcase per episode, for CI dashboards\n"
    "  DIR/report.html   summary, per-category pass rates, score and metric plots,\n"
    "                    and a row per episode with thumbnails, video and reasons\n"
    "  DIR/episodes/SCENARIO_sSEED_LOOP/  episode.log, result.json, video.mp4\n"
    "                    (HUD and the policy's reasoning; in the worldmodel loop\n"
    "                    the oracle beside the generated frames), thumbs.png\n"
    "\n"
    "  --policy P        any policy `wmsim run` takes (see wmsim run --help)\n"
    "  --baseline DIR    the previous night's DIR: a regression section in the\n"
    "                    report, and exit status 1 when an episode that passed\n"
    "                    there fails now or a passing score fell by more than --noise\n"
    "  --noise X         score drops up to X are noise (default 0.05)\n"
    "  --jobs J          episodes on J threads (default 1); the results are the same\n"
    "  --video V         which episodes keep video.mp4: all (default), failed, none\n"
    "  --dry-run         validate SUITE and list its episodes; run nothing\n"
    "  --quiet           no progress line and no summary\n"
    "%s"
    "\n"
    "Rerun the same command after a crash: episodes already complete in DIR\n"
    "(their episode.json) are kept, the rest run. Under mpirun or srun (a build\n"
    "with MPI) the episodes are shared between the ranks by index and rank 0\n"
    "writes the files; the results do not depend on the number of ranks.\n"
    "\n"
    "Exit status 0 when the suite ran and nothing regressed (failing episodes\n"
    "included); 1 when something regressed against --baseline; 2 for an error:\n"
    "bad usage, a bad suite, an unknown policy, a missing baseline, I/O.\n";

static void print_usage(FILE *f) { fprintf(f, EVAL_USAGE, CLI_LOOP_USAGE); }

static int dry_run(const char *path) {
    suite s;
    wm_error err;
    if (suite_load(path, &s, &err)) return fprintf(stderr, "wmsim: %s\n", err.msg), 2;
    printf("%s: suite '%s', %d entries, %d scenarios, %d episodes\n", path, s.id, s.n_entries, s.n_scenarios,
           s.n_episodes);
    for (int k = 0; k < s.n_episodes; k++) {
        const suite_episode *e = &s.episodes[k];
        const suite_scenario *ss = &s.scenarios[e->scenario];
        printf("  %s/s%llu/%s  [%s]%s%s\n", ss->sc.id, (unsigned long long)e->seed, suite_loop_name(e->loop),
               s.entries[ss->entry].category, ss->parameters[0] ? "  " : "", ss->parameters);
    }
    suite_free(&s);
    return 0;
}

int cmd_eval(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) return print_usage(stdout), 0;
    eval_config cfg = eval_config_default();
    int quiet = 0, dry = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
            continue;
        }
        if (strcmp(a, "--dry-run") == 0) {
            dry = 1;
            continue;
        }
        int taken = cli_take_loop_option(argc, argv, &i, &cfg.feed, &cfg.limits, print_usage);
        if (taken == 2) return 2;
        if (taken) continue;
        if (i + 1 >= argc) return cli_usage_error(print_usage, "eval: unknown option or missing value: '%s'", a);
        const char *v = argv[++i];
        long n;
        if (strcmp(a, "--suite") == 0) cfg.suite_path = v;
        else if (strcmp(a, "--policy") == 0) cfg.policy = v;
        else if (strcmp(a, "--out") == 0) cfg.out_dir = v;
        else if (strcmp(a, "--baseline") == 0) cfg.baseline_dir = v;
        else if (strcmp(a, "--noise") == 0) {
            if (cli_parse_double(v, &cfg.noise) || !(cfg.noise >= 0 && cfg.noise < 1))
                return cli_usage_error(print_usage, "--noise: expected a number in [0, 1), got '%s'", v);
        } else if (strcmp(a, "--jobs") == 0) {
            if (cli_parse_long(v, 1, 256, &n))
                return cli_usage_error(print_usage, "--jobs: expected an integer in [1, 256], got '%s'", v);
            cfg.jobs = (int)n;
        } else if (strcmp(a, "--video") == 0) {
            if (strcmp(v, "all") == 0) cfg.video = EVAL_VIDEO_ALL;
            else if (strcmp(v, "failed") == 0) cfg.video = EVAL_VIDEO_FAILED;
            else if (strcmp(v, "none") == 0) cfg.video = EVAL_VIDEO_NONE;
            else return cli_usage_error(print_usage, "--video: expected all, failed or none, got '%s'", v);
        } else return cli_usage_error(print_usage, "eval: unknown option '%s'", a);
    }
    if (!cfg.suite_path) return cli_usage_error(print_usage, "eval: %s", "missing --suite");
    if (dry) return dry_run(cfg.suite_path);
    if (!cfg.policy || !cfg.out_dir)
        return cli_usage_error(print_usage, "eval: %s", !cfg.policy ? "missing --policy" : "missing --out");
    eval_outcome out;
    wm_error err;
    cluster cl;
    if (cluster_init(&cl, &err)) return fprintf(stderr, "wmsim: %s\n", err.msg), 2;
    cfg.cl = &cl;
    cfg.progress = !quiet && cl.rank == 0 && isatty(2);
    /* Every rank must reach eval_run's collectives, or none. */
    int device_ok = cluster_use_device(&cl, &err) == 0, all_ok = cluster_all_ok(&cl, device_ok);
    if (!all_ok && device_ok) wm_fail(&err, "eval: another rank could not use its GPU");
    int failed = !all_ok || eval_run(&cfg, &out, &err);
    cluster_finish(&cl);
    if (failed) return fprintf(stderr, "wmsim: %s\n", err.msg), 2;
    if (!quiet && cl.rank == 0) {
        printf("eval %s: %d episodes, %d passed, %d failed (%d policy errors) in %.1f s", cfg.suite_path, out.episodes,
               out.passed, out.failed, out.errors, out.elapsed_s);
        printf(cl.size > 1 ? " on %d ranks\n" : "\n", cl.size);
        if (cfg.baseline_dir)
            printf("  against %s: %d regressions, %d score drops beyond %.3g, %d fixed%s\n", cfg.baseline_dir,
                   out.regressions, out.score_drops, cfg.noise, out.fixed, out.regressed ? "  REGRESSED" : "");
        printf("  wrote %s/results.json, %s/junit.xml, %s/report.html\n", cfg.out_dir, cfg.out_dir, cfg.out_dir);
    }
    return out.regressed ? 1 : 0;
}
