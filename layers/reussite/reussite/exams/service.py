"""Timed exams: the catalogue, starting an attempt (one debit, in the same transaction),
submitting it (graded on the server from the questions stored with it) and reading it."""

from __future__ import annotations

import hashlib
import json
import random
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import psycopg

from reussite import db
from reussite.errors import (
    AlreadySubmitted,
    AttemptClosed,
    AttemptInProgress,
    AttemptNotFound,
    AttemptTokenInvalid,
    DeadlinePassed,
    DomainError,
    ExamNotFound,
    FeatureDisabled,
    IdempotencyKeyReused,
    PremiumRequired,
    StudentNotFound,
    UnknownQuestions,
)
from reussite.exams import generators, grading, tokens
from reussite.exams.models import (
    Attempt,
    ComponentScore,
    ExamDefinition,
    ExamSummary,
    PublicQuestion,
)
from reussite.exams.scoring import public
from reussite.identity.roles import Role
from reussite.ledger import service as ledger
from reussite.observability import logger
from reussite.settings import get_settings

if TYPE_CHECKING:
    from reussite.history import Page
    from reussite.identity.models import User

_OFFER_RANK = {"free": 0, "pro": 1}
_ATTEMPT_COLUMNS = """id, student_id, exam_code, exam_version, status, seed, questions,
    started_at, deadline_at, debit_entry_id, submitted_at, answers, submission_hash, score,
    passed, component_scores, certificate_requested_at, finalised_by, saved_answers, saved_at,
    (SELECT d.level FROM exam_definitions d WHERE d.code = exam_code) AS level,
    (SELECT c.code FROM certificates c WHERE c.attempt_id = exam_attempts.id) AS certificate_code"""

_NEW_ATTEMPT = dict.fromkeys(
    ("submitted_at", "score", "passed", "component_scores", "certificate_requested_at")
)

# -- catalogue ---------------------------------------------------------------------------------


def catalogue(
    user: User,
    cursor: str | None,
    limit: int,
    language: str | None = None,
    level: str | None = None,
    course: str | None = None,
) -> Page[ExamSummary]:
    """Active exams by code, optionally by course, language and level; empty while the rollout
    excludes the user."""
    from reussite import flags
    from reussite.history import Page, paged

    if not flags.enabled(flags.EXAM_AND_CERTIFICATE, user):
        return Page[ExamSummary](items=[])
    rows, following = paged(
        "exams",
        """SELECT t.id, t.code, t.course, t.language, t.level, t.title, t.duration_minutes,
                  t.passing_score, t.credit_cost, t.min_offer
             FROM (SELECT *, code AS id FROM exam_definitions) t
            WHERE t.active AND (%(language)s::text IS NULL OR t.language = lower(%(language)s))
              AND (%(level)s::text IS NULL OR t.level = upper(%(level)s))
              AND (%(course)s::text IS NULL OR t.course = lower(%(course)s)) AND {keyset}
            ORDER BY t.code LIMIT %(limit)s""",
        {"language": language, "level": level, "course": course},
        cursor,
        limit,
        cast="::text",
        column="code",
        ascending=True,
        column_type="text",
    )
    items = [ExamSummary(**{k: v for k, v in row.items() if k != "id"}) for row in rows]
    return Page[ExamSummary](items=items, next=following)


@dataclass(frozen=True)
class ExamDetail:
    code: str
    course: str
    language: str | None
    level: str
    title: str
    duration_minutes: int
    passing_score: int
    credit_cost: int
    min_offer: str
    overdue_policy: str
    review_policy: str
    version: int
    components: list[dict[str, Any]]  # key, name, pass_mark, questions
    may_start: bool
    why_not: str | None  # the code a start would answer: FEATURE_DISABLED, PREMIUM_REQUIRED…
    open_attempt_id: UUID | None = None


