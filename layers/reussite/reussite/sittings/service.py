"""Scheduling, registrations, results and enquiries for sat exams.

Every state change is one transaction with its audit-log row; fees are ledger spends in the
same transaction (a refused fee registers nothing); a seat is taken by one guarded UPDATE, so a
session is never overbooked, whatever the concurrency.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from psycopg.types.json import Jsonb

from reussite import db
from reussite.errors import (
    Conflict,
    DomainError,
    Forbidden,
    IdempotencyKeyReused,
    NotFound,
    StudentNotFound,
)
from reussite.idempotency import fingerprint, require_same
from reussite.identity.roles import STAFF_ROLES, Role
from reussite.ledger import service as ledger
from reussite.sittings.rules import Component, Qualification, grade, still_to_pass

if TYPE_CHECKING:
    from reussite.identity.models import User


class QualificationNotFound(NotFound):
    code = "QUALIFICATION_NOT_FOUND"
    title = "No such qualification"


class SessionNotFound(NotFound):
    code = "SESSION_NOT_FOUND"
    title = "No such exam session"


class RegistrationNotFound(NotFound):
    code = "REGISTRATION_NOT_FOUND"
    title = "No such registration"


class EnquiryNotFound(NotFound):
    code = "ENQUIRY_NOT_FOUND"
    title = "No such enquiry"


class SessionFull(Conflict):
    code = "SESSION_FULL"
    title = "This session has no seat left"


class RegistrationClosed(Conflict):
    code = "REGISTRATION_CLOSED"
    title = "Registration for this session has closed"


class AlreadyRegistered(Conflict):
    code = "ALREADY_REGISTERED"
    title = "This student is already registered for this session"


class NotAllowed(Conflict):
    code = "REGISTRATION_NOT_ALLOWED"
    title = "This student cannot register for this session"


class NoSessionAvailable(Conflict):
    code = "NO_SESSION_AVAILABLE"
    title = "No session with a free seat is open for registration"


class ResultsAlreadyEntered(Conflict):
    code = "RESULTS_ALREADY_ENTERED"
    title = "This sitting already has its results; change them through an enquiry"


class EnquiryNotAllowed(Conflict):
    code = "ENQUIRY_NOT_ALLOWED"
    title = "No enquiry can be made about this sitting now"


class EnquiryState(Conflict):
    code = "ENQUIRY_STATE"
    title = "The enquiry is not in a state that allows this"


class CourseNotFound(NotFound):
    code = "COURSE_NOT_FOUND"
    title = "No such course session"


class ProctorNotFound(DomainError):
    code = "PROCTOR_NOT_FOUND"
    status = 422
    title = "The proctor must be a coach or a member of staff"


class InvalidScores(DomainError):
    code = "INVALID_SCORES"
    status = 422
    title = "The scores do not match the components sat"


# -- qualifications ----------------------------------------------------------------------------


def qualification(code: str, conn: db.Connection | None = None) -> Qualification:
    conn = conn or db.connection()
    row = conn.execute("SELECT * FROM qualifications WHERE code = %s", (code,)).fetchone()
    if row is None:
        raise QualificationNotFound()
    parts = conn.execute(
        """SELECT component, name, pass_mark, weight FROM qualification_components
            WHERE qualification_code = %s ORDER BY component DESC""",
        (code,),
    ).fetchall()
    components = tuple(
        Component(p["component"], p["name"], p["pass_mark"], p["weight"]) for p in parts
    )
    return Qualification(**row, components=components)


def qualifications() -> list[Qualification]:
    rows = db.connection().execute("SELECT code FROM qualifications ORDER BY code").fetchall()
    return [qualification(r["code"]) for r in rows]


# -- scheduling (staff) ------------------------------------------------------------------------


def _require_staff(user: User) -> None:
    if user.role not in STAFF_ROLES:
        raise Forbidden("Scheduling, results and enquiries are staff work")


def _audit(conn: db.Connection, actor: UUID, action: str, subject: str, details: Any) -> None:
    conn.execute(
        "INSERT INTO audit_log (actor_id, action, subject, details) VALUES (%s, %s, %s, %s)",
        (actor, action, subject, Jsonb(json.loads(json.dumps(details, default=str)))),
    )


def create_offering(staff: User, qualification_code: str, name: str) -> dict[str, Any]:
    """A course offering, with the exam templates its courses end with: the qualification's
    components sat together, on the course's only day or its final day."""
    _require_staff(staff)
    with db.transaction() as conn:
        q = qualification(qualification_code, conn)
        offering = conn.execute(
            """INSERT INTO course_offerings (qualification_code, name, created_by)
               VALUES (%s, %s, %s) RETURNING id, qualification_code, name, created_at""",
            (q.code, name, staff.id),
        ).fetchone()
        assert offering is not None
        template = conn.execute(
            """INSERT INTO exam_templates (offering_id, components, exam_day)
               VALUES (%s, %s, %s) RETURNING id, components, exam_day""",
            (offering["id"], q.component_codes, q.exam_day),
        ).fetchone()
        _audit(conn, staff.id, "offering.create", f"offering:{offering['id']}", {"name": name})
    return dict(offering) | {"templates": [dict(template or {})]}


