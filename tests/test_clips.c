/* The clip format's C side: records to and from JSON, the writer (complete
 * or absent, partial clips cleared), captions read off real episodes,
 * clip_check's every error on real damaged clips, and clip_stats.
 *
 * The base clip is real: guard_stop_proceed driven by the expert policy,
 * rendered by the oracle camera at 64x32 for 30 frames, written through
 * clip_writer with FFmpeg's FFV1 and H.264 (or MPEG-4) encoders and with
 * captions from the tracker. It is made once per test case (an unchecked
 * fixture, in the runner process); tests that damage a clip damage a copy. */
#include <dirent.h>
#include <math.h>
#include <sys/stat.h>

#include "core/fileio.h"
#include "core/mathx.h"
#include "datasets/captions.h"
#include "datasets/clip.h"
#include "render/render.h"
#include "render/video.h"
#include "sim/episode.h"
#include "testutil.h"

#define W 64
#define H 32
#define N_FRAMES 30

/* ------------------------------------------------------------------ */
/* Writing a clip from a real episode                                   */

typedef struct {
    renderer r;
    clip_writer *cw;
    caption_tracker ct;
    int frame, max_frames;
    uint8_t *pixels;     /* (max_frames, H, W, 3) as rendered */
    clip_state *states;  /* (max_frames) as passed to the writer */
    action *commands;    /* (max_frames) the action that led to each frame */
    char (*captions)[CLIP_CAPTION_MAX];
    int *caption_frame;
    int n_captions;
    int failed;
    wm_error err;
} recording;

static int record_frame(const episode_frame *f, void *ctx) {
    recording *rec = ctx;
    render_frame(&rec->r, f->w);
    clip_state *st = &rec->states[rec->frame];
    clip_state_from_world(f->w, &rec->r.cp, rec->frame, st);
    memcpy(rec->pixels + (size_t)rec->frame * W * H * 3, rec->r.frame.rgb, (size_t)W * H * 3);
    if (f->command) rec->commands[rec->frame] = *f->command;
    if (clip_writer_add(rec->cw, &rec->r.frame, st, f->command, &rec->err)) return rec->failed = 1;
    char lines[CAPTIONS_MAX_PER_FRAME][CLIP_CAPTION_MAX];
    int n = captions_update(&rec->ct, f->w, lines);
    for (int i = 0; i < n; i++) {
        if (clip_writer_caption(rec->cw, f->w->t, lines[i], &rec->err)) return rec->failed = 1;
        memcpy(rec->captions[rec->n_captions], lines[i], CLIP_CAPTION_MAX);
        rec->caption_frame[rec->n_captions++] = rec->frame;
    }
    return ++rec->frame == rec->max_frames;
}

static void recording_free(recording *rec) {
    free(rec->pixels);
    free(rec->states);
    free(rec->commands);
    free(rec->captions);
    free(rec->caption_frame);
    memset(rec, 0, sizeof *rec);
}

static void load_scenario(const char *name, scenario *sc) {
    char rel[256];
    wm_error err;
    snprintf(rel, sizeof rel, "scenarios/examples/%s.pbtxt", name);
    ck_assert_msg(scenario_load(src_path(rel), sc, &err) == 0, "%s", err.msg);
    sc->camera.width = W, sc->camera.height = H;
}

static clip_meta meta_for(const scenario *sc) {
    clip_meta m;
    memset(&m, 0, sizeof m);
    m.format_version = CLIP_FORMAT_VERSION;
    m.source = CLIP_SOURCE_SYNTHETIC;
    snprintf(m.scenario_id, sizeof m.scenario_id, "%s", sc->id);
    m.scenario_hash = sc->hash;
    m.seed = sc->seed;
    m.fps = CLIP_FPS;
    m.width = W, m.height = H;
    m.camera = sc->camera;
    snprintf(m.policy, sizeof m.policy, "expert");
    return m;
}

/* Drives scenario `name` with the expert for n frames into dir. With close
 * 0 the writer is left open (for a child process to abandon). */
static void write_clip_from(const char *name, const char *dir, int n, int close, recording *rec) {
    scenario sc;
    load_scenario(name, &sc);
    memset(rec, 0, sizeof *rec);
    rec->max_frames = n;
    rec->pixels = CALLOC_CHECK((size_t)n * W * H * 3, 1);
    rec->states = CALLOC_CHECK((size_t)n, sizeof *rec->states);
    rec->commands = CALLOC_CHECK((size_t)n, sizeof *rec->commands);
    rec->captions = CALLOC_CHECK((size_t)n * CAPTIONS_MAX_PER_FRAME, CLIP_CAPTION_MAX);
    rec->caption_frame = CALLOC_CHECK((size_t)n * CAPTIONS_MAX_PER_FRAME, sizeof(int));
    wm_error err;
    ck_assert_msg(renderer_init(&rec->r, &sc.camera, 1, &err) == 0, "%s", err.msg);
    clip_meta m = meta_for(&sc);
    ck_assert_msg(clip_writer_open(&rec->cw, dir, &m, &err) == 0, "%s", err.msg);
    sim_world *w0 = MALLOC_CHECK(sizeof *w0);
    sim_world_init(w0, &sc, sc.seed);
    captions_init(&rec->ct, w0);
    free(w0);
    policy pol;
    ck_assert_msg(policy_create("expert", NULL, &pol, &err) == 0, "%s", err.msg);
    episode_config ec = {.sc = &sc, .seed = sc.seed, .pol = &pol, .observe = record_frame, .observe_ctx = rec};
    episode_result res;
    ck_assert_msg(episode_run(&ec, &res, &err) == 0, "%s", err.msg);
    ck_assert_msg(!rec->failed, "%s", rec->err.msg);
    ck_assert_int_eq(rec->frame, n);
    ck_assert_str_eq(res.end_reason, "stopped by observer");
    if (close) {
        ck_assert_msg(clip_writer_close(rec->cw, &err) == 0, "%s", err.msg);
        rec->cw = NULL;
    }
    pol.destroy(&pol);
    renderer_free(&rec->r);
    scenario_free(&sc);
}

/* The base clip, made by the fixture. */
static char *base_root, base_dir[4200];
static recording base;

static void make_base_clip(void) {
    base_root = test_tmpdir();
    snprintf(base_dir, sizeof base_dir, "%s/guard/v0000", base_root);
    write_clip_from("guard_stop_proceed", base_dir, N_FRAMES, 1, &base);
}

static void free_base_clip(void) {
    recording_free(&base);
    free(base_root);
}

/* ------------------------------------------------------------------ */
/* File helpers                                                         */


static char *read_text(const char *path) {
    uint8_t *data;
    size_t len;
    wm_error err;
    ck_assert_msg(file_read_all(path, 1 << 26, &data, &len, &err) == 0, "%s", err.msg);
    return (char *)data;
}

static void copy_file(const char *from, const char *to) {
    uint8_t *data;
    size_t len;
    wm_error err;
    ck_assert_msg(file_read_all(from, 1 << 26, &data, &len, &err) == 0, "%s", err.msg);
    ck_assert_msg(file_write_atomic(to, data, len, &err) == 0, "%s", err.msg);
    free(data);
}

static const char *const FILES[] = {CLIP_FILE_VIDEO, CLIP_FILE_FRAMES, CLIP_FILE_STATES, CLIP_FILE_CAPTIONS,
                                    CLIP_FILE_META};

/* A copy of the base clip in a fresh folder; the caller frees the string. */
static char *copy_base(void) {
    char *root = test_tmpdir(), *dir = MALLOC_CHECK(4200);
    snprintf(dir, 4200, "%s/clip", root);
    free(root);
    wm_error err;
    ck_assert_msg(dir_create(dir, &err) == 0, "%s", err.msg);
    for (int i = 0; i < 5; i++) {
        char a[4400], b[4400];
        join(a, sizeof a, base_dir, FILES[i]);
        join(b, sizeof b, dir, FILES[i]);
        copy_file(a, b);
    }
    return dir;
}

/* The lines of a text file (without newlines); *n their count. */
static char **read_lines(const char *path, int *n) {
    char *text = read_text(path);
    char **lines = NULL;
    *n = 0;
    for (char *p = text; *p;) {
        char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        lines = REALLOC_CHECK(lines, (size_t)*n + 1, sizeof *lines);
        lines[*n] = MALLOC_CHECK(len + 1);
        memcpy(lines[*n], p, len);
        lines[(*n)++][len] = '\0';
        p += len + (nl != NULL);
    }
    free(text);
    return lines;
}

static void write_lines(const char *path, char **lines, int n) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < n; i++) fprintf(f, "%s\n", lines[i]);
    fclose(f);
}

static void free_lines(char **lines, int n) {
    for (int i = 0; i < n; i++) free(lines[i]);
    free(lines);
}

/* Replaces the first `from` in s (which must hold it) by `to`; returns a new string. */
static char *replace(const char *s, const char *from, const char *to) {
    const char *at = strstr(s, from);
    ck_assert_msg(at != NULL, "'%s' not in '%s'", from, s);
    size_t head = (size_t)(at - s), n = strlen(s) - strlen(from) + strlen(to);
    char *out = MALLOC_CHECK(n + 1);
    memcpy(out, s, head);
    strcpy(out + head, to);
    strcat(out, at + strlen(from));
    return out;
}

