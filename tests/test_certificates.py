"""Certificates: issued once per passed attempt from the queue, stored in private S3, signed as
Open Badges 3.0 JWTs verifiable with the published key set, verifiable and revocable."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import zxingcpp
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet
from pypdf import PdfReader

from reussite import db
from reussite.certificates import signing
from reussite.identity import service as identity
from reussite.identity.models import Role
from reussite.ledger import service as ledger
from reussite.ledger.models import LotKind
from reussite.settings import get_settings
from reussite_local import functions, ob3
from reussite_local.aws import LocalAws, rsa_signing_key
from reussite_local.events import http_api_event
from reussite_local.sqs import QueueDelivery
from tests import helpers
from tests.helpers import FUNCTIONS, call

ISSUER = FUNCTIONS["certificate_issue"]


@pytest.fixture
def deliver(local_aws: LocalAws) -> Any:
    """Deliver the certificate queue to the worker until it is empty (as the local stack does)."""
    delivery = QueueDelivery(
        local_aws, ISSUER, ISSUER.queues[0], get_settings().require("certificate_queue_url")
    )

    return helpers.Deliveries(delivery)


@pytest.fixture
def passed(database_url: str, principal: Any) -> Any:
    """A student named `name` who has just passed MATHS-PROP; returns (principal, attempt)."""

    def make(name: str) -> tuple[Any, dict[str, Any]]:
        who = principal(Role.ELEVE, name)
        student = identity.resolve_user(who).student_id
        assert student is not None
        ledger.grant(ledger.wallet_of(student), 2, LotKind.PURCHASE, key="pack", purpose="pack")
        status, attempt = call(
            "exam_start", "POST", "/v1/exams/MATHS-PROP/attempts", who, {}, key=f"start-{who.sub}"
        )
        assert status == 201, attempt
        row = db.read_one("SELECT questions FROM exam_attempts WHERE id = %s", (attempt["id"],))
        assert row is not None
        keys = row["questions"]
        body = {
            "attempt_token": attempt["attempt_token"],
            "answers": {q["id"]: q["answer"] for q in keys},
        }
        status, result = call(
            "exam_submit", "POST", f"/v1/attempts/{attempt['id']}/submit", who, body
        )
        assert status == 200 and result["passed"]
        return who, result

    return make


def certificates_of(attempt_id: str) -> list[dict[str, Any]]:
    return (
        db.connection()
        .execute("SELECT * FROM certificates WHERE attempt_id = %s", (attempt_id,))
        .fetchall()
    )


def test_a_pass_is_issued_once_with_pdf_credential_and_email(
    passed: Any, deliver: Any, local_aws: LocalAws
) -> None:
    who, attempt = passed("Hélène Château")

    deliver()

    (cert,) = certificates_of(attempt["id"])
    assert cert["pdf_stored_at"] and cert["emailed_at"] and cert["revoked_at"] is None
    assert len(cert["code"].replace("-", "")) == 16  # 80 bits in Crockford base32
    obj = local_aws.client("s3").get_object(
        Bucket=get_settings().certificates_bucket, Key=cert["pdf_key"]
    )
    assert obj["ServerSideEncryption"] == "AES256"
    assert who.sub not in cert["pdf_key"] and "Hélène" not in cert["pdf_key"]
    page = PdfReader(io.BytesIO(obj["Body"].read())).pages[0]
    assert "Hélène Château" in page.extract_text() and cert["code"] in page.extract_text()
    (qr,) = [code for image in page.images for code in zxingcpp.read_barcodes(image.image)]
    assert qr.text == f"{get_settings().public_base_url}/v1/certificates/{cert['code']}"
    assert len(page.images) == 2  # the school's logo beside the QR code
    assert "Sonia Ben Ammar" in page.extract_text()  # the signatory, from settings
    assert helpers.mailed_to(local_aws, cert["code"]) == [[who.email]]


def test_an_arabic_name_is_in_the_pdf(passed: Any, deliver: Any, local_aws: LocalAws) -> None:
    _, attempt = passed("ياسمين بن صالح")

    deliver()

    (cert,) = certificates_of(attempt["id"])
    body = (
        local_aws.client("s3")
        .get_object(Bucket=get_settings().certificates_bucket, Key=cert["pdf_key"])["Body"]
        .read()
    )
    text = PdfReader(io.BytesIO(body)).pages[0].extract_text()
    assert all(word in text for word in ("ياسمين", "بن", "صالح")), text


@pytest.mark.parametrize(
    "name",
    ["Héloïse Château-Lefèvre", "Leila ليلى بن علي", "Σοφία Παπαδοπούλου", "Nguyễn Thị Minh"],
)
def test_every_script_of_a_name_reaches_the_pdf_text(name: str) -> None:
    """Names the two container-cut fonts cover, mixed ones, and ones that fall back to the full
    font: always the right characters, never a missing-glyph box."""
    from datetime import UTC, datetime

    from reussite.certificates.pdf import CertificateText, render

    document = render(
        CertificateText(
            name,
            "Vin niveau 3 — théorie",
            "L3",
            81,
            datetime.now(UTC),
            "reussite",
            "ABCD",
            "https://reussite.example/v1/certificates/ABCD",
        )
    )

    text = PdfReader(io.BytesIO(document)).pages[0].extract_text()
    assert name in text and "Vin niveau 3 — théorie" in text and "81 %" in text
    assert len(document) < 40_000


def test_duplicate_and_concurrent_messages_issue_one_certificate(
    passed: Any, deliver: Any, local_aws: LocalAws
) -> None:
    _, attempt = passed("Zoé Doublon")
    sqs, queue = local_aws.client("sqs"), get_settings().require("certificate_queue_url")
    for _ in range(4):
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"attempt_id": attempt["id"]}))
    event = {
        "Records": [
            {
                "messageId": f"m{i}",
                "body": json.dumps({"attempt_id": attempt["id"]}),
                "receiptHandle": "r",
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-3:123456789012:CertificateQueue",
                "awsRegion": "eu-west-3",
            }
            for i in range(3)
        ]
    }
    barrier = threading.Barrier(6)

    def worker(_: int) -> Any:
        barrier.wait()
        try:
            return functions.invoke(ISSUER, event)
        finally:
            db.release()

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(worker, range(6)))
    deliver()

    assert len(certificates_of(attempt["id"])) == 1


def test_an_s3_failure_is_retried_and_ends_with_one_certificate(
    passed: Any, deliver: Any, local_aws: LocalAws
) -> None:
    deliver()  # drain what other tests left
    os.environ["CERTIFICATES_BUCKET"] = "no-such-bucket"
    get_settings.cache_clear()
    try:
        _, attempt = passed("Inès Retry")  # its certificate request is now in the queue
        assert deliver.once() == 1  # fails: the bucket is missing
        (failed,) = certificates_of(attempt["id"])
        assert failed["pdf_stored_at"] is None  # recorded, not stored: the message comes back
    finally:
        os.environ["CERTIFICATES_BUCKET"] = "reussite-local-certificatesbucket"
        get_settings.cache_clear()

    deliver()

    (cert,) = certificates_of(attempt["id"])
    assert cert["pdf_stored_at"] and cert["emailed_at"] and cert["code"] == failed["code"]


def test_the_credential_verifies_with_an_independent_library_and_the_published_keys(
    passed: Any, deliver: Any
) -> None:
    who, attempt = passed("Omar Vérifié")
    deliver()
    (cert,) = certificates_of(attempt["id"])

    status, jwks = call("certificates_api", "GET", "/.well-known/jwks.json")
    token = jose_jwt.decode(cert["credential"], KeySet.import_key_set(jwks), algorithms=["RS256"])

    assert status == 200 and token.header["kid"] == cert["kid"]
    assert token.header["typ"] == "vc+jwt" and token.header["alg"] == "RS256"
    vc = {k: v for k, v in token.claims.items() if k not in ("iss", "jti", "nbf", "iat")}
    ob3.validate(vc)  # OB 3.0.3 on VC 2.0: contexts, types, validFrom, closed subject
    assert vc["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert token.claims["iss"] == vc["issuer"]["id"] and token.claims["jti"] == vc["id"]
    identity, name = vc["credentialSubject"]["identifier"]
    expected = hashlib.sha256(f"{who.email}{identity['salt']}".encode()).hexdigest()
    assert identity["identityType"] == "emailAddress" and identity["hashed"] is True
    assert identity["identityHash"] == f"sha256${expected}"
    # the display name, as the public page shows it; the email only ever hashed
    assert name == {
        "type": "IdentityObject",
        "hashed": False,
        "identityHash": "Omar Vérifié",
        "identityType": "name",
    }
    assert who.email not in json.dumps(token.claims)
    assert who.email.split("@")[0] not in json.dumps(token.claims)

    # the learner takes it away: the JWS itself, or JSON
    event = http_api_event(
        "GET",
        f"/v1/certificates/{cert['code']}/credential",
        headers={"Accept": "application/vc+jwt"},
    )
    raw = functions.invoke(FUNCTIONS["certificates_api"], event)
    assert raw["headers"]["content-type"].startswith("application/vc+jwt")
    assert raw["body"] == cert["credential"]
    _, as_json = call("certificates_api", "GET", f"/v1/certificates/{cert['code']}/credential")
    assert as_json["credential"] == vc and as_json["jwt"] == cert["credential"]

    # the issuer and the achievement answer at their ids, which are URL-safe
    base = get_settings().public_base_url.rstrip("/")
    for thing in (vc["issuer"], vc["credentialSubject"]["achievement"]):
        path = thing["id"].removeprefix(base)
        assert re.fullmatch(r"/v1/[a-z0-9/-]+", path), thing["id"]
        found_status, found = call("certificates_api", "GET", path)
        assert found_status == 200 and found["id"] == thing["id"] and found["name"]
    assert call("certificates_api", "GET", "/v1/issuer")[1]["url"]


def test_the_public_verify_page_shows_only_what_it_should(
    passed: Any, deliver: Any, principal: Any
) -> None:
    who, attempt = passed("Léa Publique")
    deliver()
    (cert,) = certificates_of(attempt["id"])
    code = cert["code"]

    status, public = call("certificates_api", "GET", f"/v1/certificates/{code.lower()}")
    page = functions.invoke(
        FUNCTIONS["certificates_api"],
        http_api_event("GET", f"/v1/certificates/{code}", headers={"Accept": "text/html"}),
    )
    missing = call("certificates_api", "GET", "/v1/certificates/0000-0000-0000-0000")

    assert status == 200
    assert (public["holder_name"], public["status"], public["score"]) == (
        "Léa Publique",
        "valid",
        None,
    )
    assert who.email not in json.dumps(public) and "credential" not in public
    assert page["headers"]["content-type"].startswith("text/html")
    policy = page["headers"]["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy  # no script runs
    assert "Léa Publique" in page["body"] and "Valide" in page["body"]
    assert (missing[0], missing[1]["code"]) == (404, "CERTIFICATE_NOT_FOUND")


def test_only_an_admin_revokes_and_the_page_says_so(
    passed: Any, deliver: Any, principal: Any
) -> None:
    _, attempt = passed("Noé Révoqué")
    deliver()
    (cert,) = certificates_of(attempt["id"])
    path = f"/v1/admin/certificates/{cert['code']}/revoke"

    refused = call(
        "certificates_api", "POST", path, principal(Role.ASSISTANTE), {"reason": "x" * 5}
    )
    status, revoked = call(
        "certificates_api", "POST", path, principal(Role.ADMIN), {"reason": "Fraude constatée"}
    )
    public = call("certificates_api", "GET", f"/v1/certificates/{cert['code']}")[1]

    assert (refused[0], refused[1]["code"]) == (403, "FORBIDDEN")
    assert status == 200 and revoked["status"] == "revoked" and revoked["revoked_at"]
    assert public["status"] == "revoked"


def test_a_verifier_reads_a_revocation_from_the_signed_status_list(
    passed: Any, deliver: Any, principal: Any
) -> None:
    _, kept_attempt = passed("Iris Gardée")
    _, attempt = passed("Noé Listé")
    deliver()
    (kept,) = certificates_of(kept_attempt["id"])
    (cert,) = certificates_of(attempt["id"])
    assert not helpers.revoked_per_status_list(cert["credential"])

    call(
        "certificates_api",
        "POST",
        f"/v1/admin/certificates/{cert['code']}/revoke",
        principal(Role.ADMIN),
        {"reason": "Fraude constatée"},
    )

    assert helpers.revoked_per_status_list(cert["credential"])  # at once, no republishing
    assert not helpers.revoked_per_status_list(kept["credential"])  # its neighbour untouched
    assert call("certificates_api", "GET", "/v1/status-lists/99999")[1]["code"] == "NOT_FOUND"


def _png_chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of each chunk, read per the PNG specification (not by the project's code)."""
    import struct
    import zlib

    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, data = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", png[at + 8 + length : at + 12 + length])
        assert crc == zlib.crc32(kind + data), kind
        chunks.append((kind, data))
        at += 12 + length
    return chunks