def schedule_course(
    staff: User,
    offering_id: UUID,
    starts_on: date,
    ends_on: date,
    capacity: int,
    location: str | None,
    remote: bool,
    proctor_id: UUID | None,
    exam_time: time,
) -> dict[str, Any]:
    """A course session, and the bundled exam session of each of its offering's templates on
    the day the template says, open for registration until the course starts."""
    _require_staff(staff)
    if ends_on < starts_on:
        raise InvalidScores("ends_on is before starts_on")  # 422
    with db.transaction() as conn:
        _require_proctor(conn, proctor_id)
        offering = conn.execute(
            "SELECT id, qualification_code FROM course_offerings WHERE id = %s", (offering_id,)
        ).fetchone()
        if offering is None:
            raise NotFound("No such course offering")
        course = conn.execute(
            """INSERT INTO course_sessions (offering_id, starts_on, ends_on, location, remote,
                                            capacity)
               VALUES (%s, %s, %s, %s, %s, %s) RETURNING *""",
            (offering_id, starts_on, ends_on, location, remote, capacity),
        ).fetchone()
        assert course is not None
        templates = conn.execute(
            "SELECT id, components, exam_day FROM exam_templates WHERE offering_id = %s",
            (offering_id,),
        ).fetchall()
        sessions = []
        for t in templates:
            day = starts_on if t["exam_day"] == "SAME_DAY" else ends_on
            starts_at = datetime.combine(day, exam_time, tzinfo=UTC)
            deadline = datetime.combine(starts_on, time(0), tzinfo=UTC)
            sessions.append(
                _insert_session(
                    conn,
                    offering["qualification_code"],
                    "BUNDLED",
                    t["components"],
                    starts_at,
                    min(deadline, starts_at),
                    capacity,
                    location,
                    remote,
                    proctor_id,
                    template_id=t["id"],
                    course_session_id=course["id"],
                )
            )
        _audit(conn, staff.id, "course.schedule", f"course:{course['id']}", dict(course))
    return dict(course) | {"exam_sessions": sessions}


def create_session(
    staff: User,
    qualification_code: str,
    kind: str,
    starts_at: datetime,
    registration_deadline: datetime,
    capacity: int,
    location: str | None,
    remote: bool,
    proctor_id: UUID | None,
) -> dict[str, Any]:
    """A session outside a course: makeup, resit, remote invigilation or standalone."""
    _require_staff(staff)
    if registration_deadline > starts_at:
        raise InvalidScores("registration_deadline is after starts_at")
    with db.transaction() as conn:
        _require_proctor(conn, proctor_id)
        q = qualification(qualification_code, conn)
        session = _insert_session(
            conn,
            q.code,
            kind,
            q.component_codes,
            starts_at,
            registration_deadline,
            capacity,
            location,
            remote or kind == "REMOTE",
            proctor_id,
        )
        _audit(conn, staff.id, "session.create", f"session:{session['id']}", session)
    return session


