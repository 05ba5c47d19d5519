/* example_policy.c — wmsim's example shared-library policy: holds a target
 * speed and steers gently toward the centre of the lane it sees.
 *
 *     cc -std=c11 -Wall -Wextra -Werror -O2 -fPIC -shared \
 *        clients/c/example_policy.c -lm -o libexample_policy.so   (or: make clients)
 *     wmsim run SCENARIO --policy "lib:build/clients/libexample_policy.so target=8"
 *
 * Arguments (the text after the library path, key=value separated by
 * spaces or commas): target=MPS, the speed to hold (default 8, [0, 60]);
 * steer_gain=G, rad of steer per camera height of lane-centre offset
 * (default 0.05, [0, 1]). Built against wmsim_policy.h alone.
 *
 * The same policy as clients/python/wmsim_policy/example.py (keep the two
 * alike; its notes explain the lane finder step by step):
 *   speed  accel = 0.5 (target - v) or brake = 0.5 (v - target), clipped
 *          to the observation's accel_max / brake_max;
 *   lane   the asphalt colour is the median of the frame's bottom-centre
 *          patch; asphalt pixels are those near it and grey; the asphalt
 *          run through the centre column gives left and right edge points
 *          row by row from the bottom up; each side's points are fitted
 *          with the line x = a + b*y scoring best, inliers minus 3 per
 *          point nearer the centre (a dashed line's gaps show the next
 *          lane's far edge); on flat ground b is the line's lateral
 *          offset in camera heights and the lines meet at the vanishing
 *          row; steer = -gain * (the lane centre's lateral offset at a
 *          look-ahead row a third of the way down from there), clipped to
 *          steer_max.
 *
 * Frame pixels: W x H, (x, y) from the top left; cx = (W - 1) / 2 is the
 * optical centre's column. */
#include "wmsim_policy.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EX_NAME "example_policy"
#define EX_TARGET_DEFAULT 8.0  /* m/s */
#define EX_TARGET_MAX 60.0     /* m/s */
#define EX_GAIN_DEFAULT 0.05   /* rad per camera height */
#define EX_SPEED_GAIN 0.5      /* (m/s^2) / (m/s) */
#define EX_HOLD_BAND 0.2       /* m/s: "holding" within this of the target */
#define EX_COLOUR_TOL 28       /* max per-channel distance from the asphalt colour */
#define EX_GREY_MAX 40         /* max - min channel of a grey pixel */
#define EX_BRIGHT_MAX 200      /* the asphalt reference is darker than this */
#define EX_MIN_SLOPE 0.15      /* |dx/dy| of a lane line, camera heights */
#define EX_HALF_WIDTH 1.25     /* default lane half width, camera heights */
#define EX_MAX_POINTS 64       /* edge points per side in the line search */
#define EX_MIN_SHARE 8         /* a lane line explains at least 1/EX_MIN_SHARE of its side's points */
#define EX_NEARER_COST 3       /* what an edge point nearer the centre than a line costs it */
#define EX_MAX_SIDE 4096       /* largest frame side accepted */

typedef struct {
    double target_mps, steer_gain;
    double half_width;   /* lane half width last seen, camera heights */
    double *left, *right; /* edge points: (y, x) pairs, up to cap each */
    int cap;
} ex_policy;

typedef struct {
    double offset;     /* lane centre at the look-ahead row, camera heights, + right */
    double px;         /* the same, pixels */
    double half_width; /* camera heights */
    const char *sides; /* "both", "left", "right" */
} ex_lane;

