/* Overlays: the HUD's documented layout pixel for pixel, the bird's-eye
 * view's orientation (ahead is up, left is left, heading-up), and
 * side-by-side sizes, labels and errors. */
#include <math.h>

#include "render/font.h"
#include "render/overlay.h"
#include "testutil.h"

/* The colours overlay.c draws with. */
static const rgb8 WHITE = {255, 255, 255}, BLACK = {0, 0, 0}, BAR_BRAKE = {240, 40, 40}, BAR_ACCEL = {40, 210, 60},
                  AMBER = {255, 190, 40}, TEXT_RED = {255, 70, 70}, TEXT_GREEN = {80, 230, 80},
                  LABEL = {190, 215, 255}, LABEL_BOX = {16, 16, 16};

#define GREY 100 /* background; the HUD darkens it to GREY / 3 */

static int ink_of(const char *s) {
    int n = 0;
    uint32_t cp;
    while (utf8_next(&s, &cp))
        for (int y = 0; y < FONT_GLYPH_H; y++)
            for (int x = 0; x < FONT_GLYPH_W; x++) n += font_glyph_ink(cp, x, y);
    return n;
}

static int is(const image *img, int x, int y, rgb8 c) {
    const uint8_t *p = img->rgb + 3 * ((size_t)y * img->width + x);
    return p[0] == c.r && p[1] == c.g && p[2] == c.b;
}

/* Pixels of colour c in rows [y0, y1) and columns [x0, x1). */
static int count_in(const image *img, rgb8 c, int x0, int y0, int x1, int y1) {
    int n = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) n += is(img, x, y, c);
    return n;
}

static int count_all(const image *img, rgb8 c) { return count_in(img, c, 0, 0, img->width, img->height); }

static void fill(image *img, uint8_t v) { memset(img->rgb, v, (size_t)img->width * img->height * 3); }

static hud_info plain_hud(void) {
    return (hud_info){.t = 12.3, .speed_mps = 50 / 3.6, .score = -1};
}

static void grey_hud(image *img, int w, int h, const hud_info *hi) {
    image_init(img, w, h);
    fill(img, GREY);
    overlay_hud(img, hi);
}

/* ---- HUD ---- */

START_TEST(hud_and_bev_never_write_outside_the_image) {
    static const int sizes[][2] = {{1, 1}, {5, 3}, {16, 8}, {31, 40}, {40, 20}, {64, 32}, {128, 64}, {511, 64},
                                   {512, 256}, {1000, 30}, {30, 1000}};
    hud_info h = {.t = 1e9, .speed_mps = 1e9, .speed_limit_mps = 1e9, .accel = 1, .brake = 1, .steer = -1,
                  .gesture_ahead = "PROCEED THROUGH THE WORK ZONE AND KEEP LEFT 120 m", .score = 123456.0,
                  .label = "a label far longer than any frame is wide, with ÜTF-8 → \xFF"};
    scenario *sc = CALLOC_CHECK(1, sizeof *sc);
    sim_world *w = CALLOC_CHECK(1, sizeof *w);
    sc->road.n_segments = 1, sc->road.segments[0].length = 100, sc->road.n_lanes = 1, sc->road.lane_width = 3.5;
    road_init(&w->road, &sc->road);
    w->sc = sc;
    w->ego_params.wheelbase = 2.8;
    w->ego = vehicle_state_at(10, 1.75, 0, 5);
    w->n_actors = 1, w->actors[0].kind = ACTOR_VEHICLE, w->actors[0].x = 20, w->actors[0].y = 2;
    w->actors[0].length = 1e6, w->actors[0].width = 1e6; /* covers everything */
    const double path[3][2] = {{-1e12, 0}, {NAN, 5}, {1e12, 1e12}};
    enum { PAD = 256 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        const int W = sizes[i][0], H = sizes[i][1];
        size_t n = 3 * (size_t)W * H;
        uint8_t *buf = MALLOC_CHECK(n + 2 * PAD);
        memset(buf, 0x5A, n + 2 * PAD);
        image img = {W, H, buf + PAD};
        overlay_hud(&img, &h);
        overlay_bev(&img, w, path, 3, path, 3);
        for (int b = 0; b < PAD; b++) {
            ck_assert_msg(buf[b] == 0x5A && buf[PAD + n + b] == 0x5A, "%dx%d: wrote outside the image", W, H);
        }
        free(buf);
    }
    free(w);
    free(sc);
}
END_TEST

