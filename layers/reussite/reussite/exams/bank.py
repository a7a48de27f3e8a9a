"""Drawing an attempt's questions from a question pool: the live (published) version of each
question, optionally filtered by topic, difficulty and tag, `count` of them picked from the
attempt's seed, then shuffled for the attempt (`questions.prepare`). Only the picked questions'
bodies are read, so a 10,000-question pool costs what a small one does.
"""

from __future__ import annotations

import random
from typing import Any

from reussite import db
from reussite.errors import DomainError
from reussite.exams import scoring as questions


class PoolTooSmall(DomainError):
    code = "POOL_TOO_SMALL"
    status = 409
    title = "The question pool has fewer live questions than the exam draws"


_NAMES = """
    SELECT name FROM questions
     WHERE pool_code = %(pool)s AND status = 'PUBLISHED'
       AND (%(topic)s::text IS NULL OR topic = %(topic)s)
       AND difficulty BETWEEN %(low)s AND %(high)s
       AND (%(tag)s::text IS NULL OR %(tag)s = ANY(tags))
     ORDER BY name
"""
_BODIES = """
    SELECT name, version, type, body FROM questions
     WHERE pool_code = %s AND status = 'PUBLISHED' AND name = ANY(%s)
"""


def filters(source: dict[str, Any]) -> dict[str, Any]:
    low, high = source.get("difficulty") or (1, 5)
    return {
        "pool": source["pool"],
        "topic": source.get("topic"),
        "low": low,
        "high": high,
        "tag": source.get("tag"),
    }


_LIVE = """
    SELECT coalesce(max(ordinal), 0) AS n FROM questions
     WHERE pool_code = %s AND status = 'PUBLISHED'
"""
_BY_ORDINAL = """
    SELECT name, version, type, body, ordinal FROM questions
     WHERE pool_code = %s AND status = 'PUBLISHED' AND ordinal = ANY(%s)
"""


def _filtered(source: dict[str, Any]) -> bool:
    return any(source.get(k) for k in ("topic", "difficulty", "tag"))


def available(conn: db.Connection, source: dict[str, Any]) -> int:
    if not _filtered(source):
        row = conn.execute(_LIVE, (source["pool"],)).fetchone()
        return int(row["n"]) if row else 0
    return len(conn.execute(_NAMES, filters(source)).fetchall())


def draw(conn: db.Connection, rng: random.Random, source: dict[str, Any]) -> list[dict[str, Any]]:
    """`count` live questions: an unfiltered draw picks numbers among the pool's 1..n (two
    index reads, whatever n); a filtered one reads the matching names first."""
    count = int(source["count"])
    if _filtered(source):
        names = [r["name"] for r in conn.execute(_NAMES, filters(source)).fetchall()]
        if len(names) < count:
            raise PoolTooSmall(pool=source["pool"], live=len(names), draws=count)
        picked = rng.sample(names, count)
        rows = conn.execute(_BODIES, (source["pool"], picked)).fetchall()
        found = {r["name"]: r for r in rows}
    else:
        live = available(conn, source)
        if live < count:
            raise PoolTooSmall(pool=source["pool"], live=live, draws=count)
        numbers = rng.sample(range(1, live + 1), count)
        rows = conn.execute(_BY_ORDINAL, (source["pool"], numbers)).fetchall()
        by_number = {r["ordinal"]: r for r in rows}
        picked = [by_number[n]["name"] for n in numbers]
        found = {r["name"]: r for r in rows}
    drawn = []
    for name in picked:  # in the order drawn: the seed decides the order too
        row = found[name]
        prepared = questions.prepare(row["body"], rng)
        prepared["ref"] = {"pool": source["pool"], "name": name, "version": row["version"]}
        drawn.append(prepared)
    return drawn
