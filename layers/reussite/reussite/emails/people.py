"""Who an email goes to, each with the language they read (their profile's; French by
default)."""

from __future__ import annotations

from uuid import UUID

from reussite import db
from reussite.outbox import Recipient


def _of(conn: db.Connection, sql: str, params: dict[str, object]) -> list[Recipient]:
    return [
        Recipient(r["email"], r["language"])
        for r in conn.execute(sql, params).fetchall()
        if r["email"]
    ]


def family(conn: db.Connection, student_id: UUID, *also: UUID | None) -> list[Recipient]:
    """The student (if they have an account with an email), their parents, and `also` (who
    acted for them, say)."""
    return _of(
        conn,
        """SELECT email, language FROM users WHERE email IS NOT NULL AND (
                  id = (SELECT user_id FROM students WHERE id = %(s)s)
               OR id IN (SELECT parent_id FROM parent_students WHERE student_id = %(s)s)
               OR id = ANY(%(also)s::uuid[]))
            ORDER BY email""",
        {"s": student_id, "also": [a for a in also if a is not None]},
    )


def parents(conn: db.Connection, student_id: UUID) -> list[Recipient]:
    return _of(
        conn,
        """SELECT u.email, u.language FROM parent_students ps JOIN users u ON u.id = ps.parent_id
            WHERE ps.student_id = %(s)s AND u.email IS NOT NULL ORDER BY u.email""",
        {"s": student_id},
    )


def person(conn: db.Connection, user_id: UUID) -> list[Recipient]:
    return _of(
        conn,
        "SELECT email, language FROM users WHERE id = %(u)s AND email IS NOT NULL",
        {"u": user_id},
    )
