"""A family's history, read-only and paginated: a student's attempts (with their certificate),
orders (with their receipt and what they paid for), orientation reports, ledger entries (with
their lots and what they were for), tutoring sessions and exam registrations (with their
outcome and certificate). A student reads their own; a parent names the child; staff read any.

Every list is newest first, keyset-paginated on (created_at, id) through one helper
(`pagination.keyset` / `next_cursor`): a page is stable while rows are added, `limit` is
bounded by the API, and a cursor from another list, or altered, is 400 BAD_CURSOR.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel

from reussite import db, pagination
from reussite.errors import BadCursor
from reussite.identity.models import User
from reussite.identity.roles import STAFF_ROLES, Role

Item = TypeVar("Item")  # a pydantic model or a dataclass
_KEYSET = (
    "(%(after_at)s::{type} IS NULL"
    " OR (t.{column}, t.id) < (%(after_at)s::{type}, %(after_id)s{cast}))"
)


class Page(BaseModel, Generic[Item]):
    items: list[Item]
    next: str | None = None  # the cursor of the next page, if there is one


def _student(user: User, student_id: UUID | None) -> UUID:
    from reussite.identity import service as identity

    return identity.acting_for(
        user,
        student_id,
        (Role.ELEVE, Role.PARENT, *STAFF_ROLES),
        "A student's history is theirs, their parents' and staff's",
    )


def paged(
    kind: str,
    sql: str,
    params: dict[str, Any],
    cursor: str | None,
    limit: int,
    cast: str = "::uuid",
    column: str = "created_at",
    ascending: bool = False,
    column_type: str = "timestamptz",
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of `sql`, whose `{keyset}` is the condition after the cursor on
    (t.<column>, t.id), newest first (or oldest first with `ascending`); the query orders
    and limits (LIMIT %(limit)s, one more than the page) the same way. A catalogue ordered by
    a name or a code says `column_type="text"`."""
    keyset = _KEYSET.format(type=column_type, column=column, cast=cast)
    if ascending:
        keyset = keyset.replace(") < (", ") > (")
    query = sql.replace("{keyset}", keyset)
    after = pagination.keyset(kind, cursor, text=column_type == "text")
    last = after["after_id"]
    if isinstance(last, str) and not _valid_id(last, cast):
        raise BadCursor()
    rows = db.connection().execute(query, params | after | {"limit": limit + 1}).fetchall()
    page, following = pagination.next_cursor(kind, [dict(r) for r in rows], limit, at=column)
    return page, following


