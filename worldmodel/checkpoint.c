/* checkpoint.c — the checkpoint container (worldmodel/FORMAT.md).
 *
 * Every multi-byte field is encoded and decoded byte by byte as little-endian,
 * so files are the same on every host. Reading makes two passes: the first
 * validates the header, the table, the length and the checksum without
 * touching the caller's buffers; the second copies the tensor data. */
#include "worldmodel/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/check.h"
#include "core/fileio.h"

#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME UINT64_C(0x100000001b3)
#define CHUNK_FLOATS 16384          /* 64 KiB of tensor data per read or write */
#define HASH_BUFFER_BYTES (1 << 20) /* the checksum pass reads 1 MiB at a time */

/* Table-entry fields, as byte offsets within an entry. */
#define ENTRY_NAME 0
#define ENTRY_RANK 64
#define ENTRY_DIMS 68
#define ENTRY_RESERVED 84
#define ENTRY_COUNT 88

/* Header slots. */
#define SLOT_MAGIC 0
#define SLOT_VERSION 1
#define SLOT_MODEL_TYPE 2
#define SLOT_N_TENSORS 3
#define SLOT_DTYPE 4
#define SLOT_PADDING_FIRST (CKPT_CONFIG_FIRST_SLOT + CKPT_CONFIG_SLOTS) /* 64 */

_Static_assert(SLOT_PADDING_FIRST == 64, "config slots are 5..63");
_Static_assert(ENTRY_COUNT + 8 == CKPT_ENTRY_BYTES, "table entry layout");
_Static_assert(sizeof(float) == 4, "fp32 floats");

/* FNV-1a 64, continued from h: hash_fnv1a64(p, n) == fnv_update(FNV_OFFSET, p, n). */
static uint64_t fnv_update(uint64_t h, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * FNV_PRIME;
    return h;
}

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}
static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void put_i32(uint8_t *p, int32_t v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    put_u32(p, u);
}
static int32_t get_i32(const uint8_t *p) {
    uint32_t u = get_u32(p);
    int32_t v;
    memcpy(&v, &u, 4);
    return v;
}
static void put_u64(uint8_t *p, uint64_t v) {
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}
static uint64_t get_u64(const uint8_t *p) { return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32; }

static void floats_encode(uint8_t *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &src[i], 4);
        put_u32(dst + 4 * i, u);
    }
}
static void floats_decode(float *dst, const uint8_t *src, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u = get_u32(src + 4 * i);
        memcpy(&dst[i], &u, 4);
    }
}

const char *ckpt_model_type_name(int32_t model_type) {
    switch (model_type) {
    case CKPT_MODEL_TOKENIZER: return "tokenizer";
    case CKPT_MODEL_DYNAMICS: return "dynamics";
    case CKPT_MODEL_ESTIMATOR: return "estimator";
    case CKPT_MODEL_VLA: return "vla";
    default: return "unknown";
    }
}

const char *ckpt_kind_name(int32_t kind) {
    switch (kind) {
    case CKPT_KIND_MODEL: return "model checkpoint";
    case CKPT_KIND_TRAIN_STATE: return "training-state file";
    default: return "unknown";
    }
}

size_t ckpt_tensor_floats(const ckpt_tensor *t) {
    size_t n = 1;
    for (int d = 0; d < t->rank && d < CKPT_MAX_DIMS; d++) n *= (size_t)(t->dims[d] > 0 ? t->dims[d] : 0);
    return n;
}

size_t ckpt_tensors_layout(ckpt_tensor *t, int n, float *block) {
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        t[i].data = block + off;
        off += ckpt_tensor_floats(&t[i]);
    }
    return off;
}

/* "64x32x3x3"; the shape must be valid (rank 1..4). */
static const char *shape_str(char buf[64], int rank, const int *dims) {
    size_t used = 0;
    buf[0] = '\0';
    for (int d = 0; d < rank && d < CKPT_MAX_DIMS; d++)
        used += (size_t)snprintf(buf + used, 64 - used, d ? "x%d" : "%d", dims[d]);
    return buf;
}

