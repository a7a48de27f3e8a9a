"""Drawing an attempt's questions from a question pool: the live (published) version of each
question, filtered by topic, difficulty and tag, `count` of them picked from the attempt's
seed, then shuffled for the attempt (`questions.prepare`). Names are read first and only the
picked questions' bodies fetched, so a 10,000-question pool costs little more than a small one.
"""

from __future__ import annotations

import random
from typing import Any

from reussite import db
from reussite.errors import DomainError
from reussite.exams import questions


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


def available(conn: db.Connection, source: dict[str, Any]) -> int:
    return len(conn.execute(_NAMES, filters(source)).fetchall())


def draw(conn: db.Connection, rng: random.Random, source: dict[str, Any]) -> list[dict[str, Any]]:
    names = [r["name"] for r in conn.execute(_NAMES, filters(source)).fetchall()]
    count = int(source["count"])
    if len(names) < count:
        raise PoolTooSmall(pool=source["pool"], live=len(names), draws=count)
    picked = rng.sample(names, count)
    found = {r["name"]: r for r in conn.execute(_BODIES, (source["pool"], picked)).fetchall()}
    drawn = []
    for name in picked:  # in the order drawn: the seed decides the order too
        row = found[name]
        prepared = questions.prepare(row["body"], rng)
        prepared["ref"] = {"pool": source["pool"], "name": name, "version": row["version"]}
        drawn.append(prepared)
    return drawn
