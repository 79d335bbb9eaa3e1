"""How an alert's box (x1, y1, x2, y2 in frame pixels) is kept in a TEXT column of the store:
JSON, to a tenth of a pixel. Live alerts and re-analysis findings store it alike."""

from __future__ import annotations

import json

Box = tuple[float, float, float, float]


def box_to_text(box: Box | None) -> str | None:
    return json.dumps([round(v, 1) for v in box]) if box else None


def box_from_text(text: str | None) -> Box | None:
    values = json.loads(text) if text else None
    return (values[0], values[1], values[2], values[3]) if values else None
