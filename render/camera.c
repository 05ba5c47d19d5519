#include "render/camera.h"

#include <math.h>

#include "core/mathx.h"

int camera_params_equal(const camera_params *a, const camera_params *b) {
    return a->width == b->width && a->height == b->height && a->hfov_deg == b->hfov_deg &&
           a->mount_height == b->mount_height && a->mount_forward == b->mount_forward && a->pitch_deg == b->pitch_deg;
}

int camera_params_check(const camera_params *p, wm_error *err) {
    return scenario_camera_check(p, err) ? wm_error_prefix(err, "camera: ") : 0;
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