/* Why a name (at most cap bytes, NUL-terminated within them) is unusable,
 * or NULL. */
static const char *name_problem(const char *name, size_t cap, int *bad_byte) {
    size_t len = strnlen(name, cap);
    if (len == 0) return "empty name";
    if (len == cap) return "name not NUL-terminated within 64 bytes";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x21 || c > 0x7e) {
            *bad_byte = c;
            return "name has a byte outside printable ASCII";
        }
    }
    return NULL;
}

/* Floats in a shape, or 0 when it is invalid or over the file limit
 * (*why says which). Never overflows: each step is bounded by the limit. */
static uint64_t shape_floats(int rank, const int *dims, const char **why, int *bad_dim) {
    *why = NULL;
    if (rank < 1 || rank > CKPT_MAX_DIMS) {
        *why = "rank";
        return 0;
    }
    uint64_t n = 1;
    const uint64_t max_floats = CKPT_MAX_FILE_BYTES / 4;
    for (int d = 0; d < rank; d++) {
        if (dims[d] < 1) {
            *why = "dim";
            *bad_dim = d;
            return 0;
        }
        if (n > max_floats / (uint64_t)dims[d]) {
            *why = "limit";
            return 0;
        }
        n *= (uint64_t)dims[d];
    }
    return n;
}

/* Checks a caller's tensor (to write, or expected by a read); what says
 * which ("tensor" or "expected tensor"). */
static int tensor_check(const char *path, const char *what, int i, const ckpt_tensor *t, uint64_t *floats,
                        wm_error *err) {
    int bad_byte = 0, bad_dim = 0;
    const char *problem = name_problem(t->name, CKPT_NAME_LEN, &bad_byte);
    if (problem && bad_byte) return wm_fail(err, "%s: %s %d: %s (0x%02x)", path, what, i, problem, bad_byte);
    if (problem) return wm_fail(err, "%s: %s %d: %s", path, what, i, problem);
    const char *why;
    *floats = shape_floats(t->rank, t->dims, &why, &bad_dim);
    if (why && !strcmp(why, "rank"))
        return wm_fail(err, "%s: %s %d '%s': rank %d (must be 1..%d)", path, what, i, t->name, t->rank,
                       CKPT_MAX_DIMS);
    if (why && !strcmp(why, "dim"))
        return wm_fail(err, "%s: %s %d '%s': dimension %d is %d (must be >= 1)", path, what, i, t->name, bad_dim,
                       t->dims[bad_dim]);
    char shape[64];
    if (why)
        return wm_fail(err, "%s: %s %d '%s': shape %s is over the %" PRIu64 "-byte checkpoint limit", path, what,
                       i, t->name, shape_str(shape, t->rank, t->dims), CKPT_MAX_FILE_BYTES);
    if (!t->data) return wm_fail(err, "%s: %s %d '%s': no data pointer", path, what, i, t->name);
    return 0;
}

static int cmp_tensor_names(const void *a, const void *b) {
    return strcmp((*(const ckpt_tensor *const *)a)->name, (*(const ckpt_tensor *const *)b)->name);
}

/* fwrite that also hashes what it writes. */
static int write_hashed(atomic_file *af, const void *p, size_t n, uint64_t *h) {
    *h = fnv_update(*h, p, n);
    return n && fwrite(p, 1, n, af->f) != n ? -1 : 0;
}

