/* check.h — checked-call macros. Out of memory and failed CUDA calls are not
 * recoverable here, so they abort with the caller's file:line instead of
 * returning an error code every caller would have to forward. */
#ifndef WMSIM_CHECK_H
#define WMSIM_CHECK_H

#include <stddef.h>

void *wm_malloc_check(size_t size, const char *file, int line);
/* Checks n * size for overflow before allocating; zero-filled. */
void *wm_calloc_check(size_t n, size_t size, const char *file, int line);
void *wm_realloc_check(void *p, size_t n, size_t size, const char *file, int line);
char *wm_strdup_check(const char *s, const char *file, int line);

#define MALLOC_CHECK(size) wm_malloc_check((size), __FILE__, __LINE__)
#define CALLOC_CHECK(n, size) wm_calloc_check((n), (size), __FILE__, __LINE__)
#define REALLOC_CHECK(p, n, size) wm_realloc_check((p), (n), (size), __FILE__, __LINE__)
#define STRDUP_CHECK(s) wm_strdup_check((s), __FILE__, __LINE__)

#endif
