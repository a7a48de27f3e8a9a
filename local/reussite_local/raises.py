"""Which domain errors an HTTP operation can answer, found by reading the code it can reach.

From the endpoint (and its FastAPI dependencies) every function of the `reussite` packages it
names is followed, through module attributes and imports made inside functions; every
`DomainError` subclass named on the way is an answer the operation may give. It is a safe
over-approximation (a name reached is counted even on a branch never taken), so the OpenAPI
document never omits a code an operation really sends; `tests/test_openapi.py` checks the
codes the suite meets are listed.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

from reussite.errors import DomainError


def _ours(obj: Any) -> bool:
    """The layer's code and the function modules (loaded as `reussite_fn_<name>`)."""
    module = getattr(obj, "__module__", "") or ""
    return module == "reussite" or module.startswith(("reussite.", "reussite_fn_"))


def _codes(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


def _modules(names: set[str], scope: dict[str, Any]) -> list[types.ModuleType]:
    """The modules a function can read names from: its globals that are modules, and those it
    imports inside its body (`from reussite import flags`, `from reussite.history import …`)."""
    found = [v for n in names if isinstance(v := scope.get(n), types.ModuleType)]
    for name in names:
        if name.startswith("reussite.") or name == "reussite":
            try:
                found.append(importlib.import_module(name))
            except ImportError:
                continue
    more = [
        v for m in found for n in names if isinstance(v := getattr(m, n, None), types.ModuleType)
    ]
    return [m for m in found + more if m.__name__.split(".")[0] == "reussite"]


def errors(roots: list[Callable[..., Any]]) -> dict[str, type[DomainError]]:
    """The domain errors (by code) reachable from `roots`."""
    found: dict[str, type[DomainError]] = {}
    seen: set[int] = set()
    stack: list[Any] = list(roots)
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, type):
            if issubclass(obj, DomainError) and obj is not DomainError:
                found.setdefault(obj.code, obj)
            elif _ours(obj):
                stack += [v for k in obj.__mro__ if _ours(k) for v in vars(k).values()]
            continue
        if not inspect.isfunction(obj) and not inspect.ismethod(obj):
            if _ours(type(obj)) and hasattr(obj, "__dict__"):
                # an object holding functions, or a strategy (a tutor, a provider) chosen by
                # a setting: every class of its module may be the one deployed
                module = sys.modules[type(obj).__module__]
                stack += [v for v in vars(module).values() if isinstance(v, type)]
                stack += list(vars(obj).values())
            continue
        function = inspect.unwrap(obj)
        code = getattr(function, "__code__", None)
        if code is None or (obj not in roots and not _ours(function)):
            continue
        names = {n for c in _codes(code) for n in c.co_names}
        scope = getattr(function, "__globals__", {})
        stack += [v for n in names if not isinstance(v := scope.get(n), types.ModuleType | None)]
        for module in _modules(names, scope):
            stack += [getattr(module, n) for n in names if hasattr(module, n)]
        closure = getattr(function, "__closure__", None) or ()
        stack += [cell.cell_contents for cell in closure if callable(cell.cell_contents)]
    return found
