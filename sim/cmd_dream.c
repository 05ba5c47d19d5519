/* cmd_dream.c — `wmsim dream`: the world model open loop. Context frames
 * from a clip or a scenario, an action sequence from a CSV file, and the
 * dynamics model rolls the future out (worldmodel/rollout.h); the tokens
 * are decoded by the tokenizer into a video, optionally beside the oracle.
 *
 * Timeline. W = F-1 context frames (the model's window less the new frame)
 * are frames START .. START+W-1 of the clip or the scenario. The actions
 * are an action sequence CSV (actions/action.h: t,accel,brake,steer); row i
 * (i = 0 first, after the header) is the action applied after frame
 * START+W-1+i, which leads to generated frame i (frame START+W+i of the
 * timeline). So generated frame i is conditioned on row i and the ego's
 * speed after it (datasets/window_source.h: a frame's action features are
 * the action that led to it and the speed at it). The rows' t must step by
 * 1/CLIP_FPS from the first row's, whatever that is: the rows are the
 * frames' sequence, not samples of another rate to be resampled.
 *
 * Speeds: the vehicle model (sim/vehicle.h) stepped under the rows, from
 * the last context frame's ego: the clip's states.jsonl (with the default
 * vehicle of scenarios/scenario.h, the clip's actuators taken as settled
 * on the action that led to that frame), or the simulator itself.
 *
 * A scenario's context: the simulator from the scenario's start (its seed)
 * with the ego coasting (zero action) up to the last context frame, each
 * frame rendered by the oracle at the tokenizer's size; then the rows drive
 * the ego. Coasting keeps the context independent of any policy, and over
 * the few context frames it barely leaves the lane.
 *
 * Exit codes as for every command (sim/commands.h): 0 done, 1 bad input or
 * I/O ("wmsim: ..." on stderr), 2 bad usage. */
#include "sim/commands.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "actions/action.h"
#include "core/check.h"
#include "core/clock.h"
#include "core/fileio.h"
#include "datasets/clip.h"
#include "datasets/token_shards.h"
#include "datasets/window_source.h"
#include "render/image.h"
#include "render/overlay.h"
#include "render/render.h"
#include "render/video.h"
#include "scenarios/scenario.h"
#include "sim/cli_args.h"
#include "sim/vehicle.h"
#include "sim/world.h"
#include "worldmodel/dynamics_model.h"
#include "worldmodel/rollout.h"
#include "worldmodel/tokenizer.h"

#define DREAM_MAX_FRAMES 100000
#define DREAM_DECODE_BATCH 8             /* frames through the tokenizer at once */
#define DREAM_TEXT_MAX ((size_t)256 << 20) /* states.jsonl, meta.json */
#define DREAM_GREY 128                   /* the side-by-side frame where no oracle exists */

static const char USAGE[] =
    "usage: wmsim dream --context CLIP|SCENARIO --actions ACTIONS.csv --frames N --out DREAM.mp4\n"
    "                   [--model M.wmck] [--tokenizer T.wmck] [--mode ar|parallel] [--steps N]\n"
    "                   [--temperature X] [--top-k N] [--guidance W] [--seed N] [--start FRAME]\n"
    "                   [--scene-slots on|off] [--side-by-side] [--tokens FILE] [--quiet]\n"
    "\n"
    "Dreams N future frames with the dynamics model, open loop. The context is\n"
    "the F-1 frames (F: the model's window) from frame --start (default 0) of a\n"
    "clip folder, or of a scenario (.pbtxt, .pb) run by the simulator with the\n"
    "ego coasting and rendered by the oracle at the tokenizer's size. ACTIONS.csv\n"
    "has the header t,accel,brake,steer (s, m/s^2, m/s^2, rad) and at least N\n"
    "rows 0.1 s apart in t (from any start). Row i is applied after the frame\n"
    "before generated frame i (row 0 after the last context frame). The ego's\n"
    "speed follows from the vehicle model.\n"
    "Writes DREAM.mp4 (.mkv: lossless): the context frames (through the\n"
    "tokenizer), then the generated ones.\n"
    "\n"
    "  --model M          the dynamics model (default %s)\n"
    "  --tokenizer T      the tokenizer (default %s)\n"
    "  --mode M           parallel (default; MaskGIT-style, --steps passes a frame,\n"
    "                     default %d or the model's tokens a frame if fewer) or ar\n"
    "                     (token by token)\n"
    "  --temperature X    sampling temperature (default 1; 0: greedy), --top-k N\n"
    "                     (default 0: all codes), --seed N (default 1)\n"
    "  --guidance W       classifier-free guidance on the actions (default 1: none;\n"
    "                     W > 1 strengthens what the actions change)\n"
    "  --scene-slots on|off  condition on the scene's actors (default on when the\n"
    "                     model has slots): the clip's states where it has them,\n"
    "                     else its last known ones; the scenario's actors. off: none\n"
    "  --side-by-side     each frame as [oracle | dream]: the clip's true frames\n"
    "                     (grey past its end) or the scenario's oracle renders\n"
    "  --tokens FILE      the generated tokens as text, a frame a line\n"
    "  --quiet            print nothing on success\n";

