/* clip_import.c — dashcam video + driving log → clip.
 *
 * The video is decoded once, front to back, holding two source frames (the
 * ones either side of the next 10 Hz tick); the log is read whole (a day of
 * 100 Hz samples is a few hundred MB of CSV at most, far more than any
 * drive) and sampled by binary search.
 *
 * Frame times are the frames' own timestamps (video_reader_time), so
 * variable-rate video keeps its timing; the overlap with the log is checked
 * up front from the probed rate, before decoding. */
#include "datasets/clip_import.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/fileio.h"
#include "core/mathx.h"
#include "datasets/clip.h"
#include "render/video.h"

#define LOG_FILE_MAX ((size_t)512 << 20)
/* Times that differ by less than this are the same instant: ticks are k / 10
 * and frame times i / fps, which agree only up to rounding. */
#define TIME_EPS 1e-9

clip_import_config clip_import_config_default(void) {
    return (clip_import_config){
        .columns = {"t", "speed", "accel", "brake", "steer"},
        .width = CLIP_IMPORT_DEFAULT_WIDTH,
        .height = CLIP_IMPORT_DEFAULT_HEIGHT,
        .camera = scenario_camera_default(),
        .wheelbase = SCENARIO_DEFAULT_WHEELBASE,
    };
}

/* ---- the driving log ---------------------------------------------------- */

typedef struct {
    const char *s;
    size_t len;
} span;

typedef struct {
    const char *p, *end;
    size_t no; /* 1-based number of the last line returned */
} line_reader;

static int line_next(line_reader *r, span *line) {
    if (r->p >= r->end) return 0;
    const char *nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
    const char *stop = nl ? nl : r->end;
    line->s = r->p;
    line->len = (size_t)(stop - r->p);
    r->no++;
    if (line->len && line->s[line->len - 1] == '\r') line->len--;
    r->p = nl ? nl + 1 : r->end;
    return 1;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

static span trimmed(span f) {
    while (f.len && is_space(f.s[f.len - 1])) f.len--;
    while (f.len && is_space(*f.s)) f.s++, f.len--;
    return f;
}

static int is_blank(span l) { return trimmed(l).len == 0; }

/* Splits a CSV line into fields (up to cap; the count is returned even when
 * larger). A field in double quotes may hold commas; its quotes are
 * dropped ("" inside stays doubled: only numbers and names are read here).
 * Returns -1 for a quote left open. */
static long csv_split(span line, span *fields, size_t cap) {
    size_t n = 0;
    const char *p = line.s, *end = line.s + line.len;
    for (;;) {
        while (p < end && is_space(*p)) p++;
        span f;
        if (p < end && *p == '"') {
            const char *q = ++p;
            for (;;) {
                q = memchr(q, '"', (size_t)(end - q));
                if (!q) return -1;
                if (q + 1 < end && q[1] == '"') q += 2;
                else break;
            }
            f = (span){p, (size_t)(q - p)};
            p = q + 1;
            while (p < end && *p != ',') p++; /* text after the closing quote is ignored */
        } else {
            const char *comma = memchr(p, ',', (size_t)(end - p));
            const char *stop = comma ? comma : end;
            f = trimmed((span){p, (size_t)(stop - p)});
            p = stop;
        }
        if (n < cap) fields[n] = f;
        n++;
        if (p >= end) break;
        p++; /* the comma */
    }
    return (long)n;
}

/* Untrusted text for a message: control and non-ASCII bytes as \xNN, long
 * text cut with "...". */
static const char *show_text(char *out, size_t cap, span t) {
    enum { SHOW_MAX = 60 };
    size_t o = 0;
    for (size_t i = 0; i < t.len && i < SHOW_MAX && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)t.s[i];
        if (c < 0x20 || c >= 0x7f) o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else out[o++] = (char)c;
    }
    if (t.len > SHOW_MAX && o + 4 <= cap) memcpy(out + o, "...", 3), o += 3;
    out[o] = '\0';
    return out;
}

/* 0 when the whole field is one number (strtod in the C locale, which wmsim
 * never changes); inf and nan parse here and are refused by the caller. */
