"""Links in emails that open in a browser: a short-lived token naming one resource (a report,
say), HMAC-SHA256 with a secret of the stack, that the resource's public page accepts instead
of a Bearer header. An altered token, one for another resource or an expired one is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from functools import cache

from reussite.secrets import credential
from reussite.settings import get_settings

DEFAULT_TTL_SECONDS = 7 * 24 * 3600  # an email read within the week


@cache
def _secret() -> bytes:
    settings = get_settings()
    value = credential(settings.link_secret, settings.link_secret_arn, "secret")
    if not value:
        settings.require("link_secret_arn")  # raises, naming the setting
    return str(value).encode()


def _mac(resource: str, expires: int) -> str:
    digest = hmac.new(_secret(), f"{resource}|{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(resource: str, ttl_seconds: int = DEFAULT_TTL_SECONDS, now: float | None = None) -> str:
    """A token for `resource` (e.g. "bilan:<id>") valid `ttl_seconds`."""
    expires = int((now or time.time()) + ttl_seconds)
    return f"{expires}.{_mac(resource, expires)}"


def verify(token: str, resource: str, now: float | None = None) -> bool:
    """Whether `token` was signed for `resource` and has not expired."""
    expires, _, mac = token.partition(".")
    if not expires.isdigit() or len(expires) > 12 or int(expires) < (now or time.time()):
        return False
    return hmac.compare_digest(mac, _mac(resource, int(expires)))
