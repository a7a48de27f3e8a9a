"""What staff look things up with, read-only and paginated like the family's history: people
(by name, email or student id), orders (by id or the bank reference a family wrote on its
transfer, and the queue of transfers waiting for confirmation), exam registrations and result
enquiries by status and date, and the audit log (ADMIN only) by actor, subject and time.
ASSISTANTE sees what the back office needs; the audit log is the administrator's."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from reussite import db
from reussite.history import Page, paged
from reussite.identity.access import require_role, require_staff
from reussite.identity.models import User
from reussite.identity.roles import Role

_UUID = re.compile(r"[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}")


class Person(BaseModel):
    id: UUID  # the user, or the student profile when it has no login
    kind: str  # "user" | "student"
    name: str | None
    email: str | None
    role: str | None
    student_id: UUID | None
    created_at: datetime


PEOPLE_FETCHED = 200
"""A search matching at most this many people reads them by id; one matching more walks
everyone newest first and stops at the page (its matches are dense enough to stop soon)."""

_MATCHES = """
    SELECT id FROM users
     WHERE %(words)s::text <> ''
       AND to_tsvector('simple', coalesce(profile_name, name, ''))
           @@ to_tsquery('simple', %(words)s)
    UNION SELECT id FROM users WHERE lower(email) LIKE %(email)s
    UNION SELECT id FROM users WHERE id = %(exact)s::uuid
    UNION SELECT user_id FROM students WHERE id = %(exact)s::uuid AND user_id IS NOT NULL
    UNION SELECT id FROM students
     WHERE user_id IS NULL AND (id = %(exact)s::uuid OR %(words)s::text <> ''
           AND to_tsvector('simple', display_name) @@ to_tsquery('simple', %(words)s))
    LIMIT %(cap)s"""
_MATCHED_USER = """
    (%(words)s::text <> '' AND to_tsvector('simple', coalesce(t.profile_name, t.name, ''))
         @@ to_tsquery('simple', %(words)s))
    OR lower(t.email) LIKE %(email)s OR t.id = %(exact)s::uuid
    OR t.id = (SELECT user_id FROM students WHERE id = %(exact)s::uuid)"""
_MATCHED_PROFILE = """
    (%(words)s::text <> '' AND to_tsvector('simple', t.display_name)
         @@ to_tsquery('simple', %(words)s))
    OR t.id = %(exact)s::uuid"""
_PEOPLE = """
    SELECT * FROM (
        (SELECT t.id, 'user' AS kind, coalesce(t.profile_name, t.name) AS name, t.email, t.role,
                (SELECT s.id FROM students s WHERE s.user_id = t.id) AS student_id, t.created_at
           FROM users t WHERE ({users}) AND {{keyset}}
          ORDER BY t.created_at DESC, t.id DESC LIMIT %(limit)s)
        UNION ALL
        (SELECT t.id, 'student', t.display_name, NULL, NULL, t.id, t.created_at
           FROM students t WHERE t.user_id IS NULL AND ({profiles}) AND {{keyset}}
          ORDER BY t.created_at DESC, t.id DESC LIMIT %(limit)s)
    ) t
    WHERE {{keyset}}
    ORDER BY t.created_at DESC, t.id DESC LIMIT %(limit)s"""


def people(staff: User, q: str, cursor: str | None, limit: int) -> Page[Person]:
    """Users and student profiles whose name has words beginning with each word of `q` (case
    ignored: "trab yas" finds Yasmine Trabelsi), whose email begins with `q`, or whose id or
    student id is `q`, newest first. Each way is an index read (migration 0029), never a scan
    of everyone: a few matches are read by id, many by walking creation time to the page."""
    require_staff(staff)
    exact = q if _UUID.fullmatch(q.strip()) else None
    words = re.findall(r"\w+", q.lower())
    params = {
        "words": " & ".join(f"{word}:*" for word in words),
        "email": f"{_escape(q.strip().lower())}%",
        "exact": exact,
    }
    matched = [
        r["id"] for r in db.connection().execute(_MATCHES, params | {"cap": PEOPLE_FETCHED + 1})
    ]
    if len(matched) <= PEOPLE_FETCHED:
        sql = _PEOPLE.format(users="t.id = ANY(%(ids)s)", profiles="t.id = ANY(%(ids)s)")
    else:
        sql = _PEOPLE.format(users=_MATCHED_USER, profiles=_MATCHED_PROFILE)
    rows, following = paged("people", sql, params | {"ids": matched}, cursor, limit)
    return Page[Person](items=[Person.model_validate(r) for r in rows], next=following)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class OrderRow(BaseModel):
    id: UUID
    reference: str
    student_id: UUID
    student_name: str
    buyer_email: str | None
    product_code: str
    amount_minor: int
    currency: str
    provider: str
    status: str
    created_at: datetime
    paid_at: datetime | None
    expires_at: datetime | None


def orders(
    staff: User,
    cursor: str | None,
    limit: int,
    reference: str | None = None,
    status: str | None = None,
    provider: str | None = None,
) -> Page[OrderRow]:
    """Orders newest first; `reference` finds one by its id or its RSS-… bank reference (as
    the family wrote it: case and spaces forgiven); `provider=WISE&status=PENDING` is the queue
    of transfers to confirm."""
    require_staff(staff)
    ref = reference.strip().upper().replace(" ", "") if reference else None
    rows, following = paged(
        "admin-orders",
        """SELECT t.id, t.reference, t.student_id, s.display_name AS student_name,
                  u.email AS buyer_email, t.product_code, t.amount_minor, t.currency,
                  t.provider, t.status, t.created_at, t.paid_at, t.expires_at
             FROM orders t JOIN students s ON s.id = t.student_id JOIN users u ON u.id = t.buyer_id
            WHERE (%(ref)s::text IS NULL OR t.reference = %(ref)s
                   OR t.id::text = lower(%(ref)s))
              AND (%(status)s::text IS NULL OR t.status = %(status)s)
              AND (%(provider)s::text IS NULL OR t.provider = %(provider)s)
              AND {keyset}
            ORDER BY t.created_at DESC, t.id DESC LIMIT %(limit)s""",
        {"ref": ref, "status": status, "provider": provider},
        cursor,
        limit,
    )
    return Page[OrderRow](items=[OrderRow.model_validate(r) for r in rows], next=following)


class RegistrationRow(BaseModel):
    id: UUID
    status: str
    created_at: datetime
    student_id: UUID
    student_name: str
    session_id: UUID
    qualification: str
    session_type: str
    starts_at: datetime


def registrations(
    staff: User,
    cursor: str | None,
    limit: int,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[RegistrationRow]:
    """Registrations newest first, by status and by the session's date (`since` ≤ date <
    `until`)."""
    require_staff(staff)
    rows, following = paged(
        "admin-registrations",
        """SELECT t.id, t.status, t.created_at, t.student_id, s.display_name AS student_name,
                  t.session_id, es.qualification_code AS qualification, es.type AS session_type,
                  es.starts_at
             FROM exam_registrations t
             JOIN exam_sessions es ON es.id = t.session_id
             JOIN students s ON s.id = t.student_id
            WHERE (%(status)s::text IS NULL OR t.status = %(status)s)
              AND (%(since)s::timestamptz IS NULL OR es.starts_at >= %(since)s)
              AND (%(until)s::timestamptz IS NULL OR es.starts_at < %(until)s)
              AND {keyset}
            ORDER BY t.created_at DESC, t.id DESC LIMIT %(limit)s""",
        {"status": status, "since": since, "until": until},
        cursor,
        limit,
    )
    items = [RegistrationRow.model_validate(r) for r in rows]
    return Page[RegistrationRow](items=items, next=following)


class EnquiryRow(BaseModel):
    id: UUID
    status: str
    created_at: datetime
    decided_at: datetime | None
    registration_id: UUID
    student_id: UUID
    student_name: str
    components: list[str]
    fee_credits: int


def enquiries(
    staff: User,
    cursor: str | None,
    limit: int,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[EnquiryRow]:
    """Result enquiries newest first, by status and date asked (the queue: SUBMITTED)."""
    require_staff(staff)
    rows, following = paged(
        "admin-enquiries",
        """SELECT t.id, t.status, t.created_at, t.decided_at, t.registration_id, t.components,
                  t.fee_credits, r.student_id, s.display_name AS student_name
             FROM result_enquiries t
             JOIN exam_registrations r ON r.id = t.registration_id
             JOIN students s ON s.id = r.student_id
            WHERE (%(status)s::text IS NULL OR t.status = %(status)s)
              AND (%(since)s::timestamptz IS NULL OR t.created_at >= %(since)s)
              AND (%(until)s::timestamptz IS NULL OR t.created_at < %(until)s)
              AND {keyset}
            ORDER BY t.created_at DESC, t.id DESC LIMIT %(limit)s""",
        {"status": status, "since": since, "until": until},
        cursor,
        limit,
    )
    return Page[EnquiryRow](items=[EnquiryRow.model_validate(r) for r in rows], next=following)


class AuditRow(BaseModel):
    id: int
    actor_id: UUID | None
    action: str
    subject: str
    details: Any
    created_at: datetime


def audit_log(
    admin: User,
    cursor: str | None,
    limit: int,
    actor: UUID | None = None,
    subject: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[AuditRow]:
    """The audit log newest first, by actor, subject (exact, or a prefix ending in ':' such as
    "order:") and time. The administrator's only."""
    require_role(admin, Role.ADMIN, refusal="The audit log is the administrator's")
    prefix = subject if subject and subject.endswith(":") else None
    rows, following = paged(
        "audit",
        """SELECT t.id, t.actor_id, t.action, t.subject, t.details, t.created_at
             FROM audit_log t
            WHERE (%(actor)s::uuid IS NULL OR t.actor_id = %(actor)s)
              AND (%(subject)s::text IS NULL OR t.subject = %(subject)s
                   OR (%(prefix)s::text IS NOT NULL AND t.subject LIKE %(prefix)s || '%%'))
              AND (%(since)s::timestamptz IS NULL OR t.created_at >= %(since)s)
              AND (%(until)s::timestamptz IS NULL OR t.created_at < %(until)s)
              AND {keyset}
            ORDER BY t.created_at DESC, t.id DESC LIMIT %(limit)s""",
        {"actor": actor, "subject": subject, "prefix": prefix, "since": since, "until": until},
        cursor,
        limit,
        cast="::bigint",
    )
    return Page[AuditRow](items=[AuditRow.model_validate(r) for r in rows], next=following)
