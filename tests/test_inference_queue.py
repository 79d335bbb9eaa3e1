"""Asynchronous inference: ``Backend.start`` and ``InferenceQueue``, on the real models.

Each backend runs real letterboxed PETS 2009 frames: the fp32 ``yolov8n.onnx`` on OpenVINO and
onnxruntime, and the int8 ``yolov8n-int8.xml`` (made by ``scripts/install``) on OpenVINO. The
reference output is today's path: a backend with one request (``in_flight=1``) and ``infer``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import cast

import av
import numpy as np
import numpy.typing as npt
import pytest

from common.paths import resolve_model
from detect.backends.base import Backend, InferenceError, InferenceJob
from detect.backends.factory import BackendKind, create_backend
from detect.backends.openvino_backend import compile_config
from detect.errors import DetectorError
from detect.inference import BatchFailedError, Completed, InferenceQueue
from detect.letterbox import letterbox
from detect.quantize import INT8_MODEL
from tests.paths import clips_dir, models_dir, require_clip, require_model

CLIP = clips_dir() / "pets09_s2l1_vtest.mp4"
FP32 = models_dir() / "yolov8n.onnx"
IMGSZ = 320
SIZES = (1, 4, 2, 3, 1, 4)
"""Batch sizes submitted one after another: mixed, as the detection core makes them."""
BAD_SHAPES = ((1, 3, 100, 100), (1, 4, 64, 64))
"""Inputs the model cannot take: OpenVINO fails the first while running, the second at start."""

Tensor = npt.NDArray[np.float32]
Event = int | tuple[str, object, str]


@dataclass(frozen=True)
class Runtime:
    """A backend with two requests in flight, and a one-request one that gives the reference."""

    async_backend: Backend
    reference: Backend


def model_for(name: str) -> Path:
    """The fp32 model from the shared folder, or the int8 IR the install made."""
    if name == "fp32":
        return require_model(FP32)
    try:
        return resolve_model(INT8_MODEL)
    except FileNotFoundError:
        pytest.fail(f"model missing: {INT8_MODEL} (run scripts/install, which quantizes it)")


@pytest.fixture(
    scope="module",
    params=[("openvino", "fp32"), ("openvino", "int8"), ("onnxruntime", "fp32")],
    ids=["openvino-fp32", "openvino-int8", "onnxruntime-fp32"],
)
def runtime(request: pytest.FixtureRequest) -> Iterator[Runtime]:
    kind: BackendKind = request.param[0]
    path = model_for(request.param[1])
    threads = 2 if kind == "openvino" else 1  # OpenVINO: one thread per stream
    made = Runtime(
        create_backend(kind, path, threads=threads, in_flight=2),
        create_backend(kind, path, threads=2),
    )
    yield made
    made.async_backend.close()
    made.reference.close()


@pytest.fixture(scope="module")
def tensors() -> list[Tensor]:
    """Letterboxed batches of real frames, of the sizes in ``SIZES`` (each its own array)."""
    require_clip(CLIP)
    frames: list[npt.NDArray[np.uint8]] = []
    with av.open(str(CLIP)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % 10 == 0:
                frames.append(cast(npt.NDArray[np.uint8], frame.to_ndarray(format="bgr24")))
            if len(frames) == max(SIZES) + 1:
                break
    return [letterbox(frames[n % 2 : n % 2 + n], IMGSZ).tensor for n in SIZES]


@pytest.fixture(scope="module")
def expected(runtime: Runtime, tensors: list[Tensor]) -> list[Tensor]:
    """Today's synchronous output for each tensor."""
    return [runtime.reference.infer(tensor) for tensor in tensors]


def assert_same_output(found: Tensor, want: Tensor) -> None:
    """Outputs of two compilations of one model: equal up to float rounding (bit-identical on
    an AVX-512 CPU; kernels may round differently elsewhere)."""
    assert found.shape == want.shape
    assert np.allclose(found, want, rtol=1e-3, atol=1e-2), np.abs(found - want).max()


