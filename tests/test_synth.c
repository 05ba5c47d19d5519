/* test_synth.c — scenario templates, the samplers, the CEM, and the real
 * `wmsim synth sweep|search` commands.
 *
 * Every template check has a case in the table below whose whole error
 * message is compared, as tests/test_scenarios.c does for scenarios. The
 * CLI tests run the binary named in WMSIM_BIN on the shipped templates and
 * on small templates written here. */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>

#include "core/error.h"
#include "core/fileio.h"
#include "scenarios/scenario.h"
#include "scenarios/scenario.pb-c.h"
#include "scenarios/scenario_template.h"
#include "scenarios/synth.h"
#include "sim/episode.h"
#include "testutil.h"

/* ------------------------------------------------------------ helpers */

/* A valid scenario with a guard (timeline of two segments), a braking lead
 * on two forward lanes and a bend; "lighting" and the shoulder are left to
 * their defaults so parameters can set them. */
#define BASE                                                                                                   \
    "id: \"t\"\n"                                                                                              \
    "road { segments { length_m: 200 } segments { length_m: 100 curvature_per_m: 0.01 }\n"                     \
    "  lanes {} lanes {} speed_limit_mps: 13 }\n"                                                              \
    "ego { lane: 0 s_m: 10 speed_mps: 5 }\n"                                                                   \
    "actors { id: \"g\" guard { s_m: 150 d_m: -0.5\n"                                                          \
    "  timeline { gesture: GESTURE_STOP start_s: 0 duration_s: 4 }\n"                                          \
    "  timeline { gesture: GESTURE_PROCEED start_s: 4 } } }\n"                                                 \
    "actors { id: \"lead\" vehicle { lane: 0 s_m: 60 speed_mps: 8 hard_brake { trigger { at_time_s: 3 } } } }\n"

static scenario_template *new_template(void) { return CALLOC_CHECK(1, sizeof(scenario_template)); }


static void free_file(char *path) {
    char *slash = strrchr(path, '/');
    *slash = '\0';
    test_remove_tree(path);
    free(path);
}

/* BASE + params as a template file; loads it and returns the result, the
 * template in *t (when 0) and the message in err. */
static int load_with(const char *params, scenario_template *t, wm_error *err, char **path_out) {
    char text[8192];
    snprintf(text, sizeof text, "%s%s", BASE, params);
    char *path = test_write_temp_file("t.pbtxt", text);
    int rc = scenario_template_load(path, t, err);
    *path_out = path;
    return rc;
}

/* "field: reason" lines -> the whole message for path. */
static void build_expected(char *want, size_t cap, const char *path, const char *lines) {
    size_t n = 0;
    want[0] = '\0';
    while (*lines && n < cap) {
        size_t l = strcspn(lines, "\n");
        n += (size_t)snprintf(want + n, cap - n, "%s%s:%.*s", n ? "\n" : "", path, (int)l, lines);
        lines += l;
        if (*lines == '\n') lines++;
    }
}

static json_t *load_json(const char *path) {
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    ck_assert_msg(root != NULL, "%s: %s", path, jerr.text);
    return root;
}

/* ------------------------------------------------------------ template checks */

typedef struct {
    const char *params;
    const char *lines; /* "field: reason" per line, each prefixed with the path */
} bad_case;

