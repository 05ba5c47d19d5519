/* window_source.h — the dynamics model's training windows: F consecutive
 * frames of a clip from token shards (datasets/token_shards.h), one split,
 * as the arrays dynamics_model.h takes, in a seeded shuffled order per
 * epoch, endlessly.
 *
 * Usage:
 *     window_source *ws;
 *     if (window_source_open(&ws, "data/shards", WINDOW_SPLIT_TRAIN, 6, 1, seed, &err)) ...
 *     window_source_next(ws, B, tokens, actions, slots, &err);  // (B,F,P) int, (B,F,A), (B,F,K,S) float
 *     window_source_seek(ws, 1000, &err);    // window 1000 of the endless stream next
 *     window_source_close(ws);
 *
 * Windows. A clip of n frames gives windows starting at frames 0, stride,
 * 2 stride, ... while start + F <= n (none when n < F). They are numbered
 * in shard order (clip, then start). Epoch e hands them out in the order of
 * a Fisher-Yates shuffle drawn from rng_fork(seed, e); the stream is epoch
 * 0, then epoch 1, ... so window i of the stream is window
 * perm_{i / n}[i mod n]: seek is exact and the order depends only on the
 * seed and the epoch (and the shards, F and stride).
 *
 * The split's clips are read once, whole, into memory.
 *
 * Conditioning. A frame's action features are the action that LED to it —
 * the accel, brake and steer applied after the clip's frame before (0 for a
 * clip's first frame) — and the ego's speed at it. The shards store the
 * action applied AFTER each frame; the shift is made here, so the model
 * draws a frame from what caused it, which is what a closed loop knows
 * once the policy has answered the frame before.
 *
 * Normalisation (fixed, so every model sees the same scale):
 *     actions: accel / 4 m/s^2, brake / 4 m/s^2, steer / 0.5 rad, speed / 20 m/s
 *     slots:   present as is, x / 20 m, y / 20 m, heading / pi rad,
 *              speed / 20 m/s, kind / 5, gesture / 5, braking as is
 * so an absent slot (all 0) stays all 0. Image tokens are the codes, as ints. */
#ifndef WMSIM_WINDOW_SOURCE_H
#define WMSIM_WINDOW_SOURCE_H

#include <stdint.h>

#include "actions/action.h"
#include "core/error.h"
#include "render/camera.h"
#include "sim/world.h"

#define WINDOW_ACCEL_SCALE 4.0f   /* m/s^2 */
#define WINDOW_BRAKE_SCALE 4.0f   /* m/s^2 */
#define WINDOW_STEER_SCALE 0.5f   /* rad */
#define WINDOW_SPEED_SCALE 20.0f  /* m/s, the ego's and the slots' */
#define WINDOW_SLOT_POS_SCALE 20.0f /* m */
#define WINDOW_SLOT_HEADING_SCALE 3.14159265358979f /* rad */
#define WINDOW_SLOT_CLASS_SCALE 5.0f /* kind and gesture */

/* Frame f's normalised action features from the shards' raw rows (A,
 * datasets/token_shards.h): led_by the raw row of frame f-1 (NULL for a
 * clip's first frame), at the raw row of frame f (only its speed is read). */
void window_frame_actions(const float *led_by, const float *at, float *out);
/* One scene slot's S features, normalised. */
void window_slot_normalise(const float *raw, float *out);

/* The same features outside the shards, for a frame being made now (a
 * dream, a closed loop): the action led_by (NULL: none, as for a clip's
 * first frame) led to the frame, and the ego moves at speed m/s there. */
void window_action_features(const action *led_by, double speed, float *out);
/* K slots (K, S) at once, each by window_slot_normalise. */
void window_slots_normalise(const float *raw, int K, float *out);
/* The K normalised slots (K, S) of world w seen by camera cp, the way a
 * training clip's frame reaches the windows: clip_state_from_world, then
 * token_slots_from_state, then window_slots_normalise. K in
 * [0, TOKEN_SHARDS_MAX_SLOTS]. */
void window_slots_from_world(const sim_world *w, const camera_params *cp, int K, float *out);

typedef enum { WINDOW_SPLIT_TRAIN, WINDOW_SPLIT_VALIDATION } window_split;

typedef struct window_source window_source;

typedef struct {
    int vocab;      /* V, the codebook's size */
    int frame_tokens; /* P */
    int frames;     /* F, per window */
    int slots;      /* K */
    int slot_dim;   /* S */
    int action_dim; /* A */
    int clips;      /* of the split with at least one window */
    long long windows; /* per epoch */
} window_source_info;

/* Reads the split's clips. Errors: the shards' (token_shards_open), frames
 * outside [1, 64], stride below 1, or
 *     SHARDS: no clip of the train split has F frames (the longest has N) */
int window_source_open(window_source **out, const char *shards, window_split split, int frames, int stride,
                       uint64_t seed, wm_error *err);
const window_source_info *window_source_info_get(const window_source *ws);

/* The next B windows of the stream into tokens (B, F, P), actions
 * (B, F, A) and slots (B, F, K, S) (slots may be NULL). 0 (it cannot fail
 * once open; err is for the callback's signature). */
int window_source_next(window_source *ws, int B, int *tokens, float *actions, float *slots, wm_error *err);
/* Makes window `index` of the stream (0 first) the next one. 0. */
int window_source_seek(window_source *ws, uint64_t index, wm_error *err);
/* Window i (0 .. windows-1) of the unshuffled numbering, into one window's
 * arrays (B = 1); slots may be NULL. */
void window_source_get(const window_source *ws, long long i, int *tokens, float *actions, float *slots);
void window_source_close(window_source *ws); /* NULL is fine */

#endif
