"""The back office's exam views (seed 003, "Exam Management Dashboard" and "Student Profile"):
the calendar of sessions, the remote-invigilation queue, the makeup/resit queue, and a
candidate's exam history with the actions the rules allow them next. Each is a page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from pydantic import BaseModel

from reussite import db
from reussite.exam_sessions.catalogue import qualification
from reussite.exam_sessions.models import ExamSession, MyExam
from reussite.exam_sessions.registrations import REG_COLUMNS
from reussite.exam_sessions.scheduling import SESSION_COLUMNS
from reussite.exam_sessions.services import price
from reussite.history import Page, by_code, paged
from reussite.identity.access import require_staff

if TYPE_CHECKING:
    from reussite.identity.models import User

_REFUSAL = "The exam queues are staff work"
# A registration that holds (or will hold) a seat: the student has something coming.
_BOOKED = "('PENDING_PAYMENT', 'REGISTERED')"


def calendar(
    staff: User,
    since: datetime | None,
    until: datetime | None,
    qualification_code: str | None,
    cursor: str | None,
    limit: int,
) -> Page[ExamSession]:
    """Every session from `since` (default: now) to `until`, soonest first, full or not."""
    require_staff(staff, _REFUSAL)
    columns = ", ".join(f"t.{c.strip()}" for c in SESSION_COLUMNS.split(","))
    rows, following = paged(
        "exam-calendar",
        f"""SELECT {columns} FROM exam_sessions t
             WHERE t.starts_at >= coalesce(%(since)s::timestamptz, now())
               AND (%(until)s::timestamptz IS NULL OR t.starts_at < %(until)s)
               AND (%(q)s::text IS NULL OR t.qualification_code = %(q)s) AND {{keyset}}
             ORDER BY t.starts_at, t.id LIMIT %(limit)s""",
        {"since": since, "until": until, "q": qualification_code},
        cursor,
        limit,
        column="starts_at",
        ascending=True,
    )
    return Page[ExamSession](items=[ExamSession.model_validate(r) for r in rows], next=following)


class RemoteCandidate(BaseModel):
    """A student enrolled online who can schedule remote invigilation now."""

    student_id: UUID
    student_name: str
    qualification_code: str
    enrolled_at: datetime
    window_closes_at: datetime


def remote_queue(staff: User, cursor: str | None, limit: int) -> Page[RemoteCandidate]:
    """Online students inside their window, not passed, with no sitting booked; longest
    waiting first."""
    require_staff(staff, _REFUSAL)
    rows, following = paged(
        "remote-queue",
        f"""SELECT * FROM (
               SELECT (e.student_id::text || ':') || e.qualification_code AS id, e.student_id,
                      s.display_name AS student_name, e.qualification_code, e.enrolled_at,
                      e.enrolled_at + make_interval(days => q.remote_window_days)
                          AS window_closes_at
                 FROM enrolments e
                 JOIN qualifications q ON q.code = e.qualification_code
                 JOIN students s ON s.id = e.student_id
                WHERE e.online
                  -- the walk starts at the widest window's beginning, not at the first enrolment
                  AND e.enrolled_at > now() - make_interval(
                          days => (SELECT max(remote_window_days) FROM qualifications))
                  AND e.enrolled_at + make_interval(days => q.remote_window_days) > now()
                  AND NOT EXISTS (
                      SELECT 1 FROM qualification_outcomes o
                       WHERE o.student_id = e.student_id
                         AND o.qualification_code = e.qualification_code
                         AND o.superseded_at IS NULL AND o.passed)
                  AND NOT EXISTS (
                      SELECT 1 FROM exam_registrations r
                        JOIN exam_sessions x ON x.id = r.session_id
                       WHERE r.student_id = e.student_id
                         AND x.qualification_code = e.qualification_code
                         AND r.status IN {_BOOKED})
             ) t
            WHERE {{keyset}}
            ORDER BY t.enrolled_at, t.id LIMIT %(limit)s""",
        {},
        cursor,
        limit,
        cast="::text",
        column="enrolled_at",
        ascending=True,
    )
    items = [RemoteCandidate.model_validate(r) for r in rows]
    return Page[RemoteCandidate](items=items, next=following)


class RetakeCandidate(BaseModel):
    """A student who needs a makeup (missed a bundled exam) or a resit (failed), not booked."""

    student_id: UUID
    student_name: str
    qualification_code: str
    need: Literal["MAKEUP", "RESIT"]
    since: datetime  # marked absent from the bundled exam, or the failed result
    components: list[str]  # what they would sit


def retake_queue(staff: User, cursor: str | None, limit: int) -> Page[RetakeCandidate]:
    """Students to place in a makeup or resit session, longest waiting first."""
    require_staff(staff, _REFUSAL)
    not_booked = f"""NOT EXISTS (
        SELECT 1 FROM exam_registrations b JOIN exam_sessions bs ON bs.id = b.session_id
         WHERE b.student_id = {{student}} AND bs.qualification_code = {{code}}
           AND b.status IN {_BOOKED})"""
    # each branch walks its index from the cursor and stops at a page; the page is the first of
    # the two merged (without the limits the planner reads every failed result and absence)
    after = """(%(after_at)s::timestamptz IS NULL
                OR ({since}, {id}) > (%(after_at)s::timestamptz, %(after_id)s::uuid))"""
    rows, following = paged(
        "retake-queue",
        f"""SELECT t.*, st.display_name AS student_name FROM (
              (SELECT r.id, r.student_id, x.qualification_code, 'MAKEUP' AS need,
                      r.absent_at AS since, r.components
                 FROM exam_registrations r JOIN exam_sessions x ON x.id = r.session_id
                WHERE r.status = 'ABSENT' AND x.type = 'BUNDLED'
                  AND NOT EXISTS (SELECT 1 FROM qualification_outcomes o
                                   WHERE o.student_id = r.student_id
                                     AND o.qualification_code = x.qualification_code)
                  AND NOT EXISTS (  -- absent twice: waiting since the last one
                      SELECT 1 FROM exam_registrations a JOIN exam_sessions y ON y.id = a.session_id
                       WHERE a.student_id = r.student_id AND a.status = 'ABSENT'
                         AND y.qualification_code = x.qualification_code
                         AND a.absent_at > r.absent_at)
                  AND {not_booked.format(student="r.student_id", code="x.qualification_code")}
                  AND {after.format(since="r.absent_at", id="r.id")}
                ORDER BY r.absent_at, r.id LIMIT %(limit)s)
               UNION ALL
              (SELECT o.id, o.student_id, o.qualification_code, 'RESIT', o.created_at,
                      ARRAY(SELECT c.key FROM jsonb_each(o.components) c
                             WHERE NOT q.carry_forward OR NOT (c.value ->> 'passed')::boolean
                             ORDER BY c.key DESC)
                 FROM qualification_outcomes o
                 JOIN qualifications q ON q.code = o.qualification_code
                WHERE o.superseded_at IS NULL AND NOT o.passed
                  AND NOT EXISTS (  -- the student's latest result in the qualification
                      SELECT 1 FROM qualification_outcomes l
                       WHERE l.student_id = o.student_id
                         AND l.qualification_code = o.qualification_code
                         AND l.superseded_at IS NULL AND l.created_at > o.created_at)
                  AND {not_booked.format(student="o.student_id", code="o.qualification_code")}
                  AND {after.format(since="o.created_at", id="o.id")}
                ORDER BY o.created_at, o.id LIMIT %(limit)s)
             ) t
             JOIN students st ON st.id = t.student_id
            WHERE {{keyset}}
            ORDER BY t.since, t.id LIMIT %(limit)s""",
        {},
        cursor,
        limit,
        column="since",
        ascending=True,
    )
    items = [RetakeCandidate.model_validate(r) for r in rows]
    return Page[RetakeCandidate](items=items, next=following)


# -- the candidate's exam history ----------------------------------------------------------------


class Action(BaseModel):
    """Something the rules allow the candidate next, with what it costs."""

    action: Literal["SCHEDULE_MAKEUP", "BOOK_RESIT", "SCHEDULE_REMOTE", "REQUEST_ENQUIRY"]
    service: str
    registration_id: UUID | None = None  # the sitting an enquiry would be about
    enquiry_types: list[str] = []
    price_minor: int
    currency: str
    credits: int | None  # None: money only


class QualificationHistory(BaseModel):
    qualification_code: str
    name: str
    level: str
    sittings: list[MyExam]  # newest first (the last 20)
    passed: bool
    grade: str | None
    actions: list[Action]


def history(
    user: User, student_id: UUID, cursor: str | None, limit: int
) -> Page[QualificationHistory]:
    """The candidate's exams per qualification they study or sat (by code): sittings with scores,
    outcome and certificate, and the actions available (staff, the family, the student)."""
    from reussite.identity import service as identity

    student = identity.accessible_student(user, student_id)
    rows, following = by_code(
        "exam-history",
        """SELECT t.id FROM (
               SELECT qualification_code AS id FROM enrolments WHERE student_id = %(s)s
               UNION
               SELECT x.qualification_code FROM exam_registrations r
                 JOIN exam_sessions x ON x.id = r.session_id WHERE r.student_id = %(s)s) t
            WHERE {keyset} ORDER BY t.id LIMIT %(limit)s""",
        {"s": student},
        cursor,
        limit,
    )
    conn = db.connection()
    items = [_qualification_history(conn, student, r["id"]) for r in rows]
    return Page[QualificationHistory](items=items, next=following)


def _qualification_history(conn: db.Connection, student: UUID, code: str) -> QualificationHistory:
    q = qualification(code, conn)
    sittings = [
        MyExam.model_validate(r)
        for r in conn.execute(
            f"""SELECT {REG_COLUMNS},
                       (SELECT jsonb_object_agg(c.component, c.score) FROM component_results c
                         WHERE c.registration_id = r.id) AS scores,
                       o.id AS outcome_id, o.passed, o.grade, o.percent,
                       (SELECT code FROM certificates WHERE outcome_id = o.id) AS certificate
                  FROM exam_registrations r
                  JOIN exam_sessions s ON s.id = r.session_id
                  LEFT JOIN qualification_outcomes o
                         ON o.registration_id = r.id AND o.superseded_at IS NULL
                 WHERE r.student_id = %s AND s.qualification_code = %s
                 ORDER BY r.created_at DESC, r.id DESC LIMIT 20""",
            (student, code),
        ).fetchall()
    ]
    graded = [s for s in sittings if s.outcome_id is not None]
    latest = max(graded, key=lambda s: s.starts_at, default=None)
    booked = any(s.status in ("PENDING_PAYMENT", "REGISTERED") for s in sittings)
    passed = latest is not None and bool(latest.passed)
    actions: list[Action] = []

    def offer(action: str, service: str, **extra: Any) -> None:
        cost = price(conn, code, service)
        actions.append(
            Action(
                action=action,  # type: ignore[arg-type]
                service=service,
                price_minor=cost.price_minor,
                currency=cost.currency,
                credits=cost.credits,
                **extra,
            )
        )

    if not passed and not booked:
        missed = any(s.status == "ABSENT" and s.type == "BUNDLED" for s in sittings)
        if latest is None and missed:
            offer("SCHEDULE_MAKEUP", "MAKEUP")
        if latest is not None:
            offer("BOOK_RESIT", "RESIT")
        enrolment = conn.execute(
            "SELECT online, enrolled_at FROM enrolments "
            "WHERE student_id = %s AND qualification_code = %s",
            (student, code),
        ).fetchone()
        if (
            enrolment
            and enrolment["online"]
            and enrolment["enrolled_at"] + timedelta(days=q.remote_window_days) > datetime.now(UTC)
        ):
            offer("SCHEDULE_REMOTE", "REMOTE")
    if latest is not None:
        _offer_enquiry(conn, q, latest, offer)
    return QualificationHistory(
        qualification_code=code,
        name=q.name,
        level=q.level,
        sittings=sittings,
        passed=passed,
        grade=latest.grade if latest else None,
        actions=actions,
    )


def _offer_enquiry(conn: db.Connection, q: Any, latest: MyExam, offer: Any) -> None:
    """An enquiry about the latest graded sitting, inside its window and with none open."""
    first = conn.execute(
        "SELECT min(created_at) AS at FROM qualification_outcomes WHERE registration_id = %s",
        (latest.id,),
    ).fetchone()
    if first is None or first["at"] is None:
        return
    if datetime.now(UTC) > first["at"] + timedelta(weeks=q.enquiry_weeks):
        return
    if conn.execute(
        """SELECT 1 FROM result_enquiries WHERE registration_id = %s
              AND status IN ('PENDING_PAYMENT', 'SUBMITTED', 'UNDER_REVIEW')""",
        (latest.id,),
    ).fetchone():
        return
    sat = set(latest.components)
    possible = {
        "THEORY": bool(sat & {"THEORY", "COMBINED"}),
        "TASTING": "TASTING" in sat,
        "BOTH": {"THEORY", "TASTING"} <= sat,
    }
    types = [kind for kind, ok in possible.items() if ok]
    offered = {t for t in types if _offered(conn, q.code, f"ENQUIRY_{t}")}
    types = [t for t in types if t in offered]
    if types:
        offer(
            "REQUEST_ENQUIRY", f"ENQUIRY_{types[0]}", registration_id=latest.id, enquiry_types=types
        )


def _offered(conn: db.Connection, code: str, service: str) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM exam_services WHERE qualification_code = %s AND service = %s",
            (code, service),
        ).fetchone()
        is not None
    )


class Refund(BaseModel):
    """Money owed back to a family, for staff to refund outside the platform and record."""

    id: UUID
    order_id: UUID
    order_reference: str
    student_id: UUID
    amount_minor: int
    currency: str
    reason: str
    status: Literal["DUE", "MADE"]
    reference: str | None
    made_at: datetime | None
    created_at: datetime


def refunds(staff: User, status: str | None, cursor: str | None, limit: int) -> Page[Refund]:
    """Money refunds, oldest first (the queue: DUE)."""
    from reussite.exam_sessions.services import REFUND_COLUMNS

    require_staff(staff, _REFUSAL)
    columns = REFUND_COLUMNS.replace("f.", "t.")
    rows, following = paged(
        "money-refunds",
        f"""SELECT {columns} FROM money_refunds t JOIN orders o ON o.id = t.order_id
             WHERE (%(status)s::text IS NULL OR t.status = %(status)s) AND {{keyset}}
             ORDER BY t.created_at, t.id LIMIT %(limit)s""",
        {"status": status},
        cursor,
        limit,
        ascending=True,
    )
    return Page[Refund](items=[Refund.model_validate(r) for r in rows], next=following)


def refund_made(staff: User, refund_id: UUID, reference: str) -> Refund:
    from reussite.exam_sessions.services import refund_made as record

    return Refund.model_validate(record(staff, refund_id, reference))
