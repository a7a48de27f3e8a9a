"""Staff grants: promotional or goodwill credits, audited with the actor and the reason."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, Field

from reussite import audit, db
from reussite.idempotency import fingerprint, require_same
from reussite.identity import service as identity
from reussite.identity.access import require_staff
from reussite.identity.models import Role, User
from reussite.ledger import service as ledger
from reussite.ledger.models import Grant, LotKind

STAFF = (Role.ADMIN, Role.ASSISTANTE)


class StaffGrantKind(StrEnum):
    PROMOTION = "PROMOTION"
    GOODWILL = "GOODWILL"


class StaffGrantRequest(BaseModel):
    credits: int = Field(ge=1, le=10_000)
    kind: StaffGrantKind
    reason: str = Field(min_length=3, max_length=500)


def staff_grant(actor: User, student_id: UUID, request: StaffGrantRequest, key: str) -> Grant:
    """Grant credits to a student's wallet in the actor's name; the grant and its audit record
    are written in the same transaction."""
    require_staff(actor, "Only an assistant or an administrator grants credits")
    identity.accessible_student(actor, student_id)  # 404 when the student does not exist
    wallet_id = ledger.wallet_of(student_id)
    request_hash = fingerprint(
        "credits.grant",
        student=student_id,
        credits=request.credits,
        kind=request.kind.value,
        reason=request.reason,
    )
    with db.transaction() as conn:
        # The key names one request of this actor: a concurrent repeat waits here for the first.
        first = conn.execute(
            """INSERT INTO staff_grant_keys (actor_id, idempotency_key, student_id, request_hash)
               VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING request_hash""",
            (actor.id, key, student_id, request_hash),
        ).fetchone()
        if first is None:
            recorded = conn.execute(
                """SELECT request_hash FROM staff_grant_keys
                    WHERE actor_id = %s AND idempotency_key = %s""",
                (actor.id, key),
            ).fetchone()
            require_same(recorded["request_hash"] if recorded else None, request_hash)
        granted = ledger.grant(
            wallet_id,
            request.credits,
            LotKind(request.kind.value),
            key=f"staff-grant:{key}",
            purpose=f"{request.kind.value.lower()}: {request.reason}",
            actor_id=actor.id,
            conn=conn,
        )
        if not granted.replayed:
            audit.record(
                conn,
                actor.id,
                "credits.grant",
                f"student:{student_id}",
                {
                    "credits": request.credits,
                    "kind": request.kind.value,
                    "reason": request.reason,
                    "entry_id": granted.entry_id,
                },
            )
    return granted
