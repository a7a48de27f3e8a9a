"""Every five minutes: poll Konnect for payments still open (a webhook can be lost), expire
those whose lifespan has passed, and send confirmation emails that failed at the time."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from reussite.handlers import job
from reussite.jsonable import jsonable
from reussite.observability import logger, metrics
from reussite.payments.settlement import reconcile
from reussite.settings import require

REQUIRED_SETTINGS = ("DATABASE_URL|DATABASE_SECRET_ARN", "LINK_SECRET|LINK_SECRET_ARN")
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing


@job
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report = reconcile()
    metrics.add_metric(name="PaymentsReconciled", unit=MetricUnit.Count, value=report.paid)
    metrics.add_metric(name="PaymentsExpired", unit=MetricUnit.Count, value=report.expired)
    metrics.add_metric(name="ProviderUnreachable", unit=MetricUnit.Count, value=report.unreachable)
    logger.info("payments reconciled", extra=jsonable(report))
    return dict(jsonable(report))
