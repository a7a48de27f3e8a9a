"""Families (and staff) register students for exam sessions, under each session type's rules;
a seat is taken by one guarded UPDATE, so a session is never overbooked whatever the
concurrency. A course's students sit its bundled exam in their course fee; every other seat is
an exam service, paid in credits in the same transaction (where the school accepts them) or in
money through an order that holds the seat until it is paid or expires (`services`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from reussite import audit, db
from reussite.errors import IdempotencyKeyReused
from reussite.exam_sessions import services
from reussite.exam_sessions.catalogue import qualification
from reussite.exam_sessions.errors import (
    AlreadyRegistered,
    NoSessionAvailable,
    NotAllowed,
    RegistrationClosed,
    RegistrationNotFound,
    SessionFull,
    SessionNotFound,
)
from reussite.exam_sessions.models import MyExam, Registration
from reussite.exam_sessions.rules import Price, Qualification, still_to_pass
from reussite.exam_sessions.scheduling import SESSION_COLUMNS, enrol, session_row
from reussite.idempotency import fingerprint, require_same
from reussite.identity.roles import Role
from reussite.ledger import service as ledger

if TYPE_CHECKING:
    from reussite.identity.models import User

REG_COLUMNS = """r.id, r.session_id, r.student_id, r.components, r.status, r.fee_credits,
    r.paid_with, r.order_id, r.created_at, s.qualification_code, s.type, s.starts_at"""


def register(
    user: User,
    session_id: UUID,
    student_id: UUID | None,
    key: str,
    pay_with: services.PayWith | None = None,
) -> Registration:
    """Register a student for a session, under the session type's rules, paying its service
    (in credits now, or through an order holding the seat: see the module)."""
    from reussite.identity import service as identity

    student = identity.acting_for(user, student_id, tuple(Role), "")
    # The operation names are stored in request_hash: they stay as first written.
    extra = {"pay_with": pay_with} if pay_with else {}
    request = fingerprint("sittings.register", session=session_id, student=student, **extra)
    with db.transaction() as conn:
        found = _replay(conn, user, key, request)
        if found is not None:
            if (found["session_id"], found["student_id"]) != (session_id, student):
                raise IdempotencyKeyReused()
        else:
            session = session_row(conn, session_id)
            if session is None:
                raise SessionNotFound()
            found = _register(conn, user, student, session, key, request, pay_with)
    return with_order(found, user)


def register_makeup(
    user: User,
    qualification_code: str,
    student_id: UUID | None,
    key: str,
    pay_with: services.PayWith | None = None,
) -> Registration:
    """A student who missed a bundled exam goes to the next makeup session with a seat."""
    from reussite.identity import service as identity

    student = identity.acting_for(user, student_id, tuple(Role), "")
    extra = {"pay_with": pay_with} if pay_with else {}
    request = fingerprint(
        "sittings.makeup", qualification=qualification_code, student=student, **extra
    )
    with db.transaction() as conn:
        replay = _replay(conn, user, key, request)
        if replay is not None:
            return with_order(replay, user)
        qualification(qualification_code, conn)
        candidates = conn.execute(
            f"""SELECT {SESSION_COLUMNS} FROM exam_sessions
                 WHERE qualification_code = %s AND type = 'MAKEUP'
                   AND registration_deadline > now() AND registered < capacity
                 ORDER BY starts_at, id""",
            (qualification_code,),
        ).fetchall()
        registered = None
        for session in candidates:
            try:
                with conn.transaction():  # savepoint: a session filled meanwhile, try the next
                    registered = _register(conn, user, student, session, key, request, pay_with)
                    break
            except SessionFull:
                continue
        if registered is None:
            raise NoSessionAvailable()
    return with_order(registered, user)


def with_order(row: dict[str, Any], user: User) -> Registration:
    """The registration as answered, after its commit: a Konnect order is opened now (no
    network call inside the transaction; a failure is retried with the same key)."""
    from reussite.payments.orders import order_row, order_view

    services.pay_online(row["order_id"], user.email)
    order = order_view(order_row(row["order_id"])) if row["order_id"] else None
    status = row["status"]
    if order is not None and status == "PENDING_PAYMENT":  # paid meanwhile (a fast webhook)
        now = db.read_one("SELECT status FROM exam_registrations WHERE id = %s", (row["id"],))
        status = now["status"] if now else status
    return Registration.model_validate(row | {"status": status, "order": order})


def _replay(conn: db.Connection, user: User, key: str, request: str) -> dict[str, Any] | None:
    """The registration made with this key, if its request was this one (422 otherwise)."""
    row = conn.execute(
        f"""SELECT {REG_COLUMNS}, r.request_hash FROM exam_registrations r
              JOIN exam_sessions s ON s.id = r.session_id
             WHERE r.registered_by = %s AND r.idempotency_key = %s""",
        (user.id, key),
    ).fetchone()
    if row is None:
        return None
    found = dict(row)
    require_same(found.pop("request_hash"), request)
    return found


# -- the rules of each session type --------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A student asking for a seat in a session, with what the rules look at."""

    conn: db.Connection
    student: UUID
    session: dict[str, Any]
    q: Qualification
    last: dict[str, Any] | None  # the student's current outcome in this qualification


