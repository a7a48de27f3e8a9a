"""Local stand-in for the identity provider: HS256 tokens signed with LOCAL_JWT_SECRET."""

from __future__ import annotations

import os
import time
from typing import Any

import jwt

DEFAULT_SECRET = (
    "reussite-local-development-only-not-a-secret"  # documented; never used outside the local stack
)


def secret() -> str:
    return os.environ.get("LOCAL_JWT_SECRET") or DEFAULT_SECRET


def make_token(
    sub: str, role: str, email: str | None = None, name: str | None = None, ttl: int = 12 * 3600
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": sub, "role": role, "iat": now, "exp": now + ttl}
    if email:
        claims["email"] = email
    if name:
        claims["name"] = name
    return jwt.encode(claims, secret(), algorithm="HS256")


def verify(token: str) -> dict[str, Any]:
    """The token's claims; raises jwt.InvalidTokenError when it is not valid."""
    claims: dict[str, Any] = jwt.decode(
        token, secret(), algorithms=["HS256"], options={"require": ["sub", "exp"]}
    )
    return claims


def as_gateway_claims(claims: dict[str, Any]) -> dict[str, str]:
    """Claims the way API Gateway's JWT authorizer hands them over: every value a string."""
    out = {}
    for key, value in claims.items():
        if isinstance(value, list):
            out[key] = "[" + " ".join(str(v) for v in value) + "]"
        elif isinstance(value, bool):
            out[key] = str(value).lower()
        else:
            out[key] = str(value)
    return out


def principal_claims(principal: Any) -> dict[str, str]:
    """The gateway claims for a reussite Principal (what API Gateway would pass on)."""
    claims = {"sub": principal.sub, "role": principal.role.value}
    if principal.email:
        claims["email"] = principal.email
    if principal.name:
        claims["name"] = principal.name
    return as_gateway_claims(claims)
