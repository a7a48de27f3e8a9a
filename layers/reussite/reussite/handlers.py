"""The entry points every non-HTTP function shares: Powertools' logger and metrics, and one unit
of database work per job invocation or queue record, so its connection is handed back when the
work ends (HTTP functions get the same from `reussite.http.app`)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from reussite import db
from reussite.observability import logger, metrics

if TYPE_CHECKING:  # the batch utility costs a scheduled job ~50 ms of import it never uses
    from aws_lambda_powertools.utilities.batch import BasePartialBatchProcessor

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def job(fn: Handler) -> Handler:
    """A scheduled or one-off function: its invocation is one unit of work."""

    @logger.inject_lambda_context
    @metrics.log_metrics(raise_on_empty_metrics=False)
    @functools.wraps(fn)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        with db.work():
            return fn(event, context)

    return cast(Handler, handler)


def queue_batch(
    record_handler: Callable[[Any], Any], processor: BasePartialBatchProcessor
) -> Handler:
    """A queue consumer with partial batch failures: each record is one unit of work."""
    from aws_lambda_powertools.utilities.batch import process_partial_response

    @functools.wraps(record_handler)
    def one_record(record: Any) -> Any:
        with db.work():
            return record_handler(record)

    @logger.inject_lambda_context
    @metrics.log_metrics(raise_on_empty_metrics=False)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return dict(process_partial_response(event, one_record, processor, context))

    return cast(Handler, handler)
