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


class SubscriptionStatus(StrEnum):
    ACTIVE = "ACTIVE"  # paid for now
    PAST_DUE = "PAST_DUE"  # the period ended, its renewal unpaid, inside the grace period
    CANCELLED = "CANCELLED"  # ended at the end of a paid period, as the payer asked
    EXPIRED = "EXPIRED"  # lapsed unpaid


# The statuses in which a plan's offer, entitlements and bilan eligibility hold.
LIVE = (SubscriptionStatus.ACTIVE.value, SubscriptionStatus.PAST_DUE.value)


@dataclass(frozen=True)
class Subscription:
    id: UUID
    student_id: UUID
    plan_code: str
    status: str
    started_at: datetime | None
    period_start: date | None = None
    period_end: date | None = None  # exclusive: the first day not paid for
    cancel_at_period_end: bool = False
    next_plan_code: str | None = None


@dataclass(frozen=True)
class LifecycleReport:
    today: date
    renewed: int  # periods paid in advance that began
    cancelled: int
    past_due: int
    expired: int


@dataclass(frozen=True)
class AllocationReport:
    period: date  # the day the job ran for: every paid period begun by then is granted
    granted: int
    credits: int


@dataclass(frozen=True)
class SubscriptionView:
    """A subscription as its family (or staff) sees it."""

    id: UUID
    student_id: UUID
    plan_code: str
    status: str
    period_start: date | None
    period_end: date | None  # exclusive: the first day not paid for
    paid_through: date | None  # the end of the last paid period (a period paid ahead counts)
    next_renewal: date | None  # when the next period is due, unless it ends or is paid ahead
    cancel_at_period_end: bool
    next_plan_code: str | None  # a plan change that takes effect at the next period
    ended_at: datetime | None
    aria_subjects: tuple[str, ...] = ()  # the subjects ARIA tutors the student in
