"""The school's pedagogical content: staff write it by subject and level (Markdown, kept as
text and rendered inert), and ARIA retrieves the pieces most relevant to a question with
PostgreSQL full-text search (French stemming, accents ignored on both sides)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from uuid import UUID

from reussite import audit, db, pagination
from reussite.aria.models import ContentNotFound, ContentPage, ContentPiece
from reussite.idempotency import fingerprint, require_same
from reussite.identity.access import require_staff

if TYPE_CHECKING:
    from reussite.identity.models import User

TOP = 5
# Raw HTML in Markdown (a tag, a comment): dropped, so that whatever renders the text later shows
# nothing active. A "<" followed by a space or a digit ("a < b", "x<3") is kept.
_HTML = re.compile(r"<(?:[A-Za-z/!?][^<>]{0,2000})>")


def sanitise(markdown: str) -> str:
    """Markdown without raw HTML (the school's content, and ARIA's answers)."""
    return _HTML.sub("", markdown).strip()


_COLUMNS = "id, subject, school_level, title, body, active, created_at, updated_at"
_REFUSAL = "Staff write the pedagogical content"

# Any word of the question may match (a question is not a conjunction of its words). The
# student's level first, then the subject's other levels, each ranked by relevance (ts_rank:
# how often the question's words occur): the first branch alone answers when it finds enough,
# so a search reads and ranks the pieces of one subject and level, found through their btree
# index. A GIN index on `search` would not help: any word matching, a question's words match
# most of the table, and reading that bitmap costs more than ranking the level's pieces
# (bench/aria.py: 39 ms through the GIN, 4 ms without it, over 100,000 pieces).
_QUERY = """
    SELECT replace(plainto_tsquery('french', reussite_unaccent(%(question)s))::text,
                   '&', '|')::tsquery AS query  -- the lexemes as stemmed, any of them
"""
_RETRIEVE = f"""
    WITH q AS MATERIALIZED ({_QUERY})
    (SELECT {_COLUMNS}, ts_rank(c.search, q.query) AS rank
       FROM pedagogical_content c, q
      WHERE c.active AND c.subject = %(subject)s AND c.school_level = %(level)s
        AND (c.search @@ q.query) IS TRUE
      ORDER BY rank DESC, c.id LIMIT %(top)s)
    UNION ALL
    (SELECT {_COLUMNS}, ts_rank(c.search, q.query) AS rank
       FROM pedagogical_content c, q
      WHERE c.active AND c.subject = %(subject)s AND c.school_level IS DISTINCT FROM %(level)s
        AND (c.search @@ q.query) IS TRUE
      ORDER BY rank DESC, c.id LIMIT %(top)s)
    LIMIT %(top)s
"""


def retrieve(subject: str, level: str | None, question: str, top: int = TOP) -> list[ContentPiece]:
    """The `top` pieces of the subject most relevant to the question, the student's level
    first; none if nothing matches (ARIA then says it keeps to the school's programme)."""
    rows = (
        db.connection()
        .execute(_RETRIEVE, {"question": question, "subject": subject, "level": level, "top": top})
        .fetchall()
    )
    return [ContentPiece.model_validate(r) for r in rows]


def create(
    staff: User, subject: str, school_level: str, title: str, body: str, key: str | None = None
) -> ContentPiece:
    """A new piece; the same key again answers the same piece, with another request it is
    IDEMPOTENCY_KEY_REUSED (no key: scripts, never replayed)."""
    require_staff(staff, _REFUSAL)
    request = fingerprint(
        "aria.content", subject=subject, school_level=school_level, title=title, body=body
    )
    with db.transaction() as conn:
        row = conn.execute(
            f"""INSERT INTO pedagogical_content (subject, school_level, title, body, created_by,
                                                 idempotency_key, request_hash)
                VALUES (%s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (created_by, idempotency_key) DO NOTHING RETURNING {_COLUMNS}""",
            (subject, school_level, title, sanitise(body), staff.id, key, request),
        ).fetchone()
        if row is None:  # the key's first request
            row = conn.execute(
                f"""SELECT {_COLUMNS}, request_hash FROM pedagogical_content
                     WHERE created_by = %s AND idempotency_key = %s""",
                (staff.id, key),
            ).fetchone()
            assert row is not None
            require_same(row.pop("request_hash"), request)
            return ContentPiece.model_validate(row)
        audit.record(conn, staff.id, "content.create", f"content:{row['id']}", {"title": title})
    return ContentPiece.model_validate(row)


def update(staff: User, content_id: UUID, changes: dict[str, Any]) -> ContentPiece:
    """Edit a piece (subject, level, title, body) or retire it (`active: false`)."""
    require_staff(staff, _REFUSAL)
    allowed = {k: v for k, v in changes.items() if k in _EDITABLE and v is not None}
    if "body" in allowed:
        allowed["body"] = sanitise(allowed["body"])
    with db.transaction() as conn:
        sets = ", ".join(f"{k} = %({k})s" for k in allowed)
        row = conn.execute(
            f"""UPDATE pedagogical_content SET {sets + ", " if sets else ""}updated_at = now()
                 WHERE id = %(id)s RETURNING {_COLUMNS}""",
            allowed | {"id": content_id},
        ).fetchone()
        if row is None:
            raise ContentNotFound()
        audit.record(conn, staff.id, "content.update", f"content:{content_id}", allowed)
    return ContentPiece.model_validate(row)


_EDITABLE = ("subject", "school_level", "title", "body", "active")


def listing(
    staff: User, subject: str | None, limit: int = 50, cursor: str | None = None
) -> ContentPage:
    """The school's content (of one subject, or all), the most recently changed first, a page
    at a time."""
    require_staff(staff, _REFUSAL)
    after = pagination.decode("aria-content", cursor)
    rows = (
        db.connection()
        .execute(
            f"""SELECT {_COLUMNS} FROM pedagogical_content
                 WHERE (%(subject)s::text IS NULL OR subject = %(subject)s)
                   AND (%(at)s::timestamptz IS NULL OR (updated_at, id) < (%(at)s, %(id)s))
                 ORDER BY updated_at DESC, id DESC LIMIT %(limit)s""",
            {
                "subject": subject,
                "at": after[0] if after else None,
                "id": after[1] if after else None,
                "limit": limit + 1,
            },
        )
        .fetchall()
    )
    items = [ContentPiece.model_validate(r) for r in rows[:limit]]
    last = items[-1] if len(rows) > limit else None
    return ContentPage(
        items=items,
        next=pagination.encode("aria-content", last.updated_at, last.id) if last else None,
    )
