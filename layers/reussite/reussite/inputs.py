"""Request values every handler takes the same way.

Human-entered text at the boundary: names are refused when they carry control or
bidirectional-override characters, and text bound for a header (an email subject) is made a
single safe line (`reussite.text` says which characters are unsafe, and why).
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field

from reussite.text import header_line, strip_unsafe, unsafe_characters

__all__ = ["header_line", "strip_unsafe", "unsafe_characters"]


def _safe_name(value: str) -> str:
    value = unicodedata.normalize("NFC", value).strip()
    bad = unsafe_characters(value)
    if bad:
        raise ValueError(
            f"a name may not contain control or bidirectional-override characters ({bad[0]})"
        )
    if not value:
        raise ValueError("a name may not be blank")
    return value


HumanName = Annotated[
    str,
    Field(min_length=1, max_length=200),
    AfterValidator(_safe_name),
]
"""A person's or a course's name as a human typed it: 1-200 characters, trimmed, NFC, no
control or bidi-override characters."""


def _safe_text(value: str) -> str:
    value = unicodedata.normalize("NFC", value).strip()
    bad = [c for c in unsafe_characters(value) if c not in ("U+000A", "U+000D", "U+0009")]
    if bad:
        raise ValueError(
            f"text may not contain control or bidirectional-override characters ({bad[0]})"
        )
    if not value:
        raise ValueError("text may not be blank")
    return value


BoundedText = Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(_safe_text)]
"""A paragraph a person wrote (a reason, a note): 1-2,000 characters, trimmed, NFC; line breaks
allowed, other control and bidi-override characters refused."""


EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


def _reasonable_moment(moment: datetime) -> datetime:
    if not EARLIEST <= moment < LATEST:
        raise ValueError("a time must fall between the years 2000 and 2099")
    return moment


def _reasonable_day(day: date) -> date:
    if not EARLIEST.date() <= day < LATEST.date():
        raise ValueError("a date must fall between the years 2000 and 2099")
    return day


Moment = Annotated[AwareDatetime, AfterValidator(_reasonable_moment)]
"""A time a request names: with its offset (a naive time is refused, never guessed), between
2000 and 2099 (9999-12-31 plus an hour does not exist)."""

Day = Annotated[date, AfterValidator(_reasonable_day)]
"""A calendar day a request names, between 2000 and 2099."""
