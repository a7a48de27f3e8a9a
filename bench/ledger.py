"""Ledger benchmarks, each beside its baseline in the same run, on the same PostgreSQL.

(a) Spend throughput with 8 concurrent workers, on one hot wallet and spread over 10,000
    wallets: `ledger.spend` (the domain function) beside the raw SQL transaction it performs,
    run the same way by bare psycopg connections (pgbench-style). Target: ratio >= 0.5.
(b) Expiry of 1,000,000 due lots by the set-based job, beside a per-row loop (one transaction
    per lot) over a sample, extrapolated. Targets: < 15 s and >= 50x faster.

Run: make bench-ledger   (SPEND_SECONDS, LOTS, SAMPLE to change the sizes)
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg
from _common import database

from reussite import db
from reussite.ledger import jobs
from reussite.ledger import service as ledger

WORKERS = 8
SPEND_SECONDS = float(os.environ.get("SPEND_SECONDS", "4"))
MANY_WALLETS = 10_000
LOTS = int(os.environ.get("LOTS", "1000000"))
LOTS_PER_WALLET = 10
SAMPLE = int(os.environ.get("SAMPLE", "2000"))


def make_wallets(url: str, count: int, lots_each: int, credits: int, expired: bool) -> list[Any]:
    """Students with wallets holding `lots_each` lots of `credits`, each with its grant entry."""
    tag = uuid.uuid4().hex[:8]
    validity = (
        "now() - interval '13 months', now() - interval '1 month'"
        if expired
        else ("now(), now() + interval '12 months'")
    )
    with psycopg.connect(url) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute(
            """INSERT INTO users (sub, role)
               SELECT 'bench-' || %s || '-' || g, 'ELEVE' FROM generate_series(1, %s) g""",
            (tag, count),
        )
        conn.execute(
            """INSERT INTO students (user_id, display_name, created_by, self_provisioned)
               SELECT id, sub, id, true FROM users WHERE sub LIKE 'bench-' || %s || '-%%'""",
            (tag,),
        )
        wallets = conn.execute(
            f"""INSERT INTO wallets (student_id, balance)
                SELECT s.id, {lots_each * credits} FROM students s JOIN users u ON u.id = s.user_id
                 WHERE u.sub LIKE 'bench-' || %s || '-%%'
                RETURNING id""",
            (tag,),
        ).fetchall()
        conn.execute(
            f"""WITH lots AS (
                    INSERT INTO credit_lots (wallet_id, kind, amount, remaining, granted_at,
                                             expires_at)
                    SELECT w.id, 'PURCHASE', {credits}, {credits}, {validity}
                      FROM wallets w JOIN students s ON s.id = w.student_id
                      JOIN users u ON u.id = s.user_id, generate_series(1, {lots_each})
                     WHERE u.sub LIKE 'bench-' || %s || '-%%'
                    RETURNING id, wallet_id, amount)
                INSERT INTO ledger_entries (wallet_id, kind, amount, lot_id, idempotency_key,
                                            purpose, balance_after)
                SELECT wallet_id, 'GRANT', amount, id, 'grant-' || id, 'bench', 0 FROM lots""",
            (tag,),
        )
        conn.execute("ANALYZE")
    return [w[0] for w in wallets]


def throughput(workers: int, seconds: float, work: Callable[[int, int], None]) -> float:
    """Operations per second of `work(worker, n)` run by `workers` threads for `seconds`."""
    counts = [0] * workers
    barrier = threading.Barrier(workers + 1)
    stop = threading.Event()

    def run(i: int) -> None:
        barrier.wait()
        n = 0
        while not stop.is_set():
            work(i, n)
            n += 1
        counts[i] = n

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - started)


def raw_spend_factory(url: str) -> Callable[[Any, str], None]:
    """The spend transaction as bare SQL on a bare psycopg connection per thread."""
    local = threading.local()

    def spend(wallet_id: Any, key: str) -> None:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg.connect(url, autocommit=True)
        with conn.transaction():
            conn.execute(ledger._LOCK_WALLET, (wallet_id,))
            conn.execute(ledger._ENTRY_BY_KEY, (wallet_id, key)).fetchone()
            lots = conn.execute(ledger._LIVE_LOTS, (wallet_id,)).fetchall()
            live = sum(r[1] for r in lots)
            conn.execute(
                ledger._WRITE_SPEND,
                {
                    "wallet": wallet_id,
                    "credits": 1,
                    "key": key,
                    "purpose": "bench",
                    "actor": None,
                    "after": live - 1,
                    "lots": [lots[0][0]],
                    "amounts": [1],
                },
            )

    return spend


def bench_spends(url: str) -> list[float]:
    hot = make_wallets(url, 1, 1, 10_000_000, expired=False)[0]
    many = make_wallets(url, MANY_WALLETS, 1, 100_000, expired=False)
    raw = raw_spend_factory(url)
    ratios = []
    print(f"(a) spends of 1 credit, {WORKERS} concurrent workers, {SPEND_SECONDS:.0f} s each")
    print(
        f"    {'scenario':14} {'raw SQL/s':>10} {'ledger.spend/s':>15} {'ratio':>6}  target >= 0.5"
    )
    for name, pick in (
        ("hot wallet", lambda i, n: hot),
        ("10k wallets", lambda i, n: many[(i * 7919 + n * 104729) % MANY_WALLETS]),
    ):

        def bare(i: int, n: int, pick: Callable[[int, int], Any] = pick) -> None:
            raw(pick(i, n), f"raw-{i}-{n}-{uuid.uuid4()}")

        def domain(i: int, n: int, pick: Callable[[int, int], Any] = pick) -> None:
            ledger.spend(pick(i, n), 1, key=f"dom-{i}-{n}-{uuid.uuid4()}", purpose="bench")

        base = throughput(WORKERS, SPEND_SECONDS, bare)
        ours = throughput(WORKERS, SPEND_SECONDS, domain)
        ratios.append(ours / base)
        verdict = "ok" if ours / base >= 0.5 else "UNDER"
        print(f"    {name:14} {base:10.0f} {ours:15.0f} {ours / base:6.2f}  {verdict}")
    return ratios


def per_row_expiry(url: str, lot_ids: list[int], cutoff: datetime) -> float:
    """The naive job: one transaction per lot. Returns seconds per lot."""
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        for lot_id in lot_ids:
            with conn.transaction():
                row = conn.execute(
                    "SELECT wallet_id FROM credit_lots WHERE id = %s", (lot_id,)
                ).fetchone()
                assert row is not None
                conn.execute("SELECT 1 FROM wallets WHERE id = %s FOR UPDATE", (row[0],))
                lot = conn.execute(
                    """SELECT remaining FROM credit_lots
                        WHERE id = %s AND remaining > 0 AND expires_at <= %s""",
                    (lot_id, cutoff),
                ).fetchone()
                if lot is None:
                    continue
                entry = conn.execute(
                    """INSERT INTO ledger_entries (wallet_id, kind, amount, purpose)
                       VALUES (%s, 'EXPIRE', %s, 'expiry') RETURNING id""",
                    (row[0], -lot[0]),
                ).fetchone()
                conn.execute(
                    """UPDATE credit_lots SET expired = remaining, remaining = 0,
                                              expiry_entry_id = %s WHERE id = %s""",
                    (entry[0], lot_id),  # type: ignore[index]
                )
                conn.execute(
                    "UPDATE wallets SET balance = balance - %s WHERE id = %s", (lot[0], row[0])
                )
        return (time.perf_counter() - started) / len(lot_ids)


def bench_expiry(url: str) -> tuple[float, float]:
    print(f"(b) expiry of {LOTS:,} due lots ({LOTS_PER_WALLET} per wallet)")
    t0 = time.perf_counter()
    sample_wallets = make_wallets(url, SAMPLE // LOTS_PER_WALLET, LOTS_PER_WALLET, 5, True)
    make_wallets(url, LOTS // LOTS_PER_WALLET, LOTS_PER_WALLET, 5, expired=True)
    print(f"    setup: {time.perf_counter() - t0:.1f} s")
    with psycopg.connect(url) as conn:
        sample = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM credit_lots WHERE wallet_id = ANY(%s) ORDER BY id",
                (sample_wallets,),
            )
        ]
        cutoff = conn.execute("SELECT clock_timestamp()").fetchone()[0]  # type: ignore[index]
    per_lot = per_row_expiry(url, sample, cutoff)
    started = time.perf_counter()
    report = jobs.expire_due(cutoff)
    set_based = time.perf_counter() - started
    loop_estimate = per_lot * LOTS
    ratio = loop_estimate / set_based
    print(
        f"    per-row loop: {per_lot * 1000:.3f} ms a lot over {len(sample):,} lots "
        f"-> {loop_estimate:,.0f} s for {LOTS:,} (extrapolated)"
    )
    print(
        f"    set-based job: {report.lots:,} lots, {report.credits:,} credits, "
        f"{report.batches} batches in {set_based:.1f} s  (target < 15 s: "
        f"{'ok' if set_based < 15 else 'OVER'})"
    )
    print(f"    speed-up: {ratio:,.0f}x  (target >= 50x: {'ok' if ratio >= 50 else 'UNDER'})")
    return set_based, ratio


def main() -> int:
    with database() as url:
        ratios = bench_spends(url)
        seconds, speedup = bench_expiry(url)
        started = time.perf_counter()
        report = jobs.check_invariants()
        print(
            f"invariant check over {report.wallets_checked:,} wallets and "
            f"{report.lots_checked:,} lots: "
            f"{'clean' if report.clean else 'MISMATCH'} in {time.perf_counter() - started:.1f} s"
        )
        db.close()
        ok = min(ratios) >= 0.5 and seconds < 15 and speedup >= 50 and report.clean
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
