/* eval_report.c — junit.xml and report.html from results.json (sim/eval.h).
 *
 * Both are made from the JSON alone, so an old night's files can be remade
 * from its results.json. Every string from the JSON is escaped on the way
 * out (textbuf_escape); every path is percent-encoded as a relative URL.
 * The report is one file, inline CSS, SVG and script and no fetches, since
 * nightly readers open it from disk, often with no network. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/fileio.h"
#include "render/svg.h"
#include "sim/eval.h"

#define SCORE_BINS 10

/* ---- reading results.json ------------------------------------------------ */

static const char *jstr(const json_t *o, const char *key, const char *fallback) {
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : fallback;
}

/* A number, or NAN when absent or not a number (shown as "—"). */
static double jnum(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static int jtrue(const json_t *o, const char *key) { return json_is_true(json_object_get(o, key)); }

/* Row order in the report: what a nightly reader acts on first. */
enum { ROW_REGRESSION, ROW_FAILED, ROW_SCORE_DROP, ROW_PASSED };

typedef struct {
    const json_t *j;
    const char *key, *error; /* error: the policy error, or NULL */
    int index, passed;
    int group;               /* ROW_* */
    const json_t *change;    /* this key's record in baseline.regressions, score_drops or fixed; NULL: none */
    const char *change_kind; /* "regression", "score drop", "fixed", "new" or NULL */
} episode_row;

typedef struct {
    const json_t *results, *summary, *baseline, *episodes;
    const char *suite_id;
    episode_row *rows; /* in run order */
    int n;
} eval_results;

static const json_t *find_key(const json_t *array, const char *key) {
    size_t i;
    const json_t *e;
    json_array_foreach(array, i, e) {
        const char *k = json_is_string(e) ? json_string_value(e) : jstr(e, "key", NULL);
        if (k && strcmp(k, key) == 0) return e;
    }
    return NULL;
}

/* Checks what both files cannot do without and indexes the episodes. The
 * rest is optional: a missing value shows as "—", so an older or hand-made
 * results.json still gives a report. */
static int results_open(eval_results *r, const char *path, const json_t *results, wm_error *err) {
    memset(r, 0, sizeof *r);
    r->results = results;
    if (!json_is_object(results)) return wm_fail(err, "%s: results: not a JSON object", path);
    r->suite_id = jstr(json_object_get(results, "suite"), "id", NULL);
    if (!r->suite_id) return wm_fail(err, "%s: results: suite.id missing or not a string", path);
    r->summary = json_object_get(results, "summary");
    if (!json_is_object(r->summary)) return wm_fail(err, "%s: results: summary missing or not an object", path);
    static const char *const counts[] = {"episodes", "passed", "failed", "errors"};
    for (int i = 0; i < 4; i++)
        if (!json_is_integer(json_object_get(r->summary, counts[i])))
            return wm_fail(err, "%s: results: summary.%s missing or not an integer", path, counts[i]);
    r->episodes = json_object_get(results, "episodes");
    if (!json_is_array(r->episodes)) return wm_fail(err, "%s: results: episodes missing or not an array", path);
    r->baseline = json_object_get(results, "baseline");
    if (json_is_null(r->baseline)) r->baseline = NULL;
    if (r->baseline && !json_is_object(r->baseline))
        return wm_fail(err, "%s: results: baseline is neither null nor an object", path);
    r->n = (int)json_array_size(r->episodes);
    r->rows = CALLOC_CHECK((size_t)r->n + 1, sizeof *r->rows);
    for (int i = 0; i < r->n; i++) {
        episode_row *e = &r->rows[i];
        e->j = json_array_get(r->episodes, (size_t)i), e->index = i;
        e->key = jstr(e->j, "key", NULL);
        if (!e->key || !json_is_boolean(json_object_get(e->j, "passed"))) {
            free(r->rows);
            return wm_fail(err, "%s: results: episodes[%d]: key or passed missing", path, i);
        }
        e->passed = jtrue(e->j, "passed");
        e->error = jstr(e->j, "error", NULL);
        e->group = e->passed ? ROW_PASSED : ROW_FAILED;
        if (!r->baseline) continue;
        const json_t *bl = r->baseline;
        if ((e->change = find_key(json_object_get(bl, "regressions"), e->key)))
            e->change_kind = "regression", e->group = ROW_REGRESSION;
        else if ((e->change = find_key(json_object_get(bl, "score_drops"), e->key)))
            e->change_kind = "score drop", e->group = ROW_SCORE_DROP;
        else if ((e->change = find_key(json_object_get(bl, "fixed"), e->key)))
            e->change_kind = "fixed";
        else if (find_key(json_object_get(bl, "added"), e->key))
            e->change_kind = "new";
    }
    return 0;
}

static void results_close(eval_results *r) { free(r->rows); }

/* Writes out to path atomically; frees out either way. */
static int write_text(const char *path, textbuf *out, wm_error *err) {
    int rc = file_write_atomic(path, out->data, out->len, err);
    textbuf_free(out);
    return rc;
}

/* An episode's parameters as "name = value" items separated by sep, each
 * in a <span class="param"> when html is set (none: nothing). */
static void append_parameters(textbuf *b, const json_t *params, const char *sep, int html) {
    const char *name;
    const json_t *v;
    int first = 1;
    /* jansson's object iteration takes a non-const object; it does not modify it. */
    json_object_foreach((json_t *)params, name, v) {
        char num[64], *dumped = NULL;
        const char *value = json_string_value(v);
        if (!value && json_is_number(v)) snprintf(num, sizeof num, "%g", json_number_value(v)), value = num;
        if (!value) value = dumped = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        textbuf_append(b, first ? "" : sep);
        textbuf_append(b, html ? "<span class=\"param\">" : "");
        textbuf_escape(b, name);
        textbuf_append(b, " = ");
        textbuf_escape(b, value ? value : "?");
        textbuf_append(b, html ? "</span>" : "");
        free(dumped);
        first = 0;
    }
}

/* ---- junit.xml ------------------------------------------------------------ */

/* Dashboards show testcase names side by side, so they read as sentences:
 * "guard_stop_proceed seed 3 oracle". */
static void junit_testcase(textbuf *b, const eval_results *r, const episode_row *e) {
    const json_t *j = e->j;
    const char *category = jstr(j, "category", NULL), *end = jstr(j, "end_reason", "failed");
    textbuf_append(b, "    <testcase classname=\"");
    textbuf_escape(b, r->suite_id);
    if (category) {
        textbuf_append(b, ".");
        textbuf_escape(b, category);
    }
    textbuf_append(b, "\" name=\"");
    textbuf_escape(b, jstr(j, "scenario", e->key));
    textbuf_printf(b, " seed %lld ", (long long)json_integer_value(json_object_get(j, "seed")));
    textbuf_escape(b, jstr(j, "loop", ""));
    double t = jnum(j, "duration_s");
    textbuf_printf(b, "\" time=\"%.3f\">\n", isfinite(t) ? t : 0.0);

    const json_t *reasons = json_object_get(j, "failure_reasons");
    if (!e->passed) {
        const char *tag = e->error ? "error" : "failure";
        const char *first = json_string_value(json_array_get(reasons, 0));
        const char *message = e->error ? e->error : first ? first : end;
        textbuf_printf(b, "      <%s message=\"", tag);
        textbuf_escape(b, message);
        textbuf_append(b, "\" type=\"");
        textbuf_escape(b, end);
        textbuf_append(b, "\">");
        if (e->error) {
            textbuf_escape(b, e->error);
            textbuf_append(b, "\n");
        }
        size_t i;
        const json_t *s;
        json_array_foreach(reasons, i, s) {
            textbuf_escape(b, json_string_value(s));
            textbuf_append(b, "\n");
        }
        textbuf_printf(b, "</%s>\n", tag);
    }

    textbuf_printf(b, "      <system-out>score %.3f (min %.3f), ", jnum(j, "score"), jnum(j, "min_score"));
    textbuf_escape(b, end);
    textbuf_printf(b, " after %lld steps\n", (long long)json_integer_value(json_object_get(j, "steps")));
    const json_t *params = json_object_get(j, "parameters");
    if (json_object_size(params)) {
        textbuf_append(b, "parameters: ");
        append_parameters(b, params, ", ", 0);
        textbuf_append(b, "\n");
    }
    static const char *const files[] = {"log", "result", "video", "thumbnails"};
    for (int i = 0; i < 4; i++) {
        const char *p = jstr(json_object_get(j, "files"), files[i], NULL);
        if (!p) continue;
        textbuf_printf(b, "%s: ", files[i]);
        textbuf_escape(b, p);
        textbuf_append(b, "\n");
    }
    textbuf_append(b, "</system-out>\n    </testcase>\n");
}

static void junit_property(textbuf *b, const char *name, const char *value) {
    if (!value) return;
    textbuf_printf(b, "      <property name=\"%s\" value=\"", name);
    textbuf_escape(b, value);
    textbuf_append(b, "\"/>\n");
}

int eval_write_junit(const char *path, const struct json_t *results, wm_error *err) {
    eval_results r;
    if (results_open(&r, path, results, err)) return -1;
    /* JUnit's failures and errors are disjoint; results.json counts an
     * episode ended by a policy error as failed too. The counts come from
     * the testcases written, so the file always agrees with itself. */
    int failures = 0, errors = 0;
    for (int i = 0; i < r.n; i++) {
        if (r.rows[i].passed) continue;
        if (r.rows[i].error) errors++;
        else failures++;
    }
    double elapsed = jnum(results, "elapsed_s");
    elapsed = isfinite(elapsed) ? elapsed : 0.0;
    /* The JUnit schema's timestamp is a local ISO 8601 time with no zone. */
    char stamp[32] = "";
    snprintf(stamp, sizeof stamp, "%.19s", jstr(results, "started", ""));

    textbuf b = {0};
    textbuf_append(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"wmsim eval\"");
    textbuf_printf(&b, " tests=\"%d\" failures=\"%d\" errors=\"%d\" time=\"%.3f\">\n", r.n, failures, errors, elapsed);
    textbuf_append(&b, "  <testsuite name=\"");
    textbuf_escape(&b, r.suite_id);
    textbuf_printf(&b, "\" tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"0\" time=\"%.3f\"", r.n, failures,
                   errors, elapsed);
    if (stamp[0]) {
        textbuf_append(&b, " timestamp=\"");
        textbuf_escape(&b, stamp);
        textbuf_append(&b, "\"");
    }
    textbuf_append(&b, ">\n    <properties>\n");
    const json_t *policy = json_object_get(results, "policy"), *suite = json_object_get(results, "suite");
    junit_property(&b, "policy", jstr(policy, "spec", NULL));
    junit_property(&b, "policy_name", jstr(policy, "name", NULL));
    junit_property(&b, "suite_file", jstr(suite, "file", NULL));
    junit_property(&b, "suite_hash", jstr(suite, "hash", NULL));
    junit_property(&b, "wmsim_version", jstr(json_object_get(results, "wmsim"), "version", NULL));
    junit_property(&b, "baseline", jstr(r.baseline, "dir", NULL));
    textbuf_append(&b, "    </properties>\n");
    for (int i = 0; i < r.n; i++) junit_testcase(&b, &r, &r.rows[i]);
    textbuf_append(&b, "  </testsuite>\n</testsuites>\n");
    results_close(&r);
    return write_text(path, &b, err);
}

/* ---- report.html --------------------------------------------------------- */

/* A path relative to the report as an attribute value: percent-encoded
 * (RFC 3986 path characters stay), so '#', '?', '%', spaces and quotes in
 * file names cannot change what the link points at. */
static void append_url_path(textbuf *b, const char *rel) {
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)rel; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-._~/", *p)) {
            char c[2] = {(char)*p, 0};
            textbuf_append(b, c);
        } else {
            textbuf_printf(b, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
        }
    }
}

