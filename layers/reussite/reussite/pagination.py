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


def keyset(kind: str, cursor: str | None, text: bool = False) -> dict[str, object]:
    """SQL parameters `after_at` and `after_id` (None on the first page) for a list ordered by
    (created_at DESC, id DESC): `AND (%(after_at)s::timestamptz IS NULL OR (t.created_at, t.id)
    < (%(after_at)s, %(after_id)s))`; with `text`, the ordering key is text (a name, a code)."""
    if not cursor:
        return {"after_at": None, "after_id": None}
    try:
        named, _, rest = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        at, _, last = rest.rpartition("|")
        if named != kind or not last or not at:
            raise ValueError(named)
        return {"after_at": at if text else datetime.fromisoformat(at), "after_id": last}
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadCursor() from exc


def next_cursor(
    kind: str, rows: list[dict[str, object]], limit: int, at: str = "created_at", key: str = "id"
) -> tuple[list[dict[str, object]], str | None]:
    """The page (rows were read with LIMIT limit + 1) and the cursor of the next one."""
    if len(rows) <= limit:
        return rows, None
    page = rows[:limit]
    last = page[-1]
    moment = last[at]
    value = moment.isoformat() if isinstance(moment, datetime) else str(moment)
    stamp = base64.urlsafe_b64encode(f"{kind}:{value}|{last[key]}".encode())
    return page, stamp.decode()
