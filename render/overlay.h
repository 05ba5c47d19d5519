/* overlay.h — what a human watching an episode video needs on top of the
 * camera frame: a HUD, a bird's-eye-view inset, and several frames side by
 * side for comparing policies or frame sources.
 *
 * Usage:
 *     hud_info h = {.t = w->t, .speed_mps = w->ego.speed, .speed_limit_mps = 13.9,
 *                   .accel = 0.3, .brake = 0, .steer = -0.1,
 *                   .gesture_ahead = "STOP 23 m", .score = -1, .label = "expert"};
 *     overlay_bev(&frame, w, past, n_past, plan, n_plan);   // inset first,
 *     overlay_hud(&frame, &h);                               // then the HUD
 *
 *     image row;
 *     if (overlay_side_by_side(frames, labels, 3, &row, &err)) ...  // err.msg says why
 *     image_free(&row);
 *
 * The inputs are plain values, not policies or metrics: render depends on
 * neither (DESIGN.md §2). Text is drawn at scale 1, or 2 on frames 512 px
 * wide or more (OVERLAY_SCALE); s below is that scale.
 *
 * HUD layout, on strips darkened to a third of their brightness:
 *   top strip, rows [0, 10s): speed "57 km/h" from x = 2s (red when over the
 *     limit) and the limit as a small white sign with a red border; the label
 *     in the space between (cut with "…", or left out when fewer than four
 *     glyphs fit); "t=12.3 s" right-aligned.
 *   bottom strip, rows [H - 10s, H): the gesture ahead from x = 2s, coloured
 *     by its first word (red STOP, green PROCEED, amber otherwise), and
 *     "score 0.87" right-aligned, shortened to "0.87" and then the gesture
 *     cut with "…" when both do not fit.
 *   brake: a red bar filling bottom-up, columns [s, 4s), between the strips
 *     with an s gap; accel: the same in green at the right edge, [W - 4s, W - s).
 *   steer: a horizontal bar 3s tall, max(16, W / 4) wide, centred, ending s
 *     above the bottom strip; amber fills from the centre towards the side
 *     steered to (positive steer is left, as in the action contract), a white
 *     tick marks the centre. */
#ifndef WMSIM_OVERLAY_H
#define WMSIM_OVERLAY_H

#include "core/error.h"
#include "render/image.h"
#include "sim/world.h"

#define OVERLAY_MAX_FRAMES 8
#define OVERLAY_SCALE(width) ((width) >= 512 ? 2 : 1)

typedef struct {
    double t;               /* s */
    double speed_mps;
    double speed_limit_mps; /* <= 0: none shown */
    double accel, brake;    /* pedal fractions [0, 1]; clamped */
    double steer;           /* [-1, 1] of full lock, + left; clamped */
    const char *gesture_ahead; /* e.g. "STOP 23 m"; NULL: none */
    double score;           /* < 0: none shown */
    const char *label;      /* e.g. the policy's name; NULL: none */
} hud_info;

/* Draws the HUD onto img in place; any size works (tiny images just clip). */
void overlay_hud(image *img, const hud_info *h);

/* The square the bird's-eye view occupies in an image of that size: side
 * max(32, H / 3), capped to fit, at the right edge inside the accel bar, its
 * top s below the HUD's top strip so the two overlays do not collide. */
void overlay_bev_rect(int width, int height, int *x, int *y, int *side);

/* Draws the bird's-eye view into overlay_bev_rect: ego-centred and
 * heading-up, 60 m ahead and 20 m behind the ego body centre, which sits at
 * (x + side / 2, y + 3 * side / 4) under a white arrowhead marker. The road is
 * sampled per pixel through road_project (lane lines once lanes are 3 px
 * wide), guards' stop lines are drawn across the road in the guard's gesture
 * colour, actors are boxes of their real size (at least about 2 px):
 * vehicles blue, pedestrians magenta, guards by gesture (STOP red, PROCEED
 * green, SLOW yellow, TURN_* cyan), cones and barriers orange, signs light
 * grey. past_xy and plan_xy are world (x, y) points, m, oldest/nearest first,
 * drawn as polylines: the past path light blue, the plan lime. Either may be
 * NULL with a count of 0. */
void overlay_bev(image *img, const sim_world *w, const double (*past_xy)[2], int n_past,
                 const double (*plan_xy)[2], int n_plan);

/* Places n (1..OVERLAY_MAX_FRAMES) frames of one size left to right into out
 * (allocated here, n * width x height) and writes labels[i] (labels or any
 * entry may be NULL) in white at (2s, s) of frame i on an opaque near-black
 * box [0, label width + 4s) x [0, 10s), cut with "…" to stay inside the frame.
 * The box covers a HUD's speed: to compare HUD frames, name them through
 * hud_info.label instead. On error out is left empty and err says which frame
 * is wrong, e.g. "side-by-side: frame 2 is 64x32, frame 0 is 128x64". */
int overlay_side_by_side(const image *frames, const char *const *labels, int n, image *out, wm_error *err);

/* frame with a caption band of 10s rows below it (out: allocated here, W x
 * (H + 10s)): text (may be NULL or empty: the band stays blank) in white
 * at (2s, H + s) on the near-black label colour, cut with "…" to the
 * width. For the policy's reasoning under each video frame. */
void overlay_caption(const image *frame, const char *text, image *out);

#endif
