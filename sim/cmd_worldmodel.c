/* cmd_worldmodel.c — `wmsim worldmodel tokenize`: clips as token shards for
 * the dynamics model (datasets/token_shards.h, datasets/SHARDS.md);
 * `wmsim worldmodel train`: the dynamics model (worldmodel/dynamics_model.h)
 * on windows of those shards (datasets/window_source.h,
 * worldmodel/dynamics_train.h).
 *
 * Exit codes as for every command (sim/commands.h): 0 done, 1 bad input or
 * I/O ("wmsim: ..." on stderr), 2 bad usage. */
#include "sim/commands.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "core/fileio.h"
#include "datasets/token_shards.h"
#include "datasets/window_source.h"
#include "render/image.h"
#include "render/plot.h"
#include "sim/cli_args.h"
#include "sim/train_chart.h"
#include "worldmodel/dynamics_model.h"
#include "worldmodel/dynamics_train.h"

static const char USAGE[] =
    "usage: wmsim worldmodel tokenize --data CLIPS --tokenizer MODEL.wmck --out SHARDS\n"
    "                                 [--slots K] [--shard-frames N] [--quiet]\n"
    "\n"
    "tokenize  encodes every frame of every complete clip under CLIPS (sorted)\n"
    "          with the tokenizer and writes SHARDS/shard_NNNNN.wmts (up to\n"
    "          --shard-frames frames each, default %d; a clip is never split)\n"
    "          and SHARDS/index.json, last. Per frame: the image tokens, the\n"
    "          action after it (accel, brake m/s^2, steer rad) and the ego's speed\n"
    "          (m/s), and the --slots nearest actors in view (default %d, at most\n"
    "          %d) as scene slots of %d features. Clips keep the tokenizer's split\n"
    "          (%g%% validation by clip name). Format: datasets/SHARDS.md.\n"
    "          --quiet prints nothing on success.\n";

static const char TRAIN_USAGE[] =
    "usage: wmsim worldmodel train --shards SHARDS --out MODEL.wmck [--steps N] [--batch B]\n"
    "                              [--lr X] [--warmup N] [--seed N] [--stride N] [--resume]\n"
    "                              [--stop-at N] [--log F.csv] [--plot F.png] [--log-every N]\n"
    "                              [--val-windows N] [--val-every N] [--save-every N]\n"
    "                              [--frames F] [--layers L] [--channels C] [--heads H]\n"
    "                              [--mask-share X] [--changed-weight W] [--quiet]\n"
    "\n"
    "train     trains the dynamics transformer on windows of F consecutive frames\n"
    "          of the train split of SHARDS: a share --mask-share of the steps\n"
    "          (default %g) on masked tokens (MaskGIT, for parallel decoding), the\n"
    "          rest on the next image token (autoregressive decoding); with\n"
    "          --changed-weight W (default 1) a target token unlike the frame\n"
    "          before's at its place weighs W in both losses. Windows\n"
    "          are shuffled per epoch by --seed, one every --stride frames, with\n"
    "          conditioning dropout (all slots p %g, the action p %g, per window).\n"
    "          Writes MODEL.wmck, MODEL.wmck.state (to resume), the curves as CSV\n"
    "          (--log, default MODEL.wmck.csv) and a chart (--plot, default\n"
    "          MODEL.wmck.png). Validates on --val-windows windows of the\n"
    "          validation split (default %d; 0: none) every --val-every steps and\n"
    "          at the end. --resume continues from MODEL.wmck.state up to --steps\n"
    "          (give the first run's --seed, --batch, --stride, --mask-share and\n"
    "          --changed-weight); --stop-at N stops after step N. Defaults:\n"
    "          --steps %d, --batch %d,\n"
    "          --lr %g (cosine to %g), --warmup %d, --seed 1, --stride 1, --log-every %d,\n"
    "          --val-every %d, --save-every %d; --frames %d, --layers %d,\n"
    "          --channels %d, --heads %d; vocabulary, tokens and slots from SHARDS.\n"
    "\n"
    "usage: wmsim worldmodel estimator train|eval ...\n"
    "\n"
    "estimator the inverse-dynamics estimator (ACT-Bench-style action fidelity):\n"
    "          wmsim worldmodel estimator --help.\n";

