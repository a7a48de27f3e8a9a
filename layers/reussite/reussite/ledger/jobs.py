"""Scheduled ledger work: expiring due lots (set-based, in wallet batches) and the invariant
check. Both are idempotent and report what they did."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from reussite import db
from reussite.ledger.models import Mismatch

_DUE_WALLETS = """
    SELECT DISTINCT wallet_id FROM credit_lots
     WHERE remaining > 0 AND expires_at <= %(cutoff)s
       AND (%(after)s::uuid IS NULL OR wallet_id > %(after)s::uuid)
     ORDER BY wallet_id
     LIMIT %(limit)s
"""

# Under the batch's wallet locks: zero every due lot, write one EXPIRE entry per lot (UNIQUE per
# lot, so a lot can never expire twice) and take the credits off the wallets' balances.
_EXPIRE = """
    WITH due AS (
        SELECT id, wallet_id, remaining FROM credit_lots
         WHERE wallet_id = ANY(%(wallets)s) AND remaining > 0 AND expires_at <= %(cutoff)s
    ), zeroed AS (
        UPDATE credit_lots l SET remaining = 0 FROM due WHERE l.id = due.id
    ), entries AS (
        INSERT INTO ledger_entries (wallet_id, kind, amount, lot_id, purpose)
        SELECT wallet_id, 'EXPIRE', -remaining, id, 'expiry' FROM due
    ), wallets AS (
        UPDATE wallets w SET balance = w.balance - t.total
          FROM (SELECT wallet_id, sum(remaining) AS total FROM due GROUP BY wallet_id) t
         WHERE w.id = t.wallet_id
    )
    SELECT count(*) AS lots, coalesce(sum(remaining), 0)::bigint AS credits FROM due
"""


@dataclass(frozen=True)
class ExpiryReport:
    cutoff: datetime
    lots: int
    credits: int
    wallets: int
    batches: int


def expire_due(cutoff: datetime | None = None, wallets_per_batch: int = 2000) -> ExpiryReport:
    """Expire every lot whose expiry has passed at `cutoff` (default: now), wallet batch by
    wallet batch, each batch one short transaction. Running it again changes nothing."""
    if cutoff is None:
        row = db.read_one("SELECT clock_timestamp() AS now")
        assert row is not None
        cutoff = row["now"]
    lots = credits = wallets = batches = 0
    after: UUID | None = None
    while True:
        with db.transaction() as conn:
            batch = [
                r["wallet_id"]
                for r in conn.execute(
                    _DUE_WALLETS, {"cutoff": cutoff, "after": after, "limit": wallets_per_batch}
                )
            ]
            if not batch:
                break
            conn.execute(
                "SELECT 1 FROM wallets WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (batch,)
            ).fetchall()
            done = conn.execute(_EXPIRE, {"wallets": batch, "cutoff": cutoff}).fetchone()
        assert done is not None
        lots, credits = lots + done["lots"], credits + done["credits"]
        wallets, batches, after = wallets + len(batch), batches + 1, batch[-1]
    assert cutoff is not None
    return ExpiryReport(cutoff=cutoff, lots=lots, credits=credits, wallets=wallets, batches=batches)


@dataclass(frozen=True)
class InvariantReport:
    wallets_checked: int
    lots_checked: int
    wallet_mismatches: list[Mismatch] = field(default_factory=list)
    lot_mismatches: list[int] = field(default_factory=list)  # lots whose remaining ≠ entries

    @property
    def clean(self) -> bool:
        return not self.wallet_mismatches and not self.lot_mismatches


def check_invariants(limit: int = 100) -> InvariantReport:
    """Σ lot remaining = wallet balance = Σ entries for every wallet, and every lot's remaining
    re-derived from its grant, the spends and refunds that touched it and its expiry."""
    with db.transaction() as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        wallets = conn.execute(
            """SELECT w.id AS wallet_id, w.balance,
                      coalesce(l.total, 0)::int AS lots_remaining,
                      coalesce(e.total, 0)::int AS entries_total
                 FROM wallets w
                 LEFT JOIN (SELECT wallet_id, sum(remaining) AS total
                              FROM credit_lots GROUP BY wallet_id) l ON l.wallet_id = w.id
                 LEFT JOIN (SELECT wallet_id, sum(amount) AS total
                              FROM ledger_entries GROUP BY wallet_id) e ON e.wallet_id = w.id
                WHERE w.balance <> coalesce(l.total, 0) OR w.balance <> coalesce(e.total, 0)
                LIMIT %s""",
            (limit,),
        ).fetchall()
        lots = conn.execute(
            """WITH moves AS (
                   SELECT lot_id, amount FROM ledger_entries WHERE kind IN ('GRANT', 'EXPIRE')
                   UNION ALL
                   SELECT a.lot_id, CASE e.kind WHEN 'SPEND' THEN -a.amount ELSE a.amount END
                     FROM entry_allocations a JOIN ledger_entries e ON e.id = a.entry_id
               )
               SELECT l.id FROM credit_lots l
                 LEFT JOIN (SELECT lot_id, sum(amount) AS total FROM moves GROUP BY lot_id) m
                        ON m.lot_id = l.id
                WHERE l.remaining <> coalesce(m.total, 0)
                ORDER BY l.id LIMIT %s""",
            (limit,),
        ).fetchall()
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM wallets) AS w, (SELECT count(*) FROM credit_lots) AS l"
        ).fetchone()
    assert counts is not None
    return InvariantReport(
        wallets_checked=counts["w"],
        lots_checked=counts["l"],
        wallet_mismatches=[Mismatch(**r) for r in wallets],
        lot_mismatches=[r["id"] for r in lots],
    )