START_TEST(hud_darkens_its_strips_and_leaves_the_middle) {
    image img;
    hud_info h = plain_hud();
    grey_hud(&img, 128, 64, &h);
    /* Row 0 holds no glyph (text starts at row s); the last row neither. */
    for (int x = 0; x < 128; x++) {
        ck_assert(is(&img, x, 0, (rgb8){33, 33, 33}));
        ck_assert(is(&img, x, 63, (rgb8){33, 33, 33}));
    }
    /* Between the bars, above the steer bar, left of the inset: untouched. */
    for (int y = 11; y < 49; y++)
        for (int x = 5; x < 90; x++) ck_assert(is(&img, x, y, (rgb8){GREY, GREY, GREY}));
    image_free(&img);
}
END_TEST

START_TEST(hud_text_is_exactly_the_speed_and_time) {
    for (int big = 0; big < 2; big++) {
        const int W = big ? 512 : 128, H = big ? 256 : 64, s = big ? 2 : 1;
        image img;
        hud_info h = plain_hud();
        grey_hud(&img, W, H, &h);
        ck_assert_int_eq(count_in(&img, WHITE, 0, 0, W, 10 * s), (ink_of("50 km/h") + ink_of("t=12.3 s")) * s * s);
        /* Where the header says: speed from x = 2s, time ending at W - 2s. */
        ck_assert_int_eq(count_in(&img, WHITE, 2 * s, s, 2 * s + font_text_width("50 km/h", s), 9 * s),
                         ink_of("50 km/h") * s * s);
        int tw = font_text_width("t=12.3 s", s);
        ck_assert_int_eq(count_in(&img, WHITE, W - 2 * s - tw, s, W - 2 * s, 9 * s), ink_of("t=12.3 s") * s * s);
        image_free(&img);
    }
}
END_TEST

START_TEST(hud_speed_over_the_limit_turns_red_beside_the_limit_sign) {
    image img;
    hud_info h = plain_hud();
    h.speed_limit_mps = 40 / 3.6;
    grey_hud(&img, 128, 64, &h);
    /* Sign: "40" is 11 px; box 15 x 10 with a 1 px red border. */
    const int border = 15 * 10 - 13 * 8;
    ck_assert_int_eq(count_all(&img, TEXT_RED), ink_of("50 km/h") + border);
    ck_assert_int_eq(count_all(&img, BLACK), ink_of("40"));
    ck_assert_int_eq(count_in(&img, WHITE, 0, 0, 128, 10), ink_of("t=12.3 s") + 13 * 8 - ink_of("40"));
    image_free(&img);

    /* At the limit: white speed, same sign. */
    h.speed_mps = 40 / 3.6;
    grey_hud(&img, 128, 64, &h);
    ck_assert_int_eq(count_all(&img, TEXT_RED), border);
    ck_assert_int_eq(count_in(&img, WHITE, 0, 0, 128, 10), ink_of("40 km/h") + ink_of("t=12.3 s") + 13 * 8 - ink_of("40"));
    image_free(&img);
}
END_TEST

START_TEST(hud_label_is_cut_to_its_gap_or_left_out) {
    image img;
    hud_info h = plain_hud();
    h.label = "expert";
    /* 128 px: 30 px between speed and time, five glyphs. */
    grey_hud(&img, 128, 64, &h);
    ck_assert_int_eq(count_all(&img, LABEL), ink_of("expe…"));
    image_free(&img);
    grey_hud(&img, 512, 256, &h);
    ck_assert_int_eq(count_all(&img, LABEL), 4 * ink_of("expert"));
    image_free(&img);
    /* The limit sign leaves two glyphs: too few to say anything. */
    h.speed_limit_mps = 20;
    grey_hud(&img, 128, 64, &h);
    ck_assert_int_eq(count_all(&img, LABEL), 0);
    image_free(&img);
}
END_TEST

