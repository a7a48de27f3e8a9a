"""The append-only audit log: who did what to which subject, written in the transaction of the
change it records (so a rolled-back change leaves no entry, and a change never goes unrecorded)."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from reussite import db


def record(
    conn: db.Connection, actor_id: UUID, action: str, subject: str, details: Any = None
) -> None:
    """One entry: `action` such as "enquiry.decide", `subject` such as "enquiry:<id>",
    `details` any JSON-able value (ids, dates and decimals as strings)."""
    conn.execute(
        "INSERT INTO audit_log (actor_id, action, subject, details) VALUES (%s, %s, %s, %s)",
        (actor_id, action, subject, Jsonb(json.loads(json.dumps(details or {}, default=str)))),
    )
