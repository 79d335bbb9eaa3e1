"""A ring of frame slots in shared memory: pixels stay put, only handles travel.

One ingest worker owns one ring and writes its cameras' analysis frames into the slots
in turn. The detection core attaches by name and copies a slot out when it is ready to
use it. Each slot carries a write counter (``seq``); the :class:`common.messages.FrameRef`
says which counter value it refers to, so a reader that comes too late (the slot was
overwritten by a newer frame) finds out and drops the frame instead of analysing the
wrong picture.

Layout of the shared block: a header of four int64 (slots, max height, max width, 0), then
``slots`` int64 counters, then ``slots`` frames of ``max_height x max_width x 3`` bytes (BGR).
The frame shape is defined here and only here; readers learn it from the header.
"""

from __future__ import annotations

import threading
from multiprocessing import shared_memory

import numpy as np
import numpy.typing as npt

Frame = npt.NDArray[np.uint8]


class StaleSlotError(LookupError):
    """The slot was overwritten before the reader copied it."""


HEADER_WORDS = 4


class FrameRing:
    """A shared frame ring: :meth:`create` for the writer, :meth:`attach` for readers."""

    def __init__(self, shm: shared_memory.SharedMemory, owner: bool) -> None:
        buffer = shm.buf
        assert buffer is not None
        header: npt.NDArray[np.int64] = np.ndarray((HEADER_WORDS,), np.int64, buffer, 0)
        self.slots, self.max_height, self.max_width = (int(v) for v in header[:3])
        self.name = shm.name
        self._shm = shm
        self._owner = owner
        offset = 8 * HEADER_WORDS
        self._seq: npt.NDArray[np.int64] = np.ndarray((self.slots,), np.int64, buffer, offset)
        self._frames: Frame = np.ndarray(
            (self.slots, self.max_height, self.max_width, 3),
            np.uint8,
            buffer,
            offset + 8 * self.slots,
        )
        self._next = 0
        self._lock = threading.Lock()

    @classmethod
    def create(cls, name: str, slots: int, max_height: int, max_width: int) -> FrameRing:
        """Allocate a new ring (the writer's side)."""
        size = 8 * (HEADER_WORDS + slots) + slots * max_height * max_width * 3
        shm = shared_memory.SharedMemory(name=name, create=True, size=size)
        buffer = shm.buf
        assert buffer is not None
        header: npt.NDArray[np.int64] = np.ndarray((HEADER_WORDS + slots,), np.int64, buffer, 0)
        header[:] = 0
        header[:3] = (slots, max_height, max_width)
        return cls(shm, owner=True)

    @classmethod
    def attach(cls, name: str) -> FrameRing:
        """Open an existing ring by name (a reader's side); FileNotFoundError if gone."""
        # Every matthan process shares the supervisor's resource tracker, so this attach
        # registers nothing new and the owner's unlink stays the only free.
        return cls(shared_memory.SharedMemory(name=name), owner=False)

    def write(self, frame: Frame) -> tuple[int, int]:
        """Copy ``frame`` into the next slot; returns ``(slot, seq)`` for the message."""
        height, width = frame.shape[:2]
        if height > self.max_height or width > self.max_width:
            raise ValueError(
                f"frame {width}x{height} exceeds the ring's {self.max_width}x{self.max_height}"
            )
        with self._lock:
            slot = self._next
            self._next = (slot + 1) % self.slots
            seq = abs(int(self._seq[slot])) + 1
            self._seq[slot] = -seq
            self._frames[slot, :height, :width] = frame
            self._seq[slot] = seq
        return slot, seq

    def read(self, slot: int, seq: int, height: int, width: int) -> Frame:
        """A private copy of the frame, or :class:`StaleSlotError` if it was overwritten."""
        if int(self._seq[slot]) != seq:
            raise StaleSlotError(f"{self.name}[{slot}] no longer holds frame {seq}")
        frame = self._frames[slot, :height, :width].copy()
        if int(self._seq[slot]) != seq:
            raise StaleSlotError(f"{self.name}[{slot}] was overwritten while copying")
        return frame

    def close(self) -> None:
        """Detach; the owner also frees the memory."""
        del self._seq, self._frames
        self._shm.close()
        if self._owner:
            self._shm.unlink()
