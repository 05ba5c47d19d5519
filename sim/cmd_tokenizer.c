/* cmd_tokenizer.c — `wmsim tokenizer train|encode|decode|eval`: the frame
 * tokenizer (worldmodel/tokenizer.h, worldmodel/tokenizer_train.h) on frames
 * of clips (datasets/frame_source.h), PNGs and token text files.
 *
 * Exit codes as for every command (sim/commands.h): 0 done, 1 bad input or
 * I/O ("wmsim: ..." on stderr), 2 bad usage.
 *
 * Dimensions: B frames, 3 channels, H x W pixels, hz x wz tokens, N codes. */
#include "sim/commands.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "sim/cli_args.h"
#include "sim/train_chart.h"
#include "core/fileio.h"
#include "datasets/frame_source.h"
#include "render/image.h"
#include "render/overlay.h"
#include "render/plot.h"
#include "worldmodel/tokenizer.h"
#include "worldmodel/tokenizer_train.h"

/* The defaults in the text come from the config functions, so the help
 * cannot drift from what the code does. */
static const char USAGE[] =
    "usage: wmsim tokenizer train --data CLIPS --out MODEL.wmck [--steps N] [--batch B]\n"
    "                             [--lr X] [--warmup N] [--seed N] [--stride N] [--resume]\n"
    "                             [--log FILE.csv] [--plot FILE.png] [--log-every N]\n"
    "                             [--val-frames N] [--val-every N] [--save-every N]\n"
    "                             [--stop-at N] [--size WxH] [--channels C]\n"
    "                             [--code-dim D] [--codebook N] [--down 8|16]\n"
    "                             [--res-blocks R] [--quiet]\n"
    "       wmsim tokenizer encode --model MODEL.wmck FRAME.png [--out TOKENS.txt]\n"
    "       wmsim tokenizer decode --model MODEL.wmck TOKENS.txt --out FRAME.png\n"
    "       wmsim tokenizer eval --model MODEL.wmck --data CLIPS [--frames N]\n"
    "                            [--split validation|train|all] [--sheet FILE.png]\n"
    "\n"
    "The frame tokenizer: a convolutional VQ autoencoder that turns a WxH frame\n"
    "into a (W/down)x(H/down) grid of codebook indices and back.\n"
    "\n"
    "train   trains on single frames of the clips under CLIPS, from the train\n"
    "        split (clip folders whose name hashes outside the %g%% validation\n"
    "        share), and writes MODEL.wmck, MODEL.wmck.state (to resume), the\n"
    "        curves as CSV (--log, default MODEL.wmck.csv) and as a chart (--plot,\n"
    "        default MODEL.wmck.png). It validates on --val-frames frames of the\n"
    "        validation split (default %d; 0: none) every --val-every steps and\n"
    "        at the end. --resume continues from MODEL.wmck.state up to --steps;\n"
    "        --stop-at N stops after step N of the --steps schedule (resume later).\n"
    "        give it the first run's --seed, --batch and --stride, which decide\n"
    "        the order of the frames. Defaults: --steps %d, --batch %d, --lr %g\n"
    "        (cosine decay to lr/%g), --warmup %d, --seed 1, --stride %d (frames\n"
    "        apart in a clip), --log-every %d, --val-every %d, --save-every %d;\n"
    "        the clips' frame size, --down %d, --channels %d, --code-dim %d,\n"
    "        --codebook %d, --res-blocks %d. --quiet prints nothing on success.\n"
    "encode  writes FRAME.png's codes as text (default: to stdout): H/down lines\n"
    "        of W/down codes separated by spaces. FRAME.png must have the\n"
    "        model's frame size.\n"
    "decode  turns such a file into a PNG of the model's frame size.\n"
    "eval    reconstructs --frames frames (default %d) of a split (default\n"
    "        validation: the frames train validates on) and prints PSNR, SSIM,\n"
    "        the codes used and their perplexity; --sheet writes up to %d\n"
    "        originals (left) beside their reconstructions (right), one pair a row.\n";

