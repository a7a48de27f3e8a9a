"""Faults, injected for real: a PostgreSQL connection killed in the middle of a transaction (by
the server, from a trigger the test installs), an SQS queue that is not there, a worker that
died holding its work, a worker killed after its side effect. Each ends with nothing lost,
nothing doubled, and the ledger's invariant check clean."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from reussite import db
from reussite.identity import service as identity
from reussite.identity.models import Role
from reussite.ledger import jobs
from reussite.ledger import service as ledger
from reussite.ledger.models import LotKind
from reussite.settings import get_settings
from reussite_local.aws import LocalAws
from reussite_local.konnect import FakeKonnect
from reussite_local.sqs import QueueDelivery
from tests import helpers


@contextlib.contextmanager
def connection_killed_on(table: str, event: str = "INSERT") -> Iterator[None]:
    """While active, the server terminates whichever connection writes `table`: the
    transaction dies half-way, as when a proxy or a failover drops it."""
    admin = db.connection()
    name = f"kill_{table}_{event.lower()}"
    admin.execute(
        f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$"""
    )
    admin.execute(
        f"CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()"
    )
    try:
        yield
    finally:
        db.close()  # this thread's connection may be the one that died
        admin = db.connection()
        admin.execute(f"DROP TRIGGER {name} ON {table}")
        admin.execute(f"DROP FUNCTION {name}()")


def debits(student_id: Any) -> int:
    row = db.read_one(
        """SELECT count(*) AS n FROM ledger_entries e JOIN wallets w ON w.id = e.wallet_id
            WHERE w.student_id = %s AND e.kind = 'SPEND'""",
        (student_id,),
    )
    assert row is not None
    return int(row["n"])


QUESTIONNAIRE = {
    "age": 14,
    "school_level": "9e",
    "favourite_subjects": ["arts"],
    "interests": ["arts"],
    "learning_style": "visuel",
    "weekly_study_hours": 5,
    "motivation": 3,
    "stress": 2,
}


def paid_plan(principal: Any, konnect: FakeKonnect, plan: str) -> tuple[Any, Any]:
    """A parent whose new child's plan was just paid through Konnect: (parent, child id)."""
    parent = principal(Role.PARENT)
    child = identity.create_child(identity.resolve_user(parent), "Enfant").student_id
    body = {"product_code": plan, "student_id": str(child)}
    _, order = helpers.call(
        "payments_api", "POST", "/v1/payments/checkout", parent, body, str(uuid.uuid4())
    )
    konnect.complete(order["payment_ref"])
    paid = f"payment_ref={order['payment_ref']}"
    assert helpers.call("payment_webhook", "GET", "/v1/webhooks/konnect", query=paid)[0] == 200
    return parent, child


@pytest.fixture
def eleve(database_url: str, principal: Any) -> Any:
    who = principal(Role.ELEVE)
    student = identity.resolve_user(who).student_id
    assert student is not None
    ledger.grant(ledger.wallet_of(student), 10, LotKind.PURCHASE, key="p", purpose="pack")
    return who, student


def test_a_connection_dropped_mid_start_debits_nothing_and_the_retry_debits_once(
    eleve: Any,
) -> None:
    who, student = eleve
    key = str(uuid.uuid4())
    path = "/v1/exams/FR-A1/attempts"

    with connection_killed_on("exam_attempts"):  # after the debit, before the attempt
        status, problem = helpers.call("exam_start", "POST", path, who, {}, key)

    assert status == 503 and problem["code"] == "DEPENDENCY_UNAVAILABLE"
    assert debits(student) == 0  # the debit died with its transaction
    status, attempt = helpers.call("exam_start", "POST", path, who, {}, key)
    assert status == 201 and debits(student) == 1
    again = helpers.call("exam_start", "POST", path, who, {}, key)
    assert again == (201, attempt) and debits(student) == 1
    assert jobs.check_invariants().clean


