"""Konnect's word, verified: a webhook's payment is read back from Konnect's API before
anything is fulfilled, and reconciliation polls the payments whose webhook never came."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import UUID

from reussite import db, outbox
from reussite.errors import Conflict, DomainError
from reussite.observability import logger
from reussite.payments import konnect
from reussite.payments.errors import (
    PaymentNotFound,
)
from reussite.payments.fulfilment import (
    after_payment,
    alert_mismatch,
    fulfil,
    lock_order,
    record_event,
)
from reussite.payments.models import (
    OrderStatus,
    Provider,
    ReconciliationReport,
    Settlement,
)
from reussite.payments.orders import (
    ORDER_COLUMNS,
)

if TYPE_CHECKING:  # the reconciliation job importing this module never loads pydantic
    pass

FINAL = (OrderStatus.PAID, OrderStatus.MISMATCH)
_STALE_CREATED = "1 hour"  # Konnect never answered a checkout: the order can no longer be paid
_LATE_COMPLETION = "1 day"  # expired orders are still polled this long after their lifespan


def known_payment(payment_ref: str) -> None:
    """Raise PaymentNotFound unless one of our orders has this Konnect payment reference."""
    found = db.read_one(
        "SELECT 1 FROM orders WHERE provider = 'KONNECT' AND provider_ref = %s", (payment_ref,)
    )
    if found is None:
        raise PaymentNotFound()


def settle_konnect(payment_ref: str) -> Settlement:
    """Konnect says something happened to `payment_ref` (unsigned, so only the ref is used):
    read the payment back from Konnect and fulfil the order only if it is completed with our
    amount, currency and order id. A disagreement is recorded and alerted, never fulfilled."""
    row = db.read_one(
        f"SELECT {ORDER_COLUMNS} FROM orders WHERE provider = 'KONNECT' AND provider_ref = %s",
        (payment_ref,),
    )
    if row is None:
        raise PaymentNotFound()
    if row["status"] in FINAL:
        return Settlement(payment_ref, row["id"], OrderStatus(row["status"]))
    payment = konnect.client().payment(payment_ref)
    if payment is None or payment.status != "completed":
        return Settlement(payment_ref, row["id"], OrderStatus(row["status"]))
    disagreements = [
        field
        for field, ours, theirs in (
            ("orderId", str(row["id"]), payment.order_id),
            ("amount", row["amount_minor"], payment.amount),
            ("currency", row["currency"], payment.token),
        )
        if ours != theirs
    ]
    details = {"amount": payment.amount, "currency": payment.token, "orderId": payment.order_id}
    with db.transaction() as conn:
        order = lock_order(conn, row["id"])
        if order["status"] in FINAL:
            return Settlement(payment_ref, order["id"], OrderStatus(order["status"]))
        if disagreements:
            record_event(conn, order, Provider.KONNECT, payment_ref, "MISMATCH", details)
            conn.execute("UPDATE orders SET status = 'MISMATCH' WHERE id = %s", (order["id"],))
        elif not record_event(conn, order, Provider.KONNECT, payment_ref, "COMPLETED", details):
            raise Conflict("This payment was already processed")  # unreachable under the lock
        else:
            fulfil(conn, order)
    if disagreements:
        alert_mismatch(order, payment_ref, disagreements, details)
        return Settlement(payment_ref, order["id"], OrderStatus.MISMATCH)
    after_payment(order)
    return Settlement(payment_ref, order["id"], OrderStatus.PAID)


def reconcile(limit: int = 500) -> ReconciliationReport:
    """Poll Konnect for orders still open (lost webhooks), expire those whose payment's lifespan
    has passed, and send confirmation emails that could not be sent at the time."""
    open_orders = (
        db.connection()
        .execute(
            f"""SELECT provider_ref, expires_at FROM orders
                 WHERE provider = 'KONNECT' AND provider_ref IS NOT NULL
                   AND (status = 'PENDING'
                        OR (status = 'EXPIRED'
                            AND expires_at > now() - interval '{_LATE_COMPLETION}'))
                 ORDER BY expires_at LIMIT %s""",
            (limit,),
        )
        .fetchall()
    )
    paid = mismatched = expired = unreachable = 0
    for row in open_orders:
        try:
            settled = settle_konnect(row["provider_ref"])
        except konnect.ProviderUnavailable:
            unreachable += 1
            if unreachable >= 3:  # Konnect is down: stop here rather than time out; next run
                break
            continue
        except DomainError as exc:
            logger.warning(
                "order not reconciled", extra={"ref": row["provider_ref"], "error": exc.code}
            )
            continue
        paid += settled.status is OrderStatus.PAID
        mismatched += settled.status is OrderStatus.MISMATCH
        if settled.status is OrderStatus.PENDING and row["expires_at"] < datetime.now(UTC):
            expired += _expire(settled.order_id)
    with db.transaction() as conn:
        # Konnect never answered; a bank transfer holding a seat or an enquiry past its hold
        stale = conn.execute(
            f"""UPDATE orders SET status = 'EXPIRED'
                 WHERE (provider = 'KONNECT' AND status = 'CREATED'
                        AND created_at < now() - interval '{_STALE_CREATED}')
                    OR (provider = 'WISE' AND status = 'PENDING' AND expires_at < now()
                        AND (registration_id IS NOT NULL OR enquiry_id IS NOT NULL))
             RETURNING id"""
        ).fetchall()
        for order in stale:
            release_hold(conn, order["id"])
        expired += len(stale)
    return ReconciliationReport(
        checked=len(open_orders),
        paid=paid,
        mismatched=mismatched,
        expired=expired,
        unreachable=unreachable,
        emails_sent=outbox.flush(),
    )


def _expire(order_id: UUID) -> int:
    with db.transaction() as conn:
        cur = conn.execute(
            "UPDATE orders SET status = 'EXPIRED' WHERE id = %s AND status = 'PENDING'",
            (order_id,),
        )
        if cur.rowcount:
            release_hold(conn, order_id)
        return cur.rowcount


def release_hold(conn: db.Connection, order_id: UUID) -> None:
    """An expired order gives back the exam seat or enquiry it held, if any."""
    from reussite.exam_sessions.services import release

    release(conn, order_id)
