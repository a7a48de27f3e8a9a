"""Exactly-once fulfilment: under the order's row lock a verified provider event is recorded
once (UNIQUE(provider, event id)) in the same transaction as the credits or the plan period it
pays for, the receipt number and the confirmation email it owes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from psycopg.types.json import Jsonb

from reussite import db, emails, outbox, webhooks
from reussite.ledger import service as ledger
from reussite.ledger.models import LotKind
from reussite.observability import logger
from reussite.payments import receipts
from reussite.payments.models import (
    Product,
    ProductKind,
    Provider,
)
from reussite.payments.orders import (
    ORDER_COLUMNS,
    PRODUCT_SELECT,
    product_of,
    receipt_url,
)

if TYPE_CHECKING:  # the reconciliation job importing this module never loads pydantic
    pass


def lock_order(conn: db.Connection, order_id: UUID) -> dict[str, Any]:
    row = conn.execute(f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = %s FOR UPDATE", (order_id,))
    found = row.fetchone()
    assert found is not None
    return found


def record_event(
    conn: db.Connection,
    order: dict[str, Any],
    provider: Provider,
    event_id: str,
    kind: str,
    details: dict[str, Any],
) -> bool:
    """Record a provider event once; False if that event was already recorded."""
    inserted = conn.execute(
        """INSERT INTO provider_events (provider, event_id, order_id, kind, details)
           VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (provider, event_id) DO NOTHING RETURNING id""",
        (provider, event_id, order["id"], kind, Jsonb(details)),
    ).fetchone()
    return inserted is not None


def fulfil(conn: db.Connection, order: dict[str, Any], today: date | None = None) -> None:
    """Give what was paid for, in the caller's transaction: a pack's credits as a purchase lot,
    or one period of a plan (the first, with its credits at once, or the next one)."""
    from reussite.offers import service as offers

    product = product_of(
        conn.execute(f"{PRODUCT_SELECT} WHERE code = %s", (order["product_code"],)).fetchone() or {}
    )
    lot_id = subscription_id = None
    placed = True  # an exam service's seat or enquiry (else its money is owed back)
    if product.kind is ProductKind.CREDIT_PACK:
        wallet = conn.execute(
            "SELECT id FROM wallets WHERE student_id = %s", (order["student_id"],)
        ).fetchone()
        assert wallet is not None
        granted = ledger.grant(
            wallet["id"],
            product.credits,
            LotKind.PURCHASE,
            key=f"order:{order['id']}",
            purpose=f"purchase {product.code} ({order['reference']})",
            actor_id=order["buyer_id"],
            conn=conn,
        )
        lot_id = granted.lot_id
    elif product.kind is ProductKind.EXAM_SERVICE:  # the seat or enquiry it held
        from reussite.exam_sessions import services

        placed = services.confirm(conn, order)
    elif product.kind is ProductKind.ARIA_ADDON:  # the subscription it extends, for a month
        subscription_id = offers.pay_aria_addon(
            conn, order, list(order["aria_subjects"]), today or datetime.now(UTC).date()
        )
    else:
        assert product.plan_code is not None
        subscription = offers.pay_period(
            conn, order["student_id"], product.plan_code, order, today or datetime.now(UTC).date()
        )
        subscription_id = subscription.id
    conn.execute(
        """UPDATE orders SET status = 'PAID', paid_at = now(), lot_id = %s, subscription_id = %s
            WHERE id = %s""",
        (lot_id, subscription_id, order["id"]),
    )
    receipt = receipts.take_number(conn, order["id"])
    _owe_confirmation(conn, order, product, receipt, placed)
    webhooks.emit(
        conn,
        "payment.succeeded",
        f"order:{order['id']}",
        {
            "order_id": order["id"],
            "reference": order["reference"],
            "student_id": order["student_id"],
            "product_code": product.code,
            "amount_minor": order["amount_minor"],
            "currency": order["currency"],
            "provider": order["provider"],
            "receipt": receipt,
            "lot_id": lot_id,
            "subscription_id": subscription_id,
        },
    )


def _owe_confirmation(
    conn: db.Connection, order: dict[str, Any], product: Product, receipt: str, placed: bool
) -> None:
    """The buyer's confirmation, in their language, with a signed link to the receipt (an exam
    service paid too late to be placed says its money will be refunded)."""
    from reussite import links

    student = conn.execute(
        "SELECT display_name FROM students WHERE id = %s", (order["student_id"],)
    ).fetchone()
    kind = {
        ProductKind.CREDIT_PACK: "pack",
        ProductKind.ARIA_ADDON: "addon",
        ProductKind.EXAM_SERVICE: "exam",
    }.get(product.kind, "plan")
    if not placed:
        kind = "exam_refund"
    token = links.sign(f"receipt:{order['id']}")
    emails.owe(
        conn,
        email_key(order["id"]),
        emails.person(conn, order["buyer_id"]),
        "payment_confirmed",
        {
            "kind": kind,
            "product": product.name,
            "reference": order["reference"],
            "student": (student or {}).get("display_name", ""),
            "credits": product.credits,
            "subjects": list(order["aria_subjects"] or []),
            "amount_minor": order["amount_minor"],
            "currency": order["currency"],
            "receipt": receipt,
            "receipt_link": f"{receipt_url(order['id'])}/pdf?token={token}",
        },
    )


def email_key(order_id: UUID) -> str:
    return f"order-paid:{order_id}"


def after_payment(order: dict[str, Any]) -> None:
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(name="PaymentsFulfilled", unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension(name="provider", value=str(order["provider"]))
    from reussite.offers.service import activation_key

    outbox.flush(keys=[email_key(order["id"]), activation_key(order["id"])])
    webhooks.dispatch_for("payment.succeeded", f"order:{order['id']}")
    webhooks.dispatch_for("subscription.renewed", f"order:{order['id']}")


def alert_mismatch(
    order: dict[str, Any], ref: str, fields: list[str], details: dict[str, Any]
) -> None:
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    logger.error(
        "payment disagrees with its order: not fulfilled",
        extra={"order_id": str(order["id"]), "payment_ref": ref, "fields": fields, **details},
    )
    with single_metric(name="PaymentMismatches", unit=MetricUnit.Count, value=1):
        pass