#define DEFAULT_SEED 1
#define DEFAULT_VAL_FRAMES 256
#define VAL_SEED 0 /* validation frames do not follow --seed: runs with other seeds compare */
#define SHEET_FRAMES 8
#define TOKEN_FILE_MAX ((size_t)64 << 20)

static void print_usage(FILE *f) {
    tokenizer_train_config tc = tokenizer_train_config_default();
    tokenizer_config mc = tokenizer_config_default();
    fprintf(f, USAGE, 100 * FRAME_SOURCE_VAL_FRACTION, DEFAULT_VAL_FRAMES, tc.steps, tc.batch, (double)tc.lr,
            (double)(tc.lr / tc.lr_min), tc.warmup_steps, FRAME_SOURCE_STRIDE, tc.log_every, tc.val_every,
            tc.save_every, mc.down, mc.channels, mc.code_dim, mc.codebook_size, mc.res_blocks, DEFAULT_VAL_FRAMES,
            SHEET_FRAMES);
}

static int usage_error(const char *fmt, const char *arg) { return cli_usage_error(print_usage, fmt, arg); }

static int fail(const wm_error *err) {
    fprintf(stderr, "wmsim: %s\n", err->msg);
    return 1;
}

/* ---- argument values ----------------------------------------------------- */







/* ---- frames as images ---------------------------------------------------- */

/* n images of one width, top to bottom, into out (allocated here). */
static void stack_vertically(const image *rows, int n, image *out) {
    int height = 0;
    for (int i = 0; i < n; i++) height += rows[i].height;
    image_init(out, rows[0].width, height);
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        size_t bytes = 3 * (size_t)rows[i].width * rows[i].height;
        memcpy(out->rgb + at, rows[i].rgb, bytes);
        at += bytes;
    }
}


/* ---- train: options ------------------------------------------------------ */

typedef struct {
    const char *data, *out, *log, *plot;
    tokenizer_train_config tc;
    tokenizer_config mc;
    uint64_t seed;
    int stride, val_frames, quiet;
    int size_given, down_given, channels_given, code_dim_given, codebook_given, res_blocks_given;
    char log_default[4200], plot_default[4200];
} train_options;

static train_options train_options_default(void) {
    return (train_options){.tc = tokenizer_train_config_default(), .mc = tokenizer_config_default(),
                           .seed = DEFAULT_SEED, .stride = FRAME_SOURCE_STRIDE, .val_frames = DEFAULT_VAL_FRAMES};
}

/* The options that are not integers; the same return values as cli_take_int_option. */
static int take_train_option(int argc, char **argv, int *i, train_options *o) {
    const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    if (strcmp(a, "--resume") == 0) return o->tc.resume = 1;
    if (strcmp(a, "--quiet") == 0) return o->quiet = 1;
    if (!v) return 0;
    if (strcmp(a, "--data") == 0) o->data = v;
    else if (strcmp(a, "--out") == 0) o->out = v;
    else if (strcmp(a, "--log") == 0) o->log = v;
    else if (strcmp(a, "--plot") == 0) o->plot = v;
    else if (strcmp(a, "--seed") == 0) {
        if (cli_parse_u64(v, &o->seed)) return usage_error("--seed: not a non-negative integer: '%s'", v);
    } else if (strcmp(a, "--size") == 0) {
        if (cli_parse_size(v, &o->mc.width, &o->mc.height)) return usage_error("--size: expected WxH, got '%s'", v);
        o->size_given = 1;
    } else if (strcmp(a, "--lr") == 0) {
        if (cli_parse_lr(v, &o->tc.lr, &o->tc.lr_min)) return usage_error("--lr: expected a rate in (0, 1], got '%s'", v);
    } else return 0;
    ++*i;
    return 1;
}

static int check_train_options(train_options *o) {
    if (o->mc.down != 8 && o->mc.down != 16) {
        char v[16];
        snprintf(v, sizeof v, "%d", o->mc.down);
        return usage_error("--down: expected 8 or 16, got '%s'", v);
    }
    if (!o->data) return usage_error("tokenizer train: %s", "missing --data");
    if (!o->out) return usage_error("tokenizer train: %s", "missing --out");
    if (!o->log) snprintf(o->log_default, sizeof o->log_default, "%s.csv", o->out), o->log = o->log_default;
    if (!o->plot) snprintf(o->plot_default, sizeof o->plot_default, "%s.png", o->out), o->plot = o->plot_default;
    return 0;
}

