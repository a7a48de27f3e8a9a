"""Exam services as the wine school sells them (seed 003's pricing rules): priced products
bought through the normal order path (Konnect, or a Wise transfer staff confirm) and fulfilled
once, credits where the school accepts them, enquiries with their reason, type, outcome and
refunds, and the back office's queues and the candidate's available actions."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reussite import db
from reussite.identity import service as identity
from reussite.identity.models import Principal, Role
from reussite.ledger import jobs
from reussite.ledger import service as ledger
from reussite.ledger.models import LotKind
from reussite_local.konnect import FakeKonnect
from tests import helpers

# The document's prices, in euro cents: (qualification, service) -> price
DOCUMENTED = {
    ("WINE-L1", "MAKEUP"): 7500,
    ("WINE-L2", "MAKEUP"): 8500,
    ("WINE-L3", "MAKEUP"): 12500,
    ("WINE-L1", "RESIT"): 7500,
    ("WINE-L2", "RESIT"): 8500,
    ("WINE-L3", "RESIT"): 12500,
    ("WINE-L1", "REMOTE"): 5000,
    ("WINE-L2", "REMOTE"): 6000,
    ("WINE-L3", "REMOTE"): 9000,
    ("WINE-L3", "ENQUIRY_THEORY"): 5000,
    ("WINE-L3", "ENQUIRY_TASTING"): 5000,
    ("WINE-L3", "ENQUIRY_BOTH"): 9000,
}


def api(
    method: str, path: str, who: Principal, body: Any = None, key: str | None = "auto"
) -> tuple[int, Any]:
    key = str(uuid.uuid4()) if key == "auto" else key
    path, _, query = path.partition("?")
    return helpers.call("exam_sessions_api", method, path, who, body, key, query)


def webhook(ref: str) -> tuple[int, Any]:
    return helpers.call(
        "payment_webhook", "GET", "/v1/webhooks/konnect", query=f"payment_ref={ref}"
    )


@pytest.fixture
def staff(database_url: str, principal: Any) -> Principal:
    p: Principal = principal(Role.ASSISTANTE, "Claire Examens")
    return p


@pytest.fixture
def family(database_url: str, principal: Any) -> Any:
    """A parent and their child: (parent, child's principal-less id)."""
    parent = principal(Role.PARENT, "Nadia Trabelsi")
    child = identity.create_child(identity.resolve_user(parent), "Amine").student_id
    return parent, child


def session(staff: Principal, kind: str, qualification: str = "WINE-L3", days: int = 20) -> Any:
    starts = datetime.now(UTC) + timedelta(days=days)
    body = {
        "qualification_code": qualification,
        "type": kind,
        "starts_at": starts.isoformat(),
        "registration_deadline": (starts - timedelta(days=1)).isoformat(),
        "capacity": 2,
        "location": "Bordeaux",
    }
    status, created = api("POST", "/v1/admin/exam-sessions", staff, body)
    assert status == 201, created
    return created


def register(who: Principal, session_id: str, child: Any, pay_with: str | None) -> Any:
    body = {"student_id": str(child)} | ({"pay_with": pay_with.lower()} if pay_with else {})
    return api("POST", f"/v1/exam-sessions/{session_id}/registrations", who, body)


def seats(session_id: str) -> int:
    row = db.read_one("SELECT registered FROM exam_sessions WHERE id = %s", (session_id,))
    assert row is not None
    return int(row["registered"])


def sat(staff: Principal, who: Principal, child: Any, scores: dict[str, int]) -> Any:
    """The child sat a standalone Level 3 paid by transfer, with these results."""
    sitting = session(staff, "STANDALONE")
    _, reg = register(who, sitting["id"], child, "WISE")
    helpers.confirm_transfer(staff_user(staff), order_of(reg))
    helpers.session_took_place(sitting["id"])
    status, graded = api(
        "POST", f"/v1/admin/registrations/{reg['id']}/results", staff, {"scores": scores}
    )
    assert status == 200, graded
    return reg


def staff_user(staff: Principal) -> Any:
    return identity.resolve_user(staff)


def order_of(answer: dict[str, Any]) -> Any:
    from reussite.payments.orders import order_row, order_view

    return order_view(order_row(uuid.UUID(answer["order"]["id"])))


def price(staff: Principal, code: str, service: str, **body: Any) -> tuple[int, Any]:
    current = {"price_minor": DOCUMENTED.get((code, service), 7500), "currency": "EUR"}
    return api("PUT", f"/v1/admin/exam-services/{code}/{service}", staff, current | body, None)


# -- products and prices -------------------------------------------------------------------------


def test_each_service_is_a_product_at_the_documented_price(staff: Principal) -> None:
    _, page = api("GET", "/v1/qualifications", staff, key=None)
    prices = {
        (q["code"], s["service"]): (s["price_minor"], s["currency"], s["product_code"])
        for q in page["items"]
        for s in q["services"]
    }

    for (code, service), cents in DOCUMENTED.items():
        assert prices[(code, service)][:2] == (cents, "EUR"), (code, service)
    assert ("WINE-L1", "ENQUIRY_TASTING") not in prices  # no tasting paper at Level 1
    products = {
        p["code"]: p
        for p in helpers.call("payments_api", "GET", "/v1/products", staff, query="limit=100")[1][
            "items"
        ]
    }
    makeup = products[prices[("WINE-L3", "MAKEUP")][2]]
    assert (makeup["kind"], makeup["price_minor"], makeup["currency"]) == (
        "EXAM_SERVICE",
        12500,
        "EUR",
    )
    bought_directly = helpers.call(
        "payments_api",
        "POST",
        "/v1/payments/checkout",
        staff,
        {"product_code": makeup["code"], "student_id": str(uuid.uuid4()), "provider": "WISE"},
        str(uuid.uuid4()),
    )
    assert bought_directly[0] in (400, 404, 422)  # an exam service is bought by registering


# -- money: Konnect and Wise, fulfilled once -------------------------------------------------------


def test_a_seat_paid_through_konnect_is_held_then_confirmed_once_under_duplicate_webhooks(
    staff: Principal, family: Any, konnect: FakeKonnect
) -> None:
    parent, child = family
    sitting = session(staff, "STANDALONE", "WINE-L2")

    status, reg = register(parent, sitting["id"], child, "KONNECT")

    assert status == 201 and reg["status"] == "PENDING_PAYMENT" and reg["paid_with"] == "ORDER"
    order = reg["order"]
    assert (order["amount_minor"], order["currency"]) == (8500, "EUR")  # the standalone price
    assert order["pay_url"].startswith(konnect.url) and seats(sitting["id"]) == 1  # held
    konnect.complete(order["payment_ref"])
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: webhook(order["payment_ref"]), range(10)))

    assert {(s, body["status"]) for s, body in answers} == {(200, "PAID")}
    _, mine = api("GET", "/v1/me/exams", parent, key=None)
    (confirmed,) = [r for r in mine["items"] if r["id"] == reg["id"]]
    assert confirmed["status"] == "REGISTERED" and seats(sitting["id"]) == 1
    events = db.connection().execute(
        "SELECT count(*) AS n FROM provider_events WHERE order_id = %s", (order["id"],)
    )
    assert events.fetchone() == {"n": 1}
    paid = helpers.call("payments_api", "GET", f"/v1/payments/orders/{order['id']}", parent)[1]
    assert paid["status"] == "PAID" and paid["receipt_number"]
    assert jobs.check_invariants().clean


