"""The school's pedagogical content: staff write it by subject and level (Markdown, kept as
text and rendered inert), and ARIA retrieves the pieces most relevant to a question with
PostgreSQL full-text search (French stemming, accents ignored on both sides)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from reussite import audit, db
from reussite.aria.models import ContentNotFound, ContentPiece
from reussite.identity.access import require_staff

if TYPE_CHECKING:
    from reussite.identity.models import User

TOP = 5
_COLUMNS = "id, subject, school_level, title, body, active, created_at, updated_at"
_REFUSAL = "Staff write the pedagogical content"

# Any word of the question may match (a question is not a conjunction of its words); the
# student's level first, then relevance; the ranking reads only the matching rows of the
# subject, found through the GIN index.
_RETRIEVE = f"""
    WITH q AS (
        SELECT replace(plainto_tsquery('french', reussite_unaccent(%(question)s))::text,
                       '&', '|')::tsquery AS query  -- the lexemes as stemmed, any of them
    )
    SELECT {_COLUMNS}, ts_rank_cd(c.search, q.query) AS rank
      FROM pedagogical_content c, q
     WHERE c.active AND c.subject = %(subject)s AND c.search @@ q.query
     ORDER BY (c.school_level = %(level)s) DESC, rank DESC, c.id
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


def create(staff: User, subject: str, school_level: str, title: str, body: str) -> ContentPiece:
    require_staff(staff, _REFUSAL)
    with db.transaction() as conn:
        row = conn.execute(
            f"""INSERT INTO pedagogical_content (subject, school_level, title, body, created_by)
                VALUES (%s, %s, %s, %s, %s) RETURNING {_COLUMNS}""",
            (subject, school_level, title, body, staff.id),
        ).fetchone()
        assert row is not None
        audit.record(conn, staff.id, "content.create", f"content:{row['id']}", {"title": title})
    return ContentPiece.model_validate(row)


def update(staff: User, content_id: UUID, changes: dict[str, Any]) -> ContentPiece:
    """Edit a piece (subject, level, title, body) or retire it (`active: false`)."""
    require_staff(staff, _REFUSAL)
    allowed = {k: v for k, v in changes.items() if k in _EDITABLE and v is not None}
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


def listing(staff: User, subject: str | None, limit: int = 100) -> list[ContentPiece]:
    require_staff(staff, _REFUSAL)
    rows = (
        db.connection()
        .execute(
            f"""SELECT {_COLUMNS} FROM pedagogical_content
                 WHERE %(subject)s::text IS NULL OR subject = %(subject)s
                 ORDER BY subject, school_level, title, id LIMIT %(limit)s""",
            {"subject": subject, "limit": limit},
        )
        .fetchall()
    )
    return [ContentPiece.model_validate(r) for r in rows]
