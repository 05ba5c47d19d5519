/* camera.h — the forward dash camera: a pinhole model mounted on the ego.
 *
 * Usage:
 *     camera_params cp = sc->camera;                    // or scenario_camera_default()
 *     if (camera_params_check(&cp, &err)) ...           // "camera: width 0 outside [16, 1920]"
 *     camera cam;
 *     camera_init(&cam, &cp, ego_x, ego_y, ego_yaw);     // pose from the ego's rear axle
 *     double px, py, depth;
 *     if (camera_project(&cam, wx, wy, wz, &px, &py, &depth)) ...  // in front of the lens
 *
 * Camera frame: x right, y down, z forward (depth). Pixel (0, 0) is the
 * top-left corner of the top-left pixel; centres are at +0.5. */
#ifndef WMSIM_CAMERA_H
#define WMSIM_CAMERA_H

#include "core/error.h"
#include "scenarios/scenario.h"

#define CAMERA_NEAR 0.2 /* m: nothing closer to the lens is drawn */

typedef scenario_camera camera_params;

typedef struct {
    camera_params p;
    double fx, cx, cy;     /* focal length and principal point, pixels */
    double pos[3];         /* lens position, world */
    double right[3], down[3], fwd[3]; /* camera axes in world coordinates */
} camera;

/* scenario_camera_check with a "camera: " prefix. */
int camera_params_check(const camera_params *p, wm_error *err);
/* 1 when a and b describe the same camera (size, mount, lens). */
int camera_params_equal(const camera_params *a, const camera_params *b);

void camera_init(camera *cam, const camera_params *p, double ego_x, double ego_y, double ego_yaw);

/* World point → camera frame (x right, y down, z depth). */
void camera_to_view(const camera *cam, double wx, double wy, double wz, double v[3]);

/* World point → pixel. Returns 0 when it lies behind the near plane. */
int camera_project(const camera *cam, double wx, double wy, double wz, double *px, double *py, double *depth);

/* World direction of the ray through pixel position (px, py). */
void camera_ray(const camera *cam, double px, double py, double dir[3]);

#endif
