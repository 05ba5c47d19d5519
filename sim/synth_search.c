/* synth_search.c — the CEM search and its random baseline
 * (sim/synth_search.h).
 *
 * Glossary: N the budget (episodes per method), M the population (points
 * a generation), G = ceil(N / M) generations, P the template's
 * parameters, J worker threads, R MPI ranks. */
#include "sim/synth_search.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "core/clock.h"
#include "core/fileio.h"
#include "core/version.h"
#include "scenarios/scenario.pb-c.h"
#include "scenarios/synth.h"
#include "sim/agreement.h"
#include "sim/batch.h"
#include "sim/cluster.h"
#include "sim/episode.h"

#define INVALID_OBJECTIVE 3.0 /* worse than any episode: passed (1) + score (<= 1) */

synth_search_config synth_search_config_default(void) {
    return (synth_search_config){.limits = policy_options_default(), .budget = 100, .elite_frac = SYNTH_DEFAULT_ELITE,
                                 .distinct_distance = SYNTH_DEFAULT_DISTINCT, .seed = 1, .random_baseline = 1,
                                 .jobs = 1};
}

static const char *method_name(int method) { return method == SYNTH_CEM ? "cem" : "random"; }
/* The Synthesis method of the scenarios each makes. */
static const char *method_synthesis(int method) { return method == SYNTH_CEM ? "search" : "random"; }

/* ---------------------------------------------------------------- workers */

/* What a thread keeps across generations: batch_run's per-worker state is
 * one call's, so it borrows a slot of this pool instead, and the policy
 * (an external process, a loaded checkpoint) starts once per slot. */
typedef struct {
    int in_use;
    policy pol;
    int pol_ready;
    camera_feed *feed;
    scenario_camera cam;
} worker_slot;

typedef struct {
    const synth_search_config *cfg;
    const cluster *cl;
    synth_search_result *res;
    worker_slot *slots; /* J */
    pthread_mutex_t lock;
    int first;          /* this batch's first episode */
    long steps;         /* this rank's, for the progress line */
} search_run;

typedef struct {
    worker_slot *slot;
} worker_handle;

static int same_camera(const scenario_camera *a, const scenario_camera *b) {
    return a->width == b->width && a->height == b->height && a->hfov_deg == b->hfov_deg &&
           a->mount_height == b->mount_height && a->mount_forward == b->mount_forward && a->pitch_deg == b->pitch_deg;
}

static worker_slot *slot_take(search_run *run) {
    pthread_mutex_lock(&run->lock);
    worker_slot *s = NULL;
    for (int i = 0; i < run->cfg->jobs && !s; i++)
        if (!run->slots[i].in_use) s = &run->slots[i], s->in_use = 1;
    pthread_mutex_unlock(&run->lock);
    return s; /* never NULL: batch_run starts at most J workers */
}

static void worker_release(void *worker, void *ctx) {
    search_run *run = ctx;
    worker_handle *h = worker;
    if (!h->slot) return;
    pthread_mutex_lock(&run->lock);
    h->slot->in_use = 0;
    pthread_mutex_unlock(&run->lock);
}

/* The first line of a (validation) message, which names the values. */
static void first_line(const char *msg, char *out, size_t n) {
    size_t len = strcspn(msg, "\n");
    if (len >= n) len = n - 1;
    memcpy(out, msg, len);
    out[len] = '\0';
}

