"""Quiz statistics for staff, per exam version, as Moodle's quiz statistics define them:

- the exam: graded attempts, pass rate, mean score;
- each question (a pool question's version, or a generated question by its prompt): how often
  it was asked, its **facility index** (the mean credit, in %: how easy it is) and its
  **discrimination index** (the correlation, in %, between the credit on this question and the
  score on the rest of the attempt: good questions are answered right by those who do well).
  A question whose discrimination is under 30 % is flagged, as Moodle highlights them.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from pydantic import BaseModel

from reussite import db
from reussite.errors import ExamNotFound
from reussite.exams import grading
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


def _identity(q: dict[str, Any]) -> str:
    ref = q.get("ref")
    if ref:
        return f"{ref['pool']}/{ref['name']}@{ref['version']}"
    digest = hashlib.sha256(f"{q['type']}|{q['prompt']}".encode()).hexdigest()[:12]
    return f"gen:{digest}"


def _pearson(xs: list[float], ys: list[float]) -> float | None:
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def exam_statistics(staff: User, code: str, version: int | None = None) -> ExamStatistics:
    require_staff(staff)
    conn = db.connection()
    exam = conn.execute(
        "SELECT level, version FROM exam_definitions WHERE code = %s", (code,)
    ).fetchone()
    if exam is None:
        raise ExamNotFound()
    version = version or exam["version"]
    rows = conn.execute(
        """SELECT questions, question_credits, answers, passed, score FROM exam_attempts
            WHERE exam_code = %s AND exam_version = %s AND status = 'GRADED'""",
        (code, version),
    ).fetchall()
    asked: dict[str, dict[str, Any]] = {}
    for row in rows:
        credits = row["question_credits"] or {
            q["id"]: grading.credit(q, (row["answers"] or {}).get(q["id"]))
            for q in row["questions"]
        }
        total = sum(credits.values())
        for q in row["questions"]:
            key = _identity(q)
            item = asked.setdefault(
                key, {"type": q["type"], "prompt": q["prompt"][:200], "x": [], "rest": []}
            )
            x = float(credits.get(q["id"], 0.0))
            item["x"].append(x)
            item["rest"].append(total - x)
    questions = []
    for key, item in sorted(asked.items()):
        r = _pearson(item["x"], item["rest"])
        discrimination = None if r is None else round(100 * r, 1)
        questions.append(
            QuestionStatistics(
                question=key,
                type=item["type"],
                prompt=item["prompt"],
                asked=len(item["x"]),
                facility=round(100 * sum(item["x"]) / len(item["x"]), 1),
                discrimination=discrimination,
                flagged=discrimination is not None and discrimination < LOW_DISCRIMINATION,
            )
        )
    passed = sum(1 for r in rows if r["passed"])
    return ExamStatistics(
        exam_code=code,
        version=version,
        level=exam["level"],
        attempts=len(rows),
        passed=passed,
        pass_rate=round(100 * passed / len(rows), 1) if rows else None,
        mean_score=round(sum(r["score"] for r in rows) / len(rows), 1) if rows else None,
        questions=questions,
    )


class LevelStatistics(BaseModel):
    level: str
    attempts: int
    pass_rate: float | None


def pass_rate_by_level(staff: User, course: str | None = None) -> list[LevelStatistics]:
    """The seed's KPI: graded attempts and their pass rate, per level (all exams, or a course)."""
    require_staff(staff)
    rows = (
        db.connection()
        .execute(
            """SELECT d.level, count(*) AS attempts,
                  round(100.0 * count(*) FILTER (WHERE a.passed) / count(*), 1)::float
                      AS pass_rate
             FROM exam_attempts a JOIN exam_definitions d ON d.code = a.exam_code
            WHERE a.status = 'GRADED' AND (%(course)s::text IS NULL OR d.course = %(course)s)
            GROUP BY d.level ORDER BY d.level""",
            {"course": course},
        )
        .fetchall()
    )
    return [LevelStatistics.model_validate(r) for r in rows]