def paid_once(order: dict[str, Any], konnect: FakeKonnect) -> None:
    """The family pays on Konnect; its webhook arrives five times at once: one fulfilment."""
    konnect.complete(order["payment_ref"])
    with ThreadPoolExecutor(max_workers=5) as pool:
        answers = list(pool.map(lambda _: webhook(order["payment_ref"]), range(5)))
    assert {(s, body["status"]) for s, body in answers} == {(200, "PAID")}
    events = db.read_one(
        "SELECT count(*) AS n FROM provider_events WHERE order_id = %s", (order["id"],)
    )
    assert events == {"n": 1}


def test_every_service_is_bought_through_konnect_and_fulfilled_once(
    staff: Principal, family: Any, konnect: FakeKonnect
) -> None:
    parent, child = family
    bought: dict[str, tuple[int, str]] = {}  # service -> (amount, status once paid)

    # remote invigilation, for a student enrolled online
    enrol = {"student_id": str(child), "qualification_code": "WINE-L2"}
    assert api("POST", "/v1/admin/enrolments", staff, enrol, None)[0] == 201
    _, remote = register(parent, session(staff, "REMOTE", "WINE-L2")["id"], child, "KONNECT")
    paid_once(remote["order"], konnect)
    bought["REMOTE"] = (remote["order"]["amount_minor"], status_of("exam_registrations", remote))

    # a makeup, after missing the bundled exam of a Level 1 course
    _, offering = api(
        "POST", "/v1/admin/course-offerings", staff, {"qualification_code": "WINE-L1", "name": "L1"}
    )
    day = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    _, course = api(
        "POST",
        f"/v1/admin/course-offerings/{offering['id']}/sessions",
        staff,
        {"starts_on": day, "ends_on": day, "capacity": 5},
    )
    students = f"/v1/admin/course-sessions/{course['id']}/students"
    api("POST", students, staff, {"student_id": str(child)}, None)
    _, seat = register(parent, course["exam_sessions"][0]["id"], child, None)
    helpers.session_took_place(course["exam_sessions"][0]["id"])
    api("POST", f"/v1/admin/registrations/{seat['id']}/results", staff, {"absent": True})
    session(staff, "MAKEUP", "WINE-L1", days=40)
    body = {"student_id": str(child), "pay_with": "konnect"}
    _, makeup = api("POST", "/v1/qualifications/WINE-L1/makeup", parent, body)
    paid_once(makeup["order"], konnect)
    bought["MAKEUP"] = (makeup["order"]["amount_minor"], status_of("exam_registrations", makeup))

    # a resit after a failed Level 3, and an enquiry about it
    failed = sat(staff, parent, child, {"THEORY": 60, "TASTING": 40})
    _, resit = register(parent, session(staff, "RESIT")["id"], child, "KONNECT")
    paid_once(resit["order"], konnect)
    bought["RESIT"] = (resit["order"]["amount_minor"], status_of("exam_registrations", resit))
    _, enquiry = ask(parent, failed, "TASTING", "KONNECT")
    paid_once(enquiry["order"], konnect)
    bought["ENQUIRY_TASTING"] = (
        enquiry["order"]["amount_minor"],
        status_of("result_enquiries", enquiry),
    )

    assert bought == {
        "REMOTE": (6000, "REGISTERED"),
        "MAKEUP": (7500, "REGISTERED"),
        "RESIT": (12500, "REGISTERED"),
        "ENQUIRY_TASTING": (5000, "SUBMITTED"),
    }
    assert resit["components"] == ["TASTING"]  # theory carries forward
    assert jobs.check_invariants().clean


