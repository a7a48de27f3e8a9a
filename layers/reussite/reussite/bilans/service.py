"""Asking for an orientation report, reading it, and writing it (the queue worker's part).

A request is answered at once: the questionnaire and a PENDING report are stored, the report is
queued. The worker writes the three passes in memory and stores the report in one statement:
a report is COMPLETED with its whole text or not at all; once the queue's retries are spent it
is FAILED with the reason. Either way the owner gets an email (outbox).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from psycopg.types.json import Jsonb

from reussite import db, emails, outbox, webhooks
from reussite.bilans.writers import PASSES, WriterFailed, writer
from reussite.errors import (
    Conflict,
    DependencyUnavailable,
    IdempotencyKeyReused,
    NotEligible,
    NotFound,
)
from reussite.identity.roles import Role
from reussite.observability import logger
from reussite.settings import get_settings

if TYPE_CHECKING:
    from reussite.bilans.models import BilanAccepted
    from reussite.identity.models import User


class BilanNotFound(NotFound):
    code = "BILAN_NOT_FOUND"
    title = "No such orientation report"


class BilanLimitReached(Conflict):
    code = "BILAN_LIMIT_REACHED"
    title = "One orientation report per student per year: the last one is less than a year old"


class BilanBusy(Exception):
    pass


_COLUMNS = """id, student_id, owner_id, status, passes_done, report_markdown, failure_reason,
    created_at, finished_at, questionnaire, idempotency_key"""
_PAID_ACTIVE_SUBSCRIPTION = """
    SELECT 1 FROM subscriptions s
      JOIN orders o ON o.subscription_id = s.id AND o.status = 'PAID'
     WHERE s.student_id = %s AND s.status IN ('ACTIVE', 'PAST_DUE')
