"""PostgreSQL access: one connection per Lambda container, reused across invocations.

Lambda runs one request at a time per container, but FastAPI runs sync code on worker threads
that come and go, and the local stack serves requests concurrently. So each thread leases a
connection; when the thread ends its lease returns the connection to an idle list that the next
thread takes from. In a container that means one connection for its whole life; locally, one
per concurrently busy thread.

Nothing connects at import time, so the code is safe under SnapStart: the first query after a
restore opens a connection, and a broken one is replaced on the next call.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row

from reussite.settings import get_settings

Connection = psycopg.Connection[dict]

_local = threading.local()
_idle: list[Connection] = []
_idle_lock = threading.Lock()
_generation = 0  # bumped by close(): leases from before are dropped on their next use


def _dsn() -> str:
    settings = get_settings()
    if settings.database_url:
        return settings.database_url
    if settings.database_secret_arn:
        from aws_lambda_powertools.utilities.parameters import get_secret

        secret = json.loads(str(get_secret(settings.database_secret_arn, max_age=300)))
        return make_conninfo(
            user=secret["username"],
            password=secret["password"],
            host=secret["host"],
            port=secret.get("port", 5432),
            dbname=secret.get("dbname", "reussite"),
        )
    raise RuntimeError("DATABASE_URL or DATABASE_SECRET_ARN must be set")


def _usable(conn: Connection) -> bool:
    return not (conn.closed or conn.broken)


class _Lease:
    """A thread's hold on a connection; handed back to the idle list when the thread ends."""

    __slots__ = ("conn", "generation")

    def __init__(self, conn: Connection) -> None:
        self.conn: Connection | None = conn
        self.generation = _generation

    def release(self) -> None:
        conn, self.conn = self.conn, None
        if conn is None:
            return
        idle = conn.info.transaction_status == TransactionStatus.IDLE
        if _usable(conn) and idle and self.generation == _generation:
            with _idle_lock:
                _idle.append(conn)
        else:
            conn.close()

    def __del__(self) -> None:
        self.release()


def connection() -> Connection:
    """This thread's connection: kept, else an idle one, else a new one."""
    lease: _Lease | None = getattr(_local, "lease", None)
    if lease is not None and lease.conn is not None:
        if _usable(lease.conn) and lease.generation == _generation:
            return lease.conn
        lease.conn.close()
    conn = None
    with _idle_lock:
        while _idle and conn is None:
            candidate = _idle.pop()
            conn = candidate if _usable(candidate) else None
    if conn is None:
        conn = psycopg.connect(_dsn(), autocommit=True, row_factory=dict_row)
    _local.lease = _Lease(conn)
    return conn


def read_one(query: str, params: tuple[object, ...] = ()) -> dict | None:
    """A request's opening read. A kept connection can die while the container sits idle (proxy
    idle timeout, failover, SnapStart restore); then reconnect once and read again."""
    conn = connection()
    try:
        return conn.execute(query, params).fetchone()
    except psycopg.OperationalError:
        if _usable(conn):  # the server answered: a real error, not a dead connection
            raise
        _drop_idle()  # they sat idle as long as this one did: likely dead too
        return connection().execute(query, params).fetchone()


@contextmanager
def transaction() -> Iterator[Connection]:
    """One explicit transaction on this thread's connection; rolled back on any error."""
    conn = connection()
    with conn.transaction():
        yield conn


def release() -> None:
    """Hand this thread's connection back for other threads (end of a worker thread's task)."""
    lease: _Lease | None = getattr(_local, "lease", None)
    if lease is not None:
        lease.release()
        _local.lease = None


def close() -> None:
    """Close every connection of the process: this thread's and idle ones now, other threads'
    on their next use (tests, settings changes, shutdown)."""
    global _generation
    _generation += 1
    lease: _Lease | None = getattr(_local, "lease", None)
    if lease is not None and lease.conn is not None:
        lease.conn.close()
        lease.conn = None
    _drop_idle()


def _drop_idle() -> None:
    with _idle_lock:
        while _idle:
            _idle.pop().close()
