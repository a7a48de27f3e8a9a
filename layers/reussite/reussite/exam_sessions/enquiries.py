"""Result enquiries (seed 003): a family asks for a sitting's theory, tasting or both to be
re-marked within the qualification's window, with a reason, paying the enquiry service; staff
review and decide. Outcome UPHELD: new scores, the fee refunded (credits back; an enquiry paid
in money is refunded as the service says: credits granted, or a money refund for staff to make
and record); PARTIAL: new scores, the fee kept; REJECTED: no change. A regrade supersedes the
outcome; its certificate is revoked and, if the new outcome passes, a new one issued."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from psycopg.types.json import Jsonb

from reussite import audit, db
from reussite.certificates import service as certificates
from reussite.exam_sessions import services
from reussite.exam_sessions.catalogue import qualification
from reussite.exam_sessions.errors import (
    EnquiryNotAllowed,
    EnquiryNotFound,
    EnquiryState,
    InvalidScores,
)
from reussite.exam_sessions.models import Enquiry, MoneyRefund, Outcome
from reussite.exam_sessions.registrations import charge_fee, payment, registration
from reussite.exam_sessions.results import grade_sitting, queue_certificate
from reussite.idempotency import fingerprint, require_same
from reussite.identity.access import require_staff
from reussite.identity.roles import Role
from reussite.ledger import service as ledger
from reussite.ledger.models import LotKind

if TYPE_CHECKING:
    from reussite.identity.models import User

_REFUSAL = "Scheduling, results and enquiries are staff work"


ENQUIRY_TYPES = ("THEORY", "TASTING", "BOTH")


def request_enquiry(
    user: User,
    registration_id: UUID,
    kind: str,
    reason: str,
    key: str,
    pay_with: services.PayWith | None = None,
) -> Enquiry:
    """A family asks for a sitting's theory, tasting or both to be re-marked, giving a reason,
    within the qualification's window; the enquiry service is paid in credits now, or through
    an order (the enquiry is submitted once it is paid)."""
    extra = {"pay_with": pay_with} if pay_with else {}
    request = fingerprint(
        "sittings.enquiry", registration=registration_id, type=kind, reason=reason, **extra
    )
    with db.transaction() as conn:
        replay = conn.execute(
            "SELECT id, request_hash FROM result_enquiries "
            "WHERE requested_by = %s AND idempotency_key = %s",
            (user.id, key),
        ).fetchone()
        if replay is not None:
            require_same(replay["request_hash"], request)
            enquiry_id = replay["id"]
        else:
            enquiry_id = _submit(conn, user, registration_id, kind, reason, key, request, pay_with)
        order_id = _enquiry(conn, enquiry_id)["order_id"]
    services.pay_online(order_id, user.email)
    return view(enquiry_id)


def _submit(
    conn: db.Connection,
    user: User,
    registration_id: UUID,
    kind: str,
    reason: str,
    key: str,
    request: str,
    pay_with: services.PayWith | None,
) -> UUID:
    reg = registration(conn, registration_id)
    from reussite.identity import service as identity

    # the student's family only (staff too): anyone else gets a 404
    identity.acting_for(user, reg["student_id"], tuple(Role), "")
    components = _components(conn, reg, kind)
    cost = services.price(conn, reg["qualification_code"], f"ENQUIRY_{kind}")
    paid_with = payment(cost, pay_with)
    if conn.execute(
        """SELECT 1 FROM result_enquiries WHERE registration_id = %s
              AND status IN ('PENDING_PAYMENT', 'SUBMITTED', 'UNDER_REVIEW')""",
        (registration_id,),
    ).fetchone():
        raise EnquiryNotAllowed("An enquiry about this sitting is already open")
    fee = cost.credits if paid_with == "CREDITS" and cost.credits is not None else 0
    row = conn.execute(
        """INSERT INTO result_enquiries (registration_id, components, type, reason, status,
                   fee_credits, paid_with, idempotency_key, requested_by, request_hash)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (
            registration_id,
            components,
            kind,
            reason,
            "PENDING_PAYMENT" if paid_with == "ORDER" else "SUBMITTED",
            fee,
            paid_with,
            key,
            user.id,
            request,
        ),
    ).fetchone()
    assert row is not None
    if fee:
        purpose = f"result enquiry {reg['qualification_code']}"
        entry = charge_fee(conn, reg["student_id"], fee, f"enquiry:{row['id']}", user, purpose)
        conn.execute(
            "UPDATE result_enquiries SET fee_entry_id = %s WHERE id = %s", (entry, row["id"])
        )
    if paid_with == "ORDER":
        assert pay_with is not None
        from reussite.payments.models import Provider

        q = qualification(reg["qualification_code"], conn)
        closes = _opened_at(conn, reg) + timedelta(weeks=q.enquiry_weeks)
        order = services.open_order(
            conn,
            user,
            reg["student_id"],
            cost,
            Provider(pay_with),
            ("enquiry_id", row["id"]),
            closes,
        )
        conn.execute(
            "UPDATE result_enquiries SET order_id = %s WHERE id = %s", (order["id"], row["id"])
        )
    details = {"type": kind, "paid_with": paid_with, "fee_credits": fee}
    audit.record(conn, user.id, "enquiry.submit", f"enquiry:{row['id']}", details)
    return UUID(str(row["id"]))


