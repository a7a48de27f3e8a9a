"""Shared fixtures: real PostgreSQL (embedded pgserver, or DATABASE_URL), migrations applied."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Never reach a real AWS account from the tests.
for _key, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "eu-west-3",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "Reussite",
    "XDG_RUNTIME_DIR": tempfile.mkdtemp(prefix="reussite-xdg-"),
}.items():
    os.environ.setdefault(_key, _value)

from reussite import db  # noqa: E402
from reussite.identity.models import Principal, Role, User  # noqa: E402
from reussite.settings import get_settings  # noqa: E402
from reussite_local import template  # noqa: E402
from reussite_local.aws import LocalAws  # noqa: E402
from reussite_local.konnect import FakeKonnect  # noqa: E402
from reussite_local.postgres import migrated_database  # noqa: E402
from reussite_local.stack import create_local_resources, function_environment  # noqa: E402
from tests.helpers import postgres_home  # noqa: E402

OUTPUT = Path(__file__).resolve().parents[1] / "test-output"


_KONNECT: list[FakeKonnect] = []


@pytest.fixture(scope="session", autouse=True)
def local_aws() -> Iterator[LocalAws]:
    """moto's threaded server with template.yaml's resources, the fake Konnect gateway, and the
    functions' environment pointing at them, as the local stack does."""
    aws = LocalAws()
    aws.start()
    saved = dict(os.environ)
    os.environ.pop("KONNECT_BASE_URL", None)  # the tests always talk to the fake gateway
    try:
        os.environ.update(aws.environment())
        resources, konnect = create_local_resources(aws, template.load())
        assert konnect is not None
        _KONNECT.append(konnect)
        os.environ.update(function_environment(template.load().functions(), resources))
        get_settings.cache_clear()
        yield aws
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()
        aws.stop()
        for fake in _KONNECT:
            fake.stop()


@pytest.fixture
def konnect(local_aws: LocalAws) -> Iterator[FakeKonnect]:
    """The fake Konnect gateway the functions talk to, back in normal mode after the test."""
    fake = _KONNECT[0]
    yield fake
    fake.set_mode("normal")


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with postgres_home("postgres") as home, migrated_database(home / "data") as url:
        yield url


@pytest.fixture
def conn(database_url: str) -> db.Connection:
    return db.connection()


@pytest.fixture
def principal() -> Any:
    """Make a principal with a fresh `sub`, so tests never share users."""

    def make(role: Role = Role.ELEVE, name: str | None = None) -> Principal:
        sub = f"{role.value.lower()}-{uuid.uuid4()}"
        return Principal(sub=sub, email=f"{sub}@example.test", name=name or sub, role=role)

    return make


@pytest.fixture
def user(database_url: str, principal: Any) -> Any:
    """Make a provisioned user of a role."""
    from reussite.identity import service

    def make(role: Role = Role.ELEVE, name: str | None = None) -> User:
        return service.resolve_user(principal(role, name))

    return make


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Every error answer the suite met is listed, with its code, on its operation in the
    OpenAPI document (which finds them by reading the code: `reussite_local.raises`)."""
    import re

    from reussite_local import openapi
    from tests.helpers import ANSWERED

    if not ANSWERED or exitstatus != 0:
        return
    openapi.placeholder_settings()  # for the functions no test loaded
    listed = openapi.listed_codes(openapi.document())
    templates = {
        (method, path): re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
        for method, path in listed
    }
    missing = []
    for method, path, status, code in sorted(ANSWERED):
        matches = [t for (m, t), rx in templates.items() if m == method and rx.match(path)]
        if not matches:
            continue  # not an operation of the API (an unknown path or method)
        template_path = min(matches, key=lambda t: t.count("{"))
        if (status, code) not in listed[(method, template_path)]:
            missing.append(f"{method.upper()} {template_path} → {status} {code}")
    if missing:
        print(
            "\nThe OpenAPI document does not list answers the suite met:\n  " + "\n  ".join(missing)
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
