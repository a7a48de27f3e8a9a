"""Daily: grant each active subscription its credits for the month of the schedule's time,
once per subscription and month (a subscription started mid-month gets its month at once)."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from reussite.handlers import job
from reussite.jsonable import jsonable
from reussite.observability import logger, metrics
from reussite.offers.service import allocate_month


@job
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    when = event.get("time")
    day = datetime.fromisoformat(when).date() if when else datetime.now(UTC).date()
    report = allocate_month(day)
    metrics.add_metric(name="SubscriptionsAllocated", unit=MetricUnit.Count, value=report.granted)
    metrics.add_metric(name="CreditsAllocated", unit=MetricUnit.Count, value=report.credits)
    logger.info("monthly credits allocated", extra=jsonable(report))
    return jsonable(report)
