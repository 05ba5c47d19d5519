/* bench/cluster — `wmsim eval` episodes per second with one MPI rank and
 * with two, as a cluster job runs it, and whether the rank count changes
 * the results.
 *
 * Each configuration is a real run of the wmsim binary (fork + exec) on the
 * same suite into a fresh folder, timed from the launch to the exit:
 *     1 rank    mpirun -np 1 wmsim eval ... --jobs 1 (the baseline)
 *     2 ranks   mpirun --oversubscribe -np 2 wmsim eval ... --jobs 1
 *     1 rank, --jobs 2   threads instead of ranks, for comparison
 * mpirun runs with --bind-to none (its default binds each rank to a core,
 * which would hold the --jobs 2 row to one core). Every process gets
 * OMP_NUM_THREADS=1 and OPENBLAS_NUM_THREADS=1: one core per rank or job,
 * as a Slurm task with --cpus-per-task does (vla-tiny's CNN would otherwise
 * spread over both cores and the rows would measure oversubscription).
 * Without MPI in the build (make MPI=0) the ranks rows are skipped and the
 * 1-rank row runs wmsim directly.
 *
 * The default suite, bench/cluster_suite.pbtxt, is the nightly suite's
 * entries in the oracle loop only (44 episodes); the default policy is
 * vla-tiny (expert when models/vla-tiny.wmck is missing). Videos are
 * written as eval's default does (all), so a row is the whole nightly job:
 * episode, render, policy, log, H.264 video, thumbnails and the three
 * files rank 0 writes.
 *
 * Baseline in the same process: each row's ratio is its episodes/s over
 * the 1-rank row's. Each row also gives eval's own elapsed_s (without the
 * launch), the steps run, and the CPU time other processes used meanwhile
 * (/proc/stat busy time less this process's and its children's); a row
 * where they used more than a tenth of the machine is flagged BUSY.
 *
 * Checks (the bench exits 1 when one fails): every run exits 0; the
 * results.json of every row equal the 1-rank row's apart from the fields
 * that describe the run (started, elapsed_s, jobs, ranks); every episode's
 * episode.log is byte-identical across the rows.
 *
 * The last line is a projection, not a measurement: episodes/s per H200 in
 * the generative loop at the world-model bar of DESIGN.md §5 (>= 5,000
 * generated frames/s batched on one H200, a target: there is no CUDA
 * world-model path yet, issue #10), one generated frame per step, at this
 * suite's mean steps per episode, and the CPU cores that would keep one
 * H200 fed at the 1-rank run's CPU time per step (policy, sim, render, log,
 * video: what stays on the CPU). --h200-frames-per-s replaces the bar with
 * a measured rate once the GPU benchmark gives one.
 *
 * Usage, from the repository root (the suite and model paths are relative):
 *     cluster [--wmsim PATH] [--suite FILE] [--policy P] [--keep]
 *             [--h200-frames-per-s N]
 * wmsim: --wmsim, else $WMSIM_BIN, else the wmsim of this bench's build
 * folder (BUILD/bench/cluster -> BUILD/wmsim). mpirun: $MPIRUN, else the
 * one on PATH. The runs go to a fresh folder under $TMPDIR (default /tmp),
 * removed at the end unless --keep. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchutil.h"
#include "core/device.h"
#include "sim/policy.h"

#define H200_BAR_FRAMES_PER_S 5000.0 /* DESIGN.md §5: world model on one H200, a target */
#define BUSY_FRACTION 0.1            /* others' CPU share of the machine that flags a row */
/* results.json fields that describe the run, not its results (sim/eval.h) */
static const char *const run_fields[] = {"started", "elapsed_s", "jobs", "ranks"};

typedef struct {
    const char *label;
    int ranks, jobs;   /* ranks 0: wmsim run directly, no mpirun */
    char out[PATH_MAX + 16];
    double wall_s, elapsed_s, others_cpu_s, children_cpu_s;
    long episodes, steps, passed;
    json_t *results;
} run;

static double children_cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return ru.ru_utime.tv_sec + 1e-6 * ru.ru_utime.tv_usec + ru.ru_stime.tv_sec + 1e-6 * ru.ru_stime.tv_usec;
}

/* Runs argv (argv[0] looked up on PATH) and waits; its exit status, or -1
 * when it could not start or was killed. stdout goes to /dev/null when
 * quiet. */
