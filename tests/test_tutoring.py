"""Live tutoring: bookings paid in credits, no double booking of a coach under concurrency, the
24 h refund rule at its boundary, reminders once, the coach's side."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from reussite import db
from reussite.identity import service as identity
from reussite.identity.models import Principal, Role
from reussite.ledger import service as ledger
from reussite.ledger.models import LotKind
from reussite.settings import get_settings
from reussite.tutoring import service
from reussite_local import functions
from reussite_local.aws import LocalAws
from tests import helpers

TUNIS = ZoneInfo("Africa/Tunis")


def api(
    method: str, path: str, who: Principal, body: Any = None, key: str | None = None
) -> tuple[int, Any]:
    return helpers.call("tutoring_api", method, path, who, body, key)


@pytest.fixture
def coach(database_url: str, principal: Any) -> Any:
    """A coach teaching maths and physics, available 08:00-20:00 every day (Tunis time)."""

    def make(name: str = "Karim Coach") -> Principal:
        who: Principal = principal(Role.COACH, name)
        user = identity.resolve_user(who)
        staff = principal(Role.ASSISTANTE)
        profile = {
            "subjects": ["maths", "physique"],
            "availability": [
                {"weekday": d, "starts": "08:00", "ends": "20:00"} for d in range(1, 8)
            ],
        }
        status, saved = api("POST", f"/v1/admin/coaches/{user.id}", staff, profile)
        assert status == 200, saved
        return who

    return make


@pytest.fixture
def student(database_url: str, principal: Any) -> Any:
    def make(credits: int = 10, name: str = "Élève") -> tuple[Principal, uuid.UUID]:
        who = principal(Role.ELEVE, name)
        student_id = identity.resolve_user(who).student_id
        assert student_id is not None
        assert student_id is not None
        if credits:
            ledger.grant(
                ledger.wallet_of(student_id), credits, LotKind.PURCHASE, key="p", purpose="pack"
            )
        return who, student_id

    return make


def slot(days: int = 3, hour: int = 10, minute: int = 0) -> datetime:
    day = (datetime.now(TUNIS) + timedelta(days=days)).date()
    return datetime.combine(day, time(hour, minute), tzinfo=TUNIS)


def book(
    who: Principal,
    coach: Principal,
    starts_at: datetime,
    service_code: str = "COURS_EN_LIGNE",
    subject: str = "maths",
    key: str | None = None,
) -> tuple[int, Any]:
    body = {
        "coach_id": str(identity.resolve_user(coach).id),
        "service_code": service_code,
        "subject": subject,
        "starts_at": starts_at.isoformat(),
    }
    return api("POST", "/v1/tutoring-sessions", who, body, key or str(uuid.uuid4()))


def balance(student_id: uuid.UUID) -> int:
    row = db.read_one("SELECT balance FROM wallets WHERE student_id = %s", (student_id,))
    assert row is not None
    return int(row["balance"])


def test_a_booking_spends_credits_and_gets_an_unguessable_room(
    coach: Any, student: Any, local_aws: LocalAws
) -> None:
    karim = coach()
    who, student_id = student(credits=5)
    key = str(uuid.uuid4())

    status, booked = book(who, karim, slot(), "COURS_PRESENTIEL", key=key)
    _, other = book(who, karim, slot(hour=15))

    assert status == 201 and booked["status"] == "BOOKED" and booked["credits"] == 2
    assert balance(student_id) == 5 - 2 - 1
    base = get_settings().video_base_url
    rooms = {
        r["id"]: r["room_url"]
        for r in db.connection()
        .execute(
            "SELECT id, room_url FROM tutoring_sessions WHERE id = ANY(%s)",
            ([booked["session_id"], other["session_id"]],),
        )
        .fetchall()
    }
    room = rooms[uuid.UUID(booked["session_id"])]
    assert room.startswith(f"{base}/reussite-") and len(room.split("reussite-")[1]) >= 24
    assert len(set(rooms.values())) == 2  # 144 bits each, one room per session
    public = get_settings().public_base_url.rstrip("/")
    assert booked["room_url"].startswith(f"{public}/v1/rooms/{booked['session_id']}?token=")
    assert other["room_url"] != booked["room_url"]
    assert book(who, karim, slot(), "COURS_PRESENTIEL", key=key) == (201, booked)  # replay
    assert balance(student_id) == 2
    assert sorted(helpers.mailed_to(local_aws, booked["room_url"])) == sorted(
        [[who.email], [karim.email]]
    )


def test_concurrent_bookings_of_one_coach_slot_let_exactly_one_through(
    coach: Any, student: Any
) -> None:
    karim = coach()
    students = [student() for _ in range(10)]
    starts = slot(days=4)

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda s: book(s[0], karim, starts), students))

    assert sorted(status for status, _ in answers) == [201] + [409] * 9
    assert {body["code"] for status, body in answers if status == 409} == {"SLOT_TAKEN"}
    assert sum(balance(s[1]) for s in students) == 10 * 10 - 1  # one debit in all
    overlapping = book(students[0][0], karim, starts + timedelta(minutes=30))
    assert overlapping[1]["code"] == "SLOT_TAKEN"
    assert book(students[0][0], karim, starts + timedelta(minutes=60))[0] == 201  # back to back


def test_a_group_workshop_fills_to_its_capacity(coach: Any, student: Any) -> None:
    karim = coach()
    starts = slot(days=5, hour=16)

    answers = [book(student()[0], karim, starts, "ATELIER_GROUPE") for _ in range(7)]

    booked = [body for status, body in answers if status == 201]
    assert len(booked) == 6 and len({b["session_id"] for b in booked}) == 1
    assert answers[-1][1]["code"] == "SLOT_TAKEN"


def test_slots_follow_availability_and_subjects(coach: Any, student: Any) -> None:
    karim = coach()
    who, student_id = student()

    assert book(who, karim, slot(hour=21))[1]["code"] == "SLOT_UNAVAILABLE"
    assert book(who, karim, slot(), subject="philosophie")[1]["code"] == "SLOT_UNAVAILABLE"
    assert book(who, karim, slot(days=-1))[0] == 422
    assert balance(student_id) == 10


def test_no_credits_no_session(coach: Any, student: Any) -> None:
    karim = coach()
    broke, _ = student(credits=0)
    starts = slot(days=6)

    status, problem = book(broke, karim, starts)

    assert (status, problem["code"]) == (402, "INSUFFICIENT_CREDITS")
    assert book(student()[0], karim, starts)[0] == 201  # the slot stayed free


def test_the_refund_rule_at_its_boundary(coach: Any, student: Any) -> None:
    karim = coach()
    who, student_id = student(credits=2)
    user = identity.resolve_user(who)
    _, on_time = book(who, karim, slot(days=8))
    _, late = book(who, karim, slot(days=9))
    starts = datetime.fromisoformat(on_time["starts_at"])

    exactly = service.cancel(user, on_time["id"], at=starts - timedelta(hours=24))
    assert exactly.refunded and balance(student_id) == 1
    starts = datetime.fromisoformat(late["starts_at"])
    one_second_late = starts - timedelta(hours=24) + timedelta(seconds=1)
    cancelled = service.cancel(user, late["id"], at=one_second_late)
    assert cancelled.status == "CANCELLED" and not cancelled.refunded
    assert balance(student_id) == 1


def test_coach_and_staff_cancellations_always_refund(
    coach: Any, student: Any, principal: Any, local_aws: LocalAws
) -> None:
    karim = coach()
    who, student_id = student(credits=3)
    _, by_coach = book(who, karim, slot(days=3))
    _, by_staff = book(who, karim, slot(days=3, hour=12))
    _, by_family = book(who, karim, slot(days=3, hour=14))
    late = datetime.fromisoformat(by_coach["starts_at"]) - timedelta(hours=2)

    service.cancel(identity.resolve_user(karim), by_coach["id"], at=late)
    service.cancel(identity.resolve_user(principal(Role.ADMIN)), by_staff["id"], at=late)
    status, cancelled = api("POST", f"/v1/tutoring-sessions/{by_family['id']}/cancel", who)

    assert status == 200 and cancelled["refunded"]  # days ahead: the family's refund too
    assert balance(student_id) == 3
    assert api("POST", f"/v1/tutoring-sessions/{by_family['id']}/cancel", who)[1]["code"] == (
        "ALREADY_CANCELLED"
    )
    cancelled = [m for m in helpers.emails(local_aws, "est annulée") if "annulée" in m["subject"]]
    assert len(cancelled) >= 6  # family and coach, three times
    # a freed slot can be booked again
    assert book(student()[0], karim, slot(days=3))[0] == 201


def test_only_the_family_the_coach_or_staff_cancel(
    coach: Any, student: Any, principal: Any
) -> None:
    karim, other_coach = coach(), coach("Autre Coach")
    who, _ = student()
    _, booked = book(who, karim, slot(days=10))

    for stranger in (principal(Role.PARENT), principal(Role.ELEVE), other_coach):
        status, problem = api("POST", f"/v1/tutoring-sessions/{booked['id']}/cancel", stranger)
        assert (status, problem["code"]) == (404, "BOOKING_NOT_FOUND")


def test_a_reminder_is_sent_once_even_when_the_schedule_fires_twice(
    coach: Any, student: Any, local_aws: LocalAws
) -> None:
    karim = coach()
    who, _ = student()
    _, booked = book(who, karim, slot(days=7))
    db.connection().execute(  # the session is now 23 hours away
        "UPDATE tutoring_sessions SET starts_at = now() + interval '23 hours',"
        " ends_at = now() + interval '24 hours' WHERE id = %s",
        (booked["session_id"],),
    )
    reminders = helpers.FUNCTIONS["tutoring_reminders"]
    event = functions.sample_event(reminders)

    first = functions.invoke(reminders, event)
    with ThreadPoolExecutor(max_workers=3) as pool:  # the schedule firing again, three at once
        again = list(pool.map(lambda _: functions.invoke(reminders, event), range(3)))

    assert first["reminded"] >= 1 and all(r["reminded"] == 0 for r in again)
    reminders_sent = [
        m["destinations"]["ToAddresses"]
        for m in helpers.emails(local_aws, f"/v1/rooms/{booked['session_id']}?token=")
        if m["subject"].startswith("Rappel")  # (the link's expiry moved with the session)
    ]
    assert sorted(reminders_sent) == sorted([[who.email], [karim.email]])


def test_the_coach_side_agenda_report_and_staff_no_shows(
    coach: Any, student: Any, principal: Any
) -> None:
    karim = coach()
    (anna, _), (bilel, _) = student(name="Anna"), student(name="Bilel")
    starts = slot(days=2, hour=17)
    _, first = book(anna, karim, starts, "ATELIER_GROUPE")
    _, second = book(bilel, karim, starts, "ATELIER_GROUPE")
    session_id = first["session_id"]

    status, page = api("GET", "/v1/coach/agenda", karim)
    agenda = page["items"]
    assert status == 200
    (mine,) = [s for s in agenda if s["id"] == session_id]
    assert sorted(b["student"] for b in mine["bookings"]) == ["Anna", "Bilel"]
    report = {"report": "Proportionnalité : bien compris, exercices 3 à 5 à refaire."}
    early = api("POST", f"/v1/coach/sessions/{session_id}/report", karim, report)
    assert early[1]["code"] == "SESSION_NOT_OPEN"
    staff = principal(Role.ASSISTANTE)
    assert api("POST", f"/v1/admin/tutoring-bookings/{second['id']}/no-show", staff)[0] == 409
    db.connection().execute(  # the workshop took place
        "UPDATE tutoring_sessions SET starts_at = now() - interval '2 hours',"
        " ends_at = now() - interval '30 minutes' WHERE id = %s",
        (session_id,),
    )

    no_show = api("POST", f"/v1/admin/tutoring-bookings/{second['id']}/no-show", staff)
    filed = api("POST", f"/v1/coach/sessions/{session_id}/report", karim, report)

    assert no_show[0] == 200 and no_show[1]["status"] == "NO_SHOW"
    assert filed[0] == 200 and filed[1]["status"] == "COMPLETED"
    statuses = {
        b["student_name"]: b["status"]
        for b in api("GET", "/v1/me/tutoring-sessions", anna)[1]["items"]
    }
    assert statuses == {"Anna": "ATTENDED"}
    assert api("POST", f"/v1/admin/tutoring-bookings/{second['id']}/no-show", anna)[0] == 403
    other = coach("Autre")
    assert api("POST", f"/v1/coach/sessions/{session_id}/report", other, report)[0] == 404


def test_a_key_reused_for_another_booking_is_refused_and_not_replayed(
    coach: Any, student: Any
) -> None:
    karim = coach()
    who, student_id = student(credits=5)
    key = str(uuid.uuid4())
    status, first = book(who, karim, slot(days=6), key=key)

    other_slot = book(who, karim, slot(days=6, hour=15), key=key)
    other_service = book(who, karim, slot(days=6), "COURS_PRESENTIEL", key=key)
    other_subject = book(who, karim, slot(days=6), subject="physique", key=key)

    assert status == 201
    for answer in (other_slot, other_service, other_subject):
        assert (answer[0], answer[1]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert book(who, karim, slot(days=6), key=key) == (201, first)  # the same request replays
    assert balance(student_id) == 5 - 1


def test_one_key_retried_eight_times_at_once_books_and_debits_once(
    coach: Any, student: Any
) -> None:
    karim = coach()
    who, student_id = student(credits=5)
    key, starts = str(uuid.uuid4()), slot(days=7)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: book(who, karim, starts, key=key), range(8)))

    assert {status for status, _ in answers} == {201}
    assert len({body["id"] for _, body in answers}) == 1
    assert balance(student_id) == 5 - 1


def test_a_booking_tells_each_person_in_their_own_language(
    coach: Any, student: Any, local_aws: LocalAws
) -> None:
    karim = coach()
    who, _ = student()
    for person, language in ((karim, "en"), (who, "ar")):
        db.connection().execute(
            "UPDATE users SET language = %s WHERE sub = %s", (language, person.sub)
        )

    _, booked = book(who, karim, slot(days=5))

    mails = {m["to"][0]: m for m in helpers.emails(local_aws, booked["room_url"])}
    family, coach_mail = mails[who.email], mails[karim.email]
    assert family["subject"].startswith("تم حجز الحصة") and "بتوقيت تونس" in family["body"]
    assert '<html lang="ar" dir="rtl">' in family["html"]
    assert (
        coach_mail["subject"].startswith("Session booked") and "(Tunis time)" in coach_mail["body"]
    )
    assert "in Mathematics with" in coach_mail["body"]  # the subject as a label, not "maths"


def test_the_agenda_and_the_bookings_are_cursor_pages_in_their_order(
    coach: Any, student: Any
) -> None:
    karim = coach()
    who, _ = student(credits=5)
    for day in (3, 4, 5):
        book(who, karim, slot(days=day))

    seen, cursor = [], None
    while True:
        status, page = helpers.call(
            "tutoring_api",
            "GET",
            "/v1/coach/agenda",
            karim,
            query="limit=1" + (f"&cursor={cursor}" if cursor else ""),
        )
        assert status == 200
        seen += [s["starts_at"] for s in page["items"]]
        cursor = page["next"]
        if not cursor:
            break
    assert len(seen) == 3 and seen == sorted(seen)  # soonest first, none twice
    first = helpers.call("tutoring_api", "GET", "/v1/me/tutoring-sessions", who, query="limit=2")
    rest = helpers.call(
        "tutoring_api",
        "GET",
        "/v1/me/tutoring-sessions",
        who,
        query=f"limit=2&cursor={first[1]['next']}",
    )
    starts = [b["starts_at"] for b in first[1]["items"] + rest[1]["items"]]
    assert len(starts) == 3 and starts == sorted(starts, reverse=True)  # latest first
