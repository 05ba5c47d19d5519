/* frame_source.c — single frames from clips (see frame_source.h).
 *
 * Dimensions: B frames, 3 channels, H x W pixels. */
#include "datasets/frame_source.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "datasets/clip_reader.h"

struct frame_source {
    clip_reader *reader;
    int width, height;
    long long epoch_frames; /* windows of one frame per epoch; > 0 (clip_reader_open refuses 0) */
    int clips;
};

static const char *const SPLIT_NAMES[] = {[FRAME_SPLIT_TRAIN] = "train", [FRAME_SPLIT_VALIDATION] = "validation",
                                          [FRAME_SPLIT_ALL] = "all"};

const char *frame_split_name(frame_split split) {
    return (int)split >= 0 && (int)split <= FRAME_SPLIT_ALL ? SPLIT_NAMES[split] : "unknown";
}

int frame_split_parse(const char *name, frame_split *split) {
    for (int s = FRAME_SPLIT_TRAIN; s <= FRAME_SPLIT_ALL; s++)
        if (strcmp(name, SPLIT_NAMES[s]) == 0) return *split = (frame_split)s, 0;
    return -1;
}

/* "all" is clip_reader's train split with nothing held out. */
static clip_reader_config reader_config(const char *root, frame_split split, int stride, uint64_t seed) {
    clip_reader_config c = clip_reader_config_default();
    c.root = root;
    c.context = 1, c.horizon = 0;
    c.stride = stride;
    c.seed = seed;
    c.split = split == FRAME_SPLIT_VALIDATION ? CLIP_SPLIT_VALIDATION : CLIP_SPLIT_TRAIN;
    c.val_fraction = split == FRAME_SPLIT_ALL ? 0.0 : FRAME_SOURCE_VAL_FRACTION;
    c.shuffle_buffer = FRAME_SOURCE_SHUFFLE;
    c.interleave = FRAME_SOURCE_INTERLEAVE;
    return c;
}

int frame_source_open(frame_source **out, const char *root, frame_split split, int stride, uint64_t seed,
                      wm_error *err) {
    *out = NULL;
    if ((int)split < 0 || (int)split > FRAME_SPLIT_ALL)
        return wm_fail(err, "frame source: unknown split %d", (int)split);
    clip_reader_config c = reader_config(root, split, stride, seed);
    clip_reader *r;
    if (clip_reader_open(&r, &c, err)) return -1;
    clip_reader_stats st;
    clip_reader_stats_get(r, &st);
    frame_source *fs = CALLOC_CHECK(1, sizeof *fs);
    fs->reader = r;
    fs->width = st.width, fs->height = st.height;
    fs->epoch_frames = st.windows;
    fs->clips = st.clips;
    *out = fs;
    return 0;
}

/* HWC bytes to CHW floats in [0, 1]: the tokenizer's input layout. */
static void frame_to_planar(const uint8_t *rgb, int W, int H, float *x) {
    const size_t plane = (size_t)W * H;
    for (size_t p = 0; p < plane; p++)
        for (int c = 0; c < 3; c++) x[c * plane + p] = rgb[3 * p + c] / 255.0f;
}

/* The next window, starting the next epoch at the end of one. */
static int next_window(frame_source *fs, const clip_window **w, wm_error *err) {
    int rc = clip_reader_next(fs->reader, w, err);
    if (rc == 0) {
        clip_reader_rewind(fs->reader);
        rc = clip_reader_next(fs->reader, w, err);
        /* Cannot happen for a reader that opened: every epoch has the same windows. */
        if (rc == 0) return wm_fail(err, "frame source: an epoch without frames");
    }
    return rc < 0 ? -1 : 0;
}

int frame_source_next(frame_source *fs, float *x, int B, wm_error *err) {
    const size_t img = 3 * (size_t)fs->width * fs->height;
    for (int b = 0; b < B; b++) {
        const clip_window *w;
        if (next_window(fs, &w, err)) return -1;
        frame_to_planar(w->frames, fs->width, fs->height, x + (size_t)b * img);
    }
    return 0;
}

int frame_source_seek(frame_source *fs, uint64_t index, wm_error *err) {
    uint64_t epoch = index / (uint64_t)fs->epoch_frames, skip = index % (uint64_t)fs->epoch_frames;
    if (epoch > INT_MAX)
        return wm_fail(err, "frame source: frame %llu is past epoch %d", (unsigned long long)index, INT_MAX);
    clip_reader_start_epoch(fs->reader, (int)epoch);
    /* The reader's order is fixed per epoch, so skipping the frames before
     * `index` lands exactly where reading through would have. */
    for (uint64_t i = 0; i < skip; i++) {
        const clip_window *w;
        int rc = clip_reader_next(fs->reader, &w, err);
        if (rc < 0) return -1;
        if (rc == 0) return wm_fail(err, "frame source: epoch %llu ended after %llu of %lld frames",
                                    (unsigned long long)epoch, (unsigned long long)i, fs->epoch_frames);
    }
    return 0;
}

void frame_source_size(const frame_source *fs, int *width, int *height) {
    *width = fs->width, *height = fs->height;
}

long long frame_source_epoch_frames(const frame_source *fs) { return fs->epoch_frames; }

int frame_source_clips(const frame_source *fs) { return fs->clips; }

void frame_source_close(frame_source *fs) {
    if (!fs) return;
    clip_reader_close(fs->reader);
    free(fs);
}

int frame_source_stream_next(void *ctx, float *x, int B, wm_error *err) { return frame_source_next(ctx, x, B, err); }

int frame_source_stream_seek(void *ctx, uint64_t index, wm_error *err) { return frame_source_seek(ctx, index, err); }

frame_stream frame_source_stream(frame_source *fs) {
    return (frame_stream){.next = frame_source_stream_next, .seek = frame_source_stream_seek, .ctx = fs};
}

/* stride 0: the split's frame count (a stride-1 scan reads only meta.json
 * files) decides a spacing that spreads n frames over all of it. */
static int read_stride(const char *root, frame_split split, int n, int stride, wm_error *err) {
    if (stride > 0) return stride;
    frame_source *probe;
    if (frame_source_open(&probe, root, split, 1, 0, err)) return -1;
    long long all = probe->epoch_frames, s = all / n;
    frame_source_close(probe);
    return s < 1 ? 1 : s > FRAME_SOURCE_READ_STRIDE ? FRAME_SOURCE_READ_STRIDE : (int)s;
}

int frame_source_read(const char *root, frame_split split, int n, int stride, uint64_t seed, float **frames, int *got,
                      int *width, int *height, wm_error *err) {
    *frames = NULL, *got = 0;
    if (n < 1) return wm_fail(err, "frame source: %d frames asked for", n);
    if (stride < 0) return wm_fail(err, "frame source: stride %d below 0", stride);
    stride = read_stride(root, split, n, stride, err);
    frame_source *fs;
    if (stride < 0 || frame_source_open(&fs, root, split, stride, seed, err)) return -1;
    /* One epoch at most: a frame twice would only weigh it double. */
    long long count = fs->epoch_frames < n ? fs->epoch_frames : n;
    const size_t img = 3 * (size_t)fs->width * fs->height;
    float *x = MALLOC_CHECK((size_t)count * img * sizeof(float));
    int rc = frame_source_next(fs, x, (int)count, err);
    if (!rc) *frames = x, *got = (int)count, *width = fs->width, *height = fs->height;
    else free(x);
    frame_source_close(fs);
    return rc;
}
