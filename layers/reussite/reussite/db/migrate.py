"""Apply the ordered plain-SQL migrations in reussite/migrations, each once, recorded in a table."""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from reussite.observability import logger

_LOCK_KEY = 0x7265757373  # any constant: serialises concurrent runners


class MigrationChanged(RuntimeError):
    """An applied migration's file was edited: migrations are immutable, add a new one."""


def _migrations() -> list[tuple[str, str]]:
    files = resources.files("reussite.migrations")
    found = [
        (f.name.removesuffix(".sql"), f.read_text())
        for f in files.iterdir()
        if f.name.endswith(".sql")
    ]
    return sorted(found)


def migrate(conn: psycopg.Connection[Any]) -> list[str]:
    """Apply every pending migration in one transaction; return the versions applied."""
    applied_now: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version text PRIMARY KEY,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        cur = conn.cursor(row_factory=tuple_row)
        rows = cur.execute("SELECT version, checksum FROM schema_migrations").fetchall()
        applied: dict[str, str] = dict(rows)
        for version, sql in _migrations():
            checksum = hashlib.sha256(sql.encode()).hexdigest()
            if version in applied:
                if applied[version] != checksum:
                    raise MigrationChanged(f"migration {version} changed after it was applied")
                continue
            conn.execute(sql.encode())
            conn.execute(
                "INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)",
                (version, checksum),
            )
            applied_now.append(version)
    if applied_now:
        logger.info("migrations applied", extra={"versions": applied_now})
    return applied_now
