"""Orientation reports: eligibility, the queue worker's three passes through each writer (the
offline one, and Gemini and OpenAI against fake servers speaking their documented formats),
retries, failure to the DLQ, duplicates, ownership and a page that keeps model output inert."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from reussite import db
from reussite.identity import service as identity
from reussite.identity.models import Principal, Role
from reussite.settings import get_settings
from reussite_local import functions
from reussite_local.aws import LocalAws
from reussite_local.events import http_api_event
from reussite_local.konnect import FakeKonnect
from reussite_local.llm import FakeModels
from reussite_local.sqs import QueueDelivery
from reussite_local.tokens import principal_claims
from tests import helpers

WORKER = helpers.FUNCTIONS["bilan_worker"]
ANSWERS = {
    "age": 16,
    "school_level": "2e-secondaire",
    "track": "Sciences expérimentales",
    "average": 13.5,
    "favourite_subjects": ["svt", "physique"],
    "difficult_subjects": ["maths"],
    "interests": ["sante", "social"],
    "learning_style": "visuel",
    "weekly_study_hours": 6,
    "motivation": 4,
    "stress": 4,
    "career_ideas": "Kinésithérapeute ou infirmière",
    "constraints": "Rester à Sfax pour les études si possible",
}


def ask(
    who: Principal, student: uuid.UUID | None, answers: Any = None, key: str | None = None
) -> tuple[int, Any]:
    body: dict[str, Any] = {"questionnaire": ANSWERS if answers is None else answers}
    if student is not None:
        body["student_id"] = str(student)
    return helpers.call("bilans_api", "POST", "/v1/bilans", who, body, key or str(uuid.uuid4()))


def read(who: Principal, bilan_id: str) -> tuple[int, Any]:
    return helpers.call("bilans_api", "GET", f"/v1/bilans/{bilan_id}", who)


def read_page(who: Principal, bilan_id: str) -> dict[str, Any]:
    event = http_api_event(
        "GET",
        f"/v1/bilans/{bilan_id}",
        claims=principal_claims(who),
        headers={"Accept": "text/html,application/xhtml+xml"},
    )
    return dict(functions.invoke(helpers.FUNCTIONS["bilans_api"], event))


@pytest.fixture
def paid_family(database_url: str, principal: Any, konnect: FakeKonnect) -> Any:
    """A parent whose child has a HYBRIDE plan paid through Konnect: (parent, child)."""
    parent = principal(Role.PARENT, "Amel Trabelsi")
    child = identity.create_child(identity.resolve_user(parent), "Rayen Trabelsi").student_id
    body = {"product_code": "HYBRIDE", "student_id": str(child)}
    _, order = helpers.call(
        "payments_api", "POST", "/v1/payments/checkout", parent, body, str(uuid.uuid4())
    )
    konnect.complete(order["payment_ref"])
    status, settled = helpers.call(
        "payment_webhook",
        "GET",
        "/v1/webhooks/konnect",
        query=f"payment_ref={order['payment_ref']}",
    )
    assert (status, settled["status"]) == (200, "PAID")
    return parent, child


@pytest.fixture
def deliver(local_aws: LocalAws) -> Any:
    """Deliver the bilan queue to the worker until it stays empty, as the local stack does."""
    delivery = QueueDelivery(
        local_aws, WORKER, WORKER.queues[0], get_settings().require("bilan_queue_url")
    )

    return helpers.Deliveries(delivery)


@pytest.fixture(scope="module")
def fake_models() -> Iterator[FakeModels]:
    fake = FakeModels().start()
    yield fake
    fake.stop()


@pytest.fixture
def model_writer(fake_models: FakeModels, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Switch the writer to Gemini or OpenAI, both served by the fake."""
    fake_models.reset()

    def use(name: str, attempts: int = 4) -> FakeModels:
        monkeypatch.setenv("REPORT_WRITER", name)
        monkeypatch.setenv("GEMINI_BASE_URL", fake_models.url)
        monkeypatch.setenv("GEMINI_API_KEY", fake_models.gemini_key)
        monkeypatch.setenv("OPENAI_BASE_URL", fake_models.url)
        monkeypatch.setenv("OPENAI_API_KEY", fake_models.openai_key)
        monkeypatch.setenv("LLM_MAX_ATTEMPTS", str(attempts))
        monkeypatch.setenv("LLM_BACKOFF_MS", "10")
        get_settings.cache_clear()
        return fake_models

    yield use
    monkeypatch.undo()
    get_settings.cache_clear()