static const bad_case bad_cases[] = {
    /* paths */
    {"parameters { name: \"a\" field: \"ego.speed_mps\" field: \"actors[guard].guard.s_m\" min: 1 max: 2 }",
     "parameters[0].field[1]: 'actors[guard].guard.s_m': no actor with id 'guard'"},
    {"parameters { name: \"a\" field: \"road.segments[2].curvature_per_m\" min: 0 max: 0.01 }",
     "parameters[0].field[0]: 'road.segments[2].curvature_per_m': road.segments has no element 2 (it has 2)"},
    {"parameters { name: \"a\" field: \"actors[g].vehicle.s_m\" min: 1 max: 2 }",
     "parameters[0].field[0]: 'actors[g].vehicle.s_m': 'vehicle' is not set here (its oneof holds 'guard')"},
    {"parameters { name: \"a\" field: \"actors[lead].vehicle.hard_brake.trigger.ego_within_m\" min: 1 max: 2 }",
     "parameters[0].field[0]: 'actors[lead].vehicle.hard_brake.trigger.ego_within_m': 'ego_within_m' is not set "
     "here (its oneof holds 'at_time_s')"},
    {"parameters { name: \"a\" field: \"actors[lead].vehicle.cruise.speed_mps\" min: 1 max: 2 }",
     "parameters[0].field[0]: 'actors[lead].vehicle.cruise.speed_mps': 'cruise' is not set here (its oneof holds "
     "'hard_brake')"},
    {"parameters { name: \"a\" field: \"ego.vehicle.length_m\" min: 4 max: 5 }",
     "parameters[0].field[0]: 'ego.vehicle.length_m': ego.vehicle is not set in the template"},
    {"parameters { name: \"a\" field: \"ego.speed\" min: 1 max: 2 }",
     "parameters[0].field[0]: 'ego.speed': no field 'speed' in Ego"},
    {"parameters { name: \"a\" field: \"road.segments.length_m\" min: 1 max: 2 }",
     "parameters[0].field[0]: 'road.segments.length_m': 'segments' is repeated: add [N]"},
    {"parameters { name: \"a\" field: \"actors.guard.s_m\" min: 1 max: 2 }",
     "parameters[0].field[0]: 'actors.guard.s_m': 'actors' is repeated: add [N] or [ID]"},
    {"parameters { name: \"a\" field: \"ego[0].s_m\" min: 1 max: 2 }",
     "parameters[0].field[0]: 'ego[0].s_m': 'ego' is not repeated: remove [0]"},
    {"parameters { name: \"a\" field: \"road.segments[x].length_m\" min: 1 max: 2 }",
     "parameters[0].field[0]: 'road.segments[x].length_m': 'x' is not an index (only actors take an id)"},
    {"parameters { name: \"a\" field: \"ego\" min: 1 max: 2 }",
     "parameters[0].field[0]: 'ego': 'ego' is a message (Ego), not a number or an enum"},
    {"parameters { name: \"a\" field: \"instruction\" values: \"go\" }",
     "parameters[0].field[0]: 'instruction': 'instruction' is a string, not a number or an enum"},
    {"parameters { name: \"a\" field: \"ego.s_m.x\" min: 1 max: 2 }",
     "parameters[0].field[0]: 'ego.s_m.x': 's_m' is a double, not a message"},
    {"parameters { name: \"a\" field: \"ego..s_m\" min: 1 max: 2 }",
     "parameters[0].field[0]: 'ego..s_m': a field name expected at '.s_m'"},
    {"parameters { name: \"a\" field: \"actors[g\" min: 1 max: 2 }",
     "parameters[0].field[0]: 'actors[g': missing ']' after 'actors'"},
    {"parameters { name: \"a\" field: \"parameters[0].min\" min: 1 max: 2 }",
     "parameters[0].field[0]: 'parameters[0].min': a template cannot set its own parameters or synthesis"},
    {"parameters { name: \"a\" min: 1 max: 2 }", "parameters[0].field: at least one field path required"},
    /* values */
    {"parameters { name: \"l\" field: \"lighting\" values: \"LIGHTING_DAY\" values: \"LIGHTING_NOON\" }",
     "parameters[0].values[1]: 'LIGHTING_NOON' is not a Lighting value"},
    {"parameters { name: \"l\" field: \"ego.lane\" values: \"0\" values: \"1.5\" }",
     "parameters[0].values[1]: '1.5' is not an integer (the field is an int32)"},
    {"parameters { name: \"v\" field: \"ego.speed_mps\" values: \"fast\" }",
     "parameters[0].values[0]: 'fast' is not a number"},
    {"parameters { name: \"l\" field: \"lighting\" min: 1 max: 2 }",
     "parameters[0]: an enum field (Lighting) takes a list of values, not a range"},
    {"parameters { name: \"l\" field: \"lighting\" field: \"ego.speed_mps\" values: \"LIGHTING_DAY\" }",
     "parameters[0].field[1]: 'ego.speed_mps' is a number, but field[0] 'lighting' is a Lighting enum: one "
     "parameter sets one kind of value"},
    /* ranges and lists */
    {"parameters { name: \"a\" field: \"ego.speed_mps\" min: 3 max: 3 }",
     "parameters[0].max: 3 must be greater than min 3"},
    {"parameters { name: \"a\" field: \"ego.speed_mps\" min: 3 }", "parameters[0].max: missing"},
    {"parameters { name: \"a\" field: \"ego.speed_mps\" min: 1 max: 2 values: \"3\" }",
     "parameters[0]: set min and max (a range) or values (a list), not both"},
    {"parameters { name: \"a\" field: \"ego.speed_mps\" }",
     "parameters[0]: neither a range (min, max) nor a list (values)"},
    {"parameters { name: \"a\" field: \"ego.speed_mps\" min: 1 max: 2 grid_points: 0 }",
     "parameters[0].grid_points: 0 outside [1, 1000]"},
    {"parameters { name: \"a\" field: \"ego.speed_mps\" values: \"1\" grid_points: 2 }",
     "parameters[0].grid_points: only a range has grid points (a list's grid is its values)"},
    {"parameters { name: \"a\" field: \"ego.lane\" min: 0.2 max: 0.8 }",
     "parameters[0]: no integer in [0.2, 0.8] for the integer field"},
    {"parameters { name: \"a\" field: \"ego.lane\" min: -1e10 max: 1 }",
     "parameters[0]: [-1e+10, 1] outside the range of field[0] 'ego.lane' (int32)"},
    /* names and duplicates */
    {"parameters { field: \"ego.speed_mps\" min: 1 max: 2 }", "parameters[0].name: missing"},
    {"parameters { name: \"Fast car\" field: \"ego.speed_mps\" min: 1 max: 2 }",
     "parameters[0].name: 'Fast car' may only contain a-z, 0-9 and '_'"},
    {"parameters { name: \"a\" field: \"ego.speed_mps\" min: 1 max: 2 }\n"
     "parameters { name: \"a\" field: \"ego.s_m\" min: 1 max: 2 }",
     "parameters[1].name: duplicate name 'a' (also parameters[0])"},
    {"parameters { name: \"a\" field: \"actors[g].guard.s_m\" min: 100 max: 120 }\n"
     "parameters { name: \"b\" field: \"ego.speed_mps\" field: \"actors[0].guard.s_m\" min: 1 max: 2 }",
     "parameters[1].field[1]: 'actors[0].guard.s_m' is also set by parameters[0].field[0]"},
    /* scenario problems come first, then the parameters' */
    {"parameters { name: \"a\" field: \"ego.sped_mps\" min: 1 max: 2 }\nduration_s: -1",
     "duration_s: -1 outside (0, 600]\nparameters[0].field[0]: 'ego.sped_mps': no field 'sped_mps' in Ego"},
};

START_TEST(template_errors_are_exact) {
    const bad_case *c = &bad_cases[_i];
    scenario_template *t = new_template();
    wm_error err;
    char *path;
    ck_assert_int_eq(load_with(c->params, t, &err, &path), -1);
    char want[4096];
    build_expected(want, sizeof want, path, c->lines);
    ck_assert_str_eq(err.msg, want);
    /* scenario_load (and so `wmsim scenario check`) reports the same. */
    scenario *sc = CALLOC_CHECK(1, sizeof *sc);
    ck_assert_int_eq(scenario_load(path, sc, &err), -1);
    ck_assert_str_eq(err.msg, want);
    free(sc);
    free(t);
    free_file(path);
}
END_TEST

START_TEST(a_plain_scenario_is_not_a_template) {
    scenario_template *t = new_template();
    wm_error err;
    char *path;
    ck_assert_int_eq(load_with("", t, &err, &path), -1);
    char want[4200];
    snprintf(want, sizeof want, "%s: not a template (no parameters)", path);
    ck_assert_str_eq(err.msg, want);
    free(t);
    free_file(path);
}
END_TEST

/* ------------------------------------------------------------ making */

#define MAKE_PARAMS                                                                                     \
    "parameters { name: \"speed\" field: \"ego.speed_mps\" min: 4 max: 12 }\n"                          \
    "parameters { name: \"lane\" field: \"ego.lane\" field: \"actors[lead].vehicle.lane\" min: 0 max: 1 }\n" \
    "parameters { name: \"light\" field: \"lighting\" values: \"LIGHTING_DAY\" values: \"LIGHTING_NIGHT\" }\n" \
    "parameters { name: \"shoulder\" field: \"road.shoulder_width_m\" min: 0.2 max: 1 }\n"            \
    "parameters { name: \"brake_at\" field: \"actors[lead].vehicle.hard_brake.trigger.at_time_s\"\n"   \
    "  min: 1 max: 5 }\n"                                                                               \
    "parameters { name: \"stop_end\" field: \"actors[g].guard.timeline[0].duration_s\"\n"              \
    "  field: \"actors[%s].guard.timeline[1].start_s\" min: 2 max: 8 }\n"