static int run_item(int item, void *worker, void *ctx, wm_error *err) {
    search_run *run = ctx;
    const synth_search_config *cfg = run->cfg;
    worker_handle *h = worker;
    if (!h->slot) h->slot = slot_take(run);
    worker_slot *ws = h->slot;
    synth_episode *ep = &run->res->episodes[run->first + item];
    scenario *sc = CALLOC_CHECK(1, sizeof *sc);
    scenario_synthesis how = {.method = method_synthesis(ep->method), .index = ep->index, .seed = cfg->seed,
                              .score = NAN};
    wm_error why;
    if (scenario_template_make(cfg->t, ep->values, &how, sc, &why)) {
        /* A point of the search space, not an error of the run. */
        ep->valid = 0, ep->failure_kind = -1;
        first_line(why.msg, ep->failure, sizeof ep->failure);
        free(sc);
        return 0;
    }
    int rc = -1;
    episode_result *r = NULL;
    if (!ws->pol_ready) {
        if (policy_create(cfg->policy, &cfg->limits, &ws->pol, err)) goto done;
        ws->pol_ready = 1;
    }
    if (ws->pol.sees_frames && (!ws->feed || !same_camera(&ws->cam, &sc->camera))) {
        camera_feed_close(ws->feed);
        ws->feed = NULL;
        camera_feed_options o = camera_feed_options_default();
        o.cp = sc->camera;
        if (camera_feed_open(&ws->feed, &o, err)) {
            wm_error_prefix(err, "%s: ", sc->id);
            goto done;
        }
        ws->cam = sc->camera;
    }
    episode_config ec = {.sc = sc, .seed = sc->seed, .pol = &ws->pol, .feed = ws->pol.sees_frames ? ws->feed : NULL};
    r = MALLOC_CHECK(sizeof *r);
    if (episode_run(&ec, r, err)) {
        wm_error_prefix(err, "%s: ", sc->id);
        goto done;
    }
    ep->valid = 1;
    ep->passed = r->m.passed;
    ep->score = r->m.score;
    ep->steps = r->steps;
    snprintf(ep->end_reason, sizeof ep->end_reason, "%.63s", r->end_reason);
    ep->failure_kind = -1;
    if (!r->m.passed) {
        if (r->m.n_reasons > 0) {
            ep->failure_kind = (int)r->m.reason_kind[0];
            memcpy(ep->failure, r->m.reasons[0], METRICS_REASON_LEN);
        } else {
            ep->failure_kind = FINDING_SCORE;
            snprintf(ep->failure, sizeof ep->failure, "failed without a reason");
        }
    }
    pthread_mutex_lock(&run->lock);
    run->steps += r->steps;
    pthread_mutex_unlock(&run->lock);
    rc = 0;
done:
    free(r);
    scenario_free(sc);
    free(sc);
    return rc;
}

static void status_line(void *ctx, double elapsed_s, char *out, size_t n) {
    search_run *run = ctx;
    pthread_mutex_lock(&run->lock);
    long steps = run->steps;
    pthread_mutex_unlock(&run->lock);
    snprintf(out, n, " %.0f steps/s", elapsed_s > 0 ? steps / elapsed_s : 0.0);
}

/* Runs episodes [first, first + n) of res, this rank's share (item i on
 * rank i % R), then gives every rank all n: each rank zeroes the episodes
 * it did not run and cluster_merge_slots ORs in the ones the others did
 * (values included, as the rank that ran them drew them). A collective:
 * every rank calls it, failed or not, and all return 0 or all -1.
 * progress: batch_run's line, on rank 0. */
static int run_batch(search_run *run, int first, int n, const char *label, int progress, wm_error *err) {
    const cluster *cl = run->cl;
    run->first = first;
    batch_config b = {.n_items = n, .jobs = run->cfg->jobs, .worker_size = sizeof(worker_handle),
                      .run_item = run_item, .worker_free = worker_release, .ctx = run, .label = label,
                      .unit = "episodes", .progress = progress && cl->rank == 0, .status = status_line,
                      .rank = cl->rank, .ranks = cl->size};
    int ok = batch_run(&b, err) == 0;
    if (!cluster_all_ok(cl, ok)) {
        if (ok) wm_fail(err, "synth search: another rank failed (its message is on its standard error)");
        return -1;
    }
    if (cl->size > 1) {
        synth_episode *eps = &run->res->episodes[first];
        for (int i = 0; i < n; i++)
            if (i % cl->size != cl->rank) memset(&eps[i], 0, sizeof eps[i]);
        cluster_merge_slots(cl, eps, (size_t)n * sizeof *eps);
    }
    return 0;
}

