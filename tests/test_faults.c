/* test_faults.c — fault injection through the real binary (WMSIM_BIN), issue
 * #11: the disk fills while `eval`, `clips generate` and `tokenizer train`
 * write (RLIMIT_FSIZE set in the child before exec), and the process is
 * killed with SIGKILL at random points. After every fault:
 *   - what was reported complete is intact: every episode.json and the
 *     files it lists, every clip with a meta.json (clip_check), the
 *     checkpoint and training state (each equal to the uninterrupted run's
 *     at some save), and its bytes do not change in the rerun;
 *   - nothing partial looks complete: no results.json, episode.json,
 *     meta.json or checkpoint that is not the uninterrupted run's;
 *   - a rerun of the same command completes with what an uninterrupted run
 *     gives: results.json apart from its timing fields and every episode's
 *     files but the MP4; clips byte for byte apart from video.mp4 (H.264
 *     bytes vary with process history); the checkpoint and state bit for bit.
 *
 * RLIMIT_FSIZE limits each file, not the disk, so a limit L fails the first
 * file that grows past L. Two behaviours are tested: SIGXFSZ ignored, so the
 * write fails with EFBIG ("File too large") as a full disk's fails with
 * ENOSPC and wmsim must report it and clean up; and SIGXFSZ at its default,
 * which kills the process mid-write like a SIGKILL at that point.
 *
 * The kill delays come from a fixed seed; where they land in the run
 * depends on the machine's speed, so every trial checks the invariants,
 * whatever the state the kill left. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sys/resource.h>
#include <time.h>

#include "core/fileio.h"
#include "datasets/clip.h"
#include "testutil.h"

#define SMOKE "scenarios/suites/smoke.pbtxt"
#define MAX_ENTRIES 512

/* ------------------------------------------------------------ processes */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_s(double s) {
    if (s <= 0) return;
    struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

typedef struct {
    long fsize;
    int ignore_xfsz;
} file_limit;

static void apply_limit(void *ctx) {
    const file_limit *l = ctx;
    if (l->fsize >= 0) {
        struct rlimit lim = {(rlim_t)l->fsize, (rlim_t)l->fsize};
        if (setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(126);
    }
    signal(SIGXFSZ, l->ignore_xfsz ? SIG_IGN : SIG_DFL);
}

/* Forks and execs WMSIM_BIN with args (NULL-terminated, without argv[0]),
 * its stdout and stderr on out_fd, to be killed. */
static pid_t spawn_wmsim(const char *const *args, int out_fd) {
    const char *argv[64];
    wmsim_argv(args, argv);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(out_fd, 1);
        dup2(out_fd, 2);
        if (out_fd > 2) close(out_fd);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

/* run_wmsim under a file-size limit: the exit status (128 + signal when
 * killed), stdout and stderr in *out (malloc'ed). */
static int run_limited(char **out, long fsize, int ignore_xfsz, const char *const *args) {
    const char *argv[64];
    wmsim_argv(args, argv);
    file_limit l = {fsize, ignore_xfsz};
    return run_capture_in(out, argv, apply_limit, &l);
}

/* Starts args, kills it with SIGKILL after delay seconds; 1 when the kill
 * hit the running process, 0 when it had finished (exit 0) before. */
static int run_killed(const char *const *args, double delay) {
    int null = open("/dev/null", O_WRONLY);
    ck_assert_int_ge(null, 0);
    pid_t pid = spawn_wmsim(args, null);
    close(null);
    sleep_s(delay);
    kill(pid, SIGKILL);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status)) {
        ck_assert_int_eq(WTERMSIG(status), SIGKILL);
        return 1;
    }
    ck_assert_msg(exit_code(status) == 0, "wmsim %s exited %d before the kill", args[0], exit_code(status));
    return 0;
}

/* The kill delays: xorshift64*, fixed seed, uniform in [lo, hi). */
static double random_delay(uint64_t *s, double lo, double hi) {
    *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
    double u = (double)((*s * UINT64_C(2685821657736338717)) >> 11) / 9007199254740992.0;
    return lo + (hi - lo) * u;
}

/* ------------------------------------------------------------ files */

static int exists(const char *path) { return access(path, F_OK) == 0; }

static uint64_t file_hash(const char *path) {
    size_t len;
    uint8_t *data = test_read_file(path, &len);
    uint64_t h = hash_fnv1a64(data, len);
    free(data);
    return h;
}

static long file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

static int compare_names(const void *a, const void *b) { return strcmp(a, b); }

/* Sorted entry names of dir (no dot files); *n 0 when dir is absent. */
static char (*list_dir(const char *dir, int *n))[256] {
    char (*names)[256] = CALLOC_CHECK(MAX_ENTRIES, sizeof *names);
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return names;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        ck_assert_int_lt(*n, MAX_ENTRIES);
        snprintf(names[(*n)++], 256, "%s", e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)*n, sizeof *names, compare_names);
    return names;
}

/* The first file under root whose name holds ".tmp." (an atomic writer's
 * temporary), into found; 0 when there is none. */
