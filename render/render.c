#include "render/render.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/fileio.h"
#include "core/mathx.h"
#include "core/rng.h"
#include "render/font.h"

typedef struct {
    rgb8 sky_top, sky_horizon, asphalt, shoulder, grass_a, grass_b, white, yellow, kerb;
    double ambient; /* scales lit bodies; night relies on the headlights */
} palette;

static const palette PALETTES[3] = {
    [LIGHTING_DAY] = {{70, 130, 200}, {190, 215, 235}, {88, 88, 92}, {120, 118, 112}, {76, 128, 60},
                      {68, 116, 54}, {235, 235, 230}, {230, 190, 40}, {170, 170, 165}, 1.0},
    [LIGHTING_DUSK] = {{40, 50, 100}, {235, 150, 90}, {70, 66, 72}, {95, 88, 86}, {60, 90, 50},
                       {54, 82, 46}, {215, 205, 195}, {215, 170, 40}, {150, 140, 135}, 0.7},
    [LIGHTING_NIGHT] = {{4, 6, 16}, {18, 22, 40}, {26, 26, 30}, {32, 32, 32}, {14, 22, 12},
                        {12, 19, 10}, {70, 70, 68}, {70, 58, 16}, {45, 45, 45}, 0.25},
};

/* Night headlights: how lit a ground or body point is, 0..1. */
static double headlight(const sim_world *w, double x, double y) {
    if (w->sc->lighting != LIGHTING_NIGHT) return 0.0;
    double c = cos(w->ego.yaw), s = sin(w->ego.yaw);
    double dx = x - w->ego.x, dy = y - w->ego.y;
    double ahead = dx * c + dy * s, side = -dx * s + dy * c;
    if (ahead < 2.0 || ahead > 60.0 || fabs(side) > 0.45 * ahead + 1.0) return 0.0;
    return 1.0 - ahead / 60.0;
}

static rgb8 scale(rgb8 c, double k) {
    return (rgb8){(uint8_t)fmin(255.0, c.r * k), (uint8_t)fmin(255.0, c.g * k), (uint8_t)fmin(255.0, c.b * k)};
}

static rgb8 mix(rgb8 a, rgb8 b, double t) {
    return (rgb8){(uint8_t)(a.r + (b.r - a.r) * t), (uint8_t)(a.g + (b.g - a.g) * t), (uint8_t)(a.b + (b.b - a.b) * t)};
}

static int on_marking(lane_marking m, double off, double s) {
    switch (m) {
    case LANE_MARKING_NONE: return 0;
    case LANE_MARKING_SOLID: return fabs(off) < 0.08;
    case LANE_MARKING_DASHED: return fabs(off) < 0.08 && fmod(fabs(s), 9.0) < 3.0;
    case LANE_MARKING_DOUBLE_SOLID: return fabs(fabs(off) - 0.12) < 0.06;
    }
    return 0;
}

static rgb8 ground_colour(const sim_world *w, const palette *pal, double s, double d, render_class *cls) {
    const road *r = &w->road;
    double width = r->n_lanes * r->lane_width;
    if (d >= -0.1 && d <= width + 0.1) {
        *cls = RENDER_CLASS_LANE_MARKING;
        if (fabs(d) < 0.08 || fabs(d - width) < 0.08) return pal->white; /* edge lines */
        for (int b = 1; b < r->n_lanes; b++) {
            lane_marking m = w->sc->road.markings[b - 1];
            if (on_marking(m, d - b * r->lane_width, s))
                return m == LANE_MARKING_DOUBLE_SOLID ? pal->yellow : pal->white;
        }
        *cls = RENDER_CLASS_ROAD;
        return pal->asphalt;
    }
    *cls = RENDER_CLASS_SHOULDER;
    if (d > -r->shoulder && d < width + r->shoulder) return pal->shoulder;
    if (d > -r->shoulder - 0.25 && d < width + r->shoulder + 0.25)
        return ((int)floor(s / 1.5) & 1) ? pal->kerb : pal->white; /* striped kerb */
    /* 3 m tiles of two greens: texture that shows the ego's motion. */
    *cls = RENDER_CLASS_TERRAIN;
    return (((int)floor(s / 3.0) + (int)floor(d / 3.0)) & 1) ? pal->grass_a : pal->grass_b;
}

