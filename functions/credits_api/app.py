"""Credits API: a family's wallets, and staff grants of promotional or goodwill credits."""

from uuid import UUID

from fastapi import status

from reussite import history
from reussite.http.app import create_app, lambda_handler
from reussite.http.auth import CurrentUser, IdempotencyKey
from reussite.http.params import Cursor, Limit
from reussite.ledger import admin, views
from reussite.ledger.models import Grant
from reussite.ledger.views import Credits
from reussite.settings import require

REQUIRED_SETTINGS = ("DATABASE_URL|DATABASE_SECRET_ARN",)
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing

app = create_app("reussite credits")


@app.get("/v1/me/credits")
def my_credits(user: CurrentUser) -> Credits:
    return views.credits_of(user)


@app.post("/v1/admin/wallets/{student_id}/grants", status_code=status.HTTP_201_CREATED)
def grant_credits(
    student_id: UUID, body: admin.StaffGrantRequest, user: CurrentUser, key: IdempotencyKey
) -> Grant:
    return admin.staff_grant(user, student_id, body, key)


@app.get("/v1/me/ledger")
def history_ledger(
    user: CurrentUser,
    student_id: UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 20,
) -> history.Page[history.EntryItem]:
    """A student's whole credit history, newest first: each entry with its purpose and its lots.
    A parent names the child (`student_id`)."""
    return history.ledger(user, student_id, cursor, limit)


handler = lambda_handler(app)
