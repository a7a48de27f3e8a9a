"""Orientation reports: ask for one (answered at once, written by a queue worker) and read it
as JSON or as a page."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import Query, Request, status
from fastapi.responses import HTMLResponse

from reussite import history
from reussite.bilans import service
from reussite.bilans.models import Bilan, BilanAccepted, BilanRequest
from reussite.front_door import http_write
from reussite.http.app import create_app, lambda_handler
from reussite.http.auth import CurrentUser, IdempotencyKey
from reussite.http.negotiation import wants_html
from reussite.http.pages import refused_link
from reussite.http.params import Cursor, Limit
from reussite.identity.models import User
from reussite.settings import get_settings, require

REQUIRED_SETTINGS = (
    "DATABASE_URL|DATABASE_SECRET_ARN",
    "IDEMPOTENCY_TABLE",
    "BILAN_QUEUE_URL",
    "LINK_SECRET|LINK_SECRET_ARN",
)
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing

app = create_app("reussite bilans")


def _ask(user: User, request: BilanRequest, key: str) -> BilanAccepted:
    return service.request(
        user, request.student_id, request.questionnaire.model_dump(mode="json"), key
    )


ask_once = http_write(_ask, BilanAccepted)


@app.post("/v1/bilans", status_code=status.HTTP_202_ACCEPTED, response_model=BilanAccepted)
def ask_for_a_report(
    body: BilanRequest, user: CurrentUser, key: IdempotencyKey, http: Request
) -> BilanAccepted:
    return ask_once(user, key, body, http.scope.get("aws.context"))


@app.get("/v1/bilans/{bilan_id}", response_model=Bilan)
def read_report(bilan_id: UUID, user: CurrentUser, request: Request) -> Any:
    found = service.get(user, bilan_id)
    if wants_html(request):
        from reussite.bilans import page

        body, policy = page.render(found, get_settings().support_url)
        return HTMLResponse(body, headers={"Content-Security-Policy": policy})
    return found


@app.get("/v1/bilans/{bilan_id}/page", response_class=HTMLResponse)
def report_page(
    bilan_id: UUID, token: Annotated[str, Query(min_length=1, max_length=100)], request: Request
) -> HTMLResponse:
    """Public, with the signed link of the report's email: the page, without a Bearer header.
    An expired or altered link answers a page saying how to read the report signed in (to a
    browser; a client asking for JSON gets the problem, 403 LINK_REFUSED)."""
    from reussite import links
    from reussite.bilans import page

    if not links.verify(token, f"bilan:{bilan_id}"):
        return refused_link(request, "report")
    body, policy = page.render(service.get_by_id(bilan_id), get_settings().support_url)
    return HTMLResponse(body, headers={"Content-Security-Policy": policy})


@app.get("/v1/me/bilans")
def history_bilans(
    user: CurrentUser,
    student_id: UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 20,
) -> history.Page[history.BilanItem]:
    """A student's orientation reports, newest first. A parent names the child (`student_id`)."""
    return history.bilans(user, student_id, cursor, limit)


handler = lambda_handler(app)
