"""Timed exams through their Lambda handlers, on real PostgreSQL and moto: credits debited once,
answer keys never sent, deadlines enforced, grading on the server, certificates queued."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from reussite import db, flags
from reussite.exams import service as exams
from reussite.exams import tokens
from reussite.exams.questions import model_answer
from reussite.identity import service as identity
from reussite.identity.models import Principal, Role
from reussite.ledger import service as ledger
from reussite.ledger.models import LotKind
from reussite.settings import get_settings
from reussite_local.aws import LocalAws
from tests.helpers import call, pay_plan


@pytest.fixture
def student(database_url: str, principal: Any) -> Any:
    """An ELEVE with `credits` credits (and a subscription when `plan` is given)."""

    def make(credits: int = 10, plan: str | None = None) -> tuple[Principal, Any]:
        who = principal(Role.ELEVE)
        student_id = identity.resolve_user(who).student_id
        assert student_id is not None
        if credits:
            wallet = ledger.wallet_of(student_id)
            ledger.grant(wallet, credits, LotKind.PURCHASE, key="pack", purpose="credit pack")
        if plan:
            pay_plan(identity.resolve_user(who), student_id, plan)
        return who, student_id

    return make


def start(who: Principal, code: str, key: str | None = None, body: Any = None) -> tuple[int, Any]:
    return call(
        "exam_start",
        "POST",
        f"/v1/exams/{code}/attempts",
        who,
        body or {},
        key=key or str(uuid.uuid4()),
    )


def submit(who: Principal, attempt: dict[str, Any], answers: dict[str, Any]) -> tuple[int, Any]:
    body = {"attempt_token": attempt["attempt_token"], "answers": answers}
    return call("exam_submit", "POST", f"/v1/attempts/{attempt['id']}/submit", who, body)


def answer_key(attempt_id: str) -> dict[str, Any]:
    row = (
        db.connection()
        .execute("SELECT questions FROM exam_attempts WHERE id = %s", (attempt_id,))
        .fetchone()
    )
    assert row is not None
    return {q["id"]: model_answer(q) for q in row["questions"]}


def debits(student_id: Any) -> int:
    row = (
        db.connection()
        .execute(
            """SELECT count(*) AS n FROM ledger_entries e JOIN wallets w ON w.id = e.wallet_id
            WHERE w.student_id = %s AND e.kind = 'SPEND'""",
            (student_id,),
        )
        .fetchone()
    )
    return int(row["n"]) if row else 0


def backdate(attempt_id: str, minutes_past_deadline: float) -> None:
    db.connection().execute(
        """UPDATE exam_attempts
              SET started_at = clock_timestamp() - make_interval(mins => 600),
                  deadline_at = clock_timestamp() - make_interval(secs => %s)
            WHERE id = %s""",
        (minutes_past_deadline * 60, attempt_id),
    )


@pytest.fixture
def flag_stage(tmp_path: Path) -> Iterator[Any]:
    """Switch the examAndCertificate rollout to a stage written as a flags file."""
    saved = get_settings().feature_flags_file

    def stage(config: dict[str, Any]) -> None:
        path = tmp_path / f"flags-{uuid.uuid4().hex}.json"
        path.write_text(json.dumps({"examAndCertificate": config}))
        _use(str(path))

    def _use(path: str | None) -> None:
        import os

        os.environ["FEATURE_FLAGS_FILE"] = path or ""
        get_settings.cache_clear()
        flags.reset()

    yield stage
    _use(saved)


STAFF_RULE = {
    "when_match": True,
    "conditions": [{"action": "KEY_IN_VALUE", "key": "role", "value": ["ADMIN", "ASSISTANTE"]}],
}


# -- catalogue ---------------------------------------------------------------------------------


def test_the_catalogue_lists_languages_wine_and_maths_with_filters(student: Any) -> None:
    who, _ = student(0)

    status, page = call("exams_api", "GET", "/v1/exams", who, query="limit=100")
    _, french_b2 = call("exams_api", "GET", "/v1/exams", who, query="language=fr&level=B2")
    exams_list, french_b2 = page["items"], french_b2["items"]
    assert page["next"] is None

    assert status == 200
    codes = {e["code"] for e in exams_list}
    assert {
        f"{lang}-{lvl}"
        for lang in ("FR", "EN", "ES", "AR")
        for lvl in ("A1", "A2", "B1", "B2", "C1", "C2")
    } <= codes
    assert {"WSET-L1", "WSET-L2", "WSET-L3", "MATHS-PROP", "MATHS-CM2"} <= codes
    assert [e["code"] for e in french_b2] == ["FR-B2"]
    assert set(french_b2[0]) == {
        "code",
        "course",
        "language",
        "level",
        "title",
        "duration_minutes",
        "passing_score",
        "credit_cost",
        "min_offer",
    }
    wset3 = exams.definition("WSET-L3")
    assert [c["key"] for c in wset3.components] == ["theory", "tasting"]


def test_questions_are_reproducible_from_the_seed() -> None:
    exam = exams.definition("MATHS-CM2")

    assert exams.build_questions(exam, 42) == exams.build_questions(exam, 42)
    assert exams.build_questions(exam, 42) != exams.build_questions(exam, 43)


# -- start -------------------------------------------------------------------------------------


def test_start_debits_once_and_never_sends_answer_keys(student: Any) -> None:
    who, student_id = student(5)

    status, attempt = start(who, "FR-A1")

    assert status == 201, attempt
    assert attempt["status"] == "IN_PROGRESS" and attempt["balance"] == 4
    assert attempt["attempt_token"] and attempt["deadline_at"] > attempt["started_at"]
    assert len(attempt["questions"]) == 10  # drawn from the pool's 42
    assert all("answer" not in q for q in attempt["questions"])
    keys = answer_key(attempt["id"])
    assert '"answer"' not in json.dumps(attempt)
    assert not any(f'"{k}"' in json.dumps(attempt["questions"]) for k in ("answer",))
    assert len(keys) == 10 and debits(student_id) == 1


def test_fifty_concurrent_starts_with_one_key_give_one_attempt_one_debit(
    student: Any, local_aws: LocalAws
) -> None:
    who, student_id = student(5)
    key = str(uuid.uuid4())
    barrier = threading.Barrier(50)

    def go(_: int) -> tuple[int, Any]:
        barrier.wait()
        try:
            return start(who, "EN-A2", key=key)
        finally:
            db.release()

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(go, range(50)))

    assert {status for status, _ in results} == {201}
    assert len({json.dumps(body, sort_keys=True) for _, body in results}) == 1  # identical
    assert debits(student_id) == 1
    row = (
        db.connection()
        .execute("SELECT count(*) AS n FROM exam_attempts WHERE student_id = %s", (student_id,))
        .fetchone()
    )
    assert row == {"n": 1}


def test_twenty_concurrent_starts_against_five_credits_start_exactly_five(student: Any) -> None:
    who, student_id = student(5)
    one_credit = [
        "FR-A1",
        "FR-A2",
        "EN-A1",
        "EN-A2",
        "ES-A1",
        "ES-A2",
        "AR-A1",
        "AR-A2",
        "MATHS-PROP",
    ]
    barrier = threading.Barrier(20)

    def go(i: int) -> int:
        barrier.wait()
        try:
            return start(who, one_credit[i % len(one_credit)])[0]
        finally:
            db.release()

    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(go, range(20)))

    assert statuses.count(201) == 5
    assert set(statuses) <= {201, 402, 409}
    assert debits(student_id) == 5
    wallet = (
        db.connection()
        .execute("SELECT balance FROM wallets WHERE student_id = %s", (student_id,))
        .fetchone()
    )
    assert wallet == {"balance": 0}
    assert exams.debit_gap() == 0


def test_a_start_whose_attempt_cannot_be_created_debits_nothing(student: Any) -> None:
    who, student_id = student(5)
    conn = db.connection()
    conn.execute(
        f"""CREATE FUNCTION fail_attempt_{student_id.hex}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.student_id = '{student_id}' THEN RAISE EXCEPTION 'disk full'; END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER fail_attempt_{student_id.hex} BEFORE INSERT ON exam_attempts
                FOR EACH ROW EXECUTE FUNCTION fail_attempt_{student_id.hex}();"""
    )
    try:
        status, problem = start(who, "FR-A1")
    finally:
        conn.execute(f"DROP TRIGGER fail_attempt_{student_id.hex} ON exam_attempts")
        conn.execute(f"DROP FUNCTION fail_attempt_{student_id.hex}()")

    assert status == 500 and problem["code"] == "INTERNAL_ERROR"
    assert "disk full" not in json.dumps(problem)
    assert debits(student_id) == 0
    assert start(who, "FR-A1")[0] == 201  # and the wallet is intact


def test_starting_again_returns_the_open_attempt(student: Any) -> None:
    who, _ = student(5)
    _, first = start(who, "ES-A1")

    status, problem = start(who, "ES-A1")

    assert (status, problem["code"]) == (409, "ATTEMPT_IN_PROGRESS")
    assert problem["attempt"]["id"] == first["id"]
    assert problem["attempt"]["attempt_token"] == first["attempt_token"]


@pytest.mark.parametrize(
    ("credits", "code", "status", "problem"),
    [
        (0, "FR-A1", 402, "INSUFFICIENT_CREDITS"),
        (5, "XX-Z9", 404, "EXAM_NOT_FOUND"),
        (5, "FR-C1", 403, "PREMIUM_REQUIRED"),
    ],
)
def test_start_refusals(student: Any, credits: int, code: str, status: int, problem: str) -> None:
    who, student_id = student(credits)

    got, body = start(who, code)

    assert (got, body["code"]) == (status, problem)
    assert debits(student_id) == 0


def test_a_premium_exam_opens_with_a_subscription_and_names_the_offer_otherwise(
    student: Any,
) -> None:
    free, _ = student(5)
    pro, _ = student(5, plan="HYBRIDE")

    status, problem = start(free, "WSET-L3")

    assert (status, problem["required_offer"], problem["current_offer"]) == (403, "pro", "free")
    assert start(pro, "WSET-L3")[0] == 201


def test_start_needs_an_idempotency_key_and_refuses_its_reuse(student: Any) -> None:
    who, _ = student(5)
    missing = call("exam_start", "POST", "/v1/exams/FR-A1/attempts", who, {})
    start(who, "FR-A1", key="same")

    reused = start(who, "EN-A1", key="same")

    assert (missing[0], missing[1]["code"]) == (400, "IDEMPOTENCY_KEY_REQUIRED")
    assert (reused[0], reused[1]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")


def lapse_claims() -> None:
    """Every in-progress claim in the idempotency store past its expiry, as it is once the
    Lambda invocation that made it has timed out."""
    from reussite import aws

    table, client = get_settings().idempotency_table, aws.client("dynamodb")
    for item in client.scan(TableName=table)["Items"]:
        if item.get("status", {}).get("S") == "INPROGRESS":
            client.update_item(
                TableName=table,
                Key={"id": item["id"]},
                UpdateExpression="SET in_progress_expiration = :past",
                ExpressionAttributeValues={":past": {"N": "1"}},
            )


def test_a_start_replays_from_the_database_and_its_key_stays_with_its_first_request(
    database_url: str, principal: Any
) -> None:
    """The front door keeps only a start's claim (no answer): while it holds, a repeat is
    compared with it; once it lapses the database replays the first attempt, identical, and
    refuses the key for the parent's other child or another exam, with nothing debited."""
    parent = principal(Role.PARENT)
    me = identity.resolve_user(parent)
    amine = identity.create_child(me, "Amine").student_id
    badr = identity.create_child(me, "Badr").student_id
    for child in (amine, badr):
        ledger.grant(ledger.wallet_of(child), 3, LotKind.PURCHASE, key=f"pack-{child}", purpose="p")
    for_amine, for_badr = {"student_id": str(amine)}, {"student_id": str(badr)}

    first = start(parent, "FR-A1", key="one-key", body=for_amine)
    while_claimed = start(parent, "FR-A1", key="one-key", body=for_badr)
    lapse_claims()
    replayed = start(parent, "FR-A1", key="one-key", body=for_amine)
    lapse_claims()
    other_child = start(parent, "FR-A1", key="one-key", body=for_badr)
    lapse_claims()
    other_exam = start(parent, "EN-A1", key="one-key", body=for_amine)

    assert first[0] == 201 and replayed == first
    for refused in (while_claimed, other_child, other_exam):
        assert (refused[0], refused[1]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED"), refused
    assert (debits(amine), debits(badr)) == (1, 0)
    balance = db.read_one("SELECT balance FROM wallets WHERE student_id = %s", (badr,))
    assert balance == {"balance": 3}


def test_a_parent_starts_an_exam_for_their_child_only(database_url: str, principal: Any) -> None:
    parent, stranger = principal(Role.PARENT), principal(Role.PARENT)
    child = identity.create_child(identity.resolve_user(parent), "Yasmine").student_id
    ledger.grant(ledger.wallet_of(child), 3, LotKind.PURCHASE, key="pack", purpose="pack")

    mine = start(parent, "FR-A1", body={"student_id": str(child)})
    theirs = start(stranger, "FR-A1", body={"student_id": str(child)})

    assert mine[0] == 201 and mine[1]["student_id"] == str(child)
    assert (theirs[0], theirs[1]["code"]) == (404, "STUDENT_NOT_FOUND")


# -- submit ------------------------------------------------------------------------------------


def test_a_pass_is_graded_on_the_server_and_queues_the_certificate(
    student: Any, local_aws: LocalAws
) -> None:
    who, _ = student(5)
    _, attempt = start(who, "MATHS-PROP")

    status, result = submit(who, attempt, answer_key(attempt["id"]))

    assert status == 200, result
    assert (result["status"], result["score"], result["passed"]) == ("GRADED", 100, True)
    assert result["component_scores"][0]["passed"] and result["certificate_requested"]
    queue = get_settings().certificate_queue_url
    requested = set()  # the queue is shared with other tests' certificate requests: read it all
    for _ in range(20):
        batch = (
            local_aws.client("sqs")
            .receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=5)
            .get("Messages", [])
        )
        requested |= {json.loads(m["Body"]).get("attempt_id") for m in batch}
        if not batch or attempt["id"] in requested:
            break
    assert attempt["id"] in requested


