"""Subscriptions sold per month: one paid month buys one month. Periods anchored on the start,
allocations only for paid periods, PAST_DUE then EXPIRED when unpaid, with the day given to every
job (no sleeping, no clock of the machine)."""

from __future__ import annotations

from datetime import date
from typing import Any

from reussite import db
from reussite.identity import service as identity
from reussite.identity.models import Role
from reussite.ledger.jobs import check_invariants
from reussite.offers import service as offers
from reussite.offers.models import Offer
from reussite_local import functions, template
from reussite_local.aws import LocalAws
from tests import helpers
from tests.helpers import call, pay_plan
from tests.test_bilans import ask
from tests.test_ledger import in_threads

FN = next(f for f in template.load().functions() if f.name == "monthly_allocation")


def daily_job(day: date) -> dict[str, Any]:
    """The scheduled function, fired for `day` as EventBridge would."""
    return dict(functions.invoke(FN, functions.sample_event(FN) | {"time": f"{day}T03:00:00Z"}))


def family(user: Any, principal: Any) -> tuple[Any, Any, Any]:
    """(parent principal, parent user, child's student id)."""
    parent = principal(Role.PARENT)
    parent_user = identity.resolve_user(parent)
    return parent, parent_user, identity.create_child(parent_user, "Inès").student_id


def balance(student_id: Any) -> int:
    row = db.read_one("SELECT balance FROM wallets WHERE student_id = %s", (student_id,))
    assert row is not None
    return int(row["balance"])


def state(student_id: Any) -> tuple[str, date, date] | None:
    row = db.read_one(
        """SELECT status, period_start, period_end FROM subscriptions
            WHERE student_id = %s ORDER BY created_at DESC LIMIT 1""",
        (student_id,),
    )
    return (row["status"], row["period_start"], row["period_end"]) if row else None


def test_plans_are_data_with_prices_in_millimes_and_credits_a_month(database_url: str) -> None:
    assert [
        (p.code, p.price_minor, p.currency, p.credits_per_month, p.offer) for p in offers.plans()
    ] == [
        ("ACCES_PLATEFORME", 79_000, "TND", 2, Offer.PRO),
        ("HYBRIDE", 179_000, "TND", 4, Offer.PRO),  # seed 1, scenario 1: 4 credits
        ("IMMERSION", 299_000, "TND", 8, Offer.PRO),
    ]


def test_months_are_anchored_on_the_start_and_month_end_safe() -> None:
    jan31 = date(2027, 1, 31)
    assert [offers.add_months(jan31, n) for n in range(4)] == [
        jan31,
        date(2027, 2, 28),
        date(2027, 3, 31),
        date(2027, 4, 30),
    ]
    assert offers.add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert offers.add_months(date(2027, 12, 15), 1) == date(2028, 1, 15)


def test_a_plan_paid_once_buys_one_month_and_lapses(
    user: Any, principal: Any, local_aws: LocalAws
) -> None:
    """The reported bug: one payment, then the job fired for months on end."""
    _, parent_user, child = family(user, principal)
    pay_plan(parent_user, child, "ACCES_PLATEFORME", today=date(2027, 1, 5))
    seen = []

    for day in (date(2027, 1, 5), date(2027, 2, 1), date(2027, 2, 5), date(2027, 2, 11)):
        daily_job(day)
        seen.append((day, balance(child), offers.offer_of(child), state(child)[0]))  # type: ignore[index]
    for day in (date(2027, 3, 1), date(2027, 6, 1), date(2027, 12, 1)):
        daily_job(day)
        seen.append((day, balance(child), offers.offer_of(child), state(child)[0]))  # type: ignore[index]

    assert seen == [
        (date(2027, 1, 5), 2, Offer.PRO, "ACTIVE"),
        (date(2027, 2, 1), 2, Offer.PRO, "ACTIVE"),
        (date(2027, 2, 5), 2, Offer.PRO, "PAST_DUE"),  # the period ended unpaid: grace
        (date(2027, 2, 11), 2, Offer.PRO, "PAST_DUE"),
        (date(2027, 3, 1), 2, Offer.FREE, "EXPIRED"),  # 7 days of grace are over
        (date(2027, 6, 1), 2, Offer.FREE, "EXPIRED"),
        (date(2027, 12, 1), 2, Offer.FREE, "EXPIRED"),
    ]
    assert helpers.mailed_to(
        local_aws, "de Inès n'a pas été renouvelée : elle a pris fin le 05/02/2027"
    ) == [[parent_user.email]]
    assert check_invariants().clean


