/* road.h — road geometry: the reference line (the road's right edge) made of
 * straight and arc segments, and conversion between road coordinates (s, d)
 * and world coordinates (x, y, heading).
 *
 * Usage:
 *     road r;
 *     road_init(&r, &scenario.road);
 *     road_pose r_pose = road_pose_at(&r, s, d);           // world pose
 *     int hint = 0; double s, d;
 *     road_project(&r, x, y, &hint, &s, &d);                // back to (s, d)
 *
 * The reference line starts at (0, 0) heading +x. World frame: x east, y
 * north, heading counter-clockwise from +x. d is positive to the left. */
#ifndef WMSIM_ROAD_H
#define WMSIM_ROAD_H

#include "scenarios/scenario.h"

typedef struct {
    double s0, length, curvature; /* start s, m; 1/m (+ left, 0 straight) */
    double x0, y0, heading0;      /* reference-line pose at s0 */
    double cos0, sin0;            /* of heading0: projection runs per pixel */
} road_segment;

typedef struct {
    road_segment segments[SCENARIO_MAX_SEGMENTS];
    int n_segments;
    double length;       /* total reference-line length, m */
    int n_lanes;
    double lane_width;
    double shoulder;
    double speed_limit;
    lane_direction lane_dirs[SCENARIO_MAX_LANES];
} road;

typedef struct {
    double x, y, heading;
} road_pose;

void road_init(road *r, const scenario_road *sr);

/* World pose of road point (s, d); heading is the road direction there.
 * s outside [0, length] extends the first/last segment in a straight line. */
road_pose road_pose_at(const road *r, double s, double d);

/* Nearest road coordinates of world point (x, y). *hint is the segment index
 * to start from and is updated (pass the previous step's value: O(1) when the
 * point moves little). */
void road_project(const road *r, double x, double y, int *hint, double *s, double *d);

double road_lane_center(const road *r, int lane); /* d of lane's centre */
int road_lane_at(const road *r, double d);        /* -1 when outside all lanes */
double road_curvature_at(const road *r, double s);
/* Whether d (with half-width w of a body) is inside the drivable area:
 * lanes plus shoulders. */
int road_is_drivable(const road *r, double d, double half_width);

#endif
