"""PostgreSQL access: one lazily opened connection per Lambda container (per thread in-process).

Nothing connects at import time, so the code is safe under SnapStart: the first query after a
restore finds no connection (or a broken one) and opens a fresh one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import psycopg
from psycopg.rows import dict_row

from reussite.settings import get_settings

_local = threading.local()
Connection = psycopg.Connection[dict]


def _dsn() -> str:
    settings = get_settings()
    if settings.database_url:
        return settings.database_url
    if settings.database_secret_arn:
        from aws_lambda_powertools.utilities.parameters import get_secret

        secret = json.loads(str(get_secret(settings.database_secret_arn, max_age=300)))
        return (
            f"postgresql://{quote(secret['username'])}:{quote(secret['password'])}"
            f"@{secret['host']}:{secret.get('port', 5432)}/{secret.get('dbname', 'reussite')}"
        )
    raise RuntimeError("DATABASE_URL or DATABASE_SECRET_ARN must be set")


def connection() -> Connection:
    """The container's connection, reopened when it was closed or broken."""
    conn: Connection | None = getattr(_local, "conn", None)
    if conn is None or conn.closed or conn.broken:
        conn = psycopg.connect(_dsn(), autocommit=True, row_factory=dict_row)
        _local.conn = conn
    return conn


@contextmanager
def transaction() -> Iterator[Connection]:
    """One explicit transaction on the container's connection; rolled back on any error."""
    conn = connection()
    with conn.transaction():
        yield conn


def close() -> None:
    conn: Connection | None = getattr(_local, "conn", None)
    if conn is not None:
        conn.close()
        _local.conn = None