def _require_proctor(conn: db.Connection, proctor_id: UUID | None) -> None:
    if proctor_id is None:
        return
    found = conn.execute(
        "SELECT 1 FROM users WHERE id = %s AND role = ANY(%s)",
        (proctor_id, [Role.COACH.value, *(r.value for r in STAFF_ROLES)]),
    ).fetchone()
    if found is None:
        raise ProctorNotFound()


_SESSION_COLUMNS = """id, qualification_code, type, components, starts_at, location, remote,
    proctor_id, capacity, registered, registration_deadline, course_session_id"""


def _insert_session(
    conn: db.Connection,
    qualification_code: str,
    kind: str,
    components: list[str],
    starts_at: datetime,
    deadline: datetime,
    capacity: int,
    location: str | None,
    remote: bool,
    proctor_id: UUID | None,
    template_id: UUID | None = None,
    course_session_id: UUID | None = None,
) -> dict[str, Any]:
    row = conn.execute(
        f"""INSERT INTO exam_sessions (qualification_code, type, template_id, course_session_id,
                   components, starts_at, location, remote, proctor_id, capacity,
                   registration_deadline)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {_SESSION_COLUMNS}""",
        (
            qualification_code,
            kind,
            template_id,
            course_session_id,
            components,
            starts_at,
            location,
            remote,
            proctor_id,
            capacity,
            deadline,
        ),
    ).fetchone()
    assert row is not None
    return dict(row)


def available_sessions(qualification_code: str | None) -> list[dict[str, Any]]:
    """Sessions still open for registration with a free seat, soonest first."""
    return [
        dict(r)
        for r in db.connection()
        .execute(
            f"""SELECT {_SESSION_COLUMNS} FROM exam_sessions
                 WHERE registration_deadline > now() AND registered < capacity
                   AND (%(q)s::text IS NULL OR qualification_code = %(q)s)
                 ORDER BY starts_at, id""",
            {"q": qualification_code},
        )
        .fetchall()
    ]


# -- registrations -----------------------------------------------------------------------------

_REG_COLUMNS = """r.id, r.session_id, r.student_id, r.components, r.status, r.fee_credits,
    r.created_at, s.qualification_code, s.type, s.starts_at"""


def register(user: User, session_id: UUID, student_id: UUID | None, key: str) -> dict[str, Any]:
    """Register a student for a session, under the session type's rules, paying its fee."""
    from reussite.identity import service as identity

    student = identity.acting_for(user, student_id, tuple(Role), "")
    request = fingerprint("sittings.register", session=session_id, student=student)
    with db.transaction() as conn:
        replay = _replay(conn, user, key, request)
        if replay is not None:
            if (replay["session_id"], replay["student_id"]) != (session_id, student):
                raise IdempotencyKeyReused()
            return replay
        session = conn.execute(
            f"SELECT {_SESSION_COLUMNS} FROM exam_sessions WHERE id = %s", (session_id,)
        ).fetchone()
        if session is None:
            raise SessionNotFound()
        return _register(conn, user, student, session, key, request)


def register_makeup(
    user: User, qualification_code: str, student_id: UUID | None, key: str
) -> dict[str, Any]:
    """A student who missed a bundled exam goes to the next makeup session with a seat."""
    from reussite.identity import service as identity

    student = identity.acting_for(user, student_id, tuple(Role), "")
    request = fingerprint("sittings.makeup", qualification=qualification_code, student=student)
    with db.transaction() as conn:
        replay = _replay(conn, user, key, request)
        if replay is not None:
            return replay
        qualification(qualification_code, conn)
        candidates = conn.execute(
            f"""SELECT {_SESSION_COLUMNS} FROM exam_sessions
                 WHERE qualification_code = %s AND type = 'MAKEUP'
                   AND registration_deadline > now() AND registered < capacity
                 ORDER BY starts_at, id""",
            (qualification_code,),
        ).fetchall()
        for session in candidates:
            try:
                with conn.transaction():  # savepoint: a session filled meanwhile, try the next
                    return _register(conn, user, student, session, key, request)
            except SessionFull:
                continue
        raise NoSessionAvailable()


