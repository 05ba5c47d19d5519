/* recorder.h — turns an episode's frames into pictures: the oracle camera's
 * view with optional HUD and bird's-eye-view overlays, written as a video
 * (H.264/MPEG-4 MP4, or lossless FFV1) and/or numbered PNGs; or the
 * episode's camera feed (the world model's frames), alone or beside the
 * oracle's. `wmsim run`
 * and `wmsim replay` share it, so a replay re-renders exactly what the run
 * showed.
 *
 * Usage:
 *     recorder_options o = {.cp = sc->camera, .supersample = 1, .video_path = "out/x.mp4",
 *                           .codec = VIDEO_CODEC_AUTO, .hud = 1, .label = "expert"};
 *     recorder *rec;
 *     if (recorder_open(&rec, &o, &err)) ...
 *     per frame (an episode observer):  if (recorder_add(rec, &frame, &err)) ...
 *     recorder_close(rec, &err);          // or recorder_abort(rec): nothing left behind
 */
#ifndef WMSIM_RECORDER_H
#define WMSIM_RECORDER_H

#include "render/render.h"
#include "render/video.h"
#include "sim/episode.h"

/* What the pictures show: the oracle's render of the world (default), the
 * camera feed's frame (what the policy saw: generated in world-model mode),
 * or both side by side, labelled, the oracle on the left. */
typedef enum { RECORDER_VIEW_ORACLE, RECORDER_VIEW_FEED, RECORDER_VIEW_SIDE_BY_SIDE } recorder_view;

typedef struct {
    camera_params cp;       /* frame size and camera; with a feed view, the feed's */
    int supersample;        /* 1 or 2 */
    const char *video_path; /* NULL: no video */
    video_codec codec;
    const char *frames_dir; /* NULL: no PNGs; else DIR/frame_00000.png per step */
    int semantic;           /* with frames_dir: DIR/semantic_00000.png as well */
    int hud, bev;           /* overlays on the video and PNG frames */
    const char *label;      /* shown in the HUD, e.g. the policy's name */
    recorder_view view;
    const char *feed_label; /* side by side: the feed's label, e.g. "world model" */
    int reasoning;          /* a caption band below each picture with the policy's reasoning */
} recorder_options;

typedef struct recorder recorder;

int recorder_open(recorder **out, const recorder_options *o, wm_error *err);
int recorder_add(recorder *rec, const episode_frame *f, wm_error *err);
int recorder_frames(const recorder *rec); /* frames added so far */
/* The picture the last recorder_add made, overlays and caption included,
 * whether or not it went to a file: a recorder opened without video_path
 * and frames_dir only makes pictures, for a caller that composes those of
 * several episodes (sim/replay_compare.h). Valid until the next
 * recorder_add or close; NULL before the first. */
const image *recorder_last(const recorder *rec);
int recorder_close(recorder *rec, wm_error *err);
void recorder_abort(recorder *rec);

#endif