static void ex_err(char *err, size_t err_len, const char *fmt, ...) {
    if (!err || err_len == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

/* v within [lo, hi]; + 0.0 turns -0.0 into 0.0 */
static double ex_clip(double v, double lo, double hi) { return (v < lo ? lo : v > hi ? hi : v) + 0.0; }

/* ---- arguments ---------------------------------------------------------- */

/* One "key=value" token (tok, len) into the policy; 0 or -1 with err. */
static int ex_parse_arg(ex_policy *p, const char *tok, size_t len, int *seen, char *err, size_t err_len) {
    char buf[128];
    if (len >= sizeof buf) {
        ex_err(err, err_len, "%s: argument too long: '%.40s...'", EX_NAME, tok);
        return -1;
    }
    memcpy(buf, tok, len);
    buf[len] = '\0';
    char *eq = strchr(buf, '=');
    if (!eq) {
        ex_err(err, err_len, "%s: '%s': expected key=value (keys: target, steer_gain)", EX_NAME, buf);
        return -1;
    }
    *eq = '\0';
    const char *key = buf, *text = eq + 1;
    double *dst, lo, hi;
    int bit;
    if (strcmp(key, "target") == 0) {
        dst = &p->target_mps, lo = 0.0, hi = EX_TARGET_MAX, bit = 1;
    } else if (strcmp(key, "steer_gain") == 0) {
        dst = &p->steer_gain, lo = 0.0, hi = 1.0, bit = 2;
    } else {
        ex_err(err, err_len, "%s: unknown key '%s' (known: target, steer_gain)", EX_NAME, key);
        return -1;
    }
    if (*seen & bit) {
        ex_err(err, err_len, "%s: %s: given twice", EX_NAME, key);
        return -1;
    }
    *seen |= bit;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (!*text || *end || errno || !isfinite(v)) {
        ex_err(err, err_len, "%s: %s: not a number: '%s'", EX_NAME, key, text);
        return -1;
    }
    if (v < lo || v > hi) {
        ex_err(err, err_len, "%s: %s: %s is not in [%g, %g]", EX_NAME, key, text, lo, hi);
        return -1;
    }
    *dst = v;
    return 0;
}

/* ---- the lane finder ---------------------------------------------------- */

static int ex_is_asphalt(const uint8_t *px, const int ref[3]) {
    int mx = px[0], mn = px[0];
    for (int c = 0; c < 3; c++) {
        int d = px[c] - ref[c];
        if (d > EX_COLOUR_TOL || d < -EX_COLOUR_TOL) return 0;
        if (px[c] > mx) mx = px[c];
        if (px[c] < mn) mn = px[c];
    }
    return mx - mn <= EX_GREY_MAX;
}

/* The asphalt colour: per-channel median of the bottom-centre patch
 * (rows H - H/8 .. H-1, columns 3W/8 .. 5W/8); 0, or -1 when it is not a
 * dark grey (no road just ahead). */
static int ex_road_reference(const wmsim_policy_frame *f, int ref[3]) {
    int W = f->width, H = f->height;
    int y0 = H - (H / 8 > 1 ? H / 8 : 1), x0 = W * 3 / 8, x1 = W * 5 / 8 > x0 + 1 ? W * 5 / 8 : x0 + 1;
    int hist[3][256] = {{0}};
    int n = 0;
    for (int y = y0; y < H; y++)
        for (int x = x0; x < x1; x++, n++)
            for (int c = 0; c < 3; c++) hist[c][f->rgb[((size_t)y * W + x) * 3 + c]]++;
    for (int c = 0; c < 3; c++) {
        /* the mean of the two middle values when n is even, as numpy's median */
        int lo = -1, hi = -1, acc = 0;
        for (int v = 0; v < 256 && hi < 0; v++) {
            acc += hist[c][v];
            if (lo < 0 && acc > (n - 1) / 2) lo = v;
            if (acc > n / 2) hi = v;
        }
        ref[c] = (lo + hi + 1) / 2;
    }
    int mx = ref[0], mn = ref[0];
    for (int c = 1; c < 3; c++) mx = ref[c] > mx ? ref[c] : mx, mn = ref[c] < mn ? ref[c] : mn;
    return mx - mn > EX_GREY_MAX || mx > EX_BRIGHT_MAX ? -1 : 0;
}

/* Edges of the asphalt run through the centre column, bottom row up, into
 * p->left / p->right as (y, x) pairs; returns the top row reached (H when
 * the bottom row has no asphalt near the centre). */
static int ex_road_edges(ex_policy *p, const wmsim_policy_frame *f, const int ref[3], int *n_left, int *n_right) {
    int W = f->width, H = f->height, cx = W / 2, search = W / 16 > 2 ? W / 16 : 2;
    int y_top = H;
    *n_left = *n_right = 0;
    for (int y = H - 1; y >= 0; y--) {
        const uint8_t *row = f->rgb + (size_t)y * W * 3;
        int s = -1;
        for (int d = 0; d <= search && s < 0; d++) {
            if (cx - d >= 0 && ex_is_asphalt(row + (size_t)(cx - d) * 3, ref)) s = cx - d;
            else if (d > 0 && cx + d < W && ex_is_asphalt(row + (size_t)(cx + d) * 3, ref)) s = cx + d;
        }
        if (s < 0) break;
        int start = s, end = s;
        while (start > 0 && ex_is_asphalt(row + (size_t)(start - 1) * 3, ref)) start--;
        while (end < W - 1 && ex_is_asphalt(row + (size_t)(end + 1) * 3, ref)) end++;
        y_top = y;
        if (start > 0) p->left[2 * *n_left] = y, p->left[2 * *n_left + 1] = start - 0.5, ++*n_left;
        if (end < W - 1) p->right[2 * *n_right] = y, p->right[2 * *n_right + 1] = end + 0.5, ++*n_right;
    }
    return y_top;
}

/* The lane line x = a + b*y on side (-1 left, +1 right) through the points
 * (y, x) with y > y_min; 1 when found, else 0. */
static int ex_fit_line(const double *pts, int n_all, int y_min, int side, int W, double *a_out, double *b_out) {
    double ys[EX_MAX_POINTS], xs[EX_MAX_POINTS];
    int m = 0;
    for (int i = 0; i < n_all; i++) m += pts[2 * i] > y_min;
    if (m < 3) return 0;
    /* at most EX_MAX_POINTS, evenly spaced (the Python's linspace + round) */
    int n = m < EX_MAX_POINTS ? m : EX_MAX_POINTS;
    for (int k = 0, i = 0, j = 0; i < n_all && k < n; i++) {
        if (pts[2 * i] <= y_min) continue;
        int want = n == m ? j : (int)floor((double)k * (m - 1) / (n - 1) + 0.5);
        if (j == want) ys[k] = pts[2 * i], xs[k] = pts[2 * i + 1], k++;
        j++;
    }
    double tol = 1.0 + W / 256.0;
    int need = (n + EX_MIN_SHARE - 1) / EX_MIN_SHARE > 3 ? (n + EX_MIN_SHARE - 1) / EX_MIN_SHARE : 3;
    int found = 0, best_score = 0;
    double best_a = 0, best_b = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            double b = (xs[j] - xs[i]) / (ys[j] - ys[i]), a = xs[i] - b * ys[i];
            if (side * b < EX_MIN_SLOPE) continue;
            int count = 0, nearer = 0;
            for (int k = 0; k < n; k++) {
                double resid = xs[k] - (a + b * ys[k]);
                count += fabs(resid) <= tol;
                nearer += -side * resid > tol;
            }
            int score = count - EX_NEARER_COST * nearer;
            if (count >= need && score > best_score) found = 1, best_score = score, best_a = a, best_b = b;
        }
    if (!found) return 0;
    /* least squares over the chosen line's inliers */
    double sy = 0, sx = 0, cnt = 0;
    for (int k = 0; k < n; k++)
        if (fabs(best_a + best_b * ys[k] - xs[k]) <= tol) sy += ys[k], sx += xs[k], cnt++;
    double my = sy / cnt, mx = sx / cnt, syy = 0, sxy = 0;
    for (int k = 0; k < n; k++) {
        if (fabs(best_a + best_b * ys[k] - xs[k]) > tol) continue;
        syy += (ys[k] - my) * (ys[k] - my);
        sxy += (ys[k] - my) * (xs[k] - mx);
    }
    double b = syy > 0 ? sxy / syy : best_b;
    if (side * b < EX_MIN_SLOPE) b = best_b, *a_out = best_a;
    else *a_out = mx - b * my;
    *b_out = b;
    return 1;
}

/* The ego lane in frame f; 1 with *lane filled, 0 when none is seen. */
static int ex_find_lane(ex_policy *p, const wmsim_policy_frame *f, ex_lane *lane) {
    int W = f->width, H = f->height, ref[3], n_left, n_right;
    if (ex_road_reference(f, ref) < 0) return 0;
    int y_top = ex_road_edges(p, f, ref, &n_left, &n_right);
    if (y_top > H - 3) return 0;
    int margin = y_top + 2; /* the rows at the vanishing point are a pixel or two wide */
    double al, bl, ar, br, a_c, b_c, y_v, cx = (W - 1) / 2.0;
    int has_l = ex_fit_line(p->left, n_left, margin, -1, W, &al, &bl);
    int has_r = ex_fit_line(p->right, n_right, margin, +1, W, &ar, &br);
    lane->half_width = p->half_width;
    if (has_l && has_r) {
        y_v = (al - ar) / (br - bl);
        if (!(y_v > -2.0 * H && y_v < H - 3)) return 0;
        lane->half_width = (br - bl) / 2.0;
        a_c = (al + ar) / 2.0, b_c = (bl + br) / 2.0, lane->sides = "both";
    } else if (has_l || has_r) {
        double a = has_l ? al : ar, b = has_l ? bl : br, s = has_l ? -1.0 : 1.0;
        y_v = y_top - 1.0;
        b_c = b - s * p->half_width; /* the same vanishing point, moved half a lane */
        a_c = a + b * y_v - b_c * y_v;
        lane->sides = has_l ? "left" : "right";
    } else {
        return 0;
    }
    double y_la = y_v + (H - 1 - y_v) / 3.0;
    lane->px = a_c + b_c * y_la - cx;
    lane->offset = lane->px / (y_la - y_v);
    return 1;
}

/* ---- the ABI ------------------------------------------------------------ */

int wmsim_policy_abi_version(void) { return WMSIM_POLICY_ABI_VERSION; }

void *wmsim_policy_create(const char *args, char *err, size_t err_len) {
    ex_policy *p = calloc(1, sizeof *p);
    if (!p) {
        ex_err(err, err_len, "%s: out of memory", EX_NAME);
        return NULL;
    }
    p->target_mps = EX_TARGET_DEFAULT, p->steer_gain = EX_GAIN_DEFAULT, p->half_width = EX_HALF_WIDTH;
    int seen = 0;
    for (const char *s = args ? args : ""; *s;) {
        size_t skip = strspn(s, " \t\n,"), len = strcspn(s + skip, " \t\n,");
        s += skip;
        if (len && ex_parse_arg(p, s, len, &seen, err, err_len) < 0) {
            free(p);
            return NULL;
        }
        s += len;
    }
    return p;
}

int wmsim_policy_reset(void *handle, const char *episode_id, char *err, size_t err_len) {
    ex_policy *p = handle;
    (void)episode_id; /* nothing is kept per episode but the lane width */
    if (!p) {
        ex_err(err, err_len, "%s: reset: no policy", EX_NAME);
        return -1;
    }
    p->half_width = EX_HALF_WIDTH;
    return 0;
}

int wmsim_policy_step(void *handle, const wmsim_policy_observation *obs, wmsim_policy_action *act, char *err,
                      size_t err_len) {
    ex_policy *p = handle;
    if (!p || !obs || !act) {
        ex_err(err, err_len, "%s: step: %s is NULL", EX_NAME, !p ? "the policy" : !obs ? "obs" : "act");
        return -1;
    }
    if (!isfinite(obs->speed_mps) || !isfinite(obs->accel_max) || !isfinite(obs->brake_max) ||
        !isfinite(obs->steer_max)) {
        ex_err(err, err_len, "%s: step %d: speed or limits not finite", EX_NAME, obs->step);
        return -1;
    }

    /* Speed: proportional toward the target, within the vehicle's limits. */
    double e = p->target_mps - obs->speed_mps;
    act->accel = ex_clip(EX_SPEED_GAIN * e, 0.0, obs->accel_max > 0 ? obs->accel_max : 0.0);
    act->brake = ex_clip(-EX_SPEED_GAIN * e, 0.0, obs->brake_max > 0 ? obs->brake_max : 0.0);
    char speed_text[96];
    if (fabs(e) <= EX_HOLD_BAND) snprintf(speed_text, sizeof speed_text, "holding %.1f m/s", p->target_mps);
    else
        snprintf(speed_text, sizeof speed_text, "%s %.1f m/s", e > 0 ? "speeding up to" : "slowing to", p->target_mps);

    /* Steering: toward the lane centre seen in the front frame. */
    const wmsim_policy_frame *f = NULL;
    for (int i = 0; obs->frames && i < obs->n_frames && !f; i++)
        if (obs->frames[i].camera && strcmp(obs->frames[i].camera, "front") == 0) f = &obs->frames[i];
    if (!f && obs->frames && obs->n_frames > 0) f = &obs->frames[0];
    ex_lane lane;
    int seen = 0;
    if (f) {
        if (!f->rgb || f->width <= 0 || f->height <= 0 || f->width > EX_MAX_SIDE || f->height > EX_MAX_SIDE) {
            ex_err(err, err_len, "%s: step %d: frame '%s': bad frame %dx%d%s", EX_NAME, obs->step,
                   f->camera ? f->camera : "", f->width, f->height, f->rgb ? "" : " without pixels");
            return -1;
        }
        if (p->cap < f->height) {
            double *l = realloc(p->left, sizeof *l * 2 * (size_t)f->height);
            if (l) p->left = l;
            double *r = realloc(p->right, sizeof *r * 2 * (size_t)f->height);
            if (r) p->right = r;
            if (!l || !r) {
                ex_err(err, err_len, "%s: out of memory", EX_NAME);
                return -1;
            }
            p->cap = f->height;
        }
        seen = ex_find_lane(p, f, &lane);
    }
    char lane_text[96];
    act->steer = 0.0;
    if (!seen) {
        snprintf(lane_text, sizeof lane_text, "no lane in view, wheel straight");
    } else {
        if (strcmp(lane.sides, "both") == 0) p->half_width = lane.half_width;
        double smax = obs->steer_max > 0 ? obs->steer_max : 0.0;
        act->steer = ex_clip(-p->steer_gain * lane.offset, -smax, smax);
        char where[32];
        if (fabs(lane.px) < 0.5) snprintf(where, sizeof where, "ahead");
        else snprintf(where, sizeof where, "%.0f px %s", fabs(lane.px), lane.px > 0 ? "right" : "left");
        snprintf(lane_text, sizeof lane_text, "lane centre %s%s%s%s", where, strcmp(lane.sides, "both") ? " (" : "",
                 strcmp(lane.sides, "both") ? lane.sides : "", strcmp(lane.sides, "both") ? " line only)" : "");
    }
    snprintf(act->reasoning, sizeof act->reasoning, "%s; %s", speed_text, lane_text);
    act->n_trajectory = 0;
    return 0;
}

void wmsim_policy_destroy(void *handle) {
    ex_policy *p = handle;
    if (!p) return;
    free(p->left);
    free(p->right);
    free(p);
}