def test_a_year_of_months_paid_and_unpaid_gives_exact_balances(user: Any, principal: Any) -> None:
    _, parent_user, child = family(user, principal)
    paid_on = {  # the day each month's payment arrives; months without one lapse
        date(2027, 1, 15): "first",
        date(2027, 2, 12): "in advance",
        date(2027, 3, 17): "in grace",
        date(2027, 4, 10): "in advance",
    }
    balances = []
    day = date(2027, 1, 15)
    while day < date(2028, 1, 15):
        if day in paid_on:
            pay_plan(parent_user, child, "HYBRIDE", today=day)
        daily_job(day)
        if day.day == 15 or day in paid_on:
            balances.append((day, balance(child), state(child)[0]))  # type: ignore[index]
        day = date.fromordinal(day.toordinal() + 1)

    assert balances[:6] == [
        (date(2027, 1, 15), 4, "ACTIVE"),
        (date(2027, 2, 12), 4, "ACTIVE"),  # paid ahead: its credits come when the period begins
        (date(2027, 2, 15), 8, "ACTIVE"),
        (date(2027, 3, 15), 8, "PAST_DUE"),
        (date(2027, 3, 17), 12, "ACTIVE"),  # paid in grace: the period from 15 March, no gap
        (date(2027, 4, 10), 12, "ACTIVE"),
    ]
    assert balances[6:] == [(date(2027, 4, 15), 16, "ACTIVE")] + [
        (date(2027, m, 15), 16, "PAST_DUE" if m == 5 else "EXPIRED") for m in range(5, 13)
    ]
    assert check_invariants().clean


def test_a_late_payment_after_lapse_starts_a_new_period_without_back_filling(
    user: Any, principal: Any
) -> None:
    _, parent_user, child = family(user, principal)
    pay_plan(parent_user, child, "HYBRIDE", today=date(2027, 1, 31))
    for day in (date(2027, 2, 28), date(2027, 3, 7)):
        daily_job(day)
    assert state(child) == ("EXPIRED", date(2027, 1, 31), date(2027, 2, 28))

    pay_plan(parent_user, child, "HYBRIDE", today=date(2027, 4, 20))
    daily_job(date(2027, 4, 20))

    assert state(child) == ("ACTIVE", date(2027, 4, 20), date(2027, 5, 20))
    assert balance(child) == 8  # two paid months, nothing for March
    assert offers.offer_of(child) is Offer.PRO


def test_periods_paid_ahead_from_a_month_end_stay_on_the_anchor(user: Any, principal: Any) -> None:
    _, parent_user, child = family(user, principal)
    pay_plan(parent_user, child, "IMMERSION", today=date(2027, 1, 31))
    pay_plan(parent_user, child, "IMMERSION", today=date(2027, 2, 20))
    daily_job(date(2027, 2, 28))
    pay_plan(parent_user, child, "IMMERSION", today=date(2027, 3, 25))
    daily_job(date(2027, 3, 31))

    assert state(child) == ("ACTIVE", date(2027, 3, 31), date(2027, 4, 30))
    assert balance(child) == 24


def test_each_paid_period_is_granted_once_however_often_the_job_runs(
    user: Any, principal: Any
) -> None:
    _, parent_user, child = family(user, principal)
    pay_plan(parent_user, child, "HYBRIDE", today=date(2027, 1, 15))
    pay_plan(parent_user, child, "HYBRIDE", today=date(2027, 2, 1))
    offers.run_lifecycle(date(2027, 2, 15))

    results = in_threads(4, lambda _: offers.allocate_due(date(2027, 2, 16)))

    assert not [r for r in results if isinstance(r, Exception)]
    assert sum(r.granted for r in results) == 1
    assert balance(child) == 8
    assert check_invariants().clean


def test_entitlements_end_when_the_plan_lapses(user: Any, principal: Any) -> None:
    parent, parent_user, child = family(user, principal)
    learner = principal(Role.ELEVE)
    learner_user = identity.resolve_user(learner)
    for buyer, student in ((parent_user, child), (learner_user, learner_user.student_id)):
        pay_plan(buyer, student, "HYBRIDE", today=date(2027, 1, 10))
    assert learner_user.student_id is not None
    assert offers.offer_of(learner_user.student_id) is Offer.PRO

    offers.run_lifecycle(date(2027, 2, 10))  # PAST_DUE: still entitled during the grace period
    assert offers.offer_of(child) is Offer.PRO
    offers.run_lifecycle(date(2027, 2, 17))  # EXPIRED

    status, problem = call(
        "exam_start", "POST", "/v1/exams/FR-C1/attempts", learner, {}, key="lapsed-premium"
    )
    assert (status, problem["code"]) == (403, "PREMIUM_REQUIRED")
    status, problem = ask(parent, child)
    assert (status, problem["code"]) == (403, "NOT_ELIGIBLE")
    assert offers.offer_of(child) is Offer.FREE


