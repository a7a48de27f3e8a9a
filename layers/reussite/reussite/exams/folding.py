"""The quiz statistics' running sums (`exam_version_stats`, `exam_question_stats`): each graded
attempt folded in exactly once (`counted_at`, set in the transaction that adds it). The attempt
sweeper folds what was graded since its last run; a statistics read folds what is still pending
for what it shows (`reussite.exams.statistics`). No pydantic here: the sweeper imports this
without the staff views' models.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from typing import Any

from reussite import db
from reussite.exams import grading

FOLD_BATCH = 1000
"""Attempts folded a transaction (the sweeper loops; a read folds at most READ_FOLDS)."""


def _identity(q: dict[str, Any]) -> str:
    ref = q.get("ref")
    if ref:
        return f"{ref['pool']}/{ref['name']}@{ref['version']}"
    digest = hashlib.sha256(f"{q['type']}|{q['prompt']}".encode()).hexdigest()[:12]
    return f"gen:{digest}"


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
