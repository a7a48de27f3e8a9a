"""Conversations with ARIA: a student (or their parent, reading) in a subject their subscription
includes; each message spends one of the day's quota, is answered by the tutor from the
school's content, and is stored with its reply in one transaction after the tutor answered.

The quota is taken before the tutor is called (one guarded UPDATE: with k messages left, k
concurrent messages are answered and the others refused) and given back if the tutor fails;
no network call happens inside a transaction. The key is claimed in the same first
transaction (`aria_pending`), so a repeat arriving while the tutor answers waits for that
answer rather than calling the tutor again.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from reussite import db, pagination
from reussite.aria import content
from reussite.aria.models import (
    Conversation,
    ConversationFull,
    ConversationNotFound,
    ConversationPage,
    ConversationSummary,
    Entitlements,
    Feedback,
    Message,
    MessageNotFound,
    QuotaExceeded,
    Reply,
    SubjectNotIncluded,
)
from reussite.aria.tutor import Turn, Tutor, system_prompt
from reussite.errors import NotEligible, RequestInProgress
from reussite.idempotency import fingerprint, require_same
from reussite.identity.roles import STAFF_ROLES, Role
from reussite.settings import get_settings

if TYPE_CHECKING:
    from reussite.identity.models import User

_CHATTERS = (Role.ELEVE, Role.PARENT, *STAFF_ROLES)

# The student's live, paid subscription and what its plan includes.
_ENTITLEMENT = """
    SELECT s.id, s.aria_subjects || coalesce((SELECT array_agg(DISTINCT a.subject)
                                                 FROM aria_addons a
                                                WHERE a.subscription_id = s.id
                                                  AND a.paid_until > %(day)s), '{}')
               AS aria_subjects,
           p.aria_subjects AS included, p.aria_daily_messages AS daily,
           st.school_level,
           coalesce((SELECT used FROM aria_usage u
                      WHERE u.student_id = s.student_id AND u.day = %(day)s), 0) AS used
      FROM subscriptions s
      JOIN plans p ON p.code = s.plan_code
      JOIN students st ON st.id = s.student_id
     WHERE s.student_id = %(student)s AND s.status IN ('ACTIVE', 'PAST_DUE')
       AND EXISTS (SELECT 1 FROM orders o WHERE o.subscription_id = s.id AND o.status = 'PAID')