START_TEST(make_sets_every_kind_of_field) {
    scenario_template *t = new_template();
    wm_error err;
    char *path;
    /* "actors[1-1]" is an id, not an index: no actor has it. */
    char params[4096];
    snprintf(params, sizeof params, MAKE_PARAMS, "1-1");
    ck_assert_int_eq(load_with(params, t, &err, &path), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "'actors[1-1].guard.timeline[1].start_s': no actor with id '1-1'"));
    free_file(path);
    snprintf(params, sizeof params, MAKE_PARAMS, "0");
    ck_assert_msg(load_with(params, t, &err, &path) == 0, "%s", err.msg);
    ck_assert_int_eq(t->n_params, 6);
    ck_assert_str_eq(t->id, "t");
    ck_assert(t->params[1].integer && !t->params[0].integer);
    ck_assert_int_eq(t->params[2].n_values, 2);
    ck_assert_int_eq(t->params[0].grid_points, 3);

    double v[6] = {6.5, 0.6, 1, 0.75, 2.5, 5};
    scenario *sc = CALLOC_CHECK(1, sizeof *sc);
    scenario_synthesis how = {.method = "random", .index = 3, .seed = 9, .score = NAN};
    ck_assert_msg(scenario_template_make(t, v, &how, sc, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(sc->id, "t_r0003");
    ck_assert_double_eq(sc->ego.speed, 6.5);
    ck_assert_int_eq(sc->ego.lane, 1);                  /* 0.6 rounded, in both fields */
    ck_assert_int_eq(sc->actors[1].u.vehicle.lane, 1);
    ck_assert_int_eq(sc->lighting, LIGHTING_NIGHT);     /* unset in the template: has_ set */
    ck_assert_double_eq(sc->road.shoulder, 0.75);       /* likewise */
    ck_assert_double_eq(sc->actors[1].u.vehicle.trigger.value, 2.5);
    ck_assert_double_eq(sc->actors[0].u.guard.timeline[0].duration, 5);
    ck_assert_double_eq(sc->actors[0].u.guard.timeline[1].start, 5);
    ck_assert_uint_eq(sc->hash, hash_fnv1a64(sc->pb_bytes, sc->pb_len));

    /* The encoding: no parameters, the synthesis with the values as set. */
    Wmsim__Scenario *m = wmsim__scenario__unpack(NULL, sc->pb_len, sc->pb_bytes);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->n_parameters, 0);
    const Wmsim__Synthesis *s = m->synthesis;
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s->template_id, "t");
    char hash[32];
    snprintf(hash, sizeof hash, "%016" PRIx64, t->hash);
    ck_assert_str_eq(s->template_hash, hash);
    ck_assert_str_eq(s->method, "random");
    ck_assert(s->has_index && s->index == 3 && s->has_seed && s->seed == 9);
    ck_assert(!s->policy && !s->has_score && !s->failure);
    ck_assert_uint_eq(s->n_values, 6);
    ck_assert_str_eq(s->values[1]->name, "lane");
    ck_assert_double_eq(s->values[1]->number, 1);
    ck_assert_ptr_null(s->values[1]->text);
    ck_assert_double_eq(s->values[2]->number, 1);
    ck_assert_str_eq(s->values[2]->text, "LIGHTING_NIGHT");
    wmsim__scenario__free_unpacked(m, NULL);

    char one[128];
    scenario_param_format(&t->params[1], 0.6, one, sizeof one);
    ck_assert_str_eq(one, "lane=1");
    scenario_param_format(&t->params[2], 1, one, sizeof one);
    ck_assert_str_eq(one, "light=LIGHTING_NIGHT");
    scenario_param_format(&t->params[0], 6.54321, one, sizeof one);
    ck_assert_str_eq(one, "speed=6.543");

    /* Written as text, it loads back to the same encoding and scenario. */
    char *dir = test_tmpdir(), file[4200], bin[4200];
    join(file, sizeof file, dir, "x.pbtxt");
    join(bin, sizeof bin, dir, "x.pb");
    ck_assert_msg(scenario_write(sc, file, &err) == 0, "%s", err.msg);
    ck_assert_msg(scenario_write(sc, bin, &err) == 0, "%s", err.msg);
    scenario *back = CALLOC_CHECK(1, sizeof *back);
    ck_assert_msg(scenario_load(file, back, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(back->pb_len, sc->pb_len);
    ck_assert_mem_eq(back->pb_bytes, sc->pb_bytes, sc->pb_len);
    ck_assert_str_eq(back->id, "t_r0003");
    ck_assert_int_eq(back->lighting, LIGHTING_NIGHT);
    scenario_free(back);
    size_t n;
    uint8_t *raw = test_read_file(bin, &n);
    ck_assert_uint_eq(n, sc->pb_len);
    ck_assert_mem_eq(raw, sc->pb_bytes, n);
    free(raw);
    char *text = (char *)test_read_file(file, &n);
    ck_assert_ptr_nonnull(strstr(text, "synthesis {\n  template_id: \"t\"\n"));
    ck_assert_ptr_null(strstr(text, "parameters"));
    free(text);
    test_remove_tree(dir);
    free(dir);

    /* A search's scenario also records the policy, score and failure. */
    scenario_synthesis found = {.method = "search", .index = 12, .seed = 2, .policy = "cruise", .score = 0.25,
                                .failure = "t=3.0 s: boom"};
    ck_assert_msg(scenario_template_make(t, v, &found, back, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(back->id, "t_s0012");
    m = wmsim__scenario__unpack(NULL, back->pb_len, back->pb_bytes);
    ck_assert_str_eq(m->synthesis->policy, "cruise");
    ck_assert(m->synthesis->has_score && m->synthesis->score == 0.25);
    ck_assert_str_eq(m->synthesis->failure, "t=3.0 s: boom");
    wmsim__scenario__free_unpacked(m, NULL);
    scenario_free(back);
    free(back);

    /* Values outside the parameters. */
    scenario_free(sc);
    v[0] = 20;
    ck_assert_int_eq(scenario_template_make(t, v, &how, sc, &err), -1);
    char want[8192];
    snprintf(want, sizeof want,
             "%s[speed=20,lane=1,light=LIGHTING_NIGHT,shoulder=0.75,brake_at=2.5,stop_end=5]: parameter 'speed': "
             "20 outside [4, 12]",
             path);
    ck_assert_str_eq(err.msg, want);
    v[0] = 6, v[2] = 2;
    ck_assert_int_eq(scenario_template_make(t, v, &how, sc, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, ": parameter 'light': 2 is not an index into its 2 values"));
    scenario_free(sc);
    free(sc);
    scenario_template_free(t);
    free(t);
    free_file(path);
}
END_TEST

START_TEST(values_that_break_geometry_name_the_values) {
    scenario_template *t = new_template();
    wm_error err;
    char *path;
    ck_assert_int_eq(load_with("parameters { name: \"lead_s\" field: \"actors[lead].vehicle.s_m\" min: 5 max: 60 }\n"
                               "parameters { name: \"bend\" field: \"road.segments[1].curvature_per_m\" min: 0 "
                               "max: 0.2 }",
                               t, &err, &path),
                     0);
    scenario *sc = CALLOC_CHECK(1, sizeof *sc);
    scenario_synthesis how = {.method = "grid", .index = 0, .score = NAN};
    double v[2] = {12, 0.2};
    ck_assert_int_eq(scenario_template_make(t, v, &how, sc, &err), -1);
    char want[8192];
    snprintf(want, sizeof want,
             "%s[lead_s=12,bend=0.2]:road.segments[1].curvature_per_m: radius 5 m is smaller than the road width 8 m\n"
             "%s[lead_s=12,bend=0.2]:road.segments[1]: arc turns 20 rad, more than pi (split it)\n"
             "%s[lead_s=12,bend=0.2]:actors[1]: overlaps the ego at the start",
             path, path, path);
    ck_assert_str_eq(err.msg, want);
    ck_assert_ptr_null(sc->pb_bytes);
    free(sc);
    scenario_template_free(t);
    free(t);
    free_file(path);
}
END_TEST

/* ------------------------------------------------------------ samplers */

#define GRID_PARAMS                                                                                         \
    "parameters { name: \"a\" field: \"ego.speed_mps\" min: 2 max: 6 }\n"                                   \
    "parameters { name: \"b\" field: \"ego.s_m\" min: 5 max: 15 grid_points: 2 }\n"                          \
    "parameters { name: \"c\" field: \"lighting\" values: \"LIGHTING_DAY\" values: \"LIGHTING_DUSK\" }\n"   \
    "parameters { name: \"d\" field: \"ego.lane\" min: 0 max: 1 grid_points: 1 }\n"

START_TEST(grid_order_size_and_override) {
    scenario_template *t = new_template();
    wm_error err;
    char *path;
    ck_assert_msg(load_with(GRID_PARAMS, t, &err, &path) == 0, "%s", err.msg);
    ck_assert_int_eq(synth_grid_size(t, NULL), 3 * 2 * 2 * 1);
    double v[4];
    /* The first parameter varies slowest, the last fastest. */
    const double want[12][3] = {{2, 5, 0}, {2, 5, 1}, {2, 15, 0}, {2, 15, 1}, {4, 5, 0},  {4, 5, 1},
                                {4, 15, 0}, {4, 15, 1}, {6, 5, 0}, {6, 5, 1}, {6, 15, 0}, {6, 15, 1}};
    for (long i = 0; i < 12; i++) {
        synth_grid_point(t, i, NULL, v);
        ck_assert_msg(v[0] == want[i][0] && v[1] == want[i][1] && v[2] == want[i][2], "point %ld: %g %g %g", i,
                      v[0], v[1], v[2]);
        ck_assert_double_eq(v[3], 0); /* one point: the midpoint 0.5, rounded (integer field) */
    }
    int override[4] = {5, 0, 7, 3}; /* a list ignores its override */
    ck_assert_int_eq(synth_grid_size(t, override), 5 * 2 * 2 * 3);
    synth_grid_point(t, 1, override, v); /* d's points: 0, 0.5 rounded to even (0), 1 */
    ck_assert(v[0] == 2 && v[1] == 5 && v[2] == 0 && v[3] == 0);
    synth_grid_point(t, 2, override, v);
    ck_assert(v[0] == 2 && v[1] == 5 && v[2] == 0 && v[3] == 1);
    synth_grid_point(t, 5 * 2 * 2 * 3 - 1, override, v);
    ck_assert(v[0] == 6 && v[1] == 15 && v[2] == 1 && v[3] == 1);
    synth_grid_point(t, 2 * 12, override, v); /* a = 3rd of 5 points */
    ck_assert_double_eq(v[0], 4);
    int huge[4] = {1000, 1000, 0, 1000};
    ck_assert_int_eq(synth_grid_size(t, huge), -1);
    scenario_template_free(t);
    free(t);
    free_file(path);
}
END_TEST

START_TEST(random_points_are_deterministic_and_independent) {
    scenario_template *t = new_template();
    wm_error err;
    char *path;
    ck_assert_msg(load_with(GRID_PARAMS, t, &err, &path) == 0, "%s", err.msg);
    enum { N = 400 };
    double (*fwd)[SCENARIO_MAX_PARAMS] = CALLOC_CHECK(N, sizeof *fwd);
    double (*rev)[SCENARIO_MAX_PARAMS] = CALLOC_CHECK(N, sizeof *rev);
    for (long i = 0; i < N; i++) synth_random_point(t, 42, i, fwd[i]);
    for (long i = N - 1; i >= 0; i--) synth_random_point(t, 42, i, rev[i]);
    int lanes[2] = {0, 0}, lights[2] = {0, 0}, differ = 0;
    for (int i = 0; i < N; i++) {
        ck_assert_mem_eq(fwd[i], rev[i], 4 * sizeof(double));
        ck_assert(fwd[i][0] >= 2 && fwd[i][0] < 6 && fwd[i][1] >= 5 && fwd[i][1] < 15);
        ck_assert(fwd[i][2] == 0 || fwd[i][2] == 1);
        ck_assert(fwd[i][3] == 0 || fwd[i][3] == 1);
        lights[(int)fwd[i][2]]++, lanes[(int)fwd[i][3]]++;
        double other[SCENARIO_MAX_PARAMS];
        synth_random_point(t, 43, i, other);
        differ += other[0] != fwd[i][0];
    }
    /* Both integers and both list values turn up, about evenly. */
    ck_assert(lanes[0] > N / 3 && lanes[1] > N / 3 && lights[0] > N / 3 && lights[1] > N / 3);
    ck_assert_int_eq(differ, N);
    free(fwd);
    free(rev);
    scenario_template_free(t);
    free(t);
    free_file(path);
}
END_TEST

START_TEST(cem_concentrates_on_low_scores) {
    scenario_template *t = new_template();
    wm_error err;
    char *path;
    ck_assert_msg(load_with(GRID_PARAMS, t, &err, &path) == 0, "%s", err.msg);
    /* score: distance of a from 5.2, plus 1 unless c is DUSK; b and d do not matter. */
    synth_cem cem, again;
    synth_cem_init(&cem, t, 7, 20, 0.2);
    synth_cem_init(&again, t, 7, 20, 0.2);
    ck_assert_int_eq(cem.n_elite, 4);
    double v[20][SCENARIO_MAX_PARAMS], score[20];
    for (int g = 0; g < 12; g++) {
        for (int i = 19; i >= 0; i--) synth_cem_sample(&cem, i, v[i]);
        double w[SCENARIO_MAX_PARAMS];
        synth_cem_sample(&again, 5, w);
        ck_assert_mem_eq(w, v[5], 4 * sizeof(double)); /* same state, same member: same point */
        for (int i = 0; i < 20; i++) {
            ck_assert(v[i][0] >= 2 && v[i][0] <= 6 && (v[i][3] == 0 || v[i][3] == 1));
            score[i] = fabs(v[i][0] - 5.2) + (v[i][2] == 1 ? 0 : 1);
        }
        synth_cem_update(&cem, &v[0][0], SCENARIO_MAX_PARAMS, score, 20);
        synth_cem_update(&again, &v[0][0], SCENARIO_MAX_PARAMS, score, 20);
    }
    ck_assert_int_eq(cem.generation, 12);
    ck_assert_msg(fabs(cem.mean[0] - 0.8) < 0.05, "mean %g", cem.mean[0]); /* 5.2 normalised in [2, 6] */
    ck_assert_msg(cem.std[0] < 0.15 && cem.std[0] >= SYNTH_CEM_MIN_STD, "std %g", cem.std[0]);
    ck_assert_msg(cem.prob[2][1] > 0.9 && cem.prob[2][0] >= SYNTH_CEM_MIN_PROB / 2 - 1e-12, "p %g", cem.prob[2][1]);
    ck_assert_double_eq_tol(cem.prob[2][0] + cem.prob[2][1], 1, 1e-12);
    /* One generation cannot collapse it: the smoothing keeps 0.3 of the old. */
    synth_cem fresh;
    synth_cem_init(&fresh, t, 7, 20, 0.2);
    for (int i = 0; i < 20; i++) v[i][2] = 1, score[i] = i;
    synth_cem_update(&fresh, &v[0][0], SCENARIO_MAX_PARAMS, score, 20);
    ck_assert_double_eq_tol(fresh.prob[2][0], 0.025 + 0.95 * 0.15, 1e-12);
    /* The distance. */
    double a[4] = {2, 5, 0, 0}, b[4] = {6, 5, 1, 0};
    ck_assert_double_eq_tol(synth_distance(t, a, b), sqrt(2.0 / 4), 1e-12);
    ck_assert_double_eq(synth_distance(t, a, a), 0);
    scenario_template_free(t);
    free(t);
    free_file(path);
}
END_TEST

/* The expert passes every point of guard_timing's grid: the template tests
 * the guard, not an impossible stop. */
START_TEST(expert_passes_the_guard_timing_grid) {
    scenario_template *t = new_template();
    wm_error err;
    ck_assert_msg(scenario_template_load(src_path("scenarios/templates/guard_timing.pbtxt"), t, &err) == 0, "%s",
                  err.msg);
    long n = synth_grid_size(t, NULL);
    ck_assert_int_ge(n, 20);
    policy pol;
    ck_assert_int_eq(policy_create("expert", NULL, &pol, &err), 0);
    scenario *sc = CALLOC_CHECK(1, sizeof *sc);
    episode_result *r = MALLOC_CHECK(sizeof *r);
    for (long i = 0; i < n; i++) {
        double v[SCENARIO_MAX_PARAMS];
        synth_grid_point(t, i, NULL, v);
        scenario_synthesis how = {.method = "grid", .index = (int)i, .score = NAN};
        ck_assert_msg(scenario_template_make(t, v, &how, sc, &err) == 0, "%s", err.msg);
        episode_config ec = {.sc = sc, .seed = sc->seed, .pol = &pol};
        ck_assert_msg(episode_run(&ec, r, &err) == 0, "%s", err.msg);
        ck_assert_msg(r->m.passed, "%s: %s", sc->id, r->m.n_reasons ? r->m.reasons[0] : "?");
        scenario_free(sc);
    }
    free(r);
    free(sc);
    pol.destroy(&pol);
    scenario_template_free(t);
    free(t);
}
END_TEST

/* ------------------------------------------------------------ the CLI */

START_TEST(shipped_templates_check) {
    char *out;
    int rc = run_wmsim(&out, (const char *[]){"scenario", "check", src_path("scenarios/templates/guard_timing.pbtxt"),
                                              src_path("scenarios/templates/cut_in_curve.pbtxt"),
                                              src_path("scenarios/templates/lead_brake.pbtxt"), NULL});
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
}
END_TEST

/* Every file of DIR a and DIR b (same names) the same bytes. */
static void assert_same_dirs(const char *a, const char *b) {
    DIR *d = opendir(a);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char pa[4400], pb[4400];
        join(pa, sizeof pa, a, e->d_name);
        join(pb, sizeof pb, b, e->d_name);
        struct stat st;
        if (stat(pa, &st) == 0 && S_ISDIR(st.st_mode)) {
            assert_same_dirs(pa, pb);
            continue;
        }
        ck_assert_msg(test_files_equal(pa, pb), "%s differs from %s", pa, pb);
        n++;
    }
    closedir(d);
    d = opendir(b);
    for (struct dirent *e; (e = readdir(d));) {
        char pa[4400], pb[4400];
        join(pa, sizeof pa, a, e->d_name);
        join(pb, sizeof pb, b, e->d_name);
        struct stat st;
        if (e->d_name[0] != '.' && stat(pb, &st) == 0 && !S_ISDIR(st.st_mode)) n--;
    }
    closedir(d);
    ck_assert_int_eq(n, 0); /* no file in b that a lacks */
}

static int count_files(const char *dir, const char *suffix) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t l = strlen(e->d_name), m = strlen(suffix);
        n += l > m && strcmp(e->d_name + l - m, suffix) == 0;
    }
    closedir(d);
    return n;
}

