"""Result enquiries: a family asks for a sitting to be re-marked within the qualification's
window, paying the fee; staff review and decide. UPHELD: new scores, the fee refunded; PARTIAL:
new scores, the fee kept; REJECTED: no change. A regrade supersedes the outcome; its certificate
is revoked and, if the new outcome passes, a new one issued."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from reussite import audit, db
from reussite.certificates import service as certificates
from reussite.exam_sessions.catalogue import qualification
from reussite.exam_sessions.errors import (
    EnquiryNotAllowed,
    EnquiryNotFound,
    EnquiryState,
    InvalidScores,
)
from reussite.exam_sessions.models import Enquiry, Outcome
from reussite.exam_sessions.registrations import charge_fee, registration
from reussite.exam_sessions.results import grade_sitting, queue_certificate
from reussite.idempotency import fingerprint, require_same
from reussite.identity.access import require_staff
from reussite.identity.roles import Role
from reussite.ledger import service as ledger

if TYPE_CHECKING:
    from reussite.identity.models import User

_REFUSAL = "Scheduling, results and enquiries are staff work"


def request_enquiry(user: User, registration_id: UUID, components: list[str], key: str) -> Enquiry:
    """A family asks for a sitting to be re-marked, within the qualification's window, paying
    the fee (refunded if the enquiry is upheld)."""
    request = fingerprint(
        "sittings.enquiry", registration=registration_id, components=sorted(set(components))
    )
    with db.transaction() as conn:
        replay = conn.execute(
            "SELECT * FROM result_enquiries WHERE requested_by = %s AND idempotency_key = %s",
            (user.id, key),
        ).fetchone()
        if replay is not None:
            require_same(replay["request_hash"], request)
            return Enquiry.model_validate(replay)
        reg = registration(conn, registration_id)
        from reussite.identity import service as identity

        # the student's family only (staff too): anyone else gets a 404
        identity.acting_for(user, reg["student_id"], tuple(Role), "")
        fee = _fee(conn, reg, components)
        if conn.execute(
            """SELECT 1 FROM result_enquiries WHERE registration_id = %s
                  AND status IN ('SUBMITTED', 'UNDER_REVIEW')""",
            (registration_id,),
        ).fetchone():
            raise EnquiryNotAllowed("An enquiry about this sitting is already open")
        row = conn.execute(
            """INSERT INTO result_enquiries (registration_id, components, status, fee_credits,
                       idempotency_key, requested_by, request_hash)
               VALUES (%s, %s, 'SUBMITTED', %s, %s, %s, %s) RETURNING id""",
            (registration_id, sorted(set(components)), fee, key, user.id, request),
        ).fetchone()
        assert row is not None
        if fee:
            purpose = f"result enquiry {reg['qualification_code']}"
            entry = charge_fee(conn, reg["student_id"], fee, f"enquiry:{row['id']}", user, purpose)
            conn.execute(
                "UPDATE result_enquiries SET fee_entry_id = %s WHERE id = %s", (entry, row["id"])
            )
        audit.record(conn, user.id, "enquiry.submit", f"enquiry:{row['id']}", {"fee": fee})
        return Enquiry.model_validate(_enquiry(conn, row["id"]))


def _fee(conn: db.Connection, reg: dict[str, Any], components: list[str]) -> int:
    """The fee of an enquiry about `components` of a sitting, if one may be made now."""
    q = qualification(reg["qualification_code"], conn)
    outcome = conn.execute(
        """SELECT created_at FROM qualification_outcomes
            WHERE registration_id = %s ORDER BY created_at LIMIT 1""",
        (reg["id"],),
    ).fetchone()
    if reg["status"] != "SAT" or outcome is None:
        raise EnquiryNotAllowed("This sitting has no result yet")
    if datetime.now(UTC) > outcome["created_at"] + timedelta(weeks=q.enquiry_weeks):
        raise EnquiryNotAllowed(f"Enquiries are made within {q.enquiry_weeks} weeks")
    if not components or not set(components) <= set(reg["components"]):
        raise InvalidScores(f"Enquire about components sat: {', '.join(reg['components'])}")
    all_sat = len(reg["components"]) > 1 and set(components) == set(reg["components"])
    return q.fee_enquiry_all if all_sat else q.fee_enquiry_component * len(set(components))


def review_enquiry(staff: User, enquiry_id: UUID) -> Enquiry:
    require_staff(staff, _REFUSAL)
    with db.transaction() as conn:
        row = conn.execute(
            """UPDATE result_enquiries SET status = 'UNDER_REVIEW'
                WHERE id = %s AND status = 'SUBMITTED' RETURNING *""",
            (enquiry_id,),
        ).fetchone()
        if row is None:
            _enquiry(conn, enquiry_id)  # 404 if unknown
            raise EnquiryState("Only a submitted enquiry goes under review")
        audit.record(conn, staff.id, "enquiry.review", f"enquiry:{enquiry_id}")
    return Enquiry.model_validate(row)


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
        if scores and decision != "REJECTED":
            new_outcome = _regrade(conn, staff, reg, scores, enquiry_id)
        refund_entry = None
        if decision == "UPHELD" and enquiry["fee_entry_id"] is not None:
            refunded = ledger.refund(
                ledger.wallet_of(reg["student_id"]),
                f"enquiry:{enquiry_id}",
                f"enquiry upheld {enquiry_id}",
                actor_id=staff.id,
                conn=conn,
            )
            refund_entry = refunded.entry_id
        row = conn.execute(
            """UPDATE result_enquiries SET status = %s, decided_by = %s, decided_at = now(),
                      decision_note = %s, refund_entry_id = %s
                WHERE id = %s RETURNING *""",
            (decision, staff.id, note, refund_entry, enquiry_id),
        ).fetchone()
        details = {"decision": decision, "scores": scores}
        audit.record(conn, staff.id, "enquiry.decide", f"enquiry:{enquiry_id}", details)
    if new_outcome is not None:
        queue_certificate(new_outcome)
    return Enquiry.model_validate({**(row or {}), "outcome": new_outcome})


def _regrade(
    conn: db.Connection,
    staff: User,
    reg: dict[str, Any],
    scores: dict[str, int],
    enquiry_id: UUID,
) -> Outcome:
    """New component scores (each change audited), a new outcome, the old one's certificate
    revoked."""
    for component, score in scores.items():
        old = conn.execute(
            """SELECT score FROM component_results
                WHERE registration_id = %s AND component = %s""",
            (reg["id"], component),
        ).fetchone()
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
        """SELECT id FROM qualification_outcomes
            WHERE registration_id = %s AND superseded_at IS NULL""",
        (reg["id"],),
    ).fetchone()
    outcome = grade_sitting(conn, staff, reg)
    conn.execute(
        "UPDATE qualification_outcomes SET enquiry_id = %s WHERE id = %s",
        (enquiry_id, outcome.id),
    )
    outcome = outcome.model_copy(update={"enquiry_id": enquiry_id})
    if previous is not None:
        reason = f"Regraded after enquiry {enquiry_id}"
        certificates.revoke_for_outcome(conn, previous["id"], staff.id, reason)
    return outcome


def _enquiry(conn: db.Connection, enquiry_id: UUID, lock: bool = False) -> dict[str, Any]:
    row = conn.execute(
        "SELECT * FROM result_enquiries WHERE id = %s" + (" FOR UPDATE" if lock else ""),
        (enquiry_id,),
    ).fetchone()
    if row is None:
        raise EnquiryNotFound()
    return dict(row)
