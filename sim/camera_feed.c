/* camera_feed.c — a policy's camera frames from the oracle or the world
 * model (see camera_feed.h).
 *
 * Dimensions (the dynamics model's): W = F-1 context frames, P image
 * tokens a frame, A action features, K scene slots of S features (K 0
 * when slots are off), frames of Wd x Hd pixels (the tokenizer's). */
#include "sim/camera_feed.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/rng.h"
#include "datasets/token_shards.h"
#include "datasets/window_source.h"
#include "render/render.h"
#include "worldmodel/dynamics_model.h"
#include "worldmodel/tokenizer.h"

struct camera_feed {
    camera_feed_kind kind;
    camera_params cp;       /* in use: worldmodel at the tokenizer's size */
    renderer r;             /* the oracle at cp */
    /* world model */
    dynamics_model dm;
    tokenizer tk;
    int have_dm, have_tk;
    rollout_params rp;
    int W, P, A, K, S;
    /* the history: the last n_hist (<= W) frames, oldest first, shifted
     * down one frame a step once full (W is small: 2 for the shipped model) */
    int *hist_tokens;       /* (W, P) */
    float *hist_actions;    /* (W, A) */
    float *hist_slots;      /* (W, K, S); NULL when K is 0 */
    int n_hist;
    /* the last frame's conditioning, and its pixels */
    int *cur_tokens;        /* (P) */
    float *cur_actions;     /* (A) */
    float *cur_slots;       /* (K, S); NULL when K is 0 */
    float *x;               /* (3, Hd, Wd) the tokenizer's input and output */
    image frame;            /* Wd x Hd: the decoded frame handed out */
    /* the episode */
    int was_reset;
    uint64_t root;          /* rollout seeds' root, from reset's seed */
    int steps;              /* frames since reset */
    int generated;          /* the last frame came from the rollout */
};

const char *camera_feed_kind_name(camera_feed_kind k) {
    return k == CAMERA_FEED_WORLDMODEL ? "worldmodel" : "oracle";
}

int camera_feed_kind_parse(const char *name, camera_feed_kind *k) {
    if (strcmp(name, "oracle") == 0) *k = CAMERA_FEED_ORACLE;
    else if (strcmp(name, "worldmodel") == 0) *k = CAMERA_FEED_WORLDMODEL;
    else return -1;
    return 0;
}

camera_feed_options camera_feed_options_default(void) {
    return (camera_feed_options){.kind = CAMERA_FEED_ORACLE, .cp = scenario_camera_default(), .supersample = 1,
                                 .rp = rollout_params_default(), .scene_slots = -1};
}

/* The world model's part of open: the checkpoints, their agreement, the
 * camera at the tokenizer's size, the buffers. */
