/* clip.c — the clip format's records: meta.json, states.jsonl and
 * captions.jsonl lines to and from JSON, and the symbolic state of a frame
 * from the simulated world.
 *
 * JSON is written by a small emitter of this file rather than by jansson's
 * dump: jansson prints every double with a fixed 17 digits, so 0.1 comes
 * out as 0.10000000000000001. The emitter prints the shortest text that
 * reads back as the same double (at most 17 digits), so the files stay
 * readable and every value still round-trips exactly. Reading goes through
 * jansson. */
#include "datasets/clip.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "core/check.h"
#include "core/fileio.h"
#include "core/mathx.h"
#include "core/version.h"

#define CLIP_VIEW_RANGE 100.0 /* m of depth */
#define JW_MAX_DEPTH 8

const char *clip_source_name(clip_source s) {
    switch (s) {
    case CLIP_SOURCE_SYNTHETIC: return "synthetic";
    case CLIP_SOURCE_DASHCAM: return "dashcam";
    case CLIP_SOURCE_GENERATED: return "generated";
    }
    return "?";
}

/* ------------------------------------------------------------------ */
/* From the world                                                      */

int clip_actor_in_view(const sim_world *w, const camera_params *cp, int i, clip_actor *out) {
    const sim_actor *a = &w->actors[i];
    double c = cos(w->ego.yaw), s = sin(w->ego.yaw);
    double dx = a->x - w->ego.x, dy = a->y - w->ego.y;
    double x = c * dx + s * dy, y = -s * dx + c * dy;
    /* Depth from the lens; the pitch is ignored, so "in view" is a wedge on
     * the ground: nothing on the road is above or below a dash camera's
     * vertical field of view within 100 m. */
    double depth = x - cp->mount_forward, r = 0.5 * hypot(a->length, a->width);
    double half = 0.5 * cp->hfov_deg * WM_PI / 180.0;
    if (depth + r <= 0 || depth - r > CLIP_VIEW_RANGE) return 0;
    /* Distance of the centre outside the wedge's edge line: a body whose
     * circle reaches into the wedge shows at least partly. */
    if (fabs(y) * cos(half) - depth * sin(half) > r) return 0;
    if (out) {
        memset(out, 0, sizeof *out);
        snprintf(out->id, sizeof out->id, "%s", w->sc->actors[i].id);
        out->kind = a->kind;
        out->x = x, out->y = y;
        out->heading = wrap_angle(a->yaw - w->ego.yaw);
        out->speed = a->speed;
        out->braking = a->kind == ACTOR_VEHICLE && a->braking;
        out->gesture = a->kind == ACTOR_GUARD ? a->gesture : GESTURE_NONE;
    }
    return 1;
}

void clip_state_from_world(const sim_world *w, const camera_params *cp, int frame, clip_state *st) {
    memset(st, 0, sizeof *st);
    st->frame = frame;
    st->t = (double)frame / CLIP_FPS;
    st->x = w->ego.x, st->y = w->ego.y, st->yaw = w->ego.yaw;
    st->speed = w->ego.speed, st->yaw_rate = w->ego.yaw_rate, st->accel = w->ego.accel;
    for (int i = 0; i < w->n_actors && st->n_actors < CLIP_MAX_ACTORS; i++)
        if (clip_actor_in_view(w, cp, i, &st->actors[st->n_actors])) st->n_actors++;
}

/* ------------------------------------------------------------------ */
/* The emitter                                                         */

typedef struct {
    char *buf;
    size_t len, cap;
    int pretty;                  /* newlines and two-space indents */
    int depth;
    int empty[JW_MAX_DEPTH + 1]; /* nothing written yet at this depth */
} jw;

