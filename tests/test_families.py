"""A family signs up in one step, over HTTP against real PostgreSQL and moto: the parent's
profile and children in one transaction, one welcome email however often the request is
retried, profile updates, and a second parent joining with an invitation code."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from reussite import db
from reussite.identity.models import Principal, Role
from tests import helpers

FAMILY = {
    "name": "Leïla Ben Salah",
    "phone": "+216 22 333 444",
    "language": "fr",
    "children": [
        {"display_name": "Yasmine", "school_level": "2e-secondaire", "school": "Lycée pilote"},
        {"display_name": "Adam", "school_level": "9e"},
    ],
}


def identity_api(
    method: str, path: str, who: Principal | None, body: Any = None, key: str | None = None
) -> tuple[int, Any]:
    return helpers.call("identity_api", method, path, who, body, key)


def test_sign_up_retried_ten_times_at_once_makes_one_family_and_one_welcome_email(
    local_aws: Any, database_url: str, principal: Any
) -> None:
    parent = principal(Role.PARENT, "Leïla")
    barrier = threading.Barrier(10)

    def sign_up(_: int) -> tuple[int, Any]:
        barrier.wait()
        try:
            return identity_api("POST", "/v1/families", parent, FAMILY, key="signup-1")
        finally:
            db.release()

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(sign_up, range(10)))

    assert {status for status, _ in answers} == {201}
    ids = {tuple(c["student_id"] for c in family["children"]) for _, family in answers}
    assert len(ids) == 1
    (yasmine, adam) = answers[0][1]["children"]
    assert (yasmine["school_level"], yasmine["school"], adam["school_level"]) == (
        "2e-secondaire",
        "Lycée pilote",
        "9e",
    )
    me = identity_api("GET", "/v1/me", parent)[1]
    assert sorted(c["display_name"] for c in me["children"]) == ["Adam", "Yasmine"]
    stored = db.read_one(
        """SELECT u.profile_name, u.phone, u.language,
                  (SELECT count(*) FROM wallets w JOIN parent_students ps
                       ON ps.student_id = w.student_id WHERE ps.parent_id = u.id) AS wallets
             FROM users u WHERE u.sub = %s""",
        (parent.sub,),
    )
    assert stored == {
        "profile_name": "Leïla Ben Salah",
        "phone": "+216 22 333 444",
        "language": "fr",
        "wallets": 2,
    }
    welcome = [
        m
        for m in helpers.emails(local_aws, "Yasmine, Adam")
        if m["destinations"]["ToAddresses"] == [parent.email]
    ]
    assert len(welcome) == 1 and welcome[0]["subject"].startswith("Bienvenue")
    assert "Bilan Stratégique Gratuit" in welcome[0]["body"]


def test_sign_up_refuses_bad_names_another_request_with_the_key_and_non_parents(
    database_url: str, principal: Any
) -> None:
    parent = principal(Role.PARENT)
    bidi = FAMILY | {"children": [{"display_name": "Yas\u202emine"}]}
    assert identity_api("POST", "/v1/families", parent, bidi, key="k")[0] == 422
    assert identity_api("POST", "/v1/families", parent, FAMILY, key="k")[0] == 201
    status, problem = identity_api(
        "POST", "/v1/families", parent, FAMILY | {"language": "en"}, key="k"
    )
    assert (status, problem["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    student = principal(Role.ELEVE)
    assert identity_api("POST", "/v1/families", student, FAMILY, key="k")[0] == 403
    no_child = FAMILY | {"children": []}
    assert identity_api("POST", "/v1/families", parent, no_child, key="k2")[0] == 422


def test_the_welcome_email_is_in_the_familys_language(
    local_aws: Any, database_url: str, principal: Any
) -> None:
    parent = principal(Role.PARENT)
    body = FAMILY | {"language": "ar", "children": [{"display_name": "ياسمين"}]}

    assert identity_api("POST", "/v1/families", parent, body, key=str(uuid.uuid4()))[0] == 201

    (mail,) = [
        m
        for m in helpers.emails(local_aws, "ياسمين")
        if m["destinations"]["ToAddresses"] == [parent.email]
    ]
    assert mail["subject"].startswith("مرحبًا")


def test_parents_update_profiles_and_a_second_parent_joins_with_a_one_time_code(
    database_url: str, principal: Any
) -> None:
    parent, other = principal(Role.PARENT), principal(Role.PARENT, "Karim Ben Salah")
    family = identity_api("POST", "/v1/families", parent, FAMILY, key=str(uuid.uuid4()))[1]
    yasmine = family["children"][0]["student_id"]

    status, profile = identity_api("POST", "/v1/me/profile", parent, {"language": "en"})
    assert status == 200 and profile["language"] == "en" and profile["phone"] == FAMILY["phone"]
    status, child = identity_api(
        "POST", f"/v1/students/{yasmine}/profile", parent, {"school_level": "3e-secondaire"}
    )
    assert status == 200 and child["school_level"] == "3e-secondaire"
    assert identity_api("POST", f"/v1/students/{yasmine}/profile", other, {"school": "X"})[0] == 404

    status, invitation = identity_api("POST", "/v1/families/invitations", parent)
    assert status == 201
    code = invitation["code"].lower().replace("-", " ")  # as people type it
    status, joined = identity_api("POST", "/v1/families/join", other, {"code": code})
    assert status == 200 and len(joined["children"]) == 2
    children = identity_api("GET", "/v1/me", other)[1]["children"]
    assert sorted(c["display_name"] for c in children) == ["Adam", "Yasmine"]
    again = identity_api("POST", "/v1/families/join", principal(Role.PARENT), {"code": code})
    assert (again[0], again[1]["code"]) == (404, "INVITATION_INVALID")
    db.connection().execute(
        "UPDATE family_invitations SET expires_at = now() - interval '1 second'"
        " WHERE parent_id = (SELECT id FROM users WHERE sub = %s)",
        (parent.sub,),
    )
    late = identity_api("POST", "/v1/families/invitations", parent)[1]
    db.connection().execute(
        "UPDATE family_invitations SET expires_at = now() - interval '1 second'"
        " WHERE used_at IS NULL AND parent_id = (SELECT id FROM users WHERE sub = %s)",
        (parent.sub,),
    )
    expired = identity_api("POST", "/v1/families/join", other, {"code": late["code"]})
    assert expired[0] == 404
