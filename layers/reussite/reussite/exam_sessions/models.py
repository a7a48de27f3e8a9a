"""What exam sessions answer: sessions, registrations, outcomes, enquiries, courses (each built
from its database row; columns a model does not name are left out)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, computed_field

from reussite.payments.models import Order

SessionType = Literal["BUNDLED", "MAKEUP", "RESIT", "REMOTE", "STANDALONE"]
Component = Literal["THEORY", "TASTING", "COMBINED"]


class ExamSession(BaseModel):
    id: UUID
    qualification_code: str
    type: SessionType
    components: list[str]
    starts_at: datetime
    location: str | None
    remote: bool
    proctor_id: UUID | None
    capacity: int
    registered: int
    registration_deadline: datetime
    course_session_id: UUID | None
    duration_minutes: int  # the papers it sits, one after the other

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)


class Registration(BaseModel):
    id: UUID
    session_id: UUID
    student_id: UUID
    components: list[str]
    # PENDING_PAYMENT: the seat is held until its order is paid (or expires: CANCELLED)
    status: Literal["PENDING_PAYMENT", "REGISTERED", "ABSENT", "SAT", "CANCELLED"]
    paid_with: Literal["FREE", "CREDITS", "ORDER"]
    fee_credits: int
    created_at: datetime
    qualification_code: str
    type: SessionType
    starts_at: datetime
    order: Order | None = None  # the order paying for it in money


class ComponentResult(BaseModel):
    score: int
    passed: bool
    carried: bool


class Outcome(BaseModel):
    id: UUID
    registration_id: UUID
    components: dict[str, ComponentResult]
    passed: bool
    grade: Literal["FAIL", "PASS", "MERIT", "DISTINCTION"]
    percent: int
    created_at: datetime
    enquiry_id: UUID | None = None  # the enquiry whose decision regraded it


class MyExam(Registration):
    scores: dict[str, int] | None
    outcome_id: UUID | None
    passed: bool | None
    grade: str | None
    percent: int | None
    certificate: str | None  # the verification code, once issued


class Sitting(BaseModel):
    registration_id: UUID
    status: Literal["ABSENT", "SAT"]
    outcome: Outcome | None


class MoneyRefund(BaseModel):
    """Money owed back to the family, made by staff outside the platform and recorded."""

    id: UUID
    status: Literal["DUE", "MADE"]
    amount_minor: int
    currency: str
    made_at: datetime | None


class Enquiry(BaseModel):
    id: UUID
    registration_id: UUID
    type: Literal["THEORY", "TASTING", "BOTH"]
    reason: str
    components: list[str]  # the components re-marked
    # PENDING_PAYMENT until its order is paid (CANCELLED if the order expires); SUBMITTED ->
    # UNDER_REVIEW -> COMPLETED (outcome UPHELD or PARTIAL) or REJECTED (outcome REJECTED)
    status: Literal[
        "PENDING_PAYMENT", "SUBMITTED", "UNDER_REVIEW", "COMPLETED", "REJECTED", "CANCELLED"
    ]
    outcome: Literal["UPHELD", "REJECTED", "PARTIAL"] | None
    score_changes: dict[str, int]  # new score minus old, per component re-marked
    result_changed: bool  # the pass or the grade changed
    paid_with: Literal["FREE", "CREDITS", "ORDER"]
    fee_credits: int
    fee_refunded: bool  # credits given back, or the money refund made
    refund: MoneyRefund | None = None  # an upheld enquiry paid in money, refunded by staff
    decision_note: str | None
    created_at: datetime
    decided_at: datetime | None
    order: Order | None = None  # the order paying for it in money
    regrade: Outcome | None = None  # the new outcome, when a decision changed the scores


class Template(BaseModel):
    id: UUID
    components: list[str]
    exam_day: str


class Offering(BaseModel):
    id: UUID
    qualification_code: str
    name: str
    created_at: datetime
    templates: list[Template]


class Course(BaseModel):
    id: UUID
    offering_id: UUID
    starts_on: date
    ends_on: date
    location: str | None
    remote: bool
    capacity: int
    exam_sessions: list[ExamSession]


class Enrolment(BaseModel):
    student_id: UUID
    qualification_code: str
    online: bool
    enrolled_at: datetime


class CourseEnrolment(BaseModel):
    course_session_id: UUID
    student_id: UUID
    qualification_code: str
    enrolled_at: datetime
