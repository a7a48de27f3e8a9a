"""Codes people read aloud, copy onto a bank transfer or type from a letter: random characters
from `secrets` in Crockford base32 (no I, L, O, U: nothing to misread), grouped by four.

Certificates' verification codes (16 characters, 80 bits), children's link codes (12, 60 bits)
and transfer references (8, 40 bits) all come from here."""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_MISREAD = str.maketrans("OIL", "011")


def random_code(length: int) -> str:
    """`length` random characters of the alphabet, ungrouped."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def grouped(code: str) -> str:
    """ABCD-EFGH-…: the form a code is shown in."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def cleaned(typed: str) -> str:
    """What people type (lower case, spaces, dashes, O for 0, I or L for 1) as the bare
    characters; the caller checks the length."""
    return typed.upper().replace("-", "").replace(" ", "").translate(_MISREAD)


def is_code(bare: str, length: int) -> bool:
    return len(bare) == length and all(c in ALPHABET for c in bare)
