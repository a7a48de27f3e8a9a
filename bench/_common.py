"""What the benchmarks share: a throwaway PostgreSQL with the migrations applied."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reussite import db
from reussite.db.migrate import migrate
from reussite.settings import get_settings
from reussite_local.postgres import LocalPostgres


@contextmanager
def database() -> Iterator[str]:
    """A fresh embedded PostgreSQL (or DATABASE_URL's), migrated; the layer points at it."""
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="reussite-xdg-"))
    postgres = LocalPostgres(Path(tempfile.mkdtemp(prefix="reussite-bench-")) / "pgdata")
    url = postgres.start()
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    migrate(db.connection())
    try:
        yield url
    finally:
        db.close()
        postgres.stop()
