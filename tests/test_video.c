/* The video writer and reader against the real FFmpeg libraries: libx264,
 * MPEG-4 Part 2 and FFV1 round trips, timestamps, and every error path.
 * video.c is included, not linked (llm.c's pattern), so a few checks can
 * reach its internals: the open with an encoder no FFmpeg build has or with
 * the BT.709 matrix, and the demuxer, to look at the packets themselves.
 * Everything else goes through the public API. */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/fileio.h"
#include "render/video.c"
#include "testutil.h"

#define W 64
#define H 48
#define N 25  /* 2.5 s at the episode rate */
#define FPS 10

/* Three sine gradients moving at different speeds and directions: smooth,
 * like a rendered road and sky, and different enough from frame to frame
 * that a frame read back in the wrong place cannot pass. */
static void fill_frame(image *img, int t) {
    const double two_pi = 6.283185307179586;
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++) {
            uint8_t *p = img->rgb + 3 * ((size_t)y * (size_t)img->width + (size_t)x);
            p[0] = (uint8_t)lround(128 + 90 * sin(two_pi * (x + 3 * t) / 32.0));
            p[1] = (uint8_t)lround(128 + 90 * sin(two_pi * (y - 2 * t) / 24.0));
            p[2] = (uint8_t)lround(128 + 60 * sin(two_pi * (x + y + 5 * t) / 40.0));
        }
}

static double mean_abs_error(const image *a, const image *b) {
    ck_assert_int_eq(a->width, b->width);
    ck_assert_int_eq(a->height, b->height);
    size_t n = (size_t)a->width * (size_t)a->height * 3;
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += abs((int)a->rgb[i] - (int)b->rgb[i]);
    return sum / (double)n;
}

/* Any leftover "*.tmp.*" means a reader could have seen a partial file. */
static int count_tmp_files(const char *dir) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static int file_exists(const char *path) { return access(path, F_OK) == 0; }

/* Removes the test's directory and the plain files in it. */
static void remove_dir(char *dir) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    char path[4400];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ck_assert_int_eq(remove(path), 0);
    }
    closedir(d);
    ck_assert_int_eq(rmdir(dir), 0);
    free(dir);
}


static void write_video(const char *path, int w, int h, video_codec c, int frames) {
    video_writer *vw;
    wm_error err;
    ck_assert_msg(video_writer_open(&vw, path, w, h, FPS, c, &err) == 0, "%s", err.msg);
    image img;
    image_init(&img, w, h);
    for (int t = 0; t < frames; t++) {
        fill_frame(&img, t);
        ck_assert_msg(video_writer_add(vw, &img, &err) == 0, "%s", err.msg);
    }
    image_free(&img);
    ck_assert_msg(video_writer_close(vw, &err) == 0, "%s", err.msg);
}