static int parse_number(span f, double *out) {
    f = trimmed(f);
    if (!f.len || f.len > 63) return -1;
    char buf[64];
    memcpy(buf, f.s, f.len);
    buf[f.len] = '\0';
    char *stop;
    double v = strtod(buf, &stop);
    if (stop != buf + f.len) return -1;
    *out = v;
    return 0;
}

enum { COL_T, COL_SPEED, COL_ACCEL, COL_BRAKE, COL_STEER, N_COLS };

void clip_import_log_free(clip_import_log *log) {
    free(log->t);
    free(log->speed);
    free(log->accel);
    free(log->brake);
    free(log->steer);
    memset(log, 0, sizeof *log);
}

static void log_push(clip_import_log *log, size_t *cap, const double v[N_COLS]) {
    if (log->n == *cap) {
        *cap = *cap ? 2 * *cap : 1024;
        log->t = REALLOC_CHECK(log->t, *cap, sizeof(double));
        log->speed = REALLOC_CHECK(log->speed, *cap, sizeof(double));
        log->accel = REALLOC_CHECK(log->accel, *cap, sizeof(double));
        log->brake = REALLOC_CHECK(log->brake, *cap, sizeof(double));
        log->steer = REALLOC_CHECK(log->steer, *cap, sizeof(double));
    }
    log->t[log->n] = v[COL_T];
    log->speed[log->n] = v[COL_SPEED];
    log->accel[log->n] = v[COL_ACCEL];
    log->brake[log->n] = v[COL_BRAKE];
    log->steer[log->n] = v[COL_STEER];
    log->n++;
}

/* "t, speed, accel" for the missing-column message. */
static void list_columns(char *out, size_t cap, const span *names, size_t n) {
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        char shown[256];
        int w = snprintf(out + o, cap - o, "%s%s", i ? ", " : "", show_text(shown, sizeof shown, names[i]));
        if (w < 0 || (size_t)w >= cap - o) break;
        o += (size_t)w;
    }
}

/* Finds each wanted column in the header; where[c] is its field index, or
 * -1 for a signed-accel log's absent brake. */
static int header_columns(const char *path, size_t line_no, span header, const char *const want[N_COLS],
                          long where[N_COLS], long *n_fields, wm_error *err) {
    /* Spreadsheet exports often start with a UTF-8 byte-order mark. */
    if (header.len >= 3 && memcmp(header.s, "\xef\xbb\xbf", 3) == 0) header.s += 3, header.len -= 3;
    enum { MAX_FIELDS = 1024 };
    span *names = MALLOC_CHECK(MAX_FIELDS * sizeof *names);
    long n = csv_split(header, names, MAX_FIELDS);
    int rc = 0;
    if (n < 0) rc = wm_fail(err, "%s:%zu: a quote is not closed", path, line_no);
    else if (n > MAX_FIELDS) rc = wm_fail(err, "%s:%zu: %ld columns, more than %d", path, line_no, n, MAX_FIELDS);
    for (int c = 0; c < N_COLS && rc == 0; c++) {
        where[c] = -1;
        if (c == COL_BRAKE && !*want[c]) continue;
        size_t wl = strlen(want[c]);
        for (long i = 0; i < n && rc == 0; i++) {
            if (names[i].len != wl || memcmp(names[i].s, want[c], wl) != 0) continue;
            if (where[c] >= 0)
                rc = wm_fail(err, "%s:%zu: column '%s' appears twice (columns %ld and %ld)", path,
                             line_no, want[c], where[c] + 1, i + 1);
            else where[c] = i;
        }
        if (rc == 0 && where[c] < 0) {
            char cols[2048];
            list_columns(cols, sizeof cols, names, (size_t)n);
            rc = wm_fail(err, "%s: no column '%s' (columns: %s)", path, want[c], cols);
        }
    }
    free(names);
    *n_fields = n;
    return rc;
}

