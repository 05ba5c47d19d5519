"""wmsim_policy — write a driving policy for wmsim in Python.

    import wmsim_policy

    class MyPolicy(wmsim_policy.Policy):
        def reset(self, episode_id):
            self.steps = 0                      # a new episode: drop all state
        def act(self, obs):
            img = wmsim_policy.frame_array(wmsim_policy.front_frame(obs))  # (H, W, 3) uint8
            return wmsim_policy.Action(accel=1.0, brake=0.0, steer=0.0,
                                       reasoning="creeping forward")

    if __name__ == "__main__":
        wmsim_policy.serve_stdio(MyPolicy())   # or serve_unix(MyPolicy(), PATH)

and run it with `wmsim run SCENARIO --policy "exec:/usr/bin/python3 my_policy.py"`.

The protocol (sim/policy_protocol.proto): every message is a 4-byte
little-endian unsigned length followed by that many bytes of the message's
protobuf binary encoding. wmsim sends one Observation per 0.1 s step and
waits for exactly one Action answering it (Action.step = Observation.step,
accel, brake and steer always set, within the Observation's limits). An
Observation with step 0 starts a new episode. stdout is the protocol
channel: serve_stdio moves it out of the policy's reach (print() and
native libraries writing to fd 1 land on stderr instead).

Needs only Debian's python3-protobuf and python3-numpy. The message classes
come from policy_protocol_pb2.py, which protoc generates next to this file
(`make clients` builds the package into build/python/wmsim_policy/).
"""

import math
import os
import socket
import stat
import struct
import sys
import traceback

import numpy as np

try:
    from . import policy_protocol_pb2 as pb
except ImportError as e:  # pragma: no cover - only without the generated module
    raise ImportError(
        "wmsim_policy: policy_protocol_pb2 is missing; build the package with "
        "`make clients` and put build/python on PYTHONPATH (protoc --proto_path=sim "
        "--python_out=DIR sim/policy_protocol.proto generates it)") from e

__all__ = [
    "PROTOCOL_VERSION", "Observation", "Action", "CameraFrame", "Waypoint", "Policy",
    "ProtocolError", "read_message", "write_message", "frame_array", "front_frame",
    "answer", "serve_stream", "serve_stdio", "serve_unix", "log",
]

PROTOCOL_VERSION = 1
# The largest message read; wmsim's own default limit is 1 MiB for Actions,
# Observations carry frames (a 1920x960 frame is 5.5 MB).
MAX_MESSAGE_BYTES = 64 << 20

Observation = pb.Observation
Action = pb.Action
CameraFrame = pb.CameraFrame
Waypoint = pb.Waypoint

_HEADER = struct.Struct("<I")


class ProtocolError(Exception):
    """The stream broke the framing or the message rules."""


def log(*args):
    """Print for humans: always stderr, never the protocol channel."""
    print("wmsim_policy:", *args, file=sys.stderr, flush=True)


def _read_exact(stream, n):
    """n bytes from stream; fewer only at end of stream."""
    chunks = []
    while n > 0:
        chunk = stream.read(n)
        if not chunk:
            break
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_message(stream, max_bytes=MAX_MESSAGE_BYTES):
    """The next framed message's bytes, or None at a clean end of stream
    (no byte of a new message). A stream ending inside a message, or a
    length over max_bytes, raises ProtocolError."""
    header = _read_exact(stream, _HEADER.size)
    if not header:
        return None
    if len(header) < _HEADER.size:
        raise ProtocolError("stream ended inside a length prefix (%d of 4 bytes)" % len(header))
    (n,) = _HEADER.unpack(header)
    if n > max_bytes:
        raise ProtocolError("message of %d bytes is over the limit of %d" % (n, max_bytes))
    body = _read_exact(stream, n)
    if len(body) < n:
        raise ProtocolError("stream ended inside a message (%d of %d bytes)" % (len(body), n))
    return body


def write_message(stream, data):
    """Write one framed message (bytes, or a protobuf message) and flush."""
    if not isinstance(data, (bytes, bytearray)):
        data = data.SerializeToString()
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def front_frame(obs, camera="front"):
    """The Observation's frame from camera (else its first frame, else None)."""
    for frame in obs.frames:
        if frame.camera == camera:
            return frame
    return obs.frames[0] if len(obs.frames) else None


def frame_array(frame):
    """A CameraFrame as a numpy uint8 array (H, W, 3), rows from the top.
    A view on the message's bytes: read-only, copy it to modify."""
    w, h = frame.width, frame.height
    if w <= 0 or h <= 0:
        raise ValueError("frame '%s': bad size %dx%d" % (frame.camera, w, h))
    if len(frame.rgb) != w * h * 3:
        raise ValueError("frame '%s': rgb has %d bytes, %dx%dx3 needs %d"
                         % (frame.camera, len(frame.rgb), w, h, w * h * 3))
    return np.frombuffer(frame.rgb, dtype=np.uint8).reshape(h, w, 3)


