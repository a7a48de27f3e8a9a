"""Checkout, provider verification and exactly-once fulfilment.

Our order exists before any provider is called. A provider's word changes an order only after
verification (Konnect: the payment read back from its API; Wise: a staff confirmation), and
under the order's row lock the event is recorded once (UNIQUE(provider, event id)) in the same
transaction as the credits or the subscription it pays for and the confirmation email it owes.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from reussite import db, outbox
from reussite.errors import (
    Conflict,
    DomainError,
    IdempotencyKeyReused,
    NotFound,
)
from reussite.identity.roles import Role
from reussite.ledger import service as ledger
from reussite.ledger.models import LotKind
from reussite.observability import logger
from reussite.payments import konnect, receipts
from reussite.payments.models import (
    BankTransfer,
    Order,
    OrderStatus,
    Product,
    ProductKind,
    Provider,
    ReconciliationReport,
    Settlement,
)
from reussite.settings import get_settings

if TYPE_CHECKING:  # the reconciliation job importing this module never loads pydantic
    from reussite.identity.models import User


class UnknownProduct(DomainError):
    code = "UNKNOWN_PRODUCT"
    status = 400
    title = "No such product on sale"


class OrderNotFound(NotFound):
    code = "ORDER_NOT_FOUND"
    title = "No such order"


class PaymentNotFound(NotFound):
    code = "PAYMENT_NOT_FOUND"
    title = "No payment has this reference"


class SubscriptionActive(Conflict):
    code = "SUBSCRIPTION_ACTIVE"
    title = "This student's plan is already paid for its next period"


class CheckoutInProgress(Conflict):
    code = "CHECKOUT_IN_PROGRESS"
    title = "This checkout is being opened with the provider; retry in a few seconds"


class PaymentAlreadyConfirmed(Conflict):
    code = "PAYMENT_ALREADY_CONFIRMED"
    title = "This order is already paid"


class TransferAlreadyUsed(Conflict):
    code = "TRANSFER_ALREADY_USED"
    title = "This transfer already paid another order"


class NotABankTransfer(Conflict):
    code = "NOT_A_BANK_TRANSFER"
    title = "This order is not paid by bank transfer"


class TransferAmountMismatch(DomainError):
    code = "TRANSFER_AMOUNT_MISMATCH"
    status = 422
    title = "The amount received does not match the order"


FINAL = (OrderStatus.PAID, OrderStatus.MISMATCH)
_BUYERS = (Role.ELEVE, Role.PARENT, Role.ASSISTANTE, Role.ADMIN)
# A Konnect order is payable once Konnect has answered; a bank transfer's at once.
_FIRST_STATUS = {Provider.KONNECT: OrderStatus.CREATED, Provider.WISE: OrderStatus.PENDING}
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: easy to copy to a bank
_COLUMNS = """id, reference, status, provider, product_code, student_id, amount_minor, currency,
    pay_url, provider_ref, expires_at, created_at, paid_at, buyer_id, transfer_id"""
_PRODUCT = "SELECT code, kind, name, price_minor, currency, credits, plan_code FROM products"
_STALE_CREATED = "1 hour"  # Konnect never answered a checkout: the order can no longer be paid
_LATE_COMPLETION = "1 day"  # expired orders are still polled this long after their lifespan


# -- catalogue ---------------------------------------------------------------------------------


def products() -> list[Product]:
    rows = (
        db.connection()
        .execute(f"{_PRODUCT} WHERE active ORDER BY kind, currency, price_minor")
        .fetchall()
    )
    return [_product(row) for row in rows]


def _product(row: dict[str, Any]) -> Product:
    return Product(**row | {"kind": ProductKind(row["kind"])})


# -- checkout ----------------------------------------------------------------------------------


def checkout(
    user: User, product_code: str, student_id: UUID | None, provider: Provider, key: str
) -> Order:
    """Create the order (once per Idempotency-Key), then open the payment with the provider.
    A replay returns the same order; a checkout whose provider call failed is retried."""
    from reussite.identity import service as identity

    student = identity.acting_for(
        user, student_id, _BUYERS, "Only a family (or staff for a family) buys credits"
    )
    row = db.read_one(f"{_PRODUCT} WHERE code = %s AND active", (product_code,))
    if row is None:
        raise UnknownProduct()
    product = _product(row)
    if provider is Provider.WISE:
        _bank_account()  # refuse now rather than hand out incomplete instructions
    order = _create_order(user, student, product, provider, key)
    if order["provider"] == Provider.KONNECT and order["status"] == OrderStatus.CREATED:
        order = _open_konnect_payment(order, product, user.email)
    return _order(order)


def _create_order(
    user: User, student: UUID, product: Product, provider: Provider, key: str
) -> dict[str, Any]:
    with db.transaction() as conn:
        existing = conn.execute(
            f"SELECT {_COLUMNS} FROM orders WHERE buyer_id = %s AND idempotency_key = %s",
            (user.id, key),
        ).fetchone()
        if existing is None:
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
            existing = _insert_order(conn, user, student, product, provider, key)
    same = (existing["product_code"], existing["student_id"], existing["provider"])
    if same != (product.code, student, provider):
        raise IdempotencyKeyReused()
    return existing


def _insert_order(
    conn: db.Connection,
    user: User,
    student: UUID,
    product: Product,
    provider: Provider,
    key: str,
) -> dict[str, Any]:
    for _ in range(5):  # a reference collision (40 random bits) is retried with a new one
        try:
            with conn.transaction():  # savepoint
                row = conn.execute(
                    f"""INSERT INTO orders (reference, buyer_id, student_id, product_code,
                               amount_minor, currency, provider, status, idempotency_key)
                        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                        ON CONFLICT (buyer_id, idempotency_key) DO NOTHING
                        RETURNING {_COLUMNS}""",
                    (
                        _new_reference(),
                        user.id,
                        student,
                        product.code,
                        product.price_minor,
                        product.currency,
                        provider,
                        _FIRST_STATUS[provider],
                        key,
                    ),
                ).fetchone()
        except psycopg.errors.UniqueViolation as exc:
            if exc.diag.constraint_name != "orders_reference_key":
                raise
            continue
        if row is None:  # a concurrent request with the same key won: theirs is the order
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM orders WHERE buyer_id = %s AND idempotency_key = %s",
                (user.id, key),
            ).fetchone()
        assert row is not None
        return row
    raise RuntimeError("could not draw a unique order reference")


def _new_reference() -> str:
    code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
    return f"RSS-{code[:4]}-{code[4:]}"


def _open_konnect_payment(
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
        current = _order_row(order["id"])
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
         RETURNING {_COLUMNS}""",
        (initiated.payment_ref, initiated.pay_url, lifespan, order["id"]),
    )
    return opened or _order_row(order["id"])