def status_of(table: str, answer: dict[str, Any]) -> str:
    row = db.read_one(f"SELECT status FROM {table} WHERE id = %s", (answer["id"],))
    assert row is not None
    return str(row["status"])


def test_konnect_down_at_registration_holds_the_seat_for_the_retry_or_releases_it(
    staff: Principal, family: Any, konnect: FakeKonnect, principal: Any
) -> None:
    parent, child = family
    sitting = session(staff, "STANDALONE", "WINE-L2")
    key = str(uuid.uuid4())
    path = f"/v1/exam-sessions/{sitting['id']}/registrations"
    body = {"student_id": str(child), "pay_with": "konnect"}
    konnect.set_mode("failing")

    status, problem = api("POST", path, parent, body, key)

    assert (status, problem["code"]) == (502, "PROVIDER_UNAVAILABLE")
    assert seats(sitting["id"]) == 1  # held for the retry, its order not yet opened
    konnect.set_mode("normal")
    status, reg = api("POST", path, parent, body, key)  # the family retries with its key
    assert status == 201 and reg["status"] == "PENDING_PAYMENT"
    assert reg["order"]["status"] == "PENDING" and reg["order"]["pay_url"]
    orders = db.read_one(
        "SELECT count(*) AS n FROM orders WHERE registration_id = %s", (reg["id"],)
    )
    assert orders == {"n": 1} and seats(sitting["id"]) == 1

    # Nobody retries: the order Konnect never opened goes stale and gives the seat back.
    other = principal(Role.PARENT)
    other_child = identity.create_child(identity.resolve_user(other), "Sans suite").student_id
    konnect.set_mode("failing")
    failed = register(other, sitting["id"], other_child, "KONNECT")
    konnect.set_mode("normal")
    assert failed[0] == 502 and seats(sitting["id"]) == 2
    db.connection().execute(
        """UPDATE orders SET created_at = now() - interval '2 hours'
            WHERE student_id = %s AND status = 'CREATED'""",
        (other_child,),
    )
    helpers.functions.invoke(
        helpers.FUNCTIONS["payment_reconciliation"],
        helpers.functions.sample_event(helpers.FUNCTIONS["payment_reconciliation"]),
    )
    assert seats(sitting["id"]) == 1
    assert jobs.check_invariants().clean


