"""The exam catalogue, reading an attempt, and practice exercises."""

from typing import Annotated, Literal
from uuid import UUID

from fastapi import Path, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from reussite import flags, history, pagination
from reussite.exams import (
    accommodations,
    authoring,
    exercises,
    formats,
    review,
    service,
    statistics,
)
from reussite.exams.authoring import (
    ExamDraft,
    ExamSpec,
    Pool,
    PoolSpec,
    Published,
    Question,
    QuestionSpec,
)
from reussite.exams.exercises import Exercise
from reussite.exams.models import Attempt, ExamSummary
from reussite.history import Page
from reussite.http.app import create_app, lambda_handler
from reussite.http.auth import CurrentUser
from reussite.http.params import Cursor, Limit
from reussite.settings import require

REQUIRED_SETTINGS = (
    "DATABASE_URL|DATABASE_SECRET_ARN",
    "ATTEMPT_TOKEN_SECRET|ATTEMPT_TOKEN_SECRET_ARN",
)
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing

app = create_app("reussite exams")
flags.warm()  # the catalogue and an exam's page evaluate its flag on every request
PoolCode = Annotated[str, Path(pattern=r"^[A-Z0-9][A-Z0-9_-]{1,39}$")]
ExamCode = Annotated[str, Path(pattern=r"^[A-Z0-9][A-Z0-9_-]{1,39}$")]
QuestionName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]


@app.get("/v1/exams")
def list_exams(
    user: CurrentUser,
    language: str | None = Query(None, max_length=2, pattern="^[A-Za-z]{2}$"),
    level: str | None = Query(None, max_length=10),
    course: str | None = Query(None, pattern="^(language|wine|maths)$"),
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ExamSummary]:
    """The active exams, by code, a page at a time."""
    return service.catalogue(user, cursor, limit, language, level, course)


@app.get("/v1/exams/{code}")
def read_exam(
    code: ExamCode, user: CurrentUser, student_id: UUID | None = None
) -> service.ExamDetail:
    """One exam, and whether the caller (or their child, `student_id`) may start it now."""
    return service.exam_detail(user, code, student_id)


@app.get("/v1/attempts/{attempt_id}")
def read_attempt(attempt_id: UUID, user: CurrentUser) -> Attempt:
    return service.get_attempt(user, attempt_id)


@app.get("/v1/attempts/{attempt_id}/review")
def review_attempt(attempt_id: UUID, user: CurrentUser) -> review.Review:
    """A closed attempt's review, as the exam's review policy allows (never the key before the
    attempt is closed)."""
    return review.review(user, attempt_id)


class ExerciseRequest(BaseModel):
    generator: str | None = Field(None, max_length=60)
    topic: str | None = Field(None, max_length=60)
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    student_id: UUID | None = None


@app.post("/v1/exercises/generate")
def generate_exercise(body: ExerciseRequest, user: CurrentUser) -> Exercise:
    return exercises.generate(user, body.generator, body.topic, body.seed, body.student_id)


# -- authoring (staff) -------------------------------------------------------------------------


@app.put("/v1/admin/question-pools/{pool}")
def save_pool(pool: PoolCode, body: PoolSpec, user: CurrentUser) -> Pool:
    """Create or rename a question pool (idempotent)."""
    return authoring.save_pool(user, pool, body.title)


@app.put("/v1/admin/question-pools/{pool}/questions/{name}")
def save_question(
    pool: PoolCode, name: QuestionName, body: QuestionSpec, user: CurrentUser
) -> Question:
    """Save the draft of a question (a published one gets its next version's draft)."""
    return authoring.save_question(user, pool, name, body)


@app.post("/v1/admin/question-pools/{pool}/questions/{name}/publish")
def publish_question(pool: PoolCode, name: QuestionName, user: CurrentUser) -> Question:
    """The draft becomes the live, frozen version (asked again: the live version)."""
    return authoring.publish_question(user, pool, name)


@app.post("/v1/admin/question-pools/{pool}/questions/{name}/retire")
def retire_question(pool: PoolCode, name: QuestionName, user: CurrentUser) -> Question:
    return authoring.retire_question(user, pool, name)