#define DEFAULT_MODEL "models/dynamics.wmck"
#define DEFAULT_TOKENIZER "models/tokenizer.wmck"
#define DEFAULT_STEPS 8

static void print_usage(FILE *f) { fprintf(f, USAGE, DEFAULT_MODEL, DEFAULT_TOKENIZER, DEFAULT_STEPS); }

static int usage_error(const char *fmt, const char *arg) { return cli_usage_error(print_usage, fmt, arg); }

/* ---- options ------------------------------------------------------------------ */

typedef struct {
    const char *context, *actions, *out, *model, *tokenizer, *tokens;
    int frames, steps, steps_given, top_k, start, slots, side_by_side, quiet; /* slots: -1 default, 0 off, 1 on */
    double temperature, guidance;
    uint64_t seed;
    rollout_mode mode;
} dream_options;

static int parse_options(int argc, char **argv, dream_options *o) {
    *o = (dream_options){.model = DEFAULT_MODEL, .tokenizer = DEFAULT_TOKENIZER, .steps = DEFAULT_STEPS,
                         .slots = -1, .temperature = 1.0, .guidance = 1.0, .seed = 1, .mode = ROLLOUT_PARALLEL};
    const cli_int_option ints[] = {
        {"--frames", &o->frames, 1, DREAM_MAX_FRAMES, NULL},
        {"--steps", &o->steps, 1, 4096, &o->steps_given},
        {"--top-k", &o->top_k, 0, 65536, NULL},
        {"--start", &o->start, 0, INT_MAX / 2, NULL},
    };
    for (int i = 0; i < argc; i++) {
        int taken = cli_take_int_option(argc, argv, &i, ints, (int)(sizeof ints / sizeof ints[0]), print_usage);
        if (taken == 2) return 2;
        if (taken) continue;
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--side-by-side") == 0) o->side_by_side = 1;
        else if (strcmp(a, "--quiet") == 0) o->quiet = 1;
        else if (!v) return usage_error(a[0] == '-' ? "dream: unknown option or missing value: '%s'"
                                                    : "dream: unexpected argument '%s'", a);
        else if (strcmp(a, "--context") == 0) o->context = argv[++i];
        else if (strcmp(a, "--actions") == 0) o->actions = argv[++i];
        else if (strcmp(a, "--out") == 0) o->out = argv[++i];
        else if (strcmp(a, "--model") == 0) o->model = argv[++i];
        else if (strcmp(a, "--tokenizer") == 0) o->tokenizer = argv[++i];
        else if (strcmp(a, "--tokens") == 0) o->tokens = argv[++i];
        else if (strcmp(a, "--mode") == 0) {
            if (rollout_mode_parse(v, &o->mode)) return usage_error("--mode: expected ar or parallel, got '%s'", v);
            i++;
        } else if (strcmp(a, "--scene-slots") == 0) {
            if (strcmp(v, "on") && strcmp(v, "off"))
                return usage_error("--scene-slots: expected on or off, got '%s'", v);
            o->slots = strcmp(v, "on") == 0;
            i++;
        } else if (strcmp(a, "--temperature") == 0) {
            if (cli_parse_double(v, &o->temperature) || !(o->temperature >= 0 && o->temperature <= 100))
                return usage_error("--temperature: expected a number in [0, 100], got '%s'", v);
            i++;
        } else if (strcmp(a, "--guidance") == 0) {
            if (cli_parse_double(v, &o->guidance) || !(o->guidance >= 0 && o->guidance <= 100))
                return usage_error("--guidance: expected a number in [0, 100], got '%s'", v);
            i++;
        } else if (strcmp(a, "--seed") == 0) {
            if (cli_parse_u64(v, &o->seed)) return usage_error("--seed: not a non-negative integer: '%s'", v);
            i++;
        } else if (a[0] == '-') return usage_error("dream: unknown option or missing value: '%s'", a);
        else return usage_error("dream: unexpected argument '%s'", a);
    }
    if (!o->context) return usage_error("dream: %s", "missing --context");
    if (!o->actions) return usage_error("dream: %s", "missing --actions");
    if (!o->frames) return usage_error("dream: %s", "missing --frames");
    if (!o->out) return usage_error("dream: %s", "missing --out");
    return 0;
}

