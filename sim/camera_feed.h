/* camera_feed.h — the camera frames a policy sees in a closed-loop
 * episode, from the oracle rasteriser or from the world model
 * (DESIGN.md §1: "oracle" and "generative" mode).
 *
 * Usage:
 *     camera_feed_options o = camera_feed_options_default();   // oracle, supersample 1
 *     o.kind = CAMERA_FEED_WORLDMODEL;                         // or camera_feed_kind_parse("worldmodel", &o.kind)
 *     o.cp = sc->camera;
 *     o.model_path = "models/dynamics.wmck", o.tokenizer_path = "models/tokenizer.wmck";
 *     camera_feed *cf;
 *     if (camera_feed_open(&cf, &o, &err)) ...   // "camera_feed: models/x.wmck: cannot open: ..."
 *     per episode:
 *         camera_feed_reset(cf, seed, &err);
 *         const image *frame;
 *         camera_feed_frame(cf, w, NULL, &frame, &err);         // step 0
 *         loop: cmd = policy(frame); sim_step(w, &cmd);
 *               camera_feed_frame(cf, w, &cmd, &frame, &err);   // the frame cmd led to
 *         camera_feed_oracle_frame(cf);                         // the oracle's view of the same w
 *     camera_feed_close(cf);
 *
 * Oracle mode: render_frame of w at o->cp (its size and camera), with
 * o->supersample.
 *
 * World-model mode (Terra's generative loop). The dynamics model's window
 * is F frames, so each new frame has W = F-1 context frames before it.
 *   - Steps 0 .. W-1 (the context): the oracle renders w at the tokenizer's
 *     size and the tokenizer encodes it. The frame handed out is the
 *     tokenizer's DECODE of those tokens, not the render: the policy sees
 *     what the model sees, so the switch to generated frames at step W
 *     brings no change of look.
 *   - Steps W on: rollout_generate (n_ctx W, n_new 1) from the last W
 *     frames' tokens, action features and slots (a shift buffer), with the
 *     new frame's action features window_action_features(led_by, w's ego
 *     speed) and its slots window_slots_from_world(w) — exactly the
 *     conditioning of the training windows (datasets/window_source.h: a
 *     frame's actions are the action that LED to it and its speed; its
 *     slots the scene at it). The tokenizer decodes the tokens into the
 *     frame, which joins the buffer as context for the next.
 * So a generated frame depends on the feed's history only (oracle context,
 * then its own outputs) and on w's ego speed and scene slots, never on a
 * render of w after step W-1. The oracle still renders every step, at the
 * tokenizer's size and supersample 1 like the training clips (sim/clips.c),
 * for side-by-side videos and agreement studies: camera_feed_oracle_frame.
 * In this mode o->cp gives the camera (mount, field of view); its size is
 * the tokenizer's (camera_feed_camera gives the camera in use), and
 * o->supersample is checked but not used.
 *
 * Scene slots: o->scene_slots -1 conditions on them when the model has
 * slots (K > 0), 0 never (every slot absent, as conditioning dropout
 * trains), 1 always (an error on a model without). They are computed for
 * camera_feed_camera's view of w.
 *
 * Determinism: the generated frame at step s draws from the rollout seed
 * rng_u64(rng_fork(root, s)), root = rng_u64(rng_fork(seed,
 * CAMERA_FEED_STREAM)) of reset's seed (o->rp.seed is ignored). Rollouts,
 * the tokenizer and the renderer do not depend on the OpenMP thread count,
 * so the same episode seed and the same worlds give byte-identical frames
 * on any thread count.
 *
 * Call camera_feed_frame once per world step, in order, after
 * camera_feed_reset; a frame is valid until the next camera_feed_frame,
 * camera_feed_reset or camera_feed_close. All state is in the camera_feed;
 * feeds are independent (one per thread). */
#ifndef WMSIM_CAMERA_FEED_H
#define WMSIM_CAMERA_FEED_H

#include <stdint.h>

#include "actions/action.h"
#include "core/error.h"
#include "render/camera.h"
#include "render/image.h"
#include "sim/world.h"
#include "worldmodel/rollout.h"

/* rng_fork stream of reset's seed that roots the feed's rollout seeds (an
 * arbitrary constant, so they differ from the seed's other streams). */
#define CAMERA_FEED_STREAM 0x63616d66656564ULL /* "camfeed" */

typedef enum { CAMERA_FEED_ORACLE, CAMERA_FEED_WORLDMODEL } camera_feed_kind;

/* "oracle", "worldmodel"; parse: 0, or -1 for another name (k untouched). */
const char *camera_feed_kind_name(camera_feed_kind k);
int camera_feed_kind_parse(const char *name, camera_feed_kind *k);

