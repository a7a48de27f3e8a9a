"""Renewals: the next period's order opened a few days before the period ends, by the provider
the family used last, emailed to the payer, and paid through the same exactly-once fulfilment."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from reussite import db
from reussite.identity import service as identity
from reussite.identity.models import Role
from reussite.ledger.jobs import check_invariants
from reussite.offers import service as offers
from reussite.payments import checkout as buying
from reussite.payments import orders as order_book
from reussite.payments import renewals as renewal_job
from reussite.payments import wise
from reussite.payments.errors import OrderNotFound
from reussite.payments.models import Provider
from reussite_local.aws import LocalAws
from reussite_local.konnect import FakeKonnect
from tests import helpers
from tests.test_allocations import balance, daily_job, family, state
from tests.test_payments import checkout, webhook

RENEWALS = helpers.FUNCTIONS["subscription_renewals"]


def renewals(day: date) -> dict[str, Any]:
    event = helpers.functions.sample_event(RENEWALS) | {"time": f"{day}T04:00:00Z"}
    return dict(helpers.functions.invoke(RENEWALS, event))


def renewal_orders(student_id: Any) -> list[dict[str, Any]]:
    return (
        db.connection()
        .execute(
            """SELECT id, reference, provider, status, product_code, amount_minor, renews_from,
                  pay_url, provider_ref
             FROM orders WHERE student_id = %s AND renews_subscription_id IS NOT NULL
            ORDER BY created_at""",
            (student_id,),
        )
        .fetchall()
    )


def test_a_bank_transfer_family_gets_its_renewal_order_three_days_ahead_and_pays_it(
    user: Any, principal: Any, local_aws: LocalAws
) -> None:
    _, parent_user, child = family(user, principal)
    helpers.pay_plan(parent_user, child, "HYBRIDE", today=date(2027, 1, 10))

    opened = []
    for day in (date(2027, 2, 6), date(2027, 2, 7), date(2027, 2, 8)):
        renewals(day)
        opened.append(len(renewal_orders(child)))

    assert opened == [0, 1, 1]  # three days ahead, once
    (order,) = renewal_orders(child)
    assert (order["provider"], order["status"], order["renews_from"]) == (
        "WISE",
        "PENDING",
        date(2027, 2, 10),
    )
    assert order["amount_minor"] == 179_000 and order["product_code"] == "HYBRIDE"
    assert helpers.mailed_to(local_aws, order["reference"]) == [[parent_user.email]]
    staff = identity.resolve_user(principal(Role.ASSISTANTE))
    wise.confirm_transfer(
        staff, order["id"], f"tr-{order['id']}", 179_000, "TND", today=date(2027, 2, 8)
    )
    daily_job(date(2027, 2, 10))

    assert state(child) == ("ACTIVE", date(2027, 2, 10), date(2027, 3, 10))
    assert balance(child) == 8
    renewals(date(2027, 2, 11))
    assert len(renewal_orders(child)) == 1  # paid through 10 March: nothing due yet
    renewals(date(2027, 3, 7))
    assert [o["renews_from"] for o in renewal_orders(child)] == [
        date(2027, 2, 10),
        date(2027, 3, 10),
    ]
    assert check_invariants().clean


def test_a_konnect_renewal_paid_and_notified_twenty_times_at_once_extends_once(
    principal: Any, konnect: FakeKonnect, local_aws: LocalAws
) -> None:
    parent = principal(Role.PARENT)
    child = identity.create_child(identity.resolve_user(parent), "Yanis").student_id
    _, first = checkout(parent, child, "IMMERSION")
    konnect.complete(first["payment_ref"])
    webhook(first["payment_ref"])
    _, start, end = state(child)  # type: ignore[misc]

    renewals(end - timedelta(days=3))
    (order,) = renewal_orders(child)
    assert order["status"] == "PENDING" and order["pay_url"].startswith(konnect.url)
    konnect.complete(order["provider_ref"])
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: webhook(order["provider_ref"]), range(20)))
    daily_job(end)

    assert {(status, body["status"]) for status, body in answers} == {(200, "PAID")}
    assert state(child) == ("ACTIVE", end, offers.add_months(start, 2))
    assert balance(child) == 16
    assert helpers.mailed_to(local_aws, order["pay_url"]) == [[f"{parent.email}"]]


def test_renewal_runs_at_once_open_one_order_and_a_plan_change_is_billed_at_its_price(
    user: Any, principal: Any
) -> None:
    _, parent_user, child = family(user, principal)
    helpers.pay_plan(parent_user, child, "IMMERSION", today=date(2027, 1, 10))
    (sub,) = offers.subscriptions_of(parent_user, child).items
    offers.change_plan(parent_user, sub.id, "ACCES_PLATEFORME")

    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = list(pool.map(lambda _: renewal_job.open_renewals(date(2027, 2, 8)), range(4)))

    assert not [r for r in runs if isinstance(r, Exception)]
    (order,) = renewal_orders(child)  # (other tests' subscriptions may be due as well)
    assert (order["product_code"], order["amount_minor"]) == ("ACCES_PLATEFORME", 79_000)


def test_a_cancelled_subscription_is_not_billed_again(user: Any, principal: Any) -> None:
    _, parent_user, child = family(user, principal)
    helpers.pay_plan(parent_user, child, "HYBRIDE", today=date(2027, 1, 10))
    (sub,) = offers.subscriptions_of(parent_user, child).items
    offers.cancel(parent_user, sub.id)

    renewal_job.open_renewals(date(2027, 2, 8))
    assert renewal_orders(child) == []


def test_receipts_are_numbered_without_gap_or_duplicate_under_twenty_concurrent_payments(
    principal: Any, local_aws: LocalAws
) -> None:
    staff = identity.resolve_user(principal(Role.ASSISTANTE))
    parent = identity.resolve_user(principal(Role.PARENT, "Leïla Ben Salah"))
    children = [identity.create_child(parent, f"Enfant {n}").student_id for n in range(20)]
    orders = [
        buying.checkout(parent, "PACK_5", child, Provider.WISE, f"receipt-{child}")
        for child in children
    ]
    before = db.read_one("SELECT coalesce(max(last), 0) AS n FROM receipt_counters")

    def confirm(order: Any) -> str:
        wise.confirm_transfer(staff, order.id, f"tr-{order.id}", 50_000, "TND")
        return order_book.receipt(parent, order.id).number

    with ThreadPoolExecutor(max_workers=20) as pool:
        numbers = list(pool.map(confirm, orders))

    year = date.today().year
    assert before is not None
    first = before["n"] + 1
    assert sorted(numbers) == [f"R-{year}-{n:06d}" for n in range(first, first + 20)]
    receipt = order_book.receipt(parent, orders[0].id)
    read = order_book.get_order(parent, orders[0].id)
    assert read.receipt_number == receipt.number
    assert read.receipt_url and read.receipt_url.endswith(f"/orders/{orders[0].id}/receipt")
    pdf = httpx.get(receipt.url.replace("https://", "http://"), timeout=10)
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert receipt.number in text and "50.000 TND" in text and "Leïla Ben Salah" in text
    assert receipt.number in helpers.emails(local_aws, orders[0].reference)[0]["body"]
    stranger = identity.resolve_user(principal(Role.PARENT))
    with pytest.raises(OrderNotFound):
        order_book.receipt(stranger, orders[0].id)


def test_a_renewal_email_that_fails_leaves_the_order_and_is_sent_by_the_next_run(
    user: Any, principal: Any, local_aws: LocalAws
) -> None:
    from reussite.settings import get_settings

    _, parent_user, child = family(user, principal)
    helpers.pay_plan(parent_user, child, "HYBRIDE", today=date(2027, 5, 4))
    ses = local_aws.client("ses")
    ses.delete_identity(Identity=get_settings().email_sender)  # SES refuses to send
    try:
        renewals(date(2027, 6, 1))
        (order,) = renewal_orders(child)
        assert helpers.mailed_to(local_aws, order["reference"]) == []
    finally:
        ses.verify_email_identity(EmailAddress=get_settings().email_sender)

    renewals(date(2027, 6, 2))

    assert renewal_orders(child) == [order]  # the same order, not a second one
    assert helpers.mailed_to(local_aws, order["reference"]) == [[parent_user.email]]
