#include "sim/clips.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/clock.h"
#include "core/fileio.h"
#include "datasets/captions.h"
#include "datasets/clip.h"
#include "render/render.h"
#include "sim/batch.h"
#include "sim/cluster.h"
#include "sim/episode.h"

enum { CLIP_OTHER_RANK, CLIP_WRITTEN, CLIP_KEPT };

/* Clip k's outcome: filled by the rank that ran it, zero on the others,
 * so cluster_merge_slots gives every rank all of them. No padding. */
typedef struct {
    int outcome; /* CLIP_* */
    int frames;  /* written */
} clip_slot;

typedef struct {
    const clips_config *cfg;
    scenario *scenarios; /* loaded once, read by every worker */
    clip_slot *slots;    /* (planned) */
    pthread_mutex_t lock; /* guards rep */
    clips_report rep;    /* this rank's, for the progress line */
} clips_run;

typedef struct {
    renderer r;
    clip_writer *cw;
    caption_tracker captions;
    int frame;
    wm_error err;
    int failed;
} clip_job;

static int clip_observe(const episode_frame *f, void *ctx) {
    clip_job *job = ctx;
    render_frame(&job->r, f->w);
    clip_state st;
    clip_state_from_world(f->w, &job->r.cp, job->frame, &st);
    if (clip_writer_add(job->cw, &job->r.frame, &st, f->command, &job->err)) return job->failed = 1;
    char lines[CAPTIONS_MAX_PER_FRAME][CLIP_CAPTION_MAX];
    int n = captions_update(&job->captions, f->w, lines);
    for (int i = 0; i < n; i++)
        if (clip_writer_caption(job->cw, f->w->t, lines[i], &job->err)) return job->failed = 1;
    job->frame++;
    return 0;
}

/* One clip: variation v of scenario sc into dir. Returns frames written. */
static int make_clip(const clips_config *cfg, const scenario *sc_in, int v, const char *dir, wm_error *err) {
    scenario sc = *sc_in; /* shares pb_bytes read-only; never freed here */
    scenario_vary(&sc, v);
    if (cfg->seconds > 0) sc.duration = fmin(sc.duration, cfg->seconds);
    if (cfg->width) sc.camera.width = cfg->width, sc.camera.height = cfg->height;
    policy pol;
    if (policy_create(cfg->policy, NULL, &pol, err)) return -1;
    if (cfg->explore) {
        policy inner = pol;
        policy_explore_wrap(&inner, sc.seed ^ 0x6578706c6f7265ULL, &pol);
    }
    clip_meta meta = {.format_version = CLIP_FORMAT_VERSION, .source = CLIP_SOURCE_SYNTHETIC,
                      .scenario_hash = sc.hash, .seed = sc.seed, .variation = v, .fps = CLIP_FPS,
                      .width = sc.camera.width, .height = sc.camera.height, .camera = sc.camera,
                      .explore = cfg->explore};
    snprintf(meta.scenario_id, sizeof meta.scenario_id, "%s", sc.id);
    snprintf(meta.policy, sizeof meta.policy, "%.63s", pol.name);
    clip_job *job = CALLOC_CHECK(1, sizeof *job);
    int frames = -1;
    camera_feed *feed = NULL; /* the oracle's frames for a policy that sees them */
    camera_feed_options fo = camera_feed_options_default();
    fo.cp = sc.camera;
    if (pol.sees_frames && camera_feed_open(&feed, &fo, err)) goto done;
    if (renderer_init(&job->r, &sc.camera, 1, err)) goto done;
    if (clip_writer_open(&job->cw, dir, &meta, err)) goto done;
    sim_world *w0 = MALLOC_CHECK(sizeof *w0);
    sim_world_init(w0, &sc, sc.seed);
    captions_init(&job->captions, w0);
    free(w0);
    episode_config ec = {.sc = &sc, .seed = sc.seed, .pol = &pol, .feed = feed, .observe = clip_observe,
                         .observe_ctx = job};
    episode_result res;
    int ran = episode_run(&ec, &res, err);
    if (ran == 0 && job->failed) *err = job->err, ran = -1; /* a frame could not be written */
    if (ran) {
        clip_writer_abort(job->cw);
        goto done;
    }
    if (clip_writer_close(job->cw, err)) goto done;
    frames = job->frame;
done:
    renderer_free(&job->r);
    camera_feed_close(feed);
    free(job);
    pol.destroy(&pol);
    return frames;
}

static void clip_dir(const clips_config *cfg, const scenario *sc, int v, char *out, size_t n) {
    snprintf(out, n, "%s/%s/v%04d", cfg->out_dir, sc->id, v);
}

