"""Scheduled ledger work: expiring due lots (set-based, in wallet batches) and the invariant
check (the wallets that changed since its last run, and a slice of a rolling full pass). Both
are idempotent and report what they did."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from reussite import db
from reussite.ledger.models import Mismatch

EXPIRY_JOB = "credit_expiry"
RESCAN_MARGIN = timedelta(days=7)  # lots expiring this long before the last run are looked at again

_WATERMARK = "SELECT cutoff FROM job_watermarks WHERE job = %s"
_ADVANCE = """
    INSERT INTO job_watermarks (job, cutoff) VALUES (%(job)s, %(cutoff)s)
    ON CONFLICT (job) DO UPDATE
       SET cutoff = greatest(job_watermarks.cutoff, EXCLUDED.cutoff), updated_at = now()
"""


def watermark(conn: db.Connection, job: str) -> datetime | None:
    """Where `job` got to last time (None: it never ran)."""
    row = conn.execute(_WATERMARK, (job,)).fetchone()
    return row["cutoff"] if row else None


def advance(conn: db.Connection, job: str, cutoff: datetime) -> None:
    """Record that `job` got to `cutoff` (never backwards)."""
    conn.execute(_ADVANCE, {"job": job, "cutoff": cutoff})


INVARIANTS_JOB = "ledger_invariants"
# Entries are looked at again this long after a run: a transaction open while a run read the
# ledger commits (with its earlier now()) well within it.
CHANGE_MARGIN = timedelta(minutes=15)
CHECK_BATCH = 2000  # wallets per committed batch (a snapshot held briefly, never the whole run)
SWEEP_SECONDS = 10.0  # of each hourly run, given to the rolling full pass

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
    mark = watermark(conn, EXPIRY_JOB)
    since = mark - RESCAN_MARGIN if mark else datetime.min.replace(tzinfo=UTC)
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
    advance(conn, EXPIRY_JOB, cutoff)
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
    debit_gap: int = 0  # exam debits without their attempt, in the wallets checked
    # what the run covered: "full" (every wallet), or "changes" (the wallets with entries since
    # `changed_since`) plus a slice of the rolling full pass
    mode: str = "full"
    changed_since: datetime | None = None
    wallets_changed: int = 0
    sweep_wallets: int = 0  # wallets the rolling pass checked in this run
    sweep_pass_completed_at: datetime | None = None  # when the last whole pass ended
    batches: int = 0

    @property
    def clean(self) -> bool:
        return not self.problems

    @property
    def problems(self) -> int:
        return (
            len(self.wallet_mismatches)
            + len(self.lot_mismatches)
            + len(self.expiry_mismatches)
            + len(self.stranded_lots)
            + len(self.unpaid_allocations)
            + self.debit_gap
        )


# Per batch of wallets, in one REPEATABLE READ snapshot: each wallet's balance against its lots
# and its entries; each lot's remaining re-derived from its grant, the spends and refunds that
# touched it and its expiry; each EXPIRE entry against the credits its lots lost; exam debits
# without their attempt. Each reads through the wallet's indexes: the cost is the batch's.
_WALLETS = """
    SELECT w.id AS wallet_id, w.balance,
           coalesce(l.total, 0)::int AS lots_remaining, coalesce(e.total, 0)::int AS entries_total
      FROM wallets w
      LEFT JOIN LATERAL (SELECT sum(remaining) AS total FROM credit_lots
                          WHERE wallet_id = w.id) l ON true
      LEFT JOIN LATERAL (SELECT sum(amount) AS total FROM ledger_entries
                          WHERE wallet_id = w.id) e ON true
     WHERE w.id = ANY(%(ids)s)
       AND (w.balance <> coalesce(l.total, 0) OR w.balance <> coalesce(e.total, 0))
     LIMIT %(limit)s
