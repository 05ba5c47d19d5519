/* cmd_estimator.c — `wmsim worldmodel estimator train|eval`: the
 * inverse-dynamics estimator (worldmodel/estimator.h,
 * worldmodel/estimator_train.h) on frame pairs and windows of clips
 * (datasets/clip_reader.h), and the ACT-Bench-style action-fidelity
 * figures of oracle clips: the ceiling the world model's generated clips
 * are compared against.
 *
 * Exit codes as for every command (sim/commands.h): 0 done, 1 bad input or
 * I/O ("wmsim: ..." on stderr), 2 bad usage.
 *
 * Dimensions: B pairs, 6 channels (two RGB frames), H x W pixels, n frames
 * of an evaluation window. */
#include "sim/commands.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "render/image.h"
#include "core/fileio.h"
#include "core/mathx.h"
#include "datasets/clip.h"
#include "datasets/clip_reader.h"
#include "datasets/frame_source.h"
#include "render/plot.h"
#include "sim/cli_args.h"
#include "sim/train_chart.h"
#include "worldmodel/estimator.h"
#include "worldmodel/estimator_train.h"

static const char USAGE[] =
    "usage: wmsim worldmodel estimator train --data CLIPS --out MODEL.wmck [--steps N] [--batch B]\n"
    "                                        [--lr X] [--warmup N] [--seed N] [--resume] [--stop-at N]\n"
    "                                        [--log F.csv] [--plot F.png] [--log-every N]\n"
    "                                        [--val-pairs N] [--val-every N] [--save-every N]\n"
    "                                        [--stages S] [--channels C] [--hidden N] [--no-flip]\n"
    "                                        [--quiet]\n"
    "       wmsim worldmodel estimator eval --model MODEL.wmck --data CLIPS [--seconds S]\n"
    "                                       [--clips N] [--json OUT.json]\n"
    "\n"
    "The inverse-dynamics estimator: a small CNN that reads the ego's speed (m/s)\n"
    "and yaw rate (rad/s) over a 0.1 s transition from the two frames around it,\n"
    "for ACT-Bench-style action fidelity (worldmodel/estimator.h).\n"
    "\n"
    "train   trains on consecutive frame pairs of the train split of CLIPS (clip\n"
    "        folders whose name hashes outside the %g%% validation share; truth:\n"
    "        the mean of the two frames' speeds and their heading change over\n"
    "        0.1 s), half of them mirrored with the yaw rate negated (--no-flip:\n"
    "        none). Writes MODEL.wmck, MODEL.wmck.state (to resume), the curves as\n"
    "        CSV (--log, default MODEL.wmck.csv) and a chart (--plot, default\n"
    "        MODEL.wmck.png). Validates on --val-pairs pairs of the validation\n"
    "        split (default %d; 0: none) every --val-every steps and at the end.\n"
    "        --resume continues from MODEL.wmck.state up to --steps (give the first\n"
    "        run's --seed, --batch and --no-flip); --stop-at N stops after step N.\n"
    "        Defaults: --steps %d, --batch %d, --lr %g (cosine to %g),\n"
    "        --warmup %d, --seed 1, --log-every %d, --val-every %d,\n"
    "        --save-every %d; the clips' frame size, --stages %d (fewer when the\n"
    "        frame size needs), --channels %d, --hidden %d. --quiet prints\n"
    "        nothing on success.\n"
    "eval    cuts the validation split's clips into windows of --seconds (default\n"
    "        %d: %d frames, consecutive windows sharing an end frame), reads each\n"
    "        window's motion from its frames, and compares it with the true motion\n"
    "        from states.jsonl: the share of windows whose ACT-Bench command class\n"
    "        (9 classes) matches the true one, the confusion counts, ADE and FDE (m)\n"
    "        of the estimated trajectory against the true one, and the mean absolute\n"
    "        speed and yaw-rate errors per transition. --clips N stops after N clips;\n"
    "        --json writes the figures as JSON.\n";