START_TEST(hud_gesture_and_score_share_the_bottom_strip) {
    image img;
    hud_info h = plain_hud();
    h.gesture_ahead = "STOP 23 m";
    h.score = 0.87;
    grey_hud(&img, 512, 256, &h);
    ck_assert_int_eq(count_in(&img, TEXT_RED, 0, 236, 512, 256), 4 * ink_of("STOP 23 m"));
    ck_assert_int_eq(count_in(&img, WHITE, 0, 236, 512, 256), 4 * ink_of("score 0.87"));
    image_free(&img);

    /* 128 px: the score drops its word before the gesture is cut. */
    h.gesture_ahead = "PROCEED 120 m";
    grey_hud(&img, 128, 64, &h);
    ck_assert_int_eq(count_in(&img, TEXT_GREEN, 0, 54, 128, 64), ink_of("PROCEED 120 m"));
    ck_assert_int_eq(count_in(&img, WHITE, 0, 54, 128, 64), ink_of("0.87"));
    image_free(&img);

    /* Still too long: cut to 98 px (16 glyphs) with an ellipsis. */
    h.gesture_ahead = "PROCEED THROUGH THE WORK ZONE 40 m";
    grey_hud(&img, 128, 64, &h);
    ck_assert_int_eq(count_in(&img, TEXT_GREEN, 0, 54, 128, 64), ink_of("PROCEED THROUGH…"));
    image_free(&img);

    /* Other gestures in amber; no score, no score text. */
    h.gesture_ahead = "SLOW 10 m";
    h.score = -1;
    grey_hud(&img, 128, 64, &h);
    ck_assert_int_eq(count_in(&img, AMBER, 0, 54, 128, 64), ink_of("SLOW 10 m"));
    ck_assert_int_eq(count_in(&img, WHITE, 0, 54, 128, 64), 0);
    image_free(&img);
}
END_TEST

START_TEST(hud_pedal_bars_fill_from_the_bottom) {
    for (int big = 0; big < 2; big++) {
        const int W = big ? 512 : 128, H = big ? 256 : 64, s = big ? 2 : 1;
        const int top = 11 * s, bottom = H - 11 * s, rows = bottom - top; /* 42 or 212 */
        image img;
        hud_info h = plain_hud();
        grey_hud(&img, W, H, &h);
        ck_assert_int_eq(count_all(&img, BAR_BRAKE), 0);
        ck_assert_int_eq(count_all(&img, BAR_ACCEL), 0);
        image_free(&img);

        h.brake = 1;
        grey_hud(&img, W, H, &h);
        ck_assert_int_eq(count_all(&img, BAR_BRAKE), 3 * s * rows);
        ck_assert_int_eq(count_in(&img, BAR_BRAKE, s, top, 4 * s, bottom), 3 * s * rows);
        ck_assert_int_eq(count_all(&img, BAR_ACCEL), 0);
        image_free(&img);

        h.brake = 0, h.accel = 0.5;
        grey_hud(&img, W, H, &h);
        ck_assert_int_eq(count_all(&img, BAR_BRAKE), 0);
        ck_assert_int_eq(count_in(&img, BAR_ACCEL, W - 4 * s, bottom - rows / 2, W - s, bottom), 3 * s * rows / 2);
        ck_assert_int_eq(count_all(&img, BAR_ACCEL), 3 * s * rows / 2);
        image_free(&img);

        /* Out of range and NaN are clamped, NaN to empty. */
        h.accel = NAN, h.brake = 7;
        grey_hud(&img, W, H, &h);
        ck_assert_int_eq(count_all(&img, BAR_ACCEL), 0);
        ck_assert_int_eq(count_all(&img, BAR_BRAKE), 3 * s * rows);
        image_free(&img);
    }
}
END_TEST

START_TEST(hud_steer_bar_fills_towards_the_side_steered_to) {
    /* 128 px: bar 32 wide at x 48..80, centre 64, rows 50..52, tick at 63..64. */
    image img;
    hud_info h = plain_hud();
    grey_hud(&img, 128, 64, &h);
    ck_assert_int_eq(count_all(&img, AMBER), 0);
    ck_assert_int_eq(count_in(&img, WHITE, 63, 50, 65, 53), 6);
    image_free(&img);

    h.steer = 1; /* full left */
    grey_hud(&img, 128, 64, &h);
    ck_assert_int_eq(count_all(&img, AMBER), 15 * 3);
    ck_assert_int_eq(count_in(&img, AMBER, 48, 50, 63, 53), 15 * 3);
    image_free(&img);

    h.steer = -0.5;
    grey_hud(&img, 128, 64, &h);
    ck_assert_int_eq(count_all(&img, AMBER), 7 * 3);
    ck_assert_int_eq(count_in(&img, AMBER, 65, 50, 72, 53), 7 * 3);
    image_free(&img);

    h.steer = -9;
    grey_hud(&img, 128, 64, &h);
    ck_assert_int_eq(count_in(&img, AMBER, 65, 50, 80, 53), 15 * 3);
    image_free(&img);
}
END_TEST

/* ---- bird's-eye view ---- */

