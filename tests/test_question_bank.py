"""Exams a school writes itself, against real PostgreSQL: every question type graded on the
server with odd input, staff authoring pools and exams through the API, published versions
frozen, and an attempt keeping the version it started on, even under a concurrent publish."""

from __future__ import annotations

import json
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest

from reussite import db
from reussite.exams import questions as q
from reussite.identity import service as identity
from reussite.identity.models import Role
from reussite.ledger import service as ledger
from reussite.ledger.models import LotKind
from reussite_local import functions
from tests import helpers

ODD = [None, "", " ", "²", "9" * 5000, [], {}, [1, [2]], {"a": 1}, True, 1e308, "\u0663", "<b>"]


def graded(body: dict[str, Any], answer: Any, seed: int = 7) -> float:
    return q.score(q.prepare(body, random.Random(seed)), answer)


# -- types -------------------------------------------------------------------------------------


def test_single_choice_is_graded_on_the_shuffled_options() -> None:
    body = {
        "type": "single",
        "prompt": "Capitale ?",
        "options": ["Tunis", "Sfax", "Sousse"],
        "answer": 0,
    }
    shown = q.prepare(body, random.Random(3))
    right = shown["options"].index("Tunis")
    assert q.score(shown, right) == 1.0 and q.score(shown, str(right)) == 1.0
    assert q.score(shown, (right + 1) % 3) == 0.0
    assert "answer" not in q.public(shown)


def test_multiple_choice_all_or_nothing_and_partial_credit() -> None:
    body = {
        "type": "multiple",
        "prompt": "Pairs ?",
        "options": ["2", "3", "4", "5"],
        "answers": [0, 2],
        "shuffle": False,
    }
    assert graded(body, [0, 2]) == 1.0 and graded(body, [2, 0]) == 1.0
    assert graded(body, [0]) == 0.0 and graded(body, [0, 1, 2]) == 0.0
    partial = body | {"scoring": "partial"}
    assert graded(partial, [0]) == 0.5
    assert graded(partial, [0, 1]) == 0.0  # a wrong pick costs what a right one earns
    assert graded(partial, [0, 2, 1]) == 0.5
    assert graded(partial, [0, 0]) == 0.0  # the same option twice is not an answer


def test_true_false_in_the_languages_students_type() -> None:
    body = {"type": "truefalse", "prompt": "La Terre tourne.", "answer": True}
    for yes in (True, "true", "Vrai", " oui ", "صحيح"):
        assert graded(body, yes) == 1.0
    assert graded(body, "faux") == 0.0 and graded(body, "peut-être") == 0.0


def test_numeric_with_tolerance_units_and_any_script_of_digits() -> None:
    body = {
        "type": "numerical",
        "prompt": "Longueur ?",
        "answer": "3.5",
        "tolerance": "0.1",
        "units": ["cm"],
    }
    for right in ("3.5", "3,45", "3.6 cm", "\u0663\u066b\u0665", "\uff13.\uff15", 3.5):
        assert graded(body, right) == 1.0, right
    for wrong in ("3.7", "3.5 km", "35", "3.5.1", "1e1"):
        assert graded(body, wrong) == 0.0, wrong
    assert graded(body | {"unit_required": True}, "3.5") == 0.0


def test_short_answer_policies_for_case_accents_and_spaces() -> None:
    body = {"type": "shortanswer", "prompt": "Le pluriel de « cheval » ?", "answers": ["chevaux"]}
    assert graded(body, "  Chevaux ") == 1.0 and graded(body, "chevals") == 0.0
    accents = {"type": "shortanswer", "prompt": "Été ?", "answers": ["été"]}
    assert graded(accents, "ete") == 0.0  # accents count by default
    assert graded(accents | {"accents_sensitive": False}, "ETE") == 1.0
    assert graded(accents | {"case_sensitive": True}, "Été") == 0.0
    spaced = {
        "type": "shortanswer",
        "prompt": "?",
        "answers": ["pomme de terre"],
        "spaces": "ignore",
    }
    assert graded(spaced, "pommedeterre") == 1.0
    composed = {"type": "shortanswer", "prompt": "?", "answers": ["café"]}
    assert graded(composed, "cafe\u0301") == 1.0  # the same word, decomposed


def test_cloze_grades_each_gap() -> None:
    body = {
        "type": "cloze",
        "prompt": "Je {1} à Tunis et tu {2} à Paris.",
        "gaps": [
            {"answers": ["vis", "travaille"]},
            {"answers": ["vis"], "options": ["vis", "vit", "vivent"]},
        ],
    }
    shown = q.prepare(body, random.Random(1))
    vis = shown["gaps"][1]["options"].index("vis")
    assert q.score(shown, ["vis", vis]) == 1.0
    assert q.score(shown, {"1": "travaille", "2": vis}) == 1.0
    assert q.score(shown, ["vis", (vis + 1) % 3]) == 0.5
    assert q.score(shown, ["mange"]) == 0.0


