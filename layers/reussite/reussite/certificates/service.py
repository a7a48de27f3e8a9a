"""Issuing (once per passed attempt, resumable step by step), verifying, listing and revoking
certificates.

Issuing is three steps, each recorded when done, so a retry after any failure resumes where it
stopped and the end state is always one certificate: (1) the row, with its code and signed
credential (UNIQUE attempt); (2) the PDF in the private bucket under a random key (a retried
upload writes the same object); (3) the email with the link.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from reussite import audit, db, emails, outbox, webhooks
from reussite.certificates import codes
from reussite.errors import CertificateNotFound, NotEligible, NotFound
from reussite.identity.access import require_role
from reussite.identity.roles import Role
from reussite.observability import logger
from reussite.settings import get_settings

if TYPE_CHECKING:
    from reussite.identity.models import User

PRESIGNED_SECONDS = 300

_COLUMNS = """id, attempt_id, outcome_id, student_id, code, holder_name, qualification, level,
    score, show_score, issuer, issued_at, pdf_key, pdf_stored_at, credential, kid, emailed_at,
    revoked_at, revoked_reason, status_index, valid_until"""


@dataclass(frozen=True)
class Issued:
    certificate_id: UUID
    code: str
    attempt_id: UUID | None
    outcome_id: UUID | None
    pdf_stored: bool
    emailed: bool


@dataclass(frozen=True)
class Verification:
    """What anyone with the code may see: never an email, marks only if the holder opted in."""

    code: str
    status: str  # valid | revoked | expired (past valid_until)
    holder_name: str
    qualification: str
    level: str
    issuer: str
    issued_at: datetime
    revoked_at: datetime | None = None
    score: int | None = None
    valid_until: datetime | None = None  # when the qualification expires, if it does


@dataclass(frozen=True)
class HeldCertificate:
    code: str
    qualification: str
    level: str
    issued_at: datetime
    status: str
    verify_url: str
    pdf_url: str | None  # short-lived presigned link
    attempt_id: UUID | None = None  # the online attempt it certifies, or
    outcome_id: UUID | None = None  # the sat exam's outcome
    credential_url: str = ""  # the signed Open Badges credential (JWS or JSON)
    badge_url: str = ""  # the badge image with the credential baked in (PNG)
    linkedin_url: str = ""  # "Add to profile" with the certification's name, issuer, date
    share_url: str = ""  # share the verify page on LinkedIn
    show_score: bool = False  # the holder's choice for the public page


def issue(attempt_id: UUID | None = None, *, outcome_id: UUID | None = None) -> Issued:
    """Issue the certificate of a passed online attempt or of a passed qualification outcome
    (a sat exam): once, resuming where a failed run stopped."""
    row = _ensure_record(attempt_id, outcome_id)
    if row["pdf_stored_at"] is None:
        _store_pdf(row)
        row["pdf_stored_at"] = _mark(row["id"], "pdf_stored_at")
    if row["emailed_at"] is None:
        with db.transaction() as conn:  # the email and the event are owed with the mark, once
            row["emailed_at"] = _mark(row["id"], "emailed_at", conn)
            _owe_ready_email(conn, row)
            webhooks.emit(
                conn,
                "certificate.issued",
                f"certificate:{row['id']}",
                {
                    "code": row["code"],
                    "student_id": row["student_id"],
                    "attempt_id": row["attempt_id"],
                    "outcome_id": row["outcome_id"],
                    "qualification": row["qualification"],
                    "level": row["level"],
                    "verify_url": verify_url(row["code"]),
                },
            )
        outbox.flush(keys=[_email_key(row["id"])])
        webhooks.dispatch_for("certificate.issued", f"certificate:{row['id']}")
    return Issued(row["id"], row["code"], row["attempt_id"], row["outcome_id"], True, True)


_ATTEMPT = """
    SELECT a.id, a.student_id, a.status, a.passed, a.score, d.title, d.level,
           s.display_name, s.show_score_on_certificates, u.email, d.valid_months
      FROM exam_attempts a
      JOIN exam_definitions d ON d.code = a.exam_code
      JOIN students s ON s.id = a.student_id
      LEFT JOIN users u ON u.id = s.user_id
     WHERE a.id = %s FOR UPDATE OF a