static int spawn(char *const *argv, int quiet) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return perror("cluster: fork"), -1;
    if (pid == 0) {
        if (quiet && !freopen("/dev/null", "w", stdout)) _exit(127);
        execvp(argv[0], argv);
        fprintf(stderr, "cluster: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return perror("cluster: waitpid"), -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The wmsim beside this bench's build folder: BUILD/bench/cluster -> BUILD/wmsim. */
static void default_wmsim(char *out, size_t size) {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    snprintf(out, size, "build/wmsim");
    if (n <= 0) return;
    self[n] = '\0';
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(self, '/');
        if (!slash) return;
        *slash = '\0';
    }
    snprintf(out, size, "%s/wmsim", self);
}

/* Times one configuration; exits on a failed run or a malformed results.json. */
static void time_run(run *r, const char *wmsim, const char *mpirun, const char *suite, const char *policy) {
    char np[16], jobs[16];
    snprintf(np, sizeof np, "%d", r->ranks);
    snprintf(jobs, sizeof jobs, "%d", r->jobs);
    char *argv[24];
    int a = 0;
    if (r->ranks > 0) {
        argv[a++] = (char *)mpirun, argv[a++] = "--bind-to", argv[a++] = "none";
        if (r->ranks > 1) argv[a++] = "--oversubscribe";
        argv[a++] = "-np", argv[a++] = np;
    }
    char *tail[] = {(char *)wmsim, "eval", "--suite", (char *)suite, "--policy", (char *)policy, "--out", r->out,
                    "--jobs", jobs, "--quiet", NULL};
    memcpy(argv + a, tail, sizeof tail);
    const double busy0 = machine_busy_s(), own0 = own_cpu_s(), kids0 = children_cpu_s(), t0 = now_s();
    const int rc = spawn(argv, 1);
    r->wall_s = now_s() - t0;
    r->children_cpu_s = children_cpu_s() - kids0;
    const double busy1 = machine_busy_s(), others = busy1 - busy0 - (own_cpu_s() - own0) - r->children_cpu_s;
    r->others_cpu_s = busy0 < 0 || busy1 < 0 ? -1.0 : others > 0 ? others : 0.0;
    if (rc != 0) fprintf(stderr, "cluster: %s: wmsim eval exited with %d\n", r->label, rc), exit(1);

    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/results.json", r->out);
    json_error_t je;
    r->results = json_load_file(path, 0, &je);
    if (!r->results) fprintf(stderr, "cluster: %s:%d: %s\n", path, je.line, je.text), exit(1);
    json_t *eps = json_object_get(r->results, "episodes");
    if (!json_is_array(eps) || json_array_size(eps) == 0)
        fprintf(stderr, "cluster: %s: no episodes array\n", path), exit(1);
    r->episodes = (long)json_array_size(eps);
    r->elapsed_s = json_number_value(json_object_get(r->results, "elapsed_s"));
    size_t i;
    json_t *e;
    json_array_foreach(eps, i, e) {
        r->steps += (long)json_integer_value(json_object_get(e, "steps"));
        r->passed += json_is_true(json_object_get(e, "passed"));
    }
}

static void print_row(const run *r, const run *base, int cores) {
    const double rate = r->episodes / r->wall_s;
    char load[96] = "";
    if (r->others_cpu_s >= 0)
        snprintf(load, sizeof load, "; others %.1f CPU s in %.1f s%s", r->others_cpu_s, r->wall_s,
                 r->others_cpu_s > BUSY_FRACTION * cores * r->wall_s ? " BUSY" : "");
    printf("%-18s %5d %4d %11.2f %6.2f %9.1f %10.1f %8.0f   %ld episodes (%ld passed), %ld steps; wmsim %.1f CPU s%s\n",
           r->label, r->ranks > 0 ? r->ranks : 1, r->jobs, rate, rate / (base->episodes / base->wall_s), r->wall_s,
           r->elapsed_s, r->steps / r->wall_s, r->episodes, r->passed, r->steps, r->children_cpu_s, load);
    fflush(stdout);
}

/* Whether a file's bytes equal another's; -1 when either cannot be read. */
static int same_file(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb ? 1 : -1;
    char ba[65536], bb[65536];
    while (same == 1) {
        size_t na = fread(ba, 1, sizeof ba, fa), nb = fread(bb, 1, sizeof bb, fb);
        if (na != nb || memcmp(ba, bb, na) != 0) same = 0;
        else if (na == 0) break;
    }
    if (same >= 0 && (ferror(fa) || ferror(fb))) same = -1;
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

/* r's results against the baseline's: 0 identical apart from run_fields
 * and every episode log byte-identical; else 1, with what differs printed. */
static int check_same(const run *r, const run *base) {
    json_t *x = json_deep_copy(r->results), *y = json_deep_copy(base->results);
    for (size_t i = 0; i < sizeof run_fields / sizeof *run_fields; i++)
        json_object_del(x, run_fields[i]), json_object_del(y, run_fields[i]);
    int bad_json = !json_equal(x, y);
    if (bad_json) {
        const char *key;
        json_t *v;
        printf("  %s: results.json differs from the 1-rank run's in:", r->label);
        json_object_foreach(y, key, v) if (!json_equal(v, json_object_get(x, key))) printf(" %s", key);
        printf("\n");
    }
    json_decref(x), json_decref(y);
    size_t i, logs = 0, bad_logs = 0;
    json_t *e;
    json_array_foreach(json_object_get(base->results, "episodes"), i, e) {
        const char *log = json_string_value(json_object_get(json_object_get(e, "files"), "log"));
        if (!log) continue;
        char pa[2 * PATH_MAX + 32], pb[2 * PATH_MAX + 32];
        snprintf(pa, sizeof pa, "%s/%s", r->out, log);
        snprintf(pb, sizeof pb, "%s/%s", base->out, log);
        int same = same_file(pa, pb);
        if (same != 1) printf("  %s: %s %s\n", r->label, log, same < 0 ? "unreadable" : "differs"), bad_logs++;
        logs++;
    }
    printf("%-18s results.json %s the 1-rank run's apart from started, elapsed_s, jobs, ranks; episode logs: ",
           r->label, bad_json ? "DIFFERS from" : "identical to");
    if (bad_logs) printf("%zu of %zu DIFFER\n", bad_logs, logs);
    else printf("%zu byte-identical\n", logs);
    return bad_json || bad_logs || logs == 0;
}

int main(int argc, char **argv) {
    const char *suite = "bench/cluster_suite.pbtxt", *policy = NULL, *wmsim = getenv("WMSIM_BIN");
    const char *mpirun = getenv("MPIRUN") && *getenv("MPIRUN") ? getenv("MPIRUN") : "mpirun";
    double h200_rate = H200_BAR_FRAMES_PER_S;
    int keep = 0, measured_h200 = 0;
    char wmsim_default[PATH_MAX + 16];
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (strcmp(o, "--keep") == 0) keep = 1;
        else if (i + 1 < argc && strcmp(o, "--wmsim") == 0) wmsim = argv[++i];
        else if (i + 1 < argc && strcmp(o, "--suite") == 0) suite = argv[++i];
        else if (i + 1 < argc && strcmp(o, "--policy") == 0) policy = argv[++i];
        else if (i + 1 < argc && strcmp(o, "--h200-frames-per-s") == 0) {
            h200_rate = atof(argv[++i]), measured_h200 = 1;
            if (!(h200_rate > 0)) return fprintf(stderr, "cluster: --h200-frames-per-s: expected > 0\n"), 2;
        } else
            return fprintf(stderr, "usage: cluster [--wmsim PATH] [--suite FILE] [--policy P] [--keep] "
                                   "[--h200-frames-per-s N]\n"), 2;
    }
    if (!wmsim || !*wmsim) default_wmsim(wmsim_default, sizeof wmsim_default), wmsim = wmsim_default;
    if (access(wmsim, X_OK) != 0)
        return fprintf(stderr, "cluster: no wmsim binary at %s (build it, or give --wmsim PATH or WMSIM_BIN)\n", wmsim),
               1;
    if (!policy) policy = access(POLICY_VLA_TINY_PATH, R_OK) == 0 ? "vla-tiny" : "expert";

    /* One core per rank or job; root may run Open MPI only when it says so. */
    setenv("OMP_NUM_THREADS", "1", 1), setenv("OPENBLAS_NUM_THREADS", "1", 1);
    if (geteuid() == 0) setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1), setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);

    const double busy0 = machine_busy_s(), wall0 = now_s(), own0 = own_cpu_s(), kids0 = children_cpu_s();
    char model[256], reason[128] = "";
    cpu_model(model, sizeof model);
    struct utsname u;
    uname(&u);
    const int cores = (int)sysconf(_SC_NPROCESSORS_ONLN), gpus = device_cuda_count(reason, sizeof reason);
    printf("machine: %s, %s %s, %d online cores, compiler %s; CUDA devices: %d%s%s%s\n", model, u.sysname, u.machine,
           cores, __VERSION__, gpus, *reason ? " (" : "", reason, *reason ? ")" : "");