/* ---------------------------------------------------------------- summary */

static int near_kept(const scenario_template *t, const synth_episode *const *kept, int n_kept, const synth_episode *ep,
                     double dist) {
    for (int k = 0; k < n_kept; k++)
        if (kept[k]->failure_kind == ep->failure_kind && synth_distance(t, kept[k]->values, ep->values) <= dist)
            return 1;
    return 0;
}

static void summarise(const synth_search_config *cfg, synth_search_result *res) {
    const synth_episode **kept = CALLOC_CHECK((size_t)res->n_episodes + 1, sizeof *kept);
    for (int method = 0; method < SYNTH_METHODS; method++) {
        synth_method_summary *s = &res->summary[method];
        int n_kept = 0;
        for (int k = 0; k < res->n_episodes; k++) {
            synth_episode *ep = &res->episodes[k];
            if (ep->method != method) continue;
            if (!ep->valid) {
                s->invalid++;
                continue;
            }
            s->episodes++;
            if (ep->passed) continue;
            s->failures++;
            if (near_kept(cfg->t, kept, n_kept, ep, cfg->distinct_distance)) continue;
            ep->distinct = 1;
            kept[n_kept++] = ep;
            s->distinct++;
        }
        s->failures_per_100 = s->episodes ? 100.0 * s->failures / s->episodes : 0;
    }
    /* The files: the CEM's distinct failures, then the baseline's that add a new one. */
    int n_files = 0;
    for (int k = 0; k < res->n_episodes; k++) {
        synth_episode *ep = &res->episodes[k];
        if (!ep->distinct || near_kept(cfg->t, kept, n_files, ep, cfg->distinct_distance)) continue;
        kept[n_files++] = ep;
        snprintf(ep->file, sizeof ep->file, "failures/%s_%c%04d.pbtxt", cfg->t->id,
                 ep->method == SYNTH_CEM ? 's' : 'r', ep->index);
    }
    res->n_files = n_files;
    free(kept);
}

/* The population; -1 (err) for a bad config or a policy that cannot start. */
static int check_config(const synth_search_config *cfg, wm_error *err) {
    if (cfg->budget < 1 || cfg->budget > SYNTH_MAX_BUDGET)
        return wm_fail(err, "synth search: budget %d outside [1, %d]", cfg->budget, SYNTH_MAX_BUDGET);
    if (cfg->jobs < 1 || cfg->jobs > BATCH_MAX_JOBS)
        return wm_fail(err, "synth search: jobs %d outside [1, %d]", cfg->jobs, BATCH_MAX_JOBS);
    if (!(cfg->elite_frac > 0 && cfg->elite_frac <= 1))
        return wm_fail(err, "synth search: elite fraction %g outside (0, 1]", cfg->elite_frac);
    int pop = cfg->population;
    if (pop <= 0) pop = cfg->budget / 4 < 4 ? 4 : cfg->budget / 4 > 20 ? 20 : cfg->budget / 4;
    if (pop < 2) return wm_fail(err, "synth search: population %d, at least 2", pop);
    /* The policy is checked once here, so a bad spec is one clear error
     * before any episode. */
    policy probe;
    if (policy_create(cfg->policy, &cfg->limits, &probe, err)) return -1;
    probe.destroy(&probe);
    return pop;
}

