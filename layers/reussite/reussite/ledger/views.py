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
    wallets = wallet_views([(row["id"], row["display_name"]) for row in students])
    own = wallets[0].balance if user.role is Role.ELEVE and wallets else None
    return Credits(balance=own, wallets=wallets)


def wallet_views(students: list[tuple[UUID, str]]) -> list[WalletView]:
    """Each student's wallet: two statements however many children a family has."""
    if not students:
        return []
    conn = db.connection()
    ids = [student_id for student_id, _ in students]
    lots = conn.execute(
        """SELECT w.student_id, l.id, l.kind, l.amount, l.remaining, l.granted_at, l.expires_at
             FROM wallets w JOIN credit_lots l ON l.wallet_id = w.id
            WHERE w.student_id = ANY(%s) AND l.remaining > 0 AND l.expires_at > clock_timestamp()
            ORDER BY (l.expires_at AT TIME ZONE 'UTC')::date, l.promotional DESC,
                     l.granted_at, l.id""",
        (ids,),
    ).fetchall()
    entries = conn.execute(
        """SELECT w.student_id, e.id, e.kind, e.amount, e.purpose, e.created_at
             FROM wallets w CROSS JOIN LATERAL (
                  SELECT id, kind, amount, purpose, created_at FROM ledger_entries
                   WHERE wallet_id = w.id ORDER BY id DESC LIMIT %s) e
            WHERE w.student_id = ANY(%s) ORDER BY e.id DESC""",
        (RECENT_ENTRIES, ids),
    ).fetchall()
    views = []
    for student_id, display_name in students:
        live = [LotView.model_validate(r) for r in lots if r["student_id"] == student_id]
        recent = [EntryView.model_validate(r) for r in entries if r["student_id"] == student_id]
        views.append(
            WalletView(
                student_id=student_id,
                display_name=display_name,
                balance=sum(lot.remaining for lot in live),
                lots=live,
                entries=recent,
            )
        )
    return views
