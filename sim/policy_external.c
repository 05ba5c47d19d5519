/* policy_external.c — policies that live outside wmsim: a process spawned
 * without a shell (exec:) or a server behind a Unix stream socket (unix:),
 * both speaking sim/policy_protocol.proto, each message a 4-byte
 * little-endian length and its encoding.
 *
 * The process's stdin and stdout are one end of a socketpair rather than
 * two pipes: wmsim then writes with MSG_NOSIGNAL, so a policy that dies
 * mid-write is an EPIPE to report, not a SIGPIPE that kills wmsim, and no
 * process-wide signal disposition has to change.
 *
 * Every failure tears the connection down (the process is killed and
 * reaped) and is reported with the policy's name, the step and the reason;
 * the next reset starts the process or connects again, so the episodes
 * after a failed one run as if nothing had happened. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/check.h"
#include "core/clock.h"
#include "sim/policy.h"
#include "sim/policy_external.h"
#include "sim/policy_protocol.pb-c.h"

#define EXTERNAL_PROTOCOL_VERSION 1
#define EXTERNAL_EXIT_GRACE_S 1.0 /* after the stream closes, for the process to exit on its own */
#define EXTERNAL_MAX_ARGS 256

extern char **environ;

typedef struct {
    int is_exec;
    char **argv;        /* exec: NULL-terminated, argv[0] looked up on PATH */
    char *argv_text;    /* exec: the storage argv points into */
    char *socket_path;  /* unix */
    policy_options o;
    int fd;             /* -1: no connection */
    pid_t pid;          /* exec: the running process, 0 none */
    int answered;       /* Actions since the start or connect: 0 means the startup timeout */
    uint8_t *buf;       /* encode and decode buffer */
    size_t cap;
} external_state;

static void buf_reserve(external_state *st, size_t n) {
    if (n <= st->cap) return;
    st->buf = REALLOC_CHECK(st->buf, n, 1);
    st->cap = n;
}

/* --------------------------------------------------------------- the process */

/* Waits up to wait_s for the process to exit, then kills it; describes how
 * it ended into why ("exited with status 3", "was killed by signal 11
 * (Segmentation fault)"; empty when wmsim had to kill it). */
static void process_reap(external_state *st, double wait_s, char *why, size_t why_len) {
    if (why_len) why[0] = '\0';
    if (st->pid <= 0) return;
    int status = 0;
    pid_t got = 0;
    for (double end = clock_now_s() + wait_s;;) {
        got = waitpid(st->pid, &status, WNOHANG);
        if (got != 0 || clock_now_s() >= end) break;
        nanosleep(&(struct timespec){0, 5 * 1000 * 1000}, NULL);
    }
    if (got == 0) {
        kill(st->pid, SIGKILL);
        waitpid(st->pid, &status, 0);
    } else if (got == st->pid && why_len) {
        if (WIFEXITED(status)) snprintf(why, why_len, "exited with status %d", WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
            snprintf(why, why_len, "was killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    }
    st->pid = 0;
}

static void connection_close(external_state *st, double wait_s, char *why, size_t why_len) {
    if (st->fd >= 0) {
        shutdown(st->fd, SHUT_WR); /* EOF on the process's stdin: its cue to exit */
        if (!st->is_exec) close(st->fd), st->fd = -1;
    }
    if (st->is_exec) process_reap(st, wait_s, why, why_len);
    else if (why_len) why[0] = '\0';
    if (st->fd >= 0) close(st->fd), st->fd = -1;
}

static int set_nonblocking(int fd, wm_error *err) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return wm_fail(err, "fcntl: %s", strerror(errno));
    return 0;
}

static int process_start(external_state *st, const char *name, wm_error *err) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
        return wm_fail(err, "policy %s: socketpair: %s", name, strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    /* dup2 clears close-on-exec on 0 and 1; every other descriptor of ours stays closed in the child. */
    posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
    pid_t pid;
    int rc = posix_spawnp(&pid, st->argv[0], &fa, NULL, st->argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(sv[1]);
    if (rc) {
        close(sv[0]);
        return wm_fail(err, "policy %s: cannot start '%s': %s", name, st->argv[0], strerror(rc));
    }
    st->pid = pid, st->fd = sv[0], st->answered = 0;
    return set_nonblocking(st->fd, err) ? wm_error_prefix(err, "policy %s: ", name) : 0;
}

static int socket_connect(external_state *st, const char *name, wm_error *err) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(st->socket_path) >= sizeof addr.sun_path)
        return wm_fail(err, "policy %s: socket path longer than %zu bytes", name, sizeof addr.sun_path - 1);
    strcpy(addr.sun_path, st->socket_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return wm_fail(err, "policy %s: socket: %s", name, strerror(errno));
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr)) {
        int e = errno;
        close(fd);
        return wm_fail(err, "policy %s: cannot connect: %s", name, strerror(e));
    }
    st->fd = fd, st->answered = 0;
    return set_nonblocking(fd, err) ? wm_error_prefix(err, "policy %s: ", name) : 0;
}

