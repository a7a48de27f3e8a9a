"""The local runner delivers SQS messages as Lambda would: batch events, partial failures
retried, and messages that keep failing moved to the dead-letter queue by the redrive policy."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reussite_local import functions, template
from reussite_local.aws import LocalAws
from reussite_local.sqs import QueueDelivery

FIXTURE = Path(__file__).parent / "fixtures" / "queue_stack" / "template.yaml"


@pytest.fixture
def local_aws() -> Iterator[LocalAws]:
    aws = LocalAws()
    aws.start()
    try:
        yield aws
    finally:
        aws.stop()


def test_batches_partial_failures_and_dead_letters(local_aws: LocalAws) -> None:
    tmpl = template.load(FIXTURE)
    resources = local_aws.create_resources(tmpl)
    (fn,) = tmpl.functions()
    delivery = QueueDelivery(local_aws, fn, fn.queues[0], resources.refs["WorkQueue"])
    assert delivery.concurrency == 5  # no reserved concurrency: Lambda's first five batches
    sqs = local_aws.client("sqs")
    for body in ("ok-1", "fail-1", "ok-2"):
        sqs.send_message(QueueUrl=resources.refs["WorkQueue"], MessageBody=body)
    seen = functions.load_module(fn).SEEN
    seen.clear()

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not _depth(sqs, resources.refs["WorkDlq"]):
        if not delivery.deliver_once():
            time.sleep(0.3)

    bodies = [r["body"] for r in seen]
    assert bodies.count("ok-1") == 1 and bodies.count("ok-2") == 1
    assert bodies.count("fail-1") == 2  # maxReceiveCount
    first = seen[0]
    assert first["eventSource"] == "aws:sqs"
    assert first["eventSourceARN"].endswith(":WorkQueue")
    assert {"messageId", "receiptHandle", "attributes", "md5OfBody"} <= set(first)
    dead = sqs.receive_message(QueueUrl=resources.refs["WorkDlq"])["Messages"]
    assert [m["Body"] for m in dead] == ["fail-1"]
    assert _depth(sqs, resources.refs["WorkQueue"]) == 0


def _depth(sqs, url: str) -> int:  # type: ignore[no-untyped-def]
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )
