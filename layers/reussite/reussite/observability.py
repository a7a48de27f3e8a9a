"""The one place that creates the logger and metrics every handler shares.

No Powertools Tracer: nothing in reussite opens its own X-Ray subsegments, and building one
imports the X-Ray SDK (~200 ms of cold start). Lambda's active tracing (`Tracing: Active` in the
template) still records every invocation and its duration.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

NAMESPACE = "Reussite"
logger = Logger()
metrics = Metrics(namespace=NAMESPACE)