def dlq_messages(local_aws: LocalAws) -> list[dict[str, Any]]:
    sqs = local_aws.client("sqs")
    url = sqs.get_queue_url(QueueName="BilanDlq")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    for m in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in messages]


# -- asking ------------------------------------------------------------------------------------


def test_only_paid_families_get_one_report_a_year(
    database_url: str, principal: Any, paid_family: Any
) -> None:
    parent, child = paid_family
    unpaid_parent = principal(Role.PARENT)
    unpaid_child = identity.create_child(identity.resolve_user(unpaid_parent), "Sans Abonnement")
    staff_given = principal(Role.PARENT)
    given_child = identity.create_child(identity.resolve_user(staff_given), "Offert").student_id
    db.connection().execute(  # a plan switched on by hand (as before periods), never paid
        """INSERT INTO subscriptions (student_id, plan_code, status, started_at, anchor_on,
                                      period_index, period_start, period_end)
           VALUES (%s, 'HYBRIDE', 'ACTIVE', now(), current_date, 0, current_date,
                   current_date + 30)""",
        (given_child,),
    )

    assert ask(unpaid_parent, unpaid_child.student_id)[1]["code"] == "NOT_ELIGIBLE"
    status, problem = ask(staff_given, given_child)
    assert (status, problem["code"]) == (403, "NOT_ELIGIBLE")
    status, accepted = ask(parent, child)
    assert status == 202 and accepted["status"] == "PENDING"
    status, problem = ask(parent, child)
    assert (status, problem["code"]) == (409, "BILAN_LIMIT_REACHED")

    db.connection().execute(  # a year and a month later
        "UPDATE bilans SET created_at = now() - interval '13 months' WHERE id = %s",
        (accepted["id"],),
    )
    assert ask(parent, child)[0] == 202


def time_today() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC).date()


def test_a_replayed_request_is_the_same_report_and_a_bad_one_is_a_422(paid_family: Any) -> None:
    parent, child = paid_family
    key = str(uuid.uuid4())

    first = ask(parent, child, key=key)
    again = ask(parent, child, key=key)
    status, problem = ask(parent, child, {**ANSWERS, "age": 3, "interests": ["astrologie"]})

    assert first[0] == 202 and again == first
    assert status == 422 and problem["code"] == "VALIDATION_FAILED"
    fields = {tuple(e["loc"][-2:]) for e in problem["errors"]}
    assert ("questionnaire", "age") in fields and ("interests", 0) in fields


def test_concurrent_requests_for_one_student_make_one_report(paid_family: Any) -> None:
    parent, child = paid_family

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(lambda _: ask(parent, child)[0], range(6)))

    assert statuses == [202] + [409] * 5


# -- writing -----------------------------------------------------------------------------------


def test_the_offline_writer_completes_a_useful_report_and_emails_the_owner(
    paid_family: Any, deliver: Any, local_aws: LocalAws
) -> None:
    parent, child = paid_family
    _, accepted = ask(parent, child)

    deliver()

    status, report = read(parent, accepted["id"])
    assert status == 200 and report["status"] == "COMPLETED" and report["passes_done"] == 3
    text = report["report_markdown"]
    assert text.startswith("# Bilan d'orientation — Rayen Trabelsi")
    for section in ("Analyse initiale", "Analyse psychopédagogique", "Orientation"):
        assert f"## {section}" in text
    assert "13.5/20" in text and "Mathématiques" in text  # the average, the subject to work on
    assert "1. **Santé**" in text  # health interests + SVT/physics: health comes first
    assert "Kinésithérapeute ou infirmière" in text and "Sfax" in text
    assert helpers.mailed_to(local_aws, accepted["id"]) == [[parent.email]]
    assert dlq_messages(local_aws) == []


def test_the_offline_report_is_deterministic(database_url: str) -> None:
    from reussite.bilans.offline import OfflineWriter
    from reussite.bilans.writers import PASSES

    writer = OfflineWriter()
    first = [writer.write(p, ANSWERS, []) for p in PASSES]
    assert first == [writer.write(p, dict(ANSWERS), []) for p in PASSES]


