"""What the benchmarks share: a throwaway PostgreSQL with the migrations applied."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from reussite import db
from reussite.db.migrate import migrate
from reussite.settings import get_settings
from reussite_local import template
from reussite_local.aws import LocalAws, free_port
from reussite_local.postgres import LocalPostgres
from reussite_local.stack import function_environment

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


@contextmanager
def remote_moto() -> Iterator[LocalAws]:
    """moto in its own process, like a remote DynamoDB; resources from template.yaml."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    aws = LocalAws(port)
    try:
        for _ in range(100):
            try:
                aws.client("sts").get_caller_identity()
                break
            except Exception:
                time.sleep(0.1)
        os.environ.update(aws.environment())
        resources = aws.create_resources(template.load())
        os.environ.update(function_environment(template.load().functions(), resources))
        yield aws
    finally:
        proc.terminate()
        proc.wait()