static void jw_raw(jw *j, const char *s, size_t n) {
    if (j->len + n + 1 > j->cap) {
        while (j->len + n + 1 > j->cap) j->cap = j->cap ? 2 * j->cap : 512;
        j->buf = REALLOC_CHECK(j->buf, j->cap, 1);
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

static void jw_puts(jw *j, const char *s) { jw_raw(j, s, strlen(s)); }

static void jw_newline(jw *j) {
    if (!j->pretty) return;
    jw_puts(j, "\n");
    for (int i = 0; i < j->depth; i++) jw_puts(j, "  ");
}

/* Before a key or an array element. */
static void jw_item(jw *j) {
    if (!j->empty[j->depth]) jw_puts(j, ",");
    j->empty[j->depth] = 0;
    jw_newline(j);
}

static void jw_open(jw *j, const char *bracket) {
    jw_puts(j, bracket);
    if (j->depth < JW_MAX_DEPTH) j->depth++;
    j->empty[j->depth] = 1;
}

static void jw_close(jw *j, const char *bracket) {
    int was_empty = j->empty[j->depth];
    j->depth--;
    if (!was_empty) jw_newline(j);
    jw_puts(j, bracket);
}

/* Length of the UTF-8 sequence at s (RFC 3629: no overlongs, surrogates or
 * code points past U+10FFFF, as jansson checks on reading), 0 if invalid. */
static int utf8_len(const unsigned char *s) {
    unsigned c = s[0];
    int n;
    unsigned min;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) n = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) n = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) n = 4, min = 0x10000;
    else return 0;
    unsigned cp = c & (0x7F >> n);
    for (int k = 1; k < n; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

/* A JSON string. Bytes that are not UTF-8 (a file name in Latin-1, say)
 * become U+FFFD: the file must always parse, even if such a name then
 * reads back changed. */
static void jw_str(jw *j, const char *s) {
    jw_puts(j, "\"");
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\', esc[1] = (char)*p, esc[2] = '\0';
            jw_puts(j, esc), p++;
        } else if (*p < 0x20) {
            const char *named = *p == '\n' ? "\\n" : *p == '\t' ? "\\t" : *p == '\r' ? "\\r" : NULL;
            if (named) jw_puts(j, named);
            else snprintf(esc, sizeof esc, "\\u%04x", *p), jw_puts(j, esc);
            p++;
        } else {
            int n = utf8_len(p);
            if (n) jw_raw(j, (const char *)p, (size_t)n), p += n;
            else jw_puts(j, "\\ufffd"), p++;
        }
    }
    jw_puts(j, "\"");
}

static void jw_key(jw *j, const char *k) {
    jw_item(j);
    jw_str(j, k);
    jw_puts(j, j->pretty ? ": " : ":");
}

/* The shortest of %.15g, %.16g, %.17g that reads back as v: 15 digits are
 * unique for every decimal of up to 15 digits, so a value like 0.1 prints
 * as written. Integral values keep a ".0" so readers see a real. Non-finite
 * values have no JSON form: null, which the reader refuses. */
static void jw_double(jw *j, double v) {
    char buf[40];
    if (!isfinite(v)) {
        jw_puts(j, "null");
        return;
    }
    for (int p = 15; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, v);
        if (strtod(buf, NULL) == v) break;
    }
    if (!strpbrk(buf, ".e")) strcat(buf, ".0");
    jw_puts(j, buf);
}

static void jw_int(jw *j, long long v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    jw_puts(j, buf);
}

static void jw_kdouble(jw *j, const char *k, double v) { jw_key(j, k), jw_double(j, v); }
static void jw_kint(jw *j, const char *k, long long v) { jw_key(j, k), jw_int(j, v); }
static void jw_kstr(jw *j, const char *k, const char *v) { jw_key(j, k), jw_str(j, v); }
static void jw_kbool(jw *j, const char *k, int v) { jw_key(j, k), jw_puts(j, v ? "true" : "false"); }

/* ------------------------------------------------------------------ */
/* Reading helpers: every error names the field by its path.           */

static int field_get(json_t *o, const char *prefix, const char *k, json_t **v, wm_error *err) {
    *v = json_object_get(o, k);
    if (!*v) return wm_fail(err, "%s%s: missing", prefix, k);
    return 0;
}

static int get_double(json_t *o, const char *prefix, const char *k, double *out, wm_error *err) {
    json_t *v;
    if (field_get(o, prefix, k, &v, err)) return -1;
    if (!json_is_number(v)) return wm_fail(err, "%s%s: not a number", prefix, k);
    *out = json_number_value(v);
    return 0;
}

