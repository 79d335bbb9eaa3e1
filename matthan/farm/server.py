"""An RTSP camera farm: many looping "cameras" served from H.264 clips, without re-encoding.

Run it with Debian's Python, which has GStreamer's introspection bindings (the project venv does
not)::

    /usr/bin/python3 matthan/farm/server.py --port 0 --spec mounts.json

`mounts.json` is a list of ``{"name", "clip", "offset", "mode"}`` objects. Each becomes
``rtsp://HOST:PORT/NAME``. Once listening, the server prints ``{"ready": true, "port": P}`` on
stdout, then reads one JSON command per line on stdin and answers each with one JSON line
(``{"ok": true, ...}`` or ``{"ok": false, "error": ...}``):

- ``{"cmd": "stop", "name": N}``: remove the mount and close the connections of its clients,
  so the camera looks dead (readers see EOF or an error, new ones get 404).
- ``{"cmd": "start", "name": N}``: serve a stopped mount again.
- ``{"cmd": "stall", "name": N}`` / ``{"cmd": "resume", "name": N}``: keep the connections
  open but send no more video, then carry on.
- ``{"cmd": "add", "name", "clip", "offset", "mode"}``: a new mount.
- ``{"cmd": "quit"}``: exit (so do SIGTERM, SIGINT and the end of stdin).

How a camera works. At start-up every distinct clip is demuxed once into memory as Annex-B
access units (one per frame, SPS/PPS repeated before every IDR). A mount is a shared
RTSPMediaFactory, so all clients of one mount watch the same "camera". Its pipeline is a live
``appsrc`` (with the demuxer's caps) feeding ``rtph264pay``. On every ``need-data`` the feeder
pushes the next access unit, looping the clip forever, stamped
``PTS = DTS = base + n * frame_duration``. The RTSP server's sinks synchronise on the pipeline
clock, so they hold each frame until its time comes and appsrc asks for the next one only then:
that is what paces the stream in real time. Timestamps never go back across loops; after a
stall they jump forward to the present, as a real camera's would. A camera starts on the
keyframe at or before its offset, so that a reader's first picture decodes at once.

Mode ``garbage`` keeps the stream's structure (start codes, NAL headers, SPS/PPS), so a reader
connects and receives packets, but every slice gets an invalid header and random bytes, so no
picture ever decodes.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from dataclasses import dataclass, field

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstApp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstApp, GstRtspServer  # noqa: E402

MODES = ("normal", "garbage")
ROLE = "camera-viewer"
LATE_REBASE_NS = Gst.SECOND
"""A frame this late (after a stall, or a long hiccup) restarts the timeline at the present."""
UNDECODABLE_SLICE = bytes([0b11000000, 0b00011111, 0b01001000])
"""A slice header that no decoder accepts: Exp-Golomb first_mb_in_slice 0 (`1`), slice_type P
(`1`), then pic_parameter_set_id 1000 (`000000000 1111101001`), past the H.264 limit of 255."""
DEMUX_POLL_NS = Gst.SECOND // 10
DEMUX_TIMEOUT_NS = 5 * Gst.SECOND
"""Demuxing takes milliseconds per clip; a pipeline this slow has failed without saying so."""

LAUNCH = (
    "( appsrc name=src is-live=true format=time ! rtph264pay name=pay0 pt=96 config-interval=1 )"
)
"""No h264parse here: the access units were parsed once at start-up, and a parser per camera
would cost about a fifth more CPU (and would drop the broken slices of garbage mode)."""


# --- clips ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clip:
    """One H.264 clip held in memory: Annex-B access units and the caps that describe them."""

    path: str
    caps: Gst.Caps
    fps_num: int
    fps_den: int
    units: tuple[bytes, ...]
    keyframes: tuple[bool, ...]

    def frame_time(self, n: int) -> int:
        """Nanoseconds from frame 0 to frame `n` at the clip's frame rate (exact, no drift)."""
        return Gst.util_uint64_scale(n, self.fps_den * Gst.SECOND, self.fps_num)

    def keyframe_at_or_before(self, index: int) -> int:
        """The IDR frame to start on so that a new reader's first picture decodes at once."""
        index %= len(self.units)
        while index > 0 and not self.keyframes[index]:
            index -= 1
        return index


