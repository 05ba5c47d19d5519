/* wm_eval.c — `wmsim worldmodel eval` as a library (see wm_eval.h).
 *
 * Dimension glossary: F frames per model window, W = F-1 context frames,
 * P image tokens per frame, A action features, K slots of S features, V
 * vocabulary; H x Wd pixels, 3 channels (frames as floats are planar,
 * (3, H, Wd) in [0, 1]); R rollout frames, D discrimination frames, G
 * gesture frames, B sequences generated together. */
#include "sim/wm_eval.h"

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/clock.h"
#include "core/fileio.h"
#include "core/mathx.h"
#include "core/version.h"
#include "datasets/clip_reader.h"
#include "datasets/token_shards.h"
#include "datasets/window_source.h"
#include "render/camera.h"
#include "render/font.h"
#include "render/render.h"
#include "render/video.h"
#include "sim/vehicle.h"
#include "sim/world.h"
#include "worldmodel/dynamics_model.h"
#include "worldmodel/estimator.h"
#include "worldmodel/image_metrics.h"
#include "worldmodel/tokenizer.h"

#define TEXT_MAX_BYTES ((size_t)1 << 30)
#define CODEC_BATCH 16 /* frames the tokenizer encodes or decodes at once */
#define MODEL_BATCH WM_EVAL_N_GESTURES /* the most sequences generated together */
#define EGO_TOLERANCE 1e-6 /* m, rad, m/s: a replay must land on the recorded states */

const char *wm_eval_mode_name(wm_eval_mode m) { return m == WM_EVAL_ACTIONS ? "actions_only" : "slots"; }
const char *wm_eval_pair_name(wm_eval_pair p) { return p == WM_EVAL_LONGITUDINAL ? "longitudinal" : "lateral"; }

wm_eval_config wm_eval_config_default(void) {
    wm_eval_config c = {.model = "models/dynamics.wmck", .tokenizer = "models/tokenizer.wmck",
                        .estimator = "models/estimator.wmck", .scenarios = "scenarios/examples",
                        .clips = WM_EVAL_DEFAULT_CLIPS, .horizons = {0.5, 1, 2, 3}, .n_horizons = 4,
                        .act_frames = WM_EVAL_ACT_FRAMES, .rollout = rollout_params_default(),
                        .strip_clips = WM_EVAL_STRIP_CLIPS};
    c.rollout.temperature = 0.0f;
    return c;
}

double wm_eval_psnr(const wm_eval_mean *m) { return m->n ? m->psnr_sum / m->n : NAN; }
double wm_eval_ssim(const wm_eval_mean *m) { return m->n ? m->ssim_sum / m->n : NAN; }
double wm_eval_rate(const wm_eval_count *c) { return c->trials ? (double)c->correct / c->trials : NAN; }

wm_eval_count wm_eval_total(const wm_eval_count *c, int n) {
    wm_eval_count t = {0, 0};
    for (int i = 0; i < n; i++) t.trials += c[i].trials, t.correct += c[i].correct;
    return t;
}

static double capped(double psnr) { return psnr > WM_EVAL_PSNR_CAP ? WM_EVAL_PSNR_CAP : psnr; }

static void mean_add(wm_eval_mean *m, double psnr, double ssim) {
    m->n++;
    m->psnr_sum += capped(psnr);
    m->ssim_sum += ssim;
}

static void count_add(wm_eval_count *c, int correct) {
    c->trials++;
    c->correct += correct != 0;
}

/* ---- one clip ------------------------------------------------------------------ */

void wm_eval_clip_free(wm_eval_clip *c) {
    free(c->rgb);
    free(c->states);
    c->rgb = NULL, c->states = NULL, c->n = 0;
}

static int read_states(const char *dir, wm_eval_clip *c, wm_error *err) {
    return clip_states_read(dir, c->meta.frames, &c->states, err);
}

static int read_frames(const char *dir, wm_eval_clip *c, wm_error *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, CLIP_FILE_FRAMES);
    const int F = c->meta.frames, Wd = c->meta.width, H = c->meta.height;
    const size_t frame_bytes = (size_t)3 * Wd * H;
    c->rgb = MALLOC_CHECK((size_t)F * frame_bytes);
    video_reader *vr;
    if (video_reader_open(&vr, path, err)) return -1;
    image img = {0};
    int got = 0, rc = -1;
    for (;;) {
        int r = video_reader_next(vr, &img, err);
        if (r < 0) goto done;
        if (r == 0) break;
        if (got >= F) {
            wm_fail(err, "%s: more than the %d frames meta.json says", path, F);
            goto done;
        }
        if (img.width != Wd || img.height != H) {
            wm_fail(err, "%s: frame %d is %dx%d, but meta.json says %dx%d", path, got, img.width, img.height, Wd, H);
            goto done;
        }
        memcpy(c->rgb + (size_t)got * frame_bytes, img.rgb, frame_bytes);
        got++;
    }
    if (got != F) {
        wm_fail(err, "%s: %d frames, but meta.json says %d", path, got, F);
        goto done;
    }
    rc = 0;
done:
    video_reader_close(vr);
    image_free(&img);
    return rc;
}

int wm_eval_clip_read(const char *dir, wm_eval_clip *c, wm_error *err) {
    memset(c, 0, sizeof *c);
    snprintf(c->dir, sizeof c->dir, "%s", dir);
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, CLIP_FILE_META);
    uint8_t *text;
    size_t len;
    if (file_read_all(path, TEXT_MAX_BYTES, &text, &len, err)) return -1;
    int rc = clip_meta_from_json((const char *)text, &c->meta, err);
    free(text);
    if (rc) return wm_error_prefix(err, "%s: ", path);
    if (c->meta.frames < 1) return wm_fail(err, "%s: %d frames", path, c->meta.frames);
    if (read_states(dir, c, err) || read_frames(dir, c, err)) {
        wm_eval_clip_free(c);
        return -1;
    }
    c->n = c->meta.frames;
    return 0;
}

static void rgb_to_planar(const uint8_t *rgb, int Wd, int H, float *x) {
    image_to_floats(&(image){Wd, H, (uint8_t *)rgb}, x);
}

/* (3, H, Wd) floats into a new image. */
static void planar_to_image(const float *x, int Wd, int H, image *img) {
    image_init(img, Wd, H);
    image_from_floats(x, img);
}

void wm_eval_clip_frame(const wm_eval_clip *c, int f, float *x) {
    const size_t frame_bytes = (size_t)3 * c->meta.width * c->meta.height;
    rgb_to_planar(c->rgb + (size_t)f * frame_bytes, c->meta.width, c->meta.height, x);
}

/* Frame features from an action that led to a frame (NULL: none) and the
 * speed at it, through training's normalisation. */
static void frame_actions(const action *led_by, double speed, float *out) {
    float prev[TOKEN_SHARDS_ACTIONS] = {0}, at[TOKEN_SHARDS_ACTIONS] = {0};
    if (led_by) {
        prev[TOKEN_ACTION_ACCEL] = (float)led_by->accel;
        prev[TOKEN_ACTION_BRAKE] = (float)led_by->brake;
        prev[TOKEN_ACTION_STEER] = (float)led_by->steer;
    }
    at[TOKEN_ACTION_SPEED] = (float)speed;
    window_frame_actions(led_by ? prev : NULL, at, out);
}

static void frame_slots(const clip_state *st, int K, float *out) {
    const int S = TOKEN_SHARDS_SLOT_FEATURES;
    float raw[TOKEN_SHARDS_MAX_SLOTS * TOKEN_SHARDS_SLOT_FEATURES];
    token_slots_from_state(st, K, raw);
    for (int k = 0; k < K; k++) window_slot_normalise(raw + k * S, out + k * S);
}

void wm_eval_conditioning(const wm_eval_clip *c, int K, float *actions, float *slots) {
    const int A = TOKEN_SHARDS_ACTIONS, S = TOKEN_SHARDS_SLOT_FEATURES;
    for (int f = 0; f < c->n; f++) {
        const clip_state *st = &c->states[f];
        /* The action that led to frame f is the one recorded after frame f-1. */
        const action *led_by = f > 0 && c->states[f - 1].has_action ? &c->states[f - 1].action : NULL;
        action zero = {0, 0, 0};
        if (f > 0 && !led_by) led_by = &zero;
        frame_actions(led_by, st->speed, actions + (size_t)f * A);
        if (K > 0 && slots) frame_slots(st, K, slots + (size_t)f * K * S);
    }
}

