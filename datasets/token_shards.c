/* token_shards.c — clips as frame tokens + actions + scene slots in binary
 * shards (datasets/token_shards.h; the layout in datasets/SHARDS.md).
 *
 * Dimensions: F frames of a clip, B frames encoded at once, P = hz * wz
 * image tokens per frame, A action features, K scene slots of S features,
 * H x W pixels. */
#include "datasets/token_shards.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "core/clock.h"
#include "core/fileio.h"
#include "datasets/clip_reader.h"
#include "render/image.h"
#include "render/video.h"
#include "worldmodel/checkpoint.h"
#include "worldmodel/tokenizer.h"

#define HEADER_BYTES (TOKEN_SHARDS_HEADER_INTS * 4)
#define SHARD_MAX_BYTES ((size_t)1 << 34)   /* 16 GiB: larger files are refused */
#define TEXT_MAX_BYTES ((size_t)1 << 30)

/* Header slots (int32, little-endian). */
enum {
    H_MAGIC,
    H_VERSION,
    H_TOKENIZER_LO,
    H_TOKENIZER_HI,
    H_WIDTH,
    H_HEIGHT,
    H_HZ,
    H_WZ,
    H_VOCAB,
    H_ACTIONS,
    H_SLOTS,
    H_SLOT_FEATURES,
    H_RECORDS,
    H_FRAMES,
    H_FPS,
    H_USED /* slots from here are zero */
};

/* ---- features ------------------------------------------------------------ */

void token_actions_from_state(const clip_state *st, float *a) {
    a[TOKEN_ACTION_ACCEL] = st->has_action ? (float)st->action.accel : 0.0f;
    a[TOKEN_ACTION_BRAKE] = st->has_action ? (float)st->action.brake : 0.0f;
    a[TOKEN_ACTION_STEER] = st->has_action ? (float)st->action.steer : 0.0f;
    a[TOKEN_ACTION_SPEED] = (float)st->speed;
}

void token_slots_from_state(const clip_state *st, int K, float *slots) {
    memset(slots, 0, (size_t)K * TOKEN_SHARDS_SLOT_FEATURES * sizeof *slots);
    int order[CLIP_MAX_ACTORS], n = st->n_actors < CLIP_MAX_ACTORS ? st->n_actors : CLIP_MAX_ACTORS;
    double d[CLIP_MAX_ACTORS];
    for (int i = 0; i < n; i++) {
        order[i] = i;
        d[i] = hypot(st->actors[i].x, st->actors[i].y);
    }
    /* Insertion sort by distance: stable, so ties keep the file's order. */
    for (int i = 1; i < n; i++) {
        int o = order[i], j = i;
        for (; j > 0 && d[order[j - 1]] > d[o]; j--) order[j] = order[j - 1];
        order[j] = o;
    }
    for (int k = 0; k < K && k < n; k++) {
        const clip_actor *a = &st->actors[order[k]];
        float *s = slots + (size_t)k * TOKEN_SHARDS_SLOT_FEATURES;
        s[TOKEN_SLOT_PRESENT] = 1.0f;
        s[TOKEN_SLOT_X] = (float)a->x;
        s[TOKEN_SLOT_Y] = (float)a->y;
        s[TOKEN_SLOT_HEADING] = (float)a->heading;
        s[TOKEN_SLOT_SPEED] = (float)a->speed;
        s[TOKEN_SLOT_KIND] = (float)(a->kind + 1);
        s[TOKEN_SLOT_GESTURE] = a->kind == ACTOR_GUARD ? (float)a->gesture : 0.0f;
        s[TOKEN_SLOT_BRAKING] = a->kind == ACTOR_VEHICLE && a->braking ? 1.0f : 0.0f;
    }
}

/* ---- byte buffers --------------------------------------------------------- */

typedef struct {
    uint8_t *p;
    size_t len, cap;
} buf;

static void buf_put(buf *b, const void *data, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 16;
        while (cap < b->len + n) cap *= 2;
        b->p = REALLOC_CHECK(b->p, cap, 1);
        b->cap = cap;
    }
    if (data) memcpy(b->p + b->len, data, n);
    else memset(b->p + b->len, 0, n);
    b->len += n;
}
static void buf_i32(buf *b, int32_t v) { buf_put(b, &v, 4); }
static void buf_pad4(buf *b) {
    if (b->len % 4) buf_put(b, NULL, 4 - b->len % 4);
}

static size_t pad4(size_t n) { return (n + 3) & ~(size_t)3; }

/* ---- writing ------------------------------------------------------------- */

token_shards_write_config token_shards_write_config_default(void) {
    return (token_shards_write_config){
        .slots = TOKEN_SHARDS_DEFAULT_SLOTS, .shard_frames = TOKEN_SHARDS_DEFAULT_FRAMES, .batch = 16};
}