#define DEFAULT_VAL_WINDOWS 64

static void print_usage(FILE *f) {
    fprintf(f, USAGE, TOKEN_SHARDS_DEFAULT_FRAMES, TOKEN_SHARDS_DEFAULT_SLOTS, TOKEN_SHARDS_MAX_SLOTS,
            TOKEN_SHARDS_SLOT_FEATURES, 100 * TOKEN_SHARDS_VAL_FRACTION);
    dynamics_train_config tc = dynamics_train_config_default();
    dynamics_config mc = dynamics_config_default();
    fputc('\n', f);
    fprintf(f, TRAIN_USAGE, (double)tc.mask_share, (double)tc.drop_slots, (double)tc.drop_action, DEFAULT_VAL_WINDOWS, tc.steps, tc.batch,
            (double)tc.lr, (double)tc.lr_min, tc.warmup_steps, tc.log_every, tc.val_every, tc.save_every, mc.frames,
            mc.layers, mc.channels, mc.heads);
    fputs("\nusage: wmsim worldmodel eval --data CLIPS [--model MODEL.wmck] ...   (wmsim worldmodel eval --help)\n", f);
}

static int usage_error(const char *fmt, const char *arg) { return cli_usage_error(print_usage, fmt, arg); }

static int cmd_tokenize(int argc, char **argv) {
    token_shards_write_config c = token_shards_write_config_default();
    int quiet = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        long x;
        if (strcmp(a, "--data") == 0 && has_value) c.data = argv[++i];
        else if (strcmp(a, "--tokenizer") == 0 && has_value) c.tokenizer = argv[++i];
        else if (strcmp(a, "--out") == 0 && has_value) c.out = argv[++i];
        else if (strcmp(a, "--slots") == 0 && has_value) {
            if (cli_parse_long(argv[++i], 0, TOKEN_SHARDS_MAX_SLOTS, &x))
                return usage_error("--slots: expected an integer in [0, 64], got '%s'", argv[i]);
            c.slots = (int)x;
        } else if (strcmp(a, "--shard-frames") == 0 && has_value) {
            if (cli_parse_long(argv[++i], 1, 1L << 30, &x))
                return usage_error("--shard-frames: expected an integer in [1, 1073741824], got '%s'", argv[i]);
            c.shard_frames = (int)x;
        } else if (strcmp(a, "--quiet") == 0) quiet = 1;
        else if (a[0] == '-') return usage_error("worldmodel tokenize: unknown option or missing value: '%s'", a);
        else return usage_error("worldmodel tokenize: unexpected argument '%s'", a);
    }
    if (!c.data) return usage_error("worldmodel tokenize: %s", "missing --data");
    if (!c.tokenizer) return usage_error("worldmodel tokenize: %s", "missing --tokenizer");
    if (!c.out) return usage_error("worldmodel tokenize: %s", "missing --out");
    c.progress = !quiet && isatty(2);
    token_shards_report r;
    wm_error err;
    if (token_shards_write(&c, &r, &err)) return fprintf(stderr, "wmsim: %s\n", err.msg), 1;
    if (!quiet)
        printf("%s: %d clips (%d train, %d validation), %lld frames, in %d shard%s of %lld bytes, %.1f s "
               "(%.1f clips/s); %d incomplete skipped\n",
               c.out, r.clips, r.train_clips, r.validation_clips, r.frames, r.shards, r.shards == 1 ? "" : "s",
               r.bytes, r.seconds, r.seconds > 0 ? r.clips / r.seconds : 0.0, r.skipped);
    return 0;
}

/* ---- train ------------------------------------------------------------------- */

typedef struct {
    const char *shards, *out, *log, *plot;
    dynamics_train_config tc;
    dynamics_config mc;
    uint64_t seed;
    int stride, val_windows, quiet;
    int frames_given, layers_given, channels_given, heads_given;
    char log_default[4200], plot_default[4200];
} train_options;



