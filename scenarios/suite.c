/* suite.c — loading, validating and expanding evaluation suites. */
#include "scenarios/suite.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/fileio.h"
#include "scenarios/protoc.h"
#include "scenarios/scenario_template.h"
#include "scenarios/suite.pb-c.h"

extern const char suite_proto_text[];
static const protoc_schema suite_schema = {"suite.proto", suite_proto_text, "wmsim.Suite"};

/* Suites are a page or two; the cap only stops a mistaken input. */
#define SUITE_FILE_MAX ((size_t)1 << 20)

const char *suite_loop_name(suite_loop l) {
    return l == SUITE_LOOP_ORACLE ? "oracle" : l == SUITE_LOOP_WORLDMODEL ? "worldmodel" : "?";
}

void suite_free(suite *s) {
    for (int i = 0; i < s->n_scenarios; i++) scenario_free(&s->scenarios[i].sc);
    free(s->scenarios);
    free(s->entries);
    free(s->episodes);
    memset(s, 0, sizeof *s);
}

static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int id_ok(const char *id) {
    if (!*id || strlen(id) >= SCENARIO_ID_MAX) return 0;
    for (const char *c = id; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-')) return 0;
    return 1;
}

/* The entry's default category: its path's last component without the
 * extension, "scenarios/examples/" → "examples". */
static void default_category(const char *path, char *out, size_t n) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    size_t len = strlen(tmp);
    while (len > 1 && tmp[len - 1] == '/') tmp[--len] = '\0';
    const char *base = strrchr(tmp, '/');
    base = base ? base + 1 : tmp;
    snprintf(out, n, "%.*s", (int)strcspn(base, "."), base);
}

static int loops_from(const Wmsim__Loop *loops, size_t n, const int *fallback, int *out, const char *name,
                      const char *field, wm_error *err) {
    if (n == 0) {
        memcpy(out, fallback, sizeof(int) * SUITE_LOOPS);
        return 0;
    }
    memset(out, 0, sizeof(int) * SUITE_LOOPS);
    for (size_t i = 0; i < n; i++) {
        if (loops[i] == WMSIM__LOOP__LOOP_ORACLE) out[SUITE_LOOP_ORACLE] = 1;
        else if (loops[i] == WMSIM__LOOP__LOOP_WORLDMODEL) out[SUITE_LOOP_WORLDMODEL] = 1;
        else return wm_fail(err, "%s:%s[%zu]: unknown loop %d", name, field, i, (int)loops[i]);
    }
    return 0;
}

static int pass_from(const Wmsim__PassCriteria *p, double *min_score, double *min_pass_rate, const char *name,
                     const char *field, wm_error *err) {
    if (!p) return 0;
    if (p->has_min_score) {
        if (!(p->min_score >= 0 && p->min_score <= 1))
            return wm_fail(err, "%s:%s.min_score: %g outside [0, 1]", name, field, p->min_score);
        *min_score = p->min_score;
    }
    if (p->has_min_pass_rate) {
        if (!(p->min_pass_rate >= 0 && p->min_pass_rate <= 1))
            return wm_fail(err, "%s:%s.min_pass_rate: %g outside [0, 1]", name, field, p->min_pass_rate);
        *min_pass_rate = p->min_pass_rate;
    }
    return 0;
}

static int seeds_ok(int32_t seeds, const char *name, const char *field, wm_error *err) {
    if (seeds < 1 || seeds > SUITE_MAX_SEEDS)
        return wm_fail(err, "%s:%s: %d outside [1, %d]", name, field, (int)seeds, SUITE_MAX_SEEDS);
    return 0;
}

/* A path in the suite, relative to the suite file's folder. */
static int resolve(const char *suite_path, const char *path, char *out, size_t n) {
    const char *slash = strrchr(suite_path, '/');
    int len = path[0] == '/' || !slash ? snprintf(out, n, "%s", path)
                                       : snprintf(out, n, "%.*s/%s", (int)(slash - suite_path), suite_path, path);
    return len < 0 || (size_t)len >= n ? -1 : 0;
}

static suite_scenario *add_scenario(suite *s, int entry) {
    /* Doubling (the capacity is the power of two at or above the count):
     * growing one 80 KB scenario at a time made a suite of 1000 template
     * points spend half a minute copying (tests/fuzz/fuzz_suite.c). */
    int n = s->n_scenarios;
    if ((n & (n - 1)) == 0) s->scenarios = REALLOC_CHECK(s->scenarios, n ? 2 * (size_t)n : 1, sizeof *s->scenarios);
    suite_scenario *ss = &s->scenarios[s->n_scenarios++];
    memset(ss, 0, sizeof *ss);
    ss->entry = entry;
    return ss;
}