typedef struct {
    const token_shards_write_config *cfg;
    tokenizer tk;
    uint64_t tk_checksum;
    int P;
    buf body;          /* the current shard's records */
    int body_records, body_frames;
    json_t *shards, *clips; /* index.json's lists */
    token_shards_report *rep;
} writer;

static void shard_path(char *out, size_t n, const char *root, int k) {
    snprintf(out, n, "%s/shard_%05d.wmts", root, k);
}

static int flush_shard(writer *w, wm_error *err) {
    if (!w->body_records) return 0;
    const token_shards_write_config *c = w->cfg;
    int32_t h[TOKEN_SHARDS_HEADER_INTS] = {0};
    h[H_MAGIC] = TOKEN_SHARDS_MAGIC;
    h[H_VERSION] = TOKEN_SHARDS_VERSION;
    h[H_TOKENIZER_LO] = (int32_t)(uint32_t)w->tk_checksum;
    h[H_TOKENIZER_HI] = (int32_t)(uint32_t)(w->tk_checksum >> 32);
    h[H_WIDTH] = w->tk.cfg.width;
    h[H_HEIGHT] = w->tk.cfg.height;
    h[H_HZ] = w->tk.hz;
    h[H_WZ] = w->tk.wz;
    h[H_VOCAB] = w->tk.cfg.codebook_size;
    h[H_ACTIONS] = TOKEN_SHARDS_ACTIONS;
    h[H_SLOTS] = c->slots;
    h[H_SLOT_FEATURES] = TOKEN_SHARDS_SLOT_FEATURES;
    h[H_RECORDS] = w->body_records;
    h[H_FRAMES] = w->body_frames;
    h[H_FPS] = CLIP_FPS;
    buf file = {0};
    buf_put(&file, h, sizeof h);
    buf_put(&file, w->body.p, w->body.len);
    uint64_t sum = hash_fnv1a64(file.p, file.len), total = file.len + TOKEN_SHARDS_TRAILER_BYTES;
    buf_put(&file, &sum, 8);
    buf_put(&file, &total, 8);

    int k = w->rep->shards;
    char path[4200], name[64];
    shard_path(path, sizeof path, c->out, k);
    snprintf(name, sizeof name, "shard_%05d.wmts", k);
    atomic_file af;
    int rc = atomic_file_open(&af, path, err);
    if (!rc) {
        if (fwrite(file.p, 1, file.len, af.f) != file.len) {
            atomic_file_abort(&af);
            rc = wm_fail(err, "%s: cannot write: %s", path, strerror(errno));
        } else {
            rc = atomic_file_commit(&af, err);
        }
    }
    free(file.p);
    if (rc) return -1;
    char hex[32];
    snprintf(hex, sizeof hex, "0x%016llx", (unsigned long long)sum);
    json_array_append_new(w->shards, json_pack("{s:s, s:i, s:i, s:I, s:s}", "file", name, "clips", w->body_records,
                                               "frames", w->body_frames, "bytes", (json_int_t)total, "checksum", hex));
    w->rep->shards++;
    w->rep->bytes += (long long)total;
    w->body.len = 0;
    w->body_records = w->body_frames = 0;
    return 0;
}

static const char *last_component(const char *path) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    const char *s = path + n;
    while (s > path && s[-1] != '/') s--;
    return s;
}

/* The clip's name relative to the data root (its folder's own name when it
 * is the root). */
static void clip_name(const char *root, const char *dir, char *out, size_t n) {
    size_t r = strlen(root);
    while (r > 1 && root[r - 1] == '/') r--;
    if (strncmp(dir, root, r) == 0 && dir[r] == '/' && dir[r + 1]) snprintf(out, n, "%s", dir + r + 1);
    else {
        snprintf(out, n, "%s", last_component(dir));
        size_t m = strlen(out);
        while (m > 1 && out[m - 1] == '/') out[--m] = 0;
    }
}

