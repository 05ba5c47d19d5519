/* protoc.c — running protoc --encode / --decode with the schema written to a
 * scratch directory, its stdout read back and its stderr turned into our
 * messages. */
#include "scenarios/protoc.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/check.h"
#include "core/fileio.h"

extern char **environ;

/* A scratch directory for the schema, protoc's stdin (decode) and its
 * stderr; removed in full by scratch_remove whatever happened in between. */
typedef struct {
    char dir[4096];
    char proto[4400];
    char input[4400];
    char errlog[4400];
} scratch;

static int write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(data, 1, n, f) == n;
    int e = errno;
    if (f && fclose(f) != 0) ok = 0, e = errno;
    errno = e;
    return ok ? 0 : -1;
}

static int scratch_create(scratch *sd, const protoc_schema *s, const char *what, const char *name, wm_error *err) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    if ((size_t)snprintf(sd->dir, sizeof sd->dir, "%s/wmsim-protoc-XXXXXX", base) >= sizeof sd->dir)
        return wm_fail(err, "%s: cannot %s: TMPDIR path too long", name, what);
    if (!mkdtemp(sd->dir))
        return wm_fail(err, "%s: cannot %s: cannot create a temporary directory in %s: %s", name, what, base,
                       strerror(errno));
    snprintf(sd->proto, sizeof sd->proto, "%s/%s", sd->dir, s->file_name);
    snprintf(sd->input, sizeof sd->input, "%s/input.pb", sd->dir);
    snprintf(sd->errlog, sizeof sd->errlog, "%s/protoc.stderr", sd->dir);
    if (write_file(sd->proto, s->text, strlen(s->text))) {
        int e = errno;
        unlink(sd->proto);
        rmdir(sd->dir);
        return wm_fail(err, "%s: cannot %s: cannot write %s: %s", name, what, sd->proto, strerror(e));
    }
    return 0;
}

static void scratch_remove(scratch *sd) {
    unlink(sd->proto);
    unlink(sd->input);
    unlink(sd->errlog);
    rmdir(sd->dir);
}

/* Reads fd to EOF into a growing buffer (one spare byte for a NUL). Past max
 * bytes it keeps draining (so the writer never blocks on a full pipe) but
 * reports *too_big. */
static int read_fd_all(int fd, size_t max, uint8_t **out, size_t *out_len, int *too_big) {
    size_t cap = 4096, len = 0;
    uint8_t *buf = MALLOC_CHECK(cap + 1);
    uint8_t sink[4096];
    *too_big = 0;
    for (;;) {
        if (len == cap && cap <= max) buf = REALLOC_CHECK(buf, (cap *= 2) + 1, 1);
        int draining = len == cap;
        ssize_t got = draining ? read(fd, sink, sizeof sink) : read(fd, buf + len, cap - len);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            free(buf);
            return -1;
        }
        if (got == 0) break;
        if (draining) *too_big = 1;
        else len += (size_t)got;
    }
    if (len > max) *too_big = 1;
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return 0;
}

/* Turns protoc's stderr into our messages: "input:12:7: reason" names the
 * file it read on stdin, so "input" becomes the file's name. */
