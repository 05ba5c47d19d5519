/* wmsim — the command-line entry. Exit codes: 0 the command did its job
 * (an episode that ran and failed its scenario is still 0), 1 bad input or
 * an I/O error (message on stderr), 2 bad usage. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "sim/cli_args.h"
#include "core/device.h"
#include "core/fileio.h"
#include "core/version.h"
#include "render/render.h"
#include "scenarios/scenario.h"
#include "sim/camera_feed.h"
#include "sim/episode.h"
#include "sim/episode_log.h"
#include "datasets/clip.h"
#include "datasets/clip_import.h"
#include "sim/clips.h"
#include "sim/cluster.h"
#include "sim/commands.h"
#include "sim/recorder.h"
#include "sim/replay_compare.h"

static const char USAGE[] =
    "usage: wmsim COMMAND [ARGS]\n"
    "\n"
    "A generative world-model driving simulator: closed-loop scenarios for\n"
    "driving policies, scored from the symbolic world state.\n"
    "\n"
    "commands:\n"
    "  run SCENARIO          run one episode in closed loop and score it\n"
    "  scenario check FILE…  validate scenario files (file:field: reason)\n"
    "  scenario compile IN OUT  text format (.pbtxt) to binary (.pb)\n"
    "  log show FILE         print an episode log readably\n"
    "  render SCENARIO       render the dash camera at one time of an episode\n"
    "  replay LOG            re-render (and re-score) a logged episode as video\n"
    "  clips generate|check|stats|import   training clips (see wmsim clips --help)\n"
    "  tokenizer train|encode|decode|eval  the frame tokenizer (see wmsim tokenizer --help)\n"
    "  worldmodel tokenize|train|eval|estimator  token shards, the dynamics model, its evaluation, the\n"
    "                        inverse-dynamics estimator (see wmsim worldmodel --help)\n"
    "  dream                 the world model open loop: context + actions -> video (see wmsim dream --help)\n"
    "  agreement             every episode of a suite in the oracle and the generative loop, compared\n"
    "  vla train|eval        the camera-based baseline policy vla-tiny (see wmsim vla --help)\n"
    "  synth sweep|search    scenarios from a template; search for the values a policy fails (see wmsim synth --help)\n"
    "  eval                  nightly evaluation of a policy on a suite: results.json, junit.xml, report.html\n"
    "\n"
    "  wmsim COMMAND --help  help on one command;  wmsim --version\n";

static const char RUN_USAGE[] =
    "usage: wmsim run SCENARIO [--policy P] [--seed N] [--out DIR] [--quiet]\n"
    "                          [--frames oracle|worldmodel] [WORLD MODEL] [POLICY LIMITS]\n"
    "                          [--video FILE] [--png DIR] [--side-by-side] [--hud] [--bev] [--reasoning]\n"
    "                          [CAMERA]\n"
    "\n"
    "Runs SCENARIO (.pbtxt or .pb) in closed loop at 10 Hz against a policy and\n"
    "scores it. Writes DIR/result.json (metrics, score, pass/fail, failure\n"
    "reasons with times) and DIR/episode.log (every step; see `wmsim log show`).\n"
    "\n"
    "  --policy P   expert (default; privileged, obeys guards and signs),\n"
    "               cruise (keeps its lane at the speed limit, sees nothing), or\n"
    "               a policy outside wmsim that sees the camera (one argument):\n"
    "                 exec:CMD ARGS   a process, no shell, the protocol of\n"
    "                                 sim/policy_protocol.proto on stdin/stdout\n"
    "                 unix:PATH       a policy server's Unix socket, same protocol\n"
    "                 lib:PATH.so ARGS  a library with the C ABI of clients/c/wmsim_policy.h\n"
    "  --frames F   where the camera frames come from: oracle (default; the\n"
    "               renderer) or worldmodel (the oracle renders the first\n"
    "               context frames, then the world model generates each frame\n"
    "               from the policy's action and the scene). Scoring always\n"
    "               uses the simulator's state.\n"
    "  --seed N     episode seed (default: the scenario's seed)\n"
    "  --out DIR    output folder (default: out/SCENARIO_ID)\n"
    "  --quiet      print nothing on success\n"
    "  --video FILE the dash camera as video: .mp4 (H.264, else MPEG-4) or\n"
    "               .mkv (lossless FFV1); --codec h264|mpeg4|ffv1 to choose\n"
    "  --png DIR    the dash camera as DIR/frame_00000.png, one per step;\n"
    "               --semantic adds DIR/semantic_00000.png (class colours)\n"
    "  --side-by-side  with --frames worldmodel: oracle (left) beside generated\n"
    "               frames; without it the pictures show what the policy saw\n"
    "  --hud        overlay speed, actions, gesture ahead, time and score\n"
    "  --bev        overlay a bird's-eye view with past and planned path\n"
    "  --reasoning  a caption band under each picture with the policy's reasoning\n"
    "%s"
    "%s"    "A policy that crashes, hangs, closes its stream, answers garbage, an\n"
    "oversized message, the wrong step or out-of-range values ends the episode\n"
    "as a policy error with the reason in result.json and the log.\n"
    "\n"
    "Exit status 0 when the episode ran, whatever its score; 1 for bad input.\n";

static const char CAMERA_OPTIONS[] =
    "camera (default: the scenario's camera, else 128x64, 60 deg, 1.4 m, 2 deg):\n"
    "  --size WxH           frame size, up to 1920x960\n"
    "  --hfov DEG           horizontal field of view, (10, 150)\n"
    "  --pitch DEG          downward tilt, (-45, 45)\n"
    "  --mount-height M     lens height above the ground, (0.2, 10)\n"
    "  --supersample 1|2    2: 2x2 samples per pixel (smoother edges)\n";

static const char SCENARIO_USAGE[] =
    "usage: wmsim scenario check FILE...\n"
    "       wmsim scenario compile IN.pbtxt OUT.pb\n"
    "\n"
    "check    validates each file and prints every problem as file:field: reason;\n"
    "         exit status 1 when any file has a problem.\n"
    "compile  validates IN (text or binary) and writes its binary encoding to OUT.\n"
    "Text files are encoded with protoc (Debian's protobuf-compiler) and the\n"
    "schema built into wmsim (scenarios/scenario.proto).\n";

static const char RENDER_USAGE[] =
    "usage: wmsim render SCENARIO [--t SECONDS] [--out FRAME.png] [--semantic]\n"
    "                             [--policy P] [--seed N] [CAMERA]\n"
    "\n"
    "Runs SCENARIO in closed loop with the policy (default expert) up to time\n"
    "SECONDS (default 0) and writes the dash-camera frame there as an 8-bit RGB\n"
    "PNG (default frame.png). --semantic writes the per-pixel classes instead,\n"
    "each in its colour (README: semantic classes). --lighting day|dusk|night\n"
    "renders the scenario in other light.\n"
    "%s";

static const char REPLAY_USAGE[] =
    "usage: wmsim replay LOG [--video FILE] [--png DIR] [--hud] [--bev] [--reasoning] [CAMERA]\n"
    "       wmsim replay LOG --policy P [--out DIR] [--video FILE] [--hud] [--bev] [--reasoning]\n"
    "                        [POLICY LIMITS] [CAMERA]\n"
    "\n"
    "Rebuilds a logged episode from LOG alone (its embedded scenario, seed and\n"
    "every step's states), re-renders it without running the policy, and\n"
    "re-scores it from the replayed states. Options as for `wmsim run`.\n"
    "\n"
    "With --policy P (any policy of `wmsim run`), re-runs the logged scenario\n"
    "with the log's seed and policy P instead (oracle frames for one that sees\n"
    "them, at the CAMERA options), and compares the two runs. Writes, in DIR\n"
    "(default out/compare_SCENARIO_ID):\n"
    "  compare.mp4  (or --video FILE) the logged run (left) beside the new one,\n"
    "               a step a frame; a run that ended holds its last picture\n"
    "  diff.csv     per step: both runs' accel, brake, steer, speed, s, d and\n"
    "               the absolute action differences\n"
    "  diff.json    both runs' results and metrics, the deltas (new minus\n"
    "               logged) and the first step whose actions differ (by > 1e-6)\n"
    "  episode.log, result.json   the new run, as `wmsim run` writes them\n"
    "policy limits (exec: and unix:): --policy-timeout S, --policy-startup S,\n"
    "  --policy-max-bytes N, as for `wmsim run`\n"
    "%s";

static const char CLIPS_USAGE[] =
    "usage: wmsim clips generate --scenarios DIR|FILE... --out DIR [--variations N]\n"
    "                            [--policy P] [--explore] [--size WxH]\n"
    "                            [--seconds S] [--jobs J] [--quiet]\n"
    "       wmsim clips check DIR...\n"
    "       wmsim clips stats DIR\n"
    "       wmsim clips import --video FILE --log FILE.csv --out DIR [--offset S]\n"
    "                          [--size WxH] [--columns t,speed,accel,brake,steer]\n"
    "\n"
    "generate  renders N variations (default 1) of each scenario (a folder means\n"
    "          its *.pbtxt and *.pb files) as clips in OUT/SCENARIO_ID/vNNNN, driven\n"
    "          by the policy (default expert; any of `wmsim run`'s, one that sees\n"
    "          the camera gets the oracle's frames); --explore perturbs its actions so the\n"
    "          clips cover the action space. --seconds caps each clip (default: the\n"
    "          scenario's duration), --jobs runs clips in parallel (default 1).\n"
    "          Complete clips are kept, so an interrupted run resumes. Under mpirun\n"
    "          or srun (a build with MPI) the ranks share the clips by index into\n"
    "          the one OUT, the same clips whatever the rank count; rank 0 prints.\n"
    "check     validates every clip under each DIR (file counts, frames, times).\n"
    "stats     counts, hours, action histograms, gesture and caption coverage.\n"
    "import    turns a dashcam video and its driving log (CSV) into a clip.\n"
    "The clip format is described in datasets/README.md.\n";

static const char LOG_USAGE[] =
    "usage: wmsim log show FILE\n"
    "\n"
    "Prints an episode log: header, events (gestures, triggers, collisions),\n"
    "the policy's reasoning as it changes, and the result with every metric.\n";


/* Usages with a %s take the camera options there; run's second %s the
 * world-model and policy-limit options. */
