/* scenario_template.c — templates (scenarios/scenario_template.h): their
 * parameters' field paths, resolved through protobuf-c's reflection (the
 * descriptors the generated code carries), so a field added to
 * scenario.proto can be a parameter without touching this file; the checks;
 * and the concrete scenarios made by setting the values. */
#include "scenarios/scenario_template.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/fileio.h"
#include "scenarios/protoc.h"
#include "scenarios/scenario.pb-c.h"

#define PARAM_DEFAULT_GRID 3
#define PARAM_MAX_GRID 1000
/* A made scenario's id is the template's + "_" + a letter + the index, 4 to
 * 6 digits (grids stop at 1,000,000 points), so the template's id leaves 8
 * bytes of SCENARIO_ID_MAX - 1. */
#define TEMPLATE_ID_MAX (SCENARIO_ID_MAX - 1 - 8)
#define TEMPLATE_FILE_MAX ((size_t)16 << 20) /* as scenario_load */

/* ---------------------------------------------------------------- field paths */

typedef struct {
    ProtobufCMessage *msg;              /* the message holding the field */
    const ProtobufCFieldDescriptor *fd; /* a number or an enum */
    size_t element;                     /* a repeated field's element; else 0 */
} field_ref;

static int fail_why(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail_why(char *why, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return -1;
}

static int field_is_integer(const ProtobufCFieldDescriptor *fd) {
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return 1;
    default: return 0;
    }
}

static int field_is_number(const ProtobufCFieldDescriptor *fd) {
    return field_is_integer(fd) || fd->type == PROTOBUF_C_TYPE_FLOAT || fd->type == PROTOBUF_C_TYPE_DOUBLE;
}

static const char *field_type_name(const ProtobufCFieldDescriptor *fd) {
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32: return "int32";
    case PROTOBUF_C_TYPE_SINT32: return "sint32";
    case PROTOBUF_C_TYPE_SFIXED32: return "sfixed32";
    case PROTOBUF_C_TYPE_UINT32: return "uint32";
    case PROTOBUF_C_TYPE_FIXED32: return "fixed32";
    case PROTOBUF_C_TYPE_INT64: return "int64";
    case PROTOBUF_C_TYPE_SINT64: return "sint64";
    case PROTOBUF_C_TYPE_SFIXED64: return "sfixed64";
    case PROTOBUF_C_TYPE_UINT64: return "uint64";
    case PROTOBUF_C_TYPE_FIXED64: return "fixed64";
    case PROTOBUF_C_TYPE_FLOAT: return "float";
    case PROTOBUF_C_TYPE_DOUBLE: return "double";
    case PROTOBUF_C_TYPE_BOOL: return "bool";
    case PROTOBUF_C_TYPE_STRING: return "string";
    case PROTOBUF_C_TYPE_BYTES: return "bytes";
    case PROTOBUF_C_TYPE_ENUM: return ((const ProtobufCEnumDescriptor *)fd->descriptor)->short_name;
    case PROTOBUF_C_TYPE_MESSAGE: return ((const ProtobufCMessageDescriptor *)fd->descriptor)->short_name;
    }
    return "?";
}

/* The integers an integer field can hold, as doubles (exact for the
 * bounds that matter: values past 2^53 are not parameters anyone sets). */
static void field_int_bounds(const ProtobufCFieldDescriptor *fd, double *lo, double *hi) {
    switch (fd->type) {
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: *lo = 0, *hi = 4294967295.0; return;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: *lo = -9223372036854775808.0, *hi = 9223372036854774784.0; return;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: *lo = 0, *hi = 18446744073709549568.0; return;
    default: *lo = -2147483648.0, *hi = 2147483647.0; return;
    }
}

/* The oneof member a message holds in fd's oneof: its name, or NULL. */
static const char *oneof_member(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *fd) {
    uint32_t which;
    memcpy(&which, (const char *)msg + fd->quantifier_offset, sizeof which);
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    for (unsigned f = 0; f < desc->n_fields; f++)
        if (desc->fields[f].quantifier_offset == fd->quantifier_offset && desc->fields[f].id == which)
            return desc->fields[f].name;
    return NULL;
}

