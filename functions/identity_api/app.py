"""Identity API: health, the caller's identity, children's student profiles and link codes."""

from fastapi import status

from reussite import db
from reussite.http.app import create_app, lambda_handler
from reussite.http.auth import CurrentUser, IdempotencyKey
from reussite.identity import service
from reussite.identity.models import CreatedStudent, LinkedStudent, LinkRequest, Me, NewStudent
from reussite.settings import require

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


handler = lambda_handler(app)
