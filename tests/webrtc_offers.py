"""WebRTC offers for fuzzing live view: a real H.264 offer from aiortc (what the page sends:
video, receive only, H.264 only, candidates gathered), broken by Hypothesis one line at a
time, and aiortc itself as the referee of which offers a server can take."""

from __future__ import annotations

import asyncio
import functools

from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription
from hypothesis import strategies as st


async def _offer() -> str:
    peer = RTCPeerConnection()
    try:
        transceiver = peer.addTransceiver("video", direction="recvonly")
        codecs = RTCRtpReceiver.getCapabilities("video").codecs
        transceiver.setCodecPreferences([c for c in codecs if c.mimeType == "video/H264"])
        await peer.setLocalDescription(await peer.createOffer())
        sdp: str = peer.localDescription.sdp
        return sdp
    finally:
        await peer.close()


@functools.cache
def h264_offer() -> str:
    """One real offer, made once per test run."""
    return asyncio.run(_offer())


GARBAGE = st.sampled_from(
    ["", " ", "0", "-1", "99999999999", "x", "☃", "a b c", ":", "IN IP4", "%s%n", "\x00"]
) | st.text(max_size=12)


@st.composite
def broken_offers(draw: st.DrawFn) -> str:
    """The real offer with some of its lines dropped, duplicated or given a garbage value."""
    lines = h264_offer().splitlines()
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.integers(0, len(lines) - 1))
        line = lines[index]
        how = draw(st.sampled_from(["drop", "duplicate", "garble"]))
        if how == "drop":
            del lines[index]
        elif how == "duplicate":
            lines.insert(index, line)
        else:
            head, sep, _ = line.partition(":") if line.startswith("a=") else line.partition("=")
            lines[index] = head + (sep or "=") + draw(GARBAGE)
        if not lines:
            break
    return "\r\n".join(lines) + "\r\n"


async def _accepts(sdp: str) -> bool:
    peer = RTCPeerConnection()
    try:
        await peer.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        await peer.setLocalDescription(await peer.createAnswer())
    except Exception:  # the referee's verdict: any error means "cannot take it"
        return False
    finally:
        await peer.close()
    return True


def aiortc_accepts(sdp: str) -> bool:
    """Whether an aiortc server could take ``sdp`` and answer it."""
    return asyncio.run(_accepts(sdp))