/* ---- the actions -------------------------------------------------------------- */

/* How far row i's t may be from t_0 + i/CLIP_FPS: above the rounding of any
 * writer's t (i/10, or 0.1 added DREAM_MAX_FRAMES times: 1e-7 at worst), far
 * below a frame. */
#define DREAM_T_TOL 1e-6

/* The rows of path (actions/action.h's CSV, "t,accel,brake,steer") into
 * *seq: at least need of them, 1/CLIP_FPS s apart from the first row's t,
 * each within lim. Messages count rows from 0: row i leads to generated
 * frame i. */
static int read_actions(const char *path, const action_limits *lim, int need, action_seq *seq, wm_error *err) {
    if (action_seq_read_csv(path, seq, err)) return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < seq->n; i++) {
        const double want = seq->t[0] + (double)i / CLIP_FPS;
        wm_error why;
        if (fabs(seq->t[i] - want) > DREAM_T_TOL)
            rc = wm_fail(err,
                         "%s: row %zu at t=%.10g s, but row %zu of a %d Hz sequence from t=%.10g s is at t=%.10g s",
                         path, i, seq->t[i], i, CLIP_FPS, seq->t[0], want);
        else if (action_check(&seq->a[i], lim, &why))
            rc = wm_fail(err, "%s: row %zu (t %.10g s): %s", path, i, seq->t[i], why.msg);
    }
    if (rc == 0 && seq->n < (size_t)need)
        rc = wm_fail(err, "%s: %zu action rows, but --frames %d needs %d (row i leads to generated frame i)", path,
                     seq->n, need, need);
    if (rc) action_seq_free(seq);
    return rc;
}

/* ---- the dream's inputs ----------------------------------------------------------- */

/* Everything the rollout takes, and how to show the oracle. */
typedef struct {
    int W, N, P, A, K, S;   /* context frames, generated frames, the model's sizes; K 0 without slots */
    int *ctx_tokens;        /* (W, P) */
    float *ctx_actions;     /* (W, A) normalised */
    float *ctx_slots;       /* (W, K, S) normalised; NULL: none */
    float *new_actions;     /* (N, A) */
    float *new_slots;       /* (N, K, S); NULL: none */
    const char *oracle_label; /* "clip" or "oracle" */
} dream_inputs;

static void dream_inputs_alloc(dream_inputs *in, int W, int N, const dynamics_config *c, int with_slots) {
    in->W = W, in->N = N, in->P = c->frame_tokens, in->A = c->action_dim;
    in->K = with_slots ? c->slots : 0, in->S = c->slot_dim;
    in->ctx_tokens = CALLOC_CHECK((size_t)W * in->P + 1, sizeof(int));
    in->ctx_actions = CALLOC_CHECK((size_t)W * in->A + 1, sizeof(float));
    in->new_actions = CALLOC_CHECK((size_t)N * in->A, sizeof(float));
    if (in->K) {
        in->ctx_slots = CALLOC_CHECK((size_t)W * in->K * in->S + 1, sizeof(float));
        in->new_slots = CALLOC_CHECK((size_t)N * in->K * in->S, sizeof(float));
    }
}

static void dream_inputs_free(dream_inputs *in) {
    free(in->ctx_tokens), free(in->ctx_actions), free(in->ctx_slots), free(in->new_actions), free(in->new_slots);
}