#define DEFAULT_VAL_PAIRS 256
#define DEFAULT_STAGES 5
#define DEFAULT_SECONDS 4
#define VAL_SEED 0 /* validation pairs and eval windows do not follow --seed */
#define PAIR_SHUFFLE 1024
#define PAIR_INTERLEAVE 32

static void print_usage(FILE *f) {
    estimator_train_config tc = estimator_train_config_default();
    estimator_config mc = estimator_config_default();
    fprintf(f, USAGE, 100 * FRAME_SOURCE_VAL_FRACTION, DEFAULT_VAL_PAIRS, tc.steps, tc.batch, (double)tc.lr,
            (double)tc.lr_min, tc.warmup_steps, tc.log_every, tc.val_every, tc.save_every, DEFAULT_STAGES,
            mc.channels, mc.hidden, DEFAULT_SECONDS, DEFAULT_SECONDS * CLIP_FPS + 1);
}

static int usage_error(const char *fmt, const char *arg) { return cli_usage_error(print_usage, fmt, arg); }

static int fail(const wm_error *err) {
    fprintf(stderr, "wmsim: %s\n", err->msg);
    return 1;
}

/* ---- frames and their motion ----------------------------------------------- */

/* HWC bytes to CHW floats in [0, 1] (frame_source's scaling). */
static void frame_to_planar(const uint8_t *rgb, int W, int H, float *x) {
    image_to_floats(&(image){W, H, (uint8_t *)rgb}, x);
}

/* The true motion of the transition from a to b (estimator.h): the mean of
 * the two speeds, and the heading change, wrapped, over the frame time. */
static void transition_motion(const clip_ego *a, const clip_ego *b, float *speed, float *yaw_rate) {
    double d = wrap_angle(b->yaw - a->yaw);
    *speed = (float)(0.5 * (a->speed + b->speed));
    *yaw_rate = (float)(d * CLIP_FPS);
}

/* ---- frame pairs from clips --------------------------------------------------- */

/* clip_reader windows of two frames (context 2, horizon 0), endless: an
 * epoch is every consecutive pair of every clip of the split once, in an
 * order fixed by the seed and the epoch, so seeking is exact (as
 * frame_source's). */
typedef struct {
    clip_reader *reader;
    int width, height;
    long long epoch_pairs;
    int clips;
} pair_source;

static int pair_source_open(pair_source *ps, const char *root, clip_split split, int stride, uint64_t seed,
                            wm_error *err) {
    memset(ps, 0, sizeof *ps);
    clip_reader_config c = clip_reader_config_default();
    c.root = root;
    c.context = 2, c.horizon = 0, c.stride = stride, c.seed = seed, c.split = split;
    c.val_fraction = FRAME_SOURCE_VAL_FRACTION;
    c.shuffle_buffer = PAIR_SHUFFLE, c.interleave = PAIR_INTERLEAVE;
    if (clip_reader_open(&ps->reader, &c, err)) return -1;
    clip_reader_stats st;
    clip_reader_stats_get(ps->reader, &st);
    ps->width = st.width, ps->height = st.height, ps->epoch_pairs = st.windows, ps->clips = st.clips;
    return 0;
}

static void pair_source_close(pair_source *ps) {
    clip_reader_close(ps->reader);
    ps->reader = NULL;
}

static int pair_next(void *ctx, float *x, float *speed, float *yaw_rate, int B, wm_error *err) {
    pair_source *ps = ctx;
    const size_t plane3 = 3 * (size_t)ps->width * ps->height;
    for (int b = 0; b < B; b++) {
        const clip_window *w;
        int rc = clip_reader_next(ps->reader, &w, err);
        if (rc == 0) {
            clip_reader_rewind(ps->reader);
            rc = clip_reader_next(ps->reader, &w, err);
            /* Cannot happen for a reader that opened: every epoch has the same pairs. */
            if (rc == 0) return wm_fail(err, "estimator: an epoch without frame pairs");
        }
        if (rc < 0) return -1;
        const size_t frame = (size_t)ps->width * ps->height * 3;
        frame_to_planar(w->frames, ps->width, ps->height, x + (size_t)b * 2 * plane3);
        frame_to_planar(w->frames + frame, ps->width, ps->height, x + (size_t)b * 2 * plane3 + plane3);
        transition_motion(&w->ego[0], &w->ego[1], speed + b, yaw_rate + b);
    }
    return 0;
}

