"""Every 15 minutes: queue again the orientation reports left PENDING without a worker (their
message never sent or lost), so no family's report waits forever."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from reussite.bilans.service import requeue_stale
from reussite.handlers import job
from reussite.observability import logger, metrics
from reussite.settings import require

REQUIRED_SETTINGS = ("DATABASE_URL|DATABASE_SECRET_ARN", "BILAN_QUEUE_URL")
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing


@job
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    requeued = requeue_stale()
    metrics.add_metric(name="BilansRequeued", unit=MetricUnit.Count, value=requeued)
    logger.info("stale reports queued again", extra={"requeued": requeued})
    return {"requeued": requeued}