def test_matching_gives_credit_per_pair_and_ordering_as_configured() -> None:
    matching = {
        "type": "matching",
        "prompt": "Associez.",
        "pairs": [
            {"left": "chat", "right": "cat"},
            {"left": "chien", "right": "dog"},
            {"left": "oiseau", "right": "bird"},
        ],
    }
    shown = q.prepare(matching, random.Random(5))
    right = [shown["right"].index(w) for w in ("cat", "dog", "bird")]
    assert q.score(shown, right) == 1.0
    assert q.score(shown, [right[0], right[2], right[1]]) == pytest.approx(1 / 3)
    ordering = {
        "type": "ordering",
        "prompt": "Du plus petit au plus grand.",
        "items": ["un", "deux", "trois", "quatre"],
    }
    shown = q.prepare(ordering, random.Random(5))
    assert shown["shown"] != ordering["items"]  # never shown already in order
    order = [shown["shown"].index(i) for i in ordering["items"]]
    assert q.score(shown, order) == 1.0
    swapped = [order[1], order[0], *order[2:]]
    assert q.score(shown, swapped) == 0.0
    by_position = q.prepare(ordering | {"scoring": "absolute_position"}, random.Random(5))
    assert q.score(by_position, swapped) == 0.5


@pytest.mark.parametrize("kind", q.TYPES)
def test_odd_input_scores_zero_and_never_raises(kind: str) -> None:
    bodies: dict[str, dict[str, Any]] = {
        "single": {"type": "single", "prompt": "?", "options": ["a", "b"], "answer": 0},
        "multiple": {"type": "multiple", "prompt": "?", "options": ["a", "b"], "answers": [0]},
        "truefalse": {"type": "truefalse", "prompt": "?", "answer": False},
        "numerical": {"type": "numerical", "prompt": "?", "answer": "42"},
        "shortanswer": {"type": "shortanswer", "prompt": "?", "answers": ["x"]},
        "cloze": {"type": "cloze", "prompt": "{1}", "gaps": [{"answers": ["x"]}]},
        "matching": {
            "type": "matching",
            "prompt": "?",
            "pairs": [{"left": "a", "right": "b"}, {"left": "c", "right": "d"}],
        },
        "ordering": {"type": "ordering", "prompt": "?", "items": ["a", "b"]},
    }
    from pydantic import TypeAdapter

    TypeAdapter(q.Body).validate_python(bodies[kind])
    for odd in ODD:
        assert graded(bodies[kind], odd) == 0.0, (kind, odd)


def test_authoring_refuses_inconsistent_questions() -> None:
    from pydantic import TypeAdapter, ValidationError

    adapter: TypeAdapter[Any] = TypeAdapter(q.Body)
    for bad in (
        {"type": "single", "prompt": "?", "options": ["a", "a"], "answer": 0},
        {"type": "single", "prompt": "?", "options": ["a", "b"], "answer": 2},
        {"type": "multiple", "prompt": "?", "options": ["a", "b"], "answers": [0, 0]},
        {"type": "cloze", "prompt": "no gap here", "gaps": [{"answers": ["x"]}]},
        {"type": "cloze", "prompt": "{1}", "gaps": [{"answers": ["x"], "options": ["y", "z"]}]},
        {"type": "numerical", "prompt": "?", "answer": "NaN"},
        {"type": "essay", "prompt": "?"},
        {"type": "truefalse", "prompt": "x" * 5001, "answer": True},
    ):
        with pytest.raises(ValidationError):
            adapter.validate_python(bad)


# -- authoring over HTTP -----------------------------------------------------------------------


def api(method: str, path: str, who: Any, body: Any = None) -> tuple[int, Any]:
    bare, _, query = path.partition("?")
    return helpers.call("exams_api", method, bare, who, body, query=query)


def _pool_with(staff: Any, pool: str, n: int) -> None:
    assert api("PUT", f"/v1/admin/question-pools/{pool}", staff, {"title": "Vocabulaire"})[0] == 200
    for i in range(n):
        body = {
            "type": "single",
            "prompt": f"**Mot {i}** ?",
            "options": [f"r{i}", "x", "y"],
            "answer": 0,
        }
        path = f"/v1/admin/question-pools/{pool}/questions/w{i:03d}"
        assert api("PUT", path, staff, {"body": body, "topic": "mots"})[0] == 200
        assert api("POST", f"{path}/publish", staff)[0] == 200


def _exam(pool: str, count: int, title: str = "Examen maison") -> dict[str, Any]:
    return {
        "course": "language",
        "language": "fr",
        "level": "B1",
        "title": title,
        "duration_minutes": 20,
        "passing_score": 50,
        "credit_cost": 1,
        "components": [
            {
                "key": "vocabulary",
                "name": "Vocabulaire",
                "pass_mark": 50,
                "sources": [{"pool": pool, "count": count}],
            }
        ],
    }


@pytest.fixture
def staff(database_url: str, principal: Any) -> Any:
    return principal(Role.ASSISTANTE)


@pytest.fixture
def student(database_url: str, principal: Any) -> Any:
    who = principal(Role.ELEVE)
    sid = identity.resolve_user(who).student_id
    assert sid is not None
    ledger.grant(ledger.wallet_of(sid), 20, LotKind.PURCHASE, key="pack", purpose="pack")
    return who


