"""Emails owed by a committed change: written in its transaction, sent after it commits.

A payment's confirmation must not be lost when SES fails, nor sent when the payment's
transaction rolls back. So the email is a row written with the change, naming its template,
the recipients' language and the values to fill in; `flush` renders and sends what is unsent
(right after the commit, and again from a scheduled job) and marks it sent. Sending is at least
once: a crash between SES accepting and the mark re-sends on the next flush.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb

from reussite import db
from reussite.jsonable import jsonable
from reussite.observability import logger

_TAKE = """
    SELECT id, recipients, template, language, context FROM outbox_emails
     WHERE sent_at IS NULL AND (%(keys)s::text[] IS NULL OR key = ANY(%(keys)s))
       AND attempts < %(max_attempts)s AND NOT (id = ANY(%(tried)s::bigint[]))
     ORDER BY id LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED
"""
MAX_ATTEMPTS = 20


@dataclass(frozen=True)
class Recipient:
    email: str
    language: str = "fr"


def write(
    conn: db.Connection,
    key: str,
    to: Iterable[Recipient],
    template: str,
    context: dict[str, Any],
) -> None:
    """Owe the email `template` to `to`, inside the caller's transaction: one row per language
    among the recipients; the same key is owed once."""
    by_language: dict[str, set[str]] = {}
    for recipient in to:
        if recipient.email:
            by_language.setdefault(recipient.language or "fr", set()).add(recipient.email)
    for language, emails in sorted(by_language.items()):
        conn.execute(
            """INSERT INTO outbox_emails (key, recipients, template, language, context)
               VALUES (%s, %s, %s, %s, %s) ON CONFLICT (key, language) DO NOTHING""",
            (key, sorted(emails), template, language, Jsonb(jsonable(context))),
        )


def flush(keys: list[str] | None = None, limit: int = 100) -> int:
    """Send unsent emails (only those of `keys` if given); return how many were sent. A failed
    send is counted and left for the next flush."""
    from reussite.emails.rendering import render
    from reussite.notifications import send_email

    sent, tried = 0, list[int]()
    for _ in range(limit):
        with db.transaction() as conn:  # one email per short transaction, row locked meanwhile
            row = conn.execute(
                _TAKE, {"keys": keys, "max_attempts": MAX_ATTEMPTS, "tried": tried, "limit": 1}
            ).fetchone()
            if row is None:
                break
            tried.append(row["id"])
            try:
                email = render(row["template"], row["language"], row["context"])
                send_email(list(row["recipients"]), email.subject, email.text, email.html)
            except Exception as exc:  # SES refused or unreachable: try again later
                logger.warning("email not sent", extra={"email_id": row["id"], "error": str(exc)})
                conn.execute(
                    """UPDATE outbox_emails SET attempts = attempts + 1, last_error = %s
                        WHERE id = %s""",
                    (str(exc)[:500], row["id"]),
                )
                continue
            conn.execute(
                "UPDATE outbox_emails SET sent_at = now(), attempts = attempts + 1 WHERE id = %s",
                (row["id"],),
            )
            sent += 1
    return sent
