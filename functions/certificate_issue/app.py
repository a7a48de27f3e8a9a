"""Issues certificates from the certificate queue: batch processing with partial failures,
Powertools idempotency on the attempt in front of the UNIQUE attempt behind."""

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from reussite.certificates import service
from reussite.errors import NotEligible
from reussite.http.idempotency import once_per
from reussite.jsonable import jsonable
from reussite.observability import logger

processor = BatchProcessor(event_type=EventType.SQS)


def _issue(*, request: dict[str, Any]) -> dict[str, Any]:
    return dict(jsonable(service.issue(request["attempt_id"])))


issue_once = once_per(_issue, key="attempt_id")


def record_handler(record: SQSRecord) -> None:
    attempt_id = str(json.loads(record.body)["attempt_id"])
    try:
        issue_once(request={"attempt_id": attempt_id})
    except NotEligible:  # a message for an attempt that did not pass: nothing will change that
        logger.warning("no certificate for this attempt", extra={"attempt_id": attempt_id})


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event, record_handler, processor, context)
