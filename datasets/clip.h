/* clip.h — the training clip: one folder per clip, the unit wmsim generates
 * (synthetic, from scenarios), imports (real dashcam drives) and trains on.
 * The format is specified in datasets/README.md; this header is its C side.
 *
 * A clip folder, every file written atomically, meta.json last:
 *     video.mp4       H.264, for people
 *     frames.mkv      FFV1, lossless RGB: the exact pixels training reads
 *     states.jsonl    one line per frame (clip_state)
 *     captions.jsonl  time-stamped captions of events (may be empty)
 *     meta.json       clip_meta; its presence marks the clip complete
 *
 * Writing (generation and import):
 *     clip_writer *cw;
 *     if (clip_writer_open(&cw, "out/clips/x_0001", &meta, &err)) ...
 *     per frame:  clip_writer_add(cw, &frame_rgb, &state, &err);
 *     per event:  clip_writer_caption(cw, t, "a traffic guard 25 m ahead signals STOP", &err);
 *     clip_writer_close(cw, &err);     // or clip_writer_abort(cw): the folder is removed
 * Captions come from the tracker in datasets/captions.h.
 *
 * Checking and summing up:
 *     if (clip_check("out/clips/x_0001", &err)) ...   // "DIR/states.jsonl: line 12: ..."
 *     clip_stats("out/clips", stdout, &err);
 */
#ifndef WMSIM_CLIP_H
#define WMSIM_CLIP_H

#include <stdint.h>
#include <stdio.h>

#include "actions/action.h"
#include "core/error.h"
#include "render/camera.h"
#include "render/image.h"
#include "sim/world.h"

#define CLIP_FORMAT_VERSION 1
#define CLIP_FPS 10
#define CLIP_MAX_ACTORS SCENARIO_MAX_ACTORS
#define CLIP_CAPTION_MAX 256

#define CLIP_FILE_VIDEO "video.mp4"
#define CLIP_FILE_FRAMES "frames.mkv"
#define CLIP_FILE_STATES "states.jsonl"
#define CLIP_FILE_CAPTIONS "captions.jsonl"
#define CLIP_FILE_META "meta.json"

typedef enum { CLIP_SOURCE_SYNTHETIC, CLIP_SOURCE_DASHCAM, CLIP_SOURCE_GENERATED } clip_source;

typedef struct {
    int format_version;           /* CLIP_FORMAT_VERSION when written */
    clip_source source;           /* synthetic (oracle render), dashcam (import), generated (world model) */
    char scenario_id[SCENARIO_ID_MAX]; /* empty for dashcam clips */
    uint64_t scenario_hash;       /* FNV-1a 64 of the scenario's binary encoding; 0 for dashcam */
    uint64_t seed;                /* episode seed */
    int variation;                /* index within its scenario's variations */
    int fps;                      /* CLIP_FPS */
    int width, height, frames;    /* frames: filled in by the writer */
    scenario_camera camera;       /* intrinsics follow from it: fx = width/2 / tan(hfov/2) */
    char policy[64];              /* "expert", "cruise", ...; "dashcam" for imports */
    int explore;                  /* actions were perturbed for coverage */
    char source_file[256];        /* imports: the video it came from */
} clip_meta;

/* An actor seen by the camera, in the ego frame at the rear axle: x
 * forward, y left (m); heading relative to the ego's (rad). */
typedef struct {
    char id[SCENARIO_ID_MAX];
    actor_kind kind;
    double x, y, heading, speed;
    int braking;     /* vehicles */
    gesture gesture; /* guards */
} clip_actor;

/* One line of states.jsonl: the ego (world frame) at a frame, and the action
 * applied in the 1/fps seconds after it (absent on a clip's last frame). */
typedef struct {
    int frame;
    double t;                          /* s from the clip's start */
    double x, y, yaw, speed, yaw_rate; /* m, rad, m/s, rad/s */
    double accel;                      /* m/s², longitudinal, + speeding up */
    int has_action;
    action action;                     /* m/s², m/s², rad (actions/action.h) */
    int n_actors;
    clip_actor actors[CLIP_MAX_ACTORS];
} clip_state;

const char *clip_source_name(clip_source s); /* "synthetic", "dashcam", "generated" */

/* The ego and the actors in cp's field of view within 100 m, in scenario
 * order; t = frame / CLIP_FPS. The action is left unset (has_action 0): the
 * writer learns it from the next frame. */
void clip_state_from_world(const sim_world *w, const camera_params *cp, int frame, clip_state *st);

/* Whether actor i of w is in view as clip_state_from_world decides it: some
 * part of its body (a circle of half its diagonal) lies in front of the
 * lens, within 100 m of depth and inside the horizontal field of view. Fills
 * *out (may be NULL) when it is. Captions use it to announce what the camera
 * shows. */
int clip_actor_in_view(const sim_world *w, const camera_params *cp, int i, clip_actor *out);

