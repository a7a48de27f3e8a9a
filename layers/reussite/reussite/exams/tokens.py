"""Signed attempt tokens: the attempt, its student and its server-fixed start and deadline,
HMAC-SHA256 with a secret shared by the start and submit functions."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from functools import cache
from uuid import UUID

from reussite.settings import get_settings


@cache
def _secret() -> bytes:
    settings = get_settings()
    if settings.attempt_token_secret:
        return settings.attempt_token_secret.encode()
    if settings.attempt_token_secret_arn:
        from reussite import aws

        value = aws.secret(settings.attempt_token_secret_arn)
        return (
            str(json.loads(value).get("secret", value)).encode()
            if value.startswith("{")
            else (value.encode())
        )
    raise RuntimeError("ATTEMPT_TOKEN_SECRET or ATTEMPT_TOKEN_SECRET_ARN must be set")


def _mac(attempt_id: UUID, student_id: UUID, started_at: datetime, deadline_at: datetime) -> str:
    message = (
        f"{attempt_id}|{student_id}|{started_at.timestamp():.6f}|{deadline_at.timestamp():.6f}"
    )
    return hmac.new(_secret(), message.encode(), hashlib.sha256).hexdigest()


def sign(attempt_id: UUID, student_id: UUID, started_at: datetime, deadline_at: datetime) -> str:
    start_ms, deadline_ms = int(started_at.timestamp() * 1000), int(deadline_at.timestamp() * 1000)
    mac = _mac(attempt_id, student_id, started_at, deadline_at)
    return f"{attempt_id}.{start_ms}.{deadline_ms}.{mac}"


def verify(
    token: str, attempt_id: UUID, student_id: UUID, started_at: datetime, deadline_at: datetime
) -> bool:
    expected = sign(attempt_id, student_id, started_at, deadline_at)
    return hmac.compare_digest(token.encode(), expected.encode())


def reset() -> None:
    _secret.cache_clear()
