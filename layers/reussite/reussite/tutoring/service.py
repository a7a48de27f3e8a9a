"""Booking live tutoring with a coach: credits spent and the session created in one
transaction, no double booking of a coach, cancellation with the refund rule, reminders once.

Every booking of a coach takes the coach's row lock before looking for overlapping sessions,
so concurrent bookings of a slot are serialised and only the first gets it.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID
from zoneinfo import ZoneInfo

from reussite import audit, db, outbox
from reussite.errors import Conflict, DomainError, IdempotencyKeyReused, NotFound
from reussite.history import Page, by_code, paged
from reussite.idempotency import fingerprint, require_same
from reussite.identity.access import require_role, require_staff
from reussite.identity.roles import STAFF_ROLES, Role
from reussite.ledger import service as ledger
from reussite.settings import get_settings
from reussite.tutoring.models import AgendaSession, Coach, Service, TutoringBooking
from reussite.tutoring.reminders import (
    BOOKING,
    BookingNotFound,
    booking_row,
    email_keys,
    owe_emails,
    with_room,
)

if TYPE_CHECKING:
    from reussite.identity.models import User


class CoachNotFound(NotFound):
    code = "COACH_NOT_FOUND"
    title = "No such coach"


class ServiceNotFound(NotFound):
    code = "SERVICE_NOT_FOUND"
    title = "No such tutoring service"


class SlotUnavailable(Conflict):
    code = "SLOT_UNAVAILABLE"
    title = "The coach does not offer this slot"


class SlotTaken(Conflict):
    code = "SLOT_TAKEN"
    title = "The coach already has a session at that time"


class AlreadyCancelled(Conflict):
    code = "ALREADY_CANCELLED"
    title = "This session is already cancelled"


class TooLate(Conflict):
    code = "SESSION_NOT_OPEN"
    title = "This is not possible at this point of the session"


class InvalidSlot(DomainError):
    code = "INVALID_SLOT"
    status = 422
    title = "The slot must start in the future"


_BOOKERS = (Role.ELEVE, Role.PARENT, *STAFF_ROLES)


# -- coaches and services ----------------------------------------------------------------------


def services(cursor: str | None, limit: int) -> Page[Service]:
    rows, following = by_code(
        "services",
        """SELECT t.* FROM (SELECT code AS id, * FROM tutoring_services) t
            WHERE {keyset} ORDER BY t.id LIMIT %(limit)s""",
        {},
        cursor,
        limit,
    )
    return Page[Service](items=[Service.model_validate(r) for r in rows], next=following)


def coaches(
    subject: str | None, cursor: str | None, limit: int, only: UUID | None = None
) -> Page[Coach]:
    """Coaches by name (teaching `subject`, if named; the `only` one), with their weekly
    availability."""
    rows, following = paged(
        "coaches",
        """SELECT t.id, t.display_name, t.subjects,
                  coalesce(jsonb_agg(jsonb_build_object('weekday', a.weekday,
                           'starts', a.starts, 'ends', a.ends)
                           ORDER BY a.weekday, a.starts)
                           FILTER (WHERE a.coach_id IS NOT NULL), '[]') AS availability
             FROM (SELECT user_id AS id, display_name, subjects FROM coaches) t
             LEFT JOIN coach_availability a ON a.coach_id = t.id
            WHERE (%(subject)s::text IS NULL OR %(subject)s = ANY(t.subjects))
              AND (%(only)s::uuid IS NULL OR t.id = %(only)s) AND {keyset}
            GROUP BY t.id, t.display_name, t.subjects
            ORDER BY t.display_name, t.id LIMIT %(limit)s""",
        {"subject": subject, "only": only},
        cursor,
        limit,
        column="display_name",
        ascending=True,
        column_type="text",
    )
    zone = get_settings().school_timezone
    items = [Coach.model_validate(r | {"timezone": zone}) for r in rows]
    return Page[Coach](items=items, next=following)


def save_coach(
    staff: User, user_id: UUID, subjects: list[str], availability: list[dict[str, Any]]
) -> Coach:
    """Staff describe a coach: the subjects taught and the weekly availability (replaced)."""
    require_staff(staff, "Staff manage coaches")
    with db.transaction() as conn:
        person = conn.execute(
            "SELECT id, name, role FROM users WHERE id = %s", (user_id,)
        ).fetchone()
        if person is None or person["role"] != Role.COACH:
            raise CoachNotFound("No user with the COACH role has this id")
        conn.execute(
            """INSERT INTO coaches (user_id, display_name, subjects) VALUES (%s, %s, %s)
               ON CONFLICT (user_id) DO UPDATE SET subjects = EXCLUDED.subjects""",
            (user_id, person["name"] or "Coach", subjects),
        )
        conn.execute("DELETE FROM coach_availability WHERE coach_id = %s", (user_id,))
        for slot in availability:
            conn.execute(
                """INSERT INTO coach_availability (coach_id, weekday, starts, ends)
                   VALUES (%s, %s, %s, %s)""",
                (user_id, slot["weekday"], slot["starts"], slot["ends"]),
            )
    return coaches(None, None, 1, only=user_id).items[0]


# -- booking -----------------------------------------------------------------------------------


def book(
    user: User,
    coach_id: UUID,
    service_code: str,
    subject: str,
    starts_at: datetime,
    student_id: UUID | None,
    key: str,
) -> TutoringBooking:
    """Book a slot: the credits are spent and the session created (or, for a group workshop,
    joined) in one transaction; a slot overlapping another session of the coach is refused."""
    from reussite.identity import service as identity

    student = identity.acting_for(
        user, student_id, _BOOKERS, "Families (or staff for them) book tutoring"
    )
    if starts_at <= datetime.now(UTC):
        raise InvalidSlot()
    request = fingerprint(
        "tutoring.book",
        coach=coach_id,
        service=service_code,
        subject=subject,
        starts_at=starts_at.astimezone(UTC).isoformat(),
        student=student,
    )
    with db.transaction() as conn:
        replay = _replayed_booking(conn, user, key, student, request)
        if replay is not None:
            return TutoringBooking.model_validate(replay)
        service = conn.execute(
            "SELECT * FROM tutoring_services WHERE code = %s", (service_code,)
        ).fetchone()
        if service is None:
            raise ServiceNotFound()
        ends_at = starts_at + timedelta(minutes=service["duration_minutes"])
        coach = conn.execute(  # the coach's lock: bookings of this coach go one at a time
            "SELECT user_id, subjects FROM coaches WHERE user_id = %s FOR UPDATE", (coach_id,)
        ).fetchone()
        if coach is None:
            raise CoachNotFound()
        replay = _replayed_booking(conn, user, key, student, request)  # committed while we waited
        if replay is not None:
            return TutoringBooking.model_validate(replay)
        if subject not in coach["subjects"]:
            raise SlotUnavailable(f"This coach teaches: {', '.join(coach['subjects'])}")
        _within_availability(conn, coach_id, starts_at, ends_at)
        session = _session_for(conn, coach_id, service, subject, starts_at, ends_at)
        booking = conn.execute(
            """INSERT INTO tutoring_bookings (session_id, student_id, status, credits,
                       idempotency_key, booked_by, request_hash)
               VALUES (%s, %s, 'BOOKED', %s, %s, %s, %s)
               ON CONFLICT DO NOTHING RETURNING id""",
            (session["id"], student, service["credits"], key, user.id, request),
        ).fetchone()
        if booking is None:  # the same key committed meanwhile: its answer; else a real clash
            replay = _replayed_booking(conn, user, key, student, request)
            if replay is not None:
                return TutoringBooking.model_validate(replay)
            raise SlotTaken("This student already has this session")
        spent = ledger.spend(
            ledger.wallet_of(student),
            service["credits"],
            key=f"tutoring:{booking['id']}",
            purpose=f"tutoring {service_code} {starts_at:%Y-%m-%d %H:%M}",
            actor_id=user.id,
            conn=conn,
        )
        conn.execute(
            "UPDATE tutoring_bookings SET spend_entry_id = %s WHERE id = %s",
            (spent.entry_id, booking["id"]),
        )
        found = booking_row(conn, booking["id"])
        owe_emails(conn, found, "booked")
    outbox.flush(keys=email_keys(found["id"], "booked"))
    return TutoringBooking.model_validate(found)


def _replayed_booking(
    conn: db.Connection, user: User, key: str, student: UUID, request: str
) -> dict[str, Any] | None:
    replay = conn.execute(
        "SELECT id, student_id, request_hash FROM tutoring_bookings"
        " WHERE booked_by = %s AND idempotency_key = %s",
        (user.id, key),
    ).fetchone()
    if replay is None:
        return None
    if replay["student_id"] != student:
        raise IdempotencyKeyReused()
    require_same(replay["request_hash"], request)
    return booking_row(conn, replay["id"])


def _within_availability(
    conn: db.Connection, coach_id: UUID, starts_at: datetime, ends_at: datetime
) -> None:
    zone = ZoneInfo(get_settings().school_timezone)
    start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    if start.date() != end.date():
        raise SlotUnavailable("A session starts and ends on the same day")
    ok = conn.execute(
        """SELECT 1 FROM coach_availability
            WHERE coach_id = %s AND weekday = %s AND starts <= %s AND ends >= %s""",
        (coach_id, start.isoweekday(), start.time(), end.time()),
    ).fetchone()
    if ok is None:
        raise SlotUnavailable()


def _session_for(
    conn: db.Connection,
    coach_id: UUID,
    service: dict[str, Any],
    subject: str,
    starts_at: datetime,
    ends_at: datetime,
) -> dict[str, Any]:
    """The session to book: a group workshop at that very slot with a seat left, else a new
    session, provided nothing else of the coach's overlaps it."""
    if service["capacity"] > 1:
        joined = conn.execute(
            """SELECT s.id FROM tutoring_sessions s
                WHERE s.coach_id = %s AND s.service_code = %s AND s.subject = %s
                  AND s.starts_at = %s AND s.status = 'SCHEDULED'
                  AND (SELECT count(*) FROM tutoring_bookings b
                        WHERE b.session_id = s.id AND b.status <> 'CANCELLED') < %s""",
            (coach_id, service["code"], subject, starts_at, service["capacity"]),
        ).fetchone()
        if joined is not None:
            return dict(joined)
    clash = conn.execute(
        """SELECT 1 FROM tutoring_sessions
            WHERE coach_id = %s AND status <> 'CANCELLED'
              AND tstzrange(starts_at, ends_at) && tstzrange(%s, %s)""",
        (coach_id, starts_at, ends_at),
    ).fetchone()
    if clash is not None:
        raise SlotTaken()
    room = f"{get_settings().video_base_url.rstrip('/')}/reussite-{secrets.token_urlsafe(18)}"
    created = conn.execute(
        """INSERT INTO tutoring_sessions (coach_id, service_code, subject, starts_at, ends_at,
                   status, room_url)
           VALUES (%s, %s, %s, %s, %s, 'SCHEDULED', %s) RETURNING id""",
        (coach_id, service["code"], subject, starts_at, ends_at, room),
    ).fetchone()
    assert created is not None
    return dict(created)


