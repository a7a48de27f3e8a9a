"""Products on sale and orders as their buyer reads them (with the receipt, once paid)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any
from uuid import UUID

from reussite import db
from reussite.payments import receipts
from reussite.payments.errors import (
    OrderNotFound,
)
from reussite.payments.models import (
    BankTransfer,
    Order,
    OrderStatus,
    Product,
    ProductKind,
    Provider,
)
from reussite.settings import get_settings

if TYPE_CHECKING:  # the reconciliation job importing this module never loads pydantic
    from reussite.history import Page
    from reussite.identity.models import User

ORDER_COLUMNS = """id, reference, status, provider, product_code, student_id, amount_minor,
    currency, pay_url, provider_ref, expires_at, created_at, paid_at, buyer_id, transfer_id,
    aria_subjects, registration_id, enquiry_id"""
PRODUCT_SELECT = "SELECT code, kind, name, price_minor, currency, credits, plan_code FROM products"


def products(cursor: str | None, limit: int) -> Page[Product]:
    """The active products by code, a page at a time."""
    from reussite.history import Page, by_code

    rows, following = by_code(
        "products",
        """SELECT t.* FROM (SELECT code AS id, code, kind, name, price_minor, currency, credits,
                                   plan_code FROM products WHERE active) t
            WHERE {keyset} ORDER BY t.id LIMIT %(limit)s""",
        {},
        cursor,
        limit,
    )
    items = [product_of({k: v for k, v in row.items() if k != "id"}) for row in rows]
    return Page[Product](items=items, next=following)


def product_of(row: dict[str, Any]) -> Product:
    return Product(**row | {"kind": ProductKind(row["kind"])})


def get_order(user: User, order_id: UUID) -> Order:
    """The buyer's order (or any, for staff); anybody else's is 404."""
    row = db.read_one(
        f"""SELECT {ORDER_COLUMNS}, (SELECT r.year || '-' || r.number FROM receipts r
                                 WHERE r.order_id = orders.id) AS receipt
              FROM orders WHERE id = %s""",
        (order_id,),
    )
    if row is None or (row["buyer_id"] != user.id and not user.is_staff):
        raise OrderNotFound()
    order = order_view(row)
    if row["receipt"] is None:
        return order
    year, number = row["receipt"].split("-")
    return dataclasses.replace(
        order,
        receipt_number=receipts.format_number(int(year), int(number)),
        receipt_url=receipt_url(order.id),
    )


def order_row(order_id: UUID) -> dict[str, Any]:
    row = db.read_one(f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = %s", (order_id,))
    if row is None:
        raise OrderNotFound()
    return row


def order_view(row: dict[str, Any]) -> Order:
    provider = Provider(row["provider"])
    transfer = None
    settings = get_settings()
    if provider is Provider.WISE and settings.wise_account_holder and settings.wise_iban:
        # (reading an order never fails because bank transfers were switched off since)
        holder, iban, bic = settings.wise_account_holder, settings.wise_iban, settings.wise_bic
        transfer = BankTransfer(
            account_holder=holder,
            iban=iban,
            bic=bic,
            reference=row["reference"],
            amount_minor=row["amount_minor"],
            currency=row["currency"],
        )
    return Order(
        id=row["id"],
        reference=row["reference"],
        status=OrderStatus(row["status"]),
        provider=provider,
        product_code=row["product_code"],
        student_id=row["student_id"],
        amount_minor=row["amount_minor"],
        currency=row["currency"],
        pay_url=row["pay_url"],
        payment_ref=row["provider_ref"],
        expires_at=row["expires_at"],
        bank_transfer=transfer,
        created_at=row["created_at"],
        paid_at=row["paid_at"],
    )


def receipt_url(order_id: UUID) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/v1/payments/orders/{order_id}/receipt"


def receipt(user: User, order_id: UUID) -> receipts.Receipt:
    """The receipt of the buyer's paid order (any, for staff), with a short-lived PDF link."""
    order = get_order(user, order_id)
    return receipts.link({"id": order.id})


_DECIMALS = {"TND": 3, "EUR": 2, "USD": 2}


def format_amount(minor: int, currency: str) -> str:
    """1500 EUR cents -> '15.00 EUR'; 79000 millimes -> '79.000 TND'."""
    places = _DECIMALS.get(currency, 2)
    whole, part = divmod(minor, 10**places)
    return f"{whole}.{part:0{places}d} {currency}"