int ckpt_write(const char *path, int32_t kind, int32_t model_type, const int32_t config[CKPT_CONFIG_SLOTS],
               const ckpt_tensor *t, int n, uint64_t *checksum, wm_error *err) {
    if (kind != CKPT_KIND_MODEL && kind != CKPT_KIND_TRAIN_STATE)
        return wm_fail(err, "%s: kind %d is not a checkpoint kind (%d model, %d training state)", path, kind,
                       CKPT_KIND_MODEL, CKPT_KIND_TRAIN_STATE);
    if (model_type < 1) return wm_fail(err, "%s: model type %d (must be >= 1)", path, model_type);
    if (n < 0 || n > CKPT_MAX_TENSORS || (n > 0 && !t))
        return wm_fail(err, "%s: %d tensors (must be 0..%d)", path, n, CKPT_MAX_TENSORS);
    uint64_t total = CKPT_HEADER_BYTES + (uint64_t)n * CKPT_ENTRY_BYTES + CKPT_TRAILER_BYTES;
    for (int i = 0; i < n; i++) {
        uint64_t floats = 0;
        if (tensor_check(path, "tensor", i, &t[i], &floats, err)) return -1;
        total += 4 * floats; /* each term is under the limit: no overflow */
        if (total > CKPT_MAX_FILE_BYTES)
            return wm_fail(err, "%s: the tensors need more than the %" PRIu64 "-byte checkpoint limit", path,
                           CKPT_MAX_FILE_BYTES);
    }
    if (n > 1) {
        const ckpt_tensor **sorted = CALLOC_CHECK((size_t)n, sizeof *sorted);
        for (int i = 0; i < n; i++) sorted[i] = &t[i];
        qsort(sorted, (size_t)n, sizeof *sorted, cmp_tensor_names);
        for (int i = 1; i < n; i++) {
            if (strcmp(sorted[i - 1]->name, sorted[i]->name)) continue;
            int a = (int)(sorted[i - 1] - t), b = (int)(sorted[i] - t);
            wm_fail(err, "%s: tensors %d and %d are both named '%s'", path, a < b ? a : b, a < b ? b : a,
                    sorted[i]->name);
            free(sorted);
            return -1;
        }
        free(sorted);
    }

    uint8_t header[CKPT_HEADER_BYTES] = {0};
    put_i32(header + 4 * SLOT_MAGIC, kind);
    put_i32(header + 4 * SLOT_VERSION, CKPT_VERSION);
    put_i32(header + 4 * SLOT_MODEL_TYPE, model_type);
    put_i32(header + 4 * SLOT_N_TENSORS, n);
    put_i32(header + 4 * SLOT_DTYPE, CKPT_DTYPE_F32);
    for (int i = 0; config && i < CKPT_CONFIG_SLOTS; i++) put_i32(header + 4 * (CKPT_CONFIG_FIRST_SLOT + i), config[i]);

    uint8_t *table = CALLOC_CHECK((size_t)n + 1, CKPT_ENTRY_BYTES);
    for (int i = 0; i < n; i++) {
        uint8_t *e = table + (size_t)i * CKPT_ENTRY_BYTES;
        memcpy(e + ENTRY_NAME, t[i].name, strlen(t[i].name)); /* the rest stays zero */
        put_i32(e + ENTRY_RANK, t[i].rank);
        for (int d = 0; d < t[i].rank; d++) put_i32(e + ENTRY_DIMS + 4 * d, t[i].dims[d]);
        put_u64(e + ENTRY_COUNT, (uint64_t)ckpt_tensor_floats(&t[i]));
    }

    atomic_file af;
    if (atomic_file_open(&af, path, err)) {
        free(table);
        return -1;
    }
    uint64_t h = FNV_OFFSET;
    uint8_t *chunk = MALLOC_CHECK((size_t)CHUNK_FLOATS * 4);
    int failed = write_hashed(&af, header, sizeof header, &h) ||
                 write_hashed(&af, table, (size_t)n * CKPT_ENTRY_BYTES, &h);
    for (int i = 0; i < n && !failed; i++) {
        size_t count = ckpt_tensor_floats(&t[i]);
        for (size_t off = 0; off < count && !failed; off += CHUNK_FLOATS) {
            size_t k = count - off < CHUNK_FLOATS ? count - off : CHUNK_FLOATS;
            floats_encode(chunk, t[i].data + off, k);
            failed = write_hashed(&af, chunk, 4 * k, &h);
        }
    }
    uint8_t trailer[CKPT_TRAILER_BYTES];
    put_u64(trailer, h);
    put_u64(trailer + 8, total);
    if (!failed) failed = fwrite(trailer, 1, sizeof trailer, af.f) != sizeof trailer;
    int saved_errno = errno;
    free(chunk);
    free(table);
    if (failed) {
        atomic_file_abort(&af);
        return wm_fail(err, "%s: write failed: %s", path, strerror(saved_errno));
    }
    if (atomic_file_commit(&af, err)) return -1;
    if (checksum) *checksum = h;
    return 0;
}

