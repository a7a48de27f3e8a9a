"""Monthly, on the 1st: each parent's report of the past month, and the credits expiring within
30 days or expired during the month (set-based, idempotent per parent and month)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from reussite.emails.monthly import run
from reussite.handlers import job
from reussite.jsonable import jsonable
from reussite.observability import logger, metrics
from reussite.settings import require

REQUIRED_SETTINGS = ("DATABASE_URL|DATABASE_SECRET_ARN", "EMAIL_SENDER")
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing


@job
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report = run()
    metrics.add_metric(name="MonthlyReportsOwed", unit=MetricUnit.Count, value=report.reports)
    metrics.add_metric(name="EmailsSent", unit=MetricUnit.Count, value=report.emails_sent)
    logger.info("monthly emails owed and sent", extra=jsonable(report))
    return dict(jsonable(report))