/* An episode key that may wrap after its slashes, not inside a name. */
static void html_key(textbuf *b, const char *key) {
    textbuf t = {0};
    textbuf_escape(&t, key); /* escaping leaves '/' as it is */
    for (const char *p = t.data; p && *p;) {
        size_t n = strcspn(p, "/");
        textbuf_printf(b, "%.*s%s", (int)n, p, p[n] ? "/<wbr>" : "");
        p += n + (p[n] != 0);
    }
    textbuf_free(&t);
}

/* <a href="rel"> for a path relative to the report; the caller closes it. */
static void html_link_open(textbuf *b, const char *rel) {
    textbuf_append(b, "<a href=\"");
    append_url_path(b, rel);
    textbuf_append(b, "\">");
}

static void html_number(textbuf *b, const char *fmt, double v) {
    if (isfinite(v)) textbuf_printf(b, fmt, v);
    else textbuf_append(b, "—");
}

static void html_percent(textbuf *b, double rate) { html_number(b, "%.1f %%", 100 * rate); }

static const char REPORT_CSS[] =
    ":root{--ok:" SVG_COLOUR_OK ";--bad:" SVG_COLOUR_FLAG ";--err:#8e2c5a;--warn:#b7791f;--muted:#667085;"
    "--line:#e4e7ec;--ink:#1d2433}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;background:#f4f5f7;color:var(--ink);"
    "font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif}\n"
    "main{max-width:1320px;margin:0 auto;padding:18px 24px 40px}\n"
    "h1{font-size:21px;margin:0 0 2px}h2{font-size:15px;margin:0 0 10px}h3{font-size:13px;margin:12px 0 6px}\n"
    ".meta{color:var(--muted);margin:0 0 12px}.meta b{color:var(--ink);font-weight:600}\n"
    "code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}\n"
    "section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:14px 18px;margin:14px 0}\n"
    "table{border-collapse:collapse;width:100%}\n"
    "th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}\n"
    "th{font-size:11px;font-weight:600;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}\n"
    ".num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    ".verdict{border-radius:8px;padding:10px 16px;margin:12px 0;font-size:16px;font-weight:600;color:#fff}\n"
    ".verdict.ok{background:var(--ok)}.verdict.bad{background:var(--bad)}\n"
    ".verdict span{font-weight:400;opacity:.92;margin-left:10px;font-size:14px}\n"
    ".banner{border:1px solid var(--bad);background:#fdecea;color:#7a1c14;border-radius:8px;padding:10px 14px}\n"
    "table.summary{table-layout:fixed}table.summary td{font-size:24px;font-weight:600;border:0;padding-top:0}\n"
    "table.summary th{border:0}td.good{color:var(--ok)}td.poor{color:var(--bad)}\n"
    ".cols{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:20px;align-items:start}\n"
    "@media (max-width:900px){.cols,.cols.plots{grid-template-columns:1fr}}\n"
    "svg.chart{max-width:100%;height:auto;display:block}\n"
    ".legend{color:var(--muted);font-size:12px;margin:4px 0 0}\n"
    ".sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 10px;vertical-align:-1px}\n"
    ".sw.ok{background:var(--ok)}.sw.bad{background:var(--bad)}.sw.target{width:2px;background:#222}\n"
    ".badge{display:inline-block;min-width:46px;text-align:center;padding:1px 7px;border-radius:10px;"
    "font-size:11px;font-weight:700;color:#fff;letter-spacing:.03em}\n"
    ".badge.pass{background:var(--ok)}.badge.fail{background:var(--bad)}.badge.error{background:var(--err)}\n"
    ".tag{display:inline-block;margin-top:4px;padding:0 6px;border-radius:9px;font-size:11px;font-weight:600;"
    "border:1px solid currentColor}\n"
    ".tag.regression{color:var(--bad)}.tag.drop{color:var(--warn)}.tag.fixed{color:var(--ok)}"
    ".tag.new{color:var(--muted)}\n"
    ".down{color:var(--bad)}.up{color:var(--ok)}.muted{color:var(--muted)}\n"
    ".regressions.bad h2{color:var(--bad)}.regressions.ok h2{color:var(--ok)}\n"
    "tr.regression td:first-child{box-shadow:inset 3px 0 var(--bad)}"
    "tr.score-drop td:first-child{box-shadow:inset 3px 0 var(--warn)}\n"
    ".key{font-weight:600}.sub{color:var(--muted);font-size:12px}\n"
    ".param{display:inline-block;background:#eef2f7;border-radius:4px;padding:0 5px;margin:2px 4px 0 0;"
    "font-size:12px}\n"
    ".scorebar{height:4px;background:#eceff3;border-radius:2px;margin-top:4px;width:90px}"
    ".scorebar i{display:block;height:4px;border-radius:2px}\n"
    "ul.reasons{margin:0;padding-left:16px}ul.reasons li{margin:0 0 2px}\n"
    ".errtext{color:var(--err);margin:0 0 4px}\n"
    "td.media{width:340px}td.media img{display:block;max-width:100%;height:auto;border-radius:3px;"
    "image-rendering:pixelated;background:#222}\n"
    "td.media video{display:block;width:100%;max-width:324px;margin-top:6px;border-radius:3px;background:#000}\n"
    "col.result{width:92px}col.episode{width:250px}col.score{width:112px}\n"
    ".below{margin-top:12px}.regressions table{width:auto;min-width:55%}\n"
    ".cols.plots{grid-template-columns:380px minmax(0,1fr)}\n"
    "img.broken,video.broken{outline:3px solid var(--bad)}\n"
    ".filters{margin:0 0 10px}.filters button{font:inherit;font-size:12px;border:1px solid var(--line);"
    "background:#fff;border-radius:14px;padding:2px 10px;margin-right:4px;cursor:pointer}\n"
    ".filters button.on{background:var(--ink);color:#fff;border-color:var(--ink)}\n"
    "a{color:#2459a8}\n";

/* The page's self-check: after load it checks every image and video, shows
 * #media-warning (hidden until then) naming the ones that did not load, and
 * leaves its findings in #selfcheck as JSON for tests. A video that has not
 * answered after WAIT_MS (8 s) counts as pending; that is under the 10 s of
 * virtual time tests give Chromium, so they see which one. It also wires the
 * episode filters. Without scripts the page reads the same, unchecked and
 * unfiltered. */
static const char REPORT_SCRIPT[] =
    "(function () {\n"
    "  'use strict';\n"
    "  var WAIT_MS = 8000;\n"
    "  var out = document.getElementById('selfcheck'), banner = document.getElementById('media-warning');\n"
    "  var imgs = [].slice.call(document.images), vids = [].slice.call(document.querySelectorAll('video'));\n"
    "  var broken = [], waiting = vids.length, finished = false;\n"
    "  function finish() {\n"
    "    if (finished) return;\n"
    "    finished = true;\n"
    "    var pending = vids.filter(function (v) { return !v.dataset.checked; })\n"
    "                      .map(function (v) { return v.getAttribute('src'); });\n"
    "    out.textContent = JSON.stringify({images: imgs.length, videos: vids.length, broken: broken,\n"
    "                                      pending: pending});\n"
    "    out.setAttribute('data-state', 'done');\n"
    "    if (!broken.length && !pending.length) return;\n"
    "    var all = imgs.length + vids.length, say = [];\n"
    "    if (broken.length) say.push(broken.length + ' of ' + all +\n"
    "        ' images and videos did not load (moved or deleted files?): ' + broken.join(', '));\n"
    "    if (pending.length) say.push(pending.length + ' videos still loading after ' + WAIT_MS / 1000 +\n"
    "        ' s: ' + pending.join(', '));\n"
    "    banner.textContent = say.join('. ');\n"
    "    banner.hidden = false;\n"
    "  }\n"
    "  function settle(v, ok) {\n"
    "    if (v.dataset.checked) return;\n"
    "    v.dataset.checked = ok ? 'ok' : 'broken';\n"
    "    if (!ok) { broken.push(v.getAttribute('src')); v.classList.add('broken'); }\n"
    "    if (--waiting === 0) finish();\n"
    "  }\n"
    "  window.addEventListener('load', function () {\n"
    "    imgs.forEach(function (i) {\n"
    "      if (i.complete && i.naturalWidth > 0) return;\n"
    "      broken.push(i.getAttribute('src'));\n"
    "      i.classList.add('broken');\n"
    "    });\n"
    "    if (!vids.length) return finish();\n"
    "    vids.forEach(function (v) {\n"
    "      if (v.readyState >= 1) return settle(v, true);\n"
    "      if (v.error) return settle(v, false);\n"
    "      v.addEventListener('loadedmetadata', function () { settle(v, true); });\n"
    "      v.addEventListener('error', function () { settle(v, false); });\n"
    "    });\n"
    "    setTimeout(finish, WAIT_MS);\n"
    "  });\n"
    "  var bar = document.getElementById('filters');\n"
    "  bar.hidden = false;\n"
    "  bar.addEventListener('click', function (ev) {\n"
    "    var f = ev.target.getAttribute('data-filter');\n"
    "    if (!f) return;\n"
    "    [].forEach.call(bar.querySelectorAll('button'), function (b) {\n"
    "      b.classList.toggle('on', b === ev.target);\n"
    "    });\n"
    "    [].forEach.call(document.querySelectorAll('#episodes tbody tr'), function (tr) {\n"
    "      tr.hidden = f !== 'all' && tr.getAttribute('data-' + f) !== '1';\n"
    "    });\n"
    "  });\n"
    "})();\n";

static void report_head(textbuf *b, const eval_results *r) {
    const json_t *policy = json_object_get(r->results, "policy"), *suite = json_object_get(r->results, "suite");
    const char *started = jstr(r->results, "started", "");
    /* "2026-11-29T02:00:00Z" → "2026-11-29 02:00:00 UTC" */
    char when[48];
    if (strlen(started) == 20 && started[10] == 'T' && started[19] == 'Z')
        snprintf(when, sizeof when, "%.10s %.8s UTC", started, started + 11);
    else
        snprintf(when, sizeof when, "%.40s", started);
    const char *policy_name = jstr(policy, "spec", jstr(policy, "name", "?"));

    textbuf_append(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    textbuf_escape(b, r->suite_id);
    textbuf_append(b, " · ");
    textbuf_escape(b, policy_name);
    textbuf_append(b, " · ");
    textbuf_escape(b, when);
    textbuf_append(b, " — wmsim eval</title>\n<style>\n");
    textbuf_append(b, REPORT_CSS);
    textbuf_append(b, "</style>\n</head>\n<body>\n<main>\n<header>\n<h1>");
    textbuf_escape(b, r->suite_id);
    textbuf_append(b, " <span class=\"muted\" style=\"font-weight:400\">nightly evaluation</span></h1>\n"
                      "<p class=\"meta\">policy <b id=\"policy\">");
    textbuf_escape(b, policy_name);
    textbuf_append(b, "</b>");
    const json_t *model = json_object_get(policy, "model");
    if (json_is_object(model)) {
        textbuf_append(b, " (<code>");
        textbuf_escape(b, jstr(model, "file", "?"));
        textbuf_append(b, "</code> ");
        textbuf_escape(b, jstr(model, "hash", ""));
        textbuf_append(b, ")");
    }
    textbuf_append(b, " · started <b id=\"started\">");
    textbuf_escape(b, when);
    textbuf_append(b, "</b> · ");
    html_number(b, "%.1f s", jnum(r->results, "elapsed_s"));
    textbuf_printf(b, " on %lld jobs<br>suite <code>",
                   (long long)json_integer_value(json_object_get(r->results, "jobs")));
    textbuf_escape(b, jstr(suite, "file", "?"));
    textbuf_append(b, "</code> ");
    textbuf_escape(b, jstr(suite, "hash", ""));
    const char *description = jstr(suite, "description", NULL);
    if (description && *description) {
        textbuf_append(b, " — ");
        textbuf_escape(b, description);
    }
    const json_t *models = json_object_get(r->results, "models");
    static const char *const model_kinds[] = {"dynamics", "tokenizer"};
    for (int i = 0; i < 2; i++) {
        const json_t *m = json_object_get(models, model_kinds[i]);
        if (!m) continue;
        textbuf_printf(b, " · %s <code>", model_kinds[i]);
        textbuf_escape(b, jstr(m, "file", "?"));
        textbuf_append(b, "</code>");
    }
    textbuf_append(b, " · wmsim ");
    textbuf_escape(b, jstr(json_object_get(r->results, "wmsim"), "version", "?"));
    textbuf_append(b, "</p>\n</header>\n"
                      "<div id=\"media-warning\" class=\"banner\" role=\"alert\" hidden></div>\n");
}

static int plural(int n) { return n != 1; }

static void report_summary(textbuf *b, const eval_results *r) {
    const json_t *s = r->summary;
    long long n = json_integer_value(json_object_get(s, "episodes"));
    long long passed = json_integer_value(json_object_get(s, "passed"));
    long long failed = json_integer_value(json_object_get(s, "failed"));
    int regressions = (int)json_array_size(json_object_get(r->baseline, "regressions"));
    int drops = (int)json_array_size(json_object_get(r->baseline, "score_drops"));
    int bad = failed > 0 || regressions || drops;
    textbuf_printf(b, "<div class=\"verdict %s\" id=\"verdict\">%lld of %lld episode%s passed", bad ? "bad" : "ok",
                   passed, n, n == 1 ? "" : "s");
    if (r->baseline)
        textbuf_printf(b, "<span>%d regression%s, %d score drop%s since the baseline</span>", regressions,
                       plural(regressions) ? "s" : "", drops, plural(drops) ? "s" : "");
    textbuf_append(b, "</div>\n<section id=\"summary\">\n<table class=\"summary\">\n<tr>");
    static const char *const names[] = {"episodes", "passed", "failed", "errors", "pass_rate", "mean_score"};
    static const char *const heads[] = {"episodes", "passed", "failed", "policy errors", "pass rate", "mean score"};
    for (int i = 0; i < 6; i++) textbuf_printf(b, "<th>%s</th>", heads[i]);
    textbuf_append(b, "</tr>\n<tr>");
    for (int i = 0; i < 6; i++) {
        double v = jnum(s, names[i]);
        /* Failures and errors in red when there are any; the pass rate red
         * below 100 %, green at it. */
        const char *cls = (i == 2 || i == 3) && v > 0 ? "poor" : i == 4 ? (v < 1 ? "poor" : "good") : "";
        textbuf_printf(b, "<td id=\"summary-%s\" data-value=\"%.10g\" class=\"%s\">", names[i], v, cls);
        if (i == 4) html_percent(b, v);
        else html_number(b, i == 5 ? "%.3f" : "%.0f", v);
        textbuf_append(b, "</td>");
    }
    textbuf_append(b, "</tr>\n</table>\n</section>\n");
}

static void report_episode_link(textbuf *b, const eval_results *r, const char *key) {
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->rows[i].key, key) == 0) {
            textbuf_printf(b, "<a href=\"#ep-%d\">", i);
            textbuf_escape(b, key);
            textbuf_append(b, "</a>");
            return;
        }
    textbuf_escape(b, key);
}

