"""PostgreSQL for the local stack and tests: DATABASE_URL if set, else embedded pgserver."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


class LocalPostgres:
    """An embedded PostgreSQL 16 (pgserver) in `datadir`, or the server DATABASE_URL names."""

    def __init__(self, datadir: Path) -> None:
        self.datadir = datadir
        self._server: Any = None
        self._external = os.environ.get("DATABASE_URL", "")

    def start(self) -> str:
        if self._external:
            return self._external
        import pgserver

        self.datadir.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(self.datadir, cleanup_mode="stop")
        return str(self._server.get_uri())

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