static int row_values(const char *path, size_t line_no, span line, const char *const want[N_COLS],
                      const long where[N_COLS], long n_fields, span *fields, double v[N_COLS],
                      wm_error *err) {
    long n = csv_split(line, fields, (size_t)n_fields);
    if (n < 0) return wm_fail(err, "%s:%zu: a quote is not closed", path, line_no);
    if (n != n_fields)
        return wm_fail(err, "%s:%zu: %ld columns, but the header has %ld", path, line_no, n, n_fields);
    for (int c = 0; c < N_COLS; c++) {
        if (where[c] < 0) continue;
        span f = trimmed(fields[where[c]]);
        char shown[512];
        if (parse_number(f, &v[c]))
            return wm_fail(err, "%s:%zu: %s (column %ld): not a number: '%s'", path, line_no,
                           want[c], where[c] + 1, show_text(shown, sizeof shown, f));
        if (!isfinite(v[c]))
            return wm_fail(err, "%s:%zu: %s (column %ld): not a finite number: '%s'", path,
                           line_no, want[c], where[c] + 1, show_text(shown, sizeof shown, f));
    }
    if (where[COL_BRAKE] < 0) {
        v[COL_BRAKE] = 0; /* a signed accel column, split when sampled */
    } else {
        for (int c = COL_ACCEL; c <= COL_BRAKE; c++)
            if (v[c] < 0)
                return wm_fail(err, "%s:%zu: %s (column %ld): %g m/s^2 is negative", path,
                               line_no, want[c], where[c] + 1, v[c]);
    }
    return 0;
}

int clip_import_log_read(const char *path, const clip_import_columns *cols, clip_import_log *log,
                         wm_error *err) {
    memset(log, 0, sizeof *log);
    const char *const want[N_COLS] = {cols->t, cols->speed, cols->accel, cols->brake, cols->steer};
    for (int c = 0; c < N_COLS; c++)
        if (!want[c] || (!*want[c] && c != COL_BRAKE))
            return wm_fail(err, "%s: no name given for the %s column", path,
                           (const char *[]){"time", "speed", "accel", "brake", "steer"}[c]);
    uint8_t *data;
    size_t len;
    if (file_read_all(path, LOG_FILE_MAX, &data, &len, err)) return -1;
    line_reader lr = {(const char *)data, (const char *)data + len, 0};
    span line, *fields = NULL;
    long where[N_COLS], n_fields = 0;
    int rc = 0, have_header = 0;
    size_t cap = 0;
    while (rc == 0 && line_next(&lr, &line)) {
        if (is_blank(line) || line.s[0] == '#') continue;
        if (!have_header) {
            have_header = 1;
            rc = header_columns(path, lr.no, line, want, where, &n_fields, err);
            if (rc == 0) fields = MALLOC_CHECK((size_t)n_fields * sizeof *fields);
            continue;
        }
        double v[N_COLS];
        rc = row_values(path, lr.no, line, want, where, n_fields, fields, v, err);
        if (rc == 0 && log->n && !(v[COL_T] > log->t[log->n - 1]))
            rc = wm_fail(err, "%s:%zu: %s %.3f is not after the previous %s %.3f", path, lr.no,
                         want[COL_T], v[COL_T], want[COL_T], log->t[log->n - 1]);
        if (rc == 0) log_push(log, &cap, v);
    }
    if (rc == 0 && !have_header) rc = wm_fail(err, "%s: empty file, expected a header row", path);
    else if (rc == 0 && log->n < 2)
        rc = wm_fail(err, "%s: need at least 2 data rows to interpolate, got %zu", path, log->n);
    free(fields);
    free(data);
    if (rc) clip_import_log_free(log);
    else log->signed_accel = where[COL_BRAKE] < 0;
    return rc;
}

int clip_import_log_sample(const clip_import_log *log, double t, clip_import_sample *out) {
    if (log->n < 2 || !(t >= log->t[0] && t <= log->t[log->n - 1])) return -1;
    /* The last i with t[i] <= t, below n - 1 so i + 1 exists. */
    size_t lo = 0, hi = log->n - 1;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->t[mid] <= t) lo = mid;
        else hi = mid;
    }
    double u = (t - log->t[lo]) / (log->t[lo + 1] - log->t[lo]);