def exam_detail(user: User, code: str, student_id: UUID | None = None) -> ExamDetail:
    """One active exam: its components, time, cost and review policy, and whether the caller
    (a student, or a parent for `student_id`) may start it now, and if not, why."""
    from reussite import flags
    from reussite.identity import service as identity

    exam = definition(code)
    why_not, open_id = None, None
    if not flags.enabled(flags.EXAM_AND_CERTIFICATE, user):
        why_not = "FEATURE_DISABLED"
    elif user.role not in (Role.ELEVE, Role.PARENT):
        why_not = "FORBIDDEN"
    else:
        try:
            student = identity.acting_for(
                user, student_id, (Role.ELEVE, Role.PARENT), "A student, or a parent for a child"
            )
        except DomainError as refused:  # a parent who did not say which child, say
            return _detail(exam, refused.code, None)
        found = db.read_one(
            _WALLET_AND_OFFER,
            {"student": student, "exam": code},
        )
        opened = db.read_one(
            """SELECT id FROM exam_attempts WHERE student_id = %s AND exam_code = %s
                 AND status = 'IN_PROGRESS'""",
            (student, code),
        )
        if found is None:
            why_not = "STUDENT_NOT_FOUND"
        elif _OFFER_RANK[found["offer"]] < _OFFER_RANK[exam.min_offer]:
            why_not = "PREMIUM_REQUIRED"
        elif opened is not None:
            why_not, open_id = "ATTEMPT_IN_PROGRESS", opened["id"]
        elif found["balance"] < exam.credit_cost:
            why_not = "INSUFFICIENT_CREDITS"
    return _detail(exam, why_not, open_id)


def _detail(exam: ExamDefinition, why_not: str | None, open_id: UUID | None) -> ExamDetail:
    return ExamDetail(
        code=exam.code,
        course=exam.course,
        language=exam.language,
        level=exam.level,
        title=exam.title,
        duration_minutes=exam.duration_minutes,
        passing_score=exam.passing_score,
        credit_cost=exam.credit_cost,
        min_offer=exam.min_offer,
        overdue_policy=exam.overdue_policy,
        review_policy=exam.review_policy,
        version=exam.version,
        components=[
            {
                "key": c["key"],
                "name": c["name"],
                "pass_mark": c["pass_mark"],
                "questions": sum(int(src["count"]) for src in c["sources"]),
            }
            for c in exam.components
        ],
        may_start=why_not is None,
        why_not=why_not,
        open_attempt_id=open_id,
    )


# The student's wallet, offer (that of a live subscription's plan, else free) and extra time
# for this exam (one granted for it, else one for every exam), in one read.
_WALLET_AND_OFFER = """
    SELECT w.id AS wallet_id, w.balance,
           coalesce((SELECT p.offer FROM subscriptions s JOIN plans p ON p.code = s.plan_code
                      WHERE s.student_id = w.student_id
                        AND s.status IN ('ACTIVE', 'PAST_DUE')), 'free') AS offer,
           (SELECT jsonb_build_object('percent', a.extra_percent, 'minutes', a.extra_minutes)
              FROM exam_accommodations a
             WHERE a.student_id = w.student_id AND (a.exam_code = %(exam)s OR a.exam_code IS NULL)
             ORDER BY a.exam_code NULLS LAST LIMIT 1) AS extra
      FROM wallets w WHERE w.student_id = %(student)s
"""


def allowed_seconds(exam: ExamDefinition, extra: dict[str, int] | None) -> int:
    """The attempt's time: the exam's duration, plus the student's extra time if granted."""
    seconds = exam.duration_minutes * 60
    if extra:
        seconds += seconds * int(extra.get("percent", 0)) // 100 + 60 * int(extra.get("minutes", 0))
    return seconds


DEFINITION_TTL_SECONDS = 60
_definitions: dict[str, tuple[float, ExamDefinition]] = {}


def definition(code: str) -> ExamDefinition:
    """An active exam's definition; kept a minute per container (the catalogue is data that
    changes by migration or back office, not per request)."""
    cached = _definitions.get(code)
    if cached is not None and time.monotonic() - cached[0] < DEFINITION_TTL_SECONDS:
        return cached[1]
    exam = _load_definition(code)
    _definitions[code] = (time.monotonic(), exam)
    return exam


_known: dict[str, float] = {}


def refuse_unknown(code: str) -> None:
    """404 for a code no exam ever had, before the idempotency store is asked (a retired
    exam's code passes: a replay of a start made before it retired still answers the first
    attempt). Known codes are kept a minute per container."""
    seen = _known.get(code)
    if seen is not None and time.monotonic() - seen < DEFINITION_TTL_SECONDS:
        return
    if db.read_one("SELECT 1 FROM exam_definitions WHERE code = %s", (code,)) is None:
        raise ExamNotFound(f"No active exam {code[:40]!r}")
    _known[code] = time.monotonic()


def _load_definition(code: str) -> ExamDefinition:
    row = db.read_one(
        f"SELECT {_DEFINITION_COLUMNS} FROM exam_definitions WHERE code = %s AND active",
        (code,),
    )
    if row is None:
        raise ExamNotFound(f"No active exam {code[:40]!r}")
    return ExamDefinition(**row)


_DEFINITION_COLUMNS = """code, course, language, level, title, duration_minutes, passing_score,
    credit_cost, min_offer, components, overdue_policy, grace_minutes, review_policy, version"""


def build_questions(
    exam: ExamDefinition, seed: int, conn: db.Connection | None = None
) -> list[dict[str, Any]]:
    """The attempt's questions, answer keys included, fully determined by the exam, the seed
    and (for pool sources) the pools' live questions at the start."""
    from reussite.exams import bank

    rng = random.Random(seed)
    questions: list[dict[str, Any]] = []
    for component in exam.components:
        for source in component["sources"]:
            drawn = (
                bank.draw(conn or db.connection(), rng, source)
                if "pool" in source
                else generators.from_source(rng, source)
            )
            for question in drawn:
                questions.append(
                    {"id": f"q{len(questions) + 1}", "component": component["key"], **question}
                )
    return questions


# -- start -------------------------------------------------------------------------------------


def start(user: User, code: str, key: str, student_id: UUID | None = None) -> Attempt:
    """Start an attempt: one transaction locks the wallet, returns the open attempt if any,
    debits the exam's cost and creates the attempt; if anything fails nothing is debited.
    A replay of the same key returns the first attempt as it was created, from the database
    (the front door stores no answer for a start); the key reused for another exam or another
    student is refused."""
    from reussite import flags

    if not flags.enabled(flags.EXAM_AND_CERTIFICATE, user):
        raise FeatureDisabled("Exams are not open to your account yet")
    from reussite.identity import service as identity

    student = identity.acting_for(
        user,
        student_id,
        (Role.ELEVE, Role.PARENT),
        "Only a student, or a parent for their child, starts an exam",
    )
    exam = definition(code)
    paying = db.read_one(_WALLET_AND_OFFER, {"student": student, "exam": code})
    if paying is None:
        raise StudentNotFound("No wallet for this student")
    wallet_id, offer = paying["wallet_id"], paying["offer"]
    if _OFFER_RANK[offer] < _OFFER_RANK[exam.min_offer]:
        raise PremiumRequired(
            f"{exam.title} needs the {exam.min_offer} offer",
            exam=code,
            required_offer=exam.min_offer,
            current_offer=offer,
        )
    # Drawn before the wallet is locked (published questions do not change), so the lock is
    # held only for the ledger's and the attempt's own statements.
    seed = secrets.randbits(62)
    drawn = build_questions(exam, seed)
    stored, seconds = json.dumps(drawn), allowed_seconds(exam, paying["extra"])
    ledger_key, purpose = f"exam-start:{key}", f"exam:{code}"
    with db.transaction() as conn:
        first = ledger.lock(conn, wallet_id, ledger_key)
        if first["entry_id"] is not None:
            return _replay(conn, first, purpose)
        open_id = (
            db.tuples(conn)
            .execute(  # its id only: a start almost always finds none
                """SELECT id FROM exam_attempts
                WHERE student_id = %s AND exam_code = %s AND status = 'IN_PROGRESS' FOR UPDATE""",
                (student, code),
            )
            .fetchone()
        )
        if open_id is not None:
            open_attempt = conn.execute(
                f"""SELECT {_ATTEMPT_COLUMNS}, clock_timestamp() AS now FROM exam_attempts
                     WHERE id = %s""",
                (open_id[0],),
            ).fetchone()
            assert open_attempt is not None  # locked above
            attempt_exam = _definition_any(
                conn, open_attempt["exam_code"], open_attempt["exam_version"]
            )
            if open_attempt["now"] <= _closes_at(attempt_exam, open_attempt["deadline_at"]):
                raise AttemptInProgress(attempt=_jsonable(_view(open_attempt, with_token=True)))
            # Its time is over and the sweeper has not passed yet: closed here, as it would
            # have been, and the new attempt starts.
            _finalise_overdue(conn, open_attempt, attempt_exam)
        debit = ledger.spend_locked(conn, wallet_id, exam.credit_cost, ledger_key, purpose, user.id)
        try:
            row = (
                db.tuples(conn)
                .execute(
                    """INSERT INTO exam_attempts (student_id, exam_code, exam_version, status, seed,
                                               questions, deadline_at, debit_entry_id, started_by,
                                               start_key)
                    VALUES (%s, %s, %s, 'IN_PROGRESS', %s, %s, now() + make_interval(secs => %s),
                            %s, %s, %s)
                    RETURNING id, started_at, deadline_at""",
                    (
                        student,
                        code,
                        exam.version,
                        seed,
                        stored,
                        seconds,
                        debit.entry_id,
                        user.id,
                        key,
                    ),
                )
                .fetchone()
            )
        except psycopg.errors.UniqueViolation as exc:  # the caller's key, on another
            if exc.diag.constraint_name != "exam_attempts_start_key":  # student's attempt
                raise
            raise IdempotencyKeyReused() from None  # the debit rolls back with it
    assert row is not None
    # the rest of a new attempt's row is known here: not read back while the wallet is locked
    started = {
        **_NEW_ATTEMPT,
        **dict(zip(("id", "started_at", "deadline_at"), row, strict=True)),
        "student_id": student,
        "exam_code": code,
        "status": "IN_PROGRESS",
        "questions": drawn,
        "level": exam.level,
        "certificate_code": None,
    }
    return _view(started, with_token=True, balance=debit.balance)


