/* render.h — the oracle camera: draws the symbolic world as the ego's dash
 * camera sees it.
 *
 * Usage:
 *     framebuffer fb;
 *     framebuffer_init(&fb, cp.width, cp.height);
 *     render_frame(world, &cp, &fb);            // fb.img holds the RGB frame
 *     image_write_png(&fb.img, "frame.png", &err);
 *
 * The ground is ray-cast per pixel through the road geometry, so lanes follow
 * arcs exactly; bodies (vehicles, pedestrians, guards, cones, barriers, signs)
 * are depth-tested boxes. Same world → identical bytes. */
#ifndef WMSIM_RENDER_H
#define WMSIM_RENDER_H

#include "render/camera.h"
#include "render/raster.h"
#include "sim/world.h"

void render_frame(const sim_world *w, const camera_params *cp, framebuffer *fb);

#endif