static int open_worldmodel(camera_feed *cf, const camera_feed_options *o, wm_error *err) {
    const rollout_params *rp = &o->rp;
    if (!o->model_path) return wm_fail(err, "camera_feed: worldmodel frames need a dynamics model (model_path)");
    if (!o->tokenizer_path) return wm_fail(err, "camera_feed: worldmodel frames need a tokenizer (tokenizer_path)");
    if (rp->mode != ROLLOUT_AR && rp->mode != ROLLOUT_PARALLEL)
        return wm_fail(err, "camera_feed: rollout mode %d is not ar (%d) or parallel (%d)", (int)rp->mode, ROLLOUT_AR,
                       ROLLOUT_PARALLEL);
    if (!isfinite(rp->temperature))
        return wm_fail(err, "camera_feed: temperature %g is not a finite number", (double)rp->temperature);
    if (!isfinite(rp->guidance))
        return wm_fail(err, "camera_feed: guidance %g is not a finite number", (double)rp->guidance);
    /* Guidance runs every window twice (rollout.h). */
    if (dynamics_load(&cf->dm, o->model_path, rp->guidance != 1.0f ? 2 : 1, err))
        return wm_error_prefix(err, "camera_feed: ");
    cf->have_dm = 1;
    const dynamics_config *c = &cf->dm.cfg;
    if (c->action_dim != TOKEN_SHARDS_ACTIONS || (c->slots && c->slot_dim != TOKEN_SHARDS_SLOT_FEATURES))
        return wm_fail(err, "camera_feed: %s: %d action and %d slot features, but camera_feed makes %d and %d",
                       o->model_path, c->action_dim, c->slot_dim, TOKEN_SHARDS_ACTIONS, TOKEN_SHARDS_SLOT_FEATURES);
    if (o->scene_slots == 1 && c->slots == 0)
        return wm_fail(err, "camera_feed: scene_slots on, but %s has no scene slots", o->model_path);
    if (rp->mode == ROLLOUT_PARALLEL && (rp->steps < 1 || rp->steps > c->frame_tokens))
        return wm_fail(err, "camera_feed: steps %d outside [1, %d] (the tokens a frame of %s)", rp->steps,
                       c->frame_tokens, o->model_path);
    if (tokenizer_load(&cf->tk, o->tokenizer_path, 1, err)) return wm_error_prefix(err, "camera_feed: ");
    cf->have_tk = 1;
    const tokenizer *tk = &cf->tk;
    if (tk->cfg.codebook_size != c->vocab || tk->hz * tk->wz != c->frame_tokens)
        return wm_fail(err, "camera_feed: %s: %d codes and %d tokens a frame, but %s takes %d codes and %d tokens a frame",
                       o->tokenizer_path, tk->cfg.codebook_size, tk->hz * tk->wz, o->model_path, c->vocab,
                       c->frame_tokens);
    cf->cp.width = tk->cfg.width, cf->cp.height = tk->cfg.height;
    /* Supersample 1: the training clips' renders (sim/clips.c). */
    if (renderer_init(&cf->r, &cf->cp, 1, err))
        return wm_error_prefix(err, "camera_feed: at %s's size: ", o->tokenizer_path);
    cf->rp = *rp;
    cf->W = c->frames - 1, cf->P = c->frame_tokens, cf->A = c->action_dim, cf->S = c->slot_dim;
    cf->K = o->scene_slots == 0 ? 0 : c->slots;
    const size_t W = (size_t)cf->W, P = (size_t)cf->P, A = (size_t)cf->A, KS = (size_t)cf->K * cf->S;
    cf->hist_tokens = CALLOC_CHECK(W * P + 1, sizeof(int)); /* + 1: W may be 0 */
    cf->hist_actions = CALLOC_CHECK(W * A + 1, sizeof(float));
    cf->cur_tokens = CALLOC_CHECK(P, sizeof(int));
    cf->cur_actions = CALLOC_CHECK(A, sizeof(float));
    if (KS) {
        cf->hist_slots = CALLOC_CHECK(W * KS + 1, sizeof(float));
        cf->cur_slots = CALLOC_CHECK(KS, sizeof(float));
    }
    cf->x = CALLOC_CHECK((size_t)3 * tk->cfg.width * tk->cfg.height, sizeof(float));
    image_init(&cf->frame, tk->cfg.width, tk->cfg.height);
    return 0;
}

int camera_feed_open(camera_feed **out, const camera_feed_options *o, wm_error *err) {
    *out = NULL;
    if (o->kind != CAMERA_FEED_ORACLE && o->kind != CAMERA_FEED_WORLDMODEL)
        return wm_fail(err, "camera_feed: kind %d is not oracle (%d) or worldmodel (%d)", (int)o->kind,
                       CAMERA_FEED_ORACLE, CAMERA_FEED_WORLDMODEL);
    if (o->supersample != 1 && o->supersample != 2)
        return wm_fail(err, "camera_feed: supersample %d is not 1 or 2", o->supersample);
    if (o->scene_slots < -1 || o->scene_slots > 1)
        return wm_fail(err, "camera_feed: scene_slots %d is not -1, 0 or 1", o->scene_slots);
    camera_feed *cf = CALLOC_CHECK(1, sizeof *cf);
    cf->kind = o->kind;
    cf->cp = o->cp;
    int rc;
    if (o->kind == CAMERA_FEED_ORACLE) {
        rc = renderer_init(&cf->r, &cf->cp, o->supersample, err);
        if (rc) wm_error_prefix(err, "camera_feed: ");
    } else {
        rc = open_worldmodel(cf, o, err);
    }
    if (rc) {
        camera_feed_close(cf);
        return -1;
    }
    *out = cf;
    return 0;
}

int camera_feed_reset(camera_feed *cf, uint64_t seed, wm_error *err) {
    (void)err;
    wm_rng r = rng_fork(seed, CAMERA_FEED_STREAM);
    cf->root = rng_u64(&r);
    cf->was_reset = 1;
    cf->steps = 0;
    cf->n_hist = 0;
    cf->generated = 0;
    return 0;
}

/* The last frame's tokens, actions and slots join the history. */
static void history_push(camera_feed *cf) {
    const size_t P = (size_t)cf->P, A = (size_t)cf->A, KS = (size_t)cf->K * cf->S;
    if (cf->W == 0) return;
    if (cf->n_hist == cf->W) {
        memmove(cf->hist_tokens, cf->hist_tokens + P, (cf->W - 1) * P * sizeof(int));
        memmove(cf->hist_actions, cf->hist_actions + A, (cf->W - 1) * A * sizeof(float));
        if (KS) memmove(cf->hist_slots, cf->hist_slots + KS, (cf->W - 1) * KS * sizeof(float));
        cf->n_hist--;
    }
    const size_t at = (size_t)cf->n_hist++;
    memcpy(cf->hist_tokens + at * P, cf->cur_tokens, P * sizeof(int));
    memcpy(cf->hist_actions + at * A, cf->cur_actions, A * sizeof(float));
    if (KS) memcpy(cf->hist_slots + at * KS, cf->cur_slots, KS * sizeof(float));
}