static int parse_train(int argc, char **argv, train_options *o) {
    *o = train_options_default();
    const cli_int_option ints[] = {
        {"--steps", &o->tc.steps, 1, INT_MAX / 4096, NULL},
        {"--batch", &o->tc.batch, 1, 4096, NULL},
        {"--warmup", &o->tc.warmup_steps, 0, INT_MAX, NULL},
        {"--log-every", &o->tc.log_every, 1, INT_MAX, NULL},
        {"--val-frames", &o->val_frames, 0, 100000, NULL},
        {"--val-every", &o->tc.val_every, 0, INT_MAX, NULL},
        {"--save-every", &o->tc.save_every, 0, INT_MAX, NULL},
        {"--stop-at", &o->tc.stop_at, 1, INT_MAX / 4096, NULL},
        {"--stride", &o->stride, 1, 100000, NULL},
        {"--down", &o->mc.down, 1, 64, &o->down_given},
        {"--channels", &o->mc.channels, 1, 512, &o->channels_given},
        {"--code-dim", &o->mc.code_dim, 1, 1024, &o->code_dim_given},
        {"--res-blocks", &o->mc.res_blocks, 0, 4, &o->res_blocks_given},
        {"--codebook", &o->mc.codebook_size, 2, 65536, &o->codebook_given},
    };
    for (int i = 0; i < argc; i++) {
        int taken = cli_take_int_option(argc, argv, &i, ints, (int)(sizeof ints / sizeof ints[0]), print_usage);
        if (!taken) taken = take_train_option(argc, argv, &i, o);
        if (taken == 2) return 2;
        if (taken) continue;
        if (argv[i][0] == '-') return usage_error("tokenizer train: unknown option or missing value: '%s'", argv[i]);
        return usage_error("tokenizer train: unexpected argument '%s'", argv[i]);
    }
    return check_train_options(o);
}

/* ---- train: the model ---------------------------------------------------- */

/* --resume keeps the model's architecture: a flag that would change it is
 * a mistake worth stopping for. 0, or 2 with the usage error printed. */
static int check_resume_flags(const train_options *o, const tokenizer_config *m) {
    char want[128];
    const char *flag = NULL;
    if (o->size_given && (o->mc.width != m->width || o->mc.height != m->height))
        flag = "--size", snprintf(want, sizeof want, "%dx%d", m->width, m->height);
    else if (o->down_given && o->mc.down != m->down) flag = "--down", snprintf(want, sizeof want, "%d", m->down);
    else if (o->channels_given && o->mc.channels != m->channels)
        flag = "--channels", snprintf(want, sizeof want, "%d", m->channels);
    else if (o->code_dim_given && o->mc.code_dim != m->code_dim)
        flag = "--code-dim", snprintf(want, sizeof want, "%d", m->code_dim);
    else if (o->res_blocks_given && o->mc.res_blocks != m->res_blocks)
        flag = "--res-blocks", snprintf(want, sizeof want, "%d", m->res_blocks);
    else if (o->codebook_given && o->mc.codebook_size != m->codebook_size)
        flag = "--codebook", snprintf(want, sizeof want, "%d", m->codebook_size);
    if (!flag) return 0;
    char msg[512];
    snprintf(msg, sizeof msg, "tokenizer train --resume: %s differs from the model's %s (%s); leave it out", flag, want,
             o->out);
    return usage_error("%s", msg);
}

/* A fresh model (the clips' size unless --size), or the one at --out to
 * resume. 0; 1 with err set; 2 with a usage error printed. */
static int build_model(train_options *o, int data_w, int data_h, tokenizer *tk, wm_error *err) {
    int max_batch = o->tc.batch > 16 ? o->tc.batch : 16;
    if (o->tc.resume) {
        if (tokenizer_load(tk, o->out, max_batch, err)) return 1;
        int rc = check_resume_flags(o, &tk->cfg);
        if (rc) tokenizer_free(tk);
        return rc;
    }
    if (!o->size_given) o->mc.width = data_w, o->mc.height = data_h;
    if (tokenizer_config_check(&o->mc, err)) return usage_error("%s", err->msg);
    return tokenizer_init(tk, &o->mc, max_batch, o->seed, err) ? 1 : 0;
}