/* Edits line `no` (1-based) of a clip file. */
static void edit_line(const char *dir, const char *file, int no, const char *from, const char *to) {
    char path[4400];
    join(path, sizeof path, dir, file);
    int n;
    char **lines = read_lines(path, &n);
    ck_assert_int_ge(n, no);
    char *edited = replace(lines[no - 1], from, to);
    free(lines[no - 1]);
    lines[no - 1] = edited;
    write_lines(path, lines, n);
    free_lines(lines, n);
}

static void edit_file(const char *dir, const char *file, const char *from, const char *to) {
    char path[4400];
    join(path, sizeof path, dir, file);
    char *text = read_text(path), *edited = replace(text, from, to);
    write_text_file(path, edited);
    free(text);
    free(edited);
}

static int count_entries(const char *dir, const char *infix) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.' && strstr(e->d_name, infix) != NULL;
    closedir(d);
    return n;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

/* clip_check must fail with exactly want, where "DIR" stands for dir. */
static void assert_check_fails(const char *dir, const char *want_fmt) {
    char want[8192];
    char *fmt = replace(want_fmt, "DIR", "%s");
    snprintf(want, sizeof want, fmt, dir);
    free(fmt);
    wm_error err;
    ck_assert_int_eq(clip_check(dir, &err), -1);
    ck_assert_str_eq(err.msg, want);
}

static void assert_check_fails_prefix(const char *dir, const char *want_fmt) {
    char want[8192];
    char *fmt = replace(want_fmt, "DIR", "%s");
    snprintf(want, sizeof want, fmt, dir);
    free(fmt);
    wm_error err;
    ck_assert_int_eq(clip_check(dir, &err), -1);
    ck_assert_msg(strncmp(err.msg, want, strlen(want)) == 0, "want '%s...', got '%s'", want, err.msg);
}

/* ------------------------------------------------------------------ */
/* The base clip                                                        */

