"""A browser's WebRTC offer for live view, checked before anything is opened for it.

aiortc only finds out that an offer is unusable deep inside ``setRemoteDescription`` (a
missing ICE password is a ``ValueError``, a missing ``a=setup`` an ``AttributeError``, a
codec it cannot answer an ``OperationError``) and by then a peer and the camera's stream
would already be open. :func:`parse_offer` asks aiortc's own SDP parser and codec
negotiation the same questions up front, so a bad offer costs a parse and answers 422.

What an offer needs, and why:

* at most :data:`MAX_OFFER_CHARS` characters and :data:`MAX_MEDIA` media sections, so a
  peer can never be asked to build dozens of transports;
* ICE credentials (``a=ice-ufrag``, ``a=ice-pwd``) and RTCP multiplexing on every media
  section, a DTLS role (``a=setup``) and fingerprint: aiortc refuses or crashes without them;
* at least one ICE candidate: aiortc does not trickle, so the browser gathers first (the
  page waits for it) and an offer without candidates could only wait, never connect;
* a video section whose first codec aiortc can answer is H.264, since live view passes the
  camera's H.264 through unchanged and cannot serve any other codec.
"""

from __future__ import annotations

from aiortc import RTCRtpCodecParameters, sdp
from aiortc.codecs import CODECS
from aiortc.rtcpeerconnection import find_common_codecs

MAX_OFFER_CHARS = 64 * 1024
"""A browser's offer for one video track is 3 to 6 KiB."""
MAX_MEDIA = 4
H264 = "video/H264"


class OfferError(ValueError):
    """The browser's offer cannot be served; the message says what is missing."""


def parse_offer(text: str) -> sdp.SessionDescription:
    """The offer as aiortc will read it, or :class:`OfferError` naming what is wrong."""
    if len(text) > MAX_OFFER_CHARS:
        raise OfferError(f"the offer is longer than {MAX_OFFER_CHARS} characters")
    try:
        offer = sdp.SessionDescription.parse(text)
    except Exception as exc:  # aiortc's parser raises whatever the bad line triggers
        raise OfferError(f"the offer is not valid SDP ({type(exc).__name__})") from exc
    if not offer.media:
        raise OfferError("the offer has no media section")
    if len(offer.media) > MAX_MEDIA:
        raise OfferError(f"the offer has more than {MAX_MEDIA} media sections")
    for media in offer.media:
        _check_media(media)
    if not any(media.ice_candidates for media in offer.media):
        raise OfferError("the offer has no ICE candidate; gather them before sending it")
    if not any(_answers_h264(media) for media in offer.media if media.kind == "video"):
        raise OfferError("the offer has no video section preferring H.264; live view passes H.264")
    return offer


def _check_media(media: sdp.MediaDescription) -> None:
    if media.kind not in ("audio", "video"):
        raise OfferError(f"live view offers audio or video only, not {media.kind!r}")
    if media.ice is None or not media.ice.usernameFragment or not media.ice.password:
        raise OfferError(f"the {media.kind} section has no ICE ufrag or password")
    if not media.rtcp_mux:
        raise OfferError(f"the {media.kind} section does not multiplex RTCP (a=rtcp-mux)")
    if media.dtls is None or not media.dtls.fingerprints:
        raise OfferError(f"the {media.kind} section has no DTLS setup or fingerprint")
    if not media.rtp.muxId:
        raise OfferError(f"the {media.kind} section has no a=mid")
    if media.direction is None:  # aiortc cannot answer a section without one
        raise OfferError(f"the {media.kind} section has no direction (a=recvonly)")
    if not _common_codecs(media):
        raise OfferError(f"the {media.kind} section offers no codec the server can answer")


def _answers_h264(media: sdp.MediaDescription) -> bool:
    """Whether aiortc's answer for ``media`` would carry H.264 first."""
    common = _common_codecs(media)
    return bool(common) and common[0].mimeType == H264


def _common_codecs(media: sdp.MediaDescription) -> list[RTCRtpCodecParameters]:
    """The codecs of ``media`` that aiortc can answer, best first (the browser's order)."""
    try:
        return find_common_codecs(CODECS[media.kind], media.rtp.codecs)
    except Exception as exc:  # a garbled a=fmtp surfaces here, as whatever it triggers
        raise OfferError(f"the {media.kind} section's codecs cannot be read") from exc
