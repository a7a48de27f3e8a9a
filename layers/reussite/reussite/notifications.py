"""Messages to queues (and, later, emails). boto3 is imported on first use only."""

from __future__ import annotations

import json
from functools import cache
from typing import Any


@cache
def _sqs() -> Any:
    import boto3

    return boto3.client("sqs")


def send_to_queue(queue_url: str, body: dict[str, Any]) -> str:
    response = _sqs().send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))
    return str(response["MessageId"])
