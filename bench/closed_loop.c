/* bench/closed_loop — closed-loop episode steps per second with the camera
 * frames from the oracle renderer and from the world model, for several
 * policies, and where a step's time goes.
 *
 * Every configuration runs sim/episode.c's episode_run (no log) over the
 * same scenarios with each scenario's own seed, episodes capped at a
 * shorter duration so the world-model loop fits the bench's time. A step
 * is one policy answer plus one world step; its time splits, from
 * episode_result's timings, into
 *     feed    camera_feed_frame (the step's frame; step 0's frame is
 *             counted too): oracle mode renders it; world-model mode
 *             renders + encodes the W = F-1 context frames and generates
 *             (rollout) + decodes (tokenizer) every later one
 *     policy  the policy's act
 *     sim     sim_step and metrics_update
 *     other   the rest of the wall time: reset, range checks, the
 *             observer that counts generated frames
 *
 * Policies: "expert" (built in, privileged: it ignores the frames, which
 * are still made, so the feed's cost shows), the C example library
 * (lib:build/clients/libexample_policy.so, sees frames; `make clients`),
 * and "vla-tiny" (sees frames; needs models/vla-tiny.wmck). A policy that
 * cannot be created is skipped with its reason.
 *
 * Baseline in the same process: the oracle loop with the expert and no
 * camera feed (the pure sim); each configuration's ratio is its steps/s
 * over the baseline's.
 *
 * The oracle configurations repeat their episodes (after one untimed
 * round) until `oracle seconds` have passed; the world-model ones run one
 * episode per scenario (about 8 steps/s on the 2-core CPU). World-model
 * decoding is camera_feed's default: parallel (MaskGIT-style), 8 passes,
 * temperature 1, scene slots when the model has them.
 *
 * Each row ends with its steps (generated: frames the world model made),
 * how its episodes ended early (at-fault collision, goal reached: the cap
 * usually ends them first), and the CPU time other processes used while
 * it ran (/proc/stat busy time less this process's own); the whole run's
 * is printed last. The world model runs on every OpenMP thread, so any
 * other load slows its rows.
 *
 * Usage: closed_loop [episode cap s, default 10] [oracle seconds, default 2]
 * from the repository root (the model and scenario paths are relative). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "benchutil.h"
#include "core/check.h"
#include "scenarios/scenario.h"
#include "sim/episode.h"

#define N_SCENARIOS 2
#define MODEL_PATH "models/dynamics.wmck"
#define TOKENIZER_PATH "models/tokenizer.wmck"
#define LIB_POLICY_PATH "build/clients/libexample_policy.so"

static const char *const scenario_paths[N_SCENARIOS] = {"scenarios/examples/guard_stop_proceed.pbtxt",
                                                         "scenarios/examples/cut_in.pbtxt"};



/* What a configuration's timed episodes add up to. */
typedef struct {
    long steps, generated, episodes, collisions, goals;
    double wall_s, frames_s, policy_s, sim_s;
    double others_cpu_s; /* other processes' CPU time meanwhile; -1 unknown */
} tally;

static int count_generated(const episode_frame *f, void *ctx) {
    if (f->feed && camera_feed_generated(f->feed)) ++*(long *)ctx;
    return 0;
}

/* One episode of each scenario into t (when t is not NULL); feeds[i] may
 * be NULL (no camera feed). Exits on an I/O or feed failure. */
static void run_round(scenario *const *sc, camera_feed *const *feeds, policy *pol, tally *t) {
    for (int i = 0; i < N_SCENARIOS; i++) {
        long generated = 0;
        episode_config cfg = {.sc = sc[i], .seed = sc[i]->seed, .pol = pol, .feed = feeds[i],
                              .observe = feeds[i] ? count_generated : NULL, .observe_ctx = &generated};
        episode_result res;
        wm_error err;
        const double t0 = now_s();
        if (episode_run(&cfg, &res, &err)) fprintf(stderr, "closed_loop: %s\n", err.msg), exit(1);
        const double dt = now_s() - t0;
        if (!t) continue;
        t->wall_s += dt, t->frames_s += res.frames_s, t->policy_s += res.policy_s, t->sim_s += res.sim_s;
        t->steps += res.steps, t->generated += generated, t->episodes++;
        t->collisions += strcmp(res.end_reason, "collision") == 0, t->goals += strcmp(res.end_reason, "goal reached") == 0;
    }
}

