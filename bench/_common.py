"""What the benchmarks share: a throwaway PostgreSQL with the migrations applied."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reussite_local import template
from reussite_local.aws import LocalAws
from reussite_local.postgres import migrated_database
from reussite_local.stack import create_local_resources, function_environment

# Memory and WAL sized like a small production server rather than PostgreSQL's defaults (128 MB
# of buffers, checkpoints every 1 GB of WAL), so million-row runs measure the SQL, not evictions.
SERVER_SETTINGS = {"shared_buffers": "1GB", "max_wal_size": "8GB", "work_mem": "64MB"}


@contextmanager
def database(datadir: Path | None = None) -> Iterator[str]:
    """A fresh embedded PostgreSQL (or DATABASE_URL's, or the one kept in `datadir`), tuned
    and migrated."""
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="reussite-xdg-"))
    datadir = datadir or Path(tempfile.mkdtemp(prefix="reussite-bench-")) / "pgdata"
    with migrated_database(datadir, SERVER_SETTINGS) as url:
        yield url


@contextmanager
def remote_moto(providers: list[Any] | None = None) -> Iterator[LocalAws]:
    """moto in its own processes, like remote AWS services; resources from template.yaml.
    With `providers` (a list), the local stack's fake Konnect gateway too, appended to it."""
    aws = LocalAws(own_process=True)
    aws.start()
    try:
        os.environ.update(aws.environment())
        if providers is None:
            resources = aws.create_resources(template.load())
        else:
            resources, konnect = create_local_resources(aws, template.load())
            providers.append(konnect)
        os.environ.update(function_environment(template.load().functions(), resources))
        yield aws
    finally:
        aws.stop()
        for provider in providers or []:
            provider.stop()
