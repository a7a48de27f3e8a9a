"""The API's one OpenAPI document, merged from every HTTP function's FastAPI app as
template.yaml routes them, and made fit for a client generator:

- one `Problem` schema (RFC 9457 with the stable `code`, and `errors` as a validation failure
  really sends them) for every error answer an operation can give, FastAPI's own 422 shape
  removed;
- `Idempotency-Key` required wherever a write needs it (the server answers 400
  IDEMPOTENCY_KEY_REQUIRED without it);
- a tag per domain, a summary and a description per operation, the bearer security scheme
  (public operations say `security: []`), servers, and examples for the problem answers.

`python -m reussite_local openapi` prints it; the local stack serves it at /openapi.json.
"""

from __future__ import annotations

import os
from typing import Any

from reussite_local import functions, raises, template

TAGS = {
    "identity_api": ("identity", "Sign-in, families, profiles, the back office's people"),
    "credits_api": ("credits", "Wallets, the credit ledger and staff grants"),
    "exams_api": ("exams", "The exam catalogue, attempts, reviews, authoring and statistics"),
    "exam_start": ("exams", ""),
    "exam_submit": ("exams", ""),
    "certificates_api": ("certificates", "Verifiable certificates and their keys"),
    "payments_api": ("payments", "Products, checkout, orders, receipts and subscriptions"),
    "payment_webhook": ("payments", ""),
    "bilans_api": ("bilans", "Orientation reports"),
    "exam_sessions_api": ("exam-sessions", "Scheduled exam sittings, results and enquiries"),
    "tutoring_api": ("tutoring", "Coaches, sessions and the coach's agenda"),
    "aria_api": ("aria", "ARIA, the AI tutor, and its public widget"),
}
ERRORS = {
    400: "The request is malformed",
    401: "No valid bearer token",
    402: "Not enough live credits",
    403: "The caller's role or offer does not allow this",
    404: "Not found, or not the caller's",
    409: "The current state refuses it (already done, a race lost, in progress)",
    413: "The request body is larger than 256 KiB",
    422: "The request is not valid (each problem in `errors`)",
    429: "Too many requests",
    500: "Something went wrong on our side",
    502: "A provider reussite called answered badly; retry later",
    503: "A service reussite depends on is unavailable; retry",
    504: "A provider reussite called did not answer in time; retry",
}
# What the HTTP layer itself answers, whatever the operation: (status, code, title).
_FRAMEWORK = {
    "validation": (422, "VALIDATION_FAILED", "The request is not valid"),
    "constraint": (409, "CONFLICT", "This conflicts with something that already exists"),
    "too_large": (413, "PAYLOAD_TOO_LARGE", "The request body is too large"),
    "unparsable": (400, "BAD_REQUEST", "There was an error parsing the body"),
    "internal": (500, "INTERNAL_ERROR", "Something went wrong on our side"),
    "database": (503, "DEPENDENCY_UNAVAILABLE", "The database is unavailable; try again"),
}
PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details with reussite's stable `code`.",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string", "description": "Follows Accept-Language (fr, en, ar)"},
        "status": {"type": "integer"},
        "code": {"type": "string", "description": "Stable, machine-readable"},
        "detail": {"type": "string"},
        "detail_en": {"type": "string", "description": "The English detail, when translated"},
        "errors": {
            "type": "array",
            "description": "Each problem found: for a validation failure `loc`, `msg` and "
            "`type` per invalid value; for a file import `question`, `line` and `error`",
            "items": {
                "type": "object",
                "properties": {
                    "question": {"type": "integer"},
                    "line": {"type": "integer"},
                    "error": {"type": "string"},
                    "loc": {
                        "type": "array",
                        "items": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                    },
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
    "example": {
        "type": "https://reussite.dev/problems/insufficient-credits",
        "title": "Not enough live credits",
        "status": 402,
        "code": "INSUFFICIENT_CREDITS",
        "detail": "This exam costs 2 credits; 1 is live",
    },
}


def document(public_base_url: str | None = None) -> dict[str, Any]:
    """The merged, generator-ready document of every HTTP function in template.yaml."""
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "reussite",
            "version": "v1",
            "contact": {"name": "reussite", "url": "https://reussite.dev"},
            "description": "Credits, timed exams and certificates, payments, orientation "
            "reports, tutoring, exam sittings and ARIA for education platforms. Errors are "
            "problem+json (`Problem`) with a stable `code`.",
        },
        "servers": [
            {
                "url": public_base_url
                or os.environ.get("PUBLIC_BASE_URL")
                or "http://127.0.0.1:3000",
                "description": "This stack",
            }
        ],
        "tags": [],
        "paths": {},
        "components": {
            "schemas": {"Problem": PROBLEM},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
    seen_tags: dict[str, str] = {}
    operation_ids: set[str] = set()
    for fn in template.load().functions():
        if not fn.routes:
            continue
        tag, about = TAGS.get(fn.name, (fn.name.replace("_api", ""), ""))
        if about or tag not in seen_tags:
            seen_tags[tag] = about or seen_tags.get(tag, "")
        app = functions.load_module(fn).app
        doc = app.openapi()
        endpoints = _endpoints(app)
        routed = {(r.method.lower(), r.path): r for r in fn.routes}
        for path, ops in doc.get("paths", {}).items():
            for method, op in ops.items():
                route = routed.get((method, path))
                if route is None:
                    continue  # not routed by the template: not part of the API
                _fit(op, tag, method, public=route.public, operation_ids=operation_ids)
                _answers(op, method, endpoints[(method, path)])
                merged["paths"].setdefault(path, {})[method] = op
        for name, schema in doc.get("components", {}).get("schemas", {}).items():
            if name not in ("HTTPValidationError", "ValidationError"):
                merged["components"]["schemas"][name] = schema
    merged["tags"] = [{"name": t, "description": d or t} for t, d in sorted(seen_tags.items())]
    return merged


def _fit(op: dict[str, Any], tag: str, method: str, public: bool, operation_ids: set[str]) -> None:
    op["tags"] = [tag]
    op.setdefault("summary", op.get("operationId", "operation"))
    if not op.get("description"):
        op["description"] = op["summary"] + "."
    base = op.get("operationId") or op["summary"].lower().replace(" ", "_")
    unique, n = base, 2
    while unique in operation_ids:
        unique, n = f"{base}_{n}", n + 1
    op["operationId"] = unique
    operation_ids.add(unique)
    for parameter in op.get("parameters", []):
        if parameter.get("in") == "header" and parameter.get("name") == "Idempotency-Key":
            parameter["required"] = True
            parameter["schema"] = {"type": "string", "minLength": 1, "maxLength": 200}
    op.setdefault("responses", {}).pop("422", None)  # FastAPI's shape: the real one instead
    op["security"] = [] if public else [{"bearer": []}]


def _endpoints(app: Any) -> dict[tuple[str, str], list[Any]]:
    """Each operation's endpoint and the dependencies FastAPI calls before it."""
    from fastapi.routing import APIRoute

    found: dict[tuple[str, str], list[Any]] = {}
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        calls: list[Any] = [route.endpoint]
        pending = list(route.dependant.dependencies)
        while pending:
            dependency = pending.pop()
            calls.append(dependency.call)
            pending += dependency.dependencies
        for method in route.methods or ():
            found[(method.lower(), route.path)] = calls
    return found


def _answers(op: dict[str, Any], method: str, calls: list[Any]) -> None:
    """The operation's error answers: every domain error its code can reach (`raises`), and
    what the HTTP layer answers for any request, each status with an example per code."""
    codes = {(c.status, c.code, c.title) for c in raises.errors(calls).values()}
    codes |= {_FRAMEWORK["internal"], _FRAMEWORK["database"]}
    if op.get("parameters") or "requestBody" in op:
        codes.add(_FRAMEWORK["validation"])
    if "requestBody" in op:
        codes |= {_FRAMEWORK["too_large"], _FRAMEWORK["unparsable"]}
    if method in ("post", "put", "patch", "delete"):  # a unique constraint can decide a race
        codes.add(_FRAMEWORK["constraint"])
    by_status: dict[int, list[tuple[str, str]]] = {}
    for status, code, title in sorted(codes):
        by_status.setdefault(status, []).append((code, title))
    responses = op["responses"]
    for status, answers in sorted(by_status.items()):
        names = ", ".join(f"`{code}`" for code, _ in answers)
        examples = {
            code: {
                "summary": title,
                "value": {
                    "type": f"https://reussite.dev/problems/{code.lower().replace('_', '-')}",
                    "title": title,
                    "status": status,
                    "code": code,
                },
            }
            for code, title in answers
        }
        responses[str(status)] = {
            "description": f"{ERRORS.get(status, 'An error')}: {names}",
            "content": {
                "application/problem+json": {
                    "schema": {"$ref": "#/components/schemas/Problem"},
                    "examples": examples,
                }
            },
        }


def listed_codes(document: dict[str, Any]) -> dict[tuple[str, str], set[tuple[int, str]]]:
    """(method, path) → the (status, code) answers the document lists."""
    listed: dict[tuple[str, str], set[tuple[int, str]]] = {}
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            answers = listed.setdefault((method, path), set())
            for status, response in op.get("responses", {}).items():
                media = response.get("content", {}).get("application/problem+json", {})
                answers |= {(int(status), code) for code in media.get("examples", {})}
    return listed


def placeholder_settings() -> None:
    """Just enough environment for every function module to import (each checks its settings
    at init), for printing the document without a running stack: the template's parameter
    defaults where a variable names one, a placeholder otherwise."""
    tmpl = template.load()
    defaults = tmpl.parameter_defaults()
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-3")
    os.environ.setdefault("DATABASE_URL", "postgresql://openapi@127.0.0.1:1/openapi")
    for fn in tmpl.functions():
        for key, value in fn.environment.items():
            named = value.value if isinstance(value, template.Tag) and value.name == "Ref" else None
            default = defaults.get(named) if named else (value if isinstance(value, str) else None)
            os.environ.setdefault(key, str(default) if default not in (None, "") else "placeholder")
