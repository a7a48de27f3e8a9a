"""Checkout: our order exists (once per Idempotency-Key) before any provider is called;
then the provider's payment is opened (Konnect) or the bank-transfer instructions given (Wise)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

import psycopg

from reussite import db
from reussite.codes import random_code
from reussite.errors import IdempotencyKeyReused
from reussite.identity.roles import Role
from reussite.payments import konnect
from reussite.payments.errors import (
    CheckoutInProgress,
    SubscriptionActive,
    UnknownProduct,
)
from reussite.payments.models import (
    Order,
    OrderStatus,
    Product,
    ProductKind,
    Provider,
)
from reussite.payments.orders import (
    ORDER_COLUMNS,
    PRODUCT_SELECT,
    order_row,
    order_view,
    product_of,
)
from reussite.settings import get_settings

if TYPE_CHECKING:  # the reconciliation job importing this module never loads pydantic
    from reussite.identity.models import User

_BUYERS = (Role.ELEVE, Role.PARENT, Role.ASSISTANTE, Role.ADMIN)
# A Konnect order is payable once Konnect has answered; a bank transfer's at once.
_FIRST_STATUS = {Provider.KONNECT: OrderStatus.CREATED, Provider.WISE: OrderStatus.PENDING}


def checkout(
    user: User,
    product_code: str,
    student_id: UUID | None,
    provider: Provider,
    key: str,
    aria_subjects: list[str] | None = None,
) -> Order:
    """Create the order (once per Idempotency-Key), then open the payment with the provider.
    A replay returns the same order; a checkout whose provider call failed is retried. A plan's
    ARIA subjects are chosen here (at most as many as the plan includes) and given to the
    subscription when the order is paid."""
    from reussite.identity import service as identity

    student = identity.acting_for(
        user, student_id, _BUYERS, "Only a family (or staff for a family) buys credits"
    )
    row = db.read_one(f"{PRODUCT_SELECT} WHERE code = %s AND active", (product_code,))
    if row is None:
        raise UnknownProduct()
    product = product_of(row)
    if product.kind is ProductKind.EXAM_SERVICE:
        raise UnknownProduct(
            "An exam service is bought by registering for a session or asking for an enquiry"
        )
    subjects = _aria_subjects(product, aria_subjects or [])
    if provider is Provider.WISE:
        bank_account()  # refuse now rather than hand out incomplete instructions
    order = _create_order(user, student, product, provider, key, subjects)
    if order["provider"] == Provider.KONNECT and order["status"] == OrderStatus.CREATED:
        order = open_konnect_payment(order, product, user.email)
    return order_view(order)


def _aria_subjects(product: Product, subjects: list[str]) -> list[str]:
    from reussite.offers.service import check_aria_addon, check_aria_subjects

    if product.kind is ProductKind.ARIA_ADDON:
        return check_aria_addon(subjects)
    if not subjects:
        return []
    if product.plan_code is None:
        raise UnknownProduct("ARIA subjects come with a plan, not a credit pack")
    return check_aria_subjects(product.plan_code, subjects)


def _create_order(
    user: User,
    student: UUID,
    product: Product,
    provider: Provider,
    key: str,
    subjects: list[str],
) -> dict[str, Any]:
    with db.transaction() as conn:
        existing = conn.execute(
            f"SELECT {ORDER_COLUMNS} FROM orders WHERE buyer_id = %s AND idempotency_key = %s",
            (user.id, key),
        ).fetchone()
        if existing is None:
            if product.kind is ProductKind.ARIA_ADDON:
                from reussite.offers.service import require_live_subscription

                require_live_subscription(conn, student)
            if product.kind is ProductKind.SUBSCRIPTION:
                # A plan order while subscribed pays the next period (a plan change takes
                # effect then); one period ahead is the most a family can pay.
                active = conn.execute(
                    """SELECT 1 FROM subscriptions s JOIN subscription_periods p
                           ON p.subscription_id = s.id AND p.starts_on >= s.period_end
                        WHERE s.student_id = %s AND s.status IN ('ACTIVE', 'PAST_DUE')""",
                    (student,),
                ).fetchone()
                if active:
                    raise SubscriptionActive()
            existing = insert_order(conn, user, student, product, provider, key, subjects)
    same = (
        existing["product_code"],
        existing["student_id"],
        existing["provider"],
        list(existing["aria_subjects"]),
    )
    if same != (product.code, student, provider, subjects):
        raise IdempotencyKeyReused()
    return existing


def insert_order(
    conn: db.Connection,
    user: User,
    student: UUID,
    product: Product,
    provider: Provider,
    key: str,
    aria_subjects: list[str] | None = None,
) -> dict[str, Any]:
    for _ in range(5):  # a reference collision (40 random bits) is retried with a new one
        try:
            with conn.transaction():  # savepoint
                row = conn.execute(
                    f"""INSERT INTO orders (reference, buyer_id, student_id, product_code,
                               amount_minor, currency, provider, status, idempotency_key,
                               aria_subjects)
                        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                        ON CONFLICT (buyer_id, idempotency_key) DO NOTHING
                        RETURNING {ORDER_COLUMNS}""",
                    (
                        new_reference(),
                        user.id,
                        student,
                        product.code,
                        product.price_minor,
                        product.currency,
                        provider,
                        _FIRST_STATUS[provider],
                        key,
                        aria_subjects or [],
                    ),
                ).fetchone()
        except psycopg.errors.UniqueViolation as exc:
            if exc.diag.constraint_name != "orders_reference_key":
                raise
            continue
        if row is None:  # a concurrent request with the same key won: theirs is the order
            row = conn.execute(
                f"SELECT {ORDER_COLUMNS} FROM orders WHERE buyer_id = %s AND idempotency_key = %s",
                (user.id, key),
            ).fetchone()
        assert row is not None
        return row
    raise RuntimeError("could not draw a unique order reference")


def new_reference() -> str:
    code = random_code(8)  # Crockford base32: easy to copy onto a bank transfer
    return f"RSS-{code[:4]}-{code[4:]}"


def open_konnect_payment(
    order: dict[str, Any],
    product: Product,
    email: str | None,
    *,
    lifespan_minutes: int | None = None,
) -> dict[str, Any]:
    """Ask Konnect for a payment of this order. One caller at a time per order, so a retried
    checkout never opens two payments; on failure the order stays CREATED and can be retried."""
    settings = get_settings()
    lifespan = lifespan_minutes or settings.konnect_lifespan_minutes
    hold = settings.konnect_timeout_seconds * 2 + 5
    claimed = db.read_one(
        """UPDATE orders SET provider_call_at = now()
            WHERE id = %s AND provider_ref IS NULL AND status = 'CREATED'
              AND (provider_call_at IS NULL
                   OR provider_call_at < now() - make_interval(secs => %s))
        RETURNING id""",
        (order["id"], hold),
    )
    if claimed is None:
        current = order_row(order["id"])
        if current["provider_ref"] is not None or current["status"] != OrderStatus.CREATED:
            return current
        raise CheckoutInProgress()
    try:
        initiated = konnect.client(settings).init_payment(
            amount=order["amount_minor"],
            token=order["currency"],
            order_id=str(order["id"]),
            webhook=webhook_url(),
            lifespan_minutes=lifespan,
            description=f"{product.name} - {order['reference']}",
            email=email,
        )
    except Exception:
        db.connection().execute(
            "UPDATE orders SET provider_call_at = NULL WHERE id = %s AND provider_ref IS NULL",
            (order["id"],),
        )
        raise
    opened = db.read_one(
        f"""UPDATE orders SET provider_ref = %s, pay_url = %s, status = 'PENDING',
                   expires_at = now() + make_interval(mins => %s)
             WHERE id = %s AND provider_ref IS NULL
         RETURNING {ORDER_COLUMNS}""",
        (initiated.payment_ref, initiated.pay_url, lifespan, order["id"]),
    )
    return opened or order_row(order["id"])


def webhook_url() -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/v1/webhooks/konnect"


def bank_account() -> tuple[str, str, str | None]:
    settings = get_settings()
    if not settings.wise_account_holder or not settings.wise_iban:
        raise konnect.ProviderNotConfigured("Bank transfers are not configured")
    return settings.wise_account_holder, settings.wise_iban, settings.wise_bic
