"""Staff schedule exam sessions: course offerings with their exam templates, course sessions
with their bundled exam sessions, sessions of their own (makeup, resit, remote, standalone),
and enrolments (in a course, or in online study)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any
from uuid import UUID

from reussite import audit, db
from reussite.errors import NotFound, StudentNotFound
from reussite.exam_sessions.catalogue import qualification
from reussite.exam_sessions.errors import CourseNotFound, InvalidDates, ProctorNotFound
from reussite.exam_sessions.models import (
    Course,
    CourseEnrolment,
    Enrolment,
    ExamSession,
    Offering,
    Template,
)
from reussite.history import Page, paged
from reussite.identity.access import require_staff
from reussite.identity.roles import STAFF_ROLES, Role

if TYPE_CHECKING:
    from reussite.identity.models import User

_REFUSAL = "Scheduling, results and enquiries are staff work"
SESSION_COLUMNS = """id, qualification_code, type, components, starts_at, location, remote,
    proctor_id, capacity, registered, registration_deadline, course_session_id, duration_minutes"""


def create_offering(staff: User, qualification_code: str, name: str) -> Offering:
    """A course offering, with the exam templates its courses end with: the qualification's
    components sat together, on the course's only day or its final day."""
    require_staff(staff, _REFUSAL)
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
        audit.record(
            conn, staff.id, "offering.create", f"offering:{offering['id']}", {"name": name}
        )
    return Offering(**offering, templates=[Template.model_validate(template)])


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
) -> Course:
    """A course session, and the bundled exam session of each of its offering's templates on
    the day the template says, open for registration until the course starts."""
    require_staff(staff, _REFUSAL)
    if ends_on < starts_on:
        raise InvalidDates("ends_on is before starts_on")
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
        audit.record(conn, staff.id, "course.schedule", f"course:{course['id']}", dict(course))
    return Course(**course, exam_sessions=sessions)


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
) -> ExamSession:
    """A session outside a course: makeup, resit, remote invigilation or standalone."""
    require_staff(staff, _REFUSAL)
    if registration_deadline > starts_at:
        raise InvalidDates("registration_deadline is after starts_at")
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
        audit.record(
            conn, staff.id, "session.create", f"session:{session.id}", session.model_dump()
        )
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
) -> ExamSession:
    row = conn.execute(
        f"""INSERT INTO exam_sessions (qualification_code, type, template_id, course_session_id,
                   components, starts_at, location, remote, proctor_id, capacity,
                   registration_deadline, duration_minutes)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                    (SELECT sum(duration_minutes) FROM qualification_components
                      WHERE qualification_code = %s AND component = ANY (%s)))
            RETURNING {SESSION_COLUMNS}""",
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
            qualification_code,
            components,
        ),
    ).fetchone()
    return ExamSession.model_validate(row)


def available_sessions(
    qualification_code: str | None, cursor: str | None, limit: int
) -> Page[ExamSession]:
    """Sessions still open for registration with a free seat, soonest first."""
    columns = ", ".join(f"t.{c.strip()}" for c in SESSION_COLUMNS.split(","))
    rows, following = paged(
        "open-sessions",
        f"""SELECT {columns} FROM exam_sessions t
             WHERE t.registration_deadline > now() AND t.registered < t.capacity
               AND (%(q)s::text IS NULL OR t.qualification_code = %(q)s) AND {{keyset}}
             ORDER BY t.starts_at, t.id LIMIT %(limit)s""",
        {"q": qualification_code},
        cursor,
        limit,
        column="starts_at",
        ascending=True,
    )
    return Page[ExamSession](items=[ExamSession.model_validate(r) for r in rows], next=following)


def enrol_in_course(staff: User, course_session_id: UUID, student_id: UUID) -> CourseEnrolment:
    """Staff enrol a student in a course session: its bundled exam seat is then theirs without a
    fee. Enrolling the same student again changes nothing and answers the same."""
    require_staff(staff, _REFUSAL)
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
            subject = f"student:{student_id}"
            audit.record(conn, staff.id, "course.enrol", subject, str(course_session_id))
    return CourseEnrolment(**(row or {}), qualification_code=course["qualification_code"])


def enrol_online(staff: User, student_id: UUID, qualification_code: str) -> Enrolment:
    """Staff enrol a student in online study of a qualification (opens remote invigilation)."""
    require_staff(staff, _REFUSAL)
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
        subject = f"student:{student_id}"
        audit.record(conn, staff.id, "enrolment.online", subject, qualification_code)
    return Enrolment.model_validate(row)


def enrol(conn: db.Connection, student: UUID, qualification_code: str, online: bool) -> None:
    """The student studies the qualification (a registration's doing; kept if already so)."""
    conn.execute(
        """INSERT INTO enrolments (student_id, qualification_code, online) VALUES (%s, %s, %s)
           ON CONFLICT (student_id, qualification_code) DO NOTHING""",
        (student, qualification_code, online),
    )


def _require_student(conn: db.Connection, student_id: UUID) -> None:
    if conn.execute("SELECT 1 FROM students WHERE id = %s", (student_id,)).fetchone() is None:
        raise StudentNotFound()


def session_row(conn: db.Connection, session_id: UUID) -> dict[str, Any] | None:
    return conn.execute(
        f"SELECT {SESSION_COLUMNS} FROM exam_sessions WHERE id = %s", (session_id,)
    ).fetchone()
