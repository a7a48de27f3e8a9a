"""EventBridge schedules, locally: each function's `Schedule` events from template.yaml fire on
time (rate(...) counted from the stack's start, cron(...) on the UTC minutes it names) with a
scheduled event shaped like EventBridge's.

AWS cron has six fields — minutes hours day-of-month month day-of-week year — with `*`, `?`,
lists, ranges, steps and names (JAN-DEC, SUN-SAT, day-of-week 1 = Sunday).
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from reussite_local.aws import ACCOUNT, REGION
from reussite_local.template import Function

log = logging.getLogger("reussite_local.scheduler")
_UNITS = {"minute": 1, "minutes": 1, "hour": 60, "hours": 60, "day": 1440, "days": 1440}
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


@dataclass(frozen=True)
class Schedule:
    function: Function
    expression: str

    def due(self, now: datetime, started: datetime) -> bool:
        """Does this schedule fire at the minute `now` (UTC)?"""
        rate = re.fullmatch(r"rate\((\d+)\s+(\w+)\)", self.expression.strip())
        if rate:
            period = int(rate.group(1)) * _UNITS[rate.group(2).lower()]
            elapsed = int((now - started).total_seconds() // 60)
            return elapsed > 0 and elapsed % period == 0
        cron = re.fullmatch(r"cron\((.+)\)", self.expression.strip())
        if not cron:
            raise ValueError(f"unsupported schedule {self.expression!r}")
        minute, hour, dom, month, dow, year = cron.group(1).split()
        return (
            _matches(minute, now.minute, 0, 59)
            and _matches(hour, now.hour, 0, 23)
            and _matches(dom, now.day, 1, 31)
            and _matches(month, now.month, 1, 12, _MONTHS)
            and _matches(dow, now.isoweekday() % 7 + 1, 1, 7, _DAYS)
            and _matches(year, now.year, 1970, 2199)
        )

    def event(self, now: datetime) -> dict[str, Any]:
        name = self.function.name
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT,
            "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/reussite-{name}"],
            "detail": {},
        }


def _matches(field: str, value: int, low: int, high: int, names: list[str] | None = None) -> bool:
    for part in field.split(","):
        if part in ("*", "?"):
            return True
        base, _, step = part.partition("/")
        if base in ("*", "?"):
            first, last = low, high
        elif "-" in base:
            a, b = base.split("-", 1)
            first, last = _number(a, names), _number(b, names)
        else:
            first = _number(base, names)
            last = high if step else first
        if first <= value <= last and (value - first) % int(step or 1) == 0:
            return True
    return False


def _number(text: str, names: list[str] | None) -> int:
    if names and text.upper() in names:
        return names.index(text.upper()) + 1
    return int(text)


class Scheduler:
    """Fires the template's schedules on time, each run in its own thread."""

    def __init__(
        self,
        functions: list[Function],
        fire: Callable[[Function, dict[str, Any]], Any],
        started: datetime | None = None,
    ) -> None:
        self.schedules = [Schedule(fn, expr) for fn in functions for expr in fn.schedules]
        self.fire = fire
        self.started = (started or datetime.now(UTC)).replace(second=0, microsecond=0)

    def tick(self, now: datetime) -> list[str]:
        """Fire what is due at `now`'s minute; return the functions fired."""
        minute = now.replace(second=0, microsecond=0)
        fired = []
        for schedule in self.schedules:
            if schedule.due(minute, self.started):
                fired.append(schedule.function.name)
                threading.Thread(
                    target=self._run, args=(schedule, schedule.event(minute)), daemon=True
                ).start()
        return fired

    def _run(self, schedule: Schedule, event: dict[str, Any]) -> None:
        try:
            self.fire(schedule.function, event)
        except Exception:  # a failing job is logged; the schedule keeps going, as in AWS
            log.exception("scheduled %s failed", schedule.function.name)

    def run(self, stop: threading.Event) -> None:
        """Tick at the start of every minute until `stop` is set."""
        while True:
            now = datetime.now(UTC)
            following = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
            if stop.wait((following - now).total_seconds()):
                return
            self.tick(following)
