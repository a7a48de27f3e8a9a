"""AWS clients, each built once per container however many threads ask at once (boto3's
default session is not safe to build clients from concurrently, and Powertools builds its
Secrets Manager provider unguarded): one session, one client per service, one secrets provider
on that client. Functions build the clients they use at init (`warm`), so SnapStart's snapshot
holds them."""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_session: Any = None
_clients: dict[str, Any] = {}
_secrets: Any = None


def client(service: str) -> Any:
    """The container's one boto3 client for `service`."""
    found = _clients.get(service)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(service)
        if found is None:
            global _session
            if _session is None:
                import boto3

                _session = boto3.session.Session()
            found = _clients[service] = _session.client(service)
        return found


def secrets_provider() -> Any:
    """The container's one Powertools Secrets Manager provider, on the shared client."""
    global _secrets
    if _secrets is None:
        sm = client("secretsmanager")
        with _lock:
            if _secrets is None:
                from aws_lambda_powertools.utilities.parameters import SecretsProvider

                _secrets = SecretsProvider(boto3_client=sm)
    return _secrets


def secret(arn: str, max_age: int = 300, force_fetch: bool = False) -> str:
    """A secret's value through Powertools (cached `max_age` seconds)."""
    return str(secrets_provider().get(arn, max_age=max_age, force_fetch=force_fetch))


def warm(*services: str) -> None:
    """Build these clients now (at init, outside the handler)."""
    for service in services:
        client(service)


def warm_secrets(*arns: str | None) -> None:
    """Build the secrets provider now if any of these secrets is configured (locally the values
    are given in plain and no client is needed)."""
    if any(arns):
        secrets_provider()


def reset() -> None:
    """Forget every client (tests that point the process at another endpoint)."""
    global _session, _secrets
    with _lock:
        _session, _secrets = None, None
        _clients.clear()
