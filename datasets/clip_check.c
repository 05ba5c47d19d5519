/* clip_check.c — validation and statistics of clip folders.
 *
 * clip_check reads every file of a clip and holds it to the format:
 * meta.json first (its frame count is what the other files must agree
 * with), then the two videos by probing (cheap: packets are counted, not
 * decoded), then states.jsonl and captions.jsonl line by line. The first
 * problem is reported, naming the file and, in the JSON lines files, the
 * line (1-based). clip_stats walks a tree of clips for people deciding what
 * a training set covers. */
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

#define META_MAX_BYTES (1 << 20)
#define TIME_EPS 1e-6 /* s: t is frame / fps, written with every digit */
#define STATS_BINS 10
#define STATS_BAR 40

static void path_join(char *out, size_t cap, const char *dir, const char *name) {
    snprintf(out, cap, "%s/%s", dir, name);
}

static int read_meta(const char *dir, clip_meta *m, wm_error *err) {
    char path[4200];
    path_join(path, sizeof path, dir, CLIP_FILE_META);
    if (access(path, F_OK) != 0) return wm_fail(err, "%s: incomplete clip (no %s)", dir, CLIP_FILE_META);
    uint8_t *data;
    size_t len;
    if (file_read_all(path, META_MAX_BYTES, &data, &len, err)) return -1;
    wm_error why;
    int rc = clip_meta_from_json((const char *)data, m, &why);
    free(data);
    return rc ? wm_fail(err, "%s: %s", path, why.msg) : 0;
}

/* Calls fn on each line of path (without its newline), 1-based. Returns
 * the lines read, or -1 when fn or reading failed. */
typedef int (*line_fn)(const char *path, long line_no, const char *line, void *ctx, wm_error *err);

