"""Hourly: Σ lot remaining = balance = Σ entries, for the wallets that changed since the last run
and a slice of a rolling pass over all of them (`{"full": true}`: every wallet, on demand);
any mismatch raises an alarm."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from reussite.handlers import job
from reussite.jsonable import jsonable
from reussite.ledger.jobs import check_invariants
from reussite.observability import logger, metrics
from reussite.settings import require

REQUIRED_SETTINGS = ("DATABASE_URL|DATABASE_SECRET_ARN",)
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing


@job
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report = check_invariants(full=event.get("full") is True)
    mismatches = report.problems
    metrics.add_metric(name="LedgerMismatches", unit=MetricUnit.Count, value=mismatches)
    result = dict(jsonable(report))
    if mismatches:
        logger.error("ledger invariant broken", extra=result)
    else:
        logger.info("ledger invariant holds", extra=result)
    return result
