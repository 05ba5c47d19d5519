/* test_eval_report.c — junit.xml and report.html from a results.json
 * (sim/eval_report.c) and the SVG charts they draw (render/svg.h).
 *
 * The fixture, tests/fixtures/eval_results/results.json, is a three-episode
 * night (a pass that dropped in score, a guard failure that regressed, a
 * policy error) with a reason full of characters XML and HTML must escape.
 * Its episode files are real: logs, results and MP4s from `wmsim run`, and
 * thumbnail strips written through render/image.h. The XML is read back by
 * Python's parser and the report by headless Chromium. */
#include <jansson.h>
#include <math.h>

#include "browser.h"
#include "render/image.h"
#include "render/svg.h"
#include "sim/eval.h"
#include "testutil.h"

static const char *const EPISODE_DIRS[3] = {"guard_stop_proceed_s1_oracle", "guard_turn_left_s2_oracle",
                                            "cut_in_s3_oracle"};
static const char *const SCENARIOS[3] = {"guard_stop_proceed", "guard_turn_left", "cut_in"};

/* The night's folder, made once for the whole suite (the tests only read it). */
static char *night;

static json_t *load_fixture(void) {
    json_error_t je;
    json_t *r = json_load_file(src_path("tests/fixtures/eval_results/results.json"), 0, &je);
    ck_assert_msg(r != NULL, "fixture: line %d: %s", je.line, je.text);
    return r;
}

static void make_night(void) {
    night = test_tmpdir();
    for (int i = 0; i < 3; i++) {
        char dir[4200], video[4300], scenario[256];
        snprintf(dir, sizeof dir, "%s/episodes/%s", night, EPISODE_DIRS[i]);
        snprintf(video, sizeof video, "%s/video.mp4", dir);
        snprintf(scenario, sizeof scenario, "scenarios/examples/%s.pbtxt", SCENARIOS[i]);
        run_wmsim_ok((const char *[]){"run", src_path(scenario), "--out", dir, "--video", video, "--quiet", NULL});
        if (i == 2) {
            unlink(video); /* the policy-error episode kept none */
            continue;
        }
        /* A strip of four frames, as the runner writes: distinct blocks so a
         * screenshot shows them. */
        image strip;
        image_init(&strip, 4 * 64, 32);
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 4 * 64; x++) {
                uint8_t *p = strip.rgb + 3 * (y * strip.width + x);
                p[0] = (uint8_t)(60 + 40 * (x / 64)), p[1] = (uint8_t)(y < 16 ? 150 : 90);
                p[2] = (uint8_t)(200 - 3 * y);
            }
        char thumbs[4300];
        wm_error err;
        snprintf(thumbs, sizeof thumbs, "%s/thumbs.png", dir);
        ck_assert_msg(image_write_png(&strip, thumbs, &err) == 0, "%s", err.msg);
        image_free(&strip);
    }
}

static void remove_night(void) {
    test_remove_tree(night);
    free(night);
}

/* Writes results as report.html (or junit.xml) under a fresh name in the
 * night's folder; returns its path (static). */
static const char *write_report(const json_t *results, const char *name) {
    static char path[4300];
    wm_error err;
    join(path, sizeof path, night, name);
    ck_assert_msg(eval_write_report(path, results, &err) == 0, "%s", err.msg);
    return path;
}

static char *read_text(const char *path) {
    size_t len;
    return (char *)test_read_file(path, &len);
}


/* ---- render/svg.h -------------------------------------------------------- */

START_TEST(textbuf_escapes_for_xml) {
    textbuf b = {0};
    textbuf_escape(&b, NULL);
    ck_assert_ptr_null(b.data);
    textbuf_escape(&b, "a<b>&\"c\" 'd'\tStraße\n\x01\x7f|\xff|\xed\xa0\x80|\xef\xbf\xbe");
    ck_assert_str_eq(b.data, "a&lt;b&gt;&amp;&quot;c&quot; &#39;d&#39;\tStraße\n\xEF\xBF\xBD\x7f|\xEF\xBF\xBD|"
                             "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD");
    textbuf_free(&b);
    /* Growth past the first allocation keeps every byte and the NUL. */
    for (int i = 0; i < 2000; i++) textbuf_printf(&b, "%04d", i);
    ck_assert_uint_eq(b.len, 8000);
    ck_assert_uint_eq(strlen(b.data), 8000);
    ck_assert(memcmp(b.data + 7996, "1999", 4) == 0);
    textbuf_free(&b);
    ck_assert_ptr_null(b.data);
}
END_TEST

