"""Subscriptions sold per month: one paid order buys one period of one calendar month, and a
plan's credits are granted once per paid period.

A subscription's periods are whole months from its anchor day (31 January → 28/29 February →
31 March), so a month-end start never drifts. Paying opens the first period, or extends the
current one by exactly one period; the daily lifecycle job moves a subscription into a period
paid in advance when it begins, to PAST_DUE when its period ends unpaid, and to EXPIRED at the
end of the grace period (or to CANCELLED when the payer asked to stop at period end). Every
function that changes one takes the day (`today`) as an argument: the clock is the caller's.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any
from uuid import UUID

from reussite import audit, db
from reussite.errors import Conflict, DomainError, NotFound
from reussite.identity.access import require_staff
from reussite.identity.roles import Role
from reussite.ledger import service as ledger
from reussite.ledger.models import LotKind
from reussite.offers.models import (
    LIVE,
    AllocationReport,
    LifecycleReport,
    Offer,
    Plan,
    Subscription,
    SubscriptionView,
)
from reussite.settings import get_settings

if TYPE_CHECKING:
    from reussite.history import Page
    from reussite.identity.models import User  # pydantic: not imported by the daily jobs


class PlanNotFound(NotFound):
    code = "PLAN_NOT_FOUND"
    title = "No such plan"


class AriaSubjectsInvalid(DomainError):
    code = "ARIA_SUBJECTS_INVALID"
    status = 422
    title = "These ARIA subjects do not fit the plan"


class SubscriptionNotFound(NotFound):
    code = "SUBSCRIPTION_NOT_FOUND"
    title = "No such subscription"


class SubscriptionEnded(Conflict):
    code = "SUBSCRIPTION_ENDED"
    title = "This subscription has ended: subscribe again instead"


_SUBSCRIPTION = """id, student_id, plan_code, status, started_at, period_start, period_end,
    cancel_at_period_end, next_plan_code"""


def plans() -> list[Plan]:
    rows = (
        db.connection()
        .execute(
            """SELECT code, name, price_minor, currency, credits_per_month, offer
             FROM plans WHERE active ORDER BY price_minor"""
        )
        .fetchall()
    )
    return [Plan(**row | {"offer": Offer(row["offer"])}) for row in rows]


def offer_of(student_id: UUID) -> Offer:
    """The student's offer: that of their live (ACTIVE or PAST_DUE) subscription's plan, else
    free."""
    row = db.read_one(
        """SELECT p.offer FROM subscriptions s JOIN plans p ON p.code = s.plan_code
            WHERE s.student_id = %s AND s.status = ANY(%s)""",
        (student_id, list(LIVE)),
    )
    return Offer(row["offer"]) if row else Offer.FREE


def add_months(anchor: date, months: int) -> date:
    """`anchor` plus whole months, clamped to the month's last day (31 Jan + 1 → 28/29 Feb)."""
    year, month = divmod(anchor.month - 1 + months, 12)
    year, month = anchor.year + year, month + 1
    return date(year, month, min(anchor.day, calendar.monthrange(year, month)[1]))


