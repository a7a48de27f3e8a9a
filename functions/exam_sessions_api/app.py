"""Exam sessions for schools (WSET-style): staff schedule courses and sessions, enter results
and decide enquiries; families find sessions, register, read their results and ask for
enquiries."""

from datetime import time
from typing import Annotated, Literal
from uuid import UUID

from fastapi import Query, Request, status
from pydantic import AwareDatetime, BaseModel, Field

from reussite import backoffice, history
from reussite.exam_sessions import catalogue, enquiries, registrations, results, scheduling
from reussite.exam_sessions.models import (
    Component,
    Course,
    CourseEnrolment,
    Enquiry,
    Enrolment,
    ExamSession,
    MyExam,
    Offering,
    Registration,
    Sitting,
)
from reussite.exam_sessions.rules import Qualification
from reussite.front_door import http_write
from reussite.http.app import create_app, lambda_handler
from reussite.http.auth import CurrentUser, IdempotencyKey
from reussite.http.params import Cursor, Limit
from reussite.identity.models import User
from reussite.inputs import Day, HumanName, Moment
from reussite.settings import require

REQUIRED_SETTINGS = (
    "DATABASE_URL|DATABASE_SECRET_ARN",
    "IDEMPOTENCY_TABLE",
    "CERTIFICATE_QUEUE_URL",
)
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing

app = create_app("reussite exam sessions")
Scores = dict[Component, Annotated[int, Field(ge=0, le=100)]]
Code = Annotated[str, Field(pattern=r"^[A-Z0-9-]{1,32}$")]


# -- catalogue and families --------------------------------------------------------------------


@app.get("/v1/qualifications")
def list_qualifications(
    user: CurrentUser, cursor: Cursor = None, limit: Limit = 50
) -> history.Page[Qualification]:
    """The qualifications the school examines, by code."""
    return catalogue.qualifications(cursor, limit)


@app.get("/v1/exam-sessions")
def open_sessions(
    user: CurrentUser,
    qualification: Annotated[str | None, Query(pattern=r"^[A-Z0-9-]{1,32}$")] = None,
    cursor: Cursor = None,
    limit: Limit = 20,
) -> history.Page[ExamSession]:
    """Sittings open for registration with a free seat, soonest first."""
    return scheduling.available_sessions(qualification, cursor, limit)


class ForStudent(BaseModel):
    student_id: UUID | None = None  # a parent's child; a student registers themself


@app.post("/v1/exam-sessions/{session_id}/registrations", status_code=status.HTTP_201_CREATED)
def register(
    session_id: UUID, user: CurrentUser, key: IdempotencyKey, body: ForStudent | None = None
) -> Registration:
    student = body.student_id if body else None
    return registrations.register(user, session_id, student, key)


@app.post("/v1/qualifications/{code}/makeup", status_code=status.HTTP_201_CREATED)
def register_makeup(
    code: Annotated[str, Field(pattern=r"^[A-Z0-9-]{1,32}$")],
    user: CurrentUser,
    key: IdempotencyKey,
    body: ForStudent | None = None,
) -> Registration:
    student = body.student_id if body else None
    return registrations.register_makeup(user, code[:32], student, key)


class MyExamPage(BaseModel):
    items: list[MyExam]
    next: str | None = None


@app.get("/v1/me/exams")
def my_exams(
    user: CurrentUser,
    cursor: Cursor = None,
    limit: Limit = 20,
) -> MyExamPage:
    """The student's (or a parent's children's) registrations, newest first, with scores,
    outcome and certificate."""
    items, following = registrations.my_exams(user, cursor, limit)
    return MyExamPage(items=items, next=following)


class EnquiryRequest(BaseModel):
    components: list[Component] = Field(min_length=1, max_length=3)


@app.post("/v1/registrations/{registration_id}/enquiries", status_code=status.HTTP_201_CREATED)
def ask_enquiry(
    registration_id: UUID, body: EnquiryRequest, user: CurrentUser, key: IdempotencyKey
) -> Enquiry:
    components: list[str] = list(body.components)
    return enquiries.request_enquiry(user, registration_id, components, key)


# -- staff -------------------------------------------------------------------------------------
# No unique key of the database names a staff write's Idempotency-Key: behind the front door, a
# concurrent repeat waits for the first and replays it (database_serialises=False).


class NewOffering(BaseModel):
    qualification_code: Code
    name: HumanName


def _create_offering(user: User, request: NewOffering, key: str) -> Offering:
    return scheduling.create_offering(user, request.qualification_code, request.name)


create_offering_once = http_write(_create_offering, Offering, database_serialises=False)


@app.post("/v1/admin/course-offerings", status_code=status.HTTP_201_CREATED)
def create_offering(
    body: NewOffering, user: CurrentUser, key: IdempotencyKey, http: Request
) -> Offering:
    return create_offering_once(user, key, body, http.scope.get("aws.context"))


class NewCourse(BaseModel):
    starts_on: Day
    ends_on: Day
    capacity: int = Field(gt=0, le=1000)
    location: HumanName | None = None
    remote: bool = False
    proctor_id: UUID | None = None
    exam_time: time = time(14, 0)


class CourseOf(NewCourse):
    offering_id: UUID


def _schedule_course(user: User, request: CourseOf, key: str) -> Course:
    return scheduling.schedule_course(user, **request.model_dump())


schedule_course_once = http_write(_schedule_course, Course, database_serialises=False)