def collect(call: Callable[[], list[Completed[int]]], events: list[Event]) -> None:
    """Note what one collecting call returned: tokens, or the failure it raised."""
    try:
        events.extend(done.token for done in call())
    except BatchFailedError as error:
        events.append(("failed", error.token, str(error)))


class CountingBackend:
    """Wraps a backend to count the jobs started and not yet waited for (a boundary fake)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.outstanding = 0
        self.most = 0
        self.name = backend.name
        self.class_names = backend.class_names
        self.in_flight = backend.in_flight

    def start(self, batch: Tensor) -> InferenceJob:
        job = CountedJob(self.backend.start(batch), self)
        self.outstanding += 1
        self.most = max(self.most, self.outstanding)
        return job

    def infer(self, batch: Tensor) -> Tensor:
        return self.start(batch).wait()

    def close(self) -> None:
        self.backend.close()


class CountedJob:
    def __init__(self, job: InferenceJob, owner: CountingBackend) -> None:
        self.job = job
        self.owner: CountingBackend | None = owner
        self.seconds = 0.0

    def done(self) -> bool:
        return self.job.done()

    def wait(self) -> Tensor:
        try:
            return self.job.wait()
        finally:
            self.seconds = self.job.seconds
            if self.owner is not None:
                self.owner.outstanding -= 1
                self.owner = None


def test_started_batches_give_what_infer_gives(
    runtime: Runtime, tensors: list[Tensor], expected: list[Tensor]
) -> None:
    backend = runtime.async_backend
    assert backend.in_flight == 2
    jobs = [backend.start(tensors[0]), backend.start(tensors[1])]
    for job, want in zip(reversed(jobs), reversed(expected[:2]), strict=True):
        found = job.wait()  # the later one first: order of waiting does not matter
        assert_same_output(found, want)
        assert job.done()
        assert job.wait() is found  # waiting again returns the same array
        assert job.seconds > 0
    for tensor, want in zip(tensors, expected, strict=True):
        assert_same_output(backend.infer(tensor), want)


def test_results_come_back_in_submission_order(
    runtime: Runtime, tensors: list[Tensor], expected: list[Tensor]
) -> None:
    queue = InferenceQueue[int](runtime.async_backend)
    completed: list[Completed[int]] = []
    for token, tensor in enumerate(tensors):
        completed += queue.submit(tensor, token)
        assert queue.busy <= 2
    completed += queue.drain()
    assert queue.busy == 0
    assert [done.token for done in completed] == list(range(len(tensors)))
    for done in completed:
        assert_same_output(done.output, expected[done.token])
        assert done.output.shape[0] == SIZES[done.token]
        assert done.seconds > 0
    queue.close()


def test_in_flight_is_never_exceeded(runtime: Runtime, tensors: list[Tensor]) -> None:
    for limit in (1, 2):
        counting = CountingBackend(runtime.async_backend)
        with InferenceQueue[int](counting, limit) as queue:
            tokens = [done.token for i, t in enumerate(tensors) for done in queue.submit(t, i)]
            tokens += [done.token for done in queue.drain()]
        assert tokens == list(range(len(tensors)))
        assert counting.most == limit
        assert counting.outstanding == 0


def test_a_backend_refuses_more_jobs_than_in_flight(
    runtime: Runtime, tensors: list[Tensor]
) -> None:
    backend = runtime.async_backend
    first, second = backend.start(tensors[0]), backend.start(tensors[1])
    with pytest.raises(DetectorError, match="2 in-flight slots are busy"):
        backend.start(tensors[2])
    first.wait()
    backend.start(tensors[2]).wait()  # the slot came back
    second.wait()
    with pytest.raises(ValueError, match=r"in_flight must be in 1\.\.2"):
        InferenceQueue[int](backend, 3)


def test_poll_returns_finished_batches_without_waiting(
    runtime: Runtime, tensors: list[Tensor]
) -> None:
    with InferenceQueue[str](runtime.async_backend) as queue:
        assert queue.poll() == []
        assert queue.submit(tensors[0], "a") == []
        assert queue.busy == 1
        found: list[Completed[str]] = []
        deadline = time.monotonic() + 30
        while not found and time.monotonic() < deadline:
            time.sleep(0.005)
            found = queue.poll()
        assert [done.token for done in found] == ["a"]
        assert queue.busy == 0


def test_a_failed_batch_surfaces_in_its_turn(runtime: Runtime, tensors: list[Tensor]) -> None:
    bad = [np.zeros(shape, np.float32) for shape in BAD_SHAPES]
    batches = [tensors[0], bad[0], tensors[1], bad[1], tensors[2]]
    events: list[Event] = []
    with InferenceQueue[int](runtime.async_backend) as queue:
        for token, batch in enumerate(batches):
            collect(partial(queue.submit, batch, token), events)
        while queue.busy:
            collect(queue.drain, events)
    # OpenVINO's CPU plugin, on the int8 model and a loaded machine, may fail a good batch run
    # right after a bad one with the bad one's error again (its shapes, 100x100, in the
    # message; a fresh infer request does not help: the state is the stream's). The core
    # never sends a bad shape; such a good batch must still fail in its own turn, saying so.
    stale = [
        e
        for e in events
        if not isinstance(e, int) and e[1] in (2, 4) and "{1,256,8,8},{1,128,7,7}" in e[2]
    ]
    assert not stale or runtime.async_backend.name == "openvino", stale
    tokens = [e if isinstance(e, int) else e[1] for e in events]
    assert tokens == [0, 1, 2, 3, 4], "each batch in its turn"
    expected: dict[int, Event] = {0: 0, 1: ("failed", 1), 2: 2, 3: ("failed", 3), 4: 4}
    for token, event in zip(tokens, events, strict=True):
        if event not in stale:
            assert (event if isinstance(event, int) else event[:2]) == expected[token], events
    messages = [e[2] for e in events if not isinstance(e, int) and e not in stale]
    for shape, message in zip(BAD_SHAPES, messages, strict=True):
        assert f"inference of a batch of shape {shape} failed" in message
    with pytest.raises(InferenceError, match=r"shape \(1, 3, 100, 100\)"):
        runtime.async_backend.infer(bad[0])
    assert runtime.async_backend.infer(tensors[0]).shape[0] == 1  # still usable


def test_close_waits_then_refuses(tensors: list[Tensor]) -> None:
    require_model(FP32)
    for kind in ("openvino", "onnxruntime"):
        backend = create_backend(kind, FP32, threads=1, in_flight=2)
        queue = InferenceQueue[int](backend)
        queue.submit(tensors[0], 0)
        job = backend.start(tensors[1])
        queue.close()
        assert queue.busy == 0
        with pytest.raises(DetectorError, match="after close"):
            queue.submit(tensors[0], 1)
        backend.close()
        assert job.wait().shape[0] == SIZES[1]  # a job started before close() still completes
        with pytest.raises(DetectorError, match="after close"):
            backend.start(tensors[0])


def test_openvino_makes_one_stream_per_request_it_has_threads_for() -> None:
    assert compile_config(2, 1) == {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": 2}
    assert compile_config(2, 2)["NUM_STREAMS"] == 2
    assert compile_config(1, 2)["NUM_STREAMS"] == 1  # two requests queue on one stream
    assert compile_config(0, 3)["NUM_STREAMS"] == 3  # 0 threads: every core
    assert compile_config(2, 2)["PERFORMANCE_HINT"] == "THROUGHPUT"


@pytest.mark.parametrize("kind", ["openvino", "onnxruntime"])
def test_in_flight_must_be_positive(kind: BackendKind) -> None:
    require_model(FP32)
    with pytest.raises(ValueError, match="in_flight must be >= 1, got 0"):
        create_backend(kind, FP32, threads=1, in_flight=0)
