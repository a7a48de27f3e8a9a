"""The one place that turns errors into RFC 9457 problem+json responses with a stable `code`."""

from __future__ import annotations

from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from reussite.errors import DependencyUnavailable, DomainError
from reussite.http.languages import preferred
from reussite.http.messages import TITLES
from reussite.observability import logger

PROBLEM_JSON = "application/problem+json"

_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_FAILED",
    429: "TOO_MANY_REQUESTS",
}


def problem(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    language: str = "en",
    **extra: Any,
) -> JSONResponse:
    """The problem in `language`: French and Arabic titles come from the catalogue by `code`
    (which never changes); their detail is the translated title, and the English detail, when it
    says more, stays in `detail_en`."""
    body: dict[str, Any] = {
        "type": f"https://reussite.dev/problems/{code.lower().replace('_', '-')}",
        "title": title,
        "status": status,
        "code": code,
    }
    translated = TITLES.get(code)
    if language != "en" and translated:
        body["title"] = translated[0 if language == "fr" else 1]
        if detail and detail != title:
            body["detail_en"] = detail
        detail = body["title"] if detail else None
    else:
        language = "en"
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_JSON, headers={"Content-Language": language}
    )


def _language(request: Request | None) -> str:
    return preferred(request.headers.get("accept-language")) if request is not None else "en"


def domain_problem(error: DomainError, request: Request | None = None) -> JSONResponse:
    """The error's problem, in the caller's language; one that says when to retry
    (`retry_after`, seconds) also answers the Retry-After header."""
    answer = problem(
        error.status, error.code, error.title, error.detail, _language(request), **error.extra
    )
    retry_after = error.extra.get("retry_after")
    if isinstance(retry_after, int):
        answer.headers["Retry-After"] = str(max(1, retry_after))
    return answer


async def _on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return domain_problem(exc, request)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    return problem(exc.status_code, code, str(exc.detail), language=_language(request))


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]
    return problem(
        422,
        "VALIDATION_FAILED",
        "The request is not valid",
        language=_language(request),
        errors=errors,
    )


async def _on_bad_data(request: Request, exc: Exception) -> JSONResponse:
    """PostgreSQL refused a value (a NUL byte, a number out of range): the input was bad."""
    logger.warning("value refused by the database", extra={"error": type(exc).__name__})
    return problem(
        422,
        "VALIDATION_FAILED",
        "The request is not valid",
        "A value in the request cannot be stored or compared",
        _language(request),
    )


async def _on_constraint(request: Request, exc: Exception) -> JSONResponse:
    """A constraint decided a race, or refused a reference, that a caller can provoke: a 4xx
    with a stable code, never a 500. (Domain code answers its own races with sharper codes;
    this is the net under them.)"""
    assert isinstance(exc, psycopg.IntegrityError)
    constraint = getattr(exc.diag, "constraint_name", None)
    logger.warning("constraint refused a write", extra={"constraint": constraint})
    language = _language(request)
    if isinstance(exc, psycopg.errors.UniqueViolation):
        title = "This conflicts with something that already exists"
        return problem(409, "CONFLICT", title, language=language)
    detail = (
        "It names something unknown"
        if isinstance(exc, psycopg.errors.ForeignKeyViolation)
        else "A value breaks a rule of the data"
    )
    return problem(422, "VALIDATION_FAILED", "The request is not valid", detail, language)


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("database unavailable")
    error = DependencyUnavailable("The database is unavailable; try again")
    return domain_problem(error, request)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error")
    title = "Something went wrong on our side"
    return problem(500, "INTERNAL_ERROR", title, language=_language(request))


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _on_domain_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(psycopg.DataError, _on_bad_data)
    app.add_exception_handler(psycopg.IntegrityError, _on_constraint)
    app.add_exception_handler(psycopg.OperationalError, _on_database_error)
    app.add_exception_handler(Exception, _on_unexpected)