static void print_usage(FILE *f, const char *usage) { fprintf(f, usage, CAMERA_OPTIONS, CLI_LOOP_USAGE); }

static int usage_error(const char *usage, const char *fmt, const char *arg) {
    fprintf(stderr, "wmsim: ");
    fprintf(stderr, fmt, arg);
    fputs("\n\n", stderr);
    print_usage(stderr, usage);
    return 2;
}





/* Picture options shared by run, render and replay: the camera (applied over
 * the scenario's once it is loaded) and where frames go. */
typedef struct {
    int width, height, supersample;           /* 0: the scenario's / 1 */
    double hfov, pitch, mount_height;          /* NAN: the scenario's */
    const char *video, *frames_dir, *codec;
    int hud, bev, semantic, reasoning;
} picture_options;

static picture_options picture_options_default(void) {
    return (picture_options){.supersample = 1, .hfov = NAN, .pitch = NAN, .mount_height = NAN, .codec = "auto"};
}

/* Consumes argv[*i] (and its value) when it is a picture option: 1 taken,
 * 0 not one, 2 a usage error already printed. */
static int parse_picture_option(int argc, char **argv, int *i, picture_options *po, const char *usage) {
    const char *a = argv[*i];
    int has_value = *i + 1 < argc;
    double *target = NULL;
    if (strcmp(a, "--hud") == 0) return po->hud = 1;
    if (strcmp(a, "--bev") == 0) return po->bev = 1;
    if (strcmp(a, "--semantic") == 0) return po->semantic = 1;
    if (strcmp(a, "--reasoning") == 0) return po->reasoning = 1;
    if (!has_value) return 0;
    const char *v = argv[*i + 1];
    if (strcmp(a, "--video") == 0) po->video = v;
    else if (strcmp(a, "--png") == 0) po->frames_dir = v;
    else if (strcmp(a, "--codec") == 0) po->codec = v;

    else if (strcmp(a, "--size") == 0) {
        if (cli_parse_size(v, &po->width, &po->height)) return usage_error(usage, "--size: expected WxH, got '%s'", v);
    } else if (strcmp(a, "--supersample") == 0) {
        if (strcmp(v, "1") && strcmp(v, "2")) return usage_error(usage, "--supersample: expected 1 or 2, got '%s'", v);
        po->supersample = atoi(v);
    } else if (strcmp(a, "--hfov") == 0) target = &po->hfov;
    else if (strcmp(a, "--pitch") == 0) target = &po->pitch;
    else if (strcmp(a, "--mount-height") == 0) target = &po->mount_height;
    else return 0;
    if (target && cli_parse_double(v, target)) {
        fprintf(stderr, "wmsim: %s: not a number: '%s'\n\n", a, v);
        print_usage(stderr, usage);
        return 2;
    }
    ++*i;
    return 1;
}

