/* clip_import.h — a real drive (dashcam video + driving log) as a clip.
 *
 * Usage:
 *     clip_import_config cfg = clip_import_config_default();
 *     cfg.video_path = "drive.mp4";         // anything FFmpeg decodes
 *     cfg.log_path = "drive.csv";           // a header row, then one row per sample
 *     cfg.time_offset = 1.3;                // log time = video time + 1.3 s
 *     cfg.out_dir = "out/clips/drive_0001";
 *     clip_import_report rep;
 *     if (clip_import(&cfg, &rep, &err)) ... // "drive.csv: no column 'steer' (columns: t, speed, ...)"
 *     printf("%d frames, %d + %d outside the log\n", rep.frames, rep.dropped_before, rep.dropped_after);
 *
 * The log is CSV: the first line that is neither blank nor a '#' comment
 * names the columns (a UTF-8 byte-order mark and double quotes around names
 * are allowed); fields may be double-quoted, so text columns with commas
 * pass. Five columns are read, by name (cfg.columns): time (s, strictly
 * increasing), speed (m/s), accel and brake (m/s², both >= 0) and steer
 * (rad at the front wheel, + left); any other column is ignored. With an
 * empty brake name the accel column is signed: it is interpolated as is,
 * then split into accel = max(a, 0) and brake = max(-a, 0).
 *
 * Time: the clip samples the video at CLIP_FPS (10 Hz). Tick k is video
 * time k / 10 s from the first frame, and takes the decoded frame nearest
 * it (the earlier of two equally near). A frame's time is its own
 * timestamp from the first frame (video_reader_time), so variable-rate
 * video keeps its timing. Each tick's log time is its video time
 * + time_offset; every log column is linearly interpolated there. Ticks
 * outside the log's time span are dropped (counted in the report), so the
 * clip is the stretch both cover, its t starting at 0 on its first frame.
 *
 * Pixels: each frame is centre-cropped to the output aspect (width:height)
 * and scaled with an area filter of this file (each output pixel the
 * coverage-weighted mean of the source pixels under it; exact on flat
 * colour, no ringing, and independent of the swscale version).
 *
 * The clip: source CLIP_SOURCE_DASHCAM, policy "dashcam", the camera of the
 * config at the output size, the video path as source_file, no captions,
 * no actors. Per frame: speed from the log, accel = accel - brake, the
 * action (accel, brake, steer) at that frame's time, and x, y, yaw
 * dead-reckoned from speed and steer with a kinematic bicycle of
 * cfg.wheelbase (starting at 0, 0, 0; it drifts, as all dead reckoning
 * does: a guide for the world model's pose inputs, not ground truth);
 * yaw_rate = speed * tan(steer) / wheelbase. */
#ifndef WMSIM_CLIP_IMPORT_H
#define WMSIM_CLIP_IMPORT_H

#include <stddef.h>

#include "core/error.h"
#include "render/image.h"
#include "scenarios/scenario.h"

#define CLIP_IMPORT_DEFAULT_WIDTH 128
#define CLIP_IMPORT_DEFAULT_HEIGHT 64

typedef struct {
    const char *t, *speed, *accel, *brake, *steer; /* brake "": accel is signed */
} clip_import_columns;

typedef struct {
    const char *video_path;
    const char *log_path;
    clip_import_columns columns; /* "t", "speed", "accel", "brake", "steer" */
    double time_offset;          /* s: log time = video time + time_offset */
    const char *out_dir;         /* the clip folder to create */
    int width, height;           /* output frames: 128x64 */
    scenario_camera camera;      /* hfov and mount for meta.json; its size is replaced
                                    by width x height. scenario_camera_default() */
    double wheelbase;            /* m, for dead reckoning: SCENARIO_DEFAULT_WHEELBASE */
} clip_import_config;

clip_import_config clip_import_config_default(void);

typedef struct {
    int source_frames;  /* decoded from the video */
    double source_fps;
    int ticks;          /* 10 Hz ticks the video covers */
    int frames;         /* written: ticks inside the log's span */
    int dropped_before; /* ticks before the log starts */
    int dropped_after;  /* ticks after it ends */
    double log_start, log_end; /* s, log time */
} clip_import_report;

/* Imports cfg->video_path with cfg->log_path into cfg->out_dir (through
 * clip_writer: complete or absent). rep may be NULL. Errors name the file
 * and, in the log, the line and column: "drive.csv:7: speed (column 2):
 * not a number: 'abc'", "drive.csv:9: t 1.200 is not after the previous
 * t 1.300", "drive.csv: no overlap with the video ...". */
int clip_import(const clip_import_config *cfg, clip_import_report *rep, wm_error *err);

/* The driving log's five columns, rows in file order. */
typedef struct {
    double *t, *speed, *accel, *brake, *steer; /* (n) */
    size_t n;
    int signed_accel; /* no brake column: accel is signed, brake all 0 */
} clip_import_log;

/* Reads and checks the whole log (at least 2 rows); on failure *log is empty. */
int clip_import_log_read(const char *path, const clip_import_columns *cols, clip_import_log *log,
                         wm_error *err);
void clip_import_log_free(clip_import_log *log);

typedef struct {
    double speed, accel, brake, steer;
} clip_import_sample;

/* Every column linearly interpolated at log time t, which must lie within
 * [t[0], t[n-1]]; returns -1 (and leaves *out alone) outside. */
int clip_import_log_sample(const clip_import_log *log, double t, clip_import_sample *out);

/* src centre-cropped to dst's aspect and area-scaled into dst, which holds
 * an image of the output size. */
void clip_import_crop_scale(const image *src, image *dst);

#endif
