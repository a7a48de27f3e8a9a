"""The identity function over API Gateway events: what a web client sees."""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from reussite.identity.models import Role
from reussite_local import functions, template
from reussite_local.events import http_api_event
from reussite_local.tokens import principal_claims as claims_of

FN = next(f for f in template.load().functions() if f.name == "identity_api")


def call(
    method: str,
    path: str,
    claims: dict[str, str] | None = None,
    body: Any = None,
    key: str | None = "auto",
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """A request to the identity function; writes carry a fresh Idempotency-Key unless `key`
    names one (or is None: no key)."""
    if key == "auto":
        key = str(uuid.uuid4()) if method == "POST" else None
    headers = {"Idempotency-Key": key} if key else None
    result = functions.invoke(
        FN, http_api_event(method, path, claims=claims, body=body, headers=headers)
    )
    return result["statusCode"], json.loads(result["body"]), result["headers"]


def test_health_is_public(database_url: str) -> None:
    assert call("GET", "/v1/health")[:2] == (200, {"status": "ok"})


def test_me_without_identity_is_401_problem(database_url: str) -> None:
    status, body, headers = call("GET", "/v1/me")

    assert status == 401
    assert headers["content-type"] == "application/problem+json"
    assert body["code"] == "UNAUTHENTICATED" and body["status"] == 401


def test_me_for_an_eleve_and_a_parent(database_url: str, principal: Any) -> None:
    eleve, parent = principal(Role.ELEVE), principal(Role.PARENT)

    status, me, _ = call("GET", "/v1/me", claims_of(eleve))
    assert status == 200
    assert me["role"] == "ELEVE" and me["student_id"] and me["email"] == eleve.email

    status, created, _ = call("POST", "/v1/students", claims_of(parent), {"display_name": "Adam"})
    assert status == 201 and created["link_code"]
    status, me, _ = call("GET", "/v1/me", claims_of(parent))
    assert me["children"] == [
        {"student_id": created["student_id"], "display_name": "Adam", "has_own_login": False}
    ]

    status, linked, _ = call(
        "POST", "/v1/students/link", claims_of(eleve), {"code": created["link_code"]}
    )
    assert status == 200 and linked["student_id"] == created["student_id"]
    assert call("GET", "/v1/me", claims_of(eleve))[1]["student_id"] == created["student_id"]


@pytest.mark.parametrize(
    ("role", "body", "status", "code"),
    [
        (Role.ELEVE, {"display_name": "Adam"}, 403, "FORBIDDEN"),
        (Role.PARENT, {"display_name": ""}, 422, "VALIDATION_FAILED"),
        (Role.PARENT, {"name": "Adam"}, 422, "VALIDATION_FAILED"),
        (Role.PARENT, "{not json", 422, "VALIDATION_FAILED"),
    ],
)
def test_bad_student_creation_gets_a_clear_problem(
    database_url: str, principal: Any, role: Role, body: Any, status: int, code: str
) -> None:
    got, problem, headers = call("POST", "/v1/students", claims_of(principal(role)), body)

    assert (got, problem["code"]) == (status, code)
    assert headers["content-type"] == "application/problem+json"


def test_a_child_is_created_once_per_key_even_when_the_retries_race(
    database_url: str, principal: Any
) -> None:
    parent = claims_of(principal(Role.PARENT))
    barrier = threading.Barrier(3)

    def create(_: int) -> tuple[int, dict[str, Any], dict[str, str]]:
        barrier.wait()
        return call("POST", "/v1/students", parent, {"display_name": "Adam"}, key="child-adam")

    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(create, range(3)))

    assert {status for status, _, _ in answers} == {201}
    assert len({body["student_id"] for _, body, _ in answers}) == 1
    assert len(call("GET", "/v1/me", parent)[1]["children"]) == 1
    # Only the last code issued works (a replay replaces the unused one): the child can link.
    codes = [body["link_code"] for _, body, _ in answers]
    linked = [
        call("POST", "/v1/students/link", claims_of(principal()), {"code": code})[0]
        for code in codes
    ]
    assert linked.count(200) == 1 and set(linked) == {200, 404}
    # Once linked, a replay still names the child and hands out no code.
    status, replay, _ = call(
        "POST", "/v1/students", parent, {"display_name": "Adam"}, key="child-adam"
    )
    assert status == 201 and replay["student_id"] == answers[0][1]["student_id"]
    assert replay["link_code"] is None


def test_a_child_key_reused_for_another_child_or_missing_is_refused(
    database_url: str, principal: Any
) -> None:
    parent = claims_of(principal(Role.PARENT))
    assert call("POST", "/v1/students", parent, {"display_name": "Adam"}, key="k1")[0] == 201

    status, problem, _ = call("POST", "/v1/students", parent, {"display_name": "Lina"}, key="k1")
    assert (status, problem["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    status, problem, _ = call("POST", "/v1/students", parent, {"display_name": "Lina"}, key=None)
    assert (status, problem["code"]) == (400, "IDEMPOTENCY_KEY_REQUIRED")
    assert [c["display_name"] for c in call("GET", "/v1/me", parent)[1]["children"]] == ["Adam"]


def test_bad_link_code_is_404_problem(database_url: str, principal: Any) -> None:
    status, body, _ = call(
        "POST", "/v1/students/link", claims_of(principal()), {"code": "ZZZZ-ZZZZ-ZZZZ"}
    )

    assert (status, body["code"]) == (404, "LINK_CODE_INVALID")


def test_a_token_with_an_unknown_role_is_refused(database_url: str) -> None:
    claims = {"sub": "who-knows", "role": "SUPERUSER"}

    status, body, _ = call("GET", "/v1/me", claims)

    assert (status, body["code"]) == (403, "UNKNOWN_ROLE")


def test_unknown_route_is_a_404_problem(database_url: str) -> None:
    status, body, _ = call("GET", "/v1/nothing-here")

    assert (status, body["code"]) == (404, "NOT_FOUND")