"""
_OUTCOME = """
    SELECT o.id, o.student_id, o.passed AND o.superseded_at IS NULL AS passed,
           'GRADED' AS status, o.percent AS score, q.name || ' ' || q.level AS title,
           initcap(o.grade) AS level, s.display_name, s.show_score_on_certificates, u.email,
           q.valid_months
      FROM qualification_outcomes o
      JOIN qualifications q ON q.code = o.qualification_code
      JOIN students s ON s.id = o.student_id
      LEFT JOIN users u ON u.id = s.user_id
     WHERE o.id = %s FOR UPDATE OF o
"""


def _ensure_record(attempt_id: UUID | None, outcome_id: UUID | None) -> dict[str, Any]:
    """The certificate row of the attempt or outcome, created (code, credential) under its
    lock."""
    from reussite.certificates import signing

    source, key = ("outcome_id", outcome_id) if outcome_id else ("attempt_id", attempt_id)
    with db.transaction() as conn:
        attempt = conn.execute(_OUTCOME if outcome_id else _ATTEMPT, (key,)).fetchone()
        if attempt is None or attempt["status"] != "GRADED" or not attempt["passed"]:
            raise NotEligible("Only a passed (and current) result earns a certificate")
        existing = conn.execute(
            f"SELECT {_COLUMNS} FROM certificates WHERE {source} = %s", (key,)
        ).fetchone()
        if existing is not None:
            return dict(existing)
        settings = get_settings()
        code = codes.new_code()
        now = conn.execute(
            """SELECT now() AS issued_at, nextval('certificate_status_index') AS status_index,
                      now() + make_interval(months => %s) AS valid_until""",
            (attempt["valid_months"],),
        ).fetchone()
        assert now is not None
        issued_at = now["issued_at"]
        credential, kid = signing.sign_credential(
            signing.credential_of(
                credential_id=f"urn:uuid:{uuid.uuid4()}",
                email=attempt["email"],
                student_id=str(attempt["student_id"]),
                qualification=attempt["title"],
                level=attempt["level"],
                issued_at=issued_at,
                salt=secrets.token_hex(8),
                status_index=now["status_index"],
                holder_name=attempt["display_name"],
                valid_until=now["valid_until"],
            )
        )
        row = conn.execute(
            f"""INSERT INTO certificates (attempt_id, outcome_id, student_id, code, holder_name,
                                          qualification, level, score, show_score, issuer,
                                          issued_at, pdf_key, credential, kid, achievement_slug,
                                          status_index, valid_until)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                RETURNING {_COLUMNS}""",
            (
                attempt_id,
                outcome_id,
                attempt["student_id"],
                code,
                attempt["display_name"],
                attempt["title"],
                attempt["level"],
                attempt["score"],
                attempt["show_score_on_certificates"],
                settings.issuer_name,
                issued_at,
                f"certificates/{uuid.uuid4().hex}.pdf",
                credential,
                kid,
                signing.slug(attempt["title"]),
                now["status_index"],
                now["valid_until"],
            ),
        ).fetchone()
    assert row is not None
    logger.info("certificate recorded", extra={source: str(key)})
    return dict(row)


def _store_pdf(row: dict[str, Any]) -> None:
    from reussite.certificates.branding import branding
    from reussite.certificates.pdf import CertificateText, render
    from reussite.notifications import s3

    document = render(
        CertificateText(
            holder_name=row["holder_name"],
            qualification=row["qualification"],
            level=row["level"],
            score=row["score"] if row["show_score"] else None,
            issued_at=row["issued_at"],
            issuer=row["issuer"],
            code=row["code"],
            verify_url=verify_url(row["code"]),
            valid_until=row["valid_until"],
        ),
        branding(),
    )
    s3().put_object(
        Bucket=get_settings().certificates_bucket,
        Key=row["pdf_key"],
        Body=document,
        ContentType="application/pdf",
        ServerSideEncryption="AES256",
    )


def _email_key(certificate_id: UUID) -> str:
    return f"certificate-ready:{certificate_id}"


def _owe_ready_email(conn: db.Connection, row: dict[str, Any]) -> None:
    """ "Certificate ready" to the holder and their parents, with a signed link to the PDF."""
    emails.owe(
        conn,
        _email_key(row["id"]),
        emails.family(conn, row["student_id"]),
        "certificate_ready",
        {
            "holder": row["holder_name"],
            "qualification": row["qualification"],
            "level": row["level"],
            "code": row["code"],
            "verify_link": verify_url(row["code"]),
            "pdf_link": pdf_link(row["code"]),
        },
    )


def pdf_link(code: str) -> str:
    """The certificate's PDF, opening in a browser without signing in, for a week."""
    from reussite import links

    token = links.sign(f"certificate:{code}")
    return f"{get_settings().public_base_url.rstrip('/')}/v1/certificates/{code}/pdf?token={token}"


