"""Subscriptions' monthly credits: granted once per subscription and period, whoever runs the
job and however often."""

from __future__ import annotations

from datetime import date
from typing import Any

from reussite import db
from reussite.identity.models import Role
from reussite.ledger.jobs import check_invariants
from reussite.offers import service as offers
from reussite.offers.models import Offer
from reussite_local import functions, template
from tests.test_ledger import in_threads

NOVEMBER, DECEMBER = date(2026, 11, 1), date(2026, 12, 1)


def subscribe(student_id: Any, plan: str = "HYBRIDE") -> Any:
    with db.transaction() as conn:
        return offers.activate(conn, student_id, plan, NOVEMBER, actor_id=None)


def allocation_lots(conn: db.Connection, subscription_id: Any) -> list[tuple[date, int]]:
    rows = conn.execute(
        """SELECT a.period, l.amount FROM subscription_allocations a
             JOIN credit_lots l ON l.id = a.lot_id
            WHERE a.subscription_id = %s ORDER BY a.period""",
        (subscription_id,),
    )
    return [(r["period"], r["amount"]) for r in rows]


def test_plans_are_data_with_prices_in_millimes(database_url: str) -> None:
    assert [(p.code, p.price_minor, p.currency, p.offer) for p in offers.plans()] == [
        ("ACCES_PLATEFORME", 79_000, "TND", Offer.PRO),
        ("HYBRIDE", 179_000, "TND", Offer.PRO),
        ("IMMERSION", 299_000, "TND", Offer.PRO),
    ]


def test_activation_grants_the_first_month_and_gives_the_plans_offer(
    user: Any, conn: db.Connection
) -> None:
    student_id = user(Role.ELEVE).student_id
    assert offers.offer_of(student_id) is Offer.FREE

    sub = subscribe(student_id, "IMMERSION")

    assert allocation_lots(conn, sub.id) == [(NOVEMBER, 20)]
    assert offers.offer_of(student_id) is Offer.PRO


def test_each_period_is_granted_once_however_often_the_job_runs(
    user: Any, conn: db.Connection
) -> None:
    sub = subscribe(user(Role.ELEVE).student_id)

    offers.allocate_month(NOVEMBER)
    results = in_threads(4, lambda _: offers.allocate_month(date(2026, 12, 15)))

    assert not [r for r in results if isinstance(r, Exception)]
    assert allocation_lots(conn, sub.id) == [(NOVEMBER, 10), (DECEMBER, 10)]
    assert check_invariants().clean


def test_a_cancelled_subscription_gets_nothing_more(user: Any, conn: db.Connection) -> None:
    sub = subscribe(user(Role.ELEVE).student_id)
    conn.execute("UPDATE subscriptions SET status = 'CANCELLED' WHERE id = %s", (sub.id,))

    offers.allocate_month(DECEMBER)

    assert allocation_lots(conn, sub.id) == [(NOVEMBER, 10)]


def test_the_scheduled_function_allocates_the_month_of_its_event(
    user: Any, conn: db.Connection
) -> None:
    sub = subscribe(user(Role.ELEVE).student_id)
    fn = next(f for f in template.load().functions() if f.name == "monthly_allocation")
    event = functions.sample_event(fn) | {"time": "2027-01-01T03:00:00Z"}

    report = functions.invoke(fn, event)

    assert report["period"] == "2027-01-01" and report["granted"] >= 1
    assert allocation_lots(conn, sub.id)[-1] == (date(2027, 1, 1), 10)
