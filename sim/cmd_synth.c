/* cmd_synth.c — `wmsim synth sweep|search`: concrete scenarios from a
 * template (scenarios/scenario_template.h), and the adversarial search for
 * failing ones (sim/synth_search.h). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "core/fileio.h"
#include "core/version.h"
#include "scenarios/scenario_template.h"
#include "sim/batch.h"
#include "sim/cli_args.h"
#include "sim/cluster.h"
#include "sim/commands.h"
#include "sim/synth_search.h"

#define SWEEP_MAX_FILES 100000L
#define GRID_MAX_POINTS 1000

static const char SYNTH_USAGE[] =
    "usage: wmsim synth sweep TEMPLATE (--grid [NAME=N,...] | --random N [--seed S]) --out DIR\n"
    "                         [--format pbtxt|pb] [--quiet]\n"
    "       wmsim synth search TEMPLATE --policy P --budget N [--seed S] [--population M] [--jobs J]\n"
    "                          [--policy-timeout S] [--policy-startup S] [--policy-max-bytes N]\n"
    "                          [--out DIR] [--no-random] [--quiet]\n"
    "\n"
    "A template is a scenario whose `parameters` give ranges or lists of values\n"
    "for some of its fields (scenarios/scenario.proto; examples in\n"
    "scenarios/templates/). Every scenario made from it records its values in\n"
    "its `synthesis` and runs like any other scenario.\n"
    "\n"
    "sweep   writes concrete scenarios, DIR/ID.pbtxt (or .pb) each, and\n"
    "        DIR/manifest.json (the template, the method, and each file's index\n"
    "        and values):\n"
    "  --grid [NAME=N,...]  every combination of each range's grid_points points\n"
    "                       (evenly spaced from min to max; NAME=N: N points for\n"
    "                       that range, 1 = its midpoint) and each list's values;\n"
    "                       the first parameter varies slowest. IDs TEMPLATEID_gNNNN.\n"
    "  --random N           N points, uniform over each range and each list; point i\n"
    "                       depends only on the seed and i. IDs TEMPLATEID_rNNNN.\n"
    "  --seed S             the random points' seed (default 1)\n"
    "  --format F           pbtxt (text, default) or pb (binary)\n"
    "        At most 100000 files. Earlier files of this template's sweeps in\n"
    "        DIR (TEMPLATEID_g*, TEMPLATEID_r*) that this sweep did not write are\n"
    "        removed, so DIR matches the manifest. A point whose values make an\n"
    "        invalid scenario (a car overlapping the ego, an arc too tight) is\n"
    "        reported with its values and reason and skipped; the others are\n"
    "        still written, the manifest lists the skipped ones, and the exit\n"
    "        status is 1. Under mpirun or srun, rank 0 sweeps alone (a sweep is\n"
    "        cheap) and the other ranks exit 0.\n"
    "\n"
    "search  looks for values that make policy P fail: the cross-entropy method\n"
    "        over the parameters (generations of M points; the best fifth, failures\n"
    "        first, then lower scores, steer the next), then the same budget of\n"
    "        plain random points as the baseline. Prints failures per 100 episodes\n"
    "        and distinct failures for each, and writes DIR/search.json (every\n"
    "        episode: values, score, passed, first failure) and\n"
    "        DIR/failures/ID.pbtxt, a scenario per distinct failure with its values,\n"
    "        policy, score and failure reason, ready for a regression suite.\n"
    "        Failures are distinct when their first failures differ in kind\n"
    "        (collision, off_road, guard, goal, score, policy) or their values lie\n"
    "        more than 0.2 apart (RMS of the normalised ranges, 0/1 per list).\n"
    "  --policy P           as for wmsim run: expert, cruise, vla-tiny, exec:CMD ARGS, ...\n"
    "  --budget N           episodes for the search, as many for the baseline, [1, 100000]\n"
    "  --seed S             the search's and the baseline's seed (default 1)\n"
    "  --population M       points a generation (default budget/4 within [4, 20])\n"
    "  --jobs J             episodes on J threads (default 1); the results are the same\n"
    "  --out DIR            default out/synth/TEMPLATEID\n"
    "  --no-random          no random baseline\n"
    "        Under mpirun or srun (a build with MPI) the ranks share each\n"
    "        generation's episodes and the baseline's by index, and rank 0 writes\n"
    "        and prints: the same files whatever the rank count.\n"
    "\n"
    "  --quiet              print nothing on success (and no progress line)\n"
    "\n"
    "Exit status 0 when the command did its job (a search that finds failures\n"
    "included); 1 for bad input, an invalid sweep point or an I/O error; 2 for\n"
    "bad usage.\n";

static void print_usage(FILE *f) { fputs(SYNTH_USAGE, f); }

static int load_template(const char *path, scenario_template *t) {
    wm_error err;
    if (scenario_template_load(path, t, &err) == 0) return 0;
    fprintf(stderr, "wmsim: %s\n", err.msg);
    return -1;
}

/* "a, b, c": the template's parameter names, for messages. */
static void param_names(const scenario_template *t, char *out, size_t n) {
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < t->n_params && used < n; i++)
        used += (size_t)snprintf(out + used, n - used, "%s%s", i ? ", " : "", t->params[i].name);
}

