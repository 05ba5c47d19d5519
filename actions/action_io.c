/* action_io.c — action sequences as CSV and as JSON lines.
 *
 * Readers never trust the file: every number must be the whole field and
 * finite, pedals non-negative and times strictly increasing; any error names
 * "file:line" and leaves the caller's sequence empty. Vehicle limits are not
 * applied here: a file is data, and whether a policy may command it is the
 * simulator's decision (action_check at run time).
 *
 * Both readers replace the contents of *seq, which must be initialised
 * ({0} or a previous read). Writers refuse a sequence they could not read
 * back, and go through an atomic file so a failed write leaves no partial file.
 * Numbers are written with 17 significant digits, which round-trips every
 * double bit-exactly. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/action.h"
#include "core/check.h"
#include "core/fileio.h"

/* Far beyond any episode (a day at 10 Hz is under 100 MB of CSV) yet small
 * enough that a wrong path to a huge file fails fast instead of swapping. */
#define ACTION_FILE_MAX ((size_t)256 << 20)

static const char CSV_HEADER[] = "t,accel,brake,steer";
enum { N_FIELDS = 4 };
static const char *const FIELD_NAMES[N_FIELDS] = {"t", "accel", "brake", "steer"};

/* One line of the file, without its '\n' and a trailing '\r'. Not
 * NUL-terminated: a file may contain NUL bytes, which must not cut a line. */
typedef struct {
    const char *s;
    size_t len;
    size_t no; /* 1-based line number */
} text_line;

typedef struct {
    const char *p, *end;
    size_t no;
} line_reader;

static int line_next(line_reader *r, text_line *line) {
    if (r->p >= r->end) return 0;
    const char *nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
    const char *stop = nl ? nl : r->end;
    line->s = r->p;
    line->len = (size_t)(stop - r->p);
    line->no = ++r->no;
    if (line->len && line->s[line->len - 1] == '\r') line->len--;
    r->p = nl ? nl + 1 : r->end;
    return 1;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

static int line_is_blank(const text_line *l) {
    for (size_t i = 0; i < l->len; i++)
        if (!is_space(l->s[i])) return 0;
    return 1;
}

static int line_is_comment(const text_line *l) { return l->len && l->s[0] == '#'; }

/* Where the content ends: blank lines (and, in CSV, comments) after the last
 * real line are padding and are skipped; blank lines before it are errors,
 * since they usually mean two files were pasted together. */
static const char *content_end(const char *buf, size_t len, int csv_comments) {
    line_reader r = {buf, buf + len, 0};
    text_line l;
    const char *end = buf;
    while (line_next(&r, &l))
        if (!line_is_blank(&l) && !(csv_comments && line_is_comment(&l))) end = l.s + l.len;
    return end;
}

/* Quotes untrusted text for an error message: control and non-ASCII bytes
 * as \xNN, so a binary file cannot garble the terminal and an invisible
 * difference (a UTF-8 byte-order mark before the header) shows; long text is
 * cut with "...". */
static const char *show_text(char *out, size_t cap, const char *s, size_t len) {
    enum { SHOW_MAX = 80 };
    size_t o = 0;
    for (size_t i = 0; i < len && i < SHOW_MAX && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f) o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else out[o++] = (char)c;
    }
    if (len > SHOW_MAX && o + 4 <= cap) memcpy(out + o, "...", 3), o += 3;
    out[o] = '\0';
    return out;
}

static void trim(const char **s, size_t *len) {
    while (*len && is_space((*s)[*len - 1])) --*len;
    while (*len && is_space(**s)) ++*s, --*len;
}

/* The whole field, optionally surrounded by spaces, must be one number. */
static int parse_number(const char *s, size_t len, double *out) {
    trim(&s, &len);
    if (!len) return -1;
    char small[64];
    char *copy = len < sizeof small ? small : MALLOC_CHECK(len + 1);
    memcpy(copy, s, len);
    copy[len] = '\0';
    char *stop;
    /* strtod follows the C locale, which wmsim never changes, so '.' is the
     * decimal point whatever the user's environment. Overflow yields ±inf,
     * rejected by check_row; underflow to a subnormal is a legitimate value,
     * so errno is not consulted. */
    double v = strtod(copy, &stop);
    int whole = stop == copy + len; /* an embedded NUL stops strtod short */
    if (copy != small) free(copy);
    if (!whole) return -1;
    *out = v;
    return 0;
}