def pay_period(
    conn: db.Connection,
    student_id: UUID,
    plan_code: str,
    order: dict[str, Any],
    today: date,
) -> Subscription:
    """Inside the caller's (the payment's) transaction: the paid order buys exactly one period.
    The student's live subscription is extended by one period after its paid ones (a plan paid
    for another plan than the current one takes effect then); without one — or for a renewal of a
    subscription that has lapsed — a new period starts today. A period begun is granted at once."""
    if (
        conn.execute("SELECT 1 FROM plans WHERE code = %s AND active", (plan_code,)).fetchone()
        is None
    ):
        raise PlanNotFound()
    sub = conn.execute(
        f"""SELECT {_SUBSCRIPTION}, anchor_on, period_index FROM subscriptions
             WHERE student_id = %s AND status = ANY(%s) FOR UPDATE""",
        (student_id, list(LIVE)),
    ).fetchone()
    if sub is None:
        sub = conn.execute(
            f"""INSERT INTO subscriptions (student_id, plan_code, status, started_at, created_by,
                                          anchor_on, period_index, period_start, period_end,
                                          provider)
                VALUES (%(student)s, %(plan)s, 'ACTIVE', now(), %(buyer)s, %(today)s, 0,
                        %(today)s, %(end)s, %(provider)s)
                RETURNING {_SUBSCRIPTION}""",
            {
                "student": student_id,
                "plan": plan_code,
                "buyer": order["buyer_id"],
                "today": today,
                "end": add_months(today, 1),
                "provider": order["provider"],
            },
        ).fetchone()
        assert sub is not None
        sub |= {"anchor_on": today}
        starts_on = today
        _owe_activation(
            conn, activation_key(order["id"]), student_id, plan_code, today, order["buyer_id"]
        )
    else:
        last = conn.execute(
            "SELECT max(ends_on) AS ends_on FROM subscription_periods WHERE subscription_id = %s",
            (sub["id"],),
        ).fetchone()
        starts_on = max(sub["period_end"], (last or {}).get("ends_on") or sub["period_end"])
        conn.execute(
            """UPDATE subscriptions SET provider = %s,
                      next_plan_code = CASE WHEN %s <> plan_code THEN %s ELSE next_plan_code END
                WHERE id = %s""",
            (order["provider"], plan_code, plan_code, sub["id"]),
        )
    ends_on = _period_end(sub, starts_on)
    conn.execute(
        """INSERT INTO subscription_periods (subscription_id, starts_on, ends_on, plan_code,
                                             order_id)
           VALUES (%s, %s, %s, %s, %s)""",
        (sub["id"], starts_on, ends_on, plan_code, order["id"]),
    )
    if starts_on != today or sub.get("period_index", 0):  # a period after the first
        from reussite import webhooks

        webhooks.emit(
            conn,
            "subscription.renewed",
            f"order:{order['id']}",
            {
                "subscription_id": sub["id"],
                "student_id": student_id,
                "plan_code": plan_code,
                "starts_on": starts_on,
                "ends_on": ends_on,
                "order_id": order["id"],
            },
        )
    if order.get("aria_subjects"):  # chosen at checkout; the payer may change them later
        conn.execute(
            "UPDATE subscriptions SET aria_subjects = %s WHERE id = %s",
            (list(order["aria_subjects"]), sub["id"]),
        )
    if starts_on <= today:
        advance_subscription(conn, sub["id"], today)
        allocate(conn, sub["id"], starts_on)
    return subscription(conn, sub["id"])


def check_aria_subjects(plan_code: str, subjects: list[str]) -> list[str]:
    """The ARIA subjects asked for, if the plan includes that many and each is one of the
    codes (422 otherwise); in the order given, each once."""
    from reussite.aria.models import SUBJECTS

    chosen = list(dict.fromkeys(subjects))
    unknown = [s for s in chosen if s not in SUBJECTS]
    row = db.read_one("SELECT aria_subjects FROM plans WHERE code = %s", (plan_code,))
    included = int(row["aria_subjects"]) if row else 0
    if unknown or len(chosen) != len(subjects) or len(chosen) > included:
        raise AriaSubjectsInvalid(
            f"The {plan_code} plan includes {included} ARIA subject(s), each once, among: "
            + ", ".join(SUBJECTS),
            included=included,
            unknown=unknown,
        )
    return chosen


def check_aria_addon(subjects: list[str]) -> list[str]:
    """An add-on buys exactly one subject, one of the codes."""
    from reussite.aria.models import SUBJECTS

    if len(subjects) != 1 or subjects[0] not in SUBJECTS:
        raise AriaSubjectsInvalid(
            "An ARIA add-on is for one subject, among: " + ", ".join(SUBJECTS), included=1
        )
    return list(subjects)


def require_live_subscription(conn: db.Connection, student_id: UUID) -> None:
    """An add-on extends a live subscription (403 NOT_ELIGIBLE otherwise)."""
    from reussite.errors import NotEligible

    live = conn.execute(
        "SELECT 1 FROM subscriptions WHERE student_id = %s AND status = ANY(%s)",
        (student_id, list(LIVE)),
    ).fetchone()
    if live is None:
        raise NotEligible("An ARIA add-on extends a live subscription")


