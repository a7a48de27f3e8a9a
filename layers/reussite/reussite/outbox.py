"""Emails owed by a committed change: written in its transaction, sent after it commits.

A payment's confirmation must not be lost when SES fails, nor sent when the payment's
transaction rolls back. So the email is a row written with the change; `flush` sends what is
unsent (right after the commit, and again from a scheduled job) and marks it sent. Sending is
at least once: a crash between SES accepting and the mark re-sends on the next flush.
"""

from __future__ import annotations

from reussite import db
from reussite.observability import logger

_TAKE = """
    SELECT id, recipients, subject, body FROM outbox_emails
     WHERE sent_at IS NULL AND (%(keys)s::text[] IS NULL OR key = ANY(%(keys)s))
       AND attempts < %(max_attempts)s AND NOT (id = ANY(%(tried)s::bigint[]))
     ORDER BY id LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED
"""
MAX_ATTEMPTS = 20


def write(conn: db.Connection, key: str, recipients: list[str], subject: str, body: str) -> None:
    """Owe an email, inside the caller's transaction; the same key is owed once."""
    if not recipients:
        return
    conn.execute(
        """INSERT INTO outbox_emails (key, recipients, subject, body) VALUES (%s, %s, %s, %s)
           ON CONFLICT (key) DO NOTHING""",
        (key, recipients, subject, body),
    )


def flush(keys: list[str] | None = None, limit: int = 100) -> int:
    """Send unsent emails (only those of `keys` if given); return how many were sent. A failed
    send is counted and left for the next flush."""
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
                send_email(list(row["recipients"]), row["subject"], row["body"])
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
