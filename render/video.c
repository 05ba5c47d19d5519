#include "render/video.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "core/check.h"
#include "core/fileio.h"

/* FFmpeg's allocators fail only when memory is exhausted; like MALLOC_CHECK,
 * stop at the caller's line rather than forward an error nobody can handle. */
#define AV_ALLOC_CHECK(p) av_alloc_check((p), __FILE__, __LINE__)
#define AV_BUFFER_CHECK(rc)                       \
    do {                                          \
        if ((rc) < 0) av_oom(__FILE__, __LINE__); \
    } while (0)

static void av_oom(const char *file, int line) {
    fprintf(stderr, "%s:%d: out of memory in FFmpeg\n", file, line);
    abort();
}

static void *av_alloc_check(void *p, const char *file, int line) {
    if (!p) av_oom(file, line);
    return p;
}

/* av_strerror's text as a value, so it can sit inside a wm_fail call. */
typedef struct {
    char s[AV_ERROR_MAX_STRING_SIZE];
} av_reason;

static av_reason reason(int code) {
    av_reason r;
    av_strerror(code, r.s, sizeof r.s);
    return r;
}

/* FFmpeg logs to stderr by default (x264's banner, muxer notes, its errors);
 * wmsim reports through wm_error with av_strerror's reason, so FFmpeg stays
 * silent. The level is FFmpeg's process-wide setting, hence set on every
 * entry point instead of in an init function callers could forget. */
static void ffmpeg_quiet(void) { av_log_set_level(AV_LOG_QUIET); }

static const char *const codec_names[] = {
    [VIDEO_CODEC_AUTO] = "auto",
    [VIDEO_CODEC_H264] = "h264",
    [VIDEO_CODEC_MPEG4] = "mpeg4",
    [VIDEO_CODEC_FFV1] = "ffv1",
};

/* By name, so H.264 always means libx264 (deterministic, software) and never
 * a hardware encoder FFmpeg might list first. */
static const char *const encoder_names[] = {
    [VIDEO_CODEC_H264] = "libx264",
    [VIDEO_CODEC_MPEG4] = "mpeg4",
    [VIDEO_CODEC_FFV1] = "ffv1",
};

#define N_CODECS ((int)(sizeof codec_names / sizeof codec_names[0]))

const char *video_codec_name(video_codec c) {
    return (int)c >= 0 && (int)c < N_CODECS ? codec_names[c] : "?";
}

int video_codec_parse(const char *name, video_codec *out, wm_error *err) {
    for (int i = 0; i < N_CODECS; i++)
        if (strcmp(name, codec_names[i]) == 0) return *out = (video_codec)i, 0;
    return wm_fail(err, "unknown video codec '%s' (expected auto, h264, mpeg4 or ffv1)", name);
}

static int encoder_exists(video_codec c) {
    return avcodec_find_encoder_by_name(encoder_names[c]) != NULL;
}

int video_codec_available(video_codec c) {
    if (c == VIDEO_CODEC_AUTO)
        return encoder_exists(VIDEO_CODEC_H264) || encoder_exists(VIDEO_CODEC_MPEG4);
    return (int)c > 0 && (int)c < N_CODECS && encoder_exists(c);
}

typedef struct {
    const char *ext, *muxer;
} container;

static const container containers[] = {
    {".mp4", "mp4"},
    {".mkv", "matroska"},
    {".avi", "avi"},
};

/* The temporary name hides the extension from FFmpeg, so the container is
 * chosen here, once, from the final name. */
static const container *container_for(const char *path) {
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash)) return NULL;
    for (size_t i = 0; i < sizeof containers / sizeof containers[0]; i++)
        if (strcasecmp(dot, containers[i].ext) == 0) return &containers[i];
    return NULL;
}

/* ---- writing ---------------------------------------------------------- */

#define VIDEO_RGB_PAD 64 /* bytes past an RGB frame that swscale may read */

