"""Credits API: a family's wallets, and staff grants of promotional or goodwill credits."""

from uuid import UUID

from fastapi import status

from reussite.http.app import create_app, lambda_handler
from reussite.http.auth import CurrentUser, IdempotencyKey, StaffUser
from reussite.ledger import admin, views
from reussite.ledger.models import Grant
from reussite.ledger.views import Credits

app = create_app("reussite credits")


@app.get("/v1/me/credits")
def my_credits(user: CurrentUser) -> Credits:
    return views.credits_of(user)


@app.post("/v1/admin/wallets/{student_id}/grants", status_code=status.HTTP_201_CREATED)
def grant_credits(
    student_id: UUID, body: admin.StaffGrantRequest, user: StaffUser, key: IdempotencyKey
) -> Grant:
    return admin.staff_grant(user, student_id, body, key)


handler = lambda_handler(app)
