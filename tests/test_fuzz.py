"""Schemathesis against the merged OpenAPI document of the running local stack: every
operation, generated valid and invalid inputs, with a valid token of each kind of user, a
forged one and none. Whatever comes back is never a 5xx, every error is problem+json, and
every answer conforms to the document: a documented status, content type and schema.

Bounded for CI: FUZZ_EXAMPLES examples an operation (default 8; schemathesis mixes valid and
invalid ones), each sent with every token.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi import checks

from reussite_local.launcher import running_stack
from reussite_local.tokens import make_token
from tests.helpers import postgres_home

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
CONFORMANCE = [
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzz_stack() -> Iterator[dict[str, Any]]:
    with postgres_home("fuzz-stack") as home, running_stack(home) as running:
        yield running


@pytest.fixture(scope="module")
def api_schema(fuzz_stack: dict[str, Any]) -> Any:
    return schemathesis.openapi.from_url(f"{fuzz_stack['base']}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


def _tokens(state: dict[str, Any]) -> dict[str, str | None]:
    tokens: dict[str, str | None] = {
        f"{sub} token": token for sub, token in state["tokens"].items()
    }
    tokens["a stranger's valid token"] = make_token("fuzz-stranger", "PARENT", None, None)
    tokens["an unknown role"] = make_token("fuzz-pirate", "PIRATE", None, None)
    tokens["a forged token"] = state["tokens"]["demo-admin"][:-4] + "AAAA"
    tokens["no token"] = None
    return tokens


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_input_and_no_token_gets_a_server_error(case: Any, fuzz_stack: dict[str, Any]) -> None:
    failures = []
    for label, token in _tokens(fuzz_stack["state"]).items():
        headers = dict(case.headers or {})
        headers.pop("Authorization", None)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        headers.setdefault("Idempotency-Key", "fuzz")
        response = case.call(base_url=fuzz_stack["base"], headers=headers, timeout=30)
        kind = response.headers.get("content-type", "")
        kind = kind[0] if isinstance(kind, list) else kind
        if response.status_code >= 500:
            failures.append((label, response.status_code, response.text[:300]))
        elif response.status_code >= 400 and not kind.startswith("application/problem+json"):
            failures.append((label, response.status_code, f"not problem+json: {kind}"))
        elif "Traceback" in response.text:
            failures.append((label, response.status_code, "stack trace in the body"))
        else:
            try:
                case.validate_response(response, checks=CONFORMANCE)
            except Exception as exc:  # schemathesis raises its failures grouped
                failures.append((label, response.status_code, str(exc)[:300]))
    assert failures == [], f"{case.method} {case.formatted_path}: {failures}"
