"""The credits ledger on real PostgreSQL: it never mints or loses a credit, whatever the
concurrency, and the invariant checker notices when something else does."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from reussite import db
from reussite.errors import IdempotencyKeyReused, InsufficientCredits, SpendNotFound
from reussite.identity.models import Role
from reussite.ledger import jobs
from reussite.ledger import service as ledger
from reussite.ledger.models import LotKind

Wallet = Callable[..., UUID]


@pytest.fixture
def wallet(user: Any) -> Wallet:
    """A fresh student's wallet, with the given (kind, credits) lots granted."""

    def make(*lots: tuple[LotKind, int]) -> UUID:
        wallet_id = ledger.wallet_of(user(Role.ELEVE).student_id)
        for kind, credits in lots:
            ledger.grant(wallet_id, credits, kind, key=str(uuid.uuid4()), purpose="test")
        return wallet_id

    return make


def in_threads(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run `work(i)` in n threads released together; exceptions are returned, not raised."""
    barrier = threading.Barrier(n)

    def run(i: int) -> Any:
        barrier.wait()
        try:
            return work(i)
        except Exception as exc:
            return exc
        finally:
            db.release()

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def lot_ids(conn: db.Connection, wallet_id: UUID) -> list[int]:
    rows = conn.execute("SELECT id FROM credit_lots WHERE wallet_id = %s ORDER BY id", (wallet_id,))
    return [r["id"] for r in rows]


def balance(conn: db.Connection, wallet_id: UUID) -> int:
    row = conn.execute("SELECT balance FROM wallets WHERE id = %s", (wallet_id,)).fetchone()
    assert row is not None
    return int(row["balance"])


def age(conn: db.Connection, lot_id: int, expired_for: timedelta) -> None:
    """Move a lot back in time so that it expired `expired_for` ago."""
    conn.execute(
        """UPDATE credit_lots SET granted_at = clock_timestamp() - interval '12 months' - %s,
                                  expires_at = clock_timestamp() - %s WHERE id = %s""",
        (expired_for, expired_for, lot_id),
    )


def assert_invariants_hold() -> None:
    report = jobs.check_invariants()
    assert report.clean, report


# -- spending order and refusal ---------------------------------------------------------------


def test_spend_draws_soonest_expiry_then_promotional_then_oldest(
    wallet: Wallet, conn: db.Connection
) -> None:
    wallet_id = wallet(
        (LotKind.PURCHASE, 3), (LotKind.PROMOTION, 2), (LotKind.PURCHASE, 4), (LotKind.GOODWILL, 1)
    )
    paid_old, promo, paid_new, goodwill = lot_ids(conn, wallet_id)
    conn.execute(
        "UPDATE credit_lots SET expires_at = expires_at - interval '1 month' WHERE id = %s",
        (paid_new,),
    )

    spent = ledger.spend(wallet_id, 8, key="k", purpose="exam:FR-B1")

    drawn = {a.lot_id: a.amount for a in spent.allocations}
    # paid_new expires a month earlier; the others expire the same day: promotional lots first
    # (oldest first), then paid.
    assert drawn == {paid_new: 4, promo: 2, goodwill: 1, paid_old: 1}
    assert spent.balance == 2 == balance(conn, wallet_id)
    assert_invariants_hold()


def test_a_short_balance_is_refused_and_nothing_is_written(
    wallet: Wallet, conn: db.Connection
) -> None:
    wallet_id = wallet((LotKind.PURCHASE, 2))

    with pytest.raises(InsufficientCredits) as refused:
        ledger.spend(wallet_id, 3, key="too-much", purpose="exam:FR-B1")

    assert refused.value.extra == {"required": 3, "balance": 2}
    assert balance(conn, wallet_id) == 2
    spends = conn.execute(
        "SELECT count(*) AS n FROM ledger_entries WHERE wallet_id = %s AND kind = 'SPEND'",
        (wallet_id,),
    ).fetchone()
    assert spends == {"n": 0}


def test_an_expired_lot_is_never_spendable_even_before_the_expiry_job(
    wallet: Wallet, conn: db.Connection
) -> None:
    wallet_id = wallet((LotKind.PURCHASE, 5), (LotKind.PURCHASE, 1))
    expired, live = lot_ids(conn, wallet_id)
    age(conn, expired, timedelta(seconds=1))

    with pytest.raises(InsufficientCredits):
        ledger.spend(wallet_id, 2, key="k", purpose="exam")
    spent = ledger.spend(wallet_id, 1, key="k2", purpose="exam")

    assert [a.lot_id for a in spent.allocations] == [live]


# -- idempotency -------------------------------------------------------------------------------


def test_a_replayed_spend_returns_the_first_result(wallet: Wallet) -> None:
    wallet_id = wallet((LotKind.PURCHASE, 5))

    first = ledger.spend(wallet_id, 2, key="same", purpose="exam:EN-A2")
    again = ledger.spend(wallet_id, 2, key="same", purpose="exam:EN-A2")

    assert again.replayed and not first.replayed
    assert again == dataclasses.replace(first, replayed=True)


@pytest.mark.parametrize(("credits", "purpose"), [(3, "exam:EN-A2"), (2, "exam:ES-C1")])
def test_the_same_key_for_a_different_spend_is_refused(
    wallet: Wallet, credits: int, purpose: str
) -> None:
    wallet_id = wallet((LotKind.PURCHASE, 5))
    ledger.spend(wallet_id, 2, key="same", purpose="exam:EN-A2")

    with pytest.raises(IdempotencyKeyReused):
        ledger.spend(wallet_id, credits, key="same", purpose=purpose)


def test_a_replayed_grant_returns_the_first_and_a_different_one_is_refused(
    wallet: Wallet, conn: db.Connection
) -> None:
    wallet_id = wallet()
    first = ledger.grant(wallet_id, 5, LotKind.PURCHASE, key="pack-1", purpose="pack")

    again = ledger.grant(wallet_id, 5, LotKind.PURCHASE, key="pack-1", purpose="pack")
    with pytest.raises(IdempotencyKeyReused):
        ledger.grant(wallet_id, 6, LotKind.PURCHASE, key="pack-1", purpose="pack")
    with pytest.raises(IdempotencyKeyReused):
        ledger.spend(wallet_id, 5, key="pack-1", purpose="pack")

    assert again.replayed and again.lot_id == first.lot_id and again.balance == 5
    assert balance(conn, wallet_id) == 5


def test_fifty_concurrent_spends_with_one_key_debit_once(
    wallet: Wallet, conn: db.Connection
) -> None:
    wallet_id = wallet((LotKind.PURCHASE, 10))

    results = in_threads(50, lambda _: ledger.spend(wallet_id, 3, key="once", purpose="exam"))

    assert not [r for r in results if isinstance(r, Exception)]
    assert len({r.entry_id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert balance(conn, wallet_id) == 7
    assert_invariants_hold()


def test_fifty_concurrent_spends_against_ten_credits_leave_exactly_zero(
    wallet: Wallet, conn: db.Connection
) -> None:
    wallet_id = wallet((LotKind.PURCHASE, 4), (LotKind.PROMOTION, 6))

    results = in_threads(50, lambda i: ledger.spend(wallet_id, 1, key=f"k{i}", purpose="exam"))

    succeeded = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, InsufficientCredits)]
    assert (len(succeeded), len(refused)) == (10, 40)
    assert sorted(r.balance for r in succeeded) == list(range(10))  # never below zero
    assert balance(conn, wallet_id) == 0
    assert_invariants_hold()


# -- refunds -----------------------------------------------------------------------------------


def test_a_refund_restores_the_original_lots_with_their_expiry(
    wallet: Wallet, conn: db.Connection
) -> None:
    wallet_id = wallet((LotKind.PROMOTION, 2), (LotKind.PURCHASE, 5))
    before = conn.execute(
        "SELECT id, remaining, expires_at FROM credit_lots WHERE wallet_id = %s ORDER BY id",
        (wallet_id,),
    ).fetchall()
    ledger.spend(wallet_id, 4, key="session-1", purpose="tutoring")

    refunded = ledger.refund(wallet_id, "session-1", purpose="cancelled 48 h ahead")
    again = ledger.refund(wallet_id, "session-1", purpose="cancelled 48 h ahead")

    after = conn.execute(
        "SELECT id, remaining, expires_at FROM credit_lots WHERE wallet_id = %s ORDER BY id",
        (wallet_id,),
    ).fetchall()
    assert after == before
    assert (refunded.credits, refunded.forfeited, refunded.balance) == (4, 0, 7)
    assert again.replayed and again.entry_id == refunded.entry_id
    assert balance(conn, wallet_id) == 7
    assert_invariants_hold()


def test_credits_from_a_lot_that_expired_since_are_not_refunded(
    wallet: Wallet, conn: db.Connection
) -> None:
    wallet_id = wallet((LotKind.PURCHASE, 2), (LotKind.PURCHASE, 5))
    soon, later = lot_ids(conn, wallet_id)
    conn.execute(
        "UPDATE credit_lots SET expires_at = expires_at - interval '1 month' WHERE id = %s",
        (soon,),
    )
    ledger.spend(wallet_id, 3, key="s", purpose="tutoring")  # 2 from `soon`, 1 from `later`
    age(conn, soon, timedelta(seconds=1))

    refunded = ledger.refund(wallet_id, "s", purpose="cancelled")

    assert (refunded.credits, refunded.forfeited) == (1, 2)
    rows = conn.execute("SELECT id, remaining FROM credit_lots WHERE wallet_id = %s", (wallet_id,))
    assert {r["id"]: r["remaining"] for r in rows} == {soon: 0, later: 5}
    assert_invariants_hold()


def test_refunding_an_unknown_spend_is_refused(wallet: Wallet) -> None:
    with pytest.raises(SpendNotFound):
        ledger.refund(wallet((LotKind.PURCHASE, 1)), "never-spent", purpose="x")


# -- expiry ------------------------------------------------------------------------------------


def test_expiry_run_twice_gives_the_same_result(wallet: Wallet, conn: db.Connection) -> None:
    wallet_id = wallet((LotKind.PURCHASE, 5), (LotKind.PROMOTION, 3), (LotKind.PURCHASE, 4))
    first_lot, second_lot, _ = lot_ids(conn, wallet_id)
    ledger.spend(wallet_id, 2, key="s", purpose="exam")  # from the promotional lot
    age(conn, first_lot, timedelta(days=1))
    age(conn, second_lot, timedelta(days=1))
    cutoff = conn.execute("SELECT clock_timestamp() AS t").fetchone()["t"]  # type: ignore[index]

    first = jobs.expire_due(cutoff)
    second = jobs.expire_due(cutoff)

    assert first.lots >= 2 and second.lots == 0 and second.credits == 0
    entries = conn.execute(
        "SELECT id, amount FROM ledger_entries WHERE wallet_id = %s AND kind = 'EXPIRE'",
        (wallet_id,),
    ).fetchall()
    assert [e["amount"] for e in entries] == [-6]  # one entry for the wallet's due lots
    lots = conn.execute(
        """SELECT id, remaining, expired, expiry_entry_id FROM credit_lots
            WHERE wallet_id = %s ORDER BY id""",
        (wallet_id,),
    ).fetchall()
    assert [(lot["id"], lot["remaining"], lot["expired"]) for lot in lots] == [
        (first_lot, 0, 5),
        (second_lot, 0, 1),
        (lots[2]["id"], 4, 0),
    ]
    assert {lot["expiry_entry_id"] for lot in lots[:2]} == {entries[0]["id"]}
    assert balance(conn, wallet_id) == 4
    assert_invariants_hold()


def test_a_spend_racing_the_expiry_job_never_draws_from_an_expired_lot(
    wallet: Wallet, conn: db.Connection
) -> None:
    wallet_id = wallet((LotKind.PROMOTION, 40), (LotKind.PURCHASE, 10_000))
    racing, _ = lot_ids(conn, wallet_id)
    conn.execute(
        """UPDATE credit_lots SET granted_at = clock_timestamp() - interval '1 day',
                                  expires_at = clock_timestamp() + interval '400 milliseconds'
            WHERE id = %s""",
        (racing,),
    )
    stop = time.monotonic() + 1.2

    def spender(i: int) -> int:
        n = 0
        while time.monotonic() < stop:
            ledger.spend(wallet_id, 1, key=f"race-{i}-{n}", purpose="exam")
            n += 1
        return n

    def expirer(_: int) -> int:
        runs = 0
        while time.monotonic() < stop:
            jobs.expire_due()
            runs += 1
        return runs

    results = in_threads(4, lambda i: spender(i) if i < 3 else expirer(i))

    assert not [r for r in results if isinstance(r, Exception)], results
    lot = conn.execute(
        "SELECT expires_at, remaining, amount FROM credit_lots WHERE id = %s", (racing,)
    ).fetchone()
    assert lot is not None and lot["remaining"] == 0
    late_draws = conn.execute(
        """SELECT count(*) AS n FROM entry_allocations a
             JOIN ledger_entries e ON e.id = a.entry_id
            WHERE a.lot_id = %s AND e.created_at >= %s""",
        (racing, lot["expires_at"]),
    ).fetchone()
    assert late_draws == {"n": 0}
    after_expiry = conn.execute(
        "SELECT count(*) AS n FROM ledger_entries WHERE wallet_id = %s AND created_at > %s",
        (wallet_id, lot["expires_at"]),
    ).fetchone()
    assert after_expiry is not None and after_expiry["n"] > 0  # spends did go on past expiry
    assert_invariants_hold()


# -- the invariant checker ---------------------------------------------------------------------


def test_the_invariant_checker_catches_a_corrupted_row(wallet: Wallet, conn: db.Connection) -> None:
    wallet_id = wallet((LotKind.PURCHASE, 5))
    (lot_id,) = lot_ids(conn, wallet_id)
    assert_invariants_hold()

    conn.execute("UPDATE credit_lots SET remaining = 6, amount = 6 WHERE id = %s", (lot_id,))
    try:
        report = jobs.check_invariants()
        assert [m.wallet_id for m in report.wallet_mismatches] == [wallet_id]
        assert report.wallet_mismatches[0].lots_remaining == 6
        assert report.lot_mismatches == [lot_id] and report.expiry_mismatches == []
    finally:
        conn.execute("UPDATE credit_lots SET remaining = 5, amount = 5 WHERE id = %s", (lot_id,))
    assert_invariants_hold()


def test_the_hourly_check_reads_what_changed_and_a_rolling_slice_of_the_rest(
    wallet: Wallet, conn: db.Connection
) -> None:
    untouched = wallet((LotKind.PURCHASE, 5))
    (lot_id,) = lot_ids(conn, untouched)
    conn.execute("DELETE FROM job_watermarks WHERE job = %s", (jobs.INVARIANTS_JOB,))
    conn.execute("UPDATE ledger_sweep SET after_wallet = NULL")  # the rolling pass's top
    first = jobs.check_invariants(full=False, sweep_seconds=60)
    # no watermark yet: nothing counts as changed, and the rolling pass (given time enough
    # here) reads what came before, rather than one full check that on a ledger already
    # large outlasts the job's timeout
    assert first.mode == "changes" and first.clean, first
    assert first.wallets_changed == 0
    everyone = conn.execute("SELECT count(*) AS n FROM wallets").fetchone()
    assert everyone is not None and first.wallets_checked >= everyone["n"]

    conn.execute(  # as if that run were CHANGE_MARGIN ago: what came before it is old news
        "UPDATE job_watermarks SET cutoff = clock_timestamp() + %s WHERE job = %s",
        (jobs.CHANGE_MARGIN, jobs.INVARIANTS_JOB),
    )
    changed = wallet((LotKind.PURCHASE, 3))
    ledger.spend(changed, 1, key="hourly", purpose="test")
    hourly = jobs.check_invariants(full=False, sweep_seconds=0)

    assert hourly.mode == "changes" and hourly.clean, hourly
    assert hourly.changed_since is not None
    assert hourly.wallets_changed == 1  # the one wallet with new entries, not the whole ledger
    assert hourly.sweep_wallets >= 1  # and one batch of the rolling pass

    # a row changed behind the ledger's back (no entry, so no change to see): the rolling pass
    # finds it before its pass completes
    conn.execute("UPDATE credit_lots SET remaining = 6, amount = 6 WHERE id = %s", (lot_id,))
    try:
        found: list[uuid.UUID] = []
        passes = 0
        while passes < 2 and not found:
            before = conn.execute("SELECT last_pass_completed_at AS t FROM ledger_sweep").fetchone()
            assert before is not None
            report = jobs.check_invariants(full=False, sweep_seconds=0)
            found = [m.wallet_id for m in report.wallet_mismatches]
            passes += report.sweep_pass_completed_at != before["t"]
        assert found == [untouched] and report.lot_mismatches == [lot_id]
    finally:
        conn.execute("UPDATE credit_lots SET remaining = 5, amount = 5 WHERE id = %s", (lot_id,))
    assert_invariants_hold()


def test_the_five_minute_debit_gap_check_reads_only_new_debits(
    wallet: Wallet, conn: db.Connection
) -> None:
    import psycopg

    from reussite.exams import service as exams
    from tests.test_query_budgets import full_scans

    exams.debit_gap(full=False)  # the watermark: now
    wallet_id = wallet((LotKind.PURCHASE, 2))
    with conn.transaction():  # a debit with no attempt, rolled back after the checks
        ledger.spend(wallet_id, 1, key="exam-start:orphan", purpose="exam", conn=conn)
        with db.counting(keep=True) as statements:
            gap = exams.debit_gap(full=False)
        assert gap == 1 and exams.debit_gap() == 1
        scans = full_scans(statements.kept or [])
        raise psycopg.Rollback()
    assert scans == []  # by the entries' time index, not a scan of the ledger
    assert exams.debit_gap() == 0


def test_ledger_entries_are_append_only(wallet: Wallet, conn: db.Connection) -> None:
    wallet_id = wallet((LotKind.PURCHASE, 5))

    with pytest.raises(Exception, match="append-only"):
        conn.execute("UPDATE ledger_entries SET amount = 50 WHERE wallet_id = %s", (wallet_id,))
    with pytest.raises(Exception, match="append-only"):
        conn.execute("DELETE FROM ledger_entries WHERE wallet_id = %s", (wallet_id,))
