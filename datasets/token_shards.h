/* token_shards.h — clips as frame tokens + actions + scene slots, the
 * dynamics model's training data (`wmsim worldmodel tokenize`). The byte
 * layout is specified in datasets/SHARDS.md.
 *
 * Writing (every complete clip under a tree, sorted, one record each):
 *     token_shards_write_config c = token_shards_write_config_default();
 *     c.data = "data/trainset"; c.tokenizer = "models/tokenizer.wmck"; c.out = "data/shards";
 *     token_shards_report rep;
 *     if (token_shards_write(&c, &rep, &err)) ...   // "DIR/meta.json: frames are 64x32, but M.wmck takes 32x16"
 *
 * Reading:
 *     token_shards *ts;
 *     if (token_shards_open(&ts, "data/shards", &err)) ...     // checks every shard: magic, version, size, checksum
 *     if (token_shards_check_tokenizer(ts, "models/tokenizer.wmck", &err)) ...
 *     const token_shards_info *in = token_shards_info_get(ts);  // P = hz * wz, K, S, counts
 *     const token_clip *c;
 *     while ((rc = token_shards_next(ts, &c, &err)) == 1)      // 0 at the end, -1 on error
 *         use(c->codes, c->actions, c->slots, c->frames);       // (F, P), (F, A), (F, K, S)
 *     token_shards_rewind(ts);
 *     token_shards_close(ts);
 *
 * A folder of shards is complete when it holds index.json, which is
 * written last; shards are written atomically (core/fileio.h).
 *
 * Dimensions: F frames of a clip, P = hz * wz image tokens per frame,
 * A = 4 action features, K scene slots of S = 8 features. */
#ifndef WMSIM_TOKEN_SHARDS_H
#define WMSIM_TOKEN_SHARDS_H

#include <stdint.h>

#include "core/error.h"
#include "datasets/clip.h"

#define TOKEN_SHARDS_MAGIC 20261201   /* a date, like the checkpoints' magics */
#define TOKEN_SHARDS_VERSION 1
#define TOKEN_SHARDS_HEADER_INTS 256  /* int32 slots: 1024 bytes */
#define TOKEN_SHARDS_TRAILER_BYTES 16 /* u64 checksum, u64 file length */
#define TOKEN_SHARDS_ACTIONS 4        /* A: accel, brake, steer, speed */
#define TOKEN_SHARDS_SLOT_FEATURES 8  /* S, see token_slot_feature */
#define TOKEN_SHARDS_MAX_SLOTS 64     /* K */
#define TOKEN_SHARDS_DEFAULT_SLOTS 4  /* the dynamics model's default K */
#define TOKEN_SHARDS_DEFAULT_FRAMES 8192 /* frames per shard, at most (a longer clip gets a shard of its own) */
#define TOKEN_SHARDS_VAL_FRACTION 0.1 /* the tokenizer's split (FRAME_SOURCE_VAL_FRACTION) */
#define TOKEN_SHARDS_NAME_MAX 4096
#define TOKEN_SHARDS_INDEX "index.json"

/* The S features of a scene slot, in the ego frame at the rear axle. */
enum {
    TOKEN_SLOT_PRESENT,  /* 1; an absent slot is all 0 */
    TOKEN_SLOT_X,        /* m forward */
    TOKEN_SLOT_Y,        /* m left */
    TOKEN_SLOT_HEADING,  /* rad, relative to the ego's */
    TOKEN_SLOT_SPEED,    /* m/s */
    TOKEN_SLOT_KIND,     /* actor_kind + 1: 1 vehicle, 2 pedestrian, 3 guard, 4 sign, 5 obstacle */
    TOKEN_SLOT_GESTURE,  /* guards: gesture (0 none, 1 STOP, 2 PROCEED, 3 SLOW, 4 TURN_LEFT, 5 TURN_RIGHT); else 0 */
    TOKEN_SLOT_BRAKING   /* vehicles: 1 braking; else 0 */
};

/* The A action features of a frame: the action applied after it (0 on a
 * clip's last frame, which has none) and the ego's speed at it. */
enum { TOKEN_ACTION_ACCEL, TOKEN_ACTION_BRAKE, TOKEN_ACTION_STEER, TOKEN_ACTION_SPEED };

