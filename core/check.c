#include "core/check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die_oom(size_t bytes, const char *file, int line) {
    fprintf(stderr, "%s:%d: out of memory allocating %zu bytes\n", file, line, bytes);
    abort();
}

void *wm_malloc_check(size_t size, const char *file, int line) {
    void *p = malloc(size ? size : 1);
    if (!p) die_oom(size, file, line);
    return p;
}

void *wm_calloc_check(size_t n, size_t size, const char *file, int line) {
    if (size && n > SIZE_MAX / size) die_oom(SIZE_MAX, file, line);
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) die_oom(n * size, file, line);
    return p;
}

void *wm_realloc_check(void *p, size_t n, size_t size, const char *file, int line) {
    if (size && n > SIZE_MAX / size) die_oom(SIZE_MAX, file, line);
    size_t bytes = n * size;
    void *q = realloc(p, bytes ? bytes : 1);
    if (!q) die_oom(n * size, file, line);
    return q;
}

char *wm_strdup_check(const char *s, const char *file, int line) {
    size_t n = strlen(s) + 1;
    char *p = wm_malloc_check(n, file, line);
    memcpy(p, s, n);
    return p;
}
