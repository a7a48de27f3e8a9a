"""Signing as the Standard Webhooks specification says: the signed content is
`{webhook-id}.{webhook-timestamp}.{body}`, HMAC-SHA256 with the endpoint's secret (base64 after
`whsec_`), sent as `webhook-signature: v1,<base64>`. Each endpoint's secret is derived from the
stack's key (a Secrets Manager secret) and the endpoint's salt: nothing secret is stored in the
database, and it is shown once, when the endpoint is registered."""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import cache

from reussite.secrets import credential
from reussite.settings import get_settings

PREFIX = "whsec_"


@cache
def _key() -> bytes:
    settings = get_settings()
    value = credential(settings.webhook_secret, settings.webhook_secret_arn, "secret")
    if not value:
        settings.require("webhook_secret_arn")  # raises, naming the setting
    return str(value).encode()


def endpoint_secret(salt: str) -> str:
    digest = hmac.new(_key(), f"endpoint|{salt}".encode(), hashlib.sha256).digest()
    return PREFIX + base64.b64encode(digest).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(PREFIX))
    content = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
