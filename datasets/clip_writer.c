/* clip_writer.c — writes one clip folder so that it is complete or absent.
 *
 * Every file goes to "NAME.tmp.PID" and is renamed into place at close;
 * meta.json is written last, atomically, and its presence is what marks
 * the clip complete. A generation killed half way leaves only temporary
 * files or files without meta.json, which the next open clears. */
#include "datasets/clip.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.h"
#include "core/fileio.h"
#include "render/video.h"

/* The five files, in the order close finishes them (meta.json last). */
static const char *const clip_files[] = {CLIP_FILE_STATES, CLIP_FILE_CAPTIONS, CLIP_FILE_FRAMES, CLIP_FILE_VIDEO,
                                         CLIP_FILE_META};
#define CLIP_N_FILES 5

struct clip_writer {
    char dir[4096];
    clip_meta meta;
    int created_dir;          /* the folder did not exist before open */
    video_writer *frames_vw;  /* frames.mkv, FFV1 */
    video_writer *video_vw;   /* video.mp4, H.264 or MPEG-4 */
    atomic_file states, captions;
    int frames;               /* added so far */
    clip_state pending;       /* the last frame's line: waits for its action */
    double last_caption_t;
    int n_captions;
};

static int join(char *out, size_t cap, const char *dir, const char *name) {
    return (size_t)snprintf(out, cap, "%s/%s", dir, name) >= cap ? -1 : 0;
}

/* Removes the five files and their temporary leftovers from an earlier,
 * interrupted writer (of any process). */
static int clear_partial(const char *dir, wm_error *err) {
    char path[4200];
    for (int i = 0; i < CLIP_N_FILES; i++) {
        join(path, sizeof path, dir, clip_files[i]);
        if (unlink(path) != 0 && errno != ENOENT)
            return wm_fail(err, "%s: cannot remove the partial clip's file: %s", path, strerror(errno));
    }
    DIR *d = opendir(dir);
    if (!d) return wm_fail(err, "%s: cannot read folder: %s", dir, strerror(errno));
    int rc = 0;
    for (struct dirent *e; rc == 0 && (e = readdir(d));) {
        for (int i = 0; i < CLIP_N_FILES; i++) {
            size_t n = strlen(clip_files[i]);
            if (strncmp(e->d_name, clip_files[i], n) != 0 || strncmp(e->d_name + n, ".tmp.", 5) != 0) continue;
            join(path, sizeof path, dir, e->d_name);
            if (unlink(path) != 0 && errno != ENOENT)
                rc = wm_fail(err, "%s: cannot remove the partial clip's file: %s", path, strerror(errno));
            break;
        }
    }
    closedir(d);
    return rc;
}

/* Frees cw after removing what it created: open writers' temporary files,
 * and the files already renamed into place by a close that failed later. */
static void writer_discard(clip_writer *cw, int renamed) {
    char path[4200];
    video_writer_abort(cw->frames_vw);
    video_writer_abort(cw->video_vw);
    atomic_file_abort(&cw->states);
    atomic_file_abort(&cw->captions);
    for (int i = 0; i < renamed; i++)
        if (join(path, sizeof path, cw->dir, clip_files[i]) == 0) unlink(path);
    if (cw->created_dir) rmdir(cw->dir); /* fails, as it should, if anything else is in it */
    free(cw);
}

void clip_writer_abort(clip_writer *cw) {
    if (cw) writer_discard(cw, 0);
}

static int meta_check(const char *dir, const clip_meta *m, wm_error *err) {
    if (m->width < 1 || m->width > IMAGE_MAX_SIDE || m->height < 1 || m->height > IMAGE_MAX_SIDE)
        return wm_fail(err, "%s: frame size %dx%d outside [1, %d] per side", dir, m->width, m->height,
                       IMAGE_MAX_SIDE);
    /* Refused here, not by the encoder after the first frame, so a caller
     * learns it before rendering anything. */
    if (m->width % 2 || m->height % 2)
        return wm_fail(err, "%s: frame size %dx%d: %s needs even sides (H.264 and MPEG-4 halve chroma)", dir,
                       m->width, m->height, CLIP_FILE_VIDEO);
    if (m->fps != CLIP_FPS) return wm_fail(err, "%s: fps %d, but clips are %d fps", dir, m->fps, CLIP_FPS);
    return 0;
}