/* The tokens of one frame (x: its planar scratch, (3, H, W)). */
static void encode_image(tokenizer *tk, const image *img, float *x, int *codes) {
    image_to_floats(img, x);
    tokenizer_encode(tk, x, 1, codes);
}

/* image_from_floats under the name tests/test_dream_cli.c (which includes
 * this file) calls. */

/* ---- a clip's context --------------------------------------------------------- */

typedef struct {
    int frames;
    clip_meta meta;
    float *actions;  /* (frames, A) raw (token_actions_from_state) */
    float *slots;    /* (frames, K, S) raw; K of the model */
    vehicle_state *ego; /* (frames) */
    action *after;   /* (frames) the action after each frame (0 after the last) */
} clip_states;

static void clip_states_free(clip_states *c) { free(c->actions), free(c->slots), free(c->ego), free(c->after); }

static int read_clip_states(const char *dir, int K, clip_states *cs, wm_error *err) {
    memset(cs, 0, sizeof *cs);
    char path[4200];
    uint8_t *text;
    size_t len;
    snprintf(path, sizeof path, "%s/%s", dir, CLIP_FILE_META);
    if (file_read_all(path, DREAM_TEXT_MAX, &text, &len, err)) return -1;
    int rc = clip_meta_from_json((const char *)text, &cs->meta, err);
    free(text);
    if (rc) return wm_error_prefix(err, "%s: ", path);
    const int F = cs->meta.frames, S = TOKEN_SHARDS_SLOT_FEATURES;
    if (F < 1) return wm_fail(err, "%s: %d frames", path, F);
    /* states.jsonl first: a meta.json claiming more frames than the clip
     * has fails there, before F sizes any allocation. */
    clip_state *states;
    if (clip_states_read(dir, F, &states, err)) return -1;
    cs->frames = F;
    cs->actions = CALLOC_CHECK((size_t)F * TOKEN_SHARDS_ACTIONS, sizeof(float));
    cs->slots = CALLOC_CHECK((size_t)F * K * S + 1, sizeof(float));
    cs->ego = CALLOC_CHECK((size_t)F, sizeof *cs->ego);
    cs->after = CALLOC_CHECK((size_t)F, sizeof *cs->after);
    for (int i = 0; i < F; i++) {
        const clip_state *st = &states[i];
        token_actions_from_state(st, cs->actions + (size_t)i * TOKEN_SHARDS_ACTIONS);
        token_slots_from_state(st, K, cs->slots + (size_t)i * K * S);
        cs->ego[i] = vehicle_state_at(st->x, st->y, st->yaw, st->speed);
        if (st->has_action) cs->after[i] = st->action;
    }
    free(states);
    return 0;
}

/* The vehicle a clip's ego is stepped with: the scenarios' default car. */
static vehicle_params default_vehicle(void) {
    return (vehicle_params){.length = SCENARIO_DEFAULT_VEHICLE_LENGTH, .width = SCENARIO_DEFAULT_VEHICLE_WIDTH,
                            .wheelbase = SCENARIO_DEFAULT_WHEELBASE, .limits = action_limits_default()};
}

/* Opens DIR/frames.mkv with the first `skip` frames read past. */
static int open_clip_frames(const char *dir, int skip, video_reader **vr, image *img, wm_error *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, CLIP_FILE_FRAMES);
    if (video_reader_open(vr, path, err)) return -1;
    for (int f = 0; f < skip; f++) {
        int r = video_reader_next(*vr, img, err);
        if (r <= 0) {
            if (r == 0) wm_fail(err, "%s: ends at frame %d", path, f);
            video_reader_close(*vr), *vr = NULL;
            return -1;
        }
    }
    return 0;
}

