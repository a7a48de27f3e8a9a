"""Renewals: the next period's order of every plan due soon, opened ahead and emailed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from reussite import db, emails, outbox
from reussite.observability import logger
from reussite.payments.checkout import (
    open_konnect_payment,
)
from reussite.payments.models import (
    Provider,
)
from reussite.payments.orders import (
    ORDER_COLUMNS,
    PRODUCT_SELECT,
    product_of,
)
from reussite.settings import get_settings

if TYPE_CHECKING:  # the reconciliation job importing this module never loads pydantic
    pass


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
            f"""SELECT {ORDER_COLUMNS} FROM orders
             WHERE renews_subscription_id IS NOT NULL AND provider = 'KONNECT'
               AND status = 'CREATED' AND provider_ref IS NULL"""
        )
        .fetchall()
    ):
        product = product_of(
            db.read_one(f"{PRODUCT_SELECT} WHERE code = %s", (order["product_code"],)) or {}
        )
        try:
            open_konnect_payment(order, product, None, lifespan_minutes=lifespan)
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
    """One email per payable renewal order (a Konnect link, or Wise instructions), once, in
    the payer's language."""
    settings = get_settings()
    bank = {"holder": settings.wise_account_holder, "iban": settings.wise_iban}
    bank["bic"] = settings.wise_bic or ""
    rows = (
        db.connection()
        .execute(
            """SELECT o.id, o.reference, o.provider, o.pay_url, o.amount_minor, o.currency,
                  o.renews_from, o.buyer_id, st.display_name, pr.name AS product
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
            emails.owe(
                conn,
                f"renewal:{r['id']}",
                emails.person(conn, r["buyer_id"]),
                "renewal_due",
                {
                    "product": r["product"],
                    "student": r["display_name"],
                    "renews_from": r["renews_from"],
                    "amount_minor": r["amount_minor"],
                    "currency": r["currency"],
                    "reference": r["reference"],
                    "pay_url": r["pay_url"] if r["provider"] == Provider.KONNECT else None,
                    "bank": bank,
                },
            )
    return len(rows)