int synth_search_run(const synth_search_config *cfg, synth_search_result *res, wm_error *err) {
    memset(res, 0, sizeof *res);
    const scenario_template *t = cfg->t;
    cluster alone = {.size = 1};
    const cluster *cl = cfg->cl ? cfg->cl : &alone;
    /* Every rank stops here if any cannot start (an external policy
     * missing on one node), so none waits in a collective for it. */
    int pop = check_config(cfg, err);
    if (!cluster_all_ok(cl, pop > 0)) {
        if (pop > 0) wm_fail(err, "synth search: another rank failed (its message is on its standard error)");
        return -1;
    }

    const int n = cfg->budget * (cfg->random_baseline ? 2 : 1);
    res->episodes = CALLOC_CHECK((size_t)n, sizeof *res->episodes);
    res->n_episodes = n;
    res->population = pop;
    res->generations = (cfg->budget + pop - 1) / pop;
    search_run run = {.cfg = cfg, .cl = cl, .res = res};
    run.slots = CALLOC_CHECK((size_t)cfg->jobs, sizeof *run.slots);
    pthread_mutex_init(&run.lock, NULL);
    double t0 = clock_now_s();
    int rc = 0;

    synth_cem cem;
    synth_cem_init(&cem, t, cfg->seed, pop, cfg->elite_frac);
    res->n_elite = cem.n_elite;
    double *values = CALLOC_CHECK((size_t)pop * SCENARIO_MAX_PARAMS, sizeof *values);
    double *objective = CALLOC_CHECK((size_t)pop, sizeof *objective);
    int failures = 0;
    long steps = 0; /* of every rank */
    for (int g = 0; g < res->generations && rc == 0; g++) {
        int first = g * pop, m = cfg->budget - first < pop ? cfg->budget - first : pop;
        for (int i = 0; i < m; i++) {
            synth_episode *ep = &res->episodes[first + i];
            ep->method = SYNTH_CEM, ep->index = first + i, ep->generation = g;
            synth_cem_sample(&cem, i, ep->values);
        }
        /* A generation is short: one line redrawn per generation, not
         * batch_run's line per batch. */
        rc = run_batch(&run, first, m, "synth search", 0, err);
        if (rc) break;
        for (int i = 0; i < m; i++) {
            const synth_episode *ep = &res->episodes[first + i];
            memcpy(values + (size_t)i * SCENARIO_MAX_PARAMS, ep->values, sizeof ep->values);
            objective[i] = !ep->valid ? INVALID_OBJECTIVE : (ep->passed ? 1.0 : 0.0) + ep->score;
            failures += ep->valid && !ep->passed;
            steps += ep->steps;
        }
        synth_cem_update(&cem, values, SCENARIO_MAX_PARAMS, objective, m);
        if (cfg->progress && cl->rank == 0) {
            double el = clock_now_s() - t0;
            fprintf(stderr, "\rsynth search cem generation %d/%d, %d/%d episodes, %d failures, %.0f steps/s   %s",
                    g + 1, res->generations, first + m, cfg->budget, failures, el > 0 ? steps / el : 0.0,
                    g + 1 == res->generations ? "\n" : "");
            fflush(stderr);
        }
    }
    free(values);
    free(objective);

    if (rc == 0 && cfg->random_baseline) {
        for (int i = 0; i < cfg->budget; i++) {
            synth_episode *ep = &res->episodes[cfg->budget + i];
            ep->method = SYNTH_RANDOM, ep->index = i, ep->generation = -1;
            synth_random_point(t, cfg->seed, i, ep->values);
        }
        rc = run_batch(&run, cfg->budget, cfg->budget, "synth search random baseline", cfg->progress, err);
    }

    for (int i = 0; i < cfg->jobs; i++) {
        if (run.slots[i].pol_ready) run.slots[i].pol.destroy(&run.slots[i].pol);
        camera_feed_close(run.slots[i].feed);
    }
    free(run.slots);
    pthread_mutex_destroy(&run.lock);
    res->elapsed_s = clock_now_s() - t0;
    if (rc) {
        synth_search_result_free(res);
        return -1;
    }
    for (int k = 0; k < n; k++) res->steps += res->episodes[k].steps;
    summarise(cfg, res);
    return 0;
}

void synth_search_result_free(synth_search_result *res) {
    if (!res) return;
    free(res->episodes);
    memset(res, 0, sizeof *res);
}

/* ---------------------------------------------------------------- JSON */

json_t *synth_template_json(const scenario_template *t) {
    char hash[32];
    snprintf(hash, sizeof hash, "%016" PRIx64, t->hash);
    json_t *o = json_object();
    json_object_set_new(o, "path", json_string(t->path));
    json_object_set_new(o, "id", json_string(t->id));
    json_object_set_new(o, "hash", json_string(hash));
    return o;
}