static int take_train_option(int argc, char **argv, int *i, train_options *o) {
    const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    if (strcmp(a, "--resume") == 0) return o->tc.resume = 1;
    if (strcmp(a, "--quiet") == 0) return o->quiet = 1;
    if (!v) return 0;
    if (strcmp(a, "--shards") == 0) o->shards = v;
    else if (strcmp(a, "--out") == 0) o->out = v;
    else if (strcmp(a, "--log") == 0) o->log = v;
    else if (strcmp(a, "--plot") == 0) o->plot = v;
    else if (strcmp(a, "--seed") == 0) {
        if (cli_parse_u64(v, &o->seed)) return usage_error("--seed: not a non-negative integer: '%s'", v);
    } else if (strcmp(a, "--changed-weight") == 0) {
        double x;
        if (cli_parse_double(v, &x) || !(x > 0.0 && x <= 1000.0))
            return usage_error("--changed-weight: expected a weight in (0, 1000], got '%s'", v);
        o->tc.changed_weight = (float)x;
    } else if (strcmp(a, "--mask-share") == 0) {
        double x;
        if (cli_parse_double(v, &x) || !(x >= 0.0 && x <= 1.0))
            return usage_error("--mask-share: expected a share in [0, 1], got '%s'", v);
        o->tc.mask_share = (float)x;
    } else if (strcmp(a, "--lr") == 0) {
        if (cli_parse_lr(v, &o->tc.lr, &o->tc.lr_min)) return usage_error("--lr: expected a rate in (0, 1], got '%s'", v);
    } else return 0;
    ++*i;
    return 1;
}

static int parse_train(int argc, char **argv, train_options *o) {
    memset(o, 0, sizeof *o);
    o->tc = dynamics_train_config_default(), o->mc = dynamics_config_default();
    o->seed = 1, o->stride = 1, o->val_windows = DEFAULT_VAL_WINDOWS;
    const cli_int_option ints[] = {
        {"--steps", &o->tc.steps, 1, INT_MAX / 4096, NULL},
        {"--batch", &o->tc.batch, 1, 4096, NULL},
        {"--warmup", &o->tc.warmup_steps, 0, INT_MAX, NULL},
        {"--log-every", &o->tc.log_every, 1, INT_MAX, NULL},
        {"--val-windows", &o->val_windows, 0, 100000, NULL},
        {"--val-every", &o->tc.val_every, 0, INT_MAX, NULL},
        {"--save-every", &o->tc.save_every, 0, INT_MAX, NULL},
        {"--stop-at", &o->tc.stop_at, 1, INT_MAX / 4096, NULL},
        {"--stride", &o->stride, 1, 100000, NULL},
        {"--frames", &o->mc.frames, 1, 64, &o->frames_given},
        {"--layers", &o->mc.layers, 1, DYNAMICS_MAX_LAYERS, &o->layers_given},
        {"--channels", &o->mc.channels, 1, 4096, &o->channels_given},
        {"--heads", &o->mc.heads, 1, 4096, &o->heads_given},
    };
    for (int i = 0; i < argc; i++) {
        int taken = cli_take_int_option(argc, argv, &i, ints, (int)(sizeof ints / sizeof ints[0]), print_usage);
        if (!taken) taken = take_train_option(argc, argv, &i, o);
        if (taken == 2) return 2;
        if (taken) continue;
        if (argv[i][0] == '-') return usage_error("worldmodel train: unknown option or missing value: '%s'", argv[i]);
        return usage_error("worldmodel train: unexpected argument '%s'", argv[i]);
    }
    if (!o->shards) return usage_error("worldmodel train: %s", "missing --shards");
    if (!o->out) return usage_error("worldmodel train: %s", "missing --out");
    if (!o->log) snprintf(o->log_default, sizeof o->log_default, "%s.csv", o->out), o->log = o->log_default;
    if (!o->plot) snprintf(o->plot_default, sizeof o->plot_default, "%s.png", o->out), o->plot = o->plot_default;
    return 0;
}


/* A fresh model (sizes from the options, vocabulary, tokens and slots from
 * the shards), or the one at --out to resume. 0; 1 with err set; 2 with a
 * usage error printed. */