int clip_writer_open(clip_writer **out, const char *dir, const clip_meta *meta, wm_error *err) {
    *out = NULL;
    if (strlen(dir) + 64 >= sizeof((clip_writer *)0)->dir) return wm_fail(err, "%s: path too long", dir);
    if (meta_check(dir, meta, err)) return -1;
    if (clip_is_complete(dir)) return wm_fail(err, "%s: already holds a complete clip", dir);
    clip_writer *cw = CALLOC_CHECK(1, sizeof *cw);
    snprintf(cw->dir, sizeof cw->dir, "%s", dir);
    cw->meta = *meta;
    cw->meta.format_version = CLIP_FORMAT_VERSION;
    cw->meta.frames = 0;
    struct stat sb;
    cw->created_dir = stat(dir, &sb) != 0;
    if (dir_create(dir, err) || clear_partial(dir, err)) {
        clip_writer_abort(cw);
        return -1;
    }
    char path[4200];
    video_codec mp4 = video_codec_available(VIDEO_CODEC_H264) ? VIDEO_CODEC_H264 : VIDEO_CODEC_MPEG4;
    join(path, sizeof path, dir, CLIP_FILE_FRAMES);
    if (video_writer_open(&cw->frames_vw, path, meta->width, meta->height, meta->fps, VIDEO_CODEC_FFV1, err))
        return clip_writer_abort(cw), -1;
    join(path, sizeof path, dir, CLIP_FILE_VIDEO);
    if (video_writer_open(&cw->video_vw, path, meta->width, meta->height, meta->fps, mp4, err))
        return clip_writer_abort(cw), -1;
    join(path, sizeof path, dir, CLIP_FILE_STATES);
    if (atomic_file_open(&cw->states, path, err)) return clip_writer_abort(cw), -1;
    join(path, sizeof path, dir, CLIP_FILE_CAPTIONS);
    if (atomic_file_open(&cw->captions, path, err)) return clip_writer_abort(cw), -1;
    *out = cw;
    return 0;
}

static int write_line(atomic_file *af, char *json, wm_error *err) {
    size_t n = strlen(json);
    json[n] = '\n'; /* the emitter's buffer always has room past the terminator */
    int bad = fwrite(json, 1, n + 1, af->f) != n + 1;
    int e = errno;
    free(json);
    return bad ? wm_fail(err, "%s: write failed: %s", af->path, strerror(e)) : 0;
}

/* A state the format can carry: finite numbers (JSON has no NaN), known
 * enums, and a time that is the frame's. */
static int state_check(const clip_writer *cw, const clip_state *st, wm_error *err) {
    if (st->frame != cw->frames)
        return wm_fail(err, "%s: frame %d added as frame %d", cw->dir, st->frame, cw->frames);
    double want = (double)st->frame / cw->meta.fps;
    if (!(fabs(st->t - want) <= 1e-6))
        return wm_fail(err, "%s: frame %d: t %.6f s, expected %.6f s (frame / fps)", cw->dir, st->frame, st->t, want);
    const double ego[] = {st->x, st->y, st->yaw, st->speed, st->yaw_rate, st->accel};
    static const char *const names[] = {"x", "y", "yaw", "speed", "yaw_rate", "accel"};
    for (int k = 0; k < 6; k++)
        if (!isfinite(ego[k])) return wm_fail(err, "%s: frame %d: ego.%s is not finite", cw->dir, st->frame, names[k]);
    if (st->n_actors < 0 || st->n_actors > CLIP_MAX_ACTORS)
        return wm_fail(err, "%s: frame %d: %d actors outside [0, %d]", cw->dir, st->frame, st->n_actors,
                       CLIP_MAX_ACTORS);
    for (int i = 0; i < st->n_actors; i++) {
        const clip_actor *a = &st->actors[i];
        if (!isfinite(a->x) || !isfinite(a->y) || !isfinite(a->heading) || !isfinite(a->speed))
            return wm_fail(err, "%s: frame %d: actors[%d] ('%s') has a value that is not finite", cw->dir, st->frame,
                           i, a->id);
        if ((unsigned)a->kind > ACTOR_OBSTACLE || (unsigned)a->gesture > GESTURE_TURN_RIGHT)
            return wm_fail(err, "%s: frame %d: actors[%d] ('%s'): kind or gesture out of range", cw->dir,
                           st->frame, i, a->id);
    }
    return 0;
}