/* One clip: meta, states, frames, encoded into one record of w->body. */
static int add_clip(writer *w, const char *dir, const char *name, int *frames_out, int *validation_out,
                    wm_error *err) {
    const token_shards_write_config *c = w->cfg;
    char path[4200];
    uint8_t *text = NULL;
    size_t len;
    clip_meta meta;
    snprintf(path, sizeof path, "%s/%s", dir, CLIP_FILE_META);
    if (file_read_all(path, TEXT_MAX_BYTES, &text, &len, err)) return -1;
    int rc = clip_meta_from_json((const char *)text, &meta, err);
    free(text);
    if (rc) return wm_error_prefix(err, "%s: ", path);
    if (meta.width != w->tk.cfg.width || meta.height != w->tk.cfg.height)
        return wm_fail(err, "%s: frames are %dx%d, but %s takes %dx%d", path, meta.width, meta.height, c->tokenizer,
                       w->tk.cfg.width, w->tk.cfg.height);
    const int F = meta.frames, P = w->P, K = c->slots, S = TOKEN_SHARDS_SLOT_FEATURES, A = TOKEN_SHARDS_ACTIONS;
    if (F < 1) return wm_fail(err, "%s: %d frames", path, F);
    int validation = clip_reader_in_validation(name, TOKEN_SHARDS_VAL_FRACTION);
    /* states.jsonl first: it holds one line per frame, so a meta.json that
     * claims more frames than the clip has fails here, before F sizes any
     * allocation. */
    clip_state *states = NULL;
    if (clip_states_read(dir, F, &states, err)) return -1;

    float *actions = MALLOC_CHECK((size_t)F * A * sizeof(float));
    float *slots = MALLOC_CHECK(((size_t)F * K * S + 1) * sizeof(float));
    uint16_t *codes = MALLOC_CHECK((size_t)F * P * sizeof(uint16_t));
    float *x = MALLOC_CHECK((size_t)c->batch * 3 * meta.width * meta.height * sizeof(float));
    int *cb = MALLOC_CHECK((size_t)c->batch * P * sizeof(int));
    video_reader *vr = NULL;
    image img = {0};
    rc = -1;

    for (int i = 0; i < F; i++) {
        token_actions_from_state(&states[i], actions + (size_t)i * A);
        token_slots_from_state(&states[i], K, slots + (size_t)i * K * S);
    }

    /* frames.mkv: every frame, B at a time. */
    snprintf(path, sizeof path, "%s/%s", dir, CLIP_FILE_FRAMES);
    if (video_reader_open(&vr, path, err)) goto done;
    {
        const size_t plane = (size_t)meta.width * meta.height;
        int got = 0, in_batch = 0;
        for (;;) {
            int r = video_reader_next(vr, &img, err);
            if (r < 0) goto done;
            if (r == 1) {
                if (got + in_batch >= F) {
                    wm_fail(err, "%s: more than the %d frames meta.json says", path, F);
                    goto done;
                }
                if (img.width != meta.width || img.height != meta.height) {
                    wm_fail(err, "%s: frame %d is %dx%d, but meta.json says %dx%d", path, got + in_batch, img.width,
                            img.height, meta.width, meta.height);
                    goto done;
                }
                float *xb = x + (size_t)in_batch * 3 * plane;
                const uint8_t *rgb = img.rgb;
                for (size_t p = 0; p < plane; p++)
                    for (int ch = 0; ch < 3; ch++) xb[ch * plane + p] = rgb[3 * p + ch] / 255.0f;
                in_batch++;
            }
            if (in_batch == c->batch || (r == 0 && in_batch > 0)) {
                tokenizer_encode(&w->tk, x, in_batch, cb);
                for (size_t j = 0; j < (size_t)in_batch * P; j++) codes[(size_t)got * P + j] = (uint16_t)cb[j];
                got += in_batch;
                in_batch = 0;
            }
            if (r == 0) break;
        }
        if (got != F) {
            wm_fail(err, "%s: %d frames, but meta.json says %d", path, got, F);
            goto done;
        }
    }

    /* The record. */
    if (w->body_records && w->body_frames + F > c->shard_frames && flush_shard(w, err)) goto done;
    buf *b = &w->body;
    int32_t name_len = (int32_t)strlen(name);
    buf_i32(b, name_len);
    buf_put(b, name, (size_t)name_len);
    buf_pad4(b);
    buf_i32(b, validation);
    buf_i32(b, F);
    buf_put(b, codes, (size_t)F * P * sizeof(uint16_t));
    buf_pad4(b);
    buf_put(b, actions, (size_t)F * A * sizeof(float));
    buf_put(b, slots, (size_t)F * K * S * sizeof(float));
    json_array_append_new(w->clips, json_pack("{s:s, s:i, s:i, s:s}", "name", name, "shard", w->rep->shards,
                                              "frames", F, "split", validation ? "validation" : "train"));
    w->body_records++;
    w->body_frames += F;
    *frames_out = F;
    *validation_out = validation;
    rc = 0;
done:
    video_reader_close(vr);
    image_free(&img);
    free(actions), free(slots), free(codes), free(states), free(x), free(cb);
    return rc;
}

static void progress_line(const token_shards_write_config *c, int done, int total, double t0) {
    double dt = clock_now_s() - t0, rate = dt > 0 ? done / dt : 0;
    double eta = rate > 0 ? (total - done) / rate : 0;
    fprintf(stderr, "\rtokenize: %d/%d clips, %.1f clips/s, ETA %.0f s   ", done, total, rate, eta);
    (void)c;
}

