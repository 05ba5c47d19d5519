/* captions.c — events read off the symbolic world, told once each.
 *
 * The tracker remembers what it has said per actor and about the ego, and
 * compares each frame's world with that: an event is a change (a gesture, a
 * trigger, brake lights, a stop) or an actor's first appearance in the
 * camera's view. Small hysteresis margins keep a value hovering at a
 * threshold from being news every frame. */
#include "datasets/captions.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CAPTION_RANGE 100.0        /* m ahead: what the camera could show */
#define EGO_MOVING_SPEED 0.5       /* m/s: "moves off" (stops below SIM_STOPPED_SPEED) */
#define ACTOR_STOPPED_SPEED 0.1    /* m/s */
#define ACTOR_MOVING_SPEED 0.5     /* m/s */
#define BRAKE_QUIET_S 2.0          /* s without brake lights before braking is news again */
#define LANE_ENTERED_MARGIN 0.3    /* m inside the new lane's edges before a change counts */

typedef struct {
    char (*lines)[CLIP_CAPTION_MAX];
    int n;
} caption_out;

static void say(caption_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(caption_out *o, const char *fmt, ...) {
    if (o->n >= CAPTIONS_MAX_PER_FRAME) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->lines[o->n++], CLIP_CAPTION_MAX, fmt, ap);
    va_end(ap);
}

/* "STOP", "TURN LEFT": the gesture as a person would write it. */
static const char *gesture_words(gesture g, char buf[32]) {
    snprintf(buf, 32, "%s", gesture_name(g));
    for (char *p = buf; *p; p++)
        if (*p == '_') *p = ' ';
    return buf;
}

/* "25 m ahead", or "alongside" for a body level with the ego's front. */
static const char *where(double ahead, char buf[32]) {
    if (ahead < 0.5) return "alongside";
    snprintf(buf, 32, "%ld m ahead", lround(ahead));
    return buf;
}

/* Lanes by position across the road, lane 0 the rightmost. */
static const char *lane_name(const road *r, int lane) {
    if (lane < 0) return "the roadside";
    if (r->n_lanes == 1) return "the lane";
    if (lane == 0) return "the right lane";
    if (lane == r->n_lanes - 1) return "the left lane";
    if (r->n_lanes == 3) return "the middle lane";
    return lane == 1 ? "the second lane from the right" : "the second lane from the left";
}

static long kmh(double mps) { return lround(mps * 3.6); }

static int ego_lane(const sim_world *w) { return road_lane_at(&w->road, w->ego_d); }

static int on_carriageway(const sim_world *w, double d) {
    return d >= 0 && d <= w->road.n_lanes * w->road.lane_width;
}

void captions_init(caption_tracker *ct, const sim_world *w) {
    memset(ct, 0, sizeof *ct);
    ct->n_actors = w->n_actors;
    for (int i = 0; i < w->n_actors; i++) {
        const sim_actor *a = &w->actors[i];
        caption_actor *c = &ct->actors[i];
        c->gesture = a->gesture;
        c->triggered = a->triggered;
        c->braking = a->braking;
        c->brake_off_t = -INFINITY;
        c->stopped = a->speed < ACTOR_STOPPED_SPEED;
        c->on_road = on_carriageway(w, a->d);
    }
    ct->ego_stopped = w->ego.speed < SIM_STOPPED_SPEED;
    ct->ego_lane = ego_lane(w);
    ct->speed_limit = sim_speed_limit_at(w, sim_ego_front_s(w));
}

