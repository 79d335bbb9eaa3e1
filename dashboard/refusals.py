"""Refusals the operator can act on: a code the page translates and a plain message.

FastAPI answers a plain ``HTTPException`` with ``{"detail": "no such alert"}``, which a
script reads well but a page can only show in English. A :class:`Refusal` answers
``{"detail": {"code": "too_large", "message": "the file is larger than ...", "max_mb": 1}}``:
the page shows its own sentence for ``code`` (in Vietnamese or English, filled in with the
facts), and falls back on ``message`` for a code it does not know.
"""

from __future__ import annotations

from fastapi import HTTPException

Fact = str | int | float


class Refusal(HTTPException):
    """An HTTP error with a stable ``code``, a ``message`` and facts for the page's text."""

    def __init__(self, status: int, code: str, message: str, **facts: Fact) -> None:
        super().__init__(status_code=status, detail={"code": code, "message": message, **facts})
        self.code = code
        self.message = message