static int get_int(json_t *o, const char *prefix, const char *k, long long lo, long long hi, long long *out,
                   wm_error *err) {
    json_t *v;
    if (field_get(o, prefix, k, &v, err)) return -1;
    if (!json_is_integer(v)) return wm_fail(err, "%s%s: not an integer", prefix, k);
    long long x = json_integer_value(v);
    if (x < lo || x > hi) return wm_fail(err, "%s%s: %lld outside [%lld, %lld]", prefix, k, x, lo, hi);
    *out = x;
    return 0;
}

static int get_bool(json_t *o, const char *prefix, const char *k, int *out, wm_error *err) {
    json_t *v;
    if (field_get(o, prefix, k, &v, err)) return -1;
    if (!json_is_boolean(v)) return wm_fail(err, "%s%s: not true or false", prefix, k);
    *out = json_is_true(v);
    return 0;
}

static int get_string(json_t *o, const char *prefix, const char *k, char *out, size_t cap, wm_error *err) {
    json_t *v;
    if (field_get(o, prefix, k, &v, err)) return -1;
    if (!json_is_string(v)) return wm_fail(err, "%s%s: not a string", prefix, k);
    if (json_string_length(v) >= cap)
        return wm_fail(err, "%s%s: longer than %zu bytes", prefix, k, cap - 1);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return wm_fail(err, "%s%s: contains a NUL character", prefix, k);
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int get_object(json_t *o, const char *prefix, const char *k, json_t **out, wm_error *err) {
    if (field_get(o, prefix, k, out, err)) return -1;
    if (!json_is_object(*out)) return wm_fail(err, "%s%s: not an object", prefix, k);
    return 0;
}

/* The format is exact: a field this version does not know is an error (a
 * newer format says so in its version), so typos cannot pass unseen. */
static int only_fields(json_t *o, const char *prefix, const char *const *known, wm_error *err) {
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        int found = 0;
        for (const char *const *q = known; *q && !found; q++) found = strcmp(*q, k) == 0;
        if (!found) return wm_fail(err, "%s%s: unknown field", prefix, k);
    }
    return 0;
}

static json_t *parse_object(const char *text, wm_error *err) {
    json_error_t je;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        wm_fail(err, "not JSON: %s (line %d, column %d)", je.text, je.line, je.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        wm_fail(err, "not a JSON object");
        return NULL;
    }
    return root;
}

static int parse_gesture(const char *name, gesture *g) {
    for (int k = GESTURE_NONE; k <= GESTURE_TURN_RIGHT; k++)
        if (strcmp(name, gesture_name((gesture)k)) == 0) return *g = (gesture)k, 0;
    return -1;
}

static int parse_kind(const char *name, actor_kind *kind) {
    for (int k = ACTOR_VEHICLE; k <= ACTOR_OBSTACLE; k++)
        if (strcmp(name, actor_kind_name((actor_kind)k)) == 0) return *kind = (actor_kind)k, 0;
    return -1;
}

/* ------------------------------------------------------------------ */
/* states.jsonl                                                        */

char *clip_state_to_json(const clip_state *st) {
    jw j = {0};
    jw_open(&j, "{");
    jw_kint(&j, "frame", st->frame);
    jw_kdouble(&j, "t", st->t);
    jw_key(&j, "ego");
    jw_open(&j, "{");
    jw_kdouble(&j, "x", st->x);
    jw_kdouble(&j, "y", st->y);
    jw_kdouble(&j, "yaw", st->yaw);
    jw_kdouble(&j, "speed", st->speed);
    jw_kdouble(&j, "yaw_rate", st->yaw_rate);
    jw_kdouble(&j, "accel", st->accel);
    jw_close(&j, "}");
    if (st->has_action) {
        jw_key(&j, "action");
        jw_open(&j, "{");
        jw_kdouble(&j, "accel", st->action.accel);
        jw_kdouble(&j, "brake", st->action.brake);
        jw_kdouble(&j, "steer", st->action.steer);
        jw_close(&j, "}");
    }
    jw_key(&j, "actors");
    jw_open(&j, "[");
    for (int i = 0; i < st->n_actors; i++) {
        const clip_actor *a = &st->actors[i];
        jw_item(&j);
        jw_open(&j, "{");
        jw_kstr(&j, "id", a->id);
        jw_kstr(&j, "kind", actor_kind_name(a->kind));
        jw_kdouble(&j, "x", a->x);
        jw_kdouble(&j, "y", a->y);
        jw_kdouble(&j, "heading", a->heading);
        jw_kdouble(&j, "speed", a->speed);
        if (a->kind == ACTOR_VEHICLE) jw_kbool(&j, "braking", a->braking);
        if (a->kind == ACTOR_GUARD) jw_kstr(&j, "gesture", gesture_name(a->gesture));
        jw_close(&j, "}");
    }
    jw_close(&j, "]");
    jw_close(&j, "}");
    return j.buf;
}