/* With no camera roll, every ray of a row meets the ground at the same
 * distance along its direction, so the ground point moves linearly across a
 * row: one division per row, two additions per pixel. */
static void draw_ground_and_sky(const sim_world *w, const camera *cam, const palette *pal, framebuffer *fb) {
    int hint = w->ego_hint;
    const int width = fb->img.width;
    for (int y = 0; y < fb->img.height; y++) {
        int row_hint = hint;
        double yr = (y + 0.5 - cam->cy) / cam->fx;
        double base[3], step[3];
        for (int k = 0; k < 3; k++) base[k] = cam->fwd[k] + yr * cam->down[k], step[k] = cam->right[k] / cam->fx;
        double x0 = (0.5 - cam->cx);
        uint8_t *p = fb->img.rgb + 3 * (size_t)y * width;
        uint8_t *cls = fb->cls + (size_t)y * width;
        double row_len = sqrt(base[0] * base[0] + base[1] * base[1] + base[2] * base[2]);
        if (base[2] > -0.004 * row_len) { /* sky, and ground too far to resolve */
            rgb8 c = mix(pal->sky_horizon, pal->sky_top, clampd(base[2] / row_len * 4.0, 0.0, 1.0));
            for (int x = 0; x < width; x++) p[3 * x] = c.r, p[3 * x + 1] = c.g, p[3 * x + 2] = c.b;
            memset(cls, RENDER_CLASS_SKY, (size_t)width);
            continue;
        }
        double t = -cam->pos[2] / base[2];
        double gx = cam->pos[0] + t * (base[0] + x0 * step[0]), gy = cam->pos[1] + t * (base[1] + x0 * step[1]);
        double dgx = t * step[0], dgy = t * step[1];
        /* Haze by distance along the ground; the row's ray length varies
         * little across a row, so its centre value stands for all. */
        const int haze = (int)(256.0 * clampd(t * row_len / 300.0, 0.0, 0.85)); /* /256 */
        const rgb8 far = pal->sky_horizon;
        for (int x = 0; x < width; x++, gx += dgx, gy += dgy) {
            double s, d;
            road_project(&w->road, gx, gy, &row_hint, &s, &d);
            render_class k;
            rgb8 c = ground_colour(w, pal, s, d, &k);
            double lit = headlight(w, gx, gy);
            if (lit > 0) c = scale(c, 1.0 + 3.0 * lit);
            p[3 * x] = (uint8_t)(c.r + (((far.r - c.r) * haze) / 256));
            p[3 * x + 1] = (uint8_t)(c.g + (((far.g - c.g) * haze) / 256));
            p[3 * x + 2] = (uint8_t)(c.b + (((far.b - c.b) * haze) / 256));
            cls[x] = (uint8_t)k;
        }
        hint = row_hint;
    }
}

static rgb8 lit_colour(const sim_world *w, const palette *pal, rgb8 c, double x, double y) {
    return scale(c, pal->ambient + 0.8 * headlight(w, x, y));
}

static void draw_box_lit(framebuffer *fb, const camera *cam, const sim_world *w, const palette *pal, const box3 *b,
                         rgb8 c, render_class cls) {
    raster_box(fb, cam, b, lit_colour(w, pal, c, b->center[0], b->center[1]), (uint8_t)cls);
}

static const rgb8 BODY_COLOURS[6] = {{180, 30, 30}, {30, 70, 160}, {220, 220, 215}, {40, 40, 45}, {200, 160, 30},
                                     {60, 130, 80}};