static int build_model(train_options *o, const token_shards_info *in, dynamics_model *dm, wm_error *err) {
    if (o->tc.resume) {
        if (dynamics_load(dm, o->out, o->tc.batch, err)) return 1;
        const dynamics_config *m = &dm->cfg;
        const char *flag = NULL;
        int want = 0;
        if (o->frames_given && o->mc.frames != m->frames) flag = "--frames", want = m->frames;
        else if (o->layers_given && o->mc.layers != m->layers) flag = "--layers", want = m->layers;
        else if (o->channels_given && o->mc.channels != m->channels) flag = "--channels", want = m->channels;
        else if (o->heads_given && o->mc.heads != m->heads) flag = "--heads", want = m->heads;
        if (flag) {
            dynamics_free(dm);
            char msg[512];
            snprintf(msg, sizeof msg, "worldmodel train --resume: %s differs from the model's %d (%s); leave it out",
                     flag, want, o->out);
            return usage_error("%s", msg);
        }
        return 0;
    }
    o->mc.vocab = in->vocab, o->mc.frame_tokens = in->hz * in->wz, o->mc.slots = in->slots;
    o->mc.slot_dim = in->slot_features, o->mc.action_dim = in->actions;
    if (dynamics_config_check(&o->mc, err)) return usage_error("%s", err->msg);
    return dynamics_init(dm, &o->mc, o->tc.batch, o->seed, err) ? 1 : 0;
}

/* The fixed validation set: n windows evenly spaced over the validation
 * split's windows (all when fewer), full conditioning. */
typedef struct {
    int *tokens;
    float *actions, *slots;
    int n;
} val_set;

static int read_validation(const train_options *o, const dynamics_config *c, val_set *v, wm_error *err) {
    memset(v, 0, sizeof *v);
    if (o->val_windows == 0) return 0;
    window_source *ws;
    if (window_source_open(&ws, o->shards, WINDOW_SPLIT_VALIDATION, c->frames, 1, 0, err)) {
        wm_error why = *err;
        return wm_fail(err, "validation windows: %s (--val-windows 0 trains without validation)", why.msg);
    }
    long long total = window_source_info_get(ws)->windows;
    int n = total < o->val_windows ? (int)total : o->val_windows;
    const size_t F = (size_t)c->frames;
    v->tokens = MALLOC_CHECK((size_t)n * F * c->frame_tokens * sizeof(int));
    v->actions = MALLOC_CHECK((size_t)n * F * c->action_dim * sizeof(float));
    v->slots = c->slots ? MALLOC_CHECK((size_t)n * F * c->slots * c->slot_dim * sizeof(float)) : NULL;
    for (int j = 0; j < n; j++)
        window_source_get(ws, (long long)j * total / n, v->tokens + j * F * c->frame_tokens,
                          v->actions + j * F * c->action_dim, v->slots ? v->slots + j * F * c->slots * c->slot_dim : NULL);
    v->n = n;
    window_source_close(ws);
    return 0;
}

static int stream_next(void *ctx, int *tokens, float *actions, float *slots, int B, wm_error *err) {
    return window_source_next(ctx, B, tokens, actions, slots, err);
}
static int stream_seek(void *ctx, uint64_t index, wm_error *err) { return window_source_seek(ctx, index, err); }

/* ---- train: the curves chart ---- */

/* Training and validation loss (log scale) above the validation token
 * accuracy, vs step. */
static int write_chart(const char *csv_path, const char *png_path, wm_error *err) {
    static const train_chart_panel panels[] = {
        {"dynamics: next-token loss", PLOT_LOG_Y, {{"loss", "train loss"}, {"val_loss", "validation loss"}}},
        {"dynamics: validation token accuracy",
         0,
         {{"val_accuracy", "next token (autoregressive)"}, {"val_mask_accuracy", "masked tokens (parallel)"}}},
        {"dynamics: validation accuracy on tokens unlike the frame before's",
         0,
         {{"val_changed_accuracy", "next token (autoregressive)"},
          {"val_mask_changed_accuracy", "masked tokens (parallel)"}}},
    };
    return train_chart_write(csv_path, png_path, panels, 3, err);
}

