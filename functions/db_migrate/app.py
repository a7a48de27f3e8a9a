"""Applies pending database migrations (invoked once per deployment, and by the local stack)."""

from typing import Any

from reussite import db
from reussite.db.migrate import migrate
from reussite.handlers import job


@job
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"applied": migrate(db.connection())}
