/* cli_args.h — parsing the wmsim command line's values, shared by every
 * command. Each parser returns 0, or -1 when text is not a whole valid
 * value (the caller names the option in its message). */
#ifndef WMSIM_CLI_ARGS_H
#define WMSIM_CLI_ARGS_H

#include <stdint.h>
#include <stdio.h>

#include "sim/camera_feed.h"
#include "sim/policy.h"

/* "wmsim: " + fmt (with arg) on stderr, a blank line, the command's usage
 * (print_usage(stderr)); returns 2, the exit status of bad usage. */
int cli_usage_error(void (*print_usage)(FILE *f), const char *fmt, const char *arg);

/* Whether --help or -h is among the arguments. */
int cli_wants_help(int argc, char **argv);
/* A finite decimal number. */
int cli_parse_double(const char *text, double *out);
/* A decimal integer in [min, max]. */
int cli_parse_long(const char *text, long min, long max, long *out);
/* A non-negative decimal integer up to 2^64 - 1 (seeds). */
int cli_parse_u64(const char *text, uint64_t *out);
/* A training --lr: a rate in (0, 1]. The schedule's floor *lr_min keeps
 * its ratio to the peak *lr, so a smaller peak still makes a schedule. */
int cli_parse_lr(const char *text, float *lr, float *lr_min);
/* "WxH" (or "WXH"), each side in [1, 100000]. */
int cli_parse_size(const char *text, int *w, int *h);

/* An integer option: its name, where its value goes, its range, and (may
 * be NULL) a flag set when it is given. */
typedef struct {
    const char *name;
    int *value;
    long min, max;
    int *given;
} cli_int_option;

/* Takes argv[*i] (and its value) when it is one of opts: 1 taken, 0 not
 * one of them, 2 a bad value (usage error printed, as cli_usage_error). */
int cli_take_int_option(int argc, char **argv, int *i, const cli_int_option *opts, int n,
                        void (*print_usage)(FILE *f));

/* The generative loop's world-model options (--model, --tokenizer,
 * --decode, --decode-steps, --temperature, --guidance, --scene-slots) and
 * an external policy's limits (--policy-timeout, --policy-startup,
 * --policy-max-bytes), shared by `wmsim run` and `wmsim agreement`.
 * cli_take_loop_option takes argv[*i] (and its value) when it is one: 1
 * taken, 0 not one, 2 a bad value (usage error printed). feed->model_path
 * and tokenizer_path default to CLI_DEFAULT_MODEL / CLI_DEFAULT_TOKENIZER
 * through cli_loop_feed_default. CLI_LOOP_USAGE documents them. */
#define CLI_DEFAULT_MODEL "models/dynamics.wmck"
#define CLI_DEFAULT_TOKENIZER "models/tokenizer.wmck"
camera_feed_options cli_loop_feed_default(void);
int cli_take_loop_option(int argc, char **argv, int *i, camera_feed_options *feed, policy_options *limits,
                         void (*print_usage)(FILE *f));
/* The policy limits alone, for commands without a generative loop. */
int cli_take_policy_limit(int argc, char **argv, int *i, policy_options *limits, void (*print_usage)(FILE *f));
extern const char CLI_LOOP_USAGE[];

#endif
