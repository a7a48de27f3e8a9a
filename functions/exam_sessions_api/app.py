"""Exam sessions for schools (WSET-style): staff schedule courses and sessions, enter results
and decide enquiries; families find sessions, register, read their results and ask for
enquiries."""

from datetime import time
from typing import Annotated, Literal, cast
from uuid import UUID

from fastapi import Query, Request, status
from pydantic import AwareDatetime, BaseModel, Field

from reussite import backoffice, history
from reussite.exam_sessions import (
    catalogue,
    enquiries,
    queues,
    registrations,
    results,
    scheduling,
    services,
)
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
from reussite.exam_sessions.rules import Price, Qualification
from reussite.front_door import http_write
from reussite.http.app import create_app, lambda_handler
from reussite.http.auth import CurrentUser, IdempotencyKey
from reussite.http.params import Cursor, Limit
from reussite.identity.models import User
from reussite.inputs import BoundedText, Day, HumanName, Moment
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


PayWith = Literal["konnect", "wise", "credits"]  # as checkout's provider, or credits


def _pay_with(value: str | None) -> services.PayWith | None:
    return cast("services.PayWith", value.upper()) if value else None


class ForStudent(BaseModel):
    student_id: UUID | None = None  # a parent's child; a student registers themself
    # how a paid service is paid: an order (Konnect, or a Wise transfer) or credits where the
    # school accepts them; a course's own bundled seat needs none
    pay_with: PayWith | None = None


@app.post("/v1/exam-sessions/{session_id}/registrations", status_code=status.HTTP_201_CREATED)
def register(
    session_id: UUID, user: CurrentUser, key: IdempotencyKey, body: ForStudent | None = None
) -> Registration:
    """A seat paid in money is held (PENDING_PAYMENT) with its order (pay_url, or the bank
    transfer's details) and confirmed when the order is paid; it is released if the order
    expires."""
    body = body or ForStudent()
    pay_with = _pay_with(body.pay_with)
    return registrations.register(user, session_id, body.student_id, key, pay_with)


@app.post("/v1/qualifications/{code}/makeup", status_code=status.HTTP_201_CREATED)
def register_makeup(
    code: Annotated[str, Field(pattern=r"^[A-Z0-9-]{1,32}$")],
    user: CurrentUser,
    key: IdempotencyKey,
    body: ForStudent | None = None,
) -> Registration:
    body = body or ForStudent()
    pay_with = _pay_with(body.pay_with)
    return registrations.register_makeup(user, code[:32], body.student_id, key, pay_with)


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
    type: Literal["THEORY", "TASTING", "BOTH"]  # THEORY: the written paper
    reason: BoundedText
    pay_with: PayWith | None = None


@app.post("/v1/registrations/{registration_id}/enquiries", status_code=status.HTTP_201_CREATED)
def ask_enquiry(
    registration_id: UUID, body: EnquiryRequest, user: CurrentUser, key: IdempotencyKey
) -> Enquiry:
    """Ask for a sitting to be re-marked, with a reason; paid in money, it is submitted once
    its order is paid."""
    return enquiries.request_enquiry(
        user, registration_id, body.type, body.reason, key, _pay_with(body.pay_with)
    )


@app.get("/v1/enquiries/{enquiry_id}")
def get_enquiry(enquiry_id: UUID, user: CurrentUser) -> Enquiry:
    """An enquiry's status, outcome, score changes and refund (its family and staff)."""
    return enquiries.get_enquiry(user, enquiry_id)


class HistoryPage(BaseModel):
    items: list[queues.QualificationHistory]
    next: str | None = None


@app.get("/v1/students/{student_id}/exam-history")
def exam_history(
    student_id: UUID, user: CurrentUser, cursor: Cursor = None, limit: Limit = 20
) -> HistoryPage:
    """The candidate's exams per qualification, with the actions the rules allow next and
    their prices (the student, their parents, staff)."""
    page = queues.history(user, student_id, cursor, limit)
    return HistoryPage(items=page.items, next=page.next)


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
        None,
        alias="status",
        pattern="^(PENDING_PAYMENT|SUBMITTED|UNDER_REVIEW|COMPLETED|REJECTED|CANCELLED)$",
    ),
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    cursor: Cursor = None,
    limit: Limit = 20,
) -> history.Page[backoffice.EnquiryRow]:
    """Result enquiries by status (the queue: SUBMITTED) and date asked."""
    return backoffice.enquiries(user, cursor, limit, enquiry_status, since, until)


@app.get("/v1/admin/exam-sessions")
def exam_calendar(
    user: CurrentUser,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    qualification: Annotated[str | None, Query(pattern=r"^[A-Z0-9-]{1,32}$")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> history.Page[ExamSession]:
    """Every session from `since` (default: now), soonest first, full or not (the calendar)."""
    return queues.calendar(user, since, until, qualification, cursor, limit)


@app.get("/v1/admin/exam-queues/remote-invigilation")
def remote_queue(
    user: CurrentUser, cursor: Cursor = None, limit: Limit = 50
) -> history.Page[queues.RemoteCandidate]:
    """Online students who can schedule remote invigilation and have not, longest waiting
    first."""
    return queues.remote_queue(user, cursor, limit)


@app.get("/v1/admin/exam-queues/makeups-resits")
def retake_queue(
    user: CurrentUser, cursor: Cursor = None, limit: Limit = 50
) -> history.Page[queues.RetakeCandidate]:
    """Students who missed a bundled exam or failed, with no sitting booked."""
    return queues.retake_queue(user, cursor, limit)


class ServicePrice(BaseModel):
    price_minor: int = Field(gt=0, le=100_000_000)
    currency: Literal["TND", "EUR", "USD"]
    credits: int | None = Field(default=None, ge=1, le=10_000)  # None: money only
    refund_upheld_as: Literal["MONEY", "CREDITS"] = "MONEY"


@app.put("/v1/admin/exam-services/{code}/{service}")
def price_service(
    code: Annotated[str, Field(pattern=r"^[A-Z0-9-]{1,32}$")],
    service: services.Service,
    body: ServicePrice,
    user: CurrentUser,
) -> Price:
    """Price an exam service (a PUT: the same body again changes nothing); audited."""
    return services.set_service(user, code, service, **body.model_dump())


@app.get("/v1/admin/refunds")
def list_refunds(
    user: CurrentUser,
    refund_status: str | None = Query(None, alias="status", pattern="^(DUE|MADE)$"),
    cursor: Cursor = None,
    limit: Limit = 50,
) -> history.Page[queues.Refund]:
    """Money owed back to families, oldest first (the queue: DUE)."""
    return queues.refunds(user, refund_status, cursor, limit)


class RefundMade(BaseModel):
    reference: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[\w./ -]+$")]


@app.post("/v1/admin/refunds/{refund_id}/made")
def refund_made(refund_id: UUID, body: RefundMade, user: CurrentUser) -> queues.Refund:
    """Staff made the refund (a transfer: its reference); the same reference again replays."""
    return queues.refund_made(user, refund_id, body.reference)


handler = lambda_handler(app)
