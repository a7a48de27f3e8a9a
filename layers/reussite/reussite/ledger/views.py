"""What a family sees of its credits: each wallet's spendable balance, live lots, recent entries."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel

from reussite import db
from reussite.identity.models import Role, User
from reussite.ledger.models import EntryKind, LotKind

RECENT_ENTRIES = 20


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


def credits_of(user: User) -> Credits:
    """A student sees their wallet; a parent each child's; other roles have none of their own."""
    conn = db.connection()
    if user.role is Role.ELEVE:
        students = conn.execute(
            "SELECT id, display_name FROM students WHERE id = %s", (user.student_id,)
        ).fetchall()
    elif user.role is Role.PARENT:
        students = conn.execute(
            """SELECT s.id, s.display_name FROM parent_students ps
                 JOIN students s ON s.id = ps.student_id
                WHERE ps.parent_id = %s ORDER BY ps.created_at, s.id""",
            (user.id,),
        ).fetchall()
    else:
        students = []
    wallets = [wallet_view(row["id"], row["display_name"]) for row in students]
    own = wallets[0].balance if user.role is Role.ELEVE and wallets else None
    return Credits(balance=own, wallets=wallets)


def wallet_view(student_id: UUID, display_name: str) -> WalletView:
    conn = db.connection()
    lots = conn.execute(
        """SELECT l.id, l.kind, l.amount, l.remaining, l.granted_at, l.expires_at
             FROM credit_lots l JOIN wallets w ON w.id = l.wallet_id
            WHERE w.student_id = %s AND l.remaining > 0 AND l.expires_at > clock_timestamp()
            ORDER BY (l.expires_at AT TIME ZONE 'UTC')::date, l.promotional DESC,
                     l.granted_at, l.id""",
        (student_id,),
    ).fetchall()
    entries = conn.execute(
        """SELECT e.id, e.kind, e.amount, e.purpose, e.created_at
             FROM ledger_entries e JOIN wallets w ON w.id = e.wallet_id
            WHERE w.student_id = %s ORDER BY e.id DESC LIMIT %s""",
        (student_id, RECENT_ENTRIES),
    ).fetchall()
    live = [LotView.model_validate(row) for row in lots]
    return WalletView(
        student_id=student_id,
        display_name=display_name,
        balance=sum(lot.remaining for lot in live),
        lots=live,
        entries=[EntryView.model_validate(row) for row in entries],
    )