def test_every_component_must_pass(student: Any) -> None:
    who, _ = student(5, plan="IMMERSION")
    _, attempt = start(who, "WSET-L3")
    keys = answer_key(attempt["id"])
    row = (
        db.connection()
        .execute("SELECT questions FROM exam_attempts WHERE id = %s", (attempt["id"],))
        .fetchone()
    )
    assert row is not None
    theory_only = {q["id"]: keys[q["id"]] for q in row["questions"] if q["component"] == "theory"}

    _, result = submit(who, attempt, theory_only)  # 6/10 = 60 % overall, tasting 0 %

    assert result["score"] == 60 and not result["passed"]
    assert {c["key"]: c["passed"] for c in result["component_scores"]} == {
        "theory": True,
        "tasting": False,
    }


def test_a_replayed_submission_returns_the_same_result_and_other_answers_are_refused(
    student: Any,
) -> None:
    who, _ = student(5)
    _, attempt = start(who, "FR-A2")
    answers = {"q1": "0", "q2": "1"}

    first = submit(who, attempt, answers)
    again = submit(who, attempt, answers)
    other = submit(who, attempt, {"q1": "2"})

    assert first == again and first[0] == 200
    assert (other[0], other[1]["code"]) == (409, "ALREADY_SUBMITTED")