/* An enum field by name; the name is shown whole when unknown. */
static int get_name(json_t *o, const char *prefix, const char *k, json_t **v, wm_error *err) {
    if (field_get(o, prefix, k, v, err)) return -1;
    if (!json_is_string(*v)) return wm_fail(err, "%s%s: not a string", prefix, k);
    return 0;
}

static int actor_from_json(json_t *o, int i, clip_actor *a, wm_error *err) {
    char prefix[32];
    snprintf(prefix, sizeof prefix, "actors[%d].", i);
    if (!json_is_object(o)) return wm_fail(err, "actors[%d]: not an object", i);
    memset(a, 0, sizeof *a);
    json_t *v;
    if (get_string(o, prefix, "id", a->id, sizeof a->id, err)) return -1;
    if (get_name(o, prefix, "kind", &v, err)) return -1;
    if (parse_kind(json_string_value(v), &a->kind))
        return wm_fail(err, "%skind: unknown '%s'", prefix, json_string_value(v));
    if (get_double(o, prefix, "x", &a->x, err) || get_double(o, prefix, "y", &a->y, err) ||
        get_double(o, prefix, "heading", &a->heading, err) || get_double(o, prefix, "speed", &a->speed, err))
        return -1;
    static const char *const common[] = {"id", "kind", "x", "y", "heading", "speed", NULL};
    static const char *const vehicle[] = {"id", "kind", "x", "y", "heading", "speed", "braking", NULL};
    static const char *const guard[] = {"id", "kind", "x", "y", "heading", "speed", "gesture", NULL};
    if (a->kind == ACTOR_VEHICLE) {
        if (get_bool(o, prefix, "braking", &a->braking, err)) return -1;
        return only_fields(o, prefix, vehicle, err);
    }
    if (a->kind == ACTOR_GUARD) {
        if (get_name(o, prefix, "gesture", &v, err)) return -1;
        if (parse_gesture(json_string_value(v), &a->gesture))
            return wm_fail(err, "%sgesture: unknown '%s'", prefix, json_string_value(v));
        return only_fields(o, prefix, guard, err);
    }
    return only_fields(o, prefix, common, err);
}

static int state_from_object(json_t *root, clip_state *st, wm_error *err) {
    long long frame;
    if (get_int(root, "", "frame", 0, INT32_MAX, &frame, err)) return -1;
    st->frame = (int)frame;
    if (get_double(root, "", "t", &st->t, err)) return -1;
    json_t *ego, *act, *actors;
    if (get_object(root, "", "ego", &ego, err)) return -1;
    if (get_double(ego, "ego.", "x", &st->x, err) || get_double(ego, "ego.", "y", &st->y, err) ||
        get_double(ego, "ego.", "yaw", &st->yaw, err) || get_double(ego, "ego.", "speed", &st->speed, err) ||
        get_double(ego, "ego.", "yaw_rate", &st->yaw_rate, err) || get_double(ego, "ego.", "accel", &st->accel, err))
        return -1;
    static const char *const ego_fields[] = {"x", "y", "yaw", "speed", "yaw_rate", "accel", NULL};
    if (only_fields(ego, "ego.", ego_fields, err)) return -1;
    if ((act = json_object_get(root, "action"))) {
        if (!json_is_object(act)) return wm_fail(err, "action: not an object");
        if (get_double(act, "action.", "accel", &st->action.accel, err) ||
            get_double(act, "action.", "brake", &st->action.brake, err) ||
            get_double(act, "action.", "steer", &st->action.steer, err))
            return -1;
        static const char *const act_fields[] = {"accel", "brake", "steer", NULL};
        if (only_fields(act, "action.", act_fields, err)) return -1;
        st->has_action = 1;
    }
    if (field_get(root, "", "actors", &actors, err)) return -1;
    if (!json_is_array(actors)) return wm_fail(err, "actors: not an array");
    if (json_array_size(actors) > CLIP_MAX_ACTORS)
        return wm_fail(err, "actors: %zu entries, at most %d", json_array_size(actors), CLIP_MAX_ACTORS);
    st->n_actors = (int)json_array_size(actors);
    for (int i = 0; i < st->n_actors; i++)
        if (actor_from_json(json_array_get(actors, (size_t)i), i, &st->actors[i], err)) return -1;
    static const char *const top[] = {"frame", "t", "ego", "action", "actors", NULL};
    return only_fields(root, "", top, err);
}

