/* overlay.c — HUD, bird's-eye-view inset and side-by-side composition.
 *
 * Glossary: W x H image size, s text scale (OVERLAY_SCALE), sh strip height
 * (10 s: a glyph row and s of padding above and below), m text margin (2 s).
 * In the inset: side its size in pixels, mpp metres per pixel, (fwd, left)
 * metres in the ego's frame, (px, py) continuous pixel coordinates in the
 * inset (pixel i covers [i, i + 1)). */
#include "render/overlay.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/mathx.h"
#include "render/font.h"
#include "sim/vehicle.h"

static const rgb8 WHITE = {255, 255, 255}, BLACK = {0, 0, 0};
static const rgb8 TEXT_RED = {255, 70, 70}, TEXT_GREEN = {80, 230, 80}, AMBER = {255, 190, 40};
static const rgb8 LABEL = {190, 215, 255}, LABEL_BOX = {16, 16, 16};
static const rgb8 BAR_BRAKE = {240, 40, 40}, BAR_ACCEL = {40, 210, 60};

static void clip_rect(const image *img, int *x0, int *y0, int *x1, int *y1) {
    if (*x0 < 0) *x0 = 0;
    if (*y0 < 0) *y0 = 0;
    if (*x1 > img->width) *x1 = img->width;
    if (*y1 > img->height) *y1 = img->height;
}

/* Clipped to the image; empty ranges draw nothing. */
static void fill_rect(image *img, int x0, int y0, int x1, int y1, rgb8 c) {
    clip_rect(img, &x0, &y0, &x1, &y1);
    for (int y = y0; y < y1; y++) {
        uint8_t *p = img->rgb + 3 * ((size_t)y * img->width + x0);
        for (int x = x0; x < x1; x++, p += 3) p[0] = c.r, p[1] = c.g, p[2] = c.b;
    }
}

/* To a third of the brightness: light text stays readable over sky or snow. */
static void darken_rect(image *img, int x0, int y0, int x1, int y1) {
    clip_rect(img, &x0, &y0, &x1, &y1);
    for (int y = y0; y < y1; y++) {
        uint8_t *p = img->rgb + 3 * ((size_t)y * img->width + x0);
        for (int x = x0; x < x1; x++, p += 3) p[0] /= 3, p[1] /= 3, p[2] /= 3;
    }
}

/* text cut to at most max_px wide at scale s, ending in "…" when cut; "" when
 * fewer than four glyphs fit, since "e…" tells the viewer nothing. Malloc'ed. */
static char *fit_text(const char *text, int max_px, int s) {
    int max_glyphs = (max_px / s + 1) / FONT_CELL_W;
    int n = 0;
    uint32_t cp;
    for (const char *p = text; utf8_next(&p, &cp);) n++;
    if (n <= max_glyphs) return STRDUP_CHECK(text);
    if (max_glyphs < 4) return STRDUP_CHECK("");
    const char *end = text;
    for (int k = 0; k < max_glyphs - 1; k++) utf8_next(&end, &cp);
    size_t len = (size_t)(end - text);
    char *out = MALLOC_CHECK(len + sizeof "…");
    memcpy(out, text, len);
    memcpy(out + len, "…", sizeof "…");
    return out;
}

/* NaN counts as 0: a broken input must not light a full bar. */
static double clamp_or_zero(double v, double lo, double hi) { return isnan(v) ? 0.0 : clampd(v, lo, hi); }

static rgb8 gesture_text_colour(const char *g) {
    if (strncmp(g, "STOP", 4) == 0) return TEXT_RED;
    if (strncmp(g, "PROCEED", 7) == 0) return TEXT_GREEN;
    return AMBER;
}

static void hud_top(image *img, const hud_info *h, int s) {
    const int W = img->width, m = 2 * s, sh = 10 * s;
    double v = clamp_or_zero(h->speed_mps * 3.6, 0.0, 9999.0);
    int kmh = (int)lround(v), limit = 0;
    if (h->speed_limit_mps > 0) limit = (int)lround(clamp_or_zero(h->speed_limit_mps * 3.6, 0.0, 9999.0));
    char speed[32], lim[16], t[48];
    snprintf(speed, sizeof speed, "%d km/h", kmh);
    /* Over means over what the viewer reads: the rounded numbers. */
    font_draw(img, m, s, speed, s, limit > 0 && kmh > limit ? TEXT_RED : WHITE);
    int x = m + font_text_width(speed, s);
    if (limit > 0) {
        snprintf(lim, sizeof lim, "%d", limit);
        int lw = font_text_width(lim, s), x0 = x + 2 * s, bw = lw + 4 * s;
        fill_rect(img, x0, 0, x0 + bw, sh, TEXT_RED);
        fill_rect(img, x0 + s, s, x0 + bw - s, sh - s, WHITE);
        font_draw(img, x0 + 2 * s, s, lim, s, BLACK);
        x = x0 + bw;
    }
    snprintf(t, sizeof t, "t=%.1f s", h->t);
    int tx = W - m - font_text_width(t, s);
    font_draw(img, tx, s, t, s, WHITE);
    if (h->label && h->label[0]) {
        int l0 = x + 3 * s, avail = tx - 3 * s - l0;
        if (avail > 0) {
            char *label = fit_text(h->label, avail, s);
            font_draw(img, l0 + (avail - font_text_width(label, s)) / 2, s, label, s, LABEL);
            free(label);
        }
    }
}

