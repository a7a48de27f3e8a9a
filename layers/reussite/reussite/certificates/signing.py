"""Open Badges 3.0 credentials signed as JWTs (RS256, OB3 JWT profile), and the key set that
verifies them. The private key comes from Secrets Manager ({"kid", "private_key"} PEM); every
public key that ever signed is kept in `signing_keys`, so rotation leaves old credentials
verifiable. Imports `jwt`/`cryptography` (the certificate worker's layer) only when signing."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import unicodedata
from datetime import UTC, datetime
from functools import cache
from typing import Any

from reussite import db
from reussite.settings import get_settings

# VC Data Model 2.0 first, then Open Badges 3.0.3 (its 3.0.3 context is the one for VC 2.0).
OB3_CONTEXT = [
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
]
CRITERIA = "Passed every component of the timed exam."


def slug(text: str) -> str:
    """A URL-safe id part: accents folded, lower case, words joined by hyphens."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")[:80] or "achievement"


def issuer_profile() -> dict[str, Any]:
    """The issuer `Profile`, as its id (`/v1/issuer`) answers it and credentials embed it."""
    settings = get_settings()
    base = settings.public_base_url.rstrip("/")
    profile: dict[str, Any] = {
        "id": f"{base}/v1/issuer",
        "type": ["Profile"],
        "name": settings.issuer_name,
        "url": settings.issuer_url or base,
    }
    if settings.issuer_email:
        profile["email"] = settings.issuer_email
    return profile


def achievement(name: str, level: str) -> dict[str, Any]:
    """The `Achievement` a pass earns, as its id (`/v1/achievements/{slug}`) answers it."""
    base = get_settings().public_base_url.rstrip("/")
    return {
        "id": f"{base}/v1/achievements/{slug(name)}",
        "type": ["Achievement"],
        "name": name,
        "description": f"{name} ({level})" if level not in name else name,
        "criteria": {"narrative": CRITERIA},
        "image": {"id": f"{base}/v1/achievements/{slug(name)}/image.png", "type": "Image"},
    }


def identity(email: str | None, student_id: str, salt: str) -> list[dict[str, Any]]:
    """The learner as 1EdTech `IdentityObject`s: the salted SHA-256 of their email (or, for a
    child without one, of their id in reussite), never the plain value."""
    value, kind = (email.strip().lower(), "emailAddress") if email else (student_id, "systemId")
    digest = hashlib.sha256(f"{value}{salt}".encode()).hexdigest()
    return [
        {
            "type": "IdentityObject",
            "hashed": True,
            "identityHash": f"sha256${digest}",
            "identityType": kind,
            "salt": salt,
        }
    ]


def credential_of(
    *,
    credential_id: str,
    email: str | None,
    student_id: str,
    qualification: str,
    level: str,
    issued_at: datetime,
    salt: str,
) -> dict[str, Any]:
    """The OpenBadgeCredential (OB 3.0.3 on the VC Data Model 2.0) of a pass."""
    earned = achievement(qualification, level)
    return {
        "@context": OB3_CONTEXT,
        "id": credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": qualification,
        "description": earned["description"],
        "issuer": issuer_profile(),
        "validFrom": issued_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": identity(email, student_id, salt),
            "achievement": earned,
        },
    }


@cache
def _signing_key() -> tuple[str, Any, dict[str, Any]]:
    """(kid, private key, public JWK) of the current key; the public half registered once."""
    import jwt
    from aws_lambda_powertools.utilities.parameters import get_secret
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    arn = get_settings().signing_key_secret_arn
    if not arn:
        raise RuntimeError("SIGNING_KEY_SECRET_ARN must be set")
    secret = json.loads(str(get_secret(arn, force_fetch=True)))  # cached here, once
    private = load_pem_private_key(secret["private_key"].encode(), password=None)
    assert isinstance(private, RSAPrivateKey), "credentials are signed with RS256"
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    public_jwk.update({"kid": secret["kid"], "use": "sig", "alg": "RS256"})
    db.connection().execute(
        "INSERT INTO signing_keys (kid, public_jwk) VALUES (%s, %s) ON CONFLICT (kid) DO NOTHING",
        (secret["kid"], json.dumps(public_jwk)),
    )
    return secret["kid"], private, public_jwk


def sign_credential(credential: dict[str, Any]) -> tuple[str, str]:
    """The credential secured as a VC-JWT (OB 3.0's JWT proof: RS256, `kid` naming a key of the
    published set): the payload is the credential, with the registered claims `iss`, `jti`,
    `nbf` and `iat` mirroring it for JWT libraries. Returns (compact JWS, kid)."""
    import jwt

    kid, private, _ = _signing_key()
    issued = int(datetime.fromisoformat(credential["validFrom"]).timestamp())
    claims = credential | {
        "iss": credential["issuer"]["id"],
        "jti": credential["id"],
        "nbf": issued,
        "iat": issued,
    }
    headers = {"kid": kid, "typ": "vc+jwt", "cty": "vc"}
    return jwt.encode(claims, private, algorithm="RS256", headers=headers), kid


def decoded(token: str) -> dict[str, Any]:
    """The credential a compact JWS carries (its signature is the verifier's to check)."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    for claim in ("iss", "jti", "nbf", "iat"):
        claims.pop(claim, None)
    return claims


def jwks() -> dict[str, Any]:
    rows = db.connection().execute("SELECT public_jwk FROM signing_keys ORDER BY created_at")
    return {"keys": [row["public_jwk"] for row in rows]}


def reset() -> None:
    _signing_key.cache_clear()