def _replay(conn: db.Connection, user: User, key: str, request: str) -> dict[str, Any] | None:
    """The registration made with this key, if its request was this one (422 otherwise)."""
    row = conn.execute(
        f"""SELECT {_REG_COLUMNS}, r.request_hash FROM exam_registrations r
              JOIN exam_sessions s ON s.id = r.session_id
             WHERE r.registered_by = %s AND r.idempotency_key = %s""",
        (user.id, key),
    ).fetchone()
    if row is None:
        return None
    found = dict(row)
    require_same(found.pop("request_hash"), request)
    return found


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
    kind = session["type"]
    last = _current_outcome(conn, student, q.code)
    if last is not None and last["passed"]:
        raise NotAllowed(f"This student has already passed {q.name} {q.level}")
    components, fee = list(session["components"]), 0
    if kind == "BUNDLED":
        # The course's own students sit its exam in their course fee; anyone else pays for
        # the seat as for a standalone sitting.
        if not _in_course(conn, student, session["course_session_id"]):
            fee = q.fee_standalone
        _enrol(conn, student, q.code, online=bool(session["remote"]))
    elif kind == "STANDALONE":
        _enrol(conn, student, q.code, online=False)
        fee = q.fee_standalone
    elif kind == "MAKEUP":
        missed = conn.execute(
            """SELECT r.components FROM exam_registrations r
                 JOIN exam_sessions s ON s.id = r.session_id
                WHERE r.student_id = %s AND s.qualification_code = %s
                  AND s.type = 'BUNDLED' AND r.status = 'ABSENT'
                ORDER BY s.starts_at DESC LIMIT 1""",
            (student, q.code),
        ).fetchone()
        if missed is None or last is not None:
            raise NotAllowed("A makeup is for a bundled exam the student missed")
        components, fee = list(missed["components"]), q.fee_makeup
    elif kind == "RESIT":
        if last is None:
            raise NotAllowed("A resit follows a failed result")
        components, fee = still_to_pass(q, last["components"]), q.fee_resit
    elif kind == "REMOTE":
        enrolment = conn.execute(
            """SELECT online, enrolled_at FROM enrolments
                WHERE student_id = %s AND qualification_code = %s""",
            (student, q.code),
        ).fetchone()
        if enrolment is None or not enrolment["online"]:
            raise NotAllowed("Remote invigilation is for students enrolled online")
        if session["starts_at"] > enrolment["enrolled_at"] + timedelta(days=q.remote_window_days):
            raise NotAllowed(f"Remote invigilation is booked within {q.remote_window_days} days")
        if session["starts_at"] < datetime.now(UTC) + timedelta(days=q.remote_lead_days):
            raise NotAllowed(f"Remote invigilation is booked {q.remote_lead_days} days ahead")
        components = still_to_pass(q, last["components"] if last else None)
        fee = q.fee_remote
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
        entry = _charge(
            conn,
            student,
            fee,
            f"exam-registration:{row['id']}",
            user,
            f"{kind.lower()} exam fee {q.code}",
        )
        conn.execute(
            "UPDATE exam_registrations SET fee_entry_id = %s WHERE id = %s", (entry, row["id"])
        )
    _audit(
        conn,
        user.id,
        "registration.create",
        f"registration:{row['id']}",
        {"session": session["id"], "student": student, "components": components, "fee": fee},
    )
    registration = _registration(conn, row["id"])
    return registration


def _charge(
    conn: db.Connection, student: UUID, fee: int, key: str, user: User, purpose: str
) -> int:
    """Spend a fee in the caller's transaction (a refused spend rolls everything back);
    return the ledger entry, so an upheld enquiry can refund it by its key."""
    spent = ledger.spend(
        ledger.wallet_of(student), fee, key=key, purpose=purpose, actor_id=user.id, conn=conn
    )
    return spent.entry_id


def _enrol(conn: db.Connection, student: UUID, qualification_code: str, online: bool) -> None:
    conn.execute(
        """INSERT INTO enrolments (student_id, qualification_code, online) VALUES (%s, %s, %s)
           ON CONFLICT (student_id, qualification_code) DO NOTHING""",
        (student, qualification_code, online),
    )