def demux_clip(path: str) -> Clip:
    """Read every access unit of an mp4's H.264 track (no decoding), as fast as possible."""
    pipeline = Gst.parse_launch(
        "filesrc name=file ! qtdemux ! h264parse config-interval=-1"
        " ! video/x-h264,stream-format=byte-stream,alignment=au ! appsink name=sink sync=false"
    )
    pipeline.get_by_name("file").set_property("location", path)
    pipeline.set_state(Gst.State.PLAYING)
    try:
        samples = pull_all(pipeline, pipeline.get_by_name("sink"))
    except ValueError as error:
        raise ValueError(f"cannot demux {path}: {error}") from None
    finally:
        pipeline.set_state(Gst.State.NULL)
    caps = samples[0].get_caps()
    found, num, den = caps.get_structure(0).get_fraction("framerate")
    if not found or num <= 0:
        raise ValueError(f"{path} has no frame rate in its caps: {caps.to_string()}")
    buffers = [sample.get_buffer() for sample in samples]
    units = tuple(buffer.extract_dup(0, buffer.get_size()) for buffer in buffers)
    keyframes = tuple(not buffer.has_flags(Gst.BufferFlags.DELTA_UNIT) for buffer in buffers)
    return Clip(path, caps, num, den, units, keyframes)


def pull_all(pipeline: Gst.Pipeline, sink: GstApp.AppSink) -> list[Gst.Sample]:
    """Every sample up to end-of-stream; a pipeline error or a stall raises ValueError."""
    samples, waited = [], 0
    bus = pipeline.get_bus()
    while not sink.is_eos():
        sample = sink.try_pull_sample(DEMUX_POLL_NS)
        if sample is not None:
            samples.append(sample)
            continue
        error = bus.pop_filtered(Gst.MessageType.ERROR)
        waited += DEMUX_POLL_NS
        if error is not None or waited >= DEMUX_TIMEOUT_NS:
            raise ValueError(error.parse_error()[0].message if error is not None else "timed out")
    if not samples:
        raise ValueError("no H.264 video")
    return samples


def corrupt(unit: bytes) -> bytes:
    """Keep start codes, NAL headers and SPS/PPS; make every slice unusable noise.

    Each slice body becomes `UNDECODABLE_SLICE` followed by random bytes. Random bytes alone
    are not enough: now and then FFmpeg parses a random slice header and conceals the rest into
    a picture that it does not even flag as corrupt. An invalid PPS id is refused at once.
    """
    parts = unit.split(b"\x00\x00\x01")
    for i, nal in enumerate(parts[1:], start=1):
        if nal and nal[0] & 0x1F in (1, 5):  # non-IDR and IDR slices
            noise = os.urandom(max(0, len(nal) - 1 - len(UNDECODABLE_SLICE)))
            parts[i] = nal[:1] + UNDECODABLE_SLICE + noise
    return b"\x00\x00\x01".join(parts)


# --- feeding one media ------------------------------------------------------------------------


class Feeder:
    """Pushes one mount's clip into one media's appsrc, one access unit per need-data."""

    def __init__(self, mount: Mount, appsrc: GstApp.AppSrc) -> None:
        self.mount = mount
        self.appsrc = appsrc
        self.index = mount.clip.keyframe_at_or_before(mount.offset)
        self.pushed = 0
        self.base: int | None = None
        self.waiting = False
        self.lock = threading.Lock()
        appsrc.set_caps(mount.clip.caps)
        appsrc.set_property("max-buffers", 2)
        appsrc.connect("need-data", self.on_need_data)

    def on_need_data(self, _appsrc, _length) -> None:
        """Streaming thread: the sinks consumed what we gave; give the next frame unless stalled."""
        with self.lock:
            if self.mount.stalled:
                self.waiting = True
            else:
                self.push()

    def resume(self) -> None:
        """Main thread: after a stall, answer the need-data we ignored."""
        with self.lock:
            if self.waiting:
                self.waiting = False
                self.push()

    def push(self) -> None:
        """Push the next access unit of the loop."""
        clip = self.mount.clip
        unit = clip.units[self.index]
        buffer = Gst.Buffer.new_wrapped(corrupt(unit) if self.mount.mode == "garbage" else unit)
        buffer.pts = buffer.dts = self.timestamp()
        buffer.duration = clip.frame_time(self.pushed + 1) - clip.frame_time(self.pushed)
        if not clip.keyframes[self.index]:
            buffer.set_flags(Gst.BufferFlags.DELTA_UNIT)
        self.appsrc.push_buffer(buffer)
        self.pushed += 1
        self.index = (self.index + 1) % len(clip.units)

    def timestamp(self) -> int:
        """The next frame's time: one frame after the last, unless that lies well in the past
        (the camera was stalled), in which case the timeline restarts at the present."""
        frame_time = self.mount.clip.frame_time(self.pushed)
        now = self.running_time()
        if self.base is None or self.base + frame_time < now - LATE_REBASE_NS:
            self.base = now - frame_time
        return self.base + frame_time

    def running_time(self) -> int:
        """The pipeline's running time now (0 before it has a clock)."""
        clock = self.appsrc.get_clock()
        if clock is None:
            return 0
        return max(0, clock.get_time() - self.appsrc.get_base_time())


