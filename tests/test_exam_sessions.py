"""Sat exams for a wine school (WSET-style): qualifications as data, scheduling, capacity under
concurrency, makeups, resits, remote invigilation, results and grades, enquiries, and the
certificate pipeline at the end of it."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reussite import db
from reussite.exam_sessions import catalogue, rules
from reussite.identity import service as identity
from reussite.identity.models import Principal, Role
from reussite.ledger import service as ledger
from reussite.ledger.models import LotKind
from reussite.settings import get_settings
from reussite_local.aws import LocalAws
from reussite_local.sqs import QueueDelivery
from tests import helpers


def api(
    method: str, path: str, who: Principal, body: Any = None, key: str | None = "auto"
) -> tuple[int, Any]:
    key = str(uuid.uuid4()) if key == "auto" else key
    return helpers.call("exam_sessions_api", method, path, who, body, key)


# The credit prices of these tests (the school accepts credits for every service here); money
# payments of exam services are tested in test_exam_services.
CREDIT_PRICES = {
    "WINE-L1": {"STANDALONE": 2, "MAKEUP": 1, "RESIT": 1, "REMOTE": 1, "ENQUIRY_THEORY": 1},
    "WINE-L2": {"STANDALONE": 3, "MAKEUP": 2, "RESIT": 2, "REMOTE": 2, "ENQUIRY_THEORY": 2},
    "WINE-L3": {
        "STANDALONE": 5,
        "MAKEUP": 3,
        "RESIT": 3,
        "REMOTE": 2,
        "ENQUIRY_THEORY": 2,
        "ENQUIRY_TASTING": 2,
        "ENQUIRY_BOTH": 3,
    },
}


@pytest.fixture(scope="module", autouse=True)
def credits_accepted(database_url: str) -> Any:
    """Staff accept credits for every exam service (at CREDIT_PRICES), then take it back."""
    yield from helpers.accept_credits(CREDIT_PRICES)


@pytest.fixture
def staff(database_url: str, principal: Any) -> Principal:
    p: Principal = principal(Role.ASSISTANTE, "Sonia Examens")
    return p


@pytest.fixture
def student(database_url: str, principal: Any) -> Any:
    """A student with `credits` credits: (principal, student id)."""

    def make(name: str = "Candidat", credits: int = 20) -> tuple[Principal, uuid.UUID]:
        who = principal(Role.ELEVE, name)
        student_id = identity.resolve_user(who).student_id
        assert student_id is not None
        assert student_id is not None
        if credits:
            wallet = ledger.wallet_of(student_id)
            ledger.grant(wallet, credits, LotKind.PURCHASE, key="wine", purpose="wine school")
        return who, student_id

    return make


def session(
    staff: Principal,
    kind: str,
    qualification: str = "WINE-L3",
    days: int = 20,
    capacity: int = 10,
    **extra: Any,
) -> dict[str, Any]:
    starts = datetime.now(UTC) + timedelta(days=days)
    body = {
        "qualification_code": qualification,
        "type": kind,
        "starts_at": starts.isoformat(),
        "registration_deadline": (starts - timedelta(days=1)).isoformat(),
        "capacity": capacity,
        "location": "Tunis, Les Berges du Lac",
    } | extra
    status, created = api("POST", "/v1/admin/exam-sessions", staff, body)
    assert status == 201, created
    return dict(created)


def course(staff: Principal, qualification: str, days: int = 10, length: int = 3) -> Any:
    status, offering = api(
        "POST",
        "/v1/admin/course-offerings",
        staff,
        {"qualification_code": qualification, "name": f"{qualification} cohort"},
    )
    assert status == 201, offering
    start = (datetime.now(UTC) + timedelta(days=days)).date()
    body = {
        "starts_on": start.isoformat(),
        "ends_on": (start + timedelta(days=length - 1)).isoformat(),
        "capacity": 12,
        "location": "Sfax",
    }
    status, scheduled = api(
        "POST", f"/v1/admin/course-offerings/{offering['id']}/sessions", staff, body
    )
    assert status == 201, scheduled
    return offering, scheduled


def enrol(staff: Principal, course_id: str, student_id: Any) -> Any:
    status, enrolled = api(
        "POST",
        f"/v1/admin/course-sessions/{course_id}/students",
        staff,
        {"student_id": str(student_id)},
    )
    assert status == 201, enrolled
    return enrolled


PAY = {"pay_with": "credits"}


def register(who: Principal, session_id: str, student_id: Any = None) -> tuple[int, Any]:
    body = PAY | ({"student_id": str(student_id)} if student_id else {})
    return api("POST", f"/v1/exam-sessions/{session_id}/registrations", who, body)


def results(staff: Principal, registration_id: str, **body: Any) -> tuple[int, Any]:
    """Staff enter a sitting's results once its session has taken place."""
    reg = db.read_one("SELECT session_id FROM exam_registrations WHERE id = %s", (registration_id,))
    if reg is not None:
        helpers.session_took_place(reg["session_id"])
    return api("POST", f"/v1/admin/registrations/{registration_id}/results", staff, body)


