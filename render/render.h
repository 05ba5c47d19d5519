/* render.h — the oracle camera: draws the symbolic world as the ego's dash
 * camera sees it, in colour and as per-pixel classes.
 *
 * Usage:
 *     renderer r;
 *     if (renderer_init(&r, &cp, 2, &err)) ...   // 2x2 supersampling; 1 for none
 *     render_frame(&r, world);                   // r.frame: RGB, r.semantic: class ids
 *     image_write_png(&r.frame, "frame.png", &err);
 *     renderer_free(&r);
 *
 * The ground is ray-cast per pixel through the road geometry, so lanes follow
 * arcs exactly; bodies (vehicles, pedestrians, guards, cones, barriers, signs,
 * roadside trees, poles and buildings) are depth-tested boxes. Same world →
 * identical bytes. */
#ifndef WMSIM_RENDER_H
#define WMSIM_RENDER_H

#include "render/camera.h"
#include "render/raster.h"
#include "sim/world.h"

/* Semantic classes; the ids are part of the clip format, so only append. */
typedef enum {
    RENDER_CLASS_SKY,
    RENDER_CLASS_ROAD,
    RENDER_CLASS_LANE_MARKING,
    RENDER_CLASS_SHOULDER, /* paved shoulder and kerb */
    RENDER_CLASS_TERRAIN,
    RENDER_CLASS_VEGETATION,
    RENDER_CLASS_POLE,
    RENDER_CLASS_BUILDING,
    RENDER_CLASS_VEHICLE,
    RENDER_CLASS_PEDESTRIAN,
    RENDER_CLASS_GUARD,
    RENDER_CLASS_GUARD_ARM, /* the signalling arm and its baton */
    RENDER_CLASS_SIGN,
    RENDER_CLASS_CONE,
    RENDER_CLASS_BARRIER,
    RENDER_CLASS_COUNT
} render_class;

typedef struct {
    camera_params cp;
    int supersample; /* samples per side: 1 or 2 */
    framebuffer fb;  /* cp.width*supersample x cp.height*supersample */
    image frame;     /* cp.width x cp.height RGB */
    uint8_t *semantic; /* cp.width x cp.height render_class ids */
} renderer;

int renderer_init(renderer *r, const camera_params *cp, int supersample, wm_error *err);
void renderer_free(renderer *r);
void render_frame(renderer *r, const sim_world *w);

const char *render_class_name(render_class c);
/* A fixed colour per class, for looking at semantic frames. */
rgb8 render_class_colour(render_class c);
/* r->semantic drawn in render_class_colour, into img (allocated). */
void render_semantic_image(const renderer *r, image *img);

#endif