START_TEST(real_clip_passes_check_and_holds_the_rendered_pixels) {
    wm_error err;
    ck_assert_msg(clip_check(base_dir, &err) == 0, "%s", err.msg);
    ck_assert(clip_is_complete(base_dir));
    ck_assert_int_eq(count_entries(base_dir, ".tmp."), 0);
    ck_assert_int_eq(count_entries(base_dir, ""), 5);

    /* FFV1 is lossless: exactly the renderer's bytes, frame by frame. */
    char path[4400];
    join(path, sizeof path, base_dir, CLIP_FILE_FRAMES);
    video_reader *vr;
    ck_assert_msg(video_reader_open(&vr, path, &err) == 0, "%s", err.msg);
    image img = {0};
    int n = 0, rc;
    while ((rc = video_reader_next(vr, &img, &err)) == 1) {
        ck_assert_int_lt(n, N_FRAMES);
        ck_assert_int_eq(img.width, W);
        ck_assert_int_eq(img.height, H);
        ck_assert_msg(memcmp(img.rgb, base.pixels + (size_t)n * W * H * 3, (size_t)W * H * 3) == 0,
                      "frame %d differs from the rendered one", n);
        n++;
    }
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert_int_eq(n, N_FRAMES);
    video_reader_close(vr);
    image_free(&img);
    /* Consecutive frames differ, or the comparison above proves little. */
    ck_assert(memcmp(base.pixels, base.pixels + (size_t)(N_FRAMES - 1) * W * H * 3, (size_t)W * H * 3) != 0);

    video_info info;
    join(path, sizeof path, base_dir, CLIP_FILE_VIDEO);
    ck_assert_msg(video_probe(path, &info, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(info.frames, N_FRAMES);
    ck_assert_str_eq(info.codec, video_codec_available(VIDEO_CODEC_H264) ? "h264" : "mpeg4");
}
END_TEST

START_TEST(states_round_trip_with_the_next_frames_command_as_action) {
    char path[4400];
    join(path, sizeof path, base_dir, CLIP_FILE_STATES);
    int n;
    char **lines = read_lines(path, &n);
    ck_assert_int_eq(n, N_FRAMES);
    clip_state *got = MALLOC_CHECK(sizeof *got);
    wm_error err;
    int guards_seen = 0;
    for (int i = 0; i < n; i++) {
        ck_assert_msg(clip_state_from_json(lines[i], got, &err) == 0, "line %d: %s", i + 1, err.msg);
        const clip_state *want = &base.states[i];
        ck_assert_int_eq(got->frame, i);
        ck_assert(got->t == (double)i / CLIP_FPS);
        /* Exact: every double is written with the digits it needs. */
        ck_assert(got->x == want->x && got->y == want->y && got->yaw == want->yaw);
        ck_assert(got->speed == want->speed && got->yaw_rate == want->yaw_rate && got->accel == want->accel);
        ck_assert_int_eq(got->has_action, i < n - 1);
        if (i < n - 1) {
            const action *a = &base.commands[i + 1];
            ck_assert(got->action.accel == a->accel && got->action.brake == a->brake &&
                      got->action.steer == a->steer);
        }
        ck_assert_int_eq(got->n_actors, want->n_actors);
        for (int k = 0; k < got->n_actors; k++) {
            const clip_actor *ga = &got->actors[k], *wa = &want->actors[k];
            ck_assert_str_eq(ga->id, wa->id);
            ck_assert_int_eq(ga->kind, wa->kind);
            ck_assert(ga->x == wa->x && ga->y == wa->y && ga->heading == wa->heading && ga->speed == wa->speed);
            ck_assert_int_eq(ga->gesture, wa->gesture);
            guards_seen += ga->kind == ACTOR_GUARD && ga->gesture == GESTURE_STOP;
        }
        /* And back to the same bytes. */
        char *again = clip_state_to_json(got);
        ck_assert_str_eq(again, lines[i]);
        free(again);
    }
    ck_assert_int_gt(guards_seen, 10); /* the guard is in view for most of the clip */
    free(got);
    free_lines(lines, n);
}
END_TEST

START_TEST(stop_caption_names_the_guard_when_it_comes_into_view) {
    char path[4400];
    join(path, sizeof path, base_dir, CLIP_FILE_CAPTIONS);
    int n;
    char **lines = read_lines(path, &n);
    ck_assert_int_eq(n, base.n_captions);
    ck_assert_int_eq(n, 1); /* 3 s at the start of this scenario: the guard appears, nothing else happens */
    clip_caption c;
    wm_error err;
    ck_assert_msg(clip_caption_from_json(lines[0], &c, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(c.text, base.captions[0]);
    /* The first frame whose state lists the guard. */
    int first = -1;
    for (int i = 0; i < N_FRAMES && first < 0; i++)
        for (int k = 0; k < base.states[i].n_actors; k++)
            if (base.states[i].actors[k].kind == ACTOR_GUARD) first = i;
    ck_assert_int_gt(first, 0); /* out of range at the start, 106 m away */
    ck_assert_int_eq(c.frame, first);
    ck_assert(c.t == first / 10.0); /* the frame's time, exactly */
    /* The distance from the front bumper: on this straight road, the
     * guard's forward offset from the rear axle less wheelbase/2 + length/2. */
    const clip_actor *g = &base.states[first].actors[0];
    ck_assert_int_eq(g->kind, ACTOR_GUARD);
    double expected = g->x - 0.5 * SCENARIO_DEFAULT_WHEELBASE - 0.5 * SCENARIO_DEFAULT_VEHICLE_LENGTH;
    int dist = -1;
    ck_assert_int_eq(sscanf(c.text, "a traffic guard %d m ahead signals STOP", &dist), 1);
    ck_assert_double_eq_tol(dist, expected, 0.55);
    char want[128];
    snprintf(want, sizeof want, "a traffic guard %d m ahead signals STOP", dist);
    ck_assert_str_eq(c.text, want);
    free_lines(lines, n);
}
END_TEST

START_TEST(meta_round_trips_and_records_the_episode) {
    char path[4400];
    join(path, sizeof path, base_dir, CLIP_FILE_META);
    char *text = read_text(path);
    clip_meta m;
    wm_error err;
    ck_assert_msg(clip_meta_from_json(text, &m, &err) == 0, "%s", err.msg);
    scenario sc;
    load_scenario("guard_stop_proceed", &sc);
    ck_assert_int_eq(m.format_version, CLIP_FORMAT_VERSION);
    ck_assert_int_eq(m.source, CLIP_SOURCE_SYNTHETIC);
    ck_assert_str_eq(m.scenario_id, "guard_stop_proceed");
    ck_assert(m.scenario_hash == sc.hash);
    ck_assert(m.seed == 1);
    ck_assert_int_eq(m.frames, N_FRAMES);
    ck_assert_int_eq(m.width, W);
    ck_assert_int_eq(m.height, H);
    ck_assert_int_eq(m.fps, CLIP_FPS);
    ck_assert(m.camera.hfov_deg == sc.camera.hfov_deg && m.camera.mount_height == sc.camera.mount_height);
    ck_assert_str_eq(m.policy, "expert");
    char *again = clip_meta_to_json(&m);
    ck_assert_str_eq(again, text);
    /* Readable numbers: the shortest digits that read back exactly. */
    ck_assert_ptr_nonnull(strstr(text, "\"mount_height\": 1.4,"));
    ck_assert_ptr_nonnull(strstr(text, "\"seed\": \"1\","));
    free(again);
    free(text);
    scenario_free(&sc);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The writer's life cycle                                              */

START_TEST(clip_is_incomplete_until_close_and_gone_after_abort) {
    char *root = test_tmpdir(), dir[4200];
    snprintf(dir, sizeof dir, "%s/a/b", root);
    scenario sc;
    load_scenario("guard_stop_proceed", &sc);
    clip_meta m = meta_for(&sc);
    clip_writer *cw;
    wm_error err;
    ck_assert_msg(clip_writer_open(&cw, dir, &m, &err) == 0, "%s", err.msg);
    ck_assert(!clip_is_complete(dir));
    image img;
    image_init(&img, W, H);
    clip_state st;
    memset(&st, 0, sizeof st);
    action a = {0.5, 0, 0};
    for (int i = 0; i < 3; i++) {
        st.frame = i, st.t = i / 10.0;
        ck_assert_msg(clip_writer_add(cw, &img, &st, i ? &a : NULL, &err) == 0, "%s", err.msg);
    }
    ck_assert(!clip_is_complete(dir));
    ck_assert_int_gt(count_entries(dir, ".tmp."), 0);
    clip_writer_abort(cw);
    ck_assert(!exists(dir)); /* it made the folder, so it removes it */
    char parent[4200];
    snprintf(parent, sizeof parent, "%s/a", root);
    ck_assert(exists(parent));

    /* A folder that was there stays, and so does what else is in it. */
    char other[4400];
    join(other, sizeof other, parent, "notes.txt");
    write_text_file(other, "keep me");
    ck_assert_msg(clip_writer_open(&cw, parent, &m, &err) == 0, "%s", err.msg);
    ck_assert_msg(clip_writer_add(cw, &img, &st, NULL, &err) == -1, "frame 2 accepted as frame 0");
    char want[4400];
    snprintf(want, sizeof want, "%s: frame 2 added as frame 0", parent);
    ck_assert_str_eq(err.msg, want);
    clip_writer_abort(cw);
    ck_assert(exists(other));
    ck_assert_int_eq(count_entries(parent, ""), 1);
    image_free(&img);
    scenario_free(&sc);
    free(root);
}
END_TEST

START_TEST(reopening_a_complete_clip_is_refused_and_leaves_it_alone) {
    char *dir = copy_base(), path[4400];
    join(path, sizeof path, dir, CLIP_FILE_META);
    char *before = read_text(path);
    scenario sc;
    load_scenario("guard_stop_proceed", &sc);
    clip_meta m = meta_for(&sc);
    clip_writer *cw = (clip_writer *)&cw;
    wm_error err;
    ck_assert_int_eq(clip_writer_open(&cw, dir, &m, &err), -1);
    ck_assert_ptr_null(cw);
    char want[4400];
    snprintf(want, sizeof want, "%s: already holds a complete clip", dir);
    ck_assert_str_eq(err.msg, want);
    char *after = read_text(path);
    ck_assert_str_eq(after, before);
    ck_assert_msg(clip_check(dir, &err) == 0, "%s", err.msg);
    free(before), free(after), free(dir);
    scenario_free(&sc);
}
END_TEST

/* A generation killed half way: a child process opens the clip, writes
 * frames and captions and exits without closing. A new open clears what
 * it left and writes a whole clip. */
START_TEST(partial_clip_of_a_dead_writer_is_cleared_by_the_next_open) {
    char *root = test_tmpdir(), dir[4200];
    snprintf(dir, sizeof dir, "%s/clip", root);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        recording rec;
        write_clip_from("guard_stop_proceed", dir, 12, 0, &rec);
        _exit(0); /* no close, no abort: what a kill -9 leaves */
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert(!clip_is_complete(dir));
    ck_assert_int_eq(count_entries(dir, ".tmp."), 4); /* two videos, states, captions */
    /* Leftovers of an older partial attempt that got further. */
    char stale[4400];
    join(stale, sizeof stale, dir, CLIP_FILE_STATES);
    write_text_file(stale, "{\"frame\":0}\n");
    join(stale, sizeof stale, dir, "meta.json.tmp.99999");
    write_text_file(stale, "{");
    wm_error err;
    assert_check_fails(dir, "DIR: incomplete clip (no meta.json)");

    recording rec;
    write_clip_from("guard_stop_proceed", dir, N_FRAMES, 1, &rec);
    ck_assert_int_eq(count_entries(dir, ".tmp."), 0);
    ck_assert_int_eq(count_entries(dir, ""), 5);
    ck_assert_msg(clip_check(dir, &err) == 0, "%s", err.msg);
    /* The same episode gives the same clip, byte for byte. */
    for (int i = 0; i < 5; i++) {
        char a[4400], b[4400];
        join(a, sizeof a, dir, FILES[i]);
        join(b, sizeof b, base_dir, FILES[i]);
        uint8_t *da, *db;
        size_t la, lb;
        ck_assert(file_read_all(a, 1 << 26, &da, &la, &err) == 0 && file_read_all(b, 1 << 26, &db, &lb, &err) == 0);
        ck_assert_msg(la == lb && memcmp(da, db, la) == 0, "%s differs from the base clip's", FILES[i]);
        free(da), free(db);
    }
    recording_free(&rec);
    free(root);
}
END_TEST

START_TEST(writer_refuses_what_the_format_cannot_hold) {
    char *root = test_tmpdir(), dir[4200];
    snprintf(dir, sizeof dir, "%s/clip", root);
    scenario sc;
    load_scenario("guard_stop_proceed", &sc);
    clip_meta m = meta_for(&sc);
    clip_writer *cw;
    wm_error err;
    char want[4400];

    m.width = 65;
    ck_assert_int_eq(clip_writer_open(&cw, dir, &m, &err), -1);
    snprintf(want, sizeof want, "%s: frame size 65x32: video.mp4 needs even sides (H.264 and MPEG-4 halve chroma)",
             dir);
    ck_assert_str_eq(err.msg, want);
    ck_assert(!exists(dir)); /* refused before anything was created */
    m.width = W, m.fps = 25;
    ck_assert_int_eq(clip_writer_open(&cw, dir, &m, &err), -1);
    snprintf(want, sizeof want, "%s: fps 25, but clips are 10 fps", dir);
    ck_assert_str_eq(err.msg, want);
    m.fps = CLIP_FPS;

    ck_assert_msg(clip_writer_open(&cw, dir, &m, &err) == 0, "%s", err.msg);
    image img, small;
    image_init(&img, W, H);
    image_init(&small, W, H / 2);
    clip_state st;
    memset(&st, 0, sizeof st);
    ck_assert_int_eq(clip_writer_add(cw, &small, &st, NULL, &err), -1);
    snprintf(want, sizeof want, "%s: frame 0 is 64x16, but the clip is 64x32", dir);
    ck_assert_str_eq(err.msg, want);
    st.x = NAN;
    ck_assert_int_eq(clip_writer_add(cw, &img, &st, NULL, &err), -1);
    snprintf(want, sizeof want, "%s: frame 0: ego.x is not finite", dir);
    ck_assert_str_eq(err.msg, want);
    st.x = 0, st.t = 0.25;
    ck_assert_int_eq(clip_writer_add(cw, &img, &st, NULL, &err), -1);
    snprintf(want, sizeof want, "%s: frame 0: t 0.250000 s, expected 0.000000 s (frame / fps)", dir);
    ck_assert_str_eq(err.msg, want);
    st.t = 0;
    ck_assert_int_eq(clip_writer_caption(cw, 0, "too early", &err), -1);
    snprintf(want, sizeof want, "%s: caption 'too early' at t=0.000 s: frame 0 has not been added (0 so far)", dir);
    ck_assert_str_eq(err.msg, want);
    ck_assert_msg(clip_writer_add(cw, &img, &st, NULL, &err) == 0, "%s", err.msg);
    st.frame = 1, st.t = 0.1;
    ck_assert_int_eq(clip_writer_add(cw, &img, &st, NULL, &err), -1);
    snprintf(want, sizeof want, "%s: frame 1: no action led to it (only the first frame may lack one)", dir);
    ck_assert_str_eq(err.msg, want);
    action a = {1, 0, 0};
    ck_assert_msg(clip_writer_add(cw, &img, &st, &a, &err) == 0, "%s", err.msg);
    ck_assert_msg(clip_writer_caption(cw, 0.1, "second", &err) == 0, "%s", err.msg);
    ck_assert_int_eq(clip_writer_caption(cw, 0.0, "first", &err), -1);
    snprintf(want, sizeof want, "%s: caption 'first' at t=0.000 s comes before the previous one (t=0.100 s)", dir);
    ck_assert_str_eq(err.msg, want);
    ck_assert_int_eq(clip_writer_caption(cw, 0.1, "", &err), -1);
    snprintf(want, sizeof want, "%s: caption at t=0.100 s: empty text", dir);
    ck_assert_str_eq(err.msg, want);
    ck_assert_msg(clip_writer_caption(cw, 3 * 0.1 - 0.2, "float noise", &err) == 0, "%s", err.msg);
    ck_assert_msg(clip_writer_caption(cw, 0.125, "between frames", &err) == 0, "%s", err.msg);
    ck_assert_msg(clip_writer_close(cw, &err) == 0, "%s", err.msg);
    ck_assert_msg(clip_check(dir, &err) == 0, "%s", err.msg);
    char path[4400];
    join(path, sizeof path, dir, CLIP_FILE_CAPTIONS);
    char *text = read_text(path);
    ck_assert_str_eq(text, "{\"t\":0.1,\"frame\":1,\"text\":\"second\"}\n"
                           "{\"t\":0.1,\"frame\":1,\"text\":\"float noise\"}\n"
                           "{\"t\":0.125,\"frame\":1,\"text\":\"between frames\"}\n");
    free(text);
    join(path, sizeof path, dir, CLIP_FILE_STATES);
    text = read_text(path);
    ck_assert_str_eq(text, "{\"frame\":0,\"t\":0.0,\"ego\":{\"x\":0.0,\"y\":0.0,\"yaw\":0.0,\"speed\":0.0,"
                           "\"yaw_rate\":0.0,\"accel\":0.0},\"action\":{\"accel\":1.0,\"brake\":0.0,\"steer\":0.0},"
                           "\"actors\":[]}\n"
                           "{\"frame\":1,\"t\":0.1,\"ego\":{\"x\":0.0,\"y\":0.0,\"yaw\":0.0,\"speed\":0.0,"
                           "\"yaw_rate\":0.0,\"accel\":0.0},\"actors\":[]}\n");
    free(text);

    /* A clip without frames is no clip: close refuses and leaves nothing. */
    char empty[4200];
    snprintf(empty, sizeof empty, "%s/empty", root);
    ck_assert_msg(clip_writer_open(&cw, empty, &m, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(clip_writer_close(cw, &err), -1);
    snprintf(want, sizeof want, "%s: no frames added: a clip has at least one", empty);
    ck_assert_str_eq(err.msg, want);
    ck_assert(!exists(empty));
    image_free(&img), image_free(&small);
    scenario_free(&sc);
    free(root);
}
END_TEST

/* ------------------------------------------------------------------ */
/* clip_check on damaged copies of the real clip                         */

START_TEST(check_reports_a_missing_or_bad_meta) {
    char *dir = copy_base(), path[4400];
    join(path, sizeof path, dir, CLIP_FILE_META);
    char *good = read_text(path);
    unlink(path);
    assert_check_fails(dir, "DIR: incomplete clip (no meta.json)");
    write_text_file(path, "{\"format_version\": 1,");
    assert_check_fails_prefix(dir, "DIR/meta.json: not JSON: ");
    write_text_file(path, "[1]");
    assert_check_fails(dir, "DIR/meta.json: not a JSON object");
    write_text_file(path, good);
    edit_file(dir, CLIP_FILE_META, "\"format_version\": 1", "\"format_version\": 7");
    assert_check_fails(dir, "DIR/meta.json: format_version 7 is newer than this wmsim reads (1)");
    ck_assert(clip_is_complete(dir)); /* complete, just not ours: never overwritten */
    write_text_file(path, good);
    edit_file(dir, CLIP_FILE_META, "\"source\": \"synthetic\"", "\"source\": \"lidar\"");
    assert_check_fails(dir, "DIR/meta.json: source: unknown 'lidar'");
    write_text_file(path, good);
    edit_file(dir, CLIP_FILE_META, "\"fps\": 10", "\"fps\": 25");
    assert_check_fails(dir, "DIR/meta.json: fps 25, but clips are 10 fps");
    write_text_file(path, good);
    edit_file(dir, CLIP_FILE_META, "\"width\": 64", "\"width\": 128");
    assert_check_fails(dir, "DIR/meta.json: camera is 64x32, but the frames are 128x32");
    free(good), free(dir);
}
END_TEST

START_TEST(check_reports_videos_that_disagree_with_meta) {
    char *dir = copy_base(), path[4400], mp4[4400];
    join(path, sizeof path, dir, CLIP_FILE_META);
    char *good = read_text(path);
    edit_file(dir, CLIP_FILE_META, "\"frames\": 30", "\"frames\": 31");
    assert_check_fails(dir, "DIR/frames.mkv: 30 frames, but meta.json says 31");
    write_text_file(path, good);

    join(path, sizeof path, dir, CLIP_FILE_FRAMES);
    join(mp4, sizeof mp4, dir, CLIP_FILE_VIDEO);
    unlink(path);
    assert_check_fails(dir, "DIR/frames.mkv: missing");
    /* The H.264 copy in frames.mkv: right count and size, lossy codec. */
    copy_file(mp4, path);
    char want[4400];
    snprintf(want, sizeof want, "DIR/frames.mkv: codec %s, expected ffv1 (lossless)",
             video_codec_available(VIDEO_CODEC_H264) ? "h264" : "mpeg4");
    assert_check_fails(dir, want);

    /* Real videos of the wrong length and size. */
    wm_error err;
    video_writer *vw;
    image img;
    image_init(&img, W, 48);
    ck_assert_msg(video_writer_open(&vw, path, W, 48, 10, VIDEO_CODEC_FFV1, &err) == 0, "%s", err.msg);
    for (int i = 0; i < N_FRAMES; i++) ck_assert_msg(video_writer_add(vw, &img, &err) == 0, "%s", err.msg);
    ck_assert_msg(video_writer_close(vw, &err) == 0, "%s", err.msg);
    assert_check_fails(dir, "DIR/frames.mkv: 64x48 frames, but meta.json says 64x32");
    image_free(&img);
    join(want, sizeof want, base_dir, CLIP_FILE_FRAMES);
    copy_file(want, path);
    image_init(&img, W, H);
    ck_assert_msg(video_writer_open(&vw, mp4, W, H, 10, VIDEO_CODEC_AUTO, &err) == 0, "%s", err.msg);
    for (int i = 0; i < N_FRAMES - 1; i++) ck_assert_msg(video_writer_add(vw, &img, &err) == 0, "%s", err.msg);
    ck_assert_msg(video_writer_close(vw, &err) == 0, "%s", err.msg);
    assert_check_fails(dir, "DIR/video.mp4: 29 frames, but meta.json says 30");
    image_free(&img);
    free(good), free(dir);
}
END_TEST

START_TEST(check_reports_states_lines_by_number) {
    char *dir = copy_base(), path[4400], base_states[4400];
    join(path, sizeof path, dir, CLIP_FILE_STATES);
    join(base_states, sizeof base_states, base_dir, CLIP_FILE_STATES);
    int n;
    char **good = read_lines(base_states, &n);
    ck_assert_int_eq(n, N_FRAMES);
    wm_error err;

    /* Cut on a line boundary, cut inside a line, one line too many. */
    write_lines(path, good, n - 1);
    assert_check_fails(dir, "DIR/states.jsonl: 29 lines, but meta.json says 30 frames");
    char *last = good[n - 1];
    good[n - 1] = STRDUP_CHECK(last);
    good[n - 1][strlen(good[n - 1]) - 12] = '\0';
    write_lines(path, good, n);
    assert_check_fails_prefix(dir, "DIR/states.jsonl: line 30: not JSON: ");
    free(good[n - 1]);
    good[n - 1] = last;
    char **more = MALLOC_CHECK((size_t)(n + 1) * sizeof *more);
    memcpy(more, good, (size_t)n * sizeof *more);
    more[n] = good[n - 1];
    write_lines(path, more, n + 1);
    assert_check_fails(dir, "DIR/states.jsonl: 31 lines, but meta.json says 30 frames");
    free(more);

    /* Swapped lines. */
    char *t = good[11];
    good[11] = good[12], good[12] = t;
    write_lines(path, good, n);
    assert_check_fails(dir, "DIR/states.jsonl: line 12: frame 12, expected 11");
    t = good[11], good[11] = good[12], good[12] = t;
    write_lines(path, good, n);
    ck_assert_msg(clip_check(dir, &err) == 0, "%s", err.msg);

    /* Time going backwards, and a time that is not the frame's. */
    edit_line(dir, CLIP_FILE_STATES, 5, "\"t\":0.4,", "\"t\":0.2,");
    assert_check_fails(dir, "DIR/states.jsonl: line 5: t 0.200 s is not after line 4's 0.300 s");
    write_lines(path, good, n);
    edit_line(dir, CLIP_FILE_STATES, 5, "\"t\":0.4,", "\"t\":0.45,");
    assert_check_fails(dir, "DIR/states.jsonl: line 5: t 0.450 s, expected 0.400 s (frame / fps)");
    write_lines(path, good, n);

    /* Bad fields and actions. */
    edit_line(dir, CLIP_FILE_STATES, 30, "\"kind\":\"guard\"", "\"kind\":\"tank\"");
    assert_check_fails(dir, "DIR/states.jsonl: line 30: actors[0].kind: unknown 'tank'");
    write_lines(path, good, n);
    edit_line(dir, CLIP_FILE_STATES, 12, "{\"frame\":11,", "{");
    assert_check_fails(dir, "DIR/states.jsonl: line 12: frame: missing");
    write_lines(path, good, n);
    edit_line(dir, CLIP_FILE_STATES, 3, "\"ego\":{\"x\":", "\"ego\":{\"x\":\"far\",\"z\":");
    assert_check_fails(dir, "DIR/states.jsonl: line 3: ego.x: not a number");
    write_lines(path, good, n);
    char *no_action = STRDUP_CHECK(good[28]);
    char *cut = strstr(no_action, ",\"action\":"), *rest = strstr(cut, "},") + 1;
    memmove(cut, rest, strlen(rest) + 1);
    write_text_file(path, ""); /* the first 28 lines, then line 29 without its action */
    write_lines(path, good, 28);
    FILE *f = fopen(path, "ab");
    fprintf(f, "%s\n%s\n", no_action, good[29]);
    fclose(f);
    free(no_action);
    assert_check_fails(dir, "DIR/states.jsonl: line 29: frame 28 has no action (only the last frame may lack one)");
    write_lines(path, good, n);
    edit_line(dir, CLIP_FILE_STATES, 29, ",\"action\":", ",\"x_action\":");
    assert_check_fails(dir, "DIR/states.jsonl: line 29: x_action: unknown field");
    write_lines(path, good, n);
    edit_line(dir, CLIP_FILE_STATES, 30, "\"actors\":[",
              "\"action\":{\"accel\":0.0,\"brake\":0.0,\"steer\":0.0},\"actors\":[");
    assert_check_fails(dir, "DIR/states.jsonl: line 30: the last frame has an action (no frame follows it)");
    write_lines(path, good, n);
    ck_assert_msg(clip_check(dir, &err) == 0, "%s", err.msg);
    free_lines(good, n);

    unlink(path);
    assert_check_fails(dir, "DIR/states.jsonl: missing");
    free(dir);
}
END_TEST

START_TEST(check_reports_captions_out_of_order_or_outside_the_clip) {
    char *dir = copy_base(), path[4400];
    join(path, sizeof path, dir, CLIP_FILE_CAPTIONS);
    write_text_file(path, "{\"t\":1.0,\"frame\":10,\"text\":\"b\"}\n{\"t\":0.5,\"frame\":5,\"text\":\"a\"}\n");
    assert_check_fails(dir, "DIR/captions.jsonl: line 2: t 0.500 s is before line 1's 1.000 s (captions are in time order)");
    write_text_file(path, "{\"t\":1.0,\"frame\":10,\"text\":\"b\"}\n{\"t\":1.0,\"frame\":10,\"text\":\"c\"}\n"
                          "{\"t\":9.0,\"frame\":90,\"text\":\"late\"}\n");
    assert_check_fails(dir, "DIR/captions.jsonl: line 3: t 9.000 s is after the clip's last frame (frame 29, t 2.900 s)");
    write_text_file(path, "{\"t\":-0.5,\"frame\":0,\"text\":\"early\"}\n");
    assert_check_fails(dir, "DIR/captions.jsonl: line 1: t -0.500 s is before the clip's start");
    write_text_file(path, "{\"t\":0.7,\"frame\":3,\"text\":\"x\"}\n");
    assert_check_fails(dir, "DIR/captions.jsonl: line 1: frame 3, but t 0.700 s is frame 7");
    write_text_file(path, "{\"t\":0.7,\"frame\":7,\"text\":\"\"}\n");
    assert_check_fails(dir, "DIR/captions.jsonl: line 1: text: empty");
    write_text_file(path, "{\"t\":0.7,\"frame\":7,\"text\":\"x\"}\nnot json\n");
    assert_check_fails_prefix(dir, "DIR/captions.jsonl: line 2: not JSON: ");
    write_text_file(path, ""); /* no captions is a valid clip */
    wm_error err;
    ck_assert_msg(clip_check(dir, &err) == 0, "%s", err.msg);
    unlink(path);
    assert_check_fails(dir, "DIR/captions.jsonl: missing");
    free(dir);
}
END_TEST

START_TEST(check_tree_reports_every_bad_clip) {
    char *root = test_tmpdir(), a[1024], b[1024], c[1024], p[4400];
    snprintf(a, sizeof a, "%s/x/a", root);
    snprintf(b, sizeof b, "%s/x/b", root);
    snprintf(c, sizeof c, "%s/y", root);
    wm_error err;
    int n = -1;
    ck_assert_int_eq(clip_check_tree(root, &n, &err), -1);
    char want[8192];
    snprintf(want, sizeof want, "%s: no clip folders under it", root);
    ck_assert_str_eq(err.msg, want);
    const char *dirs[] = {a, b, c};
    for (int k = 0; k < 3; k++) {
        ck_assert_msg(dir_create(dirs[k], &err) == 0, "%s", err.msg);
        for (int i = 0; i < 5; i++) {
            char from[4400];
            join(from, sizeof from, base_dir, FILES[i]);
            join(p, sizeof p, dirs[k], FILES[i]);
            copy_file(from, p);
        }
    }
    ck_assert_msg(clip_check_tree(root, &n, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(n, 3);
    join(p, sizeof p, a, CLIP_FILE_META);
    unlink(p);
    join(p, sizeof p, c, CLIP_FILE_CAPTIONS);
    unlink(p);
    ck_assert_int_eq(clip_check_tree(root, &n, &err), -1);
    ck_assert_int_eq(n, 1);
    snprintf(want, sizeof want, "%s: incomplete clip (no meta.json)\n%s/captions.jsonl: missing", a, c);
    ck_assert_str_eq(err.msg, want);
    free(root);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Records                                                               */

START_TEST(state_json_is_exact_for_awkward_values_and_pins_the_format) {
    clip_state *st = CALLOC_CHECK(1, sizeof *st), *back = CALLOC_CHECK(1, sizeof *back);
    st->frame = 7, st->t = 0.7;
    st->x = 0.1, st->y = -0.0, st->yaw = 1.0 / 3.0, st->speed = 1e-300, st->yaw_rate = 4.9e-324, st->accel = 1.7976931348623157e308;
    st->has_action = 1, st->action = (action){2.5, 0, -0.05};
    st->n_actors = 3;
    st->actors[0] = (clip_actor){.id = "guard \"G\" \xc3\xa9", .kind = ACTOR_GUARD, .x = 25, .y = -2.25,
                                 .heading = WM_PI, .speed = 0, .gesture = GESTURE_TURN_LEFT};
    st->actors[1] = (clip_actor){.id = "lead", .kind = ACTOR_VEHICLE, .x = 40.125, .y = 0, .speed = 12.5, .braking = 1};
    st->actors[2] = (clip_actor){.id = "cones", .kind = ACTOR_OBSTACLE, .x = 60, .y = 1};
    char *json = clip_state_to_json(st);
    ck_assert_str_eq(json,
                     "{\"frame\":7,\"t\":0.7,\"ego\":{\"x\":0.1,\"y\":-0.0,\"yaw\":0.3333333333333333,"
                     "\"speed\":1e-300,\"yaw_rate\":4.94065645841247e-324,\"accel\":1.7976931348623157e+308},"
                     "\"action\":{\"accel\":2.5,\"brake\":0.0,\"steer\":-0.05},\"actors\":["
                     "{\"id\":\"guard \\\"G\\\" \xc3\xa9\",\"kind\":\"guard\",\"x\":25.0,\"y\":-2.25,"
                     "\"heading\":3.141592653589793,\"speed\":0.0,\"gesture\":\"TURN_LEFT\"},"
                     "{\"id\":\"lead\",\"kind\":\"vehicle\",\"x\":40.125,\"y\":0.0,\"heading\":0.0,\"speed\":12.5,"
                     "\"braking\":true},"
                     "{\"id\":\"cones\",\"kind\":\"obstacle\",\"x\":60.0,\"y\":1.0,\"heading\":0.0,\"speed\":0.0}]}");
    wm_error err;
    ck_assert_msg(clip_state_from_json(json, back, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(memcmp(st, back, sizeof *st), 0);
    ck_assert(signbit(back->y));
    free(json);
    /* The last frame: no action key at all. */
    st->has_action = 0, st->n_actors = 0;
    json = clip_state_to_json(st);
    ck_assert_ptr_null(strstr(json, "action"));
    ck_assert_msg(clip_state_from_json(json, back, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(back->has_action, 0);
    free(json);
    free(st), free(back);
}
END_TEST

static void assert_state_error(const char *line, const char *want) {
    clip_state *st = MALLOC_CHECK(sizeof *st);
    wm_error err;
    ck_assert_int_eq(clip_state_from_json(line, st, &err), -1);
    ck_assert_str_eq(err.msg, want);
    free(st);
}

START_TEST(state_json_errors_name_the_field) {
    const char *ego = "\"ego\":{\"x\":0,\"y\":0,\"yaw\":0,\"speed\":0,\"yaw_rate\":0,\"accel\":0}";
    char line[4096];
    assert_state_error("[]", "not a JSON object");
    snprintf(line, sizeof line, "{\"t\":0,%s,\"actors\":[]}", ego);
    assert_state_error(line, "frame: missing");
    snprintf(line, sizeof line, "{\"frame\":1.5,\"t\":0,%s,\"actors\":[]}", ego);
    assert_state_error(line, "frame: not an integer");
    snprintf(line, sizeof line, "{\"frame\":-1,\"t\":0,%s,\"actors\":[]}", ego);
    assert_state_error(line, "frame: -1 outside [0, 2147483647]");
    snprintf(line, sizeof line, "{\"frame\":0,\"t\":0,%s}", ego);
    assert_state_error(line, "actors: missing");
    snprintf(line, sizeof line, "{\"frame\":0,\"t\":0,%s,\"actors\":[],\"colour\":1}", ego);
    assert_state_error(line, "colour: unknown field");
    snprintf(line, sizeof line, "{\"frame\":0,\"t\":0,%s,\"action\":{\"accel\":1,\"brake\":0},\"actors\":[]}", ego);
    assert_state_error(line, "action.steer: missing");
    snprintf(line, sizeof line,
             "{\"frame\":0,\"t\":0,%s,\"actors\":[{\"id\":\"a\",\"kind\":\"vehicle\",\"x\":0,\"y\":0,"
             "\"heading\":0,\"speed\":0,\"braking\":false},{\"id\":\"b\",\"kind\":\"pedestrian\",\"x\":0,"
             "\"y\":0,\"heading\":0,\"speed\":0,\"braking\":true}]}",
             ego);
    assert_state_error(line, "actors[1].braking: unknown field");
    snprintf(line, sizeof line,
             "{\"frame\":0,\"t\":0,%s,\"actors\":[{\"id\":\"g\",\"kind\":\"guard\",\"x\":0,\"y\":0,"
             "\"heading\":0,\"speed\":0,\"gesture\":\"WAVE\"}]}",
             ego);
    assert_state_error(line, "actors[0].gesture: unknown 'WAVE'");
    snprintf(line, sizeof line,
             "{\"frame\":0,\"t\":0,%s,\"actors\":[{\"id\":\"v\",\"kind\":\"vehicle\",\"x\":0,\"y\":0,"
             "\"heading\":0,\"speed\":0}]}",
             ego);
    assert_state_error(line, "actors[0].braking: missing");
    snprintf(line, sizeof line, "{\"frame\":0,\"t\":0,%s,\"actors\":[7]}", ego);
    assert_state_error(line, "actors[0]: not an object");
    char *big = MALLOC_CHECK(65536);
    int n = snprintf(big, 65536, "{\"frame\":0,\"t\":0,%s,\"actors\":[", ego);
    for (int i = 0; i <= CLIP_MAX_ACTORS; i++)
        n += snprintf(big + n, (size_t)(65536 - n), "%s{\"id\":\"s\",\"kind\":\"sign\",\"x\":0,\"y\":0,\"heading\":0,"
                      "\"speed\":0}", i ? "," : "");
    snprintf(big + n, (size_t)(65536 - n), "]}");
    assert_state_error(big, "actors: 65 entries, at most 64");
    free(big);
    assert_state_error("{\"frame\":0,\"t\":0,\"ego\":{\"x\":0}, \"actors\":[]}", "ego.y: missing");
}
END_TEST

START_TEST(meta_json_round_trips_64_bit_values_and_names_bad_fields) {
    clip_meta m, back;
    memset(&m, 0, sizeof m);
    m.format_version = CLIP_FORMAT_VERSION;
    m.source = CLIP_SOURCE_DASHCAM;
    m.scenario_hash = 0xfedcba9876543210ULL;
    m.seed = UINT64_MAX;
    m.variation = 12;
    m.fps = CLIP_FPS, m.width = 128, m.height = 64, m.frames = 1234;
    m.camera = scenario_camera_default();
    m.explore = 1;
    snprintf(m.policy, sizeof m.policy, "dashcam");
    snprintf(m.source_file, sizeof m.source_file, "drives/2024 06 01 \"a\".mp4");
    char *json = clip_meta_to_json(&m);
    wm_error err;
    ck_assert_msg(clip_meta_from_json(json, &back, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(memcmp(&m, &back, sizeof m), 0);
    ck_assert_ptr_nonnull(strstr(json, "\"seed\": \"18446744073709551615\""));
    ck_assert_ptr_nonnull(strstr(json, "\"scenario_hash\": \"fedcba9876543210\""));
    struct {
        const char *from, *to, *want;
    } cases[] = {
        {"\"format_version\": 1", "\"format_version\": 0", "format_version 0: not a clip format version (the first is 1)"},
        {"\"seed\": \"18446744073709551615\"", "\"seed\": \"18446744073709551616\"",
         "seed: '18446744073709551616' is not an unsigned 64-bit integer"},
        {"\"seed\": \"18446744073709551615\"", "\"seed\": 5", "seed: not a string"},
        {"\"scenario_hash\": \"fedcba9876543210\"", "\"scenario_hash\": \"xyz\"",
         "scenario_hash: 'xyz' is not 16 hex digits"},
        {"\"scenario_hash\": \"fedcba9876543210\"", "\"scenario_hash\": \"0x dcba9876543210\"",
         "scenario_hash: '0x dcba9876543210' is not 16 hex digits"},
        {"\"seed\": \"18446744073709551615\"", "\"seed\": \" 1\"", "seed: ' 1' is not an unsigned 64-bit integer"},
        {"\"frames\": 1234", "\"frames\": -1", "frames: -1 outside [0, 2147483647]"},
        {"\"explore\": true", "\"explore\": 1", "explore: not true or false"},
        {"\"hfov_deg\": 60.0", "\"hfov\": 60.0", "camera.hfov_deg: missing"},
        {"\"policy\": \"dashcam\",", "", "policy: missing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *bad = replace(json, cases[i].from, cases[i].to);
        ck_assert_int_eq(clip_meta_from_json(bad, &back, &err), -1);
        ck_assert_str_eq(err.msg, cases[i].want);
        free(bad);
    }
    free(json);
}
END_TEST

START_TEST(caption_json_round_trips) {
    clip_caption c = {.t = 1.2, .frame = 12}, back;
    snprintf(c.text, sizeof c.text, "a sign reads \"USE NEXT ENTRANCE\"");
    char *json = clip_caption_to_json(&c);
    ck_assert_str_eq(json, "{\"t\":1.2,\"frame\":12,\"text\":\"a sign reads \\\"USE NEXT ENTRANCE\\\"\"}");
    wm_error err;
    ck_assert_msg(clip_caption_from_json(json, &back, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(memcmp(&c, &back, sizeof c), 0);
    free(json);
    ck_assert_int_eq(clip_caption_from_json("{\"t\":1,\"frame\":10,\"text\":\"x\",\"who\":1}", &back, &err), -1);
    ck_assert_str_eq(err.msg, "who: unknown field");
}
END_TEST

/* ------------------------------------------------------------------ */
/* From the world                                                        */

START_TEST(state_from_world_is_ego_relative_and_limited_to_the_view) {
    scenario sc;
    load_scenario("guard_stop_proceed", &sc);
    sim_world *w = MALLOC_CHECK(sizeof *w);
    sim_world_init(w, &sc, sc.seed);
    clip_state *st = MALLOC_CHECK(sizeof *st);
    /* At the start the guard is 108.5 m from the lens: out of range. */
    clip_state_from_world(w, &sc.camera, 3, st);
    ck_assert_int_eq(st->frame, 3);
    ck_assert(st->t == 0.3);
    ck_assert(st->x == w->ego.x && st->y == w->ego.y && st->speed == 10.0);
    ck_assert_int_eq(st->n_actors, 0);
    ck_assert_int_eq(st->has_action, 0);
    /* 60 m behind the guard, rotated by 90 degrees: the guard is beside
     * the ego (to its right), out of a 60-degree view. */
    const sim_actor *g = &w->actors[0];
    w->ego.x = g->x - 60, w->ego.y = g->y + 0.4 + 1.75, w->ego.yaw = 0;
    clip_state_from_world(w, &sc.camera, 0, st);
    ck_assert_int_eq(st->n_actors, 1);
    const clip_actor *a = &st->actors[0];
    ck_assert_str_eq(a->id, "guard");
    ck_assert_int_eq(a->kind, ACTOR_GUARD);
    ck_assert_int_eq(a->gesture, GESTURE_STOP);
    ck_assert_double_eq_tol(a->x, 60, 1e-9);
    ck_assert_double_eq_tol(a->y, -2.15, 1e-9);
    ck_assert_double_eq_tol(a->heading, 0, 1e-12);
    w->ego.yaw = WM_PI / 2; /* facing north: the guard is to the right */
    clip_state_from_world(w, &sc.camera, 0, st);
    ck_assert_int_eq(st->n_actors, 0);
    w->ego.yaw = -WM_PI / 2 + 0.1; /* facing almost south... */
    ck_assert(!clip_actor_in_view(w, &sc.camera, 0, NULL));
    /* The edge of the view: a guard 20 m from the lens whose centre lies
     * just outside the 30-degree half angle is in view while its body
     * (half diagonal 0.42 m) reaches across the edge, and out once not. */
    double half = 30 * WM_PI / 180, depth = 20;
    w->ego.yaw = 0;
    w->ego.x = g->x - sc.camera.mount_forward - depth;
    w->ego.y = g->y + depth * tan(half) + 0.3; /* 0.26 m from the edge */
    ck_assert(clip_actor_in_view(w, &sc.camera, 0, NULL));
    w->ego.y = g->y + depth * tan(half) + 0.6; /* 0.52 m */
    ck_assert(!clip_actor_in_view(w, &sc.camera, 0, NULL));
    /* And 100 m of depth, with the same margin. */
    w->ego.y = g->y;
    w->ego.x = g->x - sc.camera.mount_forward - 100.4;
    ck_assert(clip_actor_in_view(w, &sc.camera, 0, NULL));
    w->ego.x = g->x - sc.camera.mount_forward - 100.5;
    ck_assert(!clip_actor_in_view(w, &sc.camera, 0, NULL));
    free(st), free(w);
    scenario_free(&sc);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Captions over whole episodes (no pictures: fast)                      */

typedef struct {
    caption_tracker ct;
    char lines[64][CLIP_CAPTION_MAX];
    double t[64];
    int n;
} caption_log;

static int log_captions(const episode_frame *f, void *ctx) {
    caption_log *log = ctx;
    char lines[CAPTIONS_MAX_PER_FRAME][CLIP_CAPTION_MAX];
    int n = captions_update(&log->ct, f->w, lines);
    for (int i = 0; i < n && log->n < 64; i++) {
        log->t[log->n] = f->w->t;
        memcpy(log->lines[log->n++], lines[i], CLIP_CAPTION_MAX);
    }
    return 0;
}

/* The captions of a whole expert episode of example `name`, one per line
 * as "T: TEXT". */
static char *episode_captions(const char *name) {
    scenario sc;
    wm_error err;
    char rel[256];
    snprintf(rel, sizeof rel, "scenarios/examples/%s.pbtxt", name);
    ck_assert_msg(scenario_load(src_path(rel), &sc, &err) == 0, "%s", err.msg);
    caption_log *log = CALLOC_CHECK(1, sizeof *log);
    sim_world *w0 = MALLOC_CHECK(sizeof *w0);
    sim_world_init(w0, &sc, sc.seed);
    captions_init(&log->ct, w0);
    free(w0);
    policy pol;
    ck_assert_msg(policy_create("expert", NULL, &pol, &err) == 0, "%s", err.msg);
    episode_config ec = {.sc = &sc, .seed = sc.seed, .pol = &pol, .observe = log_captions, .observe_ctx = log};
    episode_result res;
    ck_assert_msg(episode_run(&ec, &res, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(res.end_reason, "goal reached");
    char *out = CALLOC_CHECK(64, CLIP_CAPTION_MAX + 16);
    for (int i = 0; i < log->n; i++)
        sprintf(out + strlen(out), "%.1f: %s\n", log->t[i], log->lines[i]);
    pol.destroy(&pol);
    free(log);
    scenario_free(&sc);
    return out;
}

/* Whether the lines in want appear in got in that order, each once. */
static void assert_captions(const char *name, const char *const *want) {
    char *got = episode_captions(name);
    const char *from = got;
    for (int i = 0; want[i]; i++) {
        const char *at = strstr(from, want[i]);
        ck_assert_msg(at != NULL, "%s: '%s' missing or out of order in:\n%s", name, want[i], got);
        ck_assert_msg(strstr(at + 1, want[i]) == NULL, "%s: '%s' twice in:\n%s", name, want[i], got);
        from = at + strlen(want[i]);
    }
    free(got);
}

START_TEST(captions_tell_each_event_of_the_examples_once) {
    assert_captions("guard_stop_proceed",
                    (const char *const[]){": a traffic guard 98 m ahead signals STOP\n", ": the ego stops\n",
                                          ": the guard now signals PROCEED\n", ": the ego moves off\n", NULL});
    assert_captions("cut_in",
                    (const char *const[]){"0.0: a car drives 56 m ahead in the left lane\n",
                                          ": a car cuts in from the left\n", NULL});
    assert_captions("lead_hard_brake",
                    (const char *const[]){"0.0: a car drives 31 m ahead in the ego's lane\n",
                                          "10.0: the car ahead brakes hard\n", ": the car ahead stops\n",
                                          ": the ego moves into the oncoming lane\n",
                                          ": the ego changes to the right lane\n", NULL});
    assert_captions("lane_closure_merge",
                    (const char *const[]){": a sign reads \"LANE CLOSED MERGE LEFT\"\n",
                                          ": a sign shows a 30 km/h limit\n", ": cones close the right lane ahead\n",
                                          ": the ego changes to the left lane\n", ": the speed limit drops to 30 km/h\n",
                                          ": the speed limit rises to 50 km/h\n", ": the ego changes to the right lane\n",
                                          NULL});
    assert_captions("pedestrian_crossing",
                    (const char *const[]){": a pedestrian waits by the road 98 m ahead\n",
                                          ": a pedestrian steps onto the road 17 m ahead\n",
                                          ": the pedestrian leaves the road\n", NULL});
    assert_captions("stalled_vehicle", (const char *const[]){": a stalled car blocks the lane ahead\n", NULL});
    assert_captions("guard_turn_left",
                    (const char *const[]){": a sign reads \"DETOUR FOLLOW GUARD\"\n",
                                          ": a traffic guard 98 m ahead signals TURN LEFT\n",
                                          ": a barrier closes the right lane ahead\n",
                                          ": the ego moves into the oncoming lane\n", NULL});
    /* The PROCEED caption comes in the step the guard switches. */
    char *got = episode_captions("guard_stop_proceed");
    double t_stop = -1, t_proceed = -1;
    for (char *line = got; *line; line = strchr(line, '\n') + 1) {
        if (strstr(line, ": the ego stops\n") == strchr(line, ':')) t_stop = atof(line);
        if (strstr(line, ": the guard now signals PROCEED\n") == strchr(line, ':')) t_proceed = atof(line);
    }
    /* The guard waits 4 s after the ego stops (the trigger's value). */
    ck_assert_double_eq_tol(t_proceed - t_stop, 4.0, 0.15);
    free(got);
}
END_TEST

START_TEST(captions_start_from_the_init_baseline_with_hysteresis) {
    /* A tracker initialised on a stopped ego does not announce a stop. */
    scenario sc;
    load_scenario("guard_stop_proceed", &sc);
    sim_world *w = MALLOC_CHECK(sizeof *w);
    sim_world_init(w, &sc, sc.seed);
    w->ego.speed = 0;
    caption_tracker ct;
    captions_init(&ct, w);
    char lines[CAPTIONS_MAX_PER_FRAME][CLIP_CAPTION_MAX];
    ck_assert_int_eq(captions_update(&ct, w, lines), 0);
    w->ego.speed = 0.3; /* creeping, within the hysteresis */
    ck_assert_int_eq(captions_update(&ct, w, lines), 0);
    w->ego.speed = 0.6;
    ck_assert_int_eq(captions_update(&ct, w, lines), 1);
    ck_assert_str_eq(lines[0], "the ego moves off");
    w->ego.speed = 0.05;
    ck_assert_int_eq(captions_update(&ct, w, lines), 1);
    ck_assert_str_eq(lines[0], "the ego stops");
    ck_assert_int_eq(captions_update(&ct, w, lines), 0);
    /* The guard comes into view: told once, then never again. */
    w->ego.x = w->actors[0].x - 40;
    w->ego_s = w->actors[0].s - 40 + 0.5 * SCENARIO_DEFAULT_WHEELBASE; /* the body centre */
    ck_assert_int_eq(captions_update(&ct, w, lines), 1);
    ck_assert_str_eq(lines[0], "a traffic guard 36 m ahead signals STOP");
    ck_assert_int_eq(captions_update(&ct, w, lines), 0);
    free(w);
    scenario_free(&sc);
}
END_TEST

/* ------------------------------------------------------------------ */
/* clip_stats                                                            */

START_TEST(stats_counts_two_clips_and_skips_a_partial_one) {
    char *root = test_tmpdir(), a[4200], b[4200], partial[4200], p[4400];
    snprintf(a, sizeof a, "%s/guard/v0000", root);
    snprintf(b, sizeof b, "%s/cut_in/v0000", root);
    snprintf(partial, sizeof partial, "%s/cut_in/v0001", root);
    wm_error err;
    ck_assert_msg(dir_create(a, &err) == 0, "%s", err.msg);
    for (int i = 0; i < 5; i++) {
        char from[4400];
        join(from, sizeof from, base_dir, FILES[i]);
        join(p, sizeof p, a, FILES[i]);
        copy_file(from, p);
    }
    recording rec;
    write_clip_from("cut_in", b, 20, 1, &rec);
    ck_assert_msg(dir_create(partial, &err) == 0, "%s", err.msg);
    join(p, sizeof p, partial, "states.jsonl.tmp.4242");
    write_text_file(p, "{\"frame\":0");

    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    ck_assert_msg(clip_stats(root, f, &err) == 0, "%s", err.msg);
    fclose(f);
    char want[8192];
    snprintf(want, sizeof want, "%s: 2 clips, 50 frames, 0.001 h\nby source:\n  synthetic", root);
    ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s", out);
    ck_assert_msg(strstr(out, "  synthetic                     2 clips        50 frames\n"), "%s", out);
    ck_assert_msg(strstr(out, "by scenario:\n  cut_in                        1 clips        20 frames\n"
                              "  guard_stop_proceed            1 clips        30 frames\n"),
                  "%s", out);
    ck_assert_msg(strstr(out, "actions (48 frames with one):\n"), "%s", out);
    /* Frames with the guard showing STOP, counted from the recording. */
    int stop = 0;
    for (int i = 0; i < N_FRAMES; i++)
        for (int k = 0; k < base.states[i].n_actors; k++) stop += base.states[i].actors[k].kind == ACTOR_GUARD;
    snprintf(want, sizeof want, "guard gestures in view (frames):\n  STOP                     %9d\n"
                                "  PROCEED                          0\n", stop);
    ck_assert_msg(strstr(out, want), "%s", out);
    ck_assert_msg(strstr(out, "captions (2, 2 kinds):\n"), "%s", out);
    ck_assert_msg(strstr(out, "       1  a traffic guard N m ahead signals STOP\n"), "%s", out);
    ck_assert_msg(strstr(out, "       1  a car drives N m ahead in the left lane\n"), "%s", out);
    snprintf(want, sizeof want, "skipped: 1 incomplete clip folders\n  %s\n", partial);
    ck_assert_msg(strstr(out, want), "%s", out);
    /* Each histogram's bins hold every frame with an action. */
    for (const char *h = out; (h = strstr(h, " to ")) != NULL;) {
        long total = 0;
        const char *row = strchr(h, '\n') + 1;
        for (int bin = 0; bin < 10; bin++) {
            const char *end = strchr(row, '\n');
            const char *num = end;
            while (num[-1] != ' ') num--;
            total += atol(num);
            row = end + 1;
        }
        ck_assert_int_eq(total, 48);
        h = row;
    }
    free(out);
    recording_free(&rec);
    free(root);
}
END_TEST

/* ------------------------------------------------------------------ */
/* `clips generate` under mpirun                                        */

#ifdef WMSIM_MPI

#define MPI_CLIPS 6 /* 2 scenarios x 3 variations */

static const char *const MPI_CLIP_DIRS[MPI_CLIPS] = {"cut_in/v0000",     "cut_in/v0001",     "cut_in/v0002",
                                                     "guard_slow/v0000", "guard_slow/v0001", "guard_slow/v0002"};

/* clips generate of the six clips into out: alone (ranks 0) or under
 * mpirun with ranks ranks. */
static int generate_six(char **out, const char *dir, int ranks) {
    const char *args[] = {"clips", "generate", "--scenarios", src_path("scenarios/examples/cut_in.pbtxt"),
                          src_path("scenarios/examples/guard_slow.pbtxt"), "--variations", "3", "--seconds", "2",
                          "--size", "32x16", "--explore", "--out", dir, NULL};
    return ranks ? run_mpi(out, ranks, args) : run_wmsim(out, args);
}

/* Every clip under b is complete and checks, and holds the same frames,
 * states, captions and meta as under a, byte for byte. video.mp4 is only
 * checked (its frame count, by clip_check): libx264 reads stale bytes of
 * its own buffers, so its bitstream depends on what the process encoded
 * before (the same in one process with a relative or an absolute --out,
 * different with another history), not only on the frames. */
static void assert_same_clips(const char *a, const char *b) {
    const char *files[] = {CLIP_FILE_FRAMES, CLIP_FILE_STATES, CLIP_FILE_CAPTIONS, CLIP_FILE_META};
    for (int c = 0; c < MPI_CLIPS; c++) {
        char da[4400], db[4400];
        join(da, sizeof da, a, MPI_CLIP_DIRS[c]);
        join(db, sizeof db, b, MPI_CLIP_DIRS[c]);
        wm_error err;
        ck_assert_msg(clip_check(db, &err) == 0, "%s", err.msg);
        for (int f = 0; f < 4; f++) {
            char pa[4500], pb[4500];
            join(pa, sizeof pa, da, files[f]);
            join(pb, sizeof pb, db, files[f]);
            ck_assert_msg(test_files_equal(pa, pb), "%s differs from %s", pb, pa);
        }
    }
}
#endif

/* Two and three ranks share the clips by index: the same clips as one
 * process, one summary line (rank 0's) counting every rank's clips; a
 * rerun resumes across ranks. */
START_TEST(generate_under_mpi_matches_one_process) {
#ifndef WMSIM_MPI
    puts("generate_under_mpi_matches_one_process: skipped (built without MPI)");
#else
    char *root = test_tmpdir(), one[4200], two[4200], three[4200], want[4600];
    join(one, sizeof one, root, "one");
    join(two, sizeof two, root, "two");
    join(three, sizeof three, root, "three");
    char *out;
    int rc = generate_six(&out, one, 0);
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    const char *dirs[] = {two, three};
    for (int r = 2; r <= 3; r++) {
        const char *dir = dirs[r - 2];
        rc = generate_six(&out, dir, r);
        ck_assert_msg(rc == 0, "mpirun -np %d: exit %d: %s", r, rc, out);
        snprintf(want, sizeof want, "6 clips in %s: 6 written (", dir);
        ck_assert_msg(test_count(out, want) == 1, "%s", out); /* rank 0 alone prints */
        snprintf(want, sizeof want, " on %d ranks), 0 complete already and kept\n", r);
        ck_assert_msg(strstr(out, want), "%s", out);
        free(out);
        assert_same_clips(one, dir);
    }
    /* An interrupted run on three ranks: a partial clip (no meta.json) and
     * a missing one are made again, the other four kept. */
    char p[4500];
    snprintf(p, sizeof p, "%s/cut_in/v0001/%s", three, CLIP_FILE_META);
    ck_assert_int_eq(unlink(p), 0);
    snprintf(p, sizeof p, "%s/guard_slow/v0002", three);
    test_remove_tree(p);
    rc = generate_six(&out, three, 3);
    ck_assert_msg(rc == 0, "%s", out);
    snprintf(want, sizeof want, "6 clips in %s: 2 written (", three);
    ck_assert_msg(strstr(out, want) && strstr(out, " on 3 ranks), 4 complete already and kept\n"), "%s", out);
    free(out);
    assert_same_clips(one, three);
    test_remove_tree(root);
    free(root);
#endif
}
END_TEST

/* A clip one rank cannot write (a file where its folder goes) fails the
 * run on every rank, none waiting for it: the owner names the clip, the
 * others say another rank failed. */
START_TEST(generate_under_mpi_fails_on_every_rank_when_one_fails) {
#ifndef WMSIM_MPI
    puts("generate_under_mpi_fails_on_every_rank_when_one_fails: skipped (built without MPI)");
#else
    char *root = test_tmpdir(), dir[4200], p[4400];
    join(dir, sizeof dir, root, "clips");
    snprintf(p, sizeof p, "%s/cut_in", dir);
    wm_error err;
    ck_assert_msg(dir_create(p, &err) == 0, "%s", err.msg);
    snprintf(p, sizeof p, "%s/cut_in/v0001", dir); /* clip 1: rank 1's of 2 */
    write_text_file(p, "");
    char *out;
    int rc = generate_six(&out, dir, 2);
    ck_assert_msg(rc != 0, "%s", out);
    char want[4600];
    snprintf(want, sizeof want, "wmsim: %s: not a directory\n", p);
    ck_assert_msg(strstr(out, want), "%s", out);
    ck_assert_msg(strstr(out, "wmsim: clips generate: another rank failed (its message is on its standard error)\n"),
                  "%s", out);
    ck_assert_msg(!strstr(out, "clips in"), "%s", out);
    free(out);
    test_remove_tree(root);
    free(root);
#endif
}
END_TEST

int main(void) {
    Suite *s = suite_create("clips");
    TCase *tc = tcase_create("clip format");
    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, make_base_clip, free_base_clip);
    tcase_add_test(tc, real_clip_passes_check_and_holds_the_rendered_pixels);
    tcase_add_test(tc, states_round_trip_with_the_next_frames_command_as_action);
    tcase_add_test(tc, stop_caption_names_the_guard_when_it_comes_into_view);
    tcase_add_test(tc, meta_round_trips_and_records_the_episode);
    tcase_add_test(tc, clip_is_incomplete_until_close_and_gone_after_abort);
    tcase_add_test(tc, reopening_a_complete_clip_is_refused_and_leaves_it_alone);
    tcase_add_test(tc, partial_clip_of_a_dead_writer_is_cleared_by_the_next_open);
    tcase_add_test(tc, writer_refuses_what_the_format_cannot_hold);
    tcase_add_test(tc, check_reports_a_missing_or_bad_meta);
    tcase_add_test(tc, check_reports_videos_that_disagree_with_meta);
    tcase_add_test(tc, check_reports_states_lines_by_number);
    tcase_add_test(tc, check_reports_captions_out_of_order_or_outside_the_clip);
    tcase_add_test(tc, check_tree_reports_every_bad_clip);
    tcase_add_test(tc, stats_counts_two_clips_and_skips_a_partial_one);
    suite_add_tcase(s, tc);
    TCase *rec = tcase_create("records and captions");
    tcase_add_test(rec, state_json_is_exact_for_awkward_values_and_pins_the_format);
    tcase_add_test(rec, state_json_errors_name_the_field);
    tcase_add_test(rec, meta_json_round_trips_64_bit_values_and_names_bad_fields);
    tcase_add_test(rec, caption_json_round_trips);
    tcase_add_test(rec, state_from_world_is_ego_relative_and_limited_to_the_view);
    tcase_add_test(rec, captions_tell_each_event_of_the_examples_once);
    tcase_add_test(rec, captions_start_from_the_init_baseline_with_hysteresis);
    suite_add_tcase(s, rec);
    TCase *mpi = tcase_create("mpi");
    tcase_set_tags(mpi, "heavy"); /* mpirun: make test-valgrind leaves it out */
    tcase_set_timeout(mpi, 120);
    tcase_add_test(mpi, generate_under_mpi_matches_one_process);
    tcase_add_test(mpi, generate_under_mpi_fails_on_every_rank_when_one_fails);
    suite_add_tcase(s, mpi);
    return run_suite(s);
}
