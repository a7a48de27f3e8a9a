"""The back office, against real PostgreSQL: staff find a person by name, email or student id,
an order by the reference a family wrote on its transfer, the queue of transfers to confirm,
and the administrator reads the audit log by actor, subject and time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from reussite.identity import service as identity
from reussite.identity.models import Role
from reussite.payments import checkout
from reussite.payments.models import Provider
from tests import helpers


def _get(function: str, path: str, who: Any, query: str = "") -> tuple[int, Any]:
    return helpers.call(function, "GET", path, who, query=query)


def test_staff_find_a_person_by_name_email_or_student_id(database_url: str, principal: Any) -> None:
    staff = principal(Role.ASSISTANTE)
    tag = uuid.uuid4().hex[:6]
    who = principal(Role.ELEVE, f"Yasmine Trabelsi {tag}")
    student = identity.resolve_user(who).student_id

    by_name = _get("identity_api", "/v1/admin/people", staff, f"q=trabelsi {tag}")[1]
    by_email = _get("identity_api", "/v1/admin/people", staff, f"q={who.email.upper()}")[1]
    by_id = _get("identity_api", "/v1/admin/people", staff, f"q={student}")[1]

    for found in (by_name, by_email, by_id):
        assert [p["student_id"] for p in found["items"]] == [str(student)], found
    wildcard = _get("identity_api", "/v1/admin/people", staff, "q=%_")[1]
    assert all("%" in (p["name"] or "") + (p["email"] or "") for p in wildcard["items"])
    assert _get("identity_api", "/v1/admin/people", who, "q=trabelsi")[0] == 403


def test_a_people_search_pages_newest_first_whether_it_matches_few_or_many(
    database_url: str, principal: Any, monkeypatch: Any
) -> None:
    from reussite import backoffice

    staff = principal(Role.ASSISTANTE)
    tag = uuid.uuid4().hex[:6]
    parent = identity.resolve_user(principal(Role.PARENT, f"Parent {tag}"))
    made = [identity.resolve_user(principal(Role.ELEVE, f"Inès {tag} {n}")).id for n in range(3)]
    child = identity.create_child(parent, f"Enfant {tag}").student_id  # a profile, no login
    newest_first = [str(child), *(str(i) for i in reversed(made))]
    for fetched in (backoffice.PEOPLE_FETCHED, 0):  # read by id; walked newest first
        monkeypatch.setattr(backoffice, "PEOPLE_FETCHED", fetched)
        seen, cursor = [], ""
        while True:
            query = f"q={tag}&limit=2" + (f"&cursor={cursor}" if cursor else "")
            status, page = _get("identity_api", "/v1/admin/people", staff, query)
            assert status == 200, page
            seen += [p["id"] for p in page["items"] if p["name"] != f"Parent {tag}"]
            if not (cursor := page["next"]):
                break
        assert seen == newest_first, fetched


def test_staff_find_an_order_by_its_bank_reference_and_see_the_transfer_queue(
    database_url: str, principal: Any
) -> None:
    staff = principal(Role.ASSISTANTE)
    buyer = identity.resolve_user(principal(Role.ELEVE))
    order = checkout.checkout(buyer, "PACK_5", None, Provider.WISE, str(uuid.uuid4()))
    written = order.reference.lower().replace("-", " - ", 1)  # as a family types it

    status, found = _get("payments_api", "/v1/admin/orders", staff, f"reference={written}")
    assert status == 200 and [o["id"] for o in found["items"]] == [str(order.id)]
    assert _get("payments_api", "/v1/admin/orders", staff, f"reference={order.id}")[1]["items"]
    queue = _get(
        "payments_api", "/v1/admin/orders", staff, "provider=WISE&status=PENDING&limit=100"
    )
    assert str(order.id) in [o["id"] for o in queue[1]["items"]]
    assert all(o["status"] == "PENDING" and o["provider"] == "WISE" for o in queue[1]["items"])


def test_the_administrator_reads_the_audit_log_by_actor_subject_and_time(
    database_url: str, principal: Any
) -> None:
    admin, staff = principal(Role.ADMIN), principal(Role.ASSISTANTE)
    assistante = identity.resolve_user(staff)
    pool = f"P{uuid.uuid4().hex[:8].upper()}"
    helpers.call("exams_api", "PUT", f"/v1/admin/question-pools/{pool}", staff, {"title": "Audit"})
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat().replace("+", "%2B")

    status, log = _get(
        "identity_api", "/v1/admin/audit", admin, f"actor={assistante.id}&since={since}"
    )
    assert status == 200
    assert [(e["action"], e["subject"]) for e in log["items"]] == [
        ("question_pool.save", f"question-pool:{pool}")
    ]
    by_prefix = _get("identity_api", "/v1/admin/audit", admin, "subject=question-pool:")[1]
    assert all(e["subject"].startswith("question-pool:") for e in by_prefix["items"])
    assert _get("identity_api", "/v1/admin/audit", staff)[0] == 403  # the administrator's