/* The scenario's camera with the command line's changes, checked. */
static int picture_camera(const picture_options *po, const scenario *sc, camera_params *cp, wm_error *err) {
    *cp = sc->camera;
    if (po->width) cp->width = po->width, cp->height = po->height;
    if (!isnan(po->hfov)) cp->hfov_deg = po->hfov;
    if (!isnan(po->pitch)) cp->pitch_deg = po->pitch;
    if (!isnan(po->mount_height)) cp->mount_height = po->mount_height;
    return camera_params_check(cp, err);
}

typedef struct {
    recorder *rec;
    wm_error err;
    int failed;
} record_job;

static int record_step(const episode_frame *f, void *ctx) {
    record_job *job = ctx;
    if (recorder_add(job->rec, f, &job->err)) job->failed = 1;
    return job->failed;
}

/* Closes the recorder after an episode; reports what was written. */
static int picture_finish(record_job *job, const picture_options *po, int quiet) {
    if (!job->rec) return 0;
    if (job->failed) {
        recorder_abort(job->rec);
        fprintf(stderr, "wmsim: %s\n", job->err.msg);
        return -1;
    }
    int frames = recorder_frames(job->rec);
    if (recorder_close(job->rec, &job->err)) return fprintf(stderr, "wmsim: %s\n", job->err.msg), -1;
    if (!quiet && po->video) printf("  wrote %s (%d frames at 10 fps)\n", po->video, frames);
    if (!quiet && po->frames_dir) printf("  wrote %d frames to %s/\n", frames, po->frames_dir);
    return 0;
}

/* Where the camera frames of an episode come from, and the policy's limits:
 * run's options beyond the picture ones. */
typedef struct {
    camera_feed_options feed;
    int side_by_side;
    policy_options limits;
} loop_options;

static loop_options loop_options_default(void) {
    return (loop_options){.feed = cli_loop_feed_default(), .limits = policy_options_default()};
}

static void print_run_usage(FILE *f) { print_usage(f, RUN_USAGE); }

/* Consumes argv[*i] and its value when it is a frame-source, world-model or
 * policy-limit option: 1 taken, 0 not one, 2 a usage error already printed. */
static int parse_loop_option(int argc, char **argv, int *i, loop_options *lo) {
    const char *a = argv[*i];
    if (strcmp(a, "--side-by-side") == 0) return lo->side_by_side = 1;
    if (strcmp(a, "--frames") == 0 && *i + 1 < argc) {
        const char *v = argv[++*i];
        if (camera_feed_kind_parse(v, &lo->feed.kind))
            return cli_usage_error(print_run_usage, "--frames: expected oracle or worldmodel, got '%s'", v);
        return 1;
    }
    return cli_take_loop_option(argc, argv, i, &lo->feed, &lo->limits, print_run_usage);
}