def asking(kind: str) -> dict[str, str]:
    return {"type": kind, "reason": "La note ne reflète pas ma copie", "pay_with": "credits"}


def balance(student_id: uuid.UUID) -> int:
    row = db.read_one("SELECT balance FROM wallets WHERE student_id = %s", (student_id,))
    assert row is not None
    return int(row["balance"])


@pytest.fixture
def deliver_certificates(local_aws: LocalAws) -> Any:
    issuer = helpers.FUNCTIONS["certificate_issue"]
    delivery = QueueDelivery(
        local_aws, issuer, issuer.queues[0], get_settings().require("certificate_queue_url")
    )

    return helpers.Deliveries(delivery)


# -- qualifications, templates, sessions -------------------------------------------------------


def test_qualifications_are_data(staff: Principal) -> None:
    status, page = api("GET", "/v1/qualifications", staff, key=None)
    found = page["items"]

    assert status == 200
    by_code = {q["code"]: q for q in found}
    l3 = by_code["WINE-L3"]
    assert [(c["code"], c["pass_mark"]) for c in l3["components"]] == [
        ("THEORY", 55),
        ("TASTING", 55),
    ]
    assert l3["carry_forward"] and l3["resit_grade_cap"] == "PASS" and l3["enquiry_weeks"] == 12
    assert by_code["WINE-L1"]["exam_day"] == "SAME_DAY" and by_code["WINE-L2"]["enquiry_weeks"] == 6
    assert (l3["merit_mark"], l3["distinction_mark"], l3["remote_window_days"]) == (65, 80, 365)
    l1 = by_code["WINE-L1"]
    assert [(c["pass_mark"], c["duration_minutes"]) for c in l1["components"]] == [(55, 45)]
    assert [c["duration_minutes"] for c in l3["components"]] == [120, 90]
    assert by_code["WINE-L2"]["components"][0]["duration_minutes"] == 60


@pytest.mark.parametrize(
    ("qualification", "length", "exam_day_offset", "components"),
    [
        ("WINE-L1", 1, 0, ["COMBINED"]),
        ("WINE-L2", 3, 2, ["COMBINED"]),
        ("WINE-L3", 5, 4, ["THEORY", "TASTING"]),
    ],
)
def test_courses_create_their_bundled_exam_sessions(
    staff: Principal, qualification: str, length: int, exam_day_offset: int, components: list[str]
) -> None:
    offering, scheduled = course(staff, qualification, days=15, length=length)

    assert [t["components"] for t in offering["templates"]] == [components]
    (bundled,) = scheduled["exam_sessions"]
    start = datetime.fromisoformat(scheduled["starts_on"])
    exam_day = datetime.fromisoformat(bundled["starts_at"]).date()
    assert exam_day == (start + timedelta(days=exam_day_offset)).date()
    assert bundled["type"] == "BUNDLED" and bundled["components"] == components
    assert bundled["capacity"] == 12 and bundled["registered"] == 0


def test_a_repeated_staff_write_creates_nothing_twice(staff: Principal) -> None:
    body = {"qualification_code": "WINE-L2", "name": "Double clic"}
    key = str(uuid.uuid4())

    first = api("POST", "/v1/admin/course-offerings", staff, body, key)
    again = api("POST", "/v1/admin/course-offerings", staff, body, key)

    assert first[0] == 201 and again == first


