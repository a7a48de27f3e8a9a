"""Queues, object storage and email. boto3 clients are created on first use only."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from reussite.inputs import header_line
from reussite.settings import get_settings


@cache
def _client(service: str) -> Any:
    import boto3

    return boto3.client(service)


def s3() -> Any:
    return _client("s3")


def send_to_queue(queue_url: str, body: dict[str, Any]) -> str:
    response = _client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))
    return str(response["MessageId"])


def send_email(recipients: list[str], subject: str, text: str) -> str:
    response = _client("ses").send_email(
        Source=get_settings().email_sender,
        Destination={"ToAddresses": recipients},
        Message={
            "Subject": {"Data": header_line(subject), "Charset": "UTF-8"},
            "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
        },
    )
    return str(response["MessageId"])
