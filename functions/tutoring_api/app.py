"""Live tutoring: coaches and services, booking paid in credits, cancellation with the refund
rule, the coach's agenda and reports, no-shows recorded by staff."""

from datetime import time
from typing import Annotated, Any
from uuid import UUID

from fastapi import Query, status
from pydantic import AwareDatetime, BaseModel, Field

from reussite.http.app import create_app, lambda_handler
from reussite.http.auth import CurrentUser, IdempotencyKey
from reussite.jsonable import jsonable
from reussite.tutoring import service

app = create_app("reussite tutoring")
Subject = Annotated[str, Field(min_length=1, max_length=60)]


@app.get("/v1/tutoring/services")
def list_services(user: CurrentUser) -> list[dict[str, Any]]:
    return [jsonable(s) for s in service.services()]


@app.get("/v1/coaches")
def list_coaches(
    user: CurrentUser, subject: Annotated[str | None, Query(max_length=60)] = None
) -> list[dict[str, Any]]:
    return [jsonable(c) for c in service.coaches(subject)]


class Slot(BaseModel):
    weekday: int = Field(ge=1, le=7, description="ISO weekday, 1 = Monday")
    starts: time
    ends: time


class CoachProfile(BaseModel):
    subjects: list[Subject] = Field(min_length=1, max_length=20)
    availability: list[Slot] = Field(max_length=50)


@app.post("/v1/admin/coaches/{user_id}")
def save_coach(user_id: UUID, body: CoachProfile, user: CurrentUser) -> dict[str, Any]:
    slots = [s.model_dump() for s in body.availability]
    return dict(jsonable(service.save_coach(user, user_id, body.subjects, slots)))


class Booking(BaseModel):
    coach_id: UUID
    service_code: str = Field(pattern=r"^[A-Z_]{1,40}$")
    subject: Subject
    starts_at: AwareDatetime
    student_id: UUID | None = None  # a parent's child; a student books for themself


@app.post("/v1/tutoring-sessions", status_code=status.HTTP_201_CREATED)
def book(body: Booking, user: CurrentUser, key: IdempotencyKey) -> dict[str, Any]:
    booked = service.book(
        user, body.coach_id, body.service_code, body.subject, body.starts_at, body.student_id, key
    )
    return dict(jsonable(booked))


@app.get("/v1/me/tutoring-sessions")
def my_sessions(user: CurrentUser) -> list[dict[str, Any]]:
    return [jsonable(b) for b in service.my_sessions(user)]


@app.post("/v1/tutoring-sessions/{booking_id}/cancel")
def cancel(booking_id: UUID, user: CurrentUser) -> dict[str, Any]:
    return dict(jsonable(service.cancel(user, booking_id)))


@app.get("/v1/coach/agenda")
def agenda(user: CurrentUser) -> list[dict[str, Any]]:
    return [jsonable(s) for s in service.agenda(user)]


class Report(BaseModel):
    report: str = Field(min_length=1, max_length=5000)


@app.post("/v1/coach/sessions/{session_id}/report")
def file_report(session_id: UUID, body: Report, user: CurrentUser) -> dict[str, Any]:
    return dict(jsonable(service.file_report(user, session_id, body.report)))


@app.post("/v1/admin/tutoring-bookings/{booking_id}/no-show")
def mark_no_show(booking_id: UUID, user: CurrentUser) -> dict[str, Any]:
    return dict(jsonable(service.mark_no_show(user, booking_id)))


handler = lambda_handler(app)