void ckpt_config_put_u64(int32_t *config, int slot, uint64_t value) {
    uint32_t lo = (uint32_t)value, hi = (uint32_t)(value >> 32);
    memcpy(&config[slot], &lo, 4);
    memcpy(&config[slot + 1], &hi, 4);
}

uint64_t ckpt_config_get_u64(const int32_t *config, int slot) {
    uint32_t lo, hi;
    memcpy(&lo, &config[slot], 4);
    memcpy(&hi, &config[slot + 1], 4);
    return (uint64_t)hi << 32 | lo;
}

void ckpt_config_put_rng(int32_t *config, int slot, const wm_rng *rng) {
    for (int i = 0; i < 4; i++) ckpt_config_put_u64(config, slot + 2 * i, rng->s[i]);
}

void ckpt_config_get_rng(const int32_t *config, int slot, wm_rng *rng) {
    for (int i = 0; i < 4; i++) rng->s[i] = ckpt_config_get_u64(config, slot + 2 * i);
}

void ckpt_train_progress_put(int32_t config[CKPT_CONFIG_SLOTS], const ckpt_train_progress *p) {
    ckpt_config_put_u64(config, CKPT_TRAIN_SLOT_STEP, p->step);
    ckpt_config_put_u64(config, CKPT_TRAIN_SLOT_EPOCH, p->epoch);
    ckpt_config_put_u64(config, CKPT_TRAIN_SLOT_POSITION, p->position);
    ckpt_config_put_rng(config, CKPT_TRAIN_SLOT_RNG, &p->rng);
    ckpt_config_put_u64(config, CKPT_TRAIN_SLOT_MODEL_CHECKSUM, p->model_checksum);
    memcpy(config + CKPT_TRAIN_SLOT_FREE, p->own, sizeof p->own);
}

void ckpt_train_progress_get(const int32_t config[CKPT_CONFIG_SLOTS], ckpt_train_progress *p) {
    p->step = ckpt_config_get_u64(config, CKPT_TRAIN_SLOT_STEP);
    p->epoch = ckpt_config_get_u64(config, CKPT_TRAIN_SLOT_EPOCH);
    p->position = ckpt_config_get_u64(config, CKPT_TRAIN_SLOT_POSITION);
    ckpt_config_get_rng(config, CKPT_TRAIN_SLOT_RNG, &p->rng);
    memcpy(p->own, config + CKPT_TRAIN_SLOT_FREE, sizeof p->own);
    p->model_checksum = ckpt_config_get_u64(config, CKPT_TRAIN_SLOT_MODEL_CHECKSUM);
}

/* ---- reading ---- */

/* An open, validated file. */
typedef struct {
    FILE *f;
    uint64_t len;
    int32_t slot[CKPT_HEADER_SLOTS];
    int n;
    ckpt_tensor *tensors; /* the table, data NULL */
    uint64_t data_offset;
    uint64_t checksum;
} ckpt_file;

static void ckpt_file_close(ckpt_file *cf) {
    if (cf->f) fclose(cf->f);
    free(cf->tensors);
    memset(cf, 0, sizeof *cf);
}

static int seek_to(ckpt_file *cf, const char *path, uint64_t off, wm_error *err) {
    if (fseeko(cf->f, (off_t)off, SEEK_SET) != 0)
        return wm_fail(err, "%s: cannot seek to byte %" PRIu64 ": %s", path, off, strerror(errno));
    return 0;
}

/* Reads the next n bytes (off is where they start, for the message); errors
 * say whether the disk failed or the file shrank under us. */
static int read_next(ckpt_file *cf, const char *path, uint64_t off, void *buf, size_t n, wm_error *err) {
    if (fread(buf, 1, n, cf->f) != n) {
        if (ferror(cf->f)) return wm_fail(err, "%s: read error: %s", path, strerror(errno));
        return wm_fail(err, "%s: file shrank while reading (short read at byte %" PRIu64 ")", path, off);
    }
    return 0;
}

