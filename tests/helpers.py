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


def revoked_per_status_list(credential_jws: str) -> bool:
    """What a generic verifier concludes from a credential's `credentialStatus`: fetch its
    Bitstring Status List, check the list's signature against the published key set alone, and
    read the credential's bit (decoded here, independently of the project's encoder)."""
    import base64
    import gzip

    from joserfc import jwt as jose_jwt
    from joserfc.jwk import KeySet

    from reussite.settings import get_settings

    keys = KeySet.import_key_set(call("certificates_api", "GET", "/.well-known/jwks.json")[1])
    entry = jose_jwt.decode(credential_jws, keys, algorithms=["RS256"]).claims["credentialStatus"]
    assert entry["type"] == "BitstringStatusListEntry" and entry["statusPurpose"] == "revocation"
    base = get_settings().public_base_url.rstrip("/")
    path = entry["statusListCredential"].removeprefix(base)
    event = http_api_event("GET", path, headers={"Accept": "application/vc+jwt"})
    answer = functions.invoke(FUNCTIONS["certificates_api"], event)
    assert answer["statusCode"] == 200, answer
    assert answer["headers"]["content-type"].startswith("application/vc+jwt")
    listed = jose_jwt.decode(answer["body"], keys, algorithms=["RS256"]).claims
    assert "BitstringStatusListCredential" in listed["type"]
    assert listed["credentialSubject"]["statusPurpose"] == "revocation"
    encoded = listed["credentialSubject"]["encodedList"]
    assert encoded.startswith("u")  # multibase base64url
    raw = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert len(raw) * 8 >= 131072  # the spec's minimum size, for herd privacy
    bit = int(entry["statusListIndex"])
    return bool(raw[bit // 8] & (0x80 >> (bit % 8)))


def confirm_transfer(staff: Any, order: Any) -> Any:
    """Staff confirm the bank transfer paying `order` (an Order), as the back office does."""
    import uuid

    from reussite.payments import wise

    return wise.confirm_transfer(
        staff, order.id, f"tr-{uuid.uuid4()}", order.amount_minor, order.currency
    )


def session_took_place(session_id: Any, days_ago: int = 1) -> None:
    """Time passes: the exam session happened `days_ago` days ago (results can be recorded)."""
    from reussite import db

    with db.transaction() as conn:
        conn.execute(
            """UPDATE exam_sessions SET starts_at = now() - make_interval(days => %s),
                      registration_deadline = now() - make_interval(days => %s + 1)
                WHERE id = %s""",
            (days_ago, days_ago, session_id),
        )


def accept_credits(prices: dict[str, dict[str, int]]) -> Iterator[None]:
    """Staff accept credits for these exam services (qualification -> service -> credits) for
    the duration of a test module; afterwards the services are money-only again."""
    import uuid

    from reussite.exam_sessions import services
    from reussite.identity import service as identity
    from reussite.identity.models import Role

    staff = identity.resolve_user(
        Principal(
            sub=f"assistante-{uuid.uuid4()}",
            email="s@example.test",
            name="Staff",
            role=Role.ASSISTANTE,
        )
    )
    from reussite import db

    def set_all(credits_of: Any) -> None:
        for code, by_service in prices.items():
            for service, credits in by_service.items():
                cost = services.price(db.connection(), code, service)
                services.set_service(
                    staff,
                    code,
                    service,
                    cost.price_minor,
                    cost.currency,
                    credits_of(credits),
                    "MONEY",
                )

    set_all(lambda credits: credits)
    yield
    set_all(lambda credits: None)
