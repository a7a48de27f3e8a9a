"""The identity function over API Gateway events: what a web client sees."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reussite.identity.models import Role
from reussite_local import functions, template
from reussite_local.events import http_api_event
from reussite_local.tokens import principal_claims as claims_of

FN = next(f for f in template.load().functions() if f.name == "identity_api")


def call(
    method: str, path: str, claims: dict[str, str] | None = None, body: Any = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    result = functions.invoke(FN, http_api_event(method, path, claims=claims, body=body))
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