static int pair_seek(void *ctx, uint64_t index, wm_error *err) {
    pair_source *ps = ctx;
    uint64_t epoch = index / (uint64_t)ps->epoch_pairs, skip = index % (uint64_t)ps->epoch_pairs;
    if (epoch > INT_MAX)
        return wm_fail(err, "estimator: pair %llu is past epoch %d", (unsigned long long)index, INT_MAX);
    clip_reader_start_epoch(ps->reader, (int)epoch);
    for (uint64_t i = 0; i < skip; i++) {
        const clip_window *w;
        int rc = clip_reader_next(ps->reader, &w, err);
        if (rc < 0) return -1;
        if (rc == 0)
            return wm_fail(err, "estimator: epoch %llu ended after %llu of %lld pairs", (unsigned long long)epoch,
                           (unsigned long long)i, ps->epoch_pairs);
    }
    return 0;
}

/* Up to n held-out pairs spread over the validation split (pairs about
 * split pairs / n apart in its clips), malloc'ed. */
typedef struct {
    float *x, *speed, *yaw_rate;
    int n;
} pair_set;

static int read_validation(const char *root, int n, int width, int height, pair_set *v, wm_error *err) {
    memset(v, 0, sizeof *v);
    if (n == 0) return 0;
    pair_source ps;
    if (pair_source_open(&ps, root, CLIP_SPLIT_VALIDATION, 1, VAL_SEED, err)) {
        wm_error why = *err;
        return wm_fail(err, "validation pairs: %s (--val-pairs 0 trains without validation)", why.msg);
    }
    long long stride = ps.epoch_pairs / n;
    pair_source_close(&ps);
    stride = stride < 1 ? 1 : stride > 1000 ? 1000 : stride;
    if (pair_source_open(&ps, root, CLIP_SPLIT_VALIDATION, (int)stride, VAL_SEED, err)) return -1;
    if (ps.width != width || ps.height != height) {
        wm_fail(err, "%s: validation frames are %dx%d, but the model takes %dx%d", root, ps.width, ps.height, width,
                height);
        pair_source_close(&ps);
        return -1;
    }
    int count = ps.epoch_pairs < n ? (int)ps.epoch_pairs : n;
    v->x = MALLOC_CHECK((size_t)count * ESTIMATOR_INPUTS * width * height * sizeof(float));
    v->speed = MALLOC_CHECK((size_t)count * sizeof(float));
    v->yaw_rate = MALLOC_CHECK((size_t)count * sizeof(float));
    int rc = pair_next(&ps, v->x, v->speed, v->yaw_rate, count, err);
    pair_source_close(&ps);
    if (rc) {
        free(v->x), free(v->speed), free(v->yaw_rate);
        memset(v, 0, sizeof *v);
        return -1;
    }
    v->n = count;
    return 0;
}

/* ---- train: options ------------------------------------------------------------ */

typedef struct {
    const char *data, *out, *log, *plot;
    estimator_train_config tc;
    estimator_config mc;
    uint64_t seed;
    int val_pairs, quiet, no_flip;
    int stages_given, channels_given, hidden_given;
    char log_default[4200], plot_default[4200];
} train_options;

static int take_train_option(int argc, char **argv, int *i, train_options *o) {
    const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    if (strcmp(a, "--resume") == 0) return o->tc.resume = 1;
    if (strcmp(a, "--quiet") == 0) return o->quiet = 1;
    if (strcmp(a, "--no-flip") == 0) return o->no_flip = 1;
    if (!v) return 0;
    if (strcmp(a, "--data") == 0) o->data = v;
    else if (strcmp(a, "--out") == 0) o->out = v;
    else if (strcmp(a, "--log") == 0) o->log = v;
    else if (strcmp(a, "--plot") == 0) o->plot = v;
    else if (strcmp(a, "--seed") == 0) {
        if (cli_parse_u64(v, &o->seed)) return usage_error("--seed: not a non-negative integer: '%s'", v);
    } else if (strcmp(a, "--lr") == 0) {
        if (cli_parse_lr(v, &o->tc.lr, &o->tc.lr_min)) return usage_error("--lr: expected a rate in (0, 1], got '%s'", v);
    } else return 0;
    ++*i;
    return 1;
}

