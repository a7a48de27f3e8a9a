"""The exam catalogue, reading an attempt, and practice exercises."""

from uuid import UUID

from fastapi import Query
from pydantic import BaseModel, Field

from reussite.exams import exercises, service
from reussite.exams.exercises import Exercise
from reussite.exams.models import Attempt, ExamSummary
from reussite.http.app import create_app, lambda_handler
from reussite.http.auth import CurrentUser
from reussite.settings import require

REQUIRED_SETTINGS = (
    "DATABASE_URL|DATABASE_SECRET_ARN",
    "ATTEMPT_TOKEN_SECRET|ATTEMPT_TOKEN_SECRET_ARN",
)
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing

app = create_app("reussite exams")


@app.get("/v1/exams")
def list_exams(
    user: CurrentUser,
    language: str | None = Query(None, max_length=2, pattern="^[A-Za-z]{2}$"),
    level: str | None = Query(None, max_length=10),
) -> list[ExamSummary]:
    return service.catalogue(user, language, level)


@app.get("/v1/attempts/{attempt_id}")
def read_attempt(attempt_id: UUID, user: CurrentUser) -> Attempt:
    return service.get_attempt(user, attempt_id)


class ExerciseRequest(BaseModel):
    generator: str | None = Field(None, max_length=60)
    topic: str | None = Field(None, max_length=60)
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    student_id: UUID | None = None


@app.post("/v1/exercises/generate")
def generate_exercise(body: ExerciseRequest, user: CurrentUser) -> Exercise:
    return exercises.generate(user, body.generator, body.topic, body.seed, body.student_id)


handler = lambda_handler(app)
