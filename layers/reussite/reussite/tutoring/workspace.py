"""The coach's workspace (seed 001, "Scénario 5 : Workflow Coach"): the coach opens the agenda,
prepares a lesson from the student's file and history, launches the video room from the
session, writes the report and records the student's progress.

The student's file is for the student's coaches (a booked or past session with them), the
student's family and staff; anyone else gets a 404, as for an unknown student. A coach sees
exam results in the subjects they teach; the orientation report's summary only if the family
shares it with coaches."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from pydantic import BaseModel

from reussite import audit, db, links
from reussite.errors import Conflict, NotFound, StudentNotFound
from reussite.history import Page, paged
from reussite.identity.access import require_role, require_staff
from reussite.identity.roles import Role
from reussite.tutoring.models import Coach
from reussite.tutoring.reminders import ROOM_OPENS_BEFORE, BookingNotFound

if TYPE_CHECKING:
    from reussite.identity.models import User

# An online exam's subject: its course, or for a language exam the language's subject.
_LANGUAGE_SUBJECTS = {
    "fr": "FRANCAIS",
    "en": "ANGLAIS",
    "ar": "ARABE",
    "es": "ESPAGNOL",
    "de": "ALLEMAND",
    "it": "ITALIEN",
}
_EXAM_SUBJECT = """upper(CASE WHEN d.course = 'language'
                              THEN coalesce(%(languages)s::jsonb ->> d.language, d.language)
                              ELSE d.course END)"""


class SessionNote(BaseModel):
    session_id: UUID
    starts_at: datetime
    subject: str
    coach_name: str
    status: str  # the student's booking: BOOKED, ATTENDED, NO_SHOW
    report: str | None


class ExamResult(BaseModel):
    exam_code: str
    title: str
    subject: str
    submitted_at: datetime | None
    score: int | None
    passed: bool | None


class Progress(BaseModel):
    id: UUID
    session_id: UUID
    student_id: UUID
    coach_name: str
    subject: str
    level: int  # 1 (beginning) to 5 (mastered)
    note: str | None
    skills: list[str]
    created_at: datetime
    updated_at: datetime


class StudentFile(BaseModel):
    student_id: UUID
    name: str
    school_level: str | None
    subjects: list[str]  # of the student's bookings
    sessions: list[SessionNote]  # newest first, the last 50
    exam_results: list[ExamResult]  # a coach: in the subjects they teach; the last 50
    progress: list[Progress]  # newest first, the last 50
    bilan_summary: str | None  # the latest orientation report's, if shared with coaches
    bilan_shared_with_coaches: bool


class Sharing(BaseModel):
    student_id: UUID
    bilan_shared_with_coaches: bool


def _reader(user: User, student_id: UUID) -> str:
    """Who reads the file: 'coach' (one of the student's), 'family' or 'staff'; 404 else."""
    if user.role is Role.COACH:
        if not is_coach_of(db.connection(), user.id, student_id):
            raise StudentNotFound()
        return "coach"
    from reussite.identity import service as identity

    identity.accessible_student(user, student_id)
    return "staff" if user.is_staff else "family"


def is_coach_of(conn: db.Connection, coach_id: UUID, student_id: UUID) -> bool:
    """The coach has (had) a session with the student: booked, attended or missed."""
    return (
        conn.execute(
            """SELECT 1 FROM tutoring_bookings b JOIN tutoring_sessions s ON s.id = b.session_id
                WHERE b.student_id = %s AND s.coach_id = %s AND b.status <> 'CANCELLED'
                LIMIT 1""",
            (student_id, coach_id),
        ).fetchone()
        is not None
    )


def student_file(user: User, student_id: UUID) -> StudentFile:
    reader = _reader(user, student_id)
    conn = db.connection()
    student = conn.execute(
        "SELECT display_name, school_level, share_bilan_with_coaches FROM students WHERE id = %s",
        (student_id,),
    ).fetchone()
    if student is None:
        raise StudentNotFound()
    sessions = [
        SessionNote.model_validate(r)
        for r in conn.execute(
            """SELECT s.id AS session_id, s.starts_at, s.subject, c.display_name AS coach_name,
                      b.status, s.report
                 FROM tutoring_bookings b
                 JOIN tutoring_sessions s ON s.id = b.session_id
                 JOIN coaches c ON c.user_id = s.coach_id
                WHERE b.student_id = %s AND b.status <> 'CANCELLED'
                ORDER BY s.starts_at DESC LIMIT 50""",
            (student_id,),
        ).fetchall()
    ]
    subjects = conn.execute(
        """SELECT DISTINCT s.subject FROM tutoring_bookings b
             JOIN tutoring_sessions s ON s.id = b.session_id
            WHERE b.student_id = %s AND b.status <> 'CANCELLED' ORDER BY s.subject""",
        (student_id,),
    ).fetchall()
    taught = None
    if reader == "coach":
        row = conn.execute("SELECT subjects FROM coaches WHERE user_id = %s", (user.id,)).fetchone()
        taught = [s.upper() for s in (row["subjects"] if row else [])]
    from psycopg.types.json import Jsonb

    results = [
        ExamResult.model_validate(r)
        for r in conn.execute(
            f"""SELECT a.exam_code, d.title, {_EXAM_SUBJECT} AS subject, a.submitted_at,
                       a.score, a.passed
                  FROM exam_attempts a JOIN exam_definitions d ON d.code = a.exam_code
                 WHERE a.student_id = %(student)s AND a.status = 'GRADED'
                   AND (%(taught)s::text[] IS NULL OR {_EXAM_SUBJECT} = ANY(%(taught)s))
                 ORDER BY a.submitted_at DESC LIMIT 50""",
            {"student": student_id, "taught": taught, "languages": Jsonb(_LANGUAGE_SUBJECTS)},
        ).fetchall()
    ]
    shared = bool(student["share_bilan_with_coaches"])
    summary = None
    if reader != "coach" or shared:
        bilan = conn.execute(
            """SELECT report_markdown FROM bilans WHERE student_id = %s AND status = 'COMPLETED'
                ORDER BY created_at DESC LIMIT 1""",
            (student_id,),
        ).fetchone()
        summary = _summary(bilan["report_markdown"]) if bilan else None
    return StudentFile(
        student_id=student_id,
        name=student["display_name"],
        school_level=student["school_level"],
        subjects=[r["subject"] for r in subjects],
        sessions=sessions,
        exam_results=results,
        progress=_progress(conn, student_id, None, 50),
        bilan_summary=summary,
        bilan_shared_with_coaches=shared,
    )


def _summary(markdown: str, limit: int = 600) -> str:
    """A report's summary: its first paragraph of prose (headings and lists skipped)."""
    for block in re.split(r"\n\s*\n", markdown):
        text = block.strip()
        if text and not text.startswith(("#", "-", "*", "|", ">")):
            text = " ".join(text.split())
            return text if len(text) <= limit else text[: limit - 1] + "…"
    return ""


def share_bilan(user: User, student_id: UUID, shared: bool) -> Sharing:
    """The family (or staff) decide whether the student's coaches read the orientation
    report's summary in the student's file; audited."""
    from reussite.identity import service as identity

    require_role(user, Role.ELEVE, Role.PARENT, Role.ASSISTANTE, Role.ADMIN)
    identity.accessible_student(user, student_id)
    with db.transaction() as conn:
        conn.execute(
            "UPDATE students SET share_bilan_with_coaches = %s WHERE id = %s",
            (shared, student_id),
        )
        audit.record(
            conn, user.id, "student.share_bilan", f"student:{student_id}", {"shared": shared}
        )
    return Sharing(student_id=student_id, bilan_shared_with_coaches=shared)


# -- progress ------------------------------------------------------------------------------------


_PROGRESS = """SELECT p.id, p.session_id, p.student_id, c.display_name AS coach_name, p.subject,
       p.level, p.note, p.skills, p.created_at, p.updated_at
  FROM progress_entries p JOIN coaches c ON c.user_id = p.coach_id"""


def record_progress(
    coach: User,
    session_id: UUID,
    student_id: UUID,
    level: int,
    note: str | None,
    skills: list[str],
) -> Progress:
    """After a session, its coach records the student's level in the session's subject, with a
    note and the skills worked on; recorded again for the same session, it is replaced."""
    from reussite.tutoring.service import TooLate

    require_role(coach, Role.COACH, refusal="Progress is recorded by the session's coach")
    with db.transaction() as conn:
        session = conn.execute(
            """SELECT s.coach_id, s.subject, s.starts_at, s.status FROM tutoring_sessions s
                 JOIN tutoring_bookings b ON b.session_id = s.id
                WHERE s.id = %s AND b.student_id = %s AND b.status <> 'CANCELLED'""",
            (session_id, student_id),
        ).fetchone()
        if session is None or session["coach_id"] != coach.id:
            raise BookingNotFound("No such session of yours with this student")
        if session["status"] == "CANCELLED" or session["starts_at"] > datetime.now(UTC):
            raise TooLate("Progress is recorded once the session has taken place")
        row = conn.execute(
            """INSERT INTO progress_entries (session_id, student_id, coach_id, subject, level,
                       note, skills)
               VALUES (%s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (session_id, student_id) DO UPDATE
                  SET level = EXCLUDED.level, note = EXCLUDED.note, skills = EXCLUDED.skills,
                      updated_at = now()
               RETURNING id""",
            (session_id, student_id, coach.id, session["subject"], level, note, skills),
        ).fetchone()
        assert row is not None
        details = {"session": session_id, "level": level, "skills": skills}
        audit.record(conn, coach.id, "progress.record", f"student:{student_id}", details)
        found = conn.execute(f"{_PROGRESS} WHERE p.id = %s", (row["id"],)).fetchone()
        return Progress.model_validate(found)


def _progress(
    conn: db.Connection, student_id: UUID, subject: str | None, limit: int
) -> list[Progress]:
    rows = conn.execute(
        f"""{_PROGRESS} WHERE p.student_id = %s AND (%s::text IS NULL OR p.subject = %s)
             ORDER BY p.created_at DESC, p.id DESC LIMIT %s""",
        (student_id, subject, subject, limit),
    ).fetchall()
    return [Progress.model_validate(r) for r in rows]


def progress(
    user: User, student_id: UUID, subject: str | None, cursor: str | None, limit: int
) -> Page[Progress]:
    """The student's progress history, newest first (the family, staff, the student's
    coaches)."""
    _reader(user, student_id)
    rows, following = paged(
        "progress",
        f"""SELECT * FROM ({_PROGRESS}
                 WHERE p.student_id = %(student)s
                   AND (%(subject)s::text IS NULL OR p.subject = %(subject)s)) t
             WHERE {{keyset}} ORDER BY t.created_at DESC, t.id DESC LIMIT %(limit)s""",
        {"student": student_id, "subject": subject},
        cursor,
        limit,
    )
    return Page[Progress](items=[Progress.model_validate(r) for r in rows], next=following)


# -- the video room --------------------------------------------------------------------------------


class RoomLinkInvalid(NotFound):
    code = "ROOM_NOT_FOUND"
    title = "This room link is not valid"


class RoomNotOpen(Conflict):
    code = "ROOM_NOT_OPEN"
    title = "The room is not open yet"


class RoomClosed(Conflict):
    code = "ROOM_CLOSED"
    title = "The room has closed: the session is over or cancelled"


def open_room(session_id: UUID, token: str, now: datetime | None = None) -> str:
    """The video room's address, from ROOM_OPENS_BEFORE the start to the end of the session,
    for whoever holds its link (the coach's and the students' are the same)."""
    if not links.verify(token, f"room:{session_id}"):
        raise RoomLinkInvalid()
    session = db.read_one(
        "SELECT starts_at, ends_at, status, room_url FROM tutoring_sessions WHERE id = %s",
        (session_id,),
    )
    if session is None:
        raise RoomLinkInvalid()
    now = now or datetime.now(UTC)
    opens = session["starts_at"] - ROOM_OPENS_BEFORE
    if session["status"] == "CANCELLED" or now > session["ends_at"]:
        raise RoomClosed()
    if now < opens:
        raise RoomNotOpen(f"The room opens at {opens.isoformat()}", opens_at=opens.isoformat())
    return str(session["room_url"])


# -- coaches as data ------------------------------------------------------------------------------


def create_coach(
    staff: User,
    sub: str,
    email: str,
    pseudonym: str,
    subjects: list[str],
    availability: list[dict[str, Any]],
) -> Coach:
    """Staff create a coach in one call: the login (the identity provider's subject and email,
    provisioned now and kept in step when they sign in), the pseudonym families see, the
    subjects and the weekly availability. Calling it again updates them."""
    from reussite.tutoring.service import coaches

    require_staff(staff, "Staff manage coaches")
    with db.transaction() as conn:
        person = conn.execute(
            """INSERT INTO users (sub, email, name, role) VALUES (%s, %s, %s, 'COACH')
               ON CONFLICT (sub) DO UPDATE SET updated_at = now()
               RETURNING id, role""",
            (sub, email, pseudonym),
        ).fetchone()
        assert person is not None
        if person["role"] != Role.COACH:
            raise CoachConflict()
        conn.execute(
            """INSERT INTO coaches (user_id, display_name, subjects) VALUES (%s, %s, %s)
               ON CONFLICT (user_id) DO UPDATE
                  SET display_name = EXCLUDED.display_name, subjects = EXCLUDED.subjects""",
            (person["id"], pseudonym, subjects),
        )
        conn.execute("DELETE FROM coach_availability WHERE coach_id = %s", (person["id"],))
        for slot in availability:
            conn.execute(
                """INSERT INTO coach_availability (coach_id, weekday, starts, ends)
                   VALUES (%s, %s, %s, %s)""",
                (person["id"], slot["weekday"], slot["starts"], slot["ends"]),
            )
        details = {"pseudonym": pseudonym, "subjects": subjects}
        audit.record(conn, staff.id, "coach.create", f"user:{person['id']}", details)
    return coaches(None, None, 1, only=person["id"]).items[0]


class CoachConflict(Conflict):
    code = "NOT_A_COACH"
    title = "This login belongs to someone who is not a coach"