static int parse_train(int argc, char **argv, train_options *o) {
    memset(o, 0, sizeof *o);
    o->tc = estimator_train_config_default(), o->mc = estimator_config_default();
    o->seed = 1, o->val_pairs = DEFAULT_VAL_PAIRS;
    const cli_int_option ints[] = {
        {"--steps", &o->tc.steps, 1, INT_MAX / 4096, NULL},
        {"--batch", &o->tc.batch, 1, 4096, NULL},
        {"--warmup", &o->tc.warmup_steps, 0, INT_MAX, NULL},
        {"--log-every", &o->tc.log_every, 1, INT_MAX, NULL},
        {"--val-pairs", &o->val_pairs, 0, 100000, NULL},
        {"--val-every", &o->tc.val_every, 0, INT_MAX, NULL},
        {"--save-every", &o->tc.save_every, 0, INT_MAX, NULL},
        {"--stop-at", &o->tc.stop_at, 1, INT_MAX / 4096, NULL},
        {"--stages", &o->mc.stages, 1, ESTIMATOR_MAX_STAGES, &o->stages_given},
        {"--channels", &o->mc.channels, 1, 512, &o->channels_given},
        {"--hidden", &o->mc.hidden, 1, 4096, &o->hidden_given},
    };
    for (int i = 0; i < argc; i++) {
        int taken = cli_take_int_option(argc, argv, &i, ints, (int)(sizeof ints / sizeof ints[0]), print_usage);
        if (!taken) taken = take_train_option(argc, argv, &i, o);
        if (taken == 2) return 2;
        if (taken) continue;
        if (argv[i][0] == '-')
            return usage_error("worldmodel estimator train: unknown option or missing value: '%s'", argv[i]);
        return usage_error("worldmodel estimator train: unexpected argument '%s'", argv[i]);
    }
    if (!o->data) return usage_error("worldmodel estimator train: %s", "missing --data");
    if (!o->out) return usage_error("worldmodel estimator train: %s", "missing --out");
    if (!o->log) snprintf(o->log_default, sizeof o->log_default, "%s.csv", o->out), o->log = o->log_default;
    if (!o->plot) snprintf(o->plot_default, sizeof o->plot_default, "%s.png", o->out), o->plot = o->plot_default;
    o->tc.flip = !o->no_flip;
    o->tc.seed = o->seed;
    return 0;
}

/* ---- train ------------------------------------------------------------------------ */

/* A fresh model for frames of W x H (up to DEFAULT_STAGES stages, as many
 * as the size divides into, unless --stages), or the one at --out to
 * resume. 0; 1 with err set; 2 with a usage error printed. */
static int build_model(train_options *o, int W, int H, estimator *est, wm_error *err) {
    int max_batch = o->tc.batch;
    if (o->tc.resume) {
        if (estimator_load(est, o->out, max_batch, err)) return 1;
        const estimator_config *m = &est->cfg;
        const char *flag = NULL;
        int want = 0;
        if (o->stages_given && o->mc.stages != m->stages) flag = "--stages", want = m->stages;
        else if (o->channels_given && o->mc.channels != m->channels) flag = "--channels", want = m->channels;
        else if (o->hidden_given && o->mc.hidden != m->hidden) flag = "--hidden", want = m->hidden;
        if (!flag) return 0;
        estimator_free(est);
        char msg[512];
        snprintf(msg, sizeof msg,
                 "worldmodel estimator train --resume: %s differs from the model's %d (%s); leave it out", flag, want,
                 o->out);
        return usage_error("%s", msg);
    }
    o->mc.width = W, o->mc.height = H;
    if (!o->stages_given)
        while (o->mc.stages > 1 && (W % (1 << o->mc.stages) || H % (1 << o->mc.stages))) o->mc.stages--;
    if (estimator_config_check(&o->mc, err)) return usage_error("%s", err->msg);
    return estimator_init(est, &o->mc, max_batch, o->seed, err) ? 1 : 0;
}