static void hud_bottom(image *img, const hud_info *h, int s) {
    const int W = img->width, H = img->height, m = 2 * s, gap = 3 * s, y = H - 10 * s + s;
    const int avail = W - 2 * m;
    char full[48] = "", compact[32] = "";
    if (h->score >= 0) {
        snprintf(full, sizeof full, "score %.2f", h->score);
        snprintf(compact, sizeof compact, "%.2f", h->score);
    }
    const char *g = h->gesture_ahead && h->gesture_ahead[0] ? h->gesture_ahead : NULL;
    int gw = g ? font_text_width(g, s) : 0, fw = font_text_width(full, s);
    const char *score = full;
    int room = avail - (g ? gw + gap : 0);
    if (fw > room) score = compact;
    int sw = font_text_width(score, s);
    if (sw > 0) font_draw(img, W - m - sw, y, score, s, WHITE);
    if (g) {
        char *cut = fit_text(g, avail - (sw ? sw + gap : 0), s);
        font_draw(img, m, y, cut, s, gesture_text_colour(g));
        free(cut);
    }
}

/* A pedal bar filling bottom-up over rows [y0, y1). */
static void hud_pedal(image *img, int x0, int x1, int y0, int y1, double v, rgb8 c) {
    if (y1 <= y0) return;
    darken_rect(img, x0, y0, x1, y1);
    int fh = (int)lround(clamp_or_zero(v, 0.0, 1.0) * (y1 - y0));
    fill_rect(img, x0, y1 - fh, x1, y1, c);
}

static void hud_steer(image *img, const hud_info *h, int s) {
    const int W = img->width, H = img->height;
    int sw = W / 4 < 16 ? 16 : W / 4;
    sw &= ~1;
    const int x0 = (W - sw) / 2, cx = x0 + sw / 2, y1 = H - 10 * s - s, y0 = y1 - 3 * s;
    darken_rect(img, x0, y0, x0 + sw, y1);
    int len = (int)lround(clamp_or_zero(h->steer, -1.0, 1.0) * (sw / 2));
    if (len > 0) fill_rect(img, cx - len, y0, cx, y1, AMBER); /* left of centre: steering left */
    if (len < 0) fill_rect(img, cx, y0, cx - len, y1, AMBER);
    fill_rect(img, cx - s, y0, cx + s, y1, WHITE);
}

void overlay_hud(image *img, const hud_info *h) {
    const int W = img->width, H = img->height, s = OVERLAY_SCALE(W), sh = 10 * s;
    darken_rect(img, 0, 0, W, sh);
    darken_rect(img, 0, H - sh, W, H);
    hud_pedal(img, s, 4 * s, sh + s, H - sh - s, h->brake, BAR_BRAKE);
    hud_pedal(img, W - 4 * s, W - s, sh + s, H - sh - s, h->accel, BAR_ACCEL);
    hud_steer(img, h, s);
    hud_top(img, h, s);
    hud_bottom(img, h, s);
}

void overlay_bev_rect(int width, int height, int *x, int *y, int *side) {
    const int s = OVERLAY_SCALE(width);
    int n = height / 3 < 32 ? 32 : height / 3;
    if (n > width) n = width;
    if (n > height) n = height;
    int x0 = width - 5 * s - n, y0 = 11 * s;
    *x = x0 < 0 ? 0 : x0;
    *y = y0 + n > height ? height - n : y0;
    *side = n;
}

/* The inset's view: world ↔ inset pixels. */
typedef struct {
    image *img;
    int bx, by, side;
    double mpp, ex, ey, c, sn; /* ego body centre and heading */
    double ecx, ecy;           /* ego in inset pixels */
} bev;

