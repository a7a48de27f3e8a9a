"""The credits function over API Gateway events: what families and staff see and do."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from reussite import db
from reussite.identity import service as identity
from reussite.identity.models import Principal, Role
from reussite.ledger import service as ledger
from reussite.ledger.models import LotKind
from tests import helpers


def call(
    method: str, path: str, who: Principal | None, body: Any = None, key: str | None = None
) -> tuple[int, Any]:
    return helpers.call("credits_api", method, path, who, body, key)


def test_a_student_sees_balance_live_lots_and_recent_entries(
    database_url: str, principal: Any
) -> None:
    eleve = principal(Role.ELEVE)
    student_id = identity.resolve_user(eleve).student_id
    assert student_id is not None
    wallet_id = ledger.wallet_of(student_id)
    ledger.grant(wallet_id, 10, LotKind.PURCHASE, key="pack", purpose="credit pack 10")
    ledger.spend(wallet_id, 3, key="exam-1", purpose="exam:FR-B1")

    status, body = call("GET", "/v1/me/credits", eleve)

    assert status == 200
    assert body["balance"] == 7
    (mine,) = body["wallets"]
    assert mine["student_id"] == str(student_id)
    assert [(lot["kind"], lot["remaining"]) for lot in mine["lots"]] == [("PURCHASE", 7)]
    assert mine["lots"][0]["expires_at"]
    assert [(e["kind"], e["amount"]) for e in mine["entries"]] == [("SPEND", -3), ("GRANT", 10)]


def test_a_parent_sees_each_childs_wallet(database_url: str, principal: Any) -> None:
    parent = principal(Role.PARENT)
    user = identity.resolve_user(parent)
    yasmine = identity.create_child(user, "Yasmine").student_id
    identity.create_child(user, "Adam")
    ledger.grant(ledger.wallet_of(yasmine), 4, LotKind.PURCHASE, key="p", purpose="pack")

    status, body = call("GET", "/v1/me/credits", parent)

    assert status == 200 and body["balance"] is None
    assert [(w["display_name"], w["balance"]) for w in body["wallets"]] == [
        ("Yasmine", 4),
        ("Adam", 0),
    ]


def test_staff_grant_credits_with_an_audit_record(
    database_url: str, principal: Any, conn: db.Connection
) -> None:
    assistante = principal(Role.ASSISTANTE)
    student_id = identity.resolve_user(principal(Role.ELEVE)).student_id
    assert student_id is not None
    grant = {"credits": 5, "kind": "GOODWILL", "reason": "Exam platform outage on 3 Nov"}
    path = f"/v1/admin/wallets/{student_id}/grants"

    status, first = call("POST", path, assistante, grant, key="goodwill-42")
    replay_status, replay = call("POST", path, assistante, grant, key="goodwill-42")

    assert status == 201 and first["credits"] == 5 and first["kind"] == "GOODWILL"
    assert replay_status == 201 and replay["entry_id"] == first["entry_id"] and replay["replayed"]
    assert ledger.wallet_of(student_id)  # the wallet exists and holds the grant:
    wallet = conn.execute(
        "SELECT balance FROM wallets WHERE student_id = %s", (student_id,)
    ).fetchone()
    assert wallet == {"balance": 5}
    audit = conn.execute(
        "SELECT actor_id, action, details FROM audit_log WHERE subject = %s",
        (f"student:{student_id}",),
    ).fetchall()
    actor = identity.resolve_user(assistante)
    assert [(a["actor_id"], a["action"]) for a in audit] == [(actor.id, "credits.grant")]
    assert audit[0]["details"]["reason"] == "Exam platform outage on 3 Nov"
    entry = conn.execute(
        "SELECT actor_id, purpose FROM ledger_entries WHERE id = %s", (first["entry_id"],)
    ).fetchone()
    assert entry == {"actor_id": actor.id, "purpose": "goodwill: Exam platform outage on 3 Nov"}


@pytest.mark.parametrize("role", [Role.ELEVE, Role.PARENT, Role.COACH])
def test_only_staff_grant_credits(database_url: str, principal: Any, role: Role) -> None:
    student_id = identity.resolve_user(principal(Role.ELEVE)).student_id
    assert student_id is not None
    body = {"credits": 5, "kind": "PROMOTION", "reason": "because"}

    status, problem = call(
        "POST", f"/v1/admin/wallets/{student_id}/grants", principal(role), body, key="k"
    )

    assert (status, problem["code"]) == (403, "FORBIDDEN")


@pytest.mark.parametrize(
    ("body", "key", "student", "status", "code"),
    [
        (
            {"credits": 5, "kind": "PROMOTION", "reason": "spring"},
            None,
            "known",
            400,
            "IDEMPOTENCY_KEY_REQUIRED",
        ),
        (
            {"credits": 5, "kind": "PROMOTION", "reason": "spring"},
            "k1",
            "unknown",
            404,
            "STUDENT_NOT_FOUND",
        ),
        (
            {"credits": 0, "kind": "PROMOTION", "reason": "spring"},
            "k2",
            "known",
            422,
            "VALIDATION_FAILED",
        ),
        (
            {"credits": 5, "kind": "PURCHASE", "reason": "spring"},
            "k3",
            "known",
            422,
            "VALIDATION_FAILED",
        ),
        (
            {"credits": 5, "kind": "PROMOTION", "reason": "spring"},
            "k4",
            "not-a-uuid",
            422,
            "VALIDATION_FAILED",
        ),
    ],
)
def test_bad_grants_get_a_clear_problem(
    database_url: str,
    principal: Any,
    body: Any,
    key: str | None,
    student: str,
    status: int,
    code: str,
) -> None:
    known = identity.resolve_user(principal(Role.ELEVE)).student_id
    assert known is not None
    student_id = {"known": known, "unknown": uuid.uuid4(), "not-a-uuid": "abc"}[student]

    got, problem = call(
        "POST", f"/v1/admin/wallets/{student_id}/grants", principal(Role.ADMIN), body, key=key
    )

    assert (got, problem["code"]) == (status, code)


def test_reusing_a_key_for_a_different_grant_is_refused(database_url: str, principal: Any) -> None:
    admin = principal(Role.ADMIN)
    student_id = identity.resolve_user(principal(Role.ELEVE)).student_id
    assert student_id is not None
    path = f"/v1/admin/wallets/{student_id}/grants"
    call("POST", path, admin, {"credits": 5, "kind": "PROMOTION", "reason": "spring"}, key="k")

    status, problem = call(
        "POST", path, admin, {"credits": 50, "kind": "PROMOTION", "reason": "spring"}, key="k"
    )

    assert (status, problem["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")


def test_a_grant_key_reused_for_another_student_is_refused_and_retries_at_once_grant_once(
    database_url: str, principal: Any
) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from reussite import db

    admin = principal(Role.ADMIN)
    first, second = (identity.resolve_user(principal(Role.ELEVE)).student_id for _ in range(2))
    body = {"credits": 3, "kind": "GOODWILL", "reason": "retard du coach"}
    barrier = threading.Barrier(6)

    def grant(_: int) -> tuple[int, Any]:
        barrier.wait()
        try:
            return call("POST", f"/v1/admin/wallets/{first}/grants", admin, body, key="g1")
        finally:
            db.release()

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(grant, range(6)))
    other = call("POST", f"/v1/admin/wallets/{second}/grants", admin, body, key="g1")

    assert {status for status, _ in answers} == {201}
    assert len({answer["entry_id"] for _, answer in answers}) == 1
    assert (other[0], other[1]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    balances = [
        db.read_one("SELECT balance FROM wallets WHERE student_id = %s", (s,))
        for s in (first, second)
    ]
    assert balances == [{"balance": 3}, {"balance": 0}]