"""
_LOTS = """
    WITH lots AS (
        SELECT id, remaining, expired FROM credit_lots WHERE wallet_id = ANY(%(ids)s)
    ), moves AS (
        SELECT lot_id, amount FROM ledger_entries
         WHERE wallet_id = ANY(%(ids)s) AND kind = 'GRANT'
        UNION ALL
        SELECT id, -expired FROM lots WHERE expired > 0
        UNION ALL
        SELECT a.lot_id, CASE e.kind WHEN 'SPEND' THEN -a.amount ELSE a.amount END
          FROM lots JOIN entry_allocations a ON a.lot_id = lots.id
          JOIN ledger_entries e ON e.id = a.entry_id
    )
    SELECT l.id FROM lots l
      LEFT JOIN (SELECT lot_id, sum(amount) AS total FROM moves GROUP BY lot_id) m
             ON m.lot_id = l.id
     WHERE l.remaining <> coalesce(m.total, 0)
     ORDER BY l.id LIMIT %(limit)s
"""
_LOT_COUNT = "SELECT count(*) AS n FROM credit_lots WHERE wallet_id = ANY(%(ids)s)"
_EXPIRIES = """
    SELECT coalesce(e.id, l.expiry_entry_id) AS id
      FROM (SELECT id, wallet_id, amount FROM ledger_entries
             WHERE wallet_id = ANY(%(ids)s) AND kind = 'EXPIRE') e
      FULL JOIN (SELECT expiry_entry_id, wallet_id, sum(expired) AS total FROM credit_lots
                  WHERE wallet_id = ANY(%(ids)s) AND expiry_entry_id IS NOT NULL
                  GROUP BY expiry_entry_id, wallet_id) l
        ON l.expiry_entry_id = e.id AND l.wallet_id = e.wallet_id
     WHERE e.id IS NULL OR l.expiry_entry_id IS NULL OR -e.amount <> l.total
     ORDER BY 1 LIMIT %(limit)s
"""
_DEBIT_GAP = """
    SELECT count(*) AS gap FROM ledger_entries e
     WHERE e.wallet_id = ANY(%(ids)s) AND e.kind = 'SPEND'
       AND e.idempotency_key LIKE 'exam-start:%%'
       AND NOT EXISTS (SELECT 1 FROM exam_attempts a WHERE a.debit_entry_id = e.id)
