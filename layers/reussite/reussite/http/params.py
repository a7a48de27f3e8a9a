"""Query parameters every list shares: the opaque cursor of the next page and a bounded page
size (`Limit` pages hold 1 to 100 items, 20 unless the caller asks)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

Cursor = Annotated[
    str | None,
    Query(max_length=400, description="The `next` cursor of the previous page"),
]
Limit = Annotated[int, Query(ge=1, le=100, description="Items per page")]