def test_the_baked_badge_carries_a_credential_that_verifies(
    passed: Any, deliver: Any, local_aws: LocalAws
) -> None:
    from PIL import Image

    who, attempt = passed("Badr Cuit")
    deliver()
    (cert,) = certificates_of(attempt["id"])

    event = http_api_event("GET", f"/v1/certificates/{cert['code']}/badge.png")
    answer = functions.invoke(FUNCTIONS["certificates_api"], event)
    png = base64.b64decode(answer["body"]) if answer.get("isBase64Encoded") else answer["body"]

    assert answer["statusCode"] == 200 and answer["headers"]["content-type"] == "image/png"
    assert Image.open(io.BytesIO(png)).size == (400, 400)
    # OB 3.0 baking: an iTXt chunk, keyword "openbadgecredential", uncompressed, the JWS as text
    (baked,) = [d for kind, d in _png_chunks(png) if kind == b"iTXt"]
    keyword, rest = baked.split(b"\0", 1)
    assert keyword == b"openbadgecredential" and rest[:2] == b"\0\0"  # not compressed
    _language, _translated, text = rest[2:].split(b"\0", 2)
    _, jwks = call("certificates_api", "GET", "/.well-known/jwks.json")
    token = jose_jwt.decode(text.decode(), KeySet.import_key_set(jwks), algorithms=["RS256"])
    assert token.claims["credentialSubject"]["achievement"]["name"] == cert["qualification"]
    assert text.decode() == cert["credential"]
    assert who.email.encode() not in png  # privacy: nothing but the hashed identity
    assert [kind for kind, _ in _png_chunks(png)][-1] == b"IEND"

    # the achievement's own image (its `image` id, the page's preview) answers too
    image_id = token.claims["credentialSubject"]["achievement"]["image"]["id"]
    base = get_settings().public_base_url.rstrip("/")
    plain = functions.invoke(
        FUNCTIONS["certificates_api"], http_api_event("GET", image_id.removeprefix(base))
    )
    assert plain["statusCode"] == 200 and plain["headers"]["content-type"] == "image/png"