/* The entry's template points as scenarios. */
static int add_template_points(suite *s, int entry, const char *file, const Wmsim__TemplateSample *ts,
                               const char *field, wm_error *err) {
    scenario_template t;
    if (scenario_template_load(file, &t, err)) return wm_error_prefix(err, "%s:%s.path: ", s->path, field), -1;
    int grid = ts->how_case == WMSIM__TEMPLATE_SAMPLE__HOW_GRID && ts->grid;
    long n = grid ? synth_grid_size(&t, NULL) : ts->how_case == WMSIM__TEMPLATE_SAMPLE__HOW_RANDOM ? ts->random : 0;
    int rc = -1;
    if (!grid && ts->how_case != WMSIM__TEMPLATE_SAMPLE__HOW_RANDOM) {
        wm_fail(err, "%s:%s.sample: set random (a count) or grid: true", s->path, field);
        goto done;
    }
    if (n < 1 || n > SUITE_MAX_SAMPLES) {
        wm_fail(err, "%s:%s.sample: %ld %s points outside [1, %d]", s->path, field, n, grid ? "grid" : "random",
                SUITE_MAX_SAMPLES);
        goto done;
    }
    uint64_t seed = ts->has_seed ? ts->seed : 1;
    for (long i = 0; i < n; i++) {
        double v[SCENARIO_MAX_PARAMS];
        if (grid) synth_grid_point(&t, i, NULL, v);
        else synth_random_point(&t, seed, i, v);
        suite_scenario *ss = add_scenario(s, entry);
        scenario_synthesis how = {.method = grid ? "grid" : "random", .index = (int)i, .seed = grid ? 0 : seed,
                                  .score = NAN};
        if (scenario_template_make(&t, v, &how, &ss->sc, err)) {
            s->n_scenarios--;
            goto done;
        }
        memcpy(ss->file, file, sizeof ss->file);
        size_t len = 0;
        for (int p = 0; p < t.n_params; p++) {
            char one[160];
            scenario_param_format(&t.params[p], v[p], one, sizeof one);
            len += (size_t)snprintf(ss->parameters + len, len < sizeof ss->parameters ? sizeof ss->parameters - len : 0,
                                    "%s%s", p ? "," : "", one);
            if (len >= sizeof ss->parameters) len = sizeof ss->parameters - 1;
        }
    }
    rc = 0;
done:
    scenario_template_free(&t);
    return rc;
}

static int expand_entry(suite *s, int e, const Wmsim__SuiteEntry *m, wm_error *err) {
    char field[64], file[sizeof s->scenarios->file];
    snprintf(field, sizeof field, "entries[%d]", e);
    if (resolve(s->path, s->entries[e].path, file, sizeof file))
        return wm_fail(err, "%s:%s.path: '%s' is too long", s->path, field, s->entries[e].path);
    if (m->sample) return add_template_points(s, e, file, m->sample, field, err);
    char **files = NULL;
    int n = 0, rc = 0;
    if (scenario_files_add(file, &files, &n, err)) return wm_error_prefix(err, "%s:%s.path: ", s->path, field), -1;
    for (int i = 0; i < n && rc == 0; i++) {
        suite_scenario *ss = add_scenario(s, e);
        if (strlen(files[i]) >= sizeof ss->file) {
            s->n_scenarios--;
            rc = wm_fail(err, "%s:%s.path: '%s' is too long", s->path, field, files[i]);
            break;
        }
        memcpy(ss->file, files[i], strlen(files[i]) + 1);
        if ((rc = scenario_load(files[i], &ss->sc, err))) s->n_scenarios--;
    }
    scenario_files_free(files, n);
    return rc;
}

