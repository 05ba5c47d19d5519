#include "core/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.h"

int file_read_all(const char *path, size_t max_len, uint8_t **data, size_t *len, wm_error *err) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return wm_fail(err, "%s: cannot open: %s", path, strerror(errno));
    /* One byte past max_len is enough to tell "too large" from "exactly max_len". */
    size_t cap = max_len < 4096 ? max_len + 1 : 4096, n = 0;
    uint8_t *buf = MALLOC_CHECK(cap + 1);
    for (;;) {
        if (n == cap) {
            if (cap > max_len) {
                free(buf);
                fclose(f);
                return wm_fail(err, "%s: file larger than the %zu-byte limit", path, max_len);
            }
            cap = cap * 2 > max_len + 1 ? max_len + 1 : cap * 2;
            buf = REALLOC_CHECK(buf, cap + 1, 1);
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int read_error = ferror(f);
    fclose(f);
    if (read_error) {
        free(buf);
        return wm_fail(err, "%s: read error", path);
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

int atomic_file_open(atomic_file *af, const char *path, wm_error *err) {
    memset(af, 0, sizeof *af);
    if (strlen(path) >= sizeof af->path) return wm_fail(err, "%s: path too long", path);
    snprintf(af->path, sizeof af->path, "%s", path);
    snprintf(af->tmp_path, sizeof af->tmp_path, "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp_path, "wb");
    if (!af->f) return wm_fail(err, "%s: cannot create: %s", path, strerror(errno));
    return 0;
}

int atomic_file_commit(atomic_file *af, wm_error *err) {
    int failed = fflush(af->f) != 0 || ferror(af->f);
    int saved_errno = errno;
    if (!failed && fsync(fileno(af->f)) != 0) failed = 1, saved_errno = errno;
    if (fclose(af->f) != 0 && !failed) failed = 1, saved_errno = errno;
    af->f = NULL;
    if (failed) {
        unlink(af->tmp_path);
        return wm_fail(err, "%s: write failed: %s", af->path, strerror(saved_errno));
    }
    if (rename(af->tmp_path, af->path) != 0) {
        saved_errno = errno;
        unlink(af->tmp_path);
        return wm_fail(err, "%s: cannot rename into place: %s", af->path, strerror(saved_errno));
    }
    return 0;
}

void atomic_file_abort(atomic_file *af) {
    if (af->f) fclose(af->f);
    af->f = NULL;
    if (af->tmp_path[0]) unlink(af->tmp_path);
}

int file_write_atomic(const char *path, const void *data, size_t len, wm_error *err) {
    atomic_file af;
    if (atomic_file_open(&af, path, err)) return -1;
    if (len && fwrite(data, 1, len, af.f) != len) {
        int e = errno;
        atomic_file_abort(&af);
        return wm_fail(err, "%s: write failed: %s", path, strerror(e));
    }
    return atomic_file_commit(&af, err);
}

int dir_create(const char *path, wm_error *err) {
    char buf[4096];
    if (strlen(path) >= sizeof buf) return wm_fail(err, "%s: path too long", path);
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return wm_fail(err, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return wm_fail(err, "%s: cannot create directory: %s", buf, strerror(errno));
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
        return wm_fail(err, "%s: not a directory", buf);
    return 0;
}

uint64_t hash_fnv1a64(const void *data, size_t len) {
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

int dir_create_parent(const char *path, wm_error *err) {
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) return 0;
    char dir[4096];
    if ((size_t)(slash - path) >= sizeof dir) return wm_fail(err, "%s: path too long", path);
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    return dir_create(dir, err);
}

int file_write_json(const char *path, json_t *root, size_t flags, wm_error *err) {
    char *text = json_dumps(root, flags);
    json_decref(root);
    if (!text) return wm_fail(err, "%s: cannot encode the JSON", path);
    size_t len = strlen(text);
    text = REALLOC_CHECK(text, len + 2, 1);
    text[len] = '\n', text[len + 1] = '\0';
    int rc = file_write_atomic(path, text, len + 1, err);
    free(text);
    return rc;
}

int dir_remove_stale(const char *dir, int (*stale)(const char *name, void *ctx), void *ctx, wm_error *err) {
    DIR *d = opendir(dir);
    if (!d) return wm_fail(err, "%s: %s", dir, strerror(errno));
    int rc = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!stale(e->d_name, ctx)) continue;
        char path[4096 + 256];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) && errno != ENOENT) {
            rc = wm_fail(err, "%s: cannot remove: %s", path, strerror(errno));
            break;
        }
    }
    closedir(d);
    return rc;
}