/* --grid's NAME=N,... into override (one per parameter). 0, 1 bad input
 * (message printed), 2 bad usage. */
static int parse_grid(const scenario_template *t, const char *spec, int *override) {
    const char *p = spec;
    while (*p) {
        size_t len = strcspn(p, ",");
        char item[256];
        if (len == 0 || len >= sizeof item) return cli_usage_error(print_usage, "--grid: expected NAME=N,..., got '%s'", spec);
        memcpy(item, p, len);
        item[len] = '\0';
        p += len + (p[len] == ',');
        char *eq = strchr(item, '=');
        long k;
        if (!eq || eq == item) return cli_usage_error(print_usage, "--grid: expected NAME=N,..., got '%s'", spec);
        *eq = '\0';
        if (cli_parse_long(eq + 1, 1, GRID_MAX_POINTS, &k))
            return cli_usage_error(print_usage, "--grid: expected a point count in [1, 1000], got '%s'", eq + 1);
        int found = -1;
        for (int i = 0; i < t->n_params && found < 0; i++)
            if (strcmp(t->params[i].name, item) == 0) found = i;
        if (found < 0) {
            char names[2048];
            param_names(t, names, sizeof names);
            fprintf(stderr, "wmsim: --grid: no parameter '%s' in %s (its parameters: %s)\n", item, t->path, names);
            return 1;
        }
        if (t->params[found].n_values) {
            fprintf(stderr, "wmsim: --grid: '%s' is a list; its grid is its %d values\n", item,
                    t->params[found].n_values);
            return 1;
        }
        override[found] = (int)k;
    }
    return 0;
}

/* ---------------------------------------------------------------- sweep */

typedef struct {
    int written;          /* 1: the file; 0: skipped */
    char id[SCENARIO_ID_MAX + 16];
    double values[SCENARIO_MAX_PARAMS];
    char *reason;         /* skipped: why (malloc'ed) */
} sweep_point;

typedef struct {
    const scenario_template *t;
    const char *method, *dir, *ext;
    int grid;
    const int *override;
    uint64_t seed;
    sweep_point *points;
    long n_points;
} sweep_run;

static int sweep_item(int i, void *worker, void *ctx, wm_error *err) {
    (void)worker;
    sweep_run *run = ctx;
    sweep_point *pt = &run->points[i];
    if (run->grid) synth_grid_point(run->t, i, run->override, pt->values);
    else synth_random_point(run->t, run->seed, i, pt->values);
    snprintf(pt->id, sizeof pt->id, "%s_%c%04d", run->t->id, run->grid ? 'g' : 'r', i);
    scenario sc;
    scenario_synthesis how = {.method = run->method, .index = i, .seed = run->seed, .score = NAN};
    wm_error why;
    if (scenario_template_make(run->t, pt->values, &how, &sc, &why)) {
        pt->reason = STRDUP_CHECK(why.msg);
        return 0;
    }
    char path[4096 + 128];
    snprintf(path, sizeof path, "%s/%s.%s", run->dir, pt->id, run->ext);
    int rc = scenario_write(&sc, path, err);
    scenario_free(&sc);
    pt->written = rc == 0;
    return rc;
}