def webhook_url() -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/v1/webhooks/konnect"


def _bank_account() -> tuple[str, str, str | None]:
    settings = get_settings()
    if not settings.wise_account_holder or not settings.wise_iban:
        raise konnect.ProviderNotConfigured("Bank transfers are not configured")
    return settings.wise_account_holder, settings.wise_iban, settings.wise_bic


# -- reading -----------------------------------------------------------------------------------


def get_order(user: User, order_id: UUID) -> Order:
    """The buyer's order (or any, for staff); anybody else's is 404."""
    row = db.read_one(
        f"""SELECT {_COLUMNS}, (SELECT r.year || '-' || r.number FROM receipts r
                                 WHERE r.order_id = orders.id) AS receipt
              FROM orders WHERE id = %s""",
        (order_id,),
    )
    if row is None or (row["buyer_id"] != user.id and not user.is_staff):
        raise OrderNotFound()
    order = _order(row)
    if row["receipt"] is None:
        return order
    year, number = row["receipt"].split("-")
    return dataclasses.replace(
        order,
        receipt_number=receipts.format_number(int(year), int(number)),
        receipt_url=_receipt_url(order.id),
    )


def _order_row(order_id: UUID) -> dict[str, Any]:
    row = db.read_one(f"SELECT {_COLUMNS} FROM orders WHERE id = %s", (order_id,))
    if row is None:
        raise OrderNotFound()
    return row


