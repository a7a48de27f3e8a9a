"""JSON over HTTP to the providers reussite calls (Konnect, Gemini, OpenAI), standard library
only: a few JSON calls do not justify an HTTP package on the cold path of the functions making
them. Every call has a timeout."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class Unreachable(Exception):
    """No answer: refused, reset, DNS failure or timeout."""


def call_json(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: Any = None,
    timeout: float,
) -> tuple[int, dict[str, Any]]:
    """(status, JSON object answered, {} if none) for any HTTP status; Unreachable if none."""
    request = urllib.request.Request(
        url,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"}
        | (headers or {}),
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, _json(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, _json(exc.read())
    except (OSError, TimeoutError) as exc:  # URLError is an OSError
        raise Unreachable(str(exc)) from exc


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