def test_an_expiring_qualification_gives_valid_until_and_then_shows_expired(
    passed: Any, deliver: Any
) -> None:
    with db.transaction() as conn:
        conn.execute("UPDATE exam_definitions SET valid_months = 24 WHERE code = 'MATHS-PROP'")
    try:
        _, attempt = passed("Vera Valable")
        deliver()
    finally:
        with db.transaction() as conn:
            conn.execute(
                "UPDATE exam_definitions SET valid_months = NULL WHERE code = 'MATHS-PROP'"
            )
    (cert,) = certificates_of(attempt["id"])
    _, jwks = call("certificates_api", "GET", "/.well-known/jwks.json")
    token = jose_jwt.decode(cert["credential"], KeySet.import_key_set(jwks), algorithms=["RS256"])
    vc = {k: v for k, v in token.claims.items() if k not in ("iss", "jti", "nbf", "iat", "exp")}

    ob3.validate(vc)
    issued, until = cert["issued_at"], cert["valid_until"]
    assert (until.year - issued.year) * 12 + until.month - issued.month == 24
    assert vc["validUntil"] == until.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert token.claims["exp"] == int(until.timestamp())  # a JWT library refuses it after that
    public = call("certificates_api", "GET", f"/v1/certificates/{cert['code']}")[1]
    assert public["status"] == "valid" and public["valid_until"]

    with db.transaction() as conn:  # two years on
        conn.execute(
            """UPDATE certificates SET issued_at = issued_at - interval '25 months',
                      valid_until = valid_until - interval '25 months' WHERE id = %s""",
            (cert["id"],),
        )
    status, _, page = helpers.public_get(
        "certificates_api", f"/v1/certificates/{cert['code']}", headers={"Accept": "text/html"}
    )
    assert call("certificates_api", "GET", f"/v1/certificates/{cert['code']}")[1]["status"] == (
        "expired"
    )
    assert status == 200 and 'data-status="expired"' in page and "Expiré le" in page


