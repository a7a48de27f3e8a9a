"""Grading an online attempt, as pure functions of its stored questions and the answers: each
component scored on its own questions against its pass mark, the total against the exam's
passing score; a pass needs both."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reussite.exams import scoring as types
from reussite.exams.generators import normalise


@dataclass(frozen=True)
class Graded:
    score: int  # percent of all questions right
    passed: bool
    components: list[dict[str, Any]]  # key, name, score, pass_mark, passed
    credits: dict[str, float]  # each question's credit, 0 to 1 (for item statistics)


def percent(right: float, asked: int) -> int:
    """The share of questions right (partial credit counts its fraction), in percent, rounded
    as Python's round() does (half to even: 62.5 → 62), as every attempt graded so far was."""
    return round(100 * right / asked) if asked else 0


def credit(question: dict[str, Any], answer: Any) -> float:
    """One question's credit (0 to 1): the authored types grade themselves; the generated ones
    (choice, number, fraction) compare the normalised answer with their key."""
    if question["type"] in types.TYPES:
        return types.score(question, answer)
    return float(normalise(question, answer) == str(question["answer"]))


def grade(
    questions: list[dict[str, Any]],
    answers: dict[str, Any],
    components: list[dict[str, Any]],
    passing_score: int,
) -> Graded:
    right = {q["id"]: credit(q, answers.get(q["id"])) for q in questions}
    scored = []
    for component in components:
        mine = [q for q in questions if q["component"] == component["key"]]
        score = percent(sum(right[q["id"]] for q in mine), len(mine))
        scored.append(
            {
                "key": component["key"],
                "name": component["name"],
                "score": score,
                "pass_mark": component["pass_mark"],
                "passed": score >= component["pass_mark"],
            }
        )
    total = percent(sum(right.values()), len(questions))
    passed = total >= passing_score and all(c["passed"] for c in scored)
    return Graded(total, passed, scored, right)
