"""The connection module: one connection per container, reopened after a failure, and the
database address from Secrets Manager when DATABASE_URL is not set (as in AWS)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from psycopg.pq import TransactionStatus

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


def _on_new_threads(work: Any, times: int) -> list[Any]:
    """Run `work` once on each of `times` threads that come and go, one after the other, like
    FastAPI's worker threads or the local stack's."""
    results = []
    for _ in range(times):
        thread = threading.Thread(target=lambda: results.append(work()))
        thread.start()
        thread.join()
    return results


def _backend_pid() -> int:
    with db.work():
        return int(db.connection().info.backend_pid)


def test_units_of_work_on_threads_that_come_and_go_share_one_connection(
    database_url: str,
) -> None:
    db.close()
    opened = db.connections_opened()

    pids = _on_new_threads(_backend_pid, 5)

    assert len(set(pids)) == 1
    assert db.connections_opened() - opened == 1


def test_requests_and_jobs_on_threads_that_come_and_go_share_one_connection(
    database_url: str, principal: Any
) -> None:
    me = http_api_event("GET", "/v1/me", claims=principal_claims(principal(Role.ELEVE)))
    invariants = next(f for f in template.load().functions() if f.name == "ledger_invariants")
    db.close()
    opened = db.connections_opened()

    statuses = _on_new_threads(lambda: functions.invoke(FN, me)["statusCode"], 4)
    reports = _on_new_threads(lambda: functions.invoke(invariants, {}), 2)

    assert statuses == [200] * 4 and all(not r["wallet_mismatches"] for r in reports)
    assert db.connections_opened() - opened == 1


def test_concurrent_units_open_only_as_many_connections_as_were_busy_at_once(
    database_url: str,
) -> None:
    busy = 3
    together = threading.Barrier(busy)

    def hold_while_the_others_do() -> int:
        with db.work():
            row = db.connection().execute("SELECT pg_backend_pid() AS p").fetchone()
            assert row is not None
            pid = int(row["p"])
            together.wait(timeout=10)  # all `busy` units hold a connection at this point
            return pid

    db.close()
    opened = db.connections_opened()
    rounds = []
    for _ in range(2):
        with ThreadPoolExecutor(max_workers=busy) as pool:
            rounds.append(set(pool.map(lambda _: hold_while_the_others_do(), range(busy))))

    assert len(rounds[0]) == busy
    assert rounds[1] == rounds[0]  # the second round took the first round's connections back
    assert db.connections_opened() - opened == busy


def test_a_connection_left_in_a_transaction_or_broken_is_never_handed_back(
    database_url: str,
) -> None:
    db.close()
    with db.work():
        left_open = db.connection()
        left_open.execute("BEGIN")
        left_open.execute("SELECT 1")
    with db.work():
        broken = db.connection()
        _terminate(database_url, broken.info.backend_pid)
        with pytest.raises(psycopg.OperationalError):
            broken.execute("SELECT 1")
    with db.work():
        fresh = db.connection()
        row = fresh.execute("SELECT 1 AS one").fetchone()

    assert left_open.closed and broken.closed
    assert fresh is not left_open and fresh is not broken and row == {"one": 1}
    assert fresh.info.transaction_status == TransactionStatus.IDLE


def test_a_unit_of_work_hands_its_connection_back_when_it_fails(database_url: str) -> None:
    db.close()
    with pytest.raises(RuntimeError), db.work():
        failed = db.connection()
        with db.transaction() as tx:
            tx.execute("SELECT 1")
            raise RuntimeError("the request failed")
    with db.work():
        again = db.connection()

    assert again is failed and not failed.closed


def _terminate(database_url: str, pid: int) -> None:
    with psycopg.connect(database_url, autocommit=True) as admin:
        # with a timeout, the call returns once the backend has really ended (PostgreSQL 14+).
        # (A loop polling pg_stat_activity in one DO block never ended when the backend was
        # still listed at its first read: the view is a snapshot for the whole transaction.)
        ended = admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,)).fetchone()
        assert ended == (True,), ended


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