def pdf_redirect(code: str) -> str:
    """A short-lived S3 link to the stored PDF of the certificate `code`."""
    from reussite.notifications import s3

    row = db.read_one(
        "SELECT pdf_key FROM certificates WHERE code = %s AND pdf_stored_at IS NOT NULL",
        (code,),
    )
    if row is None:
        raise CertificateNotFound()
    return str(
        s3().generate_presigned_url(
            "get_object",
            Params={"Bucket": get_settings().certificates_bucket, "Key": row["pdf_key"]},
            ExpiresIn=PRESIGNED_SECONDS,
        )
    )


def _mark(certificate_id: UUID, column: str, conn: db.Connection | None = None) -> datetime:
    assert column in ("pdf_stored_at", "emailed_at")
    row = (
        (conn or db.connection())
        .execute(
            f"UPDATE certificates SET {column} = coalesce({column}, now()) WHERE id = %s "
            f"RETURNING {column} AS at",
            (certificate_id,),
        )
        .fetchone()
    )
    assert row is not None
    return row["at"]  # type: ignore[no-any-return]


def verify_url(code: str) -> str:
    return f"{get_settings().public_base_url}/v1/certificates/{code}"


def linkedin_url(qualification: str, code: str, issued_at: datetime) -> str:
    """LinkedIn's "Add to profile" form, filled: the certification, the school, the issue
    date, the verify page and the certificate's code."""
    from urllib.parse import urlencode

    query = {
        "startTask": "CERTIFICATION_NAME",
        "name": qualification,
        "organizationName": get_settings().issuer_name,
        "issueYear": issued_at.year,
        "issueMonth": issued_at.month,
        "certUrl": verify_url(code),
        "certId": code,
    }
    return f"https://www.linkedin.com/profile/add?{urlencode(query)}"


def share_url(code: str) -> str:
    from urllib.parse import quote

    return f"https://www.linkedin.com/sharing/share-offsite/?url={quote(verify_url(code), safe='')}"


def verify(code: str) -> Verification:
    normal = codes.normalise(code)
    row = (
        db.read_one(f"SELECT {_COLUMNS} FROM certificates WHERE code = %s", (normal,))
        if (normal)
        else None
    )
    if row is None:
        raise CertificateNotFound()
    return Verification(
        code=row["code"],
        status=_status(row),
        holder_name=row["holder_name"],
        qualification=row["qualification"],
        level=row["level"],
        issuer=row["issuer"],
        issued_at=row["issued_at"],
        revoked_at=row["revoked_at"],
        score=row["score"] if row["show_score"] else None,
        valid_until=row["valid_until"],
    )