def _in_course(conn: db.Connection, student: UUID, course_session_id: UUID | None) -> bool:
    return course_session_id is not None and (
        conn.execute(
            """SELECT 1 FROM course_enrolments
                WHERE course_session_id = %s AND student_id = %s""",
            (course_session_id, student),
        ).fetchone()
        is not None
    )


def enrol_in_course(staff: User, course_session_id: UUID, student_id: UUID) -> dict[str, Any]:
    """Staff enrol a student in a course session: its bundled exam seat is then theirs without a
    fee. Enrolling the same student again changes nothing and answers the same."""
    _require_staff(staff)
    with db.transaction() as conn:
        course = conn.execute(
            """SELECT c.id, o.qualification_code FROM course_sessions c
                 JOIN course_offerings o ON o.id = c.offering_id WHERE c.id = %s""",
            (course_session_id,),
        ).fetchone()
        if course is None:
            raise CourseNotFound()
        _require_student(conn, student_id)
        row = conn.execute(
            """INSERT INTO course_enrolments (course_session_id, student_id, enrolled_by)
               VALUES (%s, %s, %s) ON CONFLICT (course_session_id, student_id) DO NOTHING
               RETURNING course_session_id, student_id, enrolled_at""",
            (course_session_id, student_id, staff.id),
        ).fetchone()
        if row is None:
            row = conn.execute(
                """SELECT course_session_id, student_id, enrolled_at FROM course_enrolments
                    WHERE course_session_id = %s AND student_id = %s""",
                (course_session_id, student_id),
            ).fetchone()
        else:
            _audit(conn, staff.id, "course.enrol", f"student:{student_id}", str(course_session_id))
    assert row is not None
    return dict(row) | {"qualification_code": course["qualification_code"]}


def _require_student(conn: db.Connection, student_id: UUID) -> None:
    if conn.execute("SELECT 1 FROM students WHERE id = %s", (student_id,)).fetchone() is None:
        raise StudentNotFound()


def enrol_online(staff: User, student_id: UUID, qualification_code: str) -> dict[str, Any]:
    """Staff enrol a student in online study of a qualification (opens remote invigilation)."""
    _require_staff(staff)
    with db.transaction() as conn:
        qualification(qualification_code, conn)
        _require_student(conn, student_id)
        row = conn.execute(
            """INSERT INTO enrolments (student_id, qualification_code, online)
               VALUES (%s, %s, true)
               ON CONFLICT (student_id, qualification_code) DO UPDATE SET online = true
               RETURNING student_id, qualification_code, online, enrolled_at""",
            (student_id, qualification_code),
        ).fetchone()
        _audit(conn, staff.id, "enrolment.online", f"student:{student_id}", qualification_code)
    return dict(row or {})


def _registration(conn: db.Connection, registration_id: UUID) -> dict[str, Any]:
    row = conn.execute(
        f"""SELECT {_REG_COLUMNS} FROM exam_registrations r
              JOIN exam_sessions s ON s.id = r.session_id WHERE r.id = %s""",
        (registration_id,),
    ).fetchone()
    if row is None:
        raise RegistrationNotFound()
    return dict(row)


def _current_outcome(conn: db.Connection, student: UUID, code: str) -> dict[str, Any] | None:
    row = conn.execute(
        """SELECT id, registration_id, components, passed, grade, percent, created_at
             FROM qualification_outcomes
            WHERE student_id = %s AND qualification_code = %s AND superseded_at IS NULL
            ORDER BY created_at DESC LIMIT 1""",
        (student, code),
    ).fetchone()
    return dict(row) if row else None


def my_exams(user: User) -> list[dict[str, Any]]:
    """The registrations of the student (or of a parent's children), with results and
    outcomes."""
    rows = (
        db.connection()
        .execute(
            f"""SELECT {_REG_COLUMNS},
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
                 ORDER BY s.starts_at, r.id""",
            {"me": user.student_id, "user": user.id},
        )
        .fetchall()
    )
    return [dict(r) for r in rows]