static int read_at(ckpt_file *cf, const char *path, uint64_t off, void *buf, size_t n, wm_error *err) {
    return seek_to(cf, path, off, err) || read_next(cf, path, off, buf, n, err) ? -1 : 0;
}

static int magic_error(const char *path, int32_t magic, int32_t kind, wm_error *err) {
    int known = magic == CKPT_KIND_MODEL || magic == CKPT_KIND_TRAIN_STATE;
    if (kind && known)
        return wm_fail(err, "%s: not a %s (magic %d, expected %d): this is a %s; pass the %s", path,
                       ckpt_kind_name(kind), magic, kind, ckpt_kind_name(magic), ckpt_kind_name(kind));
    uint32_t u;
    memcpy(&u, &magic, 4);
    if (kind)
        return wm_fail(err, "%s: not a wmsim checkpoint (magic 0x%08" PRIx32 ", expected %d)", path, u, kind);
    return wm_fail(err, "%s: not a wmsim checkpoint (magic 0x%08" PRIx32 ", expected %d or %d)", path, u,
                   CKPT_KIND_MODEL, CKPT_KIND_TRAIN_STATE);
}

/* The checksum of bytes [0, end). */
static int hash_file(ckpt_file *cf, const char *path, uint64_t end, uint64_t *h, wm_error *err) {
    uint8_t *buf = MALLOC_CHECK(HASH_BUFFER_BYTES);
    *h = FNV_OFFSET;
    if (seek_to(cf, path, 0, err)) {
        free(buf);
        return -1;
    }
    for (uint64_t off = 0; off < end;) {
        size_t k = end - off < HASH_BUFFER_BYTES ? (size_t)(end - off) : HASH_BUFFER_BYTES;
        if (read_next(cf, path, off, buf, k, err)) {
            free(buf);
            return -1;
        }
        *h = fnv_update(*h, buf, k);
        off += k;
    }
    free(buf);
    return 0;
}

/* Parses table entry i into t; the message names what is wrong. */
static int entry_parse(const char *path, int i, const uint8_t *e, ckpt_tensor *t, uint64_t *floats, wm_error *err) {
    memcpy(t->name, e + ENTRY_NAME, CKPT_NAME_LEN);
    int bad_byte = 0, bad_dim = 0;
    const char *problem = name_problem(t->name, CKPT_NAME_LEN, &bad_byte);
    if (problem && bad_byte)
        return wm_fail(err, "%s: tensor %d: %s (0x%02x; file corrupt)", path, i, problem, bad_byte);
    if (problem) return wm_fail(err, "%s: tensor %d: %s (file corrupt)", path, i, problem);
    for (size_t k = strlen(t->name); k < CKPT_NAME_LEN; k++)
        if (t->name[k])
            return wm_fail(err, "%s: tensor %d '%s': name padding is not zero (file corrupt)", path, i, t->name);
    t->rank = get_i32(e + ENTRY_RANK);
    for (int d = 0; d < CKPT_MAX_DIMS; d++) t->dims[d] = get_i32(e + ENTRY_DIMS + 4 * d);
    const char *why;
    *floats = shape_floats(t->rank, t->dims, &why, &bad_dim);
    if (why && !strcmp(why, "rank"))
        return wm_fail(err, "%s: tensor %d '%s': rank %d (must be 1..%d; file corrupt)", path, i, t->name, t->rank,
                       CKPT_MAX_DIMS);
    if (why && !strcmp(why, "dim"))
        return wm_fail(err, "%s: tensor %d '%s': dimension %d is %d (file corrupt)", path, i, t->name, bad_dim,
                       t->dims[bad_dim]);
    char shape[64];
    if (why)
        return wm_fail(err, "%s: tensor %d '%s': shape %s is over the checkpoint limit (file corrupt)", path, i,
                       t->name, shape_str(shape, t->rank, t->dims));
    for (int d = t->rank; d < CKPT_MAX_DIMS; d++)
        if (t->dims[d])
            return wm_fail(err, "%s: tensor %d '%s': unused dimension %d is %d, not 0 (file corrupt)", path, i,
                           t->name, d, t->dims[d]);
    int32_t reserved = get_i32(e + ENTRY_RESERVED);
    if (reserved)
        return wm_fail(err, "%s: tensor %d '%s': reserved field is %d, not 0 (file corrupt)", path, i, t->name,
                       reserved);
    uint64_t count = get_u64(e + ENTRY_COUNT);
    if (count != *floats)
        return wm_fail(err, "%s: tensor %d '%s': float count %" PRIu64 ", but shape %s has %" PRIu64
                       " (file corrupt)", path, i, t->name, count, shape_str(shape, t->rank, t->dims), *floats);
    return 0;
}

