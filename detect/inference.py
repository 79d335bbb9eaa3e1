"""``InferenceQueue``: keep a few batches in inference while the caller does the rest.

A detection loop that calls ``backend.infer`` leaves the cores idle while it letterboxes the
next batch and runs NMS on the last one, and a single request split over every core stalls
whenever another process (decoding) takes one of them. With the queue, the loop starts a batch
and goes on working; the backend runs up to ``in_flight`` batches at once::

    with InferenceQueue[Pending](backend) as queue:
        for pending in batches:
            for done in queue.submit(letterbox(pending.frames).tensor, pending):
                handle(done.token, done.output)        # an earlier batch, in order
        for done in queue.drain():
            handle(done.token, done.output)

Discipline:

* FIFO: results come back in the order the batches were submitted, each with the ``token``
  given with it (whatever the caller needs to post-process it: frames, letterbox, cameras).
* ``submit`` never lets more than ``in_flight`` batches run: when they all are, it first
  waits for the oldest. Every collecting call (``submit``, ``poll``, ``drain``) also returns
  the batches already finished behind the ones it waited for.
* A batch the model failed on raises :class:`BatchFailedError` (an ``InferenceError`` with
  the batch's ``token``) from the call that collects it, in its turn: results collected before
  it in the same call come back first, and the error is raised by the next call. ``submit``
  starts its batch even when collecting the oldest one failed.

Use a queue from one thread. The caller owns the backend; ``close`` waits for the batches still
running (the backend reads their tensors in place) but does not close the backend.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, TypeVar

from detect.backends.base import Backend, InferenceError, InferenceJob, Tensor
from detect.errors import DetectorError

log = logging.getLogger(__name__)
TokenT = TypeVar("TokenT")


@dataclass(frozen=True, slots=True)
class Completed(Generic[TokenT]):
    """A batch through the model: its ``token``, the raw ``output`` (B, 4 + classes, anchors),
    owned by the receiver, and the ``seconds`` from its start to the end of inference."""

    token: TokenT
    output: Tensor
    seconds: float


class BatchFailedError(InferenceError):
    """The model failed on the batch submitted with ``token``; ``__cause__`` says how."""

    def __init__(self, token: object, error: InferenceError) -> None:
        super().__init__(str(error))
        self.token = token


class InferenceQueue(Generic[TokenT]):
    """Batches in inference on ``backend``, at most ``in_flight`` at a time (default: as many
    as the backend allows), collected in submission order. See the module's docstring."""

    def __init__(self, backend: Backend, in_flight: int | None = None) -> None:
        limit = backend.in_flight if in_flight is None else in_flight
        if not 1 <= limit <= backend.in_flight:
            raise ValueError(
                f"in_flight must be in 1..{backend.in_flight} (the backend's), got {limit}"
            )
        self._backend = backend
        self._in_flight = limit
        self._jobs: deque[tuple[InferenceJob, TokenT]] = deque()
        self._closed = False

    @property
    def in_flight(self) -> int:
        """The most batches in inference at a time."""
        return self._in_flight

    @property
    def busy(self) -> int:
        """Batches submitted and not yet collected (running or finished)."""
        return len(self._jobs)

    def submit(self, tensor: Tensor, token: TokenT) -> list[Completed[TokenT]]:
        """Start ``tensor`` (B, 3, H, W); return the batches collected to make room for it
        (the oldest, waited for if ``in_flight`` are running) and those already finished.

        Do not modify ``tensor`` until its batch comes back: the backend reads it in place.
        """
        if self._closed:
            raise DetectorError("InferenceQueue.submit called after close()")
        must_wait = 1 if self.busy >= self._in_flight else 0
        try:
            collected = self._collect(must_wait)
        except BatchFailedError:
            self._start(tensor, token)  # the failed batch's slot is free again
            raise
        self._start(tensor, token)
        return collected

    def poll(self) -> list[Completed[TokenT]]:
        """The finished batches at the head of the queue, without waiting."""
        return self._collect(0)

    def wait_oldest(self) -> list[Completed[TokenT]]:
        """Wait for the oldest batch in inference (if any); return it and those already
        finished behind it."""
        return self._collect(min(1, self.busy))

    def drain(self) -> list[Completed[TokenT]]:
        """Wait for every batch in inference; return them all, in order (up to a failed
        batch, which the next call raises: call until ``busy`` is 0)."""
        return self._collect(self.busy)

    def close(self) -> None:
        """Wait for the batches still in inference, dropping their results; refuse
        ``submit`` from now on. Calling it again does nothing."""
        while self._jobs:
            job, _ = self._jobs.popleft()
            try:
                job.wait()
            except InferenceError as error:
                log.warning("a batch was dropped at close: %s", error)
        self._closed = True

    def __enter__(self) -> InferenceQueue[TokenT]:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _start(self, tensor: Tensor, token: TokenT) -> None:
        self._jobs.append((self._backend.start(tensor), token))

    def _collect(self, must_wait: int) -> list[Completed[TokenT]]:
        """Collect batches from the head: the first ``must_wait`` waiting for them, then
        those already finished. Stops before a failed batch unless it comes first, in which
        case it is dropped and raised."""
        collected: list[Completed[TokenT]] = []
        while self._jobs:
            job, token = self._jobs[0]
            if len(collected) >= must_wait and not job.done():
                break
            try:
                output = job.wait()
            except InferenceError as error:
                if collected:
                    break  # raised by the next call, after these results are handled
                self._jobs.popleft()
                raise BatchFailedError(token, error) from error
            self._jobs.popleft()
            collected.append(Completed(token, output, job.seconds))
        return collected