static int oneof_unset(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *fd) {
    if (!(fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) return 0;
    uint32_t which;
    memcpy(&which, (const char *)msg + fd->quantifier_offset, sizeof which);
    return which != fd->id;
}

static size_t repeated_count(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *fd) {
    size_t n;
    memcpy(&n, (const char *)msg + fd->quantifier_offset, sizeof n);
    return n;
}

static ProtobufCMessage *repeated_message(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *fd, size_t i) {
    ProtobufCMessage **items;
    memcpy(&items, (const char *)msg + fd->offset, sizeof items);
    return items[i];
}

/* The element of actors (or any repeated message with a string `id`)
 * whose id is key; -1 when none. */
static long find_by_id(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *fd, const char *key) {
    const ProtobufCFieldDescriptor *idf =
        protobuf_c_message_descriptor_get_field_by_name(fd->descriptor, "id");
    size_t n = repeated_count(msg, fd);
    for (size_t i = 0; i < n; i++) {
        const ProtobufCMessage *item = repeated_message(msg, fd, i);
        const char *id;
        memcpy(&id, (const char *)item + idf->offset, sizeof id);
        if (id && strcmp(id, key) == 0) return (long)i;
    }
    return -1;
}

/* Appends s to the string in buf (cap bytes), truncating. */
static void append(char *buf, size_t cap, const char *s) {
    size_t used = strlen(buf), len = strlen(s);
    if (used + 1 >= cap) return;
    if (len > cap - used - 1) len = cap - used - 1;
    memcpy(buf + used, s, len);
    buf[used + len] = '\0';
}

/* Resolves path in root (scenario.proto documents the syntax) to a number
 * or an enum that exists in root. 0, or -1 with the reason in why. */
static int path_resolve(ProtobufCMessage *root, const char *path, field_ref *out, char *why, size_t n) {
    ProtobufCMessage *msg = root;
    char here[1024] = ""; /* the path so far, for messages */
    const char *p = path;
    if (!*p) return fail_why(why, n, "empty path");
    for (;;) {
        size_t len = strcspn(p, ".[]");
        char name[128];
        if (len == 0) return fail_why(why, n, "a field name expected at '%s'", p);
        if (len >= sizeof name) return fail_why(why, n, "field name '%.20s...' too long", p);
        memcpy(name, p, len);
        name[len] = '\0';
        p += len;
        const ProtobufCMessageDescriptor *desc = msg->descriptor;
        const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field_by_name(desc, name);
        if (!fd) return fail_why(why, n, "no field '%s' in %s", name, desc->short_name);
        if (msg == root && (strcmp(name, "parameters") == 0 || strcmp(name, "synthesis") == 0))
            return fail_why(why, n, "a template cannot set its own parameters or synthesis");
        const int is_actors = msg == root && strcmp(name, "actors") == 0;
        int indexed = 0;
        char key[SCENARIO_ID_MAX + 64] = "";
        if (*p == '[') {
            const char *close = strchr(p, ']');
            if (!close) return fail_why(why, n, "missing ']' after '%s'", name);
            size_t klen = (size_t)(close - p - 1);
            if (klen == 0) return fail_why(why, n, "empty [] after '%s'", name);
            if (klen >= sizeof key) return fail_why(why, n, "index or id after '%s' too long", name);
            memcpy(key, p + 1, klen);
            key[klen] = '\0';
            p = close + 1;
            indexed = 1;
        }
        if (*p && *p != '.') return fail_why(why, n, "'.' expected after '%s' at '%s'", name, p);
        size_t element = 0;
        if (*here) append(here, sizeof here, ".");
        append(here, sizeof here, name);
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            if (!indexed) return fail_why(why, n, "'%s' is repeated: add [N]%s", name, is_actors ? " or [ID]" : "");
            size_t count = repeated_count(msg, fd);
            if (strspn(key, "0123456789") == strlen(key)) {
                errno = 0;
                unsigned long long i = strtoull(key, NULL, 10);
                if (errno || i >= count)
                    return fail_why(why, n, "%s has no element %s (it has %zu)", here, key, count);
                element = (size_t)i;
            } else {
                if (!is_actors) return fail_why(why, n, "'%s' is not an index (only actors take an id)", key);
                long i = find_by_id(msg, fd, key);
                if (i < 0) return fail_why(why, n, "no actor with id '%s'", key);
                element = (size_t)i;
            }
            append(here, sizeof here, "[");
            append(here, sizeof here, key);
            append(here, sizeof here, "]");
        } else if (indexed) {
            return fail_why(why, n, "'%s' is not repeated: remove [%s]", name, key);
        }
        if (oneof_unset(msg, fd)) {
            const char *set = oneof_member(msg, fd);
            if (set) return fail_why(why, n, "'%s' is not set here (its oneof holds '%s')", name, set);
            return fail_why(why, n, "'%s' is not set here (its oneof holds nothing)", name);
        }
        if (!*p) {
            if (fd->type == PROTOBUF_C_TYPE_MESSAGE)
                return fail_why(why, n, "'%s' is a message (%s), not a number or an enum", name, field_type_name(fd));
            if (!field_is_number(fd) && fd->type != PROTOBUF_C_TYPE_ENUM)
                return fail_why(why, n, "'%s' is a %s, not a number or an enum", name, field_type_name(fd));
            *out = (field_ref){.msg = msg, .fd = fd, .element = element};
            return 0;
        }
        p++; /* the '.' */
        if (fd->type != PROTOBUF_C_TYPE_MESSAGE)
            return fail_why(why, n, "'%s' is a %s, not a message", name, field_type_name(fd));
        ProtobufCMessage *child;
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) child = repeated_message(msg, fd, element);
        else memcpy(&child, (char *)msg + fd->offset, sizeof child);
        if (!child) return fail_why(why, n, "%s is not set in the template", here);
        msg = child;
    }
}

