"""The refusals of exam sessions, each with its stable code."""

from __future__ import annotations

from reussite.errors import Conflict, DomainError, NotFound


class QualificationNotFound(NotFound):
    code = "QUALIFICATION_NOT_FOUND"
    title = "No such qualification"


class SessionNotFound(NotFound):
    code = "SESSION_NOT_FOUND"
    title = "No such exam session"


class RegistrationNotFound(NotFound):
    code = "REGISTRATION_NOT_FOUND"
    title = "No such registration"


class EnquiryNotFound(NotFound):
    code = "ENQUIRY_NOT_FOUND"
    title = "No such enquiry"


class CourseNotFound(NotFound):
    code = "COURSE_NOT_FOUND"
    title = "No such course session"


class SessionFull(Conflict):
    code = "SESSION_FULL"
    title = "This session has no seat left"


class RegistrationClosed(Conflict):
    code = "REGISTRATION_CLOSED"
    title = "Registration for this session has closed"


class AlreadyRegistered(Conflict):
    code = "ALREADY_REGISTERED"
    title = "This student is already registered for this session"


class NotAllowed(Conflict):
    code = "REGISTRATION_NOT_ALLOWED"
    title = "This student cannot register for this session"


class NoSessionAvailable(Conflict):
    code = "NO_SESSION_AVAILABLE"
    title = "No session with a free seat is open for registration"


class ResultsAlreadyEntered(Conflict):
    code = "RESULTS_ALREADY_ENTERED"
    title = "This sitting already has its results; change them through an enquiry"


class SessionNotHeld(Conflict):
    code = "SESSION_NOT_HELD"
    title = "Results are recorded once the session has taken place (its papers are over)"


class NotRegistered(Conflict):
    code = "REGISTRATION_NOT_CONFIRMED"
    title = "This registration is not confirmed: its payment is pending or it was cancelled"


class EnquiryNotAllowed(Conflict):
    code = "ENQUIRY_NOT_ALLOWED"
    title = "No enquiry can be made about this sitting now"


class EnquiryState(Conflict):
    code = "ENQUIRY_STATE"
    title = "The enquiry is not in a state that allows this"


class ProctorNotFound(DomainError):
    code = "PROCTOR_NOT_FOUND"
    status = 422
    title = "The proctor must be a coach or a member of staff"


class InvalidScores(DomainError):
    code = "INVALID_SCORES"
    status = 422
    title = "The scores do not match the components sat"


class InvalidDates(DomainError):
    code = "INVALID_DATES"
    status = 422
    title = "The dates are not in order"