def test_another_students_attempt_is_a_404(student: Any) -> None:
    owner, _ = student(5)
    intruder, _ = student(5)
    _, attempt = start(owner, "FR-A1")

    read = call("exams_api", "GET", f"/v1/attempts/{attempt['id']}", intruder)
    sub = submit(intruder, attempt, {})

    assert (read[0], read[1]["code"]) == (404, "ATTEMPT_NOT_FOUND")
    assert (sub[0], sub[1]["code"]) == (404, "ATTEMPT_NOT_FOUND")
    assert call("exams_api", "GET", f"/v1/attempts/{attempt['id']}", owner)[0] == 200


def test_a_forged_token_is_refused(student: Any) -> None:
    who, _ = student(5)
    _, attempt = start(who, "FR-A1")

    forged = {**attempt, "attempt_token": attempt["attempt_token"][:-4] + "0000"}

    status, problem = submit(who, forged, answer_key(attempt["id"]))

    assert (status, problem["code"]) == (403, "ATTEMPT_TOKEN_INVALID")


@pytest.mark.parametrize(
    ("code", "plan", "minutes_late", "status", "final"),
    [
        ("FR-A1", None, 1, 422, "GRADED"),  # autosubmit: graded on what was saved (nothing)
        ("WSET-L1", None, 3, 200, "GRADED"),  # grace 5 min: still accepted
        ("WSET-L1", None, 6, 422, "OVERDUE"),  # grace over
        ("WSET-L3", "HYBRIDE", 1, 422, "ABANDONED"),  # abandon
    ],
)
def test_a_late_submission_follows_the_exams_overdue_policy(
    student: Any, code: str, plan: str | None, minutes_late: float, status: int, final: str
) -> None:
    who, student_id = student(10, plan=plan)
    _, attempt = start(who, code)
    backdate(attempt["id"], minutes_late)
    db.connection().execute("SELECT 1")
    attempt = {
        **attempt,
        "attempt_token": call("exams_api", "GET", f"/v1/attempts/{attempt['id']}", who)[1][
            "attempt_token"
        ],
    }

    got, body = submit(who, attempt, answer_key(attempt["id"]))

    assert got == status, body
    if status == 422:
        assert body["code"] == "DEADLINE_PASSED" and body["attempt"]["status"] == final
        if final == "GRADED":
            assert body["attempt"]["score"] == 0  # the late answers were not counted
    else:
        assert body["status"] == final and body["passed"]
    assert debits(student_id) == 1


