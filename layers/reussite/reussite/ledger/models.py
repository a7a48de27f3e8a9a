"""Ledger models: what grants, spends, refunds and expiries return, and what a wallet shows."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict


class LotKind(StrEnum):
    PURCHASE = "PURCHASE"
    MONTHLY_ALLOCATION = "MONTHLY_ALLOCATION"
    REFUND = "REFUND"
    PROMOTION = "PROMOTION"
    GOODWILL = "GOODWILL"


class EntryKind(StrEnum):
    GRANT = "GRANT"
    SPEND = "SPEND"
    REFUND = "REFUND"
    EXPIRE = "EXPIRE"


class Allocation(BaseModel):
    lot_id: int
    amount: int


class Grant(BaseModel):
    model_config = ConfigDict(frozen=True)

    entry_id: int
    lot_id: int
    wallet_id: UUID
    kind: LotKind
    credits: int
    expires_at: datetime
    balance: int
    replayed: bool = False


class Spend(BaseModel):
    model_config = ConfigDict(frozen=True)

    entry_id: int
    wallet_id: UUID
    credits: int
    purpose: str
    allocations: list[Allocation]
    balance: int
    replayed: bool = False


class Refund(BaseModel):
    model_config = ConfigDict(frozen=True)

    entry_id: int
    spend_entry_id: int
    credits: int
    forfeited: int  # drawn from lots that have expired since: gone, as they would be anyway
    balance: int
    replayed: bool = False


class LotView(BaseModel):
    id: int
    kind: LotKind
    amount: int
    remaining: int
    granted_at: datetime
    expires_at: datetime


class EntryView(BaseModel):
    id: int
    kind: EntryKind
    amount: int
    purpose: str
    created_at: datetime


class WalletView(BaseModel):
    student_id: UUID
    display_name: str
    balance: int  # credits spendable now
    lots: list[LotView]  # live lots, soonest expiry first
    entries: list[EntryView]  # most recent first


class Credits(BaseModel):
    balance: int | None  # the caller's own spendable balance (a student); None for others
    wallets: list[WalletView]


class Mismatch(BaseModel):
    wallet_id: UUID
    balance: int
    lots_remaining: int
    entries_total: int