static int validate_and_expand(suite *s, const Wmsim__Suite *m, wm_error *err) {
    const char *name = s->path;
    if (m->base.n_unknown_fields)
        return wm_fail(err, "%s: unknown field number %u", name, (unsigned)m->base.unknown_fields[0].tag);
    if (!m->id) return wm_fail(err, "%s:id: missing", name);
    if (!id_ok(m->id)) return wm_fail(err, "%s:id: '%s' is not [a-z0-9_-]{1,%d}", name, m->id, SCENARIO_ID_MAX - 1);
    snprintf(s->id, sizeof s->id, "%s", m->id);
    snprintf(s->description, sizeof s->description, "%s", m->description ? m->description : "");
    if (m->n_entries == 0) return wm_fail(err, "%s:entries: at least one entry required", name);
    int seeds = 1, loops[SUITE_LOOPS] = {[SUITE_LOOP_ORACLE] = 1};
    double min_score = NAN, min_pass_rate = 1.0;
    if (m->has_seeds && seeds_ok(m->seeds, name, "seeds", err)) return -1;
    if (m->has_seeds) seeds = m->seeds;
    if (loops_from(m->loops, m->n_loops, loops, loops, name, "loops", err) ||
        pass_from(m->pass, &min_score, &min_pass_rate, name, "pass", err))
        return -1;
    s->entries = CALLOC_CHECK(m->n_entries, sizeof *s->entries);
    s->n_entries = (int)m->n_entries;
    for (int e = 0; e < s->n_entries; e++) {
        const Wmsim__SuiteEntry *me = m->entries[e];
        suite_entry *se = &s->entries[e];
        char field[64];
        snprintf(field, sizeof field, "entries[%d]", e);
        if (!me->path || !*me->path) return wm_fail(err, "%s:%s.path: missing", name, field);
        snprintf(se->path, sizeof se->path, "%s", me->path);
        if (me->category && !id_ok(me->category))
            return wm_fail(err, "%s:%s.category: '%s' is not [a-z0-9_-]{1,%d}", name, field, me->category,
                           SCENARIO_ID_MAX - 1);
        if (me->category) snprintf(se->category, sizeof se->category, "%s", me->category);
        else default_category(me->path, se->category, sizeof se->category);
        se->seeds = seeds, se->min_score = min_score, se->min_pass_rate = min_pass_rate;
        char sub[96];
        snprintf(sub, sizeof sub, "%s.seeds", field);
        if (me->has_seeds && seeds_ok(me->seeds, name, sub, err)) return -1;
        if (me->has_seeds) se->seeds = me->seeds;
        snprintf(sub, sizeof sub, "%s.loops", field);
        if (loops_from(me->loops, me->n_loops, loops, se->loops, name, sub, err)) return -1;
        snprintf(sub, sizeof sub, "%s.pass", field);
        if (pass_from(me->pass, &se->min_score, &se->min_pass_rate, name, sub, err)) return -1;
        if (me->sample && (has_suffix(me->path, "/") || (!has_suffix(me->path, ".pbtxt") && !has_suffix(me->path, ".pb"))))
            return wm_fail(err, "%s:%s.sample: only a template file can be sampled, not '%s'", name, field, me->path);
        int first = s->n_scenarios;
        if (expand_entry(s, e, me, err)) return -1;
        for (int i = first; i < s->n_scenarios; i++) {
            scenario *sc = &s->scenarios[i].sc;
            if (!isnan(se->min_score)) sc->success.min_score = se->min_score;
            for (int j = 0; j < i; j++)
                if (strcmp(s->scenarios[j].sc.id, sc->id) == 0)
                    return wm_fail(err, "%s:entries[%d] and %s both run scenario '%s' (%s, %s)", name,
                                   s->scenarios[j].entry, field, sc->id, s->scenarios[j].file, s->scenarios[i].file);
        }
    }
    long total = 0;
    for (int i = 0; i < s->n_scenarios; i++) {
        const suite_entry *se = &s->entries[s->scenarios[i].entry];
        total += (long)se->seeds * (se->loops[0] + se->loops[1]);
    }
    if (total > SUITE_MAX_EPISODES) return wm_fail(err, "%s: %ld episodes, more than %d", name, total, SUITE_MAX_EPISODES);
    s->episodes = CALLOC_CHECK((size_t)total, sizeof *s->episodes);
    for (int i = 0; i < s->n_scenarios; i++) {
        const suite_entry *se = &s->entries[s->scenarios[i].entry];
        for (int seed = 1; seed <= se->seeds; seed++)
            for (int l = 0; l < SUITE_LOOPS; l++)
                if (se->loops[l]) {
                    s->episodes[s->n_episodes++] = (suite_episode){.scenario = i, .seed = (uint64_t)seed, .loop = l};
                    s->uses_loop[l] = 1;
                }
    }
    return 0;
}

int suite_load(const char *path, suite *s, wm_error *err) {
    memset(s, 0, sizeof *s);
    if (err) err->msg[0] = '\0';
    snprintf(s->path, sizeof s->path, "%s", path);
    uint8_t *bytes;
    size_t len;
    if (has_suffix(path, ".pb") ? file_read_all(path, SUITE_FILE_MAX, &bytes, &len, err)
                                : protoc_encode_file(&suite_schema, path, SUITE_FILE_MAX, &bytes, &len, err))
        return -1;
    s->hash = hash_fnv1a64(bytes, len);
    Wmsim__Suite *m = wmsim__suite__unpack(NULL, len, bytes);
    free(bytes);
    if (!m) return wm_fail(err, "%s: not a valid binary Suite protobuf (truncated or corrupt)", path);
    int rc = validate_and_expand(s, m, err);
    wmsim__suite__free_unpacked(m, NULL);
    if (rc) suite_free(s);
    return rc;
}
