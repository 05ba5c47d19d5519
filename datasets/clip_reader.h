/* clip_reader.h — training windows streamed from a folder tree of clips.
 *
 * Usage:
 *     clip_reader_config cfg = clip_reader_config_default();
 *     cfg.root = "out/clips"; cfg.context = 8; cfg.horizon = 4; cfg.seed = 1;
 *     cfg.split = CLIP_SPLIT_TRAIN;                  // or CLIP_SPLIT_VALIDATION
 *     clip_reader *r;
 *     if (clip_reader_open(&r, &cfg, &err)) ...      // "out/clips/a/meta.json: 64x32 but out/clips/b ..."
 *     for (;;) {                                     // one epoch
 *         const clip_window *w;
 *         int rc = clip_reader_next(r, &w, &err);    // 1: a window, 0: end of epoch, -1: error
 *         if (rc <= 0) break;
 *         train_on(w->frames, w->actions, w->ego, w->n);
 *     }
 *     clip_reader_rewind(r);                         // the next epoch, in another order
 *     clip_reader_close(r);
 *
 * A window is n = context + horizon consecutive frames of one clip, at
 * frames start .. start + n - 1, with the action after each of them: every
 * one of its n - 1 transitions has an action, and so does its last frame
 * unless that is the clip's last frame (which has none). Window starts in a
 * clip are 0, stride, 2 * stride, ... as long as the window fits, so a clip
 * of F frames gives (F - n) / stride + 1 windows (none when F < n).
 *
 * What is read: every folder under root (clip_folders_find)
 * that holds a clip file (meta.json, frames.mkv, states.jsonl, or their
 * ".tmp." leftovers) is a clip folder; complete ones (clip_is_complete) are
 * read, the others are skipped and counted. Folders are visited in sorted
 * order, so the set and its numbering do not depend on the file system.
 * All clips of one reader must share width and height.
 *
 * The split: a clip belongs to validation when the hash of its folder's
 * name (the last path component, e.g. "guard_stop_0003") falls below
 * val_fraction, else to train. Only the name counts — not the seed, the
 * root or the other clips — so a clip is always wholly on one side, the
 * same side in every dataset that holds it, even after the tree is moved or
 * merged with another.
 *
 * Order: epoch e draws everything from rng_fork(seed, e): the order of the
 * clips, which of the `interleave` clips being decoded at once gives the
 * next window, and which window of the shuffle buffer (up to
 * `shuffle_buffer` windows) is handed out next. The same config gives the
 * same window sequence, epoch by epoch; another seed another order of the
 * same windows.
 *
 * Memory: pixels are only ever held for the windows in the shuffle buffer
 * (plus the one handed out) and for the last n frames of each clip being
 * decoded, plus one frame being decoded, whatever the number or length of
 * the clips: at most (shuffle_buffer + 1 + interleave) * n + 1 frames,
 * which stats.frames_peak reports (clip_reader_frames_bound). Each clip is decoded from frames.mkv (FFV1: exact pixels) and
 * states.jsonl is read a line at a time, both front to back to their end,
 * so a clip whose files disagree with its meta.json is an error even where
 * no window reaches.
 *
 * Dimensions: N = context + horizon frames, H x W pixels, 3 channels. */
#ifndef WMSIM_CLIP_READER_H
#define WMSIM_CLIP_READER_H

#include <stdint.h>

#include "actions/action.h"
#include "core/error.h"

#define CLIP_READER_MAX_WINDOW 4096  /* context + horizon */
#define CLIP_READER_NAME_MAX 4096

typedef enum { CLIP_SPLIT_TRAIN, CLIP_SPLIT_VALIDATION } clip_split;

typedef struct {
    const char *root;      /* folder tree of clips */
    int context, horizon;  /* K >= 1 context frames, H >= 0 future frames */
    int stride;            /* frames between window starts in a clip, >= 1 */
    uint64_t seed;
    clip_split split;
    double val_fraction;   /* [0, 1]: share of clips (by name hash) in validation */
    int shuffle_buffer;    /* >= 1 windows; 1 keeps the stream order */
    int interleave;        /* >= 1 clips decoded at once, their windows mixed */
} clip_reader_config;

/* context 8, horizon 4, stride 1, seed 0, train, val_fraction 0.1,
 * shuffle_buffer 64, interleave 4; root NULL (must be set). */
clip_reader_config clip_reader_config_default(void);

/* The ego at one frame of a window (world frame of its clip, see clip.h). */
typedef struct {
    double t;                          /* s from the clip's start */
    double x, y, yaw, speed, yaw_rate; /* m, rad, m/s, rad/s */
    double accel;                      /* m/s², + speeding up */
} clip_ego;

typedef struct {
    int n;                   /* N = context + horizon */
    int width, height;       /* W, H */
    uint8_t *frames;         /* (N, H, W, 3) RGB, row-major from the top-left */
    action *actions;         /* (N) the action after each frame */
    int last_has_action;     /* 0 when the window ends on the clip's last frame:
                                actions[N - 1] is then zero */
    clip_ego *ego;           /* (N) */
    char clip[CLIP_READER_NAME_MAX]; /* the clip folder, relative to root */
    int start;               /* frame index of frames[0] in its clip */
} clip_window;

typedef struct {
    int clips;             /* complete clips in this split */
    int clips_short;       /* of those, shorter than N frames: no windows */
    int clips_other_split; /* complete clips in the other split */
    int skipped;           /* incomplete clip folders (clip_is_complete false) */
    long long windows;     /* per epoch */
    int width, height;     /* of every clip */
    int epoch;             /* the epoch being read, 0 first */
    long long delivered;   /* windows handed out in this epoch */
    long long frames_held; /* frame buffers allocated now */
    long long frames_peak; /* the most ever allocated */
} clip_reader_stats;

typedef struct clip_reader clip_reader;

/* Scans root and reads every complete clip's meta.json (no frames yet).
 * Errors: a config value out of range, root unreadable, clips of
 * different sizes ("B/meta.json: 64x32 frames, but A/meta.json has
 * 128x64: all clips of a reader must share a size"), and a split without
 * windows. Starts epoch 0. */
int clip_reader_open(clip_reader **out, const clip_reader_config *cfg, wm_error *err);

/* The next window of this epoch in *window, owned by the reader and valid
 * until the next call on r. Returns 1, 0 at the end of the epoch (then
 * again 0 until rewound), or -1 on a damaged clip, naming its file and
 * line or frame ("DIR/states.jsonl: line 12: frame 13, expected 11",
 * "DIR/frames.mkv: 7 frames, but meta.json says 10"); after an error
 * next keeps failing until rewind or start_epoch. */
int clip_reader_next(clip_reader *r, const clip_window **window, wm_error *err);

/* Starts the next epoch. */
void clip_reader_rewind(clip_reader *r);
/* Starts epoch `epoch` (>= 0): to resume training where it stopped, start
 * the saved epoch and skip stats.delivered windows. */
void clip_reader_start_epoch(clip_reader *r, int epoch);

void clip_reader_stats_get(const clip_reader *r, clip_reader_stats *st);

/* The most frames a reader with cfg ever holds in memory. */
long long clip_reader_frames_bound(const clip_reader_config *cfg);

/* Whether a clip folder named `name` (its last path component is used)
 * belongs to validation under val_fraction. */
int clip_reader_in_validation(const char *name, double val_fraction);

void clip_reader_close(clip_reader *r); /* NULL is fine */

#endif