static double baseline_rate; /* steps/s of the first configuration printed */

/* Steps/s of the oracle and world-model rows by policy, for the summary. */
#define MAX_POLICIES 3
static double rates[2][MAX_POLICIES];

static void print_row(const char *mode, const char *pol, const tally *t) {
    const double rate = t->steps / t->wall_s, ms = 1e3 / t->steps;
    if (baseline_rate == 0.0) baseline_rate = rate;
    const double other = t->wall_s - t->frames_s - t->policy_s - t->sim_s;
    char gen[32] = "", load[64] = "";
    if (t->generated) snprintf(gen, sizeof gen, " (%ld generated)", t->generated);
    if (t->others_cpu_s >= 0) snprintf(load, sizeof load, "; others %.1f CPU s in %.1f s", t->others_cpu_s, t->wall_s);
    printf("%-10s %-40s %11.1f %9.3g %9.4f %9.4f %9.4f %9.4f   %ld steps%s, %ld episodes (%ld collisions, %ld goals)%s\n",
           mode, pol, rate, rate / baseline_rate, t->frames_s * ms, t->policy_s * ms, t->sim_s * ms, other * ms,
           t->steps, gen, t->episodes, t->collisions, t->goals, load);
    fflush(stdout);
}

/* Runs policy `spec` with frames of `kind` (-1: no feed); oracle
 * configurations repeat rounds until min_s, world-model ones run one. */
static void run_config(scenario *const *sc, const char *spec, int kind, double min_s, double *rate) {
    const char *mode = kind == CAMERA_FEED_WORLDMODEL ? "worldmodel" : "oracle";
    char label[128];
    snprintf(label, sizeof label, "%s%s", spec, kind < 0 ? ", no feed (baseline)" : "");
    wm_error err;
    if (strncmp(spec, "lib:", 4) == 0 && access(spec + 4, R_OK) != 0) {
        printf("%-10s %-40s skipped: %s not found (build it with `make clients`)\n", mode, label, spec + 4);
        return;
    }
    policy pol;
    if (policy_create(spec, NULL, &pol, &err)) {
        printf("%-10s %-40s skipped: %s\n", mode, label, err.msg);
        return;
    }
    camera_feed *feeds[N_SCENARIOS] = {0};
    for (int i = 0; kind >= 0 && i < N_SCENARIOS; i++) {
        camera_feed_options o = camera_feed_options_default();
        o.kind = (camera_feed_kind)kind;
        o.cp = sc[i]->camera;
        o.model_path = MODEL_PATH, o.tokenizer_path = TOKENIZER_PATH;
        if (camera_feed_open(&feeds[i], &o, &err)) {
            printf("%-10s %-40s skipped: %s\n", mode, label, err.msg);
            for (int j = 0; j < i; j++) camera_feed_close(feeds[j]);
            pol.destroy(&pol);
            return;
        }
    }
    tally t = {0};
    if (kind != CAMERA_FEED_WORLDMODEL) run_round(sc, feeds, &pol, NULL); /* warm-up */
    const double busy0 = machine_busy_s(), own0 = own_cpu_s();
    do run_round(sc, feeds, &pol, &t);
    while (kind != CAMERA_FEED_WORLDMODEL && t.wall_s < min_s);
    const double busy1 = machine_busy_s(), others = busy1 - busy0 - (own_cpu_s() - own0);
    t.others_cpu_s = busy0 < 0 || busy1 < 0 ? -1.0 : others > 0 ? others : 0.0;
    print_row(mode, label, &t);
    if (rate) *rate = t.steps / t.wall_s;
    for (int i = 0; i < N_SCENARIOS; i++) camera_feed_close(feeds[i]);
    pol.destroy(&pol);
}

