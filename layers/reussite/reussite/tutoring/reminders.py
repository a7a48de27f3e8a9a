"""Tutoring's emails and its reminder job: what the daily reminder worker imports, free of the
HTTP models (pydantic is not on a scheduled job's cold start)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from reussite import db, emails, outbox
from reussite.errors import NotFound
from reussite.settings import get_settings


class BookingNotFound(NotFound):
    code = "BOOKING_NOT_FOUND"
    title = "No such tutoring session"


BOOKING = """
    SELECT b.id, b.session_id, b.student_id, b.status, b.credits, b.booked_by,
           b.cancelled_at, COALESCE(re.amount, 0) > 0 AS refunded,
           COALESCE(re.amount, 0) AS refunded_credits, b.created_at,
           s.coach_id, c.display_name AS coach_name, s.service_code, s.subject, s.starts_at,
           s.ends_at, s.status AS session_status, s.room_url, st.display_name AS student_name,
           svc.name AS service_name
      FROM tutoring_bookings b
      JOIN tutoring_sessions s ON s.id = b.session_id
      JOIN coaches c ON c.user_id = s.coach_id
      JOIN students st ON st.id = b.student_id
      JOIN tutoring_services svc ON svc.code = s.service_code
      LEFT JOIN ledger_entries re ON re.id = b.refund_entry_id
"""


ROOM_OPENS_BEFORE = timedelta(minutes=10)  # the room opens this long before the start


def with_room(row: dict[str, Any]) -> dict[str, Any]:
    """A session's row as its people see it: `room_url` is the room's link (the same for the
    coach and every student), which opens the video room from ROOM_OPENS_BEFORE the start to
    the end; the video room's own address is given only inside that window."""
    from reussite import links

    session_id, ends_at = row.get("session_id", row.get("id")), row["ends_at"]
    # valid until an hour after the end (the room refuses after the end anyway): the same
    # link every time it is given
    token = links.sign(f"room:{session_id}", 3600, now=ends_at.timestamp())
    base = get_settings().public_base_url.rstrip("/")
    return row | {
        "room_url": f"{base}/v1/rooms/{session_id}?token={token}",
        "room_opens_at": row["starts_at"] - ROOM_OPENS_BEFORE,
        "room_closes_at": ends_at,
    }


def booking_row(conn: db.Connection, booking_id: UUID) -> dict[str, Any]:
    row = conn.execute(f"{BOOKING} WHERE b.id = %s", (booking_id,)).fetchone()
    if row is None:
        raise BookingNotFound()
    return with_room(dict(row))


def send_reminders() -> int:
    """Remind the family and the coach of each session starting within the reminder window.
    Each booking is claimed once (its row updated with the email owed, in one transaction), so
    a schedule firing twice, or two runs at once, remind once."""
    hours = get_settings().reminder_hours
    with db.transaction() as conn:
        claimed = conn.execute(
            """UPDATE tutoring_bookings b SET reminder_sent_at = now()
                 FROM tutoring_sessions s
                WHERE s.id = b.session_id AND b.status = 'BOOKED'
                  AND b.reminder_sent_at IS NULL AND s.status = 'SCHEDULED'
                  AND s.starts_at > now() AND s.starts_at <= now() + make_interval(hours => %s)
            RETURNING b.id""",
            (hours,),
        ).fetchall()
        keys = []
        for row in claimed:
            found = booking_row(conn, row["id"])
            owe_emails(conn, found, "reminder")
            keys += email_keys(row["id"], "reminder")
    if keys:
        outbox.flush(keys=keys)
    return len(claimed)


def email_keys(booking_id: UUID, event: str) -> list[str]:
    return [f"tutoring-{event}:{booking_id}:{who}" for who in ("family", "coach")]


def owe_emails(conn: db.Connection, booking: dict[str, Any], event: str) -> None:
    """The family (the student, their parents, who booked) and the coach are told, each in
    their language; the session's time in the school's time zone."""
    values = {
        "service": booking["service_code"],
        "service_name": booking["service_name"],
        "subject": booking["subject"],
        "coach": booking["coach_name"],
        "student": booking["student_name"],
        "starts_at": booking["starts_at"],
        "minutes": int((booking["ends_at"] - booking["starts_at"]).total_seconds() // 60),
        "room_url": booking["room_url"],
        "refunded": bool(booking["refunded"]),
        "credits": booking["refunded_credits"],
    }
    template = {
        "booked": "session_booked",
        "cancelled": "session_cancelled",
        "reminder": "session_reminder",
    }[event]
    family_key, coach_key = email_keys(booking["id"], event)
    family = emails.family(conn, booking["student_id"], booking["booked_by"])
    emails.owe(conn, family_key, family, template, values)
    emails.owe(conn, coach_key, emails.person(conn, booking["coach_id"]), template, values)
