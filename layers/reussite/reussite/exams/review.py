"""What a student may see of a graded attempt, by the exam's review policy:

- `none`: nothing beyond the attempt itself;
- `score`: the score, the pass and each component's score;
- `marks`: and, per question, what was answered and whether it was right (its credit);
- `answers`: and the correct answer.

Nothing of a review exists while the attempt is open: the key is never sent before the attempt
is closed (graded, overdue or abandoned), and only when the policy allows it. Staff read the
full review of a closed attempt, whatever the policy.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel

from reussite import db
from reussite.errors import AttemptNotFound, DomainError
from reussite.exams import grading
from reussite.exams.scoring import public
from reussite.identity.models import User

POLICIES = ("none", "score", "marks", "answers")


class ReviewNotAvailable(DomainError):
    code = "REVIEW_NOT_AVAILABLE"
    status = 409
    title = "This exam's review is not available"


class ReviewedQuestion(BaseModel):
    id: str
    component: str
    type: str
    shown: dict[str, Any]
    answered: Any
    credit: float
    right: bool
    correct: Any = None


class Review(BaseModel):
    attempt_id: UUID
    exam_code: str
    exam_version: int
    status: str
    policy: str
    score: int | None
    passed: bool | None
    components: list[dict[str, Any]] | None
    questions: list[ReviewedQuestion] | None = None


def review(user: User, attempt_id: UUID) -> Review:
    from reussite.exams import service

    row = db.read_one(
        """SELECT a.id, a.student_id, a.exam_code, a.exam_version, a.status, a.questions,
                  a.answers, a.saved_answers, a.score, a.passed, a.component_scores,
                  v.definition ->> 'review_policy' AS policy
             FROM exam_attempts a
             JOIN exam_versions v ON v.exam_code = a.exam_code AND v.version = a.exam_version
            WHERE a.id = %s""",
        (attempt_id,),
    )
    if row is None or not (user.is_staff or service.may_act_for(user, row["student_id"])):
        raise AttemptNotFound()
    if row["status"] == "IN_PROGRESS":
        raise ReviewNotAvailable("The review opens once the attempt is closed", policy="open")
    policy = "answers" if user.is_staff else row["policy"] or "marks"
    if policy == "none":
        raise ReviewNotAvailable("This exam shows no review", policy="none")
    answered = row["answers"] if row["answers"] is not None else row["saved_answers"] or {}
    reviewed = None
    if policy in ("marks", "answers"):
        reviewed = []
        for q in row["questions"]:
            credit = grading.credit(q, answered.get(q["id"]))
            reviewed.append(
                ReviewedQuestion(
                    id=q["id"],
                    component=q["component"],
                    type=q["type"],
                    shown=public(q),
                    answered=answered.get(q["id"]),
                    credit=round(credit, 4),
                    right=credit >= 1.0,
                    correct=correct_answer(q) if policy == "answers" else None,
                )
            )
    return Review(
        attempt_id=row["id"],
        exam_code=row["exam_code"],
        exam_version=row["exam_version"],
        status=row["status"],
        policy=policy,
        score=row["score"],
        passed=row["passed"],
        components=row["component_scores"],
        questions=reviewed,
    )


def correct_answer(q: dict[str, Any]) -> Any:
    """The key, as the student saw the question (indexes into the shuffled options)."""
    kind = q["type"]
    if kind in ("single", "choice", "truefalse", "number", "fraction", "matching", "ordering"):
        return q["answer"]
    if kind == "multiple":
        return q["answers"]
    if kind == "numerical":
        return {"answer": q["answer"], "tolerance": q.get("tolerance", "0")}
    if kind == "shortanswer":
        return q["answers"]
    if kind == "cloze":
        return [g["answers"] for g in q["gaps"]]
    return None
