"""Ledger results. Plain frozen dataclasses rather than pydantic models: the scheduled jobs that
return them should not pay pydantic's import (~75 ms) on a cold start; FastAPI serialises them
all the same."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID


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


@dataclass(frozen=True)
class Allocation:
    lot_id: int
    amount: int


@dataclass(frozen=True)
class Grant:
    entry_id: int
    lot_id: int
    wallet_id: UUID
    kind: LotKind
    credits: int
    expires_at: datetime
    balance: int  # spendable balance right after the grant
    replayed: bool = False


@dataclass(frozen=True)
class Spend:
    entry_id: int
    wallet_id: UUID
    credits: int
    purpose: str
    allocations: list[Allocation] = field(default_factory=list)
    balance: int = 0  # spendable balance right after the spend
    replayed: bool = False


@dataclass(frozen=True)
class Refund:
    entry_id: int | None  # None when nothing came back (every lot drawn from had expired)
    spend_entry_id: int
    credits: int
    forfeited: int  # drawn from lots that have expired since: gone, as they would be anyway
    balance: int
    replayed: bool = False


@dataclass(frozen=True)
class Mismatch:
    wallet_id: UUID
    balance: int
    lots_remaining: int
    entries_total: int
