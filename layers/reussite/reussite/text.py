"""Text a person typed or an identity provider sent, made safe to show and to put in a header.

U+202E (right-to-left override) in a holder's name reverses what a verify page and a PDF show;
CR/LF in a name that reaches an email subject is a header injection. Letters of every script
(Arabic included) pass: only controls (Cc), line and paragraph separators (Zl, Zp) and the
explicit bidi embeddings, overrides and isolates are unsafe. No pydantic here: the workers
that send email import this without the request models' cost.
"""

from __future__ import annotations

import unicodedata

_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_UNSAFE_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})


def unsafe_characters(text: str) -> list[str]:
    """The characters of `text` a name may not carry, as U+XXXX."""
    return [
        f"U+{ord(ch):04X}"
        for ch in text
        if ch in _BIDI_CONTROLS or unicodedata.category(ch) in _UNSAFE_CATEGORIES
    ]


def strip_unsafe(text: str) -> str:
    """`text` without the characters a name may not carry (for claims from an identity
    provider, which reussite cannot refuse without locking the user out)."""
    cleaned = "".join(
        ""
        if ch in _BIDI_CONTROLS
        else " "
        if unicodedata.category(ch) in _UNSAFE_CATEGORIES
        else ch
        for ch in text
    )
    return " ".join(cleaned.split())  # a line break becomes one space


def header_line(text: str, limit: int = 200) -> str:
    """`text` as one header line: unsafe characters dropped, whitespace runs collapsed, cut to
    `limit` characters."""
    line = strip_unsafe(text)
    return line if len(line) <= limit else line[: limit - 1] + "…"
