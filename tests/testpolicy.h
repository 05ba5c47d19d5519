/* testpolicy.h — a test binary as a policy outside wmsim: the protocol's
 * framing (sim/policy_protocol.proto: a 4-byte little-endian length, then
 * the message) on plain file descriptors, with the test's own protobuf-c
 * code, so the suites can start themselves as `exec:SELF --as-policy ...`. */
#ifndef WMSIM_TESTPOLICY_H
#define WMSIM_TESTPOLICY_H

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/check.h"
#include "sim/policy_protocol.pb-c.h"

static inline int tp_read_exact(int fd, uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t k = read(fd, p, n);
        if (k <= 0) return -1;
        p += k, n -= (size_t)k;
    }
    return 0;
}

/* A write that cannot finish ends the policy process (exit 3). */
static inline void tp_write_exact(int fd, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t k = write(fd, b, n);
        if (k <= 0) _exit(3);
        b += k, n -= (size_t)k;
    }
}

static inline void tp_write_u32le(int fd, uint32_t v) {
    uint8_t h[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    tp_write_exact(fd, h, 4);
}

/* The next Observation (free with wmsim__policy__observation__free_unpacked);
 * NULL at the end of the stream, *bad set when it broke mid-message or did
 * not decode. */
static inline Wmsim__Policy__Observation *tp_read_observation(int fd, int *bad) {
    uint8_t h[4];
    *bad = 0;
    if (tp_read_exact(fd, h, 4)) return NULL;
    uint32_t len = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
    uint8_t *buf = MALLOC_CHECK((size_t)len + 1);
    Wmsim__Policy__Observation *o = NULL;
    if (tp_read_exact(fd, buf, len) == 0) o = wmsim__policy__observation__unpack(NULL, len, buf);
    free(buf);
    *bad = o == NULL;
    return o;
}

static inline void tp_send_action(int fd, const Wmsim__Policy__Action *a) {
    size_t len = wmsim__policy__action__get_packed_size(a);
    uint8_t *buf = MALLOC_CHECK(len + 1);
    wmsim__policy__action__pack(a, buf);
    tp_write_u32le(fd, (uint32_t)len);
    tp_write_exact(fd, buf, len);
    free(buf);
}

#endif
