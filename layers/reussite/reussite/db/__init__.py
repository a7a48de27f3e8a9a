"""PostgreSQL access: one connection per Lambda container, reused across invocations.

A connection is leased by a unit of work and handed back to an idle list when that work ends:
`work()` is opened by the shared entry points around each HTTP request (a middleware of every
app) and each job or queue record, so the next unit takes the same connection. FastAPI runs
sync code on worker threads that come and go; they see their request's unit through the
context they inherit, so a request uses one connection whatever thread runs it. A connection
left inside a transaction, or broken, is closed rather than handed back. In a container that
means one connection for its whole life; locally, one per concurrently busy request.

Code outside any unit (tests, a job's own worker threads) leases per thread; a thread hands its
connection back with `release()`, or, as a safety net only, when its lease is collected.

Nothing connects at import time, so the code is safe under SnapStart: the first query after a
restore opens a connection, and a broken one is replaced on the next call. Each opening is
logged with the container's running count (`connections_opened`), and counted as the
`DbConnectionsOpened` metric, so a regression shows.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import psycopg
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from psycopg.conninfo import make_conninfo
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row, tuple_row

from reussite.observability import NAMESPACE, logger
from reussite.settings import get_settings

Connection = psycopg.Connection[dict[str, Any]]

_local = threading.local()
_idle: list[Connection] = []
_idle_lock = threading.Lock()
_generation = 0  # bumped by close(): leases from before are dropped on their next use
_opened = 0  # connections this process (container) opened


def _dsn() -> str:
    settings = get_settings()
    if settings.database_url:
        return settings.database_url
    if settings.database_secret_arn:
        from reussite import aws

        secret = json.loads(aws.secret(settings.database_secret_arn, max_age=300))
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
    """A hold on a connection, by a unit of work or by a thread outside any unit."""

    __slots__ = ("conn", "generation")

    def __init__(self) -> None:
        self.conn: Connection | None = None
        self.generation = _generation

    def acquire(self) -> Connection:
        """The held connection if it is still good, else an idle one, else a new one."""
        conn = self.conn
        if conn is not None:
            if _usable(conn) and self.generation == _generation:
                return conn
            conn.close()
        self.conn, self.generation = _take_idle() or _open(), _generation
        return self.conn

    def release(self) -> None:
        """Hand the connection back; one inside a transaction, broken or stale is closed."""
        conn, self.conn = self.conn, None
        if conn is None:
            return
        idle = conn.info.transaction_status == TransactionStatus.IDLE
        if _usable(conn) and idle and self.generation == _generation:
            with _idle_lock:
                _idle.append(conn)
        else:
            conn.close()

    def __del__(self) -> None:  # safety net: a thread that ended without release()
        self.release()


_unit: ContextVar[_Lease | None] = ContextVar("reussite_db_unit", default=None)


class Statements:
    """How many statements ran while counting (the tests' query budgets, the benchmarks), and
    which, when asked to keep them (their plans are checked); `held`, how long each explicit
    transaction stayed open, in seconds (the locks it took were held that long); `seconds`, the
    time spent in the statements' calls (round trips included: a request path's SQL time)."""

    __slots__ = ("count", "held", "kept", "seconds")

    def __init__(self, keep: bool) -> None:
        self.count = 0
        self.kept: list[tuple[Any, Any]] | None = [] if keep else None
        self.held: list[float] = []
        self.seconds = 0.0

    def add(self, query: Any, params: Any) -> None:
        self.count += 1
        if self.kept is not None:
            self.kept.append((query, params))


_counting: ContextVar[Statements | None] = ContextVar("reussite_db_counting", default=None)


class _Cursor(psycopg.Cursor[dict[str, Any]]):
    """psycopg's cursor, counting each statement for whoever counts in this context (the
    request's worker threads inherit it)."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        counter = _counting.get()
        if counter is None:
            return super().execute(query, params, **kwargs)
        counter.add(query, params)
        started = time.perf_counter()
        try:
            return super().execute(query, params, **kwargs)
        finally:
            counter.seconds += time.perf_counter() - started

    def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> None:
        counter = _counting.get()
        if counter is None:
            return super().executemany(query, params_seq, **kwargs)
        counter.add(query, None)
        started = time.perf_counter()
        try:
            super().executemany(query, params_seq, **kwargs)
        finally:
            counter.seconds += time.perf_counter() - started


