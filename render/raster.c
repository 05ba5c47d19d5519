#include "render/raster.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"

#define MAX_CLIPPED 16

void framebuffer_init(framebuffer *fb, int width, int height) {
    image_init(&fb->img, width, height);
    fb->inv_depth = CALLOC_CHECK((size_t)width * height, sizeof *fb->inv_depth);
    fb->cls = CALLOC_CHECK((size_t)width * height, 1);
}

void framebuffer_clear_depth(framebuffer *fb) {
    memset(fb->inv_depth, 0, (size_t)fb->img.width * fb->img.height * sizeof *fb->inv_depth);
}

void framebuffer_free(framebuffer *fb) {
    image_free(&fb->img);
    free(fb->inv_depth);
    free(fb->cls);
    fb->inv_depth = NULL;
    fb->cls = NULL;
}

/* Sutherland–Hodgman against z >= CAMERA_NEAR, in view space. */
static int clip_near(const double (*in)[3], int n, double (*out)[3]) {
    int m = 0;
    for (int i = 0; i < n; i++) {
        const double *a = in[i], *b = in[(i + 1) % n];
        int a_in = a[2] >= CAMERA_NEAR, b_in = b[2] >= CAMERA_NEAR;
        if (a_in) memcpy(out[m++], a, sizeof out[0]);
        if (a_in != b_in) {
            double t = (CAMERA_NEAR - a[2]) / (b[2] - a[2]);
            for (int k = 0; k < 3; k++) out[m][k] = a[k] + t * (b[k] - a[k]);
            m++;
        }
    }
    return m;
}

/* Fills one screen triangle (x, y, 1/z per vertex) with depth testing.
 * Pixel centres at +0.5; a pixel is covered when its centre is inside. */
static void fill_triangle(framebuffer *fb, const double p[3][3], rgb8 c, uint8_t cls) {
    double area = (p[1][0] - p[0][0]) * (p[2][1] - p[0][1]) - (p[2][0] - p[0][0]) * (p[1][1] - p[0][1]);
    if (fabs(area) < 1e-12) return;
    double minx = fmin(p[0][0], fmin(p[1][0], p[2][0])), maxx = fmax(p[0][0], fmax(p[1][0], p[2][0]));
    double miny = fmin(p[0][1], fmin(p[1][1], p[2][1])), maxy = fmax(p[0][1], fmax(p[1][1], p[2][1]));
    int x0 = (int)fmax(0.0, floor(minx)), x1 = (int)fmin(fb->img.width - 1.0, ceil(maxx));
    int y0 = (int)fmax(0.0, floor(miny)), y1 = (int)fmin(fb->img.height - 1.0, ceil(maxy));
    double inv_area = 1.0 / area;
    for (int y = y0; y <= y1; y++) {
        double py = y + 0.5;
        for (int x = x0; x <= x1; x++) {
            double px = x + 0.5;
            double w0 = ((p[1][0] - px) * (p[2][1] - py) - (p[2][0] - px) * (p[1][1] - py)) * inv_area;
            double w1 = ((p[2][0] - px) * (p[0][1] - py) - (p[0][0] - px) * (p[2][1] - py)) * inv_area;
            double w2 = 1.0 - w0 - w1;
            if (w0 < 0 || w1 < 0 || w2 < 0) continue;
            float iz = (float)(w0 * p[0][2] + w1 * p[1][2] + w2 * p[2][2]);
            size_t k = (size_t)y * fb->img.width + x;
            if (iz <= fb->inv_depth[k]) continue;
            fb->inv_depth[k] = iz;
            uint8_t *px8 = fb->img.rgb + 3 * k;
            px8[0] = c.r, px8[1] = c.g, px8[2] = c.b;
            fb->cls[k] = cls;
        }
    }
}

void raster_polygon(framebuffer *fb, const camera *cam, const double (*world)[3], int n, rgb8 colour, uint8_t cls) {
    double view[8][3], clipped[MAX_CLIPPED][3];
    if (n > 8) n = 8;
    for (int i = 0; i < n; i++) camera_to_view(cam, world[i][0], world[i][1], world[i][2], view[i]);
    int m = clip_near((const double(*)[3])view, n, clipped);
    if (m < 3) return;
    double screen[MAX_CLIPPED][3];
    for (int i = 0; i < m; i++) {
        screen[i][0] = cam->cx + cam->fx * clipped[i][0] / clipped[i][2];
        screen[i][1] = cam->cy + cam->fx * clipped[i][1] / clipped[i][2];
        screen[i][2] = 1.0 / clipped[i][2];
    }
    for (int i = 1; i + 1 < m; i++) { /* a fan: the clipped polygon stays convex */
        double tri[3][3];
        memcpy(tri[0], screen[0], sizeof tri[0]);
        memcpy(tri[1], screen[i], sizeof tri[0]);
        memcpy(tri[2], screen[i + 1], sizeof tri[0]);
        fill_triangle(fb, (const double(*)[3])tri, colour, cls);
    }
}

