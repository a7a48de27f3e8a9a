"""Live tutoring: coaches and services, booking paid in credits, cancellation with the refund
rule, the coach's agenda and reports, no-shows recorded by staff."""

import itertools
from datetime import time
from typing import Annotated, Any, Self
from uuid import UUID

from fastapi import Query, Request, status
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field, model_validator

from reussite import history
from reussite.front_door import http_write
from reussite.history import Page
from reussite.http.app import create_app, lambda_handler
from reussite.http.auth import CurrentUser, IdempotencyKey
from reussite.http.params import Cursor, Limit
from reussite.identity.models import User
from reussite.inputs import BoundedText, HumanName, Moment
from reussite.settings import require
from reussite.tutoring import service, workspace
from reussite.tutoring.models import AgendaSession, Coach, Service, TutoringBooking

REQUIRED_SETTINGS = (
    "DATABASE_URL|DATABASE_SECRET_ARN",
    "LINK_SECRET|LINK_SECRET_ARN",
    "IDEMPOTENCY_TABLE",
)
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing

app = create_app("reussite tutoring")
Subject = Annotated[str, Field(min_length=1, max_length=60)]


@app.get("/v1/tutoring/services")
def list_services(user: CurrentUser, cursor: Cursor = None, limit: Limit = 50) -> Page[Service]:
    """The tutoring services the school sells, by code."""
    return service.services(cursor, limit)


@app.get("/v1/coaches")
def list_coaches(
    user: CurrentUser,
    subject: Annotated[str | None, Query(max_length=60)] = None,
    cursor: Cursor = None,
    limit: Limit = 20,
) -> Page[Coach]:
    """Coaches by name, with their subjects and weekly availability in the school's zone."""
    return service.coaches(subject, cursor, limit)


class Slot(BaseModel):
    weekday: int = Field(ge=1, le=7, description="ISO weekday, 1 = Monday")
    starts: time
    ends: time

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> Self:
        if self.ends <= self.starts:
            raise ValueError("a slot ends after it starts")
        if self.starts.tzinfo is not None or self.ends.tzinfo is not None:
            raise ValueError("a slot's times are wall-clock times in the coach's timezone")
        return self


class CoachProfile(BaseModel):
    subjects: list[Subject] = Field(min_length=1, max_length=20)
    availability: list[Slot] = Field(max_length=50)

    @model_validator(mode="after")
    def _slots_do_not_overlap(self) -> Self:
        by_day = sorted(self.availability, key=lambda s: (s.weekday, s.starts))
        for before, after in itertools.pairwise(by_day):
            if before.weekday == after.weekday and after.starts < before.ends:
                raise ValueError(f"two slots overlap on weekday {after.weekday}")
        return self


@app.post("/v1/admin/coaches/{user_id}", response_model=Coach)
def save_coach(user_id: UUID, body: CoachProfile, user: CurrentUser) -> Any:
    slots = [s.model_dump() for s in body.availability]
    return service.save_coach(user, user_id, body.subjects, slots)


class Booking(BaseModel):
    coach_id: UUID
    service_code: str = Field(pattern=r"^[A-Z_]{1,40}$")
    subject: Subject
    starts_at: Moment
    student_id: UUID | None = None  # a parent's child; a student books for themself


@app.post(
    "/v1/tutoring-sessions", status_code=status.HTTP_201_CREATED, response_model=TutoringBooking
)
def book(body: Booking, user: CurrentUser, key: IdempotencyKey) -> Any:
    return service.book(
        user, body.coach_id, body.service_code, body.subject, body.starts_at, body.student_id, key
    )


class BookingPage(BaseModel):
    items: list[TutoringBooking]
    next: str | None = None


class AgendaPage(BaseModel):
    items: list[AgendaSession]
    next: str | None = None


@app.get("/v1/me/tutoring-sessions")
def my_sessions(
    user: CurrentUser,
    cursor: Cursor = None,
    limit: Limit = 20,
) -> BookingPage:
    """The student's (or a parent's children's) bookings, latest session first."""
    items, following = service.my_sessions(user, cursor, limit)
    return BookingPage(items=items, next=following)


@app.post("/v1/tutoring-sessions/{booking_id}/cancel", response_model=TutoringBooking)
def cancel(booking_id: UUID, user: CurrentUser) -> Any:
    return service.cancel(user, booking_id)