@pytest.mark.parametrize("api", ["gemini", "openai"])
def test_model_writers_speak_their_documented_apis(
    api: str, paid_family: Any, deliver: Any, model_writer: Any
) -> None:
    fake = model_writer(api)
    parent, child = paid_family
    _, accepted = ask(parent, child)

    deliver()

    report = read(parent, accepted["id"])[1]
    assert report["status"] == "COMPLETED"
    assert "rédigée par le modèle" in report["report_markdown"]
    assert [r["api"] for r in fake.requests] == [api] * 3
    first = fake.requests[0]
    if api == "gemini":
        assert first["path"] == "/v1beta/models/gemini-2.5-flash:generateContent"
        assert first["headers"]["x-goog-api-key"] == fake.gemini_key
        assert first["body"]["contents"][0]["role"] == "user"
        assert "Analyse initiale" in first["body"]["contents"][0]["parts"][0]["text"]
        assert first["body"]["systemInstruction"]["parts"][0]["text"]
    else:
        assert first["path"] == "/v1/chat/completions"
        assert first["headers"]["authorization"] == f"Bearer {fake.openai_key}"
        assert first["body"]["model"] == "gpt-4o-mini"
        assert [m["role"] for m in first["body"]["messages"]] == ["system", "user"]
    # each pass sees the sections already written
    assert "Analyse initiale" in json.dumps(fake.requests[2]["body"], ensure_ascii=False)


def test_a_writer_failing_twice_then_succeeding_makes_one_report(
    paid_family: Any, deliver: Any, model_writer: Any, local_aws: LocalAws
) -> None:
    fake = model_writer("gemini", attempts=1)  # every failure costs a delivery
    fake.fail_next(2, status=503)
    parent, child = paid_family
    _, accepted = ask(parent, child)

    deliver()

    report = read(parent, accepted["id"])[1]
    assert report["status"] == "COMPLETED" and report["failure_reason"] is None
    assert len(fake.requests) == 2 + 3
    assert helpers.mailed_to(local_aws, accepted["id"]) == [[parent.email]]
    assert dlq_messages(local_aws) == []


def test_the_client_retries_429_and_5xx_with_backoff(
    paid_family: Any, deliver: Any, model_writer: Any
) -> None:
    fake = model_writer("openai", attempts=4)
    fake.fail_next(3, status=429)
    parent, child = paid_family
    _, accepted = ask(parent, child)

    deliver()

    assert read(parent, accepted["id"])[1]["status"] == "COMPLETED"
    assert len(fake.requests) == 3 + 3  # one delivery: three refusals, then three passes


def test_a_writer_always_failing_ends_failed_with_the_message_in_the_dlq(
    paid_family: Any, deliver: Any, model_writer: Any, local_aws: LocalAws
) -> None:
    fake = model_writer("gemini", attempts=2)
    fake.failing = 500
    parent, child = paid_family
    _, accepted = ask(parent, child)

    deliver()

    report = read(parent, accepted["id"])[1]
    assert report["status"] == "FAILED"
    assert "gemini answered 500 after 2 attempts" in report["failure_reason"]
    assert report["report_markdown"] is None  # nothing half-written
    assert dlq_messages(local_aws) == [{"bilan_id": accepted["id"]}]
    assert len(fake.requests) == 3 * 2  # three deliveries, two attempts each
    assert helpers.mailed_to(local_aws, accepted["id"]) == [[parent.email]]
    page = read_page(parent, accepted["id"])
    assert 'data-status="FAILED"' in page["body"] and "support" in page["body"]


def test_a_duplicated_message_generates_once(
    paid_family: Any, deliver: Any, model_writer: Any, local_aws: LocalAws
) -> None:
    fake = model_writer("openai")
    parent, child = paid_family
    _, accepted = ask(parent, child)
    sqs = local_aws.client("sqs")
    for _ in range(3):
        sqs.send_message(
            QueueUrl=get_settings().bilan_queue_url,
            MessageBody=json.dumps({"bilan_id": accepted["id"]}),
        )
    record = json.loads((helpers.functions.EVENTS / "bilan_worker.json").read_text())["Records"][0]
    record["body"] = json.dumps({"bilan_id": accepted["id"]})

    with ThreadPoolExecutor(max_workers=3) as pool:  # the same message, three workers at once
        list(pool.map(lambda _: functions.invoke(WORKER, {"Records": [record]}), range(3)))
    deliver()

    assert read(parent, accepted["id"])[1]["status"] == "COMPLETED"
    assert len(fake.requests) == 3  # one generation: three passes
    assert helpers.mailed_to(local_aws, accepted["id"]) == [[parent.email]]