# --- mounts -----------------------------------------------------------------------------------


@dataclass
class Mount:
    """One camera: its clip, where in the clip it starts, its mode, and its live medias."""

    name: str
    clip: Clip
    offset: int = 0
    mode: str = "normal"
    stalled: bool = False
    factory: GstRtspServer.RTSPMediaFactory | None = None
    feeders: dict[GstRtspServer.RTSPMedia, Feeder] = field(default_factory=dict)

    def make_factory(self, with_auth: bool) -> GstRtspServer.RTSPMediaFactory:
        """A shared factory (one pipeline for all clients) whose medias this mount feeds."""
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(LAUNCH)
        factory.set_shared(True)
        if with_auth:
            factory.add_role_from_structure(
                Gst.Structure.from_string(
                    f"{ROLE}, {GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS}=(boolean)true,"
                    f" {GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT}=(boolean)true"
                )[0]
            )
        factory.connect("media-configure", self.on_media_configure)
        return factory

    def on_media_configure(self, _factory, media: GstRtspServer.RTSPMedia) -> None:
        """A first client asked for this camera: attach a feeder to the new pipeline."""
        appsrc = media.get_element().get_by_name_recurse_up("src")
        self.feeders[media] = Feeder(self, appsrc)
        media.connect("unprepared", self.on_media_unprepared)

    def on_media_unprepared(self, media: GstRtspServer.RTSPMedia) -> None:
        """The last client left (or was thrown out): forget the media."""
        self.feeders.pop(media, None)


# --- the server and its commands --------------------------------------------------------------


class Farm:
    """The RTSP server, its mounts by name, and the commands that change them."""

    def __init__(self, host: str, port: int, username: str | None, password: str | None) -> None:
        self.server = GstRtspServer.RTSPServer()
        self.server.set_address(host)
        self.server.set_service(str(port))
        self.with_auth = username is not None
        if username is not None:
            self.server.set_auth(make_auth(username, password or ""))
        self.mounts: dict[str, Mount] = {}
        self.clips: dict[str, Clip] = {}

    def listen(self) -> int:
        """Start accepting connections in the default main context; returns the bound port."""
        if self.server.attach(None) == 0:
            where = f"{self.server.get_address()}:{self.server.get_service()}"
            raise OSError(f"cannot listen on {where} (in use?)")
        return self.server.get_bound_port()

    def add(self, name: str, clip: str, offset: int = 0, mode: str = "normal") -> Mount:
        """Create a mount and serve it."""
        if not name or "/" in name or name in self.mounts:
            raise ValueError(f"bad or duplicate mount name {name!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if offset < 0:
            raise ValueError(f"offset must be >= 0, not {offset}")
        if clip not in self.clips:
            self.clips[clip] = demux_clip(clip)
        mount = Mount(name, self.clips[clip], offset, mode)
        self.mounts[name] = mount
        self.start(name)
        return mount

    def start(self, name: str) -> None:
        """Serve a mount (again); a restarted camera begins a fresh session at its offset."""
        mount = self.mounts[name]
        if mount.factory is None:
            mount.factory = mount.make_factory(self.with_auth)
            self.server.get_mount_points().add_factory(f"/{name}", mount.factory)

    def stop(self, name: str) -> int:
        """Unmount a camera and hang up on its clients; returns how many were disconnected."""
        mount = self.mounts[name]
        if mount.factory is None:
            return 0
        self.server.get_mount_points().remove_factory(f"/{name}")
        mount.factory = None
        medias = set(mount.feeders)
        clients = [c for c in self.server.client_filter(None) if watches(c, medias)]
        for client in clients:
            client.close()
        return len(clients)

    def stall(self, name: str, stalled: bool) -> None:
        """Freeze (or unfreeze) a camera's video while its connections stay up."""
        mount = self.mounts[name]
        mount.stalled = stalled
        if not stalled:
            for feeder in list(mount.feeders.values()):
                feeder.resume()

    def close(self) -> None:
        """Hang up on every client, so that readers see EOF rather than a silent socket."""
        for client in self.server.client_filter(None):
            client.close()


def make_auth(username: str, password: str) -> GstRtspServer.RTSPAuth:
    """RTSP basic auth: these credentials get the role every mount admits; nobody else does."""
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, ROLE)
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(username, password), token)
    return auth