json_t *synth_params_json(const scenario_template *t) {
    json_t *a = json_array();
    for (int i = 0; i < t->n_params; i++) {
        const scenario_param *p = &t->params[i];
        const Wmsim__Parameter *pm = t->msg->parameters[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(p->name));
        json_t *fields = json_array();
        for (size_t j = 0; j < pm->n_field; j++) json_array_append_new(fields, json_string(pm->field[j]));
        json_object_set_new(o, "field", fields);
        if (p->n_values) {
            json_t *v = json_array();
            for (int k = 0; k < p->n_values; k++) json_array_append_new(v, json_string(p->values[k]));
            json_object_set_new(o, "values", v);
        } else {
            json_object_set_new(o, "min", json_real(p->min));
            json_object_set_new(o, "max", json_real(p->max));
            json_object_set_new(o, "grid_points", json_integer(p->grid_points));
            if (p->integer) json_object_set_new(o, "integer", json_true());
        }
        json_array_append_new(a, o);
    }
    return a;
}

json_t *synth_values_json(const scenario_template *t, const double *values) {
    json_t *o = json_object();
    for (int i = 0; i < t->n_params; i++) {
        const scenario_param *p = &t->params[i];
        if (p->n_values) json_object_set_new(o, p->name, json_string(p->values[(int)values[i]]));
        else if (p->integer) json_object_set_new(o, p->name, json_integer((json_int_t)nearbyint(values[i])));
        else json_object_set_new(o, p->name, json_real(values[i]));
    }
    return o;
}

static json_t *summary_json(const synth_method_summary *s) {
    json_t *o = json_object();
    json_object_set_new(o, "episodes", json_integer(s->episodes));
    json_object_set_new(o, "invalid", json_integer(s->invalid));
    json_object_set_new(o, "failures", json_integer(s->failures));
    json_object_set_new(o, "failures_per_100", json_real(s->failures_per_100));
    json_object_set_new(o, "distinct_failures", json_integer(s->distinct));
    return o;
}

static json_t *episode_json(const scenario_template *t, const synth_episode *ep) {
    json_t *o = json_object();
    json_object_set_new(o, "method", json_string(method_name(ep->method)));
    json_object_set_new(o, "index", json_integer(ep->index));
    if (ep->method == SYNTH_CEM) json_object_set_new(o, "generation", json_integer(ep->generation));
    json_object_set_new(o, "values", synth_values_json(t, ep->values));
    if (!ep->valid) {
        json_object_set_new(o, "invalid", json_string(ep->failure));
        return o;
    }
    json_object_set_new(o, "score", json_real(ep->score));
    json_object_set_new(o, "passed", json_boolean(ep->passed));
    json_object_set_new(o, "end_reason", json_string(ep->end_reason));
    json_object_set_new(o, "steps", json_integer(ep->steps));
    if (!ep->passed) {
        json_object_set_new(o, "kind", json_string(agreement_outcome_name(ep->failure_kind)));
        json_object_set_new(o, "failure", json_string(ep->failure));
        json_object_set_new(o, "distinct", json_boolean(ep->distinct));
        if (ep->file[0]) json_object_set_new(o, "file", json_string(ep->file));
    }
    return o;
}

static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

/* DIR/failures holds this run's failures only: an older search's files
 * there would otherwise pass for this one's. */
/* A failure file that this search did not write. */
static int stale_failure(const char *name, void *ctx) {
    const synth_search_result *res = ctx;
    if (!has_suffix(name, ".pbtxt")) return 0;
    for (int k = 0; k < res->n_episodes; k++)
        if (res->episodes[k].file[0] && strcmp(res->episodes[k].file + strlen("failures/"), name) == 0) return 0;
    return 1;
}