"""
_CLAIM_MINUTES = 11  # a little over the worker's 10-minute timeout


def request(
    user: User, student_id: UUID | None, questionnaire: dict[str, Any], key: str
) -> BilanAccepted:
    """Store the questionnaire and a PENDING report, then queue it; a replay of the key returns
    the same report (and queues it again if still pending: the worker is idempotent)."""
    from reussite.identity import service as identity

    student = identity.acting_for(
        user, student_id, (Role.ELEVE, Role.PARENT), "Orientation reports are asked for by a family"
    )
    with db.transaction() as conn:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM bilans WHERE owner_id = %s AND idempotency_key = %s",
            (user.id, key),
        ).fetchone()
        if row is None:
            # One request per student at a time: the limit check and the insert see the same
            # history even when a parent and the student ask at once.
            conn.execute("SELECT id FROM students WHERE id = %s FOR UPDATE", (student,))
            if conn.execute(_PAID_ACTIVE_SUBSCRIPTION, (student,)).fetchone() is None:
                raise NotEligible("An orientation report comes with an active paid subscription")
            recent = conn.execute(
                """SELECT 1 FROM bilans WHERE student_id = %s AND status <> 'FAILED'
                      AND created_at > now() - interval '1 year'""",
                (student,),
            ).fetchone()
            if recent is not None:
                raise BilanLimitReached()
            row = conn.execute(
                f"""INSERT INTO bilans (student_id, owner_id, idempotency_key, questionnaire,
                           status)
                    VALUES (%s, %s, %s, %s, 'PENDING') RETURNING {_COLUMNS}""",
                (student, user.id, key, Jsonb(questionnaire)),
            ).fetchone()
            assert row is not None
        elif (row["student_id"], row["questionnaire"]) != (student, questionnaire):
            raise IdempotencyKeyReused()
    if row["status"] == "PENDING":
        _enqueue(row["id"])
    from reussite.bilans.models import BilanAccepted  # pydantic: the sweeper never needs it

    return BilanAccepted(id=row["id"], status=row["status"])


def _enqueue(bilan_id: UUID) -> None:
    from reussite.notifications import send_to_queue

    queue = get_settings().require("bilan_queue_url")
    try:
        send_to_queue(queue, {"bilan_id": str(bilan_id)})
    except Exception as exc:  # the report is stored: the same request again re-queues it
        logger.warning("report not queued", extra={"bilan_id": str(bilan_id), "error": str(exc)})
        raise DependencyUnavailable("The report is saved but could not be queued: retry") from exc


def get(user: User, bilan_id: UUID) -> dict[str, Any]:
    """The report, for its owner or a parent of its student; 404 for anyone else."""
    row = db.read_one(
        f"""SELECT {_COLUMNS} FROM bilans b
             WHERE b.id = %s AND (b.owner_id = %s OR EXISTS (
                   SELECT 1 FROM parent_students p
                    WHERE p.parent_id = %s AND p.student_id = b.student_id))""",
        (bilan_id, user.id, user.id),
    )
    if row is None:
        raise BilanNotFound()
    return row


def get_by_id(bilan_id: UUID) -> dict[str, Any]:
    """The report, for a caller a signed link vouches for."""
    row = db.read_one(f"SELECT {_COLUMNS} FROM bilans b WHERE b.id = %s", (bilan_id,))
    if row is None:
        raise BilanNotFound()
    return row


def requeue_stale(older_than_minutes: int = 15, limit: int = 200) -> int:
    """Queue again the reports still PENDING and held by no worker a while after they were
    asked for: their message was never sent (SQS down after the commit, and the family did not
    retry) or was lost. The worker is idempotent, so a report queued twice is written once."""
    rows = (
        db.connection()
        .execute(
            """SELECT id FROM bilans
                WHERE status = 'PENDING'
                  AND created_at < now() - make_interval(mins => %s)
                  AND (claimed_until IS NULL OR claimed_until < now())
                ORDER BY created_at LIMIT %s""",
            (older_than_minutes, limit),
        )
        .fetchall()
    )
    for row in rows:
        _enqueue(row["id"])
    return len(rows)


# -- the worker --------------------------------------------------------------------------------


def generate(bilan_id: str, receive_count: int = 1) -> str:
    """Write the report's three passes and store it whole; return its status. A writer failure
    propagates (the message is retried); on the last receive the report is FAILED first."""
    if not _claim(bilan_id):
        return "COMPLETED" if _status(bilan_id) == "COMPLETED" else _busy(bilan_id)
    try:
        row = db.read_one(
            f"""SELECT {_COLUMNS}, (SELECT display_name FROM students s
                                     WHERE s.id = b.student_id) AS display_name
                  FROM bilans b WHERE id = %s""",
            (bilan_id,),
        )
        assert row is not None
        try:
            author = writer()
            sections: list[str] = []
            for number, step in enumerate(PASSES, start=1):
                text = author.write(step, row["questionnaire"], sections)
                sections.append(f"## {step.title}\n\n{text}")
                db.connection().execute(
                    "UPDATE bilans SET passes_done = %s WHERE id = %s", (number, bilan_id)
                )
        except WriterFailed as failure:
            last = receive_count >= get_settings().bilan_max_receives
            if last or not failure.retryable:
                _fail(row, failure.reason)
            raise
        _complete(row, author.name, sections)
    finally:
        db.connection().execute("UPDATE bilans SET claimed_until = NULL WHERE id = %s", (bilan_id,))
    return "COMPLETED"


def _claim(bilan_id: str) -> bool:
    claimed = db.read_one(
        """UPDATE bilans SET claimed_until = now() + make_interval(mins => %s), passes_done = 0
            WHERE id = %s AND status <> 'COMPLETED'
              AND (claimed_until IS NULL OR claimed_until < now())
        RETURNING id""",
        (_CLAIM_MINUTES, bilan_id),
    )
    return claimed is not None


def _status(bilan_id: str) -> str | None:
    row = db.read_one("SELECT status FROM bilans WHERE id = %s", (bilan_id,))
    return row["status"] if row else None


def _busy(bilan_id: str) -> str:
    if _status(bilan_id) is None:
        logger.warning("no such report: message dropped", extra={"bilan_id": bilan_id})
        return "MISSING"
    raise BilanBusy(bilan_id)  # another worker is writing it: this message comes back later


def _complete(row: dict[str, Any], author: str, sections: list[str]) -> None:
    today = datetime.now(UTC).date()
    markdown = (
        f"# Bilan d'orientation — {row['display_name']}\n\n"
        f"*Rédigé le {today:%d/%m/%Y}.*\n\n" + "\n\n".join(sections) + "\n"
    )
    with db.transaction() as conn:
        done = conn.execute(
            """UPDATE bilans SET status = 'COMPLETED', report_markdown = %s, writer = %s,
                      failure_reason = NULL, finished_at = now(), passes_done = 3
                WHERE id = %s AND status <> 'COMPLETED' RETURNING id""",
            (markdown, author, row["id"]),
        ).fetchone()
        if done:
            _owe_email(conn, row, "completed", sections)
            webhooks.emit(
                conn,
                "bilan.completed",
                f"bilan:{row['id']}",
                {"bilan_id": row["id"], "student_id": row["student_id"], "writer": author},
            )
    outbox.flush(keys=[f"bilan-completed:{row['id']}"])
    webhooks.dispatch_for("bilan.completed", f"bilan:{row['id']}")


def _fail(row: dict[str, Any], reason: str) -> None:
    with db.transaction() as conn:
        done = conn.execute(
            """UPDATE bilans SET status = 'FAILED', failure_reason = %s, finished_at = now()
                WHERE id = %s AND status = 'PENDING' RETURNING id""",
            (reason[:500], row["id"]),
        ).fetchone()
        if done:
            _owe_email(conn, row, "failed")
    outbox.flush(keys=[f"bilan-failed:{row['id']}"])


def _owe_email(
    conn: db.Connection, row: dict[str, Any], outcome: str, sections: list[str] | None = None
) -> None:
    """The owner is told, in their language, with a signed link that opens the report's page
    without signing in; a ready report's email sums up each section."""
    from reussite import links
    from reussite.bilans.writers import PASSES

    token = links.sign(f"bilan:{row['id']}")
    base = get_settings().public_base_url.rstrip("/")
    values: dict[str, Any] = {
        "student": row["display_name"],
        "link": f"{base}/v1/bilans/{row['id']}/page?token={token}",
        "support_url": get_settings().support_url,
        "sections": [
            {"code": step.code, "excerpt": excerpt(text)}
            for step, text in zip(PASSES, sections or [], strict=False)
        ],
    }
    template = "bilan_ready" if outcome == "completed" else "bilan_failed"
    key = f"bilan-{outcome}:{row['id']}"
    emails.owe(conn, key, emails.person(conn, row["owner_id"]), template, values)


_LIST_MARK = re.compile(r"^\s*(?:[-*+>]|\d+[.)])\s+")


def excerpt(markdown: str, limit: int = 160) -> str:
    """The first sentences of a section, as plain text, cut at a word under `limit`."""
    lines = [
        _LIST_MARK.sub("", line).strip()
        for line in markdown.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    text = " ".join(" ".join(lines).replace("**", "").replace("__", "").replace("`", "").split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"
