"""An ASGI stand-in for API Gateway (HTTP API): routes from template.yaml, local JWT checks,
claims where the JWT authorizer puts them, then the function's own FastAPI app."""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from reussite_local import functions, mailbox, template, tokens
from reussite_local.events import http_api_event
from reussite_local.template import Function, HttpRoute

WEBHOOK_LOG = "REUSSITE_LOCAL_WEBHOOK_LOG"  # set when several worker processes share the port


@dataclass(frozen=True)
class Route:
    route: HttpRoute
    pattern: re.Pattern[str]
    function: Function
    app: Any


def _pattern(path: str) -> re.Pattern[str]:
    regex = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", re.escape(path))
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", regex)
    return re.compile(f"^{regex}$")


def from_environment() -> Gateway:
    """The gateway of an HTTP worker process (`make run` with HTTP_WORKERS > 1): the stack's
    process set up PostgreSQL, moto and every function's settings in the environment this
    process inherited; the receiver's webhooks go to a file all the workers share."""
    tmpl = template.load()
    cors = tmpl.body.get("Globals", {}).get("HttpApi", {}).get("CorsConfiguration")
    log = os.environ.get(WEBHOOK_LOG)
    return Gateway(tmpl.functions(), cors, webhook_log=Path(log) if log else None)


class Gateway:
    def __init__(
        self,
        fns: list[Function],
        cors: dict[str, Any] | None = None,
        webhook_log: Path | None = None,
    ) -> None:
        self.cors = _cors_headers(cors or {})
        self.functions = {fn.name: fn for fn in fns}
        self.routes: list[Route] = []
        self._openapi: dict[str, Any] | None = None
        self._received: list[dict[str, Any]] = []  # what the local receiver got
        self._webhook_log = webhook_log
        for fn in fns:
            if fn.routes:
                app = functions.load_module(fn).app
                self.routes += [Route(r, _pattern(r.path), fn, app) for r in fn.routes]
        # Literal segments win over parameters, like API Gateway's most specific match.
        self.routes.sort(key=lambda r: r.route.path.count("{"))

    def openapi(self) -> dict[str, Any]:
        """Every HTTP function's OpenAPI document merged into one (reussite_local.openapi)."""
        from reussite_local import openapi

        if self._openapi is None:
            self._openapi = openapi.document()
        return self._openapi

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        if self.cors:  # as API Gateway does with the template's CorsConfiguration
            send = _with_headers(send, self.cors)
        method, path = scope["method"], scope["path"]
        if method == "OPTIONS" and self.cors:
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
        elif method == "GET" and path == "/openapi.json":
            await _json(send, 200, self.openapi())
        elif path.startswith("/_local/"):
            await self._local(method, path, receive, send, scope)
        else:
            await self._route(scope, receive, send)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The function whose template route matches, behind the JWT check API Gateway makes."""
        method, path = scope["method"], scope["path"]
        matched = [(r, m) for r in self.routes if (m := r.pattern.match(path))]
        if not matched:
            return await _problem(send, 404, "NOT_FOUND", "No route matches this path")
        found = next(((r, m) for r, m in matched if r.route.method == method), None)
        if found is None:
            return await _problem(send, 405, "METHOD_NOT_ALLOWED", "Method not allowed here")
        route, match = found
        claims = None
        if not route.route.public:
            claims = _verified_claims(scope)
            if claims is None:
                return await _problem(
                    send, 401, "UNAUTHENTICATED", "A valid bearer token is required"
                )
        scope = dict(scope)
        scope["aws.event"] = _event(scope, route, match.groupdict(), claims)
        scope["aws.context"] = functions.LambdaContext(
            route.function.logical_id, route.function.timeout
        )
        await _on_a_thread(route.app, scope, receive, send)

    async def _local(
        self, method: str, path: str, receive: Receive, send: Send, scope: Scope | None = None
    ) -> None:
        """The local stack's own pages: fire a function, read the mailbox."""
        if method == "POST" and path.startswith("/_local/invoke/"):
            return await self._invoke(path.removeprefix("/_local/invoke/"), receive, send)
        if path == "/_local/webhooks":
            return await self._webhooks(method, scope or {}, receive, send)
        if method == "GET" and path.startswith("/_local/mail"):
            status, media_type, text = await run_in_threadpool(mailbox.page, path)
            return await _text(send, status, text, media_type)
        await _problem(send, 404, "NOT_FOUND", "No route matches this path")

    @property
    def webhooks(self) -> list[dict[str, Any]]:
        """What the local receiver got, oldest first."""
        if self._webhook_log is None:
            return self._received
        if not self._webhook_log.exists():
            return []
        return [json.loads(line) for line in self._webhook_log.read_text().splitlines()]

    async def _webhooks(self, method: str, scope: Scope, receive: Any, send: Any) -> None:
        """The local stack's test receiver: what a school's endpoint would get (POST), and the
        list of what it got, newest first (GET)."""
        if method == "GET":
            return await _json(send, 200, list(reversed(self.webhooks)))
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope.get("headers", [])}
        received = {
            "headers": {k: v for k, v in headers.items() if k.startswith("webhook-")},
            "body": json.loads(body or b"null"),
        }
        if self._webhook_log is None:
            self._received.append(received)
        else:  # one line, one O_APPEND write: workers' lines never interleave
            with open(self._webhook_log, "a") as log:
                log.write(json.dumps(received) + "\n")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def _invoke(self, name: str, receive: Any, send: Any) -> None:
        """Fire a function (e.g. a scheduled one) with the posted event or its sample event."""
        fn = self.functions.get(name)
        if fn is None:
            return await _problem(send, 404, "NOT_FOUND", f"No function named {name!r}")
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        event = json.loads(body) if body.strip() else functions.sample_event(fn)
        result = await run_in_threadpool(functions.invoke, fn, event)
        await _json(send, 200, {"function": name, "result": result})


