/* browser.h — the project's HTML pages in headless Chromium, for the Check
 * suites: the DOM after the page's scripts ran, a screenshot, and readers
 * for what the pages leave for tests (an element's attributes and text, the
 * #selfcheck JSON, the local files they link to).
 *
 * Usage:
 *     char chromium[4096];
 *     if (!browser_find(chromium, sizeof chromium)) {
 *         printf("%s: skipped: %s\n", __func__, BROWSER_MISSING);
 *         return;
 *     }
 *     char *dom = browser_dump_dom(chromium, "/abs/dir/report.html");   // the test fails if Chromium does
 *     json_t *sc = browser_selfcheck(dom);       // {"images":N,"videos":M,"broken":[..],"pending":[..]}
 *     char v[64];
 *     ck_assert(browser_attr(dom, "summary-episodes", "data-value", v, sizeof v));
 *     json_t *missing = browser_missing_files(dom, "/abs/dir", &n_checked);  // src/href that are not files
 *     browser_screenshot(chromium, "/abs/dir/report.html", "/abs/shot.png", 1280, 1600);
 *     ck_assert(browser_png_ink("/abs/shot.png") > 0.02);                  // not a blank page
 *
 *     browser_report br;                         // or all of a report page's checks at once:
 *     char why[512];
 *     if (browser_check_report("out/report.html", &br, why, sizeof why)) ck_abort_msg("%s", why);
 *     ck_assert_int_eq(br.broken, 0);            // br.episodes, br.passed...: its summary cells
 *
 * Chromium is a real process run with a timeout (its whole process group is
 * killed when it overruns). `make test` installs Debian's
 * chromium-headless-shell; $WMSIM_CHROMIUM names another binary. Included by
 * several suites: everything here is static inline. */
#ifndef WMSIM_TESTS_BROWSER_H
#define WMSIM_TESTS_BROWSER_H

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <time.h>

#include "render/image.h"
#include "testutil.h"

#define BROWSER_MISSING \
    "no chromium-headless-shell or chromium on PATH (Debian: apt-get install chromium-headless-shell)"
#define BROWSER_TIMEOUT_S 60
/* Virtual time lets the page's load handlers and media probes finish
 * without the run waiting out real timers. */
#define BROWSER_VIRTUAL_TIME_MS "10000"

/* Finds the browser: $WMSIM_CHROMIUM, else chromium-headless-shell or
 * chromium on PATH. Returns 1 with its path in out, 0 when there is none. */
static inline int browser_find(char *out, size_t n) {
    const char *env = getenv("WMSIM_CHROMIUM");
    if (env && *env) {
        snprintf(out, n, "%s", env);
        return access(out, X_OK) == 0;
    }
    static const char *const names[] = {"chromium-headless-shell", "chromium"};
    const char *path = getenv("PATH");
    for (int k = 0; k < 2; k++)
        for (const char *p = path; p && *p;) {
            const char *colon = strchr(p, ':');
            size_t len = colon ? (size_t)(colon - p) : strlen(p);
            if (len && (size_t)snprintf(out, n, "%.*s/%s", (int)len, p, names[k]) < n && access(out, X_OK) == 0)
                return 1;
            p = colon ? colon + 1 : p + len;
        }
    return 0;
}

static inline double browser_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* Runs argv (argv[0] a path, or a name looked up on PATH) with stdin from
 * /dev/null, stdout into *out and stderr into *errout (malloc'ed,
 * NUL-terminated; either may be NULL to drop it). The child leads its own
 * process group, which is killed when it outlives timeout_s: Chromium's
 * helpers go with it. Returns the exit status, 128 + signal, or -1 on
 * timeout. Any program, not only the browser (an XML checker, say). */
