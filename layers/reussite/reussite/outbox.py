"""Emails owed by a committed change: written in its transaction, sent after it commits.

A payment's confirmation must not be lost when SES fails, nor sent when the payment's
transaction rolls back. So the email is a row written with the change, naming its template,
the recipients' language and the values to fill in; `flush` renders and sends what is unsent
(right after the commit, and again from a scheduled job) and marks it sent. Each email is
claimed for a while in one short transaction and sent outside it. Sending is at least once: a
crash between SES accepting and the mark re-sends it once the claim lapses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb

from reussite import db
from reussite.jsonable import jsonable
from reussite.observability import logger

# Claim up to a batch of unsent emails nobody else holds, in one statement (its own short
# transaction): another flush (a retry, the scheduled job) skips them until the claim lapses,
# so an email is sent by one flush at a time, and a crashed sender's claim runs out.
_CLAIM = """
    UPDATE outbox_emails SET claimed_until = now() + make_interval(secs => %(hold)s)
     WHERE id IN (
        SELECT id FROM outbox_emails
         WHERE sent_at IS NULL AND (%(keys)s::text[] IS NULL OR key = ANY(%(keys)s))
           AND attempts < %(max_attempts)s AND NOT (id = ANY(%(tried)s::bigint[]))
           AND (claimed_until IS NULL OR claimed_until < now())
         ORDER BY id LIMIT %(batch)s
           FOR UPDATE SKIP LOCKED)
    RETURNING id, recipients, template, language, context
"""
CLAIM_BATCH = 10  # sent one by one within the claim's hold, even if SES is slow to answer
MAX_ATTEMPTS = 20
CLAIM_SECONDS = 120  # longer than SES takes to answer or time out


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
    send is counted and left for the next flush. No transaction is open while SES answers: the
    claim and each mark are single statements; a flush of a change's own emails is one claim
    and a mark per email."""
    if db.connection().info.transaction_status != TransactionStatus.IDLE:
        raise RuntimeError("outbox.flush inside a transaction: emails are sent after the commit")
    sent, tried = 0, list[int]()
    while sent + len(tried) < limit:
        batch = min(CLAIM_BATCH, limit - sent - len(tried))
        claimed = (
            db.connection()
            .execute(
                _CLAIM,
                {
                    "keys": keys,
                    "max_attempts": MAX_ATTEMPTS,
                    "tried": tried,
                    "hold": CLAIM_SECONDS,
                    "batch": batch,
                },
            )
            .fetchall()
        )
        if claimed:  # the renderer (jinja2) and the mailer load only when there is mail
            from reussite.emails.rendering import render
            from reussite.notifications import send_email
        for row in sorted(claimed, key=lambda r: int(r["id"])):
            try:  # outside any transaction: no lock is held while SES answers
                email = render(row["template"], row["language"], row["context"])
                send_email(list(row["recipients"]), email.subject, email.text, email.html)
            except Exception as exc:  # SES refused or unreachable: try again later
                logger.warning("email not sent", extra={"email_id": row["id"], "error": str(exc)})
                _mark(row["id"], str(exc)[:500])
                tried.append(row["id"])  # not again in this flush (a sent one is never claimed)
                continue
            _mark(row["id"], None)
            sent += 1
        if len(claimed) < batch:  # nothing more to claim: no further (empty) claim
            break
    return sent


def _mark(email_id: int, error: str | None) -> None:
    """Sent (no error), or counted as a failed attempt; the claim is released either way."""
    conn = db.connection()
    if error is None:
        conn.execute(
            """UPDATE outbox_emails SET sent_at = now(), attempts = attempts + 1,
                      claimed_until = NULL WHERE id = %s""",
            (email_id,),
        )
    else:
        conn.execute(
            """UPDATE outbox_emails SET attempts = attempts + 1, last_error = %s,
                      claimed_until = NULL WHERE id = %s""",
            (error, email_id),
        )
