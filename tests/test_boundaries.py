"""Hostile and careless callers over HTTP, against real PostgreSQL: inputs that used to raise
answer 4xx, unbounded input is refused, names carry no control or bidi-override characters,
seats and closed attempts follow the rules, and the role never comes from an editable claim."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from reussite import db
from reussite.exams import generators
from reussite.identity import service as identity
from reussite.identity.models import Principal, Role
from reussite.ledger import service as ledger
from reussite.ledger.models import LotKind
from reussite_local import functions
from reussite_local.events import http_api_event
from reussite_local.tokens import principal_claims
from tests import helpers
from tests.helpers import call


@pytest.fixture
def learner(database_url: str, principal: Any) -> Any:
    """A student with `credits` credits (and a plan when given): (principal, student id)."""

    def make(credits: int = 10, plan: str | None = None, name: str = "Élève") -> Any:
        who = principal(Role.ELEVE, name)
        student_id = identity.resolve_user(who).student_id
        assert student_id is not None
        if credits:
            ledger.grant(
                ledger.wallet_of(student_id), credits, LotKind.PURCHASE, key="p", purpose="pack"
            )
        if plan:
            helpers.pay_plan(identity.resolve_user(who), student_id, plan)
        return who, student_id

    return make


def start(who: Principal, code: str) -> tuple[int, Any]:
    return call("exam_start", "POST", f"/v1/exams/{code}/attempts", who, {}, str(uuid.uuid4()))


def submit(who: Principal, attempt: dict[str, Any], answers: Any) -> tuple[int, Any]:
    body = {"attempt_token": attempt["attempt_token"], "answers": answers}
    return call("exam_submit", "POST", f"/v1/attempts/{attempt['id']}/submit", who, body)


def questions(attempt_id: str) -> list[dict[str, Any]]:
    row = db.read_one("SELECT questions FROM exam_attempts WHERE id = %s", (attempt_id,))
    assert row is not None
    return list(row["questions"])


# -- 3. inputs that used to raise ----------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    ["²/3", "3/²", "1" * 5000 + "/3", "3/" + "9" * 5000, "-/3", "3/0", "٣/٤", "¾"],
)
def test_a_fraction_no_one_is_asked_for_is_just_wrong(written: str) -> None:
    question = {"type": "fraction", "answer": "3/4"}

    assert generators.normalise(question, written) is None


def test_odd_exam_answers_are_graded_not_a_500(learner: Any) -> None:
    who, _ = learner(10, plan="ACCES_PLATEFORME")
    status, attempt = start(who, "MATHS-CM2")
    assert status == 201, attempt
    asked = questions(attempt["id"])
    fractions = [q["id"] for q in asked if q["type"] == "fraction"]
    numbers = [q["id"] for q in asked if q["type"] != "fraction"]
    odd: dict[str, Any] = {fractions[0]: "²/3", fractions[1]: "7/" + "9" * 1500}
    odd |= {fractions[2]: "¾", numbers[0]: 10**12, numbers[1]: "12" * 900}

    status, graded = submit(who, attempt, odd)

    assert status == 200, graded
    assert graded["status"] == "GRADED" and graded["score"] == 0


def test_an_integer_answer_beyond_any_question_is_graded_wrong_or_refused_never_a_500(
    learner: Any,
) -> None:
    who, _ = learner(10)
    _, attempt = start(who, "FR-A1")
    first = questions(attempt["id"])[0]["id"]
    token = json.dumps(attempt["attempt_token"])

    unreadable = f'{{"attempt_token": {token}, "answers": {{"{first}": {"9" * 4400}}}}}'
    status, problem = _raw_submit(who, attempt, unreadable)
    assert (status, problem["code"]) == (400, "BAD_REQUEST")  # beyond what JSON reads here

    status, graded = submit(who, attempt, {first: 10**40})
    assert status == 200 and graded["score"] < 100


def _raw_submit(who: Principal, attempt: dict[str, Any], body: str) -> tuple[int, Any]:
    event = http_api_event(
        "POST", f"/v1/attempts/{attempt['id']}/submit", claims=principal_claims(who), body=body
    )
    result = functions.invoke(helpers.FUNCTIONS["exam_submit"], event)
    return result["statusCode"], json.loads(result["body"])


def test_a_tutoring_slot_in_year_9999_or_without_offset_is_a_422(
    database_url: str, principal: Any
) -> None:
    who = principal(Role.ELEVE)
    body = {"coach_id": str(uuid.uuid4()), "service_code": "COURS_EN_LIGNE", "subject": "maths"}

    for starts_at in ("9999-12-31T23:30:00+00:00", "2027-03-01T10:00:00", "1900-01-01T10:00Z"):
        status, problem = call(
            "tutoring_api",
            "POST",
            "/v1/tutoring-sessions",
            who,
            body | {"starts_at": starts_at},
            str(uuid.uuid4()),
        )
        assert (status, problem["code"]) == (422, "VALIDATION_FAILED"), starts_at


@pytest.mark.parametrize(
    ("slots", "reason"),
    [
        ([{"weekday": 1, "starts": "10:00", "ends": "10:00"}], "ends after it starts"),
        ([{"weekday": 1, "starts": "12:00", "ends": "09:00"}], "ends after it starts"),
        (
            [
                {"weekday": 2, "starts": "09:00", "ends": "12:00"},
                {"weekday": 2, "starts": "09:00", "ends": "11:00"},
            ],
            "overlap",
        ),
        (
            [
                {"weekday": 3, "starts": "09:00", "ends": "12:00"},
                {"weekday": 3, "starts": "11:00", "ends": "13:00"},
            ],
            "overlap",
        ),
    ],
)
def test_coach_availability_that_breaks_a_rule_is_a_422_and_changes_nothing(
    database_url: str, principal: Any, slots: list[dict[str, Any]], reason: str
) -> None:
    coach = identity.resolve_user(principal(Role.COACH, "Coach Dispo"))
    staff = principal(Role.ASSISTANTE)

    status, problem = call(
        "tutoring_api",
        "POST",
        f"/v1/admin/coaches/{coach.id}",
        staff,
        {"subjects": ["maths"], "availability": slots},
    )

    assert (status, problem["code"]) == (422, "VALIDATION_FAILED")
    assert reason in json.dumps(problem["errors"])
    assert db.read_one("SELECT 1 FROM coaches WHERE user_id = %s", (coach.id,)) is None


def test_unknown_students_and_proctors_are_named_not_a_500(
    database_url: str, principal: Any
) -> None:
    staff = principal(Role.ASSISTANTE)
    starts = datetime.now(UTC) + timedelta(days=20)
    session = {
        "qualification_code": "WINE-L2",
        "type": "STANDALONE",
        "starts_at": starts.isoformat(),
        "registration_deadline": (starts - timedelta(days=1)).isoformat(),
        "capacity": 5,
    }

    def sessions_api(path: str, body: Any) -> tuple[int, Any]:
        return call("exam_sessions_api", "POST", path, staff, body, str(uuid.uuid4()))

    stranger = {"student_id": str(uuid.uuid4()), "qualification_code": "WINE-L2"}
    assert sessions_api("/v1/admin/enrolments", stranger)[1]["code"] == "STUDENT_NOT_FOUND"
    student = identity.resolve_user(principal(Role.ELEVE, "Pas surveillant"))
    for proctor in (uuid.uuid4(), student.id):
        status, problem = sessions_api(
            "/v1/admin/exam-sessions", session | {"proctor_id": str(proctor)}
        )
        assert (status, problem["code"]) == (422, "PROCTOR_NOT_FOUND")
    naive_deadline = (starts - timedelta(days=1)).replace(tzinfo=None)
    naive = session | {"registration_deadline": naive_deadline.isoformat()}
    status, problem = sessions_api("/v1/admin/exam-sessions", naive)
    assert (status, problem["code"]) == (422, "VALIDATION_FAILED")
    far = {"starts_on": "9999-12-30", "ends_on": "9999-12-31", "capacity": 3}
    offering = sessions_api(
        "/v1/admin/course-offerings", {"qualification_code": "WINE-L1", "name": "Cohorte"}
    )[1]
    status, problem = sessions_api(f"/v1/admin/course-offerings/{offering['id']}/sessions", far)
    assert (status, problem["code"]) == (422, "VALIDATION_FAILED")


# -- 4. unbounded input ------------------------------------------------------------------------


def test_answers_to_questions_the_attempt_does_not_ask_are_refused_and_nothing_is_stored(
    learner: Any,
) -> None:
    who, _ = learner(10)
    _, attempt = start(who, "FR-A1")

    status, problem = submit(who, attempt, {"q1": "1", "q999": "1", "nope": "2"})

    assert (status, problem["code"]) == (422, "UNKNOWN_QUESTIONS")
    assert problem["questions"] == ["nope", "q999"]
    row = db.read_one("SELECT status, answers FROM exam_attempts WHERE id = %s", (attempt["id"],))
    assert row == {"status": "IN_PROGRESS", "answers": None}


def test_an_oversized_answer_or_request_is_refused_before_it_is_stored(learner: Any) -> None:
    who, _ = learner(10)
    _, attempt = start(who, "FR-A1")

    status, problem = submit(who, attempt, {"q1": "x" * 2001})
    assert (status, problem["code"]) == (422, "VALIDATION_FAILED")

    huge = {f"q{n}": "x" * 18_000 for n in range(499)}  # ~9 MB, as a hostile client sent
    status, problem = submit(who, attempt, huge)
    assert (status, problem["code"]) == (413, "PAYLOAD_TOO_LARGE")

    # The same with the Content-Length declared: refused before the body is read at all.
    body = json.dumps({"attempt_token": attempt["attempt_token"], "answers": huge})
    event = http_api_event(
        "POST",
        f"/v1/attempts/{attempt['id']}/submit",
        claims=principal_claims(who),
        body=body,
        headers={"Content-Length": str(len(body))},
    )
    result = functions.invoke(helpers.FUNCTIONS["exam_submit"], event)
    assert result["statusCode"] == 413
    assert json.loads(result["body"])["code"] == "PAYLOAD_TOO_LARGE"
    row = db.read_one("SELECT status, answers FROM exam_attempts WHERE id = %s", (attempt["id"],))
    assert row == {"status": "IN_PROGRESS", "answers": None}


# -- 5. names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["Yasmine\u202eelif.exe", "Adam\r\nBcc: victim@example.com", "Lina\u2066x", "Nour\x00", " "],
)
def test_a_child_name_with_control_or_bidi_characters_is_refused(
    database_url: str, principal: Any, name: str
) -> None:
    parent = principal(Role.PARENT)

    status, problem = call(
        "identity_api", "POST", "/v1/students", parent, {"display_name": name}, "k"
    )

    assert (status, problem["code"]) == (422, "VALIDATION_FAILED")
    assert identity.describe(identity.resolve_user(parent)).children == []


def test_names_in_every_script_pass_and_are_trimmed(database_url: str, principal: Any) -> None:
    parent = principal(Role.PARENT)

    for typed, kept in (("  ياسمين بن صالح ", "ياسمين بن صالح"), ("Zoë-Anaïs", "Zoë-Anaïs")):
        status, created = call(
            "identity_api",
            "POST",
            "/v1/students",
            parent,
            {"display_name": typed},
            f"k-{len(kept)}",
        )
        assert status == 201 and created["display_name"] == kept


def test_a_token_name_with_controls_is_cleaned_before_it_names_a_certificate_holder(
    database_url: str, principal: Any
) -> None:
    who = Principal(sub=f"sub-{uuid.uuid4()}", name="Sami\u202e\r\nX", role=Role.ELEVE)

    user = identity.resolve_user(who)

    student = db.read_one("SELECT display_name FROM students WHERE id = %s", (user.student_id,))
    assert user.name == "Sami X" and student == {"display_name": "Sami X"}


def test_an_email_subject_is_one_line_whatever_the_text(local_aws: Any) -> None:
    from reussite import notifications

    notifications.send_email(["famille@example.com"], "Séance\r\nBcc: x@y.z \u202e", "corps")

    (sent,) = [m for m in helpers.emails(local_aws, "corps") if "Bcc" in m["subject"]]
    assert sent["subject"] == "Séance Bcc: x@y.z"


# -- 6. seats and states -----------------------------------------------------------------------


def test_a_bundled_seat_is_free_for_the_course_students_and_refused_to_anyone_else(
    learner: Any, principal: Any
) -> None:
    staff = principal(Role.ASSISTANTE)

    def sessions_api(path: str, body: Any, who: Principal = staff) -> tuple[int, Any]:
        return call("exam_sessions_api", "POST", path, who, body, str(uuid.uuid4()))

    offering = sessions_api(
        "/v1/admin/course-offerings", {"qualification_code": "WINE-L2", "name": "Cohorte"}
    )[1]
    day = date.today() + timedelta(days=10)
    course = {"starts_on": day.isoformat(), "ends_on": day.isoformat(), "capacity": 4}
    scheduled = sessions_api(f"/v1/admin/course-offerings/{offering['id']}/sessions", course)[1]
    bundled = scheduled["exam_sessions"][0]["id"]
    (enrolled, enrolled_id), (outsider, outsider_id) = learner(10), learner(10)
    path = f"/v1/admin/course-sessions/{scheduled['id']}/students"
    first = sessions_api(path, {"student_id": str(enrolled_id)})
    again = sessions_api(path, {"student_id": str(enrolled_id)})
    assert first[0] == again[0] == 201 and first[1] == again[1]
    unknown = sessions_api(path, {"student_id": str(uuid.uuid4())})
    assert (unknown[0], unknown[1]["code"]) == (404, "STUDENT_NOT_FOUND")

    inside = sessions_api(f"/v1/exam-sessions/{bundled}/registrations", None, enrolled)
    outside = sessions_api(f"/v1/exam-sessions/{bundled}/registrations", None, outsider)

    assert inside[0] == 201 and inside[1]["fee_credits"] == 0
    assert inside[1]["paid_with"] == "FREE" and inside[1]["status"] == "REGISTERED"
    # the seats belong to the course's students (seed 003); anyone else sits a standalone
    assert (outside[0], outside[1]["code"]) == (409, "REGISTRATION_NOT_ALLOWED")
    balances = {
        sid: db.read_one("SELECT balance FROM wallets WHERE student_id = %s", (sid,))
        for sid in (enrolled_id, outsider_id)
    }
    assert balances == {enrolled_id: {"balance": 10}, outsider_id: {"balance": 10}}
    seats = db.read_one("SELECT registered FROM exam_sessions WHERE id = %s", (bundled,))
    assert seats == {"registered": 1}


def test_a_start_that_finds_a_closed_attempt_finalises_it_and_starts_a_new_one(
    learner: Any,
) -> None:
    who, _ = learner(10)
    _, dead = start(who, "FR-A1")
    db.connection().execute(
        """UPDATE exam_attempts SET started_at = clock_timestamp() - interval '1 hour',
                  deadline_at = clock_timestamp() - interval '10 minutes' WHERE id = %s""",
        (dead["id"],),
    )

    status, fresh = start(who, "FR-A1")

    assert status == 201 and fresh["id"] != dead["id"] and fresh["status"] == "IN_PROGRESS"
    closed = db.read_one(
        "SELECT status, finalised_by FROM exam_attempts WHERE id = %s", (dead["id"],)
    )
    assert closed == {"status": "GRADED", "finalised_by": "sweeper"}  # FR-A1 autosubmits
    # An attempt still inside its time is returned as before.
    status, problem = start(who, "FR-A1")
    assert (status, problem["code"]) == (409, "ATTEMPT_IN_PROGRESS")
    assert problem["attempt"]["id"] == fresh["id"]


def test_a_cancel_whose_credits_had_expired_says_so(
    local_aws: Any, database_url: str, principal: Any
) -> None:
    staff = principal(Role.ASSISTANTE)
    coach_who = principal(Role.COACH, "Coach Expiré")
    coach = identity.resolve_user(coach_who)
    always = [{"weekday": d, "starts": "00:00", "ends": "23:59"} for d in range(1, 8)]
    profile = {"subjects": ["maths"], "availability": always}
    assert call("tutoring_api", "POST", f"/v1/admin/coaches/{coach.id}", staff, profile)[0] == 200
    who = principal(Role.ELEVE, "Élève Expirée")
    student_id = identity.resolve_user(who).student_id
    assert student_id is not None
    wallet = ledger.wallet_of(student_id)
    ledger.grant(wallet, 5, LotKind.PURCHASE, key="p", purpose="pack")
    starts = (datetime.now(UTC) + timedelta(days=4)).replace(hour=9, minute=0, second=0)
    status, booked = call(
        "tutoring_api",
        "POST",
        "/v1/tutoring-sessions",
        who,
        {
            "coach_id": str(coach.id),
            "service_code": "COURS_EN_LIGNE",
            "subject": "maths",
            "starts_at": starts.isoformat(),
        },
        str(uuid.uuid4()),
    )
    assert status == 201, booked
    db.connection().execute(
        """UPDATE credit_lots SET granted_at = clock_timestamp() - interval '13 months',
                  expires_at = clock_timestamp() - interval '1 second' WHERE wallet_id = %s""",
        (wallet,),
    )

    status, cancelled = call(
        "tutoring_api", "POST", f"/v1/tutoring-sessions/{booked['id']}/cancel", who
    )

    assert status == 200 and cancelled["status"] == "CANCELLED"
    assert cancelled["refunded"] is False and cancelled["refunded_credits"] == 0
    refunds = db.read_one(
        """SELECT count(*) AS n FROM ledger_entries WHERE wallet_id = %s AND kind = 'REFUND'""",
        (wallet,),
    )
    assert refunds == {"n": 0}
    when = f"{starts.astimezone(ZoneInfo('Africa/Tunis')):%d/%m/%Y à %H:%M} (heure de Tunis)"
    mails = helpers.emails(local_aws, f"prévue le {when}, est annulée")
    assert mails and all("les crédits ne sont pas rendus" in m["body"] for m in mails)
    assert not any("ont été rendus" in m["body"] for m in mails)


# -- 7. the role claim -------------------------------------------------------------------------


def _me(claims: dict[str, Any]) -> tuple[int, Any]:
    event = http_api_event("GET", "/v1/me", claims=claims)
    result = functions.invoke(helpers.FUNCTIONS["identity_api"], event)
    return result["statusCode"], json.loads(result["body"])


def test_a_role_from_an_attribute_users_can_edit_is_refused(database_url: str) -> None:
    sub = f"sub-{uuid.uuid4()}"

    status, problem = _me({"sub": sub, "custom:role": "ADMIN"})

    assert (status, problem["code"]) == (403, "UNTRUSTED_ROLE_CLAIM")
    assert db.read_one("SELECT 1 FROM users WHERE sub = %s", (sub,)) is None


def test_the_role_comes_from_the_role_claim_or_the_cognito_group(database_url: str) -> None:
    assert _me({"sub": f"s-{uuid.uuid4()}", "role": "COACH"})[1]["role"] == "COACH"
    groups = {"sub": f"s-{uuid.uuid4()}", "cognito:groups": "[PARENT beta-testers]"}
    assert _me(groups)[1]["role"] == "PARENT"
    assert _me({"sub": f"s-{uuid.uuid4()}"})[1]["role"] == "ELEVE"
    status, problem = _me({"sub": f"s-{uuid.uuid4()}", "cognito:groups": ["ADMIN", "PARENT"]})
    assert (status, problem["code"]) == (403, "UNKNOWN_ROLE")
