/* test_checkpoint.c — the checkpoint container (worldmodel/checkpoint.h):
 * round trips, the documented byte layout (worldmodel/FORMAT.md), every
 * error message, and that no input — truncated, flipped, fuzzed, not a
 * file — crashes the reader or touches the caller's buffers. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/resource.h>

#include "core/error.h"
#include "core/fileio.h"
#include "core/rng.h"
#include "testutil.h"
#include "worldmodel/checkpoint.h"

#define SENTINEL 12345.0f

/* The standard test model: four tensors, 576 floats, a 3728-byte file. */
#define STD_N 4
#define STD_FLOATS 576
#define STD_BYTES (1024 + STD_N * 96 + STD_FLOATS * 4 + 16)

static void std_tensors(ckpt_tensor t[STD_N], float *block) {
    const ckpt_tensor s[STD_N] = {
        {"enc.0.w", 4, {8, 3, 3, 3}, NULL},
        {"enc.0.b", 1, {8}, NULL},
        {"codebook", 2, {16, 4}, NULL},
        {"dec.conv1.w", 4, {4, 8, 3, 3}, NULL},
    };
    memcpy(t, s, sizeof s);
    ck_assert_uint_eq(ckpt_tensors_layout(t, STD_N, block), STD_FLOATS);
}

static void fill_floats(float *x, size_t n, uint64_t seed) {
    wm_rng r;
    rng_init(&r, seed);
    for (size_t i = 0; i < n; i++) x[i] = (float)rng_normal(&r);
}

static void fill_sentinel(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = SENTINEL;
}

/* One check per buffer, not per float: each Check assertion is a message
 * to the parent process. */
static void assert_sentinel(const float *x, size_t n) {
    size_t i = 0;
    while (i < n && x[i] == SENTINEL) i++;
    ck_assert_msg(i == n, "buffer written at %zu on a failed read", i);
}

static void std_config(int32_t config[CKPT_CONFIG_SLOTS]) {
    for (int i = 0; i < CKPT_CONFIG_SLOTS; i++) config[i] = 1000 + i * 7 - (i % 3 ? 0 : 5000);
}

/* Writes the standard model (random floats from seed) to dir/name. */
static void write_std(const char *path, int32_t kind, int32_t model_type, uint64_t seed, float *block) {
    ckpt_tensor t[STD_N];
    std_tensors(t, block);
    fill_floats(block, STD_FLOATS, seed);
    int32_t config[CKPT_CONFIG_SLOTS];
    std_config(config);
    wm_error err;
    ck_assert_msg(ckpt_write(path, kind, model_type, config, t, STD_N, NULL, &err) == 0, "%s", err.msg);
}

/* Reads path as the standard model into block. */
static int read_std(const char *path, float *block, int32_t *config, wm_error *err) {
    ckpt_tensor t[STD_N];
    std_tensors(t, block);
    return ckpt_read(path, CKPT_KIND_MODEL, CKPT_MODEL_TOKENIZER, t, STD_N, config, err);
}