def test_the_sweeper_finalises_abandoned_attempts(student: Any) -> None:
    who, _ = student(10, plan="HYBRIDE")
    attempts = [start(who, code)[1] for code in ("FR-B1", "WSET-L1", "WSET-L3")]
    for attempt in attempts:
        backdate(attempt["id"], 10)

    report = exams.sweep()

    statuses = [exams.get_attempt(identity.resolve_user(who), a["id"]).status for a in attempts]
    assert statuses == ["GRADED", "OVERDUE", "ABANDONED"]
    assert report["autosubmitted"] >= 1 and report["overdue"] >= 1 and report["abandoned"] >= 1
    assert exams.sweep()["autosubmitted"] == 0  # idempotent
    row = (
        db.connection()
        .execute(
            "SELECT id, student_id, started_at, deadline_at FROM exam_attempts WHERE id = %s",
            (attempts[0]["id"],),
        )
        .fetchone()
    )
    assert row is not None
    token = tokens.sign(row["id"], row["student_id"], row["started_at"], row["deadline_at"])
    late = submit(who, {**attempts[0], "attempt_token": token}, {})
    assert (late[0], late[1]["code"]) == (422, "DEADLINE_PASSED")  # not ALREADY_SUBMITTED


# -- rollout flag ------------------------------------------------------------------------------


