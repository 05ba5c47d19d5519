/* eval_compare.c — tonight's results against the baseline's, episode by
 * episode (matched by key). */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sim/eval.h"

static json_t *delta_json(const char *key, double before, double after) {
    json_t *o = json_object();
    json_object_set_new(o, "key", json_string(key));
    json_object_set_new(o, "before_score", json_real(before));
    json_object_set_new(o, "after_score", json_real(after));
    json_object_set_new(o, "delta", json_real(after - before));
    return o;
}

static json_t *find_episode(json_t *episodes, const char *key) {
    size_t i;
    json_t *e;
    json_array_foreach(episodes, i, e) {
        const char *k = json_string_value(json_object_get(e, "key"));
        if (k && strcmp(k, key) == 0) return e;
    }
    return NULL;
}

int eval_baseline_load(const char *dir, json_t **out, wm_error *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/results.json", dir);
    json_error_t je;
    json_t *base = json_load_file(path, 0, &je);
    if (!base) {
        if (access(path, F_OK) != 0) return wm_fail(err, "--baseline %s: %s: %s", dir, path, strerror(errno));
        return wm_fail(err, "--baseline %s: %s:%d: not JSON: %s", dir, path, je.line, je.text);
    }
    if (!json_is_array(json_object_get(base, "episodes"))) {
        json_decref(base);
        return wm_fail(err, "--baseline %s: %s: no \"episodes\" array (not a wmsim results.json)", dir, path);
    }
    *out = base;
    return 0;
}

int eval_compare(json_t *results, const char *baseline_dir, double noise, wm_error *err) {
    json_t *base;
    if (eval_baseline_load(baseline_dir, &base, err)) return -1;
    json_t *before = json_object_get(base, "episodes"), *now = json_object_get(results, "episodes");
    json_t *regressions = json_array(), *drops = json_array(), *fixed = json_array(), *added = json_array(),
           *removed = json_array();
    int compared = 0;
    size_t i;
    json_t *e;
    json_array_foreach(now, i, e) {
        const char *key = json_string_value(json_object_get(e, "key"));
        json_t *b = find_episode(before, key);
        if (!b) {
            json_array_append_new(added, json_string(key));
            continue;
        }
        compared++;
        int was = json_is_true(json_object_get(b, "passed")), is = json_is_true(json_object_get(e, "passed"));
        double sb = json_number_value(json_object_get(b, "score")), sa = json_number_value(json_object_get(e, "score"));
        if (was && !is) {
            json_t *r = delta_json(key, sb, sa);
            json_object_set(r, "reasons", json_object_get(e, "failure_reasons"));
            json_array_append_new(regressions, r);
        } else if (!was && is) {
            json_array_append_new(fixed, delta_json(key, sb, sa));
        } else if (was && is && sb - sa > noise) {
            json_array_append_new(drops, delta_json(key, sb, sa));
        }
    }
    json_array_foreach(before, i, e) {
        const char *key = json_string_value(json_object_get(e, "key"));
        if (key && !find_episode(now, key)) json_array_append_new(removed, json_string(key));
    }
    const char *hb = json_string_value(json_object_get(json_object_get(base, "suite"), "hash"));
    const char *hn = json_string_value(json_object_get(json_object_get(results, "suite"), "hash"));
    json_t *o = json_object();
    json_object_set_new(o, "dir", json_string(baseline_dir));
    json_object_set_new(o, "suite_hash_matches", json_boolean(hb && hn && strcmp(hb, hn) == 0));
    json_object_set_new(o, "noise", json_real(noise));
    json_object_set_new(o, "compared", json_integer(compared));
    int regressed = json_array_size(regressions) + json_array_size(drops) > 0;
    json_object_set_new(o, "regressions", regressions);
    json_object_set_new(o, "score_drops", drops);
    json_object_set_new(o, "fixed", fixed);
    json_object_set_new(o, "added", added);
    json_object_set_new(o, "removed", removed);
    json_object_set_new(results, "baseline", o);
    json_object_set_new(results, "regressed", json_boolean(regressed));
    json_decref(base);
    return 0;
}