class Policy:
    """Subclass and override act (and reset if the policy keeps state).

    reset(episode_id) is called before the first step of every episode
    (step 0 or a new episode_id); a policy keeps no state across it.
    act(obs) gets the Observation and returns an Action with accel, brake
    and steer set (m/s^2, m/s^2, rad positive left) within obs.accel_max,
    obs.brake_max and obs.steer_max; the serve loop fills in step."""

    def reset(self, episode_id):
        pass

    def act(self, obs):
        raise NotImplementedError("Policy.act: override it in a subclass")


def answer(policy, obs):
    """The policy's Action for obs, checked: step echoed, accel, brake and
    steer present and finite. A policy mistake raises ProtocolError here
    rather than as a 'policy error' on wmsim's side."""
    act = policy.act(obs)
    if not isinstance(act, pb.Action):
        raise ProtocolError("act returned %s, not an Action" % type(act).__name__)
    act.step = obs.step
    for name in ("accel", "brake", "steer"):
        if not act.HasField(name):
            raise ProtocolError("step %d: the Action has no %s (accel, brake and steer are required)"
                                % (obs.step, name))
        if not math.isfinite(getattr(act, name)):
            raise ProtocolError("step %d: %s is %r" % (obs.step, name, getattr(act, name)))
    return act


def serve_stream(policy, rfile, wfile):
    """Answer every Observation read from rfile with an Action on wfile
    until a clean end of stream; returns the number of steps answered."""
    episode = None
    steps = 0
    while True:
        data = read_message(rfile)
        if data is None:
            return steps
        obs = pb.Observation()
        try:
            obs.ParseFromString(data)
        except Exception as e:  # the library's DecodeError
            raise ProtocolError("message %d does not decode as an Observation: %s" % (steps, e)) from e
        if obs.HasField("protocol_version") and obs.protocol_version != PROTOCOL_VERSION:
            raise ProtocolError("protocol_version %d; this client speaks %d"
                                % (obs.protocol_version, PROTOCOL_VERSION))
        if episode is None or obs.step == 0 or obs.episode_id != episode:
            episode = obs.episode_id
            policy.reset(obs.episode_id)
        write_message(wfile, answer(policy, obs))
        steps += 1


def serve_stdio(policy):
    """Serve wmsim over stdin/stdout (`--policy exec:CMD`) until stdin ends,
    then return (exit status 0 when the caller then returns). From here on
    file descriptor 1 is stderr: only Actions reach the real stdout."""
    rfile = sys.stdin.buffer
    sys.stdout.flush()
    wfile = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        serve_stream(policy, rfile, wfile)
    except BrokenPipeError:
        pass  # wmsim went away mid-answer: nothing to tell it
    except ProtocolError as e:
        log(e)
        sys.exit(1)
    finally:
        try:
            wfile.close()
        except BrokenPipeError:
            pass


def _serve_connection(policy, conn):
    """One unix-socket connection, served until it closes. Whatever goes
    wrong there ends only that connection (wmsim reports it on the episode);
    the server goes on accepting."""
    rfile = conn.makefile("rb")
    wfile = conn.makefile("wb")
    try:
        steps = serve_stream(policy, rfile, wfile)
        log("connection closed after %d steps" % steps)
    except (ProtocolError, OSError) as e:
        log("connection dropped: %s" % e)
    except Exception:  # a bug in the policy: show it, keep serving
        log("connection dropped: the policy raised")
        traceback.print_exc(file=sys.stderr)
    finally:
        for f in (wfile, rfile, conn):
            try:
                f.close()
            except OSError:
                pass


def serve_unix(policy, path):
    """Listen on a Unix stream socket at path (`--policy unix:PATH`) and
    serve one connection at a time, each like stdio, until interrupted. A
    stale socket file at path is removed; a live one (something accepts on
    it) or any other kind of file is an error."""
    if os.path.lexists(path):
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise FileExistsError("%s: exists and is not a socket; not replacing it" % path)
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # stale: nothing listens there
        else:
            raise FileExistsError("%s: another server is listening there" % path)
        finally:
            probe.close()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(path)
    except OSError as e:
        server.close()
        raise OSError(e.errno, "cannot listen: " + (e.strerror or str(e)), path) from e
    try:  # from here on the socket file is ours to remove
        server.listen(1)
        log("listening on %s" % path)
        while True:
            conn, _ = server.accept()
            _serve_connection(policy, conn)
    finally:
        server.close()
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