static int run_train(train_options *o, wm_error *err) {
    token_shards *ts = NULL;
    window_source *ws = NULL;
    dynamics_model dm;
    val_set val = {0};
    int rc = 1, have_model = 0;
    if (dir_create_parent(o->out, err) || dir_create_parent(o->log, err) || dir_create_parent(o->plot, err)) goto done;
    if (token_shards_open(&ts, o->shards, err)) goto done;
    const token_shards_info in = *token_shards_info_get(ts);
    token_shards_close(ts), ts = NULL;
    rc = build_model(o, &in, &dm, err);
    if (rc) goto done;
    have_model = 1, rc = 1;
    const dynamics_config *c = &dm.cfg;
    if (c->vocab != in.vocab || c->frame_tokens != in.hz * in.wz || c->slots != in.slots ||
        c->slot_dim != in.slot_features || c->action_dim != in.actions) {
        wm_fail(err, "%s: %d codes, %d tokens a frame, %d slots, but %s takes %d codes, %d tokens, %d slots",
                o->shards, in.vocab, in.hz * in.wz, in.slots, o->out, c->vocab, c->frame_tokens, c->slots);
        goto done;
    }
    if (window_source_open(&ws, o->shards, WINDOW_SPLIT_TRAIN, c->frames, o->stride, o->seed, err)) goto done;
    if (read_validation(o, c, &val, err)) goto done;
    dynamics_train_config tc = o->tc;
    tc.out_path = o->out, tc.log_path = o->log, tc.seed = o->seed;
    tc.progress = !o->quiet && isatty(2);
    tc.val_tokens = val.tokens, tc.val_actions = val.actions, tc.val_slots = val.slots, tc.n_val = val.n;
    /* The window order is fixed by the seed, the stride and F: a resume must keep them. */
    uint64_t order[3] = {o->seed, (uint64_t)o->stride, (uint64_t)c->frames};
    tc.stream_id = hash_fnv1a64(order, sizeof order);
    window_stream stream = {stream_next, stream_seek, ws};
    dynamics_train_report rep;
    if (dynamics_train(&dm, &tc, &stream, &rep, err) || write_chart(o->log, o->plot, err)) goto done;
    if (!o->quiet) {
        printf("%s: steps %d-%d of %d in %.1f s, %.1f windows/s, train loss %.4f", o->out, rep.first_step, rep.steps,
               tc.steps, rep.seconds, rep.windows_per_s, (double)rep.loss);
        if (rep.val.windows)
            printf("; validation (%d windows) loss %.4f, token accuracy %.4f, masked loss %.4f, masked accuracy %.4f, "
                   "accuracy on changing tokens %.4f (masked %.4f)",
                   rep.val.windows, rep.val.loss, rep.val.accuracy, rep.val.mask_loss, rep.val.mask_accuracy,
                   rep.val.changed_accuracy, rep.val.mask_changed_accuracy);
        else
            printf("; no validation");
        printf("; wrote %s, %s.state, %s and %s\n", o->out, o->out, o->log, o->plot);
    }
    rc = 0;
done:
    if (have_model) dynamics_free(&dm);
    token_shards_close(ts);
    window_source_close(ws);
    free(val.tokens), free(val.actions), free(val.slots);
    return rc;
}

static int cmd_train(int argc, char **argv) {
    train_options o;
    int rc = parse_train(argc, argv, &o);
    if (rc) return rc;
    wm_error err;
    rc = run_train(&o, &err);
    if (rc == 1) fprintf(stderr, "wmsim: %s\n", err.msg);
    return rc;
}

int cmd_worldmodel(int argc, char **argv) {
    if (argc == 0) return print_usage(stderr), 2;
    if (strcmp(argv[0], "estimator") == 0) return cmd_worldmodel_estimator(argc - 1, argv + 1);
    if (strcmp(argv[0], "eval") == 0) return cmd_worldmodel_eval(argc - 1, argv + 1);
    if (cli_wants_help(argc, argv)) return print_usage(stdout), 0;
    if (strcmp(argv[0], "tokenize") == 0) return cmd_tokenize(argc - 1, argv + 1);
    if (strcmp(argv[0], "train") == 0) return cmd_train(argc - 1, argv + 1);
    return usage_error("worldmodel: unknown subcommand '%s'", argv[0]);
}
