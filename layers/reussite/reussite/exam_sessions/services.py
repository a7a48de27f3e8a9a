"""Exam services as products: each service of a qualification (a makeup, a resit, remote
invigilation, a standalone sitting, an enquiry) has a product priced in money, bought through
the normal checkout, and a school may accept credits for it instead (a setting per service).

A paid-in-money seat or enquiry is held while its order can be paid: confirmed by the order's
fulfilment (exactly once, under the order's lock, like a pack's credits), released when the
order expires. A payment that arrives after its hold was released takes the seat again if one
is free; if not, the family is owed the money back (a refund for staff to make)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from reussite import audit, db
from reussite.errors import Conflict, DomainError, NotFound
from reussite.exam_sessions.rules import Price
from reussite.observability import logger

if TYPE_CHECKING:
    from reussite.identity.models import User
    from reussite.payments.models import Provider

Service = Literal[
    "STANDALONE", "MAKEUP", "RESIT", "REMOTE", "ENQUIRY_THEORY", "ENQUIRY_TASTING", "ENQUIRY_BOTH"
]
PayWith = Literal["KONNECT", "WISE", "CREDITS"]


class ServiceNotOffered(NotFound):
    code = "SERVICE_NOT_OFFERED"
    title = "This qualification does not offer this service"


class CreditsNotAccepted(Conflict):
    code = "CREDITS_NOT_ACCEPTED"
    title = "This service is paid for in money, not credits"


class PaymentRequired(DomainError):
    code = "PAYMENT_METHOD_REQUIRED"
    status = 422
    title = "Say how this service is paid for: pay_with (konnect, wise or credits)"


class RefundNotFound(NotFound):
    code = "REFUND_NOT_FOUND"
    title = "No such refund"


class RefundAlreadyMade(Conflict):
    code = "REFUND_ALREADY_MADE"
    title = "This refund was already recorded as made"


_PRICE = """SELECT e.qualification_code, e.service, e.product_code, p.name, p.price_minor,
                   p.currency, e.credits, e.refund_upheld_as
              FROM exam_services e JOIN products p ON p.code = e.product_code"""


def price(conn: db.Connection, qualification_code: str, service: str) -> Price:
    row = conn.execute(
        f"{_PRICE} WHERE e.qualification_code = %s AND e.service = %s",
        (qualification_code, service),
    ).fetchone()
    if row is None:
        raise ServiceNotOffered()
    return Price(**row)


def prices(conn: db.Connection, qualification_code: str) -> list[Price]:
    rows = conn.execute(
        f"{_PRICE} WHERE e.qualification_code = %s ORDER BY e.service", (qualification_code,)
    ).fetchall()
    return [Price(**r) for r in rows]


def set_service(
    staff: User,
    qualification_code: str,
    service: str,
    price_minor: int,
    currency: str,
    credits: int | None,
    refund_upheld_as: str,
) -> Price:
    """Staff price a service (money, and credits if accepted); audited. Orders already made
    keep the amount they were made for."""
    from reussite.identity.access import require_staff

    require_staff(staff, "Staff price exam services")
    with db.transaction() as conn:
        current = price(conn, qualification_code, service)
        if refund_upheld_as == "CREDITS" and credits is None:
            raise CreditsNotAccepted("Refunding in credits needs a credit price")
        conn.execute(
            "UPDATE products SET price_minor = %s, currency = %s WHERE code = %s",
            (price_minor, currency, current.product_code),
        )
        conn.execute(
            """UPDATE exam_services SET credits = %s, refund_upheld_as = %s
                WHERE qualification_code = %s AND service = %s""",
            (credits, refund_upheld_as, qualification_code, service),
        )
        details = {
            "price_minor": price_minor,
            "currency": currency,
            "credits": credits,
            "refund_upheld_as": refund_upheld_as,
        }
        audit.record(
            conn, staff.id, "exam_service.price", f"service:{qualification_code}:{service}", details
        )
        return price(conn, qualification_code, service)


# -- paying for a seat or an enquiry -------------------------------------------------------------


def open_order(
    conn: db.Connection,
    user: User,
    student: UUID,
    cost: Price,
    provider: Provider,
    subject: tuple[str, UUID],
    hold_until: Any,
) -> dict[str, Any]:
    """The order paying for a registration or an enquiry (`subject`: its column and id), made in
    the caller's transaction; a bank transfer's order is payable until `hold_until`."""
    from reussite.payments.checkout import insert_order
    from reussite.payments.models import Provider as Providers
    from reussite.payments.orders import PRODUCT_SELECT, product_of

    product = product_of(
        conn.execute(f"{PRODUCT_SELECT} WHERE code = %s", (cost.product_code,)).fetchone() or {}
    )
    column, subject_id = subject
    order = insert_order(conn, user, student, product, provider, f"{column}:{subject_id}")
    conn.execute(
        f"UPDATE orders SET {column} = %s, expires_at = CASE WHEN provider = %s THEN %s END "
        "WHERE id = %s",
        (subject_id, Providers.WISE.value, hold_until, order["id"]),
    )
    return order


def pay_online(order_id: UUID | None, email: str | None) -> None:
    """After the caller's commit: ask Konnect for the payment of a service's order (if it is a
    Konnect order not yet opened). A failure leaves it to a retry with the same key."""
    if order_id is None:
        return
    from reussite.payments.checkout import open_konnect_payment
    from reussite.payments.orders import PRODUCT_SELECT, order_row, product_of

    order = order_row(order_id)
    if order["provider"] != "KONNECT" or order["status"] != "CREATED":
        return
    product = product_of(
        db.read_one(f"{PRODUCT_SELECT} WHERE code = %s", (order["product_code"],)) or {}
    )
    open_konnect_payment(order, product, email)


def confirm(conn: db.Connection, order: dict[str, Any]) -> bool:
    """The fulfilment of a service's order, under the order's lock: the held seat or enquiry is
    confirmed; one whose hold lapsed is taken again if it still can be, else the money is owed
    back (False)."""
    if order["registration_id"] is not None:
        placed = _confirm_registration(conn, order["registration_id"])
        subject = f"registration:{order['registration_id']}"
    else:
        placed = _confirm_enquiry(conn, order["enquiry_id"])
        subject = f"enquiry:{order['enquiry_id']}"
    if not placed:
        owe_refund(conn, order, "Paid after the booking had lapsed and could not be taken again")
        logger.error("a service was paid after its hold lapsed", extra={"subject": subject})
    return placed


def _confirm_registration(conn: db.Connection, registration_id: UUID) -> bool:
    reg = conn.execute(
        """SELECT r.id, r.status, r.session_id, r.student_id, s.registration_deadline
             FROM exam_registrations r JOIN exam_sessions s ON s.id = r.session_id
            WHERE r.id = %s FOR UPDATE OF r""",
        (registration_id,),
    ).fetchone()
    assert reg is not None
    if reg["status"] == "PENDING_PAYMENT":
        conn.execute(
            "UPDATE exam_registrations SET status = 'REGISTERED' WHERE id = %s", (reg["id"],)
        )
        return True
    if reg["status"] != "CANCELLED":
        return True  # already confirmed (unreachable: one fulfilment per order)
    with conn.transaction():  # savepoint: the seat or the student's other booking may be gone
        conn.execute("SELECT 1 FROM exam_sessions WHERE id = %s FOR UPDATE", (reg["session_id"],))
        again = conn.execute(
            """UPDATE exam_sessions SET registered = registered + 1
                WHERE id = %s AND registered < capacity AND registration_deadline > now()
                  AND NOT EXISTS (SELECT 1 FROM exam_registrations
                                   WHERE session_id = %s AND student_id = %s
                                     AND status <> 'CANCELLED')
                RETURNING id""",
            (reg["session_id"], reg["session_id"], reg["student_id"]),
        ).fetchone()
        if again is None:
            return False
        conn.execute(
            "UPDATE exam_registrations SET status = 'REGISTERED' WHERE id = %s", (reg["id"],)
        )
    return True


def _confirm_enquiry(conn: db.Connection, enquiry_id: UUID) -> bool:
    enquiry = conn.execute(
        "SELECT id, status, registration_id FROM result_enquiries WHERE id = %s FOR UPDATE",
        (enquiry_id,),
    ).fetchone()
    assert enquiry is not None
    if enquiry["status"] == "PENDING_PAYMENT":
        conn.execute(
            "UPDATE result_enquiries SET status = 'SUBMITTED' WHERE id = %s", (enquiry_id,)
        )
        return True
    if enquiry["status"] != "CANCELLED":
        return True
    if conn.execute(  # another enquiry about the sitting opened meanwhile
        """SELECT 1 FROM result_enquiries WHERE registration_id = %s
              AND status IN ('PENDING_PAYMENT', 'SUBMITTED', 'UNDER_REVIEW')""",
        (enquiry["registration_id"],),
    ).fetchone():
        return False
    conn.execute("UPDATE result_enquiries SET status = 'SUBMITTED' WHERE id = %s", (enquiry_id,))
    return True


def release(conn: db.Connection, order_id: UUID) -> None:
    """The order can no longer be paid (it expired): the seat or enquiry it held is released,
    in the transaction that expires it."""
    order = conn.execute(
        "SELECT registration_id, enquiry_id FROM orders WHERE id = %s", (order_id,)
    ).fetchone()
    if order is None:
        return
    if order["registration_id"] is not None:
        released = conn.execute(
            """UPDATE exam_registrations SET status = 'CANCELLED'
                WHERE id = %s AND status = 'PENDING_PAYMENT' RETURNING session_id""",
            (order["registration_id"],),
        ).fetchone()
        if released is not None:
            conn.execute(
                "UPDATE exam_sessions SET registered = registered - 1 WHERE id = %s",
                (released["session_id"],),
            )
    if order["enquiry_id"] is not None:
        conn.execute(
            """UPDATE result_enquiries SET status = 'CANCELLED'
                WHERE id = %s AND status = 'PENDING_PAYMENT'""",
            (order["enquiry_id"],),
        )


def owe_refund(conn: db.Connection, order: dict[str, Any], reason: str) -> None:
    """The family is owed this order's money back: a refund for staff to make and record."""
    conn.execute(
        """INSERT INTO money_refunds (order_id, amount_minor, currency, reason)
           VALUES (%s, %s, %s, %s) ON CONFLICT (order_id) DO NOTHING""",
        (order["id"], order["amount_minor"], order["currency"], reason),
    )


