"""The coach workflow scenario (seed 001, scenario 5): coach Hélios opens the agenda, prepares
a lesson from the student's file and history, launches the video room from the session, writes
the report and updates the student's progress; the family sees that progress."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from reussite import db
from reussite.emails import monthly
from reussite.identity import service as identity
from reussite.identity.models import Principal, Role
from reussite.ledger import service as ledger
from reussite.ledger.models import LotKind
from reussite.settings import get_settings
from reussite_local import functions
from reussite_local.aws import LocalAws
from reussite_local.events import http_api_event
from reussite_local.sqs import QueueDelivery
from tests import helpers
from tests.test_exams import answer_key, start, submit

TUNIS = ZoneInfo("Africa/Tunis")
WEEK = [{"weekday": d, "starts": "08:00", "ends": "20:00"} for d in range(1, 8)]


def api(
    method: str, path: str, who: Principal | None, body: Any = None, key: str | None = None
) -> tuple[int, Any]:
    path, _, query = path.partition("?")
    return helpers.call("tutoring_api", method, path, who, body, key, query)


@pytest.fixture
def staff(database_url: str, principal: Any) -> Principal:
    p: Principal = principal(Role.ASSISTANTE, "Sonia Coachs")
    return p


def new_coach(staff: Principal, pseudonym: str, subjects: list[str]) -> tuple[Principal, Any]:
    """Staff create a coach in one call; the coach then signs in with that login."""
    sub = f"coach-{uuid.uuid4()}"
    email = f"{sub}@example.test"
    body: dict[str, Any] = {
        "sub": sub,
        "email": email,
        "pseudonym": pseudonym,
        "subjects": subjects,
        "availability": WEEK,
    }
    status, created = api("POST", "/v1/admin/coaches", staff, body, str(uuid.uuid4()))
    assert status == 201, created
    return Principal(sub=sub, email=email, name="Vrai Nom", role=Role.COACH), created


@pytest.fixture
def family(database_url: str, principal: Any) -> Any:
    """A parent and their child with credits: (parent, child id)."""
    parent = principal(Role.PARENT, "Mounir Haddad")
    name = f"Ines Haddad {uuid.uuid4().hex[:6]}"
    child = identity.create_child(identity.resolve_user(parent), name).student_id
    ledger.grant(ledger.wallet_of(child), 10, LotKind.PURCHASE, key="pack", purpose="pack")
    return parent, child


def book(parent: Principal, coach: Any, child: Any, subject: str, days: int = 3) -> Any:
    day = (datetime.now(TUNIS) + timedelta(days=days)).date()
    body = {
        "coach_id": coach["id"],
        "service_code": "COURS_EN_LIGNE",
        "subject": subject,
        "starts_at": datetime(day.year, day.month, day.day, 14, tzinfo=TUNIS).isoformat(),
        "student_id": str(child),
    }
    status, booked = api("POST", "/v1/tutoring-sessions", parent, body, str(uuid.uuid4()))
    assert status == 201, booked
    return booked


def move(session_id: str, starts_in: timedelta) -> None:
    """Time passes: the session starts `starts_in` from now (negative: it has started)."""
    db.connection().execute(
        """UPDATE tutoring_sessions SET starts_at = now() + %s,
                  ends_at = now() + %s + interval '1 hour' WHERE id = %s""",
        (starts_in, starts_in, session_id),
    )


def test_coaches_are_created_by_staff_in_one_call_and_bookable(
    staff: Principal, family: Any, principal: Any
) -> None:
    parent, child = family
    login, helios = new_coach(staff, "Hélios", ["MATHEMATIQUES", "NSI"])
    body = {
        "sub": login.sub,
        "email": login.email,
        "pseudonym": "Hélios",
        "subjects": ["MATHEMATIQUES", "NSI"],
        "availability": WEEK,
    }
    key = str(uuid.uuid4())
    first = api("POST", "/v1/admin/coaches", staff, body, key)

    assert helios["display_name"] == "Hélios" and helios["subjects"] == ["MATHEMATIQUES", "NSI"]
    assert len(helios["availability"]) == 7
    assert first[0] == 201 and api("POST", "/v1/admin/coaches", staff, body, key) == first
    assert api("POST", "/v1/admin/coaches", parent, body, str(uuid.uuid4()))[0] == 403
    someone = principal(Role.PARENT)
    identity.resolve_user(someone)
    taken = api("POST", "/v1/admin/coaches", staff, body | {"sub": someone.sub}, str(uuid.uuid4()))
    assert (taken[0], taken[1]["code"]) == (409, "NOT_A_COACH")
    booked = book(parent, helios, child, "MATHEMATIQUES")
    assert booked["coach_name"] == "Hélios"
    me = helpers.call("identity_api", "GET", "/v1/me", login)[1]  # the coach signs in
    assert me["role"] == "COACH" and me["id"] == helios["id"]
    _, agenda = api("GET", "/v1/coach/agenda", login)
    assert [s["id"] for s in agenda["items"]] == [booked["session_id"]]


def test_the_student_file_is_for_their_coaches_their_family_and_staff(
    staff: Principal, family: Any, principal: Any
) -> None:
    parent, child = family
    helios_login, helios = new_coach(staff, "Hélios", ["MATHEMATIQUES"])
    zenon_login, _ = new_coach(staff, "Zénon", ["PHILOSOPHIE"])
    booked = book(parent, helios, child, "MATHEMATIQUES")
    other_parent = principal(Role.PARENT)
    student_login = principal(Role.ELEVE)
    own = identity.resolve_user(student_login).student_id
    path = f"/v1/students/{child}/file"

    answers = {
        "own coach": api("GET", path, helios_login)[0],
        "other coach": api("GET", path, zenon_login)[0],
        "parent": api("GET", path, parent)[0],
        "other parent": api("GET", path, other_parent)[0],
        "staff": api("GET", path, staff)[0],
        "another student": api("GET", path, student_login)[0],
        "the student": api("GET", f"/v1/students/{own}/file", student_login)[0],
        "unknown": api("GET", f"/v1/students/{uuid.uuid4()}/file", helios_login)[0],
        "nobody": api("GET", path, None)[0],
    }

    assert answers == {
        "own coach": 200,
        "other coach": 404,
        "parent": 200,
        "other parent": 404,
        "staff": 200,
        "another student": 404,
        "the student": 200,
        "unknown": 404,
        "nobody": 401,
    }
    _, file = api("GET", path, helios_login)
    assert file["name"].startswith("Ines Haddad") and file["subjects"] == ["MATHEMATIQUES"]
    assert [s["session_id"] for s in file["sessions"]] == [booked["session_id"]]
    api("POST", f"/v1/tutoring-sessions/{booked['id']}/cancel", parent)
    assert api("GET", path, helios_login)[0] == 404  # a cancelled booking is no relation


def test_a_coach_sees_exam_results_in_their_subjects_and_the_shared_report_summary(
    staff: Principal, family: Any, konnect: Any, local_aws: LocalAws
) -> None:
    parent, child = family
    zenon_login, zenon = new_coach(staff, "Zénon", ["FRANCAIS"])
    helios_login, helios = new_coach(staff, "Hélios", ["MATHEMATIQUES"])
    book(parent, zenon, child, "FRANCAIS")
    book(parent, helios, child, "MATHEMATIQUES", days=4)
    status, attempt = start(parent, "FR-A1", body={"student_id": str(child)})
    assert status == 201, attempt
    assert submit(parent, attempt, answer_key(attempt["id"]))[0] == 200
    helpers.pay_plan(identity.resolve_user(parent), child, "HYBRIDE")
    questionnaire = {
        "age": 15,
        "school_level": "2e-secondaire",
        "track": "Lettres",
        "average": 14,
        "favourite_subjects": ["francais"],
        "difficult_subjects": ["maths"],
        "interests": ["social"],
        "learning_style": "visuel",
        "weekly_study_hours": 5,
        "motivation": 4,
        "stress": 2,
        "career_ideas": "Journaliste",
        "constraints": "Aucune",
    }
    body = {"questionnaire": questionnaire, "student_id": str(child)}
    asked = helpers.call("bilans_api", "POST", "/v1/bilans", parent, body, str(uuid.uuid4()))
    assert asked[0] == 202, asked
    worker = helpers.FUNCTIONS["bilan_worker"]
    helpers.Deliveries(
        QueueDelivery(
            local_aws, worker, worker.queues[0], get_settings().require("bilan_queue_url")
        )
    )()
    path = f"/v1/students/{child}/file"

    french = api("GET", path, zenon_login)[1]
    maths = api("GET", path, helios_login)[1]
    family_view = api("GET", path, parent)[1]

    assert [r["exam_code"] for r in french["exam_results"]] == ["FR-A1"]
    assert french["exam_results"][0]["subject"] == "FRANCAIS"
    assert maths["exam_results"] == []  # not a mathematics exam
    assert [r["exam_code"] for r in family_view["exam_results"]] == ["FR-A1"]
    assert family_view["bilan_summary"] and not family_view["bilan_shared_with_coaches"]
    assert french["bilan_summary"] is None  # not shared yet
    sharing = api(
        "PUT", f"/v1/students/{child}/sharing", parent, {"bilan_shared_with_coaches": True}
    )
    assert sharing[0] == 200
    assert (
        api(
            "PUT",
            f"/v1/students/{child}/sharing",
            zenon_login,
            {"bilan_shared_with_coaches": False},
        )[0]
        == 403
    )
    shared = api("GET", path, zenon_login)[1]
    assert shared["bilan_summary"] == family_view["bilan_summary"]
    assert len(shared["bilan_summary"]) <= 600


def test_progress_after_the_session_its_history_and_the_monthly_report(
    staff: Principal, family: Any, local_aws: LocalAws
) -> None:
    parent, child = family
    helios_login, helios = new_coach(staff, "Hélios", ["MATHEMATIQUES"])
    zenon_login, _ = new_coach(staff, "Zénon", ["MATHEMATIQUES"])
    first = book(parent, helios, child, "MATHEMATIQUES")
    second = book(parent, helios, child, "MATHEMATIQUES", days=5)
    record = f"/v1/coach/sessions/{first['session_id']}/progress/{child}"
    note = {"level": 2, "note": "Bases des fractions à revoir", "skills": ["fractions"]}

    early = api("PUT", record, helios_login, note)
    move(first["session_id"], timedelta(hours=-2))
    stranger = api("PUT", record, zenon_login, note)
    out_of_scale = api("PUT", record, helios_login, note | {"level": 6})
    done = api("PUT", record, helios_login, note)
    again = api("PUT", record, helios_login, note | {"level": 3})

    assert (early[0], early[1]["code"]) == (409, "SESSION_NOT_OPEN")
    assert stranger[0] == 404 and out_of_scale[0] == 422
    assert done[0] == 200 and done[1]["subject"] == "MATHEMATIQUES" and done[1]["level"] == 2
    assert again[0] == 200 and again[1]["id"] == done[1]["id"] and again[1]["level"] == 3
    move(second["session_id"], timedelta(hours=-1))
    later = f"/v1/coach/sessions/{second['session_id']}/progress/{child}"
    assert api("PUT", later, helios_login, {"level": 4, "skills": ["équations"]})[0] == 200

    _, history = api("GET", f"/v1/students/{child}/progress", parent)
    assert [(p["level"], p["skills"]) for p in history["items"]] == [
        (4, ["équations"]),
        (3, ["fractions"]),
    ]
    _, file = api("GET", f"/v1/students/{child}/file", helios_login)
    assert [p["level"] for p in file["progress"]] == [4, 3]
    assert api("GET", f"/v1/students/{child}/progress", zenon_login)[0] == 404
    rows = db.connection().execute(
        "SELECT count(*) AS n FROM audit_log WHERE action = 'progress.record' AND subject = %s",
        (f"student:{child}",),
    )
    assert rows.fetchone() == {"n": 3}

    month = datetime.now(TUNIS).date().replace(day=1)
    run_at = datetime.combine((month + timedelta(days=32)).replace(day=1), time(6), TUNIS)
    monthly.run(now=run_at)  # the report of this month, sent on the 1st of the next
    name = file["name"]
    (report,) = [m for m in helpers.emails(local_aws, f"\n{name}\n") if "Rapport" in m["subject"]]
    assert "- Progression : Mathématiques 4/5 (équations)" in report["body"]


def test_the_room_opens_from_ten_minutes_before_to_the_end_for_coach_and_student(
    staff: Principal, family: Any
) -> None:
    parent, child = family
    helios_login, helios = new_coach(staff, "Hélios", ["MATHEMATIQUES"])
    booked = book(parent, helios, child, "MATHEMATIQUES")
    _, agenda = api("GET", "/v1/coach/agenda", helios_login)
    (entry,) = agenda["items"]
    link = booked["room_url"]
    path, _, query = link.removeprefix(get_settings().public_base_url.rstrip("/")).partition("?")

    def follow() -> dict[str, Any]:
        event = http_api_event("GET", path, query=query)
        return dict(functions.invoke(helpers.FUNCTIONS["tutoring_api"], event))

    assert entry["room_url"] == link  # the coach's link and the student's are the same room
    closed = follow()
    move(booked["session_id"], timedelta(minutes=9))
    opened = follow()
    move(booked["session_id"], timedelta(hours=-2))
    over = follow()
    forged = helpers.call("tutoring_api", "GET", path, None, query="token=1.forged")

    assert closed["statusCode"] == 409 and '"ROOM_NOT_OPEN"' in closed["body"]
    assert "opens_at" in closed["body"]
    room = db.read_one(
        "SELECT room_url FROM tutoring_sessions WHERE id = %s", (booked["session_id"],)
    )
    assert opened["statusCode"] == 303 and room is not None
    assert opened["headers"]["location"] == room["room_url"]
    assert over["statusCode"] == 409 and '"ROOM_CLOSED"' in over["body"]
    assert forged[0] == 404
    assert entry["room_opens_at"] and entry["room_closes_at"]
