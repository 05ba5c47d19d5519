/* scenario_load.c — reading .pb and .pbtxt scenarios, text encoding through
 * protoc, compiling, freeing and the enum names.
 *
 * Text format is encoded by the real protoc rather than a parser of our own:
 * protoc is the reference implementation of the format, so authors get its
 * exact grammar and its line:column errors. The schema travels inside the
 * binary (scenario_proto_text), so this works from any working directory. */
#include "scenarios/scenario.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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
#include "scenarios/scenario.pb-c.h"

extern char **environ;
extern const char scenario_proto_text[];

/* Real scenarios are a few kilobytes; the cap keeps a hostile or mistaken
 * input (a video renamed .pb) from exhausting memory in the unpacker. */
#define SCENARIO_FILE_MAX ((size_t)16 << 20)

const char *gesture_name(gesture g) {
    switch (g) {
    case GESTURE_NONE: return "NONE";
    case GESTURE_STOP: return "STOP";
    case GESTURE_PROCEED: return "PROCEED";
    case GESTURE_SLOW: return "SLOW";
    case GESTURE_TURN_LEFT: return "TURN_LEFT";
    case GESTURE_TURN_RIGHT: return "TURN_RIGHT";
    }
    return "?";
}

const char *actor_kind_name(actor_kind k) {
    switch (k) {
    case ACTOR_VEHICLE: return "vehicle";
    case ACTOR_PEDESTRIAN: return "pedestrian";
    case ACTOR_GUARD: return "guard";
    case ACTOR_SIGN: return "sign";
    case ACTOR_OBSTACLE: return "obstacle";
    }
    return "?";
}

void scenario_free(scenario *sc) {
    if (!sc) return;
    free(sc->pb_bytes);
    memset(sc, 0, sizeof *sc);
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ---------------------------------------------------------------- protoc */

/* A scratch directory for the schema and protoc's stderr; removed in full by
 * protoc_dir_remove whatever happened in between. */
typedef struct {
    char dir[4096];
    char proto[4200];
    char errlog[4200];
} protoc_dir;

static int protoc_dir_create(protoc_dir *pd, const char *path, wm_error *err) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    if ((size_t)snprintf(pd->dir, sizeof pd->dir, "%s/wmsim-protoc-XXXXXX", base) >= sizeof pd->dir)
        return wm_fail(err, "%s: cannot encode text format: TMPDIR path too long", path);
    if (!mkdtemp(pd->dir))
        return wm_fail(err, "%s: cannot encode text format: cannot create a temporary directory in %s: %s",
                       path, base, strerror(errno));
    snprintf(pd->proto, sizeof pd->proto, "%s/scenario.proto", pd->dir);
    snprintf(pd->errlog, sizeof pd->errlog, "%s/protoc.stderr", pd->dir);
    FILE *f = fopen(pd->proto, "wb");
    size_t n = strlen(scenario_proto_text);
    int ok = f && fwrite(scenario_proto_text, 1, n, f) == n;
    int e = errno;
    if (f && fclose(f) != 0) ok = 0, e = errno;
    if (!ok) {
        unlink(pd->proto);
        rmdir(pd->dir);
        return wm_fail(err, "%s: cannot encode text format: cannot write %s: %s", path, pd->proto, strerror(e));
    }
    return 0;
}

static void protoc_dir_remove(protoc_dir *pd) {
    unlink(pd->proto);
    unlink(pd->errlog);
    rmdir(pd->dir);
}

/* Reads fd to EOF into a growing buffer. Past max bytes it keeps draining (so
 * the writer never blocks on a full pipe) but reports *too_big. */
