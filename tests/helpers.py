"""Calling the functions of template.yaml the way API Gateway does, for the tests."""

from __future__ import annotations

import json
from typing import Any

from reussite.identity.models import Principal
from reussite_local import functions, template
from reussite_local.events import http_api_event
from reussite_local.tokens import principal_claims

FUNCTIONS = {fn.name: fn for fn in template.load().functions()}


def call(
    function: str,
    method: str,
    path: str,
    who: Principal | None = None,
    body: Any = None,
    key: str | None = None,
    query: str = "",
) -> tuple[int, Any]:
    """(status, JSON body) of an HTTP API event sent to `function`'s Lambda handler."""
    event = http_api_event(
        method,
        path,
        claims=principal_claims(who) if who else None,
        body=body,
        headers={"Idempotency-Key": key} if key else None,
        query=query,
    )
    result = functions.invoke(FUNCTIONS[function], event)
    return result["statusCode"], json.loads(result["body"])