def _status(row: dict[str, Any]) -> str:
    """What the verify page, its JSON and the status list agree on (expiry is the credential's
    own validUntil, which a verifier reads from it)."""
    if row["revoked_at"]:
        return "revoked"
    if row["valid_until"] is not None and row["valid_until"] <= datetime.now(UTC):
        return "expired"
    return "valid"


def held_by(
    user: User, cursor: str | None = None, limit: int = 20
) -> tuple[list[HeldCertificate], str | None]:
    """The certificates of the user (a student) or of their children, newest first, with
    presigned PDF links; a page and the next page's cursor."""
    from reussite.history import paged
    from reussite.notifications import s3

    rows, following = paged(
        "certificates",
        f"""SELECT {_COLUMNS} FROM certificates t
             WHERE t.student_id IN (
                   SELECT id FROM students WHERE user_id = %(user)s
                   UNION SELECT student_id FROM parent_students WHERE parent_id = %(user)s)
               AND {{keyset}}
             ORDER BY t.issued_at DESC, t.id DESC LIMIT %(limit)s""",
        {"user": user.id},
        cursor,
        limit,
        column="issued_at",
    )
    bucket = get_settings().certificates_bucket
    return [
        HeldCertificate(
            code=r["code"],
            qualification=r["qualification"],
            level=r["level"],
            issued_at=r["issued_at"],
            status=_status(r),
            verify_url=verify_url(r["code"]),
            pdf_url=s3().generate_presigned_url(
                "get_object",
                Params={"Bucket": bucket, "Key": r["pdf_key"]},
                ExpiresIn=PRESIGNED_SECONDS,
            )
            if r["pdf_stored_at"]
            else None,
            attempt_id=r["attempt_id"],
            outcome_id=r["outcome_id"],
            credential_url=f"{verify_url(r['code'])}/credential",
            badge_url=f"{verify_url(r['code'])}/badge.png",
            linkedin_url=linkedin_url(r["qualification"], r["code"], r["issued_at"]),
            share_url=share_url(r["code"]),
            show_score=r["show_score"],
        )
        for r in rows
    ], following


def revoke(actor: User, code: str, reason: str) -> Verification:
    require_role(actor, Role.ADMIN, refusal="Only an administrator revokes a certificate")
    normal = codes.normalise(code)
    with db.transaction() as conn:
        row = conn.execute(
            """UPDATE certificates
                  SET revoked_at = coalesce(revoked_at, now()),
                      revoked_reason = coalesce(revoked_reason, %s),
                      revoked_by = coalesce(revoked_by, %s)
                WHERE code = %s RETURNING id, revoked_at, revoked_reason, student_id""",
            (reason, actor.id, normal),
        ).fetchone()
        if row is None:
            raise CertificateNotFound()
        audit.record(
            conn, actor.id, "certificate.revoke", f"certificate:{normal}", {"reason": reason}
        )
        _emit_revoked(conn, row["id"], normal, row["student_id"], row["revoked_reason"])
    webhooks.dispatch_for("certificate.revoked", f"certificate:{row['id']}")
    return verify(normal)


def _emit_revoked(
    conn: db.Connection, certificate_id: UUID, code: str, student_id: UUID, reason: str
) -> None:
    webhooks.emit(
        conn,
        "certificate.revoked",
        f"certificate:{certificate_id}",
        {"code": code, "student_id": student_id, "reason": reason},
    )


def revoke_for_outcome(conn: db.Connection, outcome_id: UUID, actor_id: UUID, reason: str) -> None:
    """A regraded sitting's certificate is revoked in the regrade's transaction (none yet: no
    change)."""
    revoked = conn.execute(
        """UPDATE certificates SET revoked_at = now(), revoked_reason = %s, revoked_by = %s
            WHERE outcome_id = %s AND revoked_at IS NULL RETURNING id, code, student_id""",
        (reason, actor_id, outcome_id),
    ).fetchone()
    if revoked is not None:
        audit.record(conn, actor_id, "certificate.revoke", f"certificate:{revoked['code']}", reason)
        _emit_revoked(conn, revoked["id"], revoked["code"], revoked["student_id"], reason)


