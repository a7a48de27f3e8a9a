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
        assert {"400", "403", "404", "422", "500"} <= problems, (method, path)
        for status in problems:
            schema = op["responses"][status]["content"]["application/problem+json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Problem"}
        assert ("401" in problems) == bool(op["security"]), (method, path)


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
