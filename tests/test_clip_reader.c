/* The training reader over a real tree of clips written by clip_writer:
 * window counts, exact pixels and actions (every pixel and action encodes
 * its clip and frame), determinism, splits, bounded memory, epochs, and
 * every error a damaged clip can cause. */
#include <dirent.h>
#include <math.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/fileio.h"
#include "datasets/clip.h"
#include "datasets/clip_reader.h"
#include "render/video.h"
#include "testutil.h"

#define W 32
#define H 16

/* Pixel (x, y) of frame f of clip c: red the clip, green the frame, blue
 * a gradient, so a frame from the wrong clip, time or place shows. */
static void fill_frame(image *img, int clip, int f) {
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++) {
            uint8_t *p = img->rgb + 3 * ((size_t)y * (size_t)img->width + (size_t)x);
            p[0] = (uint8_t)clip;
            p[1] = (uint8_t)f;
            p[2] = (uint8_t)((x + 3 * y) & 255);
        }
}

/* The action after frame f of clip c, and the ego there. */
static action clip_action(int clip, int f) { return (action){.accel = clip, .brake = f, .steer = 0.001 * f}; }


static void write_clip_sized(const char *dir, int clip, int frames, int w, int h) {
    clip_meta m;
    memset(&m, 0, sizeof m);
    m.format_version = CLIP_FORMAT_VERSION;
    m.source = CLIP_SOURCE_SYNTHETIC;
    snprintf(m.scenario_id, sizeof m.scenario_id, "test_%d", clip);
    m.seed = (uint64_t)clip;
    m.fps = CLIP_FPS;
    m.width = w;
    m.height = h;
    m.camera = scenario_camera_default();
    m.camera.width = w;
    m.camera.height = h;
    snprintf(m.policy, sizeof m.policy, "expert");
    clip_writer *cw;
    wm_error err;
    ck_assert_msg(clip_writer_open(&cw, dir, &m, &err) == 0, "%s", err.msg);
    image img;
    image_init(&img, w, h);
    for (int f = 0; f < frames; f++) {
        fill_frame(&img, clip, f);
        clip_state st;
        memset(&st, 0, sizeof st);
        st.frame = f;
        st.t = f / 10.0;
        st.x = f;
        st.y = clip;
        st.speed = 0.5 * f;
        st.accel = clip;
        action led = clip_action(clip, f - 1);
        ck_assert_msg(clip_writer_add(cw, &img, &st, f ? &led : NULL, &err) == 0, "%s", err.msg);
    }
    image_free(&img);
    ck_assert_msg(clip_writer_close(cw, &err) == 0, "%s", err.msg);
}

static void write_clip(const char *root, const char *name, int clip, int frames) {
    char dir[4200];
    join(dir, sizeof dir, root, name);
    write_clip_sized(dir, clip, frames, W, H);
}


/* The standard tree: three clips of different lengths (one nested), one too
 * short for a window, and two incomplete folders. */
enum { N_CLIPS = 4 };
static const char *const NAMES[N_CLIPS] = {"clip_a", "clip_b", "group/clip_c", "clip_d"};
static const int IDS[N_CLIPS] = {1, 2, 3, 4};
static const int LENGTHS[N_CLIPS] = {23, 15, 9, 4};

static char *make_tree(void) {
    char *root = test_tmpdir();
    for (int i = 0; i < N_CLIPS; i++) write_clip(root, NAMES[i], IDS[i], LENGTHS[i]);
    char path[4200];
    /* A writer that died before meta.json, and one that died mid-file. */
    join(path, sizeof path, root, "dead");
    ck_assert_int_eq(mkdir(path, 0777), 0);
    join(path, sizeof path, root, "dead/states.jsonl");
    write_text_file(path, "{\"frame\":0}\n");
    join(path, sizeof path, root, "group/dying");
    ck_assert_int_eq(mkdir(path, 0777), 0);
    join(path, sizeof path, root, "group/dying/frames.mkv.tmp.4242");
    write_text_file(path, "partial");
    /* Not a clip, not counted: an empty folder and a stray file. */
    join(path, sizeof path, root, "empty");
    ck_assert_int_eq(mkdir(path, 0777), 0);
    join(path, sizeof path, root, "notes.txt");
    write_text_file(path, "hello\n");
    return root;
}