#define LERP(a) ((a)[lo] + u * ((a)[lo + 1] - (a)[lo]))
    *out = (clip_import_sample){LERP(log->speed), LERP(log->accel), LERP(log->brake), LERP(log->steer)};
#undef LERP
    if (log->signed_accel) {
        /* Split after interpolating: between +1 and -1 the command passes
         * through zero, rather than pressing both pedals half way. */
        double a = out->accel;
        out->accel = a > 0 ? a : 0.0;
        out->brake = a < 0 ? -a : 0.0;
    }
    return 0;
}

/* ---- pixels ------------------------------------------------------------- */

/* One axis of the area filter: output pixel o covers source [a, b), its
 * taps start at first[o], with weights w[o * max_taps ...], summing to 1. */
typedef struct {
    int *first, *count;
    float *w;
    int max_taps;
} area_axis;

static void area_axis_init(area_axis *ax, double start, double length, int n_out) {
    double step = length / n_out;
    ax->max_taps = (int)ceil(step) + 2;
    ax->first = MALLOC_CHECK((size_t)n_out * sizeof *ax->first);
    ax->count = MALLOC_CHECK((size_t)n_out * sizeof *ax->count);
    ax->w = CALLOC_CHECK((size_t)n_out * (size_t)ax->max_taps, sizeof *ax->w);
    for (int o = 0; o < n_out; o++) {
        double a = start + o * step, b = start + (o + 1) * step;
        int j0 = (int)floor(a), j1 = (int)ceil(b);
        ax->first[o] = j0;
        ax->count[o] = 0;
        for (int j = j0; j < j1 && ax->count[o] < ax->max_taps; j++) {
            double lo = a > j ? a : j, hi = b < j + 1 ? b : j + 1;
            ax->w[(size_t)o * (size_t)ax->max_taps + (size_t)ax->count[o]++] = (float)((hi - lo) / step);
        }
    }
}

static void area_axis_free(area_axis *ax) {
    free(ax->first);
    free(ax->count);
    free(ax->w);
}