/* The held-out frames; an empty validation split is an error that says
 * how to train without. */
static int read_validation(const train_options *o, float **val, int *n_val, wm_error *err) {
    *val = NULL, *n_val = 0;
    if (o->val_frames == 0) return 0;
    int w, h;
    if (frame_source_read(o->data, FRAME_SPLIT_VALIDATION, o->val_frames, 0, VAL_SEED, val, n_val, &w, &h, err)) {
        wm_error why = *err;
        return wm_fail(err, "validation frames: %s (--val-frames 0 trains without validation)", why.msg);
    }
    return 0;
}

/* ---- train: the curves chart --------------------------------------------- */

/* PSNR (train and validation) above the loss (log scale), vs step. */
static int write_chart(const char *csv_path, const char *png_path, wm_error *err) {
    static const train_chart_panel panels[] = {
        {"tokenizer: PSNR (dB)", 0, {{"train_psnr", "train PSNR"}, {"val_psnr", "validation PSNR"}}},
        {"tokenizer: training loss", PLOT_LOG_Y, {{"loss", "train loss"}, {NULL, NULL}}},
    };
    return train_chart_write(csv_path, png_path, panels, 2, err);
}

/* ---- train --------------------------------------------------------------- */

static void print_train_summary(const train_options *o, const tokenizer *tk, const tokenizer_train_report *rep) {
    printf("%s: steps %d-%d of %d in %.1f s, %.1f images/s, train PSNR %.2f dB", o->out, rep->first_step, rep->steps,
           o->tc.steps, rep->seconds, rep->images_per_s, (double)rep->train_psnr);
    if (rep->val.frames)
        printf("; validation (%d frames) PSNR %.2f dB, SSIM %.4f, codes %d/%d used, perplexity %.1f\n",
               rep->val.frames, rep->val.psnr, rep->val.ssim, rep->val.codes_used, tk->cfg.codebook_size,
               rep->val.perplexity);
    else
        printf("; no validation\n");
    printf("  wrote %s, %s.state, %s and %s\n", o->out, o->out, o->log, o->plot);
}

