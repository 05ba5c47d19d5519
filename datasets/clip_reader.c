/* clip_reader.c — training windows streamed from clip folders.
 *
 * Dimensions: N frames per window (context + horizon), H x W pixels, B
 * windows in the shuffle buffer, C clips decoded at once (interleave).
 *
 * Three stages, each bounded: the clip order (a permutation of indices,
 * the only thing that grows with the dataset), up to C open clips, each
 * decoding front to back into a ring of its last N frames, and the shuffle
 * buffer of B windows copied out of those rings. A window is cut from a
 * ring as soon as its last frame is decoded, so each frame is decoded once
 * however much windows overlap. */
#include "datasets/clip_reader.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/check.h"
#include "core/fileio.h"
#include "core/rng.h"
#include "datasets/clip.h"
#include "render/image.h"
#include "render/video.h"

/* meta.json is a few hundred bytes; this only stops a wrong file early. */
#define META_FILE_MAX ((size_t)1 << 20)
/* A states line with CLIP_MAX_ACTORS actors is well under 64 KiB. */
#define STATES_LINE_MAX ((size_t)4 << 20)

typedef struct {
    char *path;       /* root/name */
    const char *name; /* inside path: relative to root */
    int frames;       /* meta.frames */
    int windows;      /* in this reader's window geometry */
} clip_entry;

/* A clip being decoded. ring slot f % N holds frame f. */
typedef struct {
    int clip;         /* index into r->clips; -1 when the slot is idle */
    video_reader *vr;
    FILE *states;
    long line;        /* states lines read */
    int decoded;      /* frames decoded so far */
    int next_window;  /* index of the next window to cut */
    uint8_t *ring;    /* (N, H, W, 3) */
    clip_ego *ego;    /* (N) */
    action *act;      /* (N) */
    uint8_t *has_act; /* (N) */
} open_clip;

struct clip_reader {
    clip_reader_config cfg;
    char *root;
    int n, width, height;
    size_t frame_bytes;   /* H * W * 3 */
    clip_entry *clips;    /* this split's complete clips, sorted by path */
    int n_clips;
    clip_reader_stats st;

    /* the epoch */
    wm_rng rng;
    int *order;           /* clips with windows, shuffled */
    int n_order, next_order;
    open_clip *open;      /* (C) */
    int n_open;           /* active slots come first */
    clip_window *buf;     /* (B) slots; the first buf_n hold windows */
    int buf_n;            /* filled */
    clip_window out;      /* the window handed out */
    int stream_done;
    int failed;
    char fail_msg[WM_ERROR_MAX];

    image scratch;        /* the frame being decoded */
    clip_state state;     /* the states line being parsed */
    char *line;
    size_t line_cap;
};

clip_reader_config clip_reader_config_default(void) {
    return (clip_reader_config){.root = NULL, .context = 8, .horizon = 4, .stride = 1, .seed = 0,
                                .split = CLIP_SPLIT_TRAIN, .val_fraction = 0.1,
                                .shuffle_buffer = 64, .interleave = 4};
}

long long clip_reader_frames_bound(const clip_reader_config *cfg) {
    long long n = (long long)cfg->context + cfg->horizon;
    return ((long long)cfg->shuffle_buffer + 1 + cfg->interleave) * n + 1;
}

static const char *base_name(const char *path) {
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') len--;
    const char *p = path + len;
    while (p > path && p[-1] != '/') p--;
    return p;
}

/* FNV-1a alone leaves its high bits poorly mixed for short, similar names
 * ("clip_0001", "clip_0002"), so splitmix64's finaliser spreads them before
 * the top 53 bits become a uniform [0, 1). */
int clip_reader_in_validation(const char *name, double val_fraction) {
    const char *b = base_name(name);
    size_t len = strlen(b);
    while (len > 0 && b[len - 1] == '/') len--;
    uint64_t z = hash_fnv1a64(b, len);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53 < val_fraction;
}

static void held(clip_reader *r, long long frames) {
    r->st.frames_held += frames;
    if (r->st.frames_held > r->st.frames_peak) r->st.frames_peak = r->st.frames_held;
}