def pay_aria_addon(
    conn: db.Connection, order: dict[str, Any], subjects: list[str], today: date
) -> UUID | None:
    """Inside the payment's transaction: the add-on's subject for a month from today, on the
    student's live subscription (or their latest, if it lapsed between checkout and payment:
    the money is recorded against it; ARIA still needs a live one)."""
    sub = conn.execute(
        """SELECT id FROM subscriptions WHERE student_id = %s
            ORDER BY (status = ANY(%s)) DESC, created_at DESC LIMIT 1""",
        (order["student_id"], list(LIVE)),
    ).fetchone()
    if sub is None:
        return None
    conn.execute(
        """INSERT INTO aria_addons (order_id, subscription_id, subject, paid_until)
           VALUES (%s, %s, %s, %s) ON CONFLICT (order_id) DO NOTHING""",
        (order["id"], sub["id"], subjects[0], add_months(today, 1)),
    )
    return UUID(str(sub["id"]))


def choose_aria_subjects(
    user: User, subscription_id: UUID, subjects: list[str]
) -> SubscriptionView:
    """The payer (or staff) changes the subscription's ARIA subjects; they apply at once."""
    with db.transaction() as conn:
        row = conn.execute(
            _VIEW + " WHERE s.id = %s FOR UPDATE OF s", (subscription_id,)
        ).fetchone()
        if row is None or not (user.is_staff or row["created_by"] == user.id):
            raise SubscriptionNotFound()
        chosen = check_aria_subjects(row["plan_code"], subjects)
        conn.execute(
            "UPDATE subscriptions SET aria_subjects = %s WHERE id = %s", (chosen, subscription_id)
        )
        audit.record(
            conn, user.id, "subscription.aria_subjects", f"subscription:{subscription_id}", chosen
        )
        changed = conn.execute(_VIEW + " WHERE s.id = %s", (subscription_id,)).fetchone()
    assert changed is not None
    return _view(changed)


def _period_end(sub: dict[str, Any], starts_on: date) -> date:
    """The end of the period that starts on `starts_on`, counted in months from the anchor."""
    anchor = sub.get("anchor_on") or starts_on
    index = (starts_on.year - anchor.year) * 12 + starts_on.month - anchor.month
    while add_months(anchor, index) < starts_on:
        index += 1
    return add_months(anchor, index + 1)


def subscription(conn: db.Connection, subscription_id: UUID) -> Subscription:
    row = conn.execute(
        f"SELECT {_SUBSCRIPTION} FROM subscriptions WHERE id = %s", (subscription_id,)
    ).fetchone()
    assert row is not None
    return Subscription(**row)


def advance_subscription(conn: db.Connection, subscription_id: UUID, today: date) -> None:
    """Move one locked subscription into its paid period that covers `today`, if any."""
    conn.execute(_ENTER_PAID_PERIOD + " AND s.id = %(id)s", {"today": today, "id": subscription_id})


# A live subscription whose current period has ended enters the paid period that follows it
# (periods are contiguous: each starts where the one before ends).
_ENTER_PAID_PERIOD = """
    UPDATE subscriptions s
       SET period_start = p.starts_on, period_end = p.ends_on, plan_code = p.plan_code,
           period_index = s.period_index + 1, status = 'ACTIVE',
           next_plan_code = CASE WHEN s.next_plan_code = p.plan_code THEN NULL
                                 ELSE s.next_plan_code END
      FROM subscription_periods p
     WHERE p.subscription_id = s.id AND p.starts_on = s.period_end AND p.starts_on <= %(today)s
       AND s.status IN ('ACTIVE', 'PAST_DUE')
"""


def allocate(conn: db.Connection, subscription_id: UUID, starts_on: date) -> int:
    """Grant the plan's credits for the paid period that starts on `starts_on`, unless already
    granted; return the credits granted. A period nobody paid for grants nothing."""
    # Lock first, then look: a lookup in the locking statement would read a snapshot taken
    # before the lock and miss an allocation a concurrent run just committed.
    sub = conn.execute(
        """SELECT s.id, w.id AS wallet_id FROM subscriptions s
             JOIN wallets w ON w.student_id = s.student_id
            WHERE s.id = %s FOR UPDATE OF s""",
        (subscription_id,),
    ).fetchone()
    paid = conn.execute(
        """SELECT p.order_id, pl.credits_per_month FROM subscription_periods p
             JOIN plans pl ON pl.code = p.plan_code
            WHERE p.subscription_id = %s AND p.starts_on = %s""",
        (subscription_id, starts_on),
    ).fetchone()
    if sub is None or paid is None or paid["credits_per_month"] == 0:
        return 0
    done = conn.execute(
        "SELECT 1 FROM subscription_allocations WHERE subscription_id = %s AND period = %s",
        (subscription_id, starts_on),
    ).fetchone()
    if done is not None:
        return 0
    granted = ledger.grant(
        sub["wallet_id"],
        paid["credits_per_month"],
        LotKind.MONTHLY_ALLOCATION,
        key=f"allocation:{subscription_id}:{starts_on:%Y-%m-%d}",
        purpose=f"monthly allocation {starts_on:%Y-%m-%d}",
        conn=conn,
    )
    conn.execute(
        """INSERT INTO subscription_allocations (subscription_id, period, lot_id)
           VALUES (%s, %s, %s)""",
        (subscription_id, starts_on, granted.lot_id),
    )
    return granted.credits


