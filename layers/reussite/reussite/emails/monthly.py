"""The monthly emails to each parent, on the first of the month: the past month's report per
child (credits granted, used, expired and expiring; exams taken and passed; certificates;
tutoring sessions attended; the progress coaches recorded; the orientation report's status),
and, when there are any, the credits that expire within 30 days and those that expired during
the month.

Parents are taken in batches (keyset on their id), figures computed set-based per batch, the
emails owed in the batch's transaction under keys naming the parent and the month: running it
again, or after a failure part-way, owes nothing twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from reussite import db, outbox
from reussite.outbox import Recipient
from reussite.settings import get_settings

EXPIRING_DAYS = 30

# One row per (parent, child) of the batch's parents; the month is [start, end) in the school's
# time zone. "Used" is what was spent less what was refunded in the month.
_FIGURES = """
    WITH kids AS (
        SELECT ps.parent_id, u.email, u.language, coalesce(u.profile_name, u.name) AS parent_name,
               s.id AS student_id, s.display_name, w.id AS wallet_id, w.balance
          FROM parent_students ps
          JOIN users u ON u.id = ps.parent_id
          JOIN students s ON s.id = ps.student_id
          JOIN wallets w ON w.student_id = s.id
         WHERE ps.parent_id = ANY(%(parents)s)
    ), moves AS (
        SELECT k.student_id,
               coalesce(sum(e.amount) FILTER (WHERE e.kind = 'GRANT'), 0) AS granted,
               coalesce(-sum(e.amount) FILTER (WHERE e.kind IN ('SPEND', 'REFUND')), 0) AS used,
               coalesce(-sum(e.amount) FILTER (WHERE e.kind = 'EXPIRE'), 0) AS expired
          FROM kids k
          JOIN ledger_entries e ON e.wallet_id = k.wallet_id
         WHERE e.created_at >= %(start)s AND e.created_at < %(end)s
         GROUP BY k.student_id
    )
    SELECT k.parent_id, k.email, k.language, k.parent_name, k.student_id, k.display_name,
           k.balance,
           coalesce(m.granted, 0)::int AS granted, coalesce(m.used, 0)::int AS used,
           coalesce(m.expired, 0)::int AS expired,
           (SELECT coalesce(sum(l.remaining), 0) FROM credit_lots l
             WHERE l.wallet_id = k.wallet_id AND l.remaining > 0
               AND l.expires_at > %(now)s AND l.expires_at <= %(horizon)s)::int AS expiring,
           (SELECT min(l.expires_at) FROM credit_lots l
             WHERE l.wallet_id = k.wallet_id AND l.remaining > 0
               AND l.expires_at > %(now)s AND l.expires_at <= %(horizon)s) AS first_expiry,
           (SELECT count(*) FROM exam_attempts a
             WHERE a.student_id = k.student_id AND a.status = 'GRADED'
               AND a.submitted_at >= %(start)s AND a.submitted_at < %(end)s)
         + (SELECT count(*) FROM qualification_outcomes o
             WHERE o.student_id = k.student_id AND o.superseded_at IS NULL
               AND o.created_at >= %(start)s AND o.created_at < %(end)s) AS exams_taken,
           (SELECT count(*) FROM exam_attempts a
             WHERE a.student_id = k.student_id AND a.status = 'GRADED' AND a.passed
               AND a.submitted_at >= %(start)s AND a.submitted_at < %(end)s)
         + (SELECT count(*) FROM qualification_outcomes o
             WHERE o.student_id = k.student_id AND o.superseded_at IS NULL AND o.passed
               AND o.created_at >= %(start)s AND o.created_at < %(end)s) AS exams_passed,
           (SELECT count(*) FROM certificates c
             WHERE c.student_id = k.student_id
               AND c.issued_at >= %(start)s AND c.issued_at < %(end)s) AS certificates,
           (SELECT count(*) FROM tutoring_bookings b
              JOIN tutoring_sessions t ON t.id = b.session_id
             WHERE b.student_id = k.student_id AND b.status = 'ATTENDED'
               AND t.starts_at >= %(start)s AND t.starts_at < %(end)s) AS sessions_attended,
           coalesce((SELECT b.status FROM bilans b WHERE b.student_id = k.student_id
                      ORDER BY b.created_at DESC LIMIT 1), 'NONE') AS bilan_status,
           (SELECT coalesce(jsonb_agg(jsonb_build_object('subject', p.subject,
                                      'level', p.level, 'skills', p.skills)
                                      ORDER BY p.subject), '[]')
              FROM (SELECT DISTINCT ON (subject) subject, level, skills FROM progress_entries
                     WHERE student_id = k.student_id
                       AND created_at >= %(start)s AND created_at < %(end)s
                     ORDER BY subject, created_at DESC) p) AS progress
      FROM kids k LEFT JOIN moves m ON m.student_id = k.student_id
     ORDER BY k.parent_id, k.display_name, k.student_id