def test_a_seat_paid_by_transfer_is_confirmed_by_staff_once(staff: Principal, family: Any) -> None:
    parent, child = family
    sitting = session(staff, "STANDALONE")
    _, reg = register(parent, sitting["id"], child, "WISE")
    order = reg["order"]
    assert order["bank_transfer"]["reference"] == order["reference"]
    assert order["amount_minor"] == 12500

    body = {"transfer_id": "WISE-77", "amount_minor": 12500, "currency": "EUR"}
    path = f"/v1/admin/payments/{order['id']}/confirm"
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(
            pool.map(
                lambda _: helpers.call(
                    "payments_api", "POST", path, staff, body, str(uuid.uuid4())
                ),
                range(6),
            )
        )

    assert sorted(s for s, _ in answers) == [200] + [409] * 5
    row = db.read_one("SELECT status FROM exam_registrations WHERE id = %s", (reg["id"],))
    assert row == {"status": "REGISTERED"} and seats(sitting["id"]) == 1


def test_an_unpaid_hold_is_released_and_a_late_payment_takes_the_seat_or_is_owed_back(
    staff: Principal, family: Any, principal: Any, konnect: FakeKonnect, local_aws: Any
) -> None:
    parent, child = family
    sitting = session(staff, "STANDALONE", "WINE-L1")  # two seats
    _, reg = register(parent, sitting["id"], child, "KONNECT")
    order = reg["order"]
    db.connection().execute(  # the payment's lifespan passed unpaid
        "UPDATE orders SET expires_at = now() - interval '1 minute' WHERE id = %s", (order["id"],)
    )

    report = helpers.functions.invoke(
        helpers.FUNCTIONS["payment_reconciliation"],
        helpers.functions.sample_event(helpers.FUNCTIONS["payment_reconciliation"]),
    )

    assert report["expired"] >= 1 and seats(sitting["id"]) == 0
    row = db.read_one("SELECT status FROM exam_registrations WHERE id = %s", (reg["id"],))
    assert row == {"status": "CANCELLED"}
    konnect.complete(order["payment_ref"])  # paid late after all, a seat still free
    assert webhook(order["payment_ref"])[1]["status"] == "PAID"
    row = db.read_one("SELECT status FROM exam_registrations WHERE id = %s", (reg["id"],))
    assert row == {"status": "REGISTERED"} and seats(sitting["id"]) == 1

    # The same with the session filled meanwhile: the money is owed back, nothing overbooked.
    other_parent, other_child = principal(Role.PARENT), None
    other_child = identity.create_child(identity.resolve_user(other_parent), "Lina").student_id
    _, late = register(other_parent, sitting["id"], other_child, "KONNECT")
    db.connection().execute(
        "UPDATE orders SET expires_at = now() - interval '1 minute' WHERE id = %s",
        (late["order"]["id"],),
    )
    helpers.functions.invoke(
        helpers.FUNCTIONS["payment_reconciliation"],
        helpers.functions.sample_event(helpers.FUNCTIONS["payment_reconciliation"]),
    )
    third_parent = principal(Role.PARENT)
    third = identity.create_child(identity.resolve_user(third_parent), "Rim").student_id
    _, taken = register(third_parent, sitting["id"], third, "WISE")
    helpers.confirm_transfer(staff_user(staff), order_of(taken))
    assert seats(sitting["id"]) == 2  # full
    konnect.complete(late["order"]["payment_ref"])
    assert webhook(late["order"]["payment_ref"])[1]["status"] == "PAID"

    assert seats(sitting["id"]) == 2
    _, due = api("GET", "/v1/admin/refunds?status=DUE&limit=50", staff, key=None)
    (owed,) = [r for r in due["items"] if r["order_id"] == late["order"]["id"]]
    assert (owed["amount_minor"], owed["currency"], owed["status"]) == (7500, "EUR", "DUE")
    assert "lapsed" in owed["reason"]
    (placed,) = helpers.emails(local_aws, order["reference"])
    (unplaced,) = helpers.emails(local_aws, late["order"]["reference"])
    assert "est confirmé" in placed["body"]
    assert "remboursera" in unplaced["body"] and "confirmé" not in unplaced["body"]