def test_a_staff_write_retried_at_once_creates_one_offering_and_replays_it(
    staff: Principal,
) -> None:
    name = f"Clics {uuid.uuid4().hex[:6]}"
    body = {"qualification_code": "WINE-L1", "name": name}
    key = str(uuid.uuid4())

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(
            pool.map(
                lambda _: api("POST", "/v1/admin/course-offerings", staff, body, key), range(8)
            )
        )

    assert {status for status, _ in answers} == {201}
    assert len({created["id"] for _, created in answers}) == 1
    row = db.read_one("SELECT count(*) AS n FROM course_offerings WHERE name = %s", (name,))
    assert row == {"n": 1}


def test_no_session_is_ever_overbooked(staff: Principal, student: Any) -> None:
    sitting = session(staff, "STANDALONE", "WINE-L2", capacity=5)
    candidates = [student(f"Candidat {i}") for i in range(20)]

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda c: register(c[0], sitting["id"]), candidates))

    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] * 5 + [409] * 15
    assert {body["code"] for status, body in answers if status == 409} == {"SESSION_FULL"}
    row = db.read_one(
        """SELECT s.registered, count(r.id) AS n FROM exam_sessions s
             LEFT JOIN exam_registrations r ON r.session_id = s.id
            WHERE s.id = %s GROUP BY s.registered""",
        (sitting["id"],),
    )
    assert row == {"registered": 5, "n": 5}


def test_fees_go_through_the_ledger_and_no_credit_means_no_seat(
    staff: Principal, student: Any
) -> None:
    sitting = session(staff, "STANDALONE", "WINE-L3", capacity=3)
    rich, rich_id = student("Avec crédits", credits=10)
    poor, _ = student("Sans crédits", credits=0)

    status, registration = register(rich, sitting["id"])
    poor_status, problem = register(poor, sitting["id"])

    assert status == 201 and registration["fee_credits"] == 5
    assert balance(rich_id) == 10 - 5
    assert (poor_status, problem["code"]) == (402, "INSUFFICIENT_CREDITS")
    assert db.read_one("SELECT registered FROM exam_sessions WHERE id = %s", (sitting["id"],)) == {
        "registered": 1
    }
    assert register(rich, sitting["id"])[1]["code"] == "ALREADY_REGISTERED"


def test_registration_closes_at_the_deadline(staff: Principal, student: Any) -> None:
    sitting = session(staff, "STANDALONE", "WINE-L1")
    db.connection().execute(
        """UPDATE exam_sessions SET registration_deadline = now() - interval '1 minute'
            WHERE id = %s""",
        (sitting["id"],),
    )
    who, _ = student()

    status, problem = register(who, sitting["id"])

    assert (status, problem["code"]) == (409, "REGISTRATION_CLOSED")


# -- makeup, resit, remote invigilation --------------------------------------------------------


def test_a_missed_bundled_exam_goes_to_the_next_makeup_session_with_a_seat(
    staff: Principal, student: Any
) -> None:
    _, scheduled = course(staff, "WINE-L2", days=2)
    bundled = scheduled["exam_sessions"][0]
    (absent, absent_id), (other, other_id), (present, present_id) = (
        student("Absent"),
        student("Autre"),
        student(),
    )
    for student_id in (absent_id, other_id, present_id):
        enrol(staff, scheduled["id"], student_id)
    regs = {
        name: register(who, bundled["id"])[1]
        for name, who in (("absent", absent), ("other", other), ("present", present))
    }
    for name in ("absent", "other"):
        assert results(staff, regs[name]["id"], absent=True)[0] == 200
    assert results(staff, regs["present"]["id"], scores={"COMBINED": 60})[0] == 200
    sooner = session(staff, "MAKEUP", "WINE-L2", days=10, capacity=1)
    later = session(staff, "MAKEUP", "WINE-L2", days=30, capacity=5)
    assert api("POST", "/v1/qualifications/WINE-L2/makeup", other, PAY)[0] == 201  # takes the seat

    status, makeup = api("POST", "/v1/qualifications/WINE-L2/makeup", absent, PAY)

    assert status == 201 and makeup["session_id"] == later["id"] != sooner["id"]
    assert makeup["components"] == ["COMBINED"] and makeup["fee_credits"] == 2
    assert balance(absent_id) == 20 - 2
    refused = api("POST", "/v1/qualifications/WINE-L2/makeup", present, PAY)
    assert refused[1]["code"] == "REGISTRATION_NOT_ALLOWED"  # sat it: no makeup


