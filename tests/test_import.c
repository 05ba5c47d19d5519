/* Dashcam import against videos made here through FFmpeg's libraries:
 * frames whose colour encodes their index, logs with a known time offset.
 * Checks the 10 Hz resampling (each clip frame is the source frame nearest
 * its tick), the log interpolation at the right times, the crop and scale,
 * the dead-reckoned pose, the clip's validity, and every error message. */
#include <dirent.h>
#include <math.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/fileio.h"
#include "datasets/clip.h"
#include "datasets/clip_import.h"
#include "render/video.h"
#include "testutil.h"

/* Frame i's colour: 16 steps of red, 32 of green, so H.264's few levels
 * of error cannot turn one index into another. */
static rgb8 index_colour(int i) {
    return (rgb8){(uint8_t)((i % 16) * 16 + 8), (uint8_t)((i / 16) * 32 + 16), 100};
}

static int decode_index(const uint8_t *p) {
    return (int)lround((p[0] - 8) / 16.0) + 16 * (int)lround((p[1] - 16) / 32.0);
}

static const rgb8 BAND = {250, 0, 250};

/* A w x h source whose rows outside the centred 2:1 band are BAND (the crop
 * must remove them) and whose band is frame i's colour. */
static void fill_source(image *img, int i) {
    int band_h = img->width / 2, y0 = (img->height - band_h) / 2;
    rgb8 c = index_colour(i);
    for (int y = 0; y < img->height; y++) {
        rgb8 v = y >= y0 && y < y0 + band_h ? c : BAND;
        for (int x = 0; x < img->width; x++) {
            uint8_t *p = img->rgb + 3 * ((size_t)y * (size_t)img->width + (size_t)x);
            p[0] = v.r, p[1] = v.g, p[2] = v.b;
        }
    }
}

static void make_video(const char *path, int fps, int n, int w, int h) {
    video_writer *vw;
    wm_error err;
    ck_assert_msg(video_writer_open(&vw, path, w, h, fps, VIDEO_CODEC_AUTO, &err) == 0, "%s", err.msg);
    image img;
    image_init(&img, w, h);
    for (int i = 0; i < n; i++) {
        fill_source(&img, i);
        ck_assert_msg(video_writer_add(vw, &img, &err) == 0, "%s", err.msg);
    }
    image_free(&img);
    ck_assert_msg(video_writer_close(vw, &err) == 0, "%s", err.msg);
}



/* The log's columns as functions of log time; rows hold them rounded to
 * the 6 decimals the CSV carries. */
static double f_speed(double t) { return 3 + t * t; }
static double f_accel(double t) { return 0.5 + 0.4 * sin(t); }
static double f_brake(double t) { return 0.2 * t; }
static double f_steer(double t) { return 0.1 * sin(2 * t); }

enum { MAX_ROWS = 256 };
typedef struct {
    double t[MAX_ROWS], v[4][MAX_ROWS];
    int n;
} rows;

static double round6(double x) { return round(x * 1e6) / 1e6; }

/* Rows at t0, t0 + dt, ... up to t1, written with a header, a comment, a
 * blank line, CRLF endings and a quoted text column holding commas. */
static void write_log(const char *path, double t0, double dt, double t1, rows *r) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("# exported by a test\r\n\r\ntime,speed,accel,brake,steer,\"note\"\r\n", f);
    r->n = 0;
    for (int j = 0;; j++) {
        double t = round6(t0 + dt * j);
        if (t > t1 + 1e-9) break;
        ck_assert_int_lt(r->n, MAX_ROWS);
        double v[4] = {round6(f_speed(t)), round6(f_accel(t)), round6(f_brake(t)), round6(f_steer(t))};
        fprintf(f, "%.6f,%.6f,%.6f,%.6f,%.6f,\"row %d, fine\"\r\n", t, v[0], v[1], v[2], v[3], j);
        r->t[r->n] = t;
        for (int c = 0; c < 4; c++) r->v[c][r->n] = v[c];
        r->n++;
    }
    fclose(f);
}

