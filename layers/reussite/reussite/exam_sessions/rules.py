"""The grading rules of a qualification, as pure functions of its data and the scores.

Every component must reach its own pass mark; a passed component can carry forward to a resit
when the qualification says so; the grade band comes from the weighted percentage; a resit's
grade may be capped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GRADES = ("FAIL", "PASS", "MERIT", "DISTINCTION")


@dataclass(frozen=True)
class Component:
    code: str
    name: str
    pass_mark: int
    weight: int
    duration_minutes: int


@dataclass(frozen=True)
class Price:
    """What an exam service costs: its product's money price, and credits if the school
    accepts them instead."""

    qualification_code: str
    service: str
    product_code: str
    name: str
    price_minor: int
    currency: str
    credits: int | None  # None: money only
    refund_upheld_as: str  # an upheld enquiry paid in money: MONEY (staff refund) or CREDITS


@dataclass(frozen=True)
class Qualification:
    code: str
    name: str
    level: str
    merit_mark: int | None
    distinction_mark: int | None
    carry_forward: bool
    resit_grade_cap: str | None
    exam_day: str
    enquiry_weeks: int
    remote_window_days: int
    remote_lead_days: int
    components: tuple[Component, ...]
    valid_months: int | None = None  # its certificates expire after this; None = never
    services: tuple[Price, ...] = ()  # what its exam services cost

    @property
    def component_codes(self) -> list[str]:
        return [c.code for c in self.components]


@dataclass(frozen=True)
class Graded:
    components: dict[str, dict[str, Any]]  # code -> {score, passed, carried}
    passed: bool
    grade: str
    percent: int


def grade(q: Qualification, scores: dict[str, int], carried: dict[str, int], resit: bool) -> Graded:
    """Grade a sitting: `scores` of the components sat now, `carried` the earlier scores of
    components passed before (used only if the qualification carries them forward)."""
    results: dict[str, dict[str, Any]] = {}
    for c in q.components:
        if c.code in scores:
            score, was_carried = scores[c.code], False
        elif q.carry_forward and c.code in carried:
            score, was_carried = carried[c.code], True
        else:
            raise ValueError(f"no score for component {c.code}")
        results[c.code] = {"score": score, "passed": score >= c.pass_mark, "carried": was_carried}
    passed = all(r["passed"] for r in results.values())
    total = sum(c.weight for c in q.components)
    weighted = sum(results[c.code]["score"] * c.weight for c in q.components)
    percent = (2 * weighted + total) // (2 * total)  # half up, in integers: 74.5 -> 75
    band = "FAIL"
    if passed:
        band = "PASS"
        if q.merit_mark is not None and percent >= q.merit_mark:
            band = "MERIT"
        if q.distinction_mark is not None and percent >= q.distinction_mark:
            band = "DISTINCTION"
        if resit and q.resit_grade_cap and GRADES.index(band) > GRADES.index(q.resit_grade_cap):
            band = q.resit_grade_cap
    return Graded(results, passed, band, percent)


def still_to_pass(q: Qualification, last: dict[str, dict[str, Any]] | None) -> list[str]:
    """The components a resit must cover: the failed ones when passes carry forward, else all."""
    if last is None or not q.carry_forward:
        return q.component_codes
    return [c for c in q.component_codes if not last.get(c, {}).get("passed")]