static int find_tmp(const char *root, char *found, size_t n) {
    int count;
    char (*names)[256] = list_dir(root, &count);
    int hit = 0;
    for (int i = 0; i < count && !hit; i++) {
        char p[4400];
        join(p, sizeof p, root, names[i]);
        struct stat sb;
        ck_assert_int_eq(lstat(p, &sb), 0);
        if (S_ISDIR(sb.st_mode)) hit = find_tmp(p, found, n);
        else if (strstr(names[i], ".tmp.")) snprintf(found, n, "%s", p), hit = 1;
    }
    free(names);
    return hit;
}

static void assert_no_tmp(const char *root, const char *when) {
    char tmp[4400];
    ck_assert_msg(!find_tmp(root, tmp, sizeof tmp), "%s: %s left behind", when, tmp);
}

/* Files reported complete, with their hashes when recorded: they must
 * keep these bytes through every rerun. */
typedef struct {
    char (*path)[4400];
    uint64_t *hash;
    int n;
} snapshot;

static void snapshot_init(snapshot *s) {
    s->path = CALLOC_CHECK(MAX_ENTRIES, sizeof *s->path);
    s->hash = CALLOC_CHECK(MAX_ENTRIES, sizeof *s->hash);
    s->n = 0;
}

static void snapshot_free(snapshot *s) { free(s->path), free(s->hash); }

static void snapshot_add(snapshot *s, const char *path) {
    ck_assert_int_lt(s->n, MAX_ENTRIES);
    ck_assert_msg(exists(path), "%s: reported complete but missing", path);
    snprintf(s->path[s->n], sizeof s->path[0], "%s", path);
    s->hash[s->n++] = file_hash(path);
}

static void snapshot_check(const snapshot *s, const char *when) {
    for (int i = 0; i < s->n; i++)
        ck_assert_msg(exists(s->path[i]) && file_hash(s->path[i]) == s->hash[i],
                      "%s: %s was complete before, and is now changed or gone", when, s->path[i]);
}

/* The message of a clean disk-full failure: exit status want_rc, the
 * errno's text and the file that hit the limit, under want_dir (or, for a
 * very small limit, the temporary a scenario is encoded through). */
static void assert_disk_full_message(const char *out, int rc, int want_rc, const char *want_dir, long limit) {
    ck_assert_msg(rc == want_rc, "limit %ld: exit %d, expected %d:\n%s", limit, rc, want_rc, out);
    ck_assert_msg(strstr(out, "File too large"), "limit %ld: no 'File too large' in:\n%s", limit, out);
    ck_assert_msg(strstr(out, want_dir) || strstr(out, "wmsim-protoc-"), "limit %ld: the file is not named:\n%s",
                  limit, out);
    ck_assert_msg(!strstr(out, "AddressSanitizer") && !strstr(out, "runtime error"), "limit %ld:\n%s", limit, out);
}

/* ------------------------------------------------------------ eval */


static void assert_same_results(const char *ref, const char *out) {
    char *want = test_stable_results(ref), *got = test_stable_results(out);
    ck_assert_msg(strcmp(want, got) == 0, "%s/results.json differs from the uninterrupted run's", out);
    free(want), free(got);
}

/* Files an episode writes whose bytes do not depend on the process. */
static const char *const EPISODE_STABLE[] = {"episode.json", "episode.log", "result.json", "thumbs.png"};

/* After a fault: every episode with an episode.json is whole (the files it
 * lists exist; all but the MP4 equal the uninterrupted run's) and goes into
 * done; an episode without one is incomplete, and after a clean failure
 * (clean: wmsim saw the error and exited) its folder holds nothing at all.
 * A results.json, if any, is the uninterrupted run's. Returns the episodes
 * complete. */
static int eval_check_after_fault(const char *out_dir, const char *ref_dir, int clean, snapshot *done,
                                  const char *when) {
    char episodes[4200];
    join(episodes, sizeof episodes, out_dir, "episodes");
    int n, complete = 0;
    char (*names)[256] = list_dir(episodes, &n);
    for (int i = 0; i < n; i++) {
        char dir[4400], path[4700], ref[4700];
        join(dir, sizeof dir, episodes, names[i]);
        join(path, sizeof path, dir, "episode.json");
        if (!exists(path)) {
            if (clean) {
                int left;
                free(list_dir(dir, &left));
                ck_assert_msg(left == 0, "%s: %s holds %d files of an incomplete episode", when, dir, left);
            }
            continue;
        }
        complete++;
        json_error_t je;
        json_t *root = json_load_file(path, 0, &je);
        ck_assert_msg(root != NULL, "%s: %s: %s", when, path, je.text);
        json_t *files = json_object_get(json_object_get(root, "episode"), "files");
        ck_assert_msg(json_is_object(files), "%s: %s has no files", when, path);
        const char *key;
        json_t *v;
        json_object_foreach(files, key, v) {
            if (json_is_null(v)) continue;
            join(path, sizeof path, out_dir, json_string_value(v));
            snapshot_add(done, path);
        }
        json_decref(root);
        for (size_t f = 0; f < sizeof EPISODE_STABLE / sizeof *EPISODE_STABLE; f++) {
            join(path, sizeof path, dir, EPISODE_STABLE[f]);
            snprintf(ref, sizeof ref, "%s/episodes/%s/%s", ref_dir, names[i], EPISODE_STABLE[f]);
            ck_assert_msg(test_files_equal(path, ref), "%s: %s differs from the uninterrupted run's", when, path);
        }
        join(path, sizeof path, dir, "episode.json");
        snapshot_add(done, path);
    }
    free(names);
    char results[4200];
    join(results, sizeof results, out_dir, "results.json");
    if (exists(results)) assert_same_results(ref_dir, out_dir);
    return complete;
}