static void draw_vehicle(framebuffer *fb, const camera *cam, const sim_world *w, const palette *pal, int i) {
    const sim_actor *a = &w->actors[i];
    rgb8 body = BODY_COLOURS[hash_fnv1a64(w->sc->actors[i].id, strlen(w->sc->actors[i].id)) % 6];
    box3 lower = box3_upright(a->x, a->y, 0.25, a->yaw, a->length, a->width, 0.8);
    draw_box_lit(fb, cam, w, pal, &lower, body, RENDER_CLASS_VEHICLE);
    box3 cabin = box3_upright(a->x - 0.1 * a->length * cos(a->yaw), a->y - 0.1 * a->length * sin(a->yaw), 1.05,
                              a->yaw, 0.55 * a->length, 0.9 * a->width, 0.5);
    draw_box_lit(fb, cam, w, pal, &cabin, (rgb8){60, 75, 90}, RENDER_CLASS_VEHICLE);
    /* Brake lights glow by themselves, so they are not scaled by the light. */
    int hazard = w->sc->actors[i].u.vehicle.behavior == VEHICLE_STALLED && fmod(w->t, 1.0) < 0.5;
    rgb8 lamp = a->braking ? (rgb8){255, 30, 30} : hazard ? (rgb8){255, 160, 0} : scale((rgb8){110, 20, 20}, pal->ambient);
    double c = cos(a->yaw), s = sin(a->yaw);
    for (int side = -1; side <= 1; side += 2) {
        double rx = a->x - (0.5 * a->length + 0.02) * c - side * 0.35 * a->width * s;
        double ry = a->y - (0.5 * a->length + 0.02) * s + side * 0.35 * a->width * c;
        box3 l = box3_upright(rx, ry, 0.75, a->yaw, 0.06, 0.3, 0.15);
        raster_box(fb, cam, &l, lamp, RENDER_CLASS_VEHICLE);
    }
}

/* A limb from a joint along a direction (unit), as a thin box. */
static box3 limb(const double joint[3], const double dir[3], double length, double thickness) {
    box3 b;
    double up[3] = {0, 0, 1};
    if (fabs(dir[2]) > 0.9) up[0] = 1, up[2] = 0;
    double side[3] = {dir[1] * up[2] - dir[2] * up[1], dir[2] * up[0] - dir[0] * up[2], dir[0] * up[1] - dir[1] * up[0]};
    double n = sqrt(side[0] * side[0] + side[1] * side[1] + side[2] * side[2]);
    for (int k = 0; k < 3; k++) side[k] /= n;
    double third[3] = {dir[1] * side[2] - dir[2] * side[1], dir[2] * side[0] - dir[0] * side[2],
                       dir[0] * side[1] - dir[1] * side[0]};
    for (int k = 0; k < 3; k++) {
        b.center[k] = joint[k] + 0.5 * length * dir[k];
        b.axis[0][k] = dir[k], b.axis[1][k] = side[k], b.axis[2][k] = third[k];
    }
    b.half[0] = 0.5 * length, b.half[1] = b.half[2] = 0.5 * thickness;
    return b;
}

/* The baton arm's direction in the guard's frame (f towards the ego, l the
 * guard's left, u up) for each gesture; animated ones move with time. */
static void gesture_arm(gesture g, double t, double phase, double out[3]) {
    double wave = sin(2.0 * WM_PI * (0.8 * t + phase));
    double f = 0, l = 0, u = -1;
    switch (g) {
    case GESTURE_STOP: f = 0.25, l = 0.0, u = 1.0; break;                        /* raised high, held */
    case GESTURE_PROCEED: f = 0.7 * wave, l = -1.0, u = 0.1; break;              /* sweeping traffic on past its right */
    case GESTURE_SLOW: f = 0.3, l = 1.0, u = 0.5 * wave - 0.2; break;            /* up and down */
    /* Facing the ego, the guard points to its own right for the ego's left. */
    case GESTURE_TURN_LEFT: f = 0.2, l = -1.0, u = 0.25 + 0.2 * wave; break;
    case GESTURE_TURN_RIGHT: f = 0.2, l = 1.0, u = 0.25 + 0.2 * wave; break;
    case GESTURE_NONE: break;
    }
    double n = sqrt(f * f + l * l + u * u);
    out[0] = f / n, out[1] = l / n, out[2] = u / n;
}

