"""Provisioning users from their token, student profiles, parent links and one-time link codes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import psycopg

from reussite import db
from reussite.codes import cleaned, grouped, random_code
from reussite.errors import (
    Forbidden,
    LinkCodeInvalid,
    LinkConflict,
    StudentAlreadyLinked,
    StudentNotFound,
)
from reussite.idempotency import fingerprint, require_same
from reussite.identity.access import require_role
from reussite.identity.models import (
    Child,
    CreatedStudent,
    LinkedStudent,
    Me,
    Principal,
    Role,
    User,
)
from reussite.settings import get_settings

_CODE_LENGTH = 12  # 60 random bits, single use, short-lived

_SELECT_USER = """
    SELECT u.id, u.sub, u.email, u.name, u.role, s.id AS student_id
      FROM users u LEFT JOIN students s ON s.user_id = u.id
     WHERE u.sub = %s
"""


def resolve_user(principal: Principal) -> User:
    """The user behind the token, provisioned on the first call and kept in step with the claims.

    The common case (a known user whose claims did not change) costs one indexed read.
    """
    row = db.read_one(_SELECT_USER, (principal.sub,))
    if row is not None:
        user = User.model_validate(row)
        in_step = (user.email, user.name, user.role) == (
            principal.email,
            principal.name,
            principal.role,
        )
        if in_step and (user.role is not Role.ELEVE or user.student_id is not None):
            return user
    return _provision(principal)


def _provision(principal: Principal) -> User:
    with db.transaction() as conn:
        conn.execute(
            """INSERT INTO users (sub, email, name, role) VALUES (%s, %s, %s, %s)
               ON CONFLICT (sub) DO UPDATE
                  SET email = EXCLUDED.email, name = EXCLUDED.name, role = EXCLUDED.role,
                      updated_at = now()""",
            (principal.sub, principal.email, principal.name, principal.role.value),
        )
        # NO KEY UPDATE: rows naming this user (a sign-up, a child) only hold KEY SHARE on it.
        row = conn.execute(_SELECT_USER + " FOR NO KEY UPDATE OF u", (principal.sub,)).fetchone()
        assert row is not None
        if principal.role is Role.ELEVE and row["student_id"] is None:
            # An adult learner (or a child with their own login) pays for themselves.
            student = conn.execute(
                """INSERT INTO students (user_id, display_name, created_by, self_provisioned)
                   VALUES (%s, %s, %s, true) RETURNING id""",
                (row["id"], principal.name or principal.email or "Student", row["id"]),
            ).fetchone()
            assert student is not None
            conn.execute("INSERT INTO wallets (student_id) VALUES (%s)", (student["id"],))
            row["student_id"] = student["id"]
    return User.model_validate(row)


def describe(user: User) -> Me:
    """What `GET /v1/me` shows: the user, and their student profile or their children."""
    me = Me(id=user.id, role=user.role, email=user.email, name=user.name)
    if user.role is Role.ELEVE:
        me.student_id = user.student_id
    elif user.role is Role.PARENT:
        rows = (
            db.connection()
            .execute(
                """SELECT s.id AS student_id, s.display_name, s.user_id IS NOT NULL AS has_own_login
                 FROM parent_students ps JOIN students s ON s.id = ps.student_id
                WHERE ps.parent_id = %s ORDER BY ps.created_at, s.id""",
                (user.id,),
            )
            .fetchall()
        )
        me.children = [Child.model_validate(row) for row in rows]
    return me


def create_child(parent: User, display_name: str, key: str | None = None) -> CreatedStudent:
    """A parent creates a student profile (with its wallet) and gets a one-time link code.

    The same key again replays the same profile (no key: seeds and scripts, never replayed).
    The link code is kept only as a hash, so a replay cannot show the first one: it replaces a
    code not used yet with a fresh one (the first answer was probably lost, and the parent needs
    a code that works) and shows none once the child has linked their login. The same key for
    another name is IDEMPOTENCY_KEY_REUSED.
    """
    require_role(parent, Role.PARENT, refusal="Only a parent creates profiles for their children")
    request_hash = fingerprint("create_student", display_name=display_name)
    with db.transaction() as conn:
        return add_child(conn, parent, display_name, key, request_hash)


def add_child(
    conn: db.Connection,
    parent: User,
    display_name: str,
    key: str | None,
    request_hash: str,
    school_level: str | None = None,
    school: str | None = None,
) -> CreatedStudent:
    """In the caller's transaction: the child's profile, the parent's link to it, its wallet
    and a link code; a repeat of the key replays it (see create_child)."""
    code = random_code(_CODE_LENGTH)
    expires_at = datetime.now(UTC) + timedelta(hours=get_settings().link_code_ttl_hours)
    # A concurrent first request with the same key waits here for the other to commit, then
    # reads its profile: one child, one wallet.
    student = conn.execute(
        """INSERT INTO students (display_name, created_by, idempotency_key, request_hash,
                                 school_level, school)
           VALUES (%s, %s, %s, %s, %s, %s)
           ON CONFLICT (created_by, idempotency_key) DO NOTHING RETURNING id""",
        (display_name, parent.id, key, request_hash, school_level, school),
    ).fetchone()
    if student is None:
        assert key is not None  # only a key can conflict
        return _replay_child(conn, parent, key, request_hash, code, expires_at)
    conn.execute(
        "INSERT INTO parent_students (parent_id, student_id) VALUES (%s, %s)",
        (parent.id, student["id"]),
    )
    conn.execute("INSERT INTO wallets (student_id) VALUES (%s)", (student["id"],))
    _issue_code(conn, student["id"], parent.id, code, expires_at)
    return CreatedStudent(
        student_id=student["id"],
        display_name=display_name,
        link_code=grouped(code),
        link_code_expires_at=expires_at,
    )


def _replay_child(
    conn: db.Connection,
    parent: User,
    key: str,
    request_hash: str,
    code: str,
    expires_at: datetime,
) -> CreatedStudent:
    first = conn.execute(
        """SELECT id, display_name, user_id, request_hash FROM students
            WHERE created_by = %s AND idempotency_key = %s FOR UPDATE""",
        (parent.id, key),
    ).fetchone()
    assert first is not None
    require_same(first["request_hash"], request_hash)
    if first["user_id"] is not None:
        return CreatedStudent(student_id=first["id"], display_name=first["display_name"])
    conn.execute(
        "DELETE FROM student_link_codes WHERE student_id = %s AND used_at IS NULL", (first["id"],)
    )
    _issue_code(conn, first["id"], parent.id, code, expires_at)
    return CreatedStudent(
        student_id=first["id"],
        display_name=first["display_name"],
        link_code=grouped(code),
        link_code_expires_at=expires_at,
    )


def _issue_code(
    conn: db.Connection, student_id: UUID, parent_id: UUID, code: str, expires_at: datetime
) -> None:
    conn.execute(
        """INSERT INTO student_link_codes (code_hash, student_id, created_by, expires_at)
           VALUES (%s, %s, %s, %s)""",
        (_hash(code), student_id, parent_id, expires_at),
    )


def link_own_login(user: User, code: str) -> LinkedStudent:
    """A student signed in with their own login takes over the profile their parent created.

    The student's self-provisioned profile is dropped; if it already has activity (anything
    referring to its wallet or profile), the link is refused and nothing changes.
    """
    require_role(user, Role.ELEVE, refusal="Only a student links their own login to a profile")
    try:
        with db.transaction() as conn:
            link = conn.execute(
                """SELECT c.student_id, s.user_id, s.display_name
                     FROM student_link_codes c JOIN students s ON s.id = c.student_id
                    WHERE c.code_hash = %s AND c.used_at IS NULL AND c.expires_at > now()
                      FOR UPDATE""",
                (_hash(cleaned(code)),),
            ).fetchone()
            if link is None:
                raise LinkCodeInvalid()
            if link["user_id"] is not None:
                raise StudentAlreadyLinked()
            if user.student_id is not None:
                _drop_unused_profile(conn, user.student_id)
            conn.execute(
                "UPDATE students SET user_id = %s WHERE id = %s", (user.id, link["student_id"])
            )
            conn.execute(
                "UPDATE student_link_codes SET used_at = now(), used_by = %s WHERE code_hash = %s",
                (user.id, _hash(cleaned(code))),
            )
    except psycopg.errors.ForeignKeyViolation as exc:
        raise LinkConflict() from exc
    return LinkedStudent(student_id=link["student_id"], display_name=link["display_name"])


def _drop_unused_profile(conn: db.Connection, student_id: UUID) -> None:
    """Delete a self-provisioned profile that never held credits; anything else is a conflict.

    Rows elsewhere that refer to the profile or its wallet make the deletes fail (foreign keys).
    """
    wallet = conn.execute(
        "DELETE FROM wallets WHERE student_id = %s AND balance = 0 RETURNING id", (student_id,)
    ).fetchone()
    student = conn.execute(
        "DELETE FROM students WHERE id = %s AND self_provisioned RETURNING id", (student_id,)
    ).fetchone()
    if wallet is None or student is None:
        raise LinkConflict()


def accessible_student(user: User, student_id: UUID) -> UUID:
    """The student if the caller may act for them (self, parent, staff); else StudentNotFound.

    Unknown and foreign students look the same, so nobody learns which ids exist.
    """
    if user.is_staff:
        found = db.connection().execute("SELECT 1 FROM students WHERE id = %s", (student_id,))
    elif user.role is Role.ELEVE:
        return _require(student_id if student_id == user.student_id else None)
    elif user.role is Role.PARENT:
        found = db.connection().execute(
            "SELECT 1 FROM parent_students WHERE parent_id = %s AND student_id = %s",
            (user.id, student_id),
        )
    else:
        return _require(None)
    return _require(student_id if found.fetchone() else None)


def acting_for(user: User, student_id: UUID | None, roles: Iterable[Role], refusal: str) -> UUID:
    """The student a request acts for: the caller's own profile when none is named (a
    student), else a student the caller may act for (404 otherwise, like a stranger's). Callers
    whose role is not in `roles` are refused with `refusal` (403)."""
    require_role(user, *roles, refusal=refusal)
    if student_id is None:
        if user.role is Role.ELEVE and user.student_id is not None:
            return user.student_id
        raise Forbidden("Name the student this is for: student_id")
    return accessible_student(user, student_id)


def _require(student_id: UUID | None) -> UUID:
    if student_id is None:
        raise StudentNotFound()
    return student_id


def _hash(code: str) -> bytes:
    return hashlib.sha256(code.encode()).digest()