#ifdef WMSIM_MPI
    const int mpi = 1;
    printf("wmsim: %s, built with MPI; launcher: %s --bind-to none; every process OMP_NUM_THREADS=1 "
           "OPENBLAS_NUM_THREADS=1\n", wmsim, mpirun);
#else
    const int mpi = 0;
    printf("wmsim: %s, built WITHOUT MPI (make MPI=0 or no libopenmpi-dev): 1 rank only, run directly; every "
           "process OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1\n", wmsim);
#endif

    /* Untimed: checks the suite and pages in the binary and its libraries. */
    char *dry[] = {(char *)wmsim, "eval", "--suite", (char *)suite, "--dry-run", NULL};
    if (spawn(dry, 1) != 0) return fprintf(stderr, "cluster: wmsim eval --suite %s --dry-run failed\n", suite), 1;

    char dir[PATH_MAX];
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(dir, sizeof dir, "%s/wmsim-bench-cluster-XXXXXX", tmp);
    if (!mkdtemp(dir)) return perror("cluster: mkdtemp"), 1;
    run runs[3] = {{.label = "1 rank (baseline)", .ranks = mpi, .jobs = 1},
                   {.label = "2 ranks", .ranks = 2, .jobs = 1},
                   {.label = "1 rank, --jobs 2", .ranks = mpi, .jobs = 2}};
    const int n_runs = mpi ? 3 : 1;
    for (int k = 0; k < n_runs; k++) snprintf(runs[k].out, sizeof runs[k].out, "%s/run%d", dir, k);
    printf("suite: %s, policy %s, videos of every episode (eval's default); each row one run into a fresh folder "
           "under %s, timed from launch to exit\n\n", suite, policy, dir);
    printf("%-18s %5s %4s %11s %6s %9s %10s %8s\n", "run", "ranks", "jobs", "episodes/s", "ratio", "wall s",
           "elapsed s", "steps/s");
    for (int k = 0; k < n_runs; k++) {
        time_run(&runs[k], wmsim, mpirun, suite, policy);
        print_row(&runs[k], &runs[0], cores);
    }
    if (!mpi) printf("2 ranks: not measured, this wmsim has no MPI (make MPI=1 with Debian's libopenmpi-dev)\n");

    int bad = 0;
    for (int k = 1; k < n_runs; k++) bad |= check_same(&runs[k], &runs[0]);
    if (mpi) {
        const double one = runs[0].episodes / runs[0].wall_s, two = runs[1].episodes / runs[1].wall_s;
        printf("2 ranks / 1 rank: %.2f (%.2f per rank); the same ratio of eval's own elapsed_s (launch excluded) %.2f\n", two / one, two / one / 2,
               runs[0].elapsed_s / runs[1].elapsed_s);
    }

    /* The projection: one generated frame per step in the generative loop;
     * the CPU side (policy, sim, oracle render for the video, logs, video)
     * at the 1-rank run's CPU time per step. */
    const double steps_per_episode = (double)runs[0].steps / runs[0].episodes;
    const double cpu_ms_per_step = 1e3 * runs[0].children_cpu_s / runs[0].steps;
    printf("PROJECTION, not a measurement: %s %.0f generated frames/s on one H200%s / %.0f steps per episode of "
           "this suite (one generated frame a step) = %.1f generative-loop episodes/s per H200; feeding it at this "
           "run's %.2f CPU ms a step (policy, sim, render, log, video) takes about %.0f cores\n",
           measured_h200 ? "the given" : "DESIGN.md §5's world-model bar of", h200_rate,
           measured_h200 ? " (--h200-frames-per-s)" : " (a target: no CUDA world-model path yet, issue #10)",
           steps_per_episode, h200_rate / steps_per_episode, cpu_ms_per_step, h200_rate * cpu_ms_per_step / 1e3);

    const double wall = now_s() - wall0, busy1 = machine_busy_s();
    const double mine = own_cpu_s() - own0 + children_cpu_s() - kids0;
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    printf("largest process: %.0f MB resident (RSS)\n", ru.ru_maxrss / 1024.0);
    if (busy0 >= 0 && busy1 >= 0) {
        const double others = busy1 - busy0 - mine;
        printf("other load: other processes used %.1f CPU s during this %.1f s run (this bench and its wmsim runs "
               "%.1f CPU s)\n", others > 0 ? others : 0.0, wall, mine);
    }
    for (int k = 0; k < n_runs; k++) json_decref(runs[k].results);
    if (!keep) {
        char *rm[] = {"rm", "-rf", dir, NULL};
        if (spawn(rm, 0) != 0) fprintf(stderr, "cluster: could not remove %s\n", dir);
    } else printf("runs kept in %s\n", dir);
    return bad;
}