static void vehicle_events(caption_tracker *ct, const sim_world *w, int i, int in_view, caption_out *o) {
    const sim_actor *a = &w->actors[i];
    const scenario_vehicle *v = &w->sc->actors[i].u.vehicle;
    caption_actor *c = &ct->actors[i];
    double ahead = a->s - sim_ego_front_s(w);
    int near = ahead > 0 && ahead <= CAPTION_RANGE;
    int lane = road_lane_at(&w->road, a->d), mine = lane >= 0 && lane == ego_lane(w);
    char at[32];
    if (a->triggered && !c->triggered && ahead > -10 && ahead <= CAPTION_RANGE) {
        if (v->behavior == VEHICLE_CUT_IN)
            say(o, "a car cuts in from the %s", a->target_d < a->start_d ? "left" : "right");
        else if (v->behavior == VEHICLE_HARD_BRAKE) {
            if (mine && ahead > 0) say(o, "the car ahead brakes hard");
            else say(o, "a car %s brakes hard", where(ahead, at));
        }
    }
    c->triggered = a->triggered;
    /* A hard brake is told by its trigger; brake lights tell the others. */
    int hard = v->behavior == VEHICLE_HARD_BRAKE;
    if (a->braking && !c->braking && !hard && c->seen && near && w->t - c->brake_off_t >= BRAKE_QUIET_S) {
        if (mine) say(o, "the car ahead brakes");
        else say(o, "a car %s brakes", where(ahead, at));
    }
    if (!a->braking && c->braking) c->brake_off_t = w->t;
    c->braking = a->braking;
    if (!c->stopped && a->speed < ACTOR_STOPPED_SPEED) {
        c->stopped = 1;
        if (c->seen && near) {
            if (mine) say(o, "the car ahead stops");
            else say(o, "a car %s stops", where(ahead, at));
        }
    } else if (c->stopped && a->speed > ACTOR_MOVING_SPEED) {
        c->stopped = 0;
        if (c->seen && near) {
            if (mine) say(o, "the car ahead moves off");
            else say(o, "a car %s moves off", where(ahead, at));
        }
    }
    if (c->seen || !in_view) return;
    c->seen = 1;
    const char *in = mine ? "the ego's lane" : lane_name(&w->road, lane);
    if (v->behavior == VEHICLE_STALLED) {
        if (mine) say(o, "a stalled car blocks the lane ahead");
        else say(o, "a stalled car stands in %s %s", in, where(ahead, at));
    } else if (a->dir < 0) {
        say(o, "an oncoming car %s", where(ahead, at));
    } else {
        say(o, "a car %s %s in %s", a->speed < ACTOR_STOPPED_SPEED ? "stands" : "drives", where(ahead, at), in);
    }
}

static void guard_events(caption_tracker *ct, const sim_world *w, int i, int in_view, caption_out *o) {
    const sim_actor *a = &w->actors[i];
    caption_actor *c = &ct->actors[i];
    double ahead = a->s - sim_ego_front_s(w);
    char g[32], at[32];
    /* A change the camera could not show is absorbed: the announcement
     * gives the gesture in force when the guard comes into view. */
    if (a->gesture != c->gesture && c->seen && ahead > -2.0) {
        if (a->gesture == GESTURE_NONE) say(o, "the guard lowers the arm");
        else say(o, "the guard now signals %s", gesture_words(a->gesture, g));
    }
    c->gesture = a->gesture;
    if (c->seen || !in_view) return;
    c->seen = 1;
    if (a->gesture == GESTURE_NONE) say(o, "a traffic guard stands %s", where(ahead, at));
    else say(o, "a traffic guard %s signals %s", where(ahead, at), gesture_words(a->gesture, g));
}

static void pedestrian_events(caption_tracker *ct, const sim_world *w, int i, int in_view, caption_out *o) {
    const sim_actor *a = &w->actors[i];
    caption_actor *c = &ct->actors[i];
    double ahead = a->s - sim_ego_front_s(w);
    int on = on_carriageway(w, a->d);
    char at[32];
    if (on && !c->on_road && ahead > 0 && ahead <= CAPTION_RANGE) {
        say(o, "a pedestrian steps onto the road %s", where(ahead, at));
        c->seen = 1;
    } else if (!on && c->on_road && c->seen && ahead > -5.0) {
        say(o, "the pedestrian leaves the road");
    }
    c->on_road = on;
    c->triggered = a->triggered;
    if (c->seen || !in_view) return;
    c->seen = 1;
    if (on) say(o, "a pedestrian is on the road %s", where(ahead, at));
    else if (a->triggered && !a->finished) say(o, "a pedestrian walks by the road %s", where(ahead, at));
    else say(o, "a pedestrian waits by the road %s", where(ahead, at));
}

