"""The channel between processes, on real spawned processes: a full channel drops the newest
message and counts it, a consumer in another process receives the rest in order, sending never
waits for a consumer that is slow, stalled or killed, a consumer killed while waiting leaves the
channel to its successor, and the dashboard's pump hands messages to the event loop in order."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client import REGISTRY

from common.channel import Channel, ChannelClosedError, DropPolicy
from dashboard.services.pump import start_pump

CONTEXT = mp.get_context("spawn")


@dataclass(frozen=True, slots=True)
class Note:
    """A test message; ``payload`` makes it as large as a test needs."""

    seq: int
    payload: bytes = b""


@dataclass(frozen=True, slots=True)
class Report:
    """What a child process says back to the test."""

    seqs: tuple[int, ...]


def dropped(name: str) -> float:
    return REGISTRY.get_sample_value("matthan_channel_dropped_total", {"channel": name}) or 0.0


def make(name: str, maxsize: int) -> Channel[Note]:
    return Channel.create(CONTEXT, name, maxsize, policy=DropPolicy.NEWEST)


@pytest.fixture
def reports() -> Iterator[Channel[Report]]:
    made: Channel[Report] = Channel.create(CONTEXT, "test_reports", 4, policy=DropPolicy.NEWEST)
    yield made
    made.close()


@pytest.fixture
def spawn() -> Iterator[Callable[..., Any]]:
    """Start a child process; every one still alive at the end is killed."""
    children: list[Any] = []

    def start(target: Callable[..., None], *args: object) -> Any:
        child = CONTEXT.Process(target=target, args=args, daemon=True)
        child.start()
        children.append(child)
        return child

    yield start
    for child in children:
        if child.is_alive():
            child.kill()
        child.join(10)


# --- children (module level, so that a spawned process can import them) --------------------


def drain(inbox: Channel[Note], reports: Channel[Report]) -> None:
    """Receive until nothing comes for a second; report the sequence numbers received."""
    seqs: list[int] = []
    while (note := inbox.receive(timeout=1.0)) is not None:
        seqs.append(note.seq)
    reports.send(Report(tuple(seqs)))
    reports.close()


def take_then_stall(inbox: Channel[Note], reports: Channel[Report], count: int) -> None:
    """Receive ``count`` notes, report them, then wait in a receive that never gets one
    more (the test sends nothing it could get, then kills this process)."""
    seqs: list[int] = []
    while len(seqs) < count:
        note = inbox.receive(timeout=30)
        assert note is not None
        seqs.append(note.seq)
    reports.send(Report(tuple(seqs)))
    reports.close()
    while True:
        time.sleep(3600)


def wait_forever(inbox: Channel[Note], reports: Channel[Report]) -> None:
    """Say so, then wait for a note in a receive until killed."""
    reports.send(Report(()))
    reports.close()
    while True:
        inbox.receive(timeout=3600)


def send_notes(outbox: Channel[Note], count: int) -> None:
    for seq in range(count):
        assert outbox.send(Note(seq))
    outbox.close()


# --- tests -----------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_a_full_channel_drops_the_newest_counted_and_a_consumer_receives_the_rest_in_order(
    reports: Channel[Report], spawn: Callable[..., Any]
) -> None:
    inbox = make("test_full", 3)
    before = dropped("test_full")
    assert [inbox.send(Note(seq)) for seq in range(5)] == [True, True, True, False, False]
    assert dropped("test_full") == before + 2
    spawn(drain, inbox, reports)
    assert reports.receive(timeout=45) == Report((0, 1, 2))
    assert inbox.send(Note(5))  # room again once received
    inbox.close()


@pytest.mark.timeout(60)
def test_send_never_waits_for_a_slow_or_killed_consumer(
    reports: Channel[Report], spawn: Callable[..., Any]
) -> None:
    inbox = make("test_stalled", 64)
    before = dropped("test_stalled")
    consumer = spawn(take_then_stall, inbox, reports, 1)
    assert inbox.send(Note(0))
    assert reports.receive(timeout=45) == Report((0,))

    def timed_sends(first: int, count: int) -> tuple[list[bool], float]:
        """Notes of 8 KiB: 64 of them are far more than the pipe holds (64 KiB)."""
        sent, slowest = [], 0.0
        for seq in range(first, first + count):
            started = time.monotonic()
            sent.append(inbox.send(Note(seq, bytes(8192))))
            slowest = max(slowest, time.monotonic() - started)
        return sent, slowest

    sent, slowest = timed_sends(1, 200)  # the consumer is alive but reads no more
    assert sent == [True] * 64 + [False] * 136
    assert slowest < 0.5
    os.kill(consumer.pid, signal.SIGKILL)  # the consumer is gone
    consumer.join(10)
    sent, slowest = timed_sends(201, 50)
    assert sent == [False] * 50
    assert slowest < 0.5
    assert dropped("test_stalled") == before + 186
    inbox.close()


@pytest.mark.timeout(60)
def test_a_consumer_killed_while_waiting_leaves_the_channel_to_its_successor(
    reports: Channel[Report], spawn: Callable[..., Any]
) -> None:
    """The queue's blocking get would die holding the read lock; a receive does not."""
    inbox = make("test_successor", 8)
    consumer = spawn(wait_forever, inbox, reports)
    assert reports.receive(timeout=45) == Report(())
    time.sleep(0.5)  # well inside its receive
    os.kill(consumer.pid, signal.SIGKILL)
    consumer.join(10)
    for seq in range(3):
        assert inbox.send(Note(seq))
    spawn(drain, inbox, reports)
    assert reports.receive(timeout=45) == Report((0, 1, 2))
    inbox.close()


def test_a_closed_channel_drops_what_is_sent_and_says_so_on_receive() -> None:
    channel = make("test_closed", 4)
    before = dropped("test_closed")
    channel.close()
    assert not channel.send(Note(1))  # a thread still sending while its process stops
    assert dropped("test_closed") == before + 1
    with pytest.raises(ChannelClosedError):
        channel.receive(timeout=0.1)


def test_a_channel_refuses_a_bad_size_or_no_name() -> None:
    with pytest.raises(ValueError, match="maxsize must be at least 1, not 0"):
        make("test_bad", 0)
    with pytest.raises(ValueError, match="needs a name"):
        make("", 4)


@pytest.mark.timeout(60)
def test_the_pump_delivers_another_process_messages_on_the_loop_in_order_and_stops(
    spawn: Callable[..., Any],
) -> None:
    inbox = make("test_pump", 16)

    async def pumped() -> list[tuple[int, bool]]:
        loop, stop, done = asyncio.get_running_loop(), threading.Event(), asyncio.Event()
        loop_thread = threading.get_ident()
        got: list[tuple[int, bool]] = []

        def deliver(note: Note) -> None:
            got.append((note.seq, threading.get_ident() == loop_thread))
            if len(got) == 5:
                done.set()

        pump = start_pump(inbox, deliver, loop, stop, "test-pump")
        spawn(send_notes, inbox, 5)
        await asyncio.wait_for(done.wait(), 45)
        stop.set()
        await asyncio.to_thread(pump.join, 5)
        assert not pump.is_alive()
        return got

    assert asyncio.run(pumped()) == [(seq, True) for seq in range(5)]
    inbox.close()