/* ---- scanning ----------------------------------------------------------- */

typedef struct {
    clip_entry *all; /* complete clips of both splits */
    int n, cap;
    int skipped;
    int width, height; /* of all[0] */
} scan_result;

static int path_join(char *out, size_t cap, const char *dir, const char *name, wm_error *err) {
    if ((size_t)snprintf(out, cap, "%s/%s", dir, name) >= cap)
        return wm_fail(err, "%s/%s: path too long", dir, name);
    return 0;
}

static int read_meta(const char *dir, clip_meta *m, wm_error *err) {
    char path[4200];
    if (path_join(path, sizeof path, dir, CLIP_FILE_META, err)) return -1;
    uint8_t *data;
    size_t len;
    if (file_read_all(path, META_FILE_MAX, &data, &len, err)) return -1;
    wm_error why;
    int rc = clip_meta_from_json((const char *)data, m, &why);
    free(data);
    if (rc) return wm_fail(err, "%s: %s", path, why.msg);
    return 0;
}

/* Every complete clip is checked, whichever split it falls in, so the train
 * and validation readers of one tree accept or refuse it alike. */
static int add_clip(const char *dir, scan_result *res, wm_error *err) {
    clip_meta m;
    if (read_meta(dir, &m, err)) return -1;
    if (m.fps != CLIP_FPS)
        return wm_fail(err, "%s/%s: fps %d, expected %d", dir, CLIP_FILE_META, m.fps, CLIP_FPS);
    if (m.width < 1 || m.width > IMAGE_MAX_SIDE || m.height < 1 || m.height > IMAGE_MAX_SIDE ||
        m.frames < 0)
        return wm_fail(err, "%s/%s: %dx%d frames, %d of them: out of range", dir, CLIP_FILE_META,
                       m.width, m.height, m.frames);
    if (res->n == 0) {
        res->width = m.width;
        res->height = m.height;
    } else if (m.width != res->width || m.height != res->height) {
        return wm_fail(err, "%s/%s: %dx%d frames, but %s/%s has %dx%d: all clips of a reader must share a size",
                       dir, CLIP_FILE_META, m.width, m.height, res->all[0].path, CLIP_FILE_META,
                       res->width, res->height);
    }
    if (res->n == res->cap) {
        res->cap = res->cap ? 2 * res->cap : 16;
        res->all = REALLOC_CHECK(res->all, (size_t)res->cap, sizeof *res->all);
    }
    res->all[res->n++] = (clip_entry){.path = STRDUP_CHECK(dir), .frames = m.frames};
    return 0;
}

static int scan_tree(const char *root, scan_result *res, wm_error *err) {
    clip_folder_list l;
    int rc = clip_folders_find(root, &l, err);
    for (int i = 0; i < l.n && rc == 0; i++) {
        if (clip_is_complete(l.dirs[i])) rc = add_clip(l.dirs[i], res, err);
        else res->skipped++;
    }
    clip_folders_free(&l);
    return rc;
}

/* ---- windows ------------------------------------------------------------ */

static void window_alloc(clip_reader *r, clip_window *w) {
    w->n = r->n;
    w->width = r->width;
    w->height = r->height;
    w->frames = CALLOC_CHECK((size_t)r->n, r->frame_bytes);
    w->actions = CALLOC_CHECK((size_t)r->n, sizeof *w->actions);
    w->ego = CALLOC_CHECK((size_t)r->n, sizeof *w->ego);
    held(r, r->n);
}

static void window_free(clip_window *w) {
    free(w->frames);
    free(w->actions);
    free(w->ego);
    memset(w, 0, sizeof *w);
}

/* ---- decoding one clip -------------------------------------------------- */

static void clip_close_files(open_clip *oc) {
    video_reader_close(oc->vr);
    oc->vr = NULL;
    if (oc->states) fclose(oc->states);
    oc->states = NULL;
    oc->clip = -1;
}