def _start(who: Any, code: str) -> tuple[int, Any]:
    return helpers.call(
        "exam_start", "POST", f"/v1/exams/{code}/attempts", who, {}, key=str(uuid.uuid4())
    )


def test_staff_write_a_pool_and_an_exam_and_students_sit_it(staff: Any, student: Any) -> None:
    pool, code = f"P{uuid.uuid4().hex[:8].upper()}", f"E{uuid.uuid4().hex[:8].upper()}"
    _pool_with(staff, pool, 6)
    status, listed = api("GET", f"/v1/admin/question-pools/{pool}/questions?limit=4", staff)
    assert status == 200 and len(listed["items"]) == 4 and listed["next"]
    assert listed["items"][0]["body"]["prompt_html"] == "<p><strong>Mot 0</strong> ?</p>\n"
    rest = api("GET", f"/v1/admin/question-pools/{pool}/questions?cursor={listed['next']}", staff)
    assert rest[0] == 200, rest
    assert [i["name"] for i in rest[1]["items"]] == ["w004", "w005"] and rest[1]["next"] is None

    assert api("PUT", f"/v1/admin/exams/{code}/draft", staff, _exam(pool, 4))[0] == 200
    assert _start(student, code)[1]["code"] == "EXAM_NOT_FOUND"  # a draft is not in the catalogue
    status, published = api("POST", f"/v1/admin/exams/{code}/publish", staff)
    assert status == 200 and published["version"] == 1
    assert api("POST", f"/v1/admin/exams/{code}/publish", staff)[1]["version"] == 1  # once

    status, attempt = _start(student, code)
    assert status == 201 and len(attempt["questions"]) == 4
    assert all(x["type"] == "single" and "answer" not in x for x in attempt["questions"])
    stored = db.read_one(
        "SELECT questions, exam_version FROM exam_attempts WHERE id = %s", (attempt["id"],)
    )
    assert stored is not None and stored["exam_version"] == 1
    answers = {x["id"]: x["answer"] for x in stored["questions"]}
    status, result = helpers.call(
        "exam_submit",
        "POST",
        f"/v1/attempts/{attempt['id']}/submit",
        student,
        {"attempt_token": attempt["attempt_token"], "answers": answers},
    )
    assert status == 200 and result["score"] == 100 and result["passed"]


def test_a_published_question_is_frozen_and_editing_it_makes_the_next_version(
    staff: Any,
) -> None:
    pool = f"P{uuid.uuid4().hex[:8].upper()}"
    _pool_with(staff, pool, 1)
    path = f"/v1/admin/question-pools/{pool}/questions/w000"
    edited = {
        "body": {"type": "truefalse", "prompt": "<script>alert(1)</script> Vrai ?", "answer": True}
    }

    status, draft = api("PUT", path, staff, edited)

    assert status == 200 and (draft["version"], draft["status"]) == (2, "DRAFT")
    assert "<script>" not in draft["body"]["prompt_html"]
    assert "&lt;script&gt;" in draft["body"]["prompt_html"]
    with pytest.raises(psycopg.errors.RaiseException):
        db.connection().execute(
            """UPDATE questions SET body = '{}' WHERE pool_code = %s AND version = 1""", (pool,)
        )
    assert api("POST", f"{path}/publish", staff)[1]["version"] == 2
    versions = (
        db.connection()
        .execute(
            "SELECT version, status FROM questions WHERE pool_code = %s ORDER BY version", (pool,)
        )
        .fetchall()
    )
    assert [(v["version"], v["status"]) for v in versions] == [(1, "SUPERSEDED"), (2, "PUBLISHED")]


def test_an_exam_asking_more_than_its_pool_holds_is_not_published(staff: Any) -> None:
    pool, code = f"P{uuid.uuid4().hex[:8].upper()}", f"E{uuid.uuid4().hex[:8].upper()}"
    _pool_with(staff, pool, 2)
    api("PUT", f"/v1/admin/exams/{code}/draft", staff, _exam(pool, 3))

    status, problem = api("POST", f"/v1/admin/exams/{code}/publish", staff)

    assert (status, problem["code"], problem["live"], problem["draws"]) == (
        409,
        "POOL_TOO_SMALL",
        2,
        3,
    )
    assert db.read_one("SELECT 1 AS x FROM exam_definitions WHERE code = %s", (code,)) is None


