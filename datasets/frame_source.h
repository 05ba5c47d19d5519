/* frame_source.h — single frames for the tokenizer, streamed from a folder
 * tree of clips (datasets/clip_reader.h with windows of one frame).
 *
 * Usage:
 *     frame_source *fs;
 *     if (frame_source_open(&fs, "data/trainset", FRAME_SPLIT_TRAIN, 2, seed, &err)) ...
 *     int w, h;
 *     frame_source_size(fs, &w, &h);
 *     float *x = malloc(B * 3 * h * w * sizeof *x);
 *     if (frame_source_next(fs, x, B, &err)) ...       // (B, 3, H, W) in [0, 1], endless
 *     if (frame_source_seek(fs, 1000, &err)) ...       // frame 1000 of the stream comes next
 *
 *     frame_stream data = frame_source_stream(fs);     // for tokenizer_train
 *     frame_source_close(fs);
 *
 *     float *val; int got;                             // a fixed set, for validation and eval
 *     if (frame_source_read("data/trainset", FRAME_SPLIT_VALIDATION, 256, 0, seed,
 *                           &val, &got, &w, &h, &err)) ...
 *     free(val);
 *
 * The stream: frames start, start + stride, ... of every clip of the split
 * (clip_reader windows of context 1, horizon 0), shuffled through a buffer
 * of FRAME_SOURCE_SHUFFLE frames drawn from FRAME_SOURCE_INTERLEAVE clips
 * decoded at once, so consecutive frames rarely come from the same clip.
 * An epoch is every such frame once; at its end the next epoch starts in
 * another order, so the stream never ends. The order depends on the seed
 * and the epoch only, which is what makes frame_source_seek exact: frame
 * `index` of the stream is frame index % F of epoch index / F (F frames per
 * epoch), and seeking there gives the same bytes as reading up to it.
 *
 * The split is clip_reader's: by the hash of each clip folder's name, with
 * FRAME_SOURCE_VAL_FRACTION of the names in validation; FRAME_SPLIT_ALL
 * reads every clip. Errors come from clip_reader and name the folder or
 * file (a split without frames, a damaged clip, clips of different sizes).
 *
 * Pixels: value = byte / 255, planar RGB. Dimensions: B frames, 3 channels,
 * H x W pixels. */
#ifndef WMSIM_FRAME_SOURCE_H
#define WMSIM_FRAME_SOURCE_H

#include <stdint.h>

#include "core/error.h"
#include "worldmodel/tokenizer_train.h"

#define FRAME_SOURCE_VAL_FRACTION 0.1
#define FRAME_SOURCE_SHUFFLE 256
#define FRAME_SOURCE_INTERLEAVE 8
#define FRAME_SOURCE_STRIDE 2        /* the training stream's default */
#define FRAME_SOURCE_READ_STRIDE 25  /* frame_source_read's widest spacing (2.5 s at 10 Hz) */

typedef enum { FRAME_SPLIT_TRAIN, FRAME_SPLIT_VALIDATION, FRAME_SPLIT_ALL } frame_split;

/* "train", "validation", "all". */
const char *frame_split_name(frame_split split);
/* Parses a name of frame_split_name; -1 when it is none of them. */
int frame_split_parse(const char *name, frame_split *split);

typedef struct frame_source frame_source;

/* Scans root (no frames decoded yet); stride >= 1 frames between the frames
 * taken from a clip. Starts at frame 0 of the stream. */
int frame_source_open(frame_source **out, const char *root, frame_split split, int stride, uint64_t seed,
                      wm_error *err);

/* The next B >= 1 frames into x (B, 3, H, W); 0, or -1 with err set (a
 * damaged clip: the source keeps failing until the next seek). */
int frame_source_next(frame_source *fs, float *x, int B, wm_error *err);

/* Makes frame `index` of the stream (0 the first after open) the next one.
 * Costs decoding the frames of its epoch before it. */
int frame_source_seek(frame_source *fs, uint64_t index, wm_error *err);

void frame_source_size(const frame_source *fs, int *width, int *height);
/* Frames per epoch (F above) and clips in the split. */
long long frame_source_epoch_frames(const frame_source *fs);
int frame_source_clips(const frame_source *fs);

void frame_source_close(frame_source *fs); /* NULL is fine */

/* The tokenizer_train adapters: ctx is a frame_source. */
int frame_source_stream_next(void *ctx, float *x, int B, wm_error *err);
int frame_source_stream_seek(void *ctx, uint64_t index, wm_error *err);
frame_stream frame_source_stream(frame_source *fs);

/* Up to n >= 1 frames of a split in one malloc'ed array *frames (got, 3,
 * H, W), taken from one epoch of a stream with this stride and seed; *got
 * is less than n when the split has fewer. stride 0 spreads the n frames
 * over the whole split: frames about (split frames / n) apart, at most
 * FRAME_SOURCE_READ_STRIDE, at least 1. On failure *frames is NULL. */
int frame_source_read(const char *root, frame_split split, int n, int stride, uint64_t seed, float **frames, int *got,
                      int *width, int *height, wm_error *err);

#endif
