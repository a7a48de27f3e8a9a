"""What ARIA answers, and the refusals it makes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel

from reussite.errors import DomainError, NotFound

SUBJECTS = (
    "MATHEMATIQUES",
    "NSI",
    "FRANCAIS",
    "PHILOSOPHIE",
    "HISTOIRE_GEO",
    "ANGLAIS",
    "ESPAGNOL",
    "PHYSIQUE_CHIMIE",
    "SVT",
    "SES",
)


class SubjectNotIncluded(DomainError):
    code = "SUBJECT_NOT_INCLUDED"
    status = 403
    title = "This subject is not included in the student's subscription"


class QuotaExceeded(DomainError):
    code = "DAILY_QUOTA_EXCEEDED"
    status = 429
    title = "Today's ARIA messages are used up; more tomorrow"


class RateLimited(DomainError):
    code = "RATE_LIMITED"
    status = 429
    title = "Too many messages; wait a little"


class ConversationNotFound(NotFound):
    code = "CONVERSATION_NOT_FOUND"
    title = "No such conversation"


class MessageNotFound(NotFound):
    code = "MESSAGE_NOT_FOUND"
    title = "No such message from ARIA"


class ContentNotFound(NotFound):
    code = "CONTENT_NOT_FOUND"
    title = "No such pedagogical content"


class LeadNotFound(NotFound):
    code = "LEAD_NOT_FOUND"
    title = "No such lead"


class ConversationFull(DomainError):
    code = "CONVERSATION_FULL"
    status = 409
    title = "This conversation is long enough; start a new one"


class TutorUnavailable(DomainError):
    """The model did not answer in time, or answered an error: 502/504, retry later."""

    code = "TUTOR_UNAVAILABLE"
    status = 502
    title = "ARIA could not answer just now; try again in a moment"


class TutorTimeout(TutorUnavailable):
    code = "TUTOR_TIMEOUT"
    status = 504


class Message(BaseModel):
    id: UUID
    role: Literal["student", "aria"]
    content: str
    created_at: datetime
    helpful: bool | None = None


class ConversationSummary(BaseModel):
    id: UUID
    student_id: UUID
    subject: str
    school_level: str | None
    title: str
    messages: int
    created_at: datetime
    updated_at: datetime


class Conversation(ConversationSummary):
    history: list[Message]


class ConversationPage(BaseModel):
    items: list[ConversationSummary]
    next: str | None = None  # the cursor of the next page, if any


class Reply(BaseModel):
    conversation_id: UUID
    message: Message  # the student's
    reply: Message  # ARIA's
    remaining_today: int


class Feedback(BaseModel):
    message_id: UUID
    helpful: bool
    feedback_at: datetime


class ContentPiece(BaseModel):
    id: UUID
    subject: str
    school_level: str
    title: str
    body: str
    active: bool
    created_at: datetime
    updated_at: datetime


class Entitlements(BaseModel):
    student_id: UUID
    subjects: list[str]
    included: int  # how many subjects the plan includes
    daily_messages: int
    used_today: int


class WidgetTurn(BaseModel):
    session_id: UUID
    reply: str
    asks_email: bool
    done: bool
    recommendation_url: str | None = None


class Lead(BaseModel):
    id: UUID
    email: str
    consent: bool
    tag: str
    profile: str | None
    source: str
    created_at: datetime
    updated_at: datetime


class ContentPage(BaseModel):
    items: list[ContentPiece]
    next: str | None = None


class LeadPage(BaseModel):
    items: list[Lead]
    next: str | None = None