static clip_reader_config small_config(const char *root) {
    clip_reader_config cfg = clip_reader_config_default();
    cfg.root = root;
    cfg.context = 3;
    cfg.horizon = 2;
    cfg.stride = 2;
    cfg.seed = 7;
    cfg.val_fraction = 0.0;
    cfg.shuffle_buffer = 4;
    cfg.interleave = 2;
    return cfg;
}

static int clip_id_of(const char *name) {
    for (int i = 0; i < N_CLIPS; i++)
        if (!strcmp(name, NAMES[i])) return IDS[i];
    ck_abort_msg("unknown clip '%s'", name);
    return -1;
}

static int clip_length_of(int id) {
    for (int i = 0; i < N_CLIPS; i++)
        if (IDS[i] == id) return LENGTHS[i];
    return -1;
}

/* Every pixel, action and ego value of w is the one its clip and start say. */
static void check_window(const clip_window *w) {
    int id = clip_id_of(w->clip), len = clip_length_of(id);
    ck_assert_int_eq(w->n, 5);
    ck_assert_int_eq(w->width, W);
    ck_assert_int_eq(w->height, H);
    ck_assert_int_ge(w->start, 0);
    ck_assert_int_le(w->start + w->n, len);
    image want;
    image_init(&want, W, H);
    size_t fb = (size_t)W * H * 3;
    for (int i = 0; i < w->n; i++) {
        int f = w->start + i;
        fill_frame(&want, id, f);
        ck_assert_msg(memcmp(w->frames + (size_t)i * fb, want.rgb, fb) == 0,
                      "%s start %d: frame %d has the wrong pixels", w->clip, w->start, i);
        int last = i == w->n - 1;
        action a = w->actions[i];
        if (last && f == len - 1) {
            ck_assert_int_eq(w->last_has_action, 0);
            ck_assert(a.accel == 0 && a.brake == 0 && a.steer == 0);
        } else {
            if (last) ck_assert_int_eq(w->last_has_action, 1);
            action e = clip_action(id, f);
            ck_assert_double_eq_tol(a.accel, e.accel, 1e-12);
            ck_assert_double_eq_tol(a.brake, e.brake, 1e-12);
            ck_assert_double_eq_tol(a.steer, e.steer, 1e-12);
        }
        ck_assert_double_eq_tol(w->ego[i].t, f / 10.0, 1e-9);
        ck_assert_double_eq_tol(w->ego[i].x, f, 1e-9);
        ck_assert_double_eq_tol(w->ego[i].y, id, 1e-9);
        ck_assert_double_eq_tol(w->ego[i].speed, 0.5 * f, 1e-9);
    }
    image_free(&want);
}

/* One epoch as "clip@start" keys in delivery order; checks every window. */
static int read_epoch(clip_reader *r, char keys[][64], int cap) {
    int n = 0;
    const clip_window *w;
    wm_error err;
    int rc;
    while ((rc = clip_reader_next(r, &w, &err)) == 1) {
        check_window(w);
        ck_assert_int_lt(n, cap);
        snprintf(keys[n++], 64, "%.40s@%d", w->clip, w->start);
    }
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert_int_eq(clip_reader_next(r, &w, &err), 0); /* stays at the end */
    ck_assert_ptr_null(w);
    return n;
}

static int cmp_key(const void *a, const void *b) { return strcmp(a, b); }

static void sorted(char dst[][64], char src[][64], int n) {
    memcpy(dst, src, (size_t)n * 64);
    qsort(dst, (size_t)n, 64, cmp_key);
}

static int same_order(char a[][64], char b[][64], int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(a[i], b[i])) return 0;
    return 1;
}

/* (F - 5) / 2 + 1 windows for F >= 5: 10 + 6 + 3 + 0. */
#define WINDOWS 19

