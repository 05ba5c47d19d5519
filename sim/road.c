/* road.c — reference-line geometry of straight and arc segments.
 *
 * Glossary: s arc length along the reference line (the road's right edge),
 * d lateral offset to the left of it, u arc length inside one segment
 * (u = s - s0), k curvature (1/m, + left), h heading, (lx, ly) a point in a
 * segment's start frame (lx along heading0, ly to its left).
 *
 * Every formula is written so that it stays exact as k -> 0: a radius 1/k is
 * never formed, because a nearly straight arc would otherwise lose
 * |1/k| * eps metres to cancellation. */
#include "sim/road.h"

#include <math.h>
#include <string.h>

#include "core/mathx.h"

/* Reference-line point (x, y) and unit tangent (tc, ts) at arc length u of
 * segment g (any u for a straight; u in [0, length] for an arc). */
static inline void seg_ref(const road_segment *g, double u, double *x, double *y,
                           double *tc, double *ts) {
    const double c0 = g->cos0, s0 = g->sin0;
    const double k = g->curvature;
    if (k == 0.0) {
        *x = g->x0 + u * c0;
        *y = g->y0 + u * s0;
        *tc = c0, *ts = s0;
        return;
    }
    const double th = k * u;
    const double sa = sin(th), ca = cos(th);
    /* Chord in the start frame: along = sin(th)/k, left = (1 - cos th)/k.
     * sin²/(1 + cos) is 1 - cos without cancellation while cos >= 0; past
     * a quarter turn 1 - cos is itself well conditioned. */
    const double along = sa / k;
    const double left = ca >= 0.0 ? sa * along / (1.0 + ca) : (1.0 - ca) / k;
    *x = g->x0 + along * c0 - left * s0;
    *y = g->y0 + along * s0 + left * c0;
    *tc = c0 * ca - s0 * sa;
    *ts = s0 * ca + c0 * sa;
}

/* Segment whose [s0, s0 + length) holds s; the first for s < 0 (or NaN), the
 * last for s >= its s0. */
