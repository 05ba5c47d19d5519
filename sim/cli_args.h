/* cli_args.h — parsing the wmsim command line's values, shared by every
 * command. Each parser returns 0, or -1 when text is not a whole valid
 * value (the caller names the option in its message). */
#ifndef WMSIM_CLI_ARGS_H
#define WMSIM_CLI_ARGS_H

#include <stdint.h>

/* Whether --help or -h is among the arguments. */
int cli_wants_help(int argc, char **argv);
/* A finite decimal number. */
int cli_parse_double(const char *text, double *out);
/* A decimal integer in [min, max]. */
int cli_parse_long(const char *text, long min, long max, long *out);
/* A non-negative decimal integer up to 2^64 - 1 (seeds). */
int cli_parse_u64(const char *text, uint64_t *out);
/* "WxH" (or "WXH"), each side in [1, 100000]. */
int cli_parse_size(const char *text, int *w, int *h);

#endif