def _replay(conn: db.Connection, first: dict[str, Any], purpose: str) -> Attempt:
    if first["kind"] != "SPEND" or first["purpose"] != purpose:
        raise IdempotencyKeyReused()
    row = conn.execute(
        f"SELECT {_ATTEMPT_COLUMNS} FROM exam_attempts WHERE debit_entry_id = %s",
        (first["entry_id"],),
    ).fetchone()
    assert row is not None, "every exam debit has its attempt"
    return _view(row, with_token=True, balance=first["balance_after"])


# -- submit ------------------------------------------------------------------------------------


def submit(user: User, attempt_id: UUID, token: str, answers: dict[str, Any]) -> Attempt:
    """Grade the attempt from its stored questions, once. The same submission again returns the
    same result; other answers after that are refused. Past the deadline (plus the server's
    grace, plus the exam's grace minutes when its policy is `grace`), answers are not counted
    and the exam's overdue policy decides."""
    digest = hashlib.sha256(json.dumps(answers, sort_keys=True, default=str).encode()).hexdigest()
    late = False
    with db.transaction() as conn:
        row = _locked_attempt(conn, user, attempt_id, token)
        if row["status"] != "IN_PROGRESS":
            if row["status"] == "GRADED" and row["submission_hash"] == digest:
                return _view(row)
            if row["finalised_by"] == "sweeper":  # time ran out before any submission
                raise DeadlinePassed(attempt=_jsonable(_view(row)))
            raise AlreadySubmitted(attempt=_jsonable(_view(row)))
        unknown = sorted(set(answers) - {q["id"] for q in row["questions"]})
        if unknown:
            raise UnknownQuestions(questions=unknown[:20])
        exam = _definition_any(conn, row["exam_code"], row["exam_version"])
        if row["now"] > _closes_at(exam, row["deadline_at"]):
            row = _finalise_overdue(conn, row, exam)
            late = True
        else:  # what was saved during the attempt counts, unless answered again now
            final = (row["saved_answers"] or {}) | answers
            row = _grade(conn, row, exam, final, digest, "student")
    from reussite import webhooks

    webhooks.dispatch_for("attempt.graded", f"attempt:{row['id']}")
    if late:
        raise DeadlinePassed(attempt=_jsonable(_view(row)))
    if row["passed"] and request_certificate(row):
        row = {**row, "certificate_requested_at": row["submitted_at"]}
    return _view(row)


