"""Staff enter a sitting's results; the sitting is graded under the qualification's rules (a
new outcome each time, superseding the last) and a pass goes through the certificate pipeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from psycopg.types.json import Jsonb

from reussite import audit, db
from reussite.exam_sessions.catalogue import qualification
from reussite.exam_sessions.errors import (
    InvalidScores,
    NotRegistered,
    RegistrationNotFound,
    ResultsAlreadyEntered,
    SessionNotHeld,
)
from reussite.exam_sessions.models import Outcome, Sitting
from reussite.exam_sessions.registrations import REG_COLUMNS
from reussite.exam_sessions.rules import grade
from reussite.identity.access import require_staff

if TYPE_CHECKING:
    from reussite.identity.models import User

_REFUSAL = "Scheduling, results and enquiries are staff work"


def enter_results(
    staff: User, registration_id: UUID, scores: dict[str, int] | None, absent: bool
) -> Sitting:
    """Record a sitting: absent, or a score per component sat; grade it under the rules
    (carrying earlier passes forward where allowed) and, on a pass, queue the certificate."""
    require_staff(staff, _REFUSAL)
    with db.transaction() as conn:
        reg = conn.execute(
            f"""SELECT {REG_COLUMNS}, s.duration_minutes FROM exam_registrations r
                  JOIN exam_sessions s ON s.id = r.session_id
                 WHERE r.id = %s FOR UPDATE OF r""",
            (registration_id,),
        ).fetchone()
        if reg is None:
            raise RegistrationNotFound()
        if reg["status"] in ("PENDING_PAYMENT", "CANCELLED"):
            raise NotRegistered()
        if reg["status"] != "REGISTERED":
            raise ResultsAlreadyEntered()
        ends = reg["starts_at"] + timedelta(minutes=reg["duration_minutes"])
        if ends > datetime.now(UTC):  # its papers are over: results (or an absence) follow
            raise SessionNotHeld(f"The session ends at {ends.isoformat()}")
        subject = f"registration:{registration_id}"
        if absent:
            conn.execute(
                "UPDATE exam_registrations SET status = 'ABSENT', absent_at = now() WHERE id = %s",
                (registration_id,),
            )
            audit.record(conn, staff.id, "results.absent", subject)
            return Sitting(registration_id=registration_id, status="ABSENT", outcome=None)
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
        audit.record(conn, staff.id, "results.enter", subject, {"scores": scores})
        outcome = grade_sitting(conn, staff, reg)
    queue_certificate(outcome)
    return Sitting(registration_id=registration_id, status="SAT", outcome=outcome)


def grade_sitting(conn: db.Connection, actor: User, reg: dict[str, Any]) -> Outcome:
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
    audit.record(
        conn,
        actor.id,
        "outcome.grade",
        f"registration:{reg['id']}",
        {"outcome": row["id"], "grade": graded.grade, "percent": graded.percent},
    )
    return Outcome.model_validate(row)


def queue_certificate(outcome: Outcome) -> None:
    """A pass goes through the certificate pipeline (queue, worker, PDF, credential, email)."""
    if not outcome.passed:
        return
    from reussite.notifications import send_to_queue
    from reussite.settings import get_settings

    send_to_queue(get_settings().require("certificate_queue_url"), {"outcome_id": str(outcome.id)})
