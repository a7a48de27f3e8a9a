"""Scheduled ledger work: expiring due lots (set-based, in wallet batches) and the invariant
check. Both are idempotent and report what they did."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from reussite import db
from reussite.ledger.models import Mismatch

EXPIRY_JOB = "credit_expiry"
RESCAN_MARGIN = timedelta(days=7)  # lots expiring this long before the last run are looked at again

_WATERMARK = "SELECT cutoff FROM job_watermarks WHERE job = %s"

_DUE_WALLETS = """
    SELECT DISTINCT wallet_id FROM credit_lots
     WHERE expires_at > %(since)s AND expires_at <= %(cutoff)s AND remaining > 0
     ORDER BY wallet_id
"""

# Under the batch's wallet locks (so the snapshot cannot go stale): one EXPIRE entry per wallet
# for the sum of its due lots; each due lot moves its remaining credits to `expired` and names
# that entry (once: a lot holds one expiry); the wallets' balances drop by the same sums.
_EXPIRE = """
    WITH due AS (
        SELECT wallet_id, sum(remaining) AS total, count(*) AS lots FROM credit_lots
         WHERE wallet_id = ANY(%(wallets)s) AND remaining > 0 AND expires_at <= %(cutoff)s
         GROUP BY wallet_id
    ), entries AS (
        INSERT INTO ledger_entries (wallet_id, kind, amount, purpose)
        SELECT wallet_id, 'EXPIRE', -total, 'expiry' FROM due
        RETURNING id, wallet_id
    ), lots AS (
        UPDATE credit_lots l SET expired = l.remaining, remaining = 0, expiry_entry_id = e.id
          FROM entries e
         WHERE l.wallet_id = ANY(%(wallets)s) AND l.wallet_id = e.wallet_id
           AND l.remaining > 0 AND l.expires_at <= %(cutoff)s
    ), wallets AS (
        UPDATE wallets w SET balance = w.balance - due.total
          FROM due WHERE w.id = ANY(%(wallets)s) AND w.id = due.wallet_id
    )
    SELECT coalesce(sum(lots), 0)::bigint AS lots, coalesce(sum(total), 0)::bigint AS credits
      FROM due
"""


@dataclass(frozen=True)
class ExpiryReport:
    cutoff: datetime
    lots: int
    credits: int
    wallets: int
    batches: int


def expire_due(
    cutoff: datetime | None = None, wallets_per_batch: int = 5000, workers: int = 2
) -> ExpiryReport:
    """Expire every lot whose expiry has passed at `cutoff` (default: now), wallet batch by
    wallet batch, each batch one short transaction; batches hold disjoint wallets, so `workers`
    connections run them side by side. Running it again changes nothing."""
    conn = db.connection()
    if cutoff is None:
        cutoff = _one(conn.execute("SELECT clock_timestamp() AS now"))["now"]
    mark = conn.execute(_WATERMARK, (EXPIRY_JOB,)).fetchone()
    since = mark["cutoff"] - RESCAN_MARGIN if mark else datetime.min.replace(tzinfo=UTC)
    due = [r["wallet_id"] for r in conn.execute(_DUE_WALLETS, {"since": since, "cutoff": cutoff})]
    batches = [due[i : i + wallets_per_batch] for i in range(0, len(due), wallets_per_batch)]

    def expire_batch(batch: list[Any]) -> dict[str, Any]:
        try:
            with db.transaction() as tx:
                tx.execute(
                    "SELECT 1 FROM wallets WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (batch,)
                ).fetchall()
                return _one(tx.execute(_EXPIRE, {"wallets": batch, "cutoff": cutoff}))
        finally:
            db.release()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = list(pool.map(expire_batch, batches))
    lots, credits = sum(d["lots"] for d in done), sum(d["credits"] for d in done)
    conn.execute(
        """INSERT INTO job_watermarks (job, cutoff) VALUES (%(job)s, %(cutoff)s)
           ON CONFLICT (job) DO UPDATE
              SET cutoff = greatest(job_watermarks.cutoff, EXCLUDED.cutoff), updated_at = now()""",
        {"job": EXPIRY_JOB, "cutoff": cutoff},
    )
    return ExpiryReport(
        cutoff=cutoff, lots=lots, credits=credits, wallets=len(due), batches=len(batches)
    )


def _one(cursor: Any) -> dict[str, Any]:
    row = cursor.fetchone()
    assert row is not None
    return dict(row)


@dataclass(frozen=True)
class InvariantReport:
    wallets_checked: int
    lots_checked: int
    wallet_mismatches: list[Mismatch] = field(default_factory=list)
    lot_mismatches: list[int] = field(default_factory=list)  # lots whose remaining ≠ entries
    expiry_mismatches: list[int] = field(default_factory=list)  # EXPIRE entries ≠ their lots
    stranded_lots: list[int] = field(default_factory=list)  # due lots the expiry job cannot see
    # plan credits granted for a period no order paid for ("subscription_id period" pairs)
    unpaid_allocations: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (
            self.wallet_mismatches
            or self.lot_mismatches
            or self.expiry_mismatches
            or self.stranded_lots
            or self.unpaid_allocations
        )

    @property
    def problems(self) -> int:
        return (
            len(self.wallet_mismatches)
            + len(self.lot_mismatches)
            + len(self.expiry_mismatches)
            + len(self.stranded_lots)
            + len(self.unpaid_allocations)
        )


def check_invariants(limit: int = 100) -> InvariantReport:
    """Σ lot remaining = wallet balance = Σ entries for every wallet, and every lot's remaining
    re-derived from its grant, the spends and refunds that touched it and its expiry, and every
    EXPIRE entry equal to the credits its lots lost."""
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
                   SELECT lot_id, amount FROM ledger_entries WHERE kind = 'GRANT'
                   UNION ALL
                   SELECT id, -expired FROM credit_lots WHERE expired > 0
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
        expiries = conn.execute(  # each EXPIRE entry = its wallet's lots that name it
            """SELECT coalesce(e.id, l.expiry_entry_id) AS id
                 FROM (SELECT id, wallet_id, amount FROM ledger_entries WHERE kind = 'EXPIRE') e
                 FULL JOIN (SELECT expiry_entry_id, wallet_id, sum(expired) AS total
                              FROM credit_lots WHERE expiry_entry_id IS NOT NULL
                             GROUP BY expiry_entry_id, wallet_id) l
                   ON l.expiry_entry_id = e.id AND l.wallet_id = e.wallet_id
                WHERE e.id IS NULL OR l.expiry_entry_id IS NULL OR -e.amount <> l.total
                ORDER BY 1 LIMIT %s""",
            (limit,),
        ).fetchall()
        stranded = conn.execute(
            """SELECT l.id FROM credit_lots l JOIN job_watermarks w ON w.job = %s
                WHERE l.remaining > 0 AND l.expires_at <= w.cutoff - %s
                ORDER BY l.id LIMIT %s""",
            (EXPIRY_JOB, RESCAN_MARGIN, limit),
        ).fetchall()
        unpaid = conn.execute(
            """SELECT a.subscription_id || ' ' || a.period AS pair
                 FROM subscription_allocations a
                WHERE NOT EXISTS (SELECT 1 FROM subscription_periods p
                                   WHERE p.subscription_id = a.subscription_id
                                     AND p.starts_on = a.period AND p.order_id IS NOT NULL)
                ORDER BY a.created_at LIMIT %s""",
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
        expiry_mismatches=[r["id"] for r in expiries],
        stranded_lots=[r["id"] for r in stranded],
        unpaid_allocations=[r["pair"] for r in unpaid],
    )
