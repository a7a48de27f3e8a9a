"""Applies pending database migrations (invoked once per deployment, and by the local stack)."""

from typing import Any

from reussite import db
from reussite.db.migrate import migrate
from reussite.handlers import job
from reussite.settings import require

REQUIRED_SETTINGS = ("DATABASE_URL|DATABASE_SECRET_ARN",)
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing


@job
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"applied": migrate(db.connection())}