static int worldmodel_frame(camera_feed *cf, const sim_world *w, const action *led_by, wm_error *err) {
    /* The frame's conditioning, as the training windows have it. */
    window_action_features(led_by, w->ego.speed, cf->cur_actions);
    if (cf->K) window_slots_from_world(w, &cf->cp, cf->K, cf->cur_slots);
    int generated = 0;
    if (cf->n_hist < cf->W) {
        /* Context: the oracle's render through the tokenizer. */
        image_to_floats(&cf->r.frame, cf->x);
        tokenizer_encode(&cf->tk, cf->x, 1, cf->cur_tokens);
    } else {
        rollout_params rp = cf->rp;
        wm_rng r = rng_fork(cf->root, (uint64_t)cf->steps);
        rp.seed = rng_u64(&r);
        if (rollout_generate(&cf->dm, &rp, 1, cf->W, cf->hist_tokens, cf->hist_actions, cf->hist_slots, 1,
                             cf->cur_actions, cf->cur_slots, cf->cur_tokens, err))
            return wm_error_prefix(err, "camera_feed: step %d: ", cf->steps);
        generated = 1;
    }
    tokenizer_decode(&cf->tk, cf->cur_tokens, 1, cf->x);
    image_from_floats(cf->x, &cf->frame);
    history_push(cf);
    cf->generated = generated;
    return 0;
}

int camera_feed_frame(camera_feed *cf, const sim_world *w, const action *led_by, const image **frame,
                      wm_error *err) {
    if (!cf->was_reset) return wm_fail(err, "camera_feed: camera_feed_frame before camera_feed_reset");
    render_frame(&cf->r, w);
    if (cf->kind == CAMERA_FEED_ORACLE) {
        cf->generated = 0;
        *frame = &cf->r.frame;
    } else {
        if (worldmodel_frame(cf, w, led_by, err)) return -1;
        *frame = &cf->frame;
    }
    cf->steps++;
    return 0;
}

const image *camera_feed_oracle_frame(const camera_feed *cf) { return cf->steps ? &cf->r.frame : NULL; }

int camera_feed_generated(const camera_feed *cf) { return cf->generated; }

int camera_feed_steps(const camera_feed *cf) { return cf->steps; }

const camera_params *camera_feed_camera(const camera_feed *cf) { return &cf->cp; }

/* Whether the last_* accessors have a frame to describe. */
static int has_conditioning(const camera_feed *cf) { return cf->kind == CAMERA_FEED_WORLDMODEL && cf->steps > 0; }

const int *camera_feed_last_tokens(const camera_feed *cf, int *P) {
    if (P) *P = cf->P;
    return has_conditioning(cf) ? cf->cur_tokens : NULL;
}

const float *camera_feed_last_actions(const camera_feed *cf, int *A) {
    if (A) *A = cf->A;
    return has_conditioning(cf) ? cf->cur_actions : NULL;
}

const float *camera_feed_last_slots(const camera_feed *cf, int *K, int *S) {
    if (K) *K = cf->K;
    if (S) *S = cf->S;
    return has_conditioning(cf) ? cf->cur_slots : NULL;
}

void camera_feed_close(camera_feed *cf) {
    if (!cf) return;
    renderer_free(&cf->r);
    if (cf->have_dm) dynamics_free(&cf->dm);
    if (cf->have_tk) tokenizer_free(&cf->tk);
    free(cf->hist_tokens), free(cf->hist_actions), free(cf->hist_slots);
    free(cf->cur_tokens), free(cf->cur_actions), free(cf->cur_slots), free(cf->x);
    image_free(&cf->frame);
    free(cf);
}

int camera_feed_slot_get(camera_feed_slot *slot, const camera_feed_options *o, camera_feed **out, wm_error *err) {
    if (slot->cf && camera_params_equal(&slot->cp, &o->cp)) return *out = slot->cf, 0;
    camera_feed_slot_close(slot);
    if (camera_feed_open(&slot->cf, o, err)) return -1;
    slot->cp = o->cp;
    *out = slot->cf;
    return 0;
}

void camera_feed_slot_close(camera_feed_slot *slot) {
    camera_feed_close(slot->cf);
    slot->cf = NULL;
}