/* A straight two-lane road along +x (or the given segments), the ego body
 * centre at (x, y) heading yaw. */
typedef struct {
    scenario sc;
    sim_world w;
} bev_world;

static bev_world *make_world(double x, double y, double yaw) {
    bev_world *b = CALLOC_CHECK(1, sizeof *b);
    scenario_road *r = &b->sc.road;
    r->n_segments = 1, r->segments[0].length = 500;
    r->n_lanes = 2, r->lane_width = 3.5, r->shoulder = 0.5, r->speed_limit = 20;
    r->markings[0] = LANE_MARKING_DASHED;
    b->w.sc = &b->sc;
    road_init(&b->w.road, r);
    b->w.ego_params.wheelbase = 2.8, b->w.ego_params.length = 4.6, b->w.ego_params.width = 1.9;
    b->w.ego = vehicle_state_at(x - 1.4 * cos(yaw), y - 1.4 * sin(yaw), yaw, 10);
    return b;
}

static sim_actor *add_actor(bev_world *b, actor_kind kind, double x, double y) {
    int i = b->w.n_actors++;
    b->sc.n_actors = b->w.n_actors;
    b->sc.actors[i].kind = kind;
    sim_actor *a = &b->w.actors[i];
    a->kind = kind, a->x = x, a->y = y, a->length = 4.6, a->width = 1.9;
    return a;
}

typedef struct {
    int n, min_x, max_x, min_y, max_y;
} diff_box;

static diff_box diff(const image *a, const image *b) {
    diff_box d = {0, 1 << 30, -1, 1 << 30, -1};
    for (int y = 0; y < a->height; y++)
        for (int x = 0; x < a->width; x++)
            if (memcmp(a->rgb + 3 * ((size_t)y * a->width + x), b->rgb + 3 * ((size_t)y * b->width + x), 3)) {
                d.n++;
                if (x < d.min_x) d.min_x = x;
                if (x > d.max_x) d.max_x = x;
                if (y < d.min_y) d.min_y = y;
                if (y > d.max_y) d.max_y = y;
            }
    return d;
}

static const uint8_t *changed_pixel(const image *a, const image *b) {
    for (size_t i = 0; i < (size_t)a->width * a->height; i++)
        if (memcmp(a->rgb + 3 * i, b->rgb + 3 * i, 3)) return a->rgb + 3 * i;
    ck_abort_msg("no pixel changed");
    return NULL;
}

static void bev_image(image *img, int W, int H, const sim_world *w, const double (*past)[2], int np,
                      const double (*plan)[2], int nq) {
    image_init(img, W, H);
    fill(img, GREY);
    overlay_bev(img, w, past, np, plan, nq);
}

/* What one actor adds to the inset, against the same world without it. */
static diff_box actor_diff(bev_world *b, int W, int H) {
    image with, without;
    bev_image(&with, W, H, &b->w, NULL, 0, NULL, 0);
    b->w.n_actors--;
    bev_image(&without, W, H, &b->w, NULL, 0, NULL, 0);
    b->w.n_actors++;
    diff_box d = diff(&with, &without);
    image_free(&with);
    image_free(&without);
    return d;
}

START_TEST(bev_rect_is_where_documented) {
    int x, y, side;
    overlay_bev_rect(128, 64, &x, &y, &side);
    ck_assert_int_eq(x, 91);
    ck_assert_int_eq(y, 11);
    ck_assert_int_eq(side, 32);
    overlay_bev_rect(512, 256, &x, &y, &side);
    ck_assert_int_eq(x, 417);
    ck_assert_int_eq(y, 22);
    ck_assert_int_eq(side, 85);
    overlay_bev_rect(20, 10, &x, &y, &side); /* capped to fit */
    ck_assert_int_eq(x, 5);
    ck_assert_int_eq(y, 0);
    ck_assert_int_eq(side, 10);
}
END_TEST

START_TEST(bev_draws_only_inside_its_square) {
    bev_world *b = make_world(50, 1.75, 0);
    add_actor(b, ACTOR_VEHICLE, 80, 1.75);
    const double past[2][2] = {{-500, 1.75}, {50, 1.75}}, plan[2][2] = {{50, 1.75}, {900, -300}};
    for (int big = 0; big < 2; big++) {
        const int W = big ? 512 : 128, H = big ? 256 : 64;
        image img;
        bev_image(&img, W, H, &b->w, past, 2, plan, 2);
        int x0, y0, side, changed = 0;
        overlay_bev_rect(W, H, &x0, &y0, &side);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int in = x >= x0 && x < x0 + side && y >= y0 && y < y0 + side;
                int same = is(&img, x, y, (rgb8){GREY, GREY, GREY});
                ck_assert_msg(in || same, "%dx%d: pixel (%d, %d) outside the inset changed", W, H, x, y);
                changed += in && !same;
            }
        ck_assert_int_eq(changed, side * side); /* opaque */
        image_free(&img);
    }
    free(b);
}
END_TEST