/* The checks both formats share. prev_t is NULL for the first row. The
 * message has no location; callers prefix it. */
static int check_row(const double v[N_FIELDS], const double *prev_t, wm_error *err) {
    if (!isfinite(v[0])) return wm_fail(err, "t is not a finite number");
    if (prev_t && !(v[0] > *prev_t))
        return wm_fail(err, "t %.3f is not after the previous t %.3f", v[0], *prev_t);
    for (int i = 1; i < N_FIELDS; i++) {
        if (!isfinite(v[i])) return wm_fail(err, "%s is not a finite number", FIELD_NAMES[i]);
        if (i <= 2 && v[i] < 0.0) return wm_fail(err, "%s %.3f m/s^2 is negative", FIELD_NAMES[i], v[i]);
    }
    return 0;
}

/* Takes ownership of the parse result: on success it replaces *seq, on
 * failure both are freed so the caller never sees a half-read sequence. */
static int finish_read(int rc, action_seq *parsed, action_seq *seq) {
    action_seq_free(seq);
    if (rc) action_seq_free(parsed);
    else *seq = *parsed;
    return rc;
}

/* Splits one CSV row into v; the row is not yet checked against the previous one. */
static int csv_parse_row(const char *path, const text_line *l, double v[N_FIELDS], wm_error *err) {
    const char *cols[N_FIELDS];
    size_t lens[N_FIELDS];
    size_t n = 0;
    const char *p = l->s, *end = l->s + l->len;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        if (n < N_FIELDS) cols[n] = p, lens[n] = (size_t)(stop - p);
        n++;
        if (!comma) break;
        p = comma + 1;
    }
    if (n != N_FIELDS) return wm_fail(err, "%s:%zu: expected 4 columns, got %zu", path, l->no, n);
    for (int i = 0; i < N_FIELDS; i++) {
        if (parse_number(cols[i], lens[i], &v[i]) == 0) continue;
        const char *s = cols[i];
        size_t len = lens[i];
        trim(&s, &len);
        char shown[512];
        return wm_fail(err, "%s:%zu: %s: not a number: '%s'", path, l->no, FIELD_NAMES[i],
                       show_text(shown, sizeof shown, s, len));
    }
    return 0;
}

/* Checks v against the rows read so far and appends it. */
static int push_row(const char *path, size_t line, const double v[N_FIELDS], action_seq *seq, wm_error *err) {
    wm_error why;
    if (check_row(v, seq->n ? &seq->t[seq->n - 1] : NULL, &why))
        return wm_fail(err, "%s:%zu: %s", path, line, why.msg);
    action_seq_push(seq, v[0], (action){.accel = v[1], .brake = v[2], .steer = v[3]});
    return 0;
}

int action_seq_read_csv(const char *path, action_seq *seq, wm_error *err) {
    action_seq parsed = {0};
    uint8_t *data;
    size_t len;
    if (file_read_all(path, ACTION_FILE_MAX, &data, &len, err)) return finish_read(-1, &parsed, seq);
    const char *buf = (const char *)data;
    line_reader r = {buf, content_end(buf, len, 1), 0};
    int rc = 0, have_header = 0;
    text_line l;
    while (rc == 0 && line_next(&r, &l)) {
        if (line_is_comment(&l)) continue;
        if (!have_header) {
            have_header = 1;
            if (l.len != strlen(CSV_HEADER) || memcmp(l.s, CSV_HEADER, l.len) != 0) {
                char shown[512];
                rc = wm_fail(err, "%s:%zu: expected header '%s', got '%s'", path, l.no, CSV_HEADER,
                             show_text(shown, sizeof shown, l.s, l.len));
            }
            continue;
        }
        double v[N_FIELDS];
        rc = csv_parse_row(path, &l, v, err);
        if (rc == 0) rc = push_row(path, l.no, v, &parsed, err);
    }
    if (rc == 0 && !have_header) rc = wm_fail(err, "%s: empty file, expected header '%s'", path, CSV_HEADER);
    free(data);
    return finish_read(rc, &parsed, seq);
}