def _opened_at(conn: db.Connection, reg: dict[str, Any]) -> datetime:
    """When the sitting's first result was published (the enquiry window opens then)."""
    outcome = conn.execute(
        """SELECT created_at FROM qualification_outcomes
            WHERE registration_id = %s ORDER BY created_at LIMIT 1""",
        (reg["id"],),
    ).fetchone()
    if reg["status"] != "SAT" or outcome is None:
        raise EnquiryNotAllowed("This sitting has no result yet")
    return outcome["created_at"]  # type: ignore[no-any-return]


def _components(conn: db.Connection, reg: dict[str, Any], kind: str) -> list[str]:
    """The components an enquiry of `kind` re-marks, if one may be made about the sitting now:
    THEORY is the written paper (a Level 3 theory, or a single combined paper)."""
    q = qualification(reg["qualification_code"], conn)
    if datetime.now(UTC) > _opened_at(conn, reg) + timedelta(weeks=q.enquiry_weeks):
        raise EnquiryNotAllowed(f"Enquiries are made within {q.enquiry_weeks} weeks")
    sat = set(reg["components"])
    wanted = {
        "THEORY": sat & {"THEORY", "COMBINED"},
        "TASTING": sat & {"TASTING"},
        "BOTH": sat if {"THEORY", "TASTING"} <= sat else set(),
    }[kind]
    if not wanted:
        raise InvalidScores(f"This sitting sat: {', '.join(reg['components'])}")
    return sorted(wanted)


def review_enquiry(staff: User, enquiry_id: UUID) -> Enquiry:
    require_staff(staff, _REFUSAL)
    with db.transaction() as conn:
        row = conn.execute(
            """UPDATE result_enquiries SET status = 'UNDER_REVIEW'
                WHERE id = %s AND status = 'SUBMITTED' RETURNING id""",
            (enquiry_id,),
        ).fetchone()
        if row is None:
            _enquiry(conn, enquiry_id)  # 404 if unknown
            raise EnquiryState("Only a submitted enquiry goes under review")
        audit.record(conn, staff.id, "enquiry.review", f"enquiry:{enquiry_id}")
    return view(enquiry_id)