int clip_state_from_json(const char *line, clip_state *st, wm_error *err) {
    memset(st, 0, sizeof *st);
    json_t *root = parse_object(line, err);
    if (!root) return -1;
    int rc = state_from_object(root, st, err);
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------------ */
/* meta.json                                                           */

/* Far beyond any clip (a day at 10 Hz is a few GB of states: not a clip)
 * yet small enough that a wrong path to a huge file fails fast. */
#define STATES_MAX_BYTES ((size_t)256 << 20)

int clip_states_read(const char *dir, int frames, clip_state **states, wm_error *err) {
    *states = NULL;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, CLIP_FILE_STATES);
    uint8_t *text;
    size_t len;
    if (file_read_all(path, STATES_MAX_BYTES, &text, &len, err)) return -1;
    /* Grown with the lines read, not sized by meta.json's count up front:
     * a 2 KB clip whose meta.json said 2e9 frames asked for 14 TB here and
     * aborted (tests/fuzz/fuzz_clip.c). */
    size_t cap = 1;
    clip_state *st = MALLOC_CHECK(sizeof *st);
    char *save = NULL, *line = strtok_r((char *)text, "\n", &save);
    int i = 0, rc = -1;
    for (; line; line = strtok_r(NULL, "\n", &save), i++) {
        if (i >= frames) {
            wm_fail(err, "%s: more than the %d lines meta.json's frames say", path, frames);
            goto done;
        }
        if ((size_t)i == cap) st = REALLOC_CHECK(st, cap *= 2, sizeof *st);
        if (clip_state_from_json(line, &st[i], err)) {
            wm_error_prefix(err, "%s: line %d: ", path, i + 1);
            goto done;
        }
        if (st[i].frame != i) {
            wm_fail(err, "%s: line %d: frame %d, expected %d", path, i + 1, st[i].frame, i);
            goto done;
        }
    }
    if (i != frames) {
        wm_fail(err, "%s: %d lines, but meta.json says %d frames", path, i, frames);
        goto done;
    }
    rc = 0;
done:
    free(text);
    if (rc) free(st);
    else *states = st;
    return rc;
}

char *clip_meta_to_json(const clip_meta *m) {
    jw j = {.pretty = 1};
    char num[32];
    jw_open(&j, "{");
    jw_kint(&j, "format_version", m->format_version);
    jw_kstr(&j, "wmsim_version", WMSIM_VERSION);
    jw_kstr(&j, "source", clip_source_name(m->source));
    jw_kstr(&j, "scenario_id", m->scenario_id);
    /* 64-bit values as strings: JSON readers hold integers only to 2^53
     * (JavaScript) or 2^63 (jansson), and seeds use all 64 bits. */
    snprintf(num, sizeof num, "%016llx", (unsigned long long)m->scenario_hash);
    jw_kstr(&j, "scenario_hash", num);
    snprintf(num, sizeof num, "%llu", (unsigned long long)m->seed);
    jw_kstr(&j, "seed", num);
    jw_kint(&j, "variation", m->variation);
    jw_kint(&j, "fps", m->fps);
    jw_kint(&j, "width", m->width);
    jw_kint(&j, "height", m->height);
    jw_kint(&j, "frames", m->frames);
    jw_key(&j, "camera");
    jw_open(&j, "{");
    jw_kint(&j, "width", m->camera.width);
    jw_kint(&j, "height", m->camera.height);
    jw_kdouble(&j, "hfov_deg", m->camera.hfov_deg);
    jw_kdouble(&j, "mount_height", m->camera.mount_height);
    jw_kdouble(&j, "mount_forward", m->camera.mount_forward);
    jw_kdouble(&j, "pitch_deg", m->camera.pitch_deg);
    jw_close(&j, "}");
    jw_kstr(&j, "policy", m->policy);
    jw_kbool(&j, "explore", m->explore);
    jw_kstr(&j, "source_file", m->source_file);
    jw_close(&j, "}");
    jw_puts(&j, "\n");
    return j.buf;
}