static long for_each_line(const char *path, line_fn fn, void *ctx, wm_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT ? wm_fail(err, "%s: missing", path)
                                   : wm_fail(err, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long no = 0, rc = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        if (n > 0 && line[n - 1] == '\n') line[--n] = '\0';
        if ((long)strlen(line) != (long)n) {
            rc = wm_fail(err, "%s: line %ld: contains a NUL byte", path, no + 1);
            break;
        }
        if (fn(path, ++no, line, ctx, err)) {
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(f)) rc = wm_fail(err, "%s: read error", path);
    free(line);
    fclose(f);
    return rc ? -1 : no;
}

/* ------------------------------------------------------------------ */
/* clip_check                                                          */

typedef struct {
    const clip_meta *m;
    clip_state st;
    double prev_t;
} states_ctx;

static int check_state_line(const char *path, long no, const char *line, void *ctx, wm_error *err) {
    states_ctx *c = ctx;
    const clip_meta *m = c->m;
    if (no > m->frames) return 0; /* counted, and reported as too many once all are */
    wm_error why;
    clip_state *st = &c->st;
    if (clip_state_from_json(line, st, &why)) return wm_fail(err, "%s: line %ld: %s", path, no, why.msg);
    if (st->frame != no - 1) return wm_fail(err, "%s: line %ld: frame %d, expected %ld", path, no, st->frame, no - 1);
    if (no > 1 && !(st->t > c->prev_t))
        return wm_fail(err, "%s: line %ld: t %.3f s is not after line %ld's %.3f s", path, no, st->t, no - 1,
                       c->prev_t);
    double want = (double)st->frame / m->fps;
    if (!(fabs(st->t - want) <= TIME_EPS))
        return wm_fail(err, "%s: line %ld: t %.3f s, expected %.3f s (frame / fps)", path, no, st->t, want);
    if (!st->has_action && st->frame < m->frames - 1)
        return wm_fail(err, "%s: line %ld: frame %d has no action (only the last frame may lack one)", path, no,
                       st->frame);
    if (st->has_action && st->frame == m->frames - 1)
        return wm_fail(err, "%s: line %ld: the last frame has an action (no frame follows it)", path, no);
    c->prev_t = st->t;
    return 0;
}

typedef struct {
    const clip_meta *m;
    double prev_t;
} captions_ctx;

static int check_caption_line(const char *path, long no, const char *line, void *ctx, wm_error *err) {
    captions_ctx *c = ctx;
    const clip_meta *m = c->m;
    clip_caption cap;
    wm_error why;
    if (clip_caption_from_json(line, &cap, &why)) return wm_fail(err, "%s: line %ld: %s", path, no, why.msg);
    double frame = round(cap.t * m->fps), last_t = (double)(m->frames - 1) / m->fps;
    if (!(cap.t >= 0)) return wm_fail(err, "%s: line %ld: t %.3f s is before the clip's start", path, no, cap.t);
    if (frame > m->frames - 1)
        return wm_fail(err, "%s: line %ld: t %.3f s is after the clip's last frame (frame %d, t %.3f s)", path, no,
                       cap.t, m->frames - 1, last_t);
    if (no > 1 && cap.t < c->prev_t)
        return wm_fail(err, "%s: line %ld: t %.3f s is before line %ld's %.3f s (captions are in time order)", path,
                       no, cap.t, no - 1, c->prev_t);
    if (cap.frame != (int)frame)
        return wm_fail(err, "%s: line %ld: frame %d, but t %.3f s is frame %.0f", path, no, cap.frame, cap.t, frame);
    c->prev_t = cap.t;
    return 0;
}

static int check_video(const char *dir, const char *name, const clip_meta *m, const char *codec, wm_error *err) {
    char path[4200];
    path_join(path, sizeof path, dir, name);
    if (access(path, F_OK) != 0) return wm_fail(err, "%s: missing", path);
    video_info info;
    if (video_probe(path, &info, err)) return -1;
    if (info.frames != m->frames)
        return wm_fail(err, "%s: %d frames, but %s says %d", path, info.frames, CLIP_FILE_META, m->frames);
    if (info.width != m->width || info.height != m->height)
        return wm_fail(err, "%s: %dx%d frames, but %s says %dx%d", path, info.width, info.height, CLIP_FILE_META,
                       m->width, m->height);
    if (codec && strcmp(info.codec, codec) != 0)
        return wm_fail(err, "%s: codec %s, expected %s (lossless)", path, info.codec, codec);
    return 0;
}

int clip_check(const char *dir, wm_error *err) {
    char path[4200];
    clip_meta m;
    if (read_meta(dir, &m, err)) return -1;
    path_join(path, sizeof path, dir, CLIP_FILE_META);
    if (m.fps != CLIP_FPS) return wm_fail(err, "%s: fps %d, but clips are %d fps", path, m.fps, CLIP_FPS);
    if (m.frames < 1) return wm_fail(err, "%s: frames %d: a clip has at least one", path, m.frames);
    wm_error why;
    if (scenario_camera_check(&m.camera, &why)) return wm_fail(err, "%s: camera: %s", path, why.msg);
    if (m.camera.width != m.width || m.camera.height != m.height)
        return wm_fail(err, "%s: camera is %dx%d, but the frames are %dx%d", path, m.camera.width, m.camera.height,
                       m.width, m.height);
    if (check_video(dir, CLIP_FILE_FRAMES, &m, "ffv1", err) || check_video(dir, CLIP_FILE_VIDEO, &m, NULL, err))
        return -1;
    states_ctx *sc = MALLOC_CHECK(sizeof *sc); /* a clip_state is 8 KB: not for the stack of a worker thread */
    sc->m = &m;
    sc->prev_t = 0;
    path_join(path, sizeof path, dir, CLIP_FILE_STATES);
    long lines = for_each_line(path, check_state_line, sc, err);
    free(sc);
    if (lines < 0) return -1;
    if (lines != m.frames)
        return wm_fail(err, "%s: %ld lines, but %s says %d frames", path, lines, CLIP_FILE_META, m.frames);
    captions_ctx cc = {.m = &m};
    path_join(path, sizeof path, dir, CLIP_FILE_CAPTIONS);
    return for_each_line(path, check_caption_line, &cc, err) < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* Clip folders under a root                                           */

int clip_check_tree(const char *root, int *n_ok, wm_error *err) {
    *n_ok = 0;
    clip_folder_list l = {0};
    if (clip_folders_find(root, &l, err)) return clip_folders_free(&l), -1;
    if (l.n == 0) return clip_folders_free(&l), wm_fail(err, "%s: no clip folders under it", root);
    int bad = 0;
    if (err) err->msg[0] = '\0';
    for (int i = 0; i < l.n; i++) {
        wm_error one;
        if (clip_check(l.dirs[i], &one) == 0) {
            (*n_ok)++;
            continue;
        }
        if (bad++) wm_error_append(err, "%s", one.msg);
        else wm_fail(err, "%s", one.msg);
    }
    clip_folders_free(&l);
    return bad ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* clip_stats                                                          */

typedef struct {
    char name[SCENARIO_ID_MAX];
    long clips, frames;
} stats_group;

typedef struct {
    char text[CLIP_CAPTION_MAX];
    long count;
} stats_kind;

typedef struct {
    long clips, frames;
    double seconds;
    long source_clips[3], source_frames[3];
    stats_group *scenarios;
    int n_scenarios;
    double *act[3]; /* accel, brake, steer of every frame with an action */
    long n_act, cap_act;
    long gesture_frames[GESTURE_TURN_RIGHT + 1];
    stats_kind *kinds;
    int n_kinds;
    long captions;
    clip_state st; /* the line being read */
} stats;

static int stats_state_line(const char *path, long no, const char *line, void *ctx, wm_error *err) {
    stats *s = ctx;
    wm_error why;
    if (clip_state_from_json(line, &s->st, &why)) return wm_fail(err, "%s: line %ld: %s", path, no, why.msg);
    if (s->st.has_action) {
        if (s->n_act == s->cap_act) {
            s->cap_act = s->cap_act ? 2 * s->cap_act : 1024;
            for (int k = 0; k < 3; k++) s->act[k] = REALLOC_CHECK(s->act[k], (size_t)s->cap_act, sizeof(double));
        }
        s->act[0][s->n_act] = s->st.action.accel;
        s->act[1][s->n_act] = s->st.action.brake;
        s->act[2][s->n_act] = s->st.action.steer;
        s->n_act++;
    }
    int shown[GESTURE_TURN_RIGHT + 1] = {0};
    for (int i = 0; i < s->st.n_actors; i++)
        if (s->st.actors[i].kind == ACTOR_GUARD) shown[s->st.actors[i].gesture] = 1;
    for (int g = 0; g <= GESTURE_TURN_RIGHT; g++) s->gesture_frames[g] += shown[g];
    return 0;
}

/* A caption's kind: numbers become N and quoted text "TEXT", so "a traffic
 * guard 25 m ahead signals STOP" and "... 40 m ..." count together. */
static void caption_kind(const char *text, char *out, size_t cap) {
    size_t n = 0;
    for (const char *p = text; *p && n + 8 < cap;) {
        if (*p >= '0' && *p <= '9') {
            while ((*p >= '0' && *p <= '9') || (*p == '.' && p[1] >= '0' && p[1] <= '9')) p++;
            out[n++] = 'N';
        } else if (*p == '"') {
            const char *close = strchr(p + 1, '"');
            if (!close) break;
            memcpy(out + n, "\"TEXT\"", 6), n += 6;
            p = close + 1;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
}

static int stats_caption_line(const char *path, long no, const char *line, void *ctx, wm_error *err) {
    stats *s = ctx;
    clip_caption c;
    wm_error why;
    if (clip_caption_from_json(line, &c, &why)) return wm_fail(err, "%s: line %ld: %s", path, no, why.msg);
    char kind[CLIP_CAPTION_MAX];
    caption_kind(c.text, kind, sizeof kind);
    s->captions++;
    for (int i = 0; i < s->n_kinds; i++)
        if (strcmp(s->kinds[i].text, kind) == 0) return s->kinds[i].count++, 0;
    s->kinds = REALLOC_CHECK(s->kinds, (size_t)s->n_kinds + 1, sizeof *s->kinds);
    snprintf(s->kinds[s->n_kinds].text, CLIP_CAPTION_MAX, "%s", kind);
    s->kinds[s->n_kinds++].count = 1;
    return 0;
}

static int stats_add_clip(stats *s, const char *dir, wm_error *err) {
    clip_meta m;
    if (read_meta(dir, &m, err)) return -1;
    char path[4200];
    path_join(path, sizeof path, dir, CLIP_FILE_STATES);
    if (for_each_line(path, stats_state_line, s, err) < 0) return -1;
    path_join(path, sizeof path, dir, CLIP_FILE_CAPTIONS);
    if (for_each_line(path, stats_caption_line, s, err) < 0) return -1;
    s->clips++;
    s->frames += m.frames;
    s->seconds += (double)m.frames / m.fps;
    s->source_clips[m.source]++;
    s->source_frames[m.source] += m.frames;
    const char *id = m.scenario_id[0] ? m.scenario_id : "(none)";
    int g = 0;
    while (g < s->n_scenarios && strcmp(s->scenarios[g].name, id) != 0) g++;
    if (g == s->n_scenarios) {
        s->scenarios = REALLOC_CHECK(s->scenarios, (size_t)s->n_scenarios + 1, sizeof *s->scenarios);
        memset(&s->scenarios[g], 0, sizeof s->scenarios[g]);
        snprintf(s->scenarios[g].name, sizeof s->scenarios[g].name, "%s", id);
        s->n_scenarios++;
    }
    s->scenarios[g].clips++;
    s->scenarios[g].frames += m.frames;
    return 0;
}

static int compare_groups(const void *a, const void *b) {
    return strcmp(((const stats_group *)a)->name, ((const stats_group *)b)->name);
}

static int compare_kinds(const void *a, const void *b) {
    const stats_kind *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->text, y->text);
}

static void print_histogram(FILE *out, const char *name, const char *unit, const double *v, long n) {
    if (n == 0) return;
    double lo = v[0], hi = v[0];
    for (long i = 1; i < n; i++) lo = fmin(lo, v[i]), hi = fmax(hi, v[i]);
    if (hi == lo) {
        fprintf(out, "  %s: all %ld at %.3f %s\n", name, n, lo, unit);
        return;
    }
    long bins[STATS_BINS] = {0}, top = 0;
    for (long i = 0; i < n; i++) {
        int b = (int)((v[i] - lo) / (hi - lo) * STATS_BINS);
        bins[b < STATS_BINS ? b : STATS_BINS - 1]++;
    }
    for (int b = 0; b < STATS_BINS; b++) top = bins[b] > top ? bins[b] : top;
    fprintf(out, "  %s (%s), %.3f to %.3f:\n", name, unit, lo, hi);
    for (int b = 0; b < STATS_BINS; b++) {
        char bar[STATS_BAR + 1];
        int len = (int)lround((double)bins[b] * STATS_BAR / (double)top);
        memset(bar, '#', (size_t)len);
        bar[len] = '\0';
        fprintf(out, "    %8.3f .. %8.3f  %-*s %ld\n", lo + (hi - lo) * b / STATS_BINS,
                lo + (hi - lo) * (b + 1) / STATS_BINS, STATS_BAR, bar, bins[b]);
    }
}

static void print_stats(FILE *out, const char *root, const stats *s, const clip_folder_list *skipped) {
    fprintf(out, "%s: %ld clips, %ld frames, %.3f h\n", root, s->clips, s->frames, s->seconds / 3600.0);
    fprintf(out, "by source:\n");
    for (int k = 0; k < 3; k++)
        if (s->source_clips[k])
            fprintf(out, "  %-24s %6ld clips %9ld frames\n", clip_source_name((clip_source)k), s->source_clips[k],
                    s->source_frames[k]);
    fprintf(out, "by scenario:\n");
    for (int g = 0; g < s->n_scenarios; g++)
        fprintf(out, "  %-24s %6ld clips %9ld frames\n", s->scenarios[g].name, s->scenarios[g].clips,
                s->scenarios[g].frames);
    fprintf(out, "actions (%ld frames with one):\n", s->n_act);
    print_histogram(out, "accel", "m/s^2", s->act[0], s->n_act);
    print_histogram(out, "brake", "m/s^2", s->act[1], s->n_act);
    print_histogram(out, "steer", "rad", s->act[2], s->n_act);
    fprintf(out, "guard gestures in view (frames):\n");
    for (int g = GESTURE_STOP; g <= GESTURE_TURN_RIGHT; g++)
        fprintf(out, "  %-24s %9ld\n", gesture_name((gesture)g), s->gesture_frames[g]);
    fprintf(out, "captions (%ld, %d kinds):\n", s->captions, s->n_kinds);
    for (int i = 0; i < s->n_kinds; i++) fprintf(out, "  %6ld  %s\n", s->kinds[i].count, s->kinds[i].text);
    fprintf(out, "skipped: %d incomplete clip folders\n", skipped->n);
    for (int i = 0; i < skipped->n; i++) fprintf(out, "  %s\n", skipped->dirs[i]);
}

int clip_stats(const char *root, FILE *out, wm_error *err) {
    clip_folder_list l = {0}, skipped = {0};
    if (clip_folders_find(root, &l, err)) return clip_folders_free(&l), -1;
    stats *s = CALLOC_CHECK(1, sizeof *s);
    int rc = 0;
    for (int i = 0; i < l.n && rc == 0; i++) {
        if (clip_is_complete(l.dirs[i])) {
            rc = stats_add_clip(s, l.dirs[i], err);
            continue;
        }
        clip_folders_add(&skipped, l.dirs[i]);
    }
    if (rc == 0) {
        if (s->n_scenarios) qsort(s->scenarios, (size_t)s->n_scenarios, sizeof *s->scenarios, compare_groups);
        if (s->n_kinds) qsort(s->kinds, (size_t)s->n_kinds, sizeof *s->kinds, compare_kinds);
        print_stats(out, root, s, &skipped);
        if (fflush(out) != 0 || ferror(out)) rc = wm_fail(err, "clips stats: cannot write the summary: %s", strerror(errno));
    }
    for (int k = 0; k < 3; k++) free(s->act[k]);
    free(s->scenarios);
    free(s->kinds);
    free(s);
    clip_folders_free(&l);
    clip_folders_free(&skipped);
    return rc;
}