START_TEST(histogram_stacks_flagged_values) {
    double v[7] = {0.05, 0.12, 0.15, 0.15, 1.0, 1.7, NAN};
    int flagged[7] = {1, 0, 1, 0, 0, 0, 1};
    textbuf b = {0};
    svg_histogram(&b, "scores <all>", "score", v, flagged, 7, 0.0, 1.0, 10);
    /* 1.0 and the out-of-range 1.7 share the last bin; NAN is not counted. */
    ck_assert_ptr_nonnull(strstr(b.data, "<title>0 to 0.1: 1 (1 flagged)</title>"));
    ck_assert_ptr_nonnull(strstr(b.data, "<title>0.1 to 0.2: 3 (1 flagged)</title>"));
    ck_assert_ptr_nonnull(strstr(b.data, "<title>0.9 to 1: 2 (0 flagged)</title>"));
    ck_assert_int_eq(test_count(b.data, "fill=\"" SVG_COLOUR_FLAG "\""), 2);
    ck_assert_int_eq(test_count(b.data, "fill=\"" SVG_COLOUR_OK "\""), 2);
    ck_assert_ptr_nonnull(strstr(b.data, "aria-label=\"scores &lt;all&gt;\""));
    textbuf_free(&b);
}
END_TEST

START_TEST(bars_flag_values_below_target) {
    const char *labels[3] = {"guard", "a very long category name that cannot fit the label column", "x&y"};
    double v[3] = {0.5, 1.5, 0.9}, target[3] = {0.9, -1, 0.9};
    textbuf b = {0};
    svg_bars(&b, "pass rate", labels, v, target, NULL, 3);
    ck_assert_int_eq(test_count(b.data, "fill=\"" SVG_COLOUR_FLAG "\""), 1);   /* 50 % < 90 % */
    ck_assert_int_eq(test_count(b.data, "fill=\"" SVG_COLOUR_NEUTRAL "\""), 1); /* no target */
    ck_assert_int_eq(test_count(b.data, "fill=\"" SVG_COLOUR_OK "\""), 1);      /* 90 % meets 90 % */
    ck_assert_ptr_nonnull(strstr(b.data, ">100.0 %</text>"));                     /* 1.5 clamped */
    ck_assert_ptr_nonnull(strstr(b.data, "x&amp;y"));
    ck_assert_ptr_nonnull(strstr(b.data, "…</text>")); /* clipped, whole name in its tooltip */
    ck_assert_ptr_nonnull(strstr(b.data, "<title>a very long category name that cannot fit the label column</title>"));
    textbuf_free(&b);
}
END_TEST

START_TEST(strips_draw_flagged_points_on_top) {
    const char *rows[3] = {"progress", "min_ttc_s", "empty"}, *points[3] = {"p<0>", "p1", "p2"};
    double v[9] = {1.0, 0.25, 0.5, 3.0, 3.0, 3.0, NAN, NAN, NAN};
    int flagged[3] = {0, 1, 0};
    textbuf b = {0};
    svg_strips(&b, "metrics", rows, 3, v, 3, flagged, points);
    ck_assert_int_eq(test_count(b.data, "<circle"), 6);
    /* Flagged after every unflagged dot of its row. */
    const char *flag = strstr(b.data, "<title>p1: 0.25</title>"), *plain = strstr(b.data, "<title>p2: 0.5</title>");
    ck_assert_ptr_nonnull(flag);
    ck_assert_ptr_nonnull(plain);
    ck_assert(plain < flag);
    ck_assert_ptr_nonnull(strstr(b.data, "<title>p&lt;0&gt;: 1</title>"));
    ck_assert_ptr_nonnull(strstr(b.data, ">0.25</text>")); /* the row's minimum and maximum */
    ck_assert_ptr_nonnull(strstr(b.data, ">1</text>"));
    ck_assert_ptr_nonnull(strstr(b.data, ">no values</text>"));
    textbuf_free(&b);
}
END_TEST

