"""What tutoring answers: services, coaches, a family's bookings, a coach's agenda."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema

WallClock = Annotated[
    time,
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"}),
]
"""A wall-clock time in the school's zone, "HH:MM" (JSON Schema's "time" format needs an offset,
which a weekly slot has not)."""


class Service(BaseModel):
    code: str
    name: str
    mode: Literal["ONLINE", "IN_PERSON", "GROUP"]
    credits: int
    duration_minutes: int
    capacity: int


class WeeklySlot(BaseModel):
    weekday: int
    starts: WallClock
    ends: WallClock


class Coach(BaseModel):
    id: UUID
    display_name: str
    subjects: list[str]
    availability: list[WeeklySlot]
    timezone: str


class TutoringBooking(BaseModel):
    """A student's place in a session with a coach."""

    id: UUID
    session_id: UUID
    student_id: UUID
    student_name: str
    status: Literal["BOOKED", "CANCELLED", "ATTENDED", "NO_SHOW"]
    credits: int
    refunded: bool = Field(description="Credits came back (none when every lot had expired)")
    refunded_credits: int
    coach_id: UUID
    coach_name: str
    service_code: str
    subject: str
    starts_at: datetime
    ends_at: datetime
    session_status: Literal["SCHEDULED", "CANCELLED", "COMPLETED"]
    room_url: str = Field(description="The session's room link, the same for coach and students")
    room_opens_at: datetime  # the link opens the video room from then to the end
    room_closes_at: datetime
    created_at: datetime
    cancelled_at: datetime | None


class AgendaBooking(BaseModel):
    booking_id: UUID
    student: str
    status: str


class AgendaSession(BaseModel):
    id: UUID
    service_code: str
    subject: str
    starts_at: datetime
    ends_at: datetime
    status: Literal["SCHEDULED", "CANCELLED", "COMPLETED"]
    room_url: str = Field(description="The session's room link, the same for coach and students")
    room_opens_at: datetime  # the link opens the video room from then to the end
    room_closes_at: datetime
    report: str | None
    bookings: list[AgendaBooking] = []
