"""Payments against the fake Konnect gateway (which speaks its documented API) and moto: an
order exists before the provider is called, a provider's word counts only once verified, and
every payment is fulfilled exactly once."""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from reussite import db
from reussite.identity import service as identity
from reussite.identity.models import Principal, Role
from reussite.ledger import jobs
from reussite.offers import service as offers
from reussite_local.aws import LocalAws
from reussite_local.konnect import FakeKonnect
from tests import helpers


def api(
    method: str, path: str, who: Principal | None, body: Any = None, key: str | None = None
) -> tuple[int, Any]:
    return helpers.call("payments_api", method, path, who, body, key)


def webhook(ref: str, method: str = "GET") -> tuple[int, Any]:
    return helpers.call(
        "payment_webhook", method, "/v1/webhooks/konnect", query=f"payment_ref={ref}"
    )


def reconcile() -> dict[str, Any]:
    result: dict[str, Any] = helpers.functions.invoke(
        helpers.FUNCTIONS["payment_reconciliation"],
        helpers.functions.sample_event(helpers.FUNCTIONS["payment_reconciliation"]),
    )
    return result


@pytest.fixture
def family(database_url: str, principal: Any) -> Any:
    """A parent with one child, as (parent principal, child student id)."""
    parent = principal(Role.PARENT, "Samia Ben Salah")
    child = identity.create_child(identity.resolve_user(parent), "Yasmine").student_id
    return parent, child


def checkout(
    parent: Principal,
    child: uuid.UUID,
    product: str = "PACK_10",
    provider: str = "konnect",
    key: str | None = None,
) -> tuple[int, Any]:
    body = {"product_code": product, "student_id": str(child), "provider": provider}
    return api("POST", "/v1/payments/checkout", parent, body, key or str(uuid.uuid4()))


def lots(student_id: uuid.UUID) -> list[tuple[str, int]]:
    rows = (
        db.connection()
        .execute(
            """SELECT l.kind, l.amount FROM credit_lots l JOIN wallets w ON w.id = l.wallet_id
                WHERE w.student_id = %s ORDER BY l.id""",
            (student_id,),
        )
        .fetchall()
    )
    return [(r["kind"], r["amount"]) for r in rows]


def subscriptions_of(student_id: uuid.UUID) -> list[dict[str, Any]]:
    return (
        db.connection()
        .execute(
            "SELECT * FROM subscriptions WHERE student_id = %s ORDER BY created_at", (student_id,)
        )
        .fetchall()
    )


def paid_periods(subscription: dict[str, Any]) -> list[tuple[Any, Any]]:
    rows = db.connection().execute(
        """SELECT starts_on, ends_on FROM subscription_periods
            WHERE subscription_id = %s ORDER BY starts_on""",
        (subscription["id"],),
    )
    return [(r["starts_on"], r["ends_on"]) for r in rows]


def events_of(order_id: str) -> list[tuple[str, str]]:
    rows = (
        db.connection()
        .execute(
            "SELECT provider, kind FROM provider_events WHERE order_id = %s ORDER BY id",
            (order_id,),
        )
        .fetchall()
    )
    return [(r["provider"], r["kind"]) for r in rows]


# -- catalogue and checkout --------------------------------------------------------------------


def test_products_are_data_with_integer_minor_units(database_url: str) -> None:
    status, page = api("GET", "/v1/products", None)
    products = page["items"]

    assert status == 200
    plans = {p["code"]: (p["price_minor"], p["currency"]) for p in products if p["plan_code"]}
    assert plans == {
        "ACCES_PLATEFORME": (79000, "TND"),
        "HYBRIDE": (179000, "TND"),
        "IMMERSION": (299000, "TND"),
    }
    packs = [p for p in products if p["kind"] == "CREDIT_PACK"]
    assert packs and all(isinstance(p["price_minor"], int) and p["credits"] > 0 for p in packs)