"""


def _today() -> date:
    return datetime.now(UTC).date()


def entitlements(user: User, student_id: UUID | None) -> Entitlements:
    """What the student may ask ARIA about today; 403 NOT_ELIGIBLE without a live subscription."""
    from reussite.identity import service as identity

    student = identity.acting_for(user, student_id, _CHATTERS, "ARIA is for families")
    row = _entitlement(db.connection(), student)
    return Entitlements(
        student_id=student,
        subjects=list(row["aria_subjects"]),
        included=row["included"],
        daily_messages=row["daily"],
        used_today=row["used"],
    )


def _entitlement(conn: db.Connection, student: UUID) -> dict[str, Any]:
    row = conn.execute(_ENTITLEMENT, {"student": student, "day": _today()}).fetchone()
    if row is None:
        raise NotEligible("ARIA comes with an active paid subscription")
    return dict(row)


def _require_subject(row: dict[str, Any], subject: str) -> None:
    if subject not in row["aria_subjects"]:
        raise SubjectNotIncluded(
            f"{subject} is not among the subscription's ARIA subjects",
            subject=subject,
            included=list(row["aria_subjects"]),
        )


def start(
    user: User,
    subject: str,
    student_id: UUID | None,
    school_level: str | None,
    key: str | None = None,
) -> ConversationSummary:
    """A new conversation in one of the student's subjects (its level: the one given, else
    the student's profile). The same key again answers the same conversation; with another
    request it is IDEMPOTENCY_KEY_REUSED (no key: scripts, never replayed)."""
    from reussite.identity import service as identity

    student = identity.acting_for(
        user, student_id, (Role.ELEVE, Role.PARENT), "Students (or their parents) talk to ARIA"
    )
    request = fingerprint(
        "aria.conversation", subject=subject, student=student, school_level=school_level
    )
    with db.transaction() as conn:
        row = _entitlement(conn, student)
        _require_subject(row, subject)
        created = conn.execute(
            f"""INSERT INTO aria_conversations (student_id, subject, school_level, title,
                                                created_by, idempotency_key, request_hash)
                VALUES (%s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (created_by, idempotency_key) DO NOTHING
                RETURNING {_CONVERSATION}""",
            (
                student,
                subject,
                school_level or row["school_level"],
                subject.title(),
                user.id,
                key,
                request,
            ),
        ).fetchone()
        if created is None:  # the key's first request (committed meanwhile, or before)
            created = conn.execute(
                f"""SELECT {_CONVERSATION}, request_hash FROM aria_conversations
                     WHERE created_by = %s AND idempotency_key = %s""",
                (user.id, key),
            ).fetchone()
            assert created is not None
            require_same(created.pop("request_hash"), request)
    return ConversationSummary.model_validate(created)


_CONVERSATION = """id, student_id, subject, school_level, title, messages, created_at,
    updated_at"""
_MESSAGE = "id, role, content, created_at, helpful"


def _conversation(conn: db.Connection, user: User, conversation_id: UUID) -> dict[str, Any]:
    """The conversation if the caller may read it (the student, their parents, staff); else
    the same 404 as an unknown one."""
    from reussite.identity import service as identity

    row = conn.execute(
        f"SELECT {_CONVERSATION} FROM aria_conversations WHERE id = %s", (conversation_id,)
    ).fetchone()
    if row is None:
        raise ConversationNotFound()
    try:
        identity.accessible_student(user, row["student_id"])
    except Exception as exc:
        raise ConversationNotFound() from exc
    return dict(row)


def read(user: User, conversation_id: UUID) -> Conversation:
    conn = db.connection()
    row = _conversation(conn, user, conversation_id)
    history = conn.execute(
        f"""SELECT {_MESSAGE} FROM aria_messages WHERE conversation_id = %s
             ORDER BY created_at, role DESC, id""",
        (conversation_id,),
    ).fetchall()
    return Conversation(**row, history=[Message.model_validate(m) for m in history])


def listing(
    user: User, student_id: UUID | None, limit: int, cursor: str | None
) -> ConversationPage:
    """The student's conversations (a parent's child's, or all their children's), the most
    recently active first, a page at a time (an opaque cursor)."""
    from reussite.identity import service as identity

    if student_id is not None:
        students = [identity.accessible_student(user, student_id)]
    elif user.role is Role.PARENT:
        children = db.connection().execute(
            "SELECT student_id FROM parent_students WHERE parent_id = %s", (user.id,)
        )
        students = [r["student_id"] for r in children]
    else:
        students = [identity.acting_for(user, None, (Role.ELEVE,), "Name the student")]
    after = pagination.decode("aria-conversations", cursor)
    rows = (
        db.connection()
        .execute(
            f"""SELECT {_CONVERSATION} FROM aria_conversations
                 WHERE student_id = ANY(%(students)s)
                   AND (%(at)s::timestamptz IS NULL OR (updated_at, id) < (%(at)s, %(id)s))
                 ORDER BY updated_at DESC, id DESC LIMIT %(limit)s""",
            {
                "students": students,
                "at": after[0] if after else None,
                "id": after[1] if after else None,
                "limit": limit + 1,
            },
        )
        .fetchall()
    )
    items = [ConversationSummary.model_validate(r) for r in rows[:limit]]
    more = len(rows) > limit
    return ConversationPage(
        items=items,
        next=pagination.encode("aria-conversations", items[-1].updated_at, items[-1].id)
        if more
        else None,
    )


# -- messages ----------------------------------------------------------------------------------


PENDING_WAIT_SECONDS = 25.0  # a repeat waits this long for its first request's reply
STALE_CLAIM_SECONDS = 60  # a claim this old belongs to a request that died: taken over


def send(tutor: Tutor, user: User, conversation_id: UUID, text: str, key: str) -> Reply:
    """The student's message and ARIA's reply. The same key again returns the same reply
    without calling the tutor (a repeat during the first waits for it); the same key for
    another message is IDEMPOTENCY_KEY_REUSED."""
    request = fingerprint("aria.message", conversation=conversation_id, text=text)
    deadline = time.monotonic() + PENDING_WAIT_SECONDS
    while True:
        outcome = _begin(user, conversation_id, text, key, request)
        if not isinstance(outcome, _Waiting):
            break
        if time.monotonic() > deadline:
            raise RequestInProgress()
        time.sleep(0.05)
    if isinstance(outcome, Reply):
        return outcome
    conversation, remaining, history = outcome
    turns = [Turn(h["role"], h["content"]) for h in reversed(history)] + [Turn("student", text)]
    pieces = content.retrieve(conversation["subject"], conversation["school_level"], text)
    system = system_prompt(conversation["subject"], conversation["school_level"], pieces)
    started = time.perf_counter()
    try:
        answer = tutor.answer(system, turns, pieces)
    except Exception:
        _release(user, key, conversation["student_id"])
        raise
    latency = round((time.perf_counter() - started) * 1000)
    _measure(conversation["subject"], latency, answer.tokens)
    return _store(user, conversation, text, key, request, answer, latency, remaining)


class _Waiting:
    """The key's first request is being answered."""


