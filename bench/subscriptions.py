"""Subscription benchmark: the daily lifecycle pass and the allocation of paid periods over
SUBSCRIPTIONS subscriptions, set-based, beside a per-row loop (one transaction per subscription,
the same work through the per-subscription domain functions) over a SAMPLE of the same mix,
extrapolated. Targets (../shared/DESIGN.md, issue 15): < 20 s and >= 20x the loop.

The mix, on the day of the run: 40% enter a period paid in advance (and get its credits), 30%
end unpaid (PAST_DUE), 20% reach the end of their grace period (EXPIRED, with an email owed),
10% are mid-period and already granted (nothing to do).

Not measured here: the renewal job's email and Konnect steps, which are per order.

Run: make bench-subscriptions   (SUBSCRIPTIONS, SAMPLE to change the sizes)
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import date, timedelta

import psycopg
from _common import database

from reussite import db
from reussite.ledger import jobs
from reussite.offers import service as offers

SUBSCRIPTIONS = int(os.environ.get("SUBSCRIPTIONS", "100000"))
SAMPLE = int(os.environ.get("SAMPLE", "5000"))
TODAY = date(2027, 3, 10)


def seed(url: str, count: int) -> str:
    """`count` families' subscriptions in the mix above; returns their tag."""
    tag = uuid.uuid4().hex[:8]
    before, start = TODAY - timedelta(days=28), TODAY - timedelta(days=56)
    with psycopg.connect(url) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute(
            """INSERT INTO users (sub, email, role)
               SELECT 'sub-' || %s || '-' || g, 'p' || g || '@bench.test', 'PARENT'
                 FROM generate_series(1, %s) g""",
            (tag, count),
        )
        conn.execute(
            """INSERT INTO students (display_name, created_by)
               SELECT 'Élève ' || sub, id FROM users WHERE sub LIKE 'sub-' || %s || '-%%'""",
            (tag,),
        )
        conn.execute(
            """INSERT INTO wallets (student_id) SELECT s.id FROM students s
                 JOIN users u ON u.id = s.created_by WHERE u.sub LIKE 'sub-' || %s || '-%%'""",
            (tag,),
        )
        # the kind is the family's number mod 10: 0-3 paid ahead, 4-6 ending unpaid, 7-8 past
        # their grace period, 9 mid-period with nothing due
        family = """(SELECT s.id, s.created_by, split_part(u.sub, '-', 3)::int %% 10 AS kind
                       FROM students s JOIN users u ON u.id = s.created_by
                      WHERE u.sub LIKE 'sub-' || %(tag)s || '-%%')"""
        conn.execute(
            f"""INSERT INTO subscriptions (student_id, plan_code, status, started_at, created_by,
                                           anchor_on, period_index, period_start, period_end,
                                           provider)
                SELECT f.id, 'HYBRIDE', CASE WHEN kind IN (7, 8) THEN 'PAST_DUE' ELSE 'ACTIVE' END,
                       now(), f.created_by, %(start)s, 1,
                       CASE WHEN kind IN (7, 8) THEN %(start)s WHEN kind = 9 THEN %(today)s - 10
                            ELSE %(before)s END,
                       CASE WHEN kind IN (7, 8) THEN %(before)s - 7
                            WHEN kind = 9 THEN %(today)s + 18 ELSE %(today)s END,
                       'WISE'
                  FROM {family} f""",
            {"tag": tag, "start": start, "before": before, "today": TODAY},
        )
        conn.execute(  # the periods paid in advance, beginning today, each with its order
            f"""WITH ahead AS (
                    SELECT sub.id, sub.student_id, sub.created_by, gen_random_uuid() AS order_id
                      FROM subscriptions sub JOIN {family} f ON f.id = sub.student_id
                     WHERE f.kind < 4
                ), paid AS (
                    INSERT INTO orders (id, reference, buyer_id, student_id, product_code,
                                        amount_minor, currency, provider, status,
                                        idempotency_key, paid_at, subscription_id)
                    SELECT order_id, new_order_reference(), created_by, student_id, 'HYBRIDE',
                           179000, 'TND', 'WISE', 'PAID', 'bench-' || id, now(), id
                      FROM ahead
                    RETURNING id
                )
                INSERT INTO subscription_periods (subscription_id, starts_on, ends_on, plan_code,
                                                  order_id)
                SELECT a.id, %(today)s, %(today)s + 31, 'HYBRIDE', a.order_id
                  FROM ahead a JOIN paid ON paid.id = a.order_id""",
            {"tag": tag, "today": TODAY},
        )
        conn.execute("ANALYZE")
    return tag


def main() -> None:
    with database() as url:
        seed(url, SUBSCRIPTIONS)
        t0 = time.perf_counter()
        lifecycle = offers.run_lifecycle(TODAY)
        allocated = offers.allocate_due(TODAY)
        set_based = time.perf_counter() - t0
        print(f"set-based, {SUBSCRIPTIONS:,} subscriptions: {set_based:.1f} s")
        print(f"  {lifecycle}")
        print(f"  {allocated}")

        tag = seed(url, SAMPLE)
        ids = [
            r["id"]
            for r in db.connection().execute(
                """SELECT s.id FROM subscriptions s JOIN users u ON u.id = s.created_by
                    WHERE u.sub LIKE 'sub-' || %s || '-%%'""",
                (tag,),
            )
        ]
        t0 = time.perf_counter()
        for sub_id in ids:  # the same work, one subscription per transaction
            with db.transaction() as conn:
                conn.execute("SELECT 1 FROM subscriptions WHERE id = %s FOR UPDATE", (sub_id,))
                offers.advance_subscription(conn, sub_id, TODAY)
                conn.execute(
                    """UPDATE subscriptions SET status = CASE
                              WHEN status = 'PAST_DUE' AND period_end + 7 <= %(t)s THEN 'EXPIRED'
                              WHEN status = 'ACTIVE' AND period_end <= %(t)s THEN 'PAST_DUE'
                              ELSE status END
                        WHERE id = %(id)s""",
                    {"t": TODAY, "id": sub_id},
                )
                row = conn.execute(
                    "SELECT period_start FROM subscriptions WHERE id = %s", (sub_id,)
                ).fetchone()
                assert row is not None
                offers.allocate(conn, sub_id, row["period_start"])
        loop = time.perf_counter() - t0
        projected = loop * SUBSCRIPTIONS / len(ids)
        print(
            f"per-row loop, {len(ids):,} subscriptions: {loop:.1f} s"
            f" -> {projected:.0f} s projected for {SUBSCRIPTIONS:,}"
        )
        ratio = projected / set_based
        print(f"set-based is {ratio:.0f}x the loop (target >= 20x); {set_based:.1f} s (< 20 s)")
        report = jobs.check_invariants()
        print(f"ledger invariant check: {'clean' if report.clean else report}")


if __name__ == "__main__":
    main()
