"""Feature flags (Powertools Feature Flags): AppConfig in AWS, a JSON file locally.

`examAndCertificate` rolls out OFF -> staff/testers -> N % of users -> ON through rules on the
context {sub, role, bucket}; `bucket` is a stable 0-99 number per user and flag, so a user stays
on the same side of a percentage rollout.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.feature_flags import FeatureFlags
from aws_lambda_powertools.utilities.feature_flags.base import StoreProvider

from reussite.identity.models import User
from reussite.settings import get_settings

EXAM_AND_CERTIFICATE = "examAndCertificate"


class FileStore(StoreProvider):
    """Flags from a local JSON file, re-read when the file changes (moto has no AppConfigData)."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._seen: tuple[float, dict[str, Any]] | None = None

    @property
    def get_raw_configuration(self) -> dict[str, Any]:
        mtime = self.path.stat().st_mtime
        if self._seen is None or self._seen[0] != mtime:
            self._seen = (mtime, json.loads(self.path.read_text()))
        return self._seen[1]

    def get_configuration(self) -> dict[str, Any]:
        return self.get_raw_configuration


@cache
def _flags() -> FeatureFlags | None:
    settings = get_settings()
    if settings.appconfig_application and settings.appconfig_environment:
        from aws_lambda_powertools.utilities.feature_flags import AppConfigStore

        store: StoreProvider = AppConfigStore(
            environment=settings.appconfig_environment,
            application=settings.appconfig_application,
            name=settings.appconfig_profile or "feature-flags",
            max_age=60,
        )
    elif settings.feature_flags_file:
        store = FileStore(settings.feature_flags_file)
    else:
        return None  # nothing configured: every flag is off
    return FeatureFlags(store=store)


def bucket(flag: str, sub: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{flag}:{sub}".encode()).digest()[:4], "big") % 100


def enabled(flag: str, user: User) -> bool:
    flags = _flags()
    if flags is None:
        return False
    context = {"sub": user.sub, "role": user.role.value, "bucket": bucket(flag, user.sub)}
    return bool(flags.evaluate(name=flag, context=context, default=False))


def reset() -> None:
    """Forget the store (settings changed)."""
    _flags.cache_clear()