static int jsonl_parse_row(const char *path, const text_line *l, double v[N_FIELDS], wm_error *err) {
    /* jansson silently skips a NUL byte straight after a number, so a
     * corrupted line could pass as valid JSON; NUL is never valid outside a
     * string and is refused here first. */
    const char *nul = memchr(l->s, '\0', l->len);
    if (nul) return wm_fail(err, "%s:%zu: invalid JSON: NUL byte at column %zu", path, l->no, (size_t)(nul - l->s) + 1);
    json_error_t jerr;
    /* Duplicate keys would make "which t?" ambiguous, so they are refused. */
    json_t *obj = json_loadb(l->s, l->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj) return wm_fail(err, "%s:%zu: invalid JSON: %s", path, l->no, jerr.text);
    int rc = 0;
    if (!json_is_object(obj)) rc = wm_fail(err, "%s:%zu: expected a JSON object", path, l->no);
    for (int i = 0; i < N_FIELDS && rc == 0; i++) {
        json_t *x = json_object_get(obj, FIELD_NAMES[i]);
        if (!x) rc = wm_fail(err, "%s:%zu: missing key '%s'", path, l->no, FIELD_NAMES[i]);
        else if (!json_is_number(x)) rc = wm_fail(err, "%s:%zu: key '%s' is not a number", path, l->no, FIELD_NAMES[i]);
        else v[i] = json_number_value(x);
    }
    json_decref(obj);
    return rc;
}

int action_seq_read_jsonl(const char *path, action_seq *seq, wm_error *err) {
    action_seq parsed = {0};
    uint8_t *data;
    size_t len;
    if (file_read_all(path, ACTION_FILE_MAX, &data, &len, err)) return finish_read(-1, &parsed, seq);
    const char *buf = (const char *)data;
    /* No header, so an empty file is the empty sequence, as written by the writer. */
    line_reader r = {buf, content_end(buf, len, 0), 0};
    int rc = 0;
    text_line l;
    while (rc == 0 && line_next(&r, &l)) {
        double v[N_FIELDS];
        rc = jsonl_parse_row(path, &l, v, err);
        if (rc == 0) rc = push_row(path, l.no, v, &parsed, err);
    }
    free(data);
    return finish_read(rc, &parsed, seq);
}

/* A writer must not produce a file its reader refuses (or, for JSON, one
 * jansson cannot even encode: it has no NaN). */
static int check_seq(const char *path, const action_seq *seq, wm_error *err) {
    for (size_t i = 0; i < seq->n; i++) {
        const double v[N_FIELDS] = {seq->t[i], seq->a[i].accel, seq->a[i].brake, seq->a[i].steer};
        wm_error why;
        if (check_row(v, i ? &seq->t[i - 1] : NULL, &why))
            return wm_fail(err, "%s: action %zu: %s", path, i, why.msg);
    }
    return 0;
}

int action_seq_write_csv(const char *path, const action_seq *seq, wm_error *err) {
    if (check_seq(path, seq, err)) return -1;
    atomic_file af;
    if (atomic_file_open(&af, path, err)) return -1;
    fprintf(af.f, "%s\n", CSV_HEADER);
    /* Write errors stick in the stream's error flag, which commit checks. */
    for (size_t i = 0; i < seq->n; i++)
        fprintf(af.f, "%.17g,%.17g,%.17g,%.17g\n", seq->t[i], seq->a[i].accel, seq->a[i].brake, seq->a[i].steer);
    return atomic_file_commit(&af, err);
}

int action_seq_write_jsonl(const char *path, const action_seq *seq, wm_error *err) {
    if (check_seq(path, seq, err)) return -1;
    atomic_file af;
    if (atomic_file_open(&af, path, err)) return -1;
    for (size_t i = 0; i < seq->n; i++) {
        const double v[N_FIELDS] = {seq->t[i], seq->a[i].accel, seq->a[i].brake, seq->a[i].steer};
        json_t *obj = json_object();
        for (int k = 0; k < N_FIELDS && obj; k++)
            if (json_object_set_new(obj, FIELD_NAMES[k], json_real(v[k]))) json_decref(obj), obj = NULL;
        char *text = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)) : NULL;
        json_decref(obj);
        if (!text) {
            atomic_file_abort(&af);
            return wm_fail(err, "%s: action %zu: cannot encode as JSON", path, i);
        }
        fputs(text, af.f);
        fputc('\n', af.f);
        free(text);
    }
    return atomic_file_commit(&af, err);
}