"""


@dataclass
class _Found:
    wallets: int = 0
    lots: int = 0
    batches: int = 0
    wallet_mismatches: list[Mismatch] = field(default_factory=list)
    lot_mismatches: list[int] = field(default_factory=list)
    expiry_mismatches: list[int] = field(default_factory=list)
    debit_gap: int = 0
    seen: set[Any] = field(default_factory=set)

    def check(self, ids: list[Any], limit: int, remember: bool = True) -> None:
        """Check one batch of wallets in its own short read-only snapshot, once per run (a
        full check's batches are disjoint already: it remembers nothing)."""
        ids = [i for i in ids if i not in self.seen]
        if not ids:
            return
        if remember:
            self.seen.update(ids)
        params = {"ids": ids, "limit": limit}
        with db.transaction() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            self.wallet_mismatches += [Mismatch(**r) for r in conn.execute(_WALLETS, params)]
            self.lot_mismatches += [r["id"] for r in conn.execute(_LOTS, params)]
            self.lots += _one(conn.execute(_LOT_COUNT, params))["n"]
            self.expiry_mismatches += [r["id"] for r in conn.execute(_EXPIRIES, params)]
            self.debit_gap += _one(conn.execute(_DEBIT_GAP, params))["gap"]
        self.wallets += len(ids)
        self.batches += 1


def check_invariants(
    limit: int = 100, *, full: bool = True, sweep_seconds: float = SWEEP_SECONDS
) -> InvariantReport:
    """Σ lot remaining = wallet balance = Σ entries, every lot's remaining re-derived from its
    moves, every EXPIRE entry equal to what its lots lost, no exam debit without its attempt;
    no due lot out of the expiry job's sight, no plan allocation without a paid period.

    `full`: every wallet, in committed batches (on demand). Otherwise (the hourly job): the
    wallets with entries since the last run (less CHANGE_MARGIN), and `sweep_seconds` of the
    rolling full pass, which finds what changed with no entry. The first run (no watermark
    yet) counts nothing as changed and leaves what came before to the rolling pass: a full
    check of a ledger already large (167 s at 20M entries, bench/scale) would outlast the
    job's 120 s timeout every hour, and its watermark would never be set."""
    conn = db.connection()
    started = _one(conn.execute("SELECT now() AS t"))["t"]
    mark = None if full else watermark(conn, INVARIANTS_JOB) or started + CHANGE_MARGIN
    found = _Found()
    changed: list[Any] = []
    sweep = 0
    completed = None
    since = None
    if mark is None:
        _check_all(found, limit)
    else:
        since = mark - CHANGE_MARGIN
        changed = [
            r["wallet_id"]
            for r in conn.execute(
                """SELECT DISTINCT wallet_id FROM ledger_entries WHERE created_at >= %s
                   ORDER BY wallet_id""",
                (since,),
            )
        ]
        for i in range(0, len(changed), CHECK_BATCH):
            found.check(changed[i : i + CHECK_BATCH], limit)
        sweep, completed = _sweep_slice(found, limit, sweep_seconds)
    stranded = conn.execute(
        """SELECT l.id FROM credit_lots l JOIN job_watermarks w ON w.job = %s
            WHERE l.remaining > 0 AND l.expires_at <= w.cutoff - %s
            ORDER BY l.id LIMIT %s""",
        (EXPIRY_JOB, RESCAN_MARGIN, limit),
    ).fetchall()
    unpaid = conn.execute(
        """SELECT a.subscription_id || ' ' || a.period AS pair FROM subscription_allocations a
            WHERE a.created_at >= %s
              AND NOT EXISTS (SELECT 1 FROM subscription_periods p
                               WHERE p.subscription_id = a.subscription_id
                                 AND p.starts_on = a.period AND p.order_id IS NOT NULL)
            ORDER BY a.created_at LIMIT %s""",
        (since or datetime.min.replace(tzinfo=UTC), limit),
    ).fetchall()
    if not full:
        advance(conn, INVARIANTS_JOB, started)
    return InvariantReport(
        wallets_checked=found.wallets,
        lots_checked=found.lots,
        wallet_mismatches=found.wallet_mismatches[:limit],
        lot_mismatches=found.lot_mismatches[:limit],
        expiry_mismatches=found.expiry_mismatches[:limit],
        stranded_lots=[r["id"] for r in stranded],
        unpaid_allocations=[r["pair"] for r in unpaid],
        debit_gap=found.debit_gap,
        mode="full" if mark is None else "changes",
        changed_since=since,
        wallets_changed=len(changed),
        sweep_wallets=sweep,
        sweep_pass_completed_at=completed,
        batches=found.batches,
    )


def _check_all(found: _Found, limit: int) -> None:
    after = None
    while True:
        ids = _wallets_after(after, CHECK_BATCH)
        if not ids:
            return
        found.check(ids, limit, remember=False)
        after = ids[-1]


def _wallets_after(after: Any, count: int) -> list[Any]:
    rows = db.connection().execute(
        """SELECT id FROM wallets WHERE %(after)s::uuid IS NULL OR id > %(after)s::uuid
            ORDER BY id LIMIT %(count)s""",
        {"after": after, "count": count},
    )
    return [r["id"] for r in rows]


def _sweep_slice(found: _Found, limit: int, seconds: float) -> tuple[int, datetime | None]:
    """Go on with the rolling full pass for about `seconds`, a committed batch at a time, its
    place saved after each; returns the wallets checked and when the last whole pass ended."""
    conn = db.connection()
    deadline = time.monotonic() + seconds
    checked = 0
    while True:
        place = _one(conn.execute("SELECT * FROM ledger_sweep"))
        if time.monotonic() >= deadline and checked:
            return checked, place["last_pass_completed_at"]
        ids = _wallets_after(place["after_wallet"], CHECK_BATCH)
        found.check(ids, limit)
        checked += len(ids)
        if len(ids) < CHECK_BATCH:  # the end: the pass is whole, the next starts at the top
            done = _one(
                conn.execute(
                    """UPDATE ledger_sweep SET after_wallet = NULL, pass_started_at = now(),
                              last_pass_completed_at = now(),
                              last_pass_wallets = pass_wallets + %s, pass_wallets = 0
                    RETURNING last_pass_completed_at""",
                    (len(ids),),
                )
            )
            return checked, done["last_pass_completed_at"]
        conn.execute(
            "UPDATE ledger_sweep SET after_wallet = %s, pass_wallets = pass_wallets + %s",
            (ids[-1], len(ids)),
        )