def test_resit_covers_only_failed_components_then_a_pass_issues_a_capped_certificate(
    staff: Principal, student: Any, deliver_certificates: Any
) -> None:
    who, student_id = student("Hédi Ben Amor")
    _, scheduled = course(staff, "WINE-L3", days=1, length=5)
    enrol(staff, scheduled["id"], student_id)
    first = register(who, scheduled["exam_sessions"][0]["id"])[1]

    status, sat = results(staff, first["id"], scores={"THEORY": 74, "TASTING": 50})

    outcome = sat["outcome"]
    assert status == 200 and outcome["grade"] == "FAIL" and not outcome["passed"]
    assert (
        outcome["components"]["THEORY"]["passed"] and not outcome["components"]["TASTING"]["passed"]
    )
    resit = session(staff, "RESIT", "WINE-L3", days=40)
    status, again = register(who, resit["id"])
    assert status == 201 and again["components"] == ["TASTING"] and again["fee_credits"] == 3

    status, passed = results(staff, again["id"], scores={"TASTING": 92})
    assert status == 200
    final = passed["outcome"]
    assert final["passed"] and final["percent"] == 83  # (74 carried + 92) / 2
    assert final["components"]["THEORY"] == {"score": 74, "passed": True, "carried": True}
    assert final["grade"] == "PASS"  # a distinction's percentage, capped at a resit

    deliver_certificates()

    (mine,) = [
        r for r in api("GET", "/v1/me/exams", who, key=None)[1]["items"] if r["id"] == again["id"]
    ]
    assert mine["grade"] == "PASS" and mine["certificate"]
    _, verified = helpers.call("certificates_api", "GET", f"/v1/certificates/{mine['certificate']}")
    assert verified["status"] == "valid" and verified["holder_name"] == "Hédi Ben Amor"
    assert verified["level"] == "Pass" and "Level 3" in verified["qualification"]
    assert register(who, session(staff, "RESIT", "WINE-L3")["id"])[1]["code"] == (
        "REGISTRATION_NOT_ALLOWED"  # passed: no more sittings
    )


def test_remote_invigilation_needs_online_enrolment_the_window_and_the_lead_time(
    staff: Principal, student: Any
) -> None:
    who, student_id = student("En ligne")
    too_soon = session(staff, "REMOTE", "WINE-L2", days=3)
    in_time = session(staff, "REMOTE", "WINE-L2", days=20)

    assert register(who, in_time["id"])[1]["code"] == "REGISTRATION_NOT_ALLOWED"  # not online
    enrol = {"student_id": str(student_id), "qualification_code": "WINE-L2"}
    assert api("POST", "/v1/admin/enrolments", staff, enrol)[0] == 201
    status, problem = register(who, too_soon["id"])
    assert status == 409 and "7 days ahead" in problem["detail"]
    db.connection().execute(
        """UPDATE enrolments SET enrolled_at = now() - interval '400 days'
            WHERE student_id = %s""",
        (student_id,),
    )
    status, problem = register(who, in_time["id"])
    assert status == 409 and "within 365 days" in problem["detail"]
    db.connection().execute(
        "UPDATE enrolments SET enrolled_at = now() WHERE student_id = %s", (student_id,)
    )
    status, remote = register(who, in_time["id"])
    assert status == 201 and remote["fee_credits"] == 2 and balance(student_id) == 18


# -- grading rules -----------------------------------------------------------------------------


def test_grade_bands_and_component_pass_marks(database_url: str) -> None:
    l2, l3 = catalogue.qualification("WINE-L2"), catalogue.qualification("WINE-L3")

    assert rules.grade(l2, {"COMBINED": 54}, {}, resit=False).grade == "FAIL"
    assert rules.grade(l2, {"COMBINED": 55}, {}, resit=False).grade == "PASS"
    assert rules.grade(l2, {"COMBINED": 72}, {}, resit=False).grade == "MERIT"
    assert rules.grade(l2, {"COMBINED": 85}, {}, resit=False).grade == "DISTINCTION"
    assert rules.grade(l2, {"COMBINED": 90}, {}, resit=True).grade == "DISTINCTION"  # no cap
    both = rules.grade(l3, {"THEORY": 95, "TASTING": 54}, {}, resit=False)
    assert not both.passed and both.grade == "FAIL" and both.percent == 75  # every part passes
    assert rules.grade(l3, {"THEORY": 70, "TASTING": 66}, {}, resit=False).grade == "MERIT"
    assert rules.still_to_pass(l3, both.components) == ["TASTING"]
    assert rules.still_to_pass(l2, {"COMBINED": {"passed": False}}) == ["COMBINED"]
    with pytest.raises(ValueError):  # no carry-forward without an earlier pass
        rules.grade(l3, {"TASTING": 80}, {}, resit=True)


