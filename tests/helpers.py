"""Calling the functions of template.yaml the way API Gateway does, for the tests."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reussite.identity.models import Principal
from reussite_local import functions as functions
from reussite_local import template
from reussite_local.events import http_api_event
from reussite_local.tokens import principal_claims

FUNCTIONS = {fn.name: fn for fn in template.load().functions()}


@contextmanager
def postgres_home(name: str) -> Iterator[Path]:
    """A directory for an embedded PostgreSQL's data, outside pytest's temporary root. Run as
    root, pgserver runs the server as its own user and opens the path's parents to it; a pytest
    session starting meanwhile (a second run, CI beside a developer's) closes
    /tmp/pytest-of-<user> again (pytest resets it to 0700), and the next server could not start."""
    home = Path(tempfile.mkdtemp(prefix=f"reussite-{name}-"))
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


# Every problem the suite met: (method, path, status, code); conftest checks at the end of the
# run that the OpenAPI document lists each one for its operation.
ANSWERED: set[tuple[str, str, int, str]] = set()


def call(
    function: str,
    method: str,
    path: str,
    who: Principal | None = None,
    body: Any = None,
    key: str | None = None,
    query: str = "",
) -> tuple[int, Any]:
    """(status, JSON body) of an HTTP API event sent to `function`'s Lambda handler."""
    event = http_api_event(
        method,
        path,
        claims=principal_claims(who) if who else None,
        body=body,
        headers={"Idempotency-Key": key} if key else None,
        query=query,
    )
    result = functions.invoke(FUNCTIONS[function], event)
    answer = json.loads(result["body"])
    if result["statusCode"] >= 400 and isinstance(answer, dict) and "code" in answer:
        ANSWERED.add((method.lower(), path, result["statusCode"], answer["code"]))
    return result["statusCode"], answer


def public_get(
    function: str, path: str, query: str = "", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    """(status, headers, body text) of an unauthenticated GET to `function`'s handler."""
    event = http_api_event("GET", path, query=query, headers=headers)
    result = functions.invoke(FUNCTIONS[function], event)
    answered = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    return result["statusCode"], answered, result["body"]


def follow_signed_link(function: str, link: str, accept: str = "text/html") -> Any:
    """Open an email's signed link as a browser does: (status, headers, body); a redirect to
    the stored file is followed to its bytes."""
    import httpx

    path, _, query = link.split("://", 1)[1].partition("/")[2].partition("?")
    status, headers, body = public_get(function, "/" + path, query, {"Accept": accept})
    if status in (302, 303):
        return status, headers, httpx.get(headers["location"]).content
    return status, headers, body


def emails(aws: Any, containing: str = "") -> list[dict[str, Any]]:
    """The emails moto's SES accepted for sending whose text contains `containing` (each with
    `subject`, `body` (the text), `html` and its recipients)."""
    import httpx

    from reussite_local.mailbox import parse

    data = httpx.get(f"{aws.endpoint}/moto-api/data.json").json()
    return [m for m in parse(data) if containing in m["body"]]


def mailed_to(aws: Any, containing: str) -> list[list[str]]:
    """The recipients of each email whose body contains `containing`."""
    return [m["destinations"]["ToAddresses"] for m in emails(aws, containing)]


class Deliveries:
    """A queue's deliveries in a test: `deliver()` drains it, `deliver.once()` delivers one
    batch (to see a failure before it is retried)."""

    def __init__(self, delivery: Any) -> None:
        self.delivery = delivery

    def __call__(self) -> None:
        drain(self.delivery)

    def once(self) -> int:
        return int(self.delivery.deliver_once())


def drain(delivery: Any, timeout: float = 30.0) -> None:
    """Deliver a queue to its function until it holds nothing, waiting or in flight, as the
    local stack does: a failed message comes back after a second and is delivered again, one
    that keeps failing moves to the dead-letter queue."""
    import time

    deadline, empty_since = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        if delivery.deliver_once():
            empty_since = None
            continue
        if delivery.pending():
            empty_since = None
        elif empty_since is None:
            empty_since = time.monotonic()
        elif time.monotonic() - empty_since > 0.3:  # the counts are approximate: read twice
            return
        time.sleep(0.05)
    raise AssertionError(f"the queue still held {delivery.pending()} messages after {timeout} s")


def pay_plan(
    buyer: Any, student_id: Any, plan: str, today: Any = None, aria_subjects: Any = None
) -> Any:
    """`buyer` pays `plan` for the student by a bank transfer that staff confirm, as a family
    does: the real checkout (with the plan's ARIA subjects, if any) and fulfilment; `today` is
    the day the period counts from."""
    import uuid

    from reussite.identity import service as identity
    from reussite.identity.models import Role
    from reussite.payments import checkout, wise
    from reussite.payments.models import Provider

    staff = identity.resolve_user(
        Principal(
            sub=f"assistante-{uuid.uuid4()}",
            email="staff@example.test",
            name="Staff",
            role=Role.ASSISTANTE,
        )
    )
    order = checkout.checkout(
        buyer, plan, student_id, Provider.WISE, str(uuid.uuid4()), aria_subjects
    )
    return wise.confirm_transfer(
        staff, order.id, f"tr-{uuid.uuid4()}", order.amount_minor, order.currency, today=today
    )