/* After the rerun: the uninterrupted run's results and episodes (the same
 * folders, the same files, the same bytes but for the MP4s), nothing
 * reported complete before has changed, and no temporary file is left. */
static void eval_check_complete(const char *out_dir, const char *ref_dir, const snapshot *done, const char *when) {
    assert_same_results(ref_dir, out_dir);
    char a[4200], b[4200];
    join(a, sizeof a, ref_dir, "episodes");
    join(b, sizeof b, out_dir, "episodes");
    int na, nb;
    char (*ref_names)[256] = list_dir(a, &na), (*names)[256] = list_dir(b, &nb);
    ck_assert_msg(na == nb, "%s: %d episode folders, expected %d", when, nb, na);
    for (int i = 0; i < na; i++) {
        ck_assert_str_eq(ref_names[i], names[i]);
        char ra[4400], rb[4400];
        join(ra, sizeof ra, a, ref_names[i]);
        join(rb, sizeof rb, b, names[i]);
        int fa, fb;
        char (*files_a)[256] = list_dir(ra, &fa), (*files_b)[256] = list_dir(rb, &fb);
        ck_assert_msg(fa == fb, "%s: %s holds %d files, expected %d", when, rb, fb, fa);
        for (int f = 0; f < fa; f++) ck_assert_str_eq(files_a[f], files_b[f]);
        free(files_a), free(files_b);
        for (size_t f = 0; f < sizeof EPISODE_STABLE / sizeof *EPISODE_STABLE; f++) {
            char pa[4700], pb[4700];
            join(pa, sizeof pa, ra, EPISODE_STABLE[f]);
            join(pb, sizeof pb, rb, EPISODE_STABLE[f]);
            ck_assert_msg(test_files_equal(pa, pb), "%s: %s differs from the uninterrupted run's", when, pb);
        }
    }
    free(ref_names), free(names);
    snapshot_check(done, when);
    assert_no_tmp(out_dir, when);
}

/* The size of the largest file in dir. */
static long largest_file(const char *dir) {
    int n;
    char (*names)[256] = list_dir(dir, &n);
    long max = 0;
    for (int i = 0; i < n; i++) {
        char p[4400];
        join(p, sizeof p, dir, names[i]);
        long s = file_size(p);
        if (s > max) max = s;
    }
    free(names);
    return max;
}

/* A limit between the largest files of two items run one after the other
 * (episodes, clips), so the first completes and the second hits the limit;
 * 0 when their sizes do not allow one with a margin. */
static long limit_between(long first, long second) {
    return second > first + first / 20 ? (first + second) / 2 : 0;
}

