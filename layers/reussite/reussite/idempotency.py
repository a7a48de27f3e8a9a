"""The one way a write compares a repeated Idempotency-Key with its first request: the whole
request, fingerprinted. The fingerprint is stored beside the key; a repeat whose fingerprint
differs is 422 IDEMPOTENCY_KEY_REUSED, never the first answer replayed."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from reussite.errors import IdempotencyKeyReused


def fingerprint(operation: str, **request: Any) -> str:
    """A stable digest of the operation and every field of its request (ids, times and lists
    included; lists compared as given)."""
    canonical = json.dumps(
        {"operation": operation, **request}, sort_keys=True, default=str, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def require_same(stored: str | None, request_hash: str) -> None:
    """Refuse a repeat of a key with a different request (rows from before fingerprints have
    none: their own checks stand)."""
    if stored is not None and stored != request_hash:
        raise IdempotencyKeyReused()
