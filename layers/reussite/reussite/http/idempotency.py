"""Powertools idempotency at the front door (DynamoDB), PostgreSQL constraints behind it.

`once(fn, payload=...)` wraps a write so that a repeat of the same (caller, Idempotency-Key)
returns the stored response without touching the database, and the same key with a different
payload is refused. A repeat that arrives while the first is still running falls through to the
database, whose unique keys serialise it and replay the first result.

Powertools' idempotency package (and boto3 with it, ~100 ms) is imported and its DynamoDB client
created on the first guarded call, not at import: a function's routes that never write (a
catalogue read, a webhook for an unknown reference) do not pay for them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from reussite.errors import IdempotencyKeyReused, RequestInProgress
from reussite.settings import get_settings

Write = Callable[..., dict[str, Any]]

IN_PROGRESS_WAIT_SECONDS = 5.0
"""How long a repeat waits for its first request to finish when no database key serialises
them (a staff write takes well under a second)."""


class Provisional(Exception):
    """Raised by a guarded write whose outcome may still change (a payment not completed yet):
    the response is answered but not stored, so a later repeat runs the write again."""

    def __init__(self, response: dict[str, Any]) -> None:
        super().__init__("provisional outcome")
        self.response = response


class _FrontDoor:
    """`work` behind Powertools idempotency on DynamoDB, built on first use."""

    def __init__(self, work: Write, table: str, key: str, payload: str, expires: int) -> None:
        self.work, self.table, self.key, self.payload, self.expires = (
            work,
            table,
            key,
            payload,
            expires,
        )
        self._lock = threading.Lock()
        self._config: Any = None
        self._guarded: Write | None = None

    def __call__(
        self, *, request: dict[str, Any], lambda_context: Any = None, **context: Any
    ) -> Any:
        guarded = self._guarded or self._build()
        if lambda_context is not None:  # in-progress records then expire with the invocation
            self._config.register_lambda_context(lambda_context)
        return guarded(request=request, **context)

    def _build(self) -> Write:
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        with self._lock:
            if self._guarded is None:
                self._config = IdempotencyConfig(
                    event_key_jmespath=self.key,
                    payload_validation_jmespath=self.payload,
                    expires_after_seconds=self.expires,
                )
                self._guarded = idempotent_function(
                    data_keyword_argument="request",
                    persistence_store=DynamoDBPersistenceLayer(table_name=self.table),
                    config=self._config,
                )(self.work)
            return self._guarded


def once(
    write: Write,
    *,
    payload: str | None,
    key: str = "[sub, key]",
    expires_after_seconds: int = 24 * 3600,
    database_serialises: bool = True,
) -> Write:
    """`write(request=..., **context)` made idempotent on the request fields named by the
    JMESPath `key` (the caller and their Idempotency-Key by default); `payload` is the JMESPath
    of the request fields that must match on a repeat.

    A repeat arriving while the first is still running goes to the database when its unique
    keys serialise the write (`database_serialises`); a write with no such key (a staff
    creating a course offering) waits for the first to finish and replays its answer instead,
    or, if it is still running after IN_PROGRESS_WAIT_SECONDS, answers 409
    REQUEST_IN_PROGRESS — never a second copy."""
    table = get_settings().idempotency_table
    if not table:  # no front door configured (unit tests of the domain): the database alone
        return _answering_provisional(
            lambda *, request, lambda_context=None, **context: write(request=request, **context)
        )
    door = _FrontDoor(write, table, key, payload or "", expires_after_seconds)

    def call(
        *, request: dict[str, Any], lambda_context: Any = None, **context: Any
    ) -> dict[str, Any]:
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyValidationError,
        )

        waited = 0.0
        while True:
            try:
                return dict(door(request=request, lambda_context=lambda_context, **context))
            except IdempotencyAlreadyInProgressError:
                if database_serialises:
                    return write(request=request, **context)
                if waited >= IN_PROGRESS_WAIT_SECONDS:
                    raise RequestInProgress() from None
                time.sleep(0.05)
                waited += 0.05
            except IdempotencyValidationError as exc:
                raise IdempotencyKeyReused() from exc

    return _answering_provisional(call)


def _answering_provisional(call: Write) -> Write:
    def answer(**kwargs: Any) -> dict[str, Any]:
        try:
            return call(**kwargs)
        except Provisional as outcome:
            return outcome.response

    return answer


def once_per(work: Write, *, key: str, expires_after_seconds: int = 7 * 24 * 3600) -> Write:
    """`work(request=...)` made idempotent on request[key] (a queue message's subject, say).
    A repeat while the first is in progress raises, so the message is retried later."""
    table = get_settings().idempotency_table
    if not table:
        return work
    door = _FrontDoor(work, table, key, "", expires_after_seconds)
    return lambda *, request: dict(door(request=request))
