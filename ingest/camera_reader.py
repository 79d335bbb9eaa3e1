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
from av.video.reformatter import VideoReformatter

from common.frame_ring import Frame
from common.messages import CameraState, CameraStatus
from ingest.backoff import Backoff
from ingest.handoff import FrameHandoff
from ingest.metrics import CAMERA_ONLINE, FRAMES_DECODED, PACKETS, RECONNECTS
from ingest.recorder import SegmentRecorder
from ingest.sampling import FrameSampler, scaled_size
from ingest.source import CameraSource, MissingCredentialsError

log = logging.getLogger(__name__)

StatusSink = Callable[[CameraStatus], None]


class StreamEndedError(ConnectionError):
    """The camera closed the stream."""


_FAILURES: tuple[
    tuple[type[BaseException] | tuple[type[BaseException], ...], CameraState, str], ...
] = (
    (
        (av.error.HTTPUnauthorizedError, PermissionError),
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
    changes go to ``report``.
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
    ) -> None:
        self.source = source
        self._url = url
        self._handoff = handoff
        self._recorder = recorder
        self._on_frame = on_frame
        self._report_sink = report
        self._stop = stop
        self._backoff = Backoff()
        self._state: CameraState | None = None
        role = "detect" if handoff is not None else "record"
        self.thread = threading.Thread(target=self.run, name=f"{role}-{source.camera_id}")

    def start(self) -> None:
        self.thread.start()

    def run(self) -> None:
        camera = self.source.camera_id
        while not self._stop.is_set():
            self._report(CameraState.CONNECTING, "")
            try:
                self._stream()
            except Exception as exc:
                state, detail = classify(exc)
                log.info("camera %s: %s (%s)", camera, detail, self._url)
                self._report(state, detail)
            finally:
                if self._recorder is not None:
                    self._recorder.close()
            if self._handoff is not None:
                CAMERA_ONLINE.labels(camera).set(0)
            if self._stop.wait(self._backoff.next()):
                break
            RECONNECTS.labels(camera).inc()

    def _report(self, state: CameraState, detail: str) -> None:
        if state == self._state:
            return
        self._state = state
        self._report_sink(CameraStatus(self.source.camera_id, state, time.time(), detail))

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
        sampler = FrameSampler(self.source.analysis_fps)
        reformatter = VideoReformatter()
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
                if frame.pts is None or not sampler.due(float(frame.pts * time_base)):
                    continue
                width, height = scaled_size(frame.width, frame.height, self.source.analysis_size)
                bgr = reformatter.reformat(frame, width, height, "bgr24")
                image = cast(Frame, bgr.to_ndarray())
                if self._on_frame is not None:
                    self._on_frame(image)
                handoff.offer(camera, image, float(frame.pts * time_base), time.time())
            if self._recorder is not None:
                self._recorder.write(packet, stream)