def _locked_attempt(
    conn: db.Connection, user: User, attempt_id: UUID, token: str
) -> dict[str, Any]:
    """The attempt under its row lock, for its student or their parent holding its token
    (404 for anyone else, 403 ATTEMPT_TOKEN_INVALID for a wrong token)."""
    row = conn.execute(
        f"""SELECT {_ATTEMPT_COLUMNS}, clock_timestamp() AS now FROM exam_attempts
             WHERE id = %s FOR UPDATE""",
        (attempt_id,),
    ).fetchone()
    if row is None or not may_act_for(user, row["student_id"]):
        raise AttemptNotFound()
    if not tokens.verify(
        token, row["id"], row["student_id"], row["started_at"], row["deadline_at"]
    ):
        raise AttemptTokenInvalid()
    return dict(row)


@dataclass(frozen=True)
class Saved:
    attempt_id: UUID
    saved: int  # answers the attempt holds now
    saved_at: datetime


def save_answers(user: User, attempt_id: UUID, token: str, answers: dict[str, Any]) -> Saved:
    """Keep answers during an attempt, under its row lock: a save and a submit (or the sweeper)
    run one after the other, so a save never changes a graded attempt and a submit never loses
    what was saved. Each answer saved again replaces the one before."""
    with db.transaction() as conn:
        row = _locked_attempt(conn, user, attempt_id, token)
        exam = _definition_any(conn, row["exam_code"], row["exam_version"])
        if row["status"] != "IN_PROGRESS" or row["now"] > _closes_at(exam, row["deadline_at"]):
            raise AttemptClosed(attempt_status=row["status"])
        unknown = sorted(set(answers) - {q["id"] for q in row["questions"]})
        if unknown:
            raise UnknownQuestions(questions=unknown[:20])
        saved = conn.execute(
            """UPDATE exam_attempts
                  SET saved_answers = coalesce(saved_answers, '{}'::jsonb) || %s::jsonb,
                      saved_at = clock_timestamp()
                WHERE id = %s
            RETURNING saved_at, (SELECT count(*) FROM jsonb_object_keys(saved_answers)) AS n""",
            (json.dumps(answers, default=str), attempt_id),
        ).fetchone()
    assert saved is not None
    return Saved(attempt_id=attempt_id, saved=int(saved["n"]), saved_at=saved["saved_at"])


def _closes_at(exam: ExamDefinition, deadline: datetime) -> datetime:
    grace = timedelta(seconds=get_settings().submit_grace_seconds)
    if exam.overdue_policy == "grace":
        grace += timedelta(minutes=exam.grace_minutes)
    return deadline + grace


def _grade(
    conn: db.Connection,
    row: dict[str, Any],
    exam: ExamDefinition,
    answers: dict[str, Any],
    digest: str | None,
    by: str,
) -> dict[str, Any]:
    result = grading.grade(row["questions"], answers, exam.components, exam.passing_score)
    graded = conn.execute(
        f"""UPDATE exam_attempts
               SET status = 'GRADED', submitted_at = clock_timestamp(), answers = %s,
                   submission_hash = %s, score = %s, passed = %s, component_scores = %s,
                   finalised_by = %s, question_credits = %s
             WHERE id = %s RETURNING {_ATTEMPT_COLUMNS}""",
        (
            json.dumps(answers, default=str),
            digest,
            result.score,
            result.passed,
            json.dumps(result.components),
            by,
            json.dumps(result.credits),
            row["id"],
        ),
    ).fetchone()
    assert graded is not None
    from reussite import webhooks

    webhooks.emit(
        conn,
        "attempt.graded",
        f"attempt:{graded['id']}",
        {
            "attempt_id": graded["id"],
            "student_id": graded["student_id"],
            "exam_code": graded["exam_code"],
            "exam_version": graded["exam_version"],
            "score": graded["score"],
            "passed": graded["passed"],
            "finalised_by": by,
        },
    )
    return graded


