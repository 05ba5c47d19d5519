/* camera.h — the forward dash camera: a pinhole model mounted on the ego.
 *
 * Usage:
 *     camera_params cp = camera_params_default();      // 128x64, 60° hfov
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

#define CAMERA_MAX_WIDTH 1920
#define CAMERA_MAX_HEIGHT 960
#define CAMERA_NEAR 0.2 /* m: nothing closer to the lens is drawn */

typedef struct {
    int width, height;     /* pixels */
    double hfov_deg;       /* horizontal field of view, (10, 150) */
    double mount_height;   /* m above the ground */
    double mount_forward;  /* m ahead of the rear axle (windscreen) */
    double pitch_deg;      /* + looks down */
} camera_params;

typedef struct {
    camera_params p;
    double fx, cx, cy;     /* focal length and principal point, pixels */
    double pos[3];         /* lens position, world */
    double right[3], down[3], fwd[3]; /* camera axes in world coordinates */
} camera;

camera_params camera_params_default(void);
int camera_params_check(const camera_params *p, wm_error *err);

void camera_init(camera *cam, const camera_params *p, double ego_x, double ego_y, double ego_yaw);

/* World point → camera frame (x right, y down, z depth). */
void camera_to_view(const camera *cam, double wx, double wy, double wz, double v[3]);

/* World point → pixel. Returns 0 when it lies behind the near plane. */
int camera_project(const camera *cam, double wx, double wy, double wz, double *px, double *py, double *depth);

/* World direction of the ray through pixel position (px, py). */
void camera_ray(const camera *cam, double px, double py, double dir[3]);

#endif