START_TEST(sweeps_are_deterministic) {
    char *dir = test_tmpdir(), a[4200], b[4200], c[4200], path[4400];
    const char *tpl = src_path("scenarios/templates/guard_timing.pbtxt");
    join(a, sizeof a, dir, "a");
    join(b, sizeof b, dir, "b");
    join(c, sizeof c, dir, "c");
    run_wmsim_ok((const char *[]){"synth", "sweep", tpl, "--grid", "guard_s=2", "--out", a, "--quiet", NULL});
    run_wmsim_ok((const char *[]){"synth", "sweep", tpl, "--grid", "guard_s=2", "--out", b, "--quiet", NULL});
    ck_assert_int_eq(count_files(a, ".pbtxt"), 2 * 4 * 3);
    assert_same_dirs(a, b);
    join(path, sizeof path, a, "manifest.json");
    json_t *m = load_json(path);
    ck_assert_str_eq(json_string_value(json_object_get(m, "method")), "grid");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(m, "grid"), "guard_s")), 2);
    json_t *files = json_object_get(m, "files");
    ck_assert_int_eq(json_array_size(files), 24);
    json_t *f5 = json_array_get(files, 5);
    ck_assert_str_eq(json_string_value(json_object_get(f5, "file")), "guard_timing_g0005.pbtxt");
    ck_assert_int_eq(json_integer_value(json_object_get(f5, "index")), 5);
    /* 5 = (0, 1, 2): guard_s 60, stop_end_s 1 + 11/3, approach_speed 13.9 */
    json_t *vals = json_object_get(f5, "values");
    ck_assert_double_eq(json_real_value(json_object_get(vals, "guard_s")), 60);
    ck_assert_double_eq_tol(json_real_value(json_object_get(vals, "stop_end_s")), 1 + 11.0 / 3, 1e-9);
    ck_assert_double_eq(json_real_value(json_object_get(vals, "approach_speed")), 13.9);
    ck_assert_int_eq(json_array_size(json_object_get(m, "skipped")), 0);
    json_decref(m);

    /* Random: the same seed, the same files; point i does not depend on N. */
    test_remove_tree(a);
    test_remove_tree(b);
    run_wmsim_ok((const char *[]){"synth", "sweep", tpl, "--random", "6", "--seed", "5", "--out", a, "--quiet", NULL});
    run_wmsim_ok((const char *[]){"synth", "sweep", tpl, "--random", "6", "--seed", "5", "--out", b, "--quiet", NULL});
    assert_same_dirs(a, b);
    run_wmsim_ok((const char *[]){"synth", "sweep", tpl, "--random", "3", "--seed", "5", "--out", c, "--format", "pb",
                                  "--quiet", NULL});
    run_wmsim_ok((const char *[]){"synth", "sweep", tpl, "--random", "3", "--seed", "5", "--out", b, "--quiet", NULL});
    ck_assert_int_eq(count_files(b, ".pbtxt"), 3); /* the earlier sweep's r0003..r0005 are gone */
    for (int i = 0; i < 3; i++) {
        char name[64], pa[4400], pb[4400];
        snprintf(name, sizeof name, "guard_timing_r%04d.pbtxt", i);
        join(pa, sizeof pa, a, name);
        join(pb, sizeof pb, b, name);
        ck_assert(test_files_equal(pa, pb));
        /* The binary file is the same scenario. */
        snprintf(name, sizeof name, "guard_timing_r%04d.pb", i);
        join(pb, sizeof pb, c, name);
        scenario *x = CALLOC_CHECK(1, sizeof *x), *y = CALLOC_CHECK(1, sizeof *y);
        wm_error err;
        ck_assert_msg(scenario_load(pa, x, &err) == 0, "%s", err.msg);
        ck_assert_msg(scenario_load(pb, y, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(x->hash, y->hash);
        scenario_free(x), scenario_free(y);
        free(x), free(y);
    }
    test_remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(sweep_skips_invalid_points) {
    char *tpl = test_write_temp_file("t.pbtxt", BASE "parameters { name: \"lead_s\" field: \"actors[lead].vehicle.s_m\" "
                                           "min: 10 max: 70 }\n");
    char *dir = test_tmpdir(), out_dir[4200], path[4400];
    join(out_dir, sizeof out_dir, dir, "out");
    char *out;
    int rc = run_wmsim(&out, (const char *[]){"synth", "sweep", tpl, "--grid", "--out", out_dir, "--quiet", NULL});
    char want[16384];
    snprintf(want, sizeof want,
             "wmsim: synth sweep: skipped t_g0000: %s[lead_s=10]:actors[1]: overlaps the ego at the start\n"
             "wmsim: synth sweep: skipped 1 of 3 points (invalid scenarios); wrote the other 2 and %s/manifest.json\n",
             tpl, out_dir);
    ck_assert_int_eq(rc, 1);
    ck_assert_str_eq(out, want);
    free(out);
    ck_assert_int_eq(count_files(out_dir, ".pbtxt"), 2);
    join(path, sizeof path, out_dir, "manifest.json");
    json_t *m = load_json(path);
    json_t *skipped = json_object_get(m, "skipped");
    ck_assert_int_eq(json_array_size(skipped), 1);
    json_t *s0 = json_array_get(skipped, 0);
    ck_assert_str_eq(json_string_value(json_object_get(s0, "id")), "t_g0000");
    char reason[8192];
    snprintf(reason, sizeof reason, "%s[lead_s=10]:actors[1]: overlaps the ego at the start", tpl);
    ck_assert_str_eq(json_string_value(json_object_get(s0, "reason")), reason);
    ck_assert_int_eq(json_array_size(json_object_get(m, "files")), 2);
    json_decref(m);
    test_remove_tree(dir);
    free(dir);
    free_file(tpl);
}
END_TEST

static void expect_cli(const char *const *args, int want_rc, const char *want) {
    char *out;
    int rc = run_wmsim(&out, args);
    ck_assert_msg(rc == want_rc, "exit %d, output: %s", rc, out);
    ck_assert_str_eq(out, want);
    free(out);
}

START_TEST(bad_inputs_are_exact_errors) {
    char want[8192];
    const char *tpl = src_path("scenarios/templates/guard_timing.pbtxt");
    const char *plain = src_path("scenarios/examples/cut_in.pbtxt");
    char *dir = test_tmpdir(), out_dir[4200];
    join(out_dir, sizeof out_dir, dir, "out");
    expect_cli((const char *[]){"synth", "search", tpl, "--policy", "nope", "--budget", "4", "--out", out_dir, NULL}, 1,
               "wmsim: --policy: unknown policy 'nope' (known: expert, cruise, vla-tiny, vla:PATH.wmck, exec:CMD "
               "ARGS, unix:PATH, lib:PATH.so ARGS)\n");
    snprintf(want, sizeof want, "wmsim: %s: not a template (no parameters)\n", plain);
    expect_cli((const char *[]){"synth", "search", plain, "--policy", "cruise", "--budget", "4", "--out", out_dir, NULL},
               1, want);
    expect_cli((const char *[]){"synth", "sweep", plain, "--random", "2", "--out", out_dir, NULL}, 1, want);
    snprintf(want, sizeof want,
             "wmsim: --grid: no parameter 'speed' in %s (its parameters: guard_s, stop_end_s, approach_speed)\n", tpl);
    expect_cli((const char *[]){"synth", "sweep", tpl, "--grid", "guard_s=2,speed=3", "--out", out_dir, NULL}, 1, want);
    snprintf(want, sizeof want,
             "wmsim: synth sweep: the grid of %s has 1000000 points; a sweep writes at most 100000 files (fewer "
             "points: --grid NAME=N)\n",
             tpl);
    expect_cli((const char *[]){"synth", "sweep", tpl, "--grid", "guard_s=1000,stop_end_s=1000,approach_speed=1",
                                "--out", out_dir, NULL},
               1, want);
    struct stat st;
    ck_assert_int_ne(stat(out_dir, &st), 0); /* nothing written */
    char *out;
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"synth", "search", tpl, "--budget", "4", NULL}), 2);
    ck_assert_ptr_nonnull(strstr(out, "wmsim: synth search: missing --policy\n"));
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"synth", "sweep", tpl, "--grid", "--random", "3", "--out",
                                                      out_dir, NULL}),
                     2);
    ck_assert_ptr_nonnull(strstr(out, "wmsim: synth sweep: give one of --grid and --random N\n"));
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"synth", "sweep", tpl, "--grid", "guard_s=0", "--out", out_dir,
                                                      NULL}),
                     2);
    ck_assert_ptr_nonnull(strstr(out, "wmsim: --grid: expected a point count in [1, 1000], got '0'\n"));
    free(out);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* The external-policy limits reach the search's episodes: a policy that
 * never answers fails each one by the startup timeout given. */