/* before → after (delta) cells of a baseline record. */
static void report_delta_cells(textbuf *b, const json_t *c) {
    double d = jnum(c, "delta");
    textbuf_append(b, "<td class=\"num\">");
    html_number(b, "%.3f", jnum(c, "before_score"));
    textbuf_append(b, "</td><td class=\"num\">");
    html_number(b, "%.3f", jnum(c, "after_score"));
    textbuf_printf(b, "</td><td class=\"num %s\">", d < 0 ? "down" : "up");
    html_number(b, "%+.3f", d);
    textbuf_append(b, "</td>");
}

static void report_change_table(textbuf *b, const eval_results *r, const char *title, const json_t *list,
                                int with_reasons) {
    if (!json_array_size(list)) return;
    textbuf_printf(b, "<h3>%s (%zu)</h3>\n<table><tr><th>episode</th><th class=\"num\">before</th>"
                      "<th class=\"num\">now</th><th class=\"num\">Δ score</th>%s</tr>\n",
                   title, json_array_size(list), with_reasons ? "<th>failure reasons now</th>" : "");
    size_t i;
    const json_t *c;
    json_array_foreach(list, i, c) {
        textbuf_append(b, "<tr><td>");
        report_episode_link(b, r, jstr(c, "key", "?"));
        textbuf_append(b, "</td>");
        report_delta_cells(b, c);
        if (with_reasons) {
            textbuf_append(b, "<td>");
            size_t k;
            const json_t *s;
            json_array_foreach(json_object_get(c, "reasons"), k, s) {
                textbuf_append(b, k ? "<br>" : "");
                textbuf_escape(b, json_string_value(s));
            }
            textbuf_append(b, "</td>");
        }
        textbuf_append(b, "</tr>\n");
    }
    textbuf_append(b, "</table>\n");
}