static void bev_to_px(const bev *b, double x, double y, double *px, double *py) {
    double dx = x - b->ex, dy = y - b->ey;
    double fwd = dx * b->c + dy * b->sn, left = -dx * b->sn + dy * b->c;
    *px = b->ecx - left / b->mpp;
    *py = b->ecy - fwd / b->mpp;
}

static void bev_to_world(const bev *b, double px, double py, double *x, double *y) {
    double fwd = (b->ecy - py) * b->mpp, left = (b->ecx - px) * b->mpp;
    *x = b->ex + fwd * b->c - left * b->sn;
    *y = b->ey + fwd * b->sn + left * b->c;
}

static void bev_put(const bev *b, int i, int j, rgb8 c) {
    if (i < 0 || j < 0 || i >= b->side || j >= b->side) return;
    uint8_t *p = b->img->rgb + 3 * ((size_t)(b->by + j) * b->img->width + b->bx + i);
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
}

static rgb8 gesture_colour(gesture g) {
    switch (g) {
    case GESTURE_STOP: return (rgb8){255, 40, 40};
    case GESTURE_PROCEED: return (rgb8){60, 230, 60};
    case GESTURE_SLOW: return (rgb8){255, 220, 0};
    case GESTURE_TURN_LEFT:
    case GESTURE_TURN_RIGHT: return (rgb8){0, 210, 255};
    case GESTURE_NONE: break;
    }
    return (rgb8){160, 160, 160};
}

static void bev_road(const bev *b, const sim_world *w) {
    const road *r = &w->road;
    const double width = r->n_lanes * r->lane_width, half = 0.5 * b->mpp;
    /* Lines a pixel wide would cover a lane narrower than 3 px entirely. */
    const int lines = r->lane_width >= 3.0 * b->mpp;
    double stop_s[SCENARIO_MAX_ACTORS];
    rgb8 stop_c[SCENARIO_MAX_ACTORS];
    int n_stop = 0;
    for (int i = 0; i < w->n_actors; i++) {
        if (w->actors[i].kind != ACTOR_GUARD) continue;
        stop_s[n_stop] = w->sc->actors[i].u.guard.stop_line_s;
        stop_c[n_stop++] = gesture_colour(w->actors[i].gesture);
    }
    int hint = w->ego_hint;
    for (int j = 0; j < b->side; j++) {
        int row_hint = hint;
        for (int i = 0; i < b->side; i++) {
            double x, y, s, d;
            bev_to_world(b, i + 0.5, j + 0.5, &x, &y);
            road_project(r, x, y, &row_hint, &s, &d);
            if (i == 0) hint = row_hint;
            rgb8 c = {36, 62, 36}; /* terrain */
            if (d >= 0 && d <= width) {
                c = (rgb8){62, 62, 66};
                for (int k = 0; k < n_stop; k++)
                    if (fabs(s - stop_s[k]) < half) c = stop_c[k];
                if (lines) {
                    if (fabs(d) < half || fabs(d - width) < half) c = (rgb8){225, 225, 225};
                    for (int lane = 1; lane < r->n_lanes; lane++) {
                        lane_marking mk = w->sc->road.markings[lane - 1];
                        if (mk == LANE_MARKING_NONE || fabs(d - lane * r->lane_width) >= half) continue;
                        c = mk == LANE_MARKING_DOUBLE_SOLID ? (rgb8){220, 180, 40}
                            : mk == LANE_MARKING_DASHED     ? (rgb8){140, 140, 140}
                                                            : (rgb8){200, 200, 200};
                    }
                }
            } else if (d > -r->shoulder && d < width + r->shoulder) {
                c = (rgb8){100, 100, 96};
            }
            bev_put(b, i, j, c);
        }
    }
}

/* Liang–Barsky: clips the segment to [lo, hi]² in place; 0 when nothing is
 * left. Also keeps a far-away or non-finite point from making a long loop. */
static int clip_segment(double *x0, double *y0, double *x1, double *y1, double lo, double hi) {
    if (!isfinite(*x0) || !isfinite(*y0) || !isfinite(*x1) || !isfinite(*y1)) return 0;
    double t0 = 0, t1 = 1, dx = *x1 - *x0, dy = *y1 - *y0;
    const double p[4] = {-dx, dx, -dy, dy}, q[4] = {*x0 - lo, hi - *x0, *y0 - lo, hi - *y0};
    for (int k = 0; k < 4; k++) {
        if (p[k] == 0) {
            if (q[k] < 0) return 0;
            continue;
        }
        double t = q[k] / p[k];
        if (p[k] < 0) {
            if (t > t1) return 0;
            if (t > t0) t0 = t;
        } else {
            if (t < t0) return 0;
            if (t < t1) t1 = t;
        }
    }
    double ax = *x0 + t0 * dx, ay = *y0 + t0 * dy;
    *x1 = *x0 + t1 * dx, *y1 = *y0 + t1 * dy;
    *x0 = ax, *y0 = ay;
    return 1;
}