static int clip_context(const dream_options *o, const dynamics_config *c, tokenizer *tk, int with_slots,
                        dream_inputs *in, wm_error *err) {
    const int W = c->frames - 1, N = o->frames, K = with_slots ? c->slots : 0, S = c->slot_dim, A = c->action_dim;
    clip_states cs;
    video_reader *vr = NULL;
    image img = {0};
    action_seq rows = {0};
    float *x = NULL;
    int rc = -1;
    if (read_clip_states(o->context, K, &cs, err)) goto done;
    if (cs.meta.width != tk->cfg.width || cs.meta.height != tk->cfg.height) {
        wm_fail(err, "%s/%s: frames are %dx%d, but %s takes %dx%d", o->context, CLIP_FILE_META, cs.meta.width,
                cs.meta.height, o->tokenizer, tk->cfg.width, tk->cfg.height);
        goto done;
    }
    const int last = o->start + W - 1; /* the last context frame */
    if (last >= cs.frames || (W == 0 && o->start >= cs.frames)) {
        wm_fail(err, "%s: %d frames, but --start %d and the %d context frames of %s need %d", o->context, cs.frames,
                o->start, W, o->model, o->start + (W ? W : 1));
        goto done;
    }
    const action_limits lim = action_limits_default();
    if (read_actions(o->actions, &lim, N, &rows, err)) goto done;
    dream_inputs_alloc(in, W, N, c, K > 0);
    in->oracle_label = "clip";
    /* Context frames: tokens, the action that led to each and its speed, slots. */
    x = MALLOC_CHECK((size_t)3 * tk->cfg.width * tk->cfg.height * sizeof *x);
    if (open_clip_frames(o->context, o->start, &vr, &img, err)) goto done;
    for (int f = 0; f < W; f++) {
        const int g = o->start + f;
        int r = video_reader_next(vr, &img, err);
        if (r <= 0) {
            if (r == 0) wm_fail(err, "%s/%s: ends at frame %d", o->context, CLIP_FILE_FRAMES, g);
            goto done;
        }
        if (img.width != tk->cfg.width || img.height != tk->cfg.height) {
            wm_fail(err, "%s/%s: frame %d is %dx%d, but meta.json says %dx%d", o->context, CLIP_FILE_FRAMES, g,
                    img.width, img.height, cs.meta.width, cs.meta.height);
            goto done;
        }
        encode_image(tk, &img, x, in->ctx_tokens + (size_t)f * in->P);
        window_frame_actions(g ? cs.actions + (size_t)(g - 1) * A : NULL, cs.actions + (size_t)g * A,
                             in->ctx_actions + (size_t)f * A);
        if (K) window_slots_normalise(cs.slots + (size_t)g * K * S, K, in->ctx_slots + (size_t)f * K * S);
    }
    /* The future: the vehicle from the last context frame's ego under the
     * rows; slots from the clip where it has them, else its last ones. */
    const vehicle_params vp = default_vehicle();
    const int from = last >= 0 ? last : o->start;
    vehicle_state ego = cs.ego[from];
    if (last >= 1) ego.applied = cs.after[last - 1];
    for (int i = 0; i < N; i++) {
        vehicle_step(&vp, &ego, &rows.a[i], SIM_DT, SIM_SUBSTEPS);
        window_action_features(&rows.a[i], ego.speed, in->new_actions + (size_t)i * A);
        const int g = o->start + W + i < cs.frames ? o->start + W + i : cs.frames - 1;
        if (K) window_slots_normalise(cs.slots + (size_t)g * K * S, K, in->new_slots + (size_t)i * K * S);
    }
    rc = 0;
done:
    video_reader_close(vr);
    image_free(&img);
    clip_states_free(&cs);
    action_seq_free(&rows);
    free(x);
    return rc;
}

/* ---- a scenario's context ----------------------------------------------------- */

/* The simulator along the dream's timeline: the ego coasts to the last
 * context frame, then follows the rows. */
typedef struct {
    scenario *sc;
    camera_params cp;
    sim_world *w;
    action_seq rows;
    int last_ctx; /* the last context frame's index on the timeline */
} scenario_run;

static void scenario_run_start(scenario_run *r) {
    sim_world_init(r->w, r->sc, r->sc->seed);
}

/* The action after timeline frame f. */
static action scenario_run_action(const scenario_run *r, int f) {
    const int i = f - r->last_ctx;
    return i >= 0 && (size_t)i < r->rows.n ? r->rows.a[i] : (action){0, 0, 0};
}