static void report_key_list(textbuf *b, const eval_results *r, const char *title, const json_t *list) {
    if (!json_array_size(list)) return;
    textbuf_printf(b, "<p><b>%s (%zu):</b> ", title, json_array_size(list));
    size_t i;
    const json_t *k;
    json_array_foreach(list, i, k) {
        textbuf_append(b, i ? ", " : "");
        report_episode_link(b, r, json_string_value(k) ? json_string_value(k) : "?");
    }
    textbuf_append(b, "</p>\n");
}

static void report_regressions(textbuf *b, const eval_results *r) {
    const json_t *bl = r->baseline;
    if (!bl) return;
    const json_t *regs = json_object_get(bl, "regressions"), *drops = json_object_get(bl, "score_drops");
    int n_reg = (int)json_array_size(regs), n_drop = (int)json_array_size(drops);
    textbuf_printf(b, "<section id=\"regressions\" class=\"regressions %s\">\n<h2 id=\"regression-headline\" "
                      "data-regressions=\"%d\" data-score-drops=\"%d\">",
                   n_reg + n_drop ? "bad" : "ok", n_reg, n_drop);
    if (n_reg) textbuf_printf(b, "%d regression%s", n_reg, plural(n_reg) ? "s" : "");
    else textbuf_append(b, "No regressions");
    if (n_drop) textbuf_printf(b, ", %d score drop%s", n_drop, plural(n_drop) ? "s" : "");
    textbuf_append(b, " since <code>");
    textbuf_escape(b, jstr(bl, "dir", "?"));
    textbuf_append(b, "</code></h2>\n<p class=\"muted\">");
    html_number(b, "%.0f", jnum(bl, "compared"));
    textbuf_append(b, " episodes compared by key; score changes up to ");
    html_number(b, "%.3g", jnum(bl, "noise"));
    textbuf_append(b, " are noise.");
    if (json_is_false(json_object_get(bl, "suite_hash_matches")))
        textbuf_append(b, " <b class=\"down\">The suite file changed since the baseline</b>: some differences may come "
                          "from the suite, not the policy.");
    textbuf_append(b, "</p>\n");
    report_change_table(b, r, "Regressions: passed before, fail now", regs, 1);
    report_change_table(b, r, "Score drops beyond noise", drops, 0);
    report_change_table(b, r, "Fixed: failed before, pass now", json_object_get(bl, "fixed"), 0);
    report_key_list(b, r, "New episodes", json_object_get(bl, "added"));
    report_key_list(b, r, "Episodes no longer run", json_object_get(bl, "removed"));
    textbuf_append(b, "</section>\n");
}

