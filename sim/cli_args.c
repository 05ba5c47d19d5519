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

camera_feed_options cli_loop_feed_default(void) {
    camera_feed_options o = camera_feed_options_default();
    o.model_path = CLI_DEFAULT_MODEL, o.tokenizer_path = CLI_DEFAULT_TOKENIZER;
    return o;
}

const char CLI_LOOP_USAGE[] =
    "world model (the generative loop):\n"
    "  --model M.wmck       the dynamics model (default " CLI_DEFAULT_MODEL ")\n"
    "  --tokenizer T.wmck   its tokenizer (default " CLI_DEFAULT_TOKENIZER ")\n"
    "  --decode ar|parallel token by token, or a frame in --decode-steps passes (default parallel, 8)\n"
    "  --temperature X      sampling temperature, 0: greedy (default 1)\n"
    "  --guidance W         classifier-free guidance on the actions (default 1: none)\n"
    "  --scene-slots on|off condition on the scene's actors (default on when the model has slots)\n"
    "policy limits (exec: and unix:):\n"
    "  --policy-timeout S   seconds an Action may take (default 5)\n"
    "  --policy-startup S   seconds the first Action of a process may take (default 30)\n"
    "  --policy-max-bytes N an Action's largest size (default 1048576)\n";

int cli_take_policy_limit(int argc, char **argv, int *i, policy_options *limits, void (*print_usage)(FILE *f)) {
    if (*i + 1 >= argc) return 0;
    const char *a = argv[*i], *v = argv[*i + 1];
    double x;
    long n;
    if (strcmp(a, "--policy-max-bytes") == 0) {
        if (cli_parse_long(v, 0, 1L << 40, &n))
            return cli_usage_error(print_usage, "--policy-max-bytes: not a byte count: '%s'", v);
        limits->max_message_bytes = (size_t)n;
    } else if (strcmp(a, "--policy-timeout") == 0 || strcmp(a, "--policy-startup") == 0) {
        if (cli_parse_double(v, &x)) {
            char what[64];
            snprintf(what, sizeof what, "%s: not a number: '%%s'", a);
            return cli_usage_error(print_usage, what, v);
        }
        if (strcmp(a, "--policy-timeout") == 0) limits->step_timeout_s = x;
        else limits->startup_timeout_s = x;
    } else return 0;
    ++*i;
    return 1;
}

int cli_take_loop_option(int argc, char **argv, int *i, camera_feed_options *feed, policy_options *limits,
                         void (*print_usage)(FILE *f)) {
    int taken = cli_take_policy_limit(argc, argv, i, limits, print_usage);
    if (taken || *i + 1 >= argc) return taken;
    const char *a = argv[*i], *v = argv[*i + 1];
    double x;
    long n;
    if (strcmp(a, "--model") == 0) feed->model_path = v;
    else if (strcmp(a, "--tokenizer") == 0) feed->tokenizer_path = v;
    else if (strcmp(a, "--decode") == 0) {
        if (rollout_mode_parse(v, &feed->rp.mode))
            return cli_usage_error(print_usage, "--decode: expected ar or parallel, got '%s'", v);
    } else if (strcmp(a, "--decode-steps") == 0) {
        if (cli_parse_long(v, 1, 100000, &n))
            return cli_usage_error(print_usage, "--decode-steps: expected an integer >= 1, got '%s'", v);
        feed->rp.steps = (int)n;
    } else if (strcmp(a, "--scene-slots") == 0) {
        if (strcmp(v, "on") && strcmp(v, "off"))
            return cli_usage_error(print_usage, "--scene-slots: expected on or off, got '%s'", v);
        feed->scene_slots = strcmp(v, "on") == 0;
    } else if (strcmp(a, "--temperature") == 0 || strcmp(a, "--guidance") == 0) {
        if (cli_parse_double(v, &x)) {
            char what[64];
            snprintf(what, sizeof what, "%s: not a number: '%%s'", a);
            return cli_usage_error(print_usage, what, v);
        }
        if (strcmp(a, "--temperature") == 0) feed->rp.temperature = (float)x;
        else feed->rp.guidance = (float)x;
    } else return 0;
    ++*i;
    return 1;
}