def _cors_headers(cors: dict[str, Any]) -> list[tuple[bytes, bytes]]:
    names = {
        "AllowOrigins": b"access-control-allow-origin",
        "AllowHeaders": b"access-control-allow-headers",
        "AllowMethods": b"access-control-allow-methods",
    }
    return [(header, ",".join(cors[key]).encode()) for key, header in names.items() if key in cors]


MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
"""API Gateway's own limit on a request payload."""

_loops = threading.local()


async def _on_a_thread(app: Any, scope: Scope, receive: Receive, send: Send) -> None:
    """`app` answers the request on a worker thread with an event loop of its own, as a Lambda
    container answers one event at a time: the functions' apps run their handlers on their
    loop (reussite.http.app.OneEventAtATime), which must not stall the gateway's. The request
    body is read first (as API Gateway does), the answer's messages relayed when it is done."""
    body, more = b"", True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        more = message.get("more_body", False)
        if len(body) > MAX_PAYLOAD_BYTES:
            return await _problem(send, 413, "PAYLOAD_TOO_LARGE", "The request is too large")
    answer: list[dict[str, Any]] = []

    def run() -> None:
        delivered = False

        async def app_receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client never disconnects mid-answer here
            raise AssertionError("unreachable")

        async def app_send(message: dict[str, Any]) -> None:
            answer.append(message)

        loop = getattr(_loops, "loop", None)
        if loop is None:
            loop = _loops.loop = asyncio.new_event_loop()
        loop.run_until_complete(app(scope, app_receive, app_send))

    await run_in_threadpool(run)
    for message in answer:
        await send(message)


def _with_headers(send: Any, extra: list[tuple[bytes, bytes]]) -> Any:
    async def wrapped(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped


def _verified_claims(scope: Scope) -> dict[str, str] | None:
    header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        return tokens.as_gateway_claims(tokens.verify(token.strip()))
    except jwt.InvalidTokenError:
        return None


def _event(
    scope: Scope, route: Route, params: dict[str, str], claims: dict[str, str] | None
) -> dict[str, Any]:
    headers: dict[str, str] = {}
    for key, value in scope["headers"]:
        name, text = key.decode("latin-1").lower(), value.decode("latin-1")
        headers[name] = f"{headers[name]},{text}" if name in headers else text
    return http_api_event(
        scope["method"],
        scope["path"],
        route_path=route.route.path,
        claims=claims,
        headers=headers,
        query=scope.get("query_string", b"").decode("latin-1"),
        path_parameters=params,
        source_ip=(scope.get("client") or ("127.0.0.1", 0))[0],
    )


async def _json(send: Any, status: int, body: Any, media_type: str = "application/json") -> None:
    await _text(send, status, json.dumps(body, default=str), media_type)


async def _text(send: Any, status: int, text: str, media_type: str) -> None:
    payload = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", media_type.encode()),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def _problem(send: Any, status: int, code: str, title: str) -> None:
    body = {
        "type": f"https://reussite.dev/problems/{code.lower().replace('_', '-')}",
        "title": title,
        "status": status,
        "code": code,
    }
    await _json(send, status, body, "application/problem+json")