int synth_search_write(const synth_search_config *cfg, synth_search_result *res, const char *dir, wm_error *err) {
    const scenario_template *t = cfg->t;
    char fdir[4096 + 16], path[4096 + 256];
    snprintf(fdir, sizeof fdir, "%s/failures", dir);
    if (dir_create(fdir, err)) return -1;
    for (int k = 0; k < res->n_episodes; k++) {
        const synth_episode *ep = &res->episodes[k];
        if (!ep->file[0]) continue;
        scenario sc;
        scenario_synthesis how = {.method = method_synthesis(ep->method), .index = ep->index, .seed = cfg->seed,
                                  .policy = cfg->policy, .score = ep->score, .failure = ep->failure};
        if (scenario_template_make(t, ep->values, &how, &sc, err)) return -1;
        snprintf(path, sizeof path, "%s/%s", dir, ep->file);
        int rc = scenario_write(&sc, path, err);
        scenario_free(&sc);
        if (rc) return -1;
    }
    if (dir_remove_stale(fdir, stale_failure, res, err)) return -1;

    json_t *root = json_object();
    json_object_set_new(root, "wmsim_version", json_string(WMSIM_VERSION));
    json_object_set_new(root, "template", synth_template_json(t));
    json_object_set_new(root, "parameters", synth_params_json(t));
    json_object_set_new(root, "policy", json_string(cfg->policy));
    json_object_set_new(root, "seed", json_integer((json_int_t)cfg->seed));
    json_object_set_new(root, "budget", json_integer(cfg->budget));
    json_object_set_new(root, "population", json_integer(res->population));
    json_object_set_new(root, "elite", json_integer(res->n_elite));
    json_object_set_new(root, "generations", json_integer(res->generations));
    json_object_set_new(root, "distinct_distance", json_real(cfg->distinct_distance));
    json_t *sum = json_object();
    json_object_set_new(sum, "cem", summary_json(&res->summary[SYNTH_CEM]));
    if (cfg->random_baseline) json_object_set_new(sum, "random", summary_json(&res->summary[SYNTH_RANDOM]));
    json_object_set_new(root, "summary", sum);
    json_t *files = json_array();
    for (int k = 0; k < res->n_episodes; k++) {
        const synth_episode *ep = &res->episodes[k];
        if (!ep->file[0]) continue;
        json_t *o = json_object();
        json_object_set_new(o, "file", json_string(ep->file));
        json_object_set_new(o, "method", json_string(method_name(ep->method)));
        json_object_set_new(o, "index", json_integer(ep->index));
        json_object_set_new(o, "kind", json_string(agreement_outcome_name(ep->failure_kind)));
        json_object_set_new(o, "score", json_real(ep->score));
        json_object_set_new(o, "failure", json_string(ep->failure));
        json_object_set_new(o, "values", synth_values_json(t, ep->values));
        json_array_append_new(files, o);
    }
    json_object_set_new(root, "failures", files);
    json_t *eps = json_array();
    for (int k = 0; k < res->n_episodes; k++) json_array_append_new(eps, episode_json(t, &res->episodes[k]));
    json_object_set_new(root, "episodes", eps);
    snprintf(path, sizeof path, "%s/search.json", dir);
    return file_write_json(path, root, FILE_JSON_REPORT, err);
}

void synth_search_print(FILE *f, const synth_search_config *cfg, const synth_search_result *res) {
    fprintf(f, "synth search %s with policy %s, seed %" PRIu64 ": %d episodes a method, %d generation%s of %d\n",
            cfg->t->id, cfg->policy, cfg->seed, cfg->budget, res->generations, res->generations == 1 ? "" : "s",
            res->population);
    fprintf(f, "%-8s %9s %9s %8s %9s %8s\n", "method", "episodes", "failures", "per 100", "distinct", "invalid");
    for (int m = 0; m < SYNTH_METHODS; m++) {
        if (m == SYNTH_RANDOM && !cfg->random_baseline) continue;
        const synth_method_summary *s = &res->summary[m];
        fprintf(f, "%-8s %9d %9d %8.1f %9d %8d\n", method_name(m), s->episodes, s->failures, s->failures_per_100,
                s->distinct, s->invalid);
    }
}
