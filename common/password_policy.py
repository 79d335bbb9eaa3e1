"""What a password must be: long enough, not one of the passwords everyone tries first,
and not built on the user's own name.

Guessers start with lists of the passwords people pick most; one of those falls in a few
tries, however slow the login is made. The list used here is the 30,000 most common
passwords of public breach corpora that the zxcvbn package ships (offline, no lookup),
plus Vietnamese favourites that English lists miss (``matkhau`` is "password").

A password is compared after folding: lower case, Vietnamese marks removed (``mật khẩu``
reads ``mat khau``), and digits and symbols trimmed from both ends, so ``Matkhau@2026``
and ``123anhyeuem!`` count as the common passwords they are built on.
"""

from __future__ import annotations

import string
import unicodedata
from dataclasses import dataclass
from functools import cache

from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_LENGTH = 10
MIN_NAME_INSIDE = 4
"""A user name this long may not appear anywhere in the password (a shorter one, ``an``,
is part of too many words)."""
VIETNAMESE_COMMON = (
    "matkhau",
    "anhyeuem",
    "emyeuanh",
    "yeuem",
    "yeuanh",
    "anhyeu",
    "iuem",
    "vietnam",
    "hanoi",
    "saigon",
    "hochiminh",
    "congan",
    "conganxa",
    "conganhuyen",
    "canhsat",
    "quantri",
    "quantrivien",
    "taikhoan",
    "dangnhap",
    "xinchao",
    "batrang",
    "matthan",
    "camera",
    "trucban",
)
"""Common Vietnamese passwords and their bases (already folded)."""
_TRIM = string.digits + string.punctuation + " "


@dataclass(frozen=True, slots=True)
class Weakness:
    """Why a password is refused: a stable ``code`` the page translates, and a message."""

    code: str
    message: str


def fold(text: str) -> str:
    """Lower case without Vietnamese marks: ``Mật Khẩu`` becomes ``mat khau``."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("đ", "d"))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


@cache
def common_passwords() -> frozenset[str]:
    """The common passwords, folded (built once, at first use)."""
    return frozenset(fold(word) for word in FREQUENCY_LISTS["passwords"]) | frozenset(
        VIETNAMESE_COMMON
    )


def weakness(password: str, username: str = "") -> Weakness | None:
    """Why ``password`` will not do for ``username``, or None if it is fine."""
    if len(password) < MIN_LENGTH:
        return Weakness("password_short", f"a password needs at least {MIN_LENGTH} characters")
    folded = fold(password)
    core = folded.strip(_TRIM)
    name = fold(username)
    if name and (core in (name, name[::-1]) or (len(name) >= MIN_NAME_INSIDE and name in folded)):
        return Weakness("password_username", "a password may not be built on the user name")
    common = common_passwords()
    if folded in common or core in common or core.replace(" ", "") in common:
        return Weakness("password_common", "this is one of the most common passwords")
    return None
