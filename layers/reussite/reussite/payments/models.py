"""Payment results. Dataclasses, so the reconciliation job does not import pydantic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID


class Provider(StrEnum):
    KONNECT = "KONNECT"
    WISE = "WISE"


class OrderStatus(StrEnum):
    CREATED = "CREATED"
    PENDING = "PENDING"
    PAID = "PAID"
    MISMATCH = "MISMATCH"
    EXPIRED = "EXPIRED"


class ProductKind(StrEnum):
    CREDIT_PACK = "CREDIT_PACK"
    SUBSCRIPTION = "SUBSCRIPTION"
    ARIA_ADDON = "ARIA_ADDON"  # one more ARIA subject for a month
    EXAM_SERVICE = "EXAM_SERVICE"  # a seat at an exam session, or a result enquiry


@dataclass(frozen=True)
class Product:
    code: str
    kind: ProductKind
    name: str
    price_minor: int  # in the currency's minor unit: millimes for TND, cents for EUR
    currency: str
    credits: int  # a pack's credits; a subscription's credits each month
    plan_code: str | None


@dataclass(frozen=True)
class BankTransfer:
    """What a family needs to pay by bank transfer; the reference identifies the order."""

    account_holder: str
    iban: str
    bic: str | None
    reference: str
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class Order:
    id: UUID
    reference: str
    status: OrderStatus
    provider: Provider
    product_code: str
    student_id: UUID
    amount_minor: int
    currency: str
    pay_url: str | None
    payment_ref: str | None
    expires_at: datetime | None
    bank_transfer: BankTransfer | None
    created_at: datetime
    paid_at: datetime | None
    receipt_number: str | None = None  # a paid order's receipt (read the order to see it)
    receipt_url: str | None = None  # where the buyer gets its PDF (a short-lived link)


@dataclass(frozen=True)
class Settlement:
    """The outcome of a provider's notification. `final` outcomes never change again."""

    payment_ref: str
    order_id: UUID
    status: OrderStatus

    @property
    def final(self) -> bool:
        return self.status in (OrderStatus.PAID, OrderStatus.MISMATCH)


@dataclass(frozen=True)
class ReconciliationReport:
    checked: int
    paid: int
    mismatched: int
    expired: int
    unreachable: int
    emails_sent: int