/* The episode's camera feed: needed when the policy sees frames or the
 * frames come from the world model; *feed stays NULL otherwise. */
static int loop_feed(const loop_options *lo, const picture_options *po, const scenario *sc, const policy *pol,
                     camera_feed **feed, wm_error *err) {
    *feed = NULL;
    if (!pol->sees_frames && lo->feed.kind == CAMERA_FEED_ORACLE) return 0;
    camera_feed_options fo = lo->feed;
    fo.supersample = po->supersample;
    if (picture_camera(po, sc, &fo.cp, err)) return -1;
    return camera_feed_open(feed, &fo, err);
}

/* Opens a recorder when the options ask for pictures; *rec stays NULL
 * otherwise. With a world-model feed the pictures are the feed's frames
 * (beside the oracle's with --side-by-side), at the feed's size. lo and
 * feed may be NULL (replay: the oracle's pictures). */
static int loop_recorder(const picture_options *po, const loop_options *lo, const camera_feed *feed,
                         const scenario *sc, const char *label, recorder **rec, wm_error *err) {
    *rec = NULL;
    if (!po->video && !po->frames_dir) return 0;
    recorder_options ro = {.supersample = po->supersample, .video_path = po->video, .frames_dir = po->frames_dir,
                           .semantic = po->semantic, .hud = po->hud, .bev = po->bev, .label = label,
                           .feed_label = "world model", .reasoning = po->reasoning};
    if (picture_camera(po, sc, &ro.cp, err) || video_codec_parse(po->codec, &ro.codec, err)) return -1;
    if (lo && feed && lo->feed.kind == CAMERA_FEED_WORLDMODEL) {
        ro.cp = *camera_feed_camera(feed);
        ro.view = lo->side_by_side ? RECORDER_VIEW_SIDE_BY_SIDE : RECORDER_VIEW_FEED;
        ro.supersample = 1;
    }
    return recorder_open(rec, &ro, err);
}

static int cmd_run(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) return print_usage(stdout, RUN_USAGE), 0;
    const char *scenario_path = NULL, *policy_spec = "expert", *out_dir = NULL;
    uint64_t seed = 0;
    int have_seed = 0, quiet = 0;
    picture_options po = picture_options_default();
    loop_options lo = loop_options_default();
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc, taken = parse_picture_option(argc, argv, &i, &po, RUN_USAGE);
        if (!taken) taken = parse_loop_option(argc, argv, &i, &lo);
        if (taken == 2) return 2;
        if (taken) continue;
        if (strcmp(a, "--policy") == 0 && has_value) policy_spec = argv[++i];
        else if (strcmp(a, "--out") == 0 && has_value) out_dir = argv[++i];
        else if (strcmp(a, "--seed") == 0 && has_value) {
            if (cli_parse_u64(argv[++i], &seed)) return usage_error(RUN_USAGE, "--seed: not a non-negative integer: '%s'", argv[i]);
            have_seed = 1;
        } else if (strcmp(a, "--quiet") == 0) quiet = 1;
        else if (a[0] == '-') return usage_error(RUN_USAGE, "run: unknown option or missing value: '%s'", a);
        else if (!scenario_path) scenario_path = a;
        else return usage_error(RUN_USAGE, "run: unexpected argument '%s'", a);
    }
    if (!scenario_path) return usage_error(RUN_USAGE, "run: %s", "missing SCENARIO");
    if (lo.side_by_side && lo.feed.kind != CAMERA_FEED_WORLDMODEL)
        return usage_error(RUN_USAGE, "run: %s needs --frames worldmodel", "--side-by-side");

    wm_error err;
    scenario *sc = CALLOC_CHECK(1, sizeof *sc);
    if (scenario_load(scenario_path, sc, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        free(sc);
        return 1;
    }
    policy pol;
    if (policy_create(policy_spec, &lo.limits, &pol, &err)) {
        fprintf(stderr, "wmsim: %s\n", err.msg);
        scenario_free(sc);
        free(sc);
        return 1;
    }
    record_job job = {0};
    camera_feed *feed = NULL;
    int rc = 1;
    char default_out[SCENARIO_ID_MAX + 8];
    snprintf(default_out, sizeof default_out, "out/%s", sc->id);
    if (!out_dir) out_dir = default_out;
    char log_path[4096], result_path[4096];
    snprintf(log_path, sizeof log_path, "%s/episode.log", out_dir);
    snprintf(result_path, sizeof result_path, "%s/result.json", out_dir);
    if (dir_create(out_dir, &err) || loop_feed(&lo, &po, sc, &pol, &feed, &err) ||
        loop_recorder(&po, &lo, feed, sc, pol.name, &job.rec, &err)) {
        fprintf(stderr, "wmsim: %s\n", err.msg);
        goto done;
    }
    episode_config cfg = {.sc = sc, .scenario_path = scenario_path, .seed = have_seed ? seed : sc->seed,
                          .pol = &pol, .feed = feed, .log_path = log_path, .observe = job.rec ? record_step : NULL,
                          .observe_ctx = &job};
    episode_result res;
    if (episode_run(&cfg, &res, &err)) {
        fprintf(stderr, "wmsim: %s\n", err.msg);
        goto done;
    }
    if (job.failed) goto done; /* the episode stopped at the failed frame; its result would mislead */
    if (episode_write_result_json(result_path, &cfg, &res, &err)) {
        fprintf(stderr, "wmsim: %s\n", err.msg);
        goto done;
    }
    if (!quiet) {
        printf("%s seed %" PRIu64 " policy %s%s: %s score %.3f (%s at t=%.1f s)\n", sc->id, cfg.seed, pol.name,
               lo.feed.kind == CAMERA_FEED_WORLDMODEL ? ", worldmodel frames" : "", res.m.passed ? "PASS" : "FAIL",
               res.m.score, res.end_reason, res.t);
        for (int i = 0; i < res.m.n_reasons; i++) printf("  failure: %s\n", res.m.reasons[i]);
        printf("  wrote %s and %s\n", result_path, log_path);
    }
    rc = 0;
done:
    if (picture_finish(&job, &po, quiet)) rc = 1;
    pol.destroy(&pol);
    camera_feed_close(feed);
    scenario_free(sc);
    free(sc);
    return rc;
}