static int scenario_context(const dream_options *o, const dynamics_config *c, tokenizer *tk, int with_slots,
                            scenario_run *run, dream_inputs *in, wm_error *err) {
    const int W = c->frames - 1, N = o->frames, K = with_slots ? c->slots : 0, S = c->slot_dim, A = c->action_dim;
    const action_limits *lim = &run->sc->ego.vehicle.limits;
    if (read_actions(o->actions, lim, N, &run->rows, err)) return -1;
    run->last_ctx = o->start + W - 1;
    dream_inputs_alloc(in, W, N, c, K > 0);
    in->oracle_label = "oracle";
    renderer r;
    if (renderer_init(&r, &run->cp, 1, err)) return -1;
    float *x = MALLOC_CHECK((size_t)3 * tk->cfg.width * tk->cfg.height * sizeof *x);
    scenario_run_start(run);
    const action zero = {0, 0, 0};
    for (int f = 0; f < o->start + W + N; f++) {
        const int k = f - o->start; /* context frame k < W, else generated frame k - W */
        const action led = f ? scenario_run_action(run, f - 1) : zero;
        if (k >= 0) {
            float *acts = k < W ? in->ctx_actions + (size_t)k * A : in->new_actions + (size_t)(k - W) * A;
            window_action_features(f ? &led : NULL, run->w->ego.speed, acts);
            if (K)
                window_slots_from_world(run->w, &run->cp, K,
                                        k < W ? in->ctx_slots + (size_t)k * K * S
                                              : in->new_slots + (size_t)(k - W) * K * S);
            if (k < W) {
                render_frame(&r, run->w);
                encode_image(tk, &r.frame, x, in->ctx_tokens + (size_t)k * in->P);
            }
        }
        const action next = scenario_run_action(run, f);
        sim_step(run->w, &next);
    }
    renderer_free(&r);
    free(x);
    return 0;
}

/* ---- the video ---------------------------------------------------------------- */

/* Where the side-by-side oracle frames come from: the clip's frames.mkv
 * from --start, or the simulator re-run along the timeline. */
typedef struct {
    video_reader *vr;   /* clip */
    int clip_done;
    scenario_run *run;  /* scenario */
    renderer r;
    int f;              /* the timeline frame the next call returns */
} oracle_stream;

static int oracle_open(oracle_stream *os, const dream_options *o, scenario_run *run, wm_error *err) {
    memset(os, 0, sizeof *os);
    os->f = 0;
    if (!run) {
        image skip = {0};
        int rc = open_clip_frames(o->context, o->start, &os->vr, &skip, err);
        image_free(&skip);
        return rc;
    }
    os->run = run;
    if (renderer_init(&os->r, &run->cp, 1, err)) return -1;
    scenario_run_start(run);
    for (; os->f < o->start; os->f++) {
        const action a = scenario_run_action(run, os->f);
        sim_step(run->w, &a);
    }
    return 0;
}

/* The next oracle frame into img: 1, 0 where there is none (past the
 * clip's end), -1 on a damaged clip. */
static int oracle_next(oracle_stream *os, image *img, wm_error *err) {
    if (!os->run) {
        if (os->clip_done) return 0;
        int r = video_reader_next(os->vr, img, err);
        if (r == 0) os->clip_done = 1;
        return r;
    }
    render_frame(&os->r, os->run->w);
    if (img->width != os->r.frame.width || img->height != os->r.frame.height)
        image_free(img), image_init(img, os->r.frame.width, os->r.frame.height);
    memcpy(img->rgb, os->r.frame.rgb, (size_t)img->width * img->height * 3);
    const action a = scenario_run_action(os->run, os->f++);
    sim_step(os->run->w, &a);
    return 1;
}

static void oracle_close(oracle_stream *os) {
    video_reader_close(os->vr);
    if (os->run) renderer_free(&os->r);
}

/* The W context frames' tokens and then the N generated ones, decoded, as
 * a video; side by side with the oracle when asked. */