START_TEST(counts_and_exact_windows) {
    char *root = make_tree();
    clip_reader_config cfg = small_config(root);
    clip_reader *r;
    wm_error err;
    ck_assert_msg(clip_reader_open(&r, &cfg, &err) == 0, "%s", err.msg);
    clip_reader_stats st;
    clip_reader_stats_get(r, &st);
    ck_assert_int_eq(st.clips, 4);
    ck_assert_int_eq(st.clips_short, 1);
    ck_assert_int_eq(st.clips_other_split, 0);
    ck_assert_int_eq(st.skipped, 2);
    ck_assert_int_eq(st.windows, WINDOWS);
    ck_assert_int_eq(st.width, W);
    ck_assert_int_eq(st.height, H);
    ck_assert_int_eq(st.epoch, 0);
    char keys[64][64], got[64][64];
    int n = read_epoch(r, keys, 64);
    ck_assert_int_eq(n, WINDOWS);
    /* Exactly the expected windows, each once. */
    char want[64][64];
    int m = 0;
    for (int i = 0; i < N_CLIPS; i++)
        for (int s = 0; s + 5 <= LENGTHS[i]; s += 2) snprintf(want[m++], 64, "%s@%d", NAMES[i], s);
    ck_assert_int_eq(m, WINDOWS);
    qsort(want, (size_t)m, 64, cmp_key);
    sorted(got, keys, n);
    ck_assert(same_order(want, got, n));
    clip_reader_stats_get(r, &st);
    ck_assert_int_eq(st.delivered, WINDOWS);
    clip_reader_close(r);
    test_remove_tree(root);
    free(root);
}
END_TEST

START_TEST(window_not_ending_on_the_last_frame) {
    char *root = make_tree();
    clip_reader_config cfg = small_config(root);
    cfg.stride = 4; /* clip_a: starts 0..16, the last window ends at frame 20 of 23 */
    clip_reader *r;
    wm_error err;
    ck_assert_msg(clip_reader_open(&r, &cfg, &err) == 0, "%s", err.msg);
    clip_reader_stats st;
    clip_reader_stats_get(r, &st);
    ck_assert_int_eq(st.windows, 5 + 3 + 2);
    const clip_window *w;
    int seen = 0;
    while (clip_reader_next(r, &w, &err) == 1) {
        check_window(w);
        if (!strcmp(w->clip, "clip_a") && w->start == 16) {
            seen = 1;
            ck_assert_int_eq(w->last_has_action, 1);
            ck_assert_double_eq(w->actions[4].brake, 20);
        }
    }
    ck_assert(seen);
    clip_reader_close(r);
    test_remove_tree(root);
    free(root);
}
END_TEST