@app.post("/v1/admin/course-offerings/{offering_id}/sessions", status_code=status.HTTP_201_CREATED)
def schedule_course(
    offering_id: UUID, body: NewCourse, user: CurrentUser, key: IdempotencyKey, http: Request
) -> Course:
    request = CourseOf(offering_id=offering_id, **body.model_dump())
    return schedule_course_once(user, key, request, http.scope.get("aws.context"))


class NewSession(BaseModel):
    qualification_code: Code
    type: Literal["MAKEUP", "RESIT", "REMOTE", "STANDALONE"]
    starts_at: Moment
    registration_deadline: Moment
    capacity: int = Field(gt=0, le=1000)
    location: HumanName | None = None
    remote: bool = False
    proctor_id: UUID | None = None


def _create_session(user: User, request: NewSession, key: str) -> ExamSession:
    fields = request.model_dump()
    return scheduling.create_session(user, kind=fields.pop("type"), **fields)


create_session_once = http_write(_create_session, ExamSession, database_serialises=False)


@app.post("/v1/admin/exam-sessions", status_code=status.HTTP_201_CREATED)
def create_session(
    body: NewSession, user: CurrentUser, key: IdempotencyKey, http: Request
) -> ExamSession:
    return create_session_once(user, key, body, http.scope.get("aws.context"))


class OnlineEnrolment(BaseModel):
    student_id: UUID
    qualification_code: Code


@app.post("/v1/admin/enrolments", status_code=status.HTTP_201_CREATED)
def enrol_online(body: OnlineEnrolment, user: CurrentUser) -> Enrolment:
    return scheduling.enrol_online(user, body.student_id, body.qualification_code)


class CourseStudent(BaseModel):
    student_id: UUID


@app.post(
    "/v1/admin/course-sessions/{course_session_id}/students", status_code=status.HTTP_201_CREATED
)
def enrol_in_course(
    course_session_id: UUID, body: CourseStudent, user: CurrentUser
) -> CourseEnrolment:
    """A course's student sits its bundled exam without a fee; enrolling again changes nothing."""
    return scheduling.enrol_in_course(user, course_session_id, body.student_id)


class Results(BaseModel):
    scores: Scores | None = None
    absent: bool = False


class ResultsOf(Results):
    registration_id: UUID


def _enter_results(user: User, request: ResultsOf, key: str) -> Sitting:
    scores = {str(k): v for k, v in request.scores.items()} if request.scores else None
    return results.enter_results(user, request.registration_id, scores, request.absent)


enter_results_once = http_write(_enter_results, Sitting, database_serialises=False)


@app.post("/v1/admin/registrations/{registration_id}/results")
def enter_results(
    registration_id: UUID, body: Results, user: CurrentUser, key: IdempotencyKey, http: Request
) -> Sitting:
    """A repeat with the same Idempotency-Key replays the first answer; results entered again
    under another key are a 409 (changes go through an enquiry)."""
    request = ResultsOf(registration_id=registration_id, **body.model_dump())
    return enter_results_once(user, key, request, http.scope.get("aws.context"))


@app.post("/v1/admin/enquiries/{enquiry_id}/review")
def review_enquiry(enquiry_id: UUID, user: CurrentUser) -> Enquiry:
    return enquiries.review_enquiry(user, enquiry_id)


class Decision(BaseModel):
    decision: Literal["UPHELD", "REJECTED", "PARTIAL"]
    scores: Scores | None = None
    note: str | None = Field(default=None, max_length=1000)


class DecisionOn(Decision):
    enquiry_id: UUID


def _decide_enquiry(user: User, request: DecisionOn, key: str) -> Enquiry:
    scores = {str(k): v for k, v in request.scores.items()} if request.scores else None
    return enquiries.decide_enquiry(
        user, request.enquiry_id, request.decision, scores, request.note
    )


decide_enquiry_once = http_write(_decide_enquiry, Enquiry, database_serialises=False)


@app.post("/v1/admin/enquiries/{enquiry_id}/decision")
def decide_enquiry(
    enquiry_id: UUID, body: Decision, user: CurrentUser, key: IdempotencyKey, http: Request
) -> Enquiry:
    request = DecisionOn(enquiry_id=enquiry_id, **body.model_dump())
    return decide_enquiry_once(user, key, request, http.scope.get("aws.context"))


@app.get("/v1/me/exam-registrations")
def history_registrations(
    user: CurrentUser,
    student_id: UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 20,
) -> history.Page[history.RegistrationItem]:
    """A student's exam registrations, newest first, with their outcome and certificate.
    A parent names the child (`student_id`)."""
    return history.registrations(user, student_id, cursor, limit)


@app.get("/v1/admin/exam-registrations")
def list_registrations(
    user: CurrentUser,
    registration_status: str | None = Query(
        None, alias="status", pattern="^(REGISTERED|ABSENT|SAT)$"
    ),
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    cursor: Cursor = None,
    limit: Limit = 20,
) -> history.Page[backoffice.RegistrationRow]:
    """Registrations by status and by their session's date."""
    return backoffice.registrations(user, cursor, limit, registration_status, since, until)


@app.get("/v1/admin/enquiries")
def list_enquiries(
    user: CurrentUser,
    enquiry_status: str | None = Query(
        None, alias="status", pattern="^(SUBMITTED|UNDER_REVIEW|UPHELD|REJECTED|PARTIAL)$"
    ),
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    cursor: Cursor = None,
    limit: Limit = 20,
) -> history.Page[backoffice.EnquiryRow]:
    """Result enquiries by status (the queue: SUBMITTED) and date asked."""
    return backoffice.enquiries(user, cursor, limit, enquiry_status, since, until)


handler = lambda_handler(app)