def test_an_attempt_keeps_its_version_through_a_concurrent_publish(
    staff: Any, principal: Any
) -> None:
    pool, code = f"P{uuid.uuid4().hex[:8].upper()}", f"E{uuid.uuid4().hex[:8].upper()}"
    _pool_with(staff, pool, 8)
    api("PUT", f"/v1/admin/exams/{code}/draft", staff, _exam(pool, 3, "Version un"))
    api("POST", f"/v1/admin/exams/{code}/publish", staff)
    from reussite.exams import service as exams

    exams._definitions.clear()
    students = []
    for _ in range(6):
        who = principal(Role.ELEVE)
        sid = identity.resolve_user(who).student_id
        assert sid is not None
        ledger.grant(ledger.wallet_of(sid), 5, LotKind.PURCHASE, key="pack", purpose="pack")
        students.append(who)
    api("PUT", f"/v1/admin/exams/{code}/draft", staff, _exam(pool, 5, "Version deux"))
    barrier = threading.Barrier(len(students) + 1)

    def start(who: Any) -> tuple[int, Any]:
        barrier.wait()
        try:
            return _start(who, code)
        finally:
            db.release()

    def publish() -> tuple[int, Any]:
        barrier.wait()
        try:
            return api("POST", f"/v1/admin/exams/{code}/publish", staff)
        finally:
            db.release()

    with ThreadPoolExecutor(len(students) + 1) as pool_:
        published = pool_.submit(publish)
        started = list(pool_.map(start, students))

    assert published.result()[1]["version"] == 2
    for status, attempt in started:
        assert status == 201
        row = db.read_one(
            "SELECT exam_version, jsonb_array_length(questions) AS n FROM exam_attempts "
            "WHERE id = %s",
            (attempt["id"],),
        )
        assert row is not None and row["n"] == {1: 3, 2: 5}[row["exam_version"]]
    exams._definitions.clear()
    status, later = _start(principal_with_credits(principal), code)
    assert status == 201 and len(later["questions"]) == 5


def principal_with_credits(principal: Any) -> Any:
    who = principal(Role.ELEVE)
    sid = identity.resolve_user(who).student_id
    assert sid is not None
    ledger.grant(ledger.wallet_of(sid), 5, LotKind.PURCHASE, key="pack", purpose="pack")
    return who


def test_a_retired_exam_leaves_the_catalogue_and_its_attempts_stay_readable(
    staff: Any, student: Any
) -> None:
    pool, code = f"P{uuid.uuid4().hex[:8].upper()}", f"E{uuid.uuid4().hex[:8].upper()}"
    _pool_with(staff, pool, 3)
    api("PUT", f"/v1/admin/exams/{code}/draft", staff, _exam(pool, 2))
    api("POST", f"/v1/admin/exams/{code}/publish", staff)
    from reussite.exams import service as exams

    exams._definitions.clear()
    attempt = _start(student, code)[1]

    assert api("POST", f"/v1/admin/exams/{code}/retire", staff)[1]["active"] is False
    exams._definitions.clear()
    assert _start(student, code)[1]["code"] in ("EXAM_NOT_FOUND", "ATTEMPT_IN_PROGRESS")
    listed = api("GET", "/v1/exams?limit=100", student)[1]["items"]
    assert code not in [e["code"] for e in listed]
    assert api("GET", f"/v1/attempts/{attempt['id']}", student)[0] == 200


def test_only_staff_author(principal: Any, database_url: str) -> None:
    for role in (Role.ELEVE, Role.PARENT, Role.COACH):
        status, problem = api(
            "PUT", "/v1/admin/question-pools/NOPE", principal(role), {"title": "x"}
        )
        assert (status, problem["code"]) == (403, "FORBIDDEN")


# -- autosave, review, extra time, catalogue ---------------------------------------------------


def _published_exam(staff: Any, questions: int, draws: int, **changes: Any) -> str:
    pool, code = f"P{uuid.uuid4().hex[:8].upper()}", f"E{uuid.uuid4().hex[:8].upper()}"
    _pool_with(staff, pool, questions)
    assert (
        api("PUT", f"/v1/admin/exams/{code}/draft", staff, _exam(pool, draws) | changes)[0] == 200
    )
    assert api("POST", f"/v1/admin/exams/{code}/publish", staff)[0] == 200
    return code


def _keys(attempt_id: str) -> dict[str, int]:
    row = db.read_one("SELECT questions FROM exam_attempts WHERE id = %s", (attempt_id,))
    assert row is not None
    return {x["id"]: x["answer"] for x in row["questions"]}


def _save(who: Any, attempt: dict[str, Any], answers: dict[str, Any]) -> tuple[int, Any]:
    body = {"attempt_token": attempt["attempt_token"], "answers": answers}
    return helpers.call("exam_submit", "PUT", f"/v1/attempts/{attempt['id']}/answers", who, body)


def test_saved_answers_are_what_an_autosubmit_grades(staff: Any, student: Any) -> None:
    from reussite.exams import service as exams

    code = _published_exam(staff, 4, 4, overdue_policy="autosubmit")
    attempt = _start(student, code)[1]
    keys = _keys(attempt["id"])
    first, second = sorted(keys)[:2]

    assert _save(student, attempt, {first: keys[first]})[1]["saved"] == 1
    status, saved = _save(student, attempt, {second: keys[second], first: keys[first]})
    assert status == 200 and saved["saved"] == 2  # saved again: the same two, once each
    assert _save(student, attempt, {"q99": 0})[1]["code"] == "UNKNOWN_QUESTIONS"
    db.connection().execute(
        "UPDATE exam_attempts SET deadline_at = now() - interval '1 hour',"
        " started_at = now() - interval '2 hours' WHERE id = %s",
        (attempt["id"],),
    )
    exams.sweep()

    row = db.read_one("SELECT status, score FROM exam_attempts WHERE id = %s", (attempt["id"],))
    assert row == {"status": "GRADED", "score": 50}  # two of four saved right, none lost