static int clip_open_files(clip_reader *r, open_clip *oc, int clip, wm_error *err) {
    const clip_entry *c = &r->clips[clip];
    char path[4200];
    oc->clip = clip;
    oc->line = 0;
    oc->decoded = 0;
    oc->next_window = 0;
    if (!oc->ring) {
        oc->ring = CALLOC_CHECK((size_t)r->n, r->frame_bytes);
        oc->ego = CALLOC_CHECK((size_t)r->n, sizeof *oc->ego);
        oc->act = CALLOC_CHECK((size_t)r->n, sizeof *oc->act);
        oc->has_act = CALLOC_CHECK((size_t)r->n, 1);
        held(r, r->n);
    }
    if (path_join(path, sizeof path, c->path, CLIP_FILE_FRAMES, err) ||
        video_reader_open(&oc->vr, path, err))
        return -1;
    if (path_join(path, sizeof path, c->path, CLIP_FILE_STATES, err)) return -1;
    oc->states = fopen(path, "rb");
    if (!oc->states) return wm_fail(err, "%s: cannot open: %s", path, strerror(errno));
    return 0;
}

/* The next line of states.jsonl without its newline in r->line; 0 at the
 * end of the file. */
static int states_line(clip_reader *r, open_clip *oc, wm_error *err) {
    const char *dir = r->clips[oc->clip].path;
    size_t len = 0;
    for (;;) {
        if (r->line_cap - len < 2) {
            if (r->line_cap >= STATES_LINE_MAX)
                return wm_fail(err, "%s/%s: line %ld: longer than %zu bytes", dir, CLIP_FILE_STATES,
                               oc->line + 1, STATES_LINE_MAX);
            r->line_cap = r->line_cap ? 2 * r->line_cap : 4096;
            r->line = REALLOC_CHECK(r->line, r->line_cap, 1);
        }
        if (!fgets(r->line + len, (int)(r->line_cap - len), oc->states)) break;
        len += strlen(r->line + len);
        if (len && r->line[len - 1] == '\n') break;
    }
    if (ferror(oc->states))
        return wm_fail(err, "%s/%s: line %ld: read error", dir, CLIP_FILE_STATES, oc->line + 1);
    if (len == 0) return 0;
    oc->line++;
    while (len && (r->line[len - 1] == '\n' || r->line[len - 1] == '\r')) r->line[--len] = '\0';
    return 1;
}

/* Decodes frame oc->decoded and reads its states line into the ring. */
static int clip_decode_one(clip_reader *r, open_clip *oc, wm_error *err) {
    const clip_entry *c = &r->clips[oc->clip];
    int f = oc->decoded;
    int had = r->scratch.rgb != NULL;
    int rc = video_reader_next(oc->vr, &r->scratch, err);
    if (!had && r->scratch.rgb) held(r, 1);
    if (rc < 0) return -1;
    if (rc == 0)
        return wm_fail(err, "%s/%s: %d frames, but %s says %d", c->path, CLIP_FILE_FRAMES, f,
                       CLIP_FILE_META, c->frames);
    if (r->scratch.width != r->width || r->scratch.height != r->height)
        return wm_fail(err, "%s/%s: frame %d is %dx%d, but %s says %dx%d", c->path,
                       CLIP_FILE_FRAMES, f, r->scratch.width, r->scratch.height, CLIP_FILE_META,
                       r->width, r->height);
    int slot = f % r->n;
    memcpy(oc->ring + (size_t)slot * r->frame_bytes, r->scratch.rgb, r->frame_bytes);

    rc = states_line(r, oc, err);
    if (rc < 0) return -1;
    if (rc == 0)
        return wm_fail(err, "%s/%s: %ld lines, but %s says %d frames", c->path, CLIP_FILE_STATES,
                       oc->line, CLIP_FILE_META, c->frames);
    wm_error why;
    clip_state *st = &r->state;
    if (clip_state_from_json(r->line, st, &why))
        return wm_fail(err, "%s/%s: line %ld: %s", c->path, CLIP_FILE_STATES, oc->line, why.msg);
    if (st->frame != f)
        return wm_fail(err, "%s/%s: line %ld: frame %d, expected %d", c->path, CLIP_FILE_STATES,
                       oc->line, st->frame, f);
    /* The format leaves only the last frame without an action; a gap
     * elsewhere would silently make windows with a made-up action. */
    if (!st->has_action && f < c->frames - 1)
        return wm_fail(err, "%s/%s: line %ld: frame %d has no action (only the last frame may lack one)",
                       c->path, CLIP_FILE_STATES, oc->line, f);
    oc->ego[slot] = (clip_ego){.t = st->t, .x = st->x, .y = st->y, .yaw = st->yaw,
                               .speed = st->speed, .yaw_rate = st->yaw_rate, .accel = st->accel};
    oc->has_act[slot] = (uint8_t)(st->has_action != 0);
    oc->act[slot] = st->has_action ? st->action : (action){0, 0, 0};
    oc->decoded++;
    return 0;
}

