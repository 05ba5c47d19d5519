/* scenario_files.c — the scenario files a command-line argument names. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "scenarios/scenario.h"

static int compare_paths(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

int scenario_files_add(const char *path, char ***list, int *n, wm_error *err) {
    DIR *d = opendir(path);
    if (!d) {
        if (errno != ENOTDIR) return wm_fail(err, "%s: %s", path, strerror(errno));
        *list = REALLOC_CHECK(*list, (size_t)*n + 1, sizeof **list);
        (*list)[(*n)++] = STRDUP_CHECK(path);
        return 0;
    }
    int first = *n;
    for (struct dirent *e; (e = readdir(d));) {
        if (!has_suffix(e->d_name, ".pbtxt") && !has_suffix(e->d_name, ".pb")) continue;
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, e->d_name);
        *list = REALLOC_CHECK(*list, (size_t)*n + 1, sizeof **list);
        (*list)[(*n)++] = STRDUP_CHECK(full);
    }
    closedir(d);
    if (*n == first) return wm_fail(err, "%s: no scenario files (*.pbtxt, *.pb)", path);
    qsort(*list + first, (size_t)(*n - first), sizeof **list, compare_paths);
    return 0;
}

void scenario_files_free(char **list, int n) {
    for (int i = 0; i < n; i++) free(list[i]);
    free(list);
}

int scenario_load_all(const char *who, const char *const *paths, int n, scenario *out, int *loaded, wm_error *err) {
    for (*loaded = 0; *loaded < n; ++*loaded) {
        if (scenario_load(paths[*loaded], &out[*loaded], err)) return -1;
        for (int j = 0; j < *loaded; j++)
            if (strcmp(out[j].id, out[*loaded].id) == 0) {
                wm_fail(err, "%s: %s and %s share the scenario id '%s'", who, paths[j], paths[*loaded],
                        out[*loaded].id);
                ++*loaded;
                return -1;
            }
    }
    return 0;
}
