"""Identity on real PostgreSQL: provisioning from claims, children, link codes, access rules."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from reussite import db
from reussite.errors import (
    Forbidden,
    LinkCodeInvalid,
    LinkConflict,
    StudentAlreadyLinked,
    StudentNotFound,
)
from reussite.identity import service
from reussite.identity.models import Principal, Role
from reussite.ledger import service as ledger
from reussite.ledger.models import LotKind


def test_first_call_provisions_an_eleve_with_a_student_profile_and_an_empty_wallet(
    conn: db.Connection, principal: Any
) -> None:
    p = principal(Role.ELEVE, "Inès Dupré")

    user = service.resolve_user(p)

    assert user.role is Role.ELEVE and user.name == "Inès Dupré"
    assert user.student_id is not None
    wallet = conn.execute(
        "SELECT balance FROM wallets WHERE student_id = %s", (user.student_id,)
    ).fetchone()
    assert wallet == {"balance": 0}
    assert service.resolve_user(p) == user  # the second call finds the same user


def test_concurrent_first_calls_provision_one_user_one_profile_one_wallet(
    conn: db.Connection, principal: Any
) -> None:
    p = principal(Role.ELEVE)
    barrier = threading.Barrier(12)

    def first_call() -> uuid.UUID:
        barrier.wait()
        try:
            return service.resolve_user(p).id
        finally:
            db.close()

    with ThreadPoolExecutor(12) as pool:
        ids = set(pool.map(lambda _: first_call(), range(12)))

    assert len(ids) == 1
    counts = conn.execute(
        """SELECT count(DISTINCT u.id) AS users, count(DISTINCT s.id) AS students,
                  count(DISTINCT w.id) AS wallets
             FROM users u JOIN students s ON s.user_id = u.id JOIN wallets w ON w.student_id = s.id
            WHERE u.sub = %s""",
        (p.sub,),
    ).fetchone()
    assert counts == {"users": 1, "students": 1, "wallets": 1}


def test_claims_that_change_update_the_user(principal: Any, conn: db.Connection) -> None:
    p = principal(Role.PARENT)
    service.resolve_user(p)

    renamed = service.resolve_user(
        p.model_copy(update={"name": "Nouveau Nom", "email": "n@x.test"})
    )

    assert (renamed.name, renamed.email) == ("Nouveau Nom", "n@x.test")


def test_parent_creates_children_and_sees_them(user: Any) -> None:
    parent = user(Role.PARENT)

    first = service.create_child(parent, "Yasmine")
    second = service.create_child(parent, "Adam")
    me = service.describe(parent)

    assert [c.display_name for c in me.children or []] == ["Yasmine", "Adam"]
    assert {c.student_id for c in me.children or []} == {first.student_id, second.student_id}
    assert not any(c.has_own_login for c in me.children or [])
    assert (
        len((first.link_code or "").replace("-", "")) == 12 and first.link_code != second.link_code
    )


@pytest.mark.parametrize("role", [Role.ELEVE, Role.COACH, Role.ASSISTANTE, Role.ADMIN])
def test_only_parents_create_child_profiles(user: Any, role: Role) -> None:
    with pytest.raises(Forbidden):
        service.create_child(user(role), "Someone")


def test_child_links_own_login_with_the_one_time_code(user: Any, conn: db.Connection) -> None:
    parent = user(Role.PARENT)
    created = service.create_child(parent, "Yasmine")
    child = user(Role.ELEVE)
    own_profile = child.student_id

    assert created.link_code is not None
    linked = service.link_own_login(child, created.link_code.lower().replace("-", " "))

    assert linked.student_id == created.student_id
    assert (
        service.resolve_user(
            Principal(sub=child.sub, email=child.email, name=child.name, role=Role.ELEVE)
        ).student_id
        == created.student_id
    )
    assert conn.execute("SELECT 1 FROM students WHERE id = %s", (own_profile,)).fetchone() is None
    assert service.describe(parent).children[0].has_own_login  # type: ignore[index]
    with pytest.raises(LinkCodeInvalid):  # single use
        assert created.link_code is not None
        service.link_own_login(user(Role.ELEVE), created.link_code)


def test_unknown_and_expired_codes_are_refused(user: Any, conn: db.Connection) -> None:
    created = service.create_child(user(Role.PARENT), "Yasmine")
    conn.execute(
        """UPDATE student_link_codes SET expires_at = now() - interval '1 second'
            WHERE student_id = %s""",
        (created.student_id,),
    )
    child = user(Role.ELEVE)

    with pytest.raises(LinkCodeInvalid):
        assert created.link_code is not None
        service.link_own_login(child, created.link_code)
    with pytest.raises(LinkCodeInvalid):
        service.link_own_login(child, "0000-0000-0000")


def test_a_student_whose_own_wallet_holds_credits_cannot_be_replaced(
    user: Any, conn: db.Connection
) -> None:
    created = service.create_child(user(Role.PARENT), "Yasmine")
    child = user(Role.ELEVE)
    wallet_id = ledger.wallet_of(child.student_id)
    ledger.grant(wallet_id, 5, LotKind.PURCHASE, key="pack", purpose="credit pack")

    with pytest.raises(LinkConflict):
        assert created.link_code is not None
        service.link_own_login(child, created.link_code)

    assert conn.execute(
        "SELECT balance FROM wallets WHERE student_id = %s", (child.student_id,)
    ).fetchone() == {"balance": 5}
    still_open = conn.execute(
        "SELECT used_at FROM student_link_codes WHERE student_id = %s", (created.student_id,)
    ).fetchone()
    assert still_open == {"used_at": None}


def test_two_students_racing_for_one_code_link_once(user: Any) -> None:
    created = service.create_child(user(Role.PARENT), "Yasmine")
    children = [user(Role.ELEVE) for _ in range(6)]
    barrier = threading.Barrier(len(children))

    def attempt(child: Any) -> str:
        barrier.wait()
        try:
            assert created.link_code is not None
            service.link_own_login(child, created.link_code)
            return "linked"
        except (LinkCodeInvalid, StudentAlreadyLinked):
            return "refused"
        finally:
            db.close()

    with ThreadPoolExecutor(len(children)) as pool:
        outcomes = list(pool.map(attempt, children))

    assert sorted(outcomes) == ["linked"] + ["refused"] * 5


def test_who_may_act_for_a_student(user: Any) -> None:
    parent, other_parent = user(Role.PARENT), user(Role.PARENT)
    child = service.create_child(parent, "Yasmine").student_id
    eleve = user(Role.ELEVE)

    assert service.accessible_student(parent, child) == child
    assert service.accessible_student(user(Role.ADMIN), child) == child
    assert service.accessible_student(user(Role.ASSISTANTE), child) == child
    assert service.accessible_student(eleve, eleve.student_id) == eleve.student_id
    for outsider in (other_parent, user(Role.COACH), eleve):
        with pytest.raises(StudentNotFound):
            service.accessible_student(outsider, child)
    with pytest.raises(StudentNotFound):
        service.accessible_student(user(Role.ADMIN), uuid.uuid4())
