"""A simple camera + speed policy for wmsim, the reference example.

    python3 -m wmsim_policy.example [--target-speed MPS] [--steer-gain G] [--unix PATH]

Speed: a proportional controller toward the target speed (default 8 m/s).
Steering: finds the ego lane in the front frame and steers gently toward
its centre. clients/c/example_policy.c is the same policy as a shared
library; keep the two alike.

Finding the lane (flat road, pinhole camera, no calibration needed):
  1. The asphalt colour is the median of the bottom-centre patch of the
     frame (the road just ahead); it must be a dark, unsaturated grey.
  2. A pixel is asphalt when no channel differs from that colour by more
     than COLOUR_TOL and it is grey (max - min channel <= GREY_MAX).
     Lane markings (white, yellow), kerbs, grass and vehicles are not.
  3. From the bottom row up, the asphalt run through the centre column (or
     the asphalt pixel nearest to it) gives a left and a right edge; the
     climb stops at the first row without asphalt near the centre. A run
     that reaches the frame's border gives no edge on that side.
  4. Each side's edges are fitted with a line x = a + b*y. Of the lines
     through two edge points that slope the lane's way (b <= -MIN_SLOPE on
     the left, >= MIN_SLOPE on the right) and pass within 1 + W/256 px of
     at least 1/MIN_SHARE of the points, the one with the best score wins:
     its inliers minus NEARER_COST per point nearer the centre than it (a
     dashed line's gaps show the next lane's far edge, further out; the
     road's edge must not win over the dashes). Least squares over its
     inliers refines it.
  5. On flat ground a lane line at lateral offset X (camera heights) is
     x - cx = X * (y - y_v) + heading term, so b is that line's offset in
     camera heights and the two lines meet at the vanishing row y_v. The
     steering input is the lane centre's lateral offset at a look-ahead
     row a third of the way from y_v to the bottom (that mixes in the
     heading, as pure pursuit does), in camera heights; steer = -gain *
     offset. With one line only, the lane's half width remembered from the
     last frame that showed both (default 1.25 camera heights, a 3.5 m
     lane seen from 1.4 m) and the top of the asphalt as y_v stand in.
"""

import argparse
import math
import signal
import sys

import numpy as np

import wmsim_policy

COLOUR_TOL = 28      # max per-channel distance from the reference asphalt colour
GREY_MAX = 40        # max - min channel of a grey pixel
BRIGHT_MAX = 200     # the reference asphalt is darker than this
MIN_SLOPE = 0.15     # |dx/dy| of a lane line: its lateral offset, camera heights
HALF_WIDTH = 1.25    # default lane half width, camera heights
MAX_POINTS = 64      # edge points per side used in the line search
MIN_SHARE = 8        # a lane line explains at least 1/MIN_SHARE of its side's edge points
NEARER_COST = 3      # what an edge point nearer the centre than a line costs it
SPEED_GAIN = 0.5     # (m/s^2) / (m/s)
HOLD_BAND = 0.2      # m/s: "holding" within this of the target


def clip(v, lo, hi):
    """v within [lo, hi], and never -0.0."""
    return min(max(v, lo), hi) + 0.0