def by_code(
    kind: str, sql: str, params: dict[str, Any], cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a catalogue ordered by its code, `t.id` (`paged` on a text key)."""
    return paged(
        kind,
        sql,
        params,
        cursor,
        limit,
        cast="::text",
        column="id",
        ascending=True,
        column_type="text",
    )


def _valid_id(value: str, cast: str) -> bool:
    if cast == "::text":
        return True
    if cast == "::bigint":
        return value.isascii() and value.isdigit() and len(value) < 19
    try:
        UUID(value)
    except ValueError:
        return False
    return True


# -- attempts ----------------------------------------------------------------------------------


class AttemptItem(BaseModel):
    id: UUID
    exam_code: str
    exam_version: int
    status: str
    started_at: datetime
    submitted_at: datetime | None
    score: int | None
    passed: bool | None
    certificate_code: str | None


def attempts(
    user: User, student_id: UUID | None, cursor: str | None, limit: int, exam: str | None = None
) -> Page[AttemptItem]:
    student = _student(user, student_id)
    rows, following = paged(
        "attempts",
        """SELECT t.id, t.exam_code, t.exam_version, t.status, t.created_at,
                  t.started_at, t.submitted_at, t.score, t.passed, c.code AS certificate_code
             FROM (SELECT *, started_at AS created_at FROM exam_attempts) t
             LEFT JOIN certificates c ON c.attempt_id = t.id
            WHERE t.student_id = %(student)s AND (%(exam)s::text IS NULL OR t.exam_code = %(exam)s)
              AND {keyset}
            ORDER BY t.created_at DESC, t.id DESC LIMIT %(limit)s""",
        {"student": student, "exam": exam},
        cursor,
        limit,
    )
    return Page[AttemptItem](items=[AttemptItem.model_validate(r) for r in rows], next=following)


# -- orders ------------------------------------------------------------------------------------


class OrderItem(BaseModel):
    id: UUID
    reference: str
    product_code: str
    amount_minor: int
    currency: str
    provider: str
    status: str
    created_at: datetime
    paid_at: datetime | None
    receipt_number: str | None
    lot_id: int | None  # the credits a pack granted
    subscription_id: UUID | None
    period_starts_on: date | None  # the plan period it paid for
    period_ends_on: date | None


def orders(
    user: User, student_id: UUID | None, cursor: str | None, limit: int, status: str | None = None
) -> Page[OrderItem]:
    student = _student(user, student_id)
    rows, following = paged(
        "orders",
        """SELECT t.id, t.reference, t.product_code, t.amount_minor, t.currency, t.provider,
                  t.status, t.created_at, t.paid_at, t.lot_id, t.subscription_id,
                  CASE WHEN r.order_id IS NOT NULL
                       THEN 'R-' || r.year || '-' || lpad(r.number::text, 6, '0') END
                      AS receipt_number,
                  p.starts_on AS period_starts_on, p.ends_on AS period_ends_on
             FROM orders t
             LEFT JOIN receipts r ON r.order_id = t.id
             LEFT JOIN subscription_periods p ON p.order_id = t.id
            WHERE t.student_id = %(student)s
              AND (%(status)s::text IS NULL OR t.status = %(status)s) AND {keyset}
            ORDER BY t.created_at DESC, t.id DESC LIMIT %(limit)s""",
        {"student": student, "status": status},
        cursor,
        limit,
    )
    return Page[OrderItem](items=[OrderItem.model_validate(r) for r in rows], next=following)


# -- orientation reports -----------------------------------------------------------------------


class BilanItem(BaseModel):
    id: UUID
    status: str
    created_at: datetime
    finished_at: datetime | None


def bilans(user: User, student_id: UUID | None, cursor: str | None, limit: int) -> Page[BilanItem]:
    student = _student(user, student_id)
    rows, following = paged(
        "bilans",
        """SELECT t.id, t.status, t.created_at, t.finished_at FROM bilans t
            WHERE t.student_id = %(student)s AND {keyset}
            ORDER BY t.created_at DESC, t.id DESC LIMIT %(limit)s""",
        {"student": student},
        cursor,
        limit,
    )
    return Page[BilanItem](items=[BilanItem.model_validate(r) for r in rows], next=following)


# -- the ledger --------------------------------------------------------------------------------


class LotShare(BaseModel):
    lot_id: int
    lot_kind: str
    credits: int
    expires_at: datetime


class EntryItem(BaseModel):
    id: int
    kind: str  # GRANT, SPEND, REFUND, EXPIRE
    amount: int
    purpose: str
    created_at: datetime
    balance_after: int | None
    lots: list[LotShare]  # the lot a grant made, or the lots a spend drew from


def ledger(user: User, student_id: UUID | None, cursor: str | None, limit: int) -> Page[EntryItem]:
    student = _student(user, student_id)
    rows, following = paged(
        "ledger",
        """SELECT t.id, t.kind, t.amount, t.purpose, t.created_at, t.balance_after,
                  coalesce(
                    (SELECT jsonb_agg(jsonb_build_object('lot_id', l.id, 'lot_kind', l.kind,
                                      'credits', a.amount, 'expires_at', l.expires_at)
                                      ORDER BY l.id)
                       FROM entry_allocations a JOIN credit_lots l ON l.id = a.lot_id
                      WHERE a.entry_id = t.id),
                    (SELECT jsonb_build_array(jsonb_build_object('lot_id', l.id,
                                      'lot_kind', l.kind, 'credits', l.amount,
                                      'expires_at', l.expires_at))
                       FROM credit_lots l WHERE l.id = t.lot_id),
                    '[]'::jsonb) AS lots
             FROM ledger_entries t JOIN wallets w ON w.id = t.wallet_id
            WHERE w.student_id = %(student)s AND {keyset}
            ORDER BY t.created_at DESC, t.id DESC LIMIT %(limit)s""",
        {"student": student},
        cursor,
        limit,
        cast="::bigint",
    )
    return Page[EntryItem](items=[EntryItem.model_validate(r) for r in rows], next=following)


# -- tutoring and exam registrations -----------------------------------------------------------


class SessionItem(BaseModel):
    id: UUID
    status: str
    created_at: datetime
    service_code: str
    subject: str
    coach_name: str
    starts_at: datetime
    ends_at: datetime
    credits: int


def tutoring(
    user: User, student_id: UUID | None, cursor: str | None, limit: int
) -> Page[SessionItem]:
    student = _student(user, student_id)
    rows, following = paged(
        "tutoring",
        """SELECT t.id, t.status, t.created_at, s.service_code, s.subject,
                  c.display_name AS coach_name, s.starts_at, s.ends_at, t.credits
             FROM tutoring_bookings t
             JOIN tutoring_sessions s ON s.id = t.session_id
             JOIN coaches c ON c.user_id = s.coach_id
            WHERE t.student_id = %(student)s AND {keyset}
            ORDER BY t.created_at DESC, t.id DESC LIMIT %(limit)s""",
        {"student": student},
        cursor,
        limit,
    )
    return Page[SessionItem](items=[SessionItem.model_validate(r) for r in rows], next=following)


class RegistrationItem(BaseModel):
    id: UUID
    status: str
    created_at: datetime
    session_id: UUID
    qualification: str
    exam_date: date | None
    components: list[str]
    outcome_id: UUID | None
    grade: str | None
    passed: bool | None
    certificate_code: str | None
    enquiry_id: UUID | None  # the enquiry that regraded the outcome, if one did


def registrations(
    user: User, student_id: UUID | None, cursor: str | None, limit: int
) -> Page[RegistrationItem]:
    student = _student(user, student_id)
    rows, following = paged(
        "registrations",
        """SELECT t.id, t.status, t.created_at, t.session_id, t.components,
                  es.qualification_code AS qualification, es.starts_at::date AS exam_date,
                  o.id AS outcome_id, o.grade, o.passed, c.code AS certificate_code,
                  o.enquiry_id
             FROM exam_registrations t
             JOIN exam_sessions es ON es.id = t.session_id
             LEFT JOIN qualification_outcomes o
               ON o.registration_id = t.id AND o.superseded_at IS NULL
             LEFT JOIN certificates c ON c.outcome_id = o.id AND c.revoked_at IS NULL
            WHERE t.student_id = %(student)s AND {keyset}
            ORDER BY t.created_at DESC, t.id DESC LIMIT %(limit)s""",
        {"student": student},
        cursor,
        limit,
    )
    items = [RegistrationItem.model_validate(r) for r in rows]
    return Page[RegistrationItem](items=items, next=following)
