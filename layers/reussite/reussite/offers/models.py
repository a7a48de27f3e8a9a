"""Plans and subscriptions (dataclasses: the monthly job must not pay pydantic's import)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID


class Offer(StrEnum):
    FREE = "free"
    PRO = "pro"


@dataclass(frozen=True)
class Plan:
    code: str
    name: str
    price_minor: int
    currency: str
    credits_per_month: int
    offer: Offer


@dataclass(frozen=True)
class Subscription:
    id: UUID
    student_id: UUID
    plan_code: str
    status: str
    started_at: datetime | None


@dataclass(frozen=True)
class AllocationReport:
    period: date
    granted: int
    already_granted: int
    credits: int