/* Everything after the options: data, model, validation frames, training, chart. */
static int run_train(train_options *o, wm_error *err) {
    frame_source *fs = NULL;
    tokenizer tk;
    float *val = NULL;
    int n_val = 0, w, h, rc = 1, have_model = 0;
    if (dir_create_parent(o->out, err) || dir_create_parent(o->log, err) || dir_create_parent(o->plot, err)) goto done;
    if (frame_source_open(&fs, o->data, FRAME_SPLIT_TRAIN, o->stride, o->seed, err)) goto done;
    frame_source_size(fs, &w, &h);
    rc = build_model(o, w, h, &tk, err);
    if (rc) goto done;
    have_model = 1, rc = 1;
    if (w != tk.cfg.width || h != tk.cfg.height) {
        wm_fail(err, "%s: frames are %dx%d, but the model takes %dx%d%s", o->data, w, h, tk.cfg.width, tk.cfg.height,
                o->tc.resume ? " (it was trained on other clips)" : " (--size)");
        goto done;
    }
    if (read_validation(o, &val, &n_val, err)) goto done;
    tokenizer_train_config tc = o->tc;
    tc.out_path = o->out, tc.log_path = o->log;
    tc.progress = !o->quiet && isatty(2);
    tc.val_frames = val, tc.n_val = n_val;
    /* The frame order is fixed by the seed and the stride: a resume must keep both. */
    uint64_t order[2] = {o->seed, (uint64_t)o->stride};
    tc.stream_id = hash_fnv1a64(order, sizeof order);
    frame_stream stream = frame_source_stream(fs);
    tokenizer_train_report rep;
    if (tokenizer_train(&tk, &tc, &stream, &rep, err) || write_chart(o->log, o->plot, err)) goto done;
    if (!o->quiet) print_train_summary(o, &tk, &rep);
    rc = 0;
done:
    if (have_model) tokenizer_free(&tk);
    frame_source_close(fs);
    free(val);
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

/* ---- encode -------------------------------------------------------------- */

/* hz lines of wz space-separated codes; malloc'ed. */
static char *format_codes(const int *codes, int hz, int wz) {
    size_t cap = (size_t)hz * wz * 12 + 1, at = 0;
    char *text = MALLOC_CHECK(cap);
    for (int y = 0; y < hz; y++)
        for (int x = 0; x < wz; x++)
            at += (size_t)snprintf(text + at, cap - at, "%d%c", codes[y * wz + x], x + 1 < wz ? ' ' : '\n');
    return text;
}

static int encode_file(const char *model, const char *png, const char *out, wm_error *err) {
    tokenizer tk;
    if (tokenizer_load(&tk, model, 1, err)) return -1;
    image img;
    int rc = -1;
    if (image_read_png(png, &img, err)) goto done_model;
    if (img.width != tk.cfg.width || img.height != tk.cfg.height) {
        wm_fail(err, "%s: %dx%d pixels, but %s takes %dx%d frames", png, img.width, img.height, model, tk.cfg.width,
                tk.cfg.height);
        goto done;
    }
    float *x = MALLOC_CHECK(3 * (size_t)img.width * img.height * sizeof(float));
    int *codes = MALLOC_CHECK((size_t)tk.hz * tk.wz * sizeof(int));
    image_to_floats(&img, x);
    tokenizer_encode(&tk, x, 1, codes);
    char *text = format_codes(codes, tk.hz, tk.wz);
    if (!out) rc = fputs(text, stdout) == EOF || fflush(stdout) ? wm_fail(err, "stdout: %s", strerror(errno)) : 0;
    else rc = file_write_atomic(out, text, strlen(text), err);
    free(text), free(codes), free(x);
done:
    image_free(&img);
done_model:
    tokenizer_free(&tk);
    return rc;
}

/* encode and decode's arguments: --model M, one input file, --out F
 * (required for decode). Returns 0, or 2 after a usage error. */
static int model_io_args(int argc, char **argv, const char *verb, const char *input_name, int need_out,
                         const char **model, const char **input, const char **out) {
    char msg[128];
    *model = *input = *out = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--model") == 0 && i + 1 < argc) *model = argv[++i];
        else if (strcmp(a, "--out") == 0 && i + 1 < argc) *out = argv[++i];
        else if (a[0] == '-' || *input) {
            snprintf(msg, sizeof msg, "tokenizer %s: %s '%%s'", verb,
                     a[0] == '-' ? "unknown option or missing value:" : "unexpected argument");
            return usage_error(msg, a);
        } else *input = a;
    }
    const char *missing = !*model ? "missing --model" : !*input ? input_name : need_out && !*out ? "missing --out" : NULL;
    if (!missing) return 0;
    snprintf(msg, sizeof msg, "tokenizer %s: %%s", verb);
    return usage_error(msg, missing);
}

static int cmd_encode(int argc, char **argv) {
    const char *model, *png, *out;
    if (model_io_args(argc, argv, "encode", "missing FRAME.png", 0, &model, &png, &out)) return 2;
    wm_error err;
    return encode_file(model, png, out, &err) ? fail(&err) : 0;
}

/* ---- decode -------------------------------------------------------------- */

/* One code: digits with an optional minus (so "-1" reads as a number and
 * is then out of range), nothing else. Huge values saturate, and so are
 * out of range too. */
static int parse_code(const char *tok, long *v) {
    const char *d = tok[0] == '-' ? tok + 1 : tok;
    if (!*d) return -1;
    for (const char *p = d; *p; p++)
        if (*p < '0' || *p > '9') return -1;
    *v = strtol(tok, NULL, 10);
    return 0;
}

typedef struct {
    const char *path;
    int hz, wz, N;
} token_grid;

