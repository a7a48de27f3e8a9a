"""A family's history and its links, against real PostgreSQL: every list newest first and
cursor-paginated (1,000 rows read while more are written: no duplicate, no gap), a parent
reading a child's, an altered or foreign cursor refused, attempts naming their certificate and
orders what they paid for."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
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


def _walk(function: str, path: str, who: Any, query: str, limit: int) -> list[Any]:
    """Every item of a list, page by page."""
    items: list[Any] = []
    cursor = ""
    for _ in range(200):
        status, page = _get(function, path, who, f"{query}&limit={limit}{cursor}")
        assert status == 200, page
        items += page["items"]
        if page["next"] is None:
            return items
        assert len(page["items"]) == limit
        cursor = f"&cursor={page['next']}"
    raise AssertionError("the pages never ended")


def test_every_catalogue_is_a_cursor_page_with_no_duplicate_or_gap(
    database_url: str, principal: Any
) -> None:
    staff, who = principal(Role.ASSISTANTE), principal(Role.ELEVE)
    subject = f"oenologie-{uuid.uuid4().hex[:8]}"
    for name in ("Zoé | Pipe", "Amal", "Amal", "Bilel", "Élodie"):  # a tie, a separator
        coach = identity.resolve_user(principal(Role.COACH, name))
        profile = {"subjects": [subject], "availability": []}
        assert (
            helpers.call("tutoring_api", "POST", f"/v1/admin/coaches/{coach.id}", staff, profile)[0]
            == 200
        )
    starts = datetime.now(UTC) + timedelta(days=40)
    for n in range(5):
        at = starts + timedelta(hours=n // 2)  # two sittings share a start time
        body = {
            "qualification_code": "WINE-L3",
            "type": "STANDALONE",
            "capacity": 5,
            "starts_at": at.isoformat(),
            "registration_deadline": (at - timedelta(days=1)).isoformat(),
        }
        assert (
            helpers.call(
                "exam_sessions_api",
                "POST",
                "/v1/admin/exam-sessions",
                staff,
                body,
                str(uuid.uuid4()),
            )[0]
            == 201
        )

    lists = [
        ("tutoring_api", "/v1/coaches", f"subject={subject}", "id"),
        ("exam_sessions_api", "/v1/exam-sessions", "qualification=WINE-L3", "id"),
        ("exams_api", "/v1/exams", "", "code"),
        ("payments_api", "/v1/products", "", "code"),
        ("exam_sessions_api", "/v1/qualifications", "", "code"),
        ("tutoring_api", "/v1/tutoring/services", "", "code"),
    ]
    products = _get("payments_api", "/v1/products", who, "limit=1")[1]["next"]
    exams = _get("exams_api", "/v1/exams", who, "limit=1")[1]["next"]
    for function, path, query, key in lists:
        small = _walk(function, path, who, query, 2)
        whole = _walk(function, path, who, query, 100)
        assert [i[key] for i in small] == [i[key] for i in whole], path
        assert len({i[key] for i in small}) == len(small) >= 3, path
        foreign = _get(
            function, path, who, f"{query}&cursor={exams if 'products' in path else products}"
        )
        assert (foreign[0], foreign[1]["code"]) == (400, "BAD_CURSOR"), path

    coaches = _walk("tutoring_api", "/v1/coaches", who, f"subject={subject}", 2)
    assert [c["display_name"] for c in coaches] == sorted(c["display_name"] for c in coaches)
    sittings = _walk("exam_sessions_api", "/v1/exam-sessions", who, "qualification=WINE-L3", 2)
    assert [s["starts_at"] for s in sittings] == sorted(s["starts_at"] for s in sittings)
