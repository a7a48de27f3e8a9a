"""What the benchmarks share: a throwaway PostgreSQL with the migrations applied."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from reussite import db
from reussite.db.migrate import migrate
from reussite.settings import get_settings
from reussite_local.postgres import LocalPostgres

# Memory and WAL sized like a small production server rather than PostgreSQL's defaults (128 MB
# of buffers, checkpoints every 1 GB of WAL), so million-row runs measure the SQL, not evictions.
SERVER_SETTINGS = {"shared_buffers": "1GB", "max_wal_size": "8GB", "work_mem": "64MB"}


@contextmanager
def database() -> Iterator[str]:
    """A fresh embedded PostgreSQL (or DATABASE_URL's), migrated; the layer points at it."""
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="reussite-xdg-"))
    postgres = LocalPostgres(Path(tempfile.mkdtemp(prefix="reussite-bench-")) / "pgdata")
    url = postgres.start()
    if "DATABASE_URL" not in os.environ:
        with psycopg.connect(url, autocommit=True) as conn:
            for name, value in SERVER_SETTINGS.items():
                conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        postgres.stop()  # a restart applies shared_buffers
        url = postgres.start()
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    migrate(db.connection())
    try:
        yield url
    finally:
        db.close()
        postgres.stop()