/* Reads the clip to its end, so files longer or shorter than meta.json says
 * are caught even where no window reaches. */
static int clip_finish(clip_reader *r, open_clip *oc, wm_error *err) {
    const clip_entry *c = &r->clips[oc->clip];
    while (oc->decoded < c->frames)
        if (clip_decode_one(r, oc, err)) return -1;
    int had = r->scratch.rgb != NULL;
    int rc = video_reader_next(oc->vr, &r->scratch, err);
    if (!had && r->scratch.rgb) held(r, 1);
    if (rc < 0) return -1;
    if (rc == 1)
        return wm_fail(err, "%s/%s: more frames than the %d %s says", c->path, CLIP_FILE_FRAMES,
                       c->frames, CLIP_FILE_META);
    rc = states_line(r, oc, err);
    if (rc < 0) return -1;
    if (rc == 1)
        return wm_fail(err, "%s/%s: line %ld: more lines than the %d frames %s says", c->path,
                       CLIP_FILE_STATES, oc->line, c->frames, CLIP_FILE_META);
    clip_close_files(oc);
    return 0;
}

/* Cuts oc's next window into w, decoding what it needs. */
static int clip_cut_window(clip_reader *r, open_clip *oc, clip_window *w, wm_error *err) {
    const clip_entry *c = &r->clips[oc->clip];
    int start = oc->next_window * r->cfg.stride;
    while (oc->decoded < start + r->n)
        if (clip_decode_one(r, oc, err)) return -1;
    if (!w->frames) window_alloc(r, w);
    for (int i = 0; i < r->n; i++) {
        int slot = (start + i) % r->n;
        memcpy(w->frames + (size_t)i * r->frame_bytes, oc->ring + (size_t)slot * r->frame_bytes,
               r->frame_bytes);
        w->actions[i] = oc->act[slot];
        w->ego[i] = oc->ego[slot];
    }
    w->last_has_action = oc->has_act[(start + r->n - 1) % r->n];
    snprintf(w->clip, sizeof w->clip, "%s", c->name);
    w->start = start;
    oc->next_window++;
    return 0;
}

/* ---- the stream of windows ---------------------------------------------- */

static size_t rng_below(wm_rng *rng, size_t n) { return (size_t)(rng_uniform(rng) * (double)n); }

/* The next window of the interleaved clips into w: 1, 0 when every clip of
 * the epoch is done, -1 on error. */
static int stream_next(clip_reader *r, clip_window *w, wm_error *err) {
    /* Refill idle slots from the epoch's clip order. */
    while (r->n_open < r->cfg.interleave && r->next_order < r->n_order) {
        open_clip *oc = &r->open[r->n_open];
        if (clip_open_files(r, oc, r->order[r->next_order++], err)) return -1;
        r->n_open++;
    }
    if (r->n_open == 0) return 0;
    open_clip *oc = &r->open[rng_below(&r->rng, (size_t)r->n_open)];
    if (clip_cut_window(r, oc, w, err)) return -1;
    if (oc->next_window == r->clips[oc->clip].windows) {
        if (clip_finish(r, oc, err)) return -1;
        /* Keep active slots first; the ring buffers travel with the slot. */
        open_clip done = *oc;
        *oc = r->open[r->n_open - 1];
        r->open[r->n_open - 1] = done;
        r->n_open--;
    }
    return 1;
}

