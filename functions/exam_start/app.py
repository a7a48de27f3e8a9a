"""Start a timed exam: credits debited on the server, in the same transaction as the attempt."""

from typing import Annotated, Any
from uuid import UUID

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from fastapi import Body, Path, Request, status
from pydantic import BaseModel, TypeAdapter

from reussite.exams import service
from reussite.exams.models import Attempt
from reussite.http.app import create_app, lambda_handler
from reussite.http.auth import CurrentUser, IdempotencyKey
from reussite.http.idempotency import once
from reussite.identity.models import User

app = create_app("reussite exam start")
AS_JSON = TypeAdapter(Attempt)


class StartRequest(BaseModel):
    student_id: UUID | None = None  # a parent starting an exam for their child


def _start(*, request: dict[str, Any], user: User) -> dict[str, Any]:
    student = UUID(request["student_id"]) if request["student_id"] else None
    attempt = service.start(user, request["code"], request["key"], student)
    with single_metric(name="ExamStarts", unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension(name="level", value=attempt.level)
    return dict(AS_JSON.dump_python(attempt, mode="json"))


OptionalStart = Annotated[StartRequest | None, Body()]
ExamCode = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,32}$")]
start_once = once(_start, payload="[code, student_id]")


@app.post("/v1/exams/{code}/attempts", status_code=status.HTTP_201_CREATED, response_model=Attempt)
def start_attempt(
    code: ExamCode,
    user: CurrentUser,
    key: IdempotencyKey,
    http: Request,
    body: OptionalStart = None,
) -> dict[str, Any]:
    request = {
        "sub": user.sub,
        "key": key,
        "code": code,
        "student_id": str(body.student_id) if body and body.student_id else None,
    }
    return start_once(request=request, user=user, lambda_context=http.scope.get("aws.context"))


handler = lambda_handler(app)