/* Python's XML parser over a file; returns its stdout (malloc'ed). The test
 * fails, with the parser's message, on anything not well-formed. */
static char *python_xml(const char *script, const char *path) {
    const char *argv[] = {WMSIM_PYTHON, "-c", script, path, NULL};
    char *out, *errs;
    setenv("PYTHONIOENCODING", "utf-8", 1);
    int rc = browser_run(argv, 60, &out, &errs);
    ck_assert_msg(rc == 0, "%s: not well-formed XML (python exit %d):\n%s", path, rc, errs);
    free(errs);
    return out;
}

START_TEST(svg_charts_are_well_formed_xml) {
    const char *labels[2] = {"<&\">", "Straße"};
    double v[4] = {0.5, NAN, INFINITY, 0.25}, t[2] = {NAN, 2};
    int f[2] = {1, 0};
    textbuf b = {0};
    textbuf_append(&b, "<charts>");
    svg_histogram(&b, "h\x01", NULL, v, NULL, 2, 1.0, 1.0, 0); /* empty range, no bins: still a chart */
    svg_histogram(&b, "h", "x", NULL, NULL, 0, 0, 1, 10);
    svg_bars(&b, "b", labels, v, t, labels, 2);
    svg_bars(&b, "none", NULL, NULL, NULL, NULL, 0);
    svg_strips(&b, "s", labels, 2, v, 2, f, labels);
    textbuf_append(&b, "</charts>");
    char *dir = test_tmpdir(), path[4200];
    join(path, sizeof path, dir, "charts.xml");
    write_text_file(path, b.data);
    free(python_xml("import sys, xml.dom.minidom as m; m.parse(sys.argv[1])", path));
    textbuf_free(&b);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* ---- junit.xml ------------------------------------------------------------ */

/* The JUnit file as Python's XML parser reads it, as JSON. */
static const char JUNIT_READER[] =
    "import json, sys, xml.dom.minidom as m\n"
    "d = m.parse(sys.argv[1])\n"
    "def text(n): return ''.join(c.data for c in n.childNodes if c.nodeType in (c.TEXT_NODE, c.CDATA_SECTION_NODE))\n"
    "s = d.getElementsByTagName('testsuite')[0]\n"
    "top = d.documentElement\n"
    "cases = []\n"
    "for c in s.getElementsByTagName('testcase'):\n"
    "    e = {k: c.getAttribute(k) for k in ('classname', 'name', 'time')}\n"
    "    for tag in ('failure', 'error'):\n"
    "        f = c.getElementsByTagName(tag)\n"
    "        if f: e[tag] = {'message': f[0].getAttribute('message'), 'type': f[0].getAttribute('type'),\n"
    "                        'body': text(f[0])}\n"
    "    e['out'] = text(c.getElementsByTagName('system-out')[0])\n"
    "    cases.append(e)\n"
    "props = {p.getAttribute('name'): p.getAttribute('value') for p in s.getElementsByTagName('property')}\n"
    "print(json.dumps({'root': top.tagName, 'root_tests': top.getAttribute('tests'),\n"
    "                  'suite': {k: s.getAttribute(k) for k in ('name', 'tests', 'failures', 'errors', 'timestamp')},\n"
    "                  'properties': props, 'cases': cases}))\n";

static json_t *read_junit(const json_t *results) {
    char path[4300];
    wm_error err;
    join(path, sizeof path, night, "junit.xml");
    ck_assert_msg(eval_write_junit(path, results, &err) == 0, "%s", err.msg);
    char *out = python_xml(JUNIT_READER, path);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    ck_assert_msg(j != NULL, "%s: %s", je.text, out);
    free(out);
    return j;
}

static const char *jpath_str(const json_t *o, const char *a, const char *b) {
    const char *s = json_string_value(json_object_get(b ? json_object_get(o, a) : o, b ? b : a));
    ck_assert_msg(s != NULL, "no %s.%s", a, b ? b : "");
    return s;
}

START_TEST(junit_counts_match_results) {
    json_t *r = load_fixture(), *j = read_junit(r);
    const json_t *summary = json_object_get(r, "summary");
    long long episodes = json_integer_value(json_object_get(summary, "episodes"));
    long long failed = json_integer_value(json_object_get(summary, "failed"));
    long long errors = json_integer_value(json_object_get(summary, "errors"));
    char want[32];
    ck_assert_str_eq(jpath_str(j, "root", NULL), "testsuites");
    snprintf(want, sizeof want, "%lld", episodes);
    ck_assert_str_eq(jpath_str(j, "root_tests", NULL), want);
    ck_assert_str_eq(jpath_str(j, "suite", "tests"), want);
    /* JUnit counts an error apart from failures; results.json counts it failed too. */
    snprintf(want, sizeof want, "%lld", failed - errors);
    ck_assert_str_eq(jpath_str(j, "suite", "failures"), want);
    snprintf(want, sizeof want, "%lld", errors);
    ck_assert_str_eq(jpath_str(j, "suite", "errors"), want);
    ck_assert_str_eq(jpath_str(j, "suite", "name"), "nightly_smoke");
    ck_assert_str_eq(jpath_str(j, "suite", "timestamp"), "2026-11-29T02:00:00");
    ck_assert_str_eq(jpath_str(j, "properties", "policy"), "exec:python3 -m my_policy");
    ck_assert_str_eq(jpath_str(j, "properties", "baseline"), "out/nightly/2026-11-28");

    const json_t *cases = json_object_get(j, "cases");
    ck_assert_int_eq(json_array_size(cases), episodes);
    const json_t *pass = json_array_get(cases, 0), *fail = json_array_get(cases, 1), *error = json_array_get(cases, 2);
    ck_assert_str_eq(jpath_str(pass, "classname", NULL), "nightly_smoke.guard");
    ck_assert_str_eq(jpath_str(pass, "name", NULL), "guard_stop_proceed seed 1 oracle");
    ck_assert_str_eq(jpath_str(pass, "time", NULL), "35.900");
    ck_assert_ptr_null(json_object_get(pass, "failure"));
    ck_assert_ptr_null(json_object_get(pass, "error"));
    ck_assert_ptr_nonnull(strstr(jpath_str(pass, "out", NULL), "score 0.820 (min 0.500)"));
    ck_assert_ptr_nonnull(strstr(jpath_str(pass, "out", NULL), "video: episodes/guard_stop_proceed_s1_oracle/"));

    ck_assert_ptr_nonnull(json_object_get(fail, "failure"));
    ck_assert_ptr_null(json_object_get(fail, "error"));
    ck_assert_str_eq(jpath_str(fail, "failure", "type"), "goal reached");
    ck_assert_ptr_nonnull(strstr(jpath_str(fail, "out", NULL), "guard_distance_m = 42.5"));

    ck_assert_ptr_null(json_object_get(error, "failure"));
    ck_assert_str_eq(jpath_str(error, "error", "message"),
                     "policy exec:python3 -m my_policy: no answer within 2.0 s (step 12)");
    ck_assert_str_eq(jpath_str(error, "error", "type"), "policy error");
    ck_assert_str_eq(jpath_str(error, "classname", NULL), "nightly_smoke.interaction");
    ck_assert_ptr_null(strstr(jpath_str(error, "out", NULL), "video:")); /* null paths are left out */
    json_decref(j);
    json_decref(r);
}
END_TEST

START_TEST(junit_escapes_reasons) {
    json_t *r = load_fixture(), *j = read_junit(r);
    const json_t *fail = json_array_get(json_object_get(j, "cases"), 1);
    /* What the parser reads back is the reason itself, except the control
     * character XML cannot hold. */
    const json_t *episode = json_array_get(json_object_get(r, "episodes"), 1);
    const char *reason = json_string_value(json_array_get(json_object_get(episode, "failure_reasons"), 0));
    char want[512];
    snprintf(want, sizeof want, "%s", reason);
    char *ctl = strchr(want, '\x01');
    ck_assert_ptr_nonnull(ctl);
    memmove(ctl + 3, ctl + 1, strlen(ctl + 1) + 1);
    memcpy(ctl, "\xEF\xBF\xBD", 3);
    ck_assert_str_eq(jpath_str(fail, "failure", "message"), want);
    const char *body = jpath_str(fail, "failure", "body");
    ck_assert_ptr_nonnull(strstr(body, want));
    ck_assert_ptr_nonnull(strstr(body, "score 0.250 below the required 0.500\n"));
    ck_assert_ptr_nonnull(strstr(jpath_str(fail, "out", NULL), "label = </td><script>"));
    json_decref(j);

    /* The raw file holds no unescaped markup from the JSON. */
    char path[4300];
    join(path, sizeof path, night, "junit.xml");
    char *text = read_text(path);
    ck_assert_ptr_null(strstr(text, "<script>"));
    ck_assert_ptr_nonnull(strstr(text, "g&lt;&amp;&quot;&gt;"));
    free(text);
    json_decref(r);
}
END_TEST

START_TEST(writers_refuse_what_they_cannot_read) {
    json_t *r = load_fixture();
    wm_error err;
    char path[4300];
    join(path, sizeof path, night, "bad.xml");
    json_object_del(r, "episodes");
    ck_assert_int_eq(eval_write_junit(path, r, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    ck_assert_ptr_nonnull(strstr(err.msg, "episodes"));
    ck_assert_int_eq(eval_write_report(path, r, &err), -1);
    ck_assert_int_eq(access(path, F_OK), -1); /* nothing half-written */
    json_decref(r);

    r = load_fixture();
    json_object_del(json_array_get(json_object_get(r, "episodes"), 1), "key");
    ck_assert_int_eq(eval_write_report(path, r, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "episodes[1]"));
    json_decref(r);

    r = load_fixture();
    ck_assert_int_eq(eval_write_junit("/nonexistent-dir/junit.xml", r, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent-dir/junit.xml"));
    ck_assert_int_eq(eval_write_report("/nonexistent-dir/report.html", r, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent-dir/report.html"));
    json_decref(r);
}
END_TEST

/* ---- report.html ---------------------------------------------------------- */

/* Chromium, or NULL after saying why the test is skipped. */
static const char *chromium(void) {
    static char bin[4096];
    if (browser_find(bin, sizeof bin)) return bin;
    fprintf(stderr, "test_eval_report: browser checks skipped: %s\n", BROWSER_MISSING);
    return NULL;
}

START_TEST(report_renders_in_chromium) {
    json_t *r = load_fixture();
    const char *path = write_report(r, "report.html");
    const char *bin = chromium();
    if (!bin) return;
    char *dom = browser_dump_dom(bin, path);

    /* Every thumbnail and video loads; the page checked them itself. */
    json_t *sc = browser_selfcheck(dom);
    ck_assert_int_eq(json_integer_value(json_object_get(sc, "images")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(sc, "videos")), 2);
    ck_assert_msg(json_array_size(json_object_get(sc, "broken")) == 0 &&
                      json_array_size(json_object_get(sc, "pending")) == 0,
                  "broken media: %s", json_dumps(sc, 0));
    json_decref(sc);
    char text[512];
    ck_assert(browser_attr(dom, "media-warning", "class", text, sizeof text));
    ck_assert_ptr_nonnull(strstr(dom, "id=\"media-warning\" class=\"banner\" role=\"alert\" hidden"));

    /* Every local link, logs and results included, names a file. */
    int checked;
    json_t *missing = browser_missing_files(dom, night, &checked);
    ck_assert_int_eq(checked, 2 * 2 /* thumbnail link + img */ + 2 /* videos */ + 3 * 2 /* logs, results */);
    ck_assert_msg(json_array_size(missing) == 0, "missing: %s", json_dumps(missing, 0));
    json_decref(missing);

    /* The summary cells are results.json's numbers. */
    static const char *const cells[] = {"episodes", "passed", "failed", "errors", "pass_rate", "mean_score"};
    for (int i = 0; i < 6; i++) {
        char id[64];
        snprintf(id, sizeof id, "summary-%s", cells[i]);
        ck_assert_msg(browser_attr(dom, id, "data-value", text, sizeof text), "no #%s", id);
        double want = json_number_value(json_object_get(json_object_get(r, "summary"), cells[i]));
        /* data-value has results.json's 10 significant digits. */
        ck_assert_msg(fabs(strtod(text, NULL) - want) <= 1e-9 * fabs(want), "%s: %s, results.json %.10g", id, text,
                      want);
    }
    ck_assert(browser_text(dom, "summary-episodes", text, sizeof text));
    ck_assert_str_eq(text, "3");
    ck_assert(browser_text(dom, "summary-pass_rate", text, sizeof text));
    ck_assert_str_eq(text, "33.3 %");
    ck_assert(browser_text(dom, "policy", text, sizeof text));
    ck_assert_str_eq(text, "exec:python3 -m my_policy");

    /* The parameter that tries to close a cell and run a script stayed text. */
    ck_assert_ptr_null(strstr(dom, "pwned</title>"));
    ck_assert_ptr_nonnull(strstr(dom, "&lt;/td&gt;&lt;script&gt;document.title='pwned'&lt;/script&gt;"));
    free(dom);

    /* It renders: a screenshot that is not a blank page. */
    char shot[4300];
    join(shot, sizeof shot, night, "report.png");
    browser_screenshot(bin, path, shot, 1280, 900);
    double ink = browser_png_ink(shot);
    ck_assert_msg(ink > 0.03, "screenshot %s: only %.1f %% of it drawn", shot, 100 * ink);

    /* The helper the end-to-end test uses reads the same. */
    browser_report br;
    char why[512];
    ck_assert_msg(browser_check_report(path, &br, why, sizeof why) == 0, "%s", why);
    ck_assert_int_eq(br.images, 2);
    ck_assert_int_eq(br.videos, 2);
    ck_assert_int_eq(br.broken, 0);
    ck_assert_int_eq(br.missing_files, 0);
    ck_assert_int_eq(br.episodes, 3);
    ck_assert_int_eq(br.passed, 1);
    ck_assert_int_eq(br.failed, 2);
    ck_assert_int_eq(br.errors, 1);
    json_decref(r);
}
END_TEST

START_TEST(report_flags_broken_media) {
    json_t *r = load_fixture();
    json_t *files = json_object_get(json_array_get(json_object_get(r, "episodes"), 0), "files");
    json_object_set_new(files, "video", json_string("episodes/moved away/video.mp4"));
    json_object_set_new(files, "thumbnails", json_string("episodes/nowhere/thumbs.png"));
    const char *path = write_report(r, "broken.html");
    const char *bin = chromium();
    if (!bin) return;
    char *dom = browser_dump_dom(bin, path);
    json_t *sc = browser_selfcheck(dom);
    const json_t *broken = json_object_get(sc, "broken");
    ck_assert_msg(json_array_size(broken) == 2, "%s", json_dumps(sc, 0));
    char *list = json_dumps(broken, 0);
    ck_assert_ptr_nonnull(strstr(list, "episodes/nowhere/thumbs.png"));
    ck_assert_ptr_nonnull(strstr(list, "episodes/moved%20away/video.mp4")); /* as the page links it */
    free(list);
    json_decref(sc);
    /* The reader sees it too: the banner is shown and names the files. */
    char banner[1024];
    ck_assert(browser_text(dom, "media-warning", banner, sizeof banner));
    ck_assert_ptr_nonnull(strstr(banner, "2 of 4 images and videos did not load"));
    ck_assert_ptr_nonnull(strstr(banner, "episodes/nowhere/thumbs.png"));
    ck_assert_ptr_null(strstr(dom, "id=\"media-warning\" class=\"banner\" role=\"alert\" hidden"));
    int checked;
    json_t *missing = browser_missing_files(dom, night, &checked);
    ck_assert_int_eq(json_array_size(missing), 3); /* the img, its link, the video */
    json_decref(missing);
    free(dom);
    json_decref(r);
}
END_TEST

START_TEST(regression_section_only_with_baseline) {
    json_t *r = load_fixture();
    char *html = read_text(write_report(r, "with.html"));
    ck_assert_ptr_nonnull(strstr(html, "<section id=\"regressions\" class=\"regressions bad\">"));
    ck_assert_ptr_nonnull(strstr(html, "data-regressions=\"1\" data-score-drops=\"1\">1 regression, 1 score drop since "
                                       "<code>out/nightly/2026-11-28</code></h2>"));
    ck_assert_ptr_nonnull(strstr(html, "Episodes no longer run (1):</b> lead_hard_brake/s1/oracle"));
    ck_assert_ptr_nonnull(strstr(html, "New episodes (1):</b> <a href=\"#ep-2\">cut_in/s3/oracle</a>"));
    ck_assert_ptr_nonnull(strstr(html, "data-filter=\"regressed\">regressed 2<"));
    /* Rows: the regression first, then the failure, then the score drop. */
    const char *reg = strstr(html, "<tr id=\"ep-1\""), *err = strstr(html, "<tr id=\"ep-2\""),
               *drop = strstr(html, "<tr id=\"ep-0\"");
    ck_assert(reg && err && drop);
    ck_assert(reg < err);
    ck_assert(err < drop);
    ck_assert_ptr_nonnull(strstr(reg, "<span class=\"tag regression\">regression</span>"));
    ck_assert_ptr_nonnull(strstr(drop, "-0.130 vs baseline"));
    free(html);

    /* The same night with nothing to compare: no section, run order. */
    json_object_set_new(r, "baseline", json_null());
    json_object_set_new(r, "regressed", json_false());
    html = read_text(write_report(r, "without.html"));
    ck_assert_ptr_null(strstr(html, "id=\"regressions\""));
    ck_assert_ptr_null(strstr(html, "data-filter=\"regressed\""));
    ck_assert_ptr_null(strstr(html, "vs baseline"));
    ck_assert(strstr(html, "<tr id=\"ep-1\"") < strstr(html, "<tr id=\"ep-2\""));
    ck_assert(strstr(html, "<tr id=\"ep-2\"") < strstr(html, "<tr id=\"ep-0\""));
    free(html);

    /* A baseline with nothing worse says so. */
    json_decref(r);
    r = load_fixture();
    json_t *bl = json_object_get(r, "baseline");
    json_array_clear(json_object_get(bl, "regressions"));
    json_array_clear(json_object_get(bl, "score_drops"));
    html = read_text(write_report(r, "calm.html"));
    ck_assert_ptr_nonnull(strstr(html, "class=\"regressions ok\""));
    ck_assert_ptr_nonnull(strstr(html, ">No regressions since <code>out/nightly/2026-11-28</code></h2>"));
    free(html);
    json_decref(r);
}
END_TEST

START_TEST(report_escapes_json_text) {
    json_t *r = load_fixture();
    json_object_set_new(json_object_get(r, "suite"), "id", json_string("night<b>ly"));
    char *html = read_text(write_report(r, "escaped.html"));
    ck_assert_ptr_null(strstr(html, "<script>document"));
    ck_assert_ptr_null(strstr(html, "night<b>ly"));
    ck_assert_ptr_nonnull(strstr(html, "<title>night&lt;b&gt;ly · "));
    ck_assert_ptr_nonnull(strstr(html, "passed guard &#39;g&lt;&amp;&quot;&gt;&#39; on the wrong side"));
    ck_assert_ptr_null(strstr(html, "\x01"));
    /* Paths are URLs: a space and a '#' cannot cut the link short. */
    free(html);
    json_t *files = json_object_get(json_array_get(json_object_get(r, "episodes"), 0), "files");
    json_object_set_new(files, "log", json_string("episodes/a b#c/episode.log"));
    html = read_text(write_report(r, "escaped.html"));
    ck_assert_ptr_nonnull(strstr(html, "href=\"episodes/a%20b%23c/episode.log\""));
    free(html);
    json_decref(r);
}
END_TEST

int main(void) {
    Suite *s = suite_create("eval_report");
    TCase *svg = tcase_create("svg");
    tcase_add_test(svg, textbuf_escapes_for_xml);
    tcase_add_test(svg, histogram_stacks_flagged_values);
    tcase_add_test(svg, bars_flag_values_below_target);
    tcase_add_test(svg, strips_draw_flagged_points_on_top);
    tcase_add_test(svg, svg_charts_are_well_formed_xml);
    suite_add_tcase(s, svg);
    TCase *files = tcase_create("files");
    tcase_add_unchecked_fixture(files, make_night, remove_night);
    tcase_add_test(files, junit_counts_match_results);
    tcase_add_test(files, junit_escapes_reasons);
    tcase_add_test(files, writers_refuse_what_they_cannot_read);
    tcase_add_test(files, report_renders_in_chromium);
    tcase_add_test(files, report_flags_broken_media);
    tcase_add_test(files, regression_section_only_with_baseline);
    tcase_add_test(files, report_escapes_json_text);
    suite_add_tcase(s, files);
    return run_suite(s);
}
