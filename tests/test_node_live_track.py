"""The station's track of a camera sent live by a node, across a failover.

After a failover another node opens the camera's stream and sends it from its own opening,
whose times start anew, while the old node may still send a few packets. The track follows
one opening at a time: the new one from its first keyframe, its times shifted to go on from
the last packet passed, the old one's late packets dropped. Real ``av.Packet`` objects on a
real event loop; the packets' bytes are the clip's own H.264.
"""

from __future__ import annotations

import asyncio
from fractions import Fraction
from typing import Any

import av

from common.live_wire import PacketTiming
from dashboard.services.node_live import SWITCH_GAP, NodeVideoTrack
from tests.paths import clips_dir

TB = Fraction(1, 90000)


def _clip_packets(count: int) -> list[tuple[bytes, bool]]:
    """The first ``count`` video packets of a clip, with whether each is a keyframe."""
    with av.open(str(clips_dir() / "pets09_s2l1_vtest.mp4")) as container:
        found = []
        for packet in container.demux(video=0):
            if packet.size:
                found.append((bytes(packet), packet.is_keyframe))
            if len(found) == count:
                break
    return found


def test_a_failover_goes_on_from_the_new_nodes_keyframe_and_time_never_goes_back() -> None:
    async def run() -> list[Any]:
        track = NodeVideoTrack("cong", lambda: None)
        (key, _), (delta, delta_is_key) = _clip_packets(2)
        assert not delta_is_key
        step = 3600  # one frame at 25 fps, in 1/90000 s

        def put(source: str, pts: int, keyframe: bool) -> None:
            track.put(key if keyframe else delta, PacketTiming(pts, TB, keyframe, source))

        put("n1/a", 500_000, False)  # before n1's first keyframe: nothing yet
        put("n1/a", 503_600, True)
        put("n1/a", 507_200, False)
        put("n2/b", 7_200, False)  # n2 took the camera over: not before its keyframe
        put("n2/b", 10_800, True)
        put("n1/a", 510_800, False)  # n1's last packet, late: n1 is retired
        put("n2/b", 10_800 + step, False)
        put("n1/a", 514_400, True)  # even a keyframe of the old opening is dropped
        received = [await track.recv() for _ in range(4)]
        assert track._queue.empty()
        track.stop()
        return received

    packets = asyncio.run(run())
    times = [packet.pts for packet in packets]
    gap = round(SWITCH_GAP / TB)
    assert times == [503_600, 507_200, 507_200 + gap, 507_200 + gap + 3600]
    assert all(packet.time_base == TB for packet in packets)
    assert [packet.is_keyframe for packet in packets] == [True, False, True, False]


def test_a_node_without_sources_is_passed_on_as_it_comes() -> None:
    """Packets of a node that names no opening (an older build) pass as they did."""

    async def run() -> list[int | None]:
        track = NodeVideoTrack("cong", lambda: None)
        (key, _), (delta, _) = _clip_packets(2)
        track.put(delta, PacketTiming(10, TB, False))
        track.put(key, PacketTiming(20, TB, True))
        track.put(delta, PacketTiming(30, TB, False))
        received = [(await track.recv()).pts for _ in range(2)]
        track.stop()
        return received

    assert asyncio.run(run()) == [20, 30]
