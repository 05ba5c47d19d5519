/* bench/render — oracle camera frames per second on one core for a busy
 * scene (10 vehicles, 2 guards, cones, signs) at 128x64 and 512x256.
 * Baseline in the same process: the sky and ray-cast ground alone (the same
 * scene with its actors removed), so the ratio shows what the bodies cost.
 * The bar (DESIGN.md §5) is 5,000 frames/s per core at 128x64. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"
#include "core/check.h"
#include "render/render.h"


static double frames_per_s(const sim_world *w, int width, int height, int supersample, double seconds) {
    camera_params cp = scenario_camera_default();
    cp.width = width, cp.height = height;
    renderer r;
    wm_error err;
    if (renderer_init(&r, &cp, supersample, &err)) fprintf(stderr, "%s\n", err.msg), exit(1);
    long frames = 0;
    double t0 = now_s(), dt;
    do {
        render_frame(&r, w);
        frames++;
    } while ((dt = now_s() - t0) < seconds);
    renderer_free(&r);
    return frames / dt;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "bench/render_busy.pbtxt";
    double seconds = argc > 2 ? atof(argv[2]) : 1.5;
    wm_error err;
    scenario *sc = CALLOC_CHECK(1, sizeof *sc);
    if (scenario_load(path, sc, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    sim_world *w = MALLOC_CHECK(sizeof *w);
    sim_world_init(w, sc, sc->seed);
    char model[256];
    cpu_model(model, sizeof model);
    printf("machine: %s, compiler %s, 1 thread; scenario %s (%d actors)\n", model, __VERSION__, sc->id, sc->n_actors);
    const int sizes[2][2] = {{128, 64}, {512, 256}};
    for (int k = 0; k < 2; k++) {
        int width = sizes[k][0], height = sizes[k][1];
        double busy = frames_per_s(w, width, height, 1, seconds);
        double busy_ss = frames_per_s(w, width, height, 2, seconds);
        int n = w->n_actors;
        w->n_actors = 0; /* baseline: ground and sky only */
        double ground = frames_per_s(w, width, height, 1, seconds);
        w->n_actors = n;
        printf("%4dx%-4d busy scene %8.0f frames/s, 2x2 supersampled %8.0f frames/s (ratio %.2f); "
               "ground+sky only (baseline) %8.0f frames/s (ratio busy/baseline %.2f)\n",
               width, height, busy, busy_ss, busy_ss / busy, ground, busy / ground);
        if (k == 0)
            printf("bar 5,000 frames/s at 128x64: %s (%.2fx)\n", busy >= 5000 ? "met" : "NOT met", busy / 5000);
    }
    free(w);
    scenario_free(sc);
    free(sc);
    return 0;
}