def test_holders_list_their_certificates_with_short_lived_links(passed: Any, deliver: Any) -> None:
    who, _ = passed("Sami Titulaire")
    deliver()

    status, page = call("certificates_api", "GET", "/v1/me/certificates", who)
    mine = page["items"]

    assert status == 200 and len(mine) == 1 and page["next"] is None
    assert mine[0]["attempt_id"] and mine[0]["outcome_id"] is None
    assert "Expires" in mine[0]["pdf_url"]  # a presigned, expiring link
    pdf = httpx.get(mine[0]["pdf_url"])
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_after_a_key_rotation_old_and_new_credentials_both_verify(
    passed: Any, deliver: Any, local_aws: LocalAws
) -> None:
    _, before = passed("Avant Rotation")
    deliver()
    secrets_client = local_aws.client("secretsmanager")
    secrets_client.put_secret_value(
        SecretId=get_settings().signing_key_secret_arn, SecretString=rsa_signing_key()
    )
    signing.reset()  # a new container would read the new value
    _, after = passed("Après Rotation")
    deliver()

    _, jwks = call("certificates_api", "GET", "/.well-known/jwks.json")
    keys = KeySet.import_key_set(jwks)
    old, new = certificates_of(before["id"])[0], certificates_of(after["id"])[0]

    assert old["kid"] != new["kid"]
    for cert in (old, new):
        assert (
            jose_jwt.decode(cert["credential"], keys, algorithms=["RS256"]).header["kid"]
            == (cert["kid"])
        )


