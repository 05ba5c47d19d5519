/* captions.h — short English captions of what happens in an episode, read
 * off the symbolic world, for clips' captions.jsonl.
 *
 * Usage:
 *     caption_tracker ct;
 *     captions_init(&ct, world);                 // the world at the clip's frame 0
 *     per frame, frame 0 included, after the world has stepped to it:
 *         char lines[CAPTIONS_MAX_PER_FRAME][CLIP_CAPTION_MAX];
 *         int n = captions_update(&ct, world, lines);
 *         for (int i = 0; i < n; i++) clip_writer_caption(cw, world->t, lines[i], &err);
 *
 * Each event is captioned once, in the frame it happens, never again while
 * it lasts:
 *     an actor first in the camera's view (clip_actor_in_view, through the
 *     scenario's camera):
 *         "a traffic guard 25 m ahead signals STOP"
 *         "a car drives 40 m ahead in the ego's lane", "an oncoming car 80 m ahead"
 *         "a stalled car blocks the lane ahead"
 *         "a pedestrian waits by the road 60 m ahead"
 *         "cones close the right lane ahead", "a barrier closes the right lane ahead"
 *         "a sign reads "USE NEXT ENTRANCE"", "a sign shows a 30 km/h limit", "a stop sign stands ahead"
 *     changes, for actors within 100 m ahead (guards: once announced):
 *         "the guard now signals PROCEED"
 *         "a car cuts in from the left", "the car ahead brakes hard",
 *         "the car ahead brakes", "the car ahead stops", "the car ahead moves off"
 *         "a pedestrian steps onto the road 20 m ahead", "the pedestrian leaves the road"
 *     the ego:
 *         "the ego stops", "the ego moves off", "the ego changes to the left lane",
 *         "the ego moves into the oncoming lane", "the speed limit drops to 30 km/h"
 * Distances are from the ego's front bumper along the road, in whole metres.
 * Lanes are named by position: "the right lane" (lane 0), "the left lane",
 * "the middle lane", "the ego's lane". Within a frame captions come in
 * scenario actor order, then the ego's; more than CAPTIONS_MAX_PER_FRAME in
 * one frame are dropped. The same episode gives the same captions. */
#ifndef WMSIM_CAPTIONS_H
#define WMSIM_CAPTIONS_H

#include "datasets/clip.h"
#include "sim/world.h"

#define CAPTIONS_MAX_PER_FRAME 8

/* What has been said about one actor. */
typedef struct {
    int seen;          /* announced: was in view once */
    gesture gesture;   /* guards: the gesture last captioned or absorbed */
    int triggered;     /* behaviour trigger (cut-in, hard brake, pedestrian start) */
    int braking;       /* vehicles: brake lights as last seen */
    double brake_off_t; /* when they last went off: flicker is not news */
    int stopped;       /* vehicles: standing (after moving) */
    int on_road;       /* pedestrians: inside the carriageway */
} caption_actor;

typedef struct {
    caption_actor actors[SCENARIO_MAX_ACTORS];
    int n_actors;
    int ego_stopped;    /* said "stops" (or started at rest) and not yet "moves off" */
    int ego_lane;       /* the lane last captioned, -1 outside all lanes */
    double speed_limit; /* m/s, in force at the ego's front */
} caption_tracker;

/* The state at frame 0 is the baseline: nothing is news yet except what is
 * in view, which the first update announces. */
void captions_init(caption_tracker *ct, const sim_world *w);

/* The captions of this frame into lines; returns how many (0..CAPTIONS_MAX_PER_FRAME). */
int captions_update(caption_tracker *ct, const sim_world *w, char lines[][CLIP_CAPTION_MAX]);

#endif