/* Fills slots (K, S) from a clip state's actors: the K nearest (by
 * distance from the rear axle; ties keep states.jsonl's order), nearest
 * first, absent slots zero. And the A action features. */
void token_slots_from_state(const clip_state *st, int K, float *slots);
void token_actions_from_state(const clip_state *st, float *actions);

/* ---- writing ------------------------------------------------------------- */

typedef struct {
    const char *data;      /* folder tree of clips */
    const char *tokenizer; /* model checkpoint */
    const char *out;       /* folder of shards (created) */
    int slots;             /* K in [0, TOKEN_SHARDS_MAX_SLOTS] */
    int shard_frames;      /* >= 1: frames per shard, at most (a longer clip alone) */
    int batch;             /* frames encoded at once, >= 1 */
    int progress;          /* a progress line on stderr */
} token_shards_write_config;

/* slots 4, shard_frames 8192, batch 16, progress 0; paths NULL. */
token_shards_write_config token_shards_write_config_default(void);

typedef struct {
    int clips, train_clips, validation_clips;
    long long frames, train_frames, validation_frames;
    int skipped; /* incomplete clip folders */
    int shards;
    long long bytes; /* of the shards */
    double seconds;
} token_shards_report;

/* Removes OUT/index.json first, writes the shards, removes stale shards
 * of an earlier run beyond the new count, then writes index.json. Errors
 * name the file: a clip whose size is not the tokenizer's, a damaged clip,
 * no complete clips. */
int token_shards_write(const token_shards_write_config *cfg, token_shards_report *rep, wm_error *err);

/* ---- reading ------------------------------------------------------------- */

typedef struct {
    char name[TOKEN_SHARDS_NAME_MAX]; /* clip folder relative to the data root */
    int validation;                   /* 0 train, 1 validation */
    int frames;                       /* F */
    const uint16_t *codes;            /* (F, P) */
    const float *actions;             /* (F, A) */
    const float *slots;               /* (F, K, S) */
    int shard;                        /* its shard's index */
} token_clip;

typedef struct {
    uint64_t tokenizer_checksum;
    int width, height;    /* the tokenizer's frame size */
    int hz, wz, vocab;    /* token grid, codebook size */
    int actions, slots, slot_features; /* A, K, S */
    int shards;
    int clips, train_clips, validation_clips;
    long long frames, train_frames, validation_frames;
} token_shards_info;

typedef struct token_shards token_shards;

/* Reads ROOT/index.json and checks every shard it lists in full: errors
 * name the file ("ROOT/shard_00000.wmts: checksum mismatch (file
 * corrupt)", "...: truncated: N bytes, record 3 of 6 runs past the end",
 * "...: not a wmsim token shard (magic 0x..., expected 20261201)",
 * "...: format version 2 is newer than this wmsim reads (1)") or the
 * disagreement with index.json. */
int token_shards_open(token_shards **out, const char *root, wm_error *err);
const token_shards_info *token_shards_info_get(const token_shards *ts);
/* Whether the shards were made by this tokenizer (its checksum, grid and
 * codebook): "ROOT/index.json: made by tokenizer 0x... (4x2 tokens of 32x16 frames, N codes),
 * but M.wmck is 0x... (4x4 tokens of 32x32 frames, N codes)". */
int token_shards_check_tokenizer(const token_shards *ts, const char *tokenizer_path, wm_error *err);
/* The next clip in shard and record order, valid until the next call:
 * 1, 0 at the end, -1 on error (the file changed since open). */
int token_shards_next(token_shards *ts, const token_clip **clip, wm_error *err);
void token_shards_rewind(token_shards *ts);
void token_shards_close(token_shards *ts); /* NULL is fine */

/* One shard file, whole, checked: header fields and records, for tools. */
typedef struct {
    token_shards_info hdr;  /* shards, counts: of this file alone */
    int n;                  /* records */
    token_clip *clips;      /* (n), pointing into data */
    uint8_t *data;
    uint64_t checksum;
    long long bytes;
} token_shard_file;
int token_shard_read(const char *path, token_shard_file *out, wm_error *err);
void token_shard_file_free(token_shard_file *f);

#endif