def test_a_save_racing_the_submit_never_changes_the_graded_answers(
    staff: Any, student: Any
) -> None:
    code = _published_exam(staff, 6, 6)
    attempt = _start(student, code)[1]
    keys = _keys(attempt["id"])
    wrong = {k: (v + 1) % 3 for k, v in keys.items()}
    stop = threading.Event()
    answers: list[int] = []

    def keep_saving() -> None:
        try:
            while not stop.is_set():
                answers.append(_save(student, attempt, wrong)[0])
        finally:
            db.release()

    saver = threading.Thread(target=keep_saving)
    saver.start()
    try:
        status, result = helpers.call(
            "exam_submit",
            "POST",
            f"/v1/attempts/{attempt['id']}/submit",
            student,
            {"attempt_token": attempt["attempt_token"], "answers": keys},
        )
        later = _save(student, attempt, wrong)
    finally:
        stop.set()
        saver.join()

    assert status == 200 and result["score"] == 100
    assert later[0] == 409 and later[1]["code"] == "ATTEMPT_CLOSED"
    assert set(answers) <= {200, 409} and 500 not in answers
    row = db.read_one("SELECT score, answers FROM exam_attempts WHERE id = %s", (attempt["id"],))
    assert row is not None and row["score"] == 100 and row["answers"] == keys


@pytest.mark.parametrize("policy", ["none", "score", "marks", "answers"])
def test_the_review_follows_the_policy_and_never_shows_the_key_early(
    staff: Any, student: Any, policy: str
) -> None:
    code = _published_exam(staff, 3, 3, review_policy=policy)
    attempt = _start(student, code)[1]
    keys = _keys(attempt["id"])
    early = api("GET", f"/v1/attempts/{attempt['id']}/review", student)
    assert early[0] == 409 and "answer" not in str(early[1]).replace("answers", "")
    one = sorted(keys)[0]
    helpers.call(
        "exam_submit",
        "POST",
        f"/v1/attempts/{attempt['id']}/submit",
        student,
        {"attempt_token": attempt["attempt_token"], "answers": {one: keys[one]}},
    )

    status, seen = api("GET", f"/v1/attempts/{attempt['id']}/review", student)

    if policy == "none":
        assert (status, seen["code"]) == (409, "REVIEW_NOT_AVAILABLE")
        return
    assert status == 200 and seen["score"] == 33 and seen["policy"] == policy
    if policy == "score":
        assert seen["questions"] is None
        return
    marks = {x["id"]: x for x in seen["questions"]}
    assert marks[one]["right"] and not any(m["right"] for k, m in marks.items() if k != one)
    assert all((m["correct"] is not None) == (policy == "answers") for m in marks.values())
    if policy == "answers":
        assert all(m["correct"] == keys[k] for k, m in marks.items())
    staff_view = api("GET", f"/v1/attempts/{attempt['id']}/review", staff)[1]
    assert staff_view["policy"] == "answers"


def test_extra_time_moves_the_deadline_on_the_server(staff: Any, student: Any) -> None:
    code = _published_exam(staff, 2, 2)  # 20 minutes
    sid = identity.resolve_user(student).student_id
    grant = {"exam_code": code, "extra_percent": 50, "reason": "tiers-temps (PAP)"}
    status, granted = api("PUT", f"/v1/admin/students/{sid}/exam-accommodations", staff, grant)
    assert status == 200 and granted["extra_percent"] == 50
    everywhere = {"extra_minutes": 5, "reason": "dyslexie"}
    assert api("PUT", f"/v1/admin/students/{sid}/exam-accommodations", staff, everywhere)[0] == 200

    attempt = _start(student, code)[1]

    row = db.read_one(
        "SELECT extract(epoch FROM deadline_at - started_at)::int AS s FROM exam_attempts"
        " WHERE id = %s",
        (attempt["id"],),
    )
    assert row is not None and abs(row["s"] - 30 * 60) <= 1  # the exam's own grant wins
    refused = api("PUT", f"/v1/admin/students/{sid}/exam-accommodations", student, grant)
    assert refused[0] == 403


def test_an_exam_reads_with_whether_the_caller_may_start_it(
    staff: Any, student: Any, principal: Any
) -> None:
    code = _published_exam(staff, 2, 2)

    status, exam = api("GET", f"/v1/exams/{code}", student)

    assert status == 200 and exam["may_start"] and exam["why_not"] is None
    assert exam["components"] == [
        {"key": "vocabulary", "name": "Vocabulaire", "pass_mark": 50, "questions": 2}
    ]
    broke = principal(Role.ELEVE)
    assert api("GET", f"/v1/exams/{code}", broke)[1]["why_not"] == "INSUFFICIENT_CREDITS"
    attempt = _start(student, code)[1]
    opened = api("GET", f"/v1/exams/{code}", student)[1]
    assert opened["why_not"] == "ATTEMPT_IN_PROGRESS" and opened["open_attempt_id"] == attempt["id"]
    wine = api("GET", "/v1/exams?course=wine", student)[1]["items"]
    assert wine and {e["course"] for e in wine} == {"wine"}
    assert api("GET", "/v1/exams/NOPE-1", student)[1]["code"] == "EXAM_NOT_FOUND"


# -- Moodle XML and GIFT -----------------------------------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures" / "questions"