START_TEST(search_applies_the_policy_limits) {
    char *dir = test_tmpdir(), out[4200], path[4400];
    join(out, sizeof out, dir, "search");
    run_wmsim_ok((const char *[]){"synth", "search", src_path("scenarios/templates/guard_timing.pbtxt"), "--policy",
                                  "exec:sleep 100", "--budget", "4", "--population", "4", "--no-random",
                                  "--policy-startup", "0.3", "--out", out, "--quiet", NULL});
    join(path, sizeof path, out, "search.json");
    json_t *r = load_json(path);
    json_t *eps = json_object_get(r, "episodes");
    ck_assert_int_eq(json_array_size(eps), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *e = json_array_get(eps, i);
        ck_assert_str_eq(json_string_value(json_object_get(e, "kind")), "policy");
        ck_assert_str_eq(json_string_value(json_object_get(e, "failure")),
                         "t=0.0 s: policy exec:sleep 100 did not answer step 0 within 0.3 s");
    }
    json_decref(r);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(search_finds_the_cruise_failure) {
    char *dir = test_tmpdir(), a[4200], b[4200], path[4400], run_dir[4200];
    const char *tpl = src_path("scenarios/templates/guard_timing.pbtxt");
    join(a, sizeof a, dir, "a");
    join(b, sizeof b, dir, "b");
    join(run_dir, sizeof run_dir, dir, "run");
    run_wmsim_ok((const char *[]){"synth", "search", tpl, "--policy", "cruise", "--budget", "40", "--seed", "1",
                                  "--jobs", "1", "--out", a, "--quiet", NULL});
    run_wmsim_ok((const char *[]){"synth", "search", tpl, "--policy", "cruise", "--budget", "40", "--seed", "1",
                                  "--jobs", "2", "--out", b, "--quiet", NULL});
    assert_same_dirs(a, b); /* search.json and the failure files, whatever the jobs */

    join(path, sizeof path, a, "search.json");
    json_t *root = load_json(path);
    json_t *sum = json_object_get(root, "summary");
    json_t *cem = json_object_get(sum, "cem"), *rnd = json_object_get(sum, "random");
    ck_assert_int_eq(json_integer_value(json_object_get(cem, "episodes")), 40);
    ck_assert_int_eq(json_integer_value(json_object_get(rnd, "episodes")), 40);
    long cem_failures = (long)json_integer_value(json_object_get(cem, "failures"));
    long rnd_failures = (long)json_integer_value(json_object_get(rnd, "failures"));
    ck_assert_int_ge(cem_failures, 1);
    /* The search aims at failures; random sampling hits the corner less often. */
    ck_assert_msg(cem_failures > rnd_failures, "cem %ld, random %ld", cem_failures, rnd_failures);
    ck_assert_int_eq(json_array_size(json_object_get(root, "episodes")), 80);
    json_t *failures = json_object_get(root, "failures");
    ck_assert_int_ge(json_array_size(failures), 1);

    /* The first failure file fails `wmsim run` with cruise for the same reason. */
    json_t *f0 = json_array_get(failures, 0);
    const char *reason = json_string_value(json_object_get(f0, "failure"));
    ck_assert_ptr_nonnull(strstr(reason, "crossed guard 'guard' stop line"));
    ck_assert_str_eq(json_string_value(json_object_get(f0, "kind")), "guard");
    char file[4400];
    join(file, sizeof file, a, json_string_value(json_object_get(f0, "file")));
    char *out;
    int rc = run_wmsim(&out, (const char *[]){"run", file, "--policy", "cruise", "--out", run_dir, NULL});
    ck_assert_msg(rc == 0, "%s", out);
    char line[1024];
    snprintf(line, sizeof line, "  failure: %s\n", reason);
    ck_assert_msg(strstr(out, "FAIL") && strstr(out, line), "%s", out);
    free(out);
    /* It records where it came from. */
    char *text = (char *)test_read_file(file, &(size_t){0});
    ck_assert_ptr_nonnull(strstr(text, "  method: \"search\"\n"));
    ck_assert_ptr_nonnull(strstr(text, "  policy: \"cruise\"\n"));
    ck_assert_ptr_nonnull(strstr(text, "  score: 0\n"));
    free(text);
    /* And the expert passes it. */
    rc = run_wmsim(&out, (const char *[]){"run", file, "--policy", "expert", "--out", run_dir, NULL});
    ck_assert_msg(rc == 0 && strstr(out, "PASS"), "%s", out);
    free(out);
    json_decref(root);

    /* Without the baseline: the same CEM episodes. */
    run_wmsim_ok((const char *[]){"synth", "search", tpl, "--policy", "cruise", "--budget", "40", "--no-random",
                                  "--out", b, "--quiet", NULL});
    join(path, sizeof path, b, "search.json");
    root = load_json(path);
    ck_assert_ptr_null(json_object_get(json_object_get(root, "summary"), "random"));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(json_object_get(root, "summary"), "cem"),
                                                        "failures")),
                     cem_failures);
    json_decref(root);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