typedef struct {
    camera_feed_kind kind;
    camera_params cp;            /* oracle: size and camera; worldmodel: the camera, at the tokenizer's size */
    int supersample;             /* oracle renders: 1 or 2 */
    const char *model_path;      /* worldmodel: the dynamics checkpoint */
    const char *tokenizer_path;  /* worldmodel: the tokenizer checkpoint */
    rollout_params rp;           /* worldmodel decoding (mode, steps, temperature, top_k, guidance);
                                    rp.seed is ignored: see Determinism above */
    int scene_slots;             /* -1: on when the model has slots; 0 off; 1 on (an error if it has none) */
} camera_feed_options;

/* Oracle, scenario_camera_default(), supersample 1, no paths,
 * rollout_params_default(), scene_slots -1. */
camera_feed_options camera_feed_options_default(void);

typedef struct camera_feed camera_feed;

/* Checks the options and loads the models. 0, or -1 with *out NULL and one
 * of (MODEL, TOK: the paths as given):
 *     camera_feed: kind K is not oracle (0) or worldmodel (1)
 *     camera_feed: supersample N is not 1 or 2
 *     camera_feed: scene_slots N is not -1, 0 or 1
 *     camera_feed: camera: <camera_params_check's reason>          (oracle)
 *     camera_feed: worldmodel frames need a dynamics model (model_path)
 *     camera_feed: worldmodel frames need a tokenizer (tokenizer_path)
 *     camera_feed: rollout mode M is not ar (0) or parallel (1)
 *     camera_feed: temperature X is not a finite number
 *     camera_feed: guidance X is not a finite number
 *     camera_feed: MODEL: <dynamics_load's reason>     ("...: cannot open: No such file or directory")
 *     camera_feed: MODEL: A action and S slot features, but camera_feed makes 4 and 8
 *     camera_feed: scene_slots on, but MODEL has no scene slots
 *     camera_feed: steps N outside [1, P] (the tokens a frame of MODEL)   (parallel mode)
 *     camera_feed: TOK: <tokenizer_load's reason>
 *     camera_feed: TOK: N codes and Q tokens a frame, but MODEL takes V codes and P tokens a frame
 *     camera_feed: at TOK's size: camera: <camera_params_check's reason>
 * in this order: what needs no file is checked before the models load. */
int camera_feed_open(camera_feed **out, const camera_feed_options *o, wm_error *err);

/* Starts a new episode: forgets the history; seed roots the rollout seeds.
 * 0 (err is for symmetry: it cannot fail). */
int camera_feed_reset(camera_feed *cf, uint64_t seed, wm_error *err);

/* The frame at world w, which the action led_by (NULL: none, as at step 0)
 * has just led to, into *frame (valid until the next call). 0, or -1 with
 *     camera_feed: camera_feed_frame before camera_feed_reset
 *     camera_feed: step N: <rollout_generate's reason>   (not expected once open)
 * after which the step has not happened (the next call retries it). */
int camera_feed_frame(camera_feed *cf, const sim_world *w, const action *led_by, const image **frame,
                      wm_error *err);

/* The oracle render of the last camera_feed_frame's w (the frame itself in
 * oracle mode); NULL before the first frame since reset. */
const image *camera_feed_oracle_frame(const camera_feed *cf);

/* 1 when the last frame came from the world model's rollout; 0 for an
 * oracle frame, a context frame, or none yet. */
int camera_feed_generated(const camera_feed *cf);

/* Frames handed out since reset (the next frame's step). */
int camera_feed_steps(const camera_feed *cf);

/* The camera in use (worldmodel: o->cp at the tokenizer's size). */
const camera_params *camera_feed_camera(const camera_feed *cf);

/* World-model mode: what the model got for the last frame (context or
 * generated), NULL in oracle mode or before the first frame:
 *     tokens  (P)     its image tokens (encoded from the render, or generated)
 *     actions (A)     its normalised action features
 *     slots   (K, S)  its normalised scene slots; NULL when slots are off
 * The sizes go to the int pointers (each may be NULL). For logs, and for
 * tests that the scene reaches the model. */
const int *camera_feed_last_tokens(const camera_feed *cf, int *P);
const float *camera_feed_last_actions(const camera_feed *cf, int *A);
const float *camera_feed_last_slots(const camera_feed *cf, int *K, int *S);

void camera_feed_close(camera_feed *cf); /* NULL is fine */

/* A feed kept open across a worker's episodes: the same kind of feed for
 * another scenario reopens only when the scenario's camera differs
 * (opening a world-model feed loads its checkpoints). */
typedef struct {
    camera_feed *cf;
    camera_params cp;
} camera_feed_slot;

/* slot's feed for o (o->cp the scenario's camera), opened or kept. */
int camera_feed_slot_get(camera_feed_slot *slot, const camera_feed_options *o, camera_feed **out, wm_error *err);
void camera_feed_slot_close(camera_feed_slot *slot);

#endif
