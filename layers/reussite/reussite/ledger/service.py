"""Grant, spend and refund: each one short transaction under the wallet's row lock.

Lock order is always wallet, then its lots, so spends, grants, refunds and the expiry job never
deadlock one another. A spend draws from live lots only (expires_at after the moment it runs):
soonest expiry day first, then promotional before paid, then oldest.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from reussite import db
from reussite.errors import (
    IdempotencyKeyReused,
    InsufficientCredits,
    SpendNotFound,
    StudentNotFound,
)
from reussite.ledger.models import Allocation, Grant, LotKind, Refund, Spend
from reussite.settings import get_settings

# Two statements on purpose: under READ COMMITTED the key lookup must take a snapshot after the
# lock is granted, or a waiter would miss the entry its predecessor just committed.
_LOCK_WALLET = "SELECT id FROM wallets WHERE id = %s FOR UPDATE"
_ENTRY_BY_KEY = """
    SELECT id AS entry_id, kind, amount, purpose, lot_id, refund_of, balance_after
      FROM ledger_entries WHERE wallet_id = %s AND idempotency_key = %s
"""
_ENTRY_COLUMNS = ("entry_id", "kind", "amount", "purpose", "lot_id", "refund_of", "balance_after")
_NO_ENTRY = dict.fromkeys(_ENTRY_COLUMNS[:-1])

_LIVE_LOTS = """
    SELECT id, remaining FROM credit_lots
     WHERE wallet_id = %s AND remaining > 0 AND expires_at > clock_timestamp()
     ORDER BY (expires_at AT TIME ZONE 'UTC')::date, promotional DESC, granted_at, id
"""

_LIVE_BALANCE = """
    SELECT coalesce(sum(remaining), 0)::int AS live FROM credit_lots
     WHERE wallet_id = %s AND remaining > 0 AND expires_at > clock_timestamp()
"""

_WRITE_SPEND = """
    WITH entry AS (
        INSERT INTO ledger_entries
               (wallet_id, kind, amount, idempotency_key, purpose, actor_id, balance_after)
        VALUES (%(wallet)s, 'SPEND', -%(credits)s, %(key)s, %(purpose)s, %(actor)s, %(after)s)
        RETURNING id
    ), drawn AS (
        SELECT * FROM unnest(%(lots)s::bigint[], %(amounts)s::int[]) AS d (lot_id, amount)
    ), allocations AS (
        INSERT INTO entry_allocations (entry_id, lot_id, amount)
        SELECT entry.id, drawn.lot_id, drawn.amount FROM entry, drawn
    ), lots AS (
        UPDATE credit_lots l SET remaining = l.remaining - drawn.amount
          FROM drawn WHERE l.id = drawn.lot_id
    ), wallet AS (
        UPDATE wallets SET balance = balance - %(credits)s WHERE id = %(wallet)s
    )
    SELECT id FROM entry