static int write_chart(const char *csv_path, const char *png_path, wm_error *err) {
    static const train_chart_panel panels[] = {
        {"estimator: speed error (m/s)", 0, {{"speed_mae", "train"}, {"val_speed_mae", "validation"}}},
        {"estimator: yaw-rate error (rad/s)", 0, {{"yaw_mae", "train"}, {"val_yaw_mae", "validation"}}},
        {"estimator: training loss", PLOT_LOG_Y, {{"loss", "train loss"}, {"val_loss", "validation loss"}}},
    };
    return train_chart_write(csv_path, png_path, panels, 3, err);
}

static int run_train(train_options *o, wm_error *err) {
    pair_source ps = {0};
    estimator est;
    pair_set val = {0};
    int rc = 1, have_model = 0;
    if (dir_create_parent(o->out, err) || dir_create_parent(o->log, err) || dir_create_parent(o->plot, err)) goto done;
    if (pair_source_open(&ps, o->data, CLIP_SPLIT_TRAIN, 1, o->seed, err)) goto done;
    rc = build_model(o, ps.width, ps.height, &est, err);
    if (rc) goto done;
    have_model = 1, rc = 1;
    if (ps.width != est.cfg.width || ps.height != est.cfg.height) {
        wm_fail(err, "%s: frames are %dx%d, but %s takes %dx%d (it was trained on other clips)", o->data, ps.width,
                ps.height, o->out, est.cfg.width, est.cfg.height);
        goto done;
    }
    if (read_validation(o->data, o->val_pairs, est.cfg.width, est.cfg.height, &val, err)) goto done;
    estimator_train_config tc = o->tc;
    tc.out_path = o->out, tc.log_path = o->log;
    tc.progress = !o->quiet && isatty(2);
    tc.val_x = val.x, tc.val_speed = val.speed, tc.val_yaw_rate = val.yaw_rate, tc.n_val = val.n;
    /* The pair order is fixed by the seed: a resume must keep it. */
    uint64_t order[2] = {o->seed, 2 /* frames a window */};
    tc.stream_id = hash_fnv1a64(order, sizeof order);
    estimator_pair_stream stream = {pair_next, pair_seek, &ps};
    estimator_train_report rep;
    if (estimator_train(&est, &tc, &stream, &rep, err) || write_chart(o->log, o->plot, err)) goto done;
    if (!o->quiet) {
        printf("%s: steps %d-%d of %d in %.1f s, %.1f pairs/s, train speed error %.3f m/s, yaw-rate error %.4f "
               "rad/s",
               o->out, rep.first_step, rep.steps, tc.steps, rep.seconds, rep.pairs_per_s, (double)rep.speed_mae,
               (double)rep.yaw_mae);
        if (rep.val.pairs)
            printf("; validation (%d pairs) speed error %.3f m/s, yaw-rate error %.4f rad/s", rep.val.pairs,
                   rep.val.speed_mae, rep.val.yaw_mae);
        else
            printf("; no validation");
        printf("; %zu parameters; wrote %s, %s.state, %s and %s\n", est.n_params, o->out, o->out, o->log, o->plot);
    }
    rc = 0;
done:
    if (have_model) estimator_free(&est);
    pair_source_close(&ps);
    free(val.x), free(val.speed), free(val.yaw_rate);
    return rc;
}

static int cmd_train(int argc, char **argv) {
    train_options o;
    int rc = parse_train(argc, argv, &o);
    if (rc) return rc;
    wm_error err;
    rc = run_train(&o, &err);
    return rc == 1 ? fail(&err) : rc;
}

/* ---- eval ----------------------------------------------------------------------------- */

typedef struct {
    const char *model, *data, *json;
    int seconds, clips;
} eval_options;

typedef struct {
    estimator_tally tally;
    int clips;
} eval_result;