static const char LEGEND_TARGET[] =
    "<p class=\"legend\"><span class=\"sw ok\"></span>at or above the required rate<span class=\"sw bad\"></span>"
    "below it<span class=\"sw target\"></span>required rate</p>\n";

static void report_categories(textbuf *b, const eval_results *r) {
    const json_t *cats = json_object_get(r->results, "categories"), *entries = json_object_get(r->results, "entries");
    int nc = (int)json_array_size(cats), ne = (int)json_array_size(entries);
    if (!nc && !ne) return;
    int n = nc > ne ? nc : ne;
    const char **labels = CALLOC_CHECK((size_t)n, sizeof *labels);
    const char **value_labels = CALLOC_CHECK((size_t)n, sizeof *value_labels);
    char (*counts)[32] = CALLOC_CHECK((size_t)n, sizeof *counts);
    double *rates = CALLOC_CHECK((size_t)n, sizeof(double)), *targets = CALLOC_CHECK((size_t)n, sizeof(double));

    textbuf_append(b, "<section id=\"categories\">\n<h2>Pass rate by category</h2>\n<div class=\"cols\">\n<table>"
                      "<tr><th>category</th><th class=\"num\">passed</th><th class=\"num\">pass rate</th>"
                      "<th class=\"num\">mean score</th></tr>\n");
    for (int i = 0; i < nc; i++) {
        const json_t *c = json_array_get(cats, (size_t)i);
        labels[i] = jstr(c, "name", "?"), rates[i] = jnum(c, "pass_rate");
        snprintf(counts[i], sizeof counts[i], "%.0f / %.0f", jnum(c, "passed"), jnum(c, "episodes"));
        value_labels[i] = counts[i];
        textbuf_append(b, "<tr><td>");
        textbuf_escape(b, labels[i]);
        textbuf_printf(b, "</td><td class=\"num\">%s</td><td class=\"num\">", counts[i]);
        html_percent(b, rates[i]);
        textbuf_append(b, "</td><td class=\"num\">");
        html_number(b, "%.3f", jnum(c, "mean_score"));
        textbuf_append(b, "</td></tr>\n");
    }
    textbuf_append(b, "</table>\n<div>");
    svg_bars(b, "pass rate by category", labels, rates, NULL, value_labels, nc);
    textbuf_append(b, "</div>\n</div>\n</section>\n");

    textbuf_append(b, "<section id=\"entries\">\n<h2>Suite entries against their required pass rate</h2>\n"
                      "<table><tr><th class=\"num\">#</th><th>scenario file</th><th>category</th>"
                      "<th class=\"num\">passed</th><th class=\"num\">pass rate</th><th class=\"num\">required</th>"
                      "<th></th></tr>\n");
    for (int i = 0; i < ne; i++) {
        const json_t *e = json_array_get(entries, (size_t)i);
        const char *p = jstr(e, "path", "?"), *slash = strrchr(p, '/');
        int ok = jtrue(e, "passed_entry");
        labels[i] = slash ? slash + 1 : p, rates[i] = jnum(e, "pass_rate"), targets[i] = jnum(e, "min_pass_rate");
        snprintf(counts[i], sizeof counts[i], "%.0f / %.0f", jnum(e, "passed"), jnum(e, "episodes"));
        value_labels[i] = counts[i];
        textbuf_printf(b, "<tr id=\"entry-%d\"><td class=\"num\">%.0f</td><td><code>", i, jnum(e, "index"));
        textbuf_escape(b, p);
        textbuf_append(b, "</code></td><td>");
        textbuf_escape(b, jstr(e, "category", ""));
        textbuf_printf(b, "</td><td class=\"num\">%s</td><td class=\"num\">", counts[i]);
        html_percent(b, rates[i]);
        textbuf_append(b, "</td><td class=\"num\">");
        html_percent(b, targets[i]);
        textbuf_printf(b, "</td><td><span class=\"badge %s\">%s</span></td></tr>\n", ok ? "pass" : "fail",
                       ok ? "PASS" : "FAIL");
    }
    /* Below the table, not beside it: entry paths make the table wide. */
    textbuf_append(b, "</table>\n<div class=\"below\">");
    svg_bars(b, "pass rate by suite entry", labels, rates, targets, value_labels, ne);
    textbuf_append(b, LEGEND_TARGET);
    textbuf_append(b, "</div>\n</section>\n");
    free(labels), free(value_labels), free(counts), free(rates), free(targets);
}

