"""The one place that creates the logger, metrics and tracer every handler shares.

The tracer is created on first use: building a Powertools Tracer imports the X-Ray SDK
(~200 ms of cold start), which only the functions that trace downstream calls should pay.
Lambda's active tracing still records every invocation without it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

NAMESPACE = "Reussite"
logger = Logger()
metrics = Metrics(namespace=NAMESPACE)


@cache
def _tracer() -> Tracer:
    return Tracer()


def __getattr__(name: str) -> Any:
    if name == "tracer":
        return _tracer()
    raise AttributeError(name)