def decide_enquiry(
    staff: User, enquiry_id: UUID, decision: str, scores: dict[str, int] | None, note: str | None
) -> Enquiry:
    """Decide an enquiry under review (see the module's rules)."""
    require_staff(staff, _REFUSAL)
    new_outcome = None
    with db.transaction() as conn:
        enquiry = _enquiry(conn, enquiry_id, lock=True)
        if enquiry["status"] != "UNDER_REVIEW":
            raise EnquiryState("Decide an enquiry once it is under review")
        if decision == "REJECTED":
            if scores:
                raise InvalidScores("A rejected enquiry changes no score")
        elif not scores or not set(scores) <= set(enquiry["components"]):
            raise InvalidScores(f"New scores for: {', '.join(enquiry['components'])}")
        reg = registration(conn, enquiry["registration_id"])
        changes: dict[str, int] = {}
        result_changed = False
        if scores and decision != "REJECTED":
            new_outcome, changes, result_changed = _regrade(conn, staff, reg, scores, enquiry_id)
        refund_entry = refund_lot = None
        if decision == "UPHELD":
            refund_entry, refund_lot = _refund_fee(conn, staff, enquiry, reg)
        conn.execute(
            """UPDATE result_enquiries SET status = %s, outcome = %s, decided_by = %s,
                      decided_at = now(), decision_note = %s, refund_entry_id = %s,
                      refund_lot_id = %s, score_changes = %s, result_changed = %s
                WHERE id = %s""",
            (
                "REJECTED" if decision == "REJECTED" else "COMPLETED",
                decision,
                staff.id,
                note,
                refund_entry,
                refund_lot,
                Jsonb(changes),
                result_changed,
                enquiry_id,
            ),
        )
        details = {"decision": decision, "scores": scores, "result_changed": result_changed}
        audit.record(conn, staff.id, "enquiry.decide", f"enquiry:{enquiry_id}", details)
    if new_outcome is not None:
        queue_certificate(new_outcome)
    return view(enquiry_id).model_copy(update={"regrade": new_outcome})


def _refund_fee(
    conn: db.Connection, staff: User, enquiry: dict[str, Any], reg: dict[str, Any]
) -> tuple[int | None, int | None]:
    """An upheld enquiry's fee back: credits paid come back to their lots; money paid is
    refunded as the service says (credits granted, or a money refund owed for staff to make)."""
    wallet = ledger.wallet_of(reg["student_id"])
    if enquiry["paid_with"] == "CREDITS" and enquiry["fee_entry_id"] is not None:
        refunded = ledger.refund(
            wallet,
            f"enquiry:{enquiry['id']}",
            f"enquiry upheld {enquiry['id']}",
            actor_id=staff.id,
            conn=conn,
        )
        return refunded.entry_id, None
    if enquiry["paid_with"] != "ORDER":
        return None, None
    cost = services.price(conn, reg["qualification_code"], f"ENQUIRY_{enquiry['type']}")
    if cost.refund_upheld_as == "CREDITS" and cost.credits is not None:
        granted = ledger.grant(
            wallet,
            cost.credits,
            LotKind.REFUND,
            key=f"enquiry-refund:{enquiry['id']}",
            purpose=f"enquiry upheld {enquiry['id']} (paid in money)",
            actor_id=staff.id,
            conn=conn,
        )
        return None, granted.lot_id
    order = conn.execute(
        "SELECT id, amount_minor, currency FROM orders WHERE id = %s", (enquiry["order_id"],)
    ).fetchone()
    assert order is not None
    services.owe_refund(conn, order, f"Enquiry upheld ({enquiry['id']})")
    return None, None


