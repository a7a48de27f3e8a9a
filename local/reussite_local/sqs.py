"""Deliver SQS messages to the functions template.yaml maps them to, as real SQS batch events."""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Any

from reussite_local import functions
from reussite_local.aws import ACCOUNT, REGION, LocalAws
from reussite_local.template import Function, QueueSource

log = logging.getLogger("reussite_local.sqs")
RETRY_DELAY_SECONDS = (
    1  # a failed message comes back quickly locally (Lambda waits for the visibility timeout)
)
# Lambda reads a standard queue with five batches at a time, five concurrent invocations, and
# scales up from there; a function's reserved concurrency or the mapping's MaximumConcurrency
# caps it (docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html).
LAMBDA_INITIAL_BATCHES = 5


def _record(message: dict[str, Any], queue: str) -> dict[str, Any]:
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attributes.get("SentTimestamp", "0"),
            "SenderId": attributes.get("SenderId", ACCOUNT),
            "ApproximateFirstReceiveTimestamp": attributes.get(
                "ApproximateFirstReceiveTimestamp", "0"
            ),
        },
        "messageAttributes": {
            name: {
                "stringValue": attr.get("StringValue"),
                "binaryValue": attr.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": attr["DataType"],
            }
            for name, attr in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": hashlib.md5(message["Body"].encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}",
        "awsRegion": REGION,
    }


class QueueDelivery:
    """One event source mapping: poll the queue, invoke the function, honour its answer."""

    def __init__(self, aws: LocalAws, fn: Function, source: QueueSource, queue_url: str) -> None:
        self.fn, self.source, self.queue_url = fn, source, queue_url
        self.sqs = aws.client("sqs")
        caps = (fn.reserved_concurrency, source.maximum_concurrency)
        # How many batches `run` delivers at once, each on its own poller, as Lambda does: one
        # poller for a queue whose function does 5 at once lets a backlog build that Lambda
        # would not have (and moto's queue operations slow down with their queue's length).
        self.concurrency = min([LAMBDA_INITIAL_BATCHES, *(cap for cap in caps if cap)])

    def deliver_once(self, wait_seconds: int = 0) -> int:
        """Deliver one batch; return how many messages it held."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(10, self.source.batch_size),
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [_record(m, self.source.queue) for m in messages]}
        try:
            result = functions.invoke(self.fn, event)
            failed = (
                {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
                if self.source.report_failures
                else set()
            )
        except Exception:  # the whole batch failed, as when a Lambda invocation errors
            failed = {m["MessageId"] for m in messages}
        for message in messages:
            if message["MessageId"] in failed:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=RETRY_DELAY_SECONDS,
                )
            else:
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return len(messages)

    def pending(self) -> int:
        """Messages still in the queue: waiting, or received and not yet deleted (a failed one
        comes back after RETRY_DELAY_SECONDS)."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.deliver_once(wait_seconds=1)
            except Exception:  # keep polling: a local stack survives a bad message
                log.exception("delivery from %s failed", self.source.queue)
                stop.wait(1)
