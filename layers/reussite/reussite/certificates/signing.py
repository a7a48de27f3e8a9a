"""Open Badges 3.0 credentials signed as JWTs (RS256, OB3 JWT profile), and the key set that
verifies them. The private key comes from Secrets Manager ({"kid", "private_key"} PEM); every
public key that ever signed is kept in `signing_keys`, so rotation leaves old credentials
verifiable. Imports `jwt`/`cryptography` (the certificate worker's layer) only when signing."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from typing import Any

from reussite import db
from reussite.settings import get_settings

OB3_CONTEXT = [
    "https://www.w3.org/2018/credentials/v1",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
]


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


def sign_credential(
    *,
    credential_id: str,
    code: str,
    holder_id: str,
    holder_name: str,
    qualification: str,
    description: str,
    issued_at: datetime,
) -> tuple[str, str]:
    """The OpenBadgeCredential as a compact JWS; returns (jwt, kid)."""
    import jwt

    kid, private, _ = _signing_key()
    settings = get_settings()
    issuer = {
        "id": f"{settings.public_base_url}/issuer",
        "type": ["Profile"],
        "name": settings.issuer_name,
    }
    credential = {
        "@context": OB3_CONTEXT,
        "id": credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": issuer,
        "issuanceDate": issued_at.isoformat(),
        "name": qualification,
        "credentialSubject": {
            "id": holder_id,
            "type": ["AchievementSubject"],
            "name": holder_name,
            "achievement": {
                "id": f"{settings.public_base_url}/achievements/{qualification}",
                "type": ["Achievement"],
                "name": qualification,
                "description": description,
                "criteria": {"narrative": "Passed every component of the timed exam."},
            },
        },
        "credentialStatus": {
            "id": f"{settings.public_base_url}/v1/certificates/{code}",
            "type": "1EdTechRevocationList",
        },
    }
    claims = {
        "iss": issuer["id"],
        "jti": credential_id,
        "sub": holder_id,
        "nbf": int(issued_at.timestamp()),
        "iat": int(issued_at.timestamp()),
        "vc": credential,
    }
    token = jwt.encode(claims, private, algorithm="RS256", headers={"kid": kid, "typ": "JWT"})
    return token, kid


def jwks() -> dict[str, Any]:
    rows = db.connection().execute("SELECT public_jwk FROM signing_keys ORDER BY created_at")
    return {"keys": [row["public_jwk"] for row in rows]}


def reset() -> None:
    _signing_key.cache_clear()