static void draw_guard(framebuffer *fb, const camera *cam, const sim_world *w, const palette *pal, int i) {
    const sim_actor *a = &w->actors[i];
    /* A guard faces oncoming traffic: towards the ego. */
    double yaw = wrap_angle(a->yaw + WM_PI), c = cos(yaw), s = sin(yaw);
    double fwd[3] = {c, s, 0}, left[3] = {-s, c, 0};
    box3 legs = box3_upright(a->x, a->y, 0.0, yaw, 0.25, 0.4, 0.9);
    draw_box_lit(fb, cam, w, pal, &legs, (rgb8){30, 35, 60}, RENDER_CLASS_GUARD);
    box3 torso = box3_upright(a->x, a->y, 0.9, yaw, 0.3, 0.5, 0.65);
    rgb8 vest = {255, 120, 0};
    /* The vest is retro-reflective: at night it shows where headlights reach. */
    rgb8 vest_lit = w->sc->lighting == LIGHTING_NIGHT ? scale(vest, 0.35 + 0.8 * headlight(w, a->x, a->y)) : vest;
    raster_box(fb, cam, &torso, vest_lit, RENDER_CLASS_GUARD);
    box3 head = box3_upright(a->x, a->y, 1.55, yaw, 0.22, 0.22, 0.22);
    draw_box_lit(fb, cam, w, pal, &head, (rgb8){220, 180, 140}, RENDER_CLASS_GUARD);
    box3 helmet = box3_upright(a->x, a->y, 1.75, yaw, 0.3, 0.3, 0.12);
    draw_box_lit(fb, cam, w, pal, &helmet, (rgb8){250, 240, 60}, RENDER_CLASS_GUARD);

    double arm_local[3], arm[3];
    gesture_arm(a->gesture, w->t, a->anim_phase, arm_local);
    for (int k = 0; k < 3; k++) arm[k] = arm_local[0] * fwd[k] + arm_local[1] * left[k] + (k == 2 ? arm_local[2] : 0);
    double baton_shoulder[3] = {a->x - 0.35 * left[0], a->y - 0.35 * left[1], 1.45};
    if (arm_local[1] > 0) baton_shoulder[0] = a->x + 0.35 * left[0], baton_shoulder[1] = a->y + 0.35 * left[1];
    double other_shoulder[3] = {2 * a->x - baton_shoulder[0], 2 * a->y - baton_shoulder[1], 1.45};
    /* Limbs are drawn thicker than life (20 cm, baton 14 cm) so that at the
     * default 128x64 camera the arm covers whole pixels from 15 m. */
    box3 upper = limb(baton_shoulder, arm, 0.65, 0.2);
    draw_box_lit(fb, cam, w, pal, &upper, vest, RENDER_CLASS_GUARD_ARM);
    double hand[3] = {baton_shoulder[0] + 0.65 * arm[0], baton_shoulder[1] + 0.65 * arm[1], 1.45 + 0.65 * arm[2]};
    box3 baton = limb(hand, arm, 0.45, 0.14);
    rgb8 red = {255, 25, 25};
    raster_box(fb, cam, &baton, w->sc->lighting == LIGHTING_NIGHT ? (rgb8){255, 60, 60} : red, /* it glows */
               RENDER_CLASS_GUARD_ARM);
    /* STOP also shows the free palm to the ego; otherwise that arm hangs. */
    double other_dir[3] = {0, 0, -1};
    if (a->gesture == GESTURE_STOP) other_dir[0] = fwd[0], other_dir[1] = fwd[1], other_dir[2] = 0.15;
    box3 other = limb(other_shoulder, other_dir, 0.6, 0.2);
    draw_box_lit(fb, cam, w, pal, &other, vest, RENDER_CLASS_GUARD);
}

static void draw_obstacle(framebuffer *fb, const camera *cam, const sim_world *w, const palette *pal, int i) {
    const scenario_obstacle *o = &w->sc->actors[i].u.obstacle;
    double d = road_lane_center(&w->road, o->lane);
    int n = (int)floor((o->s_end - o->s_start) / o->spacing + 1e-9) + 1;
    for (int k = 0; k < n; k++) {
        road_pose p = road_pose_at(&w->road, o->s_start + k * o->spacing, d);
        if (o->kind == OBSTACLE_CONE) {
            box3 base = box3_upright(p.x, p.y, 0.0, p.heading, 0.4, 0.4, 0.35);
            box3 top = box3_upright(p.x, p.y, 0.35, p.heading, 0.2, 0.2, 0.35);
            draw_box_lit(fb, cam, w, pal, &base, (rgb8){255, 100, 10}, RENDER_CLASS_CONE);
            draw_box_lit(fb, cam, w, pal, &top, (k & 1) ? (rgb8){240, 240, 240} : (rgb8){255, 100, 10},
                         RENDER_CLASS_CONE);
        } else {
            box3 bar = box3_upright(p.x, p.y, 0.0, p.heading, 0.5, 0.8 * w->road.lane_width, 1.0);
            draw_box_lit(fb, cam, w, pal, &bar, (k & 1) ? (rgb8){230, 230, 230} : (rgb8){220, 30, 30},
                         RENDER_CLASS_BARRIER);
        }
    }
}

