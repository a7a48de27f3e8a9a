"""Plan and subscription models."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel


class Offer(StrEnum):
    FREE = "free"
    PRO = "pro"


class Plan(BaseModel):
    code: str
    name: str
    price_minor: int
    currency: str
    credits_per_month: int
    offer: Offer


class Subscription(BaseModel):
    id: UUID
    student_id: UUID
    plan_code: str
    status: str
    started_at: datetime | None


class AllocationReport(BaseModel):
    period: date
    granted: int
    already_granted: int
    credits: int
