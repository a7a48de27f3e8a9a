"""Writes orientation reports from the bilan queue: batch processing with partial failures,
Powertools idempotency on the report in front of the report's own claim behind. A message whose
report cannot be written is retried, then kept in the DLQ; the report is FAILED with the reason
on the last attempt."""

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from reussite import aws
from reussite.bilans import service
from reussite.emails import rendering
from reussite.front_door import guard
from reussite.handlers import queue_batch
from reussite.settings import get_settings, require

REQUIRED_SETTINGS = (
    "DATABASE_URL|DATABASE_SECRET_ARN",
    "IDEMPOTENCY_TABLE",
    "LINK_SECRET|LINK_SECRET_ARN",
)
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing

# Every message that failed is reported in batchItemFailures, even when all did: SQS retries
# them; the invocation itself succeeds (a failing writer is not a broken function).
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _write(*, request: dict[str, Any]) -> dict[str, Any]:
    return {"status": service.generate(request["bilan_id"], request["receive_count"])}


# Every message goes through the front door and mails the family: those clients are built at
# init, not on the first message.
write_once = guard(_write, key="bilan_id", retry_in_progress=True).warm()
aws.warm("ses")
rendering.prepare("bilan_ready", "bilan_failed")  # compiled into the SnapStart snapshot
_settings = get_settings()
aws.warm_secrets(
    _settings.link_secret_arn,
    _settings.openai_api_key_secret_arn,
    _settings.gemini_api_key_secret_arn,
)


def record_handler(record: SQSRecord) -> None:
    bilan_id = str(json.loads(record.body)["bilan_id"])
    receives = int(record.attributes.approximate_receive_count or 1)
    write_once(request={"bilan_id": bilan_id, "receive_count": receives})


handler = queue_batch(record_handler, processor)
