"""Vietnamese plate formats (Circular 24/2023/TT-BCA) and the resolution of confusable characters.

A plate is a province code (``11`` to ``99``), a series and a serial number:

=============================  ===============  =========================
vehicle and shape              top row          bottom row
=============================  ===============  =========================
motorbike, two rows            ``75-H1``        ``357.92`` (old: ``3579``)
motorbike, two-letter series   ``81-AA``        ``048.92``
car, one row                   ``51G-971.62``   (old: ``51G-1234``)
car, square plate (two rows)   ``51A``          ``192.22``
=============================  ===============  =========================

Series letters come from a fixed set of 20 (no ``I J O Q R W``). OCR confuses ``0/O/D``,
``8/B``, ``1/I``, ``5/S`` and ``2/Z``; the format says which kind each position wants, so a
character is turned into a digit where a digit is wanted and into a letter where a letter is.
Whatever still does not fit gives ``None``: no text is invented.
"""

from __future__ import annotations

import re

SERIES_LETTERS = frozenset("ABCDEFGHKLMNPSTUVXYZ")
AS_DIGIT = {"O": "0", "D": "0", "Q": "0", "I": "1", "Z": "2", "S": "5", "B": "8"}
AS_LETTER = {"0": "D", "O": "D", "8": "B", "5": "S", "2": "Z"}
SERIAL = re.compile(r"\d{4,5}")


def as_digits(text: str) -> str | None:
    """``text`` with every character a digit, or None when one cannot be (or it is empty)."""
    if not text:
        return None
    out = [c if c.isdigit() else AS_DIGIT.get(c, "") for c in text]
    return "".join(out) if all(out) else None


def as_letter(char: str) -> str | None:
    """``char`` as a series letter, or None when it cannot be one."""
    letter = AS_LETTER.get(char, char)
    return letter if letter in SERIES_LETTERS else None


def series(text: str, digit_allowed: bool) -> str | None:
    """The series of one or two characters: a letter, then a letter or (when ``digit_allowed``,
    on motorbikes) a digit. A second character that is a series letter stays a letter."""
    if not 1 <= len(text) <= 2:
        return None
    first = as_letter(text[0])
    if first is None or len(text) == 1:
        return first
    second = text[1]
    if digit_allowed and (
        second.isdigit() or (second in AS_DIGIT and second not in SERIES_LETTERS)
    ):
        return first + (second if second.isdigit() else AS_DIGIT[second])
    letter = as_letter(second)
    return None if letter is None else first + letter


def province(text: str) -> str | None:
    """A two-digit province code in 11..99, or None."""
    digits = as_digits(text) if len(text) == 2 else None
    return digits if digits is not None and 11 <= int(digits) <= 99 else None


def serial_text(digits: str) -> str:
    """``97162`` as ``971.62``; four digits stay as they are."""
    return f"{digits[:3]}.{digits[3:]}" if len(digits) == 5 else digits


def compact(text: str) -> str:
    """Only the letters and digits of ``text``, upper case."""
    return "".join(c for c in text.upper() if c.isalnum())


def dotted(raw: str, serial: str) -> bool:
    """Whether ``serial`` agrees with the separators read: a dot is only ever printed in a
    five-digit serial (``971.62``), so a read with a dot and four digits lost one."""
    return "." not in raw or len(serial) == 5


def two_rows(top: str, bottom: str) -> str | None:
    """A two-row plate (motorbike or square car plate) from its rows, or None."""
    raw = bottom
    top, bottom = compact(top), compact(bottom)
    code, letters = province(top[:2]), series(top[2:], digit_allowed=True)
    serial = as_digits(bottom)
    if code is None or letters is None or serial is None or not SERIAL.fullmatch(serial):
        return None
    if not dotted(raw, serial):
        return None
    if len(letters) == 1:
        return f"{code}{letters} {serial_text(serial)}"
    return f"{code}-{letters} {serial_text(serial)}"


def one_row(text: str) -> str | None:
    """A one-row car plate (``51G-971.62``, ``51LD-123.45``, old ``51G-1234``), or None. When
    both a one- and a two-letter series fit, the reading that changes fewer characters wins."""
    raw, text = text, compact(text)
    fits: list[tuple[int, str]] = []
    for letters_len in (1, 2):
        code = province(text[:2])
        letters = series(text[2 : 2 + letters_len], digit_allowed=False)
        serial = as_digits(text[2 + letters_len :])
        if code and letters and serial and SERIAL.fullmatch(serial) and dotted(raw, serial):
            changed = sum(a != b for a, b in zip(text, code + letters + serial, strict=True))
            fits.append((changed, f"{code}{letters}-{serial_text(serial)}"))
    return min(fits)[1] if fits else None


def normalise_plate(rows: list[str]) -> str | None:
    """The plate the OCR ``rows`` (top to bottom, one or two) spell, in its official form, or
    None when they fit no format."""
    if len(rows) == 1:
        return one_row(rows[0])
    if len(rows) == 2:
        return two_rows(rows[0], rows[1])
    return None
