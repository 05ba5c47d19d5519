/* train_run.c — see train_run.h. */
#include "worldmodel/train_run.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fileio.h"
#include "core/mathx.h"

float train_lr_at(float lr, float lr_min, int warmup, int steps, int step) {
    if (warmup > steps / 10) warmup = steps / 10;
    if (step <= warmup) return lr * (float)step / (float)warmup;
    double span = steps - warmup, done = (step - warmup) / (span > 0 ? span : 1);
    if (done > 1) done = 1;
    return lr_min + (lr - lr_min) * (float)(0.5 * (1.0 + cos(WM_PI * done)));
}

int train_schedule_check(const char *who, float lr, float lr_min, int warmup, wm_error *err) {
    if (warmup < 0 || lr <= 0 || lr_min < 0 || lr_min > lr)
        return wm_fail(err, "%s: learning rate %g to %g with %d warm-up steps is not a schedule", who, lr, lr_min,
                       warmup);
    return 0;
}

int train_state_path(const char *out_path, int resume, char *buf, size_t size, wm_error *err) {
    if (snprintf(buf, size, "%s.state", out_path) >= (int)size) return wm_fail(err, "%s: path too long", out_path);
    struct stat sb;
    if (!resume && stat(buf, &sb) == 0)
        return wm_fail(err, "%s: a training state is already there: resume it, or remove it to start afresh", buf);
    return 0;
}

/* The trainer-owned slots of a state's progress. */
enum { OWN_BATCH = 0, OWN_STREAM_ID = 2 };

void train_progress_tag(ckpt_train_progress *p, int batch, uint64_t stream_id) {
    ckpt_config_put_u64(p->own, OWN_BATCH, (uint64_t)batch);
    ckpt_config_put_u64(p->own, OWN_STREAM_ID, stream_id);
}

int train_progress_check(const ckpt_train_progress *p, const char *state_path, int batch, uint64_t stream_id,
                         int end, wm_error *err) {
    uint64_t b = ckpt_config_get_u64(p->own, OWN_BATCH), s = ckpt_config_get_u64(p->own, OWN_STREAM_ID);
    if (b != (uint64_t)batch || s != stream_id)
        return wm_fail(err,
                       "%s: trained with batch %llu on stream %llu, but this run has batch %d on stream %llu: a "
                       "resume must read the data in the same order",
                       state_path, (unsigned long long)b, (unsigned long long)s, batch, (unsigned long long)stream_id);
    if (p->step >= (uint64_t)end)
        return wm_fail(err, "%s: training already took %llu steps; ask for more than that with --steps", state_path,
                       (unsigned long long)p->step);
    return 0;
}

/* The CSV as it stood at `step`: the header and the rows up to it. */
static int csv_truncate(const char *path, const char *header, int step, wm_error *err) {
    uint8_t *data = NULL;
    size_t len = 0;
    struct stat sb;
    if (stat(path, &sb) != 0 && errno == ENOENT) return file_write_atomic(path, header, strlen(header), err);
    if (file_read_all(path, (size_t)1 << 30, &data, &len, err)) return -1;
    size_t keep = 0;
    for (size_t line = 0; line < len;) {
        size_t end = line;
        while (end < len && data[end] != '\n') end++;
        /* A last row without its newline was torn (a full disk, a kill):
         * kept, the resumed rows would be appended to it. */
        if (end == len) break;
        int row_step = atoi((const char *)data + line); /* the header reads as 0 */
        if (row_step > step) break;
        keep = end + 1;
        line = keep;
    }
    int rc = file_write_atomic(path, keep ? (const char *)data : header, keep ? keep : strlen(header), err);
    free(data);
    return rc;
}

int train_csv_open(const char *path, const char *header, int resume, int step, FILE **out, wm_error *err) {
    *out = NULL;
    if (!path) return 0;
    if (resume ? csv_truncate(path, header, step, err) : file_write_atomic(path, header, strlen(header), err))
        return -1;
    *out = fopen(path, "a");
    return *out ? 0 : wm_fail(err, "%s: %s", path, strerror(errno));
}

