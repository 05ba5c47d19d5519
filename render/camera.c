#include "render/camera.h"

#include <math.h>

#include "core/mathx.h"

camera_params camera_params_default(void) {
    return (camera_params){.width = 128, .height = 64, .hfov_deg = 60.0, .mount_height = 1.4,
                           .mount_forward = 1.5, .pitch_deg = 2.0};
}

int camera_params_check(const camera_params *p, wm_error *err) {
    if (p->width < 16 || p->width > CAMERA_MAX_WIDTH)
        return wm_fail(err, "camera: width %d outside [16, %d]", p->width, CAMERA_MAX_WIDTH);
    if (p->height < 8 || p->height > CAMERA_MAX_HEIGHT)
        return wm_fail(err, "camera: height %d outside [8, %d]", p->height, CAMERA_MAX_HEIGHT);
    if (!(p->hfov_deg > 10.0 && p->hfov_deg < 150.0))
        return wm_fail(err, "camera: hfov %g deg outside (10, 150)", p->hfov_deg);
    if (!(p->mount_height > 0.2 && p->mount_height < 10.0))
        return wm_fail(err, "camera: mount height %g m outside (0.2, 10)", p->mount_height);
    if (!(p->pitch_deg > -45.0 && p->pitch_deg < 45.0))
        return wm_fail(err, "camera: pitch %g deg outside (-45, 45)", p->pitch_deg);
    if (!isfinite(p->mount_forward) || fabs(p->mount_forward) > 10.0)
        return wm_fail(err, "camera: mount forward %g m outside [-10, 10]", p->mount_forward);
    return 0;
}

void camera_init(camera *cam, const camera_params *p, double ego_x, double ego_y, double ego_yaw) {
    cam->p = *p;
    cam->fx = 0.5 * p->width / tan(0.5 * p->hfov_deg * WM_PI / 180.0);
    cam->cx = 0.5 * p->width;
    cam->cy = 0.5 * p->height;
    double c = cos(ego_yaw), s = sin(ego_yaw);
    cam->pos[0] = ego_x + p->mount_forward * c;
    cam->pos[1] = ego_y + p->mount_forward * s;
    cam->pos[2] = p->mount_height;
    double pitch = p->pitch_deg * WM_PI / 180.0, cp = cos(pitch), sp = sin(pitch);
    /* Forward tilts down by the pitch; right stays horizontal. */
    cam->fwd[0] = c * cp, cam->fwd[1] = s * cp, cam->fwd[2] = -sp;
    cam->right[0] = s, cam->right[1] = -c, cam->right[2] = 0.0;
    cam->down[0] = -c * sp, cam->down[1] = -s * sp, cam->down[2] = -cp;
}

void camera_to_view(const camera *cam, double wx, double wy, double wz, double v[3]) {
    double d[3] = {wx - cam->pos[0], wy - cam->pos[1], wz - cam->pos[2]};
    v[0] = d[0] * cam->right[0] + d[1] * cam->right[1] + d[2] * cam->right[2];
    v[1] = d[0] * cam->down[0] + d[1] * cam->down[1] + d[2] * cam->down[2];
    v[2] = d[0] * cam->fwd[0] + d[1] * cam->fwd[1] + d[2] * cam->fwd[2];
}

int camera_project(const camera *cam, double wx, double wy, double wz, double *px, double *py, double *depth) {
    double v[3];
    camera_to_view(cam, wx, wy, wz, v);
    if (v[2] < CAMERA_NEAR) return 0;
    *px = cam->cx + cam->fx * v[0] / v[2];
    *py = cam->cy + cam->fx * v[1] / v[2];
    *depth = v[2];
    return 1;
}

void camera_ray(const camera *cam, double px, double py, double dir[3]) {
    double x = (px - cam->cx) / cam->fx, y = (py - cam->cy) / cam->fx;
    for (int i = 0; i < 3; i++) dir[i] = cam->fwd[i] + x * cam->right[i] + y * cam->down[i];
}
