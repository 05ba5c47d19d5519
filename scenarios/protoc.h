/* protoc.h — protobuf text format through the real protoc, both ways.
 *
 * Usage:
 *     protoc_schema s = {"scenario.proto", scenario_proto_text, "wmsim.Scenario"};
 *     uint8_t *pb; size_t n;
 *     if (protoc_encode_file(&s, "guard.pbtxt", 16 << 20, &pb, &n, &err)) ...   // "guard.pbtxt:12:7: reason"
 *     char *text;
 *     if (protoc_decode(&s, "out/x.pb", pb, n, &text, &err)) ...              // text, for writing .pbtxt
 *
 * protoc is the reference implementation of the text format, so authors get
 * its exact grammar and its line:column errors, and what wmsim writes reads
 * back everywhere. The schema travels inside the binary (the Makefile turns
 * each .proto into a NAME_proto_text string), so this works from any working
 * directory. WMSIM_PROTOC names another protoc. */
#ifndef WMSIM_PROTOC_H
#define WMSIM_PROTOC_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct protoc_schema {
    const char *file_name; /* "scenario.proto": what the schema is called in protoc's messages */
    const char *text;      /* the .proto itself */
    const char *type;      /* the message, "wmsim.Scenario" */
} protoc_schema;

/* PATH (text format) → binary in *out (malloc'ed). Errors name PATH:
 *     PATH: cannot open: No such file or directory
 *     PATH: is a directory
 *     PATH: file larger than the N-byte limit
 *     PATH:LINE:COL: protoc's reason                (one line per problem)
 *     PATH: cannot encode text format: protoc not found on PATH (...) */
int protoc_encode_file(const protoc_schema *s, const char *path, size_t max, uint8_t **out, size_t *out_len,
                       wm_error *err);

/* Binary → text format in *text (malloc'ed, NUL-terminated); name is used
 * in messages. */
int protoc_decode(const protoc_schema *s, const char *name, const uint8_t *pb, size_t len, char **text,
                  wm_error *err);

#endif