int wm_eval_window(int n, int W, int R) {
    if (W < 1 || R < 1 || n < W + R) return -1;
    return W - 1 + (n - W - R) / 2;
}

void wm_eval_repeat_last(const wm_eval_clip *c, int last, const int *offsets, int n, double *psnr, double *ssim) {
    const size_t frame_bytes = (size_t)3 * c->meta.width * c->meta.height;
    metric_image a = {c->meta.width, c->meta.height, c->rgb + (size_t)last * frame_bytes};
    for (int i = 0; i < n; i++) {
        metric_image b = {c->meta.width, c->meta.height, c->rgb + (size_t)(last + offsets[i]) * frame_bytes};
        wm_error err;
        if (psnr_rgb8(a, b, &psnr[i], &err) || ssim_rgb8(a, b, &ssim[i], &err)) psnr[i] = ssim[i] = NAN;
        else psnr[i] = capped(psnr[i]);
    }
}

action wm_eval_contrast(const action *future, int n, double speed, const action_limits *lim, int *brakes) {
    double net = 0;
    for (int i = 0; i < n; i++) net += future[i].accel - future[i].brake;
    net = n > 0 ? net / n : 0;
    action a = {0, 0, 0};
    if (net < -WM_EVAL_BRAKING || speed < WM_EVAL_SLOW) {
        a.accel = lim->accel_max;
        *brakes = 0;
    } else {
        a.brake = fmin(WM_EVAL_HARD_BRAKE, lim->brake_max);
        *brakes = 1;
    }
    return a;
}

/* ---- the evaluation's state ----------------------------------------------------- */

typedef struct {
    wm_eval_config cfg;
    dynamics_model dm;
    tokenizer tk;
    estimator est;
    int have_dm, have_tk, have_est;
    scenario *scenarios;
    char **scenario_files;
    int n_scenarios;
    int P, W, A, K, S, H, Wd, R;
    size_t frame_floats; /* 3 H Wd */
} evaluator;