def test_flag_off_hides_the_catalogue_and_refuses_starts(student: Any, flag_stage: Any) -> None:
    who, student_id = student(5)
    flag_stage({"default": False})

    assert call("exams_api", "GET", "/v1/exams", who) == (200, {"items": [], "next": None})
    status, problem = start(who, "FR-A1")
    assert (status, problem["code"]) == (403, "FEATURE_DISABLED")
    assert debits(student_id) == 0


def test_flag_staff_stage_opens_exams_to_staff_only(
    student: Any, principal: Any, flag_stage: Any
) -> None:
    who, _ = student(5)
    flag_stage({"default": False, "rules": {"staff and testers": STAFF_RULE}})

    assert call("exams_api", "GET", "/v1/exams", who)[1]["items"] == []
    assert len(call("exams_api", "GET", "/v1/exams", principal(Role.ADMIN))[1]["items"]) > 20


def test_flag_percentage_stage_is_stable_per_user(principal: Any, flag_stage: Any) -> None:
    flag_stage(
        {
            "default": False,
            "rules": {
                "30 percent": {
                    "when_match": True,
                    "conditions": [
                        {
                            "action": "MODULO_RANGE",
                            "key": "bucket",
                            "value": {"BASE": 100, "START": 0, "END": 29},
                        }
                    ],
                }
            },
        }
    )
    users = [identity.resolve_user(principal(Role.ELEVE)) for _ in range(200)]

    first = [flags.enabled(flags.EXAM_AND_CERTIFICATE, u) for u in users]
    second = [flags.enabled(flags.EXAM_AND_CERTIFICATE, u) for u in users]

    assert first == second
    assert 30 <= sum(first) <= 90  # ~30 % of 200


def test_flag_on_opens_exams_to_everyone(student: Any, flag_stage: Any) -> None:
    who, _ = student(5)
    flag_stage({"default": True})

    assert start(who, "FR-A1")[0] == 201


# -- exercises ---------------------------------------------------------------------------------


def exercise(who: Principal, **body: Any) -> tuple[int, Any]:
    return call("exams_api", "POST", "/v1/exercises/generate", who, body)


def test_free_users_fall_back_to_free_generators(student: Any) -> None:
    free, _ = student(0)

    results = [exercise(free, seed=s)[1] for s in range(20)]
    by_topic = exercise(free, topic="proportionality", seed=7)[1]

    assert {r["generator_key"] for r in results} == {"proportionality"}
    assert not any(r["is_premium"] for r in results)
    assert by_topic["generator_key"] == "proportionality"  # multiplicative_reasoning is pro


@pytest.mark.parametrize("body", [{"generator": "fraction_simplification"}, {"topic": "fractions"}])
def test_premium_required_names_the_generator_and_offer(student: Any, body: Any) -> None:
    free, _ = student(0)

    status, problem = exercise(free, **body)

    assert (status, problem["code"]) == (403, "PREMIUM_REQUIRED")
    assert (problem["generator"], problem["required_offer"]) == ("fraction_simplification", "pro")


def test_pro_users_get_premium_generators_reproducibly(student: Any) -> None:
    pro, _ = student(0, plan="ACCES_PLATEFORME")

    first = exercise(pro, generator="mental_arithmetic", seed=123)
    again = exercise(pro, generator="mental_arithmetic", seed=123)

    assert first == again and first[0] == 200 and first[1]["is_premium"]
    keys = {exercise(pro, seed=s)[1]["generator_key"] for s in range(40)}
    assert len(keys) == 4