START_TEST(bev_actor_ahead_is_above_the_ego) {
    for (int big = 0; big < 2; big++) {
        const int W = big ? 512 : 128, H = big ? 256 : 64;
        int x0, y0, side;
        overlay_bev_rect(W, H, &x0, &y0, &side);
        const int ex = x0 + side / 2, ey = y0 + 3 * side / 4;
        const double px_per_m = side / 80.0;

        bev_world *b = make_world(50, 1.75, 0);
        add_actor(b, ACTOR_VEHICLE, 80, 1.75); /* 30 m straight ahead */
        diff_box d = actor_diff(b, W, H);
        ck_assert_int_gt(d.n, 0);
        ck_assert_int_lt(d.max_y, ey - (int)(25 * px_per_m));
        ck_assert_int_gt(d.min_y, ey - (int)(35 * px_per_m) - 2);
        ck_assert_int_ge(d.min_x, ex - 2 - (int)px_per_m);
        ck_assert_int_le(d.max_x, ex + 1 + (int)px_per_m);
        free(b);

        /* In the lane to the left: left of the ego. */
        b = make_world(50, 1.75, 0);
        add_actor(b, ACTOR_VEHICLE, 80, 1.75 + 3.5);
        d = actor_diff(b, W, H);
        ck_assert_int_gt(d.n, 0);
        ck_assert_int_lt(d.max_x, ex - 1);
        ck_assert_int_lt(d.max_y, ey);
        free(b);

        /* 15 m behind: below. */
        b = make_world(50, 1.75, 0);
        add_actor(b, ACTOR_PEDESTRIAN, 35, 1.75);
        d = actor_diff(b, W, H);
        ck_assert_int_gt(d.n, 0);
        ck_assert_int_gt(d.min_y, ey + (int)(10 * px_per_m));
        free(b);
    }
}
END_TEST

START_TEST(bev_is_heading_up) {
    const int W = 512, H = 256;
    int x0, y0, side;
    overlay_bev_rect(W, H, &x0, &y0, &side);
    const int ex = x0 + side / 2, ey = y0 + 3 * side / 4;
    /* Ego turned 0.5 rad to the left: a car 30 m along the road is now to
     * its right, a car 30 m along its heading straight above it. */
    bev_world *b = make_world(50, 1.75, 0.5);
    add_actor(b, ACTOR_VEHICLE, 80, 1.75);
    diff_box d = actor_diff(b, W, H);
    ck_assert_int_gt(d.n, 0);
    ck_assert_int_gt(d.min_x, ex + 10);
    ck_assert_int_lt(d.max_y, ey - 20);
    free(b);
    b = make_world(50, 1.75, 0.5);
    add_actor(b, ACTOR_VEHICLE, 50 + 30 * cos(0.5), 1.75 + 30 * sin(0.5))->yaw = 0.5;
    d = actor_diff(b, W, H);
    ck_assert_int_gt(d.n, 0);
    ck_assert_int_ge(d.min_x, ex - 3);
    ck_assert_int_le(d.max_x, ex + 2);
    ck_assert_int_lt(d.max_y, ey - 20);
    free(b);
}
END_TEST

START_TEST(bev_road_follows_a_curve) {
    /* 60 m straight, then a left arc of radius 50 m: 60 m ahead of the ego the
     * road is about 20 m to the left, so the asphalt in the inset's top row
     * lies left of the ego's column. */
    bev_world *b = make_world(50, 1.75, 0);
    scenario_road *r = &b->sc.road;
    r->n_segments = 2, r->segments[0].length = 60, r->segments[1].length = 100, r->segments[1].curvature = 0.02;
    road_init(&b->w.road, r);
    image img;
    bev_image(&img, 512, 256, &b->w, NULL, 0, NULL, 0);
    int x0, y0, side;
    overlay_bev_rect(512, 256, &x0, &y0, &side);
    const int ex = x0 + side / 2, ey = y0 + 3 * side / 4;
    /* The road's colour just behind the ego, in its lane. */
    const uint8_t *asphalt = img.rgb + 3 * ((size_t)(ey + 8) * img.width + ex - 1);
    const uint8_t *terrain = img.rgb + 3 * ((size_t)(ey + 8) * img.width + x0 + 2);
    ck_assert_int_ne(memcmp(asphalt, terrain, 3), 0);
    int n = 0, sum = 0;
    for (int x = x0 + 1; x < x0 + side - 1; x++)
        if (!memcmp(img.rgb + 3 * ((size_t)(y0 + 2) * img.width + x), asphalt, 3)) n++, sum += x;
    ck_assert_int_gt(n, 0);
    ck_assert_int_lt(sum / n, ex - 15);
    image_free(&img);
    free(b);
}
END_TEST