static int read_fd_all(int fd, size_t max, uint8_t **out, size_t *out_len, int *too_big) {
    size_t cap = 4096, len = 0;
    uint8_t *buf = MALLOC_CHECK(cap);
    uint8_t sink[4096];
    *too_big = 0;
    for (;;) {
        if (len == cap && cap <= max) buf = REALLOC_CHECK(buf, cap *= 2, 1);
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
    *out = buf;
    *out_len = len;
    return 0;
}

/* Turns protoc's stderr into our messages: "input:12:7: reason" names the
 * file it read on stdin, so "input" becomes the scenario's path. */
static void report_protoc_errors(const char *path, const char *errlog, int status, wm_error *err) {
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
            if (strncmp(line, "input:", 6) == 0) wm_error_append(err, "%s:%s", path, line + 6);
            else wm_error_append(err, "%s: protoc: %s", path, line);
            n_lines++;
        }
        free(text);
    }
    if (n_lines > 0) return;
    if (WIFSIGNALED(status))
        wm_error_append(err, "%s: cannot encode text format: protoc killed by signal %d", path, WTERMSIG(status));
    else
        wm_error_append(err, "%s: cannot encode text format: protoc exited with status %d", path,
                        WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* Runs protoc with stdin = in_fd; stdout into *out. Returns 0, or -1 with err
 * filled (protoc's own messages, rewritten, when it ran and failed). */
static int run_protoc(const char *path, int in_fd, protoc_dir *pd, uint8_t **out, size_t *out_len, wm_error *err) {
    const char *exe = getenv("WMSIM_PROTOC");
    if (!exe || !*exe) exe = "protoc";
    char proto_path_arg[4200];
    snprintf(proto_path_arg, sizeof proto_path_arg, "--proto_path=%s", pd->dir);
    char *const argv[] = {(char *)exe, proto_path_arg, "--encode=wmsim.Scenario", pd->proto, NULL};

    int fds[2];
    if (pipe(fds) != 0) return wm_fail(err, "%s: cannot encode text format: pipe: %s", path, strerror(errno));
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
    if (rc == 0) rc = posix_spawn_file_actions_addopen(&fa, 2, pd->errlog, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid = -1;
    if (rc == 0) rc = posix_spawnp(&pid, exe, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        if (rc == ENOENT)
            return wm_fail(err, "%s: cannot encode text format: protoc not found on PATH "
                                "(install Debian's protobuf-compiler, or load a compiled .pb)", path);
        return wm_fail(err, "%s: cannot encode text format: cannot run %s: %s", path, exe, strerror(rc));
    }

    uint8_t *buf = NULL;
    size_t len = 0;
    int too_big = 0;
    int read_failed = read_fd_all(fds[0], SCENARIO_FILE_MAX, &buf, &len, &too_big) != 0;
    int read_errno = errno;
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            free(buf);
            return wm_fail(err, "%s: cannot encode text format: waitpid: %s", path, strerror(errno));
        }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        free(buf);
        report_protoc_errors(path, pd->errlog, status, err);
        return -1;
    }
    if (read_failed) return wm_fail(err, "%s: cannot encode text format: reading protoc's output: %s", path,
                                    strerror(read_errno));
    if (too_big) {
        free(buf);
        return wm_fail(err, "%s: encoded scenario larger than the %zu-byte limit", path, SCENARIO_FILE_MAX);
    }
    *out = buf;
    *out_len = len;
    return 0;
}

int scenario_encode_text(const char *path, uint8_t **out, size_t *out_len, wm_error *err) {
    *out = NULL;
    *out_len = 0;
    if (err) err->msg[0] = '\0';
    /* Opened here rather than by the spawn's file actions, so a missing
     * scenario is reported as such and not mistaken for a missing protoc. */
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
    if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > SCENARIO_FILE_MAX) {
        close(fd);
        return wm_fail(err, "%s: file larger than the %zu-byte limit", path, SCENARIO_FILE_MAX);
    }
    protoc_dir pd;
    if (protoc_dir_create(&pd, path, err)) {
        close(fd);
        return -1;
    }
    int rc = run_protoc(path, fd, &pd, out, out_len, err);
    close(fd);
    protoc_dir_remove(&pd);
    return rc;
}

/* ---------------------------------------------------------------- loading */

/* The default scenario id: the file's base name without its extension, so
 * `out/<id>` and log headers stay meaningful for scenarios without an id. */
static void default_id(const char *name, char *id, size_t cap) {
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    size_t n = strcspn(base, ".");
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        char c = base[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        id[k++] = ok ? c : '_';
    }
    id[k] = '\0';
    if (k == 0) snprintf(id, cap, "scenario");
}

/* Takes ownership of bytes (freed on failure, kept in sc on success). */
static int load_owned(const char *name, uint8_t *bytes, size_t len, scenario *sc, wm_error *err) {
    memset(sc, 0, sizeof *sc);
    if (err) err->msg[0] = '\0';
    if (len > SCENARIO_FILE_MAX) {
        free(bytes);
        return wm_fail(err, "%s: %zu bytes, larger than the %zu-byte limit for a scenario", name, len,
                       SCENARIO_FILE_MAX);
    }
    Wmsim__Scenario *m = wmsim__scenario__unpack(NULL, len, bytes);
    if (!m) {
        free(bytes);
        return wm_fail(err, "%s: not a valid binary Scenario protobuf (truncated or corrupt)", name);
    }
    if (scenario_validate_msg(name, m, err) != 0) {
        wmsim__scenario__free_unpacked(m, NULL);
        free(bytes);
        memset(sc, 0, sizeof *sc);
        return -1;
    }
    char id[SCENARIO_ID_MAX];
    default_id(name, id, sizeof id);
    scenario_from_msg(m, id, sc);
    wmsim__scenario__free_unpacked(m, NULL);
    sc->pb_bytes = bytes;
    sc->pb_len = len;
    sc->hash = hash_fnv1a64(bytes, len);
    return 0;
}

int scenario_load_pb(const char *name, const uint8_t *pb, size_t len, scenario *sc, wm_error *err) {
    if (len > SCENARIO_FILE_MAX) {
        memset(sc, 0, sizeof *sc);
        return wm_fail(err, "%s: %zu bytes, larger than the %zu-byte limit for a scenario", name, len,
                       SCENARIO_FILE_MAX);
    }
    uint8_t *copy = MALLOC_CHECK(len);
    if (len) memcpy(copy, pb, len);
    return load_owned(name, copy, len, sc, err);
}

int scenario_load(const char *path, scenario *sc, wm_error *err) {
    memset(sc, 0, sizeof *sc);
    uint8_t *bytes;
    size_t len;
    if (ends_with(path, ".pb")) {
        if (file_read_all(path, SCENARIO_FILE_MAX, &bytes, &len, err)) return -1;
    } else {
        if (scenario_encode_text(path, &bytes, &len, err)) return -1;
    }
    return load_owned(path, bytes, len, sc, err);
}

int scenario_compile(const char *in_path, const char *out_path, wm_error *err) {
    scenario *sc = CALLOC_CHECK(1, sizeof *sc);
    int rc = scenario_load(in_path, sc, err);
    if (rc == 0) rc = file_write_atomic(out_path, sc->pb_bytes, sc->pb_len, err);
    scenario_free(sc);
    free(sc);
    return rc;
}
