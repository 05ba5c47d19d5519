/* world.h — the symbolic world state and its 0.1 s step: the ego, actors
 * moving by their behaviours, traffic guards changing gesture by timeline and
 * trigger. This state, never pixels, is what scoring judges.
 *
 * Usage:
 *     sim_world *w = MALLOC_CHECK(sizeof *w);
 *     sim_world_init(w, &sc, seed);
 *     while (!done) {
 *         action cmd = ...;                  // range-checked by the caller
 *         sim_step(w, &cmd);
 *         for (int i = 0; i < w->n_events; i++) puts(w->events[i]);
 *     }
 *
 * Dimensions: positions in m, speeds in m/s, angles in rad; (s, d) are road
 * coordinates (see scenario.proto), (x, y, yaw) world coordinates. */
#ifndef WMSIM_WORLD_H
#define WMSIM_WORLD_H

#include "core/rng.h"
#include "scenarios/scenario.h"
#include "sim/road.h"
#include "sim/vehicle.h"

#define SIM_DT 0.1
#define SIM_SUBSTEPS 2
#define SIM_MAX_EVENTS 8
#define SIM_EVENT_LEN 160
/* Ego speed below which it counts as stopped (triggers, guard compliance). */
#define SIM_STOPPED_SPEED 0.1

typedef struct {
    actor_kind kind;
    int dynamic;            /* moves or changes state: logged every step */
    int collidable;         /* has a body on the road */
    double s, d;            /* road coordinates of the body centre */
    double speed;           /* >= 0, along the lane (vehicles) or the path (pedestrians) */
    int dir;                /* vehicles: +1 driving towards +s, -1 in an ONCOMING lane */
    double d_rate;          /* m/s lateral, vehicles changing lane */
    double x, y, yaw;       /* world pose of the body centre */
    double length, width;   /* body box; obstacles: the envelope of the row */
    int braking;            /* brake lights (vehicles) */
    int triggered;          /* behaviour trigger fired (cut-in, hard brake, pedestrian start) */
    double trigger_time;    /* when it fired */
    double start_d, target_d; /* cut-in lateral move */
    double cruise_speed;    /* after the seed's perturbation */
    int path_leg;           /* pedestrians: walking from path point leg to leg+1 */
    int finished;           /* pedestrians: reached the last path point */
    /* guards */
    gesture gesture;
    unsigned triggers_fired;           /* bit j: triggers[j] has fired */
    double switch_time[SCENARIO_MAX_TRIGGERS]; /* fire time + delay */
    int override_trigger;              /* index of the trigger in force, -1: timeline */
    double gesture_since;              /* time the current gesture started */
    double anim_phase;                 /* seeded, for renderers */
} sim_actor;

typedef struct {
    const scenario *sc;
    road road;
    vehicle_params ego_params;
    vehicle_state ego;
    double ego_s, ego_d;    /* road coordinates of the ego body centre */
    int ego_hint;           /* road_project segment hint */
    double ego_stopped_time; /* continuous time with speed < SIM_STOPPED_SPEED */
    sim_actor actors[SCENARIO_MAX_ACTORS];
    int n_actors;
    /* SPEED_LIMIT signs sorted by s: looked up every step by policies and metrics. */
    double limit_s[SCENARIO_MAX_ACTORS], limit_v[SCENARIO_MAX_ACTORS];
    int n_limits;
    int step;
    double t;
    char events[SIM_MAX_EVENTS][SIM_EVENT_LEN];
    int n_events;
} sim_world;

void sim_world_init(sim_world *w, const scenario *sc, uint64_t seed);

/* Advances the world by SIM_DT under the ego command cmd (already within the
 * ego's limits). Events of this step are in w->events. */
void sim_step(sim_world *w, const action *cmd);

/* Ego body front along s: what stop lines and triggers measure. */
double sim_ego_front_s(const sim_world *w);

/* Speed limit in force at s (the road's, lowered by SPEED_LIMIT signs passed). */
double sim_speed_limit_at(const sim_world *w, double s);

/* Oriented-box overlap (separating axis test). */
int sim_boxes_overlap(double ax, double ay, double ayaw, double alen, double awid,
                      double bx, double by, double byaw, double blen, double bwid);

#endif
