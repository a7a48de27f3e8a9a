"""The API's OpenAPI document is one a generator can use: it validates, every operation has a
tag, a summary, a description and its error answers in the one Problem schema (the validation
error as it is really sent), and Idempotency-Key is required wherever a write needs it."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate

from reussite_local import openapi
from tests import helpers


@pytest.fixture(scope="module")
def document(database_url: str) -> dict[str, Any]:
    return openapi.document()


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, ops in doc["paths"].items() for m, op in ops.items()]


def test_the_document_validates(document: dict[str, Any]) -> None:
    validate(document)
    assert "HTTPValidationError" not in json.dumps(document)
    assert document["servers"] and document["components"]["securitySchemes"]["bearer"]


def test_every_operation_is_described_tagged_and_lists_its_problems(
    document: dict[str, Any],
) -> None:
    ids = [op["operationId"] for _, _, op in operations(document)]
    assert len(ids) == len(set(ids)) and len(ids) > 90
    for method, path, op in operations(document):
        assert op["tags"] and op["summary"] and op["description"], (method, path)
        problems = {s for s, r in op["responses"].items() if s >= "400"}
        assert "500" in problems, (method, path)
        if op.get("parameters") or "requestBody" in op:
            assert "422" in problems, (method, path)
        for status in problems:
            media = op["responses"][status]["content"]["application/problem+json"]
            assert media["schema"] == {"$ref": "#/components/schemas/Problem"}
            for code, example in media["examples"].items():
                assert example["value"]["code"] == code and example["value"]["status"] == int(
                    status
                )
                assert f"`{code}`" in op["responses"][status]["description"]
        assert ("401" in problems) == bool(op["security"]), (method, path)


def test_each_operation_lists_its_own_error_codes(document: dict[str, Any]) -> None:
    """Read from the code each operation can reach: a start lists what a start can answer and
    a read lists no credit or key errors."""
    listed = openapi.listed_codes(document)
    start = listed[("post", "/v1/exams/{code}/attempts")]
    assert {
        (402, "INSUFFICIENT_CREDITS"),
        (404, "EXAM_NOT_FOUND"),
        (409, "ATTEMPT_IN_PROGRESS"),
        (422, "IDEMPOTENCY_KEY_REUSED"),
        (400, "IDEMPOTENCY_KEY_REQUIRED"),
        (401, "UNAUTHENTICATED"),
    } <= start
    chat = listed[("post", "/v1/aria/conversations/{conversation_id}/messages")]
    assert {
        (429, "DAILY_QUOTA_EXCEEDED"),
        (502, "TUTOR_UNAVAILABLE"),
        (504, "TUTOR_TIMEOUT"),
    } <= chat
    ledger = listed[("get", "/v1/me/ledger")]
    assert (400, "BAD_CURSOR") in ledger
    assert not {c for _, c in ledger} & {"INSUFFICIENT_CREDITS", "IDEMPOTENCY_KEY_REUSED"}
    assert listed[("get", "/v1/health")] == {
        (500, "INTERNAL_ERROR"),
        (503, "DEPENDENCY_UNAVAILABLE"),
    }


def test_idempotency_key_is_required_where_a_write_needs_it(document: dict[str, Any]) -> None:
    keyed = {
        (method, path)
        for method, path, op in operations(document)
        for p in op.get("parameters", [])
        if p["name"] == "Idempotency-Key"
    }
    assert len(keyed) >= 13
    for method, path, op in operations(document):
        for p in op.get("parameters", []):
            if p["name"] == "Idempotency-Key":
                assert p["required"] is True and p["in"] == "header", (method, path)
    assert ("post", "/v1/exams/{code}/attempts") in keyed
    assert ("post", "/v1/payments/checkout") in keyed


def test_the_validation_error_as_sent_is_the_documented_problem(
    document: dict[str, Any], principal: Any
) -> None:
    from reussite.identity.models import Role

    status, problem = helpers.call(
        "exams_api",
        "PUT",
        "/v1/admin/question-pools/OK-POOL",
        principal(Role.ASSISTANTE),
        {"title": 42, "extra": True},
    )
    assert status == 422 and problem["code"] == "VALIDATION_FAILED" and problem["errors"]
    jsonschema.validate(problem, document["components"]["schemas"]["Problem"])