static void *field_ptr(const field_ref *r) {
    char *base = (char *)r->msg;
    if (r->fd->label != PROTOBUF_C_LABEL_REPEATED) return base + r->fd->offset;
    char *items;
    memcpy(&items, base + r->fd->offset, sizeof items);
    size_t size = r->fd->type == PROTOBUF_C_TYPE_DOUBLE || r->fd->type == PROTOBUF_C_TYPE_INT64 ||
                          r->fd->type == PROTOBUF_C_TYPE_SINT64 || r->fd->type == PROTOBUF_C_TYPE_SFIXED64 ||
                          r->fd->type == PROTOBUF_C_TYPE_UINT64 || r->fd->type == PROTOBUF_C_TYPE_FIXED64
                      ? 8
                      : 4;
    return items + r->element * size;
}

/* A proto2 optional scalar has a has_ flag: setting the value sets it (a
 * oneof member's case is already this field: path_resolve checked). */
static void field_mark_set(const field_ref *r) {
    if (r->fd->label != PROTOBUF_C_LABEL_OPTIONAL || (r->fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) return;
    if (r->fd->type == PROTOBUF_C_TYPE_MESSAGE || r->fd->type == PROTOBUF_C_TYPE_STRING) return;
    protobuf_c_boolean one = 1;
    memcpy((char *)r->msg + r->fd->quantifier_offset, &one, sizeof one);
}

/* Sets a number field to v (an integer field to v rounded; the caller
 * checked the bounds), or an enum field to the value v. */
static void field_set(const field_ref *r, double v) {
    void *p = field_ptr(r);
    double k = nearbyint(v);
    switch (r->fd->type) {
    case PROTOBUF_C_TYPE_DOUBLE: memcpy(p, &v, sizeof v); break;
    case PROTOBUF_C_TYPE_FLOAT: {
        float f = (float)v;
        memcpy(p, &f, sizeof f);
        break;
    }
    case PROTOBUF_C_TYPE_ENUM:
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: {
        int32_t x = (int32_t)k;
        memcpy(p, &x, sizeof x);
        break;
    }
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: {
        uint32_t x = (uint32_t)k;
        memcpy(p, &x, sizeof x);
        break;
    }
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: {
        int64_t x = (int64_t)k;
        memcpy(p, &x, sizeof x);
        break;
    }
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        uint64_t x = (uint64_t)k;
        memcpy(p, &x, sizeof x);
        break;
    }
    default: break; /* path_resolve admits nothing else */
    }
    field_mark_set(r);
}