static void sign_events(caption_tracker *ct, const sim_world *w, int i, int in_view, caption_out *o) {
    const scenario_sign *s = &w->sc->actors[i].u.sign;
    caption_actor *c = &ct->actors[i];
    if (c->seen || !in_view) return;
    c->seen = 1;
    char at[32];
    double ahead = w->actors[i].s - sim_ego_front_s(w);
    if (s->kind == SIGN_SPEED_LIMIT) say(o, "a sign shows a %ld km/h limit", kmh(s->speed_limit));
    else if (s->kind == SIGN_STOP) say(o, "a stop sign stands %s", where(ahead, at));
    else if (s->text[0]) say(o, "a sign reads \"%.200s\"", s->text);
    else say(o, "a sign stands %s", where(ahead, at));
}

static void obstacle_events(caption_tracker *ct, const sim_world *w, int i, int in_view, caption_out *o) {
    const sim_actor *a = &w->actors[i];
    caption_actor *c = &ct->actors[i];
    if (c->seen || !in_view) return;
    c->seen = 1;
    const char *lane = lane_name(&w->road, road_lane_at(&w->road, a->d));
    if (w->sc->actors[i].u.obstacle.kind == OBSTACLE_BARRIER) say(o, "a barrier closes %s ahead", lane);
    else say(o, "cones close %s ahead", lane);
}

static void ego_events(caption_tracker *ct, const sim_world *w, caption_out *o) {
    if (!ct->ego_stopped && w->ego.speed < SIM_STOPPED_SPEED) {
        ct->ego_stopped = 1;
        say(o, "the ego stops");
    } else if (ct->ego_stopped && w->ego.speed > EGO_MOVING_SPEED) {
        ct->ego_stopped = 0;
        say(o, "the ego moves off");
    }
    int lane = ego_lane(w);
    if (lane >= 0 && lane != ct->ego_lane &&
        fabs(w->ego_d - road_lane_center(&w->road, lane)) < 0.5 * w->road.lane_width - LANE_ENTERED_MARGIN) {
        if (ct->ego_lane >= 0) {
            if (w->road.lane_dirs[lane] == LANE_ONCOMING) say(o, "the ego moves into the oncoming lane");
            else say(o, "the ego changes to %s", lane_name(&w->road, lane));
        }
        ct->ego_lane = lane;
    }
    double limit = sim_speed_limit_at(w, sim_ego_front_s(w));
    if (kmh(limit) != kmh(ct->speed_limit))
        say(o, "the speed limit %s to %ld km/h", limit < ct->speed_limit ? "drops" : "rises", kmh(limit));
    ct->speed_limit = limit;
}

int captions_update(caption_tracker *ct, const sim_world *w, char lines[][CLIP_CAPTION_MAX]) {
    caption_out o = {.lines = lines};
    const camera_params *cp = &w->sc->camera;
    for (int i = 0; i < w->n_actors && i < ct->n_actors; i++) {
        int in_view = clip_actor_in_view(w, cp, i, NULL);
        switch (w->actors[i].kind) {
        case ACTOR_VEHICLE: vehicle_events(ct, w, i, in_view, &o); break;
        case ACTOR_GUARD: guard_events(ct, w, i, in_view, &o); break;
        case ACTOR_PEDESTRIAN: pedestrian_events(ct, w, i, in_view, &o); break;
        case ACTOR_SIGN: sign_events(ct, w, i, in_view, &o); break;
        case ACTOR_OBSTACLE: obstacle_events(ct, w, i, in_view, &o); break;
        }
    }
    ego_events(ct, w, &o);
    return o.n;
}