def allocate_due(today: date, wallets_per_batch: int = 5000) -> AllocationReport:
    """Grant every paid period begun by `today` its plan's credits, once: set-based, wallet batch
    by wallet batch, each batch one short transaction under its wallets' row locks (in id
    order, like every ledger writer). Safe to run again and concurrently: the due periods are
    read after the locks, and the allocation's primary key stands behind."""
    due_wallets = [
        r["wallet_id"] for r in db.connection().execute(_DUE_WALLETS, {"today": today}).fetchall()
    ]
    granted = credits = 0
    months = get_settings().credit_validity_months
    for i in range(0, len(due_wallets), wallets_per_batch):
        batch = due_wallets[i : i + wallets_per_batch]
        with db.transaction() as conn:
            conn.execute(
                "SELECT 1 FROM wallets WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (batch,)
            ).fetchall()
            done = _one(
                conn.execute(_ALLOCATE, {"wallets": batch, "today": today, "months": months})
            )
        granted, credits = granted + done["periods"], credits + done["credits"]
    return AllocationReport(period=today, granted=granted, credits=credits)


# Wallets with a paid period begun and not yet granted.
_DUE_WALLETS = """
    SELECT DISTINCT w.id AS wallet_id
      FROM subscription_periods p
      JOIN subscriptions s ON s.id = p.subscription_id
      JOIN plans pl ON pl.code = p.plan_code AND pl.credits_per_month > 0
      JOIN wallets w ON w.student_id = s.student_id
     WHERE p.starts_on <= %(today)s
       AND NOT EXISTS (SELECT 1 FROM subscription_allocations a
                        WHERE a.subscription_id = p.subscription_id AND a.period = p.starts_on)
     ORDER BY w.id
"""

# One statement for a batch of locked wallets: a lot, a GRANT entry (its balance_after the
# wallet's spendable balance plus the grants before it in this batch) and the allocation for each
# due period, and each wallet's balance raised by its total. The lots' ids are drawn first so
# that entries and allocations can name them.
_ALLOCATE = """
    WITH due AS (
        SELECT p.subscription_id, p.starts_on, w.id AS wallet_id, pl.credits_per_month AS credits,
               nextval(pg_get_serial_sequence('credit_lots', 'id')) AS lot_id,
               sum(pl.credits_per_month) OVER (PARTITION BY w.id ORDER BY p.starts_on,
                                               p.subscription_id) AS running
          FROM subscription_periods p
          JOIN subscriptions s ON s.id = p.subscription_id
          JOIN plans pl ON pl.code = p.plan_code AND pl.credits_per_month > 0
          JOIN wallets w ON w.student_id = s.student_id
         WHERE w.id = ANY(%(wallets)s) AND p.starts_on <= %(today)s
           AND NOT EXISTS (SELECT 1 FROM subscription_allocations a
                            WHERE a.subscription_id = p.subscription_id
                              AND a.period = p.starts_on)
    ), live AS (
        SELECT wallet_id, coalesce(sum(remaining), 0)::int AS live FROM credit_lots
         WHERE wallet_id = ANY(%(wallets)s) AND remaining > 0 AND expires_at > clock_timestamp()
         GROUP BY wallet_id
    ), lots AS (
        INSERT INTO credit_lots (id, wallet_id, kind, amount, remaining, expires_at)
        OVERRIDING SYSTEM VALUE
        SELECT lot_id, wallet_id, 'MONTHLY_ALLOCATION', credits, credits,
               now() + make_interval(months => %(months)s)
          FROM due
        RETURNING id
    ), entries AS (
        INSERT INTO ledger_entries (wallet_id, kind, amount, lot_id, idempotency_key, purpose,
                                    balance_after)
        SELECT d.wallet_id, 'GRANT', d.credits, d.lot_id,
               'allocation:' || d.subscription_id || ':' || to_char(d.starts_on, 'YYYY-MM-DD'),
               'monthly allocation ' || to_char(d.starts_on, 'YYYY-MM-DD'),
               coalesce(l.live, 0) + d.running
          FROM due d LEFT JOIN live l ON l.wallet_id = d.wallet_id
         WHERE EXISTS (SELECT 1 FROM lots WHERE lots.id = d.lot_id)
        RETURNING id
    ), allocations AS (
        INSERT INTO subscription_allocations (subscription_id, period, lot_id)
        SELECT subscription_id, starts_on, lot_id FROM due
         WHERE EXISTS (SELECT 1 FROM lots WHERE lots.id = due.lot_id)
        RETURNING 1
    ), balances AS (
        UPDATE wallets w SET balance = w.balance + t.total
          FROM (SELECT wallet_id, sum(credits) AS total FROM due GROUP BY wallet_id) t
         WHERE w.id = t.wallet_id
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM allocations)::int AS periods,
           coalesce((SELECT sum(credits) FROM due), 0)::int AS credits,
           (SELECT count(*) FROM entries)::int AS entries
"""