START_TEST(bev_paths_past_below_plan_above_in_two_colours) {
    const int W = 128, H = 64;
    int x0, y0, side;
    overlay_bev_rect(W, H, &x0, &y0, &side);
    const int ey = y0 + 3 * side / 4;
    bev_world *b = make_world(50, 1.75, 0);
    double past[7][2], plan[7][2];
    for (int k = 0; k < 7; k++) {
        past[k][0] = 20 + 5 * k, past[k][1] = 1.75;
        plan[k][0] = 50 + 5 * k, plan[k][1] = 1.75 + 0.1 * k * k;
    }
    image none, with_past, with_plan;
    bev_image(&none, W, H, &b->w, NULL, 0, NULL, 0);
    bev_image(&with_past, W, H, &b->w, (const double(*)[2])past, 7, NULL, 0);
    bev_image(&with_plan, W, H, &b->w, NULL, 0, (const double(*)[2])plan, 7);
    diff_box dp = diff(&with_past, &none), dq = diff(&with_plan, &none);
    ck_assert_int_gt(dp.n, 3);
    ck_assert_int_gt(dq.n, 3);
    ck_assert_int_ge(dp.min_y, ey - 1);
    ck_assert_int_le(dq.max_y, ey);
    /* Different colours: a past pixel and a plan pixel. */
    const uint8_t *pp = changed_pixel(&with_past, &none), *qp = changed_pixel(&with_plan, &none);
    ck_assert_int_ne(memcmp(pp, qp, 3), 0);
    image_free(&none), image_free(&with_past), image_free(&with_plan);
    free(b);
}
END_TEST

START_TEST(bev_guard_and_stop_line_show_the_gesture) {
    const int W = 512, H = 256;
    int x0, y0, side;
    overlay_bev_rect(W, H, &x0, &y0, &side);
    const int ex = x0 + side / 2, ey = y0 + 3 * side / 4;
    const double mpp = 80.0 / side;
    bev_world *b = make_world(50, 1.75, 0);
    sim_actor *g = add_actor(b, ACTOR_GUARD, 80, -0.4);
    b->sc.actors[0].u.guard.stop_line_s = 74;
    rgb8 seen[2];
    for (int k = 0; k < 2; k++) {
        g->gesture = k ? GESTURE_PROCEED : GESTURE_STOP;
        image img;
        bev_image(&img, W, H, &b->w, NULL, 0, NULL, 0);
        int gx = ex + (int)floor(2.15 / mpp + 0.5), gy = ey - (int)floor(30 / mpp + 0.5);
        const uint8_t *gp = img.rgb + 3 * ((size_t)gy * W + gx);
        seen[k] = (rgb8){gp[0], gp[1], gp[2]};
        /* The stop line across the ego's lane, 24 m ahead, in the same colour. */
        int found = 0;
        for (int y = ey - (int)(26 / mpp); y <= ey - (int)(22 / mpp); y++) found |= is(&img, ex, y, seen[k]);
        ck_assert_msg(found, "gesture %d: no stop line", k);
        image_free(&img);
    }
    ck_assert_msg(seen[0].r > 2 * seen[0].g && seen[0].r > 2 * seen[0].b, "STOP is not red");
    ck_assert_msg(seen[1].g > 2 * seen[1].r && seen[1].g > 2 * seen[1].b, "PROCEED is not green");
    free(b);
}
END_TEST

/* ---- side by side ---- */

static void frames_init(image *f, int n, int w, int h) {
    for (int i = 0; i < n; i++) {
        image_init(&f[i], w, h);
        fill(&f[i], (uint8_t)(60 + 30 * i));
    }
}

static void frames_free(image *f, int n) {
    for (int i = 0; i < n; i++) image_free(&f[i]);
}

