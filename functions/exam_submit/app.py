"""Submit a timed exam: graded on the server; a pass queues the certificate."""

from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from pydantic import BaseModel, Field, StringConstraints

from reussite import aws
from reussite.exams import service
from reussite.exams.models import MAX_ANSWER_CHARS, Attempt
from reussite.http.app import create_app, lambda_handler
from reussite.http.auth import CurrentUser
from reussite.settings import get_settings, require

REQUIRED_SETTINGS = (
    "DATABASE_URL|DATABASE_SECRET_ARN",
    "ATTEMPT_TOKEN_SECRET|ATTEMPT_TOKEN_SECRET_ARN",
    "CERTIFICATE_QUEUE_URL",
)
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing

app = create_app("reussite exam submit")
# Every submission checks its attempt token (the secret's client) and a pass queues its
# certificate: built at init, where the SnapStart snapshot holds them (boto3 included).
aws.warm("sqs")
aws.warm_secrets(get_settings().attempt_token_secret_arn)


QuestionId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Part = Annotated[str, StringConstraints(max_length=200)] | Annotated[int, Field(ge=0, le=99)]
Answer = (
    Annotated[str, StringConstraints(max_length=MAX_ANSWER_CHARS)]
    | bool
    | Annotated[int, Field(ge=-(10**12), le=10**12)]
    | float
    | Annotated[list[Part | None], Field(max_length=20)]  # choices, matches, order, gaps
    | Annotated[dict[Annotated[str, StringConstraints(max_length=3)], Part], Field(max_length=20)]
    | None
)


class Submission(BaseModel):
    attempt_token: str = Field(min_length=10, max_length=300)
    answers: dict[QuestionId, Answer] = Field(
        default_factory=dict,
        max_length=500,
        description="Answers by question id: only the attempt's own questions; those saved "
        "during the attempt and not sent again count too",
    )


class SavedAnswers(BaseModel):
    attempt_token: str = Field(min_length=10, max_length=300)
    answers: dict[QuestionId, Answer] = Field(
        max_length=500, description="Answers to save now, by question id (the last one wins)"
    )


@app.put("/v1/attempts/{attempt_id}/answers")
def save_answers(attempt_id: UUID, body: SavedAnswers, user: CurrentUser) -> service.Saved:
    """Autosave while the attempt is open: idempotent, the last write of an answer wins; an
    attempt closed by a submit or by time answers 409 ATTEMPT_CLOSED and keeps its answers."""
    return service.save_answers(user, attempt_id, body.attempt_token, dict(body.answers))


@app.post("/v1/attempts/{attempt_id}/submit")
def submit_attempt(attempt_id: UUID, body: Submission, user: CurrentUser) -> Attempt:
    attempt = service.submit(user, attempt_id, body.attempt_token, dict(body.answers))
    with single_metric(
        name="ExamPasses" if attempt.passed else "ExamFails", unit=MetricUnit.Count, value=1
    ) as metric:
        metric.add_dimension(name="level", value=attempt.level)
    return attempt


handler = lambda_handler(app)
