"""The migration runner: ordered, applied once even by concurrent runners, edits detected."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from reussite.db.migrate import MigrationChanged, _migrations, migrate


@pytest.fixture
def fresh_db(database_url: str) -> Iterator[str]:
    name = f"migrations_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_conninfo(database_url, dbname=name)
    finally:
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_concurrent_runners_apply_each_migration_once(fresh_db: str) -> None:
    barrier = threading.Barrier(4)

    def run() -> list[str]:
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            barrier.wait()
            return migrate(conn)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: run(), range(4)))

    versions = [version for version, _ in _migrations()]
    assert sorted(results, key=len) == [[], [], [], versions]
    with psycopg.connect(fresh_db) as conn:
        recorded = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
        assert recorded == versions


def test_an_edited_migration_is_refused(fresh_db: str) -> None:
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        migrate(conn)
        conn.execute(
            "UPDATE schema_migrations SET checksum = 'edited' WHERE version = '0001_identity'"
        )

        with pytest.raises(MigrationChanged):
            migrate(conn)
