"""Staff register the endpoints events go to, read each one's delivery log and replay a
delivery. Registering takes an Idempotency-Key (it creates); the secret is in the answer to
that request only."""

from __future__ import annotations

import secrets
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from reussite import audit, db
from reussite.errors import NotFound
from reussite.history import Page, paged
from reussite.idempotency import fingerprint, require_same
from reussite.identity.access import require_staff
from reussite.identity.models import User
from reussite.webhooks import signing, urls
from reussite.webhooks.events import EventType


class EndpointNotFound(NotFound):
    code = "WEBHOOK_NOT_FOUND"
    title = "No such webhook endpoint or delivery"


class EndpointSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(pattern=r"^https?://[^\s]+$", max_length=500)
    events: list[EventType] = Field(min_length=1, max_length=7)


class Endpoint(BaseModel):
    id: UUID
    url: str
    events: list[str]
    active: bool
    created_at: datetime
    secret: str | None = None  # shown when registered, never again


class Delivery(BaseModel):
    id: UUID
    event_id: UUID
    type: str
    status: str
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def register(staff: User, spec: EndpointSpec, key: str) -> Endpoint:
    require_staff(staff)
    why = urls.refusal(spec.url, urls.private_addresses_allowed())
    if why:
        raise urls.WebhookUrlRefused(why)
    digest = fingerprint("webhooks.register", **spec.model_dump())
    with db.transaction() as conn:
        row = conn.execute(
            """INSERT INTO webhook_endpoints (url, events, salt, created_by, idempotency_key,
                                              request_hash)
               VALUES (%s, %s, %s, %s, %s, %s)
               ON CONFLICT (created_by, idempotency_key) DO NOTHING
            RETURNING id, url, events, active, created_at, salt, request_hash""",
            (spec.url, sorted(set(spec.events)), secrets.token_urlsafe(24), staff.id, key, digest),
        ).fetchone()
        if row is None:  # a replay: the same answer, secret included
            row = conn.execute(
                """SELECT id, url, events, active, created_at, salt, request_hash
                     FROM webhook_endpoints WHERE created_by = %s AND idempotency_key = %s""",
                (staff.id, key),
            ).fetchone()
            assert row is not None
            require_same(row["request_hash"], digest)
        else:
            audit.record(conn, staff.id, "webhook.register", f"webhook:{row['id']}", spec.url)
    return Endpoint.model_validate(dict(row) | {"secret": signing.endpoint_secret(row["salt"])})


def deliveries(staff: User, endpoint_id: UUID, cursor: str | None, limit: int) -> Page[Delivery]:
    require_staff(staff)
    if db.read_one("SELECT 1 AS x FROM webhook_endpoints WHERE id = %s", (endpoint_id,)) is None:
        raise EndpointNotFound()
    rows, following = paged(
        "webhook-deliveries",
        """SELECT t.id, t.event_id, e.type, t.status, t.attempts, t.last_status, t.last_error,
                  t.created_at, t.delivered_at
             FROM webhook_deliveries t JOIN webhook_events e ON e.id = t.event_id
            WHERE t.endpoint_id = %(endpoint)s AND {keyset}
            ORDER BY t.created_at DESC, t.id DESC LIMIT %(limit)s""",
        {"endpoint": endpoint_id},
        cursor,
        limit,
    )
    return Page[Delivery](items=[Delivery.model_validate(r) for r in rows], next=following)


def replay(staff: User, delivery_id: UUID) -> Delivery:
    """Send a delivery again (one that went to the DLQ, say, or one the school lost): queued
    now, with the same webhook-id so the receiver can tell it is the same event."""
    from reussite.webhooks.events import dispatch

    require_staff(staff)
    with db.transaction() as conn:
        row = conn.execute(
            """UPDATE webhook_deliveries SET status = 'PENDING'
                WHERE id = %s RETURNING id""",
            (delivery_id,),
        ).fetchone()
        if row is None:
            raise EndpointNotFound()
        audit.record(conn, staff.id, "webhook.replay", f"webhook-delivery:{delivery_id}")
    dispatch([delivery_id])
    found = db.read_one(
        """SELECT t.id, t.event_id, e.type, t.status, t.attempts, t.last_status, t.last_error,
                  t.created_at, t.delivered_at
             FROM webhook_deliveries t JOIN webhook_events e ON e.id = t.event_id
            WHERE t.id = %s""",
        (delivery_id,),
    )
    return Delivery.model_validate(found)