Seat = tuple[list[str], str | None]
"""The components the candidate sits and the service they pay for (None: nothing to pay)."""


def _bundled(c: Candidate) -> Seat:
    """A bundled session's seats belong to the course's students, in their course fee."""
    if not _in_course(c.conn, c.student, c.session["course_session_id"]):
        raise NotAllowed("A bundled exam's seats belong to the students of its course")
    enrol(c.conn, c.student, c.q.code, online=bool(c.session["remote"]))
    return list(c.session["components"]), None


def _standalone(c: Candidate) -> Seat:
    enrol(c.conn, c.student, c.q.code, online=False)
    return list(c.session["components"]), "STANDALONE"


def _makeup(c: Candidate) -> Seat:
    """For a bundled exam the student missed (marked absent), its components again."""
    missed = c.conn.execute(
        """SELECT r.components FROM exam_registrations r
             JOIN exam_sessions s ON s.id = r.session_id
            WHERE r.student_id = %s AND s.qualification_code = %s
              AND s.type = 'BUNDLED' AND r.status = 'ABSENT'
            ORDER BY s.starts_at DESC LIMIT 1""",
        (c.student, c.q.code),
    ).fetchone()
    if missed is None or c.last is not None:
        raise NotAllowed("A makeup is for a bundled exam the student missed")
    return list(missed["components"]), "MAKEUP"


def _resit(c: Candidate) -> Seat:
    """After a failed result: the failed components when passes carry forward, else all."""
    if c.last is None:
        raise NotAllowed("A resit follows a failed result")
    return still_to_pass(c.q, c.last["components"]), "RESIT"


def _remote(c: Candidate) -> Seat:
    """For students enrolled online, within the window from enrolment and the lead time ahead."""
    enrolment = c.conn.execute(
        """SELECT online, enrolled_at FROM enrolments
            WHERE student_id = %s AND qualification_code = %s""",
        (c.student, c.q.code),
    ).fetchone()
    if enrolment is None or not enrolment["online"]:
        raise NotAllowed("Remote invigilation is for students enrolled online")
    window, lead = c.q.remote_window_days, c.q.remote_lead_days
    if c.session["starts_at"] > enrolment["enrolled_at"] + timedelta(days=window):
        raise NotAllowed(f"Remote invigilation is booked within {window} days")
    if c.session["starts_at"] < datetime.now(UTC) + timedelta(days=lead):
        raise NotAllowed(f"Remote invigilation is booked {lead} days ahead")
    return still_to_pass(c.q, c.last["components"] if c.last else None), "REMOTE"


SEAT_RULES: dict[str, Callable[[Candidate], Seat]] = {
    "BUNDLED": _bundled,
    "STANDALONE": _standalone,
    "MAKEUP": _makeup,
    "RESIT": _resit,
    "REMOTE": _remote,
}


def _in_course(conn: db.Connection, student: UUID, course_session_id: UUID | None) -> bool:
    return course_session_id is not None and (
        conn.execute(
            """SELECT 1 FROM course_enrolments
                WHERE course_session_id = %s AND student_id = %s""",
            (course_session_id, student),
        ).fetchone()
        is not None
    )


# -- taking the seat ---------------------------------------------------------------------------


