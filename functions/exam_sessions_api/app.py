"""Sat exams for schools (WSET-style): staff schedule courses and sessions, enter results and
decide enquiries; families find sessions, register, read their results and ask for enquiries."""

from datetime import date, datetime, time
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Query, Request, status
from pydantic import BaseModel, Field

from reussite.http.app import create_app, lambda_handler
from reussite.http.auth import CurrentUser, IdempotencyKey
from reussite.http.idempotency import once
from reussite.identity.models import User
from reussite.inputs import Day, HumanName, Moment
from reussite.jsonable import jsonable
from reussite.sittings import rules, service

app = create_app("reussite exam sessions")
Component = Literal["THEORY", "TASTING", "COMBINED"]
Scores = dict[Component, Annotated[int, Field(ge=0, le=100)]]
Code = Annotated[str, Field(pattern=r"^[A-Z0-9-]{1,32}$")]


def _staff_once(action: Any, model: type[BaseModel], **renamed: str) -> Any:
    """A staff write behind the front door: a repeated Idempotency-Key returns the first
    result. The request carries the body as JSON; the action gets it parsed again."""

    def write(*, request: dict[str, Any], user: User) -> dict[str, Any]:
        fields = model.model_validate(request["body"]).model_dump()
        fields = {renamed.get(k, k): v for k, v in fields.items()}
        return dict(jsonable(action(user, **request["path"], **fields)))

    # No unique key of the database names a staff write's Idempotency-Key: a concurrent
    # repeat waits for the first and replays it.
    return once(write, payload="[path, body]", database_serialises=False)


def _front_door(
    door: Any, user: User, key: str, http: Request, body: BaseModel, **path: Any
) -> Any:
    request = {
        "sub": user.sub,
        "key": key,
        "path": {k: str(v) for k, v in path.items()},
        "body": body.model_dump(mode="json"),
    }
    return door(request=request, user=user, lambda_context=http.scope.get("aws.context"))


# -- what the API answers ----------------------------------------------------------------------

SessionType = Literal["BUNDLED", "MAKEUP", "RESIT", "REMOTE", "STANDALONE"]


class ExamSession(BaseModel):
    id: UUID
    qualification_code: str
    type: SessionType
    components: list[str]
    starts_at: datetime
    location: str | None
    remote: bool
    proctor_id: UUID | None
    capacity: int
    registered: int
    registration_deadline: datetime
    course_session_id: UUID | None


class Registration(BaseModel):
    id: UUID
    session_id: UUID
    student_id: UUID
    components: list[str]
    status: Literal["REGISTERED", "ABSENT", "SAT"]
    fee_credits: int
    created_at: datetime
    qualification_code: str
    type: SessionType
    starts_at: datetime


class ComponentResult(BaseModel):
    score: int
    passed: bool
    carried: bool


class Outcome(BaseModel):
    id: UUID
    registration_id: UUID
    components: dict[str, ComponentResult]
    passed: bool
    grade: Literal["FAIL", "PASS", "MERIT", "DISTINCTION"]
    percent: int
    created_at: datetime


class MyExam(Registration):
    scores: dict[str, int] | None
    outcome_id: UUID | None
    passed: bool | None
    grade: str | None
    percent: int | None
    certificate: str | None  # the verification code, once issued


class Sitting(BaseModel):
    registration_id: UUID
    status: Literal["ABSENT", "SAT"]
    outcome: Outcome | None


class Enquiry(BaseModel):
    id: UUID
    registration_id: UUID
    components: list[str]
    status: Literal["SUBMITTED", "UNDER_REVIEW", "UPHELD", "REJECTED", "PARTIAL"]
    fee_credits: int
    decision_note: str | None
    created_at: datetime
    decided_at: datetime | None
    outcome: Outcome | None = None  # the regrade, when a decision changed the scores


class Template(BaseModel):
    id: UUID
    components: list[str]
    exam_day: str


class Offering(BaseModel):
    id: UUID
    qualification_code: str
    name: str
    created_at: datetime
    templates: list[Template]


class Course(BaseModel):
    id: UUID
    offering_id: UUID
    starts_on: date
    ends_on: date
    location: str | None
    remote: bool
    capacity: int
    exam_sessions: list[ExamSession]


class Enrolment(BaseModel):
    student_id: UUID
    qualification_code: str
    online: bool
    enrolled_at: datetime


# -- catalogue and families --------------------------------------------------------------------


@app.get("/v1/qualifications", response_model=list[rules.Qualification])
def list_qualifications(user: CurrentUser) -> Any:
    return service.qualifications()


@app.get("/v1/exam-sessions", response_model=list[ExamSession])
def open_sessions(
    user: CurrentUser,
    qualification: Annotated[str | None, Query(pattern=r"^[A-Z0-9-]{1,32}$")] = None,
) -> Any:
    return [jsonable(s) for s in service.available_sessions(qualification)]


class ForStudent(BaseModel):
    student_id: UUID | None = None  # a parent's child; a student registers themself


@app.post(
    "/v1/exam-sessions/{session_id}/registrations",
    status_code=status.HTTP_201_CREATED,
    response_model=Registration,
)
def register(
    session_id: UUID, user: CurrentUser, key: IdempotencyKey, body: ForStudent | None = None
) -> Any:
    student = body.student_id if body else None
    return dict(jsonable(service.register(user, session_id, student, key)))


