"""ARIA, the AI tutor: a student's conversations in the subjects their subscription includes,
feedback on answers, the school's pedagogical content (staff), and the public learner-profile
widget with the leads it captures."""

from typing import Annotated
from uuid import UUID

from fastapi import Query, Request, status
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from reussite.aria import chat, content, widget
from reussite.aria.models import (
    SUBJECTS,
    ContentPage,
    ContentPiece,
    Conversation,
    ConversationPage,
    ConversationSummary,
    Entitlements,
    Feedback,
    LeadPage,
    Reply,
    WidgetTurn,
)
from reussite.aria.tutor import tutor
from reussite.bilans.catalogue import LEVELS
from reussite.http.app import create_app, lambda_handler
from reussite.http.auth import CurrentUser, IdempotencyKey
from reussite.inputs import HumanName
from reussite.settings import require

REQUIRED_SETTINGS = ("DATABASE_URL|DATABASE_SECRET_ARN", "ARIA_MODEL")
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing
TUTOR = tutor()  # its key read (and client built) once, at init

app = create_app("reussite aria")
Subject = Annotated[str, Field(pattern="^(" + "|".join(SUBJECTS) + ")$")]
Level = Annotated[str, Field(pattern="^(" + "|".join(LEVELS) + ")$")]
MAX_MESSAGE_CHARS = 2000


@app.get("/v1/aria/entitlements")
def my_entitlements(user: CurrentUser, student_id: UUID | None = None) -> Entitlements:
    return chat.entitlements(user, student_id)


class NewConversation(BaseModel):
    subject: Subject
    student_id: UUID | None = None  # a parent's child
    school_level: Level | None = None  # default: the student's profile


@app.post("/v1/aria/conversations", status_code=status.HTTP_201_CREATED)
def start_conversation(
    body: NewConversation, user: CurrentUser, key: IdempotencyKey
) -> ConversationSummary:
    return chat.start(user, body.subject, body.student_id, body.school_level, key)


@app.get("/v1/aria/conversations")
def list_conversations(
    user: CurrentUser,
    student_id: UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ConversationPage:
    return chat.listing(user, student_id, limit, cursor)


@app.get("/v1/aria/conversations/{conversation_id}")
def read_conversation(conversation_id: UUID, user: CurrentUser) -> Conversation:
    return chat.read(user, conversation_id)


class StudentMessage(BaseModel):
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)


@app.post("/v1/aria/conversations/{conversation_id}/messages", status_code=status.HTTP_201_CREATED)
def send_message(
    conversation_id: UUID,
    body: StudentMessage,
    user: CurrentUser,
    key: IdempotencyKey,
) -> Reply:
    """A retried key returns the same reply; a retry during the first waits for its answer (the
    key is claimed in PostgreSQL before the tutor is called, so the tutor answers once)."""
    return chat.send(TUTOR, user, conversation_id, body.message, key)


class Rating(BaseModel):
    helpful: bool


@app.post("/v1/aria/messages/{message_id}/feedback")
def rate_answer(message_id: UUID, body: Rating, user: CurrentUser) -> Feedback:
    return chat.feedback(user, message_id, body.helpful)


# -- the school's content (staff) --------------------------------------------------------------


class NewContent(BaseModel):
    subject: Subject
    school_level: Level
    title: HumanName
    body: str = Field(min_length=1, max_length=20_000, description="Markdown (rendered inert)")


@app.post("/v1/admin/aria/content", status_code=status.HTTP_201_CREATED)
def create_content(body: NewContent, user: CurrentUser, key: IdempotencyKey) -> ContentPiece:
    return content.create(user, body.subject, body.school_level, body.title, body.body, key)


class ContentChange(BaseModel):
    subject: Subject | None = None
    school_level: Level | None = None
    title: HumanName | None = None
    body: str | None = Field(default=None, min_length=1, max_length=20_000)
    active: bool | None = None  # false: retired (kept, never retrieved)


@app.post("/v1/admin/aria/content/{content_id}")
def edit_content(content_id: UUID, body: ContentChange, user: CurrentUser) -> ContentPiece:
    return content.update(user, content_id, body.model_dump(exclude_none=True))


@app.get("/v1/admin/aria/content")
def list_content(
    user: CurrentUser,
    subject: Subject | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ContentPage:
    return content.listing(user, subject, limit, cursor)


# -- the public widget and its leads -----------------------------------------------------------


def _client(http: Request) -> str:
    event = http.scope.get("aws.event") or {}
    return str(((event.get("requestContext") or {}).get("http") or {}).get("sourceIp") or "?")


class WidgetMessage(BaseModel):
    session_id: UUID | None = None  # none: a new quiz
    message: str | None = Field(default=None, max_length=500)


@app.post("/v1/aria/widget")
def widget_message(body: WidgetMessage, http: Request) -> WidgetTurn:
    """Public: the learner-profile quiz, one exchange at a time."""
    return widget.talk(_client(http), body.session_id, body.message)


class LeadIn(BaseModel):
    session_id: UUID
    email: str = Field(min_length=3, max_length=320)
    consent: bool


@app.post("/v1/aria/widget/lead")
def widget_lead(body: LeadIn, http: Request) -> WidgetTurn:
    """Public: the visitor's email for a personalised recommendation (with their consent)."""
    return widget.capture(_client(http), body.session_id, body.email, body.consent)


@app.get("/v1/admin/leads")
def list_leads(
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> LeadPage:
    return widget.leads(user, limit, cursor)


@app.get(
    "/v1/admin/leads.csv",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def export_leads(user: CurrentUser) -> PlainTextResponse:
    """The captured leads as CSV, for the school's mailing tool."""
    return PlainTextResponse(
        widget.leads_csv(user),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="leads.csv"'},
    )


@app.post("/v1/admin/leads/{lead_id}/delete", status_code=status.HTTP_204_NO_CONTENT)
def delete_lead(lead_id: UUID, user: CurrentUser) -> None:
    widget.forget(user, lead_id)


handler = lambda_handler(app)
