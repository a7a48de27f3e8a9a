"""Powertools idempotency at the front door (DynamoDB), PostgreSQL constraints behind it.

`http_write(action, output)` is the one way an HTTP write that creates or spends is made safe to
retry: the request is its pydantic model, keyed by the caller and their Idempotency-Key, and the
whole model is compared on a repeat (another request with the same key → 422
IDEMPOTENCY_KEY_REUSED); the answer is stored through its own type and a repeat gets it back
without touching the database. `guard(work, key=...)` is the same front door for events keyed by
something else (a provider's payment reference, a queue message's subject), with dicts in and
out.

A repeat that arrives while the first is still running falls through to the database when its
unique keys serialise the write and replay the first result; a write no database key serialises
waits for the first to finish and replays its answer instead (409 REQUEST_IN_PROGRESS if it is
still running after IN_PROGRESS_WAIT_SECONDS).

Powertools' idempotency package (and boto3 with it, ~100 ms) is imported and its DynamoDB client
created on the first guarded call, not at import: a function's routes that never write (a
catalogue read, a webhook for an unknown reference) do not pay for them. A function whose every
event passes the door builds it at init instead (`.warm()`), where a SnapStart snapshot holds
it. pydantic is imported only by `http_write`'s callers (the HTTP functions, which have it).
The table is required at init: without it a function fails to start, naming IDEMPOTENCY_TABLE.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from reussite import aws
from reussite.errors import IdempotencyKeyReused, RequestInProgress
from reussite.settings import get_settings

if TYPE_CHECKING:
    from pydantic import BaseModel

    from reussite.identity.models import User

Request = TypeVar("Request", bound="BaseModel")
Answer = TypeVar("Answer")
Work = Callable[..., Any]

IN_PROGRESS_WAIT_SECONDS = 5.0
"""How long a repeat waits for its first request to finish when no database key serialises
them (a staff write takes well under a second)."""


class Provisional(Exception):
    """Raised by a guarded write whose outcome may still change (a payment not completed yet):
    the response is answered but not stored, so a later repeat runs the write again."""

    def __init__(self, response: Any) -> None:
        super().__init__("provisional outcome")
        self.response = response


@cache
def _keyed() -> type[BaseModel]:
    """The model of what an HTTP write's front door keys on and compares. Built on first use:
    pydantic (~90 ms of import) is the HTTP functions' own cost, not the queue workers'."""
    from pydantic import BaseModel, SerializeAsAny

    class Keyed(BaseModel):
        """What the front door keys on (`sub`, `key`) and compares on a repeat (`request`)."""

        sub: str
        key: str
        request: SerializeAsAny[BaseModel]

    return Keyed


def _typed_serializer(output: type[Any], stored: bool = True) -> Any:
    """A Powertools output serializer for any type pydantic knows (models, dataclasses). An
    answer not `stored` is not serialised (a record stored before still reads back)."""
    from aws_lambda_powertools.utilities.idempotency.serialization.base import (
        BaseIdempotencySerializer,
    )
    from pydantic import TypeAdapter

    adapter: TypeAdapter[Any] = TypeAdapter(output)

    class Typed(BaseIdempotencySerializer):
        def to_dict(self, data: Any) -> dict[str, Any]:
            return dict(adapter.dump_python(data, mode="json")) if stored else {}

        def from_dict(self, data: dict[str, Any]) -> Any:
            return adapter.validate_python(data)

    return Typed()


def _claim_only_layer() -> type[Any]:
    """A DynamoDB persistence layer that records a request's claim (its in-progress record, with
    the request's hash) and never its answer: for writes whose database key replays the first
    answer itself, one store call a request instead of two. A repeat while the claim holds is
    compared with it (another request: 422); a repeat after it lapses runs the write again, and
    the database replays or refuses it."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    class ClaimOnly(DynamoDBPersistenceLayer):
        def save_success(self, data: dict[str, Any], result: dict[str, Any]) -> None:
            return None

    return ClaimOnly