/* Opens and validates PATH: everything but the caller's expected tensors. */
static int ckpt_file_open(const char *path, int32_t kind, int32_t model_type, ckpt_file *cf, wm_error *err) {
    memset(cf, 0, sizeof *cf);
    /* O_NONBLOCK: a FIFO without a writer is refused below, not waited on. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return wm_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return wm_fail(err, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        if (S_ISDIR(st.st_mode)) return wm_fail(err, "%s: is a directory, not a checkpoint file", path);
        return wm_fail(err, "%s: not a regular file", path);
    }
    cf->f = fdopen(fd, "rb");
    if (!cf->f) {
        int e = errno;
        close(fd);
        return wm_fail(err, "%s: cannot open: %s", path, strerror(e));
    }
    cf->len = (uint64_t)st.st_size;
    if (cf->len > CKPT_MAX_FILE_BYTES) {
        wm_fail(err, "%s: %" PRIu64 " bytes is over the %" PRIu64 "-byte checkpoint limit", path, cf->len,
                CKPT_MAX_FILE_BYTES);
        goto fail;
    }

    /* Header: the magic first, so a foreign file is named as such even when short. */
    uint8_t header[CKPT_HEADER_BYTES];
    size_t have = cf->len < CKPT_HEADER_BYTES ? (size_t)cf->len : CKPT_HEADER_BYTES;
    if (read_at(cf, path, 0, header, have, err)) goto fail;
    if (have >= 4) {
        int32_t magic = get_i32(header);
        int known = magic == CKPT_KIND_MODEL || magic == CKPT_KIND_TRAIN_STATE;
        if (kind ? magic != kind : !known) {
            magic_error(path, magic, kind, err);
            goto fail;
        }
    }
    if (have < CKPT_HEADER_BYTES) {
        wm_fail(err, "%s: truncated: %" PRIu64 " bytes, the header needs %d", path, cf->len, CKPT_HEADER_BYTES);
        goto fail;
    }
    for (int i = 0; i < CKPT_HEADER_SLOTS; i++) cf->slot[i] = get_i32(header + 4 * i);
    int32_t version = cf->slot[SLOT_VERSION];
    if (version > CKPT_VERSION) {
        wm_fail(err, "%s: format version %d is newer than this wmsim reads (%d)", path, version, CKPT_VERSION);
        goto fail;
    }
    if (version < 1) {
        wm_fail(err, "%s: format version %d is not valid (file corrupt)", path, version);
        goto fail;
    }

    /* The checksum before any other field, so corruption anywhere past the
     * version reads as corruption. It is only found where the trailer's
     * length matches the file; otherwise the size checks below say why. */
    int trailer_ok = 0;
    uint64_t trailer_len = 0;
    if (cf->len >= CKPT_HEADER_BYTES + CKPT_TRAILER_BYTES) {
        uint8_t trailer[CKPT_TRAILER_BYTES];
        if (read_at(cf, path, cf->len - CKPT_TRAILER_BYTES, trailer, sizeof trailer, err)) goto fail;
        trailer_len = get_u64(trailer + 8);
        if (trailer_len == cf->len) {
            uint64_t h;
            if (hash_file(cf, path, cf->len - CKPT_TRAILER_BYTES, &h, err)) goto fail;
            if (h != get_u64(trailer)) {
                wm_fail(err, "%s: checksum mismatch (file corrupt)", path);
                goto fail;
            }
            cf->checksum = h;
            trailer_ok = 1;
        }
    }

    int32_t mt = cf->slot[SLOT_MODEL_TYPE];
    if (mt < 1) {
        wm_fail(err, "%s: model type %d is not valid (file corrupt)", path, mt);
        goto fail;
    }
    if (model_type && mt != model_type) {
        wm_fail(err, "%s: model type %d (%s), expected %d (%s)", path, mt, ckpt_model_type_name(mt), model_type,
                ckpt_model_type_name(model_type));
        goto fail;
    }
    int32_t dtype = cf->slot[SLOT_DTYPE];
    if (dtype == CKPT_DTYPE_BF16) {
        wm_fail(err, "%s: dtype %d (bf16) is not supported by this wmsim (it reads fp32, dtype 0)", path, dtype);
        goto fail;
    }
    if (dtype != CKPT_DTYPE_F32) {
        wm_fail(err, "%s: dtype %d is not valid (file corrupt)", path, dtype);
        goto fail;
    }
    int32_t n = cf->slot[SLOT_N_TENSORS];
    if (n < 0 || n > CKPT_MAX_TENSORS) {
        wm_fail(err, "%s: %d tensors (must be 0..%d; file corrupt)", path, n, CKPT_MAX_TENSORS);
        goto fail;
    }
    for (int i = SLOT_PADDING_FIRST; i < CKPT_HEADER_SLOTS; i++) {
        if (cf->slot[i]) {
            wm_fail(err, "%s: header slot %d is %d, not 0 (file corrupt)", path, i, cf->slot[i]);
            goto fail;
        }
    }

    /* The table, then the size it implies. */
    uint64_t table_bytes = (uint64_t)n * CKPT_ENTRY_BYTES;
    if (cf->len < CKPT_HEADER_BYTES + table_bytes) {
        wm_fail(err, "%s: truncated: %" PRIu64 " bytes, the header and tensor table need %" PRIu64, path, cf->len,
                CKPT_HEADER_BYTES + table_bytes);
        goto fail;
    }
    uint8_t *table = MALLOC_CHECK((size_t)table_bytes + 1);
    if (read_at(cf, path, CKPT_HEADER_BYTES, table, (size_t)table_bytes, err)) {
        free(table);
        goto fail;
    }
    cf->n = n;
    cf->tensors = CALLOC_CHECK((size_t)n + 1, sizeof *cf->tensors);
    uint64_t data_bytes = 0; /* at most 16384 tensors of under 2^36 bytes: no overflow */
    for (int i = 0; i < n; i++) {
        uint64_t floats = 0;
        if (entry_parse(path, i, table + (size_t)i * CKPT_ENTRY_BYTES, &cf->tensors[i], &floats, err)) {
            free(table);
            goto fail;
        }
        data_bytes += 4 * floats;
    }
    free(table);
    cf->data_offset = CKPT_HEADER_BYTES + table_bytes;
    uint64_t total = cf->data_offset + data_bytes + CKPT_TRAILER_BYTES;
    if (cf->len < total) {
        wm_fail(err, "%s: truncated: %" PRIu64 " bytes, the tensor table says %" PRIu64, path, cf->len, total);
        goto fail;
    }
    if (cf->len > total) {
        wm_fail(err, "%s: %" PRIu64 " bytes, the tensor table says %" PRIu64 " (trailing bytes; file corrupt)", path,
                cf->len, total);
        goto fail;
    }
    if (!trailer_ok) {
        wm_fail(err, "%s: the trailer says %" PRIu64 " bytes, the file has %" PRIu64 " (file corrupt)", path,
                trailer_len, cf->len);
        goto fail;
    }
    return 0;
fail:
    ckpt_file_close(cf);
    return -1;
}