def _order(row: dict[str, Any]) -> Order:
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


# -- Konnect: the webhook and reconciliation ---------------------------------------------------


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
        f"SELECT {_COLUMNS} FROM orders WHERE provider = 'KONNECT' AND provider_ref = %s",
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
        order = _lock(conn, row["id"])
        if order["status"] in FINAL:
            return Settlement(payment_ref, order["id"], OrderStatus(order["status"]))
        if disagreements:
            _record(conn, order, Provider.KONNECT, payment_ref, "MISMATCH", details)
            conn.execute("UPDATE orders SET status = 'MISMATCH' WHERE id = %s", (order["id"],))
        elif not _record(conn, order, Provider.KONNECT, payment_ref, "COMPLETED", details):
            raise Conflict("This payment was already processed")  # unreachable under the lock
        else:
            _fulfil(conn, order)
    if disagreements:
        _alert_mismatch(order, payment_ref, disagreements, details)
        return Settlement(payment_ref, order["id"], OrderStatus.MISMATCH)
    _after_payment(order)
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
        stale = conn.execute(
            f"""UPDATE orders SET status = 'EXPIRED'
                 WHERE provider = 'KONNECT' AND status = 'CREATED'
                   AND created_at < now() - interval '{_STALE_CREATED}'"""
        )
        expired += stale.rowcount
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
        return cur.rowcount