void clip_import_crop_scale(const image *src, image *dst) {
    int sw = src->width, sh = src->height, dw = dst->width, dh = dst->height;
    /* The crop: the largest centred rectangle of the output's aspect,
     * fractional where the sizes do not divide (the filter weighs the edge
     * pixels by how much of them is inside). */
    double cw = sw, ch = sh;
    if ((double)sw * dh > (double)sh * dw) cw = (double)sh * dw / dh;
    else ch = (double)sw * dh / dw;
    area_axis ax, ay;
    area_axis_init(&ax, 0.5 * (sw - cw), cw, dw);
    area_axis_init(&ay, 0.5 * (sh - ch), ch, dh);
    /* Horizontal pass over the rows the crop touches, then vertical. */
    int row0 = ay.first[0], row1 = ay.first[dh - 1] + ay.count[dh - 1];
    float *tmp = MALLOC_CHECK((size_t)(row1 - row0) * (size_t)dw * 3 * sizeof *tmp);
    for (int y = row0; y < row1; y++) {
        const uint8_t *in = src->rgb + (size_t)y * (size_t)sw * 3;
        float *out = tmp + (size_t)(y - row0) * (size_t)dw * 3;
        for (int o = 0; o < dw; o++) {
            const float *w = ax.w + (size_t)o * (size_t)ax.max_taps;
            float acc[3] = {0, 0, 0};
            for (int k = 0; k < ax.count[o]; k++) {
                const uint8_t *p = in + (size_t)(ax.first[o] + k) * 3;
                acc[0] += w[k] * p[0];
                acc[1] += w[k] * p[1];
                acc[2] += w[k] * p[2];
            }
            out[3 * o] = acc[0], out[3 * o + 1] = acc[1], out[3 * o + 2] = acc[2];
        }
    }
    for (int o = 0; o < dh; o++) {
        const float *w = ay.w + (size_t)o * (size_t)ay.max_taps;
        uint8_t *out = dst->rgb + (size_t)o * (size_t)dw * 3;
        for (int x = 0; x < dw * 3; x++) {
            float acc = 0;
            for (int k = 0; k < ay.count[o]; k++)
                acc += w[k] * tmp[(size_t)(ay.first[o] + k - row0) * (size_t)dw * 3 + (size_t)x];
            long v = lroundf(acc);
            out[x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
    free(tmp);
    area_axis_free(&ax);
    area_axis_free(&ay);
}

/* ---- the import --------------------------------------------------------- */

static double frame_time(long long i, double fps) { return (double)i / fps; }

static void short_path(char *out, size_t cap, const char *path) {
    /* meta's source_file is for people: the end of a long path says most. */
    size_t len = strlen(path);
    if (len < cap) snprintf(out, cap, "%s", path);
    else snprintf(out, cap, "...%s", path + len - (cap - 4));
}

typedef struct {
    const clip_import_config *cfg;
    const clip_import_log *log;
    clip_import_report *rep;
    clip_writer *cw;
    image out;          /* the cropped and scaled frame */
    int written;
    action prev_action; /* of the frame written last */
    double x, y, yaw;   /* dead-reckoned pose of the next frame */
} import_state;

static int config_check(const clip_import_config *c, wm_error *err) {
    if (!c->video_path || !*c->video_path) return wm_fail(err, "import: no video given");
    if (!c->log_path || !*c->log_path) return wm_fail(err, "import: no driving log given");
    if (!c->out_dir || !*c->out_dir) return wm_fail(err, "import: no output folder given");
    scenario_camera cam = c->camera;
    cam.width = c->width;
    cam.height = c->height;
    wm_error why;
    if (scenario_camera_check(&cam, &why)) return wm_fail(err, "import: camera: %s", why.msg);
    if (!isfinite(c->time_offset)) return wm_fail(err, "import: time offset is not a finite number");
    if (!(c->wheelbase > 0.5 && c->wheelbase < 20.0))
        return wm_fail(err, "import: wheelbase %g m outside (0.5, 20)", c->wheelbase);
    return 0;
}

/* Writes the tick at video time tv with source frame src, if the log covers it. */
static int import_tick(import_state *s, double tv, const image *src, wm_error *err) {
    const clip_import_config *cfg = s->cfg;
    double tl = tv + cfg->time_offset;
    clip_import_sample smp;
    s->rep->ticks++;
    if (clip_import_log_sample(s->log, tl, &smp)) {
        if (tl < s->log->t[0]) s->rep->dropped_before++;
        else s->rep->dropped_after++;
        return 0;
    }
    clip_import_crop_scale(src, &s->out);
    double yaw_rate = smp.speed * tan(smp.steer) / cfg->wheelbase;
    clip_state st;
    memset(&st, 0, sizeof st);
    st.frame = s->written;
    st.t = (double)s->written / CLIP_FPS;
    st.x = s->x, st.y = s->y, st.yaw = s->yaw;
    st.speed = smp.speed;
    st.yaw_rate = yaw_rate;
    st.accel = smp.accel - smp.brake;
    action a = {smp.accel, smp.brake, smp.steer};
    if (clip_writer_add(s->cw, &s->out, &st, s->written ? &s->prev_action : NULL, err)) return -1;
    /* The pose of the next frame: an arc at this frame's speed and yaw
     * rate, exact for a kinematic bicycle holding them for 0.1 s. */
    double dt = 1.0 / CLIP_FPS, v = smp.speed;
    if (fabs(yaw_rate) > 1e-9) {
        double yaw1 = s->yaw + yaw_rate * dt;
        s->x += v / yaw_rate * (sin(yaw1) - sin(s->yaw));
        s->y -= v / yaw_rate * (cos(yaw1) - cos(s->yaw));
        s->yaw = wrap_angle(yaw1);
    } else {
        s->x += v * dt * cos(s->yaw);
        s->y += v * dt * sin(s->yaw);
    }
    s->prev_action = a;
    s->written++;
    return 0;
}

int clip_import(const clip_import_config *cfg, clip_import_report *rep, wm_error *err) {
    clip_import_report local;
    if (!rep) rep = &local;
    memset(rep, 0, sizeof *rep);
    if (config_check(cfg, err)) return -1;
    clip_import_log log;
    if (clip_import_log_read(cfg->log_path, &cfg->columns, &log, err)) return -1;
    rep->log_start = log.t[0];
    rep->log_end = log.t[log.n - 1];

    video_info info;
    if (video_probe(cfg->video_path, &info, err)) return clip_import_log_free(&log), -1;
    if (!(info.fps > 0) || info.frames < 1) {
        clip_import_log_free(&log);
        return wm_fail(err, "%s: no frame rate or no frames (%d frames, %g fps)", cfg->video_path,
                       info.frames, info.fps);
    }
    rep->source_fps = info.fps;
    /* The overlap is known before decoding anything. */
    double v_end = frame_time(info.frames - 1, info.fps) + 0.5 / info.fps;
    double lo = cfg->time_offset > log.t[0] ? cfg->time_offset : log.t[0];
    double hi = v_end + cfg->time_offset < log.t[log.n - 1] ? v_end + cfg->time_offset : log.t[log.n - 1];
    if (hi < lo) {
        double dur = info.frames / info.fps;
        wm_fail(err, "%s: no overlap with the video %s: the log spans t %.3f to %.3f s, the video "
                "(%.3f s, offset %.3f s) spans log time %.3f to %.3f s",
                cfg->log_path, cfg->video_path, log.t[0], log.t[log.n - 1], dur, cfg->time_offset,
                cfg->time_offset, dur + cfg->time_offset);
        clip_import_log_free(&log);
        return -1;
    }

    video_reader *vr;
    if (video_reader_open(&vr, cfg->video_path, err)) return clip_import_log_free(&log), -1;
    clip_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.format_version = CLIP_FORMAT_VERSION;
    meta.source = CLIP_SOURCE_DASHCAM;
    meta.fps = CLIP_FPS;
    meta.width = cfg->width;
    meta.height = cfg->height;
    meta.camera = cfg->camera;
    meta.camera.width = cfg->width;
    meta.camera.height = cfg->height;
    snprintf(meta.policy, sizeof meta.policy, "dashcam");
    short_path(meta.source_file, sizeof meta.source_file, cfg->video_path);

    import_state s = {.cfg = cfg, .log = &log, .rep = rep};
    image_init(&s.out, cfg->width, cfg->height);
    int rc = clip_writer_open(&s.cw, cfg->out_dir, &meta, err);
    /* Two source frames: cur, the latest, and prev, the one before it. */
    image prev = {0}, cur = {0};
    double tp = 0, tc = 0;
    long long k = 0, i = 0;
    while (rc == 0) {
        /* Decoded into prev's buffer, then swapped, so that at the end cur
         * still holds the last frame. */
        int got = video_reader_next(vr, &prev, err);
        if (got < 0) rc = -1;
        if (got <= 0) break;
        image t = prev;
        prev = cur;
        cur = t;
        tp = tc;
        tc = video_reader_time(vr);
        i++;
        /* Every tick up to this frame's time is nearest to it or to prev
         * (ties go to the earlier frame, the one on screen at the tick). */
        for (double tk; rc == 0 && (tk = (double)k / CLIP_FPS) <= tc + TIME_EPS; k++) {
            const image *pick = i > 1 && tk - tp <= tc - tk + TIME_EPS ? &prev : &cur;
            rc = import_tick(&s, tk, pick, err);
        }
    }
    rep->source_frames = (int)i;
    /* Ticks after the last frame still see it for half a frame period. */
    if (rc == 0 && i > 0)
        for (double tk; rc == 0 && (tk = (double)k / CLIP_FPS) <= tc + 0.5 / info.fps + TIME_EPS; k++)
            rc = import_tick(&s, tk, &cur, err);
    if (rc == 0 && s.written == 0)
        rc = wm_fail(err, "%s: no overlap with the video %s: no 10 Hz tick falls inside the log",
                     cfg->log_path, cfg->video_path);
    rep->frames = s.written;
    if (rc == 0) rc = clip_writer_close(s.cw, err);
    else if (s.cw) clip_writer_abort(s.cw);
    image_free(&prev);
    image_free(&cur);
    image_free(&s.out);
    video_reader_close(vr);
    clip_import_log_free(&log);
    return rc;
}
