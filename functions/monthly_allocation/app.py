"""Daily, for the day of the schedule's time: subscriptions move through their lifecycle
(periods paid in advance begin, unpaid ones fall PAST_DUE, then EXPIRED after the grace period),
then every paid period begun by that day is granted its plan's credits, once."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from reussite import outbox
from reussite.handlers import job
from reussite.jsonable import jsonable
from reussite.observability import logger, metrics
from reussite.offers.service import allocate_due, run_lifecycle
from reussite.settings import require

REQUIRED_SETTINGS = ("DATABASE_URL|DATABASE_SECRET_ARN",)
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing


@job
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    when = event.get("time")
    day = datetime.fromisoformat(when).date() if when else datetime.now(UTC).date()
    lifecycle = run_lifecycle(day)
    report = allocate_due(day)
    outbox.flush()  # the lapse emails the lifecycle owed
    metrics.add_metric(name="SubscriptionsPastDue", unit=MetricUnit.Count, value=lifecycle.past_due)
    metrics.add_metric(name="SubscriptionsExpired", unit=MetricUnit.Count, value=lifecycle.expired)
    metrics.add_metric(name="SubscriptionsAllocated", unit=MetricUnit.Count, value=report.granted)
    metrics.add_metric(name="CreditsAllocated", unit=MetricUnit.Count, value=report.credits)
    result = dict(jsonable(report)) | {"lifecycle": jsonable(lifecycle)}
    logger.info("subscriptions advanced and paid periods allocated", extra=result)
    return result