def test_results_are_entered_once_per_sitting_and_audited(staff: Principal, student: Any) -> None:
    who, _ = student()
    sitting = session(staff, "STANDALONE", "WINE-L3")
    reg = register(who, sitting["id"])[1]
    sitting_two = register(student()[0], sitting["id"])[1]
    early = api("POST", f"/v1/admin/registrations/{reg['id']}/results", staff, {"absent": True})
    assert (early[0], early[1]["code"]) == (409, "SESSION_NOT_HELD")  # the exam is in 20 days
    db.connection().execute(  # the papers began half an hour ago: theory 2 h, then tasting 1 h 30
        """UPDATE exam_sessions SET starts_at = now() - interval '30 minutes',
                  registration_deadline = now() - interval '1 day' WHERE id = %s""",
        (sitting["id"],),
    )
    during = api("POST", f"/v1/admin/registrations/{reg['id']}/results", staff, {"absent": True})
    assert (during[0], during[1]["code"]) == (409, "SESSION_NOT_HELD")

    bad = results(staff, reg["id"], scores={"THEORY": 60})
    good = results(staff, reg["id"], scores={"THEORY": 60, "TASTING": 61})
    again = results(staff, reg["id"], scores={"THEORY": 99, "TASTING": 99})

    assert bad[0] == 422 and bad[1]["code"] == "INVALID_SCORES"
    assert good[0] == 200 and good[1]["outcome"]["grade"] == "PASS"
    assert again[1]["code"] == "RESULTS_ALREADY_ENTERED"
    key = str(uuid.uuid4())
    path = f"/v1/admin/registrations/{sitting_two['id']}/results"
    body = {"scores": {"THEORY": 70, "TASTING": 70}}
    first = api("POST", path, staff, body, key)
    assert first[0] == 200 and api("POST", path, staff, body, key) == first  # a double click
    actions = [
        r["action"]
        for r in db.connection()
        .execute(
            "SELECT action FROM audit_log WHERE subject = %s ORDER BY id",
            (f"registration:{reg['id']}",),
        )
        .fetchall()
    ]
    assert actions == ["registration.create", "results.enter", "outcome.grade"]


# -- enquiries ---------------------------------------------------------------------------------


def test_an_upheld_enquiry_refunds_regrades_revokes_and_reissues(
    staff: Principal, student: Any, deliver_certificates: Any
) -> None:
    who, student_id = student("Inès Gharbi")
    sitting = session(staff, "STANDALONE", "WINE-L2")
    reg = register(who, sitting["id"])[1]
    results(staff, reg["id"], scores={"COMBINED": 60})
    deliver_certificates()
    old_code = api("GET", "/v1/me/exams", who, key=None)[1]["items"][0]["certificate"]
    before = balance(student_id)

    status, enquiry = api("POST", f"/v1/registrations/{reg['id']}/enquiries", who, asking("THEORY"))
    assert status == 201 and enquiry["status"] == "SUBMITTED" and balance(student_id) == before - 2
    assert enquiry["reason"] == "La note ne reflète pas ma copie" and enquiry["outcome"] is None
    early = api(
        "POST",
        f"/v1/admin/enquiries/{enquiry['id']}/decision",
        staff,
        {"decision": "UPHELD", "scores": {"COMBINED": 88}},
    )
    assert early[1]["code"] == "ENQUIRY_STATE"  # reviewed first
    assert api("POST", f"/v1/admin/enquiries/{enquiry['id']}/review", staff)[0] == 200

    status, decided = api(
        "POST",
        f"/v1/admin/enquiries/{enquiry['id']}/decision",
        staff,
        {"decision": "UPHELD", "scores": {"COMBINED": 88}, "note": "Question 12 mis-keyed"},
    )

    assert status == 200 and (decided["status"], decided["outcome"]) == ("COMPLETED", "UPHELD")
    assert decided["regrade"]["grade"] == "DISTINCTION"
    assert decided["regrade"]["enquiry_id"] == enquiry["id"]  # the regrade names its enquiry
    assert decided["score_changes"] == {"COMBINED": 28} and decided["result_changed"]
    assert decided["fee_refunded"] and decided["type"] == "THEORY"
    assert balance(student_id) == before  # the fee came back
    _, old = helpers.call("certificates_api", "GET", f"/v1/certificates/{old_code}")
    assert old["status"] == "revoked"
    deliver_certificates()
    new_code = api("GET", "/v1/me/exams", who, key=None)[1]["items"][0]["certificate"]
    _, new = helpers.call("certificates_api", "GET", f"/v1/certificates/{new_code}")
    assert new_code != old_code and new["status"] == "valid" and new["level"] == "Distinction"
    history = api("GET", "/v1/me/exam-registrations", who, key=None)[1]["items"][0]
    assert (history["certificate_code"], history["enquiry_id"]) == (new_code, enquiry["id"])
    # a verifier reading the status lists sees the same: the old revoked, the reissue good
    rows = db.connection().execute(
        "SELECT code, credential FROM certificates WHERE code = ANY(%s)", ([old_code, new_code],)
    )
    credentials = {r["code"]: r["credential"] for r in rows.fetchall()}
    assert len(credentials) == 2
    old_jws, new_jws = credentials[old_code], credentials[new_code]
    assert helpers.revoked_per_status_list(old_jws)
    assert not helpers.revoked_per_status_list(new_jws)


