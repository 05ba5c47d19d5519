/* mathx.h — the few numeric helpers every module needs. */
#ifndef WMSIM_MATHX_H
#define WMSIM_MATHX_H

#include <math.h>

#define WM_PI 3.14159265358979323846

/* To (-pi, pi]; O(1) for any input (inf and NaN give NaN, never a hang). */
static inline double wrap_angle(double a) {
    double r = remainder(a, 2 * WM_PI);
    return r <= -WM_PI ? r + 2 * WM_PI : r;
}

static inline double clampd(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

#endif
