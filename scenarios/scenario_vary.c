/* scenario_vary — the seeded randomisation behind training-clip variations:
 * the same situation with other speeds, spacings, guard timing, light and
 * roadside. Changes stay small enough that the scenario still tests what it
 * was written to test: the expert passes them (tested on the examples). */
#include <math.h>

#include "core/rng.h"
#include "scenarios/scenario.h"

/* A shift of vehicle i along s that keeps it clear of the ego and of the
 * other vehicles in its lane, or 0. */
static double safe_shift(const scenario *sc, int i, double shift) {
    const scenario_vehicle *v = &sc->actors[i].u.vehicle;
    double s = v->s + shift, clear = 2.0;
    if (v->lane == sc->ego.lane && fabs(s - sc->ego.s) < 0.5 * (v->length + sc->ego.vehicle.length) + clear) return 0;
    for (int j = 0; j < sc->n_actors; j++) {
        if (j == i || sc->actors[j].kind != ACTOR_VEHICLE) continue;
        const scenario_vehicle *o = &sc->actors[j].u.vehicle;
        if (o->lane == v->lane && fabs(s - o->s) < 0.5 * (v->length + o->length) + clear) return 0;
    }
    return s < 0 ? 0 : shift;
}

static void scale_trigger(scenario_trigger *t, double f) {
    if (t->kind != TRIGGER_EGO_STOPPED) t->value *= f; /* stop waits keep their meaning */
}

void scenario_vary(scenario *sc, int variation) {
    if (variation == 0) return; /* variation 0 is the scenario as written */
    wm_rng r = rng_fork(sc->seed ^ sc->hash, (uint64_t)variation);
    sc->seed = rng_u64(&r);
    /* Slower traffic must not turn a pass into "did not reach the goal". */
    sc->duration = fmin(600.0, 1.2 * sc->duration);
    double u = rng_uniform(&r);
    sc->lighting = u < 0.5 ? LIGHTING_DAY : u < 0.75 ? LIGHTING_DUSK : LIGHTING_NIGHT;
    for (int i = 0; i < sc->n_actors; i++) {
        scenario_actor *a = &sc->actors[i];
        double f = rng_range(&r, 0.85, 1.15), shift = rng_range(&r, -3.0, 3.0);
        switch (a->kind) {
        case ACTOR_VEHICLE: {
            scenario_vehicle *v = &a->u.vehicle;
            v->speed *= f, v->cruise_speed *= f, v->desired_speed *= f;
            v->s += safe_shift(sc, i, shift);
            scale_trigger(&v->trigger, f);
            break;
        }
        case ACTOR_PEDESTRIAN:
            a->u.pedestrian.speed *= f;
            scale_trigger(&a->u.pedestrian.start, f);
            break;
        case ACTOR_GUARD: {
            /* Stretching the whole timeline keeps its segments contiguous. */
            scenario_guard *g = &a->u.guard;
            for (int k = 0; k < g->n_timeline; k++) {
                g->timeline[k].start *= f;
                if (g->timeline[k].duration > 0) g->timeline[k].duration *= f;
            }
            for (int k = 0; k < g->n_triggers; k++) g->triggers[k].delay *= f, scale_trigger(&g->triggers[k].when, f);
            break;
        }
        case ACTOR_SIGN:
        case ACTOR_OBSTACLE: break;
        }
    }
}