/* A list entry as field r's value: an enum value name, an integer or a
 * number. 0, or -1 with the reason in why. */
static int field_parse_value(const field_ref *r, const char *text, double *out, char *why, size_t n) {
    if (r->fd->type == PROTOBUF_C_TYPE_ENUM) {
        const ProtobufCEnumDescriptor *ed = r->fd->descriptor;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(ed, text);
        if (!ev) return fail_why(why, n, "'%s' is not a %s value", text, ed->short_name);
        *out = ev->value;
        return 0;
    }
    char *end;
    double v = strtod(text, &end);
    if (!*text || *end || !isfinite(v)) return fail_why(why, n, "'%s' is not a number", text);
    if (field_is_integer(r->fd)) {
        double lo, hi;
        field_int_bounds(r->fd, &lo, &hi);
        if (v != nearbyint(v) || strpbrk(text, ".eE"))
            return fail_why(why, n, "'%s' is not an integer (the field is an %s)", text, field_type_name(r->fd));
        if (v < lo || v > hi) return fail_why(why, n, "'%s' outside the range of an %s", text, field_type_name(r->fd));
    }
    *out = v;
    return 0;
}

/* ---------------------------------------------------------------- checks */

typedef struct {
    const char *name;
    wm_error *err;
    int n_problems;
} pctx;

