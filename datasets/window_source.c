/* window_source.c — windows of consecutive frames from token shards (see
 * window_source.h). */
#include "datasets/window_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/rng.h"
#include "datasets/token_shards.h"

struct window_source {
    window_source_info info;
    int stride;
    uint64_t seed;
    /* the split's frames, clip after clip, normalised */
    int *codes;      /* (frames, P) */
    float *actions;  /* (frames, A) */
    float *slots;    /* (frames, K, S) */
    long long *start; /* (windows) first frame of window i, into the arrays above */
    uint64_t *perm;  /* (windows) the current epoch's order */
    uint64_t epoch;  /* of perm */
    uint64_t next;   /* the stream's next window */
};

static void shuffle(window_source *ws, uint64_t epoch) {
    const uint64_t n = (uint64_t)ws->info.windows;
    for (uint64_t i = 0; i < n; i++) ws->perm[i] = i;
    wm_rng rng = rng_fork(ws->seed, epoch);
    for (uint64_t i = n - 1; i > 0; i--) {
        uint64_t j = rng_u64(&rng) % (i + 1);
        uint64_t t = ws->perm[i];
        ws->perm[i] = ws->perm[j], ws->perm[j] = t;
    }
    ws->epoch = epoch;
}

void window_frame_actions(const float *led_by, const float *at, float *out) {
    out[TOKEN_ACTION_ACCEL] = led_by ? led_by[TOKEN_ACTION_ACCEL] / WINDOW_ACCEL_SCALE : 0.0f;
    out[TOKEN_ACTION_BRAKE] = led_by ? led_by[TOKEN_ACTION_BRAKE] / WINDOW_BRAKE_SCALE : 0.0f;
    out[TOKEN_ACTION_STEER] = led_by ? led_by[TOKEN_ACTION_STEER] / WINDOW_STEER_SCALE : 0.0f;
    out[TOKEN_ACTION_SPEED] = at[TOKEN_ACTION_SPEED] / WINDOW_SPEED_SCALE;
}

void window_slot_normalise(const float *in, float *out) {
    out[TOKEN_SLOT_PRESENT] = in[TOKEN_SLOT_PRESENT];
    out[TOKEN_SLOT_X] = in[TOKEN_SLOT_X] / WINDOW_SLOT_POS_SCALE;
    out[TOKEN_SLOT_Y] = in[TOKEN_SLOT_Y] / WINDOW_SLOT_POS_SCALE;
    out[TOKEN_SLOT_HEADING] = in[TOKEN_SLOT_HEADING] / WINDOW_SLOT_HEADING_SCALE;
    out[TOKEN_SLOT_SPEED] = in[TOKEN_SLOT_SPEED] / WINDOW_SPEED_SCALE;
    out[TOKEN_SLOT_KIND] = in[TOKEN_SLOT_KIND] / WINDOW_SLOT_CLASS_SCALE;
    out[TOKEN_SLOT_GESTURE] = in[TOKEN_SLOT_GESTURE] / WINDOW_SLOT_CLASS_SCALE;
    out[TOKEN_SLOT_BRAKING] = in[TOKEN_SLOT_BRAKING];
}

void window_action_features(const action *led_by, double speed, float *out) {
    float led[TOKEN_SHARDS_ACTIONS] = {0}, at[TOKEN_SHARDS_ACTIONS] = {0};
    if (led_by) {
        led[TOKEN_ACTION_ACCEL] = (float)led_by->accel, led[TOKEN_ACTION_BRAKE] = (float)led_by->brake;
        led[TOKEN_ACTION_STEER] = (float)led_by->steer;
    }
    at[TOKEN_ACTION_SPEED] = (float)speed;
    window_frame_actions(led_by ? led : NULL, at, out);
}

void window_slots_normalise(const float *raw, int K, float *out) {
    const size_t S = TOKEN_SHARDS_SLOT_FEATURES;
    for (int k = 0; k < K; k++) window_slot_normalise(raw + (size_t)k * S, out + (size_t)k * S);
}

void window_slots_from_world(const sim_world *w, const camera_params *cp, int K, float *out) {
    if (K < 0 || K > TOKEN_SHARDS_MAX_SLOTS) {
        fprintf(stderr, "window_slots_from_world: K %d outside [0, %d]\n", K, TOKEN_SHARDS_MAX_SLOTS);
        abort();
    }
    clip_state *st = MALLOC_CHECK(sizeof *st);
    float raw[TOKEN_SHARDS_MAX_SLOTS * TOKEN_SHARDS_SLOT_FEATURES];
    clip_state_from_world(w, cp, w->step, st);
    token_slots_from_state(st, K, raw);
    window_slots_normalise(raw, K, out);
    free(st);
}

