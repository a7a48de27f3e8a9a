"""Verification codes: 80 random bits from `secrets`, as 16 Crockford base32 characters in
groups of four (no I, L, O, U: nothing to misread)."""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_code() -> str:
    value = secrets.randbits(80)
    chars = "".join(ALPHABET[(value >> (5 * i)) & 31] for i in range(16))
    return "-".join(chars[i : i + 4] for i in range(0, 16, 4))


def normalise(code: str) -> str:
    """What people type (lower case, spaces, O for 0...) to the stored form; '' if not a code."""
    cleaned = code.upper().replace("-", "").replace(" ", "").translate(str.maketrans("OIL", "011"))
    if len(cleaned) != 16 or any(c not in ALPHABET for c in cleaned):
        return ""
    return "-".join(cleaned[i : i + 4] for i in range(0, 16, 4))
