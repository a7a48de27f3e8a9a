"""Typed domain errors. Each carries a stable code; the HTTP layer maps them to problem+json."""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    code: ClassVar[str] = "DOMAIN_ERROR"
    status: ClassVar[int] = 400
    title: ClassVar[str] = "The request cannot be carried out"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"
    status = 401
    title = "A valid bearer token is required"


class Forbidden(DomainError):
    code = "FORBIDDEN"
    status = 403
    title = "Your role does not allow this"


class UnknownRole(DomainError):
    code = "UNKNOWN_ROLE"
    status = 403
    title = "The token carries a role reussite does not know"


class UntrustedRoleClaim(DomainError):
    code = "UNTRUSTED_ROLE_CLAIM"
    status = 403
    title = "The token's role comes from an attribute users can edit; reussite does not trust it"


class NotFound(DomainError):
    code = "NOT_FOUND"
    status = 404
    title = "No such resource"


class StudentNotFound(NotFound):
    code = "STUDENT_NOT_FOUND"
    title = "No such student"


class LinkCodeInvalid(NotFound):
    code = "LINK_CODE_INVALID"
    title = "This link code is unknown, expired or already used"


class BadCursor(DomainError):
    code = "BAD_CURSOR"
    status = 400
    title = "This cursor does not belong to this list, or was altered"


class Conflict(DomainError):
    code = "CONFLICT"
    status = 409
    title = "The request conflicts with the current state"


class StudentAlreadyLinked(Conflict):
    code = "STUDENT_ALREADY_LINKED"
    title = "This student profile already has its own login"


class LinkConflict(Conflict):
    code = "LINK_CONFLICT"
    title = "Your own student profile already has activity and cannot be replaced"


class DependencyUnavailable(DomainError):
    code = "DEPENDENCY_UNAVAILABLE"
    status = 503
    title = "A service reussite depends on is unavailable; try again"


class FeatureDisabled(DomainError):
    code = "FEATURE_DISABLED"
    status = 403
    title = "This feature is not available to you yet"


class PremiumRequired(DomainError):
    code = "PREMIUM_REQUIRED"
    status = 403
    title = "This needs a higher offer"


class ExamNotFound(NotFound):
    code = "EXAM_NOT_FOUND"
    title = "No such exam"


class AttemptNotFound(NotFound):
    code = "ATTEMPT_NOT_FOUND"
    title = "No such attempt"


class GeneratorNotFound(NotFound):
    code = "GENERATOR_NOT_FOUND"
    title = "No such exercise generator"


class AttemptInProgress(Conflict):
    code = "ATTEMPT_IN_PROGRESS"
    title = "An attempt at this exam is already open; here it is"


class AlreadySubmitted(Conflict):
    code = "ALREADY_SUBMITTED"
    title = "This attempt was already submitted with other answers"


class UnknownQuestions(DomainError):
    code = "UNKNOWN_QUESTIONS"
    status = 422
    title = "The answers name questions this attempt does not ask"


class DeadlinePassed(DomainError):
    code = "DEADLINE_PASSED"
    status = 422
    title = "The exam's time is over; these answers were not counted"


class AttemptTokenInvalid(DomainError):
    code = "ATTEMPT_TOKEN_INVALID"
    status = 403
    title = "The attempt token does not match this attempt"


class CertificateNotFound(NotFound):
    code = "CERTIFICATE_NOT_FOUND"
    title = "No certificate has this verification code"


class NotEligible(DomainError):
    code = "NOT_ELIGIBLE"
    status = 403
    title = "Not eligible"


class InsufficientCredits(DomainError):
    code = "INSUFFICIENT_CREDITS"
    status = 402
    title = "Not enough live credits"


class IdempotencyKeyRequired(DomainError):
    code = "IDEMPOTENCY_KEY_REQUIRED"
    status = 400
    title = "This request needs an Idempotency-Key header"


class RequestInProgress(Conflict):
    code = "REQUEST_IN_PROGRESS"
    title = "The first request with this Idempotency-Key is still running; retry shortly"


class IdempotencyKeyReused(DomainError):
    code = "IDEMPOTENCY_KEY_REUSED"
    status = 422
    title = "This Idempotency-Key was already used for a different request"


class SpendNotFound(NotFound):
    code = "SPEND_NOT_FOUND"
    title = "No such spend in this wallet"


class AttemptClosed(DomainError):
    code = "ATTEMPT_CLOSED"
    status = 409
    title = "This attempt is closed; its answers no longer change"