/* The test's own linear interpolation of column c at t. */
static double lerp_rows(const rows *r, int c, double t) {
    ck_assert(t >= r->t[0] - 1e-12 && t <= r->t[r->n - 1] + 1e-12);
    int i = 0;
    while (i + 2 < r->n && r->t[i + 1] <= t) i++;
    double u = (t - r->t[i]) / (r->t[i + 1] - r->t[i]);
    return r->v[c][i] + u * (r->v[c][i + 1] - r->v[c][i]);
}

static clip_import_config base_config(const char *video, const char *log, const char *out) {
    clip_import_config cfg = clip_import_config_default();
    cfg.video_path = video;
    cfg.log_path = log;
    cfg.out_dir = out;
    cfg.columns.t = "time";
    return cfg;
}

/* All states of a clip. */
static int read_states(const char *dir, clip_state *out, int cap) {
    char path[4300];
    join(path, sizeof path, dir, "states.jsonl");
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    static char line[1 << 16];
    int n = 0;
    wm_error err;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        ck_assert_int_lt(n, cap);
        ck_assert_msg(clip_state_from_json(line, &out[n], &err) == 0, "%s", err.msg);
        n++;
    }
    fclose(f);
    return n;
}

static void read_meta(const char *dir, clip_meta *m) {
    char path[4300];
    join(path, sizeof path, dir, "meta.json");
    uint8_t *data;
    size_t len;
    wm_error err;
    ck_assert_msg(file_read_all(path, 1 << 20, &data, &len, &err) == 0, "%s", err.msg);
    ck_assert_msg(clip_meta_from_json((char *)data, m, &err) == 0, "%s", err.msg);
    free(data);
}

/* The source index of each clip frame (from its centre pixel); every pixel
 * but those in the top and bottom `margin` rows must be within tol of that
 * index's colour. */
static int read_frame_indices(const char *dir, int *idx, int cap, int tol, int margin, int w, int h) {
    char path[4300];
    join(path, sizeof path, dir, "frames.mkv");
    video_reader *vr;
    wm_error err;
    ck_assert_msg(video_reader_open(&vr, path, &err) == 0, "%s", err.msg);
    image img = {0};
    int n = 0, rc;
    while ((rc = video_reader_next(vr, &img, &err)) == 1) {
        ck_assert_int_eq(img.width, w);
        ck_assert_int_eq(img.height, h);
        ck_assert_int_lt(n, cap);
        int i = decode_index(img.rgb + 3 * ((size_t)(h / 2) * (size_t)w + (size_t)(w / 2)));
        rgb8 c = index_colour(i);
        for (size_t p = (size_t)margin * (size_t)w; p < (size_t)w * (size_t)(h - margin); p++) {
            const uint8_t *q = img.rgb + 3 * p;
            ck_assert_msg(abs(q[0] - c.r) <= tol && abs(q[1] - c.g) <= tol && abs(q[2] - c.b) <= tol,
                          "clip frame %d pixel %zu: (%d,%d,%d), want frame %d's (%d,%d,%d)", n, p,
                          q[0], q[1], q[2], i, c.r, c.g, c.b);
        }
        idx[n++] = i;
    }
    ck_assert_msg(rc == 0, "%s", err.msg);
    video_reader_close(vr);
    image_free(&img);
    return n;
}

/* The source frame nearest video time t at fps (the earlier on a tie). */
static int nearest_frame(double t, int fps, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (fabs(i / (double)fps - t) < fabs(best / (double)fps - t) - 1e-9) best = i;
    return best;
}

static clip_state states[512];

