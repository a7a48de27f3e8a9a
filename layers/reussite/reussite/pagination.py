"""Opaque cursors for lists ordered by (time DESC, id DESC): a cursor names its list and the last
item seen, so a page is stable under inserts; one from another list, or altered, is 400."""

from __future__ import annotations

import base64
from datetime import datetime
from uuid import UUID

from reussite.errors import BadCursor


def encode(kind: str, at: datetime, last: UUID) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{at.isoformat()}|{last}".encode()).decode()


def decode(kind: str, cursor: str | None) -> tuple[datetime, UUID] | None:
    """The (time, id) after which the next page starts; None for the first page."""
    if not cursor:
        return None
    try:
        named, _, rest = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        at, _, last = rest.partition("|")
        if named != kind:
            raise ValueError(named)
        return datetime.fromisoformat(at), UUID(last)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadCursor() from exc


def encode_after(kind: str, last: str) -> str:
    """A cursor for a list ordered by a text key (a name): the last key seen."""
    return base64.urlsafe_b64encode(f"{kind}:{last}".encode()).decode()


def decode_after(kind: str, cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        named, _, last = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadCursor() from exc
    if named != kind or not last:
        raise BadCursor()
    return last
