"""moto's server as `python -m moto.server` runs it, counting each operation's calls and the
CPU its request thread spent (the stack's own process for AWS): `GET /_local/moto-usage`
answers {"Service.Operation": [calls, cpu seconds], ...} since the start. The load bench reads it
to say which emulated calls the machine's cores went to.

Run: python -m reussite_local.moto_server HOST PORT"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

USAGE_PATH = "/_local/moto-usage"


class Counted:
    """A WSGI app (moto's dispatcher) that counts what it serves, by operation."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.usage: dict[str, list[float]] = {}
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") == USAGE_PATH:
            with self.lock:
                body = json.dumps(self.usage).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        began = time.thread_time()
        answer = b"".join(self.app(environ, start_response))  # the work, on this thread
        spent = time.thread_time() - began
        with self.lock:
            counted = self.usage.setdefault(operation(environ), [0, 0.0])
            counted[0] += 1
            counted[1] += spent
        return [answer]


def operation(environ: dict[str, Any]) -> str:
    """`DynamoDB_20120810.PutItem`, `AmazonSQS.SendMessage` (JSON protocols name theirs in a
    header); the query and REST protocols (SES, S3) by service and method."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target)
    credential = environ.get("HTTP_AUTHORIZATION", "").partition("Credential=")[2].split("/")
    service = credential[3] if len(credential) > 3 else "?"
    return f"{service} {environ.get('REQUEST_METHOD', '?')}"


def main(host: str, port: int) -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import run_simple

    run_simple(host, port, Counted(DomainDispatcherApplication(create_backend_app)), threaded=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
