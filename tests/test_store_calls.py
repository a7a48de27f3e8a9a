"""The idempotency store's cost per exam start, counted on the boto3 client every front door
shares: one DynamoDB call for a new key (its claim: the database keeps the answer), 1 for a
replay, none for input refused."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from reussite import aws
from reussite.identity import service as identity
from reussite.identity.models import Role
from reussite.ledger import service as ledger
from reussite.ledger.models import LotKind
from tests import helpers


@contextmanager
def store_calls() -> Iterator[list[str]]:
    """The DynamoDB operations made meanwhile (botocore's before-call event)."""
    calls: list[str] = []

    def seen(model: Any, **_: Any) -> None:
        calls.append(model.name)

    events = aws.client("dynamodb").meta.events
    events.register("before-call.dynamodb", seen)
    try:
        yield calls
    finally:
        events.unregister("before-call.dynamodb", seen)


def test_an_exam_start_costs_one_store_call_a_replay_one_bad_input_none(
    principal: Any, database_url: str
) -> None:
    who = principal(Role.ELEVE)
    student = identity.resolve_user(who).student_id
    assert student is not None
    ledger.grant(ledger.wallet_of(student), 3, LotKind.PURCHASE, key="pack", purpose="pack")
    path = "/v1/exams/MATHS-PROP/attempts"

    with store_calls() as new:
        first = helpers.call("exam_start", "POST", path, who, {}, key="store-1")
    with store_calls() as replay:
        again = helpers.call("exam_start", "POST", path, who, {}, key="store-1")
    with store_calls() as refused:
        bad = [
            helpers.call("exam_start", "POST", path, who, {"student_id": "x"}, key="store-2"),
            helpers.call("exam_start", "POST", path, who, {}),  # no key
            helpers.call("exam_start", "POST", "/v1/exams/NO-SUCH/attempts", who, {}, key="k"),
        ]

    assert first[0] == 201 and again == first
    assert new == ["PutItem"], new  # the claim; no answer stored (the database replays)
    assert len(replay) == 1, replay
    assert [status for status, _ in bad] == [422, 400, 404] and refused == [], refused
