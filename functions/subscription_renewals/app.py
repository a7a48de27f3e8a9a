"""Daily: open the next period's renewal order of every subscription ending within the lead days
(a Konnect payment link, or Wise instructions with a fresh reference, as the family paid last)
and email it to the payer through the outbox."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from reussite.handlers import job
from reussite.jsonable import jsonable
from reussite.observability import logger, metrics
from reussite.payments.renewals import open_renewals
from reussite.settings import require

REQUIRED_SETTINGS = ("DATABASE_URL|DATABASE_SECRET_ARN",)
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing


@job
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    when = event.get("time")
    day = datetime.fromisoformat(when).date() if when else datetime.now(UTC).date()
    report = open_renewals(day)
    metrics.add_metric(name="RenewalOrdersOpened", unit=MetricUnit.Count, value=report.opened)
    metrics.add_metric(
        name="RenewalLinksFailed", unit=MetricUnit.Count, value=report.konnect_failures
    )
    result = dict(jsonable(report))
    logger.info("renewal orders opened", extra=result)
    return result
