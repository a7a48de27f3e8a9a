"""Signed outgoing events, against real PostgreSQL and moto: staff register an endpoint, each
event type is written with its change and delivered exactly once although the receiver fails
twice, signed as Standard Webhooks says (checked with the independent `standardwebhooks`
library), and a receiver checking a tampered delivery refuses it."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from reussite import db
from reussite.identity import service as identity
from reussite.identity.models import Role
from reussite.ledger import service as ledger
from reussite.ledger.models import LotKind
from reussite.webhooks import TYPES
from reussite_local import functions
from tests import helpers

WORKER = helpers.FUNCTIONS["webhook_delivery"]


class Receiver:
    """A school's endpoint that answers 500 to the first two tries of each message."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.tries: dict[str, int] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                message = self.headers["webhook-id"]
                receiver.tries[message] = receiver.tries.get(message, 0) + 1
                if receiver.tries[message] <= 2:
                    self.send_response(500)
                else:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.received.append({"headers": headers, "body": body})
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/reussite"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.server.shutdown()


def _deliver_all(tries: int = 4) -> None:
    """What SQS does: every pending delivery handed to the worker, again after each failure
    (the queue's retries), and once more after it succeeded (a duplicate message)."""
    for _ in range(tries):
        pending = db.connection().execute("SELECT id FROM webhook_deliveries").fetchall()
        records = [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "h",
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "x",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-3:1:WebhookQueue",
                "awsRegion": "eu-west-3",
                "body": json.dumps({"delivery_id": str(r["id"])}),
            }
            for r in pending
        ]
        for start in range(0, len(records), 10):
            functions.invoke(WORKER, {"Records": records[start : start + 10]})


def test_each_event_is_delivered_once_signed_although_the_receiver_fails_twice(
    database_url: str, principal: Any, receiver: Receiver, local_aws: Any
) -> None:
    db.connection().execute("UPDATE webhook_endpoints SET active = false")
    admin = principal(Role.ADMIN)
    status, endpoint = helpers.call(
        "identity_api",
        "POST",
        "/v1/admin/webhooks",
        admin,
        {"url": receiver.url, "events": list(TYPES)},
        key=str(uuid.uuid4()),
    )
    assert status == 201 and endpoint["secret"].startswith("whsec_")
    # Each change: a pack paid, a plan paid then renewed, a plan that lapses, an exam passed
    # (graded, its certificate issued) and the certificate revoked, a report written.
    buyer_principal = principal(Role.PARENT)
    family = {"name": "Webhooks", "children": [{"display_name": "Ines"}, {"display_name": "Omar"}]}
    made = helpers.call(
        "identity_api", "POST", "/v1/families", buyer_principal, family, str(uuid.uuid4())
    )[1]
    buyer = identity.resolve_user(buyer_principal)
    ines, omar = (uuid.UUID(c["student_id"]) for c in made["children"])
    helpers.pay_plan(buyer, ines, "HYBRIDE")
    helpers.pay_plan(buyer, ines, "HYBRIDE")  # the next period, paid ahead: renewed
    start = date(2026, 1, 5)
    helpers.pay_plan(buyer, omar, "ACCES_PLATEFORME", today=start)
    from reussite.offers import service as offers
    from reussite.settings import get_settings

    offers.run_lifecycle(start + timedelta(days=31))
    offers.run_lifecycle(start + timedelta(days=32 + get_settings().subscription_grace_days))
    student = principal(Role.ELEVE)
    sid = identity.resolve_user(student).student_id
    assert sid is not None
    ledger.grant(ledger.wallet_of(sid), 5, LotKind.PURCHASE, key="pack", purpose="pack")
    _, attempt = helpers.call(
        "exam_start", "POST", "/v1/exams/MATHS-PROP/attempts", student, {}, key=str(uuid.uuid4())
    )
    keys = db.read_one("SELECT questions FROM exam_attempts WHERE id = %s", (attempt["id"],))
    assert keys is not None
    helpers.call(
        "exam_submit",
        "POST",
        f"/v1/attempts/{attempt['id']}/submit",
        student,
        {
            "attempt_token": attempt["attempt_token"],
            "answers": {q["id"]: q["answer"] for q in keys["questions"]},
        },
    )
    from reussite.certificates import service as certificates

    issued = certificates.issue(uuid.UUID(attempt["id"]))
    certificates.revoke(identity.resolve_user(admin), issued.code, "webhook test")
    from reussite.bilans import service as bilans

    asked = bilans.request(buyer, ines, helpers_questionnaire(), str(uuid.uuid4()))
    bilans.generate(str(asked.id))

    _deliver_all()

    secret = Webhook(endpoint["secret"])
    seen = []
    for delivery in receiver.received:
        payload = secret.verify(delivery["body"], delivery["headers"])  # raises if forged
        seen.append(payload["type"])
    ids = [d["headers"]["webhook-id"] for d in receiver.received]
    assert len(ids) == len(set(ids))  # each delivered once, although retried and duplicated
    assert set(seen) == set(TYPES), seen
    assert all(n == 3 for n in receiver.tries.values())  # two failures, then delivered
    status, log = helpers.call(
        "identity_api",
        "GET",
        f"/v1/admin/webhooks/{endpoint['id']}/deliveries",
        admin,
        query="limit=100",
    )
    assert status == 200 and {d["status"] for d in log["items"]} == {"DELIVERED"}
    assert all(d["attempts"] == 3 for d in log["items"])


