"""Delivers signed outgoing events to the schools' endpoints from the webhook queue (each
message one delivery; a failure is retried by SQS, then kept in the DLQ, alarmed), and every
5 minutes queues again the deliveries that were never queued."""

import json
from typing import Any
from uuid import UUID

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from reussite import aws
from reussite.handlers import job, queue_batch
from reussite.observability import logger, metrics
from reussite.settings import get_settings, require
from reussite.webhooks import delivery

REQUIRED_SETTINGS = (
    "DATABASE_URL|DATABASE_SECRET_ARN",
    "WEBHOOK_SECRET|WEBHOOK_SECRET_ARN",
    "WEBHOOK_QUEUE_URL",
)
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing

# A delivery (most of its events: one a message) signs with the webhook secret: its client is
# built at init, not on the first message.
aws.warm_secrets(get_settings().webhook_secret_arn)
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> None:
    outcome = delivery.deliver(UUID(json.loads(record.body)["delivery_id"]))
    metrics.add_metric(
        name="WebhooksDelivered", unit=MetricUnit.Count, value=outcome == "delivered"
    )


_deliver = queue_batch(record_handler, processor)


@job
def _sweep(event: dict[str, Any], context: Any) -> dict[str, Any]:
    queued = delivery.sweep()
    logger.info("webhook deliveries queued again", extra={"queued": queued})
    return {"queued": queued}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS batches deliver; the schedule's event sweeps."""
    if "Records" in event:
        return _deliver(event, context)
    return _sweep(event, context)