static void assert_msg(const wm_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void assert_msg(const wm_error *err, const char *fmt, ...) {
    char want[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(want, sizeof want, fmt, ap);
    va_end(ap);
    ck_assert_str_eq(err->msg, want);
}

/* A plain overwrite: no fsync, so thousands of mutated files stay fast. */
static void spit(const char *path, const uint8_t *data, size_t len) {
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static void le32(uint8_t *p, int32_t v) {
    uint32_t u = (uint32_t)v;
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(u >> (8 * i));
}
static int32_t rd32(const uint8_t *p) {
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return (int32_t)u;
}
static void le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t rd64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Recomputes the trailer of a (mutated) file image, as a writer would. */
static void fix_trailer(uint8_t *data, size_t len) {
    le64(data + len - 16, hash_fnv1a64(data, len - 16));
    le64(data + len - 8, len);
}

static int count_tmp_files(const char *dir) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* A fixture: a temporary directory with the standard model in it. */
typedef struct {
    char *dir;
    char path[4200];
    float src[STD_FLOATS];
    uint8_t *bytes;
    size_t len;
} fixture;

static void fixture_init(fixture *fx) {
    fx->dir = test_tmpdir();
    snprintf(fx->path, sizeof fx->path, "%s/model.ckpt", fx->dir);
    write_std(fx->path, CKPT_KIND_MODEL, CKPT_MODEL_TOKENIZER, 42, fx->src);
    fx->bytes = test_read_file(fx->path, &fx->len);
    ck_assert_uint_eq(fx->len, STD_BYTES);
}

static void fixture_free(fixture *fx) {
    free(fx->bytes);
    test_remove_tree(fx->dir);
    free(fx->dir);
}

/* Writes a mutated copy of the fixture's bytes (trailer fixed when asked)
 * and reads it as the standard model: returns the error (or "" on success),
 * having checked the buffer is untouched on failure. */
static int read_mutated(fixture *fx, const uint8_t *data, size_t len, wm_error *err) {
    spit(fx->path, data, len);
    float block[STD_FLOATS];
    fill_sentinel(block, STD_FLOATS);
    int rc = read_std(fx->path, block, NULL, err);
    if (rc) assert_sentinel(block, STD_FLOATS);
    return rc;
}

/* ---- round trips and layout ---- */

START_TEST(roundtrip_is_bit_exact) {
    fixture fx;
    fixture_init(&fx);
    float back[STD_FLOATS];
    int32_t config[CKPT_CONFIG_SLOTS], want[CKPT_CONFIG_SLOTS];
    wm_error err;
    ck_assert_msg(read_std(fx.path, back, config, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(memcmp(back, fx.src, sizeof back), 0);
    std_config(want);
    ck_assert_int_eq(memcmp(config, want, sizeof want), 0);
    ck_assert_int_eq(count_tmp_files(fx.dir), 0);
    fixture_free(&fx);
}
END_TEST

START_TEST(special_floats_survive) {
    char *dir = test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/special.ckpt", dir);
    uint32_t bits[] = {0x00000000u, 0x80000000u, 0x00000001u, 0x807fffffu, 0x7f800000u, 0xff800000u,
                       0x7fc00000u, 0x7fa00001u, 0xffffffffu, 0x3f800000u, 0x7f7fffffu};
    enum { K = sizeof bits / sizeof bits[0] };
    float src[K], back[K];
    memcpy(src, bits, sizeof src);
    ckpt_tensor t = {"special", 1, {K}, src};
    wm_error err;
    ck_assert_msg(ckpt_write(path, CKPT_KIND_MODEL, 7, NULL, &t, 1, NULL, &err) == 0, "%s", err.msg);
    t.data = back;
    ck_assert_msg(ckpt_read(path, CKPT_KIND_MODEL, 7, &t, 1, NULL, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(memcmp(src, back, sizeof src), 0); /* NaN payloads, -0, denormals: bit for bit */
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* Every field where FORMAT.md says it is. */
START_TEST(layout_matches_format_md) {
    fixture fx;
    fixture_init(&fx);
    const uint8_t *b = fx.bytes;
    int32_t config[CKPT_CONFIG_SLOTS];
    std_config(config);
    ck_assert_int_eq(rd32(b + 0), 20261129);
    ck_assert_int_eq(rd32(b + 4), 1);
    ck_assert_int_eq(rd32(b + 8), 1);
    ck_assert_int_eq(rd32(b + 12), STD_N);
    ck_assert_int_eq(rd32(b + 16), 0);
    for (int i = 0; i < 59; i++) ck_assert_int_eq(rd32(b + 4 * (5 + i)), config[i]);
    for (int i = 64; i < 256; i++) ck_assert_int_eq(rd32(b + 4 * i), 0);
    ckpt_tensor t[STD_N];
    float dummy[STD_FLOATS];
    std_tensors(t, dummy);
    size_t data = 1024 + 96 * STD_N, k = 0;
    for (int i = 0; i < STD_N; i++) {
        const uint8_t *e = b + 1024 + 96 * i;
        char name[64] = {0};
        memcpy(name, e, 64);
        ck_assert_str_eq(name, t[i].name);
        for (size_t j = strlen(t[i].name); j < 64; j++) ck_assert_uint_eq(e[j], 0);
        ck_assert_int_eq(rd32(e + 64), t[i].rank);
        for (int d = 0; d < 4; d++) ck_assert_int_eq(rd32(e + 68 + 4 * d), d < t[i].rank ? t[i].dims[d] : 0);
        ck_assert_int_eq(rd32(e + 84), 0);
        ck_assert_uint_eq(rd64(e + 88), ckpt_tensor_floats(&t[i]));
        for (size_t j = 0; j < ckpt_tensor_floats(&t[i]); j++, k++) {
            uint32_t want;
            memcpy(&want, &fx.src[k], 4);
            ck_assert_uint_eq((uint32_t)rd32(b + data + 4 * k), want);
        }
    }
    ck_assert_uint_eq(k, STD_FLOATS);
    ck_assert_uint_eq(data + 4 * k + 16, fx.len);
    ck_assert_uint_eq(rd64(b + fx.len - 16), hash_fnv1a64(b, fx.len - 16));
    ck_assert_uint_eq(rd64(b + fx.len - 8), fx.len);
    fixture_free(&fx);
}
END_TEST

START_TEST(inspect_describes_the_file) {
    fixture fx;
    fixture_init(&fx);
    ckpt_tensor t[STD_N];
    int32_t config[CKPT_CONFIG_SLOTS];
    std_config(config);
    uint64_t sum;
    wm_error err;
    std_tensors(t, fx.src);
    ck_assert_msg(ckpt_write(fx.path, CKPT_KIND_MODEL, CKPT_MODEL_TOKENIZER, config, t, STD_N, &sum, &err) == 0,
                  "%s", err.msg);
    ckpt_info info;
    ck_assert_msg(ckpt_inspect(fx.path, 0, 0, &info, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(info.kind, CKPT_KIND_MODEL);
    ck_assert_int_eq(info.version, 1);
    ck_assert_int_eq(info.model_type, CKPT_MODEL_TOKENIZER);
    ck_assert_int_eq(info.dtype, CKPT_DTYPE_F32);
    ck_assert_int_eq(memcmp(info.config, config, sizeof config), 0);
    ck_assert_int_eq(info.n_tensors, STD_N);
    for (int i = 0; i < STD_N; i++) {
        ck_assert_str_eq(info.tensors[i].name, t[i].name);
        ck_assert_int_eq(info.tensors[i].rank, t[i].rank);
        for (int d = 0; d < t[i].rank; d++) ck_assert_int_eq(info.tensors[i].dims[d], t[i].dims[d]);
        ck_assert_ptr_null(info.tensors[i].data);
    }
    ck_assert_uint_eq(info.file_bytes, STD_BYTES);
    ck_assert_uint_eq(info.checksum, sum);
    ckpt_info_free(&info);
    ck_assert_ptr_null(info.tensors);
    ck_assert_msg(ckpt_inspect(fx.path, CKPT_KIND_MODEL, CKPT_MODEL_TOKENIZER, &info, &err) == 0, "%s", err.msg);
    ckpt_info_free(&info);
    /* a failed inspect leaves info empty */
    ck_assert_int_eq(ckpt_inspect(fx.path, CKPT_KIND_TRAIN_STATE, 0, &info, &err), -1);
    ck_assert_ptr_null(info.tensors);
    ck_assert_int_eq(info.n_tensors, 0);
    fixture_free(&fx);
}
END_TEST

START_TEST(one_block_layout_roundtrip) {
    /* The "whole model is one block" path: layout, write, read into a fresh block. */
    char *dir = test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/block.ckpt", dir);
    ckpt_tensor t[3] = {{"a", 2, {3, 5}, NULL}, {"b", 1, {7}, NULL}, {"c", 3, {2, 2, 2}, NULL}};
    float src[30], dst[30];
    ck_assert_uint_eq(ckpt_tensors_layout(t, 3, src), 30);
    ck_assert_ptr_eq(t[1].data, src + 15);
    ck_assert_ptr_eq(t[2].data, src + 22);
    fill_floats(src, 30, 3);
    wm_error err;
    ck_assert_msg(ckpt_write(path, CKPT_KIND_MODEL, CKPT_MODEL_DYNAMICS, NULL, t, 3, NULL, &err) == 0, "%s", err.msg);
    ckpt_tensors_layout(t, 3, dst);
    int32_t config[CKPT_CONFIG_SLOTS];
    memset(config, 0x5a, sizeof config);
    ck_assert_msg(ckpt_read(path, CKPT_KIND_MODEL, CKPT_MODEL_DYNAMICS, t, 3, config, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(memcmp(src, dst, sizeof src), 0);
    for (int i = 0; i < CKPT_CONFIG_SLOTS; i++) ck_assert_int_eq(config[i], 0); /* NULL config writes zeros */
    test_remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(zero_tensors_roundtrip) {
    char *dir = test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/empty.ckpt", dir);
    int32_t config[CKPT_CONFIG_SLOTS] = {0}, back[CKPT_CONFIG_SLOTS];
    config[0] = -7, config[58] = INT32_MAX;
    wm_error err;
    ck_assert_msg(ckpt_write(path, CKPT_KIND_TRAIN_STATE, 3, config, NULL, 0, NULL, &err) == 0, "%s", err.msg);
    ck_assert_msg(ckpt_read(path, CKPT_KIND_TRAIN_STATE, 3, NULL, 0, back, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(memcmp(config, back, sizeof back), 0);
    size_t len;
    uint8_t *data = test_read_file(path, &len);
    ck_assert_uint_eq(len, 1024 + 16);
    free(data);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* Over a megabyte: the write and copy chunks (64 KiB) and the checksum
 * pass (1 MiB) each end part way through. */
START_TEST(large_tensor_roundtrip) {
    char *dir = test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/large.ckpt", dir);
    enum { N1 = 300007, N2 = 16384 * 3 + 1 };
    float *src = MALLOC_CHECK((N1 + N2) * sizeof(float)), *dst = MALLOC_CHECK((N1 + N2) * sizeof(float));
    fill_floats(src, N1 + N2, 11);
    ckpt_tensor t[2] = {{"big", 1, {N1}, NULL}, {"odd", 2, {N2, 1}, NULL}};
    ckpt_tensors_layout(t, 2, src);
    wm_error err;
    uint64_t sum;
    ck_assert_msg(ckpt_write(path, CKPT_KIND_MODEL, 2, NULL, t, 2, &sum, &err) == 0, "%s", err.msg);
    ckpt_tensors_layout(t, 2, dst);
    ck_assert_msg(ckpt_read(path, CKPT_KIND_MODEL, 2, t, 2, NULL, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(memcmp(src, dst, (N1 + N2) * sizeof(float)), 0);
    size_t len;
    uint8_t *data = test_read_file(path, &len);
    ck_assert_uint_eq(len, 1024 + 2 * 96 + 4 * (N1 + N2) + 16);
    ck_assert_uint_eq(sum, hash_fnv1a64(data, len - 16));
    free(data);
    free(src);
    free(dst);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* ---- training state ---- */

START_TEST(u64_in_two_slots) {
    int32_t c[CKPT_CONFIG_SLOTS] = {0};
    const uint64_t vals[] = {0, 1, UINT32_MAX, (uint64_t)UINT32_MAX + 1, UINT64_MAX, UINT64_C(1) << 63,
                             UINT64_C(0x123456789abcdef0)};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        ckpt_config_put_u64(c, 10, vals[i]);
        ck_assert_uint_eq(ckpt_config_get_u64(c, 10), vals[i]);
    }
    ckpt_config_put_u64(c, 57, UINT64_C(0x123456789abcdef0));
    ck_assert_uint_eq((uint32_t)c[57], 0x9abcdef0u); /* low half first */
    ck_assert_int_eq(c[58], 0x12345678);
    ck_assert_int_eq(c[9], 0);
    ck_assert_int_eq(c[12], 0);
}
END_TEST

START_TEST(train_state_resumes_rng_and_position) {
    char *dir = test_tmpdir();
    char model[4200], state[4200];
    snprintf(model, sizeof model, "%s/tok.ckpt", dir);
    snprintf(state, sizeof state, "%s/tok.state", dir);
    float params[STD_FLOATS], m[STD_FLOATS], v[STD_FLOATS];
    write_std(model, CKPT_KIND_MODEL, CKPT_MODEL_TOKENIZER, 1, params);
    fill_floats(m, STD_FLOATS, 2);
    fill_floats(v, STD_FLOATS, 3);
    ckpt_tensor t[2] = {{"adam.m", 1, {STD_FLOATS}, m}, {"adam.v", 1, {STD_FLOATS}, v}};
    wm_rng rng;
    rng_init(&rng, 99);
    for (int i = 0; i < 5; i++) rng_u64(&rng);
    ckpt_train_progress p = {.step = 10, .epoch = 3, .position = UINT64_C(5000000000), .rng = rng,
                             .model_checksum = UINT64_C(0xfedcba9876543210)};
    int32_t config[CKPT_CONFIG_SLOTS] = {0};
    ckpt_train_progress_put(config, &p);
    config[CKPT_TRAIN_SLOT_FREE] = 77;
    wm_error err;
    ck_assert_msg(ckpt_write(state, CKPT_KIND_TRAIN_STATE, CKPT_MODEL_TOKENIZER, config, t, 2, NULL, &err) == 0,
                  "%s", err.msg);
    float m2[STD_FLOATS], v2[STD_FLOATS];
    t[0].data = m2, t[1].data = v2;
    int32_t back[CKPT_CONFIG_SLOTS];
    ck_assert_msg(ckpt_read(state, CKPT_KIND_TRAIN_STATE, CKPT_MODEL_TOKENIZER, t, 2, back, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(memcmp(m, m2, sizeof m), 0);
    ck_assert_int_eq(memcmp(v, v2, sizeof v), 0);
    ckpt_train_progress q;
    ckpt_train_progress_get(back, &q);
    ck_assert_uint_eq(q.step, 10);
    ck_assert_uint_eq(q.epoch, 3);
    ck_assert_uint_eq(q.position, UINT64_C(5000000000));
    ck_assert_uint_eq(q.model_checksum, UINT64_C(0xfedcba9876543210));
    ck_assert_int_eq(back[CKPT_TRAIN_SLOT_FREE], 77);
    for (int i = 0; i < 100; i++) ck_assert_uint_eq(rng_u64(&q.rng), rng_u64(&rng)); /* the same stream on */
    /* The two kinds are not interchangeable. */
    float block[STD_FLOATS];
    fill_sentinel(block, STD_FLOATS);
    ck_assert_int_eq(read_std(state, block, NULL, &err), -1);
    assert_msg(&err, "%s: not a model checkpoint (magic 20261130, expected 20261129): this is a training-state "
               "file; pass the model checkpoint", state);
    assert_sentinel(block, STD_FLOATS);
    ck_assert_int_eq(ckpt_read(model, CKPT_KIND_TRAIN_STATE, CKPT_MODEL_TOKENIZER, t, 2, NULL, &err), -1);
    assert_msg(&err, "%s: not a training-state file (magic 20261129, expected 20261130): this is a model "
               "checkpoint; pass the training-state file", model);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* ---- header errors ---- */

START_TEST(foreign_files_are_not_checkpoints) {
    fixture fx;
    fixture_init(&fx);
    wm_error err;
    uint8_t png[2048] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    ck_assert_int_eq(read_mutated(&fx, png, sizeof png, &err), -1);
    assert_msg(&err, "%s: not a wmsim checkpoint (magic 0x474e5089, expected 20261129)", fx.path);
    write_text_file(fx.path, "hello, world\n");
    ck_assert_int_eq(read_std(fx.path, fx.src, NULL, &err), -1);
    assert_msg(&err, "%s: not a wmsim checkpoint (magic 0x6c6c6568, expected 20261129)", fx.path);
    ckpt_info info;
    ck_assert_int_eq(ckpt_inspect(fx.path, 0, 0, &info, &err), -1);
    assert_msg(&err, "%s: not a wmsim checkpoint (magic 0x6c6c6568, expected 20261129 or 20261130)", fx.path);
    fixture_free(&fx);
}
END_TEST

START_TEST(versions) {
    fixture fx;
    fixture_init(&fx);
    wm_error err;
    uint8_t *b = MALLOC_CHECK(fx.len);
    const int32_t v[] = {2, 0, -1};
    const char *want[] = {"format version 2 is newer than this wmsim reads (1)",
                          "format version 0 is not valid (file corrupt)",
                          "format version -1 is not valid (file corrupt)"};
    for (int i = 0; i < 3; i++) {
        memcpy(b, fx.bytes, fx.len);
        le32(b + 4, v[i]);
        ck_assert_int_eq(read_mutated(&fx, b, fx.len, &err), -1);
        assert_msg(&err, "%s: %s", fx.path, want[i]);
        fix_trailer(b, fx.len); /* the version is judged before the checksum */
        ck_assert_int_eq(read_mutated(&fx, b, fx.len, &err), -1);
        assert_msg(&err, "%s: %s", fx.path, want[i]);
    }
    free(b);
    fixture_free(&fx);
}
END_TEST

START_TEST(model_type_mismatch) {
    char *dir = test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/dyn.ckpt", dir);
    float block[STD_FLOATS];
    write_std(path, CKPT_KIND_MODEL, CKPT_MODEL_DYNAMICS, 5, block);
    fill_sentinel(block, STD_FLOATS);
    wm_error err;
    ck_assert_int_eq(read_std(path, block, NULL, &err), -1);
    assert_msg(&err, "%s: model type 2 (dynamics), expected 1 (tokenizer)", path);
    assert_sentinel(block, STD_FLOATS);
    ckpt_tensor t[STD_N];
    std_tensors(t, block);
    ck_assert_msg(ckpt_read(path, CKPT_KIND_MODEL, 0, t, STD_N, NULL, &err) == 0, "%s", err.msg); /* 0: any */
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* Header and table fields that are wrong although the checksum is right
 * (a buggy writer, not a bad disk): each has its own message. */
START_TEST(structural_errors_with_valid_checksum) {
    fixture fx;
    fixture_init(&fx);
    wm_error err;
    uint8_t *b = MALLOC_CHECK(fx.len + 64);
    const size_t E0 = 1024, E1 = 1024 + 96, E2 = 1024 + 192;
    struct {
        size_t off;
        int32_t value; /* an int32 field, or one name byte when off is inside a name */
        const char *want;
    } cases[] = {
        {8, 0, "model type 0 is not valid (file corrupt)"},
        {16, 1, "dtype 1 (bf16) is not supported by this wmsim (it reads fp32, dtype 0)"},
        {16, 7, "dtype 7 is not valid (file corrupt)"},
        {12, -1, "-1 tensors (must be 0..16384; file corrupt)"},
        {12, 16385, "16385 tensors (must be 0..16384; file corrupt)"},
        {12, 100, "truncated: 3728 bytes, the header and tensor table need 10624"},
        {4 * 64, 1, "header slot 64 is 1, not 0 (file corrupt)"},
        {4 * 255, -9, "header slot 255 is -9, not 0 (file corrupt)"},
        {E1 + 64, 0, "tensor 1 'enc.0.b': rank 0 (must be 1..4; file corrupt)"},
        {E1 + 64, 5, "tensor 1 'enc.0.b': rank 5 (must be 1..4; file corrupt)"},
        {E0 + 68 + 8, 0, "tensor 0 'enc.0.w': dimension 2 is 0 (file corrupt)"},
        {E0 + 68 + 8, -3, "tensor 0 'enc.0.w': dimension 2 is -3 (file corrupt)"},
        {E1 + 68 + 4, 5, "tensor 1 'enc.0.b': unused dimension 1 is 5, not 0 (file corrupt)"},
        {E0 + 84, 3, "tensor 0 'enc.0.w': reserved field is 3, not 0 (file corrupt)"},
        {E2 + 88, 65, "tensor 2 'codebook': float count 65, but shape 16x4 has 64 (file corrupt)"},
        {E0 + 68, 1 << 30, "tensor 0 'enc.0.w': shape 1073741824x3x3x3 is over the checkpoint limit (file corrupt)"},
        {E0 + 0, 0, "tensor 0: empty name (file corrupt)"},
        {E0 + 3, ' ', "tensor 0: name has a byte outside printable ASCII (0x20; file corrupt)"},
        {E0 + 40, 'x', "tensor 0 'enc.0.w': name padding is not zero (file corrupt)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(b, fx.bytes, fx.len);
        if (cases[i].off >= E0 && cases[i].off < E0 + 64)
            b[cases[i].off] = (uint8_t)cases[i].value;
        else
            le32(b + cases[i].off, cases[i].value);
        fix_trailer(b, fx.len);
        ck_assert_int_eq(read_mutated(&fx, b, fx.len, &err), -1);
        assert_msg(&err, "%s: %s", fx.path, cases[i].want);
    }
    /* a name filling all 64 bytes */
    memcpy(b, fx.bytes, fx.len);
    memset(b + E0, 'a', 64);
    fix_trailer(b, fx.len);
    ck_assert_int_eq(read_mutated(&fx, b, fx.len, &err), -1);
    assert_msg(&err, "%s: tensor 0: name not NUL-terminated within 64 bytes (file corrupt)", fx.path);
    /* trailing bytes after a well-formed file */
    memcpy(b, fx.bytes, fx.len);
    memset(b + fx.len, 0, 8);
    fix_trailer(b, fx.len + 8);
    ck_assert_int_eq(read_mutated(&fx, b, fx.len + 8, &err), -1);
    assert_msg(&err, "%s: 3736 bytes, the tensor table says 3728 (trailing bytes; file corrupt)", fx.path);
    /* the trailer's length field wrong, everything else right */
    memcpy(b, fx.bytes, fx.len);
    le64(b + fx.len - 8, 99);
    ck_assert_int_eq(read_mutated(&fx, b, fx.len, &err), -1);
    assert_msg(&err, "%s: the trailer says 99 bytes, the file has 3728 (file corrupt)", fx.path);
    /* a reshape that keeps the float count is valid in itself; the caller's shapes catch it */
    memcpy(b, fx.bytes, fx.len);
    le32(b + E0 + 68 + 8, 9), le32(b + E0 + 68 + 12, 1);
    fix_trailer(b, fx.len);
    ck_assert_int_eq(read_mutated(&fx, b, fx.len, &err), -1);
    assert_msg(&err, "%s: tensor 0 is 'enc.0.w' (8x3x9x1), expected 'enc.0.w' (8x3x3x3)", fx.path);
    /* the unmodified bytes still read */
    ck_assert_int_eq(read_mutated(&fx, fx.bytes, fx.len, &err), 0);
    free(b);
    fixture_free(&fx);
}
END_TEST

/* ---- against what the caller expects ---- */

START_TEST(tensor_mismatch_messages) {
    char *dir = test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/dec.ckpt", dir);
    enum { F = 8 + 4 + 64 * 64 * 9 };
    float *src = CALLOC_CHECK(F, sizeof(float)), *dst = CALLOC_CHECK(F, sizeof(float));
    ckpt_tensor t[4] = {{"enc.w", 1, {8}, NULL}, {"enc.b", 1, {2}, NULL}, {"pos", 2, {1, 2}, NULL},
                        {"dec.conv1.w", 4, {64, 64, 3, 3}, NULL}};
    ckpt_tensors_layout(t, 4, src);
    wm_error err;
    ck_assert_msg(ckpt_write(path, CKPT_KIND_MODEL, 1, NULL, t, 4, NULL, &err) == 0, "%s", err.msg);
    fill_sentinel(dst, F);
    ckpt_tensor e[5];
    memcpy(e, t, sizeof t);
    e[3].dims[1] = 32;
    ckpt_tensors_layout(e, 4, dst);
    ck_assert_int_eq(ckpt_read(path, CKPT_KIND_MODEL, 1, e, 4, NULL, &err), -1);
    assert_msg(&err, "%s: tensor 3 is 'dec.conv1.w' (64x64x3x3), expected 'dec.conv1.w' (64x32x3x3)", path);
    memcpy(e, t, sizeof t);
    snprintf(e[1].name, sizeof e[1].name, "enc.bias");
    ckpt_tensors_layout(e, 4, dst);
    ck_assert_int_eq(ckpt_read(path, CKPT_KIND_MODEL, 1, e, 4, NULL, &err), -1);
    assert_msg(&err, "%s: tensor 1 is 'enc.b' (2), expected 'enc.bias' (2)", path);
    memcpy(e, t, sizeof t);
    e[2].rank = 1, e[2].dims[0] = 2, e[2].dims[1] = 0;
    ckpt_tensors_layout(e, 4, dst);
    ck_assert_int_eq(ckpt_read(path, CKPT_KIND_MODEL, 1, e, 4, NULL, &err), -1);
    assert_msg(&err, "%s: tensor 2 is 'pos' (1x2), expected 'pos' (2)", path);
    memcpy(e, t, sizeof t);
    ckpt_tensors_layout(e, 3, dst);
    ck_assert_int_eq(ckpt_read(path, CKPT_KIND_MODEL, 1, e, 3, NULL, &err), -1);
    assert_msg(&err, "%s: 4 tensors, expected 3 (the first extra is tensor 3 'dec.conv1.w' (64x64x3x3))", path);
    memcpy(e, t, sizeof t);
    e[4] = (ckpt_tensor){"dec.conv1.b", 1, {64}, NULL};
    ckpt_tensors_layout(e, 4, dst);
    e[4].data = dst; /* never written: the read fails first */
    ck_assert_int_eq(ckpt_read(path, CKPT_KIND_MODEL, 1, e, 5, NULL, &err), -1);
    assert_msg(&err, "%s: 4 tensors, expected 5 (the first missing is tensor 4 'dec.conv1.b' (64))", path);
    assert_sentinel(dst, F);
    /* the caller's own list is checked too */
    memcpy(e, t, sizeof t);
    ckpt_tensors_layout(e, 4, dst);
    e[2].data = NULL;
    ck_assert_int_eq(ckpt_read(path, CKPT_KIND_MODEL, 1, e, 4, NULL, &err), -1);
    assert_msg(&err, "%s: expected tensor 2 'pos': no data pointer", path);
    e[2].data = dst, e[2].rank = 0;
    ck_assert_int_eq(ckpt_read(path, CKPT_KIND_MODEL, 1, e, 4, NULL, &err), -1);
    assert_msg(&err, "%s: expected tensor 2 'pos': rank 0 (must be 1..4)", path);
    ck_assert_int_eq(ckpt_read(path, CKPT_KIND_MODEL, 1, e, -1, NULL, &err), -1);
    assert_msg(&err, "%s: -1 expected tensors (must be 0..16384)", path);
    assert_sentinel(dst, F);
    free(src);
    free(dst);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* ---- damaged files ---- */

START_TEST(truncation_at_every_8th_byte) {
    fixture fx;
    fixture_init(&fx);
    wm_error err;
    for (size_t len = 0; len < fx.len; len += 8) {
        ck_assert_int_eq(read_mutated(&fx, fx.bytes, len, &err), -1);
        if (len < 1024)
            assert_msg(&err, "%s: truncated: %zu bytes, the header needs 1024", fx.path, len);
        else if (len < 1024 + 96 * STD_N)
            assert_msg(&err, "%s: truncated: %zu bytes, the header and tensor table need %d", fx.path, len,
                       1024 + 96 * STD_N);
        else
            assert_msg(&err, "%s: truncated: %zu bytes, the tensor table says %d", fx.path, len, STD_BYTES);
    }
    /* and the last few bytes one by one */
    for (size_t len = fx.len - 15; len < fx.len; len++) {
        ck_assert_int_eq(read_mutated(&fx, fx.bytes, len, &err), -1);
        assert_msg(&err, "%s: truncated: %zu bytes, the tensor table says %d", fx.path, len, STD_BYTES);
    }
    fixture_free(&fx);
}
END_TEST

START_TEST(every_byte_flip_is_caught) {
    fixture fx;
    fixture_init(&fx);
    wm_error err;
    uint8_t *b = MALLOC_CHECK(fx.len);
    wm_rng r;
    rng_init(&r, 7);
    for (size_t off = 0; off < fx.len; off++) {
        memcpy(b, fx.bytes, fx.len);
        b[off] ^= (uint8_t)(1 + rng_u64(&r) % 255);
        ck_assert_int_eq(read_mutated(&fx, b, fx.len, &err), -1);
        if (off < 8)
            ck_assert_msg(strstr(err.msg, "not a ") || strstr(err.msg, "format version"), "byte %zu: %s", off,
                          err.msg); /* magic and version come first */
        else if (off < fx.len - 8)
            assert_msg(&err, "%s: checksum mismatch (file corrupt)", fx.path);
        else
            ck_assert_msg(strstr(err.msg, "(file corrupt)"), "byte %zu: %s", off, err.msg);
    }
    free(b);
    fixture_free(&fx);
}
END_TEST

START_TEST(not_a_file) {
    char *dir = test_tmpdir();
    char path[4200];
    float block[STD_FLOATS];
    fill_sentinel(block, STD_FLOATS);
    wm_error err;
    snprintf(path, sizeof path, "%s/missing.ckpt", dir);
    ck_assert_int_eq(read_std(path, block, NULL, &err), -1);
    assert_msg(&err, "%s: cannot open: No such file or directory", path);
    ck_assert_int_eq(read_std(dir, block, NULL, &err), -1);
    assert_msg(&err, "%s: is a directory, not a checkpoint file", dir);
    snprintf(path, sizeof path, "%s/empty.ckpt", dir);
    write_text_file(path, "");
    ck_assert_int_eq(read_std(path, block, NULL, &err), -1);
    assert_msg(&err, "%s: truncated: 0 bytes, the header needs 1024", path);
    write_text_file(path, "abc");
    ck_assert_int_eq(read_std(path, block, NULL, &err), -1);
    assert_msg(&err, "%s: truncated: 3 bytes, the header needs 1024", path);
    ck_assert_int_eq(read_std("/dev/null", block, NULL, &err), -1);
    ck_assert_str_eq(err.msg, "/dev/null: not a regular file");
    snprintf(path, sizeof path, "%s/fifo.ckpt", dir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    ck_assert_int_eq(read_std(path, block, NULL, &err), -1); /* refused, not waited on */
    assert_msg(&err, "%s: not a regular file", path);
    assert_sentinel(block, STD_FLOATS);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(oversized_file_is_refused) {
    /* A sparse file just over the limit: a valid header, then a hole. */
    fixture fx;
    fixture_init(&fx);
    int fd = open(fx.path, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    int rc = ftruncate(fd, (off_t)(CKPT_MAX_FILE_BYTES + 1));
    close(fd);
    if (rc != 0) {
        fprintf(stderr, "oversized_file_is_refused: no sparse 64 GiB file here (%s); skipped\n", strerror(errno));
    } else {
        float block[STD_FLOATS];
        fill_sentinel(block, STD_FLOATS);
        wm_error err;
        ck_assert_int_eq(read_std(fx.path, block, NULL, &err), -1);
        assert_msg(&err, "%s: 68719476737 bytes is over the 68719476736-byte checkpoint limit", fx.path);
        assert_sentinel(block, STD_FLOATS);
    }
    fixture_free(&fx);
}
END_TEST

/* A few hundred random mutations; half with the trailer recomputed so the
 * parser behind the checksum is exercised too. Nothing may crash (the
 * sanitizer build watches memory), a failure leaves the buffer alone, and
 * a success returns exactly the floats the mutated file holds. */
START_TEST(fuzz_mutations) {
    fixture fx;
    fixture_init(&fx);
    wm_rng r;
    rng_init(&r, 2026);
    uint8_t *b = MALLOC_CHECK(fx.len + 4096);
    const int32_t interesting[] = {0, 1, -1, 2, 3, 4, 5, 64, 255, 256, 16384, 16385, INT32_MAX, INT32_MIN,
                                   1 << 30, 20261129, 20261130};
    int successes = 0, failures = 0;
    for (int iter = 0; iter < 400; iter++) {
        memcpy(b, fx.bytes, fx.len);
        size_t len = fx.len;
        int kind = (int)(rng_u64(&r) % 5);
        if (kind == 0 || kind == 1) { /* byte flips */
            int flips = 1 + (int)(rng_u64(&r) % 8);
            for (int k = 0; k < flips; k++) b[rng_u64(&r) % len] ^= (uint8_t)(1 + rng_u64(&r) % 255);
        } else if (kind == 2) { /* an int32 field of the header or table set to an edge value */
            size_t field = rng_u64(&r) % ((1024 + 96 * STD_N) / 4);
            int32_t v = rng_u64(&r) % 4 ? interesting[rng_u64(&r) % (sizeof interesting / sizeof interesting[0])]
                                        : (int32_t)rng_u64(&r);
            le32(b + 4 * field, v);
        } else if (kind == 3) { /* truncate */
            len = rng_u64(&r) % len;
        } else { /* extend with random bytes */
            size_t extra = 1 + rng_u64(&r) % 4096;
            for (size_t k = 0; k < extra; k++) b[len + k] = (uint8_t)rng_u64(&r);
            len += extra;
        }
        int fixed = kind != 0 && len >= 16 && rng_u64(&r) % 2;
        if (fixed) fix_trailer(b, len);
        spit(fx.path, b, len);
        float block[STD_FLOATS];
        fill_sentinel(block, STD_FLOATS);
        wm_error err;
        int rc = read_std(fx.path, block, NULL, &err);
        ckpt_info info;
        wm_error err2;
        int rc2 = ckpt_inspect(fx.path, 0, 0, &info, &err2);
        if (rc2 == 0) ckpt_info_free(&info);
        else ck_assert_msg(!strncmp(err2.msg, fx.path, strlen(fx.path)), "%s", err2.msg);
        if (rc) {
            failures++;
            ck_assert_msg(!strncmp(err.msg, fx.path, strlen(fx.path)), "%s", err.msg);
            assert_sentinel(block, STD_FLOATS);
            if (!fixed && kind < 2) ck_assert_int_ne(memcmp(b, fx.bytes, fx.len), 0);
        } else {
            successes++;
            ck_assert_uint_eq(len, fx.len);
            int same = 1;
            for (int i = 0; i < STD_FLOATS; i++) {
                uint32_t got;
                memcpy(&got, &block[i], 4);
                same &= got == (uint32_t)rd32(b + 1024 + 96 * STD_N + 4 * i);
            }
            ck_assert(same);
            if (!fixed) ck_assert_int_eq(memcmp(b, fx.bytes, fx.len), 0);
        }
    }
    ck_assert_int_gt(failures, 200);
    ck_assert_int_gt(successes, 0); /* fixed-up flips in the data are valid files */
    free(b);
    fixture_free(&fx);
}
END_TEST

/* ---- writing ---- */

START_TEST(write_refuses_bad_input) {
    char *dir = test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/bad.ckpt", dir);
    float x[8] = {0};
    wm_error err;
    ckpt_tensor t[4] = {{"a", 1, {8}, x}, {"b", 1, {8}, x}, {"c", 1, {8}, x}, {"b", 1, {8}, x}};
    ck_assert_int_eq(ckpt_write(path, 5, 1, NULL, t, 1, NULL, &err), -1);
    assert_msg(&err, "%s: kind 5 is not a checkpoint kind (20261129 model, 20261130 training state)", path);
    ck_assert_int_eq(ckpt_write(path, CKPT_KIND_MODEL, 0, NULL, t, 1, NULL, &err), -1);
    assert_msg(&err, "%s: model type 0 (must be >= 1)", path);
    ck_assert_int_eq(ckpt_write(path, CKPT_KIND_MODEL, 1, NULL, t, -1, NULL, &err), -1);
    assert_msg(&err, "%s: -1 tensors (must be 0..16384)", path);
    ck_assert_int_eq(ckpt_write(path, CKPT_KIND_MODEL, 1, NULL, t, 16385, NULL, &err), -1);
    assert_msg(&err, "%s: 16385 tensors (must be 0..16384)", path);
    ck_assert_int_eq(ckpt_write(path, CKPT_KIND_MODEL, 1, NULL, t, 4, NULL, &err), -1);
    assert_msg(&err, "%s: tensors 1 and 3 are both named 'b'", path);
    struct {
        ckpt_tensor t;
        const char *want;
    } cases[] = {
        {{"", 1, {8}, x}, "tensor 1: empty name"},
        {{"a b", 1, {8}, x}, "tensor 1: name has a byte outside printable ASCII (0x20)"},
        {{"q", 0, {8}, x}, "tensor 1 'q': rank 0 (must be 1..4)"},
        {{"q", 5, {8}, x}, "tensor 1 'q': rank 5 (must be 1..4)"},
        {{"q", 2, {8, 0}, x}, "tensor 1 'q': dimension 1 is 0 (must be >= 1)"},
        {{"q", 1, {-3}, x}, "tensor 1 'q': dimension 0 is -3 (must be >= 1)"},
        {{"q", 1, {8}, NULL}, "tensor 1 'q': no data pointer"},
        {{"q", 4, {65536, 65536, 16, 1}, x}, "tensor 1 'q': shape 65536x65536x16x1 is over the 68719476736-byte "
                                             "checkpoint limit"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ckpt_tensor two[2] = {t[0], cases[i].t};
        ck_assert_int_eq(ckpt_write(path, CKPT_KIND_MODEL, 1, NULL, two, 2, NULL, &err), -1);
        assert_msg(&err, "%s: %s", path, cases[i].want);
    }
    ckpt_tensor two[2] = {t[0], t[1]};
    memset(two[1].name, 'z', sizeof two[1].name);
    ck_assert_int_eq(ckpt_write(path, CKPT_KIND_MODEL, 1, NULL, two, 2, NULL, &err), -1);
    assert_msg(&err, "%s: tensor 1: name not NUL-terminated within 64 bytes", path);
    /* each tensor under the limit, together over it (never read: validation comes first) */
    ckpt_tensor huge[2] = {{"h1", 2, {1 << 17, 1 << 16}, x}, {"h2", 2, {1 << 17, 1 << 16}, x}};
    ck_assert_int_eq(ckpt_write(path, CKPT_KIND_MODEL, 1, NULL, huge, 2, NULL, &err), -1);
    assert_msg(&err, "%s: the tensors need more than the 68719476736-byte checkpoint limit", path);
    ck_assert(!exists(path));
    ck_assert_int_eq(count_tmp_files(dir), 0);
    snprintf(path, sizeof path, "%s/no/such/dir/m.ckpt", dir);
    ck_assert_int_eq(ckpt_write(path, CKPT_KIND_MODEL, 1, NULL, t, 1, NULL, &err), -1);
    assert_msg(&err, "%s: cannot create: No such file or directory", path);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(failed_write_keeps_previous_file) {
    fixture fx;
    fixture_init(&fx);
    enum { BIG = 1 << 20 };
    float *big = CALLOC_CHECK(BIG, sizeof(float));
    ckpt_tensor t = {"big", 1, {BIG}, big};
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 65536;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    wm_error err;
    int rc = ckpt_write(fx.path, CKPT_KIND_MODEL, 1, NULL, &t, 1, NULL, &err);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    ck_assert_int_eq(rc, -1);
    assert_msg(&err, "%s: write failed: File too large", fx.path);
    ck_assert_int_eq(count_tmp_files(fx.dir), 0);
    float back[STD_FLOATS];
    ck_assert_msg(read_std(fx.path, back, NULL, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(memcmp(back, fx.src, sizeof back), 0);
    free(big);
    fixture_free(&fx);
}
END_TEST

START_TEST(names) {
    ck_assert_str_eq(ckpt_kind_name(CKPT_KIND_MODEL), "model checkpoint");
    ck_assert_str_eq(ckpt_kind_name(CKPT_KIND_TRAIN_STATE), "training-state file");
    ck_assert_str_eq(ckpt_kind_name(3), "unknown");
    ck_assert_str_eq(ckpt_model_type_name(1), "tokenizer");
    ck_assert_str_eq(ckpt_model_type_name(2), "dynamics");
    ck_assert_str_eq(ckpt_model_type_name(9), "unknown");
}
END_TEST

int main(void) {
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("roundtrip");
    tcase_add_test(tc, roundtrip_is_bit_exact);
    tcase_add_test(tc, special_floats_survive);
    tcase_add_test(tc, layout_matches_format_md);
    tcase_add_test(tc, inspect_describes_the_file);
    tcase_add_test(tc, one_block_layout_roundtrip);
    tcase_add_test(tc, zero_tensors_roundtrip);
    tcase_add_test(tc, large_tensor_roundtrip);
    tcase_add_test(tc, u64_in_two_slots);
    tcase_add_test(tc, train_state_resumes_rng_and_position);
    tcase_add_test(tc, names);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, foreign_files_are_not_checkpoints);
    tcase_add_test(tc, versions);
    tcase_add_test(tc, model_type_mismatch);
    tcase_add_test(tc, structural_errors_with_valid_checksum);
    tcase_add_test(tc, tensor_mismatch_messages);
    tcase_add_test(tc, truncation_at_every_8th_byte);
    tcase_add_test(tc, every_byte_flip_is_caught);
    tcase_add_test(tc, not_a_file);
    tcase_add_test(tc, oversized_file_is_refused);
    tcase_add_test(tc, fuzz_mutations);
    tcase_add_test(tc, write_refuses_bad_input);
    tcase_add_test(tc, failed_write_keeps_previous_file);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