def _import(staff: Any, pool: str, fmt: str, document: str, publish: bool = True) -> Any:
    from reussite_local import functions
    from reussite_local.events import http_api_event
    from reussite_local.tokens import principal_claims

    event = http_api_event(
        "POST",
        f"/v1/admin/question-pools/{pool}/import",
        claims=principal_claims(staff),
        query=f"format={fmt}&publish={'true' if publish else 'false'}",
        headers={"Content-Type": "text/xml" if fmt == "moodle" else "text/plain"},
    )
    event["body"] = document
    result = functions.invoke(helpers.FUNCTIONS["exams_api"], event)
    return result["statusCode"], json.loads(result["body"])


def test_a_moodle_file_with_every_type_imports_and_round_trips(staff: Any) -> None:
    from reussite.exams import formats

    document = (FIXTURES / "every-type.xml").read_text()
    parsed = formats.parse_moodle(document)
    assert [p.spec["body"]["type"] for p in parsed] == [
        "single",
        "multiple",
        "multiple",
        "truefalse",
        "shortanswer",
        "numerical",
        "matching",
        "ordering",
        "cloze",
    ]
    first = parsed[0]
    assert first.name == "capitale-de-la-tunisie" and first.spec["topic"] == "grammaire"
    assert first.spec["body"]["prompt"] == "Quelle est la **capitale** de la Tunisie ?"
    assert first.spec["tags"] == ["géographie"]
    cloze = parsed[-1].spec["body"]
    assert cloze["prompt"] == "Je {1} à Tunis et tu {2} à Paris."
    assert cloze["gaps"] == [
        {"answers": ["vis", "habite"]},
        {"answers": ["vis"], "options": ["vis", "vit", "vivent"]},
    ]
    pool = f"P{uuid.uuid4().hex[:8].upper()}"
    api("PUT", f"/v1/admin/question-pools/{pool}", staff, {"title": "Import"})

    status, imported = _import(staff, pool, "moodle", document)

    assert status == 200 and (imported["saved"], imported["published"]) == (9, 9)
    again = _import(staff, pool, "moodle", document)[1]
    assert (again["saved"], again["unchanged"]) == (0, 9)  # the same file changes nothing
    round_trip = formats.parse_moodle(_raw_export(staff, pool))
    original = {p.name: p.spec["body"] for p in parsed}
    returned = {p.name: p.spec["body"] for p in round_trip}
    for name, body in original.items():
        stored = formats.check([formats.Parsed(1, None, name, {"body": body})])[0].spec["body"]
        assert _normal(returned[name]) == _normal(stored), name


def _raw_export(staff: Any, pool: str) -> str:
    from reussite_local import functions
    from reussite_local.events import http_api_event
    from reussite_local.tokens import principal_claims

    event = http_api_event(
        "GET", f"/v1/admin/question-pools/{pool}/export", claims=principal_claims(staff)
    )
    result = functions.invoke(helpers.FUNCTIONS["exams_api"], event)
    assert result["headers"]["content-type"].startswith("application/xml")
    return str(result["body"])


def _normal(body: dict[str, Any]) -> dict[str, Any]:
    """A body as the API stores it (defaults filled in), to compare two of them."""
    from pydantic import TypeAdapter

    return dict(TypeAdapter(q.Body).validate_python(body).model_dump(mode="json"))


def test_a_gift_file_with_every_type_it_can_say_imports(staff: Any) -> None:
    from reussite.exams import formats

    parsed = formats.parse_gift((FIXTURES / "every-type.gift").read_text())

    kinds = {p.name: p.spec["body"] for p in parsed}
    assert [b["type"] for b in kinds.values()] == [
        "single",
        "multiple",
        "truefalse",
        "shortanswer",
        "numerical",
        "numerical",
        "matching",
        "cloze",
        "cloze",
        "truefalse",
    ]
    assert kinds["capitale"]["options"] == ["Tunis", "Sfax", "Sousse"]
    assert kinds["pairs"]["answers"] == [0, 2] and kinds["pairs"]["scoring"] == "partial"
    assert (kinds["intervalle"]["answer"], kinds["intervalle"]["tolerance"]) == ("3", "1")
    assert kinds["vivre"] == {
        "type": "cloze",
        "prompt": "Je {1} à Tunis.",
        "gaps": [{"answers": ["vis", "habite"]}],
    }
    assert kinds["choisir"]["gaps"][0]["options"] == ["vit", "vis", "vivent"]
    assert kinds["echappe"]["prompt"] == "Combien font 1 = 1 : vrai ?"
    assert all(p.spec["topic"] == "vocabulaire" for p in parsed)
    pool = f"P{uuid.uuid4().hex[:8].upper()}"
    api("PUT", f"/v1/admin/question-pools/{pool}", staff, {"title": "GIFT"})
    document = (FIXTURES / "every-type.gift").read_text()
    assert _import(staff, pool, "gift", document)[1]["published"] == 10


