/* fuzz_clip.c — reading training clips (datasets/README.md): meta.json,
 * states.jsonl and captions.jsonl of one clip folder, through every reader
 * of them:
 *     reader   clip_reader_open + one epoch of clip_reader_next (training;
 *              context 1, horizon 1), the streaming states.jsonl reader
 *     check    clip_check (`wmsim clips check`)
 *     stats    clip_stats (`wmsim clips stats`), printing to /dev/null
 *     states   clip_meta_from_json + clip_states_read, as `wmsim dream
 *              --context CLIP`, wm_eval and token shards read a clip
 * A clip is a folder, so the input is split into its files at lines that
 * hold only "===": meta.json, then states.jsonl, then captions.jsonl (a
 * missing part is an empty file). frames.mkv and video.mp4 are links to
 * two small videos made once at start-up (4 frames of 32x16, the seeds'
 * size): the harness fuzzes the text files, not FFmpeg.
 *
 * Result: one line per reader, "NAME: ok" or "NAME: ERROR" (the scratch
 * folder as TMP). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_util.h"

#include "core/check.h"
#include "core/fileio.h"
#include "datasets/clip.h"
#include "datasets/clip_reader.h"
#include "render/image.h"
#include "render/video.h"

#define FUZZ_CLIP_W 32
#define FUZZ_CLIP_H 16
#define FUZZ_CLIP_FRAMES 4
#define FUZZ_CLIP_SEPARATOR "\n===\n"

static void fuzz_clip_video(const char *path, video_codec codec) {
    video_writer *vw;
    wm_error err;
    image img;
    image_init(&img, FUZZ_CLIP_W, FUZZ_CLIP_H);
    int rc = video_writer_open(&vw, path, FUZZ_CLIP_W, FUZZ_CLIP_H, CLIP_FPS, codec, &err);
    for (int f = 0; rc == 0 && f < FUZZ_CLIP_FRAMES; f++) {
        memset(img.rgb, 40 * f, (size_t)FUZZ_CLIP_W * FUZZ_CLIP_H * 3);
        if ((rc = video_writer_add(vw, &img, &err))) video_writer_abort(vw);
    }
    if (rc == 0) rc = video_writer_close(vw, &err);
    image_free(&img);
    if (rc) {
        fprintf(stderr, "fuzz_clip: cannot make %s: %s\n", path, err.msg);
        abort();
    }
}

/* Appends "name: ok" or "name: message" to out. */
static void fuzz_clip_note(wm_error *out, const char *name, int rc, const wm_error *e) {
    fuzz_append(out, "%s: %s\n", name, rc ? e->msg : "ok");
}

/* The next part of the input up to FUZZ_CLIP_SEPARATOR (or its end). */
static void fuzz_clip_part(const uint8_t **p, const uint8_t *end, const char *path) {
    const uint8_t *sep = NULL;
    size_t n = strlen(FUZZ_CLIP_SEPARATOR);
    for (const uint8_t *q = *p; q + n <= end && !sep; q++)
        if (memcmp(q, FUZZ_CLIP_SEPARATOR, n) == 0) sep = q;
    const uint8_t *stop = sep ? sep + 1 : end; /* the part keeps its final newline */
    fuzz_write_file(path, *p, (size_t)(stop - *p));
    *p = sep ? sep + n : end;
}

static int fuzz_clip_run(const uint8_t *data, size_t size, wm_error *err) {
    static const char *dir;
    static char root[300], clip[320], mkv[320], mp4[320];
    char path[400];
    if (!dir) {
        dir = fuzz_scratch_dir("clip");
        snprintf(mkv, sizeof mkv, "%s/frames.mkv", dir);
        snprintf(mp4, sizeof mp4, "%s/video.mp4", dir);
        fuzz_clip_video(mkv, VIDEO_CODEC_FFV1);
        fuzz_clip_video(mp4, VIDEO_CODEC_AUTO);
        snprintf(root, sizeof root, "%s/root", dir);
        snprintf(clip, sizeof clip, "%s/clip_0000", root);
        if (mkdir(root, 0700) || mkdir(clip, 0700)) abort();
        snprintf(path, sizeof path, "%s/%s", clip, CLIP_FILE_FRAMES);
        if (symlink(mkv, path)) abort();
        snprintf(path, sizeof path, "%s/%s", clip, CLIP_FILE_VIDEO);
        if (symlink(mp4, path)) abort();
    }
    const uint8_t *p = data, *end = data + size;
    static const char *const parts[] = {CLIP_FILE_META, CLIP_FILE_STATES, CLIP_FILE_CAPTIONS};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", clip, parts[i]);
        fuzz_clip_part(&p, end, path);
    }
    err->msg[0] = '\0';
    wm_error e;
    int rc = 0, one;

    clip_reader_config cfg = clip_reader_config_default();
    cfg.root = root, cfg.context = 1, cfg.horizon = 1, cfg.val_fraction = 0;
    cfg.shuffle_buffer = 1, cfg.interleave = 1;
    clip_reader *r;
    one = clip_reader_open(&r, &cfg, &e);
    if (one == 0) {
        const clip_window *w;
        int got;
        while ((got = clip_reader_next(r, &w, &e)) == 1)
            if (w->n != 2 || w->width < 1 || w->height < 1) abort();
        one = got < 0 ? -1 : 0;
        clip_reader_close(r);
    }
    fuzz_clip_note(err, "reader", one, &e), rc |= one;

    one = clip_check(clip, &e);
    fuzz_clip_note(err, "check", one, &e), rc |= one;

    one = clip_stats(root, fuzz_devnull(), &e);
    fuzz_clip_note(err, "stats", one, &e), rc |= one;

    uint8_t *text;
    size_t len;
    clip_meta m;
    snprintf(path, sizeof path, "%s/%s", clip, CLIP_FILE_META);
    one = file_read_all(path, 1 << 20, &text, &len, &e);
    if (one == 0) {
        one = clip_meta_from_json((const char *)text, &m, &e);
        free(text);
    }
    if (one == 0) {
        clip_state *states;
        one = clip_states_read(clip, m.frames, &states, &e);
        if (one == 0) free(states);
    }
    fuzz_clip_note(err, "states", one, &e), rc |= one;

    fuzz_error_scrub(err, dir);
    return rc ? -1 : 0;
}

FUZZ_ENTRY(fuzz_clip_run)