int window_source_open(window_source **out, const char *shards, window_split split, int frames, int stride,
                       uint64_t seed, wm_error *err) {
    *out = NULL;
    if (frames < 1 || frames > 64) return wm_fail(err, "window source: frames %d outside [1, 64]", frames);
    if (stride < 1) return wm_fail(err, "window source: stride %d below 1", stride);
    token_shards *ts;
    if (token_shards_open(&ts, shards, err)) return -1;
    const token_shards_info *in = token_shards_info_get(ts);
    if (in->actions != TOKEN_SHARDS_ACTIONS || in->slot_features != TOKEN_SHARDS_SLOT_FEATURES) {
        token_shards_close(ts);
        return wm_fail(err, "%s: %d action and %d slot features, but this wmsim reads %d and %d", shards, in->actions,
                       in->slot_features, TOKEN_SHARDS_ACTIONS, TOKEN_SHARDS_SLOT_FEATURES);
    }
    window_source *ws = CALLOC_CHECK(1, sizeof *ws);
    window_source_info *info = &ws->info;
    info->vocab = in->vocab, info->frame_tokens = in->hz * in->wz, info->frames = frames, info->slots = in->slots;
    info->slot_dim = in->slot_features, info->action_dim = in->actions;
    ws->stride = stride, ws->seed = seed;
    const int want_val = split == WINDOW_SPLIT_VALIDATION;
    const long long cap_frames = want_val ? in->validation_frames : in->train_frames;
    const int P = info->frame_tokens, A = info->action_dim, K = info->slots, S = info->slot_dim;
    ws->codes = MALLOC_CHECK(((size_t)cap_frames * P + 1) * sizeof(int));
    ws->actions = MALLOC_CHECK(((size_t)cap_frames * A + 1) * sizeof(float));
    ws->slots = MALLOC_CHECK(((size_t)cap_frames * K * S + 1) * sizeof(float));
    ws->start = MALLOC_CHECK(((size_t)cap_frames + 1) * sizeof(long long));
    long long at = 0, windows = 0;
    int longest = 0, rc;
    const token_clip *c;
    while ((rc = token_shards_next(ts, &c, err)) == 1) {
        if (c->validation != want_val) continue;
        if (at + c->frames > cap_frames) {
            rc = wm_fail(err, "%s: the split has more frames than index.json says (%lld)", shards, cap_frames);
            break;
        }
        if (c->frames > longest) longest = c->frames;
        for (int f = 0; f < c->frames; f++) {
            long long g = at + f;
            for (int p = 0; p < P; p++) ws->codes[g * P + p] = c->codes[(size_t)f * P + p];
            window_frame_actions(f ? c->actions + (size_t)(f - 1) * A : NULL, c->actions + (size_t)f * A,
                                 ws->actions + g * A);
            for (int k = 0; k < K; k++)
                window_slot_normalise(c->slots + ((size_t)f * K + k) * S, ws->slots + (g * K + k) * S);
        }
        if (c->frames >= frames) info->clips++;
        for (int s = 0; s + frames <= c->frames; s += stride) ws->start[windows++] = at + s;
        at += c->frames;
    }
    token_shards_close(ts);
    if (rc == 0 && windows == 0)
        rc = wm_fail(err, "%s: no clip of the %s split has %d frames (the longest has %d)", shards,
                     want_val ? "validation" : "train", frames, longest);
    if (rc) {
        window_source_close(ws);
        return -1;
    }
    info->windows = windows;
    ws->perm = MALLOC_CHECK((size_t)windows * sizeof(uint64_t));
    shuffle(ws, 0);
    *out = ws;
    return 0;
}

const window_source_info *window_source_info_get(const window_source *ws) { return &ws->info; }

void window_source_get(const window_source *ws, long long i, int *tokens, float *actions, float *slots) {
    const window_source_info *in = &ws->info;
    const int F = in->frames, P = in->frame_tokens, A = in->action_dim, K = in->slots, S = in->slot_dim;
    const long long s = ws->start[i];
    memcpy(tokens, ws->codes + s * P, (size_t)F * P * sizeof(int));
    memcpy(actions, ws->actions + s * A, (size_t)F * A * sizeof(float));
    if (slots && K) memcpy(slots, ws->slots + s * K * S, (size_t)F * K * S * sizeof(float));
}

int window_source_next(window_source *ws, int B, int *tokens, float *actions, float *slots, wm_error *err) {
    (void)err;
    const window_source_info *in = &ws->info;
    const int F = in->frames, P = in->frame_tokens, A = in->action_dim, K = in->slots, S = in->slot_dim;
    const uint64_t n = (uint64_t)in->windows;
    for (int b = 0; b < B; b++, ws->next++) {
        uint64_t epoch = ws->next / n;
        if (epoch != ws->epoch) shuffle(ws, epoch);
        window_source_get(ws, (long long)ws->perm[ws->next % n], tokens + (size_t)b * F * P,
                          actions + (size_t)b * F * A, slots ? slots + (size_t)b * F * K * S : NULL);
    }
    return 0;
}

int window_source_seek(window_source *ws, uint64_t index, wm_error *err) {
    (void)err;
    ws->next = index;
    uint64_t epoch = index / (uint64_t)ws->info.windows;
    if (epoch != ws->epoch) shuffle(ws, epoch);
    return 0;
}

void window_source_close(window_source *ws) {
    if (!ws) return;
    free(ws->codes), free(ws->actions), free(ws->slots), free(ws->start), free(ws->perm);
    free(ws);
}