/* Frame i's region of out equals frame i outside [0, bw) x [0, bh). */
static void assert_frame_kept(const image *out, const image *f, int i, int bw, int bh) {
    for (int y = 0; y < f->height; y++)
        for (int x = 0; x < f->width; x++) {
            if (x < bw && y < bh) continue;
            ck_assert_msg(!memcmp(out->rgb + 3 * ((size_t)y * out->width + i * f->width + x),
                                  f->rgb + 3 * ((size_t)y * f->width + x), 3),
                          "frame %d pixel (%d, %d) changed", i, x, y);
        }
}

START_TEST(side_by_side_composes_exactly) {
    image f[3], out;
    frames_init(f, 3, 40, 20);
    wm_error err;
    ck_assert_int_eq(overlay_side_by_side(f, NULL, 3, &out, &err), 0);
    ck_assert_int_eq(out.width, 120);
    ck_assert_int_eq(out.height, 20);
    for (int i = 0; i < 3; i++) assert_frame_kept(&out, &f[i], i, 0, 0);
    image_free(&out);
    ck_assert_int_eq(overlay_side_by_side(f, NULL, 1, &out, &err), 0);
    ck_assert_int_eq(out.width, 40);
    assert_frame_kept(&out, &f[0], 0, 0, 0);
    image_free(&out);
    frames_free(f, 3);
}
END_TEST

START_TEST(side_by_side_labels_stay_in_their_frames) {
    image f[3], out;
    frames_init(f, 3, 40, 20);
    const char *labels[3] = {"A", NULL, "ABCDEFGHIJ"};
    wm_error err;
    ck_assert_int_eq(overlay_side_by_side(f, labels, 3, &out, &err), 0);
    /* "A": box 9 x 10. */
    ck_assert_int_eq(count_in(&out, WHITE, 0, 0, 40, 20), ink_of("A"));
    ck_assert_int_eq(count_in(&out, LABEL_BOX, 0, 0, 40, 20), 90 - ink_of("A"));
    assert_frame_kept(&out, &f[0], 0, 9, 10);
    assert_frame_kept(&out, &f[1], 1, 0, 0);
    /* Ten letters do not fit in 36 px: five and an ellipsis, box 39 wide. */
    ck_assert_int_eq(count_in(&out, WHITE, 80, 0, 120, 20), ink_of("ABCDE…"));
    ck_assert_int_eq(count_in(&out, LABEL_BOX, 80, 0, 120, 20), 390 - ink_of("ABCDE…"));
    assert_frame_kept(&out, &f[2], 2, 39, 10);
    image_free(&out);
    frames_free(f, 3);

    /* Frames 512 px wide take scale-2 labels; the box is cut at the frame's
     * bottom. */
    frames_init(f, 2, 512, 16);
    const char *two[2] = {"hi", "Ärø"}; /* no descenders: the box is cut above them */
    ck_assert_int_eq(overlay_side_by_side(f, two, 2, &out, &err), 0);
    ck_assert_int_eq(out.width, 1024);
    ck_assert_int_eq(count_in(&out, WHITE, 0, 0, 512, 16), 4 * ink_of("hi"));
    ck_assert_int_eq(count_in(&out, WHITE, 512, 0, 1024, 16), 4 * ink_of("Ärø"));
    assert_frame_kept(&out, &f[0], 0, 11 * 2 + 8, 20);
    image_free(&out);
    frames_free(f, 2);
}
END_TEST

START_TEST(side_by_side_label_needs_four_glyphs) {
    /* 22 px frames leave 18 px: three glyphs, too few for a cut label; 28 px
     * frames leave 24: "ABC…". A label that fits whole is always drawn. */
    static const int widths[] = {22, 28, 22};
    static const char *text[] = {"ABCDEFG", "ABCDEFG", "ABC"};
    static const char *shown[] = {"", "ABC…", "ABC"};
    for (int k = 0; k < 3; k++) {
        image f, out;
        frames_init(&f, 1, widths[k], 12);
        wm_error err;
        ck_assert_int_eq(overlay_side_by_side(&f, &text[k], 1, &out, &err), 0);
        ck_assert_int_eq(count_all(&out, WHITE), ink_of(shown[k]));
        if (!shown[k][0]) assert_frame_kept(&out, &f, 0, 0, 0);
        image_free(&out);
        image_free(&f);
    }
}
END_TEST

