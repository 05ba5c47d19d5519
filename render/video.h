/* video.h — episode videos written and read back through FFmpeg's libraries.
 *
 * Usage:
 *     video_writer *vw;
 *     if (video_writer_open(&vw, "out/run.mp4", 128, 64, 10, VIDEO_CODEC_AUTO, &err)) ...
 *     per frame:  if (video_writer_add(vw, &img, &err)) { video_writer_abort(vw); ... }
 *     if (video_writer_close(vw, &err)) ...       // frees vw in every case
 *
 *     video_reader *vr;
 *     image frame = {0};                          // resized by the reader as needed
 *     if (video_reader_open(&vr, "out/run.mp4", &err)) ...
 *     while ((rc = video_reader_next(vr, &frame, &err)) == 1) ...   // 0: end, -1: error
 *     video_reader_close(vr);
 *     image_free(&frame);
 *
 * The container comes from the extension (case-insensitive): .mp4, .mkv or
 * .avi. VIDEO_CODEC_AUTO means FFV1 in .mkv (lossless: training clips) and
 * H.264 (libx264) elsewhere, or MPEG-4 Part 2 when this FFmpeg has no
 * libx264. H.264 and MPEG-4 store yuv420p, which halves chroma, so they take
 * even widths and heights only (an odd size is refused, not padded, so that
 * a video always reads back at the size it was written); FFV1 stores RGB
 * losslessly at any size.
 *
 * Frame i is shown at i / fps seconds and lasts 1 / fps, so a video of n
 * frames lasts n / fps. The same frames give the same bytes (with the same
 * FFmpeg and libx264), as the same seed gives the same log. Like every
 * output of wmsim the file is written as "PATH.tmp.PID" and renamed over
 * PATH on close: a failed or aborted write leaves the previous PATH (or
 * none) in place. */
#ifndef WMSIM_VIDEO_H
#define WMSIM_VIDEO_H

#include "core/error.h"
#include "render/image.h"

#define VIDEO_MAX_FPS 240

typedef enum {
    VIDEO_CODEC_AUTO,
    VIDEO_CODEC_H264,  /* libx264, crf 18, no B-frames */
    VIDEO_CODEC_MPEG4, /* MPEG-4 Part 2, FFmpeg's own encoder */
    VIDEO_CODEC_FFV1,  /* lossless; every frame a keyframe */
} video_codec;

/* "auto", "h264", "mpeg4", "ffv1"; "?" for a value outside the enum. */
const char *video_codec_name(video_codec c);
int video_codec_parse(const char *name, video_codec *out, wm_error *err);
/* Whether this FFmpeg build has the encoder (AUTO: H.264 or MPEG-4). */
int video_codec_available(video_codec c);

typedef struct video_writer video_writer;

/* Sizes are 1..IMAGE_MAX_SIDE per side (even for H.264 and MPEG-4), fps
 * 1..VIDEO_MAX_FPS. Errors name the path and the reason. */
int video_writer_open(video_writer **out, const char *path, int width, int height, int fps,
                      video_codec codec, wm_error *err);
/* A frame of the wrong size is refused and leaves the writer usable; any
 * other failure (encoder, disk) leaves it fit only for abort. */
int video_writer_add(video_writer *vw, const image *frame, wm_error *err);
/* Flushes the encoder, finishes the container and renames the file into
 * place. Refuses a video without frames. Frees vw, also on failure, in
 * which case nothing is left under PATH but what was there before. */
int video_writer_close(video_writer *vw, wm_error *err);
/* Frees vw (NULL is fine) and removes the temporary file. */
void video_writer_abort(video_writer *vw);

typedef struct {
    int width, height;
    int frames;        /* packets of the video stream, one per frame */
    double duration_s; /* from the first frame's start to the last one's end */
    double fps;        /* the stream's declared rate, else frames / duration */
    char codec[32];    /* FFmpeg's codec name: "h264", "mpeg4", "ffv1", ... */
} video_info;

/* Demuxes the whole file but decodes nothing beyond the few frames FFmpeg
 * looks at to identify the stream, so it is cheap on long videos. */
int video_probe(const char *path, video_info *info, wm_error *err);

typedef struct video_reader video_reader;

int video_reader_open(video_reader **out, const char *path, wm_error *err);
/* Decodes the next frame as 8-bit RGB into frame, which is zeroed or holds
 * an image (from image_init or an earlier call: reused when the size
 * matches; the caller frees it). Returns 1 for a frame, 0 at the end, -1 on
 * a damaged file. YUV is converted with the matrix and range the stream is
 * tagged with, BT.601 limited range when untagged. */
int video_reader_next(video_reader *vr, image *frame, wm_error *err);
/* Seconds from the stream's first frame to the frame the last successful
 * video_reader_next returned: its timestamp, so variable-rate video keeps
 * its timing (frames without one: their index / the stream's rate). */
double video_reader_time(const video_reader *vr);
void video_reader_close(video_reader *vr); /* NULL is fine */

#endif