typedef struct {
    int target_step;
    renderer r;
    int rendered;
} render_job;

static int render_at_step(const episode_frame *f, void *ctx) {
    render_job *job = ctx;
    if (f->w->step < job->target_step) return 0;
    render_frame(&job->r, f->w);
    job->rendered = 1;
    return 1;
}

static int cmd_render(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) return print_usage(stdout, RENDER_USAGE), 0;
    const char *scenario_path = NULL, *out = "frame.png", *policy_spec = "expert";
    double t = 0;
    uint64_t seed = 0;
    int have_seed = 0, lighting_override = -1;
    picture_options po = picture_options_default();
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(a, "--t") == 0 && has_value) {
            if (cli_parse_double(argv[++i], &t) || !(t >= 0 && t <= 3600))
                return usage_error(RENDER_USAGE, "--t: not a time in [0, 3600] s: '%s'", argv[i]);
            continue;
        }
        if (strcmp(a, "--out") == 0 && has_value) {
            out = argv[++i];
            continue;
        }
        if (strcmp(a, "--lighting") == 0 && has_value) {
            static const char *names[] = {[LIGHTING_DAY] = "day", [LIGHTING_DUSK] = "dusk", [LIGHTING_NIGHT] = "night"};
            const char *v = argv[++i];
            for (int k = 0; k < 3; k++)
                if (strcmp(v, names[k]) == 0) lighting_override = k;
            if (lighting_override < 0)
                return usage_error(RENDER_USAGE, "--lighting: expected day, dusk or night, got '%s'", v);
            continue;
        }
        int taken = parse_picture_option(argc, argv, &i, &po, RENDER_USAGE);
        if (taken == 2) return 2;
        if (taken && (po.video || po.frames_dir || po.hud || po.bev || po.reasoning))
            return usage_error(RENDER_USAGE, "render: '%s' belongs to run and replay", a);
        if (taken) continue;
        if (strcmp(a, "--policy") == 0 && has_value) policy_spec = argv[++i];
        else if (strcmp(a, "--seed") == 0 && has_value) {
            if (cli_parse_u64(argv[++i], &seed)) return usage_error(RENDER_USAGE, "--seed: not a non-negative integer: '%s'", argv[i]);
            have_seed = 1;
        } else if (a[0] == '-') return usage_error(RENDER_USAGE, "render: unknown option or missing value: '%s'", a);
        else if (!scenario_path) scenario_path = a;
        else return usage_error(RENDER_USAGE, "render: unexpected argument '%s'", a);
    }
    if (!scenario_path) return usage_error(RENDER_USAGE, "render: %s", "missing SCENARIO");
    wm_error err;
    policy pol;
    if (policy_create(policy_spec, NULL, &pol, &err)) return fprintf(stderr, "wmsim: %s\n", err.msg), 1;
    scenario *sc = CALLOC_CHECK(1, sizeof *sc);
    int rc = 1;
    render_job job = {.target_step = (int)llround(t / SIM_DT)};
    camera_params cp;
    camera_feed *feed = NULL;
    if (scenario_load(scenario_path, sc, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        goto done;
    }
    if (lighting_override >= 0) sc->lighting = (lighting)lighting_override;
    loop_options lo = loop_options_default(); /* oracle frames for a policy that sees them */
    if (picture_camera(&po, sc, &cp, &err) || renderer_init(&job.r, &cp, po.supersample, &err) ||
        loop_feed(&lo, &po, sc, &pol, &feed, &err)) {
        fprintf(stderr, "wmsim: %s\n", err.msg);
        goto done;
    }
    episode_config cfg = {.sc = sc, .seed = have_seed ? seed : sc->seed, .pol = &pol, .feed = feed,
                          .observe = render_at_step, .observe_ctx = &job};
    episode_result res;
    if (episode_run(&cfg, &res, &err)) {
        fprintf(stderr, "wmsim: %s\n", err.msg);
        goto done;
    }
    if (!job.rendered) {
        fprintf(stderr, "wmsim: --t %g s: the episode ended at t=%.1f s (%s)\n", t, res.t, res.end_reason);
        goto done;
    }
    image semantic = {0};
    if (po.semantic) render_semantic_image(&job.r, &semantic);
    int wrote = image_write_png(po.semantic ? &semantic : &job.r.frame, out, &err);
    image_free(&semantic);
    if (wrote) {
        fprintf(stderr, "wmsim: %s\n", err.msg);
        goto done;
    }
    printf("%s: t=%.1f s, %dx%d%s, wrote %s\n", sc->id, job.target_step * SIM_DT, cp.width, cp.height,
           po.semantic ? " semantic" : "", out);
    rc = 0;
done:
    renderer_free(&job.r);
    camera_feed_close(feed);
    pol.destroy(&pol);
    scenario_free(sc);
    free(sc);
    return rc;
}

