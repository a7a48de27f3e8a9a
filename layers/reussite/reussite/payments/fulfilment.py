"""Exactly-once fulfilment: under the order's row lock a verified provider event is recorded
once (UNIQUE(provider, event id)) in the same transaction as the credits or the plan period it
pays for, the receipt number and the confirmation email it owes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from psycopg.types.json import Jsonb

from reussite import db, outbox
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
    format_amount,
    product_of,
    receipt_url,
)
from reussite.settings import get_settings

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
    _owe_confirmation(conn, order, product, receipt)


# The payment email in the buyer's language (French unless they chose English or Arabic).
_CONFIRMATION = {
    "fr": {
        "subject": "Paiement reçu - {product} ({reference})",
        "pack": "{credits} crédits ont été ajoutés au compte de {student}.",
        "addon": "ARIA accompagne désormais {student} en {subjects} pendant un mois.",
        "plan": "La formule {product} est payée pour {student} pour un mois, avec {credits}"
        " crédits.",
        "body": "Bonjour,\n\nNous avons bien reçu votre paiement de {amount} pour {product}"
        " (commande {reference}).\n{what}\nVotre reçu {receipt} : {url}\n\nMerci,\n{school}\n",
    },
    "en": {
        "subject": "Payment received - {product} ({reference})",
        "pack": "{credits} credits were added to {student}'s account.",
        "addon": "ARIA now tutors {student} in {subjects} for one month.",
        "plan": "The {product} plan is paid for {student} for one month, with {credits} credits.",
        "body": "Hello,\n\nWe received your payment of {amount} for {product}"
        " (order {reference}).\n{what}\nYour receipt {receipt}: {url}\n\nThank you,\n{school}\n",
    },
    "ar": {
        "subject": "تم استلام الدفع - {product} ({reference})",
        "pack": "أضيف {credits} رصيد إلى حساب {student}.",
        "addon": "يرافق ARIA الآن {student} في {subjects} لمدة شهر.",
        "plan": "تم دفع باقة {product} لـ {student} لمدة شهر، مع {credits} رصيد.",
        "body": "مرحبًا،\n\nاستلمنا دفعتكم بقيمة {amount} مقابل {product}"  # noqa: RUF001 (Arabic letters, meant)
        " (الطلب {reference}).\n{what}\nالإيصال {receipt}: {url}\n\nشكرًا،\n{school}\n",  # noqa: RUF001 (Arabic letters, meant)
    },
}


def _owe_confirmation(
    conn: db.Connection, order: dict[str, Any], product: Product, receipt: str
) -> None:
    people = conn.execute(
        """SELECT u.email, u.language, s.display_name FROM users u, students s
            WHERE u.id = %s AND s.id = %s""",
        (order["buyer_id"], order["student_id"]),
    ).fetchone()
    if people is None or not people["email"]:
        return
    text = _CONFIRMATION.get(people["language"], _CONFIRMATION["fr"])
    values = {
        "product": product.name,
        "reference": order["reference"],
        "student": people["display_name"],
        "credits": product.credits,
        "subjects": ", ".join(order["aria_subjects"]),
        "amount": format_amount(order["amount_minor"], order["currency"]),
        "receipt": receipt,
        "url": receipt_url(order["id"]),
        "school": get_settings().issuer_name,
    }
    if product.kind is ProductKind.CREDIT_PACK:
        what = text["pack"].format(**values)
    elif product.kind is ProductKind.ARIA_ADDON:
        what = text["addon"].format(**values)
    else:
        what = text["plan"].format(**values)
    body = text["body"].format(**values, what=what)
    subject = text["subject"].format(**values)
    outbox.write(conn, email_key(order["id"]), [people["email"]], subject, body)


def email_key(order_id: UUID) -> str:
    return f"order-paid:{order_id}"


def after_payment(order: dict[str, Any]) -> None:
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(name="PaymentsFulfilled", unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension(name="provider", value=str(order["provider"]))
    outbox.flush(keys=[email_key(order["id"])])


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