def _finalise_overdue(
    conn: db.Connection, row: dict[str, Any], exam: ExamDefinition
) -> dict[str, Any]:
    """Past the deadline: autosubmit grades what was saved (nothing counts), the others close
    the attempt as OVERDUE (grace period over) or ABANDONED."""
    if exam.overdue_policy == "autosubmit":  # what was saved is graded
        return _grade(conn, row, exam, row["saved_answers"] or {}, None, "sweeper")
    status = "OVERDUE" if exam.overdue_policy == "grace" else "ABANDONED"
    closed = conn.execute(
        f"""UPDATE exam_attempts SET status = %s, finalised_by = 'sweeper'
             WHERE id = %s RETURNING {_ATTEMPT_COLUMNS}""",
        (status, row["id"]),
    ).fetchone()
    assert closed is not None
    return closed


# Published versions never change: each is read once per container (a bounded few).
_versions: dict[tuple[str, int], ExamDefinition] = {}
MAX_CACHED_VERSIONS = 256


def _definition_any(conn: db.Connection, code: str, version: int) -> ExamDefinition:
    """The version of an exam an attempt started on, even if the exam was edited or withdrawn
    from the catalogue since."""
    cached = _versions.get((code, version))
    if cached is not None:
        return cached
    row = conn.execute(
        "SELECT definition FROM exam_versions WHERE exam_code = %s AND version = %s",
        (code, version),
    ).fetchone()
    assert row is not None
    found = definition_of(row["definition"], version)
    if len(_versions) >= MAX_CACHED_VERSIONS:
        _versions.pop(next(iter(_versions)))
    _versions[(code, version)] = found
    return found


def definition_of(stored: dict[str, Any], version: int) -> ExamDefinition:
    fields = {f for f in ExamDefinition.__dataclass_fields__ if f != "version"}
    return ExamDefinition(**{k: v for k, v in stored.items() if k in fields}, version=version)


# -- reading and sweeping ----------------------------------------------------------------------


def get_attempt(user: User, attempt_id: UUID) -> Attempt:
    """The student, their parents and staff see an attempt; anyone else gets a 404."""
    row = db.read_one(f"SELECT {_ATTEMPT_COLUMNS} FROM exam_attempts WHERE id = %s", (attempt_id,))
    if row is None or not (user.is_staff or may_act_for(user, row["student_id"])):
        raise AttemptNotFound()
    return _view(row, with_token=row["status"] == "IN_PROGRESS" and not user.is_staff)


def sweep(limit: int = 500) -> dict[str, int]:
    """Finalise attempts left open past their closing time, per their exam's overdue policy;
    re-send certificate requests that could not be sent. Idempotent."""
    counts = {"autosubmitted": 0, "overdue": 0, "abandoned": 0, "certificates_requested": 0}
    due = (
        db.connection()
        .execute(
            """SELECT a.id FROM exam_attempts a JOIN exam_definitions d ON d.code = a.exam_code
            WHERE a.status = 'IN_PROGRESS'
              AND a.deadline_at + make_interval(secs => %s)
                  + make_interval(mins => CASE d.overdue_policy WHEN 'grace'
                                               THEN d.grace_minutes ELSE 0 END)
                  < clock_timestamp()
            ORDER BY a.deadline_at LIMIT %s""",
            (get_settings().submit_grace_seconds, limit),
        )
        .fetchall()
    )
    for item in due:
        with db.transaction() as conn:
            row = conn.execute(
                f"""SELECT {_ATTEMPT_COLUMNS} FROM exam_attempts
                     WHERE id = %s AND status = 'IN_PROGRESS' FOR UPDATE SKIP LOCKED""",
                (item["id"],),
            ).fetchone()
            if row is None:
                continue  # submitted meanwhile, or being submitted now
            exam = _definition_any(conn, row["exam_code"], row["exam_version"])
            row = _finalise_overdue(conn, row, exam)
        counts[
            {"GRADED": "autosubmitted", "OVERDUE": "overdue"}.get(row["status"], "abandoned")
        ] += 1
    unsent = (
        db.connection()
        .execute(
            f"""SELECT {_ATTEMPT_COLUMNS} FROM exam_attempts
             WHERE passed AND certificate_requested_at IS NULL
               AND submitted_at < clock_timestamp() - interval '1 minute'
             LIMIT %s""",
            (limit,),
        )
        .fetchall()
    )
    for row in unsent:
        counts["certificates_requested"] += request_certificate(row)
    return counts


