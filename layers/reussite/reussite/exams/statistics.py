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

import hashlib
import json
import math
import time
from collections import defaultdict
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


FOLD_BATCH = 1000
"""Attempts folded a transaction (the sweeper loops; a read folds at most READ_FOLDS)."""
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


_PENDING = """
    SELECT id, exam_code, exam_version, questions, question_credits, answers, passed, score
      FROM exam_attempts
     WHERE status = 'GRADED' AND counted_at IS NULL {only}
     ORDER BY exam_code, exam_version, id LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED"""
_ADD_VERSION = """
    INSERT INTO exam_version_stats (exam_code, exam_version, attempts, passed, score_sum)
    VALUES (%s, %s, %s, %s, %s)
    ON CONFLICT (exam_code, exam_version) DO UPDATE
       SET attempts = exam_version_stats.attempts + EXCLUDED.attempts,
           passed = exam_version_stats.passed + EXCLUDED.passed,
           score_sum = exam_version_stats.score_sum + EXCLUDED.score_sum"""
_ADD_QUESTIONS = """
    INSERT INTO exam_question_stats (exam_code, exam_version, question, type, prompt, asked,
                                     sum_x, sum_xx, sum_r, sum_rr, sum_xr)
    SELECT %(code)s, %(version)s, q.question, q.type, q.prompt, q.asked, q.sx, q.sxx, q.sr,
           q.srr, q.sxr
      FROM jsonb_to_recordset(%(rows)s::jsonb) AS q(question text, type text, prompt text,
           asked bigint, sx float8, sxx float8, sr float8, srr float8, sxr float8)
     ORDER BY q.question
    ON CONFLICT (exam_code, exam_version, question) DO UPDATE
       SET asked = exam_question_stats.asked + EXCLUDED.asked,
           sum_x = exam_question_stats.sum_x + EXCLUDED.sum_x,
           sum_xx = exam_question_stats.sum_xx + EXCLUDED.sum_xx,
           sum_r = exam_question_stats.sum_r + EXCLUDED.sum_r,
           sum_rr = exam_question_stats.sum_rr + EXCLUDED.sum_rr,
           sum_xr = exam_question_stats.sum_xr + EXCLUDED.sum_xr"""


def fold(code: str | None = None, version: int | None = None, limit: int = FOLD_BATCH) -> int:
    """Add up to `limit` graded attempts not yet counted (of one exam version, or any) to the
    running sums, in one transaction; how many it folded. Concurrent folds take disjoint
    attempts (SKIP LOCKED) and add to the sums in one order (no deadlock)."""
    only = "AND exam_code = %(code)s AND exam_version = %(version)s" if code else ""
    with db.transaction() as conn:
        rows = conn.execute(
            _PENDING.format(only=only), {"code": code, "version": version, "limit": limit}
        ).fetchall()
        if not rows:
            return 0
        versions: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0, 0])
        asked: dict[tuple[str, int], dict[str, dict[str, Any]]] = defaultdict(dict)
        for row in rows:
            key = (row["exam_code"], row["exam_version"])
            totals = versions[key]
            totals[0] += 1
            totals[1] += 1 if row["passed"] else 0
            totals[2] += row["score"]
            credits = row["question_credits"] or {
                q["id"]: grading.credit(q, (row["answers"] or {}).get(q["id"]))
                for q in row["questions"]
            }
            total = sum(credits.values())
            for q in row["questions"]:
                x = float(credits.get(q["id"], 0.0))
                r = total - x
                item = asked[key].setdefault(
                    _identity(q),
                    {
                        "type": q["type"],
                        "prompt": q["prompt"][:200],
                        "asked": 0,
                        "sx": 0.0,
                        "sxx": 0.0,
                        "sr": 0.0,
                        "srr": 0.0,
                        "sxr": 0.0,
                    },
                )
                item["asked"] += 1
                item["sx"] += x
                item["sxx"] += x * x
                item["sr"] += r
                item["srr"] += r * r
                item["sxr"] += x * r
        for (exam_code, exam_version), (attempts, passed, score_sum) in sorted(versions.items()):
            conn.execute(_ADD_VERSION, (exam_code, exam_version, attempts, passed, score_sum))
            questions = [
                {"question": name, **item}
                for name, item in sorted(asked[(exam_code, exam_version)].items())
            ]
            conn.execute(
                _ADD_QUESTIONS,
                {"code": exam_code, "version": exam_version, "rows": json.dumps(questions)},
            )
        conn.execute(
            "UPDATE exam_attempts SET counted_at = now() WHERE id = ANY(%s)",
            ([row["id"] for row in rows],),
        )
    return len(rows)


def fold_all(seconds: float = 60.0) -> int:
    """Fold every graded attempt not yet counted, a batch a transaction, for at most `seconds`
    (the attempt sweeper's share of its run); how many it folded."""
    deadline, folded = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        done = fold()
        folded += done
        if done < FOLD_BATCH:
            break
    return folded


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