static int write_index(writer *w, wm_error *err) {
    const token_shards_write_config *c = w->cfg;
    const token_shards_report *r = w->rep;
    char hex[32], path[4200];
    snprintf(hex, sizeof hex, "0x%016llx", (unsigned long long)w->tk_checksum);
    json_t *root = json_pack(
        "{s:s, s:i, s:{s:s, s:s, s:i, s:i, s:i, s:i, s:i}, s:i, s:i, s:i, s:i, s:i,"
        " s:{s:i, s:I, s:i, s:I, s:i, s:I}, s:O, s:O}",
        "format", "wmsim token shards", "format_version", TOKEN_SHARDS_VERSION,
        "tokenizer", "path", c->tokenizer, "checksum", hex, "width", w->tk.cfg.width, "height", w->tk.cfg.height,
        "hz", w->tk.hz, "wz", w->tk.wz, "vocab", w->tk.cfg.codebook_size,
        "actions", TOKEN_SHARDS_ACTIONS, "slots", c->slots, "slot_features", TOKEN_SHARDS_SLOT_FEATURES,
        "fps", CLIP_FPS, "max_shard_frames", c->shard_frames,
        "totals", "clips", r->clips, "frames", (json_int_t)r->frames, "train_clips", r->train_clips, "train_frames",
        (json_int_t)r->train_frames, "validation_clips", r->validation_clips, "validation_frames",
        (json_int_t)r->validation_frames,
        "shards", w->shards, "clips", w->clips);
    if (!root) abort(); /* a programming error in the pack format */
    snprintf(path, sizeof path, "%s/%s", c->out, TOKEN_SHARDS_INDEX);
    return file_write_json(path, root, JSON_INDENT(1) | JSON_PRESERVE_ORDER, err);
}

int token_shards_write(const token_shards_write_config *c, token_shards_report *rep, wm_error *err) {
    memset(rep, 0, sizeof *rep);
    if (!c->data || !c->tokenizer || !c->out) return wm_fail(err, "token shards: data, tokenizer and out are needed");
    if (c->slots < 0 || c->slots > TOKEN_SHARDS_MAX_SLOTS)
        return wm_fail(err, "token shards: slots %d outside [0, %d]", c->slots, TOKEN_SHARDS_MAX_SLOTS);
    if (c->shard_frames < 1 || c->batch < 1) return wm_fail(err, "token shards: shard_frames and batch must be >= 1");
    double t0 = clock_now_s();
    writer w = {.cfg = c, .rep = rep};
    ckpt_info info;
    if (ckpt_inspect(c->tokenizer, CKPT_KIND_MODEL, CKPT_MODEL_TOKENIZER, &info, err)) return -1;
    w.tk_checksum = info.checksum;
    ckpt_info_free(&info);
    if (tokenizer_load(&w.tk, c->tokenizer, c->batch, err)) return -1;
    w.P = w.tk.hz * w.tk.wz;
    if (w.tk.cfg.codebook_size > 65536) {
        tokenizer_free(&w.tk);
        return wm_fail(err, "%s: %d codes do not fit a token shard's uint16", c->tokenizer, w.tk.cfg.codebook_size);
    }
    clip_folder_list dirs = {0};
    int rc = -1;
    char path[4200];
    w.shards = json_array();
    w.clips = json_array();
    if (clip_folders_find(c->data, &dirs, err)) goto done;
    if (dir_create(c->out, err)) goto done;
    snprintf(path, sizeof path, "%s/%s", c->out, TOKEN_SHARDS_INDEX);
    if (unlink(path) != 0 && errno != ENOENT) {
        wm_fail(err, "%s: cannot remove: %s", path, strerror(errno));
        goto done;
    }
    for (int i = 0; i < dirs.n; i++) {
        if (!clip_is_complete(dirs.dirs[i])) {
            rep->skipped++;
            continue;
        }
        char name[TOKEN_SHARDS_NAME_MAX];
        clip_name(c->data, dirs.dirs[i], name, sizeof name);
        int F = 0, val = 0;
        if (add_clip(&w, dirs.dirs[i], name, &F, &val, err)) goto done;
        rep->clips++, rep->frames += F;
        if (val) rep->validation_clips++, rep->validation_frames += F;
        else rep->train_clips++, rep->train_frames += F;
        if (c->progress) progress_line(c, i + 1, dirs.n, t0);
    }
    if (!rep->clips) {
        wm_fail(err, "%s: no complete clips (%d incomplete skipped)", c->data, rep->skipped);
        goto done;
    }
    if (flush_shard(&w, err)) goto done;
    /* Shards of an earlier, longer run. */
    for (int k = rep->shards;; k++) {
        shard_path(path, sizeof path, c->out, k);
        if (unlink(path) != 0) break;
    }
    if (write_index(&w, err)) goto done;
    rc = 0;
done:
    if (c->progress) fprintf(stderr, "\r%*s\r", 72, "");
    rep->seconds = clock_now_s() - t0;
    clip_folders_free(&dirs);
    json_decref(w.shards), json_decref(w.clips);
    free(w.body.p);
    tokenizer_free(&w.tk);
    return rc;
}