def my_sessions(
    user: User, cursor: str | None = None, limit: int = 20
) -> tuple[list[TutoringBooking], str | None]:
    """The student's (or a parent's children's) bookings, latest session first; a page and the
    next page's cursor."""
    from reussite.history import paged

    rows, following = paged(
        "my-tutoring",
        f"""SELECT * FROM ({BOOKING}
                WHERE b.student_id = %(me)s OR b.student_id IN (
                      SELECT student_id FROM parent_students WHERE parent_id = %(user)s)) t
             WHERE {{keyset}}
             ORDER BY t.starts_at DESC, t.id DESC LIMIT %(limit)s""",
        {"me": user.student_id, "user": user.id},
        cursor,
        limit,
        column="starts_at",
    )
    return [TutoringBooking.model_validate(with_room(r)) for r in rows], following


# -- cancelling --------------------------------------------------------------------------------


def cancel(user: User, booking_id: UUID, at: datetime | None = None) -> TutoringBooking:
    """Cancel a booked session. The family gets its credits back (to the lots they came from)
    when it cancels at least the configured hours ahead; the coach or staff cancelling always
    refunds. The coach's slot is freed when nobody is left booked on it."""
    with db.transaction() as conn:
        booking = conn.execute(
            f"{BOOKING} WHERE b.id = %s FOR UPDATE OF b", (booking_id,)
        ).fetchone()
        if booking is None or not _may_cancel(conn, user, booking):
            raise BookingNotFound()
        if booking["status"] == "CANCELLED":
            raise AlreadyCancelled()
        if booking["status"] != "BOOKED":
            raise TooLate("Only a booked session is cancelled")
        now = at or conn.execute("SELECT now() AS t").fetchone()["t"]  # type: ignore[index]
        notice = timedelta(hours=get_settings().cancellation_refund_hours)
        by_provider = user.role in STAFF_ROLES or user.id == booking["coach_id"]
        refund = by_provider or booking["starts_at"] - now >= notice
        refund_entry = None
        if refund:
            refunded = ledger.refund(
                ledger.wallet_of(booking["student_id"]),
                f"tutoring:{booking_id}",
                f"tutoring cancelled {booking_id}",
                actor_id=user.id,
                conn=conn,
            )
            refund_entry = refunded.entry_id
        conn.execute(
            """UPDATE tutoring_bookings SET status = 'CANCELLED', cancelled_by = %s,
                      cancelled_at = %s, refund_entry_id = %s
                WHERE id = %s""",
            (user.id, now, refund_entry, booking_id),
        )
        conn.execute(
            """UPDATE tutoring_sessions SET status = 'CANCELLED'
                WHERE id = %s AND NOT EXISTS (
                      SELECT 1 FROM tutoring_bookings
                       WHERE session_id = %s AND status <> 'CANCELLED')""",
            (booking["session_id"], booking["session_id"]),
        )
        found = booking_row(conn, booking_id)
        owe_emails(conn, found, "cancelled")
    outbox.flush(keys=email_keys(booking_id, "cancelled"))
    return TutoringBooking.model_validate(found)


