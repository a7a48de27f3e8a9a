"""Quiz statistics for staff, per exam version, as Moodle's quiz statistics define them:

- the exam: graded attempts, pass rate, mean score;
- each question (a pool question's version, or a generated question by its prompt): how often
  it was asked, its **facility index** (the mean credit, in %: how easy it is) and its
  **discrimination index** (the correlation, in %, between the credit on this question and the
  score on the rest of the attempt: good questions are answered right by those who do well).
  A question whose discrimination is under 30 % is flagged, as Moodle highlights them.

They are kept as running sums (`exam_version_stats`, `exam_question_stats`: Pearson's r needs
only n, the sums of x, r, x², r² and xr), so a read costs the exam's questions, not its
attempts. Each graded attempt is folded in exactly once (`counted_at`, set in the transaction
that adds it); the attempt sweeper folds what was graded since its last run, and a read first
folds up to READ_FOLDS batches still pending for what it shows, so figures lag only while a
backlog larger than that waits (a deploy's backfill of the history, which the sweeper works
through 30 s a run).
"""

from __future__ import annotations

import math

from pydantic import BaseModel

from reussite import db
from reussite.errors import ExamNotFound
from reussite.exams.folding import FOLD_BATCH, fold
from reussite.identity.access import require_staff
from reussite.identity.models import User

LOW_DISCRIMINATION = 30.0


class QuestionStatistics(BaseModel):
    question: str  # pool/name@version, or gen:<prompt digest>
    type: str
    prompt: str
    asked: int
    facility: float  # mean credit, %
    discrimination: float | None  # %, None when it cannot be told (all alike, or too few)
    flagged: bool


class ExamStatistics(BaseModel):
    exam_code: str
    version: int
    level: str
    attempts: int
    passed: int
    pass_rate: float | None  # %
    mean_score: float | None
    questions: list[QuestionStatistics]


READ_FOLDS = 5


def _pearson(n: int, sx: float, sr: float, sxx: float, srr: float, sxr: float) -> float | None:
    """Pearson's correlation from running sums; None when it cannot be told (fewer than two,
    or either side the same for everyone)."""
    if n < 2:
        return None
    vx, vr = n * sxx - sx * sx, n * srr - sr * sr
    scale = max(1.0, abs(n * sxx), abs(n * srr))
    if vx <= 1e-9 * scale or vr <= 1e-9 * scale:
        return None
    return (n * sxr - sx * sr) / math.sqrt(vx * vr)


def _catch_up(code: str | None = None, version: int | None = None) -> None:
    """Before a read: fold what is still pending for it (normally what was graded since the
    sweeper's last run), a few batches at most."""
    for _ in range(READ_FOLDS):
        if fold(code, version) < FOLD_BATCH:
            return


def exam_statistics(staff: User, code: str, version: int | None = None) -> ExamStatistics:
    require_staff(staff)
    exam = db.read_one("SELECT level, version FROM exam_definitions WHERE code = %s", (code,))
    if exam is None:
        raise ExamNotFound()
    version = version or exam["version"]
    _catch_up(code, version)
    conn = db.connection()
    totals = conn.execute(
        """SELECT attempts, passed, score_sum FROM exam_version_stats
            WHERE exam_code = %s AND exam_version = %s""",
        (code, version),
    ).fetchone() or {"attempts": 0, "passed": 0, "score_sum": 0}
    rows = conn.execute(
        """SELECT question, type, prompt, asked, sum_x, sum_xx, sum_r, sum_rr, sum_xr
             FROM exam_question_stats WHERE exam_code = %s AND exam_version = %s
            ORDER BY question""",
        (code, version),
    ).fetchall()
    questions = []
    for row in rows:
        r = _pearson(
            row["asked"], row["sum_x"], row["sum_r"], row["sum_xx"], row["sum_rr"], row["sum_xr"]
        )
        discrimination = None if r is None else round(100 * r, 1)
        questions.append(
            QuestionStatistics(
                question=row["question"],
                type=row["type"],
                prompt=row["prompt"],
                asked=row["asked"],
                facility=round(100 * row["sum_x"] / row["asked"], 1),
                discrimination=discrimination,
                flagged=discrimination is not None and discrimination < LOW_DISCRIMINATION,
            )
        )
    attempts, passed = totals["attempts"], totals["passed"]
    return ExamStatistics(
        exam_code=code,
        version=version,
        level=exam["level"],
        attempts=attempts,
        passed=passed,
        pass_rate=round(100 * passed / attempts, 1) if attempts else None,
        mean_score=round(totals["score_sum"] / attempts, 1) if attempts else None,
        questions=questions,
    )


class LevelStatistics(BaseModel):
    level: str
    attempts: int
    pass_rate: float | None


def pass_rate_by_level(staff: User, course: str | None = None) -> list[LevelStatistics]:
    """The seed's KPI: graded attempts and their pass rate, per level (all exams, or a course)."""
    require_staff(staff)
    _catch_up()
    rows = (
        db.connection()
        .execute(
            """SELECT d.level, sum(v.attempts)::int AS attempts,
                  round(100.0 * sum(v.passed) / sum(v.attempts), 1)::float AS pass_rate
             FROM exam_version_stats v JOIN exam_definitions d ON d.code = v.exam_code
            WHERE v.attempts > 0 AND (%(course)s::text IS NULL OR d.course = %(course)s)
            GROUP BY d.level ORDER BY d.level""",
            {"course": course},
        )
        .fetchall()
    )
    return [LevelStatistics.model_validate(r) for r in rows]
