#include "sim/recorder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/fileio.h"
#include "render/overlay.h"
#include "sim/vehicle.h"

#define RECORDER_PAST 300   /* 30 s of the ego's path in the BEV */
#define RECORDER_PLAN 30    /* 3 s ahead under the current command */

struct recorder {
    recorder_options o;
    renderer r;
    video_writer *video;
    image side_by_side;     /* RECORDER_VIEW_SIDE_BY_SIDE: the frame written */
    image captioned;        /* with o.reasoning: the frame written */
    const image *last;      /* the last picture made (recorder_last) */
    int frames;
    double past[RECORDER_PAST][2];
    int n_past;
};

int recorder_open(recorder **out, const recorder_options *o, wm_error *err) {
    *out = NULL;
    recorder *rec = CALLOC_CHECK(1, sizeof *rec);
    rec->o = *o;
    if (renderer_init(&rec->r, &o->cp, o->supersample, err)) return free(rec), -1;
    if (o->frames_dir && dir_create(o->frames_dir, err)) return recorder_abort(rec), -1;
    int width = o->view == RECORDER_VIEW_SIDE_BY_SIDE ? 2 * o->cp.width : o->cp.width;
    int height = o->cp.height + (o->reasoning ? 10 * OVERLAY_SCALE(width) : 0);
    if (o->video_path &&
        video_writer_open(&rec->video, o->video_path, width, height, (int)llround(1.0 / SIM_DT), o->codec, err))
        return recorder_abort(rec), -1;
    *out = rec;
    return 0;
}

/* The nearest guard ahead within 80 m, as the HUD shows it. */
static const char *gesture_ahead(const sim_world *w, char *buf, size_t n) {
    double front = sim_ego_front_s(w), best = 80.0;
    const sim_actor *found = NULL;
    for (int i = 0; i < w->n_actors; i++) {
        const sim_actor *a = &w->actors[i];
        if (a->kind != ACTOR_GUARD || a->s < front || a->s - front > best) continue;
        best = a->s - front, found = a;
    }
    if (!found) return NULL;
    snprintf(buf, n, "%s %.0f m", gesture_name(found->gesture), best);
    return buf;
}

/* Where the current command takes the ego in the next 3 s: the path the
 * policy has committed to, drawn ahead of the ego in the BEV. */
static int planned_path(const sim_world *w, const action *cmd, double (*xy)[2]) {
    if (!cmd) return 0;
    vehicle_state st = w->ego;
    for (int k = 0; k < RECORDER_PLAN; k++) {
        vehicle_step(&w->ego_params, &st, cmd, SIM_DT, 4);
        vehicle_center(&w->ego_params, &st, &xy[k][0], &xy[k][1]);
    }
    return RECORDER_PLAN;
}

/* The picture of f the options ask for, before overlays. */
static int recorder_picture(recorder *rec, const episode_frame *f, image **img, wm_error *err) {
    *img = &rec->r.frame;
    if (rec->o.view == RECORDER_VIEW_ORACLE) return 0;
    const image *feed = f->camera;
    if (!feed) return wm_fail(err, "recorder: the view needs the camera feed's frames, but the episode has no feed");
    if (feed->width != rec->o.cp.width || feed->height != rec->o.cp.height)
        return wm_fail(err, "recorder: feed frame %dx%d, but the recorder was opened at %dx%d", feed->width,
                       feed->height, rec->o.cp.width, rec->o.cp.height);
    if (rec->o.view == RECORDER_VIEW_FEED) {
        memcpy(rec->r.frame.rgb, feed->rgb, (size_t)feed->width * feed->height * 3);
        return 0;
    }
    image pair[2] = {rec->r.frame, *feed};
    /* With the HUD on top the labels would be half covered; oracle is always the left. */
    const char *labels[2] = {"oracle", rec->o.feed_label};
    if (rec->o.hud) labels[0] = labels[1] = NULL;
    image_free(&rec->side_by_side);
    if (overlay_side_by_side(pair, labels, 2, &rec->side_by_side, err)) return -1;
    *img = &rec->side_by_side;
    return 0;
}

int recorder_add(recorder *rec, const episode_frame *f, wm_error *err) {
    const sim_world *w = f->w;
    render_frame(&rec->r, w);
    image *img;
    if (recorder_picture(rec, f, &img, err)) return -1;
    if (rec->n_past == RECORDER_PAST) {
        memmove(rec->past, rec->past + 1, sizeof rec->past[0] * (RECORDER_PAST - 1));
        rec->n_past--;
    }
    vehicle_center(&w->ego_params, &w->ego, &rec->past[rec->n_past][0], &rec->past[rec->n_past][1]);
    rec->n_past++;
    if (rec->o.bev) {
        double plan[RECORDER_PLAN][2];
        int n_plan = planned_path(w, f->command, plan);
        overlay_bev(img, w, (const double(*)[2])rec->past, rec->n_past, (const double(*)[2])plan, n_plan);
    }
    if (rec->o.hud) {
        const action_limits *lim = &w->ego_params.limits;
        char ahead[64];
        metrics so_far = *f->m; /* finishing a copy scores the episode as it stands */
        metrics_finish(&so_far, w);
        hud_info h = {.t = w->t,
                      .speed_mps = w->ego.speed,
                      .speed_limit_mps = sim_speed_limit_at(w, sim_ego_front_s(w)),
                      .accel = f->command ? f->command->accel / lim->accel_max : 0,
                      .brake = f->command ? f->command->brake / lim->brake_max : 0,
                      .steer = f->command ? f->command->steer / lim->steer_max : 0,
                      .gesture_ahead = gesture_ahead(w, ahead, sizeof ahead),
                      .score = so_far.score,
                      .label = rec->o.label};
        overlay_hud(img, &h);
    }
    if (rec->o.reasoning) {
        image_free(&rec->captioned);
        overlay_caption(img, f->reasoning, &rec->captioned);
        img = &rec->captioned;
    }
    rec->last = img;
    if (rec->video && video_writer_add(rec->video, img, err)) return -1;
    if (rec->o.frames_dir) {
        char path[4200];
        snprintf(path, sizeof path, "%s/frame_%05d.png", rec->o.frames_dir, w->step);
        if (image_write_png(img, path, err)) return -1;
        if (rec->o.semantic && rec->o.view == RECORDER_VIEW_ORACLE) {
            image sem;
            render_semantic_image(&rec->r, &sem);
            snprintf(path, sizeof path, "%s/semantic_%05d.png", rec->o.frames_dir, w->step);
            int rc = image_write_png(&sem, path, err);
            image_free(&sem);
            if (rc) return -1;
        }
    }
    rec->frames++;
    return 0;
}

int recorder_frames(const recorder *rec) { return rec->frames; }

const image *recorder_last(const recorder *rec) { return rec->last; }

int recorder_close(recorder *rec, wm_error *err) {
    int rc = rec->video ? video_writer_close(rec->video, err) : 0;
    renderer_free(&rec->r);
    image_free(&rec->side_by_side), image_free(&rec->captioned);
    free(rec);
    return rc;
}

void recorder_abort(recorder *rec) {
    if (!rec) return;
    if (rec->video) video_writer_abort(rec->video);
    renderer_free(&rec->r);
    image_free(&rec->side_by_side), image_free(&rec->captioned);
    free(rec);
}