# -- reading -----------------------------------------------------------------------------------


def test_only_the_owner_and_the_students_parents_read_it(paid_family: Any, principal: Any) -> None:
    parent, child = paid_family
    _, accepted = ask(parent, child)

    assert read(parent, accepted["id"])[0] == 200
    for stranger in (principal(Role.PARENT), principal(Role.ELEVE), principal(Role.ADMIN)):
        status, problem = read(stranger, accepted["id"])
        assert (status, problem["code"]) == (404, "BILAN_NOT_FOUND")
    assert read(parent, str(uuid.uuid4()))[0] == 404


def test_the_pending_page_refreshes_itself(paid_family: Any) -> None:
    parent, child = paid_family
    _, accepted = ask(parent, child)

    page = read_page(parent, accepted["id"])

    assert page["statusCode"] == 200 and page["headers"]["content-type"].startswith("text/html")
    assert '<meta http-equiv="refresh" content="5">' in page["body"]
    assert 'data-status="PENDING"' in page["body"]


def test_model_output_with_script_is_rendered_inert(
    paid_family: Any, deliver: Any, model_writer: Any
) -> None:
    fake = model_writer("gemini")
    fake.reply = (
        "### Conseils\n\n<script>alert('pwned')</script>\n\n"
        "[cliquez ici](javascript:alert(1)) et <img src=x onerror=alert(2)>\n\n**Bon courage**"
    )
    parent, child = paid_family
    _, accepted = ask(parent, child)
    deliver()

    page = read_page(parent, accepted["id"])

    body = page["body"]
    assert "<strong>Bon courage</strong>" in body and "<h3>Conseils</h3>" in body
    assert "<script>alert" not in body and "&lt;script&gt;" in body
    assert "<img" not in body and 'href="javascript:' not in body
    policy = page["headers"]["content-security-policy"]
    assert "script-src 'nonce-" in policy and "default-src 'none'" in policy
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert body.count("<script") == 1 and f'<script nonce="{nonce}">' in body


def test_the_emails_link_opens_the_report_without_signing_in_and_nothing_else_does(
    paid_family: Any, deliver: Any, local_aws: LocalAws
) -> None:
    import re
    import time

    from reussite import links

    parent, child = paid_family
    _, accepted = ask(parent, child)
    deliver()
    (mail,) = helpers.emails(local_aws, accepted["id"])
    link = re.search(r"https?://\S+/v1/bilans/(\S+)/page\?token=(\S+)", mail["body"])
    assert link is not None and link.group(1) == accepted["id"]
    token = link.group(2)

    def page(bilan_id: str, token: str, accept: str = "text/html") -> tuple[int, str]:
        event = http_api_event(
            "GET",
            f"/v1/bilans/{bilan_id}/page",
            query=f"token={token}",
            headers={"Accept": accept},
        )
        result = functions.invoke(helpers.FUNCTIONS["bilans_api"], event)  # no token: public
        return result["statusCode"], result["body"]

    status, body = page(accepted["id"], token)
    assert status == 200 and 'data-status="COMPLETED"' in body and "Rayen Trabelsi" in body
    altered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    other = links.sign(f"bilan:{uuid.uuid4()}")
    expired = links.sign(f"bilan:{accepted['id']}", ttl_seconds=60, now=time.time() - 3600)
    for bilan_id, bad in (
        (accepted["id"], altered),
        (accepted["id"], other),
        (accepted["id"], expired),
    ):
        status, body = page(bilan_id, bad)
        assert status == 403 and "LINK_REFUSED" in body and "Connectez-vous" in body
    assert page(str(uuid.uuid4()), token)[0] == 403  # a token names one report
    status, body = page(accepted["id"], altered, accept="application/json")
    assert status == 403 and '"code":"LINK_REFUSED"' in body.replace(" ", "")
