"""Families (and staff) register students for exam sessions, under each session type's rules,
paying its fee in the same transaction; a seat is taken by one guarded UPDATE, so a session is
never overbooked whatever the concurrency."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from reussite import audit, db
from reussite.errors import IdempotencyKeyReused
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
from reussite.exam_sessions.rules import Qualification, still_to_pass
from reussite.exam_sessions.scheduling import SESSION_COLUMNS, enrol, session_row
from reussite.idempotency import fingerprint, require_same
from reussite.identity.roles import Role
from reussite.ledger import service as ledger

if TYPE_CHECKING:
    from reussite.identity.models import User

REG_COLUMNS = """r.id, r.session_id, r.student_id, r.components, r.status, r.fee_credits,
    r.created_at, s.qualification_code, s.type, s.starts_at"""


def register(user: User, session_id: UUID, student_id: UUID | None, key: str) -> Registration:
    """Register a student for a session, under the session type's rules, paying its fee."""
    from reussite.identity import service as identity

    student = identity.acting_for(user, student_id, tuple(Role), "")
    # The operation names are stored in request_hash: they stay as first written.
    request = fingerprint("sittings.register", session=session_id, student=student)
    with db.transaction() as conn:
        replay = _replay(conn, user, key, request)
        if replay is not None:
            if (replay["session_id"], replay["student_id"]) != (session_id, student):
                raise IdempotencyKeyReused()
            return Registration.model_validate(replay)
        session = session_row(conn, session_id)
        if session is None:
            raise SessionNotFound()
        return Registration.model_validate(_register(conn, user, student, session, key, request))


def register_makeup(
    user: User, qualification_code: str, student_id: UUID | None, key: str
) -> Registration:
    """A student who missed a bundled exam goes to the next makeup session with a seat."""
    from reussite.identity import service as identity

    student = identity.acting_for(user, student_id, tuple(Role), "")
    request = fingerprint("sittings.makeup", qualification=qualification_code, student=student)
    with db.transaction() as conn:
        replay = _replay(conn, user, key, request)
        if replay is not None:
            return Registration.model_validate(replay)
        qualification(qualification_code, conn)
        candidates = conn.execute(
            f"""SELECT {SESSION_COLUMNS} FROM exam_sessions
                 WHERE qualification_code = %s AND type = 'MAKEUP'
                   AND registration_deadline > now() AND registered < capacity
                 ORDER BY starts_at, id""",
            (qualification_code,),
        ).fetchall()
        for session in candidates:
            try:
                with conn.transaction():  # savepoint: a session filled meanwhile, try the next
                    registered = _register(conn, user, student, session, key, request)
                    return Registration.model_validate(registered)
            except SessionFull:
                continue
        raise NoSessionAvailable()


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


Seat = tuple[list[str], int]
"""The components the candidate sits and the fee they pay."""


def _bundled(c: Candidate) -> Seat:
    """The course's own students sit its exam in their course fee; anyone else pays for the
    seat as for a standalone sitting."""
    fee = 0 if _in_course(c.conn, c.student, c.session["course_session_id"]) else c.q.fee_standalone
    enrol(c.conn, c.student, c.q.code, online=bool(c.session["remote"]))
    return list(c.session["components"]), fee


def _standalone(c: Candidate) -> Seat:
    enrol(c.conn, c.student, c.q.code, online=False)
    return list(c.session["components"]), c.q.fee_standalone


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
    return list(missed["components"]), c.q.fee_makeup


def _resit(c: Candidate) -> Seat:
    """After a failed result: the failed components when passes carry forward, else all."""
    if c.last is None:
        raise NotAllowed("A resit follows a failed result")
    return still_to_pass(c.q, c.last["components"]), c.q.fee_resit


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
    return still_to_pass(c.q, c.last["components"] if c.last else None), c.q.fee_remote


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
) -> dict[str, Any]:
    if session["registration_deadline"] <= datetime.now(UTC):
        raise RegistrationClosed()
    q = qualification(session["qualification_code"], conn)
    last = current_outcome(conn, student, q.code)
    if last is not None and last["passed"]:
        raise NotAllowed(f"This student has already passed {q.name} {q.level}")
    components, fee = SEAT_RULES[session["type"]](Candidate(conn, student, session, q, last))
    if not set(components) <= set(session["components"]):
        raise NotAllowed("This session does not offer the components to sit")
    # The session's row lock: its registrations go one at a time, and what is read after it
    # includes a registration committed meanwhile (a replay, or a 409, never a UniqueViolation).
    conn.execute("SELECT 1 FROM exam_sessions WHERE id = %s FOR UPDATE", (session["id"],))
    replay = _replay(conn, user, key, request)
    if replay is not None:
        return replay
    if conn.execute(
        "SELECT 1 FROM exam_registrations WHERE session_id = %s AND student_id = %s",
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
    row = conn.execute(
        """INSERT INTO exam_registrations (session_id, student_id, components, status,
                   fee_credits, idempotency_key, registered_by, request_hash)
           VALUES (%s, %s, %s, 'REGISTERED', %s, %s, %s, %s) RETURNING id""",
        (session["id"], student, components, fee, key, user.id, request),
    ).fetchone()
    assert row is not None
    if fee:
        purpose = f"{session['type'].lower()} exam fee {q.code}"
        entry = charge_fee(conn, student, fee, f"exam-registration:{row['id']}", user, purpose)
        conn.execute(
            "UPDATE exam_registrations SET fee_entry_id = %s WHERE id = %s", (entry, row["id"])
        )
    audit.record(
        conn,
        user.id,
        "registration.create",
        f"registration:{row['id']}",
        {"session": session["id"], "student": student, "components": components, "fee": fee},
    )
    return registration(conn, row["id"])


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