START_TEST(seeds_epochs_and_determinism) {
    char *root = make_tree();
    clip_reader_config cfg = small_config(root);
    char a0[64][64], a0b[64][64], a1[64][64], b0[64][64], s1[64][64], s2[64][64];
    clip_reader *r, *r2, *r3;
    wm_error err;
    ck_assert_msg(clip_reader_open(&r, &cfg, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(read_epoch(r, a0, 64), WINDOWS);
    clip_reader_rewind(r);
    clip_reader_stats st;
    clip_reader_stats_get(r, &st);
    ck_assert_int_eq(st.epoch, 1);
    ck_assert_int_eq(st.delivered, 0);
    ck_assert_int_eq(read_epoch(r, a1, 64), WINDOWS);
    /* The next epoch: the same windows in another order. */
    ck_assert(!same_order(a0, a1, WINDOWS));
    sorted(s1, a0, WINDOWS);
    sorted(s2, a1, WINDOWS);
    ck_assert(same_order(s1, s2, WINDOWS));
    /* The same config: the same sequence, epoch by epoch (a trailing
     * slash on the root changes nothing). */
    char slashed[4200];
    snprintf(slashed, sizeof slashed, "%s/", root);
    cfg.root = slashed;
    ck_assert_msg(clip_reader_open(&r2, &cfg, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(read_epoch(r2, a0b, 64), WINDOWS);
    ck_assert(same_order(a0, a0b, WINDOWS));
    /* Resuming at epoch 1 gives what rewinding gave. */
    clip_reader_start_epoch(r2, 1);
    ck_assert_int_eq(read_epoch(r2, a0b, 64), WINDOWS);
    ck_assert(same_order(a1, a0b, WINDOWS));
    /* Another seed: another order of the same windows. */
    cfg.seed = 8;
    ck_assert_msg(clip_reader_open(&r3, &cfg, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(read_epoch(r3, b0, 64), WINDOWS);
    ck_assert(!same_order(a0, b0, WINDOWS));
    sorted(s2, b0, WINDOWS);
    ck_assert(same_order(s1, s2, WINDOWS));
    /* Rewinding in the middle of an epoch starts the next one cleanly. */
    const clip_window *w;
    clip_reader_rewind(r3);
    ck_assert_int_eq(clip_reader_next(r3, &w, &err), 1);
    clip_reader_rewind(r3);
    ck_assert_int_eq(read_epoch(r3, b0, 64), WINDOWS);
    clip_reader_stats st3;
    clip_reader_stats_get(r3, &st3);
    ck_assert_int_eq(st3.epoch, 2);
    clip_reader_close(r);
    clip_reader_close(r2);
    clip_reader_close(r3);
    test_remove_tree(root);
    free(root);
}
END_TEST

START_TEST(shuffle_buffer_one_keeps_clips_whole) {
    /* Buffer 1 and one clip at a time: the stream order itself, each clip's
     * windows in order, the clips in a shuffled order. */
    char *root = make_tree();
    clip_reader_config cfg = small_config(root);
    cfg.shuffle_buffer = 1;
    cfg.interleave = 1;
    clip_reader *r;
    wm_error err;
    ck_assert_msg(clip_reader_open(&r, &cfg, &err) == 0, "%s", err.msg);
    const clip_window *w;
    char prev[CLIP_READER_NAME_MAX] = "";
    int prev_start = -1, changes = 0;
    while (clip_reader_next(r, &w, &err) == 1) {
        if (strcmp(prev, w->clip)) {
            changes++;
            ck_assert_int_eq(w->start, 0);
        } else {
            ck_assert_int_eq(w->start, prev_start + 2);
        }
        snprintf(prev, sizeof prev, "%s", w->clip);
        prev_start = w->start;
    }
    ck_assert_int_eq(changes, 3);
    clip_reader_stats st;
    clip_reader_stats_get(r, &st);
    ck_assert_int_le(st.frames_peak, clip_reader_frames_bound(&cfg));
    clip_reader_close(r);
    test_remove_tree(root);
    free(root);
}
END_TEST

START_TEST(memory_stays_bounded) {
    char *root = test_tmpdir();
    /* 8 clips of 40 frames: 36 windows each with stride 1, 288 in all,
     * against a buffer of 3 windows and 2 clips at a time. */
    for (int i = 0; i < 8; i++) {
        char name[32];
        snprintf(name, sizeof name, "long_%d", i);
        write_clip(root, name, 10 + i, 40);
    }
    clip_reader_config cfg = small_config(root);
    cfg.stride = 1;
    cfg.shuffle_buffer = 3;
    cfg.interleave = 2;
    clip_reader *r;
    wm_error err;
    ck_assert_msg(clip_reader_open(&r, &cfg, &err) == 0, "%s", err.msg);
    const clip_window *w;
    long long n = 0, bound = clip_reader_frames_bound(&cfg);
    ck_assert_int_eq(bound, (3 + 1 + 2) * 5 + 1);
    clip_reader_stats st;
    for (int epoch = 0; epoch < 2; epoch++) {
        while (clip_reader_next(r, &w, &err) == 1) {
            n++;
            clip_reader_stats_get(r, &st);
            ck_assert_int_le(st.frames_held, bound);
        }
        clip_reader_rewind(r);
    }
    ck_assert_int_eq(n, 2 * 8 * 36);
    clip_reader_stats_get(r, &st);
    ck_assert_int_le(st.frames_peak, bound);
    ck_assert_int_gt(st.frames_peak, 0);
    clip_reader_close(r);
    test_remove_tree(root);
    free(root);
}
END_TEST

START_TEST(splits_are_disjoint_and_cover) {
    char *root = test_tmpdir();
    enum { M = 12 };
    char names[M][32];
    int n_val = 0;
    for (int i = 0; i < M; i++) {
        snprintf(names[i], sizeof names[i], "drive_%02d", i);
        write_clip(root, names[i], 20 + i, 6 + i);
        n_val += clip_reader_in_validation(names[i], 0.5);
    }
    /* The split is by name alone: a path in another tree, the same side. */
    for (int i = 0; i < M; i++) {
        char other[128];
        snprintf(other, sizeof other, "elsewhere/x/%.32s", names[i]);
        ck_assert_int_eq(clip_reader_in_validation(other, 0.5), clip_reader_in_validation(names[i], 0.5));
        ck_assert_int_eq(clip_reader_in_validation(names[i], 0.0), 0);
        ck_assert_int_eq(clip_reader_in_validation(names[i], 1.0), 1);
    }
    ck_assert_int_gt(n_val, 0);
    ck_assert_int_lt(n_val, M);
    int seen[M] = {0};
    for (int split = 0; split < 2; split++) {
        clip_reader_config cfg = small_config(root);
        cfg.val_fraction = 0.5;
        cfg.split = split ? CLIP_SPLIT_VALIDATION : CLIP_SPLIT_TRAIN;
        clip_reader *r;
        wm_error err;
        ck_assert_msg(clip_reader_open(&r, &cfg, &err) == 0, "%s", err.msg);
        clip_reader_stats st;
        clip_reader_stats_get(r, &st);
        ck_assert_int_eq(st.clips, split ? n_val : M - n_val);
        ck_assert_int_eq(st.clips + st.clips_other_split, M);
        const clip_window *w;
        long long n = 0;
        while (clip_reader_next(r, &w, &err) == 1) {
            n++;
            int i = atoi(w->clip + strlen("drive_"));
            ck_assert_int_eq(clip_reader_in_validation(w->clip, 0.5), split);
            seen[i] |= 1 << split;
        }
        ck_assert_int_eq(n, st.windows);
        clip_reader_close(r);
    }
    /* Every clip (each has at least one window) on exactly one side. */
    for (int i = 0; i < M; i++) ck_assert_msg(seen[i] == 1 || seen[i] == 2, "clip %d: %d", i, seen[i]);
    /* The hash spreads names evenly. */
    int in = 0;
    for (int i = 0; i < 10000; i++) {
        char name[32];
        snprintf(name, sizeof name, "clip_%05d", i);
        in += clip_reader_in_validation(name, 0.1);
    }
    ck_assert_int_gt(in, 900);
    ck_assert_int_lt(in, 1100);
    test_remove_tree(root);
    free(root);
}
END_TEST

/* ---- errors ------------------------------------------------------------- */

static void expect_open_error(const clip_reader_config *cfg, const char *want) {
    clip_reader *r = (clip_reader *)&r;
    wm_error err;
    ck_assert_int_eq(clip_reader_open(&r, cfg, &err), -1);
    ck_assert_str_eq(err.msg, want);
    ck_assert_ptr_null(r);
}

START_TEST(config_errors) {
    char *root = make_tree();
    clip_reader_config cfg = small_config(root);
    cfg.context = 0;
    expect_open_error(&cfg, "clip reader: context 0, must be at least 1");
    cfg = small_config(root);
    cfg.horizon = -1;
    expect_open_error(&cfg, "clip reader: horizon -1, must be at least 0");
    cfg = small_config(root);
    cfg.stride = 0;
    expect_open_error(&cfg, "clip reader: stride 0, must be at least 1");
    cfg = small_config(root);
    cfg.val_fraction = 1.5;
    expect_open_error(&cfg, "clip reader: validation fraction 1.5 outside [0, 1]");
    cfg = small_config(root);
    cfg.shuffle_buffer = 0;
    expect_open_error(&cfg, "clip reader: shuffle buffer 0 outside [1, 1048576]");
    cfg = small_config(root);
    cfg.interleave = 0;
    expect_open_error(&cfg, "clip reader: interleave 0 outside [1, 1024]");
    cfg = small_config(root);
    cfg.context = 3000;
    cfg.horizon = 2000;
    expect_open_error(&cfg, "clip reader: context + horizon 5000 over 4096 frames");
    cfg = small_config(NULL);
    expect_open_error(&cfg, "clip reader: no root folder given");
    cfg = small_config("/nonexistent/clips");
    expect_open_error(&cfg, "/nonexistent/clips: cannot read folder: No such file or directory");
    /* Windows longer than every clip. */
    char want[4400];
    cfg = small_config(root);
    cfg.context = 20;
    cfg.horizon = 4;
    snprintf(want, sizeof want,
             "%s: no windows of 24 frames in the train split (4 clips there, 4 of them shorter; "
             "0 in the other split; 2 incomplete skipped)", root);
    expect_open_error(&cfg, want);
    /* Everything in train, so validation is empty. */
    cfg = small_config(root);
    cfg.split = CLIP_SPLIT_VALIDATION;
    snprintf(want, sizeof want,
             "%s: no windows of 5 frames in the validation split (0 clips there, 0 of them shorter; "
             "4 in the other split; 2 incomplete skipped)", root);
    expect_open_error(&cfg, want);
    test_remove_tree(root);
    free(root);
}
END_TEST

START_TEST(mixed_sizes_are_refused) {
    char *root = test_tmpdir();
    char a[4200], b[4200], want[9000];
    join(a, sizeof a, root, "a");
    join(b, sizeof b, root, "b");
    write_clip_sized(a, 1, 6, W, H);
    write_clip_sized(b, 2, 6, 16, 8);
    clip_reader_config cfg = small_config(root);
    snprintf(want, sizeof want,
             "%s/meta.json: 16x8 frames, but %s/meta.json has 32x16: all clips of a reader must share a size",
             b, a);
    expect_open_error(&cfg, want);
    /* Whichever split b falls in. */
    cfg.val_fraction = 1.0;
    cfg.split = CLIP_SPLIT_VALIDATION;
    expect_open_error(&cfg, want);
    test_remove_tree(root);
    free(root);
}
END_TEST

START_TEST(clip_from_a_newer_wmsim_is_refused) {
    /* Complete (its meta.json parses) but unreadable: an error, not a skip. */
    char *root = make_tree();
    char meta[4300], want[9000];
    join(meta, sizeof meta, root, "clip_b/meta.json");
    uint8_t *data;
    size_t len;
    wm_error err;
    ck_assert_msg(file_read_all(meta, 1 << 20, &data, &len, &err) == 0, "%s", err.msg);
    clip_meta m;
    ck_assert_msg(clip_meta_from_json((char *)data, &m, &err) == 0, "%s", err.msg);
    free(data);
    m.format_version = CLIP_FORMAT_VERSION + 6;
    char *json = clip_meta_to_json(&m);
    ck_assert_msg(file_write_atomic(meta, json, strlen(json), &err) == 0, "%s", err.msg);
    wm_error why;
    ck_assert_int_eq(clip_meta_from_json(json, &m, &why), -1);
    free(json);
    snprintf(want, sizeof want, "%s: %s", meta, why.msg);
    clip_reader_config cfg = small_config(root);
    expect_open_error(&cfg, want);
    test_remove_tree(root);
    free(root);
}
END_TEST

/* Reads every window of a one-clip tree and returns the error. */
static void expect_read_error(const char *root, const char *want) {
    clip_reader_config cfg = small_config(root);
    clip_reader *r;
    wm_error err;
    ck_assert_msg(clip_reader_open(&r, &cfg, &err) == 0, "%s", err.msg);
    const clip_window *w;
    int rc;
    while ((rc = clip_reader_next(r, &w, &err)) == 1) check_window(w);
    ck_assert_int_eq(rc, -1);
    ck_assert_str_eq(err.msg, want);
    /* It keeps failing, the same way, until the next epoch... */
    memset(err.msg, 0, sizeof err.msg);
    ck_assert_int_eq(clip_reader_next(r, &w, &err), -1);
    ck_assert_str_eq(err.msg, want);
    /* ...which meets the same damage. */
    clip_reader_rewind(r);
    while ((rc = clip_reader_next(r, &w, &err)) == 1) continue;
    ck_assert_int_eq(rc, -1);
    ck_assert_str_eq(err.msg, want);
    clip_reader_close(r);
}

/* Lines of a states file, for editing. */
static int read_lines(const char *path, char lines[][8192], int cap) {
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    int n = 0;
    while (n < cap && fgets(lines[n], sizeof lines[0], f)) n++;
    fclose(f);
    return n;
}

static void write_lines(const char *path, char lines[][8192], int n) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < n; i++) fputs(lines[i], f);
    fclose(f);
}

/* Re-encodes line i (0-based) of DIR/states.jsonl after edit(st). */
static void edit_state(const char *states, int i, void (*edit)(clip_state *)) {
    static char lines[64][8192];
    int n = read_lines(states, lines, 64);
    ck_assert_int_lt(i, n);
    clip_state *st = MALLOC_CHECK(sizeof *st);
    wm_error err;
    lines[i][strcspn(lines[i], "\n")] = '\0';
    ck_assert_msg(clip_state_from_json(lines[i], st, &err) == 0, "%s", err.msg);
    edit(st);
    char *json = clip_state_to_json(st);
    snprintf(lines[i], sizeof lines[i], "%s\n", json);
    free(json);
    free(st);
    write_lines(states, lines, n);
}

static void set_frame_7(clip_state *st) { st->frame = 7; }
static void drop_action(clip_state *st) { st->has_action = 0; }

START_TEST(damaged_states_are_named) {
    char *root = test_tmpdir();
    char dir[4200], states[4300], want[9000];
    join(dir, sizeof dir, root, "clip_a");
    join(states, sizeof states, dir, "states.jsonl");
    static char lines[64][8192];

    /* A line that is not a state: the reason is the parser's own. */
    write_clip(root, "clip_a", 1, 10);
    int n = read_lines(states, lines, 64);
    ck_assert_int_eq(n, 10);
    snprintf(lines[3], sizeof lines[3], "{\"frame\": 3, \"t\": \n");
    write_lines(states, lines, n);
    wm_error why;
    char bad[64] = "{\"frame\": 3, \"t\": ";
    ck_assert_int_eq(clip_state_from_json(bad, &(clip_state){0}, &why), -1);
    snprintf(want, sizeof want, "%s/states.jsonl: line 4: %s", dir, why.msg);
    expect_read_error(root, want);

    /* A frame number out of sequence. */
    test_remove_tree(dir);
    write_clip(root, "clip_a", 1, 10);
    edit_state(states, 3, set_frame_7);
    snprintf(want, sizeof want, "%s/states.jsonl: line 4: frame 7, expected 3", dir);
    expect_read_error(root, want);

    /* An action missing before the last frame. */
    test_remove_tree(dir);
    write_clip(root, "clip_a", 1, 10);
    edit_state(states, 2, drop_action);
    snprintf(want, sizeof want,
             "%s/states.jsonl: line 3: frame 2 has no action (only the last frame may lack one)", dir);
    expect_read_error(root, want);

    /* Fewer lines than frames, then more. */
    test_remove_tree(dir);
    write_clip(root, "clip_a", 1, 10);
    n = read_lines(states, lines, 64);
    write_lines(states, lines, 8);
    snprintf(want, sizeof want, "%s/states.jsonl: 8 lines, but meta.json says 10 frames", dir);
    expect_read_error(root, want);
    snprintf(lines[10], sizeof lines[10], "%s", lines[9]);
    write_lines(states, lines, 11);
    snprintf(want, sizeof want, "%s/states.jsonl: line 11: more lines than the 10 frames meta.json says", dir);
    expect_read_error(root, want);
    test_remove_tree(root);
    free(root);
}
END_TEST

/* Rewrites DIR/frames.mkv with n frames of clip 1. */
static void rewrite_frames(const char *dir, int n, int w, int h) {
    char path[4300];
    join(path, sizeof path, dir, "frames.mkv");
    video_writer *vw;
    wm_error err;
    ck_assert_msg(video_writer_open(&vw, path, w, h, CLIP_FPS, VIDEO_CODEC_FFV1, &err) == 0, "%s", err.msg);
    image img;
    image_init(&img, w, h);
    for (int f = 0; f < n; f++) {
        fill_frame(&img, 1, f);
        ck_assert_msg(video_writer_add(vw, &img, &err) == 0, "%s", err.msg);
    }
    image_free(&img);
    ck_assert_msg(video_writer_close(vw, &err) == 0, "%s", err.msg);
}

START_TEST(damaged_frames_are_named) {
    char *root = test_tmpdir();
    char dir[4200], want[9000];
    join(dir, sizeof dir, root, "clip_a");
    write_clip(root, "clip_a", 1, 10);
    /* Short: the windows that fit come out exact, then the window at 4
     * needs frame 7, which is not there. */
    rewrite_frames(dir, 7, W, H);
    snprintf(want, sizeof want, "%s/frames.mkv: 7 frames, but meta.json says 10", dir);
    expect_read_error(root, want);
    rewrite_frames(dir, 12, W, H);
    snprintf(want, sizeof want, "%s/frames.mkv: more frames than the 10 meta.json says", dir);
    expect_read_error(root, want);
    rewrite_frames(dir, 10, 16, 8);
    snprintf(want, sizeof want, "%s/frames.mkv: frame 0 is 16x8, but meta.json says 32x16", dir);
    expect_read_error(root, want);
    char path[4300];
    join(path, sizeof path, dir, "frames.mkv");
    unlink(path);
    snprintf(want, sizeof want, "%s: cannot open video: No such file or directory", path);
    expect_read_error(root, want);
    test_remove_tree(root);
    free(root);
}
END_TEST

START_TEST(shortfall_past_the_last_window_is_caught) {
    /* 11 frames, windows of 5 with stride 4: starts 0 and 4, ending at
     * frame 8; frames 9 and 10 are in no window but are still checked. */
    char *root = test_tmpdir();
    char dir[4200], want[9000];
    join(dir, sizeof dir, root, "clip_a");
    write_clip(root, "clip_a", 1, 11);
    rewrite_frames(dir, 9, W, H);
    clip_reader_config cfg = small_config(root);
    cfg.stride = 4;
    clip_reader *r;
    wm_error err;
    ck_assert_msg(clip_reader_open(&r, &cfg, &err) == 0, "%s", err.msg);
    const clip_window *w;
    int rc, n = 0;
    while ((rc = clip_reader_next(r, &w, &err)) == 1) n++;
    ck_assert_int_eq(rc, -1);
    snprintf(want, sizeof want, "%s/frames.mkv: 9 frames, but meta.json says 11", dir);
    ck_assert_str_eq(err.msg, want);
    clip_reader_close(r);
    test_remove_tree(root);
    free(root);
}
END_TEST

START_TEST(root_that_is_a_clip) {
    char *root = test_tmpdir();
    char dir[4200];
    join(dir, sizeof dir, root, "solo_clip");
    write_clip_sized(dir, 1, 8, W, H);
    clip_reader_config cfg = small_config(dir);
    clip_reader *r;
    wm_error err;
    ck_assert_msg(clip_reader_open(&r, &cfg, &err) == 0, "%s", err.msg);
    const clip_window *w;
    int n = 0;
    while (clip_reader_next(r, &w, &err) == 1) {
        ck_assert_str_eq(w->clip, "solo_clip");
        n++;
    }
    ck_assert_int_eq(n, 2);
    clip_reader_close(r);
    clip_reader_close(NULL);
    test_remove_tree(root);
    free(root);
}
END_TEST

int main(void) {
    Suite *s = suite_create("clip_reader");
    TCase *tc = tcase_create("windows");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, counts_and_exact_windows);
    tcase_add_test(tc, window_not_ending_on_the_last_frame);
    tcase_add_test(tc, seeds_epochs_and_determinism);
    tcase_add_test(tc, shuffle_buffer_one_keeps_clips_whole);
    tcase_add_test(tc, memory_stays_bounded);
    tcase_add_test(tc, splits_are_disjoint_and_cover);
    tcase_add_test(tc, root_that_is_a_clip);
    suite_add_tcase(s, tc);
    TCase *errs = tcase_create("errors");
    tcase_set_timeout(errs, 60);
    tcase_add_test(errs, config_errors);
    tcase_add_test(errs, mixed_sizes_are_refused);
    tcase_add_test(errs, clip_from_a_newer_wmsim_is_refused);
    tcase_add_test(errs, damaged_states_are_named);
    tcase_add_test(errs, damaged_frames_are_named);
    tcase_add_test(errs, shortfall_past_the_last_window_is_caught);
    suite_add_tcase(s, errs);
    return run_suite(s);
}