def test_konnect_happy_path_grants_the_pack_once_and_emails_the_buyer(
    family: Any, konnect: FakeKonnect, local_aws: LocalAws
) -> None:
    parent, child = family
    key = str(uuid.uuid4())

    status, order = checkout(parent, child, "PACK_10", key=key)

    assert status == 201, order
    assert order["status"] == "PENDING" and order["amount_minor"] == 90000
    assert order["pay_url"].startswith(konnect.url) and order["payment_ref"]
    sent = konnect.payments[order["payment_ref"]]
    assert (sent["amount"], sent["token"], sent["orderId"]) == (90000, "TND", order["id"])
    assert sent["webhook"].endswith("/v1/webhooks/konnect") and sent["type"] == "immediate"
    assert checkout(parent, child, "PACK_10", key=key) == (201, order)  # a replay: same order
    assert lots(child) == []  # nothing before Konnect says it is paid

    konnect.complete(order["payment_ref"])
    status, settled = webhook(order["payment_ref"])

    assert status == 200 and settled["status"] == "PAID"
    assert lots(child) == [("PURCHASE", 10)]
    assert events_of(order["id"]) == [("KONNECT", "COMPLETED")]
    assert helpers.mailed_to(local_aws, order["reference"]) == [[parent.email]]
    assert api("GET", f"/v1/payments/orders/{order['id']}", parent)[1]["status"] == "PAID"
    assert webhook(order["payment_ref"], "POST") == (200, settled)  # again: nothing changes
    assert lots(child) == [("PURCHASE", 10)]
    assert jobs.check_invariants().clean


def test_a_subscription_is_activated_with_its_first_month(
    family: Any, konnect: FakeKonnect
) -> None:
    parent, child = family

    _, order = checkout(parent, child, "HYBRIDE")
    konnect.complete(order["payment_ref"])
    status, settled = webhook(order["payment_ref"])

    assert status == 200 and settled["status"] == "PAID"
    assert offers.offer_of(child) == "pro"
    assert lots(child) == [("MONTHLY_ALLOCATION", 4)]  # seed 1, scenario 1: HYBRIDE adds 4


def test_a_plan_paid_again_buys_the_next_period_and_no_further(
    family: Any, konnect: FakeKonnect
) -> None:
    parent, child = family
    for _ in range(2):
        _, order = checkout(parent, child, "HYBRIDE")
        konnect.complete(order["payment_ref"])
        webhook(order["payment_ref"])

    (sub,) = subscriptions_of(child)
    status, problem = checkout(parent, child, "HYBRIDE")

    assert status == 409 and problem["code"] == "SUBSCRIPTION_ACTIVE"
    assert lots(child) == [("MONTHLY_ALLOCATION", 4)]  # the next period's credits come with it
    assert paid_periods(sub) == [
        (sub["period_start"], sub["period_end"]),
        (sub["period_end"], offers.add_months(sub["period_start"], 2)),
    ]


def test_the_same_webhook_twenty_times_at_once_fulfils_once(
    family: Any, konnect: FakeKonnect
) -> None:
    parent, child = family
    _, order = checkout(parent, child, "PACK_20")
    konnect.complete(order["payment_ref"])

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: webhook(order["payment_ref"]), range(20)))

    assert {(status, body["status"]) for status, body in answers} == {(200, "PAID")}
    assert lots(child) == [("PURCHASE", 20)]
    assert events_of(order["id"]) == [("KONNECT", "COMPLETED")]
    assert jobs.check_invariants().clean


def test_forged_webhooks_fulfil_nothing(family: Any, konnect: FakeKonnect) -> None:
    parent, child = family
    _, order = checkout(parent, child)

    status, settled = webhook(order["payment_ref"])  # Konnect says: still pending
    unknown_status, problem = webhook("5f9a3c2e1b4d7a0099999999")

    assert status == 200 and settled["status"] == "PENDING"
    assert unknown_status == 404 and problem["code"] == "PAYMENT_NOT_FOUND"
    assert webhook("../../etc")[0] == 422
    assert lots(child) == [] and events_of(order["id"]) == []
    konnect.complete(order["payment_ref"])  # a pending answer was not remembered
    assert webhook(order["payment_ref"])[1]["status"] == "PAID"


def test_an_amount_mismatch_is_recorded_and_never_fulfilled(
    family: Any, konnect: FakeKonnect
) -> None:
    parent, child = family
    _, order = checkout(parent, child, "PACK_10")
    konnect.complete(order["payment_ref"], amount=1000)  # 1 TND paid for a 90 TND order

    status, settled = webhook(order["payment_ref"])

    assert status == 200 and settled["status"] == "MISMATCH"
    assert lots(child) == []
    assert events_of(order["id"]) == [("KONNECT", "MISMATCH")]
    assert webhook(order["payment_ref"])[1]["status"] == "MISMATCH"
    assert lots(child) == []