"""


def wallet_of(student_id: UUID) -> UUID:
    row = db.read_one("SELECT id FROM wallets WHERE student_id = %s", (student_id,))
    if row is None:
        raise StudentNotFound()
    return UUID(str(row["id"]))


def grant(
    wallet_id: UUID,
    credits: int,
    kind: LotKind,
    key: str,
    purpose: str,
    *,
    actor_id: UUID | None = None,
    conn: db.Connection | None = None,
) -> Grant:
    """Add a lot of `credits` valid for the configured months. Pass `conn` to grant inside the
    caller's transaction (a payment's fulfilment, a monthly allocation)."""
    if credits <= 0:
        raise ValueError("a grant adds at least one credit")
    with db.transaction(conn) as tx:
        return _grant(tx, wallet_id, credits, kind, key, purpose, actor_id)


def _grant(
    conn: db.Connection,
    wallet_id: UUID,
    credits: int,
    kind: LotKind,
    key: str,
    purpose: str,
    actor_id: UUID | None,
) -> Grant:
    first = lock(conn, wallet_id, key)
    if first["entry_id"] is not None:
        lot = conn.execute(
            "SELECT kind, expires_at FROM credit_lots WHERE id = %s", (first["lot_id"],)
        ).fetchone()
        recorded = (first["kind"], first["amount"], first["purpose"], lot and lot["kind"])
        if lot is None or recorded != ("GRANT", credits, purpose, kind):
            raise IdempotencyKeyReused()
        return Grant(
            entry_id=first["entry_id"],
            lot_id=first["lot_id"],
            wallet_id=wallet_id,
            kind=kind,
            credits=credits,
            expires_at=lot["expires_at"],
            balance=first["balance_after"],
            replayed=True,
        )
    live = _one(conn, _LIVE_BALANCE, (wallet_id,))["live"]
    row = _one(
        conn,
        """WITH lot AS (
               INSERT INTO credit_lots (wallet_id, kind, amount, remaining, expires_at)
               VALUES (%(wallet)s, %(kind)s, %(credits)s, %(credits)s,
                       now() + make_interval(months => %(months)s))
               RETURNING id, expires_at
           ), entry AS (
               INSERT INTO ledger_entries (wallet_id, kind, amount, lot_id, idempotency_key,
                                           purpose, actor_id, balance_after)
               SELECT %(wallet)s, 'GRANT', %(credits)s, lot.id, %(key)s, %(purpose)s, %(actor)s,
                      %(after)s
                 FROM lot
               RETURNING id
           ), wallet AS (
               UPDATE wallets SET balance = balance + %(credits)s WHERE id = %(wallet)s
           )
           SELECT entry.id AS entry_id, lot.id AS lot_id, lot.expires_at FROM entry, lot""",
        {
            "wallet": wallet_id,
            "kind": kind.value,
            "credits": credits,
            "key": key,
            "purpose": purpose,
            "actor": actor_id,
            "after": live + credits,
            "months": get_settings().credit_validity_months,
        },
    )
    return Grant(
        entry_id=row["entry_id"],
        lot_id=row["lot_id"],
        wallet_id=wallet_id,
        kind=kind,
        credits=credits,
        expires_at=row["expires_at"],
        balance=live + credits,
    )


def spend(
    wallet_id: UUID,
    credits: int,
    key: str,
    purpose: str,
    *,
    actor_id: UUID | None = None,
    conn: db.Connection | None = None,
) -> Spend:
    """Take `credits` from the wallet's live lots, or refuse with nothing written.

    Pass `conn` to spend inside the caller's transaction (an exam start): if the caller's
    transaction rolls back, the debit goes with it.
    """
    if credits <= 0:
        raise ValueError("a spend takes at least one credit")
    with db.transaction(conn) as tx:
        return _spend(tx, wallet_id, credits, key, purpose, actor_id)


def _spend(
    conn: db.Connection,
    wallet_id: UUID,
    credits: int,
    key: str,
    purpose: str,
    actor_id: UUID | None,
) -> Spend:
    first = lock(conn, wallet_id, key)
    if first["entry_id"] is not None:
        if (first["kind"], first["amount"], first["purpose"]) != ("SPEND", -credits, purpose):
            raise IdempotencyKeyReused()
        return _replayed_spend(conn, wallet_id, credits, purpose, first)
    return spend_locked(conn, wallet_id, credits, key, purpose, actor_id)


def _replayed_spend(
    conn: db.Connection, wallet_id: UUID, credits: int, purpose: str, first: dict[str, Any]
) -> Spend:
    return Spend(
        entry_id=first["entry_id"],
        wallet_id=wallet_id,
        credits=credits,
        purpose=purpose,
        allocations=_allocations(conn, first["entry_id"]),
        balance=first["balance_after"],
        replayed=True,
    )


def spend_locked(
    conn: db.Connection,
    wallet_id: UUID,
    credits: int,
    key: str,
    purpose: str,
    actor_id: UUID | None,
) -> Spend:
    """The spend itself, for a caller that already holds the wallet's lock (`lock`) and found
    no entry under `key`."""
    lots = db.tuples(conn).execute(_LIVE_LOTS, (wallet_id,)).fetchall()  # (id, remaining)
    live = sum(remaining for _, remaining in lots)
    if live < credits:
        raise InsufficientCredits(
            f"This needs {credits} credits; {live} are available", required=credits, balance=live
        )
    allocations, needed = [], credits
    for lot_id, remaining in lots:
        take = min(needed, remaining)
        allocations.append(Allocation(lot_id=lot_id, amount=take))
        needed -= take
        if needed == 0:
            break
    row = (
        db.tuples(conn)
        .execute(
            _WRITE_SPEND,
            {
                "wallet": wallet_id,
                "credits": credits,
                "key": key,
                "purpose": purpose,
                "actor": actor_id,
                "after": live - credits,
                "lots": [a.lot_id for a in allocations],
                "amounts": [a.amount for a in allocations],
            },
        )
        .fetchone()
    )
    assert row is not None
    return Spend(
        entry_id=row[0],
        wallet_id=wallet_id,
        credits=credits,
        purpose=purpose,
        allocations=sorted(allocations, key=lambda a: a.lot_id),
        balance=live - credits,
    )


def refund(
    wallet_id: UUID,
    spend_key: str,
    purpose: str,
    *,
    actor_id: UUID | None = None,
    conn: db.Connection | None = None,
) -> Refund:
    """Give a spend's credits back to the lots they came from, with their original expiry.

    Credits drawn from a lot that has expired since are not returned (they would have expired
    anyway); the result says how many. When none come back, no entry is written (entry_id is
    None; a repeat finds the same expired lots). A spend is refunded once; a repeat returns the
    first.
    """
    with db.transaction(conn) as tx:
        return _refund(tx, wallet_id, spend_key, purpose, actor_id)


def _refund(
    conn: db.Connection, wallet_id: UUID, spend_key: str, purpose: str, actor_id: UUID | None
) -> Refund:
    spent = lock(conn, wallet_id, spend_key)
    if spent["entry_id"] is None or spent["kind"] != "SPEND":
        raise SpendNotFound()
    previous = conn.execute(
        # `kind` lets the partial unique index answer (without it: a scan of the whole ledger)
        "SELECT id, amount, balance_after FROM ledger_entries WHERE refund_of = %s"
        " AND kind = 'REFUND'",
        (spent["entry_id"],),
    ).fetchone()
    if previous is not None:
        return Refund(
            entry_id=previous["id"],
            spend_entry_id=spent["entry_id"],
            credits=previous["amount"],
            forfeited=-spent["amount"] - previous["amount"],
            balance=previous["balance_after"],
            replayed=True,
        )
    drawn = conn.execute(
        """SELECT a.lot_id, a.amount, l.expires_at > clock_timestamp() AS live
             FROM entry_allocations a JOIN credit_lots l ON l.id = a.lot_id
            WHERE a.entry_id = %s ORDER BY a.lot_id""",
        (spent["entry_id"],),
    ).fetchall()
    back = [d for d in drawn if d["live"]]
    credits = sum(d["amount"] for d in back)
    live = _one(conn, _LIVE_BALANCE, (wallet_id,))["live"]
    if credits == 0:  # every lot it drew from has expired: nothing to give back, no entry
        return Refund(
            entry_id=None,
            spend_entry_id=spent["entry_id"],
            credits=0,
            forfeited=-spent["amount"],
            balance=live,
        )
    row = _one(
        conn,
        """WITH entry AS (
               INSERT INTO ledger_entries (wallet_id, kind, amount, refund_of, idempotency_key,
                                           purpose, actor_id, balance_after)
               VALUES (%(wallet)s, 'REFUND', %(credits)s, %(spend)s, %(key)s, %(purpose)s,
                       %(actor)s, %(after)s)
               RETURNING id
           ), back AS (
               SELECT * FROM unnest(%(lots)s::bigint[], %(amounts)s::int[]) AS b (lot_id, amount)
           ), allocations AS (
               INSERT INTO entry_allocations (entry_id, lot_id, amount)
               SELECT entry.id, back.lot_id, back.amount FROM entry, back
           ), lots AS (
               UPDATE credit_lots l SET remaining = l.remaining + back.amount
                 FROM back WHERE l.id = back.lot_id
           ), wallet AS (
               UPDATE wallets SET balance = balance + %(credits)s WHERE id = %(wallet)s
           )
           SELECT id FROM entry""",
        {
            "wallet": wallet_id,
            "credits": credits,
            "spend": spent["entry_id"],
            "key": f"refund:{spend_key}",
            "purpose": purpose,
            "actor": actor_id,
            "after": live + credits,
            "lots": [d["lot_id"] for d in back],
            "amounts": [d["amount"] for d in back],
        },
    )
    return Refund(
        entry_id=row["id"],
        spend_entry_id=spent["entry_id"],
        credits=credits,
        forfeited=-spent["amount"] - credits,
        balance=live + credits,
    )


def lock(conn: db.Connection, wallet_id: UUID, key: str) -> dict[str, Any]:
    """Lock the wallet; return the entry already recorded under `key` (all None if none).

    Callers that must decide something under the wallet's lock before spending (an exam start
    checking for an open attempt) call this first, then spend with the same `conn`."""
    if db.tuples(conn).execute(_LOCK_WALLET, (wallet_id,)).fetchone() is None:
        raise StudentNotFound("No wallet for this student")
    entry = db.tuples(conn).execute(_ENTRY_BY_KEY, (wallet_id, key)).fetchone()
    return _NO_ENTRY if entry is None else dict(zip(_ENTRY_COLUMNS, entry, strict=True))


def _allocations(conn: db.Connection, entry_id: int) -> list[Allocation]:
    rows = conn.execute(
        "SELECT lot_id, amount FROM entry_allocations WHERE entry_id = %s ORDER BY lot_id",
        (entry_id,),
    ).fetchall()
    return [Allocation(**row) for row in rows]


def _one(conn: db.Connection, query: str, params: Any) -> dict[str, Any]:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row