void clip_reader_start_epoch(clip_reader *r, int epoch) {
    for (int i = 0; i < r->cfg.interleave; i++) clip_close_files(&r->open[i]);
    r->n_open = 0;
    r->buf_n = 0;
    r->stream_done = 0;
    r->failed = 0;
    r->st.epoch = epoch;
    r->st.delivered = 0;
    r->rng = rng_fork(r->cfg.seed, (uint64_t)epoch);
    r->n_order = 0;
    for (int i = 0; i < r->n_clips; i++)
        if (r->clips[i].windows > 0) r->order[r->n_order++] = i;
    for (int i = r->n_order - 1; i > 0; i--) {
        int j = (int)rng_below(&r->rng, (size_t)i + 1);
        int t = r->order[i];
        r->order[i] = r->order[j];
        r->order[j] = t;
    }
    r->next_order = 0;
}

void clip_reader_rewind(clip_reader *r) { clip_reader_start_epoch(r, r->st.epoch + 1); }

static int reader_fail(clip_reader *r, wm_error *err) {
    /* Close what was open so no file handle outlives the failure. */
    for (int i = 0; i < r->cfg.interleave; i++) clip_close_files(&r->open[i]);
    r->n_open = 0;
    r->failed = 1;
    snprintf(r->fail_msg, sizeof r->fail_msg, "%s", err ? err->msg : "clip reader failed");
    return -1;
}

int clip_reader_next(clip_reader *r, const clip_window **window, wm_error *err) {
    *window = NULL;
    wm_error local;
    wm_error *e = err ? err : &local;
    if (r->failed) return wm_fail(err, "%s", r->fail_msg);
    while (!r->stream_done && r->buf_n < r->cfg.shuffle_buffer) {
        /* A slot's buffers are allocated by its first cut and reused after. */
        int rc = stream_next(r, &r->buf[r->buf_n], e);
        if (rc < 0) return reader_fail(r, e);
        if (rc == 0) r->stream_done = 1;
        else r->buf_n++;
    }
    if (r->buf_n == 0) return 0;
    size_t j = rng_below(&r->rng, (size_t)r->buf_n);
    /* Swap ownership: the chosen slot goes out, the old out slot's buffers
     * take its place, and the last filled slot closes the gap. */
    clip_window t = r->out;
    r->out = r->buf[j];
    r->buf[j] = r->buf[r->buf_n - 1];
    r->buf[r->buf_n - 1] = t;
    r->buf_n--;
    r->st.delivered++;
    *window = &r->out;
    return 1;
}

void clip_reader_stats_get(const clip_reader *r, clip_reader_stats *st) { *st = r->st; }

void clip_reader_close(clip_reader *r) {
    if (!r) return;
    for (int i = 0; i < r->cfg.interleave; i++) {
        open_clip *oc = &r->open[i];
        clip_close_files(oc);
        free(oc->ring);
        free(oc->ego);
        free(oc->act);
        free(oc->has_act);
    }
    free(r->open);
    for (int i = 0; i < r->cfg.shuffle_buffer; i++) window_free(&r->buf[i]);
    free(r->buf);
    window_free(&r->out);
    for (int i = 0; i < r->n_clips; i++) free(r->clips[i].path);
    free(r->clips);
    free(r->order);
    image_free(&r->scratch);
    free(r->line);
    free(r->root);
    free(r);
}

/* ---- opening ------------------------------------------------------------ */