/* The recorder opens at the header, when the embedded scenario (and so its
 * camera) is known. */
typedef struct {
    const picture_options *po;
    record_job job;
    int opened;
} replay_job;

static int replay_step(const episode_frame *f, void *ctx) {
    replay_job *rj = ctx;
    if (!rj->opened) {
        rj->opened = 1;
        if (loop_recorder(rj->po, NULL, NULL, f->w->sc, "replay", &rj->job.rec, &rj->job.err)) return rj->job.failed = 1;
        if (!rj->job.rec) return 0;
    }
    return rj->job.rec ? record_step(f, &rj->job) : 0;
}

static void print_replay_usage(FILE *f) { print_usage(f, REPLAY_USAGE); }

/* `replay LOG --policy P`: the camera comes from the log's scenario. */
static int replay_compare_cmd(const char *log_path, replay_compare_config *c, const picture_options *po) {
    wm_error err;
    replay_compare_logged *lg = NULL;
    replay_compare_report rep;
    int rc = replay_compare_load(log_path, &lg, &err) || picture_camera(po, &lg->sc, &c->cp, &err) ||
             video_codec_parse(po->codec, &c->codec, &err) || replay_compare_run(lg, c, &rep, &err);
    if (rc) fprintf(stderr, "wmsim: %s\n", err.msg);
    else replay_compare_print(&rep, stdout);
    replay_compare_logged_free(lg);
    return rc;
}

static int cmd_replay(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) return print_usage(stdout, REPLAY_USAGE), 0;
    const char *log_path = NULL, *compare_only = NULL;
    picture_options po = picture_options_default();
    policy_options limits = policy_options_default();
    replay_compare_config cc = {.limits = &limits};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int taken = parse_picture_option(argc, argv, &i, &po, REPLAY_USAGE);
        if (!taken && strncmp(a, "--policy-", 9) == 0)
            compare_only = a, taken = cli_take_policy_limit(argc, argv, &i, &limits, print_replay_usage);
        if (taken == 2) return 2;
        if (taken) continue;
        if (strcmp(a, "--policy") == 0 && i + 1 < argc) cc.policy = argv[++i];
        else if (strcmp(a, "--out") == 0 && i + 1 < argc) compare_only = a, cc.out_dir = argv[++i];
        else if (a[0] == '-') return usage_error(REPLAY_USAGE, "replay: unknown option or missing value: '%s'", a);
        else if (log_path) return usage_error(REPLAY_USAGE, "replay: unexpected argument '%s'", a);
        else log_path = a;
    }
    if (!log_path) return usage_error(REPLAY_USAGE, "replay: %s", "missing LOG");
    if (!cc.policy && compare_only) return usage_error(REPLAY_USAGE, "replay: %s needs --policy", compare_only);
    if (cc.policy && (po.frames_dir || po.semantic))
        return usage_error(REPLAY_USAGE, "replay: %s", "--png and --semantic do not go with --policy");
    if (cc.policy) {
        cc.video_path = po.video, cc.supersample = po.supersample;
        cc.hud = po.hud, cc.bev = po.bev, cc.reasoning = po.reasoning;
        return replay_compare_cmd(log_path, &cc, &po) ? 1 : 0;
    }
    wm_error err;
    replay_job rj = {.po = &po};
    episode_replay_info info;
    if (episode_log_replay(log_path, replay_step, &rj, &info, &err)) {
        if (rj.job.rec) recorder_abort(rj.job.rec);
        return fprintf(stderr, "wmsim: %s\n", err.msg), 1;
    }
    if (rj.job.failed && !rj.job.rec) return fprintf(stderr, "wmsim: %s\n", rj.job.err.msg), 1;
    printf("%s seed %" PRIu64 " policy %s: %d steps replayed; logged score %.3f, rescored %.3f (%s)\n",
           info.scenario_id, info.seed, info.policy, info.steps, info.logged_score, info.rescored.score,
           info.rescored.passed ? "PASS" : "FAIL");
    for (int i = 0; i < info.rescored.n_reasons; i++) printf("  failure: %s\n", info.rescored.reasons[i]);
    return picture_finish(&rj.job, &po, 0) ? 1 : 0;
}