static void report_protoc_errors(const char *name, const char *what, const char *errlog, int status, wm_error *err) {
    uint8_t *text = NULL;
    size_t len = 0;
    wm_error ignored;
    int n_lines = 0;
    if (file_read_all(errlog, 1 << 20, &text, &len, &ignored) == 0) {
        char *save = NULL;
        for (char *line = strtok_r((char *)text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            size_t l = strlen(line);
            if (l && line[l - 1] == '\r') line[--l] = '\0';
            if (l == 0) continue;
            /* protoc's closing summary adds nothing to the located errors. */
            if (strcmp(line, "Failed to parse input.") == 0 && n_lines > 0) continue;
            if (strncmp(line, "input:", 6) == 0) wm_error_append(err, "%s:%s", name, line + 6);
            else wm_error_append(err, "%s: protoc: %s", name, line);
            n_lines++;
        }
        free(text);
    }
    if (n_lines > 0) return;
    if (WIFSIGNALED(status))
        wm_error_append(err, "%s: cannot %s: protoc killed by signal %d", name, what, WTERMSIG(status));
    else
        wm_error_append(err, "%s: cannot %s: protoc exited with status %d", name, what,
                        WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* Runs `protoc MODE=TYPE schema` with stdin = in_fd and stdout into *out. */
static int run_protoc(const protoc_schema *s, const char *mode, const char *what, const char *name, int in_fd,
                      const scratch *sd, size_t max, uint8_t **out, size_t *out_len, wm_error *err) {
    const char *exe = getenv("WMSIM_PROTOC");
    if (!exe || !*exe) exe = "protoc";
    char proto_path_arg[4200], mode_arg[256];
    snprintf(proto_path_arg, sizeof proto_path_arg, "--proto_path=%s", sd->dir);
    snprintf(mode_arg, sizeof mode_arg, "%s=%s", mode, s->type);
    char *const argv[] = {(char *)exe, proto_path_arg, mode_arg, (char *)sd->proto, NULL};

    int fds[2];
    if (pipe(fds) != 0) return wm_fail(err, "%s: cannot %s: pipe: %s", name, what, strerror(errno));
    /* Only the dup2'ed copies may reach protoc: a stray write end kept open in
     * the child would hold off EOF on our read end forever. */
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);

    posix_spawn_file_actions_t fa;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    /* stderr to a file, not a second pipe: reading two pipes in turn can
     * deadlock when protoc fills the one not being read. */
    if (rc == 0) rc = posix_spawn_file_actions_addopen(&fa, 2, sd->errlog, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid = -1;
    if (rc == 0) rc = posix_spawnp(&pid, exe, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        if (rc == ENOENT)
            return wm_fail(err, "%s: cannot %s: protoc not found on PATH "
                                "(install Debian's protobuf-compiler, or use a compiled .pb)", name, what);
        return wm_fail(err, "%s: cannot %s: cannot run %s: %s", name, what, exe, strerror(rc));
    }

    uint8_t *buf = NULL;
    size_t len = 0;
    int too_big = 0;
    int read_failed = read_fd_all(fds[0], max, &buf, &len, &too_big) != 0;
    int read_errno = errno;
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            free(buf);
            return wm_fail(err, "%s: cannot %s: waitpid: %s", name, what, strerror(errno));
        }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        free(buf);
        report_protoc_errors(name, what, sd->errlog, status, err);
        return -1;
    }
    if (read_failed) return wm_fail(err, "%s: cannot %s: reading protoc's output: %s", name, what, strerror(read_errno));
    if (too_big) {
        free(buf);
        return wm_fail(err, "%s: protoc's output is larger than the %zu-byte limit", name, max);
    }
    *out = buf;
    *out_len = len;
    return 0;
}

int protoc_encode_file(const protoc_schema *s, const char *path, size_t max, uint8_t **out, size_t *out_len,
                       wm_error *err) {
    *out = NULL;
    *out_len = 0;
    if (err) err->msg[0] = '\0';
    const char *what = "encode text format";
    /* Opened here rather than by the spawn's file actions, so a missing
     * file is reported as such and not mistaken for a missing protoc. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return wm_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return wm_fail(err, "%s: cannot stat: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return wm_fail(err, "%s: is a directory", path);
    }
    if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > max) {
        close(fd);
        return wm_fail(err, "%s: file larger than the %zu-byte limit", path, max);
    }
    scratch sd;
    if (scratch_create(&sd, s, what, path, err)) {
        close(fd);
        return -1;
    }
    int rc = run_protoc(s, "--encode", what, path, fd, &sd, max, out, out_len, err);
    close(fd);
    scratch_remove(&sd);
    return rc;
}

int protoc_decode(const protoc_schema *s, const char *name, const uint8_t *pb, size_t len, char **text,
                  wm_error *err) {
    *text = NULL;
    if (err) err->msg[0] = '\0';
    const char *what = "decode to text format";
    scratch sd;
    if (scratch_create(&sd, s, what, name, err)) return -1;
    int rc = -1;
    if (write_file(sd.input, pb, len)) {
        wm_fail(err, "%s: cannot %s: cannot write %s: %s", name, what, sd.input, strerror(errno));
    } else {
        int fd = open(sd.input, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            wm_fail(err, "%s: cannot %s: cannot open %s: %s", name, what, sd.input, strerror(errno));
        } else {
            uint8_t *out;
            size_t out_len;
            /* Text is a few times the binary; the floor covers tiny messages. */
            rc = run_protoc(s, "--decode", what, name, fd, &sd, 16 * len + 65536, &out, &out_len, err);
            close(fd);
            if (rc == 0) *text = (char *)out;
        }
    }
    scratch_remove(&sd);
    return rc;
}