def test_a_connection_dropped_mid_fulfilment_grants_nothing_until_the_retry(
    database_url: str, principal: Any, konnect: FakeKonnect
) -> None:
    parent = principal(Role.PARENT)
    child = identity.create_child(identity.resolve_user(parent), "Enfant").student_id
    body = {"product_code": "PACK_5", "student_id": str(child)}
    _, order = helpers.call(
        "payments_api", "POST", "/v1/payments/checkout", parent, body, str(uuid.uuid4())
    )
    konnect.complete(order["payment_ref"])
    query = f"payment_ref={order['payment_ref']}"

    with connection_killed_on("provider_events"):
        status, _ = helpers.call("payment_webhook", "GET", "/v1/webhooks/konnect", query=query)

    assert status >= 500  # Konnect will call again
    assert db.read_one("SELECT status, lot_id FROM orders WHERE id = %s", (order["id"],)) == {
        "status": "PENDING",
        "lot_id": None,
    }
    status, settled = helpers.call("payment_webhook", "GET", "/v1/webhooks/konnect", query=query)
    assert (status, settled["status"]) == (200, "PAID")
    lots = db.read_one(
        """SELECT count(*) AS n, sum(amount) AS credits FROM credit_lots l
             JOIN wallets w ON w.id = l.wallet_id WHERE w.student_id = %s""",
        (child,),
    )
    assert lots == {"n": 1, "credits": 5}
    assert jobs.check_invariants().clean