/* ---- reading one shard ---------------------------------------------------- */

void token_shard_file_free(token_shard_file *f) {
    if (!f) return;
    free(f->clips), free(f->data);
    memset(f, 0, sizeof *f);
}

static int32_t get_i32(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t get_u64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Walks the n records of d[HEADER_BYTES, end); fills clips when not NULL.
 * Returns 0 when they end exactly at end, 1 when one runs past it (*bad its
 * index), 2 when a field is invalid (err set), 3 when bytes are left. */
static int walk_records(const char *path, const uint8_t *d, size_t end, const token_shards_info *h, int n,
                        token_clip *clips, long long *frames, int *bad, wm_error *err) {
    const size_t P = (size_t)h->hz * h->wz, A = (size_t)h->actions, KS = (size_t)h->slots * h->slot_features;
    size_t at = HEADER_BYTES;
    *frames = 0;
    for (int r = 0; r < n; r++) {
        *bad = r;
        if (end - at < 4) return 1;
        int32_t L = get_i32(d + at);
        if (L < 1 || L >= TOKEN_SHARDS_NAME_MAX)
            return wm_fail(err, "%s: record %d: name length %d outside [1, %d] (file corrupt)", path, r, L,
                           TOKEN_SHARDS_NAME_MAX - 1), 2;
        if (end - at < 4 + pad4((size_t)L) + 8) return 1;
        const char *name = (const char *)d + at + 4;
        at += 4 + pad4((size_t)L);
        int32_t split = get_i32(d + at), F = get_i32(d + at + 4);
        at += 8;
        if (split != 0 && split != 1)
            return wm_fail(err, "%s: record %d: split %d is neither 0 nor 1 (file corrupt)", path, r, split), 2;
        if (F < 1) return wm_fail(err, "%s: record %d: %d frames (file corrupt)", path, r, F), 2;
        size_t code_bytes = pad4((size_t)F * P * 2), float_bytes = (size_t)F * (A + KS) * 4;
        if (end - at < code_bytes || end - at - code_bytes < float_bytes) return 1;
        const uint16_t *codes = (const uint16_t *)(d + at);
        for (size_t j = 0; j < (size_t)F * P; j++)
            if (codes[j] >= h->vocab)
                return wm_fail(err, "%s: record %d: code %u at frame %zu is outside the %d-code vocabulary (file corrupt)",
                               path, r, codes[j], j / P, h->vocab), 2;
        if (clips) {
            token_clip *c = &clips[r];
            memset(c, 0, sizeof *c);
            memcpy(c->name, name, (size_t)L);
            c->name[L] = 0;
            c->validation = split;
            c->frames = F;
            c->codes = codes;
            c->actions = (const float *)(d + at + code_bytes);
            c->slots = c->actions + (size_t)F * A;
        }
        at += code_bytes + float_bytes;
        *frames += F;
    }
    return at == end ? 0 : 3;
}

int token_shard_read(const char *path, token_shard_file *out, wm_error *err) {
    memset(out, 0, sizeof *out);
    uint8_t *d;
    size_t size;
    if (file_read_all(path, SHARD_MAX_BYTES, &d, &size, err)) return -1;
    token_shards_info *h = &out->hdr;
    int rc = -1;
    if (size >= 4 && get_i32(d) != TOKEN_SHARDS_MAGIC) {
        wm_fail(err, "%s: not a wmsim token shard (magic 0x%08x, expected %d)", path, (unsigned)get_i32(d),
                TOKEN_SHARDS_MAGIC);
        goto done;
    }
    if (size < HEADER_BYTES + TOKEN_SHARDS_TRAILER_BYTES) {
        wm_fail(err, "%s: truncated: %zu bytes, the header and trailer need %d", path, size,
                HEADER_BYTES + TOKEN_SHARDS_TRAILER_BYTES);
        goto done;
    }
    int32_t version = get_i32(d + 4 * H_VERSION);
    if (version > TOKEN_SHARDS_VERSION) {
        wm_fail(err, "%s: format version %d is newer than this wmsim reads (%d)", path, version, TOKEN_SHARDS_VERSION);
        goto done;
    }
    if (version < 1) {
        wm_fail(err, "%s: format version %d is not valid (file corrupt)", path, version);
        goto done;
    }
    const size_t end = size - TOKEN_SHARDS_TRAILER_BYTES;
    uint64_t stored = get_u64(d + end), length = get_u64(d + end + 8);
    int complete = length == size;
    if (complete && stored != hash_fnv1a64(d, end)) {
        wm_fail(err, "%s: checksum mismatch (file corrupt)", path);
        goto done;
    }
    int32_t v[TOKEN_SHARDS_HEADER_INTS];
    memcpy(v, d, sizeof v);
    h->tokenizer_checksum = (uint64_t)(uint32_t)v[H_TOKENIZER_LO] | (uint64_t)(uint32_t)v[H_TOKENIZER_HI] << 32;
    h->width = v[H_WIDTH], h->height = v[H_HEIGHT];
    h->hz = v[H_HZ], h->wz = v[H_WZ], h->vocab = v[H_VOCAB];
    h->actions = v[H_ACTIONS], h->slots = v[H_SLOTS], h->slot_features = v[H_SLOT_FEATURES];
    h->shards = 1;
    int n = v[H_RECORDS];
    const char *what = NULL;
    if (h->width < 1 || h->height < 1) what = "frame size";
    else if (h->hz < 1 || h->wz < 1 || (long long)h->hz * h->wz > 1 << 20) what = "token grid";
    else if (h->vocab < 1 || h->vocab > 65536) what = "vocabulary";
    else if (h->actions != TOKEN_SHARDS_ACTIONS) what = "action features";
    else if (h->slots < 0 || h->slots > TOKEN_SHARDS_MAX_SLOTS) what = "scene slots";
    else if (h->slot_features != TOKEN_SHARDS_SLOT_FEATURES) what = "slot features";
    else if (n < 1 || v[H_FRAMES] < 1) what = "record or frame count";
    for (int i = H_USED; i < TOKEN_SHARDS_HEADER_INTS && !what; i++)
        if (v[i]) what = "padding";
    if (what) {
        wm_fail(err, "%s: header: bad %s (file corrupt)", path, what);
        goto done;
    }
    out->clips = CALLOC_CHECK((size_t)n, sizeof *out->clips);
    long long frames;
    int bad;
    int w = walk_records(path, d, end, h, n, out->clips, &frames, &bad, err);
    if (w == 2) goto done;
    if (w == 1 || (!complete && w == 3 && length > size)) {
        if (w == 1) wm_fail(err, "%s: truncated: %zu bytes, record %d of %d runs past the end", path, size, bad, n);
        else wm_fail(err, "%s: truncated: %zu bytes, its records and trailer need more", path, size);
        goto done;
    }
    if (w == 3) {
        wm_fail(err, "%s: %zu bytes, more than its %d records and trailer take (file corrupt)", path, size, n);
        goto done;
    }
    if (!complete) {
        wm_fail(err, "%s: the trailer says %llu bytes, the file has %zu (file corrupt)", path,
                (unsigned long long)length, size);
        goto done;
    }
    if (frames != v[H_FRAMES]) {
        wm_fail(err, "%s: header: %d frames, the records hold %lld (file corrupt)", path, v[H_FRAMES], frames);
        goto done;
    }
    out->n = n;
    out->data = d;
    out->checksum = stored;
    out->bytes = (long long)size;
    h->clips = n;
    h->frames = frames;
    for (int r = 0; r < n; r++) {
        if (out->clips[r].validation) h->validation_clips++, h->validation_frames += out->clips[r].frames;
        else h->train_clips++, h->train_frames += out->clips[r].frames;
    }
    rc = 0;
done:
    if (rc) {
        free(d);
        free(out->clips);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

/* ---- reading a folder ----------------------------------------------------- */

struct token_shards {
    char root[4096];
    token_shards_info info;
    char **paths;       /* (shards) */
    long long *bytes;   /* (shards) as index.json lists them */
    token_shard_file cur;
    int cur_shard;      /* loaded in cur; -1 none */
    int next_shard, next_record;
};

static int index_int(json_t *o, const char *key, const char *path, const char *where, long long *out,
                     wm_error *err) {
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v)) return wm_fail(err, "%s: %s%s: missing or not an integer", path, where, key);
    *out = json_integer_value(v);
    return 0;
}

static int index_u64_hex(json_t *o, const char *key, const char *path, const char *where, uint64_t *out,
                         wm_error *err) {
    const char *s = json_string_value(json_object_get(o, key));
    char *e;
    if (!s || strncmp(s, "0x", 2) != 0) return wm_fail(err, "%s: %s%s: missing or not a 0x... string", path, where, key);
    errno = 0;
    *out = strtoull(s + 2, &e, 16);
    if (errno || *e || e == s + 2) return wm_fail(err, "%s: %s%s: not a hex number: '%s'", path, where, key, s);
    return 0;
}

void token_shards_close(token_shards *ts) {
    if (!ts) return;
    for (int i = 0; i < ts->info.shards; i++) free(ts->paths[i]);
    free(ts->paths), free(ts->bytes);
    token_shard_file_free(&ts->cur);
    free(ts);
}

static int same_header(const token_shards_info *a, const token_shards_info *b) {
    return a->tokenizer_checksum == b->tokenizer_checksum && a->width == b->width && a->height == b->height &&
           a->hz == b->hz && a->wz == b->wz && a->vocab == b->vocab && a->actions == b->actions &&
           a->slots == b->slots && a->slot_features == b->slot_features;
}

int token_shards_open(token_shards **out, const char *root, wm_error *err) {
    *out = NULL;
    token_shards *ts = CALLOC_CHECK(1, sizeof *ts);
    snprintf(ts->root, sizeof ts->root, "%s", root);
    ts->cur_shard = -1;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", root, TOKEN_SHARDS_INDEX);
    uint8_t *text;
    size_t len;
    if (access(path, F_OK) != 0 && errno == ENOENT) {
        free(ts);
        return wm_fail(err, "%s: missing: not a complete folder of token shards (wmsim worldmodel tokenize writes it last)",
                       path);
    }
    if (file_read_all(path, TEXT_MAX_BYTES, &text, &len, err)) return free(ts), -1;
    json_error_t je;
    json_t *j = json_loadb((const char *)text, len, 0, &je);
    free(text);
    int rc = -1;
    token_shards_info *in = &ts->info;
    if (!j || !json_is_object(j)) {
        wm_fail(err, "%s: line %d: not a JSON object: %s", path, je.line, j ? "" : je.text);
        goto done;
    }
    long long version = 0, x = 0;
    if (index_int(j, "format_version", path, "", &version, err)) goto done;
    if (version != TOKEN_SHARDS_VERSION) {
        wm_fail(err, "%s: format_version %lld, this wmsim reads %d", path, version, TOKEN_SHARDS_VERSION);
        goto done;
    }
    json_t *tk = json_object_get(j, "tokenizer"), *totals = json_object_get(j, "totals");
    json_t *shards = json_object_get(j, "shards");
    if (!json_is_object(tk) || !json_is_object(totals) || !json_is_array(shards) || json_array_size(shards) < 1) {
        wm_fail(err, "%s: tokenizer, totals or shards missing (file corrupt)", path);
        goto done;
    }
    if (index_u64_hex(tk, "checksum", path, "tokenizer.", &in->tokenizer_checksum, err)) goto done;
    struct {
        json_t *o;
        const char *where, *key;
        int *dst;
    } ints[] = {{tk, "tokenizer.", "width", &in->width},  {tk, "tokenizer.", "height", &in->height},
                {tk, "tokenizer.", "hz", &in->hz},        {tk, "tokenizer.", "wz", &in->wz},
                {tk, "tokenizer.", "vocab", &in->vocab},  {j, "", "actions", &in->actions},
                {j, "", "slots", &in->slots},             {j, "", "slot_features", &in->slot_features},
                {totals, "totals.", "clips", &in->clips}, {totals, "totals.", "train_clips", &in->train_clips},
                {totals, "totals.", "validation_clips", &in->validation_clips}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        if (index_int(ints[i].o, ints[i].key, path, ints[i].where, &x, err)) goto done;
        *ints[i].dst = (int)x;
    }
    if (index_int(totals, "frames", path, "totals.", &in->frames, err) ||
        index_int(totals, "train_frames", path, "totals.", &in->train_frames, err) ||
        index_int(totals, "validation_frames", path, "totals.", &in->validation_frames, err))
        goto done;
    in->shards = (int)json_array_size(shards);
    ts->paths = CALLOC_CHECK((size_t)in->shards, sizeof *ts->paths);
    ts->bytes = CALLOC_CHECK((size_t)in->shards, sizeof *ts->bytes);
    token_shards_info sum = {0};
    for (int k = 0; k < in->shards; k++) {
        json_t *s = json_array_get(shards, (size_t)k);
        const char *file = json_string_value(json_object_get(s, "file"));
        char where[64];
        snprintf(where, sizeof where, "shards[%d].", k);
        if (!file || !*file || strchr(file, '/')) {
            wm_fail(err, "%s: %sfile: missing or not a file name", path, where);
            goto done;
        }
        long long clips = 0, frames = 0;
        if (index_int(s, "clips", path, where, &clips, err) || index_int(s, "frames", path, where, &frames, err))
            goto done;
        char sp[4400];
        snprintf(sp, sizeof sp, "%s/%s", root, file);
        ts->paths[k] = STRDUP_CHECK(sp);
        token_shard_file f;
        if (token_shard_read(sp, &f, err)) goto done;
        int ok = same_header(&f.hdr, in);
        if (!ok)
            wm_fail(err, "%s: its header (tokenizer 0x%016llx, %dx%d tokens, %d codes, K %d) differs from %s's "
                    "(0x%016llx, %dx%d, %d, K %d)", sp, (unsigned long long)f.hdr.tokenizer_checksum, f.hdr.hz,
                    f.hdr.wz, f.hdr.vocab, f.hdr.slots, path, (unsigned long long)in->tokenizer_checksum, in->hz,
                    in->wz, in->vocab, in->slots);
        else if (f.hdr.clips != clips || f.hdr.frames != frames)
            ok = 0, wm_fail(err, "%s: %d clips of %lld frames, but %s lists %lld of %lld", sp, f.hdr.clips,
                            f.hdr.frames, path, clips, frames);
        sum.clips += f.hdr.clips, sum.frames += f.hdr.frames;
        sum.train_clips += f.hdr.train_clips, sum.train_frames += f.hdr.train_frames;
        sum.validation_clips += f.hdr.validation_clips, sum.validation_frames += f.hdr.validation_frames;
        token_shard_file_free(&f);
        if (!ok) goto done;
    }
    if (sum.clips != in->clips || sum.frames != in->frames || sum.train_clips != in->train_clips ||
        sum.train_frames != in->train_frames || sum.validation_clips != in->validation_clips ||
        sum.validation_frames != in->validation_frames) {
        wm_fail(err, "%s: totals (%d clips, %lld frames) differ from its shards' (%d clips, %lld frames) (file corrupt)",
                path, in->clips, in->frames, sum.clips, sum.frames);
        goto done;
    }
    rc = 0;
done:
    json_decref(j);
    if (rc) token_shards_close(ts);
    else *out = ts;
    return rc;
}

const token_shards_info *token_shards_info_get(const token_shards *ts) { return &ts->info; }

int token_shards_check_tokenizer(const token_shards *ts, const char *tokenizer_path, wm_error *err) {
    ckpt_info ci;
    if (ckpt_inspect(tokenizer_path, CKPT_KIND_MODEL, CKPT_MODEL_TOKENIZER, &ci, err)) return -1;
    /* The tokenizer's config slots (worldmodel/tokenizer.c): width, height, down, ..., codebook. */
    tokenizer tk;
    int rc = tokenizer_load(&tk, tokenizer_path, 1, err);
    uint64_t sum = ci.checksum;
    ckpt_info_free(&ci);
    if (rc) return -1;
    const token_shards_info *in = &ts->info;
    if (sum != in->tokenizer_checksum || tk.hz != in->hz || tk.wz != in->wz || tk.cfg.codebook_size != in->vocab ||
        tk.cfg.width != in->width || tk.cfg.height != in->height)
        rc = wm_fail(err, "%s/%s: made by tokenizer 0x%016llx (%dx%d tokens of %dx%d frames, %d codes), but %s is "
                     "0x%016llx (%dx%d tokens of %dx%d frames, %d codes)", ts->root, TOKEN_SHARDS_INDEX,
                     (unsigned long long)in->tokenizer_checksum, in->wz, in->hz, in->width, in->height, in->vocab,
                     tokenizer_path, (unsigned long long)sum, tk.wz, tk.hz, tk.cfg.width, tk.cfg.height,
                     tk.cfg.codebook_size);
    tokenizer_free(&tk);
    return rc;
}

int token_shards_next(token_shards *ts, const token_clip **clip, wm_error *err) {
    *clip = NULL;
    for (;;) {
        if (ts->next_shard >= ts->info.shards) return 0;
        if (ts->cur_shard != ts->next_shard) {
            token_shard_file_free(&ts->cur);
            ts->cur_shard = -1;
            if (token_shard_read(ts->paths[ts->next_shard], &ts->cur, err)) return -1;
            if (!same_header(&ts->cur.hdr, &ts->info)) {
                token_shard_file_free(&ts->cur);
                return wm_fail(err, "%s: changed since it was opened", ts->paths[ts->next_shard]);
            }
            ts->cur_shard = ts->next_shard;
            ts->next_record = 0;
        }
        if (ts->next_record < ts->cur.n) {
            token_clip *c = &ts->cur.clips[ts->next_record++];
            c->shard = ts->cur_shard;
            *clip = c;
            return 1;
        }
        ts->next_shard++;
    }
}

void token_shards_rewind(token_shards *ts) {
    ts->next_shard = 0;
    ts->next_record = 0;
    if (ts->cur_shard != 0) {
        token_shard_file_free(&ts->cur);
        ts->cur_shard = -1;
    }
}
