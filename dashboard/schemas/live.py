"""The HTTP edge of live view's WebRTC offer and answer (:mod:`dashboard.routes.live`), as pydantic
models."""

from __future__ import annotations

from pydantic import BaseModel, Field

from dashboard.services.live_offer import MAX_OFFER_CHARS


class SessionDescription(BaseModel):
    """An SDP offer or answer, as the browser's RTCSessionDescription serialises it."""

    sdp: str = Field(max_length=MAX_OFFER_CHARS)
    type: str = Field(pattern="^(offer|answer)$")