START_TEST(mp4_30fps_with_offset) {
    /* 4 s at 30 fps, H.264 in MP4 as dashcams record (256x192, so the
     * band edges fall on macroblock edges and H.264 keeps them clean). The log starts 0.5 s
     * before the video (offset 1.3: video 0 is log 1.3) and ends at video
     * time 3.02, so ticks 0..30 are kept and 31..39 dropped. */
    char *dir = test_tmpdir();
    char video[4200], log[4200], out[4200];
    join(video, sizeof video, dir, "drive.mp4");
    join(log, sizeof log, dir, "drive.csv");
    join(out, sizeof out, dir, "clips/drive_0001");
    make_video(video, 30, 120, 256, 192);
    rows r;
    write_log(log, 0.8, 0.08, 4.32, &r);
    clip_import_config cfg = base_config(video, log, out);
    cfg.time_offset = 1.3;
    cfg.camera.hfov_deg = 100;
    clip_import_report rep;
    wm_error err;
    ck_assert_msg(clip_import(&cfg, &rep, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(rep.source_frames, 120);
    ck_assert_double_eq_tol(rep.source_fps, 30, 1e-9);
    ck_assert_int_eq(rep.ticks, 40);
    ck_assert_int_eq(rep.frames, 31);
    ck_assert_int_eq(rep.dropped_before, 0);
    ck_assert_int_eq(rep.dropped_after, 9);
    ck_assert_double_eq_tol(rep.log_start, 0.8, 1e-12);
    ck_assert_double_eq_tol(rep.log_end, 4.32, 1e-12);
    ck_assert_msg(clip_check(out, &err) == 0, "%s", err.msg);

    /* The reader's bicubic chroma upsampling pulls the band's colour a
     * row or two into the crop; FFV1 below checks the crop edge exactly. */
    int idx[64];
    ck_assert_int_eq(read_frame_indices(out, idx, 64, 6, 2, 128, 64), 31);
    for (int k = 0; k < 31; k++) ck_assert_int_eq(idx[k], 3 * k);

    int n = read_states(out, states, 512);
    ck_assert_int_eq(n, 31);
    for (int k = 0; k < n; k++) {
        const clip_state *st = &states[k];
        double tl = k / 10.0 + 1.3;
        ck_assert_int_eq(st->frame, k);
        ck_assert_double_eq_tol(st->t, k / 10.0, 1e-9);
        ck_assert_double_eq_tol(st->speed, lerp_rows(&r, 0, tl), 1e-6);
        ck_assert_double_eq_tol(st->accel, lerp_rows(&r, 1, tl) - lerp_rows(&r, 2, tl), 1e-6);
        ck_assert_int_eq(st->n_actors, 0);
        if (k == n - 1) {
            ck_assert_int_eq(st->has_action, 0);
            continue;
        }
        ck_assert_int_eq(st->has_action, 1);
        ck_assert_double_eq_tol(st->action.accel, lerp_rows(&r, 1, tl), 1e-6);
        ck_assert_double_eq_tol(st->action.brake, lerp_rows(&r, 2, tl), 1e-6);
        ck_assert_double_eq_tol(st->action.steer, lerp_rows(&r, 3, tl), 1e-6);
        /* The offset is recovered: the functions themselves at log time,
         * up to interpolation over 0.08 s rows (|f''| h^2 / 8 < 0.002). */
        ck_assert_double_eq_tol(st->speed, f_speed(tl), 0.002);
        ck_assert_double_eq_tol(st->action.steer, f_steer(tl), 0.002);
    }
    clip_meta m;
    read_meta(out, &m);
    ck_assert_int_eq(m.source, CLIP_SOURCE_DASHCAM);
    ck_assert_str_eq(m.policy, "dashcam");
    ck_assert_str_eq(m.scenario_id, "");
    ck_assert_int_eq(m.frames, 31);
    ck_assert_int_eq(m.fps, 10);
    ck_assert_int_eq(m.width, 128);
    ck_assert_int_eq(m.height, 64);
    ck_assert_int_eq(m.camera.width, 128);
    ck_assert_double_eq_tol(m.camera.hfov_deg, 100, 1e-9);
    ck_assert_str_eq(m.source_file, video);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(ffv1_24fps_log_starting_late) {
    /* 24 fps puts ticks between frames (2.4 frames apart): each clip frame
     * must be the nearest. The log covers video time 0.55..2.0 only. FFV1
     * is lossless, so the crop and scale must be exact: no band colour,
     * every pixel the frame's colour. */
    char *dir = test_tmpdir();
    char video[4200], log[4200], out[4200];
    join(video, sizeof video, dir, "drive.mkv");
    join(log, sizeof log, dir, "drive.csv");
    join(out, sizeof out, dir, "clip");
    make_video(video, 24, 96, 160, 120);
    rows r;
    write_log(log, 0.55, 0.05, 2.0, &r);
    clip_import_config cfg = base_config(video, log, out);
    clip_import_report rep;
    wm_error err;
    ck_assert_msg(clip_import(&cfg, &rep, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(rep.source_frames, 96);
    ck_assert_int_eq(rep.ticks, 40);
    ck_assert_int_eq(rep.dropped_before, 6);
    ck_assert_int_eq(rep.frames, 15);
    ck_assert_int_eq(rep.dropped_after, 19);
    ck_assert_msg(clip_check(out, &err) == 0, "%s", err.msg);
    int idx[64];
    ck_assert_int_eq(read_frame_indices(out, idx, 64, 0, 0, 128, 64), 15);
    for (int k = 0; k < 15; k++) ck_assert_int_eq(idx[k], nearest_frame((k + 6) / 10.0, 24, 96));
    ck_assert_int_eq(idx[1], 17); /* 0.7 s: frame 16.8 -> 17, not 16 */
    int n = read_states(out, states, 512);
    ck_assert_int_eq(n, 15);
    for (int k = 0; k + 1 < n; k++)
        ck_assert_double_eq_tol(states[k].action.steer, lerp_rows(&r, 3, (k + 6) / 10.0), 1e-6);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* Imports a video of n frames at fps with a log covering it all, and checks
 * each clip frame is the source frame nearest its tick. */
static void check_nearest(int fps, int n, int want_frames) {
    char *dir = test_tmpdir();
    char video[4200], log[4200], out[4200];
    join(video, sizeof video, dir, "v.mkv");
    join(log, sizeof log, dir, "log.csv");
    join(out, sizeof out, dir, "clip");
    make_video(video, fps, n, 64, 32);
    write_text_file(log, "t,speed,accel,brake,steer\n-1,5,0,0,0\n100,5,0,0,0\n");
    clip_import_config cfg = clip_import_config_default();
    cfg.video_path = video, cfg.log_path = log, cfg.out_dir = out;
    cfg.width = 32, cfg.height = 16;
    clip_import_report rep;
    wm_error err;
    ck_assert_msg(clip_import(&cfg, &rep, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(rep.frames, want_frames);
    ck_assert_int_eq(rep.ticks, want_frames);
    int idx[64];
    ck_assert_int_eq(read_frame_indices(out, idx, 64, 0, 0, 32, 16), want_frames);
    for (int k = 0; k < want_frames; k++)
        ck_assert_msg(idx[k] == nearest_frame(k / 10.0, fps, n), "%d fps, tick %d: frame %d, want %d",
                      fps, k, idx[k], nearest_frame(k / 10.0, fps, n));
    test_remove_tree(dir);
    free(dir);
}

START_TEST(ticks_after_the_last_frame_and_ties) {
    /* 4 fps, 10 frames: the last at 2.25 s is shown until 2.5 s and nearest
     * up to 2.375 s, so ticks 0..23; tick 23 (2.3 s) comes after it. */
    check_nearest(4, 10, 24);
    /* 25 fps: odd ticks fall halfway between two frames (0.1 s between
     * 0.08 and 0.12) and take the earlier. 20 frames: ticks 0..7. */
    check_nearest(25, 20, 8);
    /* 10 fps: one frame per tick. */
    check_nearest(10, 7, 7);
}
END_TEST

START_TEST(dead_reckoning_drives_a_circle) {
    char *dir = test_tmpdir();
    char video[4200], log[4200], out[4200];
    join(video, sizeof video, dir, "v.mkv");
    join(log, sizeof log, dir, "log.csv");
    join(out, sizeof out, dir, "clip");
    make_video(video, 10, 20, 64, 32);
    write_text_file(log, "t,speed,accel,brake,steer\n-1,5,0,0,0.1\n10,5,0,0,0.1\n");
    clip_import_config cfg = clip_import_config_default();
    cfg.video_path = video, cfg.log_path = log, cfg.out_dir = out;
    cfg.width = 32, cfg.height = 16;
    wm_error err;
    ck_assert_msg(clip_import(&cfg, NULL, &err) == 0, "%s", err.msg);
    int n = read_states(out, states, 512);
    ck_assert_int_eq(n, 20);
    double L = SCENARIO_DEFAULT_WHEELBASE, w = 5 * tan(0.1) / L, R = L / tan(0.1);
    for (int k = 0; k < n; k++) {
        double yaw = w * 0.1 * k;
        ck_assert_double_eq_tol(states[k].yaw_rate, w, 1e-9);
        ck_assert_double_eq_tol(states[k].yaw, yaw, 1e-9);
        ck_assert_double_eq_tol(states[k].x, R * sin(yaw), 1e-6);
        ck_assert_double_eq_tol(states[k].y, R * (1 - cos(yaw)), 1e-6);
    }
    test_remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(signed_accel_and_renamed_columns) {
    char *dir = test_tmpdir();
    char video[4200], log[4200], out[4200];
    join(video, sizeof video, dir, "v.mkv");
    join(log, sizeof log, dir, "log.csv");
    join(out, sizeof out, dir, "clip");
    make_video(video, 10, 10, 64, 32);
    /* A byte-order mark, quoted names, extra columns in between. */
    write_text_file(log, "\xef\xbb\xbf\"stamp\",lat,v,a_long,wheel\n0,48.1,5,1.5,0\n0.5,48.1,5,-2.5,0\n1,48.1,5,-2.5,0\n");
    clip_import_config cfg = clip_import_config_default();
    cfg.video_path = video, cfg.log_path = log, cfg.out_dir = out;
    cfg.columns = (clip_import_columns){"stamp", "v", "a_long", "", "wheel"};
    clip_import_report rep;
    wm_error err;
    ck_assert_msg(clip_import(&cfg, &rep, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(rep.frames, 10);
    ck_assert_int_eq(read_states(out, states, 512), 10);
    /* Interpolated first, then split: +1.5 at 0 s to -2.5 at 0.5 s. */
    ck_assert_double_eq_tol(states[0].action.accel, 1.5, 1e-9);
    ck_assert_double_eq_tol(states[0].action.brake, 0, 1e-9);
    ck_assert_double_eq_tol(states[1].action.accel, 0.7, 1e-9);
    ck_assert_double_eq_tol(states[3].action.accel, 0, 1e-9);
    ck_assert_double_eq_tol(states[3].action.brake, 0.9, 1e-9);
    ck_assert_double_eq_tol(states[3].accel, -0.9, 1e-9);
    ck_assert_double_eq_tol(states[8].action.brake, 2.5, 1e-9);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(crop_and_area_scale_are_exact) {
    /* 6x2 to 2x1: the centre 4x2, each output pixel the mean of a 2x2 block. */
    image src, dst;
    image_init(&src, 6, 2);
    image_init(&dst, 2, 1);
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 6; x++)
            for (int c = 0; c < 3; c++) src.rgb[3 * (y * 6 + x) + c] = (uint8_t)(10 * x + 100 * y + c);
    clip_import_crop_scale(&src, &dst);
    /* Columns 1, 2: mean x 1.5, mean y 0.5 -> 15 + 50. Columns 3, 4: 35 + 50. */
    for (int c = 0; c < 3; c++) {
        ck_assert_int_eq(dst.rgb[c], 65 + c);
        ck_assert_int_eq(dst.rgb[3 + c], 85 + c);
    }
    /* 5x2 to 2x1: a crop of 4 from x = 0.5; the edge columns count a half. */
    image_free(&src);
    image_init(&src, 5, 2);
    const uint8_t col[5] = {0, 40, 80, 120, 200};
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 5; x++) memset(src.rgb + 3 * (y * 5 + x), col[x], 3);
    clip_import_crop_scale(&src, &dst);
    /* [0.5, 2.5): (0.5 * 0 + 40 + 0.5 * 80) / 2 = 40; [2.5, 4.5): (40 + 120 + 100) / 2 = 130. */
    ck_assert_int_eq(dst.rgb[0], 40);
    ck_assert_int_eq(dst.rgb[3], 130);
    /* Tall to wide: 2x6 to 2x1 keeps rows 2 and 3. */
    image_free(&src);
    image_init(&src, 2, 6);
    for (int y = 0; y < 6; y++) memset(src.rgb + 3 * 2 * y, 10 * y, 6);
    clip_import_crop_scale(&src, &dst);
    ck_assert_int_eq(dst.rgb[0], 25);
    ck_assert_int_eq(dst.rgb[3], 25);
    /* Upscaling a flat image stays flat. */
    image big;
    image_init(&big, 7, 3);
    image_free(&src);
    image_init(&src, 3, 2);
    memset(src.rgb, 77, 18);
    clip_import_crop_scale(&src, &big);
    for (int i = 0; i < 7 * 3 * 3; i++) ck_assert_int_eq(big.rgb[i], 77);
    image_free(&big);
    image_free(&src);
    image_free(&dst);
}
END_TEST

START_TEST(log_sampling) {
    char *dir = test_tmpdir();
    char log[4200];
    join(log, sizeof log, dir, "log.csv");
    write_text_file(log, "t,speed,accel,brake,steer\n0,0,1,0,0\n1,10,1,2,-0.2\n3,20,0,0,0\n");
    clip_import_log lg;
    wm_error err;
    clip_import_columns cols = clip_import_config_default().columns;
    ck_assert_msg(clip_import_log_read(log, &cols, &lg, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(lg.n, 3);
    clip_import_sample s;
    ck_assert_int_eq(clip_import_log_sample(&lg, 0.25, &s), 0);
    ck_assert_double_eq_tol(s.speed, 2.5, 1e-12);
    ck_assert_double_eq_tol(s.brake, 0.5, 1e-12);
    ck_assert_double_eq_tol(s.steer, -0.05, 1e-12);
    ck_assert_int_eq(clip_import_log_sample(&lg, 2, &s), 0);
    ck_assert_double_eq_tol(s.speed, 15, 1e-12);
    ck_assert_double_eq_tol(s.accel, 0.5, 1e-12);
    ck_assert_int_eq(clip_import_log_sample(&lg, 3, &s), 0);
    ck_assert_double_eq_tol(s.speed, 20, 1e-12);
    ck_assert_int_eq(clip_import_log_sample(&lg, 0, &s), 0);
    ck_assert_double_eq_tol(s.speed, 0, 1e-12);
    ck_assert_int_eq(clip_import_log_sample(&lg, -0.01, &s), -1);
    ck_assert_int_eq(clip_import_log_sample(&lg, 3.01, &s), -1);
    clip_import_log_free(&lg);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* ---- errors ------------------------------------------------------------- */

/* The log is read before the video, so these need no video at all. */
static void expect_log_error(const char *text, const char *want_fmt) {
    char *dir = test_tmpdir();
    char log[4200], out[4200], want[9000];
    join(log, sizeof log, dir, "drive.csv");
    join(out, sizeof out, dir, "clip");
    write_text_file(log, text);
    clip_import_config cfg = clip_import_config_default();
    cfg.video_path = "/nonexistent/video.mp4", cfg.log_path = log, cfg.out_dir = out;
    wm_error err;
    ck_assert_int_eq(clip_import(&cfg, NULL, &err), -1);
    snprintf(want, sizeof want, want_fmt, log);
    ck_assert_str_eq(err.msg, want);
    ck_assert_int_ne(access(out, F_OK), 0);
    test_remove_tree(dir);
    free(dir);
}

START_TEST(log_errors) {
    const char *hdr = "t,speed,accel,brake,steer\n";
    char text[1024];
    expect_log_error("t,speed,accel,brake\n0,1,0,0\n", "%s: no column 'steer' (columns: t, speed, accel, brake)");
    expect_log_error("time,speed,accel,brake,steer\n", "%s: no column 't' (columns: time, speed, accel, brake, steer)");
    snprintf(text, sizeof text, "%s0,1,0,0,0\n0.1,fast,0,0,0\n", hdr);
    expect_log_error(text, "%s:3: speed (column 2): not a number: 'fast'");
    snprintf(text, sizeof text, "%s0,1,0,0,0\n0.1,1,0,0,\n", hdr);
    expect_log_error(text, "%s:3: steer (column 5): not a number: ''");
    snprintf(text, sizeof text, "%s0,1,0,0,0\n0.1,1,inf,0,0\n", hdr);
    expect_log_error(text, "%s:3: accel (column 3): not a finite number: 'inf'");
    snprintf(text, sizeof text, "%s0,1,0,0,0\n0.2,1,0,0,0\n0.1,1,0,0,0\n", hdr);
    expect_log_error(text, "%s:4: t 0.100 is not after the previous t 0.200");
    snprintf(text, sizeof text, "%s0,1,0,0,0\n0.2,1,0,0,0\n0.2,1,0,0,0\n", hdr);
    expect_log_error(text, "%s:4: t 0.200 is not after the previous t 0.200");
    snprintf(text, sizeof text, "%s0,1,0,-0.5,0\n", hdr);
    expect_log_error(text, "%s:2: brake (column 4): -0.5 m/s^2 is negative");
    snprintf(text, sizeof text, "%s0,1,0,0,0\n0.1,1,0,0\n", hdr);
    expect_log_error(text, "%s:3: 4 columns, but the header has 5");
    expect_log_error("t,speed,accel,brake,steer,speed\n", "%s:1: column 'speed' appears twice (columns 2 and 6)");
    snprintf(text, sizeof text, "%s0,1,0,0,0,\"open\n", "t,speed,accel,brake,steer,note\n");
    expect_log_error(text, "%s:2: a quote is not closed");
    expect_log_error("", "%s: empty file, expected a header row");
    expect_log_error("# only a comment\n\n", "%s: empty file, expected a header row");
    snprintf(text, sizeof text, "%s0,1,0,0,0\n", hdr);
    expect_log_error(text, "%s: need at least 2 data rows to interpolate, got 1");
    /* A binary file shows its bytes escaped. */
    snprintf(text, sizeof text, "%s0,1,0,0,0\n0.1,\x01\xff,0,0,0\n", hdr);
    expect_log_error(text, "%s:3: speed (column 2): not a number: '\\x01\\xff'");
}
END_TEST

START_TEST(video_and_overlap_errors) {
    char *dir = test_tmpdir();
    char video[4200], log[4200], out[4200], want[9000];
    join(video, sizeof video, dir, "v.mkv");
    join(log, sizeof log, dir, "log.csv");
    join(out, sizeof out, dir, "clip");
    wm_error err;
    write_text_file(log, "t,speed,accel,brake,steer\n100,5,0,0,0\n160,5,0,0,0\n");
    clip_import_config cfg = clip_import_config_default();
    cfg.video_path = video, cfg.log_path = log, cfg.out_dir = out;
    /* The video is missing. */
    ck_assert_int_eq(clip_import(&cfg, NULL, &err), -1);
    snprintf(want, sizeof want, "%s: cannot open video: No such file or directory", video);
    ck_assert_str_eq(err.msg, want);
    /* 2 s of video at offset 1.3: log time 1.3..3.3, the log 100..160. */
    make_video(video, 10, 20, 64, 32);
    cfg.time_offset = 1.3;
    ck_assert_int_eq(clip_import(&cfg, NULL, &err), -1);
    snprintf(want, sizeof want,
             "%s: no overlap with the video %s: the log spans t 100.000 to 160.000 s, the video "
             "(2.000 s, offset 1.300 s) spans log time 1.300 to 3.300 s", log, video);
    ck_assert_str_eq(err.msg, want);
    ck_assert_int_ne(access(out, F_OK), 0);
    /* The right offset finds it. */
    cfg.time_offset = 99.5;
    clip_import_report rep;
    ck_assert_msg(clip_import(&cfg, &rep, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(rep.dropped_before, 5);
    ck_assert_int_eq(rep.frames, 15);
    /* The clip is complete: a second import into it is refused by the writer. */
    ck_assert_int_eq(clip_import(&cfg, NULL, &err), -1);
    ck_assert_msg(clip_check(out, &err) == 0, "%s", err.msg);
    /* Bad configuration. */
    cfg.camera.hfov_deg = 5;
    ck_assert_int_eq(clip_import(&cfg, NULL, &err), -1);
    ck_assert_str_eq(err.msg, "import: camera: hfov 5 deg outside (10, 150)");
    cfg = clip_import_config_default();
    cfg.video_path = video, cfg.log_path = log, cfg.out_dir = out;
    cfg.width = 8;
    ck_assert_int_eq(clip_import(&cfg, NULL, &err), -1);
    ck_assert_str_eq(err.msg, "import: camera: width 8 outside [16, 1920]");
    cfg.width = 128;
    cfg.columns.steer = "";
    ck_assert_int_eq(clip_import(&cfg, NULL, &err), -1);
    snprintf(want, sizeof want, "%s: no name given for the steer column", log);
    ck_assert_str_eq(err.msg, want);
    cfg = clip_import_config_default();
    cfg.log_path = log, cfg.out_dir = out;
    ck_assert_int_eq(clip_import(&cfg, NULL, &err), -1);
    ck_assert_str_eq(err.msg, "import: no video given");
    test_remove_tree(dir);
    free(dir);
}
END_TEST

/* The command line: `wmsim clips import` with its column and offset flags,
 * and its usage errors. */
START_TEST(import_command) {
    char *dir = test_tmpdir(), *out;
    char video[4200], log[4200], clip[4200];
    join(video, sizeof video, dir, "drive.mp4");
    join(log, sizeof log, dir, "drive.csv");
    join(clip, sizeof clip, dir, "clip");
    make_video(video, 30, 60, 64, 32); /* 2 s */
    rows r;
    write_log(log, 0.0, 0.05, 3.0, &r);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"clips", "import", "--video", video, "--log", log, "--out", clip,
                                                      "--offset", "0.5", "--size", "32x16", "--columns",
                                                      "time,speed,accel,brake,steer", NULL}),
                     0);
    char want[9000];
    snprintf(want, sizeof want, "%s: 20 frames at 10 Hz from 60 at 30.00 fps (0 before and 0 after the log dropped), "
                                "wrote %s\n", video, clip);
    ck_assert_str_eq(out, want);
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"clips", "check", clip, NULL}), 0);
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"clips", "import", "--video", video, "--log", log, "--out",
                                                      "/tmp/x", "--columns", "t,speed", NULL}),
                     2);
    ck_assert_ptr_nonnull(strstr(out, "wmsim: --columns: expected five names T,SPEED,ACCEL,BRAKE,STEER, got 't,speed'\n"));
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"clips", "import", "--video", video, "--out", "/tmp/x", NULL}), 2);
    ck_assert_ptr_nonnull(strstr(out, "wmsim: clips import: missing --log\n"));
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"clips", "import", "--video", video, "--log", log, "--out",
                                                      clip, "--columns", "time,speed,accel,brake,steer", NULL}),
                     1);
    snprintf(want, sizeof want, "wmsim: %s: already holds a complete clip\n", clip);
    ck_assert_str_eq(out, want);
    free(out);
    test_remove_tree(dir);
    free(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("import");
    TCase *tc = tcase_create("import");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, mp4_30fps_with_offset);
    tcase_add_test(tc, ffv1_24fps_log_starting_late);
    tcase_add_test(tc, ticks_after_the_last_frame_and_ties);
    tcase_add_test(tc, dead_reckoning_drives_a_circle);
    tcase_add_test(tc, signed_accel_and_renamed_columns);
    tcase_add_test(tc, crop_and_area_scale_are_exact);
    tcase_add_test(tc, log_sampling);
    suite_add_tcase(s, tc);
    TCase *errs = tcase_create("errors");
    tcase_set_timeout(errs, 60);
    tcase_add_test(errs, log_errors);
    tcase_add_test(errs, video_and_overlap_errors);
    tcase_add_test(errs, import_command);
    suite_add_tcase(s, errs);
    return run_suite(s);
}