/* Line `line` (s, len bytes, without its newline) into row (wz codes). */
static int parse_row(const token_grid *g, int line, const char *s, size_t len, int *row, wm_error *err) {
    if (len && s[len - 1] == '\r') len--; /* a file written on Windows reads the same */
    int n = 0;
    for (size_t i = 0; i < len;) {
        if (s[i] == ' ' || s[i] == '\t') {
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && s[j] != ' ' && s[j] != '\t') j++;
        char tok[40];
        snprintf(tok, sizeof tok, "%.*s%s", (int)(j - i < 32 ? j - i : 32), s + i, j - i > 32 ? "..." : "");
        long v;
        if (parse_code(tok, &v)) return wm_fail(err, "%s:%d: '%s' is not an integer code", g->path, line, tok);
        if (v < 0 || v >= g->N) return wm_fail(err, "%s:%d: code %s outside [0, %d)", g->path, line, tok, g->N);
        if (n < g->wz) row[n] = (int)v;
        n++, i = j;
    }
    if (n != g->wz)
        return wm_fail(err, "%s:%d: %d codes, but the model's token grid is %d wide", g->path, line, n, g->wz);
    return 0;
}

/* Exactly hz lines of wz codes in [0, N) (a last newline optional). */
static int parse_codes(const token_grid *g, const char *text, int *codes, wm_error *err) {
    int rows = 0, line = 1;
    for (const char *p = text; *p; line++) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (rows == g->hz)
            return wm_fail(err, "%s:%d: more rows than the model's token grid has (%d)", g->path, line, g->hz);
        if (parse_row(g, line, p, len, codes + (size_t)rows * g->wz, err)) return -1;
        rows++;
        p += len + (nl ? 1 : 0);
    }
    if (rows == 0) return wm_fail(err, "%s: empty; the model's token grid has %d rows", g->path, g->hz);
    if (rows != g->hz)
        return wm_fail(err, "%s: ends after row %d; the model's token grid has %d rows", g->path, rows, g->hz);
    return 0;
}

static int decode_file(const char *model, const char *tokens, const char *out, wm_error *err) {
    tokenizer tk;
    if (tokenizer_load(&tk, model, 1, err)) return -1;
    uint8_t *text = NULL;
    size_t len;
    int *codes = MALLOC_CHECK((size_t)tk.hz * tk.wz * sizeof(int));
    token_grid g = {tokens, tk.hz, tk.wz, tk.cfg.codebook_size};
    int rc = -1;
    if (file_read_all(tokens, TOKEN_FILE_MAX, &text, &len, err)) goto done;
    if (strlen((char *)text) != len) {
        wm_fail(err, "%s: a NUL byte: not a token text file", tokens);
        goto done;
    }
    if (parse_codes(&g, (char *)text, codes, err)) goto done;
    float *x = MALLOC_CHECK(3 * (size_t)tk.cfg.width * tk.cfg.height * sizeof(float));
    tokenizer_decode(&tk, codes, 1, x);
    image img;
    image_init(&img, tk.cfg.width, tk.cfg.height);
    image_from_floats(x, &img);
    rc = image_write_png(&img, out, err);
    image_free(&img);
    free(x);
done:
    free(text), free(codes);
    tokenizer_free(&tk);
    return rc;
}

static int cmd_decode(int argc, char **argv) {
    const char *model, *tokens, *out;
    if (model_io_args(argc, argv, "decode", "missing TOKENS.txt", 1, &model, &tokens, &out)) return 2;
    wm_error err;
    return decode_file(model, tokens, out, &err) ? fail(&err) : 0;
}

/* ---- eval ---------------------------------------------------------------- */

typedef struct {
    const char *model, *data, *sheet;
    int frames;
    frame_split split;
} eval_options;

/* Originals left, reconstructions right, one pair a row. Unlabelled: a
 * label box would hide the top-left of frames as small as the tokenizer's. */
static int write_sheet(const char *path, const float *x, const float *y, int n, int W, int H, wm_error *err) {
    const size_t img = 3 * (size_t)W * H;
    image rows[SHEET_FRAMES], sheet;
    int made = 0, rc = 0;
    for (; made < n && made < SHEET_FRAMES && !rc; made++) {
        image pair[2];
        image_init(&pair[0], W, H), image_init(&pair[1], W, H);
        image_from_floats(x + made * img, &pair[0]);
        image_from_floats(y + made * img, &pair[1]);
        rc = overlay_side_by_side(pair, NULL, 2, &rows[made], err);
        image_free(&pair[0]), image_free(&pair[1]);
    }
    if (rc) made--; /* the failed row holds nothing */
    if (!rc) {
        stack_vertically(rows, made, &sheet);
        rc = image_write_png(&sheet, path, err);
        image_free(&sheet);
    }
    for (int i = 0; i < made; i++) image_free(&rows[i]);
    return rc;
}

