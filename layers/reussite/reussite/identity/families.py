"""A family signs up in one step: the parent's profile and their children, in one transaction,
then the welcome email (written in the same transaction, sent after it). Profiles are updated
by the parent; a second parent joins the family with a one-time, expiring invitation code."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from reussite import audit, db, emails, outbox
from reussite.codes import cleaned, grouped, random_code
from reussite.errors import NotFound
from reussite.idempotency import fingerprint, require_same
from reussite.identity.access import require_role
from reussite.identity.models import CreatedStudent, Role, User
from reussite.identity.roles import STAFF_ROLES
from reussite.settings import get_settings

_CODE_LENGTH = 12
_INVITATION_DAYS = 7


class InvitationInvalid(NotFound):
    code = "INVITATION_INVALID"
    title = "This invitation code is unknown, expired or already used"


class ChildSignedUp(BaseModel):
    student_id: UUID
    display_name: str
    school_level: str | None
    school: str | None
    link_code: str | None
    link_code_expires_at: datetime | None


class Family(BaseModel):
    parent_id: UUID
    name: str
    phone: str | None
    language: str
    children: list[ChildSignedUp]


class Invitation(BaseModel):
    code: str
    expires_at: datetime


class Joined(BaseModel):
    children: list[UUID]


class Profile(BaseModel):
    id: UUID
    name: str | None
    phone: str | None
    language: str


def sign_up(
    parent: User,
    name: str,
    phone: str | None,
    language: str,
    children: list[dict[str, Any]],
    key: str,
) -> Family:
    """The parent's profile and every child, once per key: a repeat (even ten at once) answers
    the same family (with fresh link codes for the children not linked yet, as create_child
    does) and owes one welcome email; another request with the key is IDEMPOTENCY_KEY_REUSED."""
    from reussite.identity import service as identity

    require_role(parent, Role.PARENT, refusal="A parent signs the family up")
    request_hash = fingerprint(
        "families.sign_up", name=name, phone=phone, language=language, children=children
    )
    with db.transaction() as conn:
        # The parent's row first: sign-ups (and their repeats) go one at a time, and the lock
        # order is the same as provisioning's (users, then what refers to it).
        conn.execute("SELECT 1 FROM users WHERE id = %s FOR NO KEY UPDATE", (parent.id,))
        first = conn.execute(
            """INSERT INTO family_signups (parent_id, idempotency_key, request_hash)
               VALUES (%s, %s, %s) ON CONFLICT DO NOTHING RETURNING request_hash""",
            (parent.id, key, request_hash),
        ).fetchone()
        if first is None:  # a repeat: after the first committed (its row lock), the same family
            recorded = conn.execute(
                """SELECT request_hash FROM family_signups
                    WHERE parent_id = %s AND idempotency_key = %s""",
                (parent.id, key),
            ).fetchone()
            require_same(recorded["request_hash"] if recorded else None, request_hash)
        conn.execute(
            """UPDATE users SET profile_name = %s, phone = %s, language = %s, updated_at = now()
                WHERE id = %s""",
            (name, phone, language, parent.id),
        )
        made = []
        for n, child in enumerate(children):
            child_hash = fingerprint("families.child", **child)
            created = identity.add_child(
                conn,
                parent,
                child["display_name"],
                f"signup:{key}:{n}",
                child_hash,
                child.get("school_level"),
                child.get("school"),
            )
            made.append(_signed_up(created, child))
        _owe_welcome(conn, parent, name, language, [c.display_name for c in made])
    outbox.flush(keys=[_welcome_key(parent.id)])
    return Family(parent_id=parent.id, name=name, phone=phone, language=language, children=made)


def _signed_up(created: CreatedStudent, child: dict[str, Any]) -> ChildSignedUp:
    return ChildSignedUp(
        student_id=created.student_id,
        display_name=created.display_name,
        school_level=child.get("school_level"),
        school=child.get("school"),
        link_code=created.link_code,
        link_code_expires_at=created.link_code_expires_at,
    )


def _welcome_key(parent_id: UUID) -> str:
    return f"welcome:{parent_id}"


def _owe_welcome(
    conn: db.Connection, parent: User, name: str, language: str, children: list[str]
) -> None:
    settings = get_settings()
    link = settings.free_bilan_url or "/bilan-gratuit"
    emails.owe(
        conn,
        _welcome_key(parent.id),
        [emails.Recipient(parent.email or "", language)],
        "welcome",
        {"name": name, "children": children, "link": link},
    )


def update_profile(
    user: User, name: str | None, phone: str | None, language: str | None
) -> Profile:
    """Any signed-in user updates their own name (as shown), phone and language."""
    with db.transaction() as conn:
        row = conn.execute(
            """UPDATE users SET profile_name = coalesce(%s, profile_name),
                      phone = coalesce(%s, phone), language = coalesce(%s, language),
                      updated_at = now()
                WHERE id = %s
            RETURNING id, coalesce(profile_name, name) AS name, phone, language""",
            (name, phone, language, user.id),
        ).fetchone()
    return Profile.model_validate(row)


def update_child(
    user: User,
    student_id: UUID,
    display_name: str | None,
    school_level: str | None,
    school: str | None,
) -> ChildSignedUp:
    """A parent (or staff) updates a child's name, level and school."""
    from reussite.identity import service as identity

    identity.acting_for(
        user, student_id, (Role.PARENT, *STAFF_ROLES), "A child's profile is the parent's"
    )
    with db.transaction() as conn:
        row = conn.execute(
            """UPDATE students SET display_name = coalesce(%s, display_name),
                      school_level = coalesce(%s, school_level), school = coalesce(%s, school)
                WHERE id = %s
            RETURNING id AS student_id, display_name, school_level, school""",
            (display_name, school_level, school, student_id),
        ).fetchone()
        audit.record(conn, user.id, "student.update", f"student:{student_id}")
    return ChildSignedUp.model_validate(
        dict(row or {}) | {"link_code": None, "link_code_expires_at": None}
    )


