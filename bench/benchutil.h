/* benchutil.h — what every benchmark shares: a monotonic clock, the CPU's
 * name for the machine line, and the machine's sgemm rate, the baseline
 * the world model's benchmarks compare their GFLOP/s with. */
#ifndef WMSIM_BENCHUTIL_H
#define WMSIM_BENCHUTIL_H

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static inline double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* Seconds per call of fn: one warm-up call, then calls until `seconds`
 * have passed (at least one); *calls (may be NULL) gets their count. */
static inline double seconds_per_call(void (*fn)(void *), void *ctx, double seconds, long *calls) {
    fn(ctx);
    long n = 0;
    double t0 = now_s(), dt;
    do fn(ctx), n++;
    while ((dt = now_s() - t0) < seconds);
    if (calls) *calls = n;
    return dt / n;
}

/* The first "model name" of /proc/cpuinfo, or "unknown CPU". */
static inline void cpu_model(char *out, size_t size) {
    snprintf(out, size, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    for (char line[512]; f && fgets(line, sizeof line, f);)
        if (strncmp(line, "model name", 10) == 0 && strchr(line, ':')) {
            snprintf(out, size, "%s", strchr(line, ':') + 2);
            out[strcspn(out, "\n")] = '\0';
            break;
        }
    if (f) fclose(f);
}

#ifdef BENCH_SGEMM
#include <cblas.h>
#include <omp.h>

#include "core/check.h"
#include "core/rng.h"

/* One 1024^3 sgemm per thread, `threads` of them at once: the summed
 * GFLOP/s, best of 5 trials of seconds / 5 after a warm-up product. */
static inline double sgemm_peak(int threads, double seconds) {
    const int n = 1024;
    wm_rng r;
    rng_init(&r, 1);
    float *a = MALLOC_CHECK((size_t)n * n * sizeof(float)), *b = MALLOC_CHECK((size_t)n * n * sizeof(float));
    for (size_t i = 0; i < (size_t)n * n; i++) a[i] = (float)rng_range(&r, -1, 1), b[i] = (float)rng_range(&r, -1, 1);
    float *c = CALLOC_CHECK((size_t)threads * n * n, sizeof(float));
    double best = 0.0;
    for (int trial = 0; trial < 6; trial++) { /* trial 0 warms up */
        const double t0 = now_s(), until = trial ? seconds / 5 : 0.0;
        long reps = 0;
#pragma omp parallel num_threads(threads) reduction(+ : reps)
        {
            float *mine = c + (size_t)omp_get_thread_num() * n * n;
            do cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, mine, n), reps++;
            while (now_s() - t0 < until);
        }
        const double gflops = 2e-9 * n * n * n * reps / (now_s() - t0);
        if (trial && gflops > best) best = gflops;
    }
    free(a), free(b), free(c);
    return best;
}

#endif

/* Busy CPU seconds of the whole machine so far (/proc/stat), -1 if unknown. */
static inline double machine_busy_s(void) {
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1.0;
    unsigned long long v[8] = {0};
    const int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                         &v[6], &v[7]);
    fclose(f);
    if (n < 7) return -1.0;
    /* user nice system idle iowait irq softirq steal: all but idle, iowait */
    const unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    return (double)busy / sysconf(_SC_CLK_TCK);
}

static inline double own_cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + 1e-6 * ru.ru_utime.tv_usec + ru.ru_stime.tv_sec + 1e-6 * ru.ru_stime.tv_usec;
}

#endif