DEBIT_GAP_JOB = "exam_debit_gap"
DEBIT_GAP_MARGIN = timedelta(minutes=15)  # debits looked at again after a run (late commits)


def debit_gap(full: bool = True) -> int:
    """Exam debits without an attempt (attempts without a debit cannot exist: NOT NULL UNIQUE
    foreign key). Must stay 0. Not `full` (the 5-minute sweep): only the debits written since
    its last run (the hourly ledger check covers every wallet in its rolling pass)."""
    from reussite.ledger import jobs

    conn = db.connection()
    mark = None if full else jobs.watermark(conn, DEBIT_GAP_JOB)
    since = mark - DEBIT_GAP_MARGIN if mark else datetime.min.replace(tzinfo=UTC)
    row = conn.execute(
        """SELECT count(*) AS gap, now() AS at FROM ledger_entries e
            WHERE e.created_at >= %s AND e.kind = 'SPEND'
              AND e.idempotency_key LIKE 'exam-start:%%'
              AND NOT EXISTS (SELECT 1 FROM exam_attempts a WHERE a.debit_entry_id = e.id)""",
        (since,),
    ).fetchone()
    assert row is not None
    if not full:
        jobs.advance(conn, DEBIT_GAP_JOB, row["at"])
    return int(row["gap"])


def request_certificate(row: dict[str, Any]) -> int:
    """Queue the certificate of a passed attempt; the issuer is idempotent on the attempt, so a
    repeat after a lost acknowledgement is harmless. Returns 1 when sent."""
    from reussite.notifications import send_to_queue

    queue = get_settings().require("certificate_queue_url")
    try:
        send_to_queue(
            queue,
            {
                "attempt_id": str(row["id"]),
                "student_id": str(row["student_id"]),
                "exam_code": row["exam_code"],
                "score": row["score"],
            },
        )
    except Exception:  # the grade stands; the sweeper sends it again in a few minutes
        logger.exception("certificate request not sent", extra={"attempt_id": str(row["id"])})
        return 0
    db.connection().execute(
        "UPDATE exam_attempts SET certificate_requested_at = now() WHERE id = %s", (row["id"],)
    )
    return 1


def may_act_for(user: User, student_id: UUID) -> bool:
    from reussite.identity import service as identity

    if user.role is Role.ELEVE:
        return user.student_id == student_id
    if user.role is Role.PARENT:
        try:
            identity.accessible_student(user, student_id)
        except StudentNotFound:
            return False
        return True
    return False


def _view(row: dict[str, Any], with_token: bool = False, balance: int | None = None) -> Attempt:
    open_ = row["status"] == "IN_PROGRESS"
    return Attempt(
        id=row["id"],
        student_id=row["student_id"],
        exam_code=row["exam_code"],
        level=row["level"],
        status=row["status"],
        started_at=row["started_at"],
        deadline_at=row["deadline_at"],
        questions=[
            PublicQuestion(id=q["id"], component=q["component"], type=q["type"], **public(q))
            for q in row["questions"]
        ]
        if open_
        else [],
        attempt_token=tokens.sign(
            row["id"], row["student_id"], row["started_at"], row["deadline_at"]
        )
        if with_token and open_
        else None,
        balance=balance,
        submitted_at=row["submitted_at"],
        score=row["score"],
        passed=row["passed"],
        component_scores=[ComponentScore(**c) for c in row["component_scores"]]
        if row["component_scores"]
        else None,
        certificate_requested=row["certificate_requested_at"] is not None,
        certificate_code=row.get("certificate_code"),
    )


def _jsonable(attempt: Attempt) -> Any:
    from reussite.jsonable import jsonable

    return jsonable(attempt)