/* What a sign says: its text, else what its kind implies. */
static const char *sign_words(const scenario_sign *sg, char *buf, size_t n) {
    if (sg->text[0]) return sg->text;
    switch (sg->kind) {
    case SIGN_SPEED_LIMIT: snprintf(buf, n, "%.0f", sg->speed_limit * 3.6); return buf;
    case SIGN_STOP: return "STOP";
    case SIGN_WORK_ZONE: return "ROAD WORK";
    case SIGN_INFO: return "";
    }
    return "";
}

static void draw_sign(framebuffer *fb, const camera *cam, const sim_world *w, const palette *pal, int i) {
    const sim_actor *a = &w->actors[i];
    const scenario_sign *sg = &w->sc->actors[i].u.sign;
    const double board_w = 2.0, board_h = 1.2, board_z = 1.4;
    double c = cos(a->yaw), s = sin(a->yaw);
    box3 post = box3_upright(a->x, a->y, 0.0, a->yaw, 0.1, 0.1, board_z);
    draw_box_lit(fb, cam, w, pal, &post, (rgb8){150, 150, 150}, RENDER_CLASS_POLE);
    rgb8 face = sg->kind == SIGN_WORK_ZONE ? (rgb8){255, 140, 0}
                : sg->kind == SIGN_STOP     ? (rgb8){200, 20, 20}
                                            : (rgb8){240, 240, 240};
    rgb8 ink = sg->kind == SIGN_STOP ? (rgb8){250, 250, 250} : (rgb8){15, 15, 15};
    box3 board = box3_upright(a->x, a->y, board_z, a->yaw, 0.05, board_w, board_h);
    /* Signs are retro-reflective: bright at night too. */
    raster_box(fb, cam, &board, w->sc->lighting == LIGHTING_NIGHT ? scale(face, 0.8) : face, RENDER_CLASS_SIGN);
    char buf[32];
    const char *words = sign_words(sg, buf, sizeof buf);
    if (!words[0]) return;
    text_mask m;
    text_mask_layout(&m, words, 10);
    /* The lettering keeps its aspect, centred on the face turned to the
     * camera; (lx, ly) points to the viewer's left along the board. */
    double mpp = fmin(0.92 * board_w / m.width, 0.9 * board_h / m.height); /* metres per font pixel */
    double half_w = 0.5 * mpp * m.width, half_h = 0.5 * mpp * m.height, mid = board_z + 0.5 * board_h;
    double to_cam = (cam->pos[0] - a->x) * c + (cam->pos[1] - a->y) * s;
    double side = to_cam >= 0 ? 1.0 : -1.0, fx = a->x + side * 0.026 * c, fy = a->y + side * 0.026 * s;
    double lx = side * s * half_w, ly = -side * c * half_w;
    double quad[4][3] = {{fx + lx, fy + ly, mid + half_h}, {fx - lx, fy - ly, mid + half_h},
                         {fx - lx, fy - ly, mid - half_h}, {fx + lx, fy + ly, mid - half_h}};
    raster_decal(fb, cam, (const double(*)[3])quad, m.ink, m.width, m.height, ink);
    text_mask_free(&m);
}