static int write_video(const dream_options *o, tokenizer *tk, const dream_inputs *in, const int *generated,
                       scenario_run *run, wm_error *err) {
    const int Wd = tk->cfg.width, Hd = tk->cfg.height, n = in->W + in->N, P = in->P;
    const size_t plane = (size_t)Wd * Hd;
    video_writer *vw = NULL;
    oracle_stream os;
    int have_oracle = 0, rc = -1;
    image frames[2] = {{0}}, row = {0};
    image_init(&frames[1], Wd, Hd);
    int *codes = MALLOC_CHECK((size_t)DREAM_DECODE_BATCH * P * sizeof *codes);
    float *x = MALLOC_CHECK((size_t)DREAM_DECODE_BATCH * 3 * plane * sizeof *x);
    if (o->side_by_side) {
        if (oracle_open(&os, o, run, err)) goto done;
        have_oracle = 1;
    }
    if (video_writer_open(&vw, o->out, o->side_by_side ? 2 * Wd : Wd, Hd, CLIP_FPS, VIDEO_CODEC_AUTO, err)) goto done;
    for (int g0 = 0; g0 < n; g0 += DREAM_DECODE_BATCH) {
        const int B = n - g0 < DREAM_DECODE_BATCH ? n - g0 : DREAM_DECODE_BATCH;
        for (int b = 0; b < B; b++) {
            const int g = g0 + b;
            const int *src = g < in->W ? in->ctx_tokens + (size_t)g * P : generated + (size_t)(g - in->W) * P;
            memcpy(codes + (size_t)b * P, src, (size_t)P * sizeof *codes);
        }
        tokenizer_decode(tk, codes, B, x);
        for (int b = 0; b < B; b++) {
            const int g = g0 + b;
            image_from_floats(x + (size_t)b * 3 * plane, &frames[1]);
            if (!o->side_by_side) {
                if (video_writer_add(vw, &frames[1], err)) goto done;
                continue;
            }
            int r = oracle_next(&os, &frames[0], err);
            if (r < 0) goto done;
            if (r == 1 && (frames[0].width != Wd || frames[0].height != Hd)) {
                wm_fail(err, "%s/%s: frame %d is %dx%d, but %s takes %dx%d", o->context, CLIP_FILE_FRAMES,
                        o->start + g, frames[0].width, frames[0].height, o->tokenizer, Wd, Hd);
                goto done;
            }
            if (r == 0) {
                if (frames[0].width != Wd || frames[0].height != Hd)
                    image_free(&frames[0]), image_init(&frames[0], Wd, Hd);
                memset(frames[0].rgb, DREAM_GREY, plane * 3);
            }
            const char *labels[2] = {r == 1 ? in->oracle_label : "no oracle", g < in->W ? "context" : "dream"};
            image_free(&row);
            if (overlay_side_by_side(frames, labels, 2, &row, err) || video_writer_add(vw, &row, err)) goto done;
        }
    }
    rc = video_writer_close(vw, err);
    vw = NULL;
done:
    video_writer_abort(vw);
    if (have_oracle) oracle_close(&os);
    image_free(&frames[0]), image_free(&frames[1]), image_free(&row);
    free(codes), free(x);
    return rc;
}

/* N lines of P space-separated ids. */
static int write_tokens(const char *path, const int *tokens, int N, int P, wm_error *err) {
    atomic_file af;
    if (dir_create_parent(path, err) || atomic_file_open(&af, path, err)) return -1;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < P; j++) fprintf(af.f, "%d%c", tokens[(size_t)i * P + j], j + 1 < P ? ' ' : '\n');
    return atomic_file_commit(&af, err);
}

/* ---- the command -------------------------------------------------------------- */