static int run_eval(const eval_options *o, wm_error *err) {
    tokenizer tk;
    if (tokenizer_load(&tk, o->model, 16, err)) return -1;
    float *x = NULL, *y = NULL;
    int n = 0, w, h, rc = -1;
    tokenizer_eval ev;
    if (frame_source_read(o->data, o->split, o->frames, 0, VAL_SEED, &x, &n, &w, &h, err)) goto done;
    if (w != tk.cfg.width || h != tk.cfg.height) {
        wm_fail(err, "%s: frames are %dx%d, but %s takes %dx%d", o->data, w, h, o->model, tk.cfg.width, tk.cfg.height);
        goto done;
    }
    y = MALLOC_CHECK((size_t)n * 3 * w * h * sizeof(float));
    if (tokenizer_evaluate(&tk, x, n, y, &ev, err)) goto done;
    if (o->sheet && write_sheet(o->sheet, x, y, n, w, h, err)) goto done;
    int all = o->split == FRAME_SPLIT_ALL;
    printf("%s on %s (%s%s, %d frames): PSNR %.2f dB, SSIM %.4f, codes %d/%d used, perplexity %.1f\n", o->model,
           o->data, all ? "all clips" : frame_split_name(o->split), all ? "" : " split", ev.frames, ev.psnr, ev.ssim,
           ev.codes_used, tk.cfg.codebook_size, ev.perplexity);
    if (o->sheet) printf("  wrote %s\n", o->sheet);
    rc = 0;
done:
    free(x), free(y);
    tokenizer_free(&tk);
    return rc;
}

static int cmd_tokenizer_eval(int argc, char **argv) {
    eval_options o = {.frames = DEFAULT_VAL_FRAMES, .split = FRAME_SPLIT_VALIDATION};
    const cli_int_option ints[] = {{"--frames", &o.frames, 1, 100000, NULL}};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc, taken = cli_take_int_option(argc, argv, &i, ints, 1, print_usage);
        if (taken == 2) return 2;
        if (taken) continue;
        if (strcmp(a, "--model") == 0 && has_value) o.model = argv[++i];
        else if (strcmp(a, "--data") == 0 && has_value) o.data = argv[++i];
        else if (strcmp(a, "--sheet") == 0 && has_value) o.sheet = argv[++i];
        else if (strcmp(a, "--split") == 0 && has_value) {
            if (frame_split_parse(argv[++i], &o.split))
                return usage_error("--split: expected validation, train or all, got '%s'", argv[i]);
        } else if (a[0] == '-') return usage_error("tokenizer eval: unknown option or missing value: '%s'", a);
        else return usage_error("tokenizer eval: unexpected argument '%s'", a);
    }
    if (!o.model) return usage_error("tokenizer eval: %s", "missing --model");
    if (!o.data) return usage_error("tokenizer eval: %s", "missing --data");
    wm_error err;
    return run_eval(&o, &err) ? fail(&err) : 0;
}

/* ---- dispatch ------------------------------------------------------------ */

int cmd_tokenizer(int argc, char **argv) {
    if (argc == 0) return print_usage(stderr), 2;
    if (cli_wants_help(argc, argv)) return print_usage(stdout), 0;
    if (strcmp(argv[0], "train") == 0) return cmd_train(argc - 1, argv + 1);
    if (strcmp(argv[0], "encode") == 0) return cmd_encode(argc - 1, argv + 1);
    if (strcmp(argv[0], "decode") == 0) return cmd_decode(argc - 1, argv + 1);
    if (strcmp(argv[0], "eval") == 0) return cmd_tokenizer_eval(argc - 1, argv + 1);
    return usage_error("tokenizer: unknown subcommand '%s'", argv[0]);
}
