"""Feature flags (Powertools Feature Flags): AppConfig in AWS, a JSON file locally.

`examAndCertificate` rolls out OFF -> staff/testers -> N % of users -> ON through rules on the
context {sub, role, bucket}; `bucket` is a stable 0-99 number per user and flag, so a user stays
on the same side of a percentage rollout.
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import TYPE_CHECKING

from reussite import aws
from reussite.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.feature_flags import FeatureFlags

    from reussite.identity.models import User

EXAM_AND_CERTIFICATE = "examAndCertificate"


@cache
def _flags() -> FeatureFlags | None:
    """The flags' store, built on first use (Powertools Feature Flags imports botocore) or at
    init (`warm`). In AWS its AppConfig client is the container's one (`aws.client`), not a
    session and client of Powertools' own."""
    from aws_lambda_powertools.utilities.feature_flags import FeatureFlags
    from aws_lambda_powertools.utilities.feature_flags.base import StoreProvider

    settings = get_settings()
    if settings.appconfig_application and settings.appconfig_environment:
        from aws_lambda_powertools.utilities.feature_flags import AppConfigStore

        store: StoreProvider = AppConfigStore(
            environment=settings.appconfig_environment,
            application=settings.appconfig_application,
            name=settings.appconfig_profile or "feature-flags",
            max_age=60,
            boto3_client=aws.client("appconfigdata"),
        )
    elif settings.feature_flags_file:
        from reussite.flag_store import FileStore

        store = FileStore(settings.feature_flags_file)
    else:
        return None  # nothing configured: every flag is off
    return FeatureFlags(store=store)


def warm() -> None:
    """Build the flags' store now, for a function that evaluates a flag on most events: at init
    a SnapStart snapshot holds Powertools' feature flags and the AppConfig client, which the
    first event would otherwise import and build (the configuration itself is still fetched on
    first use, then every 60 s)."""
    _flags()


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