START_TEST(eval_disk_full) {
    char *dir = test_tmpdir(), ref[4200], out_dir[4200];
    join(ref, sizeof ref, dir, "ref");
    join(out_dir, sizeof out_dir, dir, "night");
    const char *suite = src_path(SMOKE);
    run_wmsim_ok((const char *[]){"eval", "--suite", suite, "--policy", "expert", "--out", ref, "--quiet", NULL});

    /* Episodes run in suite order with one job: guard_stop_proceed first. */
    char first[4400], second[4400];
    snprintf(first, sizeof first, "%s/episodes/guard_stop_proceed_s1_oracle", ref);
    snprintf(second, sizeof second, "%s/episodes/cut_in_s1_oracle", ref);
    long mid = limit_between(largest_file(first), largest_file(second));
    if (!mid) printf("test_faults: the smoke suite's first two episodes are too close in size for a limit between\n");
    /* 2000: before any output, the suite's encoding temporary; 40000
     * without videos: the first episode's log; 150000: its video, after
     * the log; mid: the second episode's video, after the first completed.
     * `file` is the end of the path the message must name. */
    const struct { long limit; int ignore_xfsz; const char *video, *file; } cases[] = {
        {2000, 1, "all", "suite.proto"}, {40000, 1, "none", "guard_stop_proceed_s1_oracle/episode.log"},
        {150000, 1, "all", "guard_stop_proceed_s1_oracle/video.mp4"}, {mid, 1, "all", "cut_in_s1_oracle/video.mp4"},
        {150000, 0, "all", NULL}, {mid, 0, "all", NULL},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        if (!cases[c].limit) continue;
        char when[128];
        snprintf(when, sizeof when, "eval, file size limit %ld%s, --video %s", cases[c].limit,
                 cases[c].ignore_xfsz ? "" : " (SIGXFSZ kills)", cases[c].video);
        test_remove_tree(out_dir);
        const char *args[] = {"eval", "--suite", suite, "--policy", "expert", "--out", out_dir, "--video",
                              cases[c].video, "--quiet", NULL};
        char *out;
        int rc = run_limited(&out, cases[c].limit, cases[c].ignore_xfsz, args);
        if (cases[c].ignore_xfsz) {
            assert_disk_full_message(out, rc, 2, out_dir, cases[c].limit);
            char want[256];
            snprintf(want, sizeof want, "%s: ", cases[c].file);
            ck_assert_msg(strstr(out, want), "%s: the message does not name %s:\n%s", when, cases[c].file, out);
        } else {
            ck_assert_msg(rc == 128 + SIGXFSZ, "%s: exit %d, expected death by SIGXFSZ:\n%s", when, rc, out);
        }
        free(out);
        char results[4300];
        join(results, sizeof results, out_dir, "results.json");
        ck_assert_msg(!exists(results), "%s: results.json written by a failed night", when);
        snapshot done;
        snapshot_init(&done);
        int complete = eval_check_after_fault(out_dir, ref, cases[c].ignore_xfsz, &done, when);
        if (cases[c].limit == mid) ck_assert_msg(complete == 1, "%s: %d episodes complete, expected 1", when, complete);
        else ck_assert_msg(complete == 0, "%s: %d episodes complete, expected 0", when, complete);
        if (cases[c].ignore_xfsz) assert_no_tmp(out_dir, when);
        if (cases[c].limit == 2000 || !strcmp(cases[c].video, "none")) {
            /* 2000 fails before the night starts: nothing is written. The
             * --video none case is for the message when the log is the file
             * that fails; the reruns are the other cases'. */
            if (cases[c].limit == 2000) ck_assert_msg(!exists(out_dir), "%s: %s created", when, out_dir);
            snapshot_free(&done);
            continue;
        }
        const char *rerun[] = {"eval", "--suite", suite, "--policy", "expert", "--out", out_dir, "--quiet", NULL};
        rc = run_wmsim(&out, rerun);
        ck_assert_msg(rc == 0, "%s: the rerun exits %d:\n%s", when, rc, out);
        free(out);
        eval_check_complete(out_dir, ref, &done, when);
        snapshot_free(&done);
    }
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* The eval suite of the kill trials: every example, one seed (8 episodes). */
static void write_kill_suite(const char *path) {
    char text[8192];
    snprintf(text, sizeof text, "id: \"faults\"\nseeds: 1\nentries { path: \"%s/\" }\n",
             src_path("scenarios/examples"));
    write_text_file(path, text);
}

START_TEST(eval_killed_at_random_points) {
    char *dir = test_tmpdir(), ref[4200], out_dir[4200], suite[4200];
    join(ref, sizeof ref, dir, "ref");
    join(out_dir, sizeof out_dir, dir, "night");
    join(suite, sizeof suite, dir, "faults.pbtxt");
    write_kill_suite(suite);
    const char *ref_args[] = {"eval", "--suite", suite, "--policy", "expert", "--out", ref, "--jobs", "2", "--quiet",
                              NULL};
    double t0 = now_s();
    run_wmsim_ok(ref_args);
    double span = now_s() - t0;
    const char *args[] = {"eval", "--suite", suite, "--policy", "expert", "--out", out_dir, "--jobs", "2", "--quiet",
                          NULL};
    uint64_t seed = 0x6661756c7473ULL;
    int killed = 0;
    for (int trial = 0; trial < 3; trial++) {
        double delay = random_delay(&seed, 0.02, span);
        char when[128];
        snprintf(when, sizeof when, "eval, trial %d, SIGKILL after %.3f s of %.3f", trial, delay, span);
        test_remove_tree(out_dir);
        killed += run_killed(args, delay);
        snapshot done;
        snapshot_init(&done);
        eval_check_after_fault(out_dir, ref, 0, &done, when);
        /* A second kill, into the rerun, half as late: what the first run
         * completed stays as it was, and what this one completed joins it. */
        killed += run_killed(args, delay / 2);
        snapshot_check(&done, when);
        eval_check_after_fault(out_dir, ref, 0, &done, when);
        char *out;
        int rc = run_wmsim(&out, args);
        ck_assert_msg(rc == 0, "%s: the rerun exits %d:\n%s", when, rc, out);
        free(out);
        eval_check_complete(out_dir, ref, &done, when);
        snapshot_free(&done);
    }
    ck_assert_msg(killed > 0, "every run finished before its kill: nothing was tested");
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* ------------------------------------------------------------ clips */

/* The files of a clip whose bytes do not depend on the process. */
static const char *const CLIP_STABLE[] = {CLIP_FILE_FRAMES, CLIP_FILE_STATES, CLIP_FILE_CAPTIONS, CLIP_FILE_META};
static const char *const CLIP_ALL[] = {CLIP_FILE_FRAMES, CLIP_FILE_STATES, CLIP_FILE_CAPTIONS, CLIP_FILE_META,
                                       CLIP_FILE_VIDEO};

/* After a fault: every clip with a meta.json passes clip_check, equals the
 * uninterrupted run's (but for video.mp4) and goes into done; after a clean
 * failure an incomplete clip has left no file. Returns the complete clips. */
static int clips_check_after_fault(const char *out_dir, const char *ref_dir, const char *const *ids, int n_ids,
                                   int variations, int clean, snapshot *done, const char *when) {
    int complete = 0;
    for (int s = 0; s < n_ids; s++)
        for (int v = 0; v < variations; v++) {
            char d[4400], rd[4400], p[4500], rp[4500];
            snprintf(d, sizeof d, "%s/%s/v%04d", out_dir, ids[s], v);
            snprintf(rd, sizeof rd, "%s/%s/v%04d", ref_dir, ids[s], v);
            if (!clip_is_complete(d)) {
                join(p, sizeof p, d, CLIP_FILE_META);
                ck_assert_msg(!exists(p), "%s: %s does not parse, yet is there", when, p);
                if (clean) {
                    int left;
                    free(list_dir(d, &left));
                    ck_assert_msg(left == 0, "%s: %s holds %d files of an incomplete clip", when, d, left);
                }
                continue;
            }
            complete++;
            wm_error err;
            ck_assert_msg(clip_check(d, &err) == 0, "%s: %s", when, err.msg);
            for (size_t f = 0; f < sizeof CLIP_STABLE / sizeof *CLIP_STABLE; f++) {
                join(p, sizeof p, d, CLIP_STABLE[f]);
                join(rp, sizeof rp, rd, CLIP_STABLE[f]);
                ck_assert_msg(test_files_equal(p, rp), "%s: %s differs from the uninterrupted run's", when, p);
            }
            for (size_t f = 0; f < sizeof CLIP_ALL / sizeof *CLIP_ALL; f++) {
                join(p, sizeof p, d, CLIP_ALL[f]);
                snapshot_add(done, p);
            }
        }
    return complete;
}

static void clips_check_complete(const char *out_dir, const char *ref_dir, const char *const *ids, int n_ids,
                                 int variations, const snapshot *done, const char *when) {
    snapshot all;
    snapshot_init(&all);
    int complete = clips_check_after_fault(out_dir, ref_dir, ids, n_ids, variations, 1, &all, when);
    ck_assert_msg(complete == n_ids * variations, "%s: %d clips complete after the rerun, expected %d", when, complete,
                  n_ids * variations);
    snapshot_free(&all);
    int n_ok;
    wm_error err;
    ck_assert_msg(clip_check_tree(out_dir, &n_ok, &err) == 0, "%s: %s", when, err.msg);
    ck_assert_int_eq(n_ok, n_ids * variations);
    snapshot_check(done, when);
    assert_no_tmp(out_dir, when);
}

START_TEST(clips_disk_full) {
    char *dir = test_tmpdir(), ref[4200], out_dir[4200];
    join(ref, sizeof ref, dir, "ref");
    join(out_dir, sizeof out_dir, dir, "clips");
    const char *scenario = src_path("scenarios/examples/cut_in.pbtxt");
    const char *const ids[] = {"cut_in"};
    run_wmsim_ok((const char *[]){"clips", "generate", "--scenarios", scenario, "--variations", "2", "--out", ref,
                                  "--quiet", NULL});
    char v0[4400], v1[4400];
    snprintf(v0, sizeof v0, "%s/cut_in/v0000", ref);
    snprintf(v1, sizeof v1, "%s/cut_in/v0001", ref);
    long mid = limit_between(largest_file(v0), largest_file(v1));
    if (!mid) printf("test_faults: cut_in's two variations are too close in size for a limit between\n");
    /* 2000: before any output, the scenario's encoding temporary; 100000:
     * the first clip's frames; mid: the second clip's, after the first
     * completed. `file` is the end of the path the message must name. */
    const struct { long limit; int ignore_xfsz; const char *file; } cases[] = {
        {2000, 1, "scenario.proto"}, {100000, 1, "v0000/frames.mkv"}, {mid, 1, "v0001/frames.mkv"}, {100000, 0, NULL},
        {mid, 0, NULL},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        if (!cases[c].limit) continue;
        char when[128];
        snprintf(when, sizeof when, "clips generate, file size limit %ld%s", cases[c].limit,
                 cases[c].ignore_xfsz ? "" : " (SIGXFSZ kills)");
        test_remove_tree(out_dir);
        const char *args[] = {"clips", "generate", "--scenarios", scenario, "--variations", "2", "--out", out_dir,
                              "--quiet", NULL};
        char *out;
        int rc = run_limited(&out, cases[c].limit, cases[c].ignore_xfsz, args);
        if (cases[c].ignore_xfsz) {
            assert_disk_full_message(out, rc, 1, out_dir, cases[c].limit);
            char want[256];
            snprintf(want, sizeof want, "%s: ", cases[c].file);
            ck_assert_msg(strstr(out, want), "%s: the message does not name %s:\n%s", when, cases[c].file, out);
        } else {
            ck_assert_msg(rc == 128 + SIGXFSZ, "%s: exit %d, expected death by SIGXFSZ:\n%s", when, rc, out);
        }
        free(out);
        snapshot done;
        snapshot_init(&done);
        int complete = clips_check_after_fault(out_dir, ref, ids, 1, 2, cases[c].ignore_xfsz, &done, when);
        ck_assert_msg(complete == (cases[c].limit == mid), "%s: %d clips complete", when, complete);
        if (cases[c].ignore_xfsz) assert_no_tmp(out_dir, when);
        if (cases[c].limit == 2000) {
            /* Before the first clip: nothing is written. */
            ck_assert_msg(!exists(out_dir), "%s: %s created", when, out_dir);
            snapshot_free(&done);
            continue;
        }
        rc = run_wmsim(&out, args);
        ck_assert_msg(rc == 0, "%s: the rerun exits %d:\n%s", when, rc, out);
        free(out);
        clips_check_complete(out_dir, ref, ids, 1, 2, &done, when);
        snapshot_free(&done);
    }
    test_remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(clips_killed_at_random_points) {
    char *dir = test_tmpdir(), ref[4200], out_dir[4200];
    join(ref, sizeof ref, dir, "ref");
    join(out_dir, sizeof out_dir, dir, "clips");
    const char *const ids[] = {"cut_in", "guard_slow"};
    /* 2 scenarios x 3 variations of 12 s: 6 clips. */
    const char *ref_args[] = {"clips", "generate", "--scenarios", src_path("scenarios/examples/cut_in.pbtxt"),
                              src_path("scenarios/examples/guard_slow.pbtxt"), "--variations", "3", "--seconds", "12",
                              "--jobs", "2", "--out", ref, "--quiet", NULL};
    double t0 = now_s();
    run_wmsim_ok(ref_args);
    double span = now_s() - t0;
    const char *args[] = {"clips", "generate", "--scenarios", src_path("scenarios/examples/cut_in.pbtxt"),
                          src_path("scenarios/examples/guard_slow.pbtxt"), "--variations", "3", "--seconds", "12",
                          "--jobs", "2", "--out", out_dir, "--quiet", NULL};
    uint64_t seed = 0x636c697073ULL;
    int killed = 0;
    for (int trial = 0; trial < 3; trial++) {
        double delay = random_delay(&seed, 0.02, span);
        char when[128];
        snprintf(when, sizeof when, "clips generate, trial %d, SIGKILL after %.3f s of %.3f", trial, delay, span);
        test_remove_tree(out_dir);
        killed += run_killed(args, delay);
        snapshot done;
        snapshot_init(&done);
        clips_check_after_fault(out_dir, ref, ids, 2, 3, 0, &done, when);
        killed += run_killed(args, delay / 2);
        /* What the second run completed joins what the first did. */
        snapshot_check(&done, when);
        snapshot_free(&done);
        snapshot_init(&done);
        clips_check_after_fault(out_dir, ref, ids, 2, 3, 0, &done, when);
        char *out;
        int rc = run_wmsim(&out, args);
        ck_assert_msg(rc == 0, "%s: the rerun exits %d:\n%s", when, rc, out);
        free(out);
        clips_check_complete(out_dir, ref, ids, 2, 3, &done, when);
        snapshot_free(&done);
    }
    ck_assert_msg(killed > 0, "every run finished before its kill: nothing was tested");
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* ------------------------------------------------------------ training */

#define TRAIN_STEPS 40
#define TRAIN_SAVE_EVERY 5
#define TRAIN_SAVES (TRAIN_STEPS / TRAIN_SAVE_EVERY)

/* The tiny tokenizer run of tests/testutil.h, saving every 5 of 40 steps
 * and logging every step, without validation (so a save mid-run and a
 * --stop-at there write the same files). */
static void train_args(const char **args, const char *clips, const char *model, const char *stop_at, int resume) {
    static const char *fixed[] = {"tokenizer", "train", "--steps", "40", "--size", "32x16", "--channels", "8",
                                  "--code-dim", "8", "--codebook", "32", "--batch", "4", "--val-frames", "0",
                                  "--save-every", "5", "--log-every", "1", "--quiet"};
    int n = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) args[n++] = fixed[i];
    args[n++] = "--data", args[n++] = clips, args[n++] = "--out", args[n++] = model;
    if (stop_at) args[n++] = "--stop-at", args[n++] = stop_at;
    if (resume) args[n++] = "--resume";
    args[n] = NULL;
}

/* What the training tests share, made once (an unchecked fixture, before
 * the tests fork): the tiny clips, and the uninterrupted run's files at
 * each save (model and state hashes) and at its end. */
static struct {
    char *dir;
    char clips[4200];
    uint64_t model[TRAIN_SAVES], state[TRAIN_SAVES];
    char model_path[4200], state_path[4300], csv_path[4300];
    double seconds; /* the uninterrupted run's wall clock */
} train_ref;

/* The index of hash among the saves, or -1. */
static int save_index(const uint64_t *table, uint64_t hash) {
    for (int i = 0; i < TRAIN_SAVES; i++)
        if (table[i] == hash) return i;
    return -1;
}

/* The CSV without its images_per_s column (wall clock). */
static char *stable_csv(const char *path) {
    size_t len;
    char *text = (char *)test_read_file(path, &len), *out = MALLOC_CHECK(len + 1);
    size_t o = 0;
    int col = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n') col = 0;
        else if (text[i] == ',') col++;
        if (col != 9 || text[i] == ',') out[o++] = text[i];
    }
    out[o] = '\0';
    free(text);
    return out;
}

/* The CSVs at a and b agree, but for the wall clock; else the test fails
 * naming the first line that differs. */
static void assert_same_curves(const char *a_path, const char *b_path, const char *when) {
    char *a = stable_csv(a_path), *b = stable_csv(b_path);
    const char *la = a, *lb = b;
    int line = 1;
    size_t i = 0;
    for (; a[i] && a[i] == b[i]; i++)
        if (a[i] == '\n') line++, la = a + i + 1, lb = b + i + 1;
    ck_assert_msg(a[i] == b[i], "%s: %s: line %d is '%.*s', the uninterrupted run's '%.*s'", when, a_path, line,
                  (int)strcspn(la, "\n") > 120 ? 120 : (int)strcspn(la, "\n"), la,
                  (int)strcspn(lb, "\n") > 120 ? 120 : (int)strcspn(lb, "\n"), lb);
    free(a), free(b);
}

/* The saves one by one (--stop-at 5, then --resume to 10, ...), which the
 * uninterrupted run must equal at its end (README: a resume is bit for
 * bit). */
static void train_setup(void) {
    train_ref.dir = test_tmpdir();
    join(train_ref.clips, sizeof train_ref.clips, train_ref.dir, "clips");
    run_wmsim_ok((const char *[]){"clips", "generate", "--scenarios",
                                  src_path("scenarios/examples/guard_stop_proceed.pbtxt"),
                                  src_path("scenarios/examples/cut_in.pbtxt"), "--variations", "6", "--seconds", "2",
                                  "--size", "32x16", "--out", train_ref.clips, "--jobs", "2", "--quiet", NULL});
    char chain[4200], state[4300], csv[4300];
    join(chain, sizeof chain, train_ref.dir, "chain.wmck");
    snprintf(state, sizeof state, "%s.state", chain);
    snprintf(csv, sizeof csv, "%s.csv", chain);
    for (int i = 0; i < TRAIN_SAVES; i++) {
        char stop[16];
        snprintf(stop, sizeof stop, "%d", (i + 1) * TRAIN_SAVE_EVERY);
        const char *args[40];
        train_args(args, train_ref.clips, chain, i + 1 < TRAIN_SAVES ? stop : NULL, i > 0);
        run_wmsim_ok(args);
        train_ref.model[i] = file_hash(chain);
        train_ref.state[i] = file_hash(state);
    }
    join(train_ref.model_path, sizeof train_ref.model_path, train_ref.dir, "full.wmck");
    snprintf(train_ref.state_path, sizeof train_ref.state_path, "%s.state", train_ref.model_path);
    snprintf(train_ref.csv_path, sizeof train_ref.csv_path, "%s.csv", train_ref.model_path);
    const char *args[40];
    train_args(args, train_ref.clips, train_ref.model_path, NULL, 0);
    double t0 = now_s();
    run_wmsim_ok(args);
    train_ref.seconds = now_s() - t0;
    ck_assert_msg(file_hash(train_ref.model_path) == train_ref.model[TRAIN_SAVES - 1],
                  "a run resumed at every save ends with another model than an uninterrupted one");
    ck_assert_msg(file_hash(train_ref.state_path) == train_ref.state[TRAIN_SAVES - 1], "and with another state");
    assert_same_curves(csv, train_ref.csv_path, "a run resumed at every save");
}

static void train_teardown(void) {
    test_remove_tree(train_ref.dir);
    free(train_ref.dir);
}

/* After a fault: the model and the state, where present, are the
 * uninterrupted run's at one of its saves, the model no older than the
 * state (it is written first: a resume reads the architecture from it) and
 * at most one save ahead. Returns 1 when a state is there to resume. */
static int train_check_after_fault(const char *model, const char *when) {
    char state[4300];
    snprintf(state, sizeof state, "%s.state", model);
    int m = -1, s = -1;
    if (exists(model)) {
        m = save_index(train_ref.model, file_hash(model));
        ck_assert_msg(m >= 0, "%s: %s is none of the uninterrupted run's checkpoints", when, model);
    }
    if (exists(state)) {
        s = save_index(train_ref.state, file_hash(state));
        ck_assert_msg(s >= 0, "%s: %s is none of the uninterrupted run's states", when, state);
        ck_assert_msg(m >= s && m <= s + 1, "%s: the model is at save %d, the state at save %d (-1: none)", when, m,
                      s);
    }
    return s >= 0;
}

/* Whether the state at model is the last save's: training is over. */
static int train_finished(const char *model) {
    char state[4300];
    snprintf(state, sizeof state, "%s.state", model);
    if (!exists(state) || file_hash(state) != train_ref.state[TRAIN_SAVES - 1]) return 0;
    ck_assert_msg(test_files_equal(model, train_ref.model_path), "%s: the last state, but not the last model", model);
    return 1;
}

/* The rerun as `make tokenizer` does it: --resume when a state is there;
 * then the uninterrupted run's model, state and curves. */
static void train_rerun_and_check(const char *model, int resume, const char *when) {
    const char *args[40];
    train_args(args, train_ref.clips, model, NULL, resume);
    char *out;
    int rc = run_wmsim(&out, args);
    ck_assert_msg(rc == 0, "%s: the rerun%s exits %d:\n%s", when, resume ? " (--resume)" : "", rc, out);
    free(out);
    char state[4300], csv[4300];
    snprintf(state, sizeof state, "%s.state", model);
    snprintf(csv, sizeof csv, "%s.csv", model);
    ck_assert_msg(test_files_equal(model, train_ref.model_path), "%s: the model differs from the uninterrupted run's",
                  when);
    ck_assert_msg(test_files_equal(state, train_ref.state_path), "%s: the state differs from the uninterrupted run's",
                  when);
    assert_same_curves(csv, train_ref.csv_path, when);
}

START_TEST(training_disk_full) {
    char *dir = test_tmpdir(), model[4200];
    join(model, sizeof model, dir, "m.wmck");
    long model_size = file_size(train_ref.model_path), state_size = file_size(train_ref.state_path);
    ck_assert_int_lt(model_size, state_size);
    /* The model's first save fails; or the model is written and the state's fails. */
    const struct { long limit; int ignore_xfsz; } cases[] = {
        {model_size / 2, 1}, {(model_size + state_size) / 2, 1}, {model_size / 2, 0}, {(model_size + state_size) / 2, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        char when[128];
        snprintf(when, sizeof when, "tokenizer train, file size limit %ld%s", cases[c].limit,
                 cases[c].ignore_xfsz ? "" : " (SIGXFSZ kills)");
        test_remove_tree(dir);
        const char *args[40];
        train_args(args, train_ref.clips, model, NULL, 0);
        char *out;
        int rc = run_limited(&out, cases[c].limit, cases[c].ignore_xfsz, args);
        if (cases[c].ignore_xfsz) {
            assert_disk_full_message(out, rc, 1, dir, cases[c].limit);
            ck_assert_msg(strstr(out, cases[c].limit < model_size ? "m.wmck: " : "m.wmck.state: "),
                          "%s: the wrong file named:\n%s", when, out);
        } else {
            ck_assert_msg(rc == 128 + SIGXFSZ, "%s: exit %d, expected death by SIGXFSZ:\n%s", when, rc, out);
        }
        free(out);
        int resume = train_check_after_fault(model, when);
        ck_assert_msg(!resume, "%s: a state was written past the limit", when);
        ck_assert_msg(exists(model) == (cases[c].limit > model_size), "%s: the model is%s there", when,
                      exists(model) ? "" : " not");
        if (cases[c].ignore_xfsz) assert_no_tmp(dir, when);
        train_rerun_and_check(model, resume, when);
    }
    test_remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(training_killed_at_random_points) {
    char *dir = test_tmpdir(), model[4200];
    join(model, sizeof model, dir, "m.wmck");
    const char *args[40];
    train_args(args, train_ref.clips, model, NULL, 0);
    uint64_t seed = 0x747261696eULL;
    int killed = 0;
    for (int trial = 0; trial < 4; trial++) {
        double delay = random_delay(&seed, 0.02, train_ref.seconds);
        char when[128];
        snprintf(when, sizeof when, "tokenizer train, trial %d, SIGKILL after %.3f s of %.3f", trial, delay,
                 train_ref.seconds);
        test_remove_tree(dir);
        killed += run_killed(args, delay);
        int resume = train_check_after_fault(model, when);
        /* A second kill, into the rerun, half as late, unless the state is
         * the last one (a resume is then refused: nothing is left to do). */
        if (!train_finished(model)) {
            const char *again[40];
            train_args(again, train_ref.clips, model, NULL, resume);
            killed += run_killed(again, delay / 2);
            resume = train_check_after_fault(model, when);
        }
        if (!train_finished(model)) train_rerun_and_check(model, resume, when);
    }
    ck_assert_msg(killed > 0, "every run finished before its kill: nothing was tested");
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* A torn write (the disk filled, or a kill, mid-row): the curves end in
 * part of a row. The resume drops it with the rows after its state. */
START_TEST(training_resume_after_a_torn_row) {
    char *dir = test_tmpdir(), model[4200];
    join(model, sizeof model, dir, "m.wmck");
    const char *args[40];
    train_args(args, train_ref.clips, model, "10", 0);
    run_wmsim_ok(args);
    char csv[4300];
    snprintf(csv, sizeof csv, "%s.csv", model);
    FILE *f = fopen(csv, "a");
    ck_assert_ptr_nonnull(f);
    fputs("1", f); /* the start of step 11's row */
    fclose(f);
    train_rerun_and_check(model, 1, "tokenizer train --resume after a torn row");
    test_remove_tree(dir);
    free(dir);
}
END_TEST

int main(void) {
    /* The world model's kernels give the same bits on any thread count;
     * one thread keeps the many short runs fast on a busy machine. */
    setenv("OMP_NUM_THREADS", "1", 1);
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("eval and clips");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, eval_disk_full);
    tcase_add_test(tc, eval_killed_at_random_points);
    tcase_add_test(tc, clips_disk_full);
    tcase_add_test(tc, clips_killed_at_random_points);
    suite_add_tcase(s, tc);
    TCase *tt = tcase_create("training");
    tcase_set_timeout(tt, 300);
    tcase_add_unchecked_fixture(tt, train_setup, train_teardown);
    tcase_add_test(tt, training_disk_full);
    tcase_add_test(tt, training_killed_at_random_points);
    tcase_add_test(tt, training_resume_after_a_torn_row);
    suite_add_tcase(s, tt);
    return run_suite(s);
}
