/* tools/contact_sheet — every example scenario through the oracle camera, day
 * and night, at 512x256 and at 128x64 (shown 2x, nearest), in one PNG for the
 * README: the picture to look at after any change to the renderer.
 *
 *   build/tools/contact_sheet OUT.png DISTANCE_M SCENARIO...
 *
 * Each scenario is shown when the nearest actor ahead (not a sign) first
 * comes within DISTANCE_M of the ego's front: what the scenario is about,
 * close enough to judge. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "render/font.h"
#include "render/render.h"
#include "sim/episode.h"

typedef struct {
    double distance;
    renderer *r;
    double t;
} shot;

static int shoot(const episode_frame *f, void *ctx) {
    shot *s = ctx;
    const sim_world *w = f->w;
    double front = sim_ego_front_s(w);
    int near = 0;
    for (int i = 0; i < w->n_actors; i++) {
        const sim_actor *a = &w->actors[i];
        double ahead = (a->kind == ACTOR_OBSTACLE ? w->sc->actors[i].u.obstacle.s_start : a->s) - front;
        near |= a->kind != ACTOR_SIGN && ahead > 0 && ahead <= s->distance;
    }
    if (!near && w->t < w->sc->duration - 0.05) return 0;
    render_frame(s->r, w);
    s->t = w->t;
    return 1;
}

/* Copies src into dst at (x0, y0), each pixel as a zoom x zoom block. */
static void paste(image *dst, const image *src, int x0, int y0, int zoom) {
    for (int y = 0; y < src->height * zoom; y++)
        for (int x = 0; x < src->width * zoom; x++)
            memcpy(dst->rgb + 3 * ((size_t)(y0 + y) * dst->width + x0 + x),
                   src->rgb + 3 * ((size_t)(y / zoom) * src->width + x / zoom), 3);
}

static int render_at(const scenario *sc, double distance, int width, int height, image *out, double *t) {
    wm_error err;
    camera_params cp = sc->camera;
    cp.width = width, cp.height = height;
    renderer r;
    if (renderer_init(&r, &cp, 2, &err)) return fprintf(stderr, "%s\n", err.msg), -1;
    policy pol;
    policy_create("expert", NULL, &pol, &err);
    shot s = {distance, &r, 0};
    episode_config cfg = {.sc = sc, .seed = sc->seed, .pol = &pol, .observe = shoot, .observe_ctx = &s};
    episode_result res;
    int rc = episode_run(&cfg, &res, &err);
    pol.destroy(&pol);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    else paste(out, &r.frame, 0, 0, 1);
    *t = s.t;
    renderer_free(&r);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 4) return fprintf(stderr, "usage: contact_sheet OUT.png DISTANCE_M SCENARIO...\n"), 2;
    double distance = atof(argv[2]), t = 0;
    int rows = argc - 3, row_h = 256 + 12, sheet_w = 2 * 512 + 256;
    image sheet;
    image_init(&sheet, sheet_w, rows * row_h);
    for (int i = 0; i < rows; i++) {
        scenario sc;
        wm_error err;
        if (scenario_load(argv[3 + i], &sc, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
        int y0 = i * row_h;
        for (int k = 0; k < 4; k++) {
            sc.lighting = k % 2 ? LIGHTING_NIGHT : LIGHTING_DAY;
            int big = k < 2, w = big ? 512 : 128, h = big ? 256 : 64;
            image frame;
            image_init(&frame, w, h);
            if (render_at(&sc, distance, w, h, &frame, &t)) return 1;
            /* Small frames stack in the last column: day over night. */
            paste(&sheet, &frame, big ? k * 512 : 1024, y0 + 12 + (big ? 0 : (k - 2) * 128), big ? 1 : 2);
            image_free(&frame);
        }
        char label[160];
        snprintf(label, sizeof label, "%s  t=%.1f s   day, night at 512x256; day, night at 128x64 (shown 2x)", sc.id, t);
        font_draw(&sheet, 4, y0 + 2, label, 1, (rgb8){230, 230, 230});
        scenario_free(&sc);
    }
    wm_error err;
    if (image_write_png(&sheet, argv[1], &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    printf("wrote %s (%dx%d)\n", argv[1], sheet.width, sheet.height);
    image_free(&sheet);
    return 0;
}