# -- what a learner takes away, and what its ids answer ----------------------------------------


def credential(code: str) -> str:
    """The certificate's signed Open Badges credential (a compact JWS)."""
    normal = codes.normalise(code)
    row = db.read_one("SELECT credential FROM certificates WHERE code = %s", (normal,))
    if row is None or not normal:
        raise CertificateNotFound()
    return str(row["credential"])


def achievement(slug: str) -> dict[str, Any]:
    """The Achievement whose id is `/v1/achievements/{slug}`, as credentials embed it."""
    from reussite.certificates import signing

    row = _achieved(slug)
    return {"@context": signing.OB3_CONTEXT} | signing.achievement(
        row["qualification"], row["level"]
    )


def _achieved(slug: str) -> dict[str, Any]:
    row = db.read_one(
        "SELECT qualification, level FROM certificates WHERE achievement_slug = %s LIMIT 1",
        (slug,),
    )
    if row is None:
        raise NotFound("No achievement has this id")
    return dict(row)


def issuer() -> dict[str, Any]:
    from reussite.certificates import signing

    return {"@context": signing.OB3_CONTEXT} | signing.issuer_profile()


def show_score(user: User, code: str, shown: bool) -> Verification:
    """The holder (the student, or a parent of theirs) chooses whether the public page shows
    their score."""
    normal = codes.normalise(code)
    with db.transaction() as conn:
        row = conn.execute(
            """UPDATE certificates c SET show_score = %(shown)s
                WHERE c.code = %(code)s AND c.student_id IN (
                      SELECT id FROM students WHERE user_id = %(user)s
                      UNION SELECT student_id FROM parent_students WHERE parent_id = %(user)s)
            RETURNING c.id""",
            {"shown": shown, "code": normal, "user": user.id},
        ).fetchone()
        if row is None:
            raise CertificateNotFound()
        audit.record(conn, user.id, "certificate.show_score", f"certificate:{normal}", shown)
    return verify(normal)


def status_list(number: int) -> str:
    """Status list `number` as a signed BitstringStatusListCredential (compact JWS), the bits
    of revoked certificates set; read on each request, so a revocation shows at once."""
    from reussite.certificates import signing

    low = number * signing.STATUS_LIST_SIZE
    with db.transaction() as conn:
        exists = conn.execute(
            "SELECT 1 FROM certificates WHERE status_index >= %s AND status_index < %s LIMIT 1",
            (low, low + signing.STATUS_LIST_SIZE),
        ).fetchone()
        if exists is None:
            raise NotFound("No status list has this number")
        revoked = conn.execute(
            """SELECT status_index - %(low)s AS bit FROM certificates
                WHERE status_index >= %(low)s AND status_index < %(high)s
                  AND revoked_at IS NOT NULL""",
            {"low": low, "high": low + signing.STATUS_LIST_SIZE},
        ).fetchall()
        now = conn.execute("SELECT now() AS t").fetchone()
    assert now is not None
    listed = signing.status_list_credential(number, [r["bit"] for r in revoked], now["t"])
    return signing.sign_credential(listed)[0]


def badge(code: str) -> bytes:
    """The certificate's badge image with its signed credential baked in."""
    from reussite.certificates import badge as badges

    normal = codes.normalise(code)
    row = db.read_one(
        "SELECT qualification, level, credential FROM certificates WHERE code = %s", (normal,)
    )
    if row is None or not normal:
        raise CertificateNotFound()
    return badges.baked(badges.image(row["qualification"], row["level"]), row["credential"])


def achievement_image(slug: str) -> bytes:
    from reussite.certificates import badge as badges

    row = _achieved(slug)
    return badges.image(row["qualification"], row["level"])