def helpers_questionnaire() -> dict[str, Any]:
    return {
        "age": 15,
        "school_level": "1ere-secondaire",
        "favourite_subjects": ["maths"],
        "interests": ["sciences"],
        "learning_style": "visuel",
        "weekly_study_hours": 8,
        "motivation": 3,
        "stress": 3,
    }


def test_a_tampered_or_wrongly_signed_delivery_fails_the_receivers_check(
    database_url: str,
) -> None:
    from reussite.webhooks import signing

    secret = signing.endpoint_secret("salt-for-the-test")
    body = b'{"type":"payment.succeeded","data":{"reference":"RSS-AAAA-BBBB"}}'
    stamp = int(__import__("time").time())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(stamp),
        "webhook-signature": signing.sign(secret, "msg_1", stamp, body),
    }
    assert Webhook(secret).verify(body, headers)["type"] == "payment.succeeded"
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"AAAA", b"ZZZZ"), headers)
    other = signing.endpoint_secret("another-endpoint")
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, headers)


def test_registering_replays_the_first_answer_and_refuses_another_request_with_the_key(
    database_url: str, principal: Any
) -> None:
    staff = principal(Role.ASSISTANTE)
    body = {"url": "http://127.0.0.1:9/school", "events": ["payment.succeeded"]}

    first = helpers.call("identity_api", "POST", "/v1/admin/webhooks", staff, body, key="w-1")
    again = helpers.call("identity_api", "POST", "/v1/admin/webhooks", staff, body, key="w-1")
    other = helpers.call(
        "identity_api",
        "POST",
        "/v1/admin/webhooks",
        staff,
        body | {"events": ["bilan.completed"]},
        key="w-1",
    )

    assert first[0] == 201 and again == first  # the same endpoint and secret, once
    assert (other[0], other[1]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    count = db.read_one(
        "SELECT count(*) AS n FROM webhook_endpoints WHERE url = %s AND idempotency_key = 'w-1'",
        (body["url"],),
    )
    assert count == {"n": 1}
    status, problem = helpers.call(
        "identity_api",
        "POST",
        "/v1/admin/webhooks",
        staff,
        {"url": "ftp://school", "events": ["nope"]},
        key="w-2",
    )
    assert (status, problem["code"]) == (422, "VALIDATION_FAILED")


REFUSED = [
    "http://hooks.example.com/reussite",  # not https
    "https://127.0.0.1/hook",
    "https://10.0.0.5/hook",
    "https://192.168.1.20:8443/hook",
    "https://169.254.169.254/latest/meta-data/",  # the cloud's metadata service
    "https://[::1]/hook",
    "https://[::ffff:10.0.0.1]/hook",
    "https://[fd00::1]/hook",
    "https://224.0.0.1/hook",
    "https://localhost:8443/hook",
    "https://billing.internal/hook",
    "https://printer.local/hook",
    "https://user:secret@hooks.example.com/hook",
]


def test_only_https_urls_on_public_hosts_receive_events(
    database_url: str, principal: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reussite.settings import get_settings
    from reussite.webhooks import urls

    for url in REFUSED:
        assert urls.refusal(url, private_allowed=False), url
    for url in ("https://hooks.example.com/reussite", "https://93.184.216.34/hook"):
        assert urls.refusal(url, private_allowed=False) is None, url
    # a public-looking name that resolves to this machine is refused before each delivery
    assert urls.resolved_refusal(f"https://{socket.gethostname()}/hook", False)

    monkeypatch.setenv("WEBHOOK_PRIVATE_ADDRESSES", "refuse")
    get_settings.cache_clear()
    try:
        admin = principal(Role.ADMIN)
        for url in ("https://169.254.169.254/latest/", "http://hooks.example.com/x"):
            body = {"url": url, "events": ["payment.succeeded"]}
            status, problem = helpers.call(
                "identity_api", "POST", "/v1/admin/webhooks", admin, body, str(uuid.uuid4())
            )
            assert (status, problem["code"]) == (422, "WEBHOOK_URL_REFUSED"), url
    finally:
        monkeypatch.delenv("WEBHOOK_PRIVATE_ADDRESSES")
        get_settings.cache_clear()


def test_a_receivers_redirect_is_not_followed(
    database_url: str, principal: Any, local_aws: Any
) -> None:
    """A redirect (to the metadata service, say) is an undelivered answer, and the address it
    names is never called."""
    called: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            called.append(self.path)
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.1:{server.server_port}/elsewhere")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        db.connection().execute("UPDATE webhook_endpoints SET active = false")
        body = {"url": f"http://127.0.0.1:{server.server_port}/hook", "events": ["bilan.completed"]}
        admin = principal(Role.ADMIN)
        status, endpoint = helpers.call(
            "identity_api", "POST", "/v1/admin/webhooks", admin, body, str(uuid.uuid4())
        )
        assert status == 201
        with db.transaction() as conn:
            from reussite import webhooks

            webhooks.emit(conn, "bilan.completed", f"bilan:{uuid.uuid4()}", {"probe": True})
        _deliver_all(tries=2)
        log = (
            db.connection()
            .execute(
                "SELECT status, last_status FROM webhook_deliveries WHERE endpoint_id = %s",
                (endpoint["id"],),
            )
            .fetchall()
        )
        assert [(r["status"], r["last_status"]) for r in log] == [("PENDING", 307)]
        assert called == ["/hook", "/hook"]
    finally:
        server.shutdown()
