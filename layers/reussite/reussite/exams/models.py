"""Exam models: catalogue entries, what a student sees of an attempt, and grading results."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

MAX_ANSWER_CHARS = 2000
"""The longest answer a submission may carry for one question."""


@dataclass(frozen=True)
class ExamDefinition:
    code: str
    course: str
    language: str | None
    level: str
    title: str
    duration_minutes: int
    passing_score: int
    credit_cost: int
    min_offer: str
    components: list[dict[str, Any]]
    overdue_policy: str
    grace_minutes: int
    review_policy: str = "marks"  # none | score | marks | answers (after the attempt closes)
    version: int = 1  # the published version; an attempt keeps the one it started on


@dataclass(frozen=True)
class ExamSummary:
    code: str
    course: str
    language: str | None
    level: str
    title: str
    duration_minutes: int
    passing_score: int
    credit_cost: int
    min_offer: str


@dataclass(frozen=True)
class PublicQuestion:
    """A question as the student sees it: never its answer key."""

    id: str
    component: str
    type: str  # choice | number | fraction, or an authored type (questions.TYPES)
    prompt: str
    options: list[str] | None = None
    prompt_html: str | None = None  # the Markdown prompt, sanitised
    left: list[str] | None = None  # matching: the items to match, in order
    right: list[str] | None = None  # matching: what they match, shuffled
    items: list[str] | None = None  # ordering: the items, shuffled
    gaps: list[dict[str, Any]] | None = None  # cloze: per gap, its options (or None: typed)
    units: list[str] | None = None  # numerical: the units accepted


@dataclass(frozen=True)
class ComponentScore:
    key: str
    name: str
    score: int
    pass_mark: int
    passed: bool


@dataclass(frozen=True)
class Attempt:
    id: UUID
    student_id: UUID
    exam_code: str
    level: str
    status: str
    started_at: datetime
    deadline_at: datetime
    questions: list[PublicQuestion] = field(default_factory=list)
    attempt_token: str | None = None
    balance: int | None = None  # the wallet's spendable balance right after the debit
    submitted_at: datetime | None = None
    score: int | None = None
    passed: bool | None = None
    component_scores: list[ComponentScore] | None = None
    certificate_requested: bool = False
    certificate_code: str | None = None  # once the certificate is issued (it is queued)