static int config_check(const clip_reader_config *c, wm_error *err) {
    if (!c->root || !*c->root) return wm_fail(err, "clip reader: no root folder given");
    if (c->context < 1) return wm_fail(err, "clip reader: context %d, must be at least 1", c->context);
    if (c->horizon < 0) return wm_fail(err, "clip reader: horizon %d, must be at least 0", c->horizon);
    if ((long long)c->context + c->horizon > CLIP_READER_MAX_WINDOW)
        return wm_fail(err, "clip reader: context + horizon %lld over %d frames",
                       (long long)c->context + c->horizon, CLIP_READER_MAX_WINDOW);
    if (c->stride < 1) return wm_fail(err, "clip reader: stride %d, must be at least 1", c->stride);
    if (!(c->val_fraction >= 0.0 && c->val_fraction <= 1.0))
        return wm_fail(err, "clip reader: validation fraction %g outside [0, 1]", c->val_fraction);
    if (c->split != CLIP_SPLIT_TRAIN && c->split != CLIP_SPLIT_VALIDATION)
        return wm_fail(err, "clip reader: unknown split %d", (int)c->split);
    if (c->shuffle_buffer < 1 || c->shuffle_buffer > (1 << 20))
        return wm_fail(err, "clip reader: shuffle buffer %d outside [1, %d]", c->shuffle_buffer, 1 << 20);
    if (c->interleave < 1 || c->interleave > 1024)
        return wm_fail(err, "clip reader: interleave %d outside [1, 1024]", c->interleave);
    return 0;
}

static const char *split_name(clip_split s) { return s == CLIP_SPLIT_TRAIN ? "train" : "validation"; }

int clip_reader_open(clip_reader **out, const clip_reader_config *cfg, wm_error *err) {
    *out = NULL;
    if (config_check(cfg, err)) return -1;
    /* "clips/" and "clips" name the same tree and give the same names. */
    char *root = STRDUP_CHECK(cfg->root);
    size_t root_len = strlen(root);
    while (root_len > 1 && root[root_len - 1] == '/') root[--root_len] = '\0';
    scan_result res = {0};
    if (scan_tree(root, &res, err)) {
        for (int i = 0; i < res.n; i++) free(res.all[i].path);
        free(res.all);
        free(root);
        return -1;
    }
    clip_reader *r = CALLOC_CHECK(1, sizeof *r);
    r->cfg = *cfg;
    r->root = root;
    r->cfg.root = r->root;
    r->n = cfg->context + cfg->horizon;
    r->width = res.width;
    r->height = res.height;
    r->frame_bytes = (size_t)r->width * (size_t)r->height * 3;
    r->st.skipped = res.skipped;
    r->st.width = res.width;
    r->st.height = res.height;
    /* Keep this split's clips; names are relative to root (the root's own
     * name when root is itself a clip). */
    r->clips = CALLOC_CHECK(res.n ? (size_t)res.n : 1, sizeof *r->clips);
    for (int i = 0; i < res.n; i++) {
        clip_entry c = res.all[i];
        c.name = strlen(c.path) > root_len + 1 ? c.path + root_len + 1 : base_name(c.path);
        int val = clip_reader_in_validation(c.name, cfg->val_fraction);
        if (val != (cfg->split == CLIP_SPLIT_VALIDATION)) {
            r->st.clips_other_split++;
            free(c.path);
            continue;
        }
        c.windows = c.frames >= r->n ? (c.frames - r->n) / cfg->stride + 1 : 0;
        if (c.windows == 0) r->st.clips_short++;
        r->st.windows += c.windows;
        r->clips[r->n_clips++] = c;
    }
    free(res.all);
    r->st.clips = r->n_clips;
    r->order = CALLOC_CHECK(r->n_clips ? (size_t)r->n_clips : 1, sizeof *r->order);
    r->open = CALLOC_CHECK((size_t)cfg->interleave, sizeof *r->open);
    for (int i = 0; i < cfg->interleave; i++) r->open[i].clip = -1;
    r->buf = CALLOC_CHECK((size_t)cfg->shuffle_buffer, sizeof *r->buf);
    if (r->st.windows == 0) {
        wm_fail(err, "%s: no windows of %d frames in the %s split (%d clips there, %d of them shorter; "
                "%d in the other split; %d incomplete skipped)",
                r->root, r->n, split_name(cfg->split), r->st.clips, r->st.clips_short,
                r->st.clips_other_split, r->st.skipped);
        clip_reader_close(r);
        return -1;
    }
    clip_reader_start_epoch(r, 0);
    *out = r;
    return 0;
}