# -- results (staff) ---------------------------------------------------------------------------


def enter_results(
    staff: User, registration_id: UUID, scores: dict[str, int] | None, absent: bool
) -> dict[str, Any]:
    """Record a sitting: absent, or a score per component sat; grade it under the rules
    (carrying earlier passes forward where allowed) and, on a pass, queue the certificate."""
    _require_staff(staff)
    with db.transaction() as conn:
        reg = conn.execute(
            f"""SELECT {_REG_COLUMNS} FROM exam_registrations r
                  JOIN exam_sessions s ON s.id = r.session_id
                 WHERE r.id = %s FOR UPDATE OF r""",
            (registration_id,),
        ).fetchone()
        if reg is None:
            raise RegistrationNotFound()
        if reg["status"] != "REGISTERED":
            raise ResultsAlreadyEntered()
        subject = f"registration:{registration_id}"
        if absent:
            conn.execute(
                "UPDATE exam_registrations SET status = 'ABSENT' WHERE id = %s",
                (registration_id,),
            )
            _audit(conn, staff.id, "results.absent", subject, {})
            return {"registration_id": registration_id, "status": "ABSENT", "outcome": None}
        if scores is None or set(scores) != set(reg["components"]):
            raise InvalidScores(f"Give a score for each of: {', '.join(reg['components'])}")
        for component, score in scores.items():
            conn.execute(
                """INSERT INTO component_results (registration_id, component, score, entered_by)
                   VALUES (%s, %s, %s, %s)""",
                (registration_id, component, score, staff.id),
            )
        conn.execute(
            "UPDATE exam_registrations SET status = 'SAT' WHERE id = %s", (registration_id,)
        )
        _audit(conn, staff.id, "results.enter", subject, {"scores": scores})
        outcome = _grade(conn, staff, reg)
    _queue_certificate(outcome)
    return {"registration_id": registration_id, "status": "SAT", "outcome": outcome}


def _grade(conn: db.Connection, actor: User, reg: dict[str, Any]) -> dict[str, Any]:
    """A new current outcome for the sitting (superseding its previous one, if any)."""
    q = qualification(reg["qualification_code"], conn)
    scores = {
        r["component"]: r["score"]
        for r in conn.execute(
            "SELECT component, score FROM component_results WHERE registration_id = %s",
            (reg["id"],),
        ).fetchall()
    }
    earlier = conn.execute(
        """SELECT components FROM qualification_outcomes
            WHERE student_id = %s AND qualification_code = %s AND superseded_at IS NULL
              AND registration_id <> %s
            ORDER BY created_at DESC LIMIT 1""",
        (reg["student_id"], q.code, reg["id"]),
    ).fetchone()
    carried = {
        code: part["score"]
        for code, part in (earlier["components"] if earlier else {}).items()
        if part["passed"]
    }
    graded = grade(q, scores, carried, resit=reg["type"] == "RESIT")
    conn.execute(
        """UPDATE qualification_outcomes SET superseded_at = now()
            WHERE registration_id = %s AND superseded_at IS NULL""",
        (reg["id"],),
    )
    row = conn.execute(
        """INSERT INTO qualification_outcomes (student_id, qualification_code, registration_id,
                   components, passed, grade, percent)
           VALUES (%s, %s, %s, %s, %s, %s, %s)
           RETURNING id, registration_id, components, passed, grade, percent, created_at""",
        (
            reg["student_id"],
            q.code,
            reg["id"],
            Jsonb(graded.components),
            graded.passed,
            graded.grade,
            graded.percent,
        ),
    ).fetchone()
    assert row is not None
    _audit(
        conn,
        actor.id,
        "outcome.grade",
        f"registration:{reg['id']}",
        {"outcome": row["id"], "grade": graded.grade, "percent": graded.percent},
    )
    return dict(row)