def run_lifecycle(today: date) -> LifecycleReport:
    """The daily pass: subscriptions enter the periods paid in advance that begin today; those
    whose period ended unpaid become CANCELLED (if the payer asked) or PAST_DUE; PAST_DUE ones
    past the grace period become EXPIRED, their payer's email owed in the outbox (sent by the
    caller after the commit, or by the reconciliation job). Set-based, and running it again
    changes nothing."""
    grace = get_settings().subscription_grace_days
    params = {"today": today, "grace": grace}
    with db.transaction() as conn:
        renewed = 0
        while True:  # a job that missed days catches up one period at a time
            step = conn.execute(_ENTER_PAID_PERIOD, params).rowcount
            if not step:
                break
            renewed += step
        cancelled = conn.execute(
            """UPDATE subscriptions SET status = 'CANCELLED', ended_at = now()
                WHERE status IN ('ACTIVE', 'PAST_DUE') AND cancel_at_period_end
                  AND period_end <= %(today)s""",
            params,
        ).rowcount
        past_due = conn.execute(
            """UPDATE subscriptions SET status = 'PAST_DUE'
                WHERE status = 'ACTIVE' AND period_end <= %(today)s""",
            params,
        ).rowcount
        expired = _one(conn.execute(_EXPIRE_AND_TELL, params))["n"]
    return LifecycleReport(
        today=today, renewed=renewed, cancelled=cancelled, past_due=past_due, expired=expired
    )


# PAST_DUE past the grace period: EXPIRED, and the payer is told (through the outbox).
_EXPIRE_AND_TELL = """
    WITH lapsed AS (
        UPDATE subscriptions SET status = 'EXPIRED', ended_at = now()
         WHERE status = 'PAST_DUE' AND period_end + %(grace)s <= %(today)s
        RETURNING id, student_id, plan_code, created_by, period_end
    ), told AS (
        INSERT INTO outbox_emails (key, recipients, template, language, context)
        SELECT 'subscription-expired:' || l.id || ':' || l.period_end, ARRAY[u.email],
               'subscription_lapsed', u.language,
               jsonb_build_object('plan', p.name, 'student', st.display_name,
                                  'ended_on', l.period_end)
          FROM lapsed l
          JOIN plans p ON p.code = l.plan_code
          JOIN students st ON st.id = l.student_id
          JOIN users u ON u.id = l.created_by
         WHERE coalesce(u.email, '') <> ''
        ON CONFLICT (key, language) DO NOTHING
        RETURNING 1
    ), events AS (
        INSERT INTO webhook_events (type, subject, payload)
        SELECT 'subscription.lapsed', 'subscription:' || l.id || ':' || l.period_end,
               jsonb_build_object('subscription_id', l.id, 'student_id', l.student_id,
                                  'plan_code', l.plan_code, 'ended_on', l.period_end)
          FROM lapsed l
        ON CONFLICT (type, subject) DO NOTHING
        RETURNING id
    ), deliveries AS (
        INSERT INTO webhook_deliveries (event_id, endpoint_id)
        SELECT e.id, p.id FROM events e
          JOIN webhook_endpoints p ON p.active AND 'subscription.lapsed' = ANY(p.events)
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM lapsed)::int AS n, (SELECT count(*) FROM told)::int AS told,
           (SELECT count(*) FROM deliveries)::int AS deliveries
"""