def _may_cancel(conn: db.Connection, user: User, booking: dict[str, Any]) -> bool:
    if user.role in STAFF_ROLES or user.id == booking["coach_id"]:
        return True
    if user.role is Role.ELEVE:
        return bool(user.student_id == booking["student_id"])
    if user.role is Role.PARENT:
        return (
            conn.execute(
                "SELECT 1 FROM parent_students WHERE parent_id = %s AND student_id = %s",
                (user.id, booking["student_id"]),
            ).fetchone()
            is not None
        )
    return False


# -- coaches' side and staff -------------------------------------------------------------------


def agenda(
    user: User, cursor: str | None = None, limit: int = 50
) -> tuple[list[AgendaSession], str | None]:
    """The coach's sessions from a week ago on, soonest first, with who booked them; a page
    and the next page's cursor."""
    from reussite.history import paged

    require_role(user, Role.COACH, refusal="The agenda is a coach's")
    rows, following = paged(
        "agenda",
        """SELECT * FROM (
               SELECT s.id, s.service_code, s.subject, s.starts_at, s.ends_at, s.status,
                      s.room_url, s.report,
                      coalesce(jsonb_agg(jsonb_build_object('booking_id', b.id,
                               'student', st.display_name, 'status', b.status))
                               FILTER (WHERE b.id IS NOT NULL), '[]') AS bookings
                 FROM tutoring_sessions s
                 LEFT JOIN tutoring_bookings b ON b.session_id = s.id
                 LEFT JOIN students st ON st.id = b.student_id
                WHERE s.coach_id = %(coach)s AND s.ends_at > now() - interval '7 days'
                GROUP BY s.id) t
            WHERE {keyset}
            ORDER BY t.starts_at, t.id LIMIT %(limit)s""",
        {"coach": user.id},
        cursor,
        limit,
        column="starts_at",
        ascending=True,
    )
    return [AgendaSession.model_validate(with_room(r)) for r in rows], following