static int connection_open(external_state *st, const char *name, wm_error *err) {
    return st->is_exec ? process_start(st, name, err) : socket_connect(st, name, err);
}

/* ------------------------------------------------------------------ framing */

typedef enum { IO_OK, IO_TIMEOUT, IO_CLOSED, IO_ERROR } io_status;

static io_status wait_fd(int fd, short events, double deadline) {
    for (;;) {
        double left = deadline - clock_now_s();
        if (left <= 0) return IO_TIMEOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)ceil(left * 1000.0));
        if (n > 0) return IO_OK;
        if (n < 0 && errno != EINTR) return IO_ERROR;
    }
}

static io_status send_all(int fd, const uint8_t *p, size_t n, double deadline) {
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k > 0) {
            p += k, n -= (size_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            io_status s = wait_fd(fd, POLLOUT, deadline);
            if (s != IO_OK) return s;
            continue;
        }
        return (errno == EPIPE || errno == ECONNRESET) ? IO_CLOSED : IO_ERROR;
    }
    return IO_OK;
}

static io_status recv_all(int fd, uint8_t *p, size_t n, double deadline) {
    while (n > 0) {
        ssize_t k = recv(fd, p, n, 0);
        if (k > 0) {
            p += k, n -= (size_t)k;
            continue;
        }
        if (k == 0) return IO_CLOSED;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            io_status s = wait_fd(fd, POLLIN, deadline);
            if (s != IO_OK) return s;
            continue;
        }
        return errno == ECONNRESET ? IO_CLOSED : IO_ERROR;
    }
    return IO_OK;
}