static void draw_roadside(framebuffer *fb, const camera *cam, const sim_world *w, const palette *pal) {
    const double spacing = 14.0, width = w->road.n_lanes * w->road.lane_width;
    int first = (int)floor((w->ego_s - 10.0) / spacing), last = (int)ceil((w->ego_s + 150.0) / spacing);
    for (int k = first; k <= last; k++) {
        for (int side = 0; side < 2; side++) {
            /* Placement depends only on the seed and the slot, not on time. */
            wm_rng r = rng_fork(w->sc->seed, (uint64_t)(2 * (int64_t)k + side) + 0x5eedULL);
            if (rng_uniform(&r) < 0.35) continue;
            double s = (k + rng_uniform(&r)) * spacing;
            double off = w->road.shoulder + 2.5 + 6.0 * rng_uniform(&r);
            double kind = rng_uniform(&r);
            if (kind >= 0.85) off += 10.0; /* buildings stand back from the road */
            road_pose p = road_pose_at(&w->road, s, side ? width + off : -off);
            if (kind < 0.65) {
                box3 trunk = box3_upright(p.x, p.y, 0.0, p.heading, 0.3, 0.3, 2.0);
                box3 crown = box3_upright(p.x, p.y, 2.0, p.heading, 2.2, 2.2, 2.6);
                draw_box_lit(fb, cam, w, pal, &trunk, (rgb8){90, 60, 35}, RENDER_CLASS_VEGETATION);
                draw_box_lit(fb, cam, w, pal, &crown, (rgb8){40, 110, 45}, RENDER_CLASS_VEGETATION);
            } else if (kind < 0.85) {
                box3 pole = box3_upright(p.x, p.y, 0.0, p.heading, 0.18, 0.18, 6.0);
                draw_box_lit(fb, cam, w, pal, &pole, (rgb8){130, 130, 125}, RENDER_CLASS_POLE);
            } else {
                static const rgb8 walls[3] = {{190, 170, 140}, {160, 120, 100}, {200, 200, 195}};
                box3 house = box3_upright(p.x, p.y, 0.0, p.heading, 8.0 + 6.0 * rng_uniform(&r), 7.0,
                                          5.0 + 6.0 * rng_uniform(&r));
                draw_box_lit(fb, cam, w, pal, &house, walls[rng_u64(&r) % 3], RENDER_CLASS_BUILDING);
            }
        }
    }
}

static void draw_pedestrian(framebuffer *fb, const camera *cam, const sim_world *w, const palette *pal, int i) {
    const sim_actor *a = &w->actors[i];
    box3 legs = box3_upright(a->x, a->y, 0.0, a->yaw, 0.25, 0.4, 0.9);
    box3 body = box3_upright(a->x, a->y, 0.9, a->yaw, 0.3, 0.5, 0.65);
    box3 head = box3_upright(a->x, a->y, 1.55, a->yaw, 0.22, 0.22, 0.22);
    draw_box_lit(fb, cam, w, pal, &legs, (rgb8){40, 40, 90}, RENDER_CLASS_PEDESTRIAN);
    draw_box_lit(fb, cam, w, pal, &body, (rgb8){40, 150, 200}, RENDER_CLASS_PEDESTRIAN);
    draw_box_lit(fb, cam, w, pal, &head, (rgb8){220, 180, 140}, RENDER_CLASS_PEDESTRIAN);
}

int renderer_init(renderer *r, const camera_params *cp, int supersample, wm_error *err) {
    memset(r, 0, sizeof *r);
    if (camera_params_check(cp, err)) return -1;
    if (supersample != 1 && supersample != 2)
        return wm_fail(err, "render: supersample %d is not 1 or 2", supersample);
    r->cp = *cp;
    r->supersample = supersample;
    framebuffer_init(&r->fb, cp->width * supersample, cp->height * supersample);
    image_init(&r->frame, cp->width, cp->height);
    r->semantic = CALLOC_CHECK((size_t)cp->width * cp->height, 1);
    return 0;
}

void renderer_free(renderer *r) {
    framebuffer_free(&r->fb);
    image_free(&r->frame);
    free(r->semantic);
    r->semantic = NULL;
}

/* Box-filters the supersampled buffer; a pixel's class is its first sample's,
 * so class ids stay ids rather than blends. */