class QuestionPage(BaseModel):
    items: list[Question]
    next: str | None = Field(description="The cursor of the next page, if any")


@app.get("/v1/admin/question-pools/{pool}/questions")
def list_questions(
    pool: PoolCode,
    user: CurrentUser,
    cursor: Cursor = None,
    limit: Limit = 50,
    status: str | None = Query(None, pattern="^(DRAFT|PUBLISHED|SUPERSEDED|RETIRED)$"),
) -> QuestionPage:
    kind = f"questions/{pool}"
    items, last = authoring.list_questions(
        user, pool, pagination.decode_after(kind, cursor), limit, status
    )
    return QuestionPage(items=items, next=pagination.encode_after(kind, last) if last else None)


@app.post("/v1/admin/question-pools/{pool}/import")
async def import_questions(
    pool: PoolCode,
    request: Request,
    user: CurrentUser,
    format: Literal["moodle", "gift"] = Query(description="moodle (Moodle XML) or gift"),
    publish: bool = Query(False, description="Publish every imported question at once"),
) -> authoring.Imported:
    """One Moodle XML or GIFT file as the request body (text/xml or text/plain, at most the
    body limit): imported whole, or not at all with each problem named (422 IMPORT_FAILED)."""
    raw = await request.body()
    try:
        document = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise formats.ImportFailed(errors=[{"question": 0, "error": "not UTF-8"}]) from exc
    return await run_in_threadpool(
        authoring.import_questions, user, pool, format, document, publish
    )


@app.get("/v1/admin/question-pools/{pool}/export", response_class=Response)
def export_questions(pool: PoolCode, user: CurrentUser) -> Response:
    """The pool's live questions as a Moodle XML file (every supported type round-trips)."""
    return Response(
        authoring.export_pool(user, pool),
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{pool}.xml"'},
    )


@app.put("/v1/admin/exams/{code}/draft")
def save_exam_draft(code: ExamCode, body: ExamSpec, user: CurrentUser) -> ExamDraft:
    """The exam's draft, edited freely; the catalogue changes only when it is published."""
    return authoring.save_exam_draft(user, code, body)


@app.post("/v1/admin/exams/{code}/publish")
def publish_exam(code: ExamCode, user: CurrentUser) -> Published:
    """The draft becomes the exam's next frozen version (attempts keep theirs)."""
    return authoring.publish_exam(user, code)


@app.post("/v1/admin/exams/{code}/retire")
def retire_exam(code: ExamCode, user: CurrentUser) -> Published:
    return authoring.retire_exam(user, code)


@app.get("/v1/admin/exams/{code}/statistics")
def exam_statistics(
    code: ExamCode, user: CurrentUser, version: int | None = Query(None, ge=1, le=10_000)
) -> statistics.ExamStatistics:
    """Attempts, pass rate and mean score of an exam version (the current one by default), and
    each question's facility and discrimination indexes, weak ones flagged."""
    return statistics.exam_statistics(user, code, version)


@app.get("/v1/admin/exam-statistics/levels")
def pass_rate_by_level(
    user: CurrentUser, course: str | None = Query(None, pattern="^(language|wine|maths)$")
) -> list[statistics.LevelStatistics]:
    """The pass rate per level (the seed's KPI), over every exam or one course."""
    return statistics.pass_rate_by_level(user, course)


@app.put("/v1/admin/students/{student_id}/exam-accommodations")
def grant_accommodation(
    student_id: UUID, body: accommodations.Accommodation, user: CurrentUser
) -> accommodations.Granted:
    """Extra time for one exam (or every exam, `exam_code` null); granting again replaces it."""
    return accommodations.grant(user, student_id, body)


@app.get("/v1/me/attempts")
def history_attempts(
    user: CurrentUser,
    student_id: UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 20,
    exam: str | None = Query(None, max_length=40),
) -> history.Page[history.AttemptItem]:
    """A student's attempts, newest first, each with its certificate's code when it has one.
    A parent names the child (`student_id`)."""
    return history.attempts(user, student_id, cursor, limit, exam)


handler = lambda_handler(app)