static void pproblem(pctx *c, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void pproblem(pctx *c, const char *field, const char *fmt, ...) {
    c->n_problems++;
    if (!c->err) return;
    char reason[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    wm_error_append(c->err, "%s:%s: %s", c->name, field, reason);
}

static int name_ok(const char *s) {
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) return 0;
    return 1;
}

/* Checks the parameters of m; with out, fills out[0..n) for a template
 * (only meaningful when it returns 0). Returns the problem count. */
static int params_parse(const char *name, const Wmsim__Scenario *m, scenario_param *out, wm_error *err) {
    pctx c = {.name = name, .err = err};
    ProtobufCMessage *root = (ProtobufCMessage *)&m->base; /* resolved, never written */
    size_t n_params = m->n_parameters;
    if (n_params > SCENARIO_MAX_PARAMS) {
        pproblem(&c, "parameters", "at most %d allowed, got %zu", SCENARIO_MAX_PARAMS, n_params);
        n_params = SCENARIO_MAX_PARAMS;
    }
    field_ref seen[SCENARIO_MAX_PARAMS * SCENARIO_MAX_PARAM_FIELDS];
    int seen_param[SCENARIO_MAX_PARAMS * SCENARIO_MAX_PARAM_FIELDS], seen_field[SCENARIO_MAX_PARAMS * SCENARIO_MAX_PARAM_FIELDS];
    int n_seen = 0;
    for (size_t i = 0; i < n_params; i++) {
        const Wmsim__Parameter *pm = m->parameters[i];
        scenario_param sp;
        memset(&sp, 0, sizeof sp);
        char base[64], at[128];
        snprintf(base, sizeof base, "parameters[%zu]", i);
        snprintf(at, sizeof at, "%s.name", base);
        if (!pm->name || !*pm->name) {
            pproblem(&c, at, "missing");
        } else if (strlen(pm->name) >= SCENARIO_ID_MAX) {
            pproblem(&c, at, "longer than %d bytes", SCENARIO_ID_MAX - 1);
        } else if (!name_ok(pm->name)) {
            pproblem(&c, at, "'%s' may only contain a-z, 0-9 and '_'", pm->name);
        } else {
            for (size_t j = 0; j < i; j++)
                if (m->parameters[j]->name && strcmp(m->parameters[j]->name, pm->name) == 0) {
                    pproblem(&c, at, "duplicate name '%s' (also parameters[%zu])", pm->name, j);
                    break;
                }
            snprintf(sp.name, sizeof sp.name, "%s", pm->name);
        }

        /* The fields: all resolve, none set twice, all numbers or all one enum. */
        snprintf(at, sizeof at, "%s.field", base);
        size_t n_fields = pm->n_field;
        if (n_fields == 0) pproblem(&c, at, "at least one field path required");
        if (n_fields > SCENARIO_MAX_PARAM_FIELDS) {
            pproblem(&c, at, "at most %d allowed, got %zu", SCENARIO_MAX_PARAM_FIELDS, n_fields);
            n_fields = SCENARIO_MAX_PARAM_FIELDS;
        }
        field_ref refs[SCENARIO_MAX_PARAM_FIELDS];
        int all_resolved = n_fields > 0, n_enum = 0, n_integer = 0;
        for (size_t j = 0; j < n_fields; j++) {
            char why[512];
            snprintf(at, sizeof at, "%s.field[%zu]", base, j);
            if (path_resolve(root, pm->field[j], &refs[j], why, sizeof why)) {
                pproblem(&c, at, "'%s': %s", pm->field[j], why);
                all_resolved = 0;
                continue;
            }
            for (int k = 0; k < n_seen; k++)
                if (seen[k].msg == refs[j].msg && seen[k].fd == refs[j].fd && seen[k].element == refs[j].element) {
                    pproblem(&c, at, "'%s' is also set by parameters[%d].field[%d]", pm->field[j], seen_param[k],
                             seen_field[k]);
                    break;
                }
            seen[n_seen] = refs[j], seen_param[n_seen] = (int)i, seen_field[n_seen++] = (int)j;
            if (j > 0 && all_resolved) {
                const ProtobufCFieldDescriptor *a = refs[0].fd, *b = refs[j].fd;
                int a_enum = a->type == PROTOBUF_C_TYPE_ENUM, b_enum = b->type == PROTOBUF_C_TYPE_ENUM;
                if (a_enum != b_enum || (a_enum && a->descriptor != b->descriptor)) {
                    pproblem(&c, at, "'%s' is a %s%s, but field[0] '%s' is a %s%s: one parameter sets one kind of value",
                             pm->field[j], b_enum ? field_type_name(b) : "number", b_enum ? " enum" : "",
                             pm->field[0], a_enum ? field_type_name(a) : "number", a_enum ? " enum" : "");
                    all_resolved = 0;
                }
            }
            n_enum += refs[j].fd->type == PROTOBUF_C_TYPE_ENUM;
            n_integer += field_is_integer(refs[j].fd);
        }
        sp.integer = all_resolved && n_integer == (int)n_fields;

        /* A range or a list. */
        int is_range = pm->has_min || pm->has_max, is_list = pm->n_values > 0;
        if (is_range && is_list) {
            pproblem(&c, base, "set min and max (a range) or values (a list), not both");
        } else if (!is_range && !is_list) {
            pproblem(&c, base, "neither a range (min, max) nor a list (values)");
        } else if (is_range) {
            int ok = 1;
            snprintf(at, sizeof at, "%s.min", base);
            if (!pm->has_min) pproblem(&c, at, "missing"), ok = 0;
            else if (!isfinite(pm->min)) pproblem(&c, at, "must be a finite number, got %g", pm->min), ok = 0;
            snprintf(at, sizeof at, "%s.max", base);
            if (!pm->has_max) pproblem(&c, at, "missing"), ok = 0;
            else if (!isfinite(pm->max)) pproblem(&c, at, "must be a finite number, got %g", pm->max), ok = 0;
            if (ok && !(pm->min < pm->max)) pproblem(&c, at, "%g must be greater than min %g", pm->max, pm->min), ok = 0;
            if (all_resolved && n_enum) {
                pproblem(&c, base, "an enum field (%s) takes a list of values, not a range",
                         field_type_name(refs[0].fd));
                ok = 0;
            }
            if (ok && sp.integer && ceil(pm->min) > floor(pm->max)) {
                pproblem(&c, base, "no integer in [%g, %g] for the integer field%s", pm->min, pm->max,
                         n_fields > 1 ? "s" : "");
                ok = 0;
            }
            for (size_t j = 0; ok && all_resolved && j < n_fields; j++) {
                if (!field_is_integer(refs[j].fd)) continue;
                double lo, hi;
                field_int_bounds(refs[j].fd, &lo, &hi);
                if (nearbyint(pm->min) < lo || nearbyint(pm->max) > hi) {
                    pproblem(&c, base, "[%g, %g] outside the range of field[%zu] '%s' (%s)", pm->min, pm->max, j,
                             pm->field[j], field_type_name(refs[j].fd));
                    ok = 0;
                }
            }
            snprintf(at, sizeof at, "%s.grid_points", base);
            sp.grid_points = PARAM_DEFAULT_GRID;
            if (pm->has_grid_points) {
                if (pm->grid_points < 1 || pm->grid_points > PARAM_MAX_GRID)
                    pproblem(&c, at, "%d outside [1, %d]", pm->grid_points, PARAM_MAX_GRID);
                else sp.grid_points = pm->grid_points;
            }
            sp.min = pm->min, sp.max = pm->max;
        } else {
            snprintf(at, sizeof at, "%s.values", base);
            size_t n_values = pm->n_values;
            if (n_values > SCENARIO_MAX_PARAM_VALUES) {
                pproblem(&c, at, "at most %d allowed, got %zu", SCENARIO_MAX_PARAM_VALUES, n_values);
                n_values = SCENARIO_MAX_PARAM_VALUES;
            }
            if (pm->has_grid_points) {
                snprintf(at, sizeof at, "%s.grid_points", base);
                pproblem(&c, at, "only a range has grid points (a list's grid is its values)");
            }
            for (size_t k = 0; k < n_values; k++) {
                snprintf(at, sizeof at, "%s.values[%zu]", base, k);
                if (strlen(pm->values[k]) >= SCENARIO_ID_MAX) {
                    pproblem(&c, at, "longer than %d bytes", SCENARIO_ID_MAX - 1);
                    continue;
                }
                snprintf(sp.values[k], sizeof sp.values[k], "%s", pm->values[k]);
                for (size_t j = 0; all_resolved && j < n_fields; j++) {
                    char why[256];
                    double v;
                    if (field_parse_value(&refs[j], pm->values[k], &v, why, sizeof why) == 0) continue;
                    if (n_fields > 1) pproblem(&c, at, "%s for field[%zu] '%s'", why, j, pm->field[j]);
                    else pproblem(&c, at, "%s", why);
                    break;
                }
            }
            sp.n_values = (int)n_values;
        }
        if (out) out[i] = sp;
    }
    return c.n_problems;
}

int scenario_params_check(const char *name, const Wmsim__Scenario *m, wm_error *err) {
    if (m->n_parameters == 0) return 0;
    return params_parse(name, m, NULL, err);
}

/* ---------------------------------------------------------------- loading */

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int scenario_template_load(const char *path, scenario_template *t, wm_error *err) {
    memset(t, 0, sizeof *t);
    if (err) err->msg[0] = '\0';
    if (strlen(path) >= sizeof t->path) return wm_fail(err, "%.200s...: path too long", path);
    uint8_t *bytes;
    size_t len;
    if (ends_with(path, ".pb")) {
        if (file_read_all(path, TEMPLATE_FILE_MAX, &bytes, &len, err)) return -1;
    } else if (scenario_encode_text(path, &bytes, &len, err)) {
        return -1;
    }
    Wmsim__Scenario *m = wmsim__scenario__unpack(NULL, len, bytes);
    if (!m) {
        free(bytes);
        return wm_fail(err, "%s: not a valid binary Scenario protobuf (truncated or corrupt)", path);
    }
    int rc = -1;
    if (scenario_validate_msg(path, m, err)) goto done;
    if (m->n_parameters == 0) {
        wm_fail(err, "%s: not a template (no parameters)", path);
        goto done;
    }
    if (m->id && *m->id) snprintf(t->id, sizeof t->id, "%s", m->id);
    else scenario_default_id(path, t->id, sizeof t->id);
    if (strlen(t->id) > TEMPLATE_ID_MAX) {
        wm_fail(err, "%s:id: '%s' is too long for a template: at most %d bytes, to leave room for the '_g0000' suffix",
                path, t->id, TEMPLATE_ID_MAX);
        goto done;
    }
    params_parse(path, m, t->params, NULL);
    t->n_params = (int)m->n_parameters;
    snprintf(t->path, sizeof t->path, "%s", path);
    t->hash = hash_fnv1a64(bytes, len);
    t->msg = m;
    m = NULL;
    rc = 0;
done:
    if (m) wmsim__scenario__free_unpacked(m, NULL);
    free(bytes);
    if (rc) {
        memset(t, 0, sizeof *t);
    }
    return rc;
}

void scenario_template_free(scenario_template *t) {
    if (!t) return;
    if (t->msg) wmsim__scenario__free_unpacked(t->msg, NULL);
    memset(t, 0, sizeof *t);
}

/* ---------------------------------------------------------------- making */

void scenario_param_format(const scenario_param *p, double v, char *out, size_t n) {
    if (p->n_values > 0) {
        long i = lround(v);
        if (i < 0) i = 0;
        if (i >= p->n_values) i = p->n_values - 1;
        snprintf(out, n, "%s=%s", p->name, p->values[i]);
    } else {
        snprintf(out, n, "%s=%.4g", p->name, p->integer ? nearbyint(v) : v);
    }
}

static char *strdup_or_null(const char *s) { return s ? STRDUP_CHECK(s) : NULL; }

static Wmsim__Synthesis *synthesis_new(const scenario_template *t, const double *applied, const scenario_synthesis *how,
                                       long index) {
    Wmsim__Synthesis *s = MALLOC_CHECK(sizeof *s);
    wmsim__synthesis__init(s);
    char hash[32];
    snprintf(hash, sizeof hash, "%016" PRIx64, t->hash);
    s->template_id = STRDUP_CHECK(t->id);
    s->template_hash = STRDUP_CHECK(hash);
    s->method = STRDUP_CHECK(how->method);
    s->has_index = 1, s->index = index;
    if (strcmp(how->method, "grid") != 0) s->has_seed = 1, s->seed = how->seed;
    s->n_values = (size_t)t->n_params;
    s->values = CALLOC_CHECK(s->n_values, sizeof *s->values);
    for (int i = 0; i < t->n_params; i++) {
        Wmsim__ParameterValue *pv = MALLOC_CHECK(sizeof *pv);
        wmsim__parameter_value__init(pv);
        pv->name = STRDUP_CHECK(t->params[i].name);
        pv->has_number = 1, pv->number = applied[i];
        if (t->params[i].n_values) pv->text = STRDUP_CHECK(t->params[i].values[(int)applied[i]]);
        s->values[i] = pv;
    }
    s->policy = strdup_or_null(how->policy);
    if (how->policy && !isnan(how->score)) s->has_score = 1, s->score = how->score;
    if (how->policy) s->failure = strdup_or_null(how->failure);
    return s;
}

int scenario_template_make(const scenario_template *t, const double *values, const scenario_synthesis *how,
                           scenario *sc, wm_error *err) {
    memset(sc, 0, sizeof *sc);
    if (err) err->msg[0] = '\0';
    /* The name errors carry: "TEMPLATE[name=value,...]". */
    char name[4096 + 1024];
    size_t used = (size_t)snprintf(name, sizeof name, "%s[", t->path);
    for (int i = 0; i < t->n_params && used < sizeof name; i++) {
        char one[SCENARIO_ID_MAX * 2 + 8];
        scenario_param_format(&t->params[i], values[i], one, sizeof one);
        used += (size_t)snprintf(name + used, sizeof name - used, "%s%s", i ? "," : "", one);
    }
    if (used < sizeof name) snprintf(name + used, sizeof name - used, "]");

    char letter;
    if (strcmp(how->method, "grid") == 0) letter = 'g';
    else if (strcmp(how->method, "random") == 0) letter = 'r';
    else if (strcmp(how->method, "search") == 0) letter = 's';
    else return wm_fail(err, "%s: unknown synthesis method '%s' (grid, random, search)", name, how->method);
    if (how->index < 0 || how->index > 999999)
        return wm_fail(err, "%s: index %d outside [0, 999999]", name, how->index);

    double applied[SCENARIO_MAX_PARAMS];
    for (int i = 0; i < t->n_params; i++) {
        const scenario_param *p = &t->params[i];
        double v = values[i];
        if (p->n_values) {
            if (!(v >= 0 && v <= p->n_values - 1) || v != nearbyint(v))
                return wm_fail(err, "%s: parameter '%s': %g is not an index into its %d values", name, p->name, v,
                               p->n_values);
        } else if (!(v >= p->min && v <= p->max)) {
            return wm_fail(err, "%s: parameter '%s': %g outside [%g, %g]", name, p->name, v, p->min, p->max);
        }
        applied[i] = p->integer ? nearbyint(v) : v;
    }

    /* A deep copy of the template through its encoding. */
    size_t len = wmsim__scenario__get_packed_size(t->msg);
    uint8_t *buf = MALLOC_CHECK(len ? len : 1);
    wmsim__scenario__pack(t->msg, buf);
    Wmsim__Scenario *m = wmsim__scenario__unpack(NULL, len, buf);
    free(buf);
    if (!m) return wm_fail(err, "%s: cannot copy the template", name);

    ProtobufCMessage *root = &m->base;
    for (int i = 0; i < t->n_params; i++) {
        const scenario_param *p = &t->params[i];
        const Wmsim__Parameter *pm = m->parameters[i];
        for (size_t j = 0; j < pm->n_field; j++) {
            field_ref r;
            char why[512];
            double v = applied[i];
            /* Resolved before any value is set: a value never changes the
             * path (ids and oneof cases are not parameters). */
            if (path_resolve(root, pm->field[j], &r, why, sizeof why) ||
                (p->n_values && field_parse_value(&r, p->values[(int)v], &v, why, sizeof why))) {
                wmsim__scenario__free_unpacked(m, NULL);
                return wm_fail(err, "%s:parameters[%d].field[%zu]: '%s': %s", name, i, j, pm->field[j], why);
            }
            field_set(&r, v);
        }
    }

    for (size_t i = 0; i < m->n_parameters; i++) protobuf_c_message_free_unpacked(&m->parameters[i]->base, NULL);
    free(m->parameters);
    m->parameters = NULL, m->n_parameters = 0;
    char id[SCENARIO_ID_MAX + 16]; /* fits: the template's id is at most TEMPLATE_ID_MAX */
    snprintf(id, sizeof id, "%s_%c%04d", t->id, letter, how->index);
    free(m->id);
    m->id = STRDUP_CHECK(id);
    if (m->synthesis) protobuf_c_message_free_unpacked(&m->synthesis->base, NULL);
    m->synthesis = synthesis_new(t, applied, how, how->index);

    if (scenario_validate_msg(name, m, err)) {
        wmsim__scenario__free_unpacked(m, NULL);
        return -1;
    }
    sc->pb_len = wmsim__scenario__get_packed_size(m);
    sc->pb_bytes = MALLOC_CHECK(sc->pb_len ? sc->pb_len : 1);
    wmsim__scenario__pack(m, sc->pb_bytes);
    uint8_t *bytes = sc->pb_bytes;
    size_t n = sc->pb_len;
    scenario_from_msg(m, id, sc);
    sc->pb_bytes = bytes, sc->pb_len = n;
    sc->hash = hash_fnv1a64(bytes, n);
    wmsim__scenario__free_unpacked(m, NULL);
    return 0;
}

int scenario_write(const scenario *sc, const char *path, wm_error *err) {
    if (ends_with(path, ".pb")) return file_write_atomic(path, sc->pb_bytes, sc->pb_len, err);
    char *text;
    if (protoc_decode(&scenario_schema, path, sc->pb_bytes, sc->pb_len, &text, err)) return -1;
    int rc = file_write_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}