# -- Wise: staff confirmation ------------------------------------------------------------------


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
    with db.transaction() as conn:
        order = conn.execute(
            f"SELECT {_COLUMNS} FROM orders WHERE id = %s FOR UPDATE", (order_id,)
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
        if not _record(conn, order, Provider.WISE, transfer_id, "CONFIRMED", details):
            raise TransferAlreadyUsed()
        conn.execute("UPDATE orders SET transfer_id = %s WHERE id = %s", (transfer_id, order_id))
        _fulfil(conn, order, today)
        conn.execute(
            """INSERT INTO audit_log (actor_id, action, subject, details)
               VALUES (%s, 'payment.confirm_transfer', %s, %s)""",
            (staff.id, f"order:{order_id}", Jsonb(details | {"transfer_id": transfer_id})),
        )
    _after_payment(order)
    return _order(_order_row(order_id))


# -- fulfilment --------------------------------------------------------------------------------


def _lock(conn: db.Connection, order_id: UUID) -> dict[str, Any]:
    row = conn.execute(f"SELECT {_COLUMNS} FROM orders WHERE id = %s FOR UPDATE", (order_id,))
    found = row.fetchone()
    assert found is not None
    return found


def _record(
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


def _fulfil(conn: db.Connection, order: dict[str, Any], today: date | None = None) -> None:
    """Give what was paid for, in the caller's transaction: a pack's credits as a purchase lot,
    or one period of a plan (the first, with its credits at once, or the next one)."""
    from reussite.offers import service as offers

    product = _product(
        conn.execute(f"{_PRODUCT} WHERE code = %s", (order["product_code"],)).fetchone() or {}
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


def _owe_confirmation(
    conn: db.Connection, order: dict[str, Any], product: Product, receipt: str
) -> None:
    people = conn.execute(
        """SELECT u.email, s.display_name FROM users u, students s
            WHERE u.id = %s AND s.id = %s""",
        (order["buyer_id"], order["student_id"]),
    ).fetchone()
    if people is None or not people["email"]:
        return
    what = (
        f"{product.credits} credits were added to {people['display_name']}'s account."
        if product.kind is ProductKind.CREDIT_PACK
        else f"The {product.name} plan is paid for {people['display_name']} for one month, "
        f"with {product.credits} credits."
    )
    amount = format_amount(order["amount_minor"], order["currency"])
    body = (
        f"Hello,\n\nWe received your payment of {amount}"
        f" for {product.name} (order {order['reference']}).\n{what}\n"
        f"Your receipt {receipt}: {_receipt_url(order['id'])}\n\n"
        f"Thank you,\n{get_settings().issuer_name}\n"
    )
    subject = f"Payment received - {product.name} ({order['reference']})"
    outbox.write(conn, _email_key(order["id"]), [people["email"]], subject, body)


def _receipt_url(order_id: UUID) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/v1/payments/orders/{order_id}/receipt"


def receipt(user: User, order_id: UUID) -> receipts.Receipt:
    """The receipt of the buyer's paid order (any, for staff), with a short-lived PDF link."""
    order = get_order(user, order_id)
    return receipts.link({"id": order.id})


def _email_key(order_id: UUID) -> str:
    return f"order-paid:{order_id}"


def _after_payment(order: dict[str, Any]) -> None:
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(name="PaymentsFulfilled", unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension(name="provider", value=str(order["provider"]))
    outbox.flush(keys=[_email_key(order["id"])])


def _alert_mismatch(
    order: dict[str, Any], ref: str, fields: list[str], details: dict[str, Any]
) -> None:
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    logger.error(
        "payment disagrees with its order: not fulfilled",
        extra={"order_id": str(order["id"]), "payment_ref": ref, "fields": fields, **details},
    )
    with single_metric(name="PaymentMismatches", unit=MetricUnit.Count, value=1):
        pass


_DECIMALS = {"TND": 3, "EUR": 2, "USD": 2}


def format_amount(minor: int, currency: str) -> str:
    """1500 EUR cents -> '15.00 EUR'; 79000 millimes -> '79.000 TND'."""
    places = _DECIMALS.get(currency, 2)
    whole, part = divmod(minor, 10**places)
    return f"{whole}.{part:0{places}d} {currency}"


# -- renewals ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenewalReport:
    today: date
    opened: int  # renewal orders created by this run
    konnect_links: int  # Konnect payments opened for them (and for earlier runs' leftovers)
    konnect_failures: int  # left CREATED: the next run opens them
    emailed: int


# The next period's order for every live subscription whose paid time ends within the lead days
# and that nobody has paid ahead: at the price of the plan it renews to (a change applies), by
# the provider the family used last, billed to its payer. ON CONFLICT: a run that died midway,
# or two at once, never bill a period twice (and a reference that collides waits a run).
_OPEN_RENEWALS = """
    INSERT INTO orders (reference, buyer_id, student_id, product_code, amount_minor, currency,
                        provider, status, idempotency_key, renews_subscription_id, renews_from,
                        expires_at)
    SELECT new_order_reference(), s.created_by, s.student_id,
           pr.code, pr.price_minor, pr.currency, coalesce(s.provider, 'KONNECT'),
           CASE coalesce(s.provider, 'KONNECT') WHEN 'WISE' THEN 'PENDING' ELSE 'CREATED' END,
           'renewal:' || s.id || ':' || s.period_end, s.id, s.period_end,
           CASE WHEN coalesce(s.provider, 'KONNECT') = 'WISE'
                THEN (s.period_end + %(grace)s)::timestamptz END
      FROM subscriptions s
      JOIN products pr ON pr.plan_code = coalesce(s.next_plan_code, s.plan_code)
                      AND pr.kind = 'SUBSCRIPTION' AND pr.active
     WHERE s.status IN ('ACTIVE', 'PAST_DUE') AND NOT s.cancel_at_period_end
       AND s.created_by IS NOT NULL
       AND s.period_end - %(lead)s <= %(today)s
       AND NOT EXISTS (SELECT 1 FROM subscription_periods p
                        WHERE p.subscription_id = s.id AND p.starts_on >= s.period_end)
    ON CONFLICT DO NOTHING
    RETURNING id
"""


def open_renewals(today: date) -> RenewalReport:
    """Daily: open the renewal order of every subscription whose period ends within the lead
    days, open its Konnect payment (outside any transaction), and email the payer how to pay
    through the outbox. Paying it extends the period through the same exactly-once fulfilment
    as a first payment. Running it again opens nothing twice."""
    settings = get_settings()
    params = {
        "today": today,
        "lead": settings.renewal_lead_days,
        "grace": settings.subscription_grace_days,
    }
    opened = 0
    for _ in range(5):  # a reference that collided is drawn again; ends when nothing is due
        with db.transaction() as conn:
            created = len(conn.execute(_OPEN_RENEWALS, params).fetchall())
        opened += created
        if not created:
            break
    links = failures = 0
    lifespan = (settings.renewal_lead_days + settings.subscription_grace_days) * 24 * 60
    for order in (
        db.connection()
        .execute(
            f"""SELECT {_COLUMNS} FROM orders
             WHERE renews_subscription_id IS NOT NULL AND provider = 'KONNECT'
               AND status = 'CREATED' AND provider_ref IS NULL"""
        )
        .fetchall()
    ):
        product = _product(
            db.read_one(f"{_PRODUCT} WHERE code = %s", (order["product_code"],)) or {}
        )
        try:
            _open_konnect_payment(order, product, None, lifespan_minutes=lifespan)
            links += 1
        except Exception as exc:  # Konnect down: the order waits for the next run
            failures += 1
            logger.warning(
                "renewal payment not opened",
                extra={"order_id": str(order["id"]), "error": str(exc)},
            )
    emailed = _owe_renewal_emails()
    outbox.flush()
    return RenewalReport(
        today=today,
        opened=opened,
        konnect_links=links,
        konnect_failures=failures,
        emailed=emailed,
    )


def _owe_renewal_emails() -> int:
    """One email per payable renewal order (a Konnect link, or Wise instructions), once."""
    holder, iban, bic = (
        get_settings().wise_account_holder,
        get_settings().wise_iban,
        get_settings().wise_bic,
    )
    rows = (
        db.connection()
        .execute(
            """SELECT o.id, o.reference, o.provider, o.pay_url, o.amount_minor, o.currency,
                  o.renews_from, u.email, st.display_name, pr.name AS product
             FROM orders o
             JOIN users u ON u.id = o.buyer_id
             JOIN students st ON st.id = o.student_id
             JOIN products pr ON pr.code = o.product_code
            WHERE o.renews_subscription_id IS NOT NULL AND o.status = 'PENDING'
              AND coalesce(u.email, '') <> ''
              AND NOT EXISTS (SELECT 1 FROM outbox_emails e WHERE e.key = 'renewal:' || o.id)"""
        )
        .fetchall()
    )
    with db.transaction() as conn:
        for r in rows:
            amount = format_amount(r["amount_minor"], r["currency"])
            if r["provider"] == Provider.KONNECT:
                how = f"Pay online: {r['pay_url']}"
            else:
                how = (
                    f"Pay by bank transfer to {holder}, IBAN {iban}"
                    + (f", BIC {bic}" if bic else "")
                    + f", with the reference {r['reference']}."
                )
            body = (
                f"Hello,\n\nThe {r['product']} plan for {r['display_name']} renews on "
                f"{r['renews_from']:%d/%m/%Y}: {amount} (order {r['reference']}).\n{how}\n\n"
                f"Thank you,\n{get_settings().issuer_name}\n"
            )
            subject = f"Renewal - {r['product']} ({r['reference']})"
            outbox.write(conn, f"renewal:{r['id']}", [r["email"]], subject, body)
    return len(rows)