def test_rejected_enquiries_keep_the_fee_and_windows_close(staff: Principal, student: Any) -> None:
    who, student_id = student()
    sitting = session(staff, "STANDALONE", "WINE-L3")
    reg = register(who, sitting["id"])[1]
    results(staff, reg["id"], scores={"THEORY": 50, "TASTING": 70})
    before = balance(student_id)
    path = f"/v1/registrations/{reg['id']}/enquiries"

    _, enquiry = api("POST", path, who, asking("BOTH"))
    second = api("POST", path, who, asking("THEORY"))
    api("POST", f"/v1/admin/enquiries/{enquiry['id']}/review", staff)
    _, decided = api(
        "POST", f"/v1/admin/enquiries/{enquiry['id']}/decision", staff, {"decision": "REJECTED"}
    )

    assert enquiry["fee_credits"] == 3  # both components: the "all" fee
    assert second[1]["code"] == "ENQUIRY_NOT_ALLOWED"  # one open enquiry at a time
    assert (decided["status"], decided["outcome"]) == ("REJECTED", "REJECTED")
    assert balance(student_id) == before - 3 and not decided["fee_refunded"]
    assert decided["score_changes"] == {} and not decided["result_changed"]
    db.connection().execute(
        """UPDATE qualification_outcomes SET created_at = now() - interval '13 weeks'
            WHERE registration_id = %s""",
        (reg["id"],),
    )
    late = api("POST", path, who, asking("THEORY"))
    assert late[0] == 409 and "12 weeks" in late[1]["detail"]


def test_roles_and_families(staff: Principal, student: Any, principal: Any) -> None:
    who, student_id = student()
    sitting = session(staff, "STANDALONE", "WINE-L1")
    parent = principal(Role.PARENT)

    assert (
        api(
            "POST",
            "/v1/admin/exam-sessions",
            who,
            {
                "qualification_code": "WINE-L1",
                "type": "MAKEUP",
                "starts_at": "2030-01-01T10:00:00Z",
                "registration_deadline": "2030-01-01T09:00:00Z",
                "capacity": 3,
            },
        )[0]
        == 403
    )
    status, problem = register(parent, sitting["id"], student_id)  # not their child
    assert (status, problem["code"]) == (404, "STUDENT_NOT_FOUND")
    reg = register(who, sitting["id"])[1]
    assert results(who, reg["id"], scores={"COMBINED": 99})[0] == 403
    stranger = principal(Role.ELEVE)
    enquiry = api("POST", f"/v1/registrations/{reg['id']}/enquiries", stranger, asking("THEORY"))
    assert enquiry[0] == 404