struct video_writer {
    atomic_file af; /* the temporary file and the final name */
    AVIOContext *io;
    AVFormatContext *oc;
    AVCodecContext *enc;
    AVStream *st;
    struct SwsContext *sws;
    AVFrame *yuv; /* the frame in the encoder's pixel format */
    uint8_t *rgb; /* the frame being added, with room past its end (VIDEO_RGB_PAD) */
    AVPacket *pkt;
    int width, height;
    long long frames;
    int broken; /* an encoder or disk error: only abort is left */
};

/* FFmpeg writes through atomic_file's FILE, so the temporary name, fsync
 * and rename are the same as for every other output of wmsim. */
static int io_write(void *opaque, uint8_t *buf, int size) {
    video_writer *vw = opaque;
    errno = 0;
    if (fwrite(buf, 1, (size_t)size, vw->af.f) != (size_t)size) return AVERROR(errno ? errno : EIO);
    return size;
}

/* MP4 and Matroska seek back to patch sizes and indexes in the trailer. */
static int64_t io_seek(void *opaque, int64_t offset, int whence) {
    video_writer *vw = opaque;
    FILE *f = vw->af.f;
    if (whence & AVSEEK_SIZE) {
        struct stat st;
        if (fflush(f) != 0 || fstat(fileno(f), &st) != 0) return AVERROR(errno);
        return st.st_size;
    }
    if (fseeko(f, (off_t)offset, whence & ~AVSEEK_FORCE) != 0) return AVERROR(errno);
    return ftello(f);
}

/* Every byte of f's buffers, the padding past each row included. */
static void zero_frame(AVFrame *f) {
    for (int i = 0; i < AV_NUM_DATA_POINTERS && f->buf[i]; i++) memset(f->buf[i]->data, 0, f->buf[i]->size);
}

static void writer_free(video_writer *vw) {
    free(vw->rgb);
    vw->rgb = NULL;
    sws_freeContext(vw->sws);
    av_frame_free(&vw->yuv);
    av_packet_free(&vw->pkt);
    avcodec_free_context(&vw->enc);
    /* The muxer's private state goes with the context; the I/O is ours. */
    avformat_free_context(vw->oc);
    vw->oc = NULL;
    if (vw->io) {
        av_freep(&vw->io->buffer);
        avio_context_free(&vw->io);
    }
}

void video_writer_abort(video_writer *vw) {
    if (!vw) return;
    writer_free(vw);
    atomic_file_abort(&vw->af);
    free(vw);
}

/* What video_writer_open decides before anything is created. */
typedef struct {
    const container *ct;
    video_codec codec;        /* never AUTO */
    const char *encoder;      /* FFmpeg's name for it */
    enum AVColorSpace matrix; /* RGB -> YUV for H.264 and MPEG-4 */
} writer_plan;

/* Per-codec choices. H.264: crf 18 is visually lossless on these small,
 * sharp frames; "fast" keeps encoding well above real time; no B-frames so
 * packets come out in display order and the duration is exactly n / fps.
 * MPEG-4: fixed quantiser 2 of 1..31, near its best. FFV1 version 3, the
 * archival choice, checksums every slice (FFmpeg 5.1's decoder logs a
 * mismatch but still returns the frame), and gop 1 makes every frame
 * decodable on its own, so a clip can be cut anywhere. */
