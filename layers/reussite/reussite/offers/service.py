"""Subscriptions and their monthly credits: granted once per subscription and period."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from reussite import db
from reussite.errors import NotFound
from reussite.ledger import service as ledger
from reussite.ledger.models import LotKind
from reussite.offers.models import AllocationReport, Offer, Plan, Subscription


class PlanNotFound(NotFound):
    code = "PLAN_NOT_FOUND"
    title = "No such plan"


def plans() -> list[Plan]:
    rows = (
        db.connection()
        .execute(
            """SELECT code, name, price_minor, currency, credits_per_month, offer
             FROM plans WHERE active ORDER BY price_minor"""
        )
        .fetchall()
    )
    return [Plan(**row | {"offer": Offer(row["offer"])}) for row in rows]


def offer_of(student_id: UUID) -> Offer:
    """The student's offer: that of their active subscription's plan, else free."""
    row = db.read_one(
        """SELECT p.offer FROM subscriptions s JOIN plans p ON p.code = s.plan_code
            WHERE s.student_id = %s AND s.status = 'ACTIVE'""",
        (student_id,),
    )
    return Offer(row["offer"]) if row else Offer.FREE


def period_of(day: date) -> date:
    return day.replace(day=1)


def activate(
    conn: db.Connection, student_id: UUID, plan_code: str, period: date, actor_id: UUID | None
) -> Subscription:
    """Start a subscription inside the caller's transaction and grant its first month."""
    plan = conn.execute("SELECT code FROM plans WHERE code = %s AND active", (plan_code,))
    if plan.fetchone() is None:
        raise PlanNotFound()
    row = conn.execute(
        """INSERT INTO subscriptions (student_id, plan_code, status, started_at, created_by)
           VALUES (%s, %s, 'ACTIVE', now(), %s)
           RETURNING id, student_id, plan_code, status, started_at""",
        (student_id, plan_code, actor_id),
    ).fetchone()
    assert row is not None
    allocate(conn, row["id"], period)
    return Subscription(**row)


def allocate(conn: db.Connection, subscription_id: UUID, period: date) -> int:
    """Grant the subscription's credits for the month of `period` unless already granted;
    return the credits granted."""
    period = period_of(period)
    # Lock first, then look: a lookup in the locking statement would read a snapshot taken
    # before the lock and miss an allocation a concurrent run just committed.
    sub = conn.execute(
        """SELECT s.id, s.status, w.id AS wallet_id, p.credits_per_month
             FROM subscriptions s
             JOIN plans p ON p.code = s.plan_code
             JOIN wallets w ON w.student_id = s.student_id
            WHERE s.id = %s
              FOR UPDATE OF s""",
        (subscription_id,),
    ).fetchone()
    if sub is None or sub["status"] != "ACTIVE" or sub["credits_per_month"] == 0:
        return 0
    done = conn.execute(
        "SELECT 1 FROM subscription_allocations WHERE subscription_id = %s AND period = %s",
        (subscription_id, period),
    ).fetchone()
    if done is not None:
        return 0
    granted = ledger.grant(
        sub["wallet_id"],
        sub["credits_per_month"],
        LotKind.MONTHLY_ALLOCATION,
        key=f"allocation:{subscription_id}:{period:%Y-%m}",
        purpose=f"monthly allocation {period:%Y-%m}",
        conn=conn,
    )
    conn.execute(
        """INSERT INTO subscription_allocations (subscription_id, period, lot_id)
           VALUES (%s, %s, %s)""",
        (subscription_id, period, granted.lot_id),
    )
    return granted.credits


def allocate_month(period: date) -> AllocationReport:
    """Grant every active subscription its credits for `period`, once; safe to run again."""
    period = period_of(period)
    active = (
        db.connection()
        .execute("SELECT id FROM subscriptions WHERE status = 'ACTIVE' ORDER BY id")
        .fetchall()
    )
    granted = credits = 0
    for row in active:
        with db.transaction() as conn:  # one subscription per short transaction
            added = allocate(conn, row["id"], period)
        granted, credits = granted + (added > 0), credits + added
    return AllocationReport(
        period=period, granted=granted, already_granted=len(active) - granted, credits=credits
    )