@app.get("/v1/coach/agenda")
def agenda(
    user: CurrentUser,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> AgendaPage:
    """The coach's sessions from a week ago on, soonest first, with who booked them."""
    items, following = service.agenda(user, cursor, limit)
    return AgendaPage(items=items, next=following)


class Report(BaseModel):
    report: str = Field(min_length=1, max_length=5000)


@app.post("/v1/coach/sessions/{session_id}/report", response_model=AgendaSession)
def file_report(session_id: UUID, body: Report, user: CurrentUser) -> Any:
    return service.file_report(user, session_id, body.report)


@app.post("/v1/admin/tutoring-bookings/{booking_id}/no-show", response_model=TutoringBooking)
def mark_no_show(booking_id: UUID, user: CurrentUser) -> Any:
    return service.mark_no_show(user, booking_id)


@app.get("/v1/me/tutoring-history")
def history_tutoring(
    user: CurrentUser,
    student_id: UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 20,
) -> history.Page[history.SessionItem]:
    """A student's tutoring bookings, newest first (booked, cancelled, attended).
    A parent names the child (`student_id`)."""
    return history.tutoring(user, student_id, cursor, limit)


# -- the coach's workspace ----------------------------------------------------------------------


@app.get("/v1/students/{student_id}/file")
def student_file(student_id: UUID, user: CurrentUser) -> workspace.StudentFile:
    """The student's file: sessions with their reports, exam results, progress and the
    orientation report's summary (the student's coaches, the family, staff; else 404)."""
    return workspace.student_file(user, student_id)


@app.get("/v1/students/{student_id}/progress")
def student_progress(
    student_id: UUID,
    user: CurrentUser,
    subject: Annotated[str | None, Query(max_length=60)] = None,
    cursor: Cursor = None,
    limit: Limit = 20,
) -> Page[workspace.Progress]:
    """The student's progress history, newest first."""
    return workspace.progress(user, student_id, subject, cursor, limit)


class ProgressNote(BaseModel):
    level: int = Field(ge=1, le=5, description="1 beginning ... 5 mastered")
    note: BoundedText | None = None
    skills: list[Annotated[str, Field(min_length=1, max_length=60)]] = Field(
        default=[], max_length=20
    )


@app.put("/v1/coach/sessions/{session_id}/progress/{student_id}")
def record_progress(
    session_id: UUID, student_id: UUID, body: ProgressNote, user: CurrentUser
) -> workspace.Progress:
    """After the session, its coach records the student's progress in its subject (a PUT:
    recorded again, it is replaced)."""
    return workspace.record_progress(
        user, session_id, student_id, body.level, body.note, body.skills
    )


class BilanSharing(BaseModel):
    bilan_shared_with_coaches: bool


@app.put("/v1/students/{student_id}/sharing")
def share_bilan(student_id: UUID, body: BilanSharing, user: CurrentUser) -> workspace.Sharing:
    """Whether the student's coaches read the orientation report's summary (the family)."""
    return workspace.share_bilan(user, student_id, body.bilan_shared_with_coaches)


@app.get("/v1/rooms/{session_id}", status_code=status.HTTP_303_SEE_OTHER)
def open_room(
    session_id: UUID, token: Annotated[str, Query(min_length=1, max_length=100)]
) -> RedirectResponse:
    """The session's room link (public, signed): the video room from 10 minutes before the
    start to the end; before, 409 ROOM_NOT_OPEN with `opens_at`; after, 409 ROOM_CLOSED."""
    return RedirectResponse(workspace.open_room(session_id, token), status_code=303)


class NewCoach(CoachProfile):
    sub: str = Field(min_length=1, max_length=200, pattern=r"^[\w@.:|+-]+$")
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    pseudonym: HumanName


def _create_coach(user: User, request: NewCoach, key: str) -> Coach:
    slots = [s.model_dump() for s in request.availability]
    return workspace.create_coach(
        user, request.sub, request.email, request.pseudonym, request.subjects, slots
    )


create_coach_once = http_write(_create_coach, Coach, database_serialises=False)


@app.post("/v1/admin/coaches", status_code=status.HTTP_201_CREATED)
def create_coach(body: NewCoach, user: CurrentUser, key: IdempotencyKey, http: Request) -> Coach:
    """Staff create a coach (login, pseudonym, subjects, weekly availability) in one call."""
    return create_coach_once(user, key, body, http.scope.get("aws.context"))


handler = lambda_handler(app)