static void evaluator_free(evaluator *ev) {
    if (ev->have_dm) dynamics_free(&ev->dm);
    if (ev->have_tk) tokenizer_free(&ev->tk);
    if (ev->have_est) estimator_free(&ev->est);
    for (int i = 0; i < ev->n_scenarios; i++) scenario_free(&ev->scenarios[i]), free(ev->scenario_files[i]);
    free(ev->scenarios);
    free(ev->scenario_files);
}

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every .pbtxt and .pb file of dir, sorted, loaded. */
static int load_scenarios(evaluator *ev, const char *dir, wm_error *err) {
    DIR *d = opendir(dir);
    if (!d) return wm_fail(err, "%s: cannot open the scenario folder", dir);
    char **names = NULL;
    int n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        int text = len > 6 && strcmp(e->d_name + len - 6, ".pbtxt") == 0;
        int binary = len > 3 && strcmp(e->d_name + len - 3, ".pb") == 0;
        if (!text && !binary) continue;
        if (n == cap) names = REALLOC_CHECK(names, (size_t)(cap = cap ? 2 * cap : 16), sizeof *names);
        names[n] = MALLOC_CHECK(strlen(dir) + len + 2);
        sprintf(names[n], "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (n) qsort(names, (size_t)n, sizeof *names, name_cmp);
    ev->scenarios = CALLOC_CHECK((size_t)n + 1, sizeof *ev->scenarios);
    ev->scenario_files = names;
    for (int i = 0; i < n; i++) {
        if (scenario_load(names[i], &ev->scenarios[i], err)) {
            for (int j = i; j < n; j++) free(names[j]);
            return -1;
        }
        ev->n_scenarios++;
    }
    return 0;
}

static int evaluator_open(evaluator *ev, const wm_eval_config *cfg, wm_error *err) {
    memset(ev, 0, sizeof *ev);
    ev->cfg = *cfg;
    /* guidance runs every window twice */
    if (dynamics_load(&ev->dm, cfg->model, cfg->rollout.guidance != 1.0f ? 2 * MODEL_BATCH : MODEL_BATCH, err))
        return -1;
    ev->have_dm = 1;
    if (tokenizer_load(&ev->tk, cfg->tokenizer, CODEC_BATCH, err)) return -1;
    ev->have_tk = 1;
    const dynamics_config *m = &ev->dm.cfg;
    const int tk_tokens = ev->tk.hz * ev->tk.wz;
    if (m->vocab != ev->tk.cfg.codebook_size || m->frame_tokens != tk_tokens)
        return wm_fail(err, "%s: %d codes, %d tokens a frame, but %s has %d codes, %d tokens a frame", cfg->model,
                       m->vocab, m->frame_tokens, cfg->tokenizer, ev->tk.cfg.codebook_size, tk_tokens);
    if (m->action_dim != TOKEN_SHARDS_ACTIONS || (m->slots && m->slot_dim != TOKEN_SHARDS_SLOT_FEATURES) ||
        m->slots > TOKEN_SHARDS_MAX_SLOTS)
        return wm_fail(err, "%s: %d action features and slots of %d, but clips give %d and %d", cfg->model,
                       m->action_dim, m->slot_dim, TOKEN_SHARDS_ACTIONS, TOKEN_SHARDS_SLOT_FEATURES);
    if (m->frames < 2) return wm_fail(err, "%s: windows of %d frame: no context to roll out from", cfg->model, m->frames);
    if (cfg->estimator) {
        if (estimator_load(&ev->est, cfg->estimator, CODEC_BATCH, err)) return -1;
        ev->have_est = 1;
        if (ev->est.cfg.width != ev->tk.cfg.width || ev->est.cfg.height != ev->tk.cfg.height)
            return wm_fail(err, "%s: reads %dx%d frames, but %s makes %dx%d", cfg->estimator, ev->est.cfg.width,
                           ev->est.cfg.height, cfg->tokenizer, ev->tk.cfg.width, ev->tk.cfg.height);
    }
    if (cfg->scenarios && load_scenarios(ev, cfg->scenarios, err)) return -1;
    ev->P = m->frame_tokens, ev->W = m->frames - 1, ev->A = m->action_dim, ev->K = m->slots;
    ev->S = TOKEN_SHARDS_SLOT_FEATURES;
    ev->H = ev->tk.cfg.height, ev->Wd = ev->tk.cfg.width;
    ev->frame_floats = (size_t)3 * ev->H * ev->Wd;
    return 0;
}

static void encode(evaluator *ev, const float *x, int n, int *codes) {
    for (int i = 0; i < n; i += CODEC_BATCH) {
        int b = n - i < CODEC_BATCH ? n - i : CODEC_BATCH;
        tokenizer_encode(&ev->tk, x + (size_t)i * ev->frame_floats, b, codes + (size_t)i * ev->P);
    }
}

static void decode(evaluator *ev, const int *codes, int n, float *x) {
    for (int i = 0; i < n; i += CODEC_BATCH) {
        int b = n - i < CODEC_BATCH ? n - i : CODEC_BATCH;
        tokenizer_decode(&ev->tk, codes + (size_t)i * ev->P, b, x + (size_t)i * ev->frame_floats);
    }
}

/* B rollouts of n_new frames from one context (tokens (W, P), actions
 * (W, A), slots (W, K, S) or NULL), decoded into pixels (B, n_new, 3, H, Wd).
 * new_slots NULL: every slot absent. */
static int generate(evaluator *ev, wm_eval_result *res, int B, const int *ctx_tokens, const float *ctx_actions,
                    const float *ctx_slots, int n_new, const float *new_actions, const float *new_slots,
                    float *pixels, wm_error *err) {
    const int W = ev->W, P = ev->P, A = ev->A;
    const size_t KS = (size_t)ev->K * ev->S;
    int *tokens = MALLOC_CHECK((size_t)B * W * P * sizeof *tokens);
    float *actions = MALLOC_CHECK((size_t)B * W * A * sizeof *actions);
    float *slots = ctx_slots && KS ? MALLOC_CHECK((size_t)B * W * KS * sizeof *slots) : NULL;
    for (int b = 0; b < B; b++) {
        memcpy(tokens + (size_t)b * W * P, ctx_tokens, (size_t)W * P * sizeof *tokens);
        memcpy(actions + (size_t)b * W * A, ctx_actions, (size_t)W * A * sizeof *actions);
        if (slots) memcpy(slots + (size_t)b * W * KS, ctx_slots, (size_t)W * KS * sizeof *slots);
    }
    int *out = MALLOC_CHECK((size_t)B * n_new * P * sizeof *out);
    int rc = rollout_generate(&ev->dm, &ev->cfg.rollout, B, W, tokens, actions, slots, n_new, new_actions,
                              slots ? new_slots : NULL, out, err);
    if (rc == 0) {
        decode(ev, out, B * n_new, pixels);
        res->generated_frames += (long long)B * n_new;
    }
    free(tokens), free(actions), free(slots), free(out);
    return rc;
}

/* Mean squared error of n frames against n frames. */
static double mse(const float *x, const float *y, size_t floats) {
    double se = 0;
    for (size_t i = 0; i < floats; i++) {
        double d = (double)x[i] - (double)y[i];
        se += d * d;
    }
    return se / (double)floats;
}

/* ---- the oracle --------------------------------------------------------------- */

typedef enum { ORACLE_OK, ORACLE_MISSING, ORACLE_MISMATCH } oracle_status;

typedef struct {
    scenario sc;      /* the varied copy the world points at (pb_bytes shared, not owned) */
    sim_world *w;     /* at the frame replayed to */
    renderer r;
    int have_r;
} oracle;

static void oracle_free(oracle *o) {
    free(o->w);
    if (o->have_r) renderer_free(&o->r);
    memset(o, 0, sizeof *o);
}

static int ego_matches(const sim_world *w, const clip_state *st) {
    return fabs(w->ego.x - st->x) <= EGO_TOLERANCE && fabs(w->ego.y - st->y) <= EGO_TOLERANCE &&
           fabs(wrap_angle(w->ego.yaw - st->yaw)) <= EGO_TOLERANCE && fabs(w->ego.speed - st->speed) <= EGO_TOLERANCE;
}

/* The clip's scenario re-simulated to `frame` with the clip's own actions,
 * the ego checked against every recorded state on the way. */
static oracle_status oracle_replay(const evaluator *ev, const wm_eval_clip *clip, int frame, oracle *o) {
    memset(o, 0, sizeof *o);
    const clip_meta *m = &clip->meta;
    if (m->source != CLIP_SOURCE_SYNTHETIC) return ORACLE_MISSING;
    const scenario *base = NULL;
    for (int i = 0; i < ev->n_scenarios && !base; i++)
        if (ev->scenarios[i].hash == m->scenario_hash && strcmp(ev->scenarios[i].id, m->scenario_id) == 0)
            base = &ev->scenarios[i];
    if (!base) return ORACLE_MISSING;
    o->sc = *base;
    scenario_vary(&o->sc, m->variation);
    if (o->sc.seed != m->seed) return ORACLE_MISMATCH;
    o->sc.camera = m->camera;
    o->w = MALLOC_CHECK(sizeof *o->w);
    sim_world_init(o->w, &o->sc, o->sc.seed);
    if (!ego_matches(o->w, &clip->states[0])) return oracle_free(o), ORACLE_MISMATCH;
    for (int f = 0; f < frame; f++) {
        if (!clip->states[f].has_action) return oracle_free(o), ORACLE_MISMATCH;
        sim_step(o->w, &clip->states[f].action);
        if (!ego_matches(o->w, &clip->states[f + 1])) return oracle_free(o), ORACLE_MISMATCH;
    }
    wm_error err;
    if (renderer_init(&o->r, &o->sc.camera, 1, &err)) return oracle_free(o), ORACLE_MISMATCH;
    o->have_r = 1;
    return ORACLE_OK;
}

/* ---- action discrimination ---------------------------------------------------------- */

enum { BRANCH_CONTRAST, BRANCH_LEFT, BRANCH_RIGHT, N_BRANCHES };

/* The three contrasting sequences' commands (N_BRANCHES, D). */
static void contrast_actions(const wm_eval_clip *clip, int c, int D, const action_limits *lim, action *out,
                             int *brakes) {
    action future[WM_EVAL_DISCRIM_FRAMES];
    for (int j = 0; j < D; j++) future[j] = clip->states[c + j].action;
    action lon = wm_eval_contrast(future, D, clip->states[c].speed, lim, brakes);
    double steer = fmin(WM_EVAL_STEER, lim->steer_max);
    for (int j = 0; j < D; j++) {
        out[BRANCH_CONTRAST * D + j] = (action){lon.accel, lon.brake, future[j].steer};
        out[BRANCH_LEFT * D + j] = (action){future[j].accel, future[j].brake, steer};
        out[BRANCH_RIGHT * D + j] = (action){future[j].accel, future[j].brake, -steer};
        for (int b = 0; b < N_BRANCHES; b++) action_clamp(&out[b * D + j], lim);
    }
}

/* The conditioning of frames c+1 .. c+D under each branch's commands
 * (N_BRANCHES, D, A) and (N_BRANCHES, D, K, S); with the oracle (o not
 * NULL) also its renders (N_BRANCHES, D, 3, H, Wd). */
static void branch_futures(evaluator *ev, const wm_eval_clip *clip, int c, int D, const action *cmds, oracle *o,
                           const float *true_slots, float *actions, float *slots, float *renders) {
    const int A = ev->A, K = ev->K, S = ev->S;
    clip_state *st = MALLOC_CHECK(sizeof *st);
    sim_world *wb = o ? MALLOC_CHECK(sizeof *wb) : NULL;
    vehicle_params vp = {.length = SCENARIO_DEFAULT_VEHICLE_LENGTH, .width = SCENARIO_DEFAULT_VEHICLE_WIDTH,
                         .wheelbase = SCENARIO_DEFAULT_WHEELBASE, .limits = action_limits_default()};
    for (int b = 0; b < N_BRANCHES; b++) {
        vehicle_state vs = vehicle_state_at(clip->states[c].x, clip->states[c].y, clip->states[c].yaw,
                                            clip->states[c].speed);
        if (c > 0 && clip->states[c - 1].has_action) vs.applied = clip->states[c - 1].action;
        if (wb) *wb = *o->w;
        for (int j = 0; j < D; j++) {
            const action *a = &cmds[b * D + j];
            double speed;
            float *sl = slots + ((size_t)b * D + j) * K * S;
            if (wb) {
                sim_step(wb, a);
                speed = wb->ego.speed;
                render_frame(&o->r, wb);
                rgb_to_planar(o->r.frame.rgb, ev->Wd, ev->H, renders + ((size_t)b * D + j) * ev->frame_floats);
                if (K) {
                    clip_state_from_world(wb, &o->sc.camera, c + j + 1, st);
                    frame_slots(st, K, sl);
                }
            } else {
                vehicle_step(&vp, &vs, a, SIM_DT, SIM_SUBSTEPS);
                speed = vs.speed;
                if (K) memcpy(sl, true_slots + (size_t)j * K * S, (size_t)K * S * sizeof *sl);
            }
            frame_actions(a, speed, actions + ((size_t)b * D + j) * A);
        }
    }
    free(st), free(wb);
}

/* ---- gesture legibility -------------------------------------------------------------- */

static int is_guard_slot(const float *slot) {
    return slot[TOKEN_SLOT_PRESENT] > 0.5f &&
           fabsf(slot[TOKEN_SLOT_KIND] * WINDOW_SLOT_CLASS_SCALE - (float)(ACTOR_GUARD + 1)) < 0.01f;
}

/* The nearest guard slot of a frame's slots (K, S), or -1. */
static int guard_slot(const float *slots, int K, int S) {
    for (int k = 0; k < K; k++)
        if (is_guard_slot(slots + (size_t)k * S)) return k;
    return -1;
}

/* The pixel box [x0, x1) x [y0, y1) of the region around every guard in
 * view where its arms move; 0 when none is in front of the camera. */
static int arm_box(const sim_world *w, const camera_params *cp, int *x0, int *y0, int *x1, int *y1) {
    camera cam;
    camera_init(&cam, cp, w->ego.x, w->ego.y, w->ego.yaw);
    double bx0 = 1e30, by0 = 1e30, bx1 = -1e30, by1 = -1e30;
    int any = 0;
    for (int i = 0; i < w->n_actors; i++) {
        const sim_actor *a = &w->actors[i];
        if (a->kind != ACTOR_GUARD) continue;
        for (int corner = 0; corner < 8; corner++) {
            double wx = a->x + (corner & 1 ? 1.5 : -1.5), wy = a->y + (corner & 2 ? 1.5 : -1.5);
            double wz = corner & 4 ? 2.6 : 0.3, px, py, depth;
            if (!camera_project(&cam, wx, wy, wz, &px, &py, &depth)) continue;
            any = 1;
            bx0 = fmin(bx0, px), by0 = fmin(by0, py), bx1 = fmax(bx1, px), by1 = fmax(by1, py);
        }
    }
    if (!any) return 0;
    *x0 = (int)clampd(floor(bx0), 0, cp->width), *x1 = (int)clampd(ceil(bx1), 0, cp->width);
    *y0 = (int)clampd(floor(by0), 0, cp->height), *y1 = (int)clampd(ceil(by1), 0, cp->height);
    return *x1 > *x0 && *y1 > *y0;
}

/* Squared error of two planar frames inside a box. */
static double box_se(const float *x, const float *y, int H, int Wd, const int box[4]) {
    double se = 0;
    const size_t plane = (size_t)H * Wd;
    for (int ch = 0; ch < 3; ch++)
        for (int py = box[1]; py < box[3]; py++)
            for (int px = box[0]; px < box[2]; px++) {
                size_t i = ch * plane + (size_t)py * Wd + px;
                double d = (double)x[i] - (double)y[i];
                se += d * d;
            }
    return se;
}

/* The gesture window's context end: guard slots in every frame from W-1
 * before to G after, nearest WM_EVAL_GESTURE_RANGE at the end; -1: none. */
static int gesture_window(const evaluator *ev, const wm_eval_clip *clip, const float *slots, int G) {
    const int K = ev->K, S = ev->S, W = ev->W;
    int best = -1;
    double best_d = 1e30;
    for (int c = W - 1; c + G < clip->n; c++) {
        int ok = 1;
        for (int f = c - W + 1; f <= c + G && ok; f++) ok = guard_slot(slots + (size_t)f * K * S, K, S) >= 0;
        if (!ok) continue;
        const float *g = slots + ((size_t)c * K + guard_slot(slots + (size_t)c * K * S, K, S)) * S;
        double d = fabs(hypot(g[TOKEN_SLOT_X], g[TOKEN_SLOT_Y]) * WINDOW_SLOT_POS_SCALE - WM_EVAL_GESTURE_RANGE);
        if (d < best_d) best_d = d, best = c;
    }
    return best;
}

static int eval_gesture(evaluator *ev, const wm_eval_clip *clip, const float *actions, const float *slots,
                        wm_eval_result *res, wm_error *err) {
    const int G = WM_EVAL_GESTURE_FRAMES, NG = WM_EVAL_N_GESTURES, W = ev->W, A = ev->A, K = ev->K, S = ev->S;
    const size_t ff = ev->frame_floats;
    int c = gesture_window(ev, clip, slots, G);
    if (c < 0) return 0;
    oracle o;
    if (oracle_replay(ev, clip, c, &o) != ORACLE_OK) return 0;
    float *x = MALLOC_CHECK((size_t)W * ff * sizeof *x);
    int *ctx = MALLOC_CHECK((size_t)W * ev->P * sizeof *ctx);
    float *new_actions = MALLOC_CHECK((size_t)NG * G * A * sizeof *new_actions);
    float *new_slots = MALLOC_CHECK((size_t)NG * G * K * S * sizeof *new_slots);
    float *gen = MALLOC_CHECK((size_t)NG * G * ff * sizeof *gen);
    float *ref = MALLOC_CHECK((size_t)NG * G * ff * sizeof *ref);
    sim_world *wb = MALLOC_CHECK(sizeof *wb);
    int boxes[WM_EVAL_GESTURE_FRAMES][4], has_box[WM_EVAL_GESTURE_FRAMES] = {0}, rc = -1;
    for (int i = 0; i < W; i++) wm_eval_clip_frame(clip, c - W + 1 + i, x + (size_t)i * ff);
    encode(ev, x, W, ctx);
    for (int g = 0; g < NG; g++) {
        memcpy(new_actions + (size_t)g * G * A, actions + (size_t)(c + 1) * A, (size_t)G * A * sizeof *actions);
        float *ns = new_slots + (size_t)g * G * K * S;
        memcpy(ns, slots + (size_t)(c + 1) * K * S, (size_t)G * K * S * sizeof *slots);
        for (int j = 0; j < G; j++)
            for (int k = 0; k < K; k++) {
                float *sl = ns + ((size_t)j * K + k) * S;
                if (is_guard_slot(sl)) sl[TOKEN_SLOT_GESTURE] = (float)(GESTURE_STOP + g) / WINDOW_SLOT_CLASS_SCALE;
            }
        /* The oracle: the same world and actions, every guard showing g. */
        *wb = *o.w;
        for (int j = 0; j < G; j++) {
            sim_step(wb, &clip->states[c + j].action);
            gesture saved[SCENARIO_MAX_ACTORS];
            for (int i = 0; i < wb->n_actors; i++) {
                saved[i] = wb->actors[i].gesture;
                if (wb->actors[i].kind == ACTOR_GUARD) wb->actors[i].gesture = (gesture)(GESTURE_STOP + g);
            }
            render_frame(&o.r, wb);
            for (int i = 0; i < wb->n_actors; i++) wb->actors[i].gesture = saved[i];
            rgb_to_planar(o.r.frame.rgb, ev->Wd, ev->H, ref + ((size_t)g * G + j) * ff);
            if (g == 0)
                has_box[j] = arm_box(wb, &o.sc.camera, &boxes[j][0], &boxes[j][1], &boxes[j][2], &boxes[j][3]);
        }
    }
    if (generate(ev, res, NG, ctx, actions + (size_t)(c - W + 1) * A, slots + (size_t)(c - W + 1) * K * S, G,
                 new_actions, new_slots, gen, err))
        goto done;
    /* The arm regions' pixels over the G frames. A gesture's trial counts
     * only when its oracle render differs there from every other one's. */
    double box_pixels = 0;
    for (int j = 0; j < G; j++)
        if (has_box[j]) box_pixels += 3.0 * (boxes[j][2] - boxes[j][0]) * (boxes[j][3] - boxes[j][1]);
    double apart[WM_EVAL_N_GESTURES][WM_EVAL_N_GESTURES] = {{0}}, e[WM_EVAL_N_GESTURES][WM_EVAL_N_GESTURES] = {{0}};
    for (int g = 0; g < NG; g++)
        for (int h = 0; h < NG; h++)
            for (int j = 0; j < G; j++)
                if (has_box[j]) {
                    apart[g][h] += box_se(ref + ((size_t)g * G + j) * ff, ref + ((size_t)h * G + j) * ff, ev->H,
                                          ev->Wd, boxes[j]);
                    e[g][h] += box_se(gen + ((size_t)g * G + j) * ff, ref + ((size_t)h * G + j) * ff, ev->H, ev->Wd,
                                      boxes[j]);
                }
    res->gesture_clips++;
    for (int g = 0; g < NG; g++) {
        int distinct = box_pixels > 0, legible = 1;
        for (int h = 0; h < NG; h++) {
            if (h == g) continue;
            if (!(apart[g][h] / box_pixels >= WM_EVAL_SAME_MSE)) distinct = 0;
            if (!(e[g][g] < e[g][h])) legible = 0;
        }
        if (distinct) count_add(&res->gesture, legible);
        else res->gesture_skipped++;
    }
    rc = 0;
done:
    oracle_free(&o);
    free(x), free(ctx), free(new_actions), free(new_slots), free(gen), free(ref), free(wb);
    return rc;
}

/* ---- ACT-Bench ----------------------------------------------------------------------- */

static void act_add(wm_eval_act *a, const estimator_score_result *r) {
    a->windows++;
    a->class_correct += r->est_class == r->true_class;
    a->ade_sum += r->ade, a->fde_sum += r->fde;
    a->speed_mae_sum += r->speed_mae, a->yaw_mae_sum += r->yaw_mae;
}

/* frames (n + 1, 3, H, Wd) against the true motion of frames c .. c+n. */
static int act_score(evaluator *ev, const wm_eval_clip *clip, int c, const float *frames, int n, wm_eval_act *a,
                     wm_error *err) {
    float *speed = MALLOC_CHECK((size_t)n * sizeof *speed), *yaw = MALLOC_CHECK((size_t)n * sizeof *yaw);
    for (int i = 0; i < n; i++) {
        speed[i] = (float)(0.5 * (clip->states[c + i].speed + clip->states[c + i + 1].speed));
        yaw[i] = (float)clip->states[c + i + 1].yaw_rate;
    }
    estimator_score_result r;
    int rc = estimator_score(&ev->est, frames, n + 1, speed, yaw, ESTIMATOR_DT, &r, NULL, NULL, err);
    if (rc == 0) act_add(a, &r);
    free(speed), free(yaw);
    return rc;
}

/* ---- one clip, every measurement ------------------------------------------------------ */

static int eval_clip(evaluator *ev, const wm_eval_clip *clip, wm_eval_result *res, wm_eval_strip *strip,
                     wm_error *err) {
    const int W = ev->W, P = ev->P, A = ev->A, K = ev->K, S = ev->S, R = ev->R, D = WM_EVAL_DISCRIM_FRAMES;
    const int NH = res->n_horizons, n_act = ev->have_est ? ev->cfg.act_frames : 0;
    const size_t ff = ev->frame_floats;
    const int c = wm_eval_window(clip->n, W, R);
    if (c < 0) {
        res->too_short++;
        return 0;
    }
    res->evaluated++;
    float *actions = MALLOC_CHECK((size_t)clip->n * A * sizeof *actions);
    float *slots = MALLOC_CHECK(((size_t)clip->n * K * S + 1) * sizeof *slots);
    float *truth = MALLOC_CHECK((size_t)(W + R) * ff * sizeof *truth); /* frames c-W+1 .. c+R */
    float *rt = MALLOC_CHECK((size_t)(NH + 1) * ff * sizeof *rt);
    float *gen = MALLOC_CHECK((size_t)(R + 1) * ff * sizeof *gen);    /* [round trip of c,] rollout */
    float *bgen = MALLOC_CHECK((size_t)N_BRANCHES * D * ff * sizeof *bgen);
    float *renders = MALLOC_CHECK((size_t)N_BRANCHES * D * ff * sizeof *renders);
    float *b_actions = MALLOC_CHECK((size_t)N_BRANCHES * D * A * sizeof *b_actions);
    float *b_slots = MALLOC_CHECK(((size_t)N_BRANCHES * D * K * S + 1) * sizeof *b_slots);
    int *ctx = MALLOC_CHECK((size_t)W * P * sizeof *ctx);
    action cmds[N_BRANCHES * WM_EVAL_DISCRIM_FRAMES];
    oracle o;
    int rc = -1, brakes;
    memset(&o, 0, sizeof o);

    wm_eval_conditioning(clip, K, actions, slots);
    for (int i = 0; i < W + R; i++) wm_eval_clip_frame(clip, c - W + 1 + i, truth + (size_t)i * ff);
    const float *last = truth + (size_t)(W - 1) * ff; /* frame c */
    encode(ev, truth, W, ctx);

    /* References: repeat the last frame; the tokenizer round trip (frame c first, for ACT-Bench). */
    double psnr[WM_EVAL_MAX_HORIZONS], ssim[WM_EVAL_MAX_HORIZONS];
    wm_eval_repeat_last(clip, c, res->horizon_frames, NH, psnr, ssim);
    for (int h = 0; h < NH; h++) mean_add(&res->repeat_last[h], psnr[h], ssim[h]);
    memcpy(rt, last, ff * sizeof *rt);
    for (int h = 0; h < NH; h++) memcpy(rt + (size_t)(h + 1) * ff, last + (size_t)res->horizon_frames[h] * ff, ff * sizeof *rt);
    {
        int *codes = MALLOC_CHECK((size_t)(NH + 1) * P * sizeof *codes);
        float *x = MALLOC_CHECK((size_t)(NH + 1) * ff * sizeof *x);
        memcpy(x, rt, (size_t)(NH + 1) * ff * sizeof *x);
        encode(ev, x, NH + 1, codes);
        decode(ev, codes, NH + 1, rt);
        for (int h = 0; h < NH; h++) {
            double p, s;
            const float *t = x + (size_t)(h + 1) * ff, *y = rt + (size_t)(h + 1) * ff;
            psnr_batch(y, t, 1, ev->H, ev->Wd, &p, NULL, err);
            ssim_batch(y, t, 1, ev->H, ev->Wd, &s, NULL, err);
            mean_add(&res->round_trip[h], p, s);
        }
        free(codes), free(x);
    }
    if (n_act > 0 && act_score(ev, clip, c, last, n_act, &res->act_oracle, err)) goto done;

    /* The oracle and the contrasting futures. */
    oracle_status os = oracle_replay(ev, clip, c, &o);
    if (os == ORACLE_OK) {
        /* The replayed world drawn at frame c must be the clip's frame c. */
        const size_t fb = (size_t)3 * ev->Wd * ev->H;
        render_frame(&o.r, o.w);
        res->oracle++;
        res->oracle_frame_differs += memcmp(o.r.frame.rgb, clip->rgb + (size_t)c * fb, fb) != 0;
    }
    else if (os == ORACLE_MISSING) res->oracle_missing++;
    else res->oracle_mismatch++;
    const action_limits lim = os == ORACLE_OK ? o.w->ego_params.limits : action_limits_default();
    contrast_actions(clip, c, D, &lim, cmds, &brakes);
    branch_futures(ev, clip, c, D, cmds, os == ORACLE_OK ? &o : NULL, slots + (size_t)(c + 1) * K * S, b_actions,
                   b_slots, renders);

    for (int m = 0; m < WM_EVAL_N_MODES; m++) {
        if (m == WM_EVAL_SLOTS && !K) continue;
        wm_eval_mode_result *mr = &res->mode[m];
        const float *ctx_slots = m == WM_EVAL_SLOTS ? slots + (size_t)(c - W + 1) * K * S : NULL;
        const float *new_slots = m == WM_EVAL_SLOTS ? slots + (size_t)(c + 1) * K * S : NULL;
        /* Fidelity: the rollout under the true future. */
        memcpy(gen, rt, ff * sizeof *gen); /* the round trip of frame c, for ACT-Bench */
        if (generate(ev, res, 1, ctx, actions + (size_t)(c - W + 1) * A, ctx_slots, R,
                     actions + (size_t)(c + 1) * A, new_slots, gen + ff, err))
            goto done;
        for (int h = 0; h < NH; h++) {
            const int k = res->horizon_frames[h];
            double p, s;
            const float *t = last + (size_t)k * ff, *y = gen + (size_t)k * ff;
            psnr_batch(y, t, 1, ev->H, ev->Wd, &p, NULL, err);
            ssim_batch(y, t, 1, ev->H, ev->Wd, &s, NULL, err);
            mean_add(&mr->fidelity[h], p, s);
        }
        if (strip && strip->rows < ev->cfg.strip_clips) {
            image *row = strip->frames[strip->rows];
            int col = m == WM_EVAL_SLOTS ? 2 : 1, per = 1 + strip->n_modes;
            for (int h = 0; h < NH; h++)
                planar_to_image(gen + (size_t)res->horizon_frames[h] * ff, ev->Wd, ev->H, &row[1 + h * per + col]);
        }
        if (n_act > 0 && act_score(ev, clip, c, gen, n_act, &mr->act, err)) goto done;

        /* Discrimination: the three contrasting sequences from the same context. */
        if (generate(ev, res, N_BRANCHES, ctx, actions + (size_t)(c - W + 1) * A, ctx_slots, D, b_actions,
                     m == WM_EVAL_SLOTS ? b_slots : NULL, bgen, err))
            goto done;
        const float *g_true = gen + ff, *t_true = last + ff;
        const size_t span = (size_t)D * ff;
        double e_true = mse(g_true, t_true, span);
        for (int b = 0; b < N_BRANCHES; b++)
            count_add(&mr->discrim_vs_true[b == BRANCH_CONTRAST ? WM_EVAL_LONGITUDINAL : WM_EVAL_LATERAL],
                      e_true < mse(bgen + b * span, t_true, span));
        if (os == ORACLE_OK) {
            /* Each pair: its two generations against its two oracle futures. */
            const float *gx[WM_EVAL_N_PAIRS][2] = {{g_true, bgen + BRANCH_CONTRAST * span},
                                                   {bgen + BRANCH_LEFT * span, bgen + BRANCH_RIGHT * span}};
            const float *ox[WM_EVAL_N_PAIRS][2] = {{t_true, renders + BRANCH_CONTRAST * span},
                                                   {renders + BRANCH_LEFT * span, renders + BRANCH_RIGHT * span}};
            for (int p = 0; p < WM_EVAL_N_PAIRS; p++) {
                if (mse(ox[p][0], ox[p][1], span) < WM_EVAL_SAME_MSE) {
                    mr->discrim_skipped[p]++;
                    continue;
                }
                for (int side = 0; side < 2; side++)
                    count_add(&mr->discrim[p], mse(gx[p][side], ox[p][side], span) < mse(gx[p][side], ox[p][1 - side], span));
            }
        }
    }
    if (strip && strip->rows < ev->cfg.strip_clips) {
        image *row = strip->frames[strip->rows];
        int per = 1 + strip->n_modes;
        planar_to_image(last, ev->Wd, ev->H, &row[0]);
        for (int h = 0; h < NH; h++)
            planar_to_image(last + (size_t)res->horizon_frames[h] * ff, ev->Wd, ev->H, &row[1 + h * per]);
        const char *name = clip->dir + strlen(clip->dir);
        int slashes = 0;
        while (name > clip->dir && !(name[-1] == '/' && ++slashes == 2)) name--;
        snprintf(strip->names[strip->rows], sizeof strip->names[0], "%s @%.1fs", name, c / (double)CLIP_FPS);
        strip->rows++;
    }
    /* Gesture legibility: scene-slot mode with the oracle. */
    if (K && eval_gesture(ev, clip, actions, slots, res, err)) goto done;
    rc = 0;
done:
    oracle_free(&o);
    free(actions), free(slots), free(truth), free(rt), free(gen), free(bgen), free(renders), free(b_actions);
    free(b_slots), free(ctx);
    return rc;
}

/* ---- the run -------------------------------------------------------------------------- */

static int check_config(const wm_eval_config *cfg, wm_error *err) {
    if (!cfg->data) return wm_fail(err, "worldmodel eval: no clip folder");
    if (cfg->clips < 1) return wm_fail(err, "worldmodel eval: clips %d is below 1", cfg->clips);
    if (cfg->n_horizons < 1 || cfg->n_horizons > WM_EVAL_MAX_HORIZONS)
        return wm_fail(err, "worldmodel eval: %d horizons outside [1, %d]", cfg->n_horizons, WM_EVAL_MAX_HORIZONS);
    for (int h = 0; h < cfg->n_horizons; h++) {
        double f = cfg->horizons[h] * CLIP_FPS;
        if (!(f >= 0.5) || fabs(f - lround(f)) > 1e-6 || f > 10000)
            return wm_fail(err, "worldmodel eval: horizon %g s is not a positive multiple of %g s", cfg->horizons[h],
                           1.0 / CLIP_FPS);
        if (h && !(cfg->horizons[h] > cfg->horizons[h - 1]))
            return wm_fail(err, "worldmodel eval: horizons must increase (%g s after %g s)", cfg->horizons[h],
                           cfg->horizons[h - 1]);
    }
    if (cfg->act_frames < 0 || cfg->act_frames > 10000)
        return wm_fail(err, "worldmodel eval: ACT-Bench window of %d frames outside [0, 10000]", cfg->act_frames);
    if (cfg->strip_clips < 0 || cfg->strip_clips > WM_EVAL_STRIP_CLIPS)
        return wm_fail(err, "worldmodel eval: %d strip rows outside [0, %d]", cfg->strip_clips, WM_EVAL_STRIP_CLIPS);
    return 0;
}

/* The complete validation clips under root, sorted; *complete counts all complete ones. */
static int list_validation(const char *root, clip_folder_list *out, int *complete, wm_error *err) {
    clip_folder_list all = {0};
    memset(out, 0, sizeof *out);
    *complete = 0;
    if (clip_folders_find(root, &all, err)) return -1;
    for (int i = 0; i < all.n; i++) {
        if (!clip_is_complete(all.dirs[i])) continue;
        ++*complete;
        if (clip_reader_in_validation(all.dirs[i], TOKEN_SHARDS_VAL_FRACTION)) clip_folders_add(out, all.dirs[i]);
    }
    clip_folders_free(&all);
    return 0;
}

int wm_eval_run(const wm_eval_config *cfg, wm_eval_result *res, wm_eval_strip *strip, wm_error *err) {
    memset(res, 0, sizeof *res);
    if (strip) memset(strip, 0, sizeof *strip);
    if (check_config(cfg, err)) return -1;
    double t0 = clock_now_s();
    evaluator *ev = CALLOC_CHECK(1, sizeof *ev);
    clip_folder_list clips = {0};
    wm_eval_clip clip;
    memset(&clip, 0, sizeof clip);
    int rc = -1;
    if (evaluator_open(ev, cfg, err)) goto done;
    res->frames_per_window = ev->dm.cfg.frames;
    res->n_horizons = cfg->n_horizons;
    res->has_slots = ev->K > 0;
    res->act_measured = ev->have_est && cfg->act_frames > 0;
    int R = WM_EVAL_DISCRIM_FRAMES;
    for (int h = 0; h < cfg->n_horizons; h++) {
        res->horizon_frames[h] = (int)lround(cfg->horizons[h] * CLIP_FPS);
        if (res->horizon_frames[h] > R) R = res->horizon_frames[h];
    }
    if (res->act_measured && cfg->act_frames > R) R = cfg->act_frames;
    ev->R = res->rollout_frames = R;
    if (strip) {
        strip->n_horizons = cfg->n_horizons, strip->n_modes = res->has_slots ? 2 : 1;
        strip->width = ev->Wd, strip->height = ev->H;
        memcpy(strip->horizons, cfg->horizons, sizeof strip->horizons);
    }
    int complete;
    if (list_validation(cfg->data, &clips, &complete, err)) goto done;
    if (clips.n == 0) {
        wm_fail(err, "%s: no validation clips (%d complete clip%s, all in the train split)", cfg->data, complete,
                complete == 1 ? "" : "s");
        goto done;
    }
    res->validation_clips = clips.n;
    res->chosen = clips.n < cfg->clips ? clips.n : cfg->clips;
    for (int i = 0; i < res->chosen; i++) {
        const char *dir = clips.dirs[(long long)i * clips.n / res->chosen];
        if (cfg->progress) {
            fprintf(stderr, "\rworldmodel eval: clip %d/%d, %.0f s  ", i + 1, res->chosen, clock_now_s() - t0);
            fflush(stderr);
        }
        if (wm_eval_clip_read(dir, &clip, err)) goto done;
        if (clip.meta.width != ev->Wd || clip.meta.height != ev->H) {
            wm_fail(err, "%s/%s: frames are %dx%d, but %s takes %dx%d", dir, CLIP_FILE_META, clip.meta.width,
                    clip.meta.height, cfg->tokenizer, ev->Wd, ev->H);
            goto done;
        }
        if (eval_clip(ev, &clip, res, strip, err)) goto done;
        wm_eval_clip_free(&clip);
    }
    if (cfg->progress) fprintf(stderr, "\n");
    if (res->evaluated == 0) {
        wm_fail(err, "%s: none of the %d validation clip%s chosen has the %d frames a window needs (%d context + %d "
                "rolled out)", cfg->data, res->chosen, res->chosen == 1 ? "" : "s", ev->W + R, ev->W, R);
        goto done;
    }
    rc = 0;
done:
    wm_eval_clip_free(&clip);
    clip_folders_free(&clips);
    evaluator_free(ev);
    free(ev);
    res->seconds = clock_now_s() - t0;
    return rc;
}

/* ---- reporting -------------------------------------------------------------------------- */

static void print_value(FILE *f, double v, const char *fmt) {
    if (isnan(v)) fprintf(f, "%9s", "-");
    else fprintf(f, fmt, v);
}

static void print_count(FILE *f, const char *what, wm_eval_count c, int skipped) {
    fprintf(f, "  %-34s ", what);
    if (c.trials) fprintf(f, "%5.1f %% (%d of %d)", 100 * wm_eval_rate(&c), c.correct, c.trials);
    else fprintf(f, "    - (no trials)");
    if (skipped >= 0) fprintf(f, ", %d pair%s skipped", skipped, skipped == 1 ? "" : "s");
    fputc('\n', f);
}

static void print_act(FILE *f, const char *what, const wm_eval_act *a) {
    fprintf(f, "  %-34s ", what);
    if (!a->windows) {
        fprintf(f, "    - (no windows)\n");
        return;
    }
    fprintf(f, "class accuracy %5.1f %% (%d of %d), ADE %.2f m, FDE %.2f m\n", 100.0 * a->class_correct / a->windows,
            a->class_correct, a->windows, a->ade_sum / a->windows, a->fde_sum / a->windows);
}

void wm_eval_print(FILE *f, const wm_eval_config *cfg, const wm_eval_result *res) {
    fprintf(f, "worldmodel eval: %s on %s: %d of %d validation clips evaluated (%d too short), %d with the oracle; "
               "%s, %d steps, temperature %g, guidance %g, seed %llu; %lld frames generated in %.1f s\n",
            cfg->model, cfg->data, res->evaluated, res->validation_clips, res->too_short, res->oracle,
            rollout_mode_name(cfg->rollout.mode), cfg->rollout.steps, (double)cfg->rollout.temperature,
            (double)cfg->rollout.guidance, (unsigned long long)cfg->rollout.seed, res->generated_frames, res->seconds);
    fprintf(f, "\nfidelity (PSNR dB / SSIM vs the true frames)\n  %-22s", "horizon");
    for (int h = 0; h < res->n_horizons; h++) fprintf(f, "  %8.1f s        ", res->horizon_frames[h] / (double)CLIP_FPS);
    fputc('\n', f);
    struct {
        const char *name;
        const wm_eval_mean *m;
    } rows[4] = {{"generated, actions only", res->mode[WM_EVAL_ACTIONS].fidelity},
                 {"generated, slots", res->has_slots ? res->mode[WM_EVAL_SLOTS].fidelity : NULL},
                 {"repeat last frame", res->repeat_last},
                 {"tokenizer round trip", res->round_trip}};
    for (int r = 0; r < 4; r++) {
        if (!rows[r].m) continue;
        fprintf(f, "  %-22s", rows[r].name);
        for (int h = 0; h < res->n_horizons; h++) {
            fprintf(f, "  ");
            print_value(f, wm_eval_psnr(&rows[r].m[h]), "%9.2f");
            fprintf(f, " / ");
            print_value(f, wm_eval_ssim(&rows[r].m[h]), "%6.4f");
        }
        fputc('\n', f);
    }
    for (int m = 0; m < WM_EVAL_N_MODES; m++) {
        if (m == WM_EVAL_SLOTS && !res->has_slots) continue;
        const wm_eval_mode_result *mr = &res->mode[m];
        fprintf(f, "\naction discrimination, %s\n", m == WM_EVAL_ACTIONS ? "actions only" : "slots");
        for (int p = 0; p < WM_EVAL_N_PAIRS; p++) {
            char what[64];
            snprintf(what, sizeof what, "oracle, %s", wm_eval_pair_name((wm_eval_pair)p));
            print_count(f, what, mr->discrim[p], mr->discrim_skipped[p]);
        }
        print_count(f, "oracle, all", wm_eval_total(mr->discrim, WM_EVAL_N_PAIRS),
                    mr->discrim_skipped[0] + mr->discrim_skipped[1]);
        print_count(f, "vs the true future, all", wm_eval_total(mr->discrim_vs_true, WM_EVAL_N_PAIRS), -1);
    }
    if (!res->act_measured) fprintf(f, "\nACT-Bench action fidelity\n  not measured: no estimator\n");
    else {
        fprintf(f, "\nACT-Bench action fidelity (%g s windows)\n", cfg->act_frames / (double)CLIP_FPS);
        print_act(f, "generated, actions only", &res->mode[WM_EVAL_ACTIONS].act);
        if (res->has_slots) print_act(f, "generated, slots", &res->mode[WM_EVAL_SLOTS].act);
        print_act(f, "true frames (the ceiling)", &res->act_oracle);
    }
    fprintf(f, "\ngesture legibility (slots)\n");
    print_count(f, "arm region nearest its gesture", res->gesture, -1);
    fprintf(f, "  (%d guard clip%s; %d trial%s skipped: a gesture's oracle render like another's in the arm region)\n",
            res->gesture_clips, res->gesture_clips == 1 ? "" : "s", res->gesture_skipped,
            res->gesture_skipped == 1 ? "" : "s");
}

static json_t *real_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *means_json(const wm_eval_mean *m, int n) {
    json_t *o = json_object(), *p = json_array(), *s = json_array();
    for (int h = 0; h < n; h++) {
        json_array_append_new(p, real_or_null(wm_eval_psnr(&m[h])));
        json_array_append_new(s, real_or_null(wm_eval_ssim(&m[h])));
    }
    json_object_set_new(o, "psnr", p);
    json_object_set_new(o, "ssim", s);
    json_object_set_new(o, "frames", json_integer(n ? m[0].n : 0));
    return o;
}

static json_t *count_json(wm_eval_count c) {
    return json_pack("{s:i, s:i, s:o}", "trials", c.trials, "correct", c.correct, "rate",
                     real_or_null(wm_eval_rate(&c)));
}

static json_t *act_json(const wm_eval_act *a) {
    double n = a->windows;
    return json_pack("{s:i, s:i, s:o, s:o, s:o, s:o, s:o}", "windows", a->windows, "class_correct", a->class_correct,
                     "class_accuracy", real_or_null(a->class_correct / n), "ade_m", real_or_null(a->ade_sum / n),
                     "fde_m", real_or_null(a->fde_sum / n), "speed_mae_mps", real_or_null(a->speed_mae_sum / n),
                     "yaw_rate_mae_radps", real_or_null(a->yaw_mae_sum / n));
}

static json_t *bar_json(double value, double bar) {
    return isfinite(value) ? json_boolean(value >= bar) : json_null();
}

int wm_eval_write_json(const char *path, const wm_eval_config *cfg, const wm_eval_result *res, wm_error *err) {
    json_t *root = json_object();
    json_object_set_new(root, "wmsim_version", json_string(WMSIM_VERSION));
    json_object_set_new(root, "model", json_string(cfg->model));
    json_object_set_new(root, "tokenizer", json_string(cfg->tokenizer));
    json_object_set_new(root, "estimator", res->act_measured ? json_string(cfg->estimator) : json_null());
    json_object_set_new(root, "data", json_string(cfg->data));
    json_object_set_new(root, "scenarios", cfg->scenarios ? json_string(cfg->scenarios) : json_null());
    json_t *settings = json_object();
    json_object_set_new(settings, "mode", json_string(rollout_mode_name(cfg->rollout.mode)));
    json_object_set_new(settings, "steps", json_integer(cfg->rollout.steps));
    json_object_set_new(settings, "temperature", json_real(cfg->rollout.temperature));
    json_object_set_new(settings, "guidance", json_real(cfg->rollout.guidance));
    json_object_set_new(settings, "top_k", json_integer(cfg->rollout.top_k));
    json_object_set_new(settings, "seed", json_integer((json_int_t)cfg->rollout.seed));
    json_object_set_new(settings, "frames_per_window", json_integer(res->frames_per_window));
    json_object_set_new(settings, "rollout_frames", json_integer(res->rollout_frames));
    json_object_set_new(settings, "discrimination_frames", json_integer(WM_EVAL_DISCRIM_FRAMES));
    json_object_set_new(settings, "act_frames", json_integer(res->act_measured ? cfg->act_frames : 0));
    json_object_set_new(settings, "gesture_frames", json_integer(WM_EVAL_GESTURE_FRAMES));
    json_object_set_new(root, "settings", settings);
    json_object_set_new(root, "clips",
                        json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "validation", res->validation_clips,
                                  "chosen", res->chosen, "evaluated", res->evaluated, "too_short", res->too_short,
                                  "oracle", res->oracle, "oracle_missing", res->oracle_missing, "oracle_mismatch",
                                  res->oracle_mismatch, "oracle_frame_differs", res->oracle_frame_differs));
    json_object_set_new(root, "generated_frames", json_integer(res->generated_frames));

    json_t *fid = json_object(), *hs = json_array(), *hf = json_array();
    for (int h = 0; h < res->n_horizons; h++) {
        json_array_append_new(hs, json_real(res->horizon_frames[h] / (double)CLIP_FPS));
        json_array_append_new(hf, json_integer(res->horizon_frames[h]));
    }
    json_object_set_new(fid, "horizons_s", hs);
    json_object_set_new(fid, "horizon_frames", hf);
    for (int m = 0; m < WM_EVAL_N_MODES; m++)
        json_object_set_new(fid, wm_eval_mode_name((wm_eval_mode)m),
                            m == WM_EVAL_SLOTS && !res->has_slots ? json_null()
                                                                  : means_json(res->mode[m].fidelity, res->n_horizons));
    json_object_set_new(fid, "repeat_last_frame", means_json(res->repeat_last, res->n_horizons));
    json_object_set_new(fid, "tokenizer_round_trip", means_json(res->round_trip, res->n_horizons));
    json_object_set_new(root, "fidelity", fid);

    json_t *disc = json_object();
    for (int m = 0; m < WM_EVAL_N_MODES; m++) {
        if (m == WM_EVAL_SLOTS && !res->has_slots) {
            json_object_set_new(disc, wm_eval_mode_name((wm_eval_mode)m), json_null());
            continue;
        }
        const wm_eval_mode_result *mr = &res->mode[m];
        json_t *d = json_object(), *oracle = count_json(wm_eval_total(mr->discrim, WM_EVAL_N_PAIRS));
        json_t *simple = count_json(wm_eval_total(mr->discrim_vs_true, WM_EVAL_N_PAIRS));
        json_object_set_new(oracle, "skipped", json_integer(mr->discrim_skipped[0] + mr->discrim_skipped[1]));
        for (int p = 0; p < WM_EVAL_N_PAIRS; p++) {
            json_t *one = count_json(mr->discrim[p]);
            json_object_set_new(one, "skipped", json_integer(mr->discrim_skipped[p]));
            json_object_set_new(oracle, wm_eval_pair_name((wm_eval_pair)p), one);
            json_object_set_new(simple, wm_eval_pair_name((wm_eval_pair)p), count_json(mr->discrim_vs_true[p]));
        }
        json_object_set_new(d, "oracle", oracle);
        json_object_set_new(d, "vs_true", simple);
        json_object_set_new(disc, wm_eval_mode_name((wm_eval_mode)m), d);
    }
    json_object_set_new(root, "discrimination", disc);

    json_t *act = json_object();
    json_object_set_new(act, "measured", json_boolean(res->act_measured));
    for (int m = 0; m < WM_EVAL_N_MODES; m++)
        json_object_set_new(act, wm_eval_mode_name((wm_eval_mode)m),
                            res->act_measured && (m == WM_EVAL_ACTIONS || res->has_slots) ? act_json(&res->mode[m].act)
                                                                                          : json_null());
    json_object_set_new(act, "oracle", res->act_measured ? act_json(&res->act_oracle) : json_null());
    json_object_set_new(root, "act_bench", act);

    json_t *gest = count_json(res->gesture);
    json_object_set_new(gest, "clips", json_integer(res->gesture_clips));
    json_object_set_new(gest, "skipped", json_integer(res->gesture_skipped));
    json_object_set_new(root, "gesture_legibility", gest);

    /* Issue #6's bars per mode (null: not measured). */
    int one_s = -1;
    for (int h = 0; h < res->n_horizons; h++)
        if (res->horizon_frames[h] == CLIP_FPS) one_s = h;
    json_t *bars = json_object();
    for (int m = 0; m < WM_EVAL_N_MODES; m++) {
        if (m == WM_EVAL_SLOTS && !res->has_slots) continue;
        const wm_eval_mode_result *mr = &res->mode[m];
        json_t *b = json_object();
        double gain = one_s >= 0 ? wm_eval_psnr(&mr->fidelity[one_s]) - wm_eval_psnr(&res->repeat_last[one_s]) : NAN;
        json_object_set_new(b, "psnr_gain_1s_db", real_or_null(gain));
        json_object_set_new(b, "psnr_gain_1s_at_least_3db", bar_json(gain, 3.0));
        wm_eval_count dc = wm_eval_total(mr->discrim, WM_EVAL_N_PAIRS);
        json_object_set_new(b, "discrimination_at_least_95", bar_json(wm_eval_rate(&dc), 0.95));
        double acc = res->act_measured && mr->act.windows ? (double)mr->act.class_correct / mr->act.windows : NAN;
        json_object_set_new(b, "class_accuracy_at_least_90", bar_json(acc, 0.90));
        if (m == WM_EVAL_SLOTS)
            json_object_set_new(b, "gesture_legibility_at_least_90", bar_json(wm_eval_rate(&res->gesture), 0.90));
        json_object_set_new(bars, wm_eval_mode_name((wm_eval_mode)m), b);
    }
    json_object_set_new(root, "bars", bars);

    if (dir_create_parent(path, err)) return json_decref(root), -1;
    return file_write_json(path, root, FILE_JSON_REPORT, err);
}