def test_a_partial_enquiry_regrades_and_keeps_the_fee(staff: Principal, student: Any) -> None:
    who, student_id = student()
    sitting = session(staff, "STANDALONE", "WINE-L3")
    reg = register(who, sitting["id"])[1]
    results(staff, reg["id"], scores={"THEORY": 52, "TASTING": 70})
    path = f"/v1/registrations/{reg['id']}/enquiries"
    _, enquiry = api("POST", path, who, asking("BOTH"))
    after_fee = balance(student_id)
    api("POST", f"/v1/admin/enquiries/{enquiry['id']}/review", staff)

    _, decided = api(
        "POST",
        f"/v1/admin/enquiries/{enquiry['id']}/decision",
        staff,
        {"decision": "PARTIAL", "scores": {"THEORY": 56}},
    )

    assert (decided["status"], decided["outcome"]) == ("COMPLETED", "PARTIAL")
    assert decided["regrade"]["grade"] == "PASS" and decided["result_changed"]  # was a FAIL
    assert decided["regrade"]["components"]["TASTING"]["score"] == 70  # untouched
    assert decided["score_changes"] == {"THEORY": 4} and not decided["fee_refunded"]
    assert balance(student_id) == after_fee  # no refund


def test_a_key_reused_for_another_enquiry_or_registration_is_refused(
    staff: Principal, student: Any
) -> None:
    who, _ = student()
    first_sitting, second_sitting = session(staff, "STANDALONE"), session(staff, "STANDALONE")
    regs = [register(who, s["id"])[1] for s in (first_sitting, second_sitting)]
    for reg in regs:
        results(staff, reg["id"], scores={"THEORY": 52, "TASTING": 70})
    key = str(uuid.uuid4())

    status, enquiry = api(
        "POST", f"/v1/registrations/{regs[0]['id']}/enquiries", who, asking("THEORY"), key
    )
    other_sitting = api(
        "POST",
        f"/v1/registrations/{regs[1]['id']}/enquiries",
        who,
        asking("TASTING"),
        key,
    )
    other_parts = api(
        "POST",
        f"/v1/registrations/{regs[0]['id']}/enquiries",
        who,
        asking("TASTING"),
        key,
    )
    replay = api("POST", f"/v1/registrations/{regs[0]['id']}/enquiries", who, asking("THEORY"), key)

    assert status == 201 and replay == (201, enquiry)
    for answer in (other_sitting, other_parts):
        assert (answer[0], answer[1]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    makeup_key = str(uuid.uuid4())
    path = f"/v1/exam-sessions/{session(staff, 'STANDALONE')['id']}/registrations"
    assert api("POST", path, who, PAY, makeup_key)[0] == 201
    status, problem = api("POST", "/v1/qualifications/WINE-L3/makeup", who, PAY, makeup_key)
    assert (status, problem.get("code")) == (422, "IDEMPOTENCY_KEY_REUSED")


def test_concurrent_registrations_of_one_student_answer_one_201_and_409s_never_a_500(
    staff: Principal, student: Any
) -> None:
    who, _ = student()
    sitting = session(staff, "STANDALONE", capacity=20)
    same_key = str(uuid.uuid4())
    path = f"/v1/exam-sessions/{sitting['id']}/registrations"

    with ThreadPoolExecutor(max_workers=8) as pool:
        distinct = list(pool.map(lambda _: api("POST", path, who, PAY), range(8)))
    other = session(staff, "STANDALONE", capacity=20)
    other_path = f"/v1/exam-sessions/{other['id']}/registrations"
    with ThreadPoolExecutor(max_workers=8) as pool:
        retried = list(pool.map(lambda _: api("POST", other_path, who, PAY, same_key), range(8)))

    assert sorted(status for status, _ in distinct) == [201] + [409] * 7
    assert {body["code"] for status, body in distinct if status == 409} == {"ALREADY_REGISTERED"}
    assert {status for status, _ in retried} == {201}  # one key retried: the first answer
    assert len({body["id"] for _, body in retried}) == 1
    seats = db.read_one("SELECT registered FROM exam_sessions WHERE id = %s", (sitting["id"],))
    assert seats == {"registered": 1}


def test_concurrent_enquiries_on_one_sitting_answer_one_201_and_409s_never_a_500(
    staff: Principal, student: Any
) -> None:
    who, student_id = student()
    reg = register(who, session(staff, "STANDALONE")["id"])[1]
    results(staff, reg["id"], scores={"THEORY": 52, "TASTING": 70})
    before = balance(student_id)
    path = f"/v1/registrations/{reg['id']}/enquiries"

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(lambda _: api("POST", path, who, asking("THEORY")), range(12)))

    assert sorted(status for status, _ in answers) == [201] + [409] * 11
    fee = before - balance(student_id)
    assert fee > 0 and fee == next(b for s, b in answers if s == 201)["fee_credits"]  # one fee