static inline int seg_find(const road *r, double s) {
    int lo = 0, hi = r->n_segments - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (r->segments[mid].s0 <= s) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

void road_init(road *r, const scenario_road *sr) {
    memset(r, 0, sizeof *r);
    int n = sr->n_segments;
    if (n > SCENARIO_MAX_SEGMENTS) n = SCENARIO_MAX_SEGMENTS;
    /* A validated scenario has at least one segment; a bare road is a single
     * zero-length straight whose extensions make it an endless line. */
    if (n < 1) {
        r->n_segments = 1;
        r->segments[0].cos0 = 1.0;
    } else {
        r->n_segments = n;
        double s = 0.0, x = 0.0, y = 0.0, h = 0.0;
        for (int i = 0; i < n; i++) {
            road_segment *g = &r->segments[i];
            g->s0 = s;
            g->length = sr->segments[i].length;
            g->curvature = sr->segments[i].curvature;
            g->x0 = x, g->y0 = y, g->heading0 = h;
            g->cos0 = cos(h), g->sin0 = sin(h);
            double tc, ts;
            /* The next start is this segment's end evaluated with the same
             * formula road_pose_at uses, so the two sides of a joint agree. */
            seg_ref(g, g->length, &x, &y, &tc, &ts);
            h = wrap_angle(h + g->curvature * g->length);
            s += g->length;
        }
        r->length = s;
    }
    r->n_lanes = sr->n_lanes < SCENARIO_MAX_LANES ? sr->n_lanes : SCENARIO_MAX_LANES;
    r->lane_width = sr->lane_width;
    r->shoulder = sr->shoulder;
    r->speed_limit = sr->speed_limit;
    for (int i = 0; i < r->n_lanes; i++) r->lane_dirs[i] = sr->lane_dirs[i];
}

road_pose road_pose_at(const road *r, double s, double d) {
    int i = seg_find(r, s);
    const road_segment *g = &r->segments[i];
    double u = s - g->s0, ext = 0.0;
    /* Beyond either end the road goes on straight along its end heading. */
    if (u < 0.0) ext = u, u = 0.0;
    else if (u > g->length && i == r->n_segments - 1) ext = u - g->length, u = g->length;
    double x, y, tc, ts;
    seg_ref(g, u, &x, &y, &tc, &ts);
    road_pose p;
    p.x = x + ext * tc - d * ts;
    p.y = y + ext * ts + d * tc;
    p.heading = wrap_angle(g->heading0 + g->curvature * u);
    return p;
}

/* (u, d) of world point (x, y) against segment g, u unclamped. For an arc the
 * angle is measured from the arc's midpoint, so the split between "before
 * the start" and "past the end" lies opposite the arc and an arc of up to pi
 * never mistakes a point just past its end for one before its start. */
static inline void seg_local(const road_segment *g, double x, double y, double *u, double *d) {
    const double c0 = g->cos0, s0 = g->sin0;
    const double dx = x - g->x0, dy = y - g->y0;
    const double lx = dx * c0 + dy * s0, ly = -dx * s0 + dy * c0;
    const double k = g->curvature;
    if (k == 0.0) {
        *u = lx, *d = ly;
        return;
    }
    /* With the centre at (0, 1/k) in the start frame, k·(p - c) rotated is
     * (k lx, 1 - k ly) for either sign of k; its angle is the turned angle and
     * d = (1 - k|p - c|·sign k)/k, rationalised so it has no 1/k term. */
    const double q = 1.0 - k * ly;
    const double mid = 0.5 * k * g->length;
    const double th = mid + wrap_angle(atan2(k * lx, q) - mid);
    *u = th / k;
    *d = (2.0 * ly - k * (lx * lx + ly * ly)) / (1.0 + sqrt(k * lx * k * lx + q * q));
}

/* Straight extension past the last segment's end: (u, d) in its end frame. */
static inline void end_local(const road_segment *g, double x, double y, double *u, double *d) {
    double ex, ey, tc, ts;
    seg_ref(g, g->length, &ex, &ey, &tc, &ts);
    const double dx = x - ex, dy = y - ey;
    *u = g->length + dx * tc + dy * ts;
    *d = -dx * ts + dy * tc;
}

static inline void seg_start_local(const road_segment *g, double x, double y, double *u, double *d) {
    const double c0 = g->cos0, s0 = g->sin0;
    const double dx = x - g->x0, dy = y - g->y0;
    *u = dx * c0 + dy * s0;
    *d = -dx * s0 + dy * c0;
}

/* Walks from segment i to the one whose span holds the point. Each segment
 * leaves off where the next begins (on the normal through the joint), so near
 * the road a point moves monotonically; the walk never turns back, which
 * bounds it by n steps even where rounding or a far-off point makes two
 * neighbours each claim the point lies on the other. */
static int project_walk(const road *r, int i, double x, double y, double *s, double *d) {
    const int n = r->n_segments;
    int dir = 0;
    double u, dd;
    for (;;) {
        const road_segment *g = &r->segments[i];
        seg_local(g, x, y, &u, &dd);
        if (u < 0.0) {
            if (i > 0 && dir <= 0) { i--, dir = -1; continue; }
            if (i == 0) {
                if (g->curvature != 0.0) seg_start_local(g, x, y, &u, &dd);
            } else {
                u = 0.0; /* outside a joint's corner: the joint is nearest */
            }
        } else if (u > g->length) {
            if (i < n - 1 && dir >= 0) { i++, dir = 1; continue; }
            if (i == n - 1) {
                if (g->curvature != 0.0) end_local(g, x, y, &u, &dd);
            } else {
                u = g->length;
            }
        }
        *s = g->s0 + u;
        *d = dd;
        return i;
    }
}

/* Distance from (x, y) to segment i, its ends' straight extensions included. */
static double seg_distance(const road *r, int i, double x, double y) {
    const road_segment *g = &r->segments[i];
    double u, d;
    seg_local(g, x, y, &u, &d);
    if (u >= 0.0 && u <= g->length) return fabs(d);
    if (u < 0.0) {
        if (i == 0) {
            seg_start_local(g, x, y, &u, &d);
            return fabs(d);
        }
        return hypot(x - g->x0, y - g->y0);
    }
    if (i == r->n_segments - 1) {
        end_local(g, x, y, &u, &d);
        return fabs(d);
    }
    return hypot(x - r->segments[i + 1].x0, y - r->segments[i + 1].y0);
}

void road_project(const road *r, double x, double y, int *hint, double *s, double *d) {
    const int n = r->n_segments;
    int i = *hint;
    if (i < 0) i = 0;
    if (i > n - 1) i = n - 1;
    i = project_walk(r, i, x, y, s, d);
    /* The walk finds a local nearest point. An arc's span reaches out to
     * infinity past its centre, so from a stale hint the walk can settle on a
     * far segment whose wedge holds the point; a result off the road by more
     * than a lane is re-checked against every segment. That costs O(n) only
     * while the point is far off the road. */
    const double road_w = r->n_lanes * r->lane_width;
    const double slack = r->shoulder + r->lane_width;
    if (n > 1 && !(*d >= -slack && *d <= road_w + slack)) {
        int best = i;
        double best_dist = seg_distance(r, i, x, y);
        for (int j = 0; j < n; j++) {
            if (j == i) continue;
            double dist = seg_distance(r, j, x, y);
            if (dist < best_dist) best = j, best_dist = dist;
        }
        if (best != i) i = project_walk(r, best, x, y, s, d);
    }
    *hint = i;
}

double road_lane_center(const road *r, int lane) { return (lane + 0.5) * r->lane_width; }

int road_lane_at(const road *r, double d) {
    /* The negated test also turns NaN away. */
    if (!(d >= 0.0 && d < r->n_lanes * r->lane_width)) return -1;
    int lane = (int)floor(d / r->lane_width);
    /* d just below the road's left edge can round up to n_lanes. */
    return lane < r->n_lanes ? lane : r->n_lanes - 1;
}

double road_curvature_at(const road *r, double s) {
    if (!(s >= 0.0 && s <= r->length)) return 0.0; /* the extensions are straight */
    return r->segments[seg_find(r, s)].curvature;
}

int road_is_drivable(const road *r, double d, double half_width) {
    return d - half_width >= -r->shoulder &&
           d + half_width <= r->n_lanes * r->lane_width + r->shoulder;
}
