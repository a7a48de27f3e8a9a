"""API Gateway HTTP API (payload v2) events, as the local gateway and the tests build them."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any


def http_api_event(
    method: str,
    path: str,
    *,
    route_path: str | None = None,
    claims: dict[str, str] | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    query: str = "",
    path_parameters: dict[str, str] | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """An event like the one API Gateway sends after its JWT authorizer accepted `claims`."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    raw_body = body if isinstance(body, str) or body is None else json.dumps(body)
    if raw_body is not None:
        headers.setdefault("content-type", "application/json")
    route_key = f"{method} {route_path or path}"
    now = time.time()
    context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "local",
        "domainName": headers.get("host", "127.0.0.1"),
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": route_key,
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    if claims is not None:
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": False,
    }
    if path_parameters:
        event["pathParameters"] = path_parameters
    if raw_body is not None:
        event["body"] = raw_body
    return event