static void resolve(renderer *r) {
    const int n = r->supersample, W = r->cp.width, H = r->cp.height, FW = r->fb.img.width;
    if (n == 1) {
        memcpy(r->frame.rgb, r->fb.img.rgb, (size_t)W * H * 3);
        memcpy(r->semantic, r->fb.cls, (size_t)W * H);
        return;
    }
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            const uint8_t *a = r->fb.img.rgb + 3 * ((size_t)(2 * y) * FW + 2 * x), *b = a + 3 * (size_t)FW;
            uint8_t *o = r->frame.rgb + 3 * ((size_t)y * W + x);
            for (int c = 0; c < 3; c++) o[c] = (uint8_t)((a[c] + a[c + 3] + b[c] + b[c + 3] + 2) / 4);
            r->semantic[(size_t)y * W + x] = r->fb.cls[(size_t)(2 * y) * FW + 2 * x];
        }
}

void render_frame(renderer *r, const sim_world *w) {
    const palette *pal = &PALETTES[w->sc->lighting];
    framebuffer *fb = &r->fb;
    camera_params cp = r->cp;
    cp.width *= r->supersample, cp.height *= r->supersample;
    camera cam;
    camera_init(&cam, &cp, w->ego.x, w->ego.y, w->ego.yaw);
    framebuffer_clear_depth(fb);
    draw_ground_and_sky(w, &cam, pal, fb);
    draw_roadside(fb, &cam, w, pal);
    for (int i = 0; i < w->n_actors; i++) {
        switch (w->actors[i].kind) {
        case ACTOR_VEHICLE: draw_vehicle(fb, &cam, w, pal, i); break;
        case ACTOR_GUARD: draw_guard(fb, &cam, w, pal, i); break;
        case ACTOR_OBSTACLE: draw_obstacle(fb, &cam, w, pal, i); break;
        case ACTOR_SIGN: draw_sign(fb, &cam, w, pal, i); break;
        case ACTOR_PEDESTRIAN: draw_pedestrian(fb, &cam, w, pal, i); break;
        }
    }
    resolve(r);
}

static const struct {
    const char *name;
    rgb8 colour;
} CLASSES[RENDER_CLASS_COUNT] = {
    [RENDER_CLASS_SKY] = {"sky", {70, 130, 180}},
    [RENDER_CLASS_ROAD] = {"road", {128, 64, 128}},
    [RENDER_CLASS_LANE_MARKING] = {"lane_marking", {255, 255, 255}},
    [RENDER_CLASS_SHOULDER] = {"shoulder", {244, 35, 232}},
    [RENDER_CLASS_TERRAIN] = {"terrain", {152, 251, 152}},
    [RENDER_CLASS_VEGETATION] = {"vegetation", {107, 142, 35}},
    [RENDER_CLASS_POLE] = {"pole", {153, 153, 153}},
    [RENDER_CLASS_BUILDING] = {"building", {70, 70, 70}},
    [RENDER_CLASS_VEHICLE] = {"vehicle", {0, 0, 142}},
    [RENDER_CLASS_PEDESTRIAN] = {"pedestrian", {220, 20, 60}},
    [RENDER_CLASS_GUARD] = {"guard", {255, 128, 0}},
    [RENDER_CLASS_GUARD_ARM] = {"guard_arm", {255, 255, 0}},
    [RENDER_CLASS_SIGN] = {"sign", {220, 220, 0}},
    [RENDER_CLASS_CONE] = {"cone", {255, 80, 80}},
    [RENDER_CLASS_BARRIER] = {"barrier", {190, 153, 153}},
};

const char *render_class_name(render_class c) { return c < RENDER_CLASS_COUNT ? CLASSES[c].name : "unknown"; }

rgb8 render_class_colour(render_class c) { return c < RENDER_CLASS_COUNT ? CLASSES[c].colour : (rgb8){0, 0, 0}; }

void render_semantic_image(const renderer *r, image *img) {
    image_init(img, r->cp.width, r->cp.height);
    for (size_t k = 0; k < (size_t)r->cp.width * r->cp.height; k++) {
        rgb8 c = render_class_colour((render_class)r->semantic[k]);
        img->rgb[3 * k] = c.r, img->rgb[3 * k + 1] = c.g, img->rgb[3 * k + 2] = c.b;
    }
}
