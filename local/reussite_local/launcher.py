"""`make run`'s stack as a subprocess on a free port, for what talks to it over HTTP
(end to end, fuzzing, load). Its output goes to a log file (a pipe nobody reads would fill up
and stall it)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from reussite_local.aws import free_port

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def running_stack(state_dir: Path) -> Iterator[dict[str, Any]]:
    port = free_port()
    # As a developer's shell would be: no database, and the stack's own fake Konnect gateway.
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "DATABASE_URL" and not k.startswith(("KONNECT_", "PUBLIC_BASE_URL"))
    }
    env["PORT"] = str(port)
    log_path = state_dir / "stack.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "reussite_local", "--state-dir", str(state_dir), "run"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise AssertionError(f"stack did not start:\n{log_path.read_text()[-5000:]}")
        state = json.loads((state_dir / "stack.json").read_text())
        yield {"base": base, "proc": proc, "state_dir": state_dir, "state": state, "log": log_path}
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