def _begin(
    user: User, conversation_id: UUID, text: str, key: str, request: str
) -> Reply | _Waiting | tuple[dict[str, Any], int, list[dict[str, Any]]]:
    """One transaction: the replay if the key was answered; waiting if it is being answered;
    else the checks, the claim of the key and one of the day's messages, and the history."""
    with db.transaction() as conn:
        conn.execute(
            """DELETE FROM aria_pending WHERE sent_by = %s AND idempotency_key = %s
                  AND claimed_at < clock_timestamp() - make_interval(secs => %s)""",
            (user.id, key, STALE_CLAIM_SECONDS),
        )
        claimed = conn.execute(
            """INSERT INTO aria_pending (sent_by, idempotency_key, request_hash)
               VALUES (%s, %s, %s) ON CONFLICT DO NOTHING RETURNING request_hash""",
            (user.id, key, request),
        ).fetchone()
        # Read after the claim: an answer committed before it is seen (the first request
        # stores its reply and drops its claim in one transaction).
        replayed = _replay(conn, user, key, request)
        if replayed is not None:
            if claimed is not None:
                conn.execute(
                    "DELETE FROM aria_pending WHERE sent_by = %s AND idempotency_key = %s",
                    (user.id, key),
                )
            return replayed
        if claimed is None:
            first = conn.execute(
                """SELECT request_hash FROM aria_pending
                    WHERE sent_by = %s AND idempotency_key = %s""",
                (user.id, key),
            ).fetchone()
            require_same(first["request_hash"] if first else None, request)
            return _Waiting()
        conversation = _conversation(conn, user, conversation_id)
        if user.role not in (Role.ELEVE, Role.PARENT):
            raise ConversationNotFound()  # staff read conversations, they do not write in them
        row = _entitlement(conn, conversation["student_id"])
        _require_subject(row, conversation["subject"])
        settings = get_settings()
        if conversation["messages"] + 2 > settings.aria_max_conversation_messages:
            raise ConversationFull()
        remaining = _take_quota(conn, conversation["student_id"], row["daily"])
        history = conn.execute(
            """SELECT role, content FROM aria_messages WHERE conversation_id = %s
                ORDER BY created_at DESC, role LIMIT %s""",
            (conversation_id, 2 * settings.aria_history_turns),
        ).fetchall()
    return conversation, remaining, list(history)


def _release(user: User, key: str, student: UUID) -> None:
    """The tutor failed: the key is free again and the day's message given back."""
    with db.transaction() as conn:
        conn.execute(
            "DELETE FROM aria_pending WHERE sent_by = %s AND idempotency_key = %s",
            (user.id, key),
        )
        conn.execute(
            """UPDATE aria_usage SET used = used - 1
                WHERE student_id = %s AND day = %s AND used > 0""",
            (student, _today()),
        )


def _replay(conn: db.Connection, user: User, key: str, request: str) -> Reply | None:
    first = conn.execute(
        f"""SELECT {_MESSAGE}, conversation_id, request_hash FROM aria_messages
             WHERE sent_by = %s AND idempotency_key = %s""",
        (user.id, key),
    ).fetchone()
    if first is None:
        return None
    require_same(first["request_hash"], request)
    reply = conn.execute(
        f"SELECT {_MESSAGE} FROM aria_messages WHERE reply_to = %s", (first["id"],)
    ).fetchone()
    student = conn.execute(
        "SELECT student_id FROM aria_conversations WHERE id = %s", (first["conversation_id"],)
    ).fetchone()
    assert reply is not None and student is not None
    left = _remaining(conn, student["student_id"])
    return Reply(
        conversation_id=first["conversation_id"],
        message=Message.model_validate(first),
        reply=Message.model_validate(reply),
        remaining_today=left,
    )


