/* fuzz_checkpoint.c — checkpoint files (worldmodel/FORMAT.md): the
 * container (ckpt_inspect: header, version, model type, dtype, tensor
 * table, sizes, checksum; ckpt_read of the tensors the file itself lists)
 * and then the model loaders that build a network from the header's
 * config ints and read their tensors into it (tokenizer_load,
 * dynamics_load, estimator_load, vla_load, by the file's model type, with
 * a batch of 1), or the training progress of a training-state file.
 *
 * A random mutation almost never keeps the FNV-1a checksum in the trailer
 * right, so every input is loaded twice: as it is (the checksum and size
 * checks) and, when its trailer does not match already, with the trailer
 * rewritten to the right checksum and length (so mutations of the header,
 * config and tensor table reach the checks behind the checksum).
 *
 * Input: a checkpoint file (.wmck). The seeds are tiny models of each type
 * made by tests/fuzz/gen_seeds.c.
 * Result: "as is: ..." and "repaired: ..." lines, each "ok TYPE" or the
 * error (the scratch folder as TMP). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_util.h"

#include "core/check.h"
#include "core/fileio.h"
#include "worldmodel/checkpoint.h"
#include "worldmodel/dynamics_model.h"
#include "worldmodel/estimator.h"
#include "worldmodel/tokenizer.h"
#include "worldmodel/vla.h"

/* ckpt_inspect, ckpt_read of what it lists, then the model loader. */
static int fuzz_checkpoint_load(const char *path, char *out, size_t cap) {
    wm_error e;
    ckpt_info info;
    if (ckpt_inspect(path, 0, 0, &info, &e)) return fuzz_printf(out, cap, "%s", e.msg), -1;
    /* Every tensor's floats are in the file, so this is at most its size. */
    size_t total = 0;
    for (int i = 0; i < info.n_tensors; i++) total += ckpt_tensor_floats(&info.tensors[i]);
    float *block = MALLOC_CHECK((total ? total : 1) * sizeof *block);
    ckpt_tensors_layout(info.tensors, info.n_tensors, block);
    int32_t config[CKPT_CONFIG_SLOTS];
    int rc = ckpt_read(path, info.kind, info.model_type, info.tensors, info.n_tensors, config, &e);
    free(block);
    int32_t kind = info.kind, type = info.model_type;
    ckpt_info_free(&info);
    if (rc) return fuzz_printf(out, cap, "read: %s", e.msg), -1;
    if (kind == CKPT_KIND_TRAIN_STATE) {
        ckpt_train_progress p;
        ckpt_train_progress_get(config, &p);
        return fuzz_printf(out, cap, "ok training state of %s, step %llu", ckpt_model_type_name(type),
                        (unsigned long long)p.step), 0;
    }
    switch (type) {
    case CKPT_MODEL_TOKENIZER: {
        tokenizer *tk = MALLOC_CHECK(sizeof *tk);
        rc = tokenizer_load(tk, path, 1, &e);
        if (rc == 0) tokenizer_free(tk);
        free(tk);
        break;
    }
    case CKPT_MODEL_DYNAMICS: {
        dynamics_model *dm = MALLOC_CHECK(sizeof *dm);
        rc = dynamics_load(dm, path, 1, &e);
        if (rc == 0) dynamics_free(dm);
        free(dm);
        break;
    }
    case CKPT_MODEL_ESTIMATOR: {
        estimator *est = MALLOC_CHECK(sizeof *est);
        rc = estimator_load(est, path, 1, &e);
        if (rc == 0) estimator_free(est);
        free(est);
        break;
    }
    case CKPT_MODEL_VLA: {
        vla *v = MALLOC_CHECK(sizeof *v);
        rc = vla_load(v, path, 1, &e);
        if (rc == 0) vla_free(v);
        free(v);
        break;
    }
    default: return fuzz_printf(out, cap, "ok model type %d (no loader)", type), 0;
    }
    if (rc) return fuzz_printf(out, cap, "%s load: %s", ckpt_model_type_name(type), e.msg), -1;
    return fuzz_printf(out, cap, "ok %s", ckpt_model_type_name(type)), 0;
}

static int fuzz_checkpoint_run(const uint8_t *data, size_t size, wm_error *err) {
    static const char *dir;
    static char path[300];
    if (!dir) {
        dir = fuzz_scratch_dir("checkpoint");
        snprintf(path, sizeof path, "%s/input.wmck", dir);
    }
    char one[WM_ERROR_MAX / 2 - 16];
    fuzz_write_file(path, data, size);
    int rc = fuzz_checkpoint_load(path, one, sizeof one);
    err->msg[0] = '\0';
    fuzz_append(err, "as is: %s\n", one);

    if (size >= CKPT_HEADER_BYTES + CKPT_TRAILER_BYTES) {
        uint8_t trailer[CKPT_TRAILER_BYTES];
        uint64_t h = hash_fnv1a64(data, size - CKPT_TRAILER_BYTES), len = size;
        for (int i = 0; i < 8; i++) trailer[i] = (uint8_t)(h >> 8 * i), trailer[8 + i] = (uint8_t)(len >> 8 * i);
        if (memcmp(trailer, data + size - CKPT_TRAILER_BYTES, CKPT_TRAILER_BYTES) != 0) {
            uint8_t *fixed = MALLOC_CHECK(size);
            memcpy(fixed, data, size - CKPT_TRAILER_BYTES);
            memcpy(fixed + size - CKPT_TRAILER_BYTES, trailer, CKPT_TRAILER_BYTES);
            fuzz_write_file(path, fixed, size);
            free(fixed);
            fuzz_checkpoint_load(path, one, sizeof one);
            fuzz_append(err, "repaired: %s\n", one);
        }
    }
    fuzz_error_scrub(err, dir);
    return rc;
}

FUZZ_ENTRY(fuzz_checkpoint_run)
