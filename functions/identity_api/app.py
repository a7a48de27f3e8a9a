"""Identity API: health, the caller's identity, family sign-up and profiles, children's
student profiles and link codes, invitations of a second parent."""

from typing import Annotated, Literal
from uuid import UUID

from fastapi import Query, status
from pydantic import AwareDatetime, BaseModel, Field

from reussite import backoffice, db, history
from reussite.bilans.catalogue import LEVELS
from reussite.http.app import create_app, lambda_handler
from reussite.http.auth import CurrentUser, IdempotencyKey
from reussite.http.params import Cursor, Limit
from reussite.identity import families, service
from reussite.identity.models import CreatedStudent, LinkedStudent, LinkRequest, Me, NewStudent
from reussite.inputs import HumanName
from reussite.settings import require
from reussite.webhooks import endpoints

REQUIRED_SETTINGS = ("DATABASE_URL|DATABASE_SECRET_ARN",)
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing

app = create_app("reussite identity")


@app.get("/v1/health")
def health() -> dict[str, str]:
    db.read_one("SELECT 1")
    return {"status": "ok"}


@app.get("/v1/me")
def me(user: CurrentUser) -> Me:
    return service.describe(user)


@app.post("/v1/students", status_code=status.HTTP_201_CREATED)
def create_student(body: NewStudent, user: CurrentUser, key: IdempotencyKey) -> CreatedStudent:
    return service.create_child(user, body.display_name, key)


@app.post("/v1/students/link")
def link_student(body: LinkRequest, user: CurrentUser) -> LinkedStudent:
    return service.link_own_login(user, body.code)


Language = Literal["fr", "ar", "en"]
Phone = Annotated[str, Field(pattern=r"^\+?[0-9][0-9 ().-]{5,24}$")]
Level = Annotated[str, Field(pattern="^(" + "|".join(LEVELS) + ")$")]


class ChildIn(BaseModel):
    display_name: HumanName
    school_level: Level | None = None
    school: HumanName | None = None


class SignUp(BaseModel):
    name: HumanName
    phone: Phone | None = None
    language: Language = "fr"
    children: list[ChildIn] = Field(min_length=1, max_length=6)


@app.post("/v1/families", status_code=status.HTTP_201_CREATED)
def sign_up(body: SignUp, user: CurrentUser, key: IdempotencyKey) -> families.Family:
    """The parent registers the family in one step; the welcome email follows."""
    children = [c.model_dump() for c in body.children]
    return families.sign_up(user, body.name, body.phone, body.language, children, key)


class ProfileChange(BaseModel):
    name: HumanName | None = None
    phone: Phone | None = None
    language: Language | None = None


@app.post("/v1/me/profile")
def update_profile(body: ProfileChange, user: CurrentUser) -> families.Profile:
    return families.update_profile(user, body.name, body.phone, body.language)


class ChildChange(BaseModel):
    display_name: HumanName | None = None
    school_level: Level | None = None
    school: HumanName | None = None


@app.post("/v1/students/{student_id}/profile")
def update_child(student_id: UUID, body: ChildChange, user: CurrentUser) -> families.ChildSignedUp:
    return families.update_child(
        user, student_id, body.display_name, body.school_level, body.school
    )


@app.post("/v1/families/invitations", status_code=status.HTTP_201_CREATED)
def invite_parent(user: CurrentUser) -> families.Invitation:
    """A one-time code (7 days) for the other parent to join the family."""
    return families.invite(user)


class JoinRequest(BaseModel):
    code: str = Field(min_length=4, max_length=40)


@app.post("/v1/families/join")
def join_family(body: JoinRequest, user: CurrentUser) -> families.Joined:
    return families.join(user, body.code)


@app.get("/v1/admin/people")
def search_people(
    user: CurrentUser,
    q: str = Query(
        min_length=2,
        max_length=100,
        description="Words beginning a name, the beginning of an email, or an id",
    ),
    cursor: Cursor = None,
    limit: Limit = 20,
) -> history.Page[backoffice.Person]:
    """Staff find a person: users and student profiles by name, email, user or student id."""
    return backoffice.people(user, q, cursor, limit)


@app.get("/v1/admin/audit")
def read_audit_log(
    user: CurrentUser,
    actor: UUID | None = None,
    subject: str | None = Query(None, max_length=200),
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> history.Page[backoffice.AuditRow]:
    """The audit log (ADMIN), newest first: by actor, subject ("order:<id>", or a prefix such
    as "order:") and time."""
    return backoffice.audit_log(user, cursor, limit, actor, subject, since, until)


@app.post("/v1/admin/webhooks", status_code=status.HTTP_201_CREATED)
def register_webhook(
    body: endpoints.EndpointSpec, user: CurrentUser, key: IdempotencyKey
) -> endpoints.Endpoint:
    """Staff register an endpoint for the event types wanted; the answer holds its signing
    secret (Standard Webhooks, `whsec_…`), shown to this request only (and its replays)."""
    return endpoints.register(user, body, key)


@app.get("/v1/admin/webhooks/{endpoint_id}/deliveries")
def webhook_deliveries(
    endpoint_id: UUID,
    user: CurrentUser,
    cursor: Cursor = None,
    limit: Limit = 20,
) -> history.Page[endpoints.Delivery]:
    """An endpoint's delivery log, newest first: each event, its attempts and outcome."""
    return endpoints.deliveries(user, endpoint_id, cursor, limit)


@app.post("/v1/admin/webhooks/deliveries/{delivery_id}/replay")
def replay_webhook(delivery_id: UUID, user: CurrentUser) -> endpoints.Delivery:
    """Send a delivery again, with the same webhook-id."""
    return endpoints.replay(user, delivery_id)


handler = lambda_handler(app)