static int encoder_setup(video_writer *vw, const AVCodec *codec, int fps, const writer_plan *plan,
                         wm_error *err) {
    AVCodecContext *enc = vw->enc;
    const char *path = vw->af.path;
    enc->width = vw->width;
    enc->height = vw->height;
    enc->time_base = (AVRational){1, fps};
    enc->framerate = (AVRational){fps, 1};
    enc->sample_aspect_ratio = (AVRational){1, 1};
    enc->max_b_frames = 0;
    /* A keyframe every 2 s bounds what a seek or a cut has to decode. */
    enc->gop_size = 2 * fps;
    /* Frames are small (128x64 by default): encoder threads cost more in
     * start-up and latency than they save, and one thread is deterministic. */
    enc->thread_count = 1;
    if (plan->codec == VIDEO_CODEC_FFV1) {
        enc->pix_fmt = AV_PIX_FMT_0RGB32;
        enc->level = 3;
        enc->gop_size = 1;
        /* The range coder with the larger context model: rendered frames
         * have large flat areas, which it codes markedly smaller. */
        int rc = av_opt_set(enc->priv_data, "coder", "range_def", 0);
        if (rc >= 0) rc = av_opt_set_int(enc->priv_data, "context", 1, 0);
        if (rc < 0) return wm_fail(err, "%s: ffv1 encoder options: %s", path, reason(rc).s);
    } else {
        enc->pix_fmt = AV_PIX_FMT_YUV420P;
        enc->colorspace = plan->matrix;
        enc->color_range = AVCOL_RANGE_MPEG;
        /* The rendered frames are sRGB, whose primaries are BT.709's. */
        enc->color_primaries = AVCOL_PRI_BT709;
        enc->color_trc = AVCOL_TRC_IEC61966_2_1;
    }
    if (plan->codec == VIDEO_CODEC_H264) {
        int rc = av_opt_set(enc->priv_data, "crf", "18", 0);
        if (rc >= 0) rc = av_opt_set(enc->priv_data, "preset", "fast", 0);
        if (rc < 0)
            return wm_fail(err, "%s: cannot configure encoder %s: %s", path, codec->name,
                           reason(rc).s);
    } else if (plan->codec == VIDEO_CODEC_MPEG4) {
        enc->flags |= AV_CODEC_FLAG_QSCALE;
        enc->global_quality = FF_QP2LAMBDA * 2;
    }
    if (vw->oc->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    int rc = avcodec_open2(enc, codec, NULL);
    if (rc < 0)
        return wm_fail(err, "%s: cannot open encoder %s: %s", path, codec->name, reason(rc).s);
    return 0;
}

/* Opens with sizes already checked and the plan made. The tests call it
 * directly for what the public function never asks for: an encoder no
 * FFmpeg has, and the BT.709 matrix that dashcam videos use. */
static int writer_open(video_writer **out, const char *path, int width, int height, int fps,
                       const writer_plan *plan, wm_error *err) {
    *out = NULL;
    ffmpeg_quiet();
    const container *ct = plan->ct;
    const AVCodec *codec = avcodec_find_encoder_by_name(plan->encoder);
    if (!codec)
        return wm_fail(err, "%s: %s encoder %s is not in this FFmpeg build", path,
                       video_codec_name(plan->codec), plan->encoder);
    const AVOutputFormat *fmt = av_guess_format(ct->muxer, NULL, NULL);
    if (!fmt) return wm_fail(err, "%s: %s muxer is not in this FFmpeg build", path, ct->muxer);
    /* 0 is a definite no; a negative "cannot tell" is left to the muxer. */
    if (avformat_query_codec(fmt, codec->id, FF_COMPLIANCE_NORMAL) == 0)
        return wm_fail(err, "%s: %s video cannot be stored in %s (use .mkv)", path,
                       video_codec_name(plan->codec), ct->ext);

    video_writer *vw = CALLOC_CHECK(1, sizeof *vw);
    vw->width = width;
    vw->height = height;
    if (atomic_file_open(&vw->af, path, err)) return free(vw), -1;
    const int io_size = 1 << 16;
    uint8_t *io_buf = AV_ALLOC_CHECK(av_malloc(io_size));
    vw->io = AV_ALLOC_CHECK(avio_alloc_context(io_buf, io_size, 1, vw, NULL, io_write, io_seek));
    int rc = avformat_alloc_output_context2(&vw->oc, fmt, NULL, path);
    if (rc < 0) {
        video_writer_abort(vw);
        return wm_fail(err, "%s: cannot start %s container: %s", path, ct->muxer, reason(rc).s);
    }
    vw->oc->pb = vw->io;
    /* Matroska would otherwise write a random segment id: the same frames
     * must give the same file, as the same seed gives the same log. */
    vw->oc->flags |= AVFMT_FLAG_BITEXACT;
    vw->st = AV_ALLOC_CHECK(avformat_new_stream(vw->oc, NULL));
    vw->enc = AV_ALLOC_CHECK(avcodec_alloc_context3(codec));
    if (encoder_setup(vw, codec, fps, plan, err)) return video_writer_abort(vw), -1;
    rc = avcodec_parameters_from_context(vw->st->codecpar, vw->enc);
    if (rc < 0) {
        video_writer_abort(vw);
        return wm_fail(err, "%s: cannot describe the video stream: %s", path, reason(rc).s);
    }
    vw->st->time_base = vw->enc->time_base; /* a hint; the muxer picks its own */
    vw->st->avg_frame_rate = vw->enc->framerate;
    rc = avformat_write_header(vw->oc, NULL);
    if (rc < 0) {
        video_writer_abort(vw);
        return wm_fail(err, "%s: cannot write video: %s", path, reason(rc).s);
    }
    vw->pkt = AV_ALLOC_CHECK(av_packet_alloc());
    vw->yuv = AV_ALLOC_CHECK(av_frame_alloc());
    vw->yuv->format = vw->enc->pix_fmt;
    vw->yuv->width = width;
    vw->yuv->height = height;
    AV_BUFFER_CHECK(av_frame_get_buffer(vw->yuv, 0));
    zero_frame(vw->yuv);
    vw->rgb = CALLOC_CHECK((size_t)3 * width * height + VIDEO_RGB_PAD, 1);
    vw->sws = sws_getContext(width, height, AV_PIX_FMT_RGB24, width, height, vw->enc->pix_fmt,
                             SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP, NULL, NULL,
                             NULL);
    /* The matrix the stream is tagged with; RGB input is full range. */
    if (!vw->sws || (plan->codec != VIDEO_CODEC_FFV1 &&
                     sws_setColorspaceDetails(vw->sws, sws_getCoefficients(SWS_CS_DEFAULT), 1,
                                              sws_getCoefficients(plan->matrix), 0, 0, 1 << 16,
                                              1 << 16) < 0)) {
        wm_fail(err, "%s: swscale cannot convert RGB to %s", path,
                av_get_pix_fmt_name(vw->enc->pix_fmt));
        return video_writer_abort(vw), -1;
    }
    *out = vw;
    return 0;
}

int video_writer_open(video_writer **out, const char *path, int width, int height, int fps,
                      video_codec codec, wm_error *err) {
    *out = NULL;
    if ((int)codec < 0 || (int)codec >= N_CODECS)
        return wm_fail(err, "%s: unknown video codec %d", path, (int)codec);
    const container *ct = container_for(path);
    if (!ct)
        return wm_fail(err, "%s: unknown video file extension (use .mp4, .mkv or .avi)", path);
    if (width < 1 || width > IMAGE_MAX_SIDE || height < 1 || height > IMAGE_MAX_SIDE)
        return wm_fail(err, "%s: video size %dx%d outside 1..%d per side", path, width, height,
                       IMAGE_MAX_SIDE);
    if (fps < 1 || fps > VIDEO_MAX_FPS)
        return wm_fail(err, "%s: frame rate %d outside 1..%d", path, fps, VIDEO_MAX_FPS);
    if (codec == VIDEO_CODEC_AUTO) {
        if (strcmp(ct->ext, ".mkv") == 0) codec = VIDEO_CODEC_FFV1;
        else codec = encoder_exists(VIDEO_CODEC_H264) ? VIDEO_CODEC_H264 : VIDEO_CODEC_MPEG4;
    }
    if (codec != VIDEO_CODEC_FFV1 && (width % 2 || height % 2))
        return wm_fail(err, "%s: %s video (yuv420p) needs an even width and height, not %dx%d",
                       path, video_codec_name(codec), width, height);
    /* BT.601, swscale's default: what a player assumes for an untagged
     * small video, and AVI cannot carry the tag. */
    writer_plan plan = {ct, codec, encoder_names[codec], AVCOL_SPC_SMPTE170M};
    return writer_open(out, path, width, height, fps, &plan, err);
}

/* Sends frame (NULL: flush) and writes every packet the encoder has ready. */
static int writer_encode(video_writer *vw, const AVFrame *frame, wm_error *err) {
    const char *path = vw->af.path;
    int rc = avcodec_send_frame(vw->enc, frame);
    if (rc < 0) {
        vw->broken = 1;
        return wm_fail(err, "%s: frame %lld: %s encoder failed: %s", path, vw->frames,
                       vw->enc->codec->name, reason(rc).s);
    }
    while ((rc = avcodec_receive_packet(vw->enc, vw->pkt)) >= 0) {
        /* Without B-frames every packet is one frame shown for one tick;
         * said here rather than left to the muxer to guess from the rate. */
        vw->pkt->duration = 1;
        av_packet_rescale_ts(vw->pkt, vw->enc->time_base, vw->st->time_base);
        vw->pkt->stream_index = vw->st->index;
        rc = av_interleaved_write_frame(vw->oc, vw->pkt);
        if (rc < 0) {
            vw->broken = 1;
            return wm_fail(err, "%s: cannot write video: %s", path, reason(rc).s);
        }
    }
    if (rc != AVERROR(EAGAIN) && rc != AVERROR_EOF) {
        vw->broken = 1;
        return wm_fail(err, "%s: frame %lld: %s encoder failed: %s", path, vw->frames,
                       vw->enc->codec->name, reason(rc).s);
    }
    return 0;
}

int video_writer_add(video_writer *vw, const image *frame, wm_error *err) {
    const char *path = vw->af.path;
    if (frame->width != vw->width || frame->height != vw->height)
        return wm_fail(err, "%s: frame %lld is %dx%d but the video is %dx%d", path, vw->frames,
                       frame->width, frame->height, vw->width, vw->height);
    if (vw->broken) return wm_fail(err, "%s: an earlier error stopped this video", path);
    /* The encoder may still hold a reference to the previous frame; a new
     * buffer is zeroed, padding included, so no stale byte reaches it. */
    uint8_t *before = vw->yuv->buf[0] ? vw->yuv->buf[0]->data : NULL;
    AV_BUFFER_CHECK(av_frame_make_writable(vw->yuv));
    if (vw->yuv->buf[0]->data != before) zero_frame(vw->yuv);
    /* swscale's vector code reads a little past the last pixel: a padded copy
     * keeps those reads inside memory we own. */
    memcpy(vw->rgb, frame->rgb, (size_t)3 * frame->width * frame->height);
    const uint8_t *src[1] = {vw->rgb};
    const int stride[1] = {3 * frame->width};
    sws_scale(vw->sws, src, stride, 0, frame->height, vw->yuv->data, vw->yuv->linesize);
    vw->yuv->pts = vw->frames;
    if (writer_encode(vw, vw->yuv, err)) return -1;
    vw->frames++;
    return 0;
}

int video_writer_close(video_writer *vw, wm_error *err) {
    const char *path = vw->af.path;
    int rc = 0;
    if (vw->broken) rc = wm_fail(err, "%s: an earlier error stopped this video", path);
    else if (vw->frames == 0) rc = wm_fail(err, "%s: no frames to write", path);
    else if (writer_encode(vw, NULL, err)) rc = -1;
    else {
        int av = av_write_trailer(vw->oc);
        if (av < 0) rc = wm_fail(err, "%s: cannot write video: %s", path, reason(av).s);
    }
    if (rc) {
        video_writer_abort(vw);
        return -1;
    }
    writer_free(vw);
    rc = atomic_file_commit(&vw->af, err);
    free(vw);
    return rc;
}

/* ---- reading ---------------------------------------------------------- */

/* Opens path and finds its video stream, refusing sizes image_init would. */
static int input_open(const char *path, AVFormatContext **ic, int *stream, wm_error *err) {
    ffmpeg_quiet();
    *ic = NULL;
    int rc = avformat_open_input(ic, path, NULL, NULL);
    if (rc < 0) return wm_fail(err, "%s: cannot open video: %s", path, reason(rc).s);
    rc = avformat_find_stream_info(*ic, NULL);
    if (rc < 0) {
        avformat_close_input(ic);
        return wm_fail(err, "%s: cannot read video: %s", path, reason(rc).s);
    }
    rc = av_find_best_stream(*ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (rc < 0) {
        avformat_close_input(ic);
        return wm_fail(err, "%s: no video stream", path);
    }
    *stream = rc;
    const AVCodecParameters *par = (*ic)->streams[rc]->codecpar;
    if (par->width < 1 || par->width > IMAGE_MAX_SIDE || par->height < 1 ||
        par->height > IMAGE_MAX_SIDE) {
        int w = par->width, h = par->height;
        avformat_close_input(ic);
        return wm_fail(err, "%s: video size %dx%d outside 1..%d per side", path, w, h,
                       IMAGE_MAX_SIDE);
    }
    return 0;
}

int video_probe(const char *path, video_info *info, wm_error *err) {
    memset(info, 0, sizeof *info);
    AVFormatContext *ic;
    int si;
    if (input_open(path, &ic, &si, err)) return -1;
    const AVStream *st = ic->streams[si];
    AVRational rate = st->avg_frame_rate;
    if (rate.num <= 0 || rate.den <= 0) rate = st->r_frame_rate;
    int have_rate = rate.num > 0 && rate.den > 0;
    /* A frame without a stored duration lasts one frame period. */
    int64_t period = have_rate ? av_rescale_q(1, av_inv_q(rate), st->time_base) : 0;
    int64_t start = INT64_MAX, end = INT64_MIN;
    long long frames = 0;
    AVPacket *pkt = AV_ALLOC_CHECK(av_packet_alloc());
    int rc;
    while ((rc = av_read_frame(ic, pkt)) >= 0) {
        if (pkt->stream_index == si) {
            frames++;
            int64_t t = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
            if (t != AV_NOPTS_VALUE) {
                if (t < start) start = t;
                if (t + (pkt->duration > 0 ? pkt->duration : period) > end)
                    end = t + (pkt->duration > 0 ? pkt->duration : period);
            }
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    if (rc != AVERROR_EOF) {
        avformat_close_input(&ic);
        return wm_fail(err, "%s: cannot read video: %s", path, reason(rc).s);
    }
    info->width = st->codecpar->width;
    info->height = st->codecpar->height;
    info->frames = frames > INT32_MAX ? INT32_MAX : (int)frames;
    info->duration_s = end > start ? (double)(end - start) * av_q2d(st->time_base) : 0.0;
    info->fps = have_rate ? av_q2d(rate)
                          : info->duration_s > 0 ? info->frames / info->duration_s : 0.0;
    snprintf(info->codec, sizeof info->codec, "%s", avcodec_get_name(st->codecpar->codec_id));
    avformat_close_input(&ic);
    return 0;
}

struct video_reader {
    char *path;
    AVFormatContext *ic;
    int stream;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    struct SwsContext *sws;
    long long frames; /* returned so far */
    int draining;     /* the demuxer is done; the decoder is being emptied */
    int64_t first_ts; /* the first frame's timestamp, AV_NOPTS_VALUE before it */
    double last_time; /* s: the last returned frame's time from the first */
};

void video_reader_close(video_reader *vr) {
    if (!vr) return;
    sws_freeContext(vr->sws);
    av_frame_free(&vr->frame);
    av_packet_free(&vr->pkt);
    avcodec_free_context(&vr->dec);
    avformat_close_input(&vr->ic);
    free(vr->path);
    free(vr);
}

int video_reader_open(video_reader **out, const char *path, wm_error *err) {
    *out = NULL;
    AVFormatContext *ic;
    int si;
    if (input_open(path, &ic, &si, err)) return -1;
    const AVCodecParameters *par = ic->streams[si]->codecpar;
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    if (!codec) {
        avformat_close_input(&ic);
        return wm_fail(err, "%s: no decoder for %s video in this FFmpeg build", path,
                       avcodec_get_name(par->codec_id));
    }
    video_reader *vr = CALLOC_CHECK(1, sizeof *vr);
    vr->path = STRDUP_CHECK(path);
    vr->ic = ic;
    vr->stream = si;
    vr->dec = AV_ALLOC_CHECK(avcodec_alloc_context3(codec));
    int rc = avcodec_parameters_to_context(vr->dec, par);
    if (rc >= 0) {
        vr->dec->pkt_timebase = ic->streams[si]->time_base;
        rc = avcodec_open2(vr->dec, codec, NULL);
    }
    if (rc < 0) {
        video_reader_close(vr);
        return wm_fail(err, "%s: cannot open decoder %s: %s", path, codec->name, reason(rc).s);
    }
    vr->pkt = AV_ALLOC_CHECK(av_packet_alloc());
    vr->frame = AV_ALLOC_CHECK(av_frame_alloc());
    vr->first_ts = AV_NOPTS_VALUE;
    *out = vr;
    return 0;
}

/* The decoded frame as RGB24 in img, honouring the frame's YUV matrix and
 * range (dashcams record BT.709; wmsim's own videos are BT.601). */
static int reader_convert(video_reader *vr, image *img, wm_error *err) {
    const AVFrame *f = vr->frame;
    if (f->width < 1 || f->width > IMAGE_MAX_SIDE || f->height < 1 || f->height > IMAGE_MAX_SIDE)
        return wm_fail(err, "%s: frame %lld: size %dx%d outside 1..%d per side", vr->path,
                       vr->frames, f->width, f->height, IMAGE_MAX_SIDE);
    vr->sws = sws_getCachedContext(vr->sws, f->width, f->height, f->format, f->width, f->height,
                                   AV_PIX_FMT_RGB24,
                                   SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, NULL,
                                   NULL, NULL);
    if (!vr->sws)
        return wm_fail(err, "%s: swscale cannot convert %s frames to RGB", vr->path,
                       av_get_pix_fmt_name(f->format));
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(f->format);
    /* RGB frames (FFV1) have no matrix. An unspecified one maps to BT.601,
     * which is how players read untagged video too. */
    if (desc && !(desc->flags & AV_PIX_FMT_FLAG_RGB))
        sws_setColorspaceDetails(vr->sws, sws_getCoefficients(f->colorspace),
                                 f->color_range == AVCOL_RANGE_JPEG,
                                 sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
    if (img->rgb && (img->width != f->width || img->height != f->height)) image_free(img);
    if (!img->rgb) image_init(img, f->width, f->height);
    uint8_t *dst[1] = {img->rgb};
    const int stride[1] = {3 * img->width};
    sws_scale(vr->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, stride);
    return 0;
}

/* Variable-rate video (phones, dashcams dropping frames) is timed by each
 * frame's own timestamp; frames without one fall back to the stream rate. */
static void reader_note_time(video_reader *vr) {
    const AVStream *st = vr->ic->streams[vr->stream];
    int64_t ts = vr->frame->best_effort_timestamp;
    if (ts != AV_NOPTS_VALUE) {
        if (vr->first_ts == AV_NOPTS_VALUE) vr->first_ts = ts;
        vr->last_time = (double)(ts - vr->first_ts) * av_q2d(st->time_base);
        return;
    }
    AVRational rate = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
    vr->last_time = rate.num > 0 ? (double)vr->frames / av_q2d(rate) : 0.0;
}

double video_reader_time(const video_reader *vr) { return vr->last_time; }

int video_reader_next(video_reader *vr, image *frame, wm_error *err) {
    for (;;) {
        int rc = avcodec_receive_frame(vr->dec, vr->frame);
        if (rc >= 0) {
            reader_note_time(vr);
            rc = reader_convert(vr, frame, err);
            av_frame_unref(vr->frame);
            if (rc) return -1;
            vr->frames++;
            return 1;
        }
        if (rc == AVERROR_EOF) return 0;
        if (rc != AVERROR(EAGAIN) || vr->draining)
            return wm_fail(err, "%s: frame %lld: cannot decode: %s", vr->path, vr->frames,
                           reason(rc).s);
        rc = av_read_frame(vr->ic, vr->pkt);
        if (rc == AVERROR_EOF) {
            vr->draining = 1;
            rc = avcodec_send_packet(vr->dec, NULL);
        } else if (rc < 0) {
            return wm_fail(err, "%s: cannot read video: %s", vr->path, reason(rc).s);
        } else if (vr->pkt->stream_index != vr->stream) {
            av_packet_unref(vr->pkt);
            continue;
        } else {
            rc = avcodec_send_packet(vr->dec, vr->pkt);
            av_packet_unref(vr->pkt);
        }
        if (rc < 0)
            return wm_fail(err, "%s: frame %lld: cannot decode: %s", vr->path, vr->frames,
                           reason(rc).s);
    }
}