def _queue_certificate(outcome: dict[str, Any]) -> None:
    """A pass goes through the certificate pipeline (queue, worker, PDF, credential, email)."""
    if not outcome["passed"]:
        return
    from reussite.notifications import send_to_queue
    from reussite.settings import get_settings

    queue = get_settings().certificate_queue_url
    if queue:
        send_to_queue(queue, {"outcome_id": str(outcome["id"])})


# -- enquiries ---------------------------------------------------------------------------------


def request_enquiry(
    user: User, registration_id: UUID, components: list[str], key: str
) -> dict[str, Any]:
    """A family asks for a sitting to be re-marked, within the qualification's window, paying
    the fee (refunded if the enquiry is upheld)."""
    request = fingerprint(
        "sittings.enquiry", registration=registration_id, components=sorted(set(components))
    )
    with db.transaction() as conn:
        replay = conn.execute(
            "SELECT * FROM result_enquiries WHERE requested_by = %s AND idempotency_key = %s",
            (user.id, key),
        ).fetchone()
        if replay is not None:
            found = dict(replay)
            require_same(found.pop("request_hash"), request)
            return found
        reg = _registration(conn, registration_id)
        from reussite.identity import service as identity

        # the student's family only (staff too): anyone else gets a 404
        identity.acting_for(user, reg["student_id"], tuple(Role), "")
        q = qualification(reg["qualification_code"], conn)
        outcome = conn.execute(
            """SELECT created_at FROM qualification_outcomes
                WHERE registration_id = %s ORDER BY created_at LIMIT 1""",
            (registration_id,),
        ).fetchone()
        if reg["status"] != "SAT" or outcome is None:
            raise EnquiryNotAllowed("This sitting has no result yet")
        if datetime.now(UTC) > outcome["created_at"] + timedelta(weeks=q.enquiry_weeks):
            raise EnquiryNotAllowed(f"Enquiries are made within {q.enquiry_weeks} weeks")
        if not components or not set(components) <= set(reg["components"]):
            raise InvalidScores(f"Enquire about components sat: {', '.join(reg['components'])}")
        all_sat = len(reg["components"]) > 1 and set(components) == set(reg["components"])
        fee = q.fee_enquiry_all if all_sat else q.fee_enquiry_component * len(set(components))
        if conn.execute(
            """SELECT 1 FROM result_enquiries WHERE registration_id = %s
                  AND status IN ('SUBMITTED', 'UNDER_REVIEW')""",
            (registration_id,),
        ).fetchone():
            raise EnquiryNotAllowed("An enquiry about this sitting is already open")
        row = conn.execute(
            """INSERT INTO result_enquiries (registration_id, components, status, fee_credits,
                       idempotency_key, requested_by, request_hash)
               VALUES (%s, %s, 'SUBMITTED', %s, %s, %s, %s) RETURNING id""",
            (registration_id, sorted(set(components)), fee, key, user.id, request),
        ).fetchone()
        assert row is not None
        if fee:
            entry = _charge(
                conn,
                reg["student_id"],
                fee,
                f"enquiry:{row['id']}",
                user,
                f"result enquiry {q.code}",
            )
            conn.execute(
                "UPDATE result_enquiries SET fee_entry_id = %s WHERE id = %s", (entry, row["id"])
            )
        _audit(conn, user.id, "enquiry.submit", f"enquiry:{row['id']}", {"fee": fee})
        created = conn.execute("SELECT * FROM result_enquiries WHERE id = %s", (row["id"],))
        enquiry = dict(created.fetchone() or {})
        enquiry.pop("request_hash", None)
        return enquiry


def review_enquiry(staff: User, enquiry_id: UUID) -> dict[str, Any]:
    _require_staff(staff)
    with db.transaction() as conn:
        row = conn.execute(
            """UPDATE result_enquiries SET status = 'UNDER_REVIEW'
                WHERE id = %s AND status = 'SUBMITTED' RETURNING *""",
            (enquiry_id,),
        ).fetchone()
        if row is None:
            _enquiry(conn, enquiry_id)  # 404 if unknown
            raise EnquiryState("Only a submitted enquiry goes under review")
        _audit(conn, staff.id, "enquiry.review", f"enquiry:{enquiry_id}", {})
    reviewed = dict(row)
    reviewed.pop("request_hash", None)
    return reviewed