box3 box3_upright(double x, double y, double z0, double yaw, double length, double width, double height) {
    double c = cos(yaw), s = sin(yaw);
    return (box3){.center = {x, y, z0 + 0.5 * height},
                  .axis = {{c, s, 0}, {-s, c, 0}, {0, 0, 1}},
                  .half = {0.5 * length, 0.5 * width, 0.5 * height}};
}

void raster_box(framebuffer *fb, const camera *cam, const box3 *b, rgb8 colour, uint8_t cls) {
    /* Light from the upper front-left of the scene: faces differ in shade so
     * a box reads as a solid, whatever its colour. */
    static const double sun[3] = {0.36, 0.48, 0.80};
    for (int axis = 0; axis < 3; axis++) {
        for (int sign = -1; sign <= 1; sign += 2) {
            double n[3], face_c[3];
            for (int k = 0; k < 3; k++) {
                n[k] = sign * b->axis[axis][k];
                face_c[k] = b->center[k] + n[k] * b->half[axis];
            }
            double to_cam = 0;
            for (int k = 0; k < 3; k++) to_cam += (cam->pos[k] - face_c[k]) * n[k];
            if (to_cam <= 0) continue;
            int u = (axis + 1) % 3, v = (axis + 2) % 3;
            double quad[4][3];
            const double su[4] = {-1, 1, 1, -1}, sv[4] = {-1, -1, 1, 1};
            for (int q = 0; q < 4; q++)
                for (int k = 0; k < 3; k++)
                    quad[q][k] = face_c[k] + su[q] * b->half[u] * b->axis[u][k] + sv[q] * b->half[v] * b->axis[v][k];
            double lambert = n[0] * sun[0] + n[1] * sun[1] + n[2] * sun[2];
            double shade = 0.65 + 0.35 * fmax(-0.3, lambert);
            rgb8 c = {(uint8_t)fmin(255.0, colour.r * shade), (uint8_t)fmin(255.0, colour.g * shade),
                      (uint8_t)fmin(255.0, colour.b * shade)};
            raster_polygon(fb, cam, (const double(*)[3])quad, 4, c, cls);
        }
    }
}

void raster_decal(framebuffer *fb, const camera *cam, const double quad[4][3], const uint8_t *mask, int mask_w,
                  int mask_h, rgb8 ink) {
    double eu[3], ev[3], n[3], rel[3];
    for (int k = 0; k < 3; k++) eu[k] = quad[1][k] - quad[0][k], ev[k] = quad[3][k] - quad[0][k];
    n[0] = eu[1] * ev[2] - eu[2] * ev[1], n[1] = eu[2] * ev[0] - eu[0] * ev[2], n[2] = eu[0] * ev[1] - eu[1] * ev[0];
    double uu = eu[0] * eu[0] + eu[1] * eu[1] + eu[2] * eu[2], vv = ev[0] * ev[0] + ev[1] * ev[1] + ev[2] * ev[2];
    for (int k = 0; k < 3; k++) rel[k] = quad[0][k] - cam->pos[k];
    double plane = rel[0] * n[0] + rel[1] * n[1] + rel[2] * n[2];
    double minx = INFINITY, maxx = -INFINITY, miny = INFINITY, maxy = -INFINITY;
    for (int q = 0; q < 4; q++) {
        double px, py, depth;
        if (!camera_project(cam, quad[q][0], quad[q][1], quad[q][2], &px, &py, &depth)) return;
        minx = fmin(minx, px), maxx = fmax(maxx, px), miny = fmin(miny, py), maxy = fmax(maxy, py);
    }
    int x0 = (int)fmax(0.0, floor(minx)), x1 = (int)fmin(fb->img.width - 1.0, ceil(maxx));
    int y0 = (int)fmax(0.0, floor(miny)), y1 = (int)fmin(fb->img.height - 1.0, ceil(maxy));
    for (int y = y0; y <= y1; y++) {
        for (int x = x0; x <= x1; x++) {
            double dir[3];
            camera_ray(cam, x + 0.5, y + 0.5, dir);
            double denom = dir[0] * n[0] + dir[1] * n[1] + dir[2] * n[2];
            if (fabs(denom) < 1e-12) continue;
            double t = plane / denom; /* the ray's forward component is 1: t is the view depth */
            if (t < CAMERA_NEAR) continue;
            double hit[3];
            for (int k = 0; k < 3; k++) hit[k] = cam->pos[k] + t * dir[k] - quad[0][k];
            double u = (hit[0] * eu[0] + hit[1] * eu[1] + hit[2] * eu[2]) / uu;
            double v = (hit[0] * ev[0] + hit[1] * ev[1] + hit[2] * ev[2]) / vv;
            if (!(u >= 0 && u < 1 && v >= 0 && v < 1)) continue;
            if (!mask[(int)(v * mask_h) * mask_w + (int)(u * mask_w)]) continue;
            size_t k = (size_t)y * fb->img.width + x;
            /* The face itself wrote this depth; anything nearer hides the ink. */
            if ((float)(1.0 / t) < fb->inv_depth[k] * (1.0f - 1e-3f)) continue;
            uint8_t *px8 = fb->img.rgb + 3 * k;
            px8[0] = ink.r, px8[1] = ink.g, px8[2] = ink.b;
        }
    }
}
