"""Baseline: a bare Powertools + boto3 worker handler."""

from typing import Any

import boto3  # noqa: F401 - the baseline pays for importing it, as most workers do
from aws_lambda_powertools import Logger

logger = Logger()


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"ok": True}