static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* 0 done; 1 with err set; 2 with a usage error printed. */
static int run_dream(dream_options *o, wm_error *err) {
    dynamics_model dm;
    tokenizer tk;
    dream_inputs in = {0};
    scenario *sc = NULL;
    scenario_run run = {0};
    int *generated = NULL, have_dm = 0, have_tk = 0, rc = 1;
    if (dynamics_load(&dm, o->model, o->guidance != 1.0 ? 2 : 1, err)) goto done; /* guidance runs 2 windows */
    have_dm = 1;
    const dynamics_config *c = &dm.cfg;
    if (c->action_dim != TOKEN_SHARDS_ACTIONS || (c->slots && c->slot_dim != TOKEN_SHARDS_SLOT_FEATURES)) {
        wm_fail(err, "%s: %d action and %d slot features, but dream makes %d and %d", o->model, c->action_dim,
                c->slot_dim, TOKEN_SHARDS_ACTIONS, TOKEN_SHARDS_SLOT_FEATURES);
        goto done;
    }
    if (!o->steps_given && o->steps > c->frame_tokens) o->steps = c->frame_tokens;
    if (o->mode == ROLLOUT_PARALLEL && o->steps > c->frame_tokens) {
        char msg[600];
        snprintf(msg, sizeof msg, "--steps %d: above the %d tokens a frame of %s", o->steps, c->frame_tokens, o->model);
        rc = usage_error("%s", msg);
        goto done;
    }
    if (tokenizer_load(&tk, o->tokenizer, DREAM_DECODE_BATCH, err)) goto done;
    have_tk = 1;
    if (tk.cfg.codebook_size != c->vocab || tk.hz * tk.wz != c->frame_tokens) {
        wm_fail(err, "%s: %d codes and %d tokens a frame, but %s takes %d codes and %d tokens a frame", o->tokenizer,
                tk.cfg.codebook_size, tk.hz * tk.wz, o->model, c->vocab, c->frame_tokens);
        goto done;
    }
    const int with_slots = c->slots > 0 && o->slots != 0;
    struct stat sb;
    if (stat(o->context, &sb) != 0) {
        wm_fail(err, "%s: no such clip folder or scenario file", o->context);
        goto done;
    }
    if (S_ISDIR(sb.st_mode)) {
        if (!clip_is_complete(o->context)) {
            wm_fail(err, "%s: not a complete clip (no %s)", o->context, CLIP_FILE_META);
            goto done;
        }
        if (clip_context(o, c, &tk, with_slots, &in, err)) goto done;
    } else if (has_suffix(o->context, ".pbtxt") || has_suffix(o->context, ".pb")) {
        sc = CALLOC_CHECK(1, sizeof *sc);
        if (scenario_load(o->context, sc, err)) goto done;
        run.sc = sc;
        run.cp = sc->camera;
        run.cp.width = tk.cfg.width, run.cp.height = tk.cfg.height;
        if (camera_params_check(&run.cp, err)) {
            wm_error_prefix(err, "%s: at the tokenizer's size: ", o->context);
            goto done;
        }
        run.w = MALLOC_CHECK(sizeof *run.w);
        if (scenario_context(o, c, &tk, with_slots, &run, &in, err)) goto done;
    } else {
        wm_fail(err, "%s: neither a clip folder nor a scenario file (.pbtxt, .pb)", o->context);
        goto done;
    }

    rollout_params rp = rollout_params_default();
    rp.mode = o->mode, rp.steps = o->steps, rp.temperature = (float)o->temperature, rp.top_k = o->top_k;
    rp.seed = o->seed, rp.guidance = (float)o->guidance;
    generated = MALLOC_CHECK((size_t)in.N * in.P * sizeof *generated);
    const double t0 = clock_now_s();
    if (rollout_generate(&dm, &rp, 1, in.W, in.ctx_tokens, in.ctx_actions, in.ctx_slots, in.N, in.new_actions,
                         in.new_slots, generated, err))
        goto done;
    const double seconds = clock_now_s() - t0;
    if (dir_create_parent(o->out, err) || write_video(o, &tk, &in, generated, sc ? &run : NULL, err)) goto done;
    if (o->tokens && write_tokens(o->tokens, generated, in.N, in.P, err)) goto done;
    if (!o->quiet) {
        char steps[32] = "";
        if (o->mode == ROLLOUT_PARALLEL) snprintf(steps, sizeof steps, ", %d steps", o->steps);
        printf("%s: %d context + %d generated frames at %dx%d%s; %s decoding%s, %.2f s, %.1f frames/s\n", o->out,
               in.W, in.N, o->side_by_side ? 2 * tk.cfg.width : tk.cfg.width, tk.cfg.height,
               o->side_by_side ? " (oracle | dream)" : "", rollout_mode_name(o->mode), steps, seconds,
               seconds > 0 ? in.N / seconds : 0.0);
    }
    rc = 0;
done:
    if (have_dm) dynamics_free(&dm);
    if (have_tk) tokenizer_free(&tk);
    dream_inputs_free(&in);
    action_seq_free(&run.rows);
    free(run.w);
    if (sc) scenario_free(sc), free(sc);
    free(generated);
    return rc;
}

int cmd_dream(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) return print_usage(stdout), 0;
    dream_options o;
    int rc = parse_options(argc, argv, &o);
    if (rc) return rc;
    wm_error err;
    rc = run_dream(&o, &err);
    if (rc == 1) fprintf(stderr, "wmsim: %s\n", err.msg);
    return rc;
}