/* Windows of seconds * CLIP_FPS + 1 frames, a window every seconds *
 * CLIP_FPS frames, clip by clip in the validation split's fixed order. */
static int run_eval(const eval_options *o, estimator *est, eval_result *res, wm_error *err) {
    memset(res, 0, sizeof *res);
    const int n = o->seconds * CLIP_FPS + 1;
    clip_reader_config c = clip_reader_config_default();
    c.root = o->data;
    c.context = n, c.horizon = 0, c.stride = n - 1, c.seed = VAL_SEED, c.split = CLIP_SPLIT_VALIDATION;
    c.val_fraction = FRAME_SOURCE_VAL_FRACTION;
    c.shuffle_buffer = 1, c.interleave = 1;
    clip_reader *r;
    if (clip_reader_open(&r, &c, err)) return -1;
    clip_reader_stats st;
    clip_reader_stats_get(r, &st);
    int rc = 0;
    if (st.width != est->cfg.width || st.height != est->cfg.height) {
        rc = wm_fail(err, "%s: frames are %dx%d, but %s takes %dx%d", o->data, st.width, st.height, o->model,
                     est->cfg.width, est->cfg.height);
        clip_reader_close(r);
        return rc;
    }
    const size_t plane3 = 3 * (size_t)st.width * st.height; /* floats of a planar frame, bytes of an RGB8 one */
    float *frames = MALLOC_CHECK((size_t)n * plane3 * sizeof(float));
    float *speed = MALLOC_CHECK((size_t)(n - 1) * sizeof(float)), *yaw = MALLOC_CHECK((size_t)(n - 1) * sizeof(float));
    char last_clip[CLIP_READER_NAME_MAX] = "";
    for (;;) {
        const clip_window *w;
        int got = clip_reader_next(r, &w, err);
        if (got < 0) rc = -1;
        if (got <= 0) break;
        if (strcmp(w->clip, last_clip) != 0) {
            if (o->clips && res->clips == o->clips) break;
            res->clips++;
            snprintf(last_clip, sizeof last_clip, "%s", w->clip);
        }
        for (int i = 0; i < n; i++)
            frame_to_planar(w->frames + (size_t)i * plane3, st.width, st.height, frames + (size_t)i * plane3);
        for (int i = 0; i < n - 1; i++) transition_motion(&w->ego[i], &w->ego[i + 1], speed + i, yaw + i);
        estimator_score_result s;
        if (estimator_score(est, frames, n, speed, yaw, 1.0f / CLIP_FPS, &s, NULL, NULL, err)) {
            rc = -1;
            break;
        }
        estimator_tally_add(&res->tally, &s);
    }
    free(frames), free(speed), free(yaw);
    clip_reader_close(r);
    if (!rc && res->tally.windows == 0) rc = wm_fail(err, "%s: no windows of %d frames to evaluate", o->data, n);
    return rc;
}

/* Short column heads of the confusion table, in estimator_class order. */
static const char *const CLASS_ABBREV[ESTIMATOR_CLASS_COUNT] = {"left", "right", "high", "low", "accel",
                                                               "decel", "start", "stop", "still"};

static void print_eval(const eval_options *o, const eval_result *res) {
    estimator_summary s;
    estimator_tally_summary(&res->tally, &s);
    printf("%s on %s (validation split, %d clips, %lld windows of %d s): class accuracy %.3f; ADE %.3f m, FDE %.3f "
           "m; speed MAE %.3f m/s, yaw-rate MAE %.4f rad/s (%lld transitions)\n",
           o->model, o->data, res->clips, s.windows, o->seconds, s.accuracy, s.ade, s.fde, s.speed_mae, s.yaw_mae,
           s.transitions);
    printf("confusion (rows: true class, columns: estimated)\n%-14s", "");
    for (int c = 0; c < ESTIMATOR_CLASS_COUNT; c++) printf(" %6s", CLASS_ABBREV[c]);
    printf("\n");
    for (int t = 0; t < ESTIMATOR_CLASS_COUNT; t++) {
        printf("%-14s", estimator_class_name((estimator_class)t));
        for (int e = 0; e < ESTIMATOR_CLASS_COUNT; e++) printf(" %6lld", res->tally.confusion[t][e]);
        printf("\n");
    }
}

