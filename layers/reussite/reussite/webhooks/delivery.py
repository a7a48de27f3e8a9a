"""Delivering one event to one endpoint, outside any transaction: a POST of the event as JSON
with the Standard Webhooks headers (`webhook-id`: the delivery's id, the same on every retry;
`webhook-timestamp`; `webhook-signature`). A 2xx delivers it; anything else raises, so SQS
retries it (the queue's visibility timeout backs off; after its receives the DLQ, alarmed).
A delivered one is never sent again by a retry."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any
from uuid import UUID

from reussite import db
from reussite.settings import get_settings
from reussite.webhooks import signing, urls


class DeliveryFailed(Exception):
    pass


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A receiver's redirect is an answer (not delivered), never a second request elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


_DELIVERY = """
    SELECT d.id, d.status, e.id AS event_id, e.type, e.payload, e.created_at, p.url, p.salt,
           p.active
      FROM webhook_deliveries d
      JOIN webhook_events e ON e.id = d.event_id
      JOIN webhook_endpoints p ON p.id = d.endpoint_id
     WHERE d.id = %s
"""


def body_of(row: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "type": row["type"],
            "timestamp": row["created_at"].isoformat(),
            "data": row["payload"],
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def deliver(delivery_id: UUID) -> str:
    """Send the delivery unless it is already delivered; returns what happened."""
    row = db.read_one(_DELIVERY, (delivery_id,))
    if row is None:
        return "unknown"
    if row["status"] == "DELIVERED" or not row["active"]:
        return "skipped"
    body = body_of(row)
    stamp = int(time.time())
    message_id = f"msg_{row['id']}"
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "reussite-webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": signing.sign(
            signing.endpoint_secret(row["salt"]), message_id, stamp, body
        ),
    }
    request = urllib.request.Request(row["url"], data=body, headers=headers, method="POST")
    status, error = 0, urls.resolved_refusal(row["url"], urls.private_addresses_allowed())
    try:
        if error is None:
            timeout = get_settings().webhook_timeout_seconds
            with _OPENER.open(request, timeout=timeout) as answer:
                status = answer.status
    except urllib.error.HTTPError as exc:  # a redirect too: never followed
        status, error = exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        error = str(exc)[:300]
    delivered = 200 <= status < 300
    db.connection().execute(
        """UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = %s,
                  last_error = %s,
                  status = CASE WHEN %s THEN 'DELIVERED' ELSE status END,
                  delivered_at = CASE WHEN %s THEN now() ELSE delivered_at END
            WHERE id = %s""",
        (status or None, error, delivered, delivered, delivery_id),
    )
    if not delivered:
        raise DeliveryFailed(error or f"HTTP {status}")
    return "delivered"


def sweep(older_than_seconds: int = 300, limit: int = 500) -> int:
    """Queue again the deliveries still pending a while after they were made (their queueing
    failed, or their messages went to the DLQ and staff did not replay them)."""
    from reussite.webhooks.events import dispatch

    rows = (
        db.connection()
        .execute(
            """SELECT id FROM webhook_deliveries
            WHERE status = 'PENDING' AND attempts = 0
              AND coalesce(enqueued_at, created_at) < now() - make_interval(secs => %s)
            ORDER BY created_at LIMIT %s""",
            (older_than_seconds, limit),
        )
        .fetchall()
    )
    return dispatch([r["id"] for r in rows])