def _register(
    conn: db.Connection,
    user: User,
    student: UUID,
    session: dict[str, Any],
    key: str,
    request: str,
    pay_with: services.PayWith | None,
) -> dict[str, Any]:
    if session["registration_deadline"] <= datetime.now(UTC):
        raise RegistrationClosed()
    q = qualification(session["qualification_code"], conn)
    last = current_outcome(conn, student, q.code)
    if last is not None and last["passed"]:
        raise NotAllowed(f"This student has already passed {q.name} {q.level}")
    components, service = SEAT_RULES[session["type"]](Candidate(conn, student, session, q, last))
    if not set(components) <= set(session["components"]):
        raise NotAllowed("This session does not offer the components to sit")
    cost = services.price(conn, q.code, service) if service else None
    paid_with = payment(cost, pay_with)
    # The session's row lock: its registrations go one at a time, and what is read after it
    # includes a registration committed meanwhile (a replay, or a 409, never a UniqueViolation).
    conn.execute("SELECT 1 FROM exam_sessions WHERE id = %s FOR UPDATE", (session["id"],))
    replay = _replay(conn, user, key, request)
    if replay is not None:
        return replay
    if conn.execute(
        """SELECT 1 FROM exam_registrations WHERE session_id = %s AND student_id = %s
              AND status <> 'CANCELLED'""",
        (session["id"], student),
    ).fetchone():
        raise AlreadyRegistered()
    seat = conn.execute(
        """UPDATE exam_sessions SET registered = registered + 1
            WHERE id = %s AND registered < capacity RETURNING registered""",
        (session["id"],),
    ).fetchone()
    if seat is None:
        raise SessionFull()
    fee = cost.credits if cost is not None and paid_with == "CREDITS" else 0
    row = conn.execute(
        """INSERT INTO exam_registrations (session_id, student_id, components, status,
                   fee_credits, paid_with, idempotency_key, registered_by, request_hash)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (
            session["id"],
            student,
            components,
            "PENDING_PAYMENT" if paid_with == "ORDER" else "REGISTERED",
            fee,
            paid_with,
            key,
            user.id,
            request,
        ),
    ).fetchone()
    assert row is not None
    if fee:
        purpose = f"{session['type'].lower()} exam fee {q.code}"
        entry = charge_fee(conn, student, fee, f"exam-registration:{row['id']}", user, purpose)
        conn.execute(
            "UPDATE exam_registrations SET fee_entry_id = %s WHERE id = %s", (entry, row["id"])
        )
    if paid_with == "ORDER":
        assert cost is not None and pay_with is not None
        from reussite.payments.models import Provider

        order = services.open_order(
            conn,
            user,
            student,
            cost,
            Provider(pay_with),
            ("registration_id", row["id"]),
            session["registration_deadline"],
        )
        conn.execute(
            "UPDATE exam_registrations SET order_id = %s WHERE id = %s", (order["id"], row["id"])
        )
    audit.record(
        conn,
        user.id,
        "registration.create",
        f"registration:{row['id']}",
        {
            "session": session["id"],
            "student": student,
            "components": components,
            "service": service,
            "paid_with": paid_with,
            "fee_credits": fee,
        },
    )
    return registration(conn, row["id"])


def payment(cost: Price | None, pay_with: services.PayWith | None) -> str:
    """How a service is paid: FREE (nothing to pay), CREDITS or ORDER (money)."""
    if cost is None:
        return "FREE"
    if pay_with is None:
        credits = f" or {cost.credits} credits" if cost.credits is not None else ""
        raise services.PaymentRequired(
            f"{cost.name} costs {cost.price_minor} {cost.currency} (minor units){credits}"
        )
    if pay_with == "CREDITS":
        if cost.credits is None:
            raise services.CreditsNotAccepted()
        return "CREDITS"
    return "ORDER"


def charge_fee(
    conn: db.Connection, student: UUID, fee: int, key: str, user: User, purpose: str
) -> int:
    """Spend a fee in the caller's transaction (a refused spend rolls everything back);
    return the ledger entry, so an upheld enquiry can refund it by its key."""
    spent = ledger.spend(
        ledger.wallet_of(student), fee, key=key, purpose=purpose, actor_id=user.id, conn=conn
    )
    return spent.entry_id


def registration(conn: db.Connection, registration_id: UUID) -> dict[str, Any]:
    row = conn.execute(
        f"""SELECT {REG_COLUMNS} FROM exam_registrations r
              JOIN exam_sessions s ON s.id = r.session_id WHERE r.id = %s""",
        (registration_id,),
    ).fetchone()
    if row is None:
        raise RegistrationNotFound()
    return dict(row)


def current_outcome(conn: db.Connection, student: UUID, code: str) -> dict[str, Any] | None:
    row = conn.execute(
        """SELECT id, registration_id, components, passed, grade, percent, created_at
             FROM qualification_outcomes
            WHERE student_id = %s AND qualification_code = %s AND superseded_at IS NULL
            ORDER BY created_at DESC LIMIT 1""",
        (student, code),
    ).fetchone()
    return dict(row) if row else None


def my_exams(
    user: User, cursor: str | None = None, limit: int = 20
) -> tuple[list[MyExam], str | None]:
    """The registrations of the student (or of a parent's children), newest first, with results
    and outcomes; a page and the next page's cursor."""
    from reussite.history import paged

    rows, following = paged(
        "my-exams",
        f"""SELECT * FROM (
               SELECT {REG_COLUMNS},
                      (SELECT jsonb_object_agg(c.component, c.score) FROM component_results c
                        WHERE c.registration_id = r.id) AS scores,
                      o.id AS outcome_id, o.passed, o.grade, o.percent,
                      (SELECT code FROM certificates WHERE outcome_id = o.id) AS certificate
                 FROM exam_registrations r
                 JOIN exam_sessions s ON s.id = r.session_id
                 LEFT JOIN qualification_outcomes o
                        ON o.registration_id = r.id AND o.superseded_at IS NULL
                WHERE r.student_id = %(me)s
                   OR r.student_id IN (SELECT student_id FROM parent_students
                                        WHERE parent_id = %(user)s)
             ) t
            WHERE {{keyset}}
            ORDER BY t.created_at DESC, t.id DESC LIMIT %(limit)s""",
        {"me": user.student_id, "user": user.id},
        cursor,
        limit,
    )
    return [MyExam.model_validate(r) for r in rows], following
