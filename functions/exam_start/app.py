"""Start a timed exam: credits debited on the server, in the same transaction as the attempt."""

from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from fastapi import Body, Path, Request, status
from pydantic import BaseModel

from reussite import aws, flags
from reussite.exams import service
from reussite.exams.models import Attempt
from reussite.front_door import http_write
from reussite.http.app import create_app, lambda_handler
from reussite.http.auth import CurrentUser, IdempotencyKey
from reussite.identity.models import User
from reussite.settings import get_settings, require

REQUIRED_SETTINGS = (
    "DATABASE_URL|DATABASE_SECRET_ARN",
    "IDEMPOTENCY_TABLE",
    "ATTEMPT_TOKEN_SECRET|ATTEMPT_TOKEN_SECRET_ARN",
)
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing

app = create_app("reussite exam start")


class StartRequest(BaseModel):
    student_id: UUID | None = None  # a parent starting an exam for their child


class Start(StartRequest):
    """What the front door compares on a repeated key: the exam and the student."""

    code: str


def _start(user: User, request: Start, key: str) -> Attempt:
    attempt = service.start(user, request.code, key, request.student_id)
    with single_metric(name="ExamStarts", unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension(name="level", value=attempt.level)
    return attempt


OptionalStart = Annotated[StartRequest | None, Body()]
ExamCode = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,32}$")]
# The start's keys in PostgreSQL replay it (the ledger's per wallet, the attempt's per caller),
# so the front door keeps only its claim: one DynamoDB call a start. Every start goes through
# it and signs a token: their clients are built at init, where a SnapStart snapshot holds them.
start_once = http_write(_start, Attempt, database_replays=True).warm()
aws.warm_secrets(get_settings().attempt_token_secret_arn)
flags.warm()  # every start evaluates the exam feature's flag


@app.post("/v1/exams/{code}/attempts", status_code=status.HTTP_201_CREATED, response_model=Attempt)
def start_attempt(
    code: ExamCode,
    user: CurrentUser,
    key: IdempotencyKey,
    http: Request,
    body: OptionalStart = None,
) -> Attempt:
    service.refuse_unknown(code)  # before the idempotency store: bad input costs it nothing
    request = Start(code=code, student_id=body.student_id if body else None)
    return start_once(user, key, request, http.scope.get("aws.context"))


handler = lambda_handler(app)
