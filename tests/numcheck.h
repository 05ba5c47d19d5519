/* numcheck.h — numeric helpers shared by the layer suites (test_ops.c,
 * test_transformer_ops.c): float/double vectors, tolerance checks that name
 * the worst element, and central finite differences of a double reference.
 * The tolerance reasoning is at the top of tests/test_ops.c. */
#ifndef WMSIM_NUMCHECK_H
#define WMSIM_NUMCHECK_H

#include <math.h>

#include "core/rng.h"
#include "testutil.h"

#define U 0x1.0p-24  /* float's unit roundoff */
#define SUM_ABS 1e-5 /* tolerances of float sums of up to ~100 terms of size <= 1 */
#define SUM_REL 1e-5
#define FD_STEP 1e-5

static inline float *fvec(size_t n) { return CALLOC_CHECK(n ? n : 1, sizeof(float)); }
static inline double *dvec(size_t n) { return CALLOC_CHECK(n ? n : 1, sizeof(double)); }

static inline float *frand(wm_rng *r, size_t n, double lo, double hi) {
    float *x = fvec(n);
    for (size_t i = 0; i < n; i++) x[i] = (float)rng_range(r, lo, hi);
    return x;
}

static inline double *to_double(const float *x, size_t n) {
    double *d = dvec(n);
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

static inline double dot(const double *a, const double *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Asserts |got - want| <= abs + rel |want| everywhere; a failure names the
 * tensor, the first bad element and the worst error relative to its bound. */
static inline void expect_close(const char *what, const float *got, const double *want, size_t n, double abs,
                                double rel) {
    size_t bad = n, worst = 0;
    double worst_ratio = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double err = fabs((double)got[i] - want[i]), tol = abs + rel * fabs(want[i]);
        const double ratio = err == 0.0 ? 0.0 : err / tol; /* NaN fails both tests */
        if (!(err <= tol) && bad == n) bad = i;
        if (!(ratio <= worst_ratio)) worst_ratio = ratio, worst = i;
    }
    ck_assert_msg(bad == n,
                  "%s: element %zu is %.9g, want %.9g (tolerance %.3g + %.3g rel); worst element %zu at %.3g x "
                  "tolerance (%.9g vs %.9g)",
                  what, bad, bad < n ? got[bad] : 0.0, bad < n ? want[bad] : 0.0, abs, rel, worst, worst_ratio,
                  got[worst], want[worst]);
}

/* Central differences of f() in every element of x (perturbed in place and
 * restored), divided by the step actually taken. */
typedef double (*objective_fn)(const void *ctx);
static inline void fd_gradient(double *grad, double *x, size_t n, objective_fn f, const void *ctx, double h) {
    for (size_t i = 0; i < n; i++) {
        const double x0 = x[i], xp = x0 + h, xm = x0 - h;
        x[i] = xp;
        const double lp = f(ctx);
        x[i] = xm;
        const double lm = f(ctx);
        x[i] = x0;
        grad[i] = (lp - lm) / (xp - xm);
    }
}

#endif