#ifdef WMSIM_MPI
#endif

/* Two and three ranks share each generation and the baseline by index and
 * merge the episodes before each CEM update: the same search.json and
 * failure files as one process, printed once (by rank 0). A sweep under
 * mpirun is rank 0's alone. */
START_TEST(search_under_mpi_matches_one_process) {
#ifndef WMSIM_MPI
    puts("search_under_mpi_matches_one_process: skipped (built without MPI)");
#else
    char *dir = test_tmpdir(), one[4200], many[4200], want[4600];
    const char *tpl = src_path("scenarios/templates/guard_timing.pbtxt");
    join(one, sizeof one, dir, "one");
    join(many, sizeof many, dir, "many");
    /* 5 generations of 6, the last one short: uneven shares of the ranks. */
    run_wmsim_ok((const char *[]){"synth", "search", tpl, "--policy", "cruise", "--budget", "27", "--population", "6",
                                  "--seed", "3", "--out", one, "--quiet", NULL});
    for (int r = 2; r <= 3; r++) {
        test_remove_tree(many);
        char *out;
        int rc = run_mpi(&out, r, (const char *[]){"synth", "search", tpl, "--policy", "cruise", "--budget", "27",
                                                   "--population", "6", "--seed", "3", "--jobs", "2", "--out", many,
                                                   NULL});
        ck_assert_msg(rc == 0, "mpirun -np %d: exit %d: %s", r, rc, out);
        ck_assert_msg(test_count(out, "synth search guard_timing with policy cruise") == 1, "%s", out);
        snprintf(want, sizeof want, " on %d ranks)\n", r);
        ck_assert_msg(test_count(out, want) == 1, "%s", out);
        free(out);
        assert_same_dirs(one, many); /* search.json (no timings in it) and failures/ */
    }
    char failures[4400];
    join(failures, sizeof failures, one, "failures");
    ck_assert_int_ge(count_files(failures, ".pbtxt"), 1);

    /* The sweep: rank 0 writes, the others do nothing. */
    test_remove_tree(one);
    test_remove_tree(many);
    run_wmsim_ok((const char *[]){"synth", "sweep", tpl, "--random", "5", "--out", one, NULL});
    char *out;
    int rc = run_mpi(&out, 3, (const char *[]){"synth", "sweep", tpl, "--random", "5", "--out", many, NULL});
    ck_assert_msg(rc == 0, "%s", out);
    snprintf(want, sizeof want, "wrote 5 scenarios (random) and %s/manifest.json\n", many);
    ck_assert_msg(test_count(out, want) == 1, "%s", out);
    free(out);
    assert_same_dirs(one, many);
    test_remove_tree(dir);
    free(dir);
#endif
}
END_TEST