/* ---- the strip -------------------------------------------------------------------------- */

#define STRIP_HEADER (FONT_CELL_H + 3)
#define STRIP_GAP 2

int wm_eval_write_strip(const char *path, const wm_eval_strip *s, wm_error *err) {
    if (s->rows < 1) return wm_fail(err, "%s: no clip was evaluated, so there is no strip to write", path);
    const int per = 1 + s->n_modes, cols = 1 + s->n_horizons * per;
    const int cw = s->width, ch = s->height, label_h = FONT_CELL_H + 1;
    const int width = cols * cw + (s->n_horizons + 1) * STRIP_GAP;
    const int height = STRIP_HEADER + s->rows * (ch + label_h + STRIP_GAP);
    image out;
    image_init(&out, width, height);
    memset(out.rgb, 24, (size_t)3 * width * height);
    const rgb8 white = {235, 235, 235}, grey = {160, 160, 160};
    for (int col = 0; col < cols; col++) {
        int group = col == 0 ? 0 : 1 + (col - 1) / per;
        int x = col * cw + group * STRIP_GAP;
        char label[64];
        if (col == 0) snprintf(label, sizeof label, "context");
        else {
            int h = (col - 1) / per, k = (col - 1) % per;
            const char *what = k == 0 ? "true" : k == 1 ? "gen" : "gen+slots";
            snprintf(label, sizeof label, "%s %gs", what, s->horizons[h]);
        }
        font_draw(&out, x + 1, 2, label, 1, white);
        for (int r = 0; r < s->rows; r++) {
            const image *img = &s->frames[r][col];
            int y = STRIP_HEADER + r * (ch + label_h + STRIP_GAP) + label_h;
            if (!img->rgb) continue;
            for (int py = 0; py < ch; py++)
                memcpy(out.rgb + 3 * ((size_t)(y + py) * width + x), img->rgb + 3 * (size_t)py * cw, 3 * (size_t)cw);
        }
    }
    for (int r = 0; r < s->rows; r++)
        font_draw(&out, 1, STRIP_HEADER + r * (ch + label_h + STRIP_GAP), s->names[r], 1, grey);
    int rc = dir_create_parent(path, err) ? -1 : image_write_png(&out, path, err);
    image_free(&out);
    return rc;
}

void wm_eval_strip_free(wm_eval_strip *s) {
    for (int r = 0; r < WM_EVAL_STRIP_CLIPS; r++)
        for (int i = 0; i < 1 + WM_EVAL_MAX_HORIZONS * (1 + WM_EVAL_N_MODES); i++)
            if (s->frames[r][i].rgb) image_free(&s->frames[r][i]);
    s->rows = 0;
}
