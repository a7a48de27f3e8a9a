"""One factory for every HTTP function's FastAPI app, and the Lambda entry point around it."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from fastapi import FastAPI
from fastapi.routing import APIRoute
from mangum import Mangum
from mangum.adapter import DEFAULT_TEXT_MIME_TYPES
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import reussite
from reussite import db
from reussite.http import problems
from reussite.http.languages import preferred
from reussite.observability import logger

# Answered as plain text rather than base64, problem+json and compact JWS credentials included.
TEXT_MIME_TYPES = [*DEFAULT_TEXT_MIME_TYPES, "application/problem+json", "application/vc+jwt"]


class OneEventAtATime(APIRoute):
    """A route whose plain `def` endpoint runs on the request's event loop. Lambda hands a
    container one event at a time, so FastAPI's default (each sync endpoint handed to a worker
    thread and back) buys no concurrency and costs a thread hop per request: a quarter of exam
    start's throughput on 8 containers (bench/exam_start.py). The local gateway runs each request
    on a thread of its own, as Lambda runs each container."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _on_the_loop(endpoint), **kwargs)


def _on_the_loop(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(endpoint):
        return endpoint

    @functools.wraps(endpoint)  # FastAPI reads the parameters through __wrapped__
    async def run(*args: Any, **kwargs: Any) -> Any:
        return endpoint(*args, **kwargs)

    return run


def _skip_the_pydantic_v1_probe() -> None:
    """FastAPI 0.163 asks of every route parameter it analyses, and of values it encodes, whether
    they are pydantic v1 models (only to refuse them), importing `pydantic.v1` to ask: ~100 ms of
    every HTTP function's cold start. No v1 model can exist before `pydantic.v1` is imported, so
    until then the answer is no without asking (the change proposed in fastapi/fastapi#16374).
    Tied to the pinned FastAPI: the two names are its `utils` and `encoders` modules' own."""
    import sys

    from fastapi import encoders, utils

    def unless_imported(probe: Callable[[Any], bool]) -> Callable[[Any], bool]:
        def probe_if_v1_exists(value: Any) -> bool:
            return "pydantic.v1" in sys.modules and probe(value)

        return probe_if_v1_exists

    for module, name in (
        (utils, "annotation_is_pydantic_v1"),
        (encoders, "is_pydantic_v1_model_instance"),
    ):
        setattr(module, name, unless_imported(getattr(module, name)))


_skip_the_pydantic_v1_probe()


def create_app(title: str) -> FastAPI:
    app = FastAPI(
        title=title, version=reussite.__version__, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.router.route_class = OneEventAtATime
    problems.install(app)
    app.add_middleware(OneUnitOfWork)
    app.add_middleware(BoundedBody)
    return app


MAX_BODY_BYTES = 256 * 1024
"""No request body reussite takes comes near this (a 500-answer submission is ~60 KB)."""


class BoundedBody:
    """A request body larger than MAX_BODY_BYTES is answered 413 PAYLOAD_TOO_LARGE before any
    handler reads it: by its Content-Length, or as it arrives when none is declared."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            return await self._too_large(scope, receive, send)
        received = 0

        async def bounded() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:  # FastAPI answers it through the problem handlers
                    raise StarletteHTTPException(413, self._detail())
            return message

        await self.app(scope, bounded, send)

    def _detail(self) -> str:
        return f"A request body may hold at most {self.limit // 1024} KiB"

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        language = preferred(headers.get(b"accept-language", b"").decode("latin-1"))
        response = problems.problem(
            413, "PAYLOAD_TOO_LARGE", "The request body is too large", self._detail(), language
        )
        await response(scope, receive, send)


class OneUnitOfWork:
    """Each HTTP request is one unit of database work: the connection it leased, on whatever
    worker threads ran it, is handed back when its answer has been sent (Lambda and local)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        with db.work():
            await self.app(scope, receive, send)


def lambda_handler(app: FastAPI) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda handler: API Gateway HTTP API (v2) events through Mangum into the app."""
    adapter = Mangum(app, lifespan="off", text_mime_types=TEXT_MIME_TYPES)

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return adapter(event, context)

    return handler