/* ID_g0001.pbtxt style names of this template's points. */
static int is_point_file(const char *name, const char *id) {
    size_t n = strlen(id);
    if (strncmp(name, id, n) != 0 || name[n] != '_' || (name[n + 1] != 'g' && name[n + 1] != 'r')) return 0;
    const char *d = name + n + 2;
    size_t digits = strspn(d, "0123456789");
    return digits >= 4 && (strcmp(d + digits, ".pbtxt") == 0 || strcmp(d + digits, ".pb") == 0);
}

/* A point file of this template that this sweep did not write. */
static int stale_point(const char *name, void *ctx) {
    const sweep_run *run = ctx;
    if (!is_point_file(name, run->t->id)) return 0;
    char ours[SCENARIO_ID_MAX + 32];
    for (long i = 0; i < run->n_points; i++) {
        snprintf(ours, sizeof ours, "%s.%s", run->points[i].id, run->ext);
        if (run->points[i].written && strcmp(ours, name) == 0) return 0;
    }
    return 1;
}

static int write_manifest(const sweep_run *run, long n, wm_error *err) {
    const scenario_template *t = run->t;
    json_t *root = json_object();
    json_object_set_new(root, "wmsim_version", json_string(WMSIM_VERSION));
    json_object_set_new(root, "template", synth_template_json(t));
    json_object_set_new(root, "parameters", synth_params_json(t));
    json_object_set_new(root, "method", json_string(run->method));
    if (run->grid) {
        json_t *g = json_object();
        for (int i = 0; i < t->n_params; i++) {
            const scenario_param *p = &t->params[i];
            int k = p->n_values ? p->n_values : run->override[i] > 0 ? run->override[i] : p->grid_points;
            json_object_set_new(g, p->name, json_integer(k));
        }
        json_object_set_new(root, "grid", g);
    } else {
        json_object_set_new(root, "seed", json_integer((json_int_t)run->seed));
    }
    json_object_set_new(root, "points", json_integer(n));
    json_t *files = json_array(), *skipped = json_array();
    for (long i = 0; i < n; i++) {
        const sweep_point *pt = &run->points[i];
        json_t *o = json_object();
        char file[SCENARIO_ID_MAX + 32];
        snprintf(file, sizeof file, "%s.%s", pt->id, run->ext);
        if (pt->written) json_object_set_new(o, "file", json_string(file));
        else json_object_set_new(o, "id", json_string(pt->id));
        json_object_set_new(o, "index", json_integer(i));
        json_object_set_new(o, "values", synth_values_json(t, pt->values));
        if (!pt->written) json_object_set_new(o, "reason", json_string(pt->reason ? pt->reason : ""));
        json_array_append_new(pt->written ? files : skipped, o);
    }
    json_object_set_new(root, "files", files);
    json_object_set_new(root, "skipped", skipped);
    char path[4096 + 32];
    snprintf(path, sizeof path, "%s/manifest.json", run->dir);
    return file_write_json(path, root, FILE_JSON_REPORT, err);
}