REFUND_COLUMNS = """f.id, f.order_id, o.reference AS order_reference, o.student_id,
    f.amount_minor, f.currency, f.reason, f.status, f.reference, f.made_at, f.created_at"""


def refund_made(staff: User, refund_id: UUID, reference: str) -> dict[str, Any]:
    """Staff made the refund outside the platform (a transfer, `reference`): recorded, audited."""
    from reussite.identity.access import require_staff

    require_staff(staff, "Staff record refunds")
    with db.transaction() as conn:
        row = conn.execute(
            "SELECT status, reference FROM money_refunds WHERE id = %s FOR UPDATE", (refund_id,)
        ).fetchone()
        if row is None:
            raise RefundNotFound()
        if row["status"] == "MADE":
            if row["reference"] == reference:  # the same record, retried: the same answer
                return _refund(conn, refund_id)
            raise RefundAlreadyMade()
        conn.execute(
            """UPDATE money_refunds SET status = 'MADE', reference = %s, made_by = %s,
                      made_at = now() WHERE id = %s""",
            (reference, staff.id, refund_id),
        )
        audit.record(conn, staff.id, "refund.made", f"refund:{refund_id}", {"reference": reference})
        return _refund(conn, refund_id)


def _refund(conn: db.Connection, refund_id: UUID) -> dict[str, Any]:
    row = conn.execute(
        f"""SELECT {REFUND_COLUMNS} FROM money_refunds f JOIN orders o ON o.id = f.order_id
             WHERE f.id = %s""",
        (refund_id,),
    ).fetchone()
    assert row is not None
    return dict(row)
