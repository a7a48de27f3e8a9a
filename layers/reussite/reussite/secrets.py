"""Credentials for the providers: the value itself locally, its Secrets Manager secret in AWS
(read through Powertools, cached five minutes, so a rotation needs no deploy)."""

from __future__ import annotations

import json


def credential(plain: str | None, secret_arn: str | None, field: str) -> str | None:
    """`plain` if set; else the secret's value, either the bare credential or a JSON object
    holding it under `field`; None if neither is configured."""
    if plain:
        return plain
    if not secret_arn:
        return None
    from reussite import aws

    value = aws.secret(secret_arn)
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    return str(parsed.get(field, value)) if isinstance(parsed, dict) else value
