"""Open Badges 3.0 credentials signed as JWTs (RS256, OB3 JWT profile), and the key set that
verifies them. The private key comes from Secrets Manager ({"kid", "private_key"} PEM); every
public key that ever signed is kept in `signing_keys`, so rotation leaves old credentials
verifiable. Imports `jwt`/`cryptography` (the certificate worker's layer) only when signing."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable
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
# Bits per status list: the Bitstring Status List's minimum (16 KB), so that a list tells a
# verifier nothing about which credential they hold (herd privacy).
STATUS_LIST_SIZE = 131_072
STATUS_TTL_MS = 300_000  # how long a verifier may cache a status list


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


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


def identity(
    email: str | None, student_id: str, salt: str, holder_name: str = ""
) -> list[dict[str, Any]]:
    """The learner as 1EdTech `IdentityObject`s: the salted SHA-256 of their email (or, for a
    child without one, of their id in reussite), never the plain value; and their display
    name, as the verify page shows it (an unhashed `name` identity, which the spec allows)."""
    value, kind = (email.strip().lower(), "emailAddress") if email else (student_id, "systemId")
    digest = hashlib.sha256(f"{value}{salt}".encode()).hexdigest()
    identities = [
        {
            "type": "IdentityObject",
            "hashed": True,
            "identityHash": f"sha256${digest}",
            "identityType": kind,
            "salt": salt,
        }
    ]
    if holder_name:
        identities.append(
            {
                "type": "IdentityObject",
                "hashed": False,
                "identityHash": holder_name,
                "identityType": "name",
            }
        )
    return identities


def status_list_url(number: int) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/v1/status-lists/{number}"


def status_entry(index: int) -> dict[str, Any]:
    """The credential's `credentialStatus`: its bit in a revocation Bitstring Status List."""
    number, bit = divmod(index, STATUS_LIST_SIZE)
    return {
        "id": f"{status_list_url(number)}#{bit}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": str(bit),
        "statusListCredential": status_list_url(number),
    }


def encoded_list(set_bits: Iterable[int]) -> str:
    """The list's bits (bit 0 the left-most of the first byte), GZIP-compressed, multibase
    base64url without padding (a leading "u"), as Bitstring Status List 1.0 encodes it."""
    bits = bytearray(STATUS_LIST_SIZE // 8)
    for bit in set_bits:
        bits[bit // 8] |= 0x80 >> (bit % 8)
    packed = base64.urlsafe_b64encode(gzip.compress(bytes(bits), mtime=0)).rstrip(b"=")
    return "u" + packed.decode()


def set_bits(encoded: str) -> set[int]:
    """The bits set in an encoded list (what a verifier reads)."""
    raw = encoded.removeprefix("u")
    bits = gzip.decompress(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    return {i for i in range(len(bits) * 8) if bits[i // 8] & (0x80 >> (i % 8))}


def status_list_credential(number: int, revoked: Iterable[int], now: datetime) -> dict[str, Any]:
    """The BitstringStatusListCredential of list `number`, revoked bits set."""
    url = status_list_url(number)
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer_profile(),
        "validFrom": _instant(now),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encoded_list(revoked),
            "ttl": STATUS_TTL_MS,
        },
    }


def credential_of(
    *,
    credential_id: str,
    email: str | None,
    student_id: str,
    qualification: str,
    level: str,
    issued_at: datetime,
    salt: str,
    status_index: int,
    holder_name: str = "",
    valid_until: datetime | None = None,
) -> dict[str, Any]:
    """The OpenBadgeCredential (OB 3.0.3 on the VC Data Model 2.0) of a pass: valid until the
    qualification expires (if it does), its revocation a bit of a status list."""
    earned = achievement(qualification, level)
    credential: dict[str, Any] = {
        "@context": OB3_CONTEXT,
        "id": credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": qualification,
        "description": earned["description"],
        "issuer": issuer_profile(),
        "validFrom": _instant(issued_at),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": identity(email, student_id, salt, holder_name),
            "achievement": earned,
        },
        "credentialStatus": status_entry(status_index),
    }
    if valid_until is not None:
        credential["validUntil"] = _instant(valid_until)
    return credential


def prepare() -> None:
    """Import what signing uses (pyjwt, cryptography's RSA) now, for the certificate worker's
    init: its SnapStart snapshot then holds them, and a restored container's first credential
    does not load them (~25 ms from the PDF layer's sources). The key itself is read on first
    use: Secrets Manager, then recorded in the database, neither of which init may touch."""
    import jwt.algorithms  # noqa: F401
    from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: F401
    from cryptography.hazmat.primitives.serialization import load_pem_private_key  # noqa: F401


@cache
def _signing_key() -> tuple[str, Any, dict[str, Any]]:
    """(kid, private key, public JWK) of the current key; the public half registered once."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    arn = get_settings().signing_key_secret_arn
    if not arn:
        raise RuntimeError("SIGNING_KEY_SECRET_ARN must be set")
    from reussite import aws

    secret = json.loads(aws.secret(arn, force_fetch=True))  # cached here, once
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
    if "validUntil" in credential:
        claims["exp"] = int(datetime.fromisoformat(credential["validUntil"]).timestamp())
    headers = {"kid": kid, "typ": "vc+jwt", "cty": "vc"}
    return jwt.encode(claims, private, algorithm="RS256", headers=headers), kid


def decoded(token: str) -> dict[str, Any]:
    """The credential a compact JWS carries (its signature is the verifier's to check)."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    for claim in ("iss", "jti", "nbf", "iat", "exp"):
        claims.pop(claim, None)
    return claims


def jwks() -> dict[str, Any]:
    rows = db.connection().execute("SELECT public_jwk FROM signing_keys ORDER BY created_at")
    return {"keys": [row["public_jwk"] for row in rows]}


def reset() -> None:
    _signing_key.cache_clear()