int ckpt_inspect(const char *path, int32_t kind, int32_t model_type, ckpt_info *info, wm_error *err) {
    memset(info, 0, sizeof *info);
    ckpt_file cf;
    if (ckpt_file_open(path, kind, model_type, &cf, err)) return -1;
    info->kind = cf.slot[SLOT_MAGIC];
    info->version = cf.slot[SLOT_VERSION];
    info->model_type = cf.slot[SLOT_MODEL_TYPE];
    info->dtype = cf.slot[SLOT_DTYPE];
    memcpy(info->config, &cf.slot[CKPT_CONFIG_FIRST_SLOT], sizeof info->config);
    info->n_tensors = cf.n;
    info->tensors = cf.tensors;
    info->file_bytes = cf.len;
    info->checksum = cf.checksum;
    cf.tensors = NULL;
    ckpt_file_close(&cf);
    return 0;
}

void ckpt_info_free(ckpt_info *info) {
    free(info->tensors);
    memset(info, 0, sizeof *info);
}

/* The first difference between the file's table and the caller's. */
static int compare_tensors(const char *path, const ckpt_file *cf, const ckpt_tensor *expected, int n,
                           wm_error *err) {
    int shared = cf->n < n ? cf->n : n;
    char s1[64], s2[64];
    for (int i = 0; i < shared; i++) {
        const ckpt_tensor *a = &cf->tensors[i], *b = &expected[i];
        int same = !strcmp(a->name, b->name) && a->rank == b->rank;
        for (int d = 0; same && d < a->rank; d++) same = a->dims[d] == b->dims[d];
        if (!same)
            return wm_fail(err, "%s: tensor %d is '%s' (%s), expected '%s' (%s)", path, i, a->name,
                           shape_str(s1, a->rank, a->dims), b->name, shape_str(s2, b->rank, b->dims));
    }
    if (cf->n < n)
        return wm_fail(err, "%s: %d tensors, expected %d (the first missing is tensor %d '%s' (%s))", path, cf->n,
                       n, cf->n, expected[cf->n].name, shape_str(s1, expected[cf->n].rank, expected[cf->n].dims));
    if (cf->n > n)
        return wm_fail(err, "%s: %d tensors, expected %d (the first extra is tensor %d '%s' (%s))", path, cf->n, n,
                       n, cf->tensors[n].name, shape_str(s1, cf->tensors[n].rank, cf->tensors[n].dims));
    return 0;
}