static int cmd_scenario(int argc, char **argv) {
    if (argc == 0 || cli_wants_help(argc, argv)) return fputs(SCENARIO_USAGE, argc ? stdout : stderr), argc ? 0 : 2;
    wm_error err;
    if (strcmp(argv[0], "check") == 0) {
        if (argc < 2) return usage_error(SCENARIO_USAGE, "scenario check: %s", "no FILE given");
        int bad = 0;
        scenario *sc = CALLOC_CHECK(1, sizeof *sc);
        for (int i = 1; i < argc; i++) {
            if (scenario_load(argv[i], sc, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                bad = 1;
            } else {
                printf("%s: ok (%s, %d actors, %.0f s)\n", argv[i], sc->id, sc->n_actors, sc->duration);
            }
            scenario_free(sc);
        }
        free(sc);
        return bad;
    }
    if (strcmp(argv[0], "compile") == 0) {
        if (argc != 3) return usage_error(SCENARIO_USAGE, "scenario compile: %s", "expected IN and OUT");
        if (scenario_compile(argv[1], argv[2], &err)) return fprintf(stderr, "%s\n", err.msg), 1;
        printf("%s: compiled to %s\n", argv[1], argv[2]);
        return 0;
    }
    return usage_error(SCENARIO_USAGE, "scenario: unknown subcommand '%s'", argv[0]);
}

static int cmd_log(int argc, char **argv) {
    if (argc == 0 || cli_wants_help(argc, argv)) return fputs(LOG_USAGE, argc ? stdout : stderr), argc ? 0 : 2;
    if (strcmp(argv[0], "show") != 0) return usage_error(LOG_USAGE, "log: unknown subcommand '%s'", argv[0]);
    if (argc != 2) return usage_error(LOG_USAGE, "log show: %s", "expected one FILE");
    wm_error err;
    if (episode_log_show(argv[1], stdout, &err)) return fprintf(stderr, "wmsim: %s\n", err.msg), 1;
    return 0;
}

static int cmd_clips_generate(int argc, char **argv) {
    clips_config cfg = {.variations = 1, .policy = "expert", .jobs = 1, .progress = isatty(2)};
    char **paths = NULL;
    int n_paths = 0, rc = 2, quiet = 0;
    wm_error err;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        double x;
        if (strcmp(a, "--scenarios") == 0 && has_value) {
            while (i + 1 < argc && argv[i + 1][0] != '-')
                if (scenario_files_add(argv[++i], &paths, &n_paths, &err)) {
                    fprintf(stderr, "wmsim: %s\n", err.msg);
                    rc = 1;
                    goto done;
                }
        } else if (strcmp(a, "--out") == 0 && has_value) cfg.out_dir = argv[++i];
        else if (strcmp(a, "--policy") == 0 && has_value) cfg.policy = argv[++i];
        else if (strcmp(a, "--explore") == 0) cfg.explore = 1;
        else if (strcmp(a, "--quiet") == 0) quiet = 1, cfg.progress = 0;
        else if (strcmp(a, "--size") == 0 && has_value) {
            if (cli_parse_size(argv[++i], &cfg.width, &cfg.height)) {
                usage_error(CLIPS_USAGE, "--size: expected WxH, got '%s'", argv[i]);
                goto done;
            }
        } else if ((strcmp(a, "--variations") == 0 || strcmp(a, "--jobs") == 0 || strcmp(a, "--seconds") == 0) &&
                   has_value) {
            if (cli_parse_double(argv[++i], &x) || (a[2] != 's' && x != floor(x))) {
                fprintf(stderr, "wmsim: %s: not a number: '%s'\n", a, argv[i]);
                goto done;
            }
            if (a[2] == 'v') cfg.variations = (int)fmin(x, 1e6);
            else if (a[2] == 'j') cfg.jobs = (int)fmin(x, 1e6);
            else cfg.seconds = x;
        } else {
            usage_error(CLIPS_USAGE, "clips generate: unknown option or missing value: '%s'", a);
            goto done;
        }
    }
    if (!n_paths || !cfg.out_dir) {
        usage_error(CLIPS_USAGE, "clips generate: %s", n_paths ? "missing --out" : "missing --scenarios");
        goto done;
    }
    cfg.scenarios = (const char *const *)paths, cfg.n_scenarios = n_paths;
    clips_report rep;
    rc = 1;
    cluster cl;
    if (cluster_init(&cl, &err)) {
        fprintf(stderr, "wmsim: %s\n", err.msg);
        goto done;
    }
    cfg.cl = &cl;
    cfg.progress = cfg.progress && cl.rank == 0;
    int failed = clips_generate(&cfg, &rep, &err);
    cluster_finish(&cl);
    if (failed) {
        fprintf(stderr, "wmsim: %s\n", err.msg);
        goto done;
    }
    if (!quiet && cl.rank == 0) {
        char ranks[32] = "";
        if (cl.size > 1) snprintf(ranks, sizeof ranks, " on %d ranks", cl.size);
        printf("%d clips in %s: %d written (%ld frames, %.1f s%s), %d complete already and kept\n", rep.planned,
               cfg.out_dir, rep.written, rep.frames, rep.elapsed_s, ranks, rep.kept);
    }
    rc = 0;
done:
    scenario_files_free(paths, n_paths);
    return rc;
}

/* "--columns t,speed,accel,brake,steer": five names; an empty brake means
 * the accel column is signed. Splits text in place. */
static int parse_columns(char *text, clip_import_columns *c) {
    const char **slots[5] = {&c->t, &c->speed, &c->accel, &c->brake, &c->steer};
    char *p = text;
    for (int k = 0; k < 5; k++) {
        *slots[k] = p;
        char *comma = strchr(p, ',');
        if (k < 4 && !comma) return -1;
        if (k == 4 && comma) return -1;
        if (comma) *comma = '\0', p = comma + 1;
    }
    return c->t[0] && c->speed[0] && c->accel[0] && c->steer[0] ? 0 : -1;
}

