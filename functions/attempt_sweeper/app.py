"""Every 5 minutes: finalise attempts left open past their closing time (per the exam's overdue
policy), re-send certificate requests, fold the attempts graded since into the quiz statistics'
running sums, and report the debits-vs-attempts gap (must be 0)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from reussite.exams import folding, service
from reussite.handlers import job
from reussite.observability import logger, metrics
from reussite.settings import require

REQUIRED_SETTINGS = ("DATABASE_URL|DATABASE_SECRET_ARN", "CERTIFICATE_QUEUE_URL")
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing


@job
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report = service.sweep()
    report["statistics_folded"] = folding.fold_all(seconds=30)  # of its 120 s timeout
    report["debit_gap"] = service.debit_gap(full=False)  # the debits since its last run
    for name, value in report.items():
        metrics.add_metric(name=f"Attempts_{name}", unit=MetricUnit.Count, value=value)
    if report["debit_gap"]:
        logger.error("exam debits without attempts", extra=report)
    else:
        logger.info("attempts swept", extra=report)
    return report