int ckpt_read(const char *path, int32_t kind, int32_t model_type, const ckpt_tensor *expected, int n,
              int32_t config[CKPT_CONFIG_SLOTS], wm_error *err) {
    if (n < 0 || n > CKPT_MAX_TENSORS || (n > 0 && !expected))
        return wm_fail(err, "%s: %d expected tensors (must be 0..%d)", path, n, CKPT_MAX_TENSORS);
    for (int i = 0; i < n; i++) {
        uint64_t floats = 0;
        if (tensor_check(path, "expected tensor", i, &expected[i], &floats, err)) return -1;
    }
    ckpt_file cf;
    if (ckpt_file_open(path, kind, model_type, &cf, err)) return -1;
    if (compare_tensors(path, &cf, expected, n, err)) {
        ckpt_file_close(&cf);
        return -1;
    }
    /* Validated: now the copy. */
    uint8_t *chunk = MALLOC_CHECK((size_t)CHUNK_FLOATS * 4);
    uint64_t off = cf.data_offset;
    int failed = seek_to(&cf, path, off, err);
    for (int i = 0; i < n && !failed; i++) {
        size_t count = ckpt_tensor_floats(&expected[i]);
        for (size_t done = 0; done < count && !failed;) {
            size_t k = count - done < CHUNK_FLOATS ? count - done : CHUNK_FLOATS;
            failed = read_next(&cf, path, off, chunk, 4 * k, err);
            if (!failed) floats_decode(expected[i].data + done, chunk, k);
            done += k;
            off += 4 * k;
        }
    }
    free(chunk);
    if (failed) {
        ckpt_file_close(&cf);
        return -1;
    }
    if (config) memcpy(config, &cf.slot[CKPT_CONFIG_FIRST_SLOT], CKPT_CONFIG_SLOTS * sizeof *config);
    ckpt_file_close(&cf);
    return 0;
}
