"""Feature flags from a local JSON file (moto has no AppConfigData)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.feature_flags.base import StoreProvider


class FileStore(StoreProvider):
    """Flags from a local JSON file, re-read when the file changes (moto has no AppConfigData)."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._seen: tuple[float, dict[str, Any]] | None = None

    @property
    def get_raw_configuration(self) -> dict[str, Any]:
        mtime = self.path.stat().st_mtime
        if self._seen is None or self._seen[0] != mtime:
            self._seen = (mtime, json.loads(self.path.read_text()))
        return self._seen[1]

    def get_configuration(self) -> dict[str, Any]:
        return self.get_raw_configuration