def invite(parent: User) -> Invitation:
    """A code for a second parent to join this parent's family (one use, 7 days)."""
    require_role(parent, Role.PARENT, refusal="A parent invites the other parent")
    code = random_code(_CODE_LENGTH)
    expires_at = datetime.now(UTC) + timedelta(days=_INVITATION_DAYS)
    with db.transaction() as conn:
        conn.execute(
            """INSERT INTO family_invitations (code_hash, parent_id, expires_at)
               VALUES (%s, %s, %s)""",
            (_hash(code), parent.id, expires_at),
        )
        audit.record(conn, parent.id, "family.invite", f"user:{parent.id}")
    return Invitation(code=grouped(code), expires_at=expires_at)


def join(parent: User, code: str) -> Joined:
    """The second parent, signed in, enters the code: they become a parent of every child of
    the inviting parent. A code works once, before it expires, even under concurrent use."""
    require_role(parent, Role.PARENT, refusal="A parent joins a family")
    with db.transaction() as conn:
        invitation = conn.execute(
            """UPDATE family_invitations SET used_at = now(), used_by = %s
                WHERE code_hash = %s AND used_at IS NULL AND expires_at > now()
                  AND parent_id <> %s
            RETURNING parent_id""",
            (parent.id, _hash(cleaned(code)), parent.id),
        ).fetchone()
        if invitation is None:
            raise InvitationInvalid()
        rows = conn.execute(
            """INSERT INTO parent_students (parent_id, student_id)
               SELECT %s, student_id FROM parent_students WHERE parent_id = %s
               ON CONFLICT DO NOTHING RETURNING student_id""",
            (parent.id, invitation["parent_id"]),
        ).fetchall()
        audit.record(conn, parent.id, "family.join", f"user:{invitation['parent_id']}")
    return Joined(children=[r["student_id"] for r in rows])


def _hash(code: str) -> bytes:
    return hashlib.sha256(code.encode()).digest()
