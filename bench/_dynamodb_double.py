"""A DynamoDB double with a fixed latency per call, for benchmarks: an HTTP server speaking the
DynamoDB JSON 1.0 protocol (`X-Amz-Target: DynamoDB_20120810.<Operation>`) for the calls
Powertools' idempotency layer makes (PutItem with its condition, GetItem, UpdateItem SET,
DeleteItem), holding items in memory, and answering each call after `latency_ms`, so a run
measures the handler and not moto's Python (moto's own latency varies with load).

Anything else (another condition, another operation) is refused with a ValidationException:
the double never answers what it does not understand."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from reussite_local.aws import free_port

# the condition Powertools' DynamoDBPersistenceLayer puts a record with
_PUT_CONDITION = (
    "attribute_not_exists(#id) OR #expiry < :now OR "
    "(#status = :inprogress AND attribute_exists(#in_progress_expiry) AND "
    "#in_progress_expiry < :now_in_millis)"
)
_SET = re.compile(r"^SET (#\w+ = :\w+)(, #\w+ = :\w+)*$")


class _Refused(Exception):
    def __init__(self, kind: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.kind, self.message, self.extra = kind, message, extra


class _Table:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()

    @staticmethod
    def key(body: dict[str, Any]) -> str:
        return json.dumps(body["Key"] if "Key" in body else {"id": body["Item"]["id"]})

    def put_item(self, body: dict[str, Any]) -> dict[str, Any]:
        condition = body.get("ConditionExpression")
        if condition not in (None, _PUT_CONDITION):
            raise _Refused("ValidationException", f"condition not supported: {condition}")
        names, values = (
            body.get("ExpressionAttributeNames", {}),
            body.get("ExpressionAttributeValues", {}),
        )
        key = self.key(body)
        with self.lock:
            old = self.items.get(key)
            if condition and old is not None and not self._replaceable(old, names, values):
                extra = {}
                if body.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD":
                    extra["Item"] = old
                raise _Refused(
                    "ConditionalCheckFailedException", "The conditional request failed", **extra
                )
            self.items[key] = body["Item"]
        return {}

    @staticmethod
    def _replaceable(old: dict[str, Any], names: dict[str, str], values: dict[str, Any]) -> bool:
        def number(attr: str) -> float | None:
            value = old.get(names[attr])
            return float(value["N"]) if value else None

        expiry, in_progress_expiry = number("#expiry"), number("#in_progress_expiry")
        if expiry is not None and expiry < float(values[":now"]["N"]):
            return True
        return (
            old.get(names["#status"]) == values[":inprogress"]
            and in_progress_expiry is not None
            and in_progress_expiry < float(values[":now_in_millis"]["N"])
        )

    def get_item(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            item = self.items.get(self.key(body))
        return {"Item": item} if item is not None else {}

    def update_item(self, body: dict[str, Any]) -> dict[str, Any]:
        expression = body["UpdateExpression"]
        if not _SET.match(expression) or "ConditionExpression" in body:
            raise _Refused("ValidationException", f"update not supported: {expression}")
        names, values = body["ExpressionAttributeNames"], body["ExpressionAttributeValues"]
        key = self.key(body)
        with self.lock:
            item = self.items.setdefault(key, dict(body["Key"]))
            for assignment in expression.removeprefix("SET ").split(", "):
                name, value = assignment.split(" = ")
                item[names[name]] = values[value]
        return {}

    def delete_item(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.items.pop(self.key(body), None)
        return {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's pool expects
    disable_nagle_algorithm = True  # headers and body leave at once, no delayed-ACK stall
    server: _Server

    def do_POST(self) -> None:
        started = time.perf_counter()
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        operation = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
        method = re.sub(r"(?<!^)([A-Z])", r"_\1", operation).lower()
        status, answer = 200, {}
        try:
            tables = self.server.tables
            if method not in ("put_item", "get_item", "update_item", "delete_item"):
                raise _Refused("ValidationException", f"operation not supported: {operation}")
            with self.server.lock:
                table = tables.setdefault(body["TableName"], _Table())
            answer = getattr(table, method)(body)
        except _Refused as refused:
            status = 400
            answer = {
                "__type": f"com.amazonaws.dynamodb.v20120810#{refused.kind}",
                "message": refused.message,
                **refused.extra,
            }
        self.server.calls += 1
        rest = self.server.latency - (time.perf_counter() - started)
        if rest > 0:
            time.sleep(rest)
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, latency_ms: float) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.latency = latency_ms / 1000
        self.tables: dict[str, _Table] = {}
        self.lock = threading.Lock()
        self.calls = 0


@contextmanager
def dynamodb_double(latency_ms: float) -> Iterator[str]:
    """The double's endpoint URL, served by its own process (like a remote table, and off the
    measured process's GIL) until the block ends."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, str(port), str(latency_ms)])
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    _Server(int(sys.argv[1]), float(sys.argv[2])).serve_forever()