# -- credits, where the school accepts them --------------------------------------------------------


def test_credits_pay_only_where_the_school_accepts_them(staff: Principal, family: Any) -> None:
    parent, child = family
    ledger.grant(ledger.wallet_of(child), 10, LotKind.PURCHASE, key="ecole", purpose="test")
    sitting = session(staff, "RESIT", "WINE-L2")  # (a makeup would be taken by other tests)
    standalone = session(staff, "STANDALONE", "WINE-L2")

    refused = register(parent, standalone["id"], child, "CREDITS")
    unsaid = register(parent, standalone["id"], child, None)
    assert (refused[0], refused[1]["code"]) == (409, "CREDITS_NOT_ACCEPTED")
    assert (unsaid[0], unsaid[1]["code"]) == (422, "PAYMENT_METHOD_REQUIRED")
    assert "8500 EUR" in unsaid[1]["detail"] and seats(standalone["id"]) == 0

    assert price(staff, "WINE-L2", "STANDALONE", credits=4)[0] == 200
    try:
        status, reg = register(parent, standalone["id"], child, "CREDITS")
        assert status == 201 and (reg["status"], reg["paid_with"]) == ("REGISTERED", "CREDITS")
        assert reg["fee_credits"] == 4 and reg["order"] is None
        row = db.read_one("SELECT balance FROM wallets WHERE student_id = %s", (child,))
        assert row == {"balance": 6}
    finally:
        price(staff, "WINE-L2", "STANDALONE", credits=None)
    assert sitting["duration_minutes"] == 60 and sitting["ends_at"]
    audit = db.read_one(
        "SELECT count(*) AS n FROM audit_log WHERE action = 'exam_service.price' "
        "AND subject = 'service:WINE-L2:STANDALONE'"
    )
    assert audit is not None and audit["n"] >= 2


def test_a_bundled_seat_belongs_to_the_course_students(staff: Principal, family: Any) -> None:
    parent, child = family
    _, offering = api(
        "POST", "/v1/admin/course-offerings", staff, {"qualification_code": "WINE-L1", "name": "L1"}
    )
    day = (datetime.now(UTC) + timedelta(days=9)).date().isoformat()
    _, course = api(
        "POST",
        f"/v1/admin/course-offerings/{offering['id']}/sessions",
        staff,
        {"starts_on": day, "ends_on": day, "capacity": 5},
    )
    bundled = course["exam_sessions"][0]
    assert bundled["duration_minutes"] == 45

    outsider = register(parent, bundled["id"], child, "WISE")
    assert (outsider[0], outsider[1]["code"]) == (409, "REGISTRATION_NOT_ALLOWED")
    api(
        "POST",
        f"/v1/admin/course-sessions/{course['id']}/students",
        staff,
        {"student_id": str(child)},
        None,
    )
    status, seat = register(parent, bundled["id"], child, None)
    assert status == 201 and (seat["paid_with"], seat["status"]) == ("FREE", "REGISTERED")


# -- enquiries -------------------------------------------------------------------------------------


def ask(who: Principal, reg: Any, kind: str, pay_with: str = "WISE", **extra: Any) -> Any:
    body = {
        "type": kind,
        "reason": "Ma dégustation mérite une relecture",
        "pay_with": pay_with.lower(),
    }
    return api("POST", f"/v1/registrations/{reg['id']}/enquiries", who, body | extra)


def decide(staff: Principal, enquiry: Any, decision: str, scores: Any = None) -> Any:
    api("POST", f"/v1/admin/enquiries/{enquiry['id']}/review", staff)
    body = {"decision": decision} | ({"scores": scores} if scores else {})
    status, decided = api("POST", f"/v1/admin/enquiries/{enquiry['id']}/decision", staff, body)
    assert status == 200, decided
    return decided