static int cmd_sweep(int argc, char **argv) {
    const char *template_path = NULL, *out = NULL, *format = "pbtxt", *grid_spec = NULL;
    int grid = 0, quiet = 0;
    long n_random = 0;
    uint64_t seed = 1;
    int seed_given = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(a, "--grid") == 0) {
            grid = 1;
            if (v && v[0] != '-' && strchr(v, '=')) grid_spec = v, i++;
        } else if (a[0] != '-') {
            if (template_path) return cli_usage_error(print_usage, "synth sweep: one template, got another: '%s'", a);
            template_path = a;
        } else if (!v) {
            return cli_usage_error(print_usage, "synth sweep: unknown option or missing value: '%s'", a);
        } else if (strcmp(a, "--random") == 0) {
            if (cli_parse_long(v, 1, SWEEP_MAX_FILES, &n_random))
                return cli_usage_error(print_usage, "--random: expected a point count in [1, 100000], got '%s'", v);
            i++;
        } else if (strcmp(a, "--seed") == 0) {
            if (cli_parse_u64(v, &seed)) return cli_usage_error(print_usage, "--seed: expected a seed, got '%s'", v);
            seed_given = 1, i++;
        } else if (strcmp(a, "--out") == 0) {
            out = v, i++;
        } else if (strcmp(a, "--format") == 0) {
            if (strcmp(v, "pbtxt") != 0 && strcmp(v, "pb") != 0)
                return cli_usage_error(print_usage, "--format: expected pbtxt or pb, got '%s'", v);
            format = v, i++;
        } else {
            return cli_usage_error(print_usage, "synth sweep: unknown option or missing value: '%s'", a);
        }
    }
    if (!template_path) return cli_usage_error(print_usage, "synth sweep: %s", "missing TEMPLATE");
    if (grid == (n_random > 0))
        return cli_usage_error(print_usage, "synth sweep: %s", "give one of --grid and --random N");
    if (grid && seed_given) return cli_usage_error(print_usage, "synth sweep: %s", "--seed is for --random");
    if (!out) return cli_usage_error(print_usage, "synth sweep: %s", "missing --out DIR");
    /* Under a launcher, rank 0 sweeps alone: the other ranks would write
     * the same files. */
    {
        cluster cl;
        wm_error err;
        if (cluster_init(&cl, &err)) return fprintf(stderr, "wmsim: %s\n", err.msg), 1;
        int rank = cl.rank;
        cluster_finish(&cl);
        if (rank != 0) return 0;
    }

    scenario_template *t = CALLOC_CHECK(1, sizeof *t);
    int override[SCENARIO_MAX_PARAMS] = {0};
    sweep_run run = {.t = t, .method = grid ? "grid" : "random", .dir = out, .ext = format, .grid = grid,
                     .override = override, .seed = grid ? 0 : seed};
    long n = 0;
    int rc = 1;
    wm_error err;
    if (load_template(template_path, t)) goto done;
    if (grid_spec && (rc = parse_grid(t, grid_spec, override)) != 0) goto done;
    rc = 1;
    n = grid ? synth_grid_size(t, override) : n_random;
    if (n < 0 || n > SWEEP_MAX_FILES) {
        char count[64];
        if (n < 0) snprintf(count, sizeof count, "over 1000000");
        else snprintf(count, sizeof count, "%ld", n);
        fprintf(stderr, "wmsim: synth sweep: the grid of %s has %s points; a sweep writes at most %ld files (fewer points: --grid NAME=N)\n",
                t->path, count, SWEEP_MAX_FILES);
        n = 0;
        goto done;
    }
    if (dir_create(out, &err)) {
        fprintf(stderr, "wmsim: %s\n", err.msg);
        goto done;
    }
    run.points = CALLOC_CHECK((size_t)n, sizeof *run.points);
    run.n_points = n;
    batch_config b = {.n_items = (int)n, .jobs = 1, .run_item = sweep_item, .ctx = &run, .label = "synth sweep",
                      .unit = "scenarios", .progress = !quiet && isatty(2)};
    if (batch_run(&b, &err) || dir_remove_stale(run.dir, stale_point, &run, &err) || write_manifest(&run, n, &err)) {
        fprintf(stderr, "wmsim: %s\n", err.msg);
        goto done;
    }
    long written = 0, skipped = 0;
    for (long i = 0; i < n; i++) {
        if (run.points[i].written) {
            written++;
            continue;
        }
        skipped++;
        fprintf(stderr, "wmsim: synth sweep: skipped %s: %s\n", run.points[i].id, run.points[i].reason);
    }
    if (skipped) {
        fprintf(stderr, "wmsim: synth sweep: skipped %ld of %ld points (invalid scenarios); wrote the other %ld and %s/manifest.json\n",
                skipped, n, written, out);
        goto done;
    }
    if (!quiet) printf("wrote %ld scenarios (%s) and %s/manifest.json\n", written, run.method, out);
    rc = 0;
done:
    if (run.points)
        for (long i = 0; i < n; i++) free(run.points[i].reason);
    free(run.points);
    scenario_template_free(t);
    free(t);
    return rc;
}

/* ---------------------------------------------------------------- search */

