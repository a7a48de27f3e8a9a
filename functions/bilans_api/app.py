"""Orientation reports: ask for one (answered at once, written by a queue worker) and read it
as JSON or as a page."""

from typing import Any
from uuid import UUID

from fastapi import Request, status
from fastapi.responses import HTMLResponse

from reussite.bilans import service
from reussite.bilans.models import Bilan, BilanAccepted, BilanRequest
from reussite.http.app import create_app, lambda_handler
from reussite.http.auth import CurrentUser, IdempotencyKey
from reussite.http.idempotency import once
from reussite.http.negotiation import wants_html
from reussite.identity.models import User
from reussite.settings import get_settings

app = create_app("reussite bilans")


def _ask(*, request: dict[str, Any], user: User) -> dict[str, Any]:
    student = UUID(request["student_id"]) if request["student_id"] else None
    return service.request(user, student, request["questionnaire"], request["key"])


ask_once = once(_ask, payload="[student_id, questionnaire]")


@app.post("/v1/bilans", status_code=status.HTTP_202_ACCEPTED, response_model=BilanAccepted)
def ask_for_a_report(
    body: BilanRequest, user: CurrentUser, key: IdempotencyKey, http: Request
) -> dict[str, Any]:
    request = {
        "sub": user.sub,
        "key": key,
        "student_id": str(body.student_id) if body.student_id else None,
        "questionnaire": body.questionnaire.model_dump(mode="json"),
    }
    return ask_once(request=request, user=user, lambda_context=http.scope.get("aws.context"))


@app.get("/v1/bilans/{bilan_id}", response_model=Bilan)
def read_report(bilan_id: UUID, user: CurrentUser, request: Request) -> Any:
    found = service.get(user, bilan_id)
    if wants_html(request):
        from reussite.bilans import page

        body, policy = page.render(found, get_settings().support_url)
        return HTMLResponse(body, headers={"Content-Security-Policy": policy})
    return found


handler = lambda_handler(app)
