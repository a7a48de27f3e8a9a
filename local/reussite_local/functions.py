"""Load template.yaml's functions from their folders and invoke them like Lambda would."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from reussite_local.template import ROOT, Function

EVENTS = ROOT / "events"


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that Powertools and handlers read."""

    function_name: str
    timeout_seconds: int
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:eu-west-3:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self.started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


_loading = threading.Lock()


def load_module(fn: Function) -> ModuleType:
    """Import the function's handler module from its CodeUri, once per process. Concurrent first
    calls wait for the one import (a half-executed module is never handed out)."""
    module_file, _ = fn.handler.rsplit(".", 1)
    name = f"reussite_fn_{fn.name}"
    if name in sys.modules:
        return sys.modules[name]
    with _loading:
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, fn.code_uri / f"{module_file}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return module


_thread = threading.local()


def invoke(fn: Function, event: dict[str, Any]) -> Any:
    """Call the handler as Lambda would. Each calling thread stands for a container of its own,
    with its own event loop (Mangum runs the app on the thread's loop)."""
    if not getattr(_thread, "loop_ready", False):
        if threading.current_thread() is not threading.main_thread():
            asyncio.set_event_loop(asyncio.new_event_loop())
        _thread.loop_ready = True
    handler = getattr(load_module(fn), fn.handler.rsplit(".", 1)[1])
    return handler(event, LambdaContext(fn.logical_id, fn.timeout))


def sample_event(fn: Function) -> dict[str, Any]:
    path: Path = EVENTS / f"{fn.name}.json"
    return dict(json.loads(path.read_text()))