def _regrade(
    conn: db.Connection,
    staff: User,
    reg: dict[str, Any],
    scores: dict[str, int],
    enquiry_id: UUID,
) -> tuple[Outcome, dict[str, int], bool]:
    """New component scores (each change audited), a new outcome, the old one's certificate
    revoked; with the change of each score and whether the result (pass, grade) changed."""
    changes: dict[str, int] = {}
    for component, score in scores.items():
        old = conn.execute(
            """SELECT score FROM component_results
                WHERE registration_id = %s AND component = %s""",
            (reg["id"], component),
        ).fetchone()
        changes[component] = score - (old["score"] if old else 0)
        conn.execute(
            """UPDATE component_results SET score = %s, entered_by = %s, entered_at = now()
                WHERE registration_id = %s AND component = %s""",
            (score, staff.id, reg["id"], component),
        )
        audit.record(
            conn,
            staff.id,
            "results.regrade",
            f"registration:{reg['id']}",
            {"component": component, "from": old and old["score"], "to": score},
        )
    previous = conn.execute(
        """SELECT id, passed, grade FROM qualification_outcomes
            WHERE registration_id = %s AND superseded_at IS NULL""",
        (reg["id"],),
    ).fetchone()
    outcome = grade_sitting(conn, staff, reg)
    conn.execute(
        "UPDATE qualification_outcomes SET enquiry_id = %s WHERE id = %s",
        (enquiry_id, outcome.id),
    )
    outcome = outcome.model_copy(update={"enquiry_id": enquiry_id})
    changed = previous is None or (previous["passed"], previous["grade"]) != (
        outcome.passed,
        outcome.grade,
    )
    if previous is not None:
        reason = f"Regraded after enquiry {enquiry_id}"
        certificates.revoke_for_outcome(conn, previous["id"], staff.id, reason)
    return outcome, changes, changed


def _enquiry(conn: db.Connection, enquiry_id: UUID, lock: bool = False) -> dict[str, Any]:
    row = conn.execute(
        "SELECT * FROM result_enquiries WHERE id = %s" + (" FOR UPDATE" if lock else ""),
        (enquiry_id,),
    ).fetchone()
    if row is None:
        raise EnquiryNotFound()
    return dict(row)


ENQUIRY_VIEW = """SELECT e.id, e.registration_id, e.type, e.reason, e.components, e.status,
       e.outcome, e.score_changes, e.result_changed, e.paid_with, e.fee_credits,
       e.decision_note, e.created_at, e.decided_at, e.order_id,
       (e.refund_entry_id IS NOT NULL OR e.refund_lot_id IS NOT NULL
        OR f.status IS NOT DISTINCT FROM 'MADE') AS fee_refunded,
       f.id AS refund_id, f.status AS refund_status, f.amount_minor AS refund_amount,
       f.currency AS refund_currency, f.made_at AS refund_made_at
  FROM result_enquiries e LEFT JOIN money_refunds f ON f.order_id = e.order_id"""


def view(enquiry_id: UUID) -> Enquiry:
    """An enquiry as its family and staff read it (with its order and any money refund)."""
    from reussite.payments.orders import order_row, order_view

    row = db.read_one(f"{ENQUIRY_VIEW} WHERE e.id = %s", (enquiry_id,))
    if row is None:
        raise EnquiryNotFound()
    return enquiry_of(row, order_view(order_row(row["order_id"])) if row["order_id"] else None)


def enquiry_of(row: dict[str, Any], order: Any = None) -> Enquiry:
    refund = None
    if row["refund_id"] is not None:
        refund = MoneyRefund(
            id=row["refund_id"],
            status=row["refund_status"],
            amount_minor=row["refund_amount"],
            currency=row["refund_currency"],
            made_at=row["refund_made_at"],
        )
    return Enquiry.model_validate(row | {"refund": refund, "order": order})


def get_enquiry(user: User, enquiry_id: UUID) -> Enquiry:
    """An enquiry, for its student's family and staff (anyone else: 404)."""
    from reussite.errors import StudentNotFound
    from reussite.identity import service as identity

    row = db.read_one(
        """SELECT r.student_id FROM result_enquiries e
             JOIN exam_registrations r ON r.id = e.registration_id WHERE e.id = %s""",
        (enquiry_id,),
    )
    if row is None:
        raise EnquiryNotFound()
    try:
        identity.accessible_student(user, row["student_id"])
    except StudentNotFound:
        raise EnquiryNotFound() from None
    return view(enquiry_id)