def test_an_enquiry_paid_in_money_is_submitted_once_paid_and_refunded_by_staff(
    staff: Principal, family: Any
) -> None:
    parent, child = family
    reg = sat(staff, parent, child, {"THEORY": 70, "TASTING": 52})

    blank = ask(parent, reg, "TASTING", reason=" ")
    status, enquiry = ask(parent, reg, "TASTING")

    assert (blank[0], blank[1]["code"]) == (422, "VALIDATION_FAILED")  # a reason is required
    assert status == 201 and enquiry["status"] == "PENDING_PAYMENT"
    assert enquiry["components"] == ["TASTING"] and enquiry["order"]["amount_minor"] == 5000
    assert ask(parent, reg, "THEORY")[1]["code"] == "ENQUIRY_NOT_ALLOWED"  # one open at a time
    helpers.confirm_transfer(staff_user(staff), order_of(enquiry))
    _, queue = api("GET", "/v1/admin/enquiries?status=SUBMITTED&limit=50", staff, key=None)
    assert enquiry["id"] in {e["id"] for e in queue["items"]}

    decided = decide(staff, enquiry, "UPHELD", {"TASTING": 58})

    assert (decided["status"], decided["outcome"]) == ("COMPLETED", "UPHELD")
    assert decided["score_changes"] == {"TASTING": 6} and decided["result_changed"]  # now a pass
    assert decided["refund"]["status"] == "DUE" and not decided["fee_refunded"]
    refund_id = decided["refund"]["id"]
    made = api("POST", f"/v1/admin/refunds/{refund_id}/made", staff, {"reference": "VIR 2026/12"})
    again = api("POST", f"/v1/admin/refunds/{refund_id}/made", staff, {"reference": "VIR 2026/12"})
    other = api("POST", f"/v1/admin/refunds/{refund_id}/made", staff, {"reference": "VIR 9"})
    assert made[0] == 200 and made[1]["status"] == "MADE" and again == made
    assert (other[0], other[1]["code"]) == (409, "REFUND_ALREADY_MADE")
    _, seen = api("GET", f"/v1/enquiries/{enquiry['id']}", parent, key=None)
    assert seen["fee_refunded"] and seen["refund"]["status"] == "MADE"
    assert seen["reason"] == "Ma dégustation mérite une relecture" and seen["type"] == "TASTING"
    audit = db.read_one(
        "SELECT actor_id FROM audit_log WHERE action = 'refund.made' AND subject = %s",
        (f"refund:{refund_id}",),
    )
    assert audit is not None


def test_an_upheld_enquiry_paid_in_money_can_be_refunded_in_credits_by_setting(
    staff: Principal, family: Any
) -> None:
    parent, child = family
    reg = sat(staff, parent, child, {"THEORY": 50, "TASTING": 50})
    assert price(staff, "WINE-L3", "ENQUIRY_BOTH", credits=9, refund_upheld_as="CREDITS")[0] == 200
    try:
        _, enquiry = ask(parent, reg, "BOTH")
        assert enquiry["order"]["amount_minor"] == 9000 and enquiry["components"] == [
            "TASTING",
            "THEORY",
        ]
        helpers.confirm_transfer(staff_user(staff), order_of(enquiry))

        decided = decide(staff, enquiry, "UPHELD", {"THEORY": 51, "TASTING": 50})
    finally:
        price(staff, "WINE-L3", "ENQUIRY_BOTH", credits=None)

    assert decided["fee_refunded"] and decided["refund"] is None
    assert decided["score_changes"] == {"THEORY": 1, "TASTING": 0}
    assert not decided["result_changed"]  # still a fail
    row = db.read_one("SELECT balance FROM wallets WHERE student_id = %s", (child,))
    assert row == {"balance": 9}


def test_a_rejected_enquiry_refunds_nothing(staff: Principal, family: Any) -> None:
    parent, child = family
    reg = sat(staff, parent, child, {"THEORY": 60, "TASTING": 60})
    _, enquiry = ask(parent, reg, "THEORY")
    helpers.confirm_transfer(staff_user(staff), order_of(enquiry))

    decided = decide(staff, enquiry, "REJECTED")

    assert (decided["status"], decided["outcome"], decided["fee_refunded"]) == (
        "REJECTED",
        "REJECTED",
        False,
    )
    assert decided["refund"] is None and decided["regrade"] is None


# -- the back office's queues and the candidate's actions -------------------------------------