static void put_u32le(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32le(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Ends the connection after a failure at step and writes the reason. A
 * process whose stream closed gets a moment to finish dying, so the reason
 * can say how it ended; after a timeout or a protocol error it is killed at
 * once (what it does next cannot change the verdict). */
static int fail_step(policy *self, int step, io_status s, const char *what, wm_error *err) {
    external_state *st = self->state;
    char ended[160];
    connection_close(st, s == IO_CLOSED ? EXTERNAL_EXIT_GRACE_S : 0.0, ended, sizeof ended);
    if (s == IO_TIMEOUT) {
        double limit = st->answered ? st->o.step_timeout_s : st->o.startup_timeout_s;
        return wm_fail(err, "policy %s did not answer step %d within %g s", self->name, step, limit);
    }
    if (s != IO_CLOSED) return wm_fail(err, "policy %s %s at step %d", self->name, what, step);
    if (ended[0]) return wm_fail(err, "policy %s %s before answering step %d", self->name, ended, step);
    return wm_fail(err, "policy %s closed %s before answering step %d", self->name,
                   st->is_exec ? "its output" : "the connection", step);
}

/* ------------------------------------------------------------ the policy */

static int external_reset(policy *self, const sim_world *w, wm_error *err) {
    (void)w;
    external_state *st = self->state;
    if (st->fd >= 0) return 0; /* the next step 0 tells the policy an episode begins */
    return connection_open(st, self->name, err);
}

static size_t observation_encode(external_state *st, const policy_observation *obs) {
    Wmsim__Policy__Observation m = WMSIM__POLICY__OBSERVATION__INIT;
    m.has_protocol_version = 1, m.protocol_version = EXTERNAL_PROTOCOL_VERSION;
    m.episode_id = (char *)(obs->episode_id ? obs->episode_id : "");
    m.has_step = 1, m.step = (uint32_t)obs->step;
    m.has_t_s = 1, m.t_s = obs->t;
    m.has_speed_mps = 1, m.speed_mps = obs->speed;
    m.has_yaw_rate_rps = 1, m.yaw_rate_rps = obs->yaw_rate;
    m.instruction = (char *)(obs->instruction ? obs->instruction : "");
    if (obs->limits) {
        m.has_accel_max = m.has_brake_max = m.has_steer_max = 1;
        m.accel_max = obs->limits->accel_max, m.brake_max = obs->limits->brake_max;
        m.steer_max = obs->limits->steer_max;
    }
    Wmsim__Policy__CameraFrame frame = WMSIM__POLICY__CAMERA_FRAME__INIT, *frames[1] = {&frame};
    if (obs->frame) {
        frame.camera = "front";
        frame.has_width = frame.has_height = frame.has_rgb = frame.has_t_s = 1;
        frame.width = (uint32_t)obs->frame->width, frame.height = (uint32_t)obs->frame->height;
        frame.rgb.data = obs->frame->rgb;
        frame.rgb.len = (size_t)obs->frame->width * obs->frame->height * 3;
        frame.t_s = obs->t;
        m.n_frames = 1, m.frames = frames;
    }
    size_t len = wmsim__policy__observation__get_packed_size(&m);
    buf_reserve(st, len + 4);
    put_u32le(st->buf, (uint32_t)len);
    wmsim__policy__observation__pack(&m, st->buf + 4);
    return len + 4;
}

/* The Action's fields into cmd, reasoning and the policy's plan; why names what is wrong. */
static int action_fields(const Wmsim__Policy__Action *a, int step, policy *self, action *cmd,
                         char reasoning[POLICY_REASONING_MAX], char *why, size_t why_len) {
    if (!a->has_step) return snprintf(why, why_len, "sent an Action without step"), -1;
    if ((int64_t)a->step != step)
        return snprintf(why, why_len, "sent an Action for step %u", a->step), -1;
    if (!a->has_accel) return snprintf(why, why_len, "sent an Action without accel"), -1;
    if (!a->has_brake) return snprintf(why, why_len, "sent an Action without brake"), -1;
    if (!a->has_steer) return snprintf(why, why_len, "sent an Action without steer"), -1;
    if (a->n_trajectory > POLICY_PLAN_MAX)
        return snprintf(why, why_len, "sent an Action with %zu waypoints (limit %d)", a->n_trajectory,
                        POLICY_PLAN_MAX), -1;
    for (size_t i = 0; i < a->n_trajectory; i++) {
        const Wmsim__Policy__Waypoint *w = a->trajectory[i];
        if (!isfinite(w->x_m) || !isfinite(w->y_m) || !isfinite(w->t_s))
            return snprintf(why, why_len, "sent an Action whose waypoint %zu is not finite", i), -1;
        self->plan[i][0] = w->x_m, self->plan[i][1] = w->y_m, self->plan[i][2] = w->t_s;
    }
    self->n_plan = (int)a->n_trajectory;
    *cmd = (action){a->accel, a->brake, a->steer};
    if (a->reasoning) snprintf(reasoning, POLICY_REASONING_MAX, "%s", a->reasoning);
    return 0;
}

int policy_action_length_check(const uint8_t prefix[POLICY_FRAME_PREFIX_BYTES], size_t max_bytes, uint32_t *len,
                               char *why, size_t why_len) {
    *len = get_u32le(prefix);
    if (*len > max_bytes)
        return snprintf(why, why_len, "announced a %u-byte Action (limit %zu bytes, --policy-max-bytes)", *len,
                        max_bytes), -1;
    return 0;
}

int policy_action_decode(const uint8_t *msg, size_t len, int step, policy *self, action *cmd,
                         char reasoning[POLICY_REASONING_MAX], char *why, size_t why_len) {
    Wmsim__Policy__Action *a = wmsim__policy__action__unpack(NULL, len, msg);
    if (!a) return snprintf(why, why_len, "sent %zu bytes that do not decode as an Action", len), -1;
    int bad = action_fields(a, step, self, cmd, reasoning, why, why_len);
    wmsim__policy__action__free_unpacked(a, NULL);
    return bad;
}

static int external_act(policy *self, const policy_observation *obs, action *cmd,
                        char reasoning[POLICY_REASONING_MAX], wm_error *err) {
    external_state *st = self->state;
    int step = obs->step;
    if (st->fd < 0 && connection_open(st, self->name, err)) return -1;
    double deadline = clock_now_s() + (st->answered ? st->o.step_timeout_s : st->o.startup_timeout_s);

    size_t n = observation_encode(st, obs);
    io_status s = send_all(st->fd, st->buf, n, deadline);
    if (s != IO_OK) return fail_step(self, step, s, "broke the stream while wmsim sent the Observation", err);

    uint8_t header[4];
    s = recv_all(st->fd, header, 4, deadline);
    if (s != IO_OK) return fail_step(self, step, s, "broke the stream while wmsim read the Action", err);
    uint32_t len;
    char what[200];
    if (policy_action_length_check(header, st->o.max_message_bytes, &len, what, sizeof what))
        return fail_step(self, step, IO_ERROR, what, err);
    buf_reserve(st, (size_t)len + 1);
    s = recv_all(st->fd, st->buf, len, deadline);
    if (s != IO_OK) return fail_step(self, step, s, "broke the stream while wmsim read the Action", err);

    if (policy_action_decode(st->buf, len, step, self, cmd, reasoning, what, sizeof what))
        return fail_step(self, step, IO_ERROR, what, err);
    st->answered++;
    return 0;
}

static void external_destroy(policy *self) {
    external_state *st = self->state;
    if (!st) return;
    connection_close(st, EXTERNAL_EXIT_GRACE_S, NULL, 0);
    free(st->argv), free(st->argv_text), free(st->socket_path), free(st->buf);
    free(st);
    self->state = NULL;
}

static external_state *external_new(const policy_options *o, policy *pol, const char *kind, const char *target) {
    memset(pol, 0, sizeof *pol);
    external_state *st = CALLOC_CHECK(1, sizeof *st);
    st->o = *o, st->fd = -1;
    snprintf(pol->name, sizeof pol->name, "%s:%s", kind, target);
    pol->sees_frames = 1;
    pol->state = st;
    pol->reset = external_reset;
    pol->act = external_act;
    pol->destroy = external_destroy;
    return st;
}

int policy_exec_create(const char *cmdline, const policy_options *o, policy *pol, wm_error *err) {
    external_state *st = external_new(o, pol, "exec", cmdline);
    st->is_exec = 1;
    st->argv_text = STRDUP_CHECK(cmdline);
    st->argv = CALLOC_CHECK(EXTERNAL_MAX_ARGS + 1, sizeof *st->argv);
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(st->argv_text, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (n == EXTERNAL_MAX_ARGS) {
            external_destroy(pol);
            return wm_fail(err, "--policy exec: more than %d arguments", EXTERNAL_MAX_ARGS);
        }
        st->argv[n++] = tok;
    }
    if (n == 0) {
        external_destroy(pol);
        return wm_fail(err, "--policy exec: no command (expected exec:CMD ARGS...)");
    }
    if (process_start(st, pol->name, err)) {
        external_destroy(pol);
        return -1;
    }
    return 0;
}

int policy_unix_create(const char *path, const policy_options *o, policy *pol, wm_error *err) {
    if (!path[0]) return wm_fail(err, "--policy unix: no socket path (expected unix:PATH)");
    external_state *st = external_new(o, pol, "unix", path);
    st->socket_path = STRDUP_CHECK(path);
    if (socket_connect(st, pol->name, err)) {
        external_destroy(pol);
        return -1;
    }
    return 0;
}
