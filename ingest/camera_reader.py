"""One camera's reader: connect over RTSP, decode, sample, hand off; reconnect on failure.

The reader runs in its own thread of an ingest worker. PyAV releases the GIL while it
demuxes and decodes, so one worker process carries many cameras. Whatever one camera
does (refuses the login, stalls, sends garbage), only its own thread notices.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import cast

import av
import av.error

from common.frame_ring import Frame
from common.messages import CameraState, CameraStatus
from ingest.backoff import Backoff, login_backoff
from ingest.decode import AnalysisScaler, DecodePolicy, luma
from ingest.handoff import FrameHandoff
from ingest.metrics import (
    BURSTS,
    CAMERA_ONLINE,
    FRAMES_DECODED,
    GATED,
    PACKETS,
    RECONNECTS,
)
from ingest.motion import small_grey
from ingest.picker import AnalysisPicker
from ingest.recorder import SegmentRecorder
from ingest.source import CameraSource, MissingCredentialsError
from ingest.tamper import Tamper, TamperDetector
from ingest.thumbnail import ThumbnailWriter

log = logging.getLogger(__name__)

StatusSink = Callable[[CameraStatus], None]
TamperSink = Callable[[set[Tamper], set[Tamper], Frame], None]
TAMPER_CHECK_EVERY_S = 1.0


class StreamEndedError(ConnectionError):
    """The camera closed the stream."""


LOGIN_REFUSED = (av.error.HTTPUnauthorizedError, PermissionError)
_FAILURES: tuple[
    tuple[type[BaseException] | tuple[type[BaseException], ...], CameraState, str], ...
] = (
    (
        LOGIN_REFUSED,
        CameraState.FAILED,
        "login refused by the camera (check the username/password)",
    ),
    (
        (av.error.HTTPNotFoundError, FileNotFoundError),
        CameraState.FAILED,
        "stream path not found on the camera",
    ),
    (av.error.InvalidDataError, CameraState.FAILED, "the camera sends data that cannot be decoded"),
    (TimeoutError, CameraState.OFFLINE, "no answer from the camera (timeout)"),
    (StreamEndedError, CameraState.OFFLINE, "the camera closed the stream"),
)


def classify(exc: BaseException) -> tuple[CameraState, str]:
    """Map a connection error to the state and words an operator sees."""
    if isinstance(exc, MissingCredentialsError):
        return CameraState.FAILED, f"login not configured: {exc.args[0]}"
    for kinds, state, detail in _FAILURES:
        if isinstance(exc, kinds):
            return state, detail
    return CameraState.OFFLINE, f"connection lost ({type(exc).__name__})"


class CameraReader:
    """Reads one stream of a camera until ``stop`` is set.

    A *detect* reader (``handoff`` given) decodes and hands sampled frames to analysis; a
    *record-only* reader (no ``handoff``) never decodes. Either may feed a recorder. State
    changes go to ``report``. A detect reader with a ``thumbnail`` writer offers it every
    frame it decodes (the writer keeps one per interval; nothing is decoded for it).
    ``on_decode_mode(keyframes_only)`` hears how much of the stream is decoded
    (:class:`~ingest.decode.DecodePolicy`).
    """

    def __init__(
        self,
        source: CameraSource,
        url: str,
        report: StatusSink,
        stop: threading.Event,
        *,
        handoff: FrameHandoff | None = None,
        recorder: SegmentRecorder | None = None,
        on_frame: Callable[[Frame], None] | None = None,
        on_tamper: TamperSink | None = None,
        tamper_debounce_s: float = 10.0,
        thumbnail: ThumbnailWriter | None = None,
        on_decode_mode: Callable[[bool], None] | None = None,
    ) -> None:
        self.source = source
        self._url = url
        self._handoff = handoff
        self._recorder = recorder
        self._on_frame = on_frame
        self._on_tamper = on_tamper
        self._tamper_debounce_s = tamper_debounce_s
        self._thumbnail = thumbnail
        self._on_decode_mode = on_decode_mode
        self._report_sink = report
        self._stop = stop
        self._backoff = Backoff()
        self._login_backoff = login_backoff()
        self._state: CameraState | None = None
        role = "detect" if handoff is not None else "record"
        self.thread = threading.Thread(target=self.run, name=f"{role}-{source.camera_id}")

    def start(self) -> None:
        self.thread.start()

    def run(self) -> None:
        """Connect, stream, and reconnect until stopped.

        Only the first attempt is reported as ``connecting``: retries of a camera that is
        away leave it in its offline or failed state (one camera event per change, not two
        rows per retry), and its return is the step from there to ``online``.
        """
        camera = self.source.camera_id
        self._report(CameraState.CONNECTING, "")
        while not self._stop.is_set():
            delay = self._backoff
            try:
                self._stream()
            except Exception as exc:
                state, detail = classify(exc)
                log.info("camera %s: %s (%s)", camera, detail, self._url)
                self._report(state, detail)
                delay = self._login_backoff if isinstance(exc, LOGIN_REFUSED) else delay
            finally:
                if self._recorder is not None:
                    self._recorder.close()
            if self._handoff is not None:
                CAMERA_ONLINE.labels(camera).set(0)
            if self._stop.wait(delay.next()):
                break
            RECONNECTS.labels(camera).inc()

    def _report(self, state: CameraState, detail: str) -> None:
        """Pass a change of state to the sink.

        A sink that fails (the store stayed locked past its busy timeout) is logged and the
        reader carries on: letting the error end this thread would stop the camera for good.
        """
        if state == self._state:
            return
        self._state = state
        try:
            self._report_sink(CameraStatus(self.source.camera_id, state, time.time(), detail))
        except Exception:
            log.exception("camera %s: state %s not recorded", self.source.camera_id, state.value)

    def _stream(self) -> None:
        source = self.source
        options = {
            "rtsp_transport": "tcp",
            "analyzeduration": "500000",
            "probesize": "32768",
            "fflags": "nobuffer",
        }
        timeouts = (source.open_timeout_s, source.read_timeout_s)
        url = source.connect_url(self._url)
        with av.open(url, options=options, timeout=timeouts) as container:
            stream = container.streams.video[0]
            if self._handoff is None:
                self._record_only(container, stream)
            else:
                self._pump(container, stream, self._handoff)
        if not self._stop.is_set():
            raise StreamEndedError

    def _went_online(self, detail: str) -> None:
        self._backoff.reset()
        self._login_backoff.reset()
        if self._handoff is not None:
            CAMERA_ONLINE.labels(self.source.camera_id).set(1)
        self._report(CameraState.ONLINE, detail)

    def _record_only(self, container: av.container.InputContainer, stream: av.VideoStream) -> None:
        packets = PACKETS.labels(self.source.camera_id)
        recorder = self._recorder
        for count, packet in enumerate(container.demux(stream)):
            if self._stop.is_set():
                return
            packets.inc()
            if count == 0:
                self._went_online("recording")
            if recorder is not None:
                recorder.write(packet, stream)

    def _pump(
        self,
        container: av.container.InputContainer,
        stream: av.VideoStream,
        handoff: FrameHandoff,
    ) -> None:
        camera = self.source.camera_id
        packets, decoded = PACKETS.labels(camera), FRAMES_DECODED.labels(camera)
        picker = AnalysisPicker(self.source.analysis_fps, self.source.motion)
        tamper = TamperDetector(self._tamper_debounce_s)
        next_tamper_check = 0.0
        decoding = DecodePolicy(stream, self.source, self._on_decode_mode)
        scale = AnalysisScaler(self.source.analysis_size)
        time_base = stream.time_base
        assert time_base is not None
        online = False
        for packet in container.demux(stream):
            if self._stop.is_set():
                return
            packets.inc()
            for frame in packet.decode():
                decoded.inc()
                if not online:
                    online = True
                    self._went_online(f"{frame.width}x{frame.height}")
                if self._thumbnail is not None:
                    self._thumbnail.offer(frame)
                t = float(frame.pts * time_base) if frame.pts is not None else None
                if t is None or not (picker.due(t) or decoding.keyframes_only):
                    continue
                grey = small_grey(luma(frame))
                verdict, burst = picker.judge(grey, t)
                if burst:
                    BURSTS.labels(camera).inc()
                if self._on_tamper is not None and t >= next_tamper_check:
                    next_tamper_check = t + TAMPER_CHECK_EVERY_S
                    confirmed, cleared = tamper.check(grey, t)
                    if confirmed or cleared:
                        picture = cast(Frame, frame.to_ndarray(format="bgr24"))
                        self._on_tamper(confirmed, cleared, picture)
                GATED.labels(camera, verdict.reason.value).inc()
                # Idle: no motion, and no moving track the core told of, for that long.
                tracked_ago = time.time() - handoff.moving_track_seen(camera)
                idle_s = min(picker.idle_for(t), tracked_ago)
                decoding.update(idle_s, bursting=picker.bursting(t))
                if not verdict.send:
                    continue
                image = scale.i420(frame)
                if self._on_frame is not None:
                    self._on_frame(image)
                handoff.offer(camera, image, t, time.time(), verdict)
            if self._recorder is not None:
                self._recorder.write(packet, stream)
