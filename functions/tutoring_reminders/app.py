"""Every 15 minutes: remind families and coaches of sessions starting within the reminder
window (24 h), once per booking even when the schedule fires twice."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from reussite.handlers import job
from reussite.observability import logger, metrics
from reussite.settings import require
from reussite.tutoring.reminders import send_reminders

REQUIRED_SETTINGS = ("DATABASE_URL|DATABASE_SECRET_ARN", "LINK_SECRET|LINK_SECRET_ARN")
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing


@job
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    reminded = send_reminders()
    metrics.add_metric(name="TutoringReminders", unit=MetricUnit.Count, value=reminded)
    logger.info("tutoring reminders sent", extra={"bookings": reminded})
    return {"reminded": reminded}