def test_queues_and_the_candidates_available_actions(
    staff: Principal, family: Any, principal: Any
) -> None:
    parent, failed = family
    reg = sat(staff, parent, failed, {"THEORY": 70, "TASTING": 40})
    online = identity.create_child(identity.resolve_user(parent), "En ligne").student_id
    enrol = {"student_id": str(online), "qualification_code": "WINE-L2"}
    assert api("POST", "/v1/admin/enrolments", staff, enrol, None)[0] == 201
    upcoming = session(staff, "RESIT", "WINE-L3", days=3)

    _, calendar = api("GET", "/v1/admin/exam-sessions?limit=50", staff, key=None)
    _, remote = api("GET", "/v1/admin/exam-queues/remote-invigilation?limit=50", staff, key=None)
    _, retakes = api("GET", "/v1/admin/exam-queues/makeups-resits?limit=50", staff, key=None)
    _, history = api("GET", f"/v1/students/{failed}/exam-history", parent, key=None)

    starts = [s["starts_at"] for s in calendar["items"]]
    assert upcoming["id"] in {s["id"] for s in calendar["items"]} and starts == sorted(starts)
    assert (str(online), "WINE-L2") in {
        (c["student_id"], c["qualification_code"]) for c in remote["items"]
    }
    (resit,) = [c for c in retakes["items"] if c["student_id"] == str(failed)]
    assert (resit["need"], resit["components"]) == ("RESIT", ["TASTING"])  # theory carries
    (l3,) = history["items"]
    assert l3["qualification_code"] == "WINE-L3" and not l3["passed"] and l3["grade"] == "FAIL"
    actions = {a["action"]: a for a in l3["actions"]}
    assert actions["BOOK_RESIT"]["price_minor"] == 12500
    enquiry = actions["REQUEST_ENQUIRY"]
    assert enquiry["registration_id"] == reg["id"]
    assert enquiry["enquiry_types"] == ["THEORY", "TASTING", "BOTH"]
    stranger = principal(Role.PARENT)
    assert api("GET", f"/v1/students/{failed}/exam-history", stranger, key=None)[0] == 404

    _, booked = register(parent, upcoming["id"], failed, "WISE")  # a resit booked
    _, retakes = api("GET", "/v1/admin/exam-queues/makeups-resits?limit=50", staff, key=None)
    _, history = api("GET", f"/v1/students/{failed}/exam-history", parent, key=None)
    assert str(failed) not in {c["student_id"] for c in retakes["items"]}
    assert "BOOK_RESIT" not in {a["action"] for a in history["items"][0]["actions"]}
    assert booked["components"] == ["TASTING"]


def test_the_makeup_and_resit_queue_pages_through_both_kinds_in_waiting_order(
    staff: Principal, principal: Any
) -> None:
    """Each kind walks its own index; the pages merge them, each student once."""
    mine = []
    for n in range(3):  # three failed Level 3 candidates
        parent = principal(Role.PARENT)
        child = identity.create_child(identity.resolve_user(parent), f"Échec {n}").student_id
        sat(staff, parent, child, {"THEORY": 40, "TASTING": 40})
        mine.append(str(child))
    parent = principal(Role.PARENT)  # and one who missed a Level 1 course's exam
    absent = identity.create_child(identity.resolve_user(parent), "Absente").student_id
    _, offering = api(
        "POST", "/v1/admin/course-offerings", staff, {"qualification_code": "WINE-L1", "name": "L1"}
    )
    day = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    _, course = api(
        "POST",
        f"/v1/admin/course-offerings/{offering['id']}/sessions",
        staff,
        {"starts_on": day, "ends_on": day, "capacity": 5},
    )
    api(
        "POST",
        f"/v1/admin/course-sessions/{course['id']}/students",
        staff,
        {"student_id": str(absent)},
        None,
    )
    _, seat = register(parent, course["exam_sessions"][0]["id"], absent, None)
    helpers.session_took_place(course["exam_sessions"][0]["id"])
    api("POST", f"/v1/admin/registrations/{seat['id']}/results", staff, {"absent": True})
    mine.append(str(absent))

    seen: list[dict[str, Any]] = []
    cursor = ""
    while True:
        _, page = api(
            "GET", f"/v1/admin/exam-queues/makeups-resits?limit=1{cursor}", staff, key=None
        )
        seen += page["items"]
        if not page["next"]:
            break
        cursor = f"&cursor={page['next']}"

    ours = [(c["student_id"], c["need"]) for c in seen if c["student_id"] in mine]
    assert ours == [(s, "RESIT") for s in mine[:3]] + [(mine[3], "MAKEUP")]
    assert len(seen) == len({(c["student_id"], c["qualification_code"]) for c in seen})
    waited = [c["since"] for c in seen]
    assert waited == sorted(waited)