static const char LEGEND_PASS[] =
    "<p class=\"legend\"><span class=\"sw ok\"></span>passed<span class=\"sw bad\"></span>failed</p>\n";

static void report_plots(textbuf *b, const eval_results *r) {
    int n = r->n;
    double *score = CALLOC_CHECK((size_t)n + 1, sizeof(double));
    int *failed = CALLOC_CHECK((size_t)n + 1, sizeof(int));
    const char **keys = CALLOC_CHECK((size_t)n + 1, sizeof *keys);
    /* Metric names in first-seen order: every episode lists the same
     * metrics today, but a results.json mixing versions may not. */
    json_t *names = json_array();
    for (int i = 0; i < n; i++) {
        const episode_row *e = &r->rows[i];
        score[i] = jnum(e->j, "score"), failed[i] = !e->passed, keys[i] = e->key;
        const char *name;
        const json_t *v;
        json_object_foreach(json_object_get(e->j, "metrics"), name, v) {
            size_t k, m = json_array_size(names);
            for (k = 0; k < m && strcmp(json_string_value(json_array_get(names, k)), name); k++) {}
            if (k == m) json_array_append_new(names, json_string(name));
        }
    }
    int rows = (int)json_array_size(names);
    const char **row_names = CALLOC_CHECK((size_t)rows + 1, sizeof *row_names);
    double *values = CALLOC_CHECK((size_t)rows * n + 1, sizeof(double));
    for (int k = 0; k < rows; k++) {
        row_names[k] = json_string_value(json_array_get(names, (size_t)k));
        for (int i = 0; i < n; i++)
            values[(size_t)k * n + i] = jnum(json_object_get(r->rows[i].j, "metrics"), row_names[k]);
    }

    textbuf_append(b, "<section id=\"plots\">\n<div class=\"cols plots\">\n<div>\n<h2>Score distribution</h2>\n");
    svg_histogram(b, "score distribution", "score", score, failed, n, 0.0, 1.0, SCORE_BINS);
    textbuf_append(b, LEGEND_PASS);
    textbuf_append(b, "</div>\n<div>\n<h2>Metrics</h2>\n<p class=\"legend\" style=\"margin:0 0 6px\">One row per "
                      "metric, one dot per episode, between the night's minimum and maximum; hover a dot for its "
                      "episode.</p>\n");
    svg_strips(b, "metrics per episode", row_names, rows, values, n, failed, keys);
    textbuf_append(b, LEGEND_PASS);
    textbuf_append(b, "</div>\n</div>\n</section>\n");
    json_decref(names);
    free(score), free(failed), free(keys), free(row_names), free(values);
}

