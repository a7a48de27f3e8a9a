"""Bank transfers (Wise): staff confirm that the transfer arrived, once per transfer."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING
from uuid import UUID

from reussite import audit, db
from reussite.identity.access import require_staff
from reussite.payments.errors import (
    NotABankTransfer,
    OrderNotFound,
    PaymentAlreadyConfirmed,
    TransferAlreadyUsed,
    TransferAmountMismatch,
)
from reussite.payments.fulfilment import (
    after_payment,
    fulfil,
    record_event,
)
from reussite.payments.models import (
    Order,
    OrderStatus,
    Provider,
)
from reussite.payments.orders import (
    ORDER_COLUMNS,
    order_row,
    order_view,
)

if TYPE_CHECKING:  # the reconciliation job importing this module never loads pydantic
    from reussite.identity.models import User


def confirm_transfer(
    staff: User,
    order_id: UUID,
    transfer_id: str,
    amount_minor: int,
    currency: str,
    *,
    today: date | None = None,
) -> Order:
    """Staff saw the transfer arrive: fulfil the order once, audit-logged. The transfer id can
    pay one order only; a second confirmation is a conflict. `today` (default: the UTC date) is
    the day a plan's period is counted from."""
    require_staff(staff, "Staff confirm bank transfers")
    with db.transaction() as conn:
        order = conn.execute(
            f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = %s FOR UPDATE", (order_id,)
        ).fetchone()
        if order is None:
            raise OrderNotFound()
        if order["provider"] != Provider.WISE:
            raise NotABankTransfer()
        if order["status"] == OrderStatus.PAID:
            raise PaymentAlreadyConfirmed()
        if (amount_minor, currency) != (order["amount_minor"], order["currency"]):
            raise TransferAmountMismatch(
                f"The order is {order['amount_minor']} {order['currency']} (minor units)"
            )
        details = {"amount": amount_minor, "currency": currency, "confirmed_by": str(staff.id)}
        if not record_event(conn, order, Provider.WISE, transfer_id, "CONFIRMED", details):
            raise TransferAlreadyUsed()
        conn.execute("UPDATE orders SET transfer_id = %s WHERE id = %s", (transfer_id, order_id))
        fulfil(conn, order, today)
        audit.record(
            conn,
            staff.id,
            "payment.confirm_transfer",
            f"order:{order_id}",
            details | {"transfer_id": transfer_id},
        )
    after_payment(order)
    return order_view(order_row(order_id))
