"""Extra time staff grant a student (a percentage of the duration and/or minutes), for one exam
or for every exam; the deadline of each attempt started afterwards counts it, on the server.
One grant per student and exam (or "every exam"): granting again replaces it."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from reussite import audit, db
from reussite.errors import ExamNotFound, StudentNotFound
from reussite.identity.access import require_staff
from reussite.identity.models import User


class Accommodation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    exam_code: str | None = Field(None, pattern=r"^[A-Z0-9][A-Z0-9_-]{1,39}$")
    extra_percent: int = Field(0, ge=0, le=200)
    extra_minutes: int = Field(0, ge=0, le=600)
    reason: str = Field(min_length=3, max_length=500)


class Granted(Accommodation):
    student_id: UUID
    granted_at: datetime


def grant(staff: User, student_id: UUID, spec: Accommodation) -> Granted:
    require_staff(staff)
    with db.transaction() as conn:
        if conn.execute("SELECT 1 FROM students WHERE id = %s", (student_id,)).fetchone() is None:
            raise StudentNotFound()
        if (
            spec.exam_code
            and not conn.execute(
                "SELECT 1 FROM exam_definitions WHERE code = %s", (spec.exam_code,)
            ).fetchone()
        ):
            raise ExamNotFound()
        conn.execute(
            """DELETE FROM exam_accommodations
                WHERE student_id = %s AND coalesce(exam_code, '') = coalesce(%s, '')""",
            (student_id, spec.exam_code),
        )
        row = conn.execute(
            """INSERT INTO exam_accommodations (student_id, exam_code, extra_percent,
                                                extra_minutes, reason, granted_by)
               VALUES (%s, %s, %s, %s, %s, %s)
            RETURNING student_id, exam_code, extra_percent, extra_minutes, reason, granted_at""",
            (
                student_id,
                spec.exam_code,
                spec.extra_percent,
                spec.extra_minutes,
                spec.reason,
                staff.id,
            ),
        ).fetchone()
        audit.record(
            conn,
            staff.id,
            "exam.accommodation",
            f"student:{student_id}",
            spec.model_dump(),
        )
    return Granted.model_validate(row)
