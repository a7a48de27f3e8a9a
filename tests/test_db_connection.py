"""The connection module: one connection per container, reopened after a failure, and the
database address from Secrets Manager when DATABASE_URL is not set (as in AWS)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from reussite import db
from reussite.identity.models import Role
from reussite.settings import get_settings
from reussite_local import functions, template
from reussite_local.aws import LocalAws
from reussite_local.events import http_api_event
from reussite_local.tokens import principal_claims


def test_one_connection_is_reused_across_calls(conn: db.Connection) -> None:
    assert db.connection() is conn
    pid = conn.info.backend_pid
    assert db.connection().execute("SELECT pg_backend_pid() AS pid").fetchone() == {"pid": pid}


def test_a_connection_outlives_the_worker_thread_that_used_it(conn: db.Connection) -> None:
    def backend_pid() -> int:
        return int(db.connection().info.backend_pid)

    pids = []
    for _ in range(3):  # threads that come and go, like FastAPI's worker threads
        thread = threading.Thread(target=lambda: pids.append(backend_pid()))
        thread.start()
        thread.join()

    assert len(set(pids)) == 1


FN = next(f for f in template.load().functions() if f.name == "identity_api")


def test_a_connection_dropped_while_idle_is_replaced_without_failing_the_request(
    database_url: str, principal: Any
) -> None:
    event = http_api_event("GET", "/v1/me", claims=principal_claims(principal(Role.ELEVE)))
    assert functions.invoke(FN, event)["statusCode"] == 200
    _terminate_other_backends(database_url)

    after_drop = functions.invoke(FN, event)

    assert after_drop["statusCode"] == 200
    db.close()


def test_an_unreachable_database_is_a_503_problem_and_recovers(
    database_url: str, principal: Any
) -> None:
    event = http_api_event("GET", "/v1/me", claims=principal_claims(principal(Role.ELEVE)))
    _point_database_at("host=/nonexistent dbname=reussite connect_timeout=1")
    try:
        down = functions.invoke(FN, event)
    finally:
        _point_database_at(database_url)

    assert down["statusCode"] == 503
    assert json.loads(down["body"])["code"] == "DEPENDENCY_UNAVAILABLE"
    assert "Traceback" not in down["body"] and "nonexistent" not in down["body"]
    assert functions.invoke(FN, event)["statusCode"] == 200


def _point_database_at(url: str) -> None:
    db.close()
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()


def _terminate_other_backends(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(
            """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid()
                  AND backend_type = 'client backend'"""
        )


@pytest.fixture
def secret_only(database_url: str, local_aws: LocalAws) -> Iterator[str]:
    """DATABASE_URL unset, the address in a Secrets Manager secret (moto)."""
    info = psycopg.conninfo.conninfo_to_dict(database_url)
    arn = local_aws.client("secretsmanager").create_secret(
        Name=f"reussite/test/db-{os.getpid()}",
        SecretString=json.dumps(
            {
                "username": info.get("user", "postgres"),
                "password": "",
                "host": info["host"],
                "port": 5432,
                "dbname": info.get("dbname", "postgres"),
            }
        ),
    )["ARN"]
    saved = os.environ.pop("DATABASE_URL")
    os.environ["DATABASE_SECRET_ARN"] = arn
    get_settings.cache_clear()
    db.close()
    try:
        yield arn
    finally:
        db.close()
        os.environ.pop("DATABASE_SECRET_ARN")
        os.environ["DATABASE_URL"] = saved
        get_settings.cache_clear()


def test_the_database_address_comes_from_secrets_manager_in_aws(secret_only: str) -> None:
    row = db.connection().execute("SELECT count(*) AS n FROM schema_migrations").fetchone()

    assert row is not None and row["n"] >= 1