def watches(client: GstRtspServer.RTSPClient, medias: set[GstRtspServer.RTSPMedia]) -> bool:
    """Does this client have a session on one of these medias?"""
    for session in client.session_filter(None):
        if any(sm.get_media() in medias for sm in session.filter(None)):
            return True
    return False


def handle(farm: Farm, command: dict) -> dict:
    """Run one control command and describe the outcome."""
    cmd, name = command.get("cmd"), command.get("name")
    if cmd == "add":
        farm.add(
            name, command["clip"], int(command.get("offset", 0)), command.get("mode", "normal")
        )
        return {"ok": True, "cmd": cmd, "name": name}
    if cmd in ("stop", "start", "stall", "resume") and name not in farm.mounts:
        raise KeyError(f"no mount named {name!r}")
    if cmd == "stop":
        return {"ok": True, "cmd": cmd, "name": name, "disconnected": farm.stop(name)}
    if cmd == "start":
        farm.start(name)
    elif cmd in ("stall", "resume"):
        farm.stall(name, cmd == "stall")
    else:
        raise ValueError(f"unknown command {cmd!r}")
    return {"ok": True, "cmd": cmd, "name": name}


# --- the control loop -------------------------------------------------------------------------


def reply(message: dict) -> None:
    """Stdout carries only protocol lines, one JSON object each."""
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def on_line(farm: Farm, loop: GLib.MainLoop, line: str) -> bool:
    """Main thread: decode, run and answer one command line."""
    try:
        command = json.loads(line)
        if command.get("cmd") == "quit":
            reply({"ok": True, "cmd": "quit"})
            loop.quit()
        else:
            reply(handle(farm, command))
    except Exception as error:  # every failure becomes an answer, never a crash
        reply({"ok": False, "error": f"{type(error).__name__}: {error}"})
    return GLib.SOURCE_REMOVE


def stop_loop(loop: GLib.MainLoop) -> bool:
    loop.quit()
    return GLib.SOURCE_REMOVE


def read_stdin(farm: Farm, loop: GLib.MainLoop) -> None:
    """Reader thread: hand each line to the main loop; quit when stdin ends."""
    for line in sys.stdin:
        if line.strip():
            GLib.idle_add(on_line, farm, loop, line)
    GLib.idle_add(stop_loop, loop)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8554, help="0 picks a free port")
    parser.add_argument("--spec", required=True, help="JSON list of {name, clip, offset, mode}")
    parser.add_argument("--username")
    parser.add_argument("--password")
    return parser.parse_args(argv)


def load_spec(farm: Farm, path: str) -> None:
    """Add the mounts listed in a spec file."""
    with open(path, encoding="utf-8") as spec:
        for mount in json.load(spec):
            offset, mode = mount.get("offset", 0), mount.get("mode", "normal")
            farm.add(mount["name"], mount["clip"], offset, mode)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    Gst.init(None)
    farm = Farm(args.host, args.port, args.username, args.password)
    try:
        load_spec(farm, args.spec)
        port = farm.listen()
    except (OSError, ValueError, KeyError) as error:
        print(f"farm: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    loop = GLib.MainLoop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, loop.quit)
    reply({"ready": True, "port": port})
    threading.Thread(target=read_stdin, args=(farm, loop), daemon=True).start()
    loop.run()
    farm.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