START_TEST(side_by_side_errors_are_exact) {
    image f[9], out;
    frames_init(f, 9, 16, 8);
    wm_error err;
    ck_assert_int_eq(overlay_side_by_side(f, NULL, 0, &out, &err), -1);
    ck_assert_str_eq(err.msg, "side-by-side: 0 frames, expected 1..8");
    ck_assert_ptr_null(out.rgb);
    ck_assert_int_eq(overlay_side_by_side(f, NULL, 9, &out, &err), -1);
    ck_assert_str_eq(err.msg, "side-by-side: 9 frames, expected 1..8");
    ck_assert_int_eq(overlay_side_by_side(f, NULL, -1, &out, &err), -1);
    ck_assert_str_eq(err.msg, "side-by-side: -1 frames, expected 1..8");

    image_free(&f[2]);
    image_init(&f[2], 64, 32);
    ck_assert_int_eq(overlay_side_by_side(f, NULL, 3, &out, &err), -1);
    ck_assert_str_eq(err.msg, "side-by-side: frame 2 is 64x32, frame 0 is 16x8");
    ck_assert_int_eq(out.width, 0);
    ck_assert_int_eq(out.height, 0);
    ck_assert_ptr_null(out.rgb);
    /* Only the frames asked for are looked at. */
    ck_assert_int_eq(overlay_side_by_side(f, NULL, 2, &out, &err), 0);
    image_free(&out);

    image_free(&f[2]);
    image_init(&f[2], 16, 9); /* height alone */
    ck_assert_int_eq(overlay_side_by_side(f, NULL, 8, &out, &err), -1);
    ck_assert_str_eq(err.msg, "side-by-side: frame 2 is 16x9, frame 0 is 16x8");

    image_free(&f[1]); /* zeroed: 0x0, no pixels */
    ck_assert_int_eq(overlay_side_by_side(f, NULL, 3, &out, &err), -1);
    ck_assert_str_eq(err.msg, "side-by-side: frame 1 is empty (0x0)");
    image_free(&f[0]);
    ck_assert_int_eq(overlay_side_by_side(f, NULL, 1, &out, &err), -1);
    ck_assert_str_eq(err.msg, "side-by-side: frame 0 is empty (0x0)");
    frames_free(f, 9);

    /* Too wide for an image: refused, not aborted. */
    image wide[8];
    frames_init(wide, 8, 1100, 1);
    ck_assert_int_eq(overlay_side_by_side(wide, NULL, 8, &out, &err), -1);
    ck_assert_str_eq(err.msg, "side-by-side: 8 frames 1100 px wide make 8800 px, more than 8192");
    ck_assert_int_eq(overlay_side_by_side(wide, NULL, 7, &out, &err), 0);
    ck_assert_int_eq(out.width, 7700);
    image_free(&out);
    frames_free(wide, 8);
}
END_TEST

int main(void) {
    Suite *s = suite_create("overlay");
    TCase *tc = tcase_create("hud");
    tcase_add_test(tc, hud_and_bev_never_write_outside_the_image);
    tcase_add_test(tc, hud_darkens_its_strips_and_leaves_the_middle);
    tcase_add_test(tc, hud_text_is_exactly_the_speed_and_time);
    tcase_add_test(tc, hud_speed_over_the_limit_turns_red_beside_the_limit_sign);
    tcase_add_test(tc, hud_label_is_cut_to_its_gap_or_left_out);
    tcase_add_test(tc, hud_gesture_and_score_share_the_bottom_strip);
    tcase_add_test(tc, hud_pedal_bars_fill_from_the_bottom);
    tcase_add_test(tc, hud_steer_bar_fills_towards_the_side_steered_to);
    suite_add_tcase(s, tc);
    tc = tcase_create("bev");
    tcase_add_test(tc, bev_rect_is_where_documented);
    tcase_add_test(tc, bev_draws_only_inside_its_square);
    tcase_add_test(tc, bev_actor_ahead_is_above_the_ego);
    tcase_add_test(tc, bev_is_heading_up);
    tcase_add_test(tc, bev_road_follows_a_curve);
    tcase_add_test(tc, bev_paths_past_below_plan_above_in_two_colours);
    tcase_add_test(tc, bev_guard_and_stop_line_show_the_gesture);
    suite_add_tcase(s, tc);
    tc = tcase_create("side_by_side");
    tcase_add_test(tc, side_by_side_composes_exactly);
    tcase_add_test(tc, side_by_side_labels_stay_in_their_frames);
    tcase_add_test(tc, side_by_side_label_needs_four_glyphs);
    tcase_add_test(tc, side_by_side_errors_are_exact);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