@app.post(
    "/v1/qualifications/{code}/makeup",
    status_code=status.HTTP_201_CREATED,
    response_model=Registration,
)
def register_makeup(
    code: Annotated[str, Field(pattern=r"^[A-Z0-9-]{1,32}$")],
    user: CurrentUser,
    key: IdempotencyKey,
    body: ForStudent | None = None,
) -> Any:
    student = body.student_id if body else None
    return dict(jsonable(service.register_makeup(user, code[:32], student, key)))


@app.get("/v1/me/exams", response_model=list[MyExam])
def my_exams(user: CurrentUser) -> Any:
    return [jsonable(r) for r in service.my_exams(user)]


class EnquiryRequest(BaseModel):
    components: list[Component] = Field(min_length=1, max_length=3)


@app.post(
    "/v1/registrations/{registration_id}/enquiries",
    status_code=status.HTTP_201_CREATED,
    response_model=Enquiry,
)
def ask_enquiry(
    registration_id: UUID, body: EnquiryRequest, user: CurrentUser, key: IdempotencyKey
) -> Any:
    return dict(jsonable(service.request_enquiry(user, registration_id, body.components, key)))


# -- staff -------------------------------------------------------------------------------------


class NewOffering(BaseModel):
    qualification_code: Code
    name: HumanName


create_offering_once = _staff_once(service.create_offering, NewOffering)


@app.post(
    "/v1/admin/course-offerings", status_code=status.HTTP_201_CREATED, response_model=Offering
)
def create_offering(
    body: NewOffering, user: CurrentUser, key: IdempotencyKey, http: Request
) -> Any:
    return _front_door(create_offering_once, user, key, http, body)


class NewCourse(BaseModel):
    starts_on: Day
    ends_on: Day
    capacity: int = Field(gt=0, le=1000)
    location: HumanName | None = None
    remote: bool = False
    proctor_id: UUID | None = None
    exam_time: time = time(14, 0)


schedule_course_once = _staff_once(service.schedule_course, NewCourse)


@app.post(
    "/v1/admin/course-offerings/{offering_id}/sessions",
    status_code=status.HTTP_201_CREATED,
    response_model=Course,
)
def schedule_course(
    offering_id: UUID, body: NewCourse, user: CurrentUser, key: IdempotencyKey, http: Request
) -> Any:
    return _front_door(schedule_course_once, user, key, http, body, offering_id=offering_id)


class NewSession(BaseModel):
    qualification_code: Code
    type: Literal["MAKEUP", "RESIT", "REMOTE", "STANDALONE"]
    starts_at: Moment
    registration_deadline: Moment
    capacity: int = Field(gt=0, le=1000)
    location: HumanName | None = None
    remote: bool = False
    proctor_id: UUID | None = None


create_session_once = _staff_once(service.create_session, NewSession, type="kind")


@app.post(
    "/v1/admin/exam-sessions", status_code=status.HTTP_201_CREATED, response_model=ExamSession
)
def create_session(body: NewSession, user: CurrentUser, key: IdempotencyKey, http: Request) -> Any:
    return _front_door(create_session_once, user, key, http, body)


class OnlineEnrolment(BaseModel):
    student_id: UUID
    qualification_code: Code


@app.post("/v1/admin/enrolments", status_code=status.HTTP_201_CREATED, response_model=Enrolment)
def enrol_online(body: OnlineEnrolment, user: CurrentUser) -> Any:
    return dict(jsonable(service.enrol_online(user, body.student_id, body.qualification_code)))


class CourseStudent(BaseModel):
    student_id: UUID


class CourseEnrolment(BaseModel):
    course_session_id: UUID
    student_id: UUID
    qualification_code: str
    enrolled_at: datetime


@app.post(
    "/v1/admin/course-sessions/{course_session_id}/students",
    status_code=status.HTTP_201_CREATED,
    response_model=CourseEnrolment,
)
def enrol_in_course(course_session_id: UUID, body: CourseStudent, user: CurrentUser) -> Any:
    """A course's student sits its bundled exam without a fee; enrolling again changes nothing."""
    return service.enrol_in_course(user, course_session_id, body.student_id)


class Results(BaseModel):
    scores: Scores | None = None
    absent: bool = False


enter_results_once = _staff_once(service.enter_results, Results)


@app.post("/v1/admin/registrations/{registration_id}/results", response_model=Sitting)
def enter_results(
    registration_id: UUID, body: Results, user: CurrentUser, key: IdempotencyKey, http: Request
) -> Any:
    """A repeat with the same Idempotency-Key replays the first answer; results entered again
    under another key are a 409 (changes go through an enquiry)."""
    return _front_door(enter_results_once, user, key, http, body, registration_id=registration_id)


@app.post("/v1/admin/enquiries/{enquiry_id}/review", response_model=Enquiry)
def review_enquiry(enquiry_id: UUID, user: CurrentUser) -> Any:
    return dict(jsonable(service.review_enquiry(user, enquiry_id)))


class Decision(BaseModel):
    decision: Literal["UPHELD", "REJECTED", "PARTIAL"]
    scores: Scores | None = None
    note: str | None = Field(default=None, max_length=1000)


decide_enquiry_once = _staff_once(service.decide_enquiry, Decision)


@app.post("/v1/admin/enquiries/{enquiry_id}/decision", response_model=Enquiry)
def decide_enquiry(
    enquiry_id: UUID, body: Decision, user: CurrentUser, key: IdempotencyKey, http: Request
) -> Any:
    return _front_door(decide_enquiry_once, user, key, http, body, enquiry_id=enquiry_id)


handler = lambda_handler(app)