def test_a_file_with_problems_imports_nothing_and_names_each_one(staff: Any) -> None:
    pool = f"P{uuid.uuid4().hex[:8].upper()}"
    api("PUT", f"/v1/admin/question-pools/{pool}", staff, {"title": "Erreurs"})
    gift = (
        "::Bon:: Deux et deux ? {=quatre ~cinq}\n\n"
        "::Sans réponse:: Quoi ? {~a ~b}\n\n"
        "::Deux blocs:: {=a} et {=b}\n\n"
        "::Bon aussi:: Vrai ? {T}\n"
    )
    status, problem = _import(staff, pool, "gift", gift)

    assert (status, problem["code"]) == (422, "IMPORT_FAILED")
    assert [(e["question"], e["line"]) for e in problem["errors"]] == [(2, 3), (3, 5)]
    assert "no answer is marked right" in problem["errors"][0]["error"]
    count = db.read_one("SELECT count(*) AS n FROM questions WHERE pool_code = %s", (pool,))
    assert count == {"n": 0}  # nothing half-imported
    xml = (
        '<quiz><question type="essay"><name><text>E</text></name>'
        "<questiontext><text>Écrivez.</text></questiontext></question>"
        '<question type="multichoice"><name><text>M</text></name>'
        '<questiontext><text>?</text></questiontext><answer fraction="50"><text>a</text>'
        "</answer></question></quiz>"
    )
    problem = _import(staff, pool, "moodle", xml)[1]
    assert [e["question"] for e in problem["errors"]] == [1, 2]
    assert "essay" in problem["errors"][0]["error"]
    for hostile in ("<quiz", '<!DOCTYPE x [<!ENTITY a "b">]><quiz/>', "\xff"):
        status, problem = _import(staff, pool, "moodle", hostile)
        assert status == 422 and problem["code"] in ("IMPORT_FAILED", "VALIDATION_FAILED")


def _true_false_exam(staff: Any, title: str, names: tuple[str, ...]) -> str:
    """A published exam drawing every one of `names`, each a true/false question answered True."""
    pool, code = f"P{uuid.uuid4().hex[:8].upper()}", f"E{uuid.uuid4().hex[:8].upper()}"
    api("PUT", f"/v1/admin/question-pools/{pool}", staff, {"title": title})
    for name in names:
        body = {"type": "truefalse", "prompt": f"{name} ?", "answer": True}
        path = f"/v1/admin/question-pools/{pool}/questions/{name}"
        api("PUT", path, staff, {"body": body})
        api("POST", f"{path}/publish", staff)
    exam = _exam(pool, len(names)) | {"passing_score": 60}
    api("PUT", f"/v1/admin/exams/{code}/draft", staff, exam)
    api("POST", f"/v1/admin/exams/{code}/publish", staff)
    return code


def _submit(who: Any, attempt: dict[str, Any], answers: dict[str, Any]) -> None:
    helpers.call(
        "exam_submit",
        "POST",
        f"/v1/attempts/{attempt['id']}/submit",
        who,
        {"attempt_token": attempt["attempt_token"], "answers": answers},
    )


def test_item_statistics_on_a_cohort_with_known_answers(staff: Any, principal: Any) -> None:
    code = _true_false_exam(staff, "Statistiques", ("anchor", "other", "bad", "easy", "good"))
    # Ten students: the five strong ones get "anchor", "other" and "good" right, the five weak
    # ones get "bad" right; everyone gets "easy" right.
    for i in range(10):
        who = principal_with_credits(principal)
        attempt = _start(who, code)[1]
        strong = i >= 5
        answers = {
            x["id"]: {
                "anchor": strong,
                "other": strong,
                "good": strong,
                "bad": not strong,
                "easy": True,
            }[x["prompt"].split()[0]]
            for x in attempt["questions"]
        }
        _submit(who, attempt, answers)

    status, stats = api("GET", f"/v1/admin/exams/{code}/statistics", staff)

    assert status == 200 and stats["attempts"] == 10 and stats["version"] == 1
    assert stats["pass_rate"] == 50.0 and stats["mean_score"] == 60.0  # 80 % and 40 %
    by = {s["question"].split("/")[1].split("@")[0]: s for s in stats["questions"]}
    assert by["easy"]["facility"] == 100.0 and by["easy"]["discrimination"] is None
    assert by["good"]["facility"] == 50.0 and by["good"]["discrimination"] == 100.0
    assert not by["good"]["flagged"]
    assert by["bad"]["discrimination"] == -100.0 and by["bad"]["flagged"]
    levels = api("GET", "/v1/admin/exam-statistics/levels?course=language", staff)[1]
    assert any(row["level"] == "B1" and row["attempts"] >= 10 for row in levels)