def file_report(user: User, session_id: UUID, report: str) -> AgendaSession:
    """The coach's report after a session: the session is COMPLETED, its bookings ATTENDED
    (unless marked no-show)."""
    with db.transaction() as conn:
        session = conn.execute(
            "SELECT * FROM tutoring_sessions WHERE id = %s FOR UPDATE", (session_id,)
        ).fetchone()
        if session is None or session["coach_id"] != user.id:
            raise NotFound("No such session in your agenda")
        if session["status"] == "CANCELLED" or session["starts_at"] > datetime.now(UTC):
            raise TooLate("A report is filed once the session has taken place")
        conn.execute(
            """UPDATE tutoring_sessions SET status = 'COMPLETED', report = %s,
                      reported_at = now() WHERE id = %s""",
            (report, session_id),
        )
        conn.execute(
            """UPDATE tutoring_bookings SET status = 'ATTENDED'
                WHERE session_id = %s AND status = 'BOOKED'""",
            (session_id,),
        )
        row = conn.execute("SELECT * FROM tutoring_sessions WHERE id = %s", (session_id,))
        return AgendaSession.model_validate(with_room(dict(row.fetchone() or {})))


def mark_no_show(staff: User, booking_id: UUID) -> TutoringBooking:
    """Staff record that the student did not come: no refund, audited."""
    require_staff(staff, "Staff mark no-shows")
    with db.transaction() as conn:
        booking = booking_row(conn, booking_id)
        if booking["status"] not in ("BOOKED", "ATTENDED"):
            raise TooLate("Only a booked session can be a no-show")
        if booking["starts_at"] > datetime.now(UTC):
            raise TooLate("A no-show is recorded once the session has started")
        conn.execute("UPDATE tutoring_bookings SET status = 'NO_SHOW' WHERE id = %s", (booking_id,))
        audit.record(conn, staff.id, "tutoring.no_show", f"tutoring-booking:{booking_id}")
        return TutoringBooking.model_validate(booking_row(conn, booking_id))


# -- reminders and emails ----------------------------------------------------------------------
