"""The ledger's periodic checks on a large ledger, each beside the whole-ledger query it replaced,
in the same run on the same PostgreSQL.

A ledger of WALLETS wallets with 10 lots each (their grant entries, and a spend from 1% of the
wallets in the last hour) is built set-based. Then:
  - the hourly invariant check as it runs now (the wallets with entries since its last run,
    plus a 10 s slice of the rolling full pass), beside the previous whole-ledger check (one
    REPEATABLE READ snapshot over every wallet, lot and entry), and the full check in committed
    batches (on demand);
  - the 5-minute exam debit-gap check (the debits since its last run, by the entries' BRIN time
    index), beside the previous count over every spend.
Targets: each periodic run within its timeout with 5x margin (hourly: 120 s -> 24 s; the
sweeper: 60 s -> 12 s), and its work following the change, not the ledger.

Run: make bench-ledger-checks   (WALLETS to change the size)
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from _common import database
from ledger import make_wallets

from reussite import db
from reussite.exams import service as exams
from reussite.ledger import jobs
from reussite.ledger import service as ledger

WALLETS = int(os.environ.get("WALLETS", "200000"))
CHANGED = max(1, WALLETS // 100)

# The checks as they were before they became incremental (commit 6de6a4b), for the baseline.
WHOLE_LEDGER_WALLETS = """
    SELECT w.id FROM wallets w
      LEFT JOIN (SELECT wallet_id, sum(remaining) AS total FROM credit_lots GROUP BY wallet_id) l
             ON l.wallet_id = w.id
      LEFT JOIN (SELECT wallet_id, sum(amount) AS total FROM ledger_entries GROUP BY wallet_id) e
             ON e.wallet_id = w.id
     WHERE w.balance <> coalesce(l.total, 0) OR w.balance <> coalesce(e.total, 0) LIMIT 100
"""
WHOLE_LEDGER_LOTS = """
    WITH moves AS (
        SELECT lot_id, amount FROM ledger_entries WHERE kind = 'GRANT'
        UNION ALL SELECT id, -expired FROM credit_lots WHERE expired > 0
        UNION ALL SELECT a.lot_id, CASE e.kind WHEN 'SPEND' THEN -a.amount ELSE a.amount END
                    FROM entry_allocations a JOIN ledger_entries e ON e.id = a.entry_id)
    SELECT l.id FROM credit_lots l
      LEFT JOIN (SELECT lot_id, sum(amount) AS total FROM moves GROUP BY lot_id) m
             ON m.lot_id = l.id
     WHERE l.remaining <> coalesce(m.total, 0) LIMIT 100
"""
WHOLE_LEDGER_GAP = """
    SELECT count(*) FROM ledger_entries e
     WHERE e.kind = 'SPEND' AND e.idempotency_key LIKE 'exam-start:%%'
       AND NOT EXISTS (SELECT 1 FROM exam_attempts a WHERE a.debit_entry_id = e.id)
"""


def timed(work: object, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def whole_ledger_check() -> None:
    with db.transaction() as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        conn.execute(WHOLE_LEDGER_WALLETS).fetchall()
        conn.execute(WHOLE_LEDGER_LOTS).fetchall()


def main() -> int:
    with database() as url:
        started = time.perf_counter()
        wallets = make_wallets(url, WALLETS, 10, 5, expired=False)
        print(f"built {WALLETS:,} wallets, {WALLETS * 10:,} lots and entries", end="")
        print(f" in {time.perf_counter() - started:.0f} s")
        jobs.check_invariants(full=False, sweep_seconds=0)  # the first run: the watermark
        exams.debit_gap(full=False)
        db.connection().execute(  # the ledger built above is history, older than the last runs
            "UPDATE job_watermarks SET cutoff = clock_timestamp() + %s", (jobs.CHANGE_MARGIN,)
        )
        for n, wallet in enumerate(wallets[:CHANGED]):  # the hour's activity: 1% of wallets
            ledger.spend(wallet, 1, key=f"bench-{n}", purpose="tutoring")
        db.connection().execute("ANALYZE")

        report = jobs.check_invariants(full=False)
        hourly = timed(lambda: jobs.check_invariants(full=False), repeat=1)
        before = timed(whole_ledger_check, repeat=1)
        started = time.perf_counter()
        full = jobs.check_invariants(full=True)
        full_seconds = time.perf_counter() - started
        gap_now = timed(lambda: exams.debit_gap(full=False))
        gap_before = timed(lambda: db.connection().execute(WHOLE_LEDGER_GAP).fetchone())
        db.close()

    print(f"hourly invariant check ({report.wallets_changed:,} changed wallets + a 10 s slice")
    print(f"  of the rolling pass, {report.sweep_wallets:,} wallets): {hourly:6.2f} s", end="")
    print(f" | whole-ledger snapshot: {before:6.2f} s | target < 24 s")
    print(f"full check on demand, {full.batches} committed batches: {full_seconds:6.2f} s", end="")
    print(f" ({full.wallets_checked:,} wallets, {'clean' if full.clean else 'MISMATCH'})")
    print(f"5-minute debit-gap check: {gap_now * 1000:7.1f} ms", end="")
    print(f" | whole-ledger count: {gap_before * 1000:7.1f} ms | target < 12 s")
    ok = hourly < 24 and gap_now < 12 and report.clean and full.clean
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