/* One JSON object, no newline; *json is malloc'ed. And back, with errors
 * naming the field: "frame: missing", "actors[2].kind: unknown 'tank'". */
char *clip_state_to_json(const clip_state *st);
int clip_state_from_json(const char *line, clip_state *st, wm_error *err);
/* The `frames` states of clip folder dir (meta.json's count) from its
 * states.jsonl, line i holding frame i: *states (frames) malloc'ed. Errors
 * name the file and line: "DIR/states.jsonl: line 3: frame 5, expected 2",
 * "...: line 3: <clip_state_from_json's>", "...: more than the 8 lines
 * meta.json's frames say", "...: 6 lines, but meta.json says 8 frames". */
int clip_states_read(const char *dir, int frames, clip_state **states, wm_error *err);
char *clip_meta_to_json(const clip_meta *m);
/* Refuses a format_version newer than CLIP_FORMAT_VERSION: "format_version
 * 7 is newer than this wmsim reads (1)". */
int clip_meta_from_json(const char *text, clip_meta *m, wm_error *err);

/* One line of captions.jsonl: text describing what happens at frame
 * (= round(t * fps)). */
typedef struct {
    double t; /* s from the clip's start */
    int frame;
    char text[CLIP_CAPTION_MAX];
} clip_caption;

char *clip_caption_to_json(const clip_caption *c);
int clip_caption_from_json(const char *line, clip_caption *c, wm_error *err);

typedef struct clip_writer clip_writer;

/* Creates dir (and parents) and starts its files; dir must not hold a
 * complete clip already. meta->width/height give the frame size. */
int clip_writer_open(clip_writer **out, const char *dir, const clip_meta *meta, wm_error *err);
/* Frame i with its state (st->frame must be i, st->t i / fps); st->action
 * is ignored (the next frame's command fills it in): pass the action that
 * led to this frame as led_by (NULL for the first frame, ignored there). */
int clip_writer_add(clip_writer *cw, const image *frame, const clip_state *st, const action *led_by, wm_error *err);
/* A caption at time t (s, not before the previous caption), for the frame
 * nearest t, which must have been added already. A t within 1 us of that
 * frame's time is written as the frame's time, frame / fps. */
int clip_writer_caption(clip_writer *cw, double t, const char *text, wm_error *err);
/* Finishes every file, then writes meta.json: the clip is complete. Frees
 * cw; on failure removes what it wrote, so the clip is complete or absent. */
int clip_writer_close(clip_writer *cw, wm_error *err);
/* Removes everything the writer created (the folder too, if it created it
 * and nothing else is in it) and frees cw (NULL is fine). */
void clip_writer_abort(clip_writer *cw);

/* Every clip folder under root (root itself if it is one), complete or
 * not, searched to CLIP_TREE_MAX_DEPTH levels, in sorted order so that
 * listings and clip numbering do not depend on the file system. A clip
 * folder holds one of the clip files (or its ".tmp." leftover) and is a
 * leaf: nothing under it is searched. */
#define CLIP_TREE_MAX_DEPTH 16
typedef struct {
    char **dirs;
    int n, cap;
} clip_folder_list;
int clip_folders_find(const char *root, clip_folder_list *out, wm_error *err);
void clip_folders_add(clip_folder_list *l, const char *dir); /* appends a copy */
void clip_folders_free(clip_folder_list *l);

/* Whether dir holds a complete clip: a meta.json that parses as a JSON
 * object. Its fields are not judged here (clip_check does), so that a clip
 * from a newer wmsim is refused loudly rather than taken for a partial one
 * and overwritten. */
int clip_is_complete(const char *dir);

/* Validates one clip folder: meta parses and its version is known, the frame
 * counts of frames.mkv, video.mp4 and states.jsonl agree with meta.frames,
 * sizes agree, frame indices and times are consecutive and monotonic,
 * captions are sorted within the clip's time. Errors: "DIR/states.jsonl:
 * line 12: frame 13, expected 11". */
int clip_check(const char *dir, wm_error *err);

/* clip_check on every clip folder under root (root itself included),
 * searched in sorted order; a clip folder is one holding any clip file or
 * its ".tmp." leftover, and incomplete ones are errors too. Every bad clip
 * is reported, one line each; *n_ok counts the clips that passed. A tree
 * without clip folders is an error. */
int clip_check_tree(const char *root, int *n_ok, wm_error *err);

/* A text summary of the complete clips under root, for people: counts
 * (clips, frames, hours, by source and by scenario), histograms of accel,
 * brake and steer over their observed ranges, the frames in which each
 * guard gesture is in view, caption kinds (numbers and quoted text
 * generalised), and the incomplete folders skipped. Reads meta.json,
 * states.jsonl and captions.jsonl, not the videos. */
int clip_stats(const char *root, FILE *out, wm_error *err);

#endif