static void bev_path(const bev *b, const double (*xy)[2], int n, rgb8 c) {
    const int pen = b->side >= 64 ? 2 : 1;
    for (int k = 0; k + 1 < n; k++) {
        double x0, y0, x1, y1;
        bev_to_px(b, xy[k][0], xy[k][1], &x0, &y0);
        bev_to_px(b, xy[k + 1][0], xy[k + 1][1], &x1, &y1);
        if (!clip_segment(&x0, &y0, &x1, &y1, -1.0, b->side + 1.0)) continue;
        int steps = (int)ceil(fmax(fabs(x1 - x0), fabs(y1 - y0))) + 1;
        for (int t = 0; t <= steps; t++) {
            double f = (double)t / steps;
            int i = (int)floor(x0 + f * (x1 - x0)), j = (int)floor(y0 + f * (y1 - y0));
            for (int a = 0; a < pen; a++)
                for (int e = 0; e < pen; e++) bev_put(b, i + a, j + e, c);
        }
    }
}

/* An oriented box in world metres, each half extent at least min_half: every
 * actor stays visible as a couple of pixels however small it is. */
static void bev_box(const bev *b, double x, double y, double yaw, double length, double width, double min_half,
                    rgb8 c) {
    double hl = fmax(0.5 * length, min_half), hw = fmax(0.5 * width, min_half);
    double px, py;
    bev_to_px(b, x, y, &px, &py);
    double r = hypot(hl, hw) / b->mpp + 1.0;
    if (!(px > -r && py > -r && px < b->side + r && py < b->side + r)) return; /* also rejects NaN */
    const double ca = cos(yaw), sa = sin(yaw);
    int i0 = (int)floor(px - r), i1 = (int)ceil(px + r), j0 = (int)floor(py - r), j1 = (int)ceil(py + r);
    for (int j = j0 < 0 ? 0 : j0; j <= j1 && j < b->side; j++) {
        for (int i = i0 < 0 ? 0 : i0; i <= i1 && i < b->side; i++) {
            double wx, wy;
            bev_to_world(b, i + 0.5, j + 0.5, &wx, &wy);
            double du = (wx - x) * ca + (wy - y) * sa, dv = -(wx - x) * sa + (wy - y) * ca;
            if (fabs(du) <= hl && fabs(dv) <= hw) bev_put(b, i, j, c);
        }
    }
}

static void bev_actors(const bev *b, const sim_world *w) {
    /* Flat things first, so people and vehicles are never hidden under them. */
    static const actor_kind order[] = {ACTOR_OBSTACLE, ACTOR_SIGN, ACTOR_VEHICLE, ACTOR_PEDESTRIAN, ACTOR_GUARD};
    for (size_t o = 0; o < sizeof order / sizeof order[0]; o++) {
        for (int i = 0; i < w->n_actors; i++) {
            const sim_actor *a = &w->actors[i];
            if (a->kind != order[o]) continue;
            const double px = b->mpp;
            switch (a->kind) {
            case ACTOR_VEHICLE:
                bev_box(b, a->x, a->y, a->yaw, a->length, a->width, 0.75 * px, (rgb8){70, 130, 255});
                break;
            case ACTOR_PEDESTRIAN: bev_box(b, a->x, a->y, a->yaw, 0.5, 0.5, 1.0 * px, (rgb8){255, 70, 220}); break;
            case ACTOR_GUARD: bev_box(b, a->x, a->y, a->yaw, 0.5, 0.5, 1.25 * px, gesture_colour(a->gesture)); break;
            case ACTOR_OBSTACLE: {
                int cone = w->sc->actors[i].u.obstacle.kind == OBSTACLE_CONE;
                bev_box(b, a->x, a->y, a->yaw, a->length, a->width, 0.75 * px,
                        cone ? (rgb8){255, 140, 0} : (rgb8){255, 90, 20});
                break;
            }
            case ACTOR_SIGN: bev_box(b, a->x, a->y, a->yaw, 0.3, 0.3, 0.75 * px, (rgb8){210, 210, 210}); break;
            }
        }
    }
}