def _one(cursor: Any) -> dict[str, Any]:
    row = cursor.fetchone()
    assert row is not None
    return dict(row)


# -- what families and staff see and do ----------------------------------------------------------

_VIEW = """
    SELECT s.id, s.student_id, s.plan_code, s.status, s.period_start, s.period_end,
           s.cancel_at_period_end, s.next_plan_code, s.ended_at, s.created_by, s.aria_subjects,
           s.created_at, (SELECT max(p.ends_on) FROM subscription_periods p
             WHERE p.subscription_id = s.id) AS paid_through
      FROM subscriptions s
"""


def _view(row: dict[str, Any]) -> SubscriptionView:
    live = row["status"] in LIVE and not row["cancel_at_period_end"]
    paid_through = row["paid_through"] or row["period_end"]
    return SubscriptionView(
        id=row["id"],
        student_id=row["student_id"],
        plan_code=row["plan_code"],
        status=row["status"],
        period_start=row["period_start"],
        period_end=row["period_end"],
        paid_through=paid_through,
        next_renewal=paid_through if live else None,
        cancel_at_period_end=row["cancel_at_period_end"],
        next_plan_code=row["next_plan_code"],
        ended_at=row["ended_at"],
        aria_subjects=tuple(row["aria_subjects"]),
    )


def subscriptions_of(
    user: User, student_id: UUID | None, cursor: str | None = None, limit: int = 20
) -> Page[SubscriptionView]:
    """The subscriptions of the caller (a student), of one of a parent's children or all of
    them, or of any student for staff; newest first."""
    from reussite.identity import service as identity

    if student_id is not None:
        students = [identity.accessible_student(user, student_id)]
    elif user.role is Role.PARENT:
        children = db.connection().execute(
            "SELECT student_id FROM parent_students WHERE parent_id = %s", (user.id,)
        )
        students = [r["student_id"] for r in children]
    else:
        students = [identity.acting_for(user, None, (Role.ELEVE,), "Name the student")]
    from reussite.history import Page, paged  # not at import: the monthly job loads no pydantic

    rows, following = paged(
        "subscriptions",
        f"""SELECT * FROM ({_VIEW}) t WHERE t.student_id = ANY(%(students)s) AND {{keyset}}
             ORDER BY t.created_at DESC, t.id DESC LIMIT %(limit)s""",
        {"students": students},
        cursor,
        limit,
    )
    return Page[SubscriptionView](items=[_view(r) for r in rows], next=following)


def student_subscriptions(
    staff: User, student_id: UUID, cursor: str | None = None, limit: int = 20
) -> Page[SubscriptionView]:
    """Any student's subscriptions, for staff (the back office's view)."""
    require_staff(staff, "This is the back office's view")
    return subscriptions_of(staff, student_id, cursor, limit)


def _own(conn: db.Connection, user: User, subscription_id: UUID) -> dict[str, Any]:
    """The subscription, locked, if the caller pays for it: its payer, or a parent of its
    student. Anybody else's (staff included: they end one instead) is 404."""
    row = conn.execute(_VIEW + " WHERE s.id = %s FOR UPDATE OF s", (subscription_id,)).fetchone()
    if row is None:
        raise SubscriptionNotFound()
    parent = conn.execute(
        "SELECT 1 FROM parent_students WHERE parent_id = %s AND student_id = %s",
        (user.id, row["student_id"]),
    ).fetchone()
    if row["created_by"] != user.id and parent is None:
        raise SubscriptionNotFound()
    return dict(row)


def _change(
    user: User,
    subscription_id: UUID,
    sql: str,
    params: dict[str, Any],
    then: Callable[[db.Connection, dict[str, Any]], None] | None = None,
) -> SubscriptionView:
    with db.transaction() as conn:
        row = _own(conn, user, subscription_id)
        if row["status"] not in LIVE:
            raise SubscriptionEnded()
        conn.execute(sql, params | {"id": subscription_id})
        changed = conn.execute(_VIEW + " WHERE s.id = %s", (subscription_id,)).fetchone()
        assert changed is not None
        if then is not None:
            then(conn, changed)
    return _view(changed)