def test_sqs_down_when_a_report_is_asked_then_the_retry_queues_it_once(
    database_url: str, principal: Any, konnect: FakeKonnect, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent, child = paid_plan(principal, konnect, "HYBRIDE")
    body = {"student_id": str(child), "questionnaire": QUESTIONNAIRE}
    key = str(uuid.uuid4())
    real_queue = get_settings().bilan_queue_url
    assert real_queue
    monkeypatch.setenv("BILAN_QUEUE_URL", real_queue.rsplit("/", 1)[0] + "/NoSuchQueue")
    get_settings.cache_clear()

    status, problem = helpers.call("bilans_api", "POST", "/v1/bilans", parent, body, key)

    monkeypatch.setenv("BILAN_QUEUE_URL", real_queue)
    get_settings.cache_clear()
    assert (status, problem["code"]) == (503, "DEPENDENCY_UNAVAILABLE")
    status, accepted = helpers.call("bilans_api", "POST", "/v1/bilans", parent, body, key)
    assert status == 202
    rows = (
        db.connection()
        .execute("SELECT id, status FROM bilans WHERE student_id = %s", (child,))
        .fetchall()
    )
    assert [str(r["id"]) for r in rows] == [accepted["id"]]  # one report, queued now
    assert jobs.check_invariants().clean


def test_a_report_whose_message_was_never_sent_is_queued_again_by_the_sweeper(
    database_url: str,
    principal: Any,
    konnect: FakeKonnect,
    local_aws: LocalAws,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parent, child = paid_plan(principal, konnect, "ACCES_PLATEFORME")
    body = {"student_id": str(child), "questionnaire": QUESTIONNAIRE}
    real_queue = get_settings().bilan_queue_url
    assert real_queue
    monkeypatch.setenv("BILAN_QUEUE_URL", real_queue.rsplit("/", 1)[0] + "/NoSuchQueue")
    get_settings.cache_clear()
    status, _ = helpers.call("bilans_api", "POST", "/v1/bilans", parent, body, "once")
    monkeypatch.setenv("BILAN_QUEUE_URL", real_queue)
    get_settings.cache_clear()
    assert status == 503  # and the family never retries
    db.connection().execute(
        "UPDATE bilans SET created_at = now() - interval '20 minutes' WHERE student_id = %s",
        (child,),
    )
    sweeper = helpers.FUNCTIONS["bilan_sweeper"]

    swept = helpers.functions.invoke(sweeper, helpers.functions.sample_event(sweeper))

    assert swept["requeued"] >= 1
    worker = helpers.FUNCTIONS["bilan_worker"]
    helpers.drain(QueueDelivery(local_aws, worker, worker.queues[0], real_queue))
    assert db.read_one("SELECT status FROM bilans WHERE student_id = %s", (child,)) == {
        "status": "COMPLETED"
    }


def test_a_worker_that_died_holding_a_report_is_relieved_and_writes_it_once(
    database_url: str, principal: Any, konnect: FakeKonnect, local_aws: LocalAws
) -> None:
    parent, child = paid_plan(principal, konnect, "IMMERSION")
    _, accepted = helpers.call(
        "bilans_api",
        "POST",
        "/v1/bilans",
        parent,
        {"student_id": str(child), "questionnaire": QUESTIONNAIRE},
        str(uuid.uuid4()),
    )
    # A worker timed out half-way: it still holds the report (its claim), one pass written.
    db.connection().execute(
        """UPDATE bilans SET claimed_until = now() + interval '1 minute', passes_done = 1
            WHERE id = %s""",
        (accepted["id"],),
    )
    worker = helpers.FUNCTIONS["bilan_worker"]
    delivery = QueueDelivery(
        local_aws, worker, worker.queues[0], get_settings().require("bilan_queue_url")
    )

    delivery.deliver_once()  # the retry finds the report held: it comes back later
    assert db.read_one("SELECT status FROM bilans WHERE id = %s", (accepted["id"],)) == {
        "status": "PENDING"
    }
    db.connection().execute(  # the dead worker's claim runs out
        "UPDATE bilans SET claimed_until = now() - interval '1 second' WHERE id = %s",
        (accepted["id"],),
    )
    for _ in range(10):
        time.sleep(0.5)
        delivery.deliver_once()
        done = db.read_one(
            "SELECT status, passes_done FROM bilans WHERE id = %s", (accepted["id"],)
        )
        if done and done["status"] != "PENDING":
            break

    assert done == {"status": "COMPLETED", "passes_done": 3}
    assert jobs.check_invariants().clean


def test_a_certificate_worker_killed_after_storing_the_pdf_finishes_once(
    database_url: str, principal: Any, local_aws: LocalAws
) -> None:
    """The PDF is in S3, then the connection dies before that is recorded: the retry stores
    it again under the same key and ends with one certificate, one PDF, one email."""
    who = principal(Role.ELEVE, "Reprise Après Panne")
    student = identity.resolve_user(who).student_id
    assert student is not None
    ledger.grant(ledger.wallet_of(student), 5, LotKind.PURCHASE, key="p", purpose="pack")
    _, attempt = helpers.call(
        "exam_start", "POST", "/v1/exams/MATHS-PROP/attempts", who, {}, str(uuid.uuid4())
    )
    row = db.read_one("SELECT questions FROM exam_attempts WHERE id = %s", (attempt["id"],))
    assert row is not None
    answers = {q["id"]: str(q["answer"]) for q in row["questions"]}
    helpers.call(
        "exam_submit",
        "POST",
        f"/v1/attempts/{attempt['id']}/submit",
        who,
        {"attempt_token": attempt["attempt_token"], "answers": answers},
    )
    issuer = helpers.FUNCTIONS["certificate_issue"]
    record = json.loads((helpers.functions.EVENTS / "certificate_issue.json").read_text())[
        "Records"
    ][0]
    record["body"] = json.dumps({"attempt_id": attempt["id"]})
    event = {"Records": [record]}

    with connection_killed_on("certificates", "UPDATE"):  # marking the PDF stored kills it
        failed = helpers.functions.invoke(issuer, event)
    assert failed["batchItemFailures"] == [{"itemIdentifier": record["messageId"]}]
    assert helpers.functions.invoke(issuer, event)["batchItemFailures"] == []

    certs = (
        db.connection()
        .execute(
            "SELECT pdf_key, pdf_stored_at, emailed_at FROM certificates WHERE attempt_id = %s",
            (attempt["id"],),
        )
        .fetchall()
    )
    assert len(certs) == 1 and certs[0]["pdf_stored_at"] and certs[0]["emailed_at"]
    versions = local_aws.client("s3").list_object_versions(
        Bucket=get_settings().certificates_bucket, Prefix=certs[0]["pdf_key"]
    )
    assert len(versions.get("Versions", [])) == 2  # stored twice, under one key: one PDF
    codes = db.read_one("SELECT code FROM certificates WHERE attempt_id = %s", (attempt["id"],))
    assert codes is not None and len(helpers.mailed_to(local_aws, codes["code"])) == 1
    assert jobs.check_invariants().clean