int clip_writer_add(clip_writer *cw, const image *frame, const clip_state *st, const action *led_by, wm_error *err) {
    if (frame->width != cw->meta.width || frame->height != cw->meta.height)
        return wm_fail(err, "%s: frame %d is %dx%d, but the clip is %dx%d", cw->dir, cw->frames, frame->width,
                       frame->height, cw->meta.width, cw->meta.height);
    if (state_check(cw, st, err)) return -1;
    if (cw->frames > 0) {
        if (!led_by)
            return wm_fail(err, "%s: frame %d: no action led to it (only the first frame may lack one)", cw->dir,
                           cw->frames);
        if (!isfinite(led_by->accel) || !isfinite(led_by->brake) || !isfinite(led_by->steer))
            return wm_fail(err, "%s: frame %d: the action that led to it is not finite", cw->dir, cw->frames);
        cw->pending.has_action = 1;
        cw->pending.action = *led_by;
        if (write_line(&cw->states, clip_state_to_json(&cw->pending), err)) return -1;
    }
    if (video_writer_add(cw->frames_vw, frame, err) || video_writer_add(cw->video_vw, frame, err)) return -1;
    cw->pending = *st;
    cw->pending.has_action = 0;
    cw->pending.action = (action){0, 0, 0};
    cw->frames++;
    return 0;
}

int clip_writer_caption(clip_writer *cw, double t, const char *text, wm_error *err) {
    if (!isfinite(t) || t < 0) return wm_fail(err, "%s: caption '%s': t %g s is not a clip time", cw->dir, text, t);
    if (cw->n_captions && t < cw->last_caption_t)
        return wm_fail(err, "%s: caption '%s' at t=%.3f s comes before the previous one (t=%.3f s)", cw->dir, text, t,
                       cw->last_caption_t);
    double frame = round(t * cw->meta.fps);
    if (frame >= cw->frames)
        return wm_fail(err, "%s: caption '%s' at t=%.3f s: frame %.0f has not been added (%d so far)", cw->dir, text,
                       t, frame, cw->frames);
    if (!text[0]) return wm_fail(err, "%s: caption at t=%.3f s: empty text", cw->dir, t);
    /* A time that is its frame's (up to float noise, such as a simulator's
     * step * 0.1) is written as frame / fps: 5.8, not 5.800000000000001. */
    clip_caption c = {.t = fabs(t * cw->meta.fps - frame) < 1e-6 ? frame / cw->meta.fps : t, .frame = (int)frame};
    if ((size_t)snprintf(c.text, sizeof c.text, "%s", text) >= sizeof c.text)
        return wm_fail(err, "%s: caption at t=%.3f s: longer than %d bytes", cw->dir, t, CLIP_CAPTION_MAX - 1);
    if (write_line(&cw->captions, clip_caption_to_json(&c), err)) return -1;
    cw->last_caption_t = c.t;
    cw->n_captions++;
    return 0;
}

int clip_writer_close(clip_writer *cw, wm_error *err) {
    if (cw->frames == 0) {
        wm_fail(err, "%s: no frames added: a clip has at least one", cw->dir);
        return writer_discard(cw, 0), -1;
    }
    /* Renamed into place one by one in clip_files order; on a failure the
     * ones already renamed are removed again. */
    int renamed = 0;
    if (write_line(&cw->states, clip_state_to_json(&cw->pending), err)) goto fail;
    if (atomic_file_commit(&cw->states, err)) goto fail;
    renamed++;
    if (atomic_file_commit(&cw->captions, err)) goto fail;
    renamed++;
    video_writer *vw = cw->frames_vw;
    cw->frames_vw = NULL;
    if (video_writer_close(vw, err)) goto fail;
    renamed++;
    vw = cw->video_vw;
    cw->video_vw = NULL;
    if (video_writer_close(vw, err)) goto fail;
    renamed++;
    cw->meta.frames = cw->frames;
    char path[4200], *json = clip_meta_to_json(&cw->meta);
    join(path, sizeof path, cw->dir, CLIP_FILE_META);
    int rc = file_write_atomic(path, json, strlen(json), err);
    free(json);
    if (rc) goto fail;
    free(cw);
    return 0;
fail:
    writer_discard(cw, renamed);
    return -1;
}