def _take_quota(conn: db.Connection, student: UUID, daily: int) -> int:
    """One of today's messages, or 429 with the seconds until midnight UTC."""
    taken = conn.execute(
        """INSERT INTO aria_usage (student_id, day, used) VALUES (%(s)s, %(d)s, 1)
           ON CONFLICT (student_id, day) DO UPDATE SET used = aria_usage.used + 1
            WHERE aria_usage.used < %(daily)s
           RETURNING used""",
        {"s": student, "d": _today(), "daily": daily},
    ).fetchone()
    if taken is None or taken["used"] > daily:
        tomorrow = datetime.combine(_today() + timedelta(days=1), datetime.min.time(), UTC)
        wait = int((tomorrow - datetime.now(UTC)).total_seconds()) + 1
        raise QuotaExceeded(f"{daily} messages a day", daily=daily, retry_after=wait)
    return daily - int(taken["used"])


def _remaining(conn: db.Connection, student: UUID) -> int:
    row = _entitlement(conn, student)
    return max(0, int(row["daily"]) - int(row["used"]))


def _store(
    user: User,
    conversation: dict[str, Any],
    text: str,
    key: str,
    request: str,
    answer: Any,
    latency: int,
    remaining: int,
) -> Reply:
    with db.transaction() as conn:
        mine = conn.execute(
            f"""INSERT INTO aria_messages (conversation_id, role, content, idempotency_key,
                       sent_by, request_hash)
                VALUES (%s, 'student', %s, %s, %s, %s)
                ON CONFLICT (sent_by, idempotency_key) DO NOTHING RETURNING {_MESSAGE}""",
            (conversation["id"], text, key, user.id, request),
        ).fetchone()
        if mine is None:  # answered meanwhile by a request that took over a stale claim
            conn.execute(
                """UPDATE aria_usage SET used = used - 1
                    WHERE student_id = %s AND day = %s AND used > 0""",
                (conversation["student_id"], _today()),
            )
            replayed = _replay(conn, user, key, request)
            assert replayed is not None
            return replayed
        conn.execute(
            "DELETE FROM aria_pending WHERE sent_by = %s AND idempotency_key = %s",
            (user.id, key),
        )
        reply = conn.execute(
            f"""INSERT INTO aria_messages (conversation_id, role, content, reply_to, model,
                       latency_ms, tokens)
                VALUES (%s, 'aria', %s, %s, %s, %s, %s) RETURNING {_MESSAGE}""",
            (
                conversation["id"],
                content.sanitise(answer.text) or "…",
                mine["id"],
                answer.model,
                latency,
                answer.tokens,
            ),
        ).fetchone()
        title = text if conversation["messages"] == 0 else None
        conn.execute(
            """UPDATE aria_conversations SET messages = messages + 2, updated_at = now(),
                      title = coalesce(%s, title) WHERE id = %s""",
            (title[:80] if title else None, conversation["id"]),
        )
    return Reply(
        conversation_id=conversation["id"],
        message=Message.model_validate(mine),
        reply=Message.model_validate(reply),
        remaining_today=remaining,
    )


def _measure(subject: str, latency_ms: int, tokens: int) -> None:
    with single_metric(name="AriaMessages", unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension(name="subject", value=subject)
    with single_metric(
        name="AriaModelLatency", unit=MetricUnit.Milliseconds, value=latency_ms
    ) as metric:
        metric.add_dimension(name="subject", value=subject)
    if tokens:
        with single_metric(name="AriaTokens", unit=MetricUnit.Count, value=tokens) as metric:
            metric.add_dimension(name="subject", value=subject)


def feedback(user: User, message_id: UUID, helpful: bool) -> Feedback:
    """👍/👎 on one of ARIA's answers, by the conversation's student or their parent; asking
    again changes it (the last answer wins)."""
    with db.transaction() as conn:
        row = conn.execute(
            """SELECT m.id, c.id AS conversation_id FROM aria_messages m
                 JOIN aria_conversations c ON c.id = m.conversation_id
                WHERE m.id = %s AND m.role = 'aria'""",
            (message_id,),
        ).fetchone()
        if row is None or user.role not in (Role.ELEVE, Role.PARENT):
            raise MessageNotFound()
        try:
            conversation = _conversation(conn, user, row["conversation_id"])
        except ConversationNotFound as exc:
            raise MessageNotFound() from exc
        done = conn.execute(
            """UPDATE aria_messages SET helpful = %s, feedback_at = now() WHERE id = %s
               RETURNING id AS message_id, helpful, feedback_at""",
            (helpful, message_id),
        ).fetchone()
    with single_metric(
        name="AriaHelpful" if helpful else "AriaUnhelpful", unit=MetricUnit.Count, value=1
    ) as metric:
        metric.add_dimension(name="subject", value=conversation["subject"])
    return Feedback.model_validate(done)