/* A policy that cannot start stops every rank before any episode, none
 * left waiting in a collective. */
START_TEST(search_under_mpi_fails_on_every_rank) {
#ifndef WMSIM_MPI
    puts("search_under_mpi_fails_on_every_rank: skipped (built without MPI)");
#else
    char *dir = test_tmpdir(), out_dir[4200];
    join(out_dir, sizeof out_dir, dir, "out");
    char *out;
    int rc = run_mpi(&out, 2, (const char *[]){"synth", "search", src_path("scenarios/templates/guard_timing.pbtxt"),
                                               "--policy", "exec:/no/such/policy", "--budget", "4", "--out", out_dir,
                                               NULL});
    ck_assert_msg(rc != 0, "%s", out);
    ck_assert_msg(test_count(out, "wmsim: policy exec:/no/such/policy: cannot start '/no/such/policy'") == 2, "%s", out);
    free(out);
    struct stat st;
    ck_assert_int_ne(stat(out_dir, &st), 0); /* nothing written */
    test_remove_tree(dir);
    free(dir);
#endif
}
END_TEST

static Suite *synth_suite(void) {
    Suite *s = suite_create("synth");
    TCase *tt = tcase_create("templates");
    tcase_add_loop_test(tt, template_errors_are_exact, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(tt, a_plain_scenario_is_not_a_template);
    tcase_add_test(tt, make_sets_every_kind_of_field);
    tcase_add_test(tt, values_that_break_geometry_name_the_values);
    suite_add_tcase(s, tt);
    TCase *ts = tcase_create("samplers");
    tcase_add_test(ts, grid_order_size_and_override);
    tcase_add_test(ts, random_points_are_deterministic_and_independent);
    tcase_add_test(ts, cem_concentrates_on_low_scores);
    tcase_add_test(ts, expert_passes_the_guard_timing_grid);
    suite_add_tcase(s, ts);
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, shipped_templates_check);
    tcase_add_test(tc, sweeps_are_deterministic);
    tcase_add_test(tc, sweep_skips_invalid_points);
    tcase_add_test(tc, bad_inputs_are_exact_errors);
    tcase_add_test(tc, search_finds_the_cruise_failure);
    tcase_add_test(tc, search_applies_the_policy_limits);
    suite_add_tcase(s, tc);
    TCase *mpi = tcase_create("mpi");
    tcase_set_tags(mpi, "heavy"); /* mpirun: make test-valgrind leaves it out */
    tcase_set_timeout(mpi, 120);
    tcase_add_test(mpi, search_under_mpi_matches_one_process);
    tcase_add_test(mpi, search_under_mpi_fails_on_every_rank);
    suite_add_tcase(s, mpi);
    return s;
}

int main(void) { return run_suite(synth_suite()); }