static void report_media(textbuf *b, const episode_row *e) {
    const json_t *files = json_object_get(e->j, "files");
    const char *thumbs = jstr(files, "thumbnails", NULL), *video = jstr(files, "video", NULL);
    textbuf_append(b, "<td class=\"media\">");
    if (thumbs) {
        html_link_open(b, thumbs);
        textbuf_append(b, "<img src=\"");
        append_url_path(b, thumbs);
        textbuf_append(b, "\" alt=\"frames of ");
        textbuf_escape(b, e->key);
        textbuf_append(b, "\"></a>");
    }
    if (video) {
        textbuf_append(b, "<video controls preload=\"metadata\" src=\"");
        append_url_path(b, video);
        /* A media fragment makes the browser seek, so the first picture shows
         * before the video is played (with metadata alone it stays black). */
        textbuf_append(b, "#t=0.1\"></video>");
    }
    if (!thumbs && !video) textbuf_append(b, "<span class=\"muted\">no media</span>");
    textbuf_append(b, "</td>");
}

/* What results.json's "regressed" counts: a regression or a score drop. */
static int row_regressed(const episode_row *e) { return e->group == ROW_REGRESSION || e->group == ROW_SCORE_DROP; }

static void report_episode(textbuf *b, const episode_row *e) {
    const json_t *j = e->j;
    const char *cls = e->group == ROW_REGRESSION ? "regression" : e->group == ROW_SCORE_DROP ? "score-drop" : "";
    textbuf_printf(b, "<tr id=\"ep-%d\" class=\"%s\" data-failed=\"%d\" data-regressed=\"%d\">", e->index, cls,
                   !e->passed, row_regressed(e));
    const char *badge = e->passed ? "pass" : e->error ? "error" : "fail";
    textbuf_printf(b, "<td><span class=\"badge %s\">%s</span>", badge,
                   e->passed ? "PASS" : e->error ? "ERROR" : "FAIL");
    if (e->change_kind) {
        const char *tag = !strcmp(e->change_kind, "score drop") ? "drop" : e->change_kind;
        textbuf_printf(b, "<br><span class=\"tag %s\">%s</span>", tag, e->change_kind);
    }
    textbuf_append(b, "</td>\n<td><div class=\"key\">");
    html_key(b, e->key);
    textbuf_append(b, "</div><div class=\"sub\">");
    textbuf_escape(b, jstr(j, "category", "—"));
    textbuf_append(b, " · ");
    textbuf_escape(b, jstr(j, "loop", "?"));
    textbuf_append(b, " · ");
    textbuf_escape(b, jstr(j, "end_reason", "?"));
    textbuf_append(b, " at ");
    html_number(b, "%.1f s", jnum(j, "duration_s"));
    textbuf_append(b, "</div>");
    const json_t *params = json_object_get(j, "parameters");
    if (json_object_size(params)) {
        textbuf_append(b, "<div>");
        append_parameters(b, params, "", 1);
        textbuf_append(b, "</div>");
    }
    const json_t *files = json_object_get(j, "files");
    const char *log = jstr(files, "log", NULL), *result = jstr(files, "result", NULL);
    textbuf_append(b, "<div class=\"sub\">");
    if (log) html_link_open(b, log), textbuf_append(b, "log</a> ");
    if (result) html_link_open(b, result), textbuf_append(b, "result.json</a>");
    textbuf_append(b, "</div></td>\n");

    double score = jnum(j, "score"), min_score = jnum(j, "min_score");
    textbuf_append(b, "<td class=\"num\"><b>");
    html_number(b, "%.3f", score);
    textbuf_append(b, "</b>");
    if (isfinite(min_score)) textbuf_printf(b, "<div class=\"sub\">min %.2f</div>", min_score);
    if (e->change && isfinite(jnum(e->change, "delta"))) {
        double d = jnum(e->change, "delta");
        textbuf_printf(b, "<div class=\"sub %s\">%+.3f vs baseline</div>", d < 0 ? "down" : "up", d);
    }
    double w = isfinite(score) ? fmin(fmax(score, 0), 1) * 100 : 0;
    textbuf_printf(b, "<div class=\"scorebar\"><i style=\"width:%.0f%%;background:var(--%s)\"></i></div></td>\n", w,
                   e->passed ? "ok" : "bad");

    textbuf_append(b, "<td>");
    if (e->error) {
        textbuf_append(b, "<p class=\"errtext\"><b>policy error:</b> ");
        textbuf_escape(b, e->error);
        textbuf_append(b, "</p>");
    }
    const json_t *reasons = json_object_get(j, "failure_reasons");
    if (json_array_size(reasons)) {
        textbuf_append(b, "<ul class=\"reasons\">");
        size_t i;
        const json_t *s;
        json_array_foreach(reasons, i, s) {
            textbuf_append(b, "<li>");
            textbuf_escape(b, json_string_value(s));
            textbuf_append(b, "</li>");
        }
        textbuf_append(b, "</ul>");
    } else if (!e->error) {
        textbuf_append(b, "<span class=\"muted\">—</span>");
    }
    textbuf_append(b, "</td>\n");
    report_media(b, e);
    textbuf_append(b, "</tr>\n");
}

