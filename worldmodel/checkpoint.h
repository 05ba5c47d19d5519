/* checkpoint.h — the one binary container for model weights and training
 * state (byte layout: worldmodel/FORMAT.md).
 *
 * Usage (a model whose parameters are one block, tensors back to back):
 *     ckpt_tensor t[] = {{"enc.0.w", 4, {32, 3, 3, 3}, NULL}, {"enc.0.b", 1, {32}, NULL}, ...};
 *     ckpt_tensors_layout(t, n, params);                  // data pointers into the block
 *     int32_t config[CKPT_CONFIG_SLOTS] = {width, height, ...};
 *     if (ckpt_write(path, CKPT_KIND_MODEL, CKPT_MODEL_TOKENIZER, config, t, n, NULL, &err)) ...
 *
 *     ckpt_info info;                                     // config first, to build the model
 *     if (ckpt_inspect(path, CKPT_KIND_MODEL, CKPT_MODEL_TOKENIZER, &info, &err)) ...
 *     ... build the model from info.config, describe its tensors in t ...
 *     ckpt_info_free(&info);
 *     if (ckpt_read(path, CKPT_KIND_MODEL, CKPT_MODEL_TOKENIZER, t, n, NULL, &err)) ...
 *
 * A file is a 256-slot int32 header (magic per file kind, version, model
 * type, tensor count, dtype, 59 model-defined config ints, zero padding), a
 * tensor table (name, shape, float count), the fp32 data in table order, and
 * a trailer (FNV-1a 64 checksum of everything before it, total length).
 * Writes are atomic (core/fileio.h). Reads check everything before touching
 * the caller's buffers: a wrong magic (with a hint when the file is the
 * other kind), a newer version, the wrong model type, truncation, a bad
 * checksum, or tensors that differ from what the caller expects are errors
 * naming the path, never a crash.
 *
 * Training-state files (CKPT_KIND_TRAIN_STATE) use the same container: the
 * optimizer's moments as tensors, the progress (step, data position, RNG
 * state) in the config slots through ckpt_train_progress_put/get. */
#ifndef WMSIM_CHECKPOINT_H
#define WMSIM_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/rng.h"

/* Header slot 0: a date-style magic per file kind. */
#define CKPT_KIND_MODEL 20261129       /* model weights */
#define CKPT_KIND_TRAIN_STATE 20261130 /* optimizer state and training progress */

#define CKPT_VERSION 1 /* header slot 1: the format version this wmsim writes and reads */

/* Header slot 2: which model the tensors belong to. */
#define CKPT_MODEL_TOKENIZER 1
#define CKPT_MODEL_DYNAMICS 2
#define CKPT_MODEL_ESTIMATOR 3 /* the inverse-dynamics estimator (worldmodel/estimator.h) */
#define CKPT_MODEL_VLA 4       /* the camera-based driving policy vla-tiny (worldmodel/vla.h) */

/* Header slot 4: the tensors' element type. */
#define CKPT_DTYPE_F32 0
#define CKPT_DTYPE_BF16 1 /* reserved: not written or read yet */

#define CKPT_HEADER_SLOTS 256
#define CKPT_HEADER_BYTES (CKPT_HEADER_SLOTS * 4)
#define CKPT_CONFIG_FIRST_SLOT 5
#define CKPT_CONFIG_SLOTS 59 /* header slots 5..63: config[i] is slot 5 + i */
#define CKPT_NAME_LEN 64     /* a name is 1..63 printable ASCII bytes, NUL-padded */
#define CKPT_MAX_DIMS 4
#define CKPT_ENTRY_BYTES 96  /* one tensor-table entry */
#define CKPT_TRAILER_BYTES 16
#define CKPT_MAX_TENSORS 16384
#define CKPT_MAX_FILE_BYTES (UINT64_C(1) << 36) /* 64 GiB: larger files are refused */

/* One tensor: its name, shape (outermost first) and floats. */
typedef struct {
    char name[CKPT_NAME_LEN];
    int rank;                 /* 1..CKPT_MAX_DIMS */
    int dims[CKPT_MAX_DIMS];  /* dims[0..rank-1] >= 1; the rest unused */
    float *data;              /* ckpt_write reads it; ckpt_read fills it */
} ckpt_tensor;

/* Floats in t (the product of its dims). */
size_t ckpt_tensor_floats(const ckpt_tensor *t);

