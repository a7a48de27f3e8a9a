"""Verification codes: 80 random bits, as 16 Crockford base32 characters in groups of four."""

from __future__ import annotations

from reussite.codes import cleaned, grouped, is_code, random_code

LENGTH = 16


def new_code() -> str:
    return grouped(random_code(LENGTH))


def normalise(code: str) -> str:
    """What people type (lower case, spaces, O for 0...) to the stored form; '' if not a code."""
    bare = cleaned(code)
    return grouped(bare) if is_code(bare, LENGTH) else ""