def decide_enquiry(
    staff: User, enquiry_id: UUID, decision: str, scores: dict[str, int] | None, note: str | None
) -> dict[str, Any]:
    """UPHELD: new scores, the fee refunded; PARTIAL: new scores, the fee kept; REJECTED: no
    change. A regrade supersedes the outcome; its certificate is revoked and, if the new
    outcome passes, a new one issued."""
    _require_staff(staff)
    new_outcome = None
    with db.transaction() as conn:
        enquiry = _enquiry(conn, enquiry_id, lock=True)
        if enquiry["status"] != "UNDER_REVIEW":
            raise EnquiryState("Decide an enquiry once it is under review")
        if decision == "REJECTED":
            if scores:
                raise InvalidScores("A rejected enquiry changes no score")
        elif not scores or not set(scores) <= set(enquiry["components"]):
            raise InvalidScores(f"New scores for: {', '.join(enquiry['components'])}")
        reg = _registration(conn, enquiry["registration_id"])
        subject = f"enquiry:{enquiry_id}"
        if scores and decision != "REJECTED":
            for component, score in scores.items():
                old = conn.execute(
                    """SELECT score FROM component_results
                        WHERE registration_id = %s AND component = %s""",
                    (reg["id"], component),
                ).fetchone()
                conn.execute(
                    """UPDATE component_results SET score = %s, entered_by = %s, entered_at = now()
                        WHERE registration_id = %s AND component = %s""",
                    (score, staff.id, reg["id"], component),
                )
                _audit(
                    conn,
                    staff.id,
                    "results.regrade",
                    f"registration:{reg['id']}",
                    {"component": component, "from": old and old["score"], "to": score},
                )
            previous = conn.execute(
                """SELECT id FROM qualification_outcomes
                    WHERE registration_id = %s AND superseded_at IS NULL""",
                (reg["id"],),
            ).fetchone()
            new_outcome = _grade(conn, staff, reg)
            if previous is not None:
                _revoke_for_outcome(
                    conn, previous["id"], staff, f"Regraded after enquiry {enquiry_id}"
                )
        refund_entry = None
        if decision == "UPHELD" and enquiry["fee_entry_id"] is not None:
            refunded = ledger.refund(
                ledger.wallet_of(reg["student_id"]),
                f"enquiry:{enquiry_id}",
                f"enquiry upheld {enquiry_id}",
                actor_id=staff.id,
                conn=conn,
            )
            refund_entry = refunded.entry_id
        row = conn.execute(
            """UPDATE result_enquiries SET status = %s, decided_by = %s, decided_at = now(),
                      decision_note = %s, refund_entry_id = %s
                WHERE id = %s RETURNING *""",
            (decision, staff.id, note, refund_entry, enquiry_id),
        ).fetchone()
        _audit(conn, staff.id, "enquiry.decide", subject, {"decision": decision, "scores": scores})
    if new_outcome is not None:
        _queue_certificate(new_outcome)
    decided = dict(row or {})
    decided.pop("request_hash", None)
    return decided | {"outcome": new_outcome}


def _enquiry(conn: db.Connection, enquiry_id: UUID, lock: bool = False) -> dict[str, Any]:
    row = conn.execute(
        "SELECT * FROM result_enquiries WHERE id = %s" + (" FOR UPDATE" if lock else ""),
        (enquiry_id,),
    ).fetchone()
    if row is None:
        raise EnquiryNotFound()
    found = dict(row)
    found.pop("request_hash", None)
    return found


def _revoke_for_outcome(conn: db.Connection, outcome_id: UUID, actor: User, reason: str) -> None:
    revoked = conn.execute(
        """UPDATE certificates SET revoked_at = now(), revoked_reason = %s, revoked_by = %s
            WHERE outcome_id = %s AND revoked_at IS NULL RETURNING code""",
        (reason, actor.id, outcome_id),
    ).fetchone()
    if revoked is not None:
        _audit(conn, actor.id, "certificate.revoke", f"certificate:{revoked['code']}", reason)