def test_the_emails_signed_link_opens_the_pdf_in_a_browser_and_nothing_else(
    passed: Any, deliver: Any, local_aws: LocalAws
) -> None:
    import re
    import time

    from reussite import links

    who, attempt = passed("Ayoub Mejri")
    deliver()
    (cert,) = certificates_of(attempt["id"])
    (mail,) = helpers.emails(local_aws, cert["code"])
    assert mail["subject"] == "Votre certificat : Mathématiques : proportionnalité"
    assert '<html lang="fr" dir="ltr">' in mail["html"] and "Ayoub Mejri" in mail["html"]
    assert mail["to"] == [who.email]
    link = re.search(r"https?://\S+/pdf\?token=\S+", mail["body"])
    assert link is not None

    status, _, document = helpers.follow_signed_link("certificates_api", link.group(0))

    assert status == 303 and document.startswith(b"%PDF")
    token = link.group(0).rsplit("=", 1)[1]
    altered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    expired = links.sign(f"certificate:{cert['code']}", ttl_seconds=60, now=time.time() - 3600)
    other = links.sign("certificate:0000-0000-0000-0000")
    path = f"/v1/certificates/{cert['code']}/pdf"
    for bad in (altered, expired, other):
        status, headers, page = helpers.public_get(
            "certificates_api",
            path,
            f"token={bad}",
            {"Accept": "text/html", "Accept-Language": "ar"},
        )
        assert status == 403 and headers["content-type"].startswith("text/html")
        assert '<html lang="ar" dir="rtl">' in page and 'id="sign-in"' in page
        assert 'data-status="LINK_REFUSED"' in page
    status, _, problem = helpers.public_get("certificates_api", path, f"token={altered}")
    assert status == 403 and json.loads(problem)["code"] == "LINK_REFUSED"