int main(int argc, char **argv) {
    const double cap_s = argc > 1 ? atof(argv[1]) : 10.0;
    const double oracle_s = argc > 2 ? atof(argv[2]) : 2.0;
    if (!(cap_s > 0) || !(oracle_s >= 0))
        return fprintf(stderr, "usage: closed_loop [episode cap s > 0, default 10] [oracle seconds, default 2]\n"), 2;
    const double busy0 = machine_busy_s(), wall0 = now_s(), own0 = own_cpu_s();

    char model[256];
    cpu_model(model, sizeof model);
    struct utsname u;
    uname(&u);
    printf("machine: %s, %s %s, %ld online cores, compiler %s; OpenMP %d threads\n", model, u.sysname, u.machine,
           sysconf(_SC_NPROCESSORS_ONLN), __VERSION__, omp_get_max_threads());

    scenario *sc[N_SCENARIOS];
    printf("scenarios (seed, authored duration):");
    for (int i = 0; i < N_SCENARIOS; i++) {
        wm_error err;
        sc[i] = CALLOC_CHECK(1, sizeof *sc[i]);
        if (scenario_load(scenario_paths[i], sc[i], &err)) return fprintf(stderr, "closed_loop: %s\n", err.msg), 1;
        printf("%s %s (seed %llu, %g s)", i ? "," : "", sc[i]->id, (unsigned long long)sc[i]->seed, sc[i]->duration);
        if (sc[i]->duration > cap_s) sc[i]->duration = cap_s;
    }
    printf("; every episode capped at %g s (%.0f steps) to keep the bench short; the scenario's own seed\n", cap_s,
           cap_s / SIM_DT);
    const rollout_params rp = camera_feed_options_default().rp;
    printf("worldmodel frames: %s + %s, %s decoding, %d passes, temperature %g; the first F-1 frames are oracle "
           "context\n",
           MODEL_PATH, TOKENIZER_PATH, rollout_mode_name(rp.mode), rp.steps, (double)rp.temperature);
    printf("oracle rows: rounds of both scenarios for >= %g s after one untimed round; worldmodel rows: one episode "
           "each\n\n", oracle_s);
    printf("%-10s %-40s %11s %9s %9s %9s %9s %9s\n", "frames", "policy", "steps/s", "ratio", "feed ms", "policy ms",
           "sim ms", "other ms");

    const char *lib_spec = "lib:" LIB_POLICY_PATH;
    const char *policies[MAX_POLICIES] = {"expert", lib_spec, "vla-tiny"};
    run_config(sc, "expert", -1, oracle_s, NULL);
    for (int k = 0; k < 2; k++)
        for (int p = 0; p < MAX_POLICIES; p++)
            run_config(sc, policies[p], k ? CAMERA_FEED_WORLDMODEL : CAMERA_FEED_ORACLE, oracle_s, &rates[k][p]);
    printf("worldmodel / oracle steps/s, same policy:");
    for (int p = 0, first = 1; p < MAX_POLICIES; p++)
        if (rates[0][p] > 0 && rates[1][p] > 0)
            printf("%s %s %.3g", first ? "" : ";", policies[p], rates[1][p] / rates[0][p]), first = 0;
    printf("\n");

    const double wall = now_s() - wall0, own = own_cpu_s() - own0, busy1 = machine_busy_s();
    if (busy0 >= 0 && busy1 >= 0) {
        const double others = busy1 - busy0 - own;
        printf("\nother load: other processes used %.1f CPU s during this %.1f s run (this process %.1f CPU s)\n",
               others > 0 ? others : 0.0, wall, own);
    }
    for (int i = 0; i < N_SCENARIOS; i++) scenario_free(sc[i]), free(sc[i]);
    return 0;
}
