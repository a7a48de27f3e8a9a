"""A family's history and its links, against real PostgreSQL: every list newest first and
cursor-paginated (1,000 rows read while more are written: no duplicate, no gap), a parent
reading a child's, an altered or foreign cursor refused, attempts naming their certificate and
orders what they paid for."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from reussite import db
from reussite.identity import service as identity
from reussite.identity.models import Role
from reussite.ledger import service as ledger
from reussite.ledger.models import LotKind
from tests import helpers


def _get(function: str, path: str, who: Any, query: str = "") -> tuple[int, Any]:
    return helpers.call(function, "GET", path, who, query=query)


def test_a_thousand_entries_page_without_duplicate_or_gap_while_more_are_written(
    database_url: str, principal: Any
) -> None:
    who = principal(Role.ELEVE)
    student = identity.resolve_user(who).student_id
    assert student is not None
    wallet = ledger.wallet_of(student)
    with db.transaction() as conn:
        conn.execute(
            """INSERT INTO credit_lots (wallet_id, kind, amount, remaining, granted_at,
                                        expires_at)
               SELECT %s, 'GOODWILL', 1, 1, now() - interval '1 day' * n,
                      now() + interval '300 days'
                 FROM generate_series(1, 1000) AS n""",
            (wallet,),
        )
        conn.execute(
            """INSERT INTO ledger_entries (wallet_id, kind, amount, lot_id, idempotency_key,
                                           purpose, created_at)
               SELECT wallet_id, 'GRANT', 1, id, 'seed-' || id, 'goodwill', granted_at
                 FROM credit_lots WHERE wallet_id = %s""",
            (wallet,),
        )
        conn.execute("UPDATE wallets SET balance = balance + 1000 WHERE id = %s", (wallet,))
    seen: list[int] = []
    stop = threading.Event()

    def keep_granting() -> None:
        try:
            n = 0
            while not stop.is_set():
                n += 1
                ledger.grant(wallet, 1, LotKind.GOODWILL, key=f"live-{n}", purpose="meanwhile")
        finally:
            db.release()

    status, page = _get("credits_api", "/v1/me/ledger", who, "limit=100")
    assert status == 200 and len(page["items"]) == 100
    seen += [e["id"] for e in page["items"]]
    writer = threading.Thread(target=keep_granting)
    writer.start()
    try:
        while page["next"]:
            status, page = _get(
                "credits_api", "/v1/me/ledger", who, f"limit=100&cursor={page['next']}"
            )
            assert status == 200
            seen += [e["id"] for e in page["items"]]
    finally:
        stop.set()
        writer.join()

    seeded = (
        db.connection()
        .execute(
            "SELECT id FROM ledger_entries WHERE wallet_id = %s AND purpose = 'goodwill'", (wallet,)
        )
        .fetchall()
    )
    assert len(seen) == len(set(seen))  # no duplicate
    assert {r["id"] for r in seeded} <= set(seen)  # no gap
    first = page["items"][-1] if page["items"] else None
    assert first is None or first["lots"][0]["lot_kind"] == "GOODWILL"


def test_cursors_from_another_list_or_altered_are_refused(
    database_url: str, principal: Any
) -> None:
    who = principal(Role.ELEVE)
    student = identity.resolve_user(who).student_id
    assert student is not None
    wallet = ledger.wallet_of(student)
    for n in range(3):
        ledger.grant(wallet, 1, LotKind.GOODWILL, key=f"g{n}", purpose="goodwill")
    page = _get("credits_api", "/v1/me/ledger", who, "limit=2")[1]

    assert page["next"]
    other = _get("exams_api", "/v1/me/attempts", who, f"cursor={page['next']}")
    altered = _get("credits_api", "/v1/me/ledger", who, f"cursor={page['next'][:-4]}AAAA")
    assert (other[0], other[1]["code"]) == (400, "BAD_CURSOR")
    assert (altered[0], altered[1]["code"]) == (400, "BAD_CURSOR")
    assert _get("credits_api", "/v1/me/ledger", who, "limit=101")[0] == 422


def test_a_parent_reads_a_childs_orders_with_what_they_paid_for(
    database_url: str, principal: Any
) -> None:
    family = {"name": "Parent", "children": [{"display_name": "Lina"}]}
    who = principal(Role.PARENT)
    status, made = helpers.call(
        "identity_api", "POST", "/v1/families", who, family, str(uuid.uuid4())
    )
    assert status == 201
    lina = made["children"][0]["student_id"]
    buyer = identity.resolve_user(who)
    helpers.pay_plan(buyer, uuid.UUID(lina), "HYBRIDE")

    status, orders = _get("payments_api", "/v1/me/orders", who, f"student_id={lina}")

    assert status == 200 and len(orders["items"]) == 1
    order = orders["items"][0]
    assert order["status"] == "PAID" and order["receipt_number"].startswith("R-")
    assert order["subscription_id"] and order["period_starts_on"] and order["period_ends_on"]
    stranger = principal(Role.PARENT)
    assert _get("payments_api", "/v1/me/orders", stranger, f"student_id={lina}")[0] == 404
    ledger_page = _get("credits_api", "/v1/me/ledger", who, f"student_id={lina}")[1]
    grant = ledger_page["items"][0]
    assert grant["kind"] == "GRANT" and grant["lots"][0]["lot_kind"] == "MONTHLY_ALLOCATION"
