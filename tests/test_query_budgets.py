"""What each request path costs the database: a statement budget per operation that does not
grow with what the caller owns, and no statement on a large table that only a full scan can
answer (its plan is read with sequential scans priced out, so an index that cannot serve the
query shows as a Seq Scan)."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg import sql

from reussite import db
from reussite.identity import service as identity
from reussite.identity.models import Principal, Role
from reussite.ledger import service as ledger
from reussite.ledger.models import LotKind
from reussite.settings import get_settings
from reussite_local.aws import LocalAws
from reussite_local.sqs import QueueDelivery
from tests import helpers

# Tables that grow with the school (a full scan of one is a cost that grows with the years).
LARGE = {
    "ledger_entries",
    "credit_lots",
    "entry_allocations",
    "wallets",
    "students",
    "users",
    "exam_attempts",
    "certificates",
    "outbox_emails",
    "parent_students",
    "tutoring_bookings",
    "exam_registrations",
    "orders",
    "tutoring_sessions",
    "progress_entries",
}


PLANNED = ("SELECT", "WITH", "UPDATE", "DELETE", "INSERT")


def _scans(plan: dict[str, Any]) -> list[str]:
    found = []
    if plan.get("Node Type") == "Seq Scan":
        found.append(plan["Relation Name"])
    for child in plan.get("Plans", []):
        found.extend(_scans(child))
    return found


def full_scans(kept: list[tuple[Any, Any]]) -> list[tuple[str, str]]:
    """(table, statement) of each kept statement whose plan scans a large table in full."""
    conn = db.connection()
    found: list[tuple[str, str]] = []
    with conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off")
        for query, params in kept:
            text = query.as_string(conn) if isinstance(query, sql.Composable) else str(query)
            if not text.lstrip().upper().startswith(PLANNED):
                continue
            row = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) ") + sql.SQL(text), params).fetchone()
            assert row is not None
            plan = row["QUERY PLAN"][0]["Plan"]
            found.extend((t, " ".join(text.split())[:160]) for t in _scans(plan) if t in LARGE)
    return found


def counted(
    function: str, method: str, path: str, who: Principal, body: Any = None, key: str | None = None
) -> tuple[int, Any, db.Statements]:
    with db.counting(keep=True) as statements:
        status, answer = helpers.call(function, method, path, who, body, key)
    return status, answer, statements


def no_full_scans(statements: db.Statements) -> None:
    scans = full_scans(statements.kept or [])
    assert scans == [], scans


def test_a_familys_credits_cost_the_same_for_one_child_or_five(
    principal: Any, database_url: str
) -> None:
    parent = principal(Role.PARENT)
    user = identity.resolve_user(parent)

    def child(n: int) -> None:
        student = identity.create_child(user, f"Enfant {n}").student_id
        ledger.grant(ledger.wallet_of(student), 3, LotKind.PURCHASE, key=f"p{n}", purpose="pack")
        ledger.spend(ledger.wallet_of(student), 1, key=f"s{n}", purpose="exam")

    child(0)
    status, _, one = counted("credits_api", "GET", "/v1/me/credits", parent)
    for n in range(1, 5):
        child(n)
    status, five_children, five = counted("credits_api", "GET", "/v1/me/credits", parent)

    assert status == 200 and len(five_children["wallets"]) == 5
    assert [w["balance"] for w in five_children["wallets"]] == [2] * 5
    assert all(len(w["entries"]) == 2 for w in five_children["wallets"])
    assert one.count == five.count <= 4  # who, their children, the lots, the entries
    no_full_scans(five)


def _start_and_submit(who: Principal, key: str) -> tuple[db.Statements, db.Statements]:
    status, attempt, start = counted(
        "exam_start", "POST", "/v1/exams/MATHS-PROP/attempts", who, {}, key=key
    )
    assert status == 201, attempt
    row = db.read_one("SELECT questions FROM exam_attempts WHERE id = %s", (attempt["id"],))
    assert row is not None
    answers = {q["id"]: q["answer"] for q in row["questions"]}
    body = {"attempt_token": attempt["attempt_token"], "answers": answers}
    status, result, submit = counted(
        "exam_submit", "POST", f"/v1/attempts/{attempt['id']}/submit", who, body
    )
    assert status == 200 and result["passed"]
    return start, submit


def test_an_exam_start_and_submit_stay_within_their_budgets(
    principal: Any, database_url: str
) -> None:
    who = principal(Role.ELEVE)
    student = identity.resolve_user(who).student_id
    assert student is not None
    ledger.grant(ledger.wallet_of(student), 4, LotKind.PURCHASE, key="pack", purpose="pack")
    _start_and_submit(who, "warm")  # a warm container: the exam's definitions are cached

    start, submit = _start_and_submit(who, "measured")

    # start: who, the attempt's lock and debit, the attempt, its event; submit: who, the
    # attempt, the grade, its event and the certificate request (the definition cached)
    assert start.count <= 9, start.kept
    assert submit.count <= 7, submit.kept
    assert not any("exam_versions" in str(q) for q, _ in submit.kept or [])
    no_full_scans(start)
    no_full_scans(submit)


def test_a_refund_finds_its_spend_by_index(principal: Any, database_url: str) -> None:
    who = principal(Role.ELEVE)
    student = identity.resolve_user(who).student_id
    assert student is not None
    wallet = ledger.wallet_of(student)
    ledger.grant(wallet, 4, LotKind.PURCHASE, key="pack", purpose="pack")
    ledger.spend(wallet, 2, key="session-1", purpose="tutoring")

    with db.counting(keep=True) as refund:
        back = ledger.refund(wallet, "session-1", "cancelled")
    with db.counting(keep=True) as replay:
        again = ledger.refund(wallet, "session-1", "cancelled")

    assert back.credits == 2 and again.replayed and again.entry_id == back.entry_id
    assert refund.count <= 6 and replay.count <= 3  # lock, spend, lots, entry; or the first
    no_full_scans(refund)  # the refund-once lookup uses its partial index
    no_full_scans(replay)


def test_a_holders_certificates_cost_the_same_for_one_or_three(
    principal: Any, database_url: str, local_aws: LocalAws
) -> None:
    who = principal(Role.ELEVE)
    student = identity.resolve_user(who).student_id
    assert student is not None
    ledger.grant(ledger.wallet_of(student), 3, LotKind.PURCHASE, key="pack", purpose="pack")
    deliver = _certificate_delivery(local_aws)
    _start_and_submit(who, "one")
    deliver()
    _, one_page, one = counted("certificates_api", "GET", "/v1/me/certificates", who)
    for key in ("two", "three"):
        _start_and_submit(who, key)
    deliver()
    _, three_page, three = counted("certificates_api", "GET", "/v1/me/certificates", who)

    assert (len(one_page["items"]), len(three_page["items"])) == (1, 3)
    assert one.count == three.count <= 3
    no_full_scans(three)


def _certificate_delivery(aws: LocalAws) -> Any:
    issuer = helpers.FUNCTIONS["certificate_issue"]
    return helpers.Deliveries(
        QueueDelivery(
            aws, issuer, issuer.queues[0], get_settings().require("certificate_queue_url")
        )
    )


def test_staff_find_people_and_read_exam_statistics_by_index(
    principal: Any, database_url: str, monkeypatch: Any
) -> None:
    """The people search (by words of a name, an email's beginning, an id; a few matches read
    by id, many by walking creation time) and the quiz statistics read indexes, not everyone
    or every attempt."""
    from reussite import backoffice

    staff = principal(Role.ADMIN)
    who = principal(Role.ELEVE, f"Yasmine Trabelsi {uuid.uuid4().hex[:6]}")
    student = identity.resolve_user(who).student_id
    for fetched in (backoffice.PEOPLE_FETCHED, 0):  # 0: every search counts as matching many
        monkeypatch.setattr(backoffice, "PEOPLE_FETCHED", fetched)
        for query in (f"q=trab+yas+{who.name.split()[-1]}", f"q={who.email}", f"q={student}"):
            with db.counting(keep=True) as search:
                status, found = helpers.call(
                    "identity_api", "GET", "/v1/admin/people", staff, query=query
                )
            assert status == 200, found
            assert [p["student_id"] for p in found["items"]] == [str(student)]
            no_full_scans(search)
    for path in ("/v1/admin/exams/FR-A1/statistics", "/v1/admin/exam-statistics/levels"):
        with db.counting(keep=True) as read:
            assert helpers.call("exams_api", "GET", path, staff)[0] == 200
        no_full_scans(read)


def test_a_students_file_costs_the_same_for_one_session_or_five_and_reads_by_index(
    principal: Any, database_url: str
) -> None:
    """The coach's view of a student (seed 001, scenario 5) and its progress history: a fixed
    number of statements, each by index, however long the student's history."""
    from datetime import datetime, time, timedelta
    from zoneinfo import ZoneInfo

    from reussite.tutoring import service as tutoring
    from reussite.tutoring import workspace

    staff = identity.resolve_user(principal(Role.ASSISTANTE))
    sub = f"coach-{uuid.uuid4()}"
    week = [{"weekday": d, "starts": time(8), "ends": time(20)} for d in range(1, 8)]
    coach = workspace.create_coach(staff, sub, f"{sub}@example.test", "Hélios", ["maths"], week)
    coach_login = Principal(sub=sub, email=f"{sub}@example.test", name="C", role=Role.COACH)
    parent = principal(Role.PARENT)
    child = identity.create_child(identity.resolve_user(parent), "Ines").student_id
    ledger.grant(ledger.wallet_of(child), 10, LotKind.PURCHASE, key="pack", purpose="pack")
    zone = ZoneInfo("Africa/Tunis")

    def book(days: int) -> None:
        day = datetime.now(zone).date() + timedelta(days=days)
        starts = datetime(day.year, day.month, day.day, 10, tzinfo=zone)
        user = identity.resolve_user(parent)
        tutoring.book(user, coach.id, "COURS_EN_LIGNE", "maths", starts, child, str(uuid.uuid4()))

    book(2)
    path = f"/v1/students/{child}/file"
    helpers.call("tutoring_api", "GET", "/v1/coach/agenda", coach_login)  # signed in once
    status, _, one = counted("tutoring_api", "GET", path, coach_login)
    for days in range(3, 7):
        book(days)
    status, file, five = counted("tutoring_api", "GET", path, coach_login)
    read, _, progress = counted("tutoring_api", "GET", f"/v1/students/{child}/progress", parent)

    assert status == read == 200 and len(file["sessions"]) == 5
    assert one.count == five.count <= 8  # who, the relation, the student, sessions, subjects,
    # the coach's subjects, exam results, progress (the report summary only when shared)
    no_full_scans(five)
    no_full_scans(progress)


def test_the_exam_back_office_views_read_by_index(principal: Any, database_url: str) -> None:
    """The calendar, the two queues and a candidate's exam history (seed 003's dashboard)."""
    staff = principal(Role.ASSISTANTE)
    learner = principal(Role.ELEVE)
    student = identity.resolve_user(learner).student_id
    paths = (
        "/v1/admin/exam-sessions",
        "/v1/admin/exam-queues/remote-invigilation",
        "/v1/admin/exam-queues/makeups-resits",
        f"/v1/students/{student}/exam-history",
    )
    for path in paths:
        with db.counting(keep=True) as read:
            status, page = helpers.call("exam_sessions_api", "GET", path, staff)
        assert status == 200, page
        no_full_scans(read)