static int cmd_clips_import(int argc, char **argv) {
    clip_import_config cfg = clip_import_config_default();
    char columns[512];
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(a, "--video") == 0 && has_value) cfg.video_path = argv[++i];
        else if (strcmp(a, "--log") == 0 && has_value) cfg.log_path = argv[++i];
        else if (strcmp(a, "--out") == 0 && has_value) cfg.out_dir = argv[++i];
        else if (strcmp(a, "--offset") == 0 && has_value) {
            if (cli_parse_double(argv[++i], &cfg.time_offset))
                return usage_error(CLIPS_USAGE, "--offset: not a number of seconds: '%s'", argv[i]);
        } else if (strcmp(a, "--size") == 0 && has_value) {
            if (cli_parse_size(argv[++i], &cfg.width, &cfg.height))
                return usage_error(CLIPS_USAGE, "--size: expected WxH, got '%s'", argv[i]);
        } else if (strcmp(a, "--columns") == 0 && has_value) {
            snprintf(columns, sizeof columns, "%s", argv[++i]);
            if (parse_columns(columns, &cfg.columns))
                return usage_error(CLIPS_USAGE, "--columns: expected five names T,SPEED,ACCEL,BRAKE,STEER, got '%s'",
                                   argv[i]);
        } else return usage_error(CLIPS_USAGE, "clips import: unknown option or missing value: '%s'", a);
    }
    if (!cfg.video_path || !cfg.log_path || !cfg.out_dir)
        return usage_error(CLIPS_USAGE, "clips import: %s",
                           !cfg.video_path ? "missing --video" : !cfg.log_path ? "missing --log" : "missing --out");
    wm_error err;
    clip_import_report rep;
    if (clip_import(&cfg, &rep, &err)) return fprintf(stderr, "wmsim: %s\n", err.msg), 1;
    printf("%s: %d frames at 10 Hz from %d at %.2f fps (%d before and %d after the log dropped), wrote %s\n",
           cfg.video_path, rep.frames, rep.source_frames, rep.source_fps, rep.dropped_before, rep.dropped_after,
           cfg.out_dir);
    return 0;
}

static int cmd_clips(int argc, char **argv) {
    if (argc == 0 || cli_wants_help(argc, argv)) return fputs(CLIPS_USAGE, argc ? stdout : stderr), argc ? 0 : 2;
    wm_error err;
    if (strcmp(argv[0], "generate") == 0) return cmd_clips_generate(argc - 1, argv + 1);
    if (strcmp(argv[0], "check") == 0) {
        if (argc < 2) return usage_error(CLIPS_USAGE, "clips check: %s", "no DIR given");
        int bad = 0;
        for (int i = 1; i < argc; i++) {
            int n = 0;
            if (clip_check_tree(argv[i], &n, &err)) fprintf(stderr, "%s\n", err.msg), bad = 1;
            else printf("%s: %d clips ok\n", argv[i], n);
        }
        return bad;
    }
    if (strcmp(argv[0], "stats") == 0) {
        if (argc != 2) return usage_error(CLIPS_USAGE, "clips stats: %s", "expected one DIR");
        if (clip_stats(argv[1], stdout, &err)) return fprintf(stderr, "wmsim: %s\n", err.msg), 1;
        return 0;
    }
    if (strcmp(argv[0], "import") == 0) return cmd_clips_import(argc - 1, argv + 1);
    return usage_error(CLIPS_USAGE, "clips: unknown subcommand '%s'", argv[0]);
}

int main(int argc, char **argv) {
    if (argc < 2) return fputs(USAGE, stderr), 2;
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) return fputs(USAGE, stdout), 0;
    if (strcmp(cmd, "--version") == 0) {
        char why[256] = "";
        int n = device_cuda_count(why, sizeof why);
        printf("wmsim %s\nbackends: cpu%s\ncuda devices: %d%s%s%s\n", WMSIM_VERSION, device_cuda_built() ? ", cuda" : "",
               n, why[0] ? " (" : "", why, why[0] ? ")" : "");
        printf("cluster: %s\n", cluster_mpi_built() ? "mpi (mpirun, srun)" : "none (built without MPI)");
        return 0;
    }
    if (strcmp(cmd, "run") == 0) return cmd_run(argc - 2, argv + 2);
    if (strcmp(cmd, "eval") == 0) return cmd_eval(argc - 2, argv + 2);
    if (strcmp(cmd, "scenario") == 0) return cmd_scenario(argc - 2, argv + 2);
    if (strcmp(cmd, "log") == 0) return cmd_log(argc - 2, argv + 2);
    if (strcmp(cmd, "render") == 0) return cmd_render(argc - 2, argv + 2);
    if (strcmp(cmd, "replay") == 0) return cmd_replay(argc - 2, argv + 2);
    if (strcmp(cmd, "clips") == 0) return cmd_clips(argc - 2, argv + 2);
    if (strcmp(cmd, "tokenizer") == 0) return cmd_tokenizer(argc - 2, argv + 2);
    if (strcmp(cmd, "worldmodel") == 0) return cmd_worldmodel(argc - 2, argv + 2);
    if (strcmp(cmd, "dream") == 0) return cmd_dream(argc - 2, argv + 2);
    if (strcmp(cmd, "agreement") == 0) return cmd_agreement(argc - 2, argv + 2);
    if (strcmp(cmd, "vla") == 0) return cmd_vla(argc - 2, argv + 2);
    if (strcmp(cmd, "synth") == 0) return cmd_synth(argc - 2, argv + 2);
    return usage_error(USAGE, "unknown command '%s'", cmd);
}