def test_statistics_count_each_graded_attempt_once_whoever_folds_it(
    staff: Any, principal: Any
) -> None:
    """Four folders at once, a read and the attempt sweeper share the pending attempts: the
    running sums hold each graded attempt exactly once, and read as a direct count would."""
    from reussite.exams import folding

    code = _true_false_exam(staff, "Comptes", ("one", "two", "three"))
    right = {"one": 0, "two": 0, "three": 0}  # per question, how many got it right
    for i in range(12):  # student i answers the first i % 4 questions right
        who = principal_with_credits(principal)
        attempt = _start(who, code)[1]
        answers = {x["id"]: n < i % 4 for n, x in enumerate(attempt["questions"])}
        for n, x in enumerate(attempt["questions"]):
            right[x["prompt"].split()[0]] += n < i % 4
        _submit(who, attempt, answers)
    barrier = threading.Barrier(4)

    def folder(_: int) -> int:
        barrier.wait()
        folded = 0
        while done := folding.fold(code, 1, limit=2):
            folded += done
        return folded

    with ThreadPoolExecutor(max_workers=4) as pool_:
        folded = sum(pool_.map(folder, range(4)))
    swept = functions.invoke(helpers.FUNCTIONS["attempt_sweeper"], {})
    assert swept["debit_gap"] == 0  # and nothing of this exam was left to fold
    stats = api("GET", f"/v1/admin/exams/{code}/statistics", staff)[1]

    assert folded == 12
    assert stats["attempts"] == 12 and sum(s["asked"] for s in stats["questions"]) == 36
    facility = {
        q["question"].split("/")[1].split("@")[0]: q["facility"] for q in stats["questions"]
    }
    assert facility == {name: round(100 * n / 12, 1) for name, n in right.items()}
    counted = db.read_one(
        "SELECT count(*) AS n FROM exam_attempts WHERE exam_code = %s AND counted_at IS NULL",
        (code,),
    )
    assert counted == {"n": 0}
    who = principal_with_credits(principal)  # graded after the last fold: a read catches up
    _submit(who, _start(who, code)[1], {})
    assert api("GET", f"/v1/admin/exams/{code}/statistics", staff)[1]["attempts"] == 13


# -- the seeded catalogue ----------------------------------------------------------------------


def test_the_language_pools_migration_is_what_its_generator_writes() -> None:
    from reussite_local import language_pools

    migrations = Path(__file__).parents[1] / "layers/reussite/reussite/migrations"
    assert (migrations / "0021_language_pools.sql").read_text() == language_pools.migration()


def test_each_language_exam_draws_few_shared_questions_from_a_large_mixed_pool(
    database_url: str, capsys: Any
) -> None:
    from reussite.exams import service as exams

    overlaps = []
    for language in ("FR", "EN", "ES", "AR"):
        for level in ("A1", "A2", "B1", "B2", "C1", "C2"):
            code = f"{language}-{level}"
            pool = db.read_one(
                """SELECT count(*) AS n, count(DISTINCT type) AS types FROM questions
                    WHERE pool_code = %s AND status = 'PUBLISHED'""",
                (f"LANG-{code}",),
            )
            assert pool is not None and pool["n"] >= 40 and pool["types"] >= 3, code
            exams._definitions.clear()
            exam = exams.definition(code)
            assert exam.version >= 2
            drawn = [
                {(x["ref"]["pool"], x["ref"]["name"]) for x in exams.build_questions(exam, seed)}
                for seed in range(20)
            ]
            assert all(len(d) == 10 for d in drawn)
            pairs = [(a, b) for i, a in enumerate(drawn) for b in drawn[i + 1 :]]
            overlaps.append(sum(len(a & b) for a, b in pairs) / len(pairs) / 10)
    mean = sum(overlaps) / len(overlaps)
    with capsys.disabled():
        print(
            f"\nlanguage exams: two attempts share {100 * mean:.1f} % of their questions on "
            f"average (10 drawn of 42; {100 * max(overlaps):.1f} % at most for one exam)"
        )
    assert mean < 0.35


def test_sweepers_and_a_late_submit_racing_grade_the_saved_answers_once(
    staff: Any, student: Any
) -> None:
    from reussite.exams import service as exams

    code = _published_exam(staff, 4, 4, overdue_policy="autosubmit")
    attempt = _start(student, code)[1]
    keys = _keys(attempt["id"])
    assert _save(student, attempt, keys)[0] == 200  # everything saved right
    moved = db.read_one(
        """UPDATE exam_attempts SET started_at = now() - interval '2 hours',
                  deadline_at = now() - interval '1 hour'
            WHERE id = %s RETURNING id, student_id, started_at, deadline_at""",
        (attempt["id"],),
    )
    assert moved is not None
    from reussite.exams import tokens

    token = tokens.sign(moved["id"], moved["student_id"], moved["started_at"], moved["deadline_at"])
    barrier = threading.Barrier(4)

    def sweep(_: int) -> Any:
        barrier.wait()
        try:
            return exams.sweep()["autosubmitted"]
        finally:
            db.release()

    def submit() -> Any:
        barrier.wait()
        try:
            return helpers.call(
                "exam_submit",
                "POST",
                f"/v1/attempts/{attempt['id']}/submit",
                student,
                {"attempt_token": token, "answers": {}},
            )
        finally:
            db.release()

    with ThreadPoolExecutor(4) as pool_:
        late = pool_.submit(submit)
        swept = list(pool_.map(sweep, range(3)))

    status, answer = late.result()
    row = db.read_one(
        "SELECT status, score, finalised_by FROM exam_attempts WHERE id = %s", (attempt["id"],)
    )
    assert row == {"status": "GRADED", "score": 100, "finalised_by": "sweeper"}  # what was saved
    assert sum(swept) <= 1  # graded once: by a sweeper, or by the late submit closing it
    assert (status, answer["code"]) == (422, "DEADLINE_PASSED")