static int cmd_search(int argc, char **argv) {
    synth_search_config cfg = synth_search_config_default();
    const char *template_path = NULL, *out = NULL;
    int quiet = 0, budget_given = 0;
    long k;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
            continue;
        }
        if (strcmp(a, "--no-random") == 0) {
            cfg.random_baseline = 0;
            continue;
        }
        if (a[0] != '-') {
            if (template_path) return cli_usage_error(print_usage, "synth search: one template, got another: '%s'", a);
            template_path = a;
            continue;
        }
        int taken = cli_take_policy_limit(argc, argv, &i, &cfg.limits, print_usage);
        if (taken == 2) return 2;
        if (taken) continue;
        if (!v) return cli_usage_error(print_usage, "synth search: unknown option or missing value: '%s'", a);
        if (strcmp(a, "--policy") == 0) {
            cfg.policy = v;
        } else if (strcmp(a, "--budget") == 0) {
            if (cli_parse_long(v, 1, SYNTH_MAX_BUDGET, &k))
                return cli_usage_error(print_usage, "--budget: expected an integer in [1, 100000], got '%s'", v);
            cfg.budget = (int)k, budget_given = 1;
        } else if (strcmp(a, "--seed") == 0) {
            if (cli_parse_u64(v, &cfg.seed)) return cli_usage_error(print_usage, "--seed: expected a seed, got '%s'", v);
        } else if (strcmp(a, "--population") == 0) {
            if (cli_parse_long(v, 2, 10000, &k))
                return cli_usage_error(print_usage, "--population: expected an integer in [2, 10000], got '%s'", v);
            cfg.population = (int)k;
        } else if (strcmp(a, "--jobs") == 0) {
            if (cli_parse_long(v, 1, BATCH_MAX_JOBS, &k))
                return cli_usage_error(print_usage, "--jobs: expected an integer in [1, 256], got '%s'", v);
            cfg.jobs = (int)k;
        } else if (strcmp(a, "--out") == 0) {
            out = v;
        } else {
            return cli_usage_error(print_usage, "synth search: unknown option or missing value: '%s'", a);
        }
        i++;
    }
    if (!template_path) return cli_usage_error(print_usage, "synth search: %s", "missing TEMPLATE");
    if (!cfg.policy) return cli_usage_error(print_usage, "synth search: %s", "missing --policy");
    if (!budget_given) return cli_usage_error(print_usage, "synth search: %s", "missing --budget");

    scenario_template *t = CALLOC_CHECK(1, sizeof *t);
    int rc = 1;
    wm_error err;
    synth_search_result res = {0};
    char dir[4096];
    cluster cl;
    if (cluster_init(&cl, &err)) {
        fprintf(stderr, "wmsim: %s\n", err.msg);
        free(t);
        return 1;
    }
    /* Every rank gets past each step or none does: a rank that stopped
     * alone would leave the others waiting in the next collective. */
    if (!cluster_all_ok(&cl, load_template(template_path, t) == 0)) goto done;
    if (out) snprintf(dir, sizeof dir, "%s", out);
    else snprintf(dir, sizeof dir, "out/synth/%s", t->id);
    cfg.t = t;
    cfg.cl = &cl;
    cfg.progress = !quiet && cl.rank == 0 && isatty(2);
    if (synth_search_run(&cfg, &res, &err)) {
        fprintf(stderr, "wmsim: %s\n", err.msg);
        goto done;
    }
    int written = cl.rank != 0 || synth_search_write(&cfg, &res, dir, &err) == 0;
    if (!written) fprintf(stderr, "wmsim: %s\n", err.msg);
    if (!cluster_all_ok(&cl, written)) goto done;
    if (!quiet && cl.rank == 0) {
        synth_search_print(stdout, &cfg, &res);
        char ranks[32] = "";
        if (cl.size > 1) snprintf(ranks, sizeof ranks, " on %d ranks", cl.size);
        printf("wrote %s/search.json and %d failure scenario%s in %s/failures/ (%.1f s, %.0f steps/s%s)\n", dir,
               res.n_files, res.n_files == 1 ? "" : "s", dir, res.elapsed_s,
               res.elapsed_s > 0 ? res.steps / res.elapsed_s : 0.0, ranks);
    }
    rc = 0;
done:
    cluster_finish(&cl);
    synth_search_result_free(&res);
    scenario_template_free(t);
    free(t);
    return rc;
}

int cmd_synth(int argc, char **argv) {
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "help") == 0) {
        print_usage(argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    if (cli_wants_help(argc, argv)) return print_usage(stdout), 0;
    if (strcmp(argv[0], "sweep") == 0) return cmd_sweep(argc - 1, argv + 1);
    if (strcmp(argv[0], "search") == 0) return cmd_search(argc - 1, argv + 1);
    return cli_usage_error(print_usage, "synth: unknown subcommand '%s' (sweep, search)", argv[0]);
}
