"""Daily: expire every lot whose 12 months have passed, set-based and idempotent."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from reussite.handlers import job
from reussite.jsonable import jsonable
from reussite.ledger.jobs import expire_due
from reussite.observability import logger, metrics
from reussite.settings import require

REQUIRED_SETTINGS = ("DATABASE_URL|DATABASE_SECRET_ARN",)
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing


@job
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report = expire_due()
    metrics.add_metric(name="LotsExpired", unit=MetricUnit.Count, value=report.lots)
    metrics.add_metric(name="CreditsExpired", unit=MetricUnit.Count, value=report.credits)
    logger.info("credits expired", extra=jsonable(report))
    return dict(jsonable(report))