static inline int browser_run(const char *const *argv, int timeout_s, char **out, char **errout) {
    int fds[2][2];
    ck_assert_int_eq(pipe(fds[0]), 0);
    ck_assert_int_eq(pipe(fds[1]), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setpgid(0, 0);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) dup2(null, 0);
        dup2(fds[0][1], 1);
        dup2(fds[1][1], 2);
        for (int i = 0; i < 2; i++) close(fds[i][0]), close(fds[i][1]);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    setpgid(pid, pid); /* also here: no race with the child's own call */
    close(fds[0][1]);
    close(fds[1][1]);
    char *buf[2] = {NULL, NULL};
    size_t len[2] = {0, 0}, cap[2] = {0, 0};
    int open_fds = 2, timed_out = 0;
    struct pollfd pf[2] = {{fds[0][0], POLLIN, 0}, {fds[1][0], POLLIN, 0}};
    double deadline = browser_now_s() + timeout_s;
    while (open_fds > 0) {
        double left = deadline - browser_now_s();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        int rc = poll(pf, 2, (int)(left * 1000) + 1);
        if (rc < 0 && errno == EINTR) continue;
        ck_assert_int_ge(rc, 0);
        for (int i = 0; i < 2; i++) {
            if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            if (cap[i] - len[i] < 4097) buf[i] = REALLOC_CHECK(buf[i], cap[i] = cap[i] * 2 + 8192, 1);
            ssize_t got = read(pf[i].fd, buf[i] + len[i], cap[i] - len[i] - 1);
            if (got > 0) {
                len[i] += (size_t)got;
            } else if (got == 0 || errno != EINTR) {
                close(pf[i].fd);
                pf[i].fd = -1;
                open_fds--;
            }
        }
    }
    /* The child is not reaped yet, so its pid, and so the group id, cannot
     * have been reused: killing the group reaches only what it started. */
    if (timed_out) kill(-pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    kill(-pid, SIGKILL);
    for (int i = 0; i < 2; i++) {
        if (pf[i].fd >= 0) close(pf[i].fd);
        if (!buf[i]) buf[i] = MALLOC_CHECK(1);
        buf[i][len[i]] = '\0';
    }
    if (out) *out = buf[0]; else free(buf[0]);
    if (errout) *errout = buf[1]; else free(buf[1]);
    if (timed_out) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* "file://" + an absolute path; the path must need no percent-encoding
 * (test directories do not). */
static inline void browser_file_url(char *url, size_t n, const char *abs_path) {
    ck_assert_msg(abs_path[0] == '/', "%s: not an absolute path", abs_path);
    for (const char *p = abs_path; *p; p++)
        ck_assert_msg(strchr("-._~/", *p) || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                          (*p >= '0' && *p <= '9'),
                      "%s: a test page path must not need percent-encoding", abs_path);
    ck_assert((size_t)snprintf(url, n, "file://%s", abs_path) < n);
}

/* The last part of Chromium's stderr, for failure messages. */
static inline const char *browser_tail(const char *text) {
    size_t n = strlen(text);
    return n > 1500 ? text + n - 1500 : text;
}

/* The page's DOM as Chromium serialises it once the page and its scripts
 * ran (malloc'ed). The test fails, with Chromium's stderr, if it cannot. */
static inline char *browser_dump_dom(const char *chromium, const char *abs_html) {
    char url[4200];
    browser_file_url(url, sizeof url, abs_html);
    const char *argv[] = {chromium, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
                          "--virtual-time-budget=" BROWSER_VIRTUAL_TIME_MS, "--dump-dom", url, NULL};
    char *dom, *errs;
    int rc = browser_run(argv, BROWSER_TIMEOUT_S, &dom, &errs);
    ck_assert_msg(rc == 0 && strstr(dom, "</html>"), "%s --dump-dom %s: exit %d (-1: timed out after %d s):\n%s",
                  chromium, url, rc, BROWSER_TIMEOUT_S, browser_tail(errs));
    free(errs);
    return dom;
}

/* A width x height PNG of the page's top after its scripts ran. */
static inline void browser_screenshot(const char *chromium, const char *abs_html, const char *png, int width,
                                      int height) {
    char url[4200], shot[4200], size[64];
    browser_file_url(url, sizeof url, abs_html);
    ck_assert((size_t)snprintf(shot, sizeof shot, "--screenshot=%s", png) < sizeof shot);
    snprintf(size, sizeof size, "--window-size=%d,%d", width, height);
    const char *argv[] = {chromium, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
                          "--hide-scrollbars", "--virtual-time-budget=" BROWSER_VIRTUAL_TIME_MS, size, shot, url, NULL};
    char *errs;
    unlink(png);
    int rc = browser_run(argv, BROWSER_TIMEOUT_S, NULL, &errs);
    ck_assert_msg(rc == 0 && access(png, F_OK) == 0, "%s --screenshot %s: exit %d:\n%s", chromium, url, rc,
                  browser_tail(errs));
    free(errs);
}

/* The share of a PNG's pixels that differ clearly (by more than 24 in a
 * channel) from its top-left pixel: 0 for a blank page. */
static inline double browser_png_ink(const char *png) {
    image img;
    wm_error err;
    ck_assert_msg(image_read_png(png, &img, &err) == 0, "%s", err.msg);
    size_t n = (size_t)img.width * img.height, ink = 0;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++)
            if (abs((int)img.rgb[3 * i + c] - (int)img.rgb[c]) > 24) {
                ink++;
                break;
            }
    image_free(&img);
    return n ? (double)ink / n : 0.0;
}

/* Copies [s, s + n) into out (size cap) with the entities Chromium writes
 * decoded. */
static inline void browser_unescape(char *out, size_t cap, const char *s, size_t n) {
    static const char *const ent[][2] = {{"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"},
                                         {"&nbsp;", "\xC2\xA0"}, {"&amp;", "&"}};
    size_t o = 0;
    for (size_t i = 0; i < n && o + 4 < cap;) {
        size_t k = 0, m = sizeof ent / sizeof ent[0];
        while (k < m && strncmp(s + i, ent[k][0], strlen(ent[k][0]))) k++;
        if (s[i] == '&' && k < m) {
            o += (size_t)snprintf(out + o, cap - o, "%s", ent[k][1]);
            i += strlen(ent[k][0]);
        } else {
            out[o++] = s[i++];
        }
    }
    out[o] = '\0';
}

/* The start tag of the element with this id: [*tag, *end) ends before its
 * '>'. 0 when there is no such element. */
static inline int browser_find_tag(const char *dom, const char *id, const char **tag, const char **end) {
    char needle[256];
    snprintf(needle, sizeof needle, " id=\"%s\"", id);
    const char *at = strstr(dom, needle);
    if (!at) return 0;
    const char *lt = at, *gt = strchr(at, '>');
    while (lt > dom && *lt != '<') lt--;
    if (*lt != '<' || !gt) return 0;
    *tag = lt, *end = gt;
    return 1;
}

/* The value of attribute attr on the element with this id, decoded into out.
 * 0 when either is missing. */
static inline int browser_attr(const char *dom, const char *id, const char *attr, char *out, size_t n) {
    const char *tag, *end;
    if (!browser_find_tag(dom, id, &tag, &end)) return 0;
    char needle[128];
    snprintf(needle, sizeof needle, " %s=\"", attr);
    size_t nl = strlen(needle);
    for (const char *p = tag; p && p < end; p++) {
        p = strstr(p, needle);
        if (!p || p >= end) return 0;
        const char *v = p + nl, *q = strchr(v, '"');
        if (!q) return 0;
        browser_unescape(out, n, v, (size_t)(q - v));
        return 1;
    }
    return 0;
}

/* The text of the element with this id up to its first child tag, decoded
 * into out. 0 when there is no such element. */
static inline int browser_text(const char *dom, const char *id, char *out, size_t n) {
    const char *tag, *end;
    if (!browser_find_tag(dom, id, &tag, &end)) return 0;
    const char *stop = strchr(end + 1, '<');
    browser_unescape(out, n, end + 1, stop ? (size_t)(stop - end - 1) : strlen(end + 1));
    return 1;
}

/* The JSON the page's self-check left in #selfcheck once it finished; the
 * test fails if it did not finish (the page's script broke or never ran). */
static inline json_t *browser_selfcheck(const char *dom) {
    char state[32] = "";
    ck_assert_msg(browser_attr(dom, "selfcheck", "data-state", state, sizeof state), "no #selfcheck in the page");
    ck_assert_msg(strcmp(state, "done") == 0, "the page's self-check did not finish (state '%s')", state);
    size_t cap = strlen(dom) + 1;
    char *text = MALLOC_CHECK(cap);
    ck_assert(browser_text(dom, "selfcheck", text, cap));
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    ck_assert_msg(json_is_object(j), "#selfcheck is not a JSON object: %s (%s)", text, je.text);
    free(text);
    return j;
}

/* Every src="..." and href="..." in the DOM that names a local file
 * (relative: no scheme, not a fragment), percent-decoded and looked up
 * under base_dir. Returns the array of those that are missing (decref it);
 * *n_checked counts those looked up. */
static inline json_t *browser_missing_files(const char *dom, const char *base_dir, int *n_checked) {
    json_t *missing = json_array();
    *n_checked = 0;
    static const char *const attrs[] = {" src=\"", " href=\""};
    for (int a = 0; a < 2; a++)
        for (const char *p = strstr(dom, attrs[a]); p; p = strstr(p + 1, attrs[a])) {
            const char *v = p + strlen(attrs[a]), *q = strchr(v, '"');
            if (!q) break;
            char raw[4096], rel[4096], path[8300];
            browser_unescape(raw, sizeof raw, v, (size_t)(q - v));
            size_t scheme = strcspn(raw, ":/?#");
            if (!raw[0] || raw[0] == '#' || raw[scheme] == ':') continue;
            size_t o = 0;
            for (const char *s = raw; *s && *s != '?' && *s != '#' && o + 1 < sizeof rel; s++) {
                unsigned hex;
                if (*s == '%' && sscanf(s + 1, "%2x", &hex) == 1) rel[o++] = (char)hex, s += 2;
                else rel[o++] = *s;
            }
            rel[o] = '\0';
            snprintf(path, sizeof path, "%s/%s", base_dir, rel);
            (*n_checked)++;
            if (access(path, F_OK) != 0) json_array_append_new(missing, json_string(raw));
        }
    return missing;
}

/* What browser_check_report read from a page of sim/eval_report.c. */
typedef struct {
    int images, videos;                   /* <img> and <video> elements the page's self-check saw */
    int broken;                           /* of those, how many failed to load or never answered */
    int missing_files;                    /* src/href naming local files that do not exist */
    int episodes, passed, failed, errors; /* the summary cells' data-value */
    double pass_rate, mean_score;
} browser_report;

/* Sets why and returns -1 (vsnprintf: a long path is cut, not a warning). */
__attribute__((format(printf, 3, 4))) static inline int browser_fail(char *why, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return -1;
}

/* Opens an eval report in Chromium and reads its self-check, its summary
 * cells and its local links. Returns 0, or -1 with the reason in why when
 * there is no browser (BROWSER_MISSING) or the page lacks what it must
 * show; a browser that fails to run fails the test outright. */
static inline int browser_check_report(const char *html_path, browser_report *br, char *why, size_t n) {
    memset(br, 0, sizeof *br);
    char chromium[4096], abs_html[4096], dir[4096];
    if (!browser_find(chromium, sizeof chromium)) return browser_fail(why, n, "%s", BROWSER_MISSING);
    if (access(html_path, R_OK) != 0) return browser_fail(why, n, "%s: %s", html_path, strerror(errno));
    char cwd[2048] = "";
    if (html_path[0] != '/') ck_assert(getcwd(cwd, sizeof cwd) != NULL);
    ck_assert((size_t)snprintf(abs_html, sizeof abs_html, "%s%s%s", cwd, cwd[0] ? "/" : "", html_path) <
              sizeof abs_html);
    snprintf(dir, sizeof dir, "%s", abs_html);
    *strrchr(dir, '/') = '\0';
    char *dom = browser_dump_dom(chromium, abs_html);
    json_t *sc = browser_selfcheck(dom);
    br->images = (int)json_integer_value(json_object_get(sc, "images"));
    br->videos = (int)json_integer_value(json_object_get(sc, "videos"));
    br->broken = (int)json_array_size(json_object_get(sc, "broken"));
    br->broken += (int)json_array_size(json_object_get(sc, "pending"));
    json_decref(sc);
    int checked;
    json_t *missing = browser_missing_files(dom, dir, &checked);
    br->missing_files = (int)json_array_size(missing);
    json_decref(missing);
    static const char *const cells[] = {"episodes", "passed", "failed", "errors", "pass_rate", "mean_score"};
    double v[6];
    int rc = 0;
    for (int i = 0; i < 6 && !rc; i++) {
        char id[64], text[64];
        snprintf(id, sizeof id, "summary-%s", cells[i]);
        if (!browser_attr(dom, id, "data-value", text, sizeof text))
            rc = browser_fail(why, n, "%s: no #%s with a data-value", html_path, id);
        else
            v[i] = strtod(text, NULL);
    }
    if (!rc) {
        br->episodes = (int)v[0], br->passed = (int)v[1], br->failed = (int)v[2], br->errors = (int)v[3];
        br->pass_rate = v[4], br->mean_score = v[5];
    }
    free(dom);
    return rc;
}

#endif