class _Door:
    """`work` behind Powertools idempotency on DynamoDB, built on first use. A repeat arriving
    while the first runs: `in_progress` "database" runs `work` (its unique keys serialise it),
    "wait" waits for the first answer, "raise" raises Powertools' error (a queue retries)."""

    def __init__(
        self,
        work: Work,
        *,
        key: str,
        payload: str,
        expires: int,
        output: type[Any] | None,
        in_progress: str,
        store_answer: bool = True,
    ) -> None:
        self.work, self.key, self.payload, self.expires = work, key, payload, expires
        self.output, self.in_progress = output, in_progress
        self.store_answer = store_answer
        self.table = get_settings().require("idempotency_table")
        self._lock = threading.Lock()
        self._config: Any = None
        self._guarded: Work | None = None

    def __call__(self, *, request: Any, lambda_context: Any = None, **context: Any) -> Any:
        guarded = self._guarded or self._build()
        if lambda_context is not None:  # in-progress records then expire with the invocation
            self._config.register_lambda_context(lambda_context)
        try:
            return self._once(guarded, request, context)
        except Provisional as outcome:
            return outcome.response

    def _once(self, guarded: Work, request: Any, context: dict[str, Any]) -> Any:
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyValidationError,
        )

        waited = 0.0
        while True:
            try:
                return guarded(request=request, **context)
            except IdempotencyAlreadyInProgressError:
                if self.in_progress == "raise":
                    raise
                if self.in_progress == "database":
                    return self.work(request=request, **context)
                if waited >= IN_PROGRESS_WAIT_SECONDS:
                    raise RequestInProgress() from None
                time.sleep(0.05)
                waited += 0.05
            except IdempotencyValidationError as exc:
                raise IdempotencyKeyReused() from exc

    def warm(self) -> None:
        """Build the persistence layer now (at init, so a SnapStart snapshot holds it and its
        DynamoDB client), for a function whose every event goes through the door."""
        self._build()

    def _build(self) -> Work:
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        with self._lock:
            if self._guarded is None:
                store = DynamoDBPersistenceLayer if self.store_answer else _claim_only_layer()
                self._config = IdempotencyConfig(
                    event_key_jmespath=self.key,
                    payload_validation_jmespath=self.payload,
                    expires_after_seconds=self.expires,
                )
                self._guarded = idempotent_function(
                    data_keyword_argument="request",
                    persistence_store=store(
                        table_name=self.table, boto3_client=aws.client("dynamodb")
                    ),
                    config=self._config,
                    output_serializer=(
                        _typed_serializer(self.output, self.store_answer) if self.output else None
                    ),
                )(self.work)
            return self._guarded


class HttpWrite(Generic[Request, Answer]):
    """An HTTP write behind the front door: `write(user, key, request)` answers `Answer`."""

    def __init__(self, door: _Door) -> None:
        self._door = door

    def __call__(
        self, user: User, key: str, request: Request, lambda_context: Any = None
    ) -> Answer:
        keyed = _keyed()(sub=user.sub, key=key, request=request)
        answer: Answer = self._door(request=keyed, lambda_context=lambda_context, user=user)
        return answer

    def warm(self) -> HttpWrite[Request, Answer]:
        """Build the door's persistence layer now, at init (see `_Door.warm`)."""
        self._door.warm()
        return self


def http_write(
    action: Callable[[User, Request, str], Answer],
    output: type[Answer],
    *,
    database_serialises: bool = True,
    database_replays: bool = False,
    expires_after_seconds: int = 24 * 3600,
) -> HttpWrite[Request, Answer]:
    """`action(user, request, key)` made idempotent on (caller, Idempotency-Key), the whole
    request compared on a repeat. `database_serialises`: the action's own unique key in
    PostgreSQL replays a concurrent repeat (see the module). `database_replays`: it also
    replays every repeat with the first answer and refuses the key reused for another request,
    so the store keeps only the claim (`_claim_only_layer`)."""

    assert database_serialises or not database_replays, "a database that replays serialises"

    def work(*, request: Any, user: User) -> Answer:
        return action(user, request.request, request.key)

    door = _Door(
        work,
        key="[sub, key]",
        payload="request",
        expires=expires_after_seconds,
        output=output,
        in_progress="database" if database_serialises else "wait",
        store_answer=not database_replays,
    )
    return HttpWrite(door)


def guard(
    work: Callable[..., dict[str, Any]],
    *,
    key: str,
    expires_after_seconds: int = 7 * 24 * 3600,
    retry_in_progress: bool = False,
) -> Guarded:
    """`work(request={...})` made idempotent on request[key] (a payment reference, a queue
    message's subject). A repeat while the first is in progress goes to the database (whose
    constraints serialise it), or raises Powertools' in-progress error for the queue to retry
    the message later (`retry_in_progress`)."""
    door = _Door(
        work,
        key=key,
        payload="",
        expires=expires_after_seconds,
        output=None,
        in_progress="raise" if retry_in_progress else "database",
    )

    return Guarded(door)


class Guarded:
    """A worker's step behind the front door: `step(request={...})`."""

    def __init__(self, door: _Door) -> None:
        self._door = door

    def __call__(self, *, request: dict[str, Any], lambda_context: Any = None) -> dict[str, Any]:
        return dict(self._door(request=request, lambda_context=lambda_context))

    def warm(self) -> Guarded:
        """Build the door's persistence layer now, at init (see `_Door.warm`)."""
        self._door.warm()
        return self
