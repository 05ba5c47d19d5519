/* raster.h — a framebuffer with a z-buffer and convex-polygon / box drawing
 * in camera view space, clipped at the camera's near plane.
 *
 * Usage:
 *     framebuffer fb;
 *     framebuffer_init(&fb, 128, 64);
 *     raster_box(&fb, &cam, &box, colour);       // shaded faces, depth-tested
 *     framebuffer_free(&fb);
 *
 * Depth is stored as 1/z (larger is nearer), which interpolates linearly in
 * screen space; a cleared buffer holds 0 (infinitely far). */
#ifndef WMSIM_RASTER_H
#define WMSIM_RASTER_H

#include <stdint.h>

#include "render/camera.h"
#include "render/image.h"

typedef struct {
    image img;
    float *inv_depth; /* width * height */
    uint8_t *cls;     /* width * height: what each pixel shows (render_class) */
} framebuffer;

/* An oriented box: centre, unit axes (forward, left, up) and half extents. */
typedef struct {
    double center[3];
    double axis[3][3];
    double half[3];
} box3;

void framebuffer_init(framebuffer *fb, int width, int height);
void framebuffer_clear_depth(framebuffer *fb);
void framebuffer_free(framebuffer *fb);

/* A world-space convex polygon (n <= 8 vertices) in one flat colour; cls is
 * written to fb->cls wherever the colour is. */
void raster_polygon(framebuffer *fb, const camera *cam, const double (*world)[3], int n, rgb8 colour, uint8_t cls);

/* The six faces of a box, each shaded by its angle to a fixed sun direction;
 * faces turned away from the camera are skipped. */
void raster_box(framebuffer *fb, const camera *cam, const box3 *box, rgb8 colour, uint8_t cls);

/* Paints a mask onto a flat world-space quad already drawn (a sign's face):
 * corners 0→1 run along the mask's rows left to right, 0→3 top to bottom.
 * Only pixels where the quad is the visible surface take ink. */
void raster_decal(framebuffer *fb, const camera *cam, const double quad[4][3], const uint8_t *mask, int mask_w,
                  int mask_h, rgb8 ink);

/* An upright box: centre of its base on the ground plane at (x, y, z0). */
box3 box3_upright(double x, double y, double z0, double yaw, double length, double width, double height);

#endif