/* Digits only: strtoull alone would also take "0x", signs and spaces. */
static int parse_u64(const char *s, int base, uint64_t *out) {
    if (!*s) return -1;
    for (const char *p = s; *p; p++)
        if (!(*p >= '0' && *p <= '9') && !(base == 16 && ((*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F'))))
            return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (*end || errno) return -1;
    *out = v;
    return 0;
}

static int meta_from_object(json_t *root, clip_meta *m, wm_error *err) {
    long long v;
    /* The version first: a newer format may lack any other field. */
    if (get_int(root, "", "format_version", INT32_MIN, INT32_MAX, &v, err)) return -1;
    if (v > CLIP_FORMAT_VERSION)
        return wm_fail(err, "format_version %lld is newer than this wmsim reads (%d)", v, CLIP_FORMAT_VERSION);
    if (v < 1) return wm_fail(err, "format_version %lld: not a clip format version (the first is 1)", v);
    m->format_version = (int)v;
    char text[64];
    if (get_string(root, "", "wmsim_version", text, sizeof text, err)) return -1;
    if (get_string(root, "", "source", text, sizeof text, err)) return -1;
    int found = 0;
    for (int s = CLIP_SOURCE_SYNTHETIC; s <= CLIP_SOURCE_GENERATED && !found; s++)
        if (strcmp(text, clip_source_name((clip_source)s)) == 0) m->source = (clip_source)s, found = 1;
    if (!found) return wm_fail(err, "source: unknown '%s'", text);
    if (get_string(root, "", "scenario_id", m->scenario_id, sizeof m->scenario_id, err)) return -1;
    if (get_string(root, "", "scenario_hash", text, sizeof text, err)) return -1;
    if (strlen(text) != 16 || parse_u64(text, 16, &m->scenario_hash))
        return wm_fail(err, "scenario_hash: '%s' is not 16 hex digits", text);
    if (get_string(root, "", "seed", text, sizeof text, err)) return -1;
    if (parse_u64(text, 10, &m->seed)) return wm_fail(err, "seed: '%s' is not an unsigned 64-bit integer", text);
    if (get_int(root, "", "variation", 0, INT32_MAX, &v, err)) return -1;
    m->variation = (int)v;
    if (get_int(root, "", "fps", 1, 1000, &v, err)) return -1;
    m->fps = (int)v;
    if (get_int(root, "", "width", 1, IMAGE_MAX_SIDE, &v, err)) return -1;
    m->width = (int)v;
    if (get_int(root, "", "height", 1, IMAGE_MAX_SIDE, &v, err)) return -1;
    m->height = (int)v;
    if (get_int(root, "", "frames", 0, INT32_MAX, &v, err)) return -1;
    m->frames = (int)v;
    json_t *cam;
    if (get_object(root, "", "camera", &cam, err)) return -1;
    if (get_int(cam, "camera.", "width", 1, IMAGE_MAX_SIDE, &v, err)) return -1;
    m->camera.width = (int)v;
    if (get_int(cam, "camera.", "height", 1, IMAGE_MAX_SIDE, &v, err)) return -1;
    m->camera.height = (int)v;
    if (get_double(cam, "camera.", "hfov_deg", &m->camera.hfov_deg, err) ||
        get_double(cam, "camera.", "mount_height", &m->camera.mount_height, err) ||
        get_double(cam, "camera.", "mount_forward", &m->camera.mount_forward, err) ||
        get_double(cam, "camera.", "pitch_deg", &m->camera.pitch_deg, err))
        return -1;
    static const char *const cam_fields[] = {"width",        "height",        "hfov_deg",
                                             "mount_height", "mount_forward", "pitch_deg", NULL};
    if (only_fields(cam, "camera.", cam_fields, err)) return -1;
    if (get_string(root, "", "policy", m->policy, sizeof m->policy, err)) return -1;
    if (get_bool(root, "", "explore", &m->explore, err)) return -1;
    if (get_string(root, "", "source_file", m->source_file, sizeof m->source_file, err)) return -1;
    static const char *const top[] = {"format_version", "wmsim_version", "source", "scenario_id", "scenario_hash",
                                      "seed", "variation", "fps", "width", "height", "frames", "camera",
                                      "policy", "explore", "source_file", NULL};
    return only_fields(root, "", top, err);
}

int clip_meta_from_json(const char *text, clip_meta *m, wm_error *err) {
    memset(m, 0, sizeof *m);
    json_t *root = parse_object(text, err);
    if (!root) return -1;
    int rc = meta_from_object(root, m, err);
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------------ */
/* captions.jsonl                                                      */

char *clip_caption_to_json(const clip_caption *c) {
    jw j = {0};
    jw_open(&j, "{");
    jw_kdouble(&j, "t", c->t);
    jw_kint(&j, "frame", c->frame);
    jw_kstr(&j, "text", c->text);
    jw_close(&j, "}");
    return j.buf;
}

int clip_caption_from_json(const char *line, clip_caption *c, wm_error *err) {
    memset(c, 0, sizeof *c);
    json_t *root = parse_object(line, err);
    if (!root) return -1;
    long long frame = 0;
    static const char *const fields[] = {"t", "frame", "text", NULL};
    int rc = get_double(root, "", "t", &c->t, err) || get_int(root, "", "frame", 0, INT32_MAX, &frame, err) ||
                     get_string(root, "", "text", c->text, sizeof c->text, err) || only_fields(root, "", fields, err)
                 ? -1
                 : 0;
    c->frame = (int)frame;
    if (rc == 0 && !c->text[0]) rc = wm_fail(err, "text: empty");
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------------ */

int clip_is_complete(const char *dir) {
    char path[4200];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, CLIP_FILE_META) >= sizeof path) return 0;
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    int ok = root && json_is_object(root);
    json_decref(root);
    return ok;
}

/* ---- clip folders under a root ----------------------------------------- */

static int is_clip_file(const char *name) {
    static const char *const files[] = {CLIP_FILE_META, CLIP_FILE_FRAMES, CLIP_FILE_VIDEO, CLIP_FILE_STATES,
                                        CLIP_FILE_CAPTIONS};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        size_t n = strlen(files[i]);
        if (strncmp(name, files[i], n) == 0 && (name[n] == '\0' || strncmp(name + n, ".tmp.", 5) == 0)) return 1;
    }
    return 0;
}

void clip_folders_add(clip_folder_list *l, const char *dir) {
    if (l->n == l->cap) l->dirs = REALLOC_CHECK(l->dirs, (size_t)(l->cap = l->cap ? 2 * l->cap : 16), sizeof *l->dirs);
    l->dirs[l->n++] = STRDUP_CHECK(dir);
}

void clip_folders_free(clip_folder_list *l) {
    for (int i = 0; i < l->n; i++) free(l->dirs[i]);
    free(l->dirs);
    memset(l, 0, sizeof *l);
}

static int compare_dirs(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int find_folders(const char *dir, int depth, clip_folder_list *out, wm_error *err) {
    DIR *d = opendir(dir);
    if (!d) return wm_fail(err, "%s: cannot read folder: %s", dir, strerror(errno));
    clip_folder_list sub = {0};
    int is_clip = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        if (is_clip_file(e->d_name)) {
            is_clip = 1;
            continue;
        }
        char full[4200];
        struct stat sb;
        if ((size_t)snprintf(full, sizeof full, "%s/%s", dir, e->d_name) >= sizeof full) continue;
        if (stat(full, &sb) == 0 && S_ISDIR(sb.st_mode)) clip_folders_add(&sub, full);
    }
    closedir(d);
    int rc = 0;
    if (is_clip) {
        clip_folders_add(out, dir);
    } else if (depth < CLIP_TREE_MAX_DEPTH) {
        if (sub.n) qsort(sub.dirs, (size_t)sub.n, sizeof *sub.dirs, compare_dirs);
        for (int i = 0; i < sub.n && rc == 0; i++) rc = find_folders(sub.dirs[i], depth + 1, out, err);
    }
    clip_folders_free(&sub);
    return rc;
}

int clip_folders_find(const char *root, clip_folder_list *out, wm_error *err) {
    memset(out, 0, sizeof *out);
    return find_folders(root, 0, out, err);
}