static int write_eval_json(const eval_options *o, const eval_result *res, wm_error *err) {
    estimator_summary s;
    estimator_tally_summary(&res->tally, &s);
    json_t *root = json_object();
    json_object_set_new(root, "model", json_string(o->model));
    json_object_set_new(root, "data", json_string(o->data));
    json_object_set_new(root, "split", json_string("validation"));
    json_object_set_new(root, "window_seconds", json_integer(o->seconds));
    json_object_set_new(root, "clips", json_integer(res->clips));
    json_object_set_new(root, "windows", json_integer(s.windows));
    json_object_set_new(root, "transitions", json_integer(s.transitions));
    json_object_set_new(root, "class_accuracy", json_real(s.accuracy));
    json_object_set_new(root, "ade_m", json_real(s.ade));
    json_object_set_new(root, "fde_m", json_real(s.fde));
    json_object_set_new(root, "speed_mae_m_per_s", json_real(s.speed_mae));
    json_object_set_new(root, "yaw_rate_mae_rad_per_s", json_real(s.yaw_mae));
    json_t *names = json_array(), *confusion = json_array();
    for (int t = 0; t < ESTIMATOR_CLASS_COUNT; t++) {
        json_array_append_new(names, json_string(estimator_class_name((estimator_class)t)));
        json_t *row = json_array();
        for (int e = 0; e < ESTIMATOR_CLASS_COUNT; e++) json_array_append_new(row, json_integer(res->tally.confusion[t][e]));
        json_array_append_new(confusion, row);
    }
    json_object_set_new(root, "classes", names);
    json_object_set_new(root, "confusion", confusion); /* [true][estimated], in "classes" order */
    return file_write_json(o->json, root, FILE_JSON_REPORT, err);
}

static int cmd_estimator_eval(int argc, char **argv) {
    eval_options o = {.seconds = DEFAULT_SECONDS};
    const cli_int_option ints[] = {{"--seconds", &o.seconds, 1, 60, NULL}, {"--clips", &o.clips, 1, 1000000, NULL}};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc, taken = cli_take_int_option(argc, argv, &i, ints, 2, print_usage);
        if (taken == 2) return 2;
        if (taken) continue;
        if (strcmp(a, "--model") == 0 && has_value) o.model = argv[++i];
        else if (strcmp(a, "--data") == 0 && has_value) o.data = argv[++i];
        else if (strcmp(a, "--json") == 0 && has_value) o.json = argv[++i];
        else if (a[0] == '-') return usage_error("worldmodel estimator eval: unknown option or missing value: '%s'", a);
        else return usage_error("worldmodel estimator eval: unexpected argument '%s'", a);
    }
    if (!o.model) return usage_error("worldmodel estimator eval: %s", "missing --model");
    if (!o.data) return usage_error("worldmodel estimator eval: %s", "missing --data");
    wm_error err;
    estimator est;
    if (estimator_load(&est, o.model, 40, &err)) return fail(&err);
    eval_result res;
    int rc = run_eval(&o, &est, &res, &err);
    estimator_free(&est);
    if (!rc && o.json) rc = write_eval_json(&o, &res, &err);
    if (rc) return fail(&err);
    print_eval(&o, &res);
    if (o.json) printf("  wrote %s\n", o.json);
    return 0;
}

/* ---- dispatch -------------------------------------------------------------------------- */

int cmd_worldmodel_estimator(int argc, char **argv) {
    if (argc == 0) return print_usage(stderr), 2;
    if (cli_wants_help(argc, argv)) return print_usage(stdout), 0;
    if (strcmp(argv[0], "train") == 0) return cmd_train(argc - 1, argv + 1);
    if (strcmp(argv[0], "eval") == 0) return cmd_estimator_eval(argc - 1, argv + 1);
    return usage_error("worldmodel estimator: unknown subcommand '%s'", argv[0]);
}
