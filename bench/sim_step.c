/* bench/sim_step — closed-loop sim steps per second on one core: the ego
 * driven by the expert policy through ten actors, metrics on, no rendering,
 * no log. Baseline in the same process: the world step alone under a fixed
 * action (no policy, no metrics), so the ratio shows what policy + scoring
 * cost. The bar (DESIGN.md §5) is 1,000,000 steps/s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "benchutil.h"
#include "core/check.h"
#include "scenarios/scenario.h"
#include "sim/episode.h"


static void print_machine(void) {
    char model[256];
    cpu_model(model, sizeof model);
    struct utsname u;
    uname(&u);
    printf("machine: %s, %s %s, compiler %s, 1 thread\n", model, u.sysname, u.machine, __VERSION__);
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "bench/sim_step_10_actors.pbtxt";
    double min_seconds = argc > 2 ? atof(argv[2]) : 2.0;
    wm_error err;
    scenario *sc = CALLOC_CHECK(1, sizeof *sc);
    if (scenario_load(path, sc, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    print_machine();
    printf("scenario: %s (%d actors)\n", sc->id, sc->n_actors);

    /* Baseline: world step only. */
    sim_world *w = MALLOC_CHECK(sizeof *w);
    action fixed = {.accel = 0.2, .brake = 0, .steer = 0};
    long base_steps = 0;
    double t0 = now_s(), base_s;
    do {
        sim_world_init(w, sc, sc->seed);
        for (int i = 0; i < 600; i++) sim_step(w, &fixed);
        base_steps += 600;
    } while ((base_s = now_s() - t0) < min_seconds);

    /* The product path: expert policy + metrics + world, via episode_run. */
    long steps = 0, episodes = 0;
    int passed = 0;
    t0 = now_s();
    double full_s;
    do {
        policy pol;
        policy_create("expert", NULL, &pol, &err);
        episode_config cfg = {.sc = sc, .seed = sc->seed + (uint64_t)episodes, .pol = &pol};
        episode_result res;
        if (episode_run(&cfg, &res, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
        pol.destroy(&pol);
        steps += res.steps, episodes++, passed += res.m.passed;
    } while ((full_s = now_s() - t0) < min_seconds);

    double base_rate = base_steps / base_s, full_rate = steps / full_s;
    printf("world step only (baseline):    %12.0f steps/s  (%ld steps)\n", base_rate, base_steps);
    printf("expert + metrics + world:      %12.0f steps/s  (%ld steps, %ld episodes, %d passed)\n", full_rate, steps,
           episodes, passed);
    printf("ratio full/baseline: %.2f; bar 1,000,000 steps/s: %s (%.2fx)\n", full_rate / base_rate,
           full_rate >= 1e6 ? "met" : "NOT met", full_rate / 1e6);
    free(w);
    scenario_free(sc);
    free(sc);
    return 0;
}
