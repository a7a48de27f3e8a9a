"""Bad input anywhere gets a clear 4xx problem+json, never a 5xx or a stack trace: every
operation of the merged OpenAPI document, through the local gateway, with hostile bodies,
paths, headers and tokens."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from reussite.identity.models import Role
from reussite_local import template
from reussite_local.gateway import Gateway
from reussite_local.tokens import make_token

HOSTILE_BODIES: list[Any] = [
    "{not json",
    "[]",
    "null",
    '{"student_id": "not-a-uuid", "credits": -5, "kind": "PURCHASE", "reason": ""}',
    '{"answers": {"q1": {"nested": [1, 2, 3]}}, "attempt_token": 42}',
    '{"display_name": "' + "x" * 5000 + '", "code": "\\u0000\\u0000"}',
    '{"seed": -1, "generator": "../../etc/passwd", "topic": 7}',
]
HOSTILE_PARAMS = ["not-a-uuid", "%00", "x" * 300, "00000000-0000-0000-0000-000000000000", "'; DROP"]


@pytest.fixture(scope="module")
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(Gateway(template.load().functions()), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def operations(client: TestClient) -> list[tuple[str, str]]:
    spec = client.get("/openapi.json").json()
    return [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops]


def _fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, path)


@pytest.mark.parametrize("role", [Role.ELEVE, Role.PARENT, Role.ADMIN])
def test_every_operation_answers_hostile_input_with_a_problem(
    client: TestClient, operations: list[tuple[str, str]], role: Role
) -> None:
    token = make_token(f"fuzz-{role.value}", role.value, "fuzz@example.test", "Fuzz")
    headers = {
        "Authorization": f"Bearer {token}",
        "Idempotency-Key": "fuzz-key",
        "Content-Type": "application/json",
    }
    failures = []
    for method, path in operations:
        for param in HOSTILE_PARAMS:
            for body in HOSTILE_BODIES if method == "POST" else [None]:
                response = client.request(method, _fill(path, param), headers=headers, content=body)
                if (
                    response.status_code >= 500
                    or (
                        response.status_code >= 400
                        and response.headers.get("content-type") != "application/problem+json"
                    )
                    or "Traceback" in response.text
                ):
                    failures.append(
                        (method, path, param, response.status_code, response.text[:200])
                    )
    assert failures == []


def test_bad_tokens_and_headers_are_401_problems(
    client: TestClient, operations: list[tuple[str, str]]
) -> None:
    for auth in ("Bearer garbage", "Basic abc", "Bearer " + "a" * 5000, ""):
        response = client.get("/v1/me", headers={"Authorization": auth})
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