def road_mask(img):
    """(H, W) bool: asphalt-coloured pixels, or None when the road just
    ahead is not asphalt-like (something in the way, no road)."""
    H, W, _ = img.shape
    x0, x1 = W * 3 // 8, max(W * 3 // 8 + 1, W * 5 // 8)
    patch = img[H - max(1, H // 8):, x0:x1].reshape(-1, 3)
    ref = np.median(patch, axis=0).round().astype(np.int16)
    if int(ref.max()) - int(ref.min()) > GREY_MAX or int(ref.max()) > BRIGHT_MAX:
        return None
    p = img.astype(np.int16)
    close = np.abs(p - ref).max(axis=2) <= COLOUR_TOL
    grey = (p.max(axis=2) - p.min(axis=2)) <= GREY_MAX
    return close & grey


def road_edges(mask):
    """Edges of the asphalt run through the centre, row by row from the
    bottom: (y_top, [(y, x_left)], [(y, x_right)]) with x at the pixel
    boundary (run start - 0.5, run end + 0.5)."""
    H, W = mask.shape
    cx = W // 2
    search = max(2, W // 16)
    left, right = [], []
    y_top = H
    for y in range(H - 1, -1, -1):
        row = mask[y]
        lo, hi = max(0, cx - search), min(W, cx + search + 1)
        cand = lo + np.flatnonzero(row[lo:hi])
        if cand.size == 0:
            break
        s = int(cand[np.argmin(np.abs(cand - cx))])
        gaps = np.flatnonzero(~row[:s])
        start = int(gaps[-1]) + 1 if gaps.size else 0
        gaps = np.flatnonzero(~row[s:])
        end = s + int(gaps[0]) - 1 if gaps.size else W - 1
        y_top = y
        if start > 0:
            left.append((y, start - 0.5))
        if end < W - 1:
            right.append((y, end + 0.5))
    return y_top, left, right


def fit_line(points, side, W):
    """The lane line (a, b), x = a + b*y, through points on side (-1 left,
    +1 right), or None; see the module's notes, step 4."""
    if len(points) < 3:
        return None
    pts = np.asarray(points, dtype=np.float64)
    if len(pts) > MAX_POINTS:
        pts = pts[np.linspace(0, len(pts) - 1, MAX_POINTS).round().astype(int)]
    ys, xs = pts[:, 0], pts[:, 1]
    i, j = np.triu_indices(len(pts), 1)
    b = (xs[j] - xs[i]) / (ys[j] - ys[i])  # rows are distinct
    a = xs[i] - b * ys[i]
    ok = side * b >= MIN_SLOPE
    a, b = a[ok], b[ok]
    if a.size == 0:
        return None
    tol = 1.0 + W / 256.0
    resid = xs[None, :] - (a[:, None] + b[:, None] * ys[None, :])
    inliers = np.abs(resid) <= tol
    toward = (-side * resid) > tol  # edge points nearer the centre than the line
    counts = inliers.sum(axis=1)
    score = np.where(counts >= max(3, math.ceil(len(pts) / MIN_SHARE)),
                     counts - NEARER_COST * toward.sum(axis=1), 0)
    if score.max() <= 0:
        return None
    k = int(np.argmax(score))
    sel = inliers[k]
    bb, aa = np.polyfit(ys[sel], xs[sel], 1)
    if side * bb < MIN_SLOPE:
        return float(a[k]), float(b[k])
    return float(aa), float(bb)


def find_lane(img, half_width=HALF_WIDTH):
    """The ego lane in an (H, W, 3) frame: a dict with offset (the lane
    centre's lateral offset at the look-ahead row, camera heights, positive
    right), px (the same in pixels), half_width (camera heights, measured
    or the one given) and sides ("both", "left", "right"), or None."""
    H, W, _ = img.shape
    mask = road_mask(img)
    if mask is None:
        return None
    y_top, left_pts, right_pts = road_edges(mask)
    if y_top > H - 3:
        return None
    margin = y_top + 2  # the rows at the vanishing point are a pixel or two wide
    left = fit_line([p for p in left_pts if p[0] > margin], -1, W)
    right = fit_line([p for p in right_pts if p[0] > margin], +1, W)
    cx = (W - 1) / 2.0
    if left and right:
        (al, bl), (ar, br) = left, right
        y_v = (al - ar) / (br - bl)
        if not (-2.0 * H < y_v < H - 3):
            return None
        half_width = (br - bl) / 2.0
        a_c, b_c, sides = (al + ar) / 2.0, (bl + br) / 2.0, "both"
    elif left or right:
        a, b = left or right
        s = -1.0 if left else 1.0
        y_v = y_top - 1.0
        # The centre line: the same vanishing point, slope moved by half a lane.
        b_c = b - s * half_width
        a_c = a + b * y_v - b_c * y_v
        sides = "left" if left else "right"
    else:
        return None
    y_la = y_v + (H - 1 - y_v) / 3.0
    px = a_c + b_c * y_la - cx
    return {"offset": px / (y_la - y_v), "px": px, "half_width": half_width, "sides": sides}


class ExamplePolicy(wmsim_policy.Policy):
    def __init__(self, target_speed=8.0, steer_gain=0.05):
        self.target = target_speed
        self.gain = steer_gain
        self.half_width = HALF_WIDTH

    def reset(self, episode_id):
        self.half_width = HALF_WIDTH

    def act(self, obs):
        # Speed: proportional toward the target, within the vehicle's limits.
        err = self.target - obs.speed_mps
        accel = clip(SPEED_GAIN * err, 0.0, max(obs.accel_max, 0.0))
        brake = clip(-SPEED_GAIN * err, 0.0, max(obs.brake_max, 0.0))
        if abs(err) <= HOLD_BAND:
            speed_text = "holding %.1f m/s" % self.target
        elif err > 0:
            speed_text = "speeding up to %.1f m/s" % self.target
        else:
            speed_text = "slowing to %.1f m/s" % self.target

        # Steering: toward the lane centre seen in the front frame.
        frame = wmsim_policy.front_frame(obs)
        lane = find_lane(wmsim_policy.frame_array(frame), self.half_width) if frame else None
        if lane is None:
            steer = 0.0
            lane_text = "no lane in view, wheel straight"
        else:
            if lane["sides"] == "both":
                self.half_width = lane["half_width"]
            smax = max(obs.steer_max, 0.0)
            steer = clip(-self.gain * lane["offset"], -smax, smax)
            px = lane["px"]
            where = "ahead" if abs(px) < 0.5 else "%.0f px %s" % (abs(px), "right" if px > 0 else "left")
            lane_text = "lane centre %s" % where
            if lane["sides"] != "both":
                lane_text += " (%s line only)" % lane["sides"]
        return wmsim_policy.Action(accel=accel, brake=brake, steer=steer,
                                   reasoning="%s; %s" % (speed_text, lane_text))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m wmsim_policy.example",
                                 description="wmsim's example camera + speed policy. Speaks the policy "
                                 "protocol on stdin/stdout, or on a Unix socket with --unix.")
    ap.add_argument("--target-speed", type=float, default=8.0, metavar="MPS",
                    help="speed to hold, m/s (default 8)")
    ap.add_argument("--steer-gain", type=float, default=0.05, metavar="G",
                    help="rad of steer per camera height of lane-centre offset (default 0.05)")
    ap.add_argument("--unix", metavar="PATH", help="serve a Unix stream socket at PATH")
    args = ap.parse_args(argv)  # argparse prints to stderr and exits 2 on bad input
    if not (math.isfinite(args.target_speed) and 0.0 <= args.target_speed <= 60.0):
        ap.error("--target-speed: %g is not in [0, 60]" % args.target_speed)
    if not (math.isfinite(args.steer_gain) and 0.0 <= args.steer_gain <= 1.0):
        ap.error("--steer-gain: %g is not in [0, 1]" % args.steer_gain)
    policy = ExamplePolicy(args.target_speed, args.steer_gain)
    if args.unix:
        # A polite stop (kill, Ctrl-C) removes the socket file on the way out.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
        try:
            wmsim_policy.serve_unix(policy, args.unix)
        except KeyboardInterrupt:
            pass
        except OSError as e:
            wmsim_policy.log(e)
            return 1
    else:
        wmsim_policy.serve_stdio(policy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