/* batch_run's item: clip k (scenario k / variations, variation k % variations). */
static int run_item(int k, void *worker, void *ctx, wm_error *err) {
    (void)worker;
    clips_run *run = ctx;
    const clips_config *cfg = run->cfg;
    const scenario *sc = &run->scenarios[k / cfg->variations];
    int v = k % cfg->variations;
    char dir[4096];
    clip_dir(cfg, sc, v, dir, sizeof dir);
    int kept = clip_is_complete(dir), frames = kept ? 0 : make_clip(cfg, sc, v, dir, err);
    if (frames < 0) return -1;
    run->slots[k].outcome = kept ? CLIP_KEPT : CLIP_WRITTEN;
    run->slots[k].frames = frames;
    pthread_mutex_lock(&run->lock);
    run->rep.frames += frames, kept ? run->rep.kept++ : run->rep.written++;
    pthread_mutex_unlock(&run->lock);
    return 0;
}

static void progress_status(void *ctx, double elapsed, char *out, size_t n) {
    clips_run *run = ctx;
    pthread_mutex_lock(&run->lock);
    clips_report r = run->rep;
    pthread_mutex_unlock(&run->lock);
    snprintf(out, n, " (%d kept) %.0f frames/s", r.kept, elapsed > 0 ? r.frames / elapsed : 0);
}

int clips_generate(const clips_config *cfg, clips_report *rep, wm_error *err) {
    memset(rep, 0, sizeof *rep);
    if (cfg->n_scenarios < 1) return wm_fail(err, "clips generate: no scenario files");
    if (cfg->variations < 1 || cfg->variations > 9999)
        return wm_fail(err, "clips generate: --variations %d outside [1, 9999]", cfg->variations);
    if (cfg->jobs < 1 || cfg->jobs > 256) return wm_fail(err, "clips generate: --jobs %d outside [1, 256]", cfg->jobs);
    if (cfg->seconds < 0 || !isfinite(cfg->seconds))
        return wm_fail(err, "clips generate: --seconds %g is not a positive duration", cfg->seconds);
    cluster alone = {.size = 1};
    const cluster *cl = cfg->cl ? cfg->cl : &alone;
    clips_run *run = CALLOC_CHECK(1, sizeof *run);
    run->cfg = cfg;
    run->scenarios = CALLOC_CHECK((size_t)cfg->n_scenarios, sizeof *run->scenarios);
    int rc = -1, loaded = 0;
    /* What a rank may find wrong before its clips (a policy, a scenario,
     * the folder) stops every rank before any clip. */
    {
        policy probe;
        int ready = policy_create(cfg->policy, NULL, &probe, err) == 0;
        if (ready) probe.destroy(&probe);
        ready = ready &&
                !scenario_load_all("clips generate", cfg->scenarios, cfg->n_scenarios, run->scenarios, &loaded, err);
        for (int i = 0; i < loaded && ready; i++) {
            camera_params cp = run->scenarios[i].camera;
            if (cfg->width) cp.width = cfg->width, cp.height = cfg->height;
            if (camera_params_check(&cp, err)) {
                wm_error_prefix(err, "%s: ", cfg->scenarios[i]);
                ready = 0;
            }
        }
        ready = ready && !dir_create(cfg->out_dir, err);
        if (!cluster_all_ok(cl, ready)) {
            if (ready) wm_fail(err, "clips generate: another rank failed (its message is on its standard error)");
            goto done;
        }
    }
    const int planned = cfg->n_scenarios * cfg->variations;
    run->rep.planned = planned;
    run->slots = CALLOC_CHECK((size_t)planned, sizeof *run->slots);
    pthread_mutex_init(&run->lock, NULL);
    double t0 = clock_now_s();
    batch_config b = {.n_items = planned, .jobs = cfg->jobs, .run_item = run_item, .ctx = run, .label = "clips",
                      .unit = "clips", .progress = cfg->progress && cl->rank == 0, .status = progress_status,
                      .rank = cl->rank, .ranks = cl->size};
    int ran = batch_run(&b, err) == 0;
    pthread_mutex_destroy(&run->lock);
    *rep = run->rep;
    /* Every rank reaches this, failed or not. */
    if (!cluster_all_ok(cl, ran)) {
        if (ran) wm_fail(err, "clips generate: another rank failed (its message is on its standard error)");
        goto done;
    }
    cluster_merge_slots(cl, run->slots, (size_t)planned * sizeof *run->slots);
    rep->written = rep->kept = 0, rep->frames = 0;
    for (int k = 0; k < planned; k++) {
        rep->written += run->slots[k].outcome == CLIP_WRITTEN;
        rep->kept += run->slots[k].outcome == CLIP_KEPT;
        rep->frames += run->slots[k].frames;
    }
    rep->elapsed_s = clock_now_s() - t0;
    if (rep->written + rep->kept != planned) {
        wm_fail(err, "clips generate: %d of %d clips accounted for after every rank finished",
                rep->written + rep->kept, planned);
        goto done;
    }
    rc = 0;
done:
    for (int i = 0; i < loaded; i++) scenario_free(&run->scenarios[i]);
    free(run->scenarios);
    free(run->slots);
    free(run);
    return rc;
}
