"""What exam sessions answer: sessions, registrations, outcomes, enquiries, courses (each built
from its database row; columns a model does not name are left out)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel

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


class Registration(BaseModel):
    id: UUID
    session_id: UUID
    student_id: UUID
    components: list[str]
    status: Literal["REGISTERED", "ABSENT", "SAT"]
    fee_credits: int
    created_at: datetime
    qualification_code: str
    type: SessionType
    starts_at: datetime


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


class Enquiry(BaseModel):
    id: UUID
    registration_id: UUID
    components: list[str]
    status: Literal["SUBMITTED", "UNDER_REVIEW", "UPHELD", "REJECTED", "PARTIAL"]
    fee_credits: int
    decision_note: str | None
    created_at: datetime
    decided_at: datetime | None
    outcome: Outcome | None = None  # the regrade, when a decision changed the scores


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