/* Points t[0..n-1].data back to back into block, in order; returns the
 * floats used. For models whose parameters (or moments) are one block. */
size_t ckpt_tensors_layout(ckpt_tensor *t, int n, float *block);

/* Writes PATH atomically: kind is CKPT_KIND_*, model_type >= 1 (a
 * CKPT_MODEL_*), config the 59 model-defined ints (NULL: zeros), t the n
 * tensors in their fixed order (0 <= n <= CKPT_MAX_TENSORS; names unique).
 * checksum (may be NULL) receives the checksum written in the trailer. On
 * failure an existing PATH is left as it was. */
int ckpt_write(const char *path, int32_t kind, int32_t model_type, const int32_t config[CKPT_CONFIG_SLOTS],
               const ckpt_tensor *t, int n, uint64_t *checksum, wm_error *err);

/* Reads PATH into the caller's buffers: the file must be of kind and
 * model_type (0: any) and hold exactly the n tensors of `expected`, with the
 * same names and shapes in the same order; each tensor's floats go to
 * expected[i].data. config (may be NULL) receives the 59 config ints. The
 * whole file is validated, checksum included, before any buffer is
 * written; on failure they are untouched (unless the disk fails part way
 * through the final copy). */
int ckpt_read(const char *path, int32_t kind, int32_t model_type, const ckpt_tensor *expected, int n,
              int32_t config[CKPT_CONFIG_SLOTS], wm_error *err);

/* What a file holds, without its tensor data. */
typedef struct {
    int32_t kind, version, model_type, dtype;
    int32_t config[CKPT_CONFIG_SLOTS];
    int n_tensors;
    ckpt_tensor *tensors; /* (n_tensors), malloc'ed; data pointers NULL */
    uint64_t file_bytes;
    uint64_t checksum;    /* the trailer's, verified */
} ckpt_info;

/* Validates PATH as ckpt_read does (kind, model_type: 0 accepts any) and
 * describes it. Free with ckpt_info_free; on failure info is empty. */
int ckpt_inspect(const char *path, int32_t kind, int32_t model_type, ckpt_info *info, wm_error *err);
void ckpt_info_free(ckpt_info *info);

/* "tokenizer", "dynamics", or "unknown"; "model checkpoint", "training-state file", or "unknown". */
const char *ckpt_model_type_name(int32_t model_type);
const char *ckpt_kind_name(int32_t kind);

/* A uint64 in two config slots: config[slot] the low 32 bits, config[slot + 1]
 * the high 32 bits (each as the int32 of the same bits). */
void ckpt_config_put_u64(int32_t *config, int slot, uint64_t value);
uint64_t ckpt_config_get_u64(const int32_t *config, int slot);
/* An RNG state (4 x uint64) in 8 slots from slot, s[0] first. */
void ckpt_config_put_rng(int32_t *config, int slot, const wm_rng *rng);
void ckpt_config_get_rng(const int32_t *config, int slot, wm_rng *rng);

/* The training progress every training-state file carries, in config slots
 * 0..15; slots 16..58 are the trainer's own (e.g. a second RNG). */
#define CKPT_TRAIN_SLOT_STEP 0           /* u64: optimizer steps taken */
#define CKPT_TRAIN_SLOT_EPOCH 2          /* u64: passes over the data completed */
#define CKPT_TRAIN_SLOT_POSITION 4       /* u64: windows delivered in the current pass */
#define CKPT_TRAIN_SLOT_RNG 6            /* 8 slots: the trainer's RNG state */
#define CKPT_TRAIN_SLOT_MODEL_CHECKSUM 14 /* u64: checksum of the paired model file (0: not recorded) */
#define CKPT_TRAIN_SLOT_FREE 16

typedef struct {
    uint64_t step, epoch, position;
    wm_rng rng;
    uint64_t model_checksum;
    int32_t own[CKPT_CONFIG_SLOTS - CKPT_TRAIN_SLOT_FREE]; /* slots 16..58, as the trainer likes */
} ckpt_train_progress;

void ckpt_train_progress_put(int32_t config[CKPT_CONFIG_SLOTS], const ckpt_train_progress *p);
void ckpt_train_progress_get(const int32_t config[CKPT_CONFIG_SLOTS], ckpt_train_progress *p);

#endif
