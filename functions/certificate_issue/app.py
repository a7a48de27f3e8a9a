"""Issues certificates from the certificate queue: batch processing with partial failures,
Powertools idempotency on the attempt (or outcome) in front of its UNIQUE column behind."""

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from reussite import aws
from reussite.certificates import pdf, service, signing
from reussite.emails import rendering
from reussite.errors import NotEligible
from reussite.front_door import guard
from reussite.handlers import queue_batch
from reussite.jsonable import jsonable
from reussite.observability import logger
from reussite.settings import get_settings, require

REQUIRED_SETTINGS = (
    "DATABASE_URL|DATABASE_SECRET_ARN",
    "IDEMPOTENCY_TABLE",
    "CERTIFICATES_BUCKET",
    "SIGNING_KEY_SECRET_ARN",
    "LINK_SECRET|LINK_SECRET_ARN",
)
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing

# Every message that failed is reported in batchItemFailures, even when all did: SQS retries
# them (then the DLQ); the invocation itself succeeds.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _issue(*, request: dict[str, Any]) -> dict[str, Any]:
    return dict(jsonable(service.issue(request["attempt_id"])))


def _issue_for_outcome(*, request: dict[str, Any]) -> dict[str, Any]:
    return dict(jsonable(service.issue(outcome_id=request["outcome_id"])))


issue_once = guard(_issue, key="attempt_id", retry_in_progress=True)
issue_for_outcome_once = guard(_issue_for_outcome, key="outcome_id", retry_in_progress=True)
# Every message goes through the front door, renders, signs, stores a PDF and mails: the PDF
# library, its fonts (cut once) and the clients are made ready at init, where the function's
# SnapStart snapshot holds them, not on the first message.
pdf.prepare()
signing.prepare()
rendering.prepare("certificate_ready")
issue_once.warm()
issue_for_outcome_once.warm()
aws.warm("s3", "ses")
aws.warm_secrets(get_settings().signing_key_secret_arn, get_settings().link_secret_arn)


def record_handler(record: SQSRecord) -> None:
    """A message names a passed online attempt, or a passed outcome of a sat exam."""
    body = json.loads(record.body)
    try:
        if "outcome_id" in body:
            issue_for_outcome_once(request={"outcome_id": str(body["outcome_id"])})
        else:
            issue_once(request={"attempt_id": str(body["attempt_id"])})
    except NotEligible:  # a result that did not pass (or was regraded): nothing will change it
        logger.warning("no certificate for this result", extra=body)


handler = queue_batch(record_handler, processor)