"""
_PARENTS = """
    SELECT DISTINCT ps.parent_id FROM parent_students ps JOIN users u ON u.id = ps.parent_id
     WHERE coalesce(u.email, '') <> '' AND ps.parent_id > %(after)s
     ORDER BY ps.parent_id LIMIT %(limit)s
"""


@dataclass(frozen=True)
class MonthlyReport:
    month: date
    parents: int
    reports: int
    expiring_notices: int
    expired_notices: int
    emails_sent: int


def month_reported(today: date) -> date:
    """The month a run on `today` reports: the previous one (its first day)."""
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def run(now: datetime | None = None, batch: int = 1000, send: bool = True) -> MonthlyReport:
    """Owe (and, with `send`, send) the monthly emails for the month before `now`'s."""
    now = now or datetime.now(UTC)
    zone = ZoneInfo(get_settings().school_timezone)
    month = month_reported(now.astimezone(zone).date())
    following = (month + timedelta(days=32)).replace(day=1)
    window = {
        "start": datetime.combine(month, time(), zone),
        "end": datetime.combine(following, time(), zone),
        "now": now,
        "horizon": now + timedelta(days=EXPIRING_DAYS),
    }
    counts = {"parents": 0, "reports": 0, "expiring": 0, "expired": 0}
    after = UUID(int=0)
    while True:
        parents = [
            r["parent_id"]
            for r in db.connection().execute(_PARENTS, {"after": after, "limit": batch})
        ]
        if not parents:
            break
        after = parents[-1]
        with db.transaction() as conn:
            rows = conn.execute(_FIGURES, window | {"parents": parents}).fetchall()
            for parent_rows in _by_parent(rows):
                _owe(conn, month, parent_rows, counts)
        counts["parents"] += len(parents)
    sent = outbox.flush(limit=1_000_000) if send else 0
    return MonthlyReport(
        month=month,
        parents=counts["parents"],
        reports=counts["reports"],
        expiring_notices=counts["expiring"],
        expired_notices=counts["expired"],
        emails_sent=sent,
    )


def _by_parent(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    groups: dict[UUID, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["parent_id"], []).append(row)
    return list(groups.values())


def _owe(
    conn: db.Connection, month: date, rows: list[dict[str, Any]], counts: dict[str, int]
) -> None:
    first = rows[0]
    to = [Recipient(first["email"], first["language"])]
    suffix = f"{first['parent_id']}:{month:%Y-%m}"
    children = [
        {
            "name": r["display_name"],
            "granted": r["granted"],
            "used": r["used"],
            "expired": r["expired"],
            "expiring": r["expiring"],
            "balance": r["balance"],
            "exams_taken": r["exams_taken"],
            "exams_passed": r["exams_passed"],
            "certificates": r["certificates"],
            "sessions_attended": r["sessions_attended"],
            "bilan_status": r["bilan_status"],
            "progress": r["progress"],  # the month's latest level per subject, if recorded
        }
        for r in rows
    ]
    report = {"name": first["parent_name"], "month": month, "children": children}
    outbox.write(conn, f"monthly-report:{suffix}", to, "monthly_report", report)
    counts["reports"] += 1
    expiring = [
        {"name": r["display_name"], "credits": r["expiring"], "first_expiry": r["first_expiry"]}
        for r in rows
        if r["expiring"] > 0
    ]
    if expiring:
        context = {"days": EXPIRING_DAYS, "children": expiring}
        outbox.write(conn, f"credits-expiring:{suffix}", to, "credits_expiring", context)
        counts["expiring"] += 1
    expired = [{"name": r["display_name"], "credits": r["expired"]} for r in rows if r["expired"]]
    if expired:
        context = {"month": month, "children": expired}
        outbox.write(conn, f"credits-expired:{suffix}", to, "credits_expired", context)
        counts["expired"] += 1
