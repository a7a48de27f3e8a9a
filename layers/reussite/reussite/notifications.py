"""Queues, object storage and email, on the container's shared clients (`reussite.aws`)."""

from __future__ import annotations

import json
from typing import Any

from reussite.settings import get_settings
from reussite.text import header_line


def _client(service: str) -> Any:
    from reussite import aws

    return aws.client(service)


def s3() -> Any:
    return _client("s3")


def send_to_queue(queue_url: str, body: dict[str, Any]) -> str:
    response = _client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))
    return str(response["MessageId"])


def send_email(recipients: list[str], subject: str, text: str, html: str | None = None) -> str:
    """One email, as MIME: the plain text, and the HTML as its alternative when given."""
    from email.message import EmailMessage

    sender = get_settings().email_sender
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = header_line(subject)
    # Quoted-printable keeps the message 7-bit clean whatever the language (Arabic, accents).
    message.set_content(text, charset="utf-8", cte="quoted-printable")
    if html is not None:
        message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    response = _client("ses").send_raw_email(Source=sender, RawMessage={"Data": message.as_bytes()})
    return str(response["MessageId"])