@pytest.mark.parametrize(
    ("language", "direction", "holder_word"),
    [("fr", "ltr", "Titulaire"), ("en", "ltr", "Holder"), ("ar", "rtl", "صاحب الشهادة")],
)
def test_the_verify_page_speaks_the_readers_language_and_isolates_names(
    passed: Any, deliver: Any, language: str, direction: str, holder_word: str
) -> None:
    _, attempt = passed("سارة Ben Ali")
    deliver()
    (cert,) = certificates_of(attempt["id"])

    status, headers, page = helpers.public_get(
        "certificates_api",
        f"/v1/certificates/{cert['code']}",
        headers={"Accept": "text/html", "Accept-Language": f"{language};q=0.9, de;q=0.5"},
    )

    assert status == 200 and headers["content-language"] == language
    assert f'<html lang="{language}" dir="{direction}">' in page
    assert f"<dt>{holder_word}</dt>" in page
    assert '<dd id="holder" dir="auto">سارة Ben Ali</dd>' in page


def test_the_holder_shares_it_and_chooses_whether_the_public_page_shows_the_score(
    passed: Any, deliver: Any, principal: Any
) -> None:
    from urllib.parse import parse_qs, urlsplit

    who, attempt = passed("Inès Partage")
    deliver()
    (cert,) = certificates_of(attempt["id"])
    code = cert["code"]
    (mine,) = call("certificates_api", "GET", "/v1/me/certificates", who)[1]["items"]

    linkedin = urlsplit(mine["linkedin_url"])
    query = {k: v[0] for k, v in parse_qs(linkedin.query).items()}
    assert (linkedin.netloc, linkedin.path) == ("www.linkedin.com", "/profile/add")
    assert query["startTask"] == "CERTIFICATION_NAME" and query["certId"] == code
    assert query["name"] == cert["qualification"]
    assert query["organizationName"] == get_settings().issuer_name
    assert (int(query["issueYear"]), int(query["issueMonth"])) == (
        cert["issued_at"].year,
        cert["issued_at"].month,
    )
    assert query["certUrl"] == mine["verify_url"]
    assert mine["share_url"].startswith("https://www.linkedin.com/sharing/share-offsite/?url=")
    assert mine["credential_url"] == f"{mine['verify_url']}/credential"

    page = functions.invoke(
        FUNCTIONS["certificates_api"],
        http_api_event("GET", f"/v1/certificates/{code}", headers={"Accept": "text/html"}),
    )["body"]
    assert '<meta property="og:title"' in page and 'id="linkedin"' in page

    path = f"/v1/me/certificates/{code}"
    assert call("certificates_api", "GET", f"/v1/certificates/{code}")[1]["score"] is None
    status, shown = call("certificates_api", "PATCH", path, who, {"show_score": True})
    assert status == 200 and shown["score"] == cert["score"] is not None
    stranger = call("certificates_api", "PATCH", path, principal(Role.ELEVE), {"show_score": False})
    assert (stranger[0], stranger[1]["code"]) == (404, "CERTIFICATE_NOT_FOUND")
    assert call("certificates_api", "GET", f"/v1/certificates/{code}")[1]["score"] == cert["score"]
    call("certificates_api", "PATCH", path, who, {"show_score": False})
    assert call("certificates_api", "GET", f"/v1/certificates/{code}")[1]["score"] is None