def test_provider_down_then_up(family: Any, konnect: FakeKonnect) -> None:
    parent, child = family
    key = str(uuid.uuid4())
    konnect.set_mode("failing")

    status, problem = checkout(parent, child, key=key)

    assert status == 502 and problem["code"] == "PROVIDER_UNAVAILABLE"
    konnect.set_mode("normal")
    status, order = checkout(parent, child, key=key)  # the client retries with its key
    assert status == 201 and order["status"] == "PENDING"
    assert db.read_one("SELECT count(*) AS n FROM orders WHERE idempotency_key = %s", (key,)) == {
        "n": 1
    }
    konnect.complete(order["payment_ref"])
    konnect.set_mode("failing")
    status, problem = webhook(order["payment_ref"])  # a 5xx, so Konnect calls again
    assert status == 502 and problem["code"] == "PROVIDER_UNAVAILABLE"
    assert lots(child) == []
    konnect.set_mode("normal")
    assert webhook(order["payment_ref"])[1]["status"] == "PAID"
    assert lots(child) == [("PURCHASE", 10)]


def test_a_slow_provider_times_out_cleanly(
    family: Any, konnect: FakeKonnect, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reussite.settings import get_settings

    parent, child = family
    monkeypatch.setenv("KONNECT_TIMEOUT_SECONDS", "1")
    get_settings.cache_clear()
    konnect.set_mode("slow", delay=2.5)
    try:
        status, problem = checkout(parent, child)
    finally:
        monkeypatch.delenv("KONNECT_TIMEOUT_SECONDS")
        get_settings.cache_clear()

    assert status == 502 and problem["code"] == "PROVIDER_UNAVAILABLE"
    assert lots(child) == []


def test_a_lost_webhook_is_caught_by_reconciliation(family: Any, konnect: FakeKonnect) -> None:
    parent, child = family
    _, paid = checkout(parent, child, "PACK_5")
    _, unpaid = checkout(parent, child, "PACK_5")
    konnect.complete(paid["payment_ref"])  # paid, but the webhook never arrives
    db.connection().execute(  # the unpaid one's lifespan has passed
        "UPDATE orders SET expires_at = now() - interval '1 minute' WHERE id = %s",
        (unpaid["id"],),
    )

    report = reconcile()

    assert report["paid"] >= 1 and report["expired"] >= 1
    assert lots(child) == [("PURCHASE", 5)]
    statuses = {o["id"]: o["status"] for o in (paid, unpaid)}
    for order_id in statuses:
        statuses[order_id] = api("GET", f"/v1/payments/orders/{order_id}", parent)[1]["status"]
    assert statuses == {paid["id"]: "PAID", unpaid["id"]: "EXPIRED"}
    konnect.complete(unpaid["payment_ref"])  # paid late after all: still honoured
    assert webhook(unpaid["payment_ref"])[1]["status"] == "PAID"
    assert lots(child) == [("PURCHASE", 5), ("PURCHASE", 5)]


def test_an_unknown_product_is_a_400(family: Any) -> None:
    parent, child = family

    status, problem = checkout(parent, child, "PACK_1000")

    assert (status, problem["code"]) == (400, "UNKNOWN_PRODUCT")


def test_orders_are_private_to_their_buyer(family: Any, principal: Any) -> None:
    parent, child = family
    _, order = checkout(parent, child)
    other = principal(Role.PARENT)

    assert api("GET", f"/v1/payments/orders/{order['id']}", other)[0] == 404
    status, problem = checkout(other, child)  # not their child
    assert status == 404 and problem["code"] == "STUDENT_NOT_FOUND"


# -- Wise --------------------------------------------------------------------------------------


def confirm(who: Principal, order: dict[str, Any], transfer: str, amount: int | None = None) -> Any:
    body = {
        "transfer_id": transfer,
        "amount_minor": amount or order["amount_minor"],
        "currency": order["currency"],
    }
    return api("POST", f"/v1/admin/payments/{order['id']}/confirm", who, body)


def test_wise_transfer_confirmed_once_by_staff_only(
    family: Any, principal: Any, local_aws: LocalAws
) -> None:
    parent, child = family
    status, order = checkout(parent, child, "PACK_10_EUR", provider="wise")

    assert status == 201 and order["status"] == "PENDING" and order["pay_url"] is None
    transfer = order["bank_transfer"]
    assert transfer["reference"] == order["reference"] and transfer["iban"]
    assert (transfer["amount_minor"], transfer["currency"]) == (3000, "EUR")

    transfer_id = f"wise-{uuid.uuid4().hex[:12]}"
    for role in (Role.ELEVE, Role.PARENT, Role.COACH):
        status, problem = confirm(principal(role), order, transfer_id)
        assert status == 403 and problem["code"] == "FORBIDDEN"
    assistante = principal(Role.ASSISTANTE)
    status, problem = confirm(assistante, order, transfer_id, amount=2000)
    assert status == 422 and problem["code"] == "TRANSFER_AMOUNT_MISMATCH"
    assert lots(child) == []

    status, paid = confirm(assistante, order, transfer_id)

    assert status == 200 and paid["status"] == "PAID"
    assert lots(child) == [("PURCHASE", 10)]
    status, problem = confirm(principal(Role.ADMIN), order, transfer_id)
    assert status == 409 and problem["code"] == "PAYMENT_ALREADY_CONFIRMED"
    _, second = checkout(parent, child, "PACK_10_EUR", provider="wise")
    status, problem = confirm(assistante, second, transfer_id)  # one transfer pays one order
    assert status == 409 and problem["code"] == "TRANSFER_ALREADY_USED"
    assert lots(child) == [("PURCHASE", 10)]
    audit = db.read_one(
        "SELECT actor_id, details FROM audit_log WHERE subject = %s", (f"order:{order['id']}",)
    )
    assert audit and audit["details"]["transfer_id"] == transfer_id
    assert audit["actor_id"] == identity.resolve_user(assistante).id
    assert helpers.mailed_to(local_aws, order["reference"]) == [[parent.email]]


def test_concurrent_confirmations_fulfil_once(family: Any, principal: Any) -> None:
    parent, child = family
    _, order = checkout(parent, child, "PACK_5", provider="wise")
    staff = [principal(Role.ASSISTANTE) for _ in range(8)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(lambda who: confirm(who, order, f"t-{order['id']}")[0], staff))

    assert statuses == [200] + [409] * 7
    assert lots(child) == [("PURCHASE", 5)]


def test_a_failed_email_is_sent_later_and_the_payment_stands(
    family: Any, konnect: FakeKonnect, local_aws: LocalAws
) -> None:
    parent, child = family
    _, order = checkout(parent, child, "PACK_5")
    konnect.complete(order["payment_ref"])
    ses = local_aws.client("ses")
    from reussite.settings import get_settings

    ses.delete_identity(Identity=get_settings().email_sender)  # SES now refuses to send
    try:
        assert webhook(order["payment_ref"])[1]["status"] == "PAID"
        assert lots(child) == [("PURCHASE", 5)]
        assert helpers.mailed_to(local_aws, order["reference"]) == []
    finally:
        ses.verify_email_identity(EmailAddress=get_settings().email_sender)

    reconcile()

    assert helpers.mailed_to(local_aws, order["reference"]) == [[parent.email]]


@pytest.mark.parametrize(
    ("language", "greeting", "subject"),
    [
        (None, "Nous avons bien reçu votre paiement de 50,000 TND", "Paiement reçu"),
        ("en", "We received your payment of 50.000 TND", "Payment received"),
        ("ar", "استلمنا دفعتكم بقيمة 50,000 TND", "تم استلام الدفع"),
    ],
)
def test_the_payment_email_is_in_the_buyers_language(
    database_url: str,
    principal: Any,
    local_aws: Any,
    language: str | None,
    greeting: str,
    subject: str,
) -> None:
    from reussite.identity import service as identity
    from reussite.payments import checkout as buying
    from reussite.payments import wise
    from reussite.payments.models import Provider

    buyer = identity.resolve_user(principal(Role.ELEVE))
    if language:
        db.connection().execute(
            "UPDATE users SET language = %s WHERE id = %s", (language, buyer.id)
        )
    staff = identity.resolve_user(principal(Role.ASSISTANTE))
    order = buying.checkout(buyer, "PACK_5", None, Provider.WISE, str(uuid.uuid4()))

    wise.confirm_transfer(staff, order.id, f"t-{uuid.uuid4()}", order.amount_minor, "TND")

    (mail,) = helpers.emails(local_aws, order.reference)
    assert greeting in mail["body"] and mail["subject"].startswith(subject)
    link = re.search(r"https?://\S+/receipt/pdf\?token=\S+", mail["body"])
    assert link is not None  # the receipt opens from the email, without signing in
    status, _, document = helpers.follow_signed_link("payments_api", link.group(0))
    assert status == 303 and document.startswith(b"%PDF")
    other = link.group(0).replace(str(order.id), str(uuid.uuid4()))
    assert helpers.follow_signed_link("payments_api", other)[0] == 403