@contextmanager
def counting(keep: bool = False) -> Iterator[Statements]:
    """Count the statements this context runs (with what it calls, on any connection); `keep`
    keeps each one with its parameters."""
    counter = Statements(keep)
    token = _counting.set(counter)
    try:
        yield counter
    finally:
        _counting.reset(token)


def _take_idle() -> Connection | None:
    with _idle_lock:
        while _idle:
            candidate = _idle.pop()
            if _usable(candidate):
                return candidate
            candidate.close()
    return None


def _open() -> Connection:
    global _opened
    conn = psycopg.connect(_dsn(), autocommit=True, row_factory=dict_row, cursor_factory=_Cursor)
    with _idle_lock:
        _opened += 1
        opened = _opened
    logger.info("database connection opened", extra={"connections_opened": opened})
    with single_metric(
        name="DbConnectionsOpened", unit=MetricUnit.Count, value=1, namespace=NAMESPACE
    ):
        pass  # emitted now: HTTP functions flush no metrics of their own
    return conn


def connections_opened() -> int:
    """How many connections this process has opened."""
    return _opened


def connection() -> Connection:
    """The connection of the current unit of work, else this thread's."""
    lease = _unit.get()
    if lease is None:
        lease = getattr(_local, "lease", None)
        if lease is None:
            lease = _local.lease = _Lease()
    return lease.acquire()


@contextmanager
def work() -> Iterator[None]:
    """One unit of work (a request, a job, a queue record): what it leases is handed back when it
    ends, however it ends. Inside another unit, it is part of that one."""
    if _unit.get() is not None:
        yield
        return
    lease = _Lease()
    token = _unit.set(lease)
    try:
        yield
    finally:
        _unit.reset(token)
        lease.release()


def read_one(
    query: str, params: tuple[object, ...] | dict[str, object] = ()
) -> dict[str, Any] | None:
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
def transaction(within: Connection | None = None) -> Iterator[Connection]:
    """One explicit transaction on this thread's connection; rolled back on any error.

    `within`, a connection already in the caller's transaction (a payment's fulfilment granting
    credits, say), is used as it is: the work joins that transaction and commits or rolls back
    with it."""
    if within is not None:
        yield within
        return
    conn = connection()
    counter = _counting.get()
    opened = time.perf_counter()
    try:
        with conn.transaction():
            yield conn
    finally:
        if counter is not None:
            counter.held.append(time.perf_counter() - opened)


def tuples(conn: Connection) -> psycopg.Cursor[tuple[Any, ...]]:
    """A cursor on `conn` whose rows are tuples, for the few statements run while a wallet is
    locked: a dict row costs each statement its column names (3-6 % of a short statement)."""
    return conn.cursor(row_factory=tuple_row)


def release() -> None:
    """Hand this thread's connection back for other threads (end of a worker thread's task,
    outside any unit of work)."""
    lease: _Lease | None = getattr(_local, "lease", None)
    if lease is not None:
        lease.release()
        _local.lease = None


def close() -> None:
    """Close every connection of the process: this thread's and idle ones now, other threads'
    on their next use (tests, settings changes, shutdown)."""
    global _generation
    _generation += 1
    for lease in (_unit.get(), getattr(_local, "lease", None)):
        if lease is not None and lease.conn is not None:
            lease.conn.close()
            lease.conn = None
    _drop_idle()


def _drop_idle() -> None:
    with _idle_lock:
        while _idle:
            _idle.pop().close()