static void assert_probe(const char *path, int w, int h, int frames, const char *codec) {
    video_info info;
    wm_error err;
    ck_assert_msg(video_probe(path, &info, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(info.width, w);
    ck_assert_int_eq(info.height, h);
    ck_assert_int_eq(info.frames, frames);
    /* Every container here stores 1/10 s exactly (MP4 a 1/10240 timescale,
     * Matroska milliseconds, AVI frame counts), so n / fps is exact up to
     * float rounding, far inside the "within one frame" the contract needs. */
    ck_assert_double_eq_tol(info.duration_s, (double)frames / FPS, 1e-6);
    ck_assert_double_eq_tol(info.fps, FPS, 1e-9);
    ck_assert_str_eq(info.codec, codec);
}

/* Reads path back; frame i must be within max_mae of source frame i. For
 * max_mae == 0 that is bit-exact. Returns the frames read. */
static int read_back(const char *path, int w, int h, double max_mae) {
    video_reader *vr;
    wm_error err;
    ck_assert_msg(video_reader_open(&vr, path, &err) == 0, "%s", err.msg);
    image got = {0}, want, next;
    image_init(&want, w, h);
    image_init(&next, w, h);
    int n = 0, rc;
    while ((rc = video_reader_next(vr, &got, &err)) == 1) {
        fill_frame(&want, n);
        fill_frame(&next, n + 1);
        double e = mean_abs_error(&got, &want);
        ck_assert_msg(e <= max_mae, "%s frame %d: mean abs error %.3f > %.3f", path, n, e, max_mae);
        /* The bound must tell neighbouring frames apart, or a reader that
         * dropped or repeated a frame would pass. */
        double e_next = mean_abs_error(&got, &next);
        ck_assert_msg(e_next > 2 * max_mae + 1, "%s frame %d: next frame only %.3f away", path, n,
                      e_next);
        /* Frame n is shown at n / fps: its timestamp says so in every container. */
        ck_assert_double_eq_tol(video_reader_time(vr), (double)n / FPS, 1e-6);
        n++;
    }
    ck_assert_msg(rc == 0, "%s", err.msg);
    /* The end stays the end. */
    ck_assert_int_eq(video_reader_next(vr, &got, &err), 0);
    video_reader_close(vr);
    image_free(&got);
    image_free(&want);
    image_free(&next);
    return n;
}

/* The mean absolute error bound for the lossy codecs, in 8-bit levels.
 * Measured on these frames: the RGB -> yuv420p -> RGB conversion alone
 * costs 0.71 (limited-range quantisation, halved chroma on slopes of up to
 * 18 levels per pixel); with the codecs, H.264 crf 18 averages 2.2 (worst
 * frame 2.7) and MPEG-4 q2 1.9 (worst 2.0). The faults this must catch cost
 * more: decoding with the BT.709 matrix 6.2, full instead of limited range
 * 6.6, swscale's default flags (chroma not handled at full resolution) 4.9
 * before any codec loss, a neighbouring frame 30. 4.0 leaves room for
 * encoder output that differs with the CPU's SIMD paths. */
#define LOSSY_MAE 4.0

/* No B-frames: the decoder needs no reordering delay and every packet is
 * stored in display order, so frame i's packet is the i-th. all_key: every
 * frame decodes on its own (FFV1); otherwise at least the first does. */
static void assert_packets(const char *path, int frames, int all_key) {
    AVFormatContext *ic;
    int si;
    wm_error err;
    ck_assert_msg(input_open(path, &ic, &si, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ic->streams[si]->codecpar->video_delay, 0);
    AVPacket *pkt = av_packet_alloc();
    int64_t last = INT64_MIN;
    int packets = 0;
    while (av_read_frame(ic, pkt) >= 0) {
        if (pkt->stream_index == si) {
            /* AVI stores no presentation times: its packets are in order. */
            if (pkt->pts != AV_NOPTS_VALUE) {
                ck_assert_int_eq(pkt->pts, pkt->dts);
                ck_assert_int_gt(pkt->pts, last);
                last = pkt->pts;
            }
            if (all_key || packets == 0)
                ck_assert_msg(pkt->flags & AV_PKT_FLAG_KEY, "packet %d is no keyframe", packets);
            packets++;
        }
        av_packet_unref(pkt);
    }
    ck_assert_int_eq(packets, frames);
    av_packet_free(&pkt);
    avformat_close_input(&ic);
}

static void lossy_roundtrip(const char *name, video_codec c, const char *codec) {
    char *dir = test_tmpdir();
    char path[4200];
    join(path, sizeof path, dir, name);
    write_video(path, W, H, c, N);
    ck_assert_int_eq(count_tmp_files(dir), 0);
    assert_probe(path, W, H, N, codec);
    assert_packets(path, N, 0);
    ck_assert_int_eq(read_back(path, W, H, LOSSY_MAE), N);
    remove_dir(dir);
}

START_TEST(h264_mp4_roundtrip) { lossy_roundtrip("run.mp4", VIDEO_CODEC_H264, "h264"); }
END_TEST

START_TEST(mpeg4_mp4_roundtrip) { lossy_roundtrip("run.mp4", VIDEO_CODEC_MPEG4, "mpeg4"); }
END_TEST

START_TEST(h264_mkv_and_mpeg4_avi_roundtrip) {
    lossy_roundtrip("run.mkv", VIDEO_CODEC_H264, "h264");
    lossy_roundtrip("run.avi", VIDEO_CODEC_MPEG4, "mpeg4");
}
END_TEST

START_TEST(reader_follows_the_bt709_tag) {
    /* Dashcams record BT.709; read with wmsim's BT.601 such a video would be
     * off by about 6 levels, so the reader must follow the stream's tag. */
    char *dir = test_tmpdir();
    char path[4200];
    join(path, sizeof path, dir, "dashcam.mp4");
    writer_plan plan = {container_for(path), VIDEO_CODEC_H264, "libx264", AVCOL_SPC_BT709};
    video_writer *vw;
    wm_error err;
    ck_assert_msg(writer_open(&vw, path, W, H, FPS, &plan, &err) == 0, "%s", err.msg);
    image img;
    image_init(&img, W, H);
    for (int t = 0; t < N; t++) {
        fill_frame(&img, t);
        ck_assert_msg(video_writer_add(vw, &img, &err) == 0, "%s", err.msg);
    }
    image_free(&img);
    ck_assert_msg(video_writer_close(vw, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(read_back(path, W, H, LOSSY_MAE), N);
    remove_dir(dir);
}
END_TEST

START_TEST(ffv1_mkv_is_bit_exact) {
    char *dir = test_tmpdir();
    char path[4200];
    join(path, sizeof path, dir, "clip.mkv");
    write_video(path, W, H, VIDEO_CODEC_FFV1, N);
    assert_probe(path, W, H, N, "ffv1");
    assert_packets(path, N, 1);
    ck_assert_int_eq(read_back(path, W, H, 0.0), N);
    remove_dir(dir);
}
END_TEST

START_TEST(ffv1_takes_odd_sizes) {
    char *dir = test_tmpdir();
    char path[4200];
    join(path, sizeof path, dir, "odd.mkv");
    write_video(path, 37, 21, VIDEO_CODEC_FFV1, 3);
    assert_probe(path, 37, 21, 3, "ffv1");
    ck_assert_int_eq(read_back(path, 37, 21, 0.0), 3);
    remove_dir(dir);
}
END_TEST

START_TEST(auto_picks_by_extension) {
    ck_assert_int_eq(video_codec_available(VIDEO_CODEC_H264), 1); /* libx264 is installed here */
    char *dir = test_tmpdir();
    char mp4[4200], mkv[4200];
    join(mp4, sizeof mp4, dir, "auto.mp4");
    join(mkv, sizeof mkv, dir, "AUTO.MKV"); /* extensions are case-insensitive */
    write_video(mp4, W, H, VIDEO_CODEC_AUTO, 2);
    write_video(mkv, W, H, VIDEO_CODEC_AUTO, 2);
    assert_probe(mp4, W, H, 2, "h264");
    assert_probe(mkv, W, H, 2, "ffv1");
    remove_dir(dir);
}
END_TEST

START_TEST(same_frames_give_the_same_file) {
    const char *names[] = {"a.mp4", "a.mkv", "a.avi"};
    const video_codec codecs[] = {VIDEO_CODEC_H264, VIDEO_CODEC_FFV1, VIDEO_CODEC_MPEG4};
    char *dir = test_tmpdir();
    for (int i = 0; i < 3; i++) {
        char path[2][4200];
        uint8_t *data[2];
        size_t len[2];
        wm_error err;
        for (int k = 0; k < 2; k++) {
            snprintf(path[k], sizeof path[k], "%s/%d%s", dir, k, names[i]);
            write_video(path[k], W, H, codecs[i], 5);
            ck_assert_int_eq(file_read_all(path[k], 1 << 24, &data[k], &len[k], &err), 0);
        }
        ck_assert_uint_eq(len[0], len[1]);
        ck_assert_msg(memcmp(data[0], data[1], len[0]) == 0, "%s differs", names[i]);
        free(data[0]);
        free(data[1]);
    }
    remove_dir(dir);
}
END_TEST

START_TEST(codec_names_parse_and_availability) {
    const char *names[] = {"auto", "h264", "mpeg4", "ffv1"};
    for (int i = 0; i < 4; i++) {
        video_codec c = (video_codec)-1;
        wm_error err;
        ck_assert_msg(video_codec_parse(names[i], &c, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(c, i);
        ck_assert_str_eq(video_codec_name(c), names[i]);
        ck_assert_int_eq(video_codec_available(c), 1);
    }
    ck_assert_str_eq(video_codec_name((video_codec)4), "?");
    ck_assert_int_eq(video_codec_available((video_codec)4), 0);
    video_codec c = VIDEO_CODEC_FFV1;
    wm_error err;
    ck_assert_int_eq(video_codec_parse("H264", &c, &err), -1);
    ck_assert_str_eq(err.msg, "unknown video codec 'H264' (expected auto, h264, mpeg4 or ffv1)");
    ck_assert_int_eq(c, VIDEO_CODEC_FFV1);
}
END_TEST

/* Opening must fail with exactly want and leave nothing behind. */
static void assert_open_fails(const char *path, int w, int h, int fps, video_codec c,
                              const char *want) {
    video_writer *vw = (video_writer *)&vw; /* not NULL, so the reset shows */
    wm_error err;
    ck_assert_int_eq(video_writer_open(&vw, path, w, h, fps, c, &err), -1);
    ck_assert_str_eq(err.msg, want);
    ck_assert_ptr_null(vw);
    ck_assert_int_eq(file_exists(path), 0);
}

START_TEST(missing_directory) {
    char *dir = test_tmpdir();
    char path[4200], want[4400];
    snprintf(path, sizeof path, "%s/no/such/dir/x.mp4", dir);
    snprintf(want, sizeof want, "%s: cannot create: No such file or directory", path);
    assert_open_fails(path, W, H, FPS, VIDEO_CODEC_H264, want);
    remove_dir(dir);
}
END_TEST

START_TEST(unknown_extension) {
    char *dir = test_tmpdir();
    const char *names[] = {"x.mov", "video", "clips.mp4/video", "x.mp4.bak"};
    for (int i = 0; i < 4; i++) {
        char path[4200], want[4400];
        join(path, sizeof path, dir, names[i]);
        snprintf(want, sizeof want, "%s: unknown video file extension (use .mp4, .mkv or .avi)",
                 path);
        assert_open_fails(path, W, H, FPS, VIDEO_CODEC_AUTO, want);
    }
    ck_assert_int_eq(count_tmp_files(dir), 0);
    remove_dir(dir);
}
END_TEST

START_TEST(bad_sizes_and_rates) {
    char *dir = test_tmpdir();
    char path[4200], want[4400];
    join(path, sizeof path, dir, "x.mp4");
    const int sizes[][2] = {{0, 48}, {64, 0}, {-2, 48}, {64, -4}, {8194, 48}, {64, 8194}};
    for (int i = 0; i < 6; i++) {
        snprintf(want, sizeof want, "%s: video size %dx%d outside 1..8192 per side", path,
                 sizes[i][0], sizes[i][1]);
        assert_open_fails(path, sizes[i][0], sizes[i][1], FPS, VIDEO_CODEC_AUTO, want);
    }
    snprintf(want, sizeof want,
             "%s: h264 video (yuv420p) needs an even width and height, not 63x48", path);
    assert_open_fails(path, 63, 48, FPS, VIDEO_CODEC_AUTO, want);
    assert_open_fails(path, 63, 48, FPS, VIDEO_CODEC_H264, want);
    snprintf(want, sizeof want,
             "%s: mpeg4 video (yuv420p) needs an even width and height, not 64x47", path);
    assert_open_fails(path, 64, 47, FPS, VIDEO_CODEC_MPEG4, want);
    snprintf(want, sizeof want, "%s: frame rate 0 outside 1..240", path);
    assert_open_fails(path, W, H, 0, VIDEO_CODEC_AUTO, want);
    snprintf(want, sizeof want, "%s: frame rate 241 outside 1..240", path);
    assert_open_fails(path, W, H, 241, VIDEO_CODEC_AUTO, want);
    snprintf(want, sizeof want, "%s: unknown video codec 9", path);
    assert_open_fails(path, W, H, FPS, (video_codec)9, want);
    ck_assert_int_eq(count_tmp_files(dir), 0);
    remove_dir(dir);
}
END_TEST

START_TEST(ffv1_refused_in_mp4) {
    char *dir = test_tmpdir();
    char path[4200], want[4400];
    join(path, sizeof path, dir, "x.mp4");
    snprintf(want, sizeof want, "%s: ffv1 video cannot be stored in .mp4 (use .mkv)", path);
    assert_open_fails(path, W, H, FPS, VIDEO_CODEC_FFV1, want);
    ck_assert_int_eq(count_tmp_files(dir), 0);
    remove_dir(dir);
}
END_TEST

START_TEST(missing_encoder) {
    /* Every encoder wmsim names is in this FFmpeg, so ask for one no build
     * has through the same lookup video_writer_open uses. */
    char *dir = test_tmpdir();
    char path[4200], want[4400];
    join(path, sizeof path, dir, "x.mp4");
    video_writer *vw = NULL;
    wm_error err;
    writer_plan plan = {container_for(path), VIDEO_CODEC_H264, "libx264_not_built",
                        AVCOL_SPC_SMPTE170M};
    ck_assert_int_eq(writer_open(&vw, path, W, H, FPS, &plan, &err), -1);
    snprintf(want, sizeof want, "%s: h264 encoder libx264_not_built is not in this FFmpeg build",
             path);
    ck_assert_str_eq(err.msg, want);
    ck_assert_ptr_null(vw);
    ck_assert_int_eq(file_exists(path), 0);
    ck_assert_int_eq(count_tmp_files(dir), 0);
    remove_dir(dir);
}
END_TEST

/* Frames 0-2 go in, frame 3 has the wrong size, and the caller aborts:
 * whatever was at path before (prev, or nothing) is what is there after. */
static void mismatch_then_abort(const char *prev) {
    char *dir = test_tmpdir();
    char path[4200], want[4400];
    join(path, sizeof path, dir, "run.mp4");
    if (prev) write_text_file(path, prev);
    video_writer *vw;
    wm_error err;
    ck_assert_msg(video_writer_open(&vw, path, W, H, FPS, VIDEO_CODEC_H264, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(count_tmp_files(dir), 1); /* the video goes to a temporary name */
    image img, small;
    image_init(&img, W, H);
    image_init(&small, 32, 32);
    for (int t = 0; t < 3; t++) {
        fill_frame(&img, t);
        ck_assert_msg(video_writer_add(vw, &img, &err) == 0, "%s", err.msg);
    }
    ck_assert_int_eq(video_writer_add(vw, &small, &err), -1);
    snprintf(want, sizeof want, "%s: frame 3 is 32x32 but the video is 64x48", path);
    ck_assert_str_eq(err.msg, want);
    /* The refused frame did not break the writer. */
    ck_assert_msg(video_writer_add(vw, &img, &err) == 0, "%s", err.msg);
    video_writer_abort(vw);
    image_free(&img);
    image_free(&small);
    ck_assert_int_eq(count_tmp_files(dir), 0);
    if (prev) {
        uint8_t *data;
        size_t len;
        ck_assert_int_eq(file_read_all(path, 1 << 20, &data, &len, &err), 0);
        ck_assert_str_eq((char *)data, prev);
        free(data);
    } else {
        ck_assert_int_eq(file_exists(path), 0);
    }
    remove_dir(dir);
}

START_TEST(size_mismatch_then_abort_leaves_nothing) { mismatch_then_abort(NULL); }
END_TEST

START_TEST(size_mismatch_then_abort_keeps_previous_file) { mismatch_then_abort("previous run\n"); }
END_TEST

START_TEST(close_without_frames_is_refused) {
    char *dir = test_tmpdir();
    char path[4200], want[4400];
    join(path, sizeof path, dir, "empty.mkv");
    write_text_file(path, "previous run\n");
    video_writer *vw;
    wm_error err;
    ck_assert_msg(video_writer_open(&vw, path, W, H, FPS, VIDEO_CODEC_AUTO, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(video_writer_close(vw, &err), -1);
    snprintf(want, sizeof want, "%s: no frames to write", path);
    ck_assert_str_eq(err.msg, want);
    ck_assert_int_eq(count_tmp_files(dir), 0);
    uint8_t *data;
    size_t len;
    ck_assert_int_eq(file_read_all(path, 1 << 20, &data, &len, &err), 0);
    ck_assert_str_eq((char *)data, "previous run\n");
    free(data);
    video_writer_abort(NULL);
    video_reader_close(NULL);
    remove_dir(dir);
}
END_TEST

START_TEST(directory_at_destination) {
    /* The temporary file is written; only the final rename can fail. */
    char *dir = test_tmpdir();
    char path[4200], want[4400];
    join(path, sizeof path, dir, "taken.mkv");
    ck_assert_int_eq(mkdir(path, 0777), 0);
    video_writer *vw;
    wm_error err;
    ck_assert_msg(video_writer_open(&vw, path, W, H, FPS, VIDEO_CODEC_FFV1, &err) == 0, "%s",
                  err.msg);
    image img;
    image_init(&img, W, H);
    ck_assert_msg(video_writer_add(vw, &img, &err) == 0, "%s", err.msg);
    image_free(&img);
    ck_assert_int_eq(video_writer_close(vw, &err), -1);
    snprintf(want, sizeof want, "%s: cannot rename into place: Is a directory", path);
    ck_assert_str_eq(err.msg, want);
    ck_assert_int_eq(count_tmp_files(dir), 0);
    ck_assert_int_eq(rmdir(path), 0);
    remove_dir(dir);
}
END_TEST

START_TEST(full_disk_keeps_previous_video) {
    char *dir = test_tmpdir();
    char path[4200], want[4400];
    join(path, sizeof path, dir, "clip.mkv");
    write_video(path, W, H, VIDEO_CODEC_FFV1, 2);
    /* A file-size limit makes the disk "fill up" part way through; without
     * SIGXFSZ ignored the kernel would kill the test instead. FFV1 frames of
     * this size are several KiB each, so 25 of them pass 16 KiB. */
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 16384;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    video_writer *vw;
    wm_error err;
    ck_assert_msg(video_writer_open(&vw, path, W, H, FPS, VIDEO_CODEC_FFV1, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    image img;
    image_init(&img, W, H);
    int failed_at = -1;
    for (int t = 0; t < N && failed_at < 0; t++) {
        fill_frame(&img, t);
        if (video_writer_add(vw, &img, &err)) failed_at = t;
    }
    int rc;
    if (failed_at >= 0) {
        video_writer_abort(vw);
        rc = -1;
    } else {
        rc = video_writer_close(vw, &err);
    }
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    image_free(&img);
    ck_assert_int_eq(rc, -1);
    snprintf(want, sizeof want, "%s: cannot write video: File too large", path);
    ck_assert_str_eq(err.msg, want);
    ck_assert_int_eq(count_tmp_files(dir), 0);
    assert_probe(path, W, H, 2, "ffv1");
    ck_assert_int_eq(read_back(path, W, H, 0.0), 2);
    remove_dir(dir);
}
END_TEST

static void assert_unreadable(const char *path, const char *want) {
    video_info info;
    video_reader *vr = (video_reader *)&vr; /* not NULL, so the reset shows */
    wm_error err;
    ck_assert_int_eq(video_probe(path, &info, &err), -1);
    ck_assert_str_eq(err.msg, want);
    ck_assert_int_eq(info.frames, 0);
    ck_assert_int_eq(video_reader_open(&vr, path, &err), -1);
    ck_assert_str_eq(err.msg, want);
    ck_assert_ptr_null(vr);
}

START_TEST(missing_and_non_video_files) {
    assert_unreadable("/nonexistent/x.mp4",
                      "/nonexistent/x.mp4: cannot open video: No such file or directory");
    char *dir = test_tmpdir();
    char path[4200], want[4400];
    join(path, sizeof path, dir, "notes.mp4");
    write_text_file(path, "this is not a video file\n");
    snprintf(want, sizeof want, "%s: cannot open video: Invalid data found when processing input",
             path);
    assert_unreadable(path, want);
    remove_dir(dir);
}
END_TEST

/* Cuts path to half its length in place. */
static void cut_in_half(const char *path) {
    uint8_t *data;
    size_t len;
    wm_error err;
    ck_assert_msg(file_read_all(path, 1 << 24, &data, &len, &err) == 0, "%s", err.msg);
    ck_assert_msg(file_write_atomic(path, data, len / 2, &err) == 0, "%s", err.msg);
    free(data);
}

START_TEST(truncated_mp4_is_refused) {
    /* MP4's index (moov) is written last, so half a file has none. */
    char *dir = test_tmpdir();
    char path[4200], want[4400];
    join(path, sizeof path, dir, "cut.mp4");
    write_video(path, W, H, VIDEO_CODEC_H264, N);
    cut_in_half(path);
    snprintf(want, sizeof want, "%s: cannot open video: Invalid data found when processing input",
             path);
    assert_unreadable(path, want);
    remove_dir(dir);
}
END_TEST

START_TEST(truncated_mkv_gives_fewer_exact_frames) {
    /* Matroska streams its frames before its index, so half a file still
     * holds about half the frames; those must still be exact. */
    char *dir = test_tmpdir();
    char path[4200];
    join(path, sizeof path, dir, "cut.mkv");
    write_video(path, W, H, VIDEO_CODEC_FFV1, N);
    cut_in_half(path);
    video_info info;
    wm_error err;
    ck_assert_msg(video_probe(path, &info, &err) == 0, "%s", err.msg);
    ck_assert_int_gt(info.frames, 0);
    ck_assert_int_lt(info.frames, N);
    ck_assert_int_eq(read_back(path, W, H, 0.0), info.frames);
    remove_dir(dir);
}
END_TEST

START_TEST(reader_resizes_the_callers_image) {
    char *dir = test_tmpdir();
    char path[4200];
    join(path, sizeof path, dir, "clip.mkv");
    write_video(path, W, H, VIDEO_CODEC_FFV1, 1);
    video_reader *vr;
    wm_error err;
    ck_assert_msg(video_reader_open(&vr, path, &err) == 0, "%s", err.msg);
    image got, want;
    image_init(&got, 5, 3);
    image_init(&want, W, H);
    fill_frame(&want, 0);
    ck_assert_msg(video_reader_next(vr, &got, &err) == 1, "%s", err.msg);
    ck_assert_double_eq(mean_abs_error(&got, &want), 0.0);
    ck_assert_int_eq(video_reader_next(vr, &got, &err), 0);
    video_reader_close(vr);
    image_free(&got);
    image_free(&want);
    remove_dir(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("video");
    TCase *rt = tcase_create("roundtrip");
    tcase_add_test(rt, h264_mp4_roundtrip);
    tcase_add_test(rt, mpeg4_mp4_roundtrip);
    tcase_add_test(rt, h264_mkv_and_mpeg4_avi_roundtrip);
    tcase_add_test(rt, reader_follows_the_bt709_tag);
    tcase_add_test(rt, ffv1_mkv_is_bit_exact);
    tcase_add_test(rt, ffv1_takes_odd_sizes);
    tcase_add_test(rt, auto_picks_by_extension);
    tcase_add_test(rt, same_frames_give_the_same_file);
    tcase_add_test(rt, codec_names_parse_and_availability);
    tcase_add_test(rt, reader_resizes_the_callers_image);
    suite_add_tcase(s, rt);
    TCase *errs = tcase_create("errors");
    tcase_add_test(errs, missing_directory);
    tcase_add_test(errs, unknown_extension);
    tcase_add_test(errs, bad_sizes_and_rates);
    tcase_add_test(errs, ffv1_refused_in_mp4);
    tcase_add_test(errs, missing_encoder);
    tcase_add_test(errs, size_mismatch_then_abort_leaves_nothing);
    tcase_add_test(errs, size_mismatch_then_abort_keeps_previous_file);
    tcase_add_test(errs, close_without_frames_is_refused);
    tcase_add_test(errs, directory_at_destination);
    tcase_add_test(errs, full_disk_keeps_previous_video);
    tcase_add_test(errs, missing_and_non_video_files);
    tcase_add_test(errs, truncated_mp4_is_refused);
    tcase_add_test(errs, truncated_mkv_gives_fewer_exact_frames);
    suite_add_tcase(s, errs);
    return run_suite(s);
}
