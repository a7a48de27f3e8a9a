"""Events a school's systems receive. `emit` writes the event and one delivery per endpoint
that asked for its type, in the caller's transaction (so an event exists exactly when its
change committed, and once: UNIQUE(type, subject)); `dispatch` queues the deliveries after the
commit; a delivery that could not be queued is queued again by the worker's sweep."""

from __future__ import annotations

from typing import Any, Literal, get_args
from uuid import UUID

from psycopg.types.json import Jsonb

from reussite import db
from reussite.jsonable import jsonable
from reussite.observability import logger

EventType = Literal[
    "payment.succeeded",
    "subscription.renewed",
    "subscription.lapsed",
    "attempt.graded",
    "certificate.issued",
    "certificate.revoked",
    "bilan.completed",
]
TYPES: tuple[str, ...] = get_args(EventType)


def emit(conn: db.Connection, kind: str, subject: str, data: dict[str, Any]) -> list[UUID]:
    """Owe `kind` about `subject` (e.g. "order:<id>") to every endpoint wanting it; the ids of
    the deliveries made (none when no endpoint listens, or the event was already emitted)."""
    assert kind in TYPES, kind
    row = conn.execute(
        """INSERT INTO webhook_events (type, subject, payload) VALUES (%s, %s, %s)
           ON CONFLICT (type, subject) DO NOTHING RETURNING id""",
        (kind, subject, Jsonb(jsonable(data))),
    ).fetchone()
    if row is None:
        return []
    made = conn.execute(
        """INSERT INTO webhook_deliveries (event_id, endpoint_id)
           SELECT %s, id FROM webhook_endpoints WHERE active AND %s = ANY(events)
        RETURNING id""",
        (row["id"], kind),
    ).fetchall()
    return [r["id"] for r in made]


def dispatch(deliveries: list[UUID]) -> int:
    """Queue deliveries (after their event's transaction committed); those not queued now are
    queued by the sweep."""
    if not deliveries:
        return 0
    from reussite.notifications import send_to_queue
    from reussite.settings import get_settings

    queue = get_settings().webhook_queue_url
    if not queue:
        return 0  # a function without the queue: the worker's sweep queues them
    sent = 0
    for delivery in deliveries:
        try:
            send_to_queue(queue, {"delivery_id": str(delivery)})
        except Exception:
            logger.exception("webhook delivery not queued", extra={"delivery": str(delivery)})
            continue
        db.connection().execute(
            "UPDATE webhook_deliveries SET enqueued_at = now() WHERE id = %s", (delivery,)
        )
        sent += 1
    return sent


def dispatch_for(kind: str, subject: str) -> int:
    """Queue the deliveries of the event `kind` about `subject` not queued yet (after the
    transaction that emitted it committed)."""
    rows = (
        db.connection()
        .execute(
            """SELECT d.id FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
            WHERE e.type = %s AND e.subject = %s AND d.status = 'PENDING'
              AND d.enqueued_at IS NULL""",
            (kind, subject),
        )
        .fetchall()
    )
    return dispatch([r["id"] for r in rows])