/* A white arrowhead pointing up (the ego's heading), its centroid on the ego. */
static void bev_ego(const bev *b) {
    const double t = fmax(3.0, b->side / 12.0);
    const double ax = b->ecx, ay = b->ecy - 1.6 * t, lx = b->ecx - t, rx = b->ecx + t, by = b->ecy + 0.8 * t;
    for (int j = (int)floor(ay); j <= (int)ceil(by); j++) {
        for (int i = (int)floor(lx); i <= (int)ceil(rx); i++) {
            double x = i + 0.5, y = j + 0.5;
            if (y < ay || y > by) continue;
            /* Half-width grows linearly from the apex down to the base. */
            double hw = t * (y - ay) / (by - ay);
            if (fabs(x - ax) <= hw) bev_put(b, i, j, WHITE);
        }
    }
}

void overlay_bev(image *img, const sim_world *w, const double (*past_xy)[2], int n_past,
                 const double (*plan_xy)[2], int n_plan) {
    bev b = {.img = img};
    overlay_bev_rect(img->width, img->height, &b.bx, &b.by, &b.side);
    if (b.side < 8) return;
    /* 80 m from top to bottom: 60 ahead of the ego, 20 behind. */
    b.mpp = 80.0 / b.side;
    b.ecx = 0.5 * b.side;
    b.ecy = 0.75 * b.side;
    vehicle_center(&w->ego_params, &w->ego, &b.ex, &b.ey);
    b.c = cos(w->ego.yaw);
    b.sn = sin(w->ego.yaw);
    bev_road(&b, w);
    if (past_xy) bev_path(&b, past_xy, n_past, (rgb8){120, 180, 255});
    if (plan_xy) bev_path(&b, plan_xy, n_plan, (rgb8){170, 255, 40});
    bev_actors(&b, w);
    bev_ego(&b);
    const rgb8 frame = {200, 200, 200};
    for (int k = 0; k < b.side; k++) {
        bev_put(&b, k, 0, frame), bev_put(&b, k, b.side - 1, frame);
        bev_put(&b, 0, k, frame), bev_put(&b, b.side - 1, k, frame);
    }
}

int overlay_side_by_side(const image *frames, const char *const *labels, int n, image *out, wm_error *err) {
    memset(out, 0, sizeof *out);
    if (n < 1 || n > OVERLAY_MAX_FRAMES)
        return wm_fail(err, "side-by-side: %d frames, expected 1..%d", n, OVERLAY_MAX_FRAMES);
    const int w = frames[0].width, h = frames[0].height;
    for (int i = 0; i < n; i++) {
        if (!frames[i].rgb || frames[i].width < 1 || frames[i].height < 1)
            return wm_fail(err, "side-by-side: frame %d is empty (%dx%d)", i, frames[i].width, frames[i].height);
        if (frames[i].width != w || frames[i].height != h)
            return wm_fail(err, "side-by-side: frame %d is %dx%d, frame 0 is %dx%d", i, frames[i].width,
                           frames[i].height, w, h);
    }
    if ((long long)n * w > IMAGE_MAX_SIDE)
        return wm_fail(err, "side-by-side: %d frames %d px wide make %lld px, more than %d", n, w, (long long)n * w,
                       IMAGE_MAX_SIDE);
    image_init(out, n * w, h);
    for (int i = 0; i < n; i++)
        for (int y = 0; y < h; y++)
            memcpy(out->rgb + 3 * ((size_t)y * out->width + (size_t)i * w), frames[i].rgb + 3 * (size_t)y * w,
                   3 * (size_t)w);
    const int s = OVERLAY_SCALE(w);
    for (int i = 0; i < n; i++) {
        if (!labels || !labels[i] || !labels[i][0]) continue;
        /* Cut to the frame, so a label never spills into its neighbour. */
        char *label = fit_text(labels[i], w - 4 * s, s);
        int lw = font_text_width(label, s);
        if (lw > 0) {
            /* Opaque: a HUD already on the frame must not show through. */
            fill_rect(out, i * w, 0, i * w + lw + 4 * s, 10 * s, LABEL_BOX);
            font_draw(out, i * w + 2 * s, s, label, s, WHITE);
        }
        free(label);
    }
    return 0;
}

void overlay_caption(const image *frame, const char *text, image *out) {
    const int w = frame->width, h = frame->height, s = OVERLAY_SCALE(w), band = 10 * s;
    image_init(out, w, h + band);
    memcpy(out->rgb, frame->rgb, 3 * (size_t)w * h);
    fill_rect(out, 0, h, w, h + band, LABEL_BOX);
    if (!text || !text[0]) return;
    char *cut = fit_text(text, w - 4 * s, s);
    font_draw(out, 2 * s, h + s, cut, s, WHITE);
    free(cut);
}
