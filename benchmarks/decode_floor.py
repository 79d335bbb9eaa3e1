"""The physical floor of ingest: a bare PyAV decode loop over the same RTSP streams.

Production ingest does more than decode (it samples, gates motion, checks tampering, hands
frames off and records), but decoding is the part it cannot avoid. The floor opens each camera
the way :class:`ingest.camera_reader.CameraReader` does (same open options, the codec's
default threading, the same ``skip_frame`` policy) and decodes until stopped, doing nothing
with the frames. Its processes are laid out like the ingest workers (the same shards, one
thread per camera), so the two differ only by what production adds to decoding::

    floor = measure_floor(urls, analysis_fps=5.0, processes=2, warmup_s=10, window_s=30)
    floor.core_ms_per_camera_second  # CPU ms spent per second of one camera's video

Camera-seconds are read from the decoded frames' presentation times (the farm's timestamps
never go back), so a floor that falls behind the live streams is charged for the video it
actually decoded, not for the wall-clock time.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.sharedctypes import SynchronizedArray
from multiprocessing.synchronize import Event as StopEvent
from typing import TypeAlias

from benchmarks.machine import process_cpu_seconds, process_rss_bytes
from common.roles import shard

OPEN_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 10.0
JOIN_TIMEOUT_S = 15.0

Clock: TypeAlias = "SynchronizedArray[float]"
"""The stream time (seconds) of the last frame each camera decoded; NaN before the first."""


@dataclass(frozen=True, slots=True)
class FloorResult:
    """CPU and video covered by the floor's processes over one window."""

    cameras: int
    window_s: float
    cpu_core_seconds: float
    camera_seconds: float
    """Seconds of video decoded in the window, summed over the cameras."""
    pss_bytes: int

    @property
    def core_ms_per_camera_second(self) -> float | None:
        """None when no camera decoded anything in the window."""
        if self.camera_seconds <= 0:
            return None
        return 1000 * self.cpu_core_seconds / self.camera_seconds

    @property
    def realtime_share(self) -> float:
        """Video decoded against the wall-clock time of all cameras (1.0: kept up)."""
        return self.camera_seconds / max(1e-9, self.cameras * self.window_s)

    def report(self) -> dict[str, float | None]:
        """The figures a benchmark row carries, prefixed ``floor_``."""
        per_camera_second = self.core_ms_per_camera_second
        return {
            "floor_core_ms_per_camera_second": (
                None if per_camera_second is None else round(per_camera_second, 2)
            ),
            "floor_cpu_cores": round(self.cpu_core_seconds / self.window_s, 3),
            "floor_camera_seconds": round(self.camera_seconds, 1),
            "floor_realtime_share": round(self.realtime_share, 3),
            "floor_pss_mb_per_camera": round(self.pss_bytes / 1e6 / self.cameras, 2),
            "floor_window_s": round(self.window_s, 1),
        }


def decode_camera(url: str, analysis_fps: float, clock: Clock, slot: int, stop: StopEvent) -> None:
    """Decode ``url`` as production does until ``stop``; write each frame's time to
    ``clock[slot]``. A failure ends the thread with its traceback (that camera then covers
    nothing, which the floor's realtime share shows)."""
    import av

    from ingest.decode import unreferenced_skip

    options = {
        "rtsp_transport": "tcp",
        "analyzeduration": "500000",
        "probesize": "32768",
        "fflags": "nobuffer",
    }
    with av.open(url, options=options, timeout=(OPEN_TIMEOUT_S, READ_TIMEOUT_S)) as container:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = unreferenced_skip(stream, analysis_fps)
        time_base = stream.time_base
        assert time_base is not None
        for packet in container.demux(stream):
            if stop.is_set():
                return
            for frame in packet.decode():
                if frame.pts is not None:
                    clock[slot] = float(frame.pts * time_base)


def floor_worker(
    cameras: Sequence[tuple[int, str]], analysis_fps: float, clock: Clock, stop: StopEvent
) -> None:
    """One floor process: a decoding thread per ``(slot, url)``, until ``stop``.

    The floor keeps no metrics: importing the ingest package must not write them to the
    folder of the benchmark's workers (or to one it has already removed).
    """
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    import ingest.decode  # noqa: F401 - once, before the threads that use it

    threads = [
        threading.Thread(
            target=decode_camera, args=(url, analysis_fps, clock, slot, stop), daemon=True
        )
        for slot, url in cameras
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def covered_seconds(before: Sequence[float], after: Sequence[float]) -> float:
    """Video seconds decoded between two readings of the clocks (a camera that had not
    decoded a frame by the first reading counts nothing)."""
    return sum(b - a for a, b in zip(before, after, strict=True) if not math.isnan(a))


def measure_floor(
    urls: Sequence[str],
    *,
    analysis_fps: float,
    processes: int,
    warmup_s: float,
    window_s: float,
) -> FloorResult:
    """Decode ``urls`` in ``processes`` processes (sharded as the ingest workers are) for
    ``warmup_s`` and then measure ``window_s``."""
    context = mp.get_context("spawn")
    clock: Clock = context.Array("d", [math.nan] * len(urls))
    stop = context.Event()
    workers = [
        context.Process(target=floor_worker, args=(part, analysis_fps, clock, stop))
        for part in shard(list(enumerate(urls)), processes)
    ]
    for worker in workers:
        worker.start()
    try:
        time.sleep(warmup_s)
        pids = [worker.pid for worker in workers if worker.pid is not None]
        cpu0, clock0, t0 = process_cpu_seconds(pids), clock[:], time.monotonic()
        time.sleep(window_s)
        elapsed = time.monotonic() - t0
        cpu, clock1 = process_cpu_seconds(pids) - cpu0, clock[:]
        pss = process_rss_bytes(pids)
    finally:
        stop.set()
        for worker in workers:
            worker.join(JOIN_TIMEOUT_S)
            if worker.is_alive():
                worker.terminate()
                worker.join()
    return FloorResult(len(urls), elapsed, cpu, covered_seconds(clock0, clock1), pss)