static void report_episodes(textbuf *b, const eval_results *r) {
    int failed = 0, regressed = 0;
    for (int i = 0; i < r->n; i++)
        failed += !r->rows[i].passed, regressed += row_regressed(&r->rows[i]);
    textbuf_printf(b, "<section id=\"episodes\">\n<h2>Episodes</h2>\n<p class=\"legend\" style=\"margin:0 0 8px\">"
                      "Regressions first, then failures, then score drops, then passes; run order within each.</p>\n"
                      "<div class=\"filters\" id=\"filters\" hidden>show <button data-filter=\"all\" class=\"on\">all "
                      "%d</button><button data-filter=\"failed\">failed %d</button>",
                   r->n, failed);
    if (r->baseline) textbuf_printf(b, "<button data-filter=\"regressed\">regressed %d</button>", regressed);
    textbuf_append(b, "</div>\n<table>\n<colgroup><col class=\"result\"><col class=\"episode\"><col class=\"score\">"
                      "<col><col></colgroup>\n<thead><tr><th>result</th><th>episode</th><th class=\"num\">score</th>"
                      "<th>failure reasons</th><th>frames and video</th></tr></thead>\n<tbody>\n");
    /* Stable by group: a counting pass per group keeps run order within it. */
    for (int g = ROW_REGRESSION; g <= ROW_PASSED; g++)
        for (int i = 0; i < r->n; i++)
            if (r->rows[i].group == g) report_episode(b, &r->rows[i]);
    textbuf_append(b, "</tbody>\n</table>\n</section>\n");
}

int eval_write_report(const char *path, const struct json_t *results, wm_error *err) {
    eval_results r;
    if (results_open(&r, path, results, err)) return -1;
    textbuf b = {0};
    report_head(&b, &r);
    report_summary(&b, &r);
    report_regressions(&b, &r);
    report_categories(&b, &r);
    report_plots(&b, &r);
    report_episodes(&b, &r);
    textbuf_append(&b, "<output id=\"selfcheck\" hidden data-state=\"pending\"></output>\n</main>\n<script>\n");
    textbuf_append(&b, REPORT_SCRIPT);
    textbuf_append(&b, "</script>\n</body>\n</html>\n");
    results_close(&r);
    return write_text(path, &b, err);
}
