"""Per camera, its newest analysis frame in shared memory: pixels stay put, nobody queues.

One ring serves the cameras of one ingest shard. The supervisor creates it (it outlives every
role, so a killed worker or core strands nothing) and hands its :class:`RingPlan` to the shard's
worker, which writes, and to the detection core, which reads. Each camera has
:data:`SLOTS_PER_CAMERA` slots and a *latest* word: the sequence number of its newest frame.
Frame ``seq`` lives in slot ``seq % SLOTS_PER_CAMERA``, so the latest word alone publishes a
frame. The writer marks a slot's own counter negative while it fills it, writes pixels and
metadata, then sets the counter and finally the latest word; a reader that copies a slot checks
the counter before and after (a seqlock) and raises :class:`StaleSlotError` if the writer came
round meanwhile.

Pictures travel as I420 (planar YUV 4:2:0, what the decoder makes: the Y plane, then U, then
V, ``height * 3 / 2`` rows of ``width`` bytes), half the bytes of BGR; :meth:`FrameRing.read`
converts to BGR as it copies, so a frame nobody analyses is never converted.

Nothing waits on anything: the writer never learns whether a frame was read, and a frame that a
newer one replaces before the core looked is simply never copied. The core keeps, per camera,
the last sequence number it *took* in the ring too (:meth:`FrameRing.mark_taken`), so the frames
it skipped can be counted honestly, across a restart of the core as well. The core also writes,
per camera, when it last saw a moving track (:meth:`FrameRing.note_moving_track`): ingest keeps
such a camera fully decoded even when its motion gate sees nothing.

Layout, 64-byte aligned parts: a header of eight int64 (magic, cameras, slots per camera, max
height, max width, 0, 0, 0); camera ids (:data:`ID_BYTES` each); per camera four int64 (latest,
taken, moving track seen at in ms, 0); per slot four int64 (counter, height, width, moved
boxes), float64 (pts, captured at, :data:`MAX_MOVED_BOXES` x 4 box fractions), the look
(:data:`LOOK_BYTES` of ASCII) and the pixels (``max_height x max_width x 3 / 2`` bytes: one I420
picture of the frame's own size, packed).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing import shared_memory
from typing import cast

import cv2
import numpy as np
import numpy.typing as npt

from common.messages import MAX_MOVED_BOXES, FrameRef

Frame = npt.NDArray[np.uint8]
Box = tuple[float, float, float, float]

MAGIC = 0x6D61747468616E32  # "mattan2"
HEADER_WORDS = 8
ID_BYTES = 64
LOOK_BYTES = 16
SLOTS_PER_CAMERA = 2
"""Two are enough: the writer fills one while the newest waits in the other. A reader loses its
copy only if a camera writes twice during it (a copy takes well under a millisecond)."""
ALIGN = 64


def i420_to_bgr(picture: Frame) -> Frame:
    """BGR of an I420 picture (``height * 3 / 2`` rows of ``width``), as a new array."""
    return cast(Frame, cv2.cvtColor(picture, cv2.COLOR_YUV2BGR_I420))


def bgr_to_i420(picture: Frame) -> Frame:
    """I420 of a BGR picture of even sides."""
    return cast(Frame, cv2.cvtColor(picture, cv2.COLOR_BGR2YUV_I420))


class StaleSlotError(LookupError):
    """The slot was overwritten before the reader had copied it."""


@dataclass(frozen=True, slots=True)
class RingPlan:
    """What a process needs to open a ring (it crosses the process boundary)."""

    name: str
    cameras: tuple[str, ...]
    max_height: int
    max_width: int

    def size(self) -> int:
        return _Layout(len(self.cameras), self.max_height, self.max_width).size


class _Layout:
    """Byte offsets of the parts of a ring with ``cameras`` cameras."""

    def __init__(self, cameras: int, max_height: int, max_width: int) -> None:
        slots = cameras * SLOTS_PER_CAMERA
        self.ids = _aligned(8 * HEADER_WORDS)
        self.camera_words = _aligned(self.ids + ID_BYTES * cameras)
        self.slot_words = _aligned(self.camera_words + 8 * 4 * cameras)
        self.slot_floats = _aligned(self.slot_words + 8 * 4 * slots)
        self.float_count = 2 + 4 * MAX_MOVED_BOXES
        self.looks = _aligned(self.slot_floats + 8 * self.float_count * slots)
        self.pixels = _aligned(self.looks + LOOK_BYTES * slots)
        self.slot_bytes = max_height * max_width * 3 // 2
        self.size = self.pixels + slots * self.slot_bytes


def _aligned(offset: int) -> int:
    return -(-offset // ALIGN) * ALIGN


class FrameRing:
    """A shared ring: :meth:`create` (the owner), :meth:`attach` for the writer and readers."""

    def __init__(self, shm: shared_memory.SharedMemory, owner: bool) -> None:
        buffer = shm.buf
        assert buffer is not None
        header: npt.NDArray[np.int64] = np.ndarray((HEADER_WORDS,), np.int64, buffer, 0)
        if int(header[0]) != MAGIC:
            shm.close()
            raise ValueError(f"shared memory {shm.name} is not a frame ring")
        count, slots, self.max_height, self.max_width = (int(v) for v in header[1:5])
        if slots != SLOTS_PER_CAMERA:
            shm.close()
            raise ValueError(f"ring {shm.name}: {slots} slots per camera, not {SLOTS_PER_CAMERA}")
        layout = _Layout(count, self.max_height, self.max_width)
        self.name = shm.name
        self._shm = shm
        self._owner = owner
        ids: npt.NDArray[np.uint8] = np.ndarray((count, ID_BYTES), np.uint8, buffer, layout.ids)
        self.cameras = tuple(bytes(row).rstrip(b"\0").decode() for row in ids)
        self._index = {camera: index for index, camera in enumerate(self.cameras)}
        self._camera: npt.NDArray[np.int64] = np.ndarray(
            (count, 4), np.int64, buffer, layout.camera_words
        )
        total = count * SLOTS_PER_CAMERA
        self._words: npt.NDArray[np.int64] = np.ndarray(
            (total, 4), np.int64, buffer, layout.slot_words
        )
        self._floats: npt.NDArray[np.float64] = np.ndarray(
            (total, layout.float_count), np.float64, buffer, layout.slot_floats
        )
        self._looks: npt.NDArray[np.uint8] = np.ndarray(
            (total, LOOK_BYTES), np.uint8, buffer, layout.looks
        )
        self._pixels: Frame = np.ndarray(
            (total, layout.slot_bytes), np.uint8, buffer, layout.pixels
        )

    @classmethod
    def create(cls, plan: RingPlan) -> FrameRing:
        """Allocate the ring of ``plan``, every camera without a frame yet (the owner's side)."""
        for camera in plan.cameras:
            if len(camera.encode()) > ID_BYTES:
                raise ValueError(f"camera id {camera!r} is longer than {ID_BYTES} bytes")
        layout = _Layout(len(plan.cameras), plan.max_height, plan.max_width)
        shm = shared_memory.SharedMemory(name=plan.name, create=True, size=layout.size)
        buffer = shm.buf
        assert buffer is not None
        buffer[: layout.pixels] = bytes(layout.pixels)
        header: npt.NDArray[np.int64] = np.ndarray((HEADER_WORDS,), np.int64, buffer, 0)
        count = len(plan.cameras)
        ids: npt.NDArray[np.uint8] = np.ndarray((count, ID_BYTES), np.uint8, buffer, layout.ids)
        for row, camera in zip(ids, plan.cameras, strict=True):
            encoded = camera.encode()
            row[: len(encoded)] = np.frombuffer(encoded, np.uint8)
        header[1:5] = (count, SLOTS_PER_CAMERA, plan.max_height, plan.max_width)
        header[0] = MAGIC
        return cls(shm, owner=True)

    @classmethod
    def attach(cls, name: str) -> FrameRing:
        """Open an existing ring by name; FileNotFoundError if it is gone."""
        # Every matthan process shares the supervisor's resource tracker, so this attach
        # registers nothing new and the owner's unlink stays the only free.
        return cls(shared_memory.SharedMemory(name=name), owner=False)

    def index(self, camera_id: str) -> int:
        """The camera's position in the ring; KeyError if the ring does not serve it."""
        return self._index[camera_id]

    # -- the writer's side (one thread per camera) --------------------------------------------

    def write(
        self,
        camera: int,
        frame: Frame,
        pts: float,
        captured_at: float,
        *,
        look: str = "motion",
        moved: Sequence[Box] = (),
    ) -> int:
        """Publish the I420 picture ``frame`` as camera ``camera``'s newest; returns its
        sequence number."""
        rows, width = frame.shape[0], frame.shape[-1]
        height = rows * 2 // 3
        if frame.ndim != 2 or rows != height * 3 // 2 or height % 2 or width % 2:
            raise ValueError(f"not an I420 picture of even sides: shape {frame.shape}")
        if height > self.max_height or width > self.max_width:
            raise ValueError(
                f"frame {width}x{height} exceeds the ring's {self.max_width}x{self.max_height}"
            )
        seq = int(self._camera[camera, 0]) + 1
        slot = camera * SLOTS_PER_CAMERA + seq % SLOTS_PER_CAMERA
        words = self._words[slot]
        words[0] = -seq
        self._pixels[slot, : frame.size] = frame.ravel()
        boxes = list(moved)[:MAX_MOVED_BOXES]
        words[1:4] = (height, width, len(boxes))
        floats = self._floats[slot]
        floats[0:2] = (pts, captured_at)
        if boxes:
            floats[2 : 2 + 4 * len(boxes)] = np.asarray(boxes, np.float64).ravel()
        encoded = look.encode("ascii")[:LOOK_BYTES]
        self._looks[slot] = 0
        self._looks[slot, : len(encoded)] = np.frombuffer(encoded, np.uint8)
        words[0] = seq
        self._camera[camera, 0] = seq
        return seq

    def moving_track_seen(self, camera: int) -> float:
        """Wall time the core last saw a moving track on ``camera``; 0 if never."""
        return int(self._camera[camera, 2]) / 1000.0

    # -- the reader's side (the detection core) ------------------------------------------------

    def latest(self) -> npt.NDArray[np.int64]:
        """Every camera's newest sequence number (0: no frame yet), as a copy."""
        return self._camera[:, 0].copy()

    def taken(self) -> npt.NDArray[np.int64]:
        """Every camera's last sequence number taken by a reader (0: none), as a copy."""
        return self._camera[:, 1].copy()

    def mark_taken(self, camera: int, seq: int) -> None:
        self._camera[camera, 1] = seq

    def note_moving_track(self, camera: int, at: float | None = None) -> None:
        """Say that ``camera`` had a moving track at wall time ``at`` (now by default)."""
        self._camera[camera, 2] = round(1000 * (time.time() if at is None else at))

    def ref(self, camera: int, seq: int) -> FrameRef:
        """The handle of frame ``seq`` of ``camera`` (its metadata, no pixels)."""
        slot = camera * SLOTS_PER_CAMERA + seq % SLOTS_PER_CAMERA
        self._check(slot, seq)
        height, width, count = (int(v) for v in self._words[slot, 1:4])
        floats = self._floats[slot]
        pts, captured_at = float(floats[0]), float(floats[1])
        flat = floats[2 : 2 + 4 * count].tolist()
        moved = tuple(
            (flat[i], flat[i + 1], flat[i + 2], flat[i + 3]) for i in range(0, len(flat), 4)
        )
        look = bytes(self._looks[slot]).rstrip(b"\0").decode("ascii")
        self._check(slot, seq)
        return FrameRef(
            self.cameras[camera],
            self.name,
            slot,
            seq,
            height,
            width,
            pts,
            captured_at,
            look=look,
            moved=moved,
        )

    def read(self, ref: FrameRef) -> Frame:
        """The picture of ``ref`` in BGR (a private array), or :class:`StaleSlotError`."""
        self._check(ref.slot, ref.seq)
        rows = ref.height * 3 // 2
        picture = self._pixels[ref.slot, : rows * ref.width].reshape(rows, ref.width)
        frame = i420_to_bgr(picture)
        self._check(ref.slot, ref.seq)
        return frame

    def _check(self, slot: int, seq: int) -> None:
        if int(self._words[slot, 0]) != seq:
            raise StaleSlotError(f"{self.name}[{slot}] no longer holds frame {seq}")

    def close(self) -> None:
        """Detach; the owner also frees the memory. Closing twice does nothing."""
        if not hasattr(self, "_pixels"):
            return
        del self._camera, self._words, self._floats, self._looks, self._pixels
        self._shm.close()
        if self._owner:
            self._shm.unlink()
