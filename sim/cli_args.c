/* cli_args.c — see cli_args.h. */
#include "sim/cli_args.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int cli_usage_error(void (*print_usage)(FILE *f), const char *fmt, const char *arg) {
    fprintf(stderr, "wmsim: ");
    fprintf(stderr, fmt, arg);
    fputs("\n\n", stderr);
    print_usage(stderr);
    return 2;
}

int cli_wants_help(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
    return 0;
}

int cli_parse_double(const char *text, double *out) {
    char *end;
    *out = strtod(text, &end);
    return end == text || *end || !isfinite(*out) ? -1 : 0;
}

int cli_parse_long(const char *text, long min, long max, long *out) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (end == text || *end || errno || v < min || v > max) return -1;
    *out = v;
    return 0;
}

int cli_parse_u64(const char *text, uint64_t *out) {
    if (!*text || *text == '-') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

int cli_parse_lr(const char *text, float *lr, float *lr_min) {
    double v;
    if (cli_parse_double(text, &v) || !(v > 0 && v <= 1)) return -1;
    *lr_min = (float)(v * (*lr_min / *lr));
    *lr = (float)v;
    return 0;
}

int cli_parse_size(const char *text, int *w, int *h) {
    char *end, *end2;
    long a = strtol(text, &end, 10);
    if (end == text || (*end != 'x' && *end != 'X')) return -1;
    long b = strtol(end + 1, &end2, 10);
    if (end2 == end + 1 || *end2 || a <= 0 || b <= 0 || a > 100000 || b > 100000) return -1;
    *w = (int)a, *h = (int)b;
    return 0;
}

int cli_take_int_option(int argc, char **argv, int *i, const cli_int_option *opts, int n,
                        void (*print_usage)(FILE *f)) {
    if (*i + 1 >= argc) return 0;
    for (int k = 0; k < n; k++) {
        if (strcmp(argv[*i], opts[k].name) != 0) continue;
        const char *v = argv[++*i];
        long x;
        if (cli_parse_long(v, opts[k].min, opts[k].max, &x)) {
            fprintf(stderr, "wmsim: %s: expected an integer in [%ld, %ld], got '%s'\n\n", opts[k].name, opts[k].min,
                    opts[k].max, v);
            print_usage(stderr);
            return 2;
        }
        *opts[k].value = (int)x;
        if (opts[k].given) *opts[k].given = 1;
        return 1;
    }
    return 0;
}
