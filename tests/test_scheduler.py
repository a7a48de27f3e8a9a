"""The local stack fires template.yaml's schedules on time, as EventBridge would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from reussite_local import functions, template
from reussite_local.scheduler import Scheduler

FUNCTIONS = template.load().functions()
START = datetime(2026, 11, 22, 21, 17, tzinfo=UTC)  # a Sunday evening


def fired_at(*minutes_after_start: int) -> list[list[str]]:
    calls: list[Any] = []
    scheduler = Scheduler(FUNCTIONS, lambda fn, event: calls.append(fn.name), started=START)
    return [sorted(scheduler.tick(START + timedelta(minutes=m))) for m in minutes_after_start]


def test_rates_count_from_the_start_of_the_stack() -> None:
    five, fifteen, sixty = fired_at(5, 15, 60)

    assert "attempt_sweeper" in five and "payment_reconciliation" in five
    assert "tutoring_reminders" not in five
    assert {"tutoring_reminders", "bilan_sweeper"} <= set(fifteen)
    assert "ledger_invariants" in sixty and "ledger_invariants" not in five + fifteen


def test_crons_fire_on_the_minutes_they_name() -> None:
    scheduler = Scheduler(FUNCTIONS, lambda fn, event: None, started=START)
    two_am = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

    assert "credit_expiry" in scheduler.tick(two_am)
    assert "credit_expiry" not in scheduler.tick(two_am + timedelta(minutes=1))
    assert "monthly_allocation" in scheduler.tick(two_am + timedelta(hours=1))


def test_a_scheduled_function_runs_with_an_eventbridge_event(database_url: str) -> None:
    results: list[Any] = []
    scheduler = Scheduler(
        [fn for fn in FUNCTIONS if fn.name == "credit_expiry"],
        lambda fn, event: results.append((event, functions.invoke(fn, event))),
        started=START,
    )

    scheduler._run(scheduler.schedules[0], scheduler.schedules[0].event(START))

    ((event, report),) = results
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert set(report) >= {"lots", "credits"}
