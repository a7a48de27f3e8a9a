"""PostgreSQL for the local stack and tests: DATABASE_URL if set, else embedded pgserver."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg


class LocalPostgres:
    """An embedded PostgreSQL 16 (pgserver) in `datadir`, or the server DATABASE_URL names."""

    def __init__(self, datadir: Path) -> None:
        self.datadir = datadir
        self._server: Any = None
        self._external = os.environ.get("DATABASE_URL", "")

    @property
    def external(self) -> bool:
        return bool(self._external)

    def start(self) -> str:
        if self._external:
            return self._external
        import pgserver

        self.datadir.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(  # type: ignore[attr-defined]
            self.datadir, cleanup_mode="stop"
        )
        return str(self._server.get_uri())

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


@contextmanager
def migrated_database(datadir: Path, settings: dict[str, str] | None = None) -> Iterator[str]:
    """PostgreSQL started (embedded, or DATABASE_URL's), migrated, and the layer pointed at it;
    stopped afterwards. `settings` (ALTER SYSTEM, then a restart) tune an embedded server."""
    from reussite import db
    from reussite.db.migrate import migrate
    from reussite.settings import get_settings

    postgres = LocalPostgres(datadir)
    url = postgres.start()
    if settings and not postgres.external:
        with psycopg.connect(url, autocommit=True) as conn:
            for name, value in settings.items():
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