def activation_key(order_id: UUID) -> str:
    """The key of the "subscription activated" email a plan's first paid order owes."""
    return f"subscription-activated:{order_id}"


def _change_key(sub: dict[str, Any]) -> str:
    return f"subscription-changed:{sub['id']}:{sub['next_plan_code']}:{sub['period_end']}"


def _owe_activation(
    conn: db.Connection,
    key: str,
    student_id: UUID,
    plan_code: str,
    starts_on: date,
    payer_id: UUID | None,
    *,
    changed: bool = False,
) -> None:
    """ "Subscription activated", to the parents and the payer: a new subscription's first
    period, or the plan a change moves to from the next period."""
    from reussite import emails

    plan = conn.execute(
        "SELECT name, credits_per_month FROM plans WHERE code = %s", (plan_code,)
    ).fetchone()
    student = conn.execute(
        "SELECT display_name FROM students WHERE id = %s", (student_id,)
    ).fetchone()
    assert plan is not None and student is not None
    to = emails.parents(conn, student_id) + (emails.person(conn, payer_id) if payer_id else [])
    emails.owe(
        conn,
        key,
        to,
        "subscription_activated",
        {
            "plan": plan["name"],
            "student": student["display_name"],
            "credits": plan["credits_per_month"],
            "starts_on": starts_on,
            "ends_on": add_months(starts_on, 1),
            "changed": changed,
        },
    )


def _owe_plan_change(user: User) -> Callable[[db.Connection, dict[str, Any]], None]:
    def owe(conn: db.Connection, sub: dict[str, Any]) -> None:
        if sub.get("next_plan_code"):
            _owe_activation(
                conn,
                _change_key(sub),
                sub["student_id"],
                sub["next_plan_code"],
                sub["period_end"],
                user.id,
                changed=True,
            )

    return owe


def cancel(user: User, subscription_id: UUID) -> SubscriptionView:
    """Stop at the end of the paid periods; asked twice, the same answer."""
    return _change(
        user,
        subscription_id,
        "UPDATE subscriptions SET cancel_at_period_end = true WHERE id = %(id)s",
        {},
    )


def resume(user: User, subscription_id: UUID) -> SubscriptionView:
    """Take back a cancellation before the period ends."""
    return _change(
        user,
        subscription_id,
        "UPDATE subscriptions SET cancel_at_period_end = false WHERE id = %(id)s",
        {},
    )


def change_plan(user: User, subscription_id: UUID, plan_code: str) -> SubscriptionView:
    """Upgrade or downgrade from the next period: the next period is paid at the new plan's
    price and brings its credits; the current one is unchanged."""
    found = db.read_one("SELECT code FROM plans WHERE code = %s AND active", (plan_code,))
    if found is None:
        raise PlanNotFound()
    changed = _change(
        user,
        subscription_id,
        """UPDATE subscriptions
              SET next_plan_code = CASE WHEN plan_code = %(plan)s THEN NULL ELSE %(plan)s END
            WHERE id = %(id)s""",
        {"plan": plan_code},
        then=_owe_plan_change(user),
    )
    if changed.next_plan_code:
        from reussite import outbox

        moved = {"id": changed.id, "next_plan_code": changed.next_plan_code}
        outbox.flush(keys=[_change_key(moved | {"period_end": changed.period_end})])
    return changed


def end_now(staff: User, subscription_id: UUID, reason: str) -> SubscriptionView:
    """Staff end a subscription at once (a refund, a dispute), audited; ending it again changes
    nothing. Credits already granted keep their own expiry."""
    require_staff(staff, "Staff end subscriptions")
    with db.transaction() as conn:
        row = conn.execute(
            _VIEW + " WHERE s.id = %s FOR UPDATE OF s", (subscription_id,)
        ).fetchone()
        if row is None:
            raise SubscriptionNotFound()
        if row["status"] in LIVE:
            conn.execute(
                """UPDATE subscriptions SET status = 'CANCELLED', ended_at = now()
                    WHERE id = %s""",
                (subscription_id,),
            )
            audit.record(
                conn,
                staff.id,
                "subscription.end",
                f"subscription:{subscription_id}",
                {"reason": reason},
            )
        ended = conn.execute(_VIEW + " WHERE s.id = %s", (subscription_id,)).fetchone()
    assert ended is not None
    return _view(ended)
