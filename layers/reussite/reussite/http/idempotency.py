"""Powertools idempotency at the front door (DynamoDB), PostgreSQL constraints behind it.

`once(fn, payload=...)` wraps a write so that a repeat of the same (caller, Idempotency-Key)
returns the stored response without touching the database, and the same key with a different
payload is refused. A repeat that arrives while the first is still running falls through to the
database, whose unique keys serialise it and replay the first result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from reussite.errors import IdempotencyKeyReused
from reussite.settings import get_settings

Write = Callable[..., dict[str, Any]]


class Provisional(Exception):
    """Raised by a guarded write whose outcome may still change (a payment not completed yet):
    the response is answered but not stored, so a later repeat runs the write again."""

    def __init__(self, response: dict[str, Any]) -> None:
        super().__init__("provisional outcome")
        self.response = response


def once(
    write: Write,
    *,
    payload: str | None,
    key: str = "[sub, key]",
    expires_after_seconds: int = 24 * 3600,
) -> Write:
    """`write(request=..., **context)` made idempotent on the request fields named by the
    JMESPath `key` (the caller and their Idempotency-Key by default); `payload` is the JMESPath
    of the request fields that must match on a repeat."""
    table = get_settings().idempotency_table
    if not table:  # no front door configured (unit tests of the domain): the database alone
        return _answering_provisional(
            lambda *, request, lambda_context=None, **context: write(request=request, **context)
        )
    config = IdempotencyConfig(
        event_key_jmespath=key,
        payload_validation_jmespath=payload or "",
        expires_after_seconds=expires_after_seconds,
    )
    guarded = idempotent_function(
        data_keyword_argument="request",
        persistence_store=DynamoDBPersistenceLayer(table_name=table),
        config=config,
    )(write)

    def call(
        *, request: dict[str, Any], lambda_context: Any = None, **context: Any
    ) -> dict[str, Any]:
        if lambda_context is not None:  # in-progress records then expire with the invocation
            config.register_lambda_context(lambda_context)
        try:
            return dict(guarded(request=request, **context))
        except IdempotencyAlreadyInProgressError:
            return write(request=request, **context)
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
    config = IdempotencyConfig(event_key_jmespath=key, expires_after_seconds=expires_after_seconds)
    return idempotent_function(  # type: ignore[no-any-return]
        data_keyword_argument="request",
        persistence_store=DynamoDBPersistenceLayer(table_name=table),
        config=config,
    )(work)