def subscription_call(who: Any, sub_id: Any, action: str, body: Any = None) -> tuple[int, Any]:
    return call("payments_api", "POST", f"/v1/subscriptions/{sub_id}/{action}", who, body)


def test_a_cancelled_plan_ends_at_its_period_end_and_can_be_resumed_before(
    user: Any, principal: Any
) -> None:
    parent, parent_user, child = family(user, principal)
    pay_plan(parent_user, child, "HYBRIDE", today=date(2027, 1, 10))
    status, page = call("payments_api", "GET", "/v1/me/subscriptions", parent)
    (mine,) = page["items"]
    assert status == 200 and mine["next_renewal"] == "2027-02-10"

    first = subscription_call(parent, mine["id"], "cancel")
    again = subscription_call(parent, mine["id"], "cancel")
    stranger = subscription_call(principal(Role.PARENT), mine["id"], "cancel")

    assert first == again and first[0] == 200
    assert first[1]["cancel_at_period_end"] is True and first[1]["next_renewal"] is None
    assert (stranger[0], stranger[1]["code"]) == (404, "SUBSCRIPTION_NOT_FOUND")
    resumed = subscription_call(parent, mine["id"], "resume")
    assert resumed[1]["cancel_at_period_end"] is False
    subscription_call(parent, mine["id"], "cancel")

    daily_job(date(2027, 2, 10))

    assert state(child) == ("CANCELLED", date(2027, 1, 10), date(2027, 2, 10))
    assert offers.offer_of(child) is Offer.FREE and balance(child) == 4
    status, problem = subscription_call(parent, mine["id"], "resume")
    assert (status, problem["code"]) == (409, "SUBSCRIPTION_ENDED")


def test_a_plan_change_takes_effect_at_the_next_period(user: Any, principal: Any) -> None:
    parent, parent_user, child = family(user, principal)
    pay_plan(parent_user, child, "HYBRIDE", today=date(2027, 1, 10))
    (mine,) = offers.subscriptions_of(parent_user, child).items

    status, changed = subscription_call(parent, mine.id, "plan", {"plan_code": "IMMERSION"})
    assert status == 200 and changed["next_plan_code"] == "IMMERSION"
    assert changed["plan_code"] == "HYBRIDE"  # the current period is unchanged
    pay_plan(parent_user, child, "IMMERSION", today=date(2027, 2, 5))
    daily_job(date(2027, 2, 10))

    (after,) = offers.subscriptions_of(parent_user, child).items
    assert (after.plan_code, after.next_plan_code, after.status) == ("IMMERSION", None, "ACTIVE")
    assert balance(child) == 4 + 8
    status, problem = subscription_call(parent, mine.id, "plan", {"plan_code": "NOPE"})
    assert (status, problem["code"]) == (404, "PLAN_NOT_FOUND")


def test_staff_end_a_subscription_at_once_audited(user: Any, principal: Any) -> None:
    parent, parent_user, child = family(user, principal)
    pay_plan(parent_user, child, "HYBRIDE", today=date(2027, 1, 10))
    (mine,) = offers.subscriptions_of(parent_user, child).items
    staff = principal(Role.ASSISTANTE)
    path = f"/v1/admin/subscriptions/{mine.id}/end"

    refused = call("payments_api", "POST", path, parent, {"reason": "refund"})
    ended = call("payments_api", "POST", path, staff, {"reason": "refund"})
    again = call("payments_api", "POST", path, staff, {"reason": "refund"})

    assert refused[0] == 403 and ended[0] == 200 and ended[1]["status"] == "CANCELLED"
    assert again == ended
    assert offers.offer_of(child) is Offer.FREE and balance(child) == 4  # credits kept
    audited = db.read_one(
        "SELECT count(*) AS n FROM audit_log WHERE subject = %s", (f"subscription:{mine.id}",)
    )
    assert audited == {"n": 1}
