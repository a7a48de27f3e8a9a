"""The caller, from the claims API Gateway's JWT authorizer verified (`aws.event` in the scope)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request
from pydantic import ValidationError

from reussite.errors import (
    IdempotencyKeyRequired,
    Unauthenticated,
    UnknownRole,
    UntrustedRoleClaim,
)
from reussite.identity import service
from reussite.identity.models import Principal, Role, User


def claims_of(event: dict[str, Any] | None) -> dict[str, Any] | None:
    authorizer = ((event or {}).get("requestContext") or {}).get("authorizer") or {}
    claims = (authorizer.get("jwt") or {}).get("claims")
    return claims if isinstance(claims, dict) else None


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    """The caller as the verified token names them. The role comes from the `role` claim,
    which only the identity provider writes (in AWS, a Cognito pre-token-generation trigger that
    maps the user's group; locally, the token the local issuer signs), or else from
    `cognito:groups`, which only administrators change. Custom attributes (`custom:role`) are
    writable by users unless each app client is configured otherwise, so a token whose role
    would come from one is refused rather than trusted. No role at all means ELEVE."""
    role = claims.get("role") or _role_from_groups(claims.get("cognito:groups"))
    if role is None:
        if claims.get("custom:role") is not None:
            raise UntrustedRoleClaim()
        role = Role.ELEVE.value
    if role not in Role.__members__:
        raise UnknownRole(f"Role {str(role)[:40]!r} is not one of {', '.join(Role)}")
    try:
        return Principal(
            sub=claims.get("sub", ""),
            email=claims.get("email"),
            name=claims.get("name"),
            role=Role(role),
        )
    except ValidationError as exc:
        raise Unauthenticated("The token's identity claims are not usable") from exc


def _role_from_groups(groups: Any) -> str | None:
    """The one reussite role among the user's Cognito groups (None if none; several → refused,
    since which one is meant cannot be guessed)."""
    if isinstance(groups, str):  # API Gateway passes list claims as "[A B]"
        groups = groups.strip("[]").replace(",", " ").split()
    if not isinstance(groups, list):
        return None
    roles = sorted({g for g in groups if isinstance(g, str) and g in Role.__members__})
    if len(roles) > 1:
        raise UnknownRole(f"The token's groups name several roles: {', '.join(roles)}")
    return roles[0] if roles else None


# Dependencies are `async def`: FastAPI then runs them on the event loop instead of handing each
# to a worker thread and back (a measurable share of a warm request). Lambda gives a container
# one event at a time, so the one that reads the database blocks nothing else
# (reussite.http.app.OneEventAtATime).


async def current_principal(request: Request) -> Principal:
    claims = claims_of(request.scope.get("aws.event"))
    if not claims or not claims.get("sub"):
        raise Unauthenticated()
    return principal_from_claims(claims)


async def current_user(principal: Annotated[Principal, Depends(current_principal)]) -> User:
    return service.resolve_user(principal)


CurrentUser = Annotated[User, Depends(current_user)]


async def idempotency_key(
    key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", description="Unique per intended operation; 1-200 chars"),
    ] = None,
) -> str:
    """The client's Idempotency-Key: required on writes that spend or create."""
    if key is None or not key.strip():
        raise IdempotencyKeyRequired()
    key = key.strip()
    if len(key) > 200 or not key.isprintable():
        raise IdempotencyKeyRequired("The Idempotency-Key must be 1-200 printable characters")
    return key


IdempotencyKey = Annotated[str, Depends(idempotency_key)]
