"""Public verification of certificates (JSON or HTML), the signed credentials, badges and
revocation status lists a verifier reads, the signing key set, the holder's list, and
revocation by an administrator. Signing and images use the certificate worker's layer, imported
only by the routes that need them."""

import html
from typing import Annotated, Any

from fastapi import Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from reussite.certificates import codes, service, signing
from reussite.certificates.branding import branding
from reussite.certificates.service import HeldCertificate, Verification
from reussite.http.app import create_app, lambda_handler
from reussite.http.auth import CurrentUser
from reussite.http.languages import direction
from reussite.http.negotiation import wants_html
from reussite.http.pages import page_language, refused_link
from reussite.http.params import Cursor, Limit
from reussite.settings import require

REQUIRED_SETTINGS = (
    "DATABASE_URL|DATABASE_SECRET_ARN",
    "CERTIFICATES_BUCKET",
    "LINK_SECRET|LINK_SECRET_ARN",
    "SIGNING_KEY_SECRET_ARN",  # status lists are signed when asked for
)
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing

app = create_app("reussite certificates")


@app.get("/v1/certificates/{code}", response_model=Verification)
def verify_certificate(code: str, request: Request) -> Any:
    found = service.verify(code[:40])
    if wants_html(request):
        lang = page_language(request)
        return HTMLResponse(
            _page(found, lang),
            headers={"Content-Security-Policy": PAGE_POLICY, "Content-Language": lang},
        )
    return found


@app.get("/v1/certificates/{code}/pdf")
def certificate_pdf(
    code: str, token: Annotated[str, Query(min_length=1, max_length=100)], request: Request
) -> Response:
    """Public, with the signed link of the certificate's email: the PDF (a redirect to a
    short-lived copy), without a Bearer header."""
    from reussite import links

    code = code[:40]
    if not links.verify(token, f"certificate:{code}"):
        return refused_link(request, "certificate")
    return RedirectResponse(service.pdf_redirect(code), status_code=303)


# The verify page runs no script and loads nothing: its only style is inline, its only image
# (the school's logo) a data: URI.
PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
CACHED = {"Cache-Control": "public, max-age=300"}


@app.get("/v1/certificates/{code}/credential")
def certificate_credential(code: str, request: Request) -> Any:
    """The signed Open Badges 3.0 credential: the compact JWS when `Accept` asks for
    `application/vc+jwt`, else JSON with the credential it carries and the JWS."""
    token = service.credential(code[:40])
    if "application/vc+jwt" in request.headers.get("accept", ""):
        return Response(token, media_type="application/vc+jwt")
    return {"credential": signing.decoded(token), "jwt": token}


@app.get("/v1/certificates/{code}/badge.png", response_class=Response)
def certificate_badge(code: str) -> Response:
    """The badge image with the signed credential baked in (Open Badges 3.0 baking, PNG)."""
    found = service.badge(code[:40])
    disposition = f'attachment; filename="badge-{codes.normalise(code[:40])}.png"'
    return Response(found, media_type="image/png", headers={"Content-Disposition": disposition})


@app.get("/v1/status-lists/{number}")
def status_list(number: Annotated[int, Path(ge=0, le=100_000)], request: Request) -> Any:
    """A revocation status list (W3C Bitstring Status List), signed as a VC-JWT: the compact
    JWS when `Accept` asks for `application/vc+jwt`, else JSON with the list and the JWS."""
    token = service.status_list(number)
    if "application/vc+jwt" in request.headers.get("accept", ""):
        return Response(token, media_type="application/vc+jwt", headers=CACHED)
    return JSONResponse({"credential": signing.decoded(token), "jwt": token}, headers=CACHED)


@app.get("/v1/issuer")
def issuer_profile() -> dict[str, Any]:
    """The issuer's Open Badges `Profile`, at its id."""
    return service.issuer()


@app.get("/v1/achievements/{slug}")
def achievement(slug: Annotated[str, Path(pattern=r"^[a-z0-9-]{1,80}$")]) -> dict[str, Any]:
    """An `Achievement` credentials name, at its id."""
    return service.achievement(slug)


@app.get("/v1/achievements/{slug}/image.png", response_class=Response)
def achievement_image(slug: Annotated[str, Path(pattern=r"^[a-z0-9-]{1,80}$")]) -> Response:
    """The achievement's badge image (its `image` id, and the verify page's preview)."""
    return Response(service.achievement_image(slug), media_type="image/png", headers=CACHED)


class ScoreChoice(BaseModel):
    show_score: bool


@app.patch("/v1/me/certificates/{code}")
def choose_score(code: str, body: ScoreChoice, user: CurrentUser) -> Verification:
    """The holder (or their parent) shows or hides their score on the public page."""
    return service.show_score(user, code[:40], body.show_score)


@app.get("/.well-known/jwks.json")
def key_set() -> dict[str, Any]:
    return signing.jwks()


class CertificatePage(BaseModel):
    items: list[HeldCertificate]
    next: str | None = None


@app.get("/v1/me/certificates")
def my_certificates(
    user: CurrentUser,
    cursor: Cursor = None,
    limit: Limit = 20,
) -> CertificatePage:
    """The student's (or a parent's children's) certificates, newest first, each with a
    short-lived PDF link and the attempt or outcome it certifies."""
    items, following = service.held_by(user, cursor, limit)
    return CertificatePage(items=items, next=following)


class Revocation(BaseModel):
    reason: str = Field(min_length=3, max_length=500)


@app.post("/v1/admin/certificates/{code}/revoke")
def revoke_certificate(code: str, body: Revocation, user: CurrentUser) -> Verification:
    return service.revoke(user, code[:40], body.reason)


_WORDS = {
    "fr": (
        "Vérification de certificat",
        "Valide",
        "Révoqué le",
        "Titulaire",
        "Certification",
        "niveau",
        "Délivré par",
        "Date",
        "Score",
        "Code",
        "Certificat",
        "Expiré le",
        "Valable jusqu'au",
        "Badge",
        "Signé par",
    ),
    "en": (
        "Certificate verification",
        "Valid",
        "Revoked on",
        "Holder",
        "Qualification",
        "level",
        "Issued by",
        "Date",
        "Score",
        "Code",
        "Certificate",
        "Expired on",
        "Valid until",
        "Badge",
        "Signed by",
    ),
    "ar": (
        "التحقق من الشهادة",
        "صالحة",
        "أُلغيت في",
        "صاحب الشهادة",
        "الشهادة",
        "المستوى",
        "صادرة عن",
        "التاريخ",
        "النتيجة",
        "الرمز",
        "شهادة",
        "انتهت صلاحيتها في",
        "صالحة حتى",
        "الشارة",
        "التوقيع",
    ),
}


def _page(v: Verification, lang: str) -> str:
    e = html.escape
    (
        heading,
        valid,
        revoked,
        holder,
        qualification,
        level,
        issuer,
        day,
        score_word,
        code_word,
        title,
        expired,
        until,
        badge_word,
        signed_by,
    ) = _WORDS[lang]
    brand = branding()
    if v.status == "revoked" and v.revoked_at is not None:
        status = f"{revoked} {v.revoked_at:%d/%m/%Y}"
    elif v.status == "expired" and v.valid_until is not None:
        status = f"{expired} {v.valid_until:%d/%m/%Y}"
    else:
        status = valid
    url = service.verify_url(v.code)
    image = signing.achievement(v.qualification, v.level)["image"]["id"]
    linkedin = service.linkedin_url(v.qualification, v.code, v.issued_at)
    share = service.share_url(v.code)
    share_word = {"fr": "Partager", "en": "Share", "ar": "مشاركة"}[lang]
    score = f"<dt>{score_word}</dt><dd>{v.score} %</dd>" if v.score is not None else ""
    expiry = (
        f"<dt>{until}</dt><dd>{v.valid_until:%d/%m/%Y}</dd>" if v.valid_until is not None else ""
    )
    logo = (
        f'<img id="logo" src="{brand.logo_data_uri}" alt="{e(brand.school)}" height="64">'
        if brand.logo
        else ""
    )
    signatory = (
        f'<dt>{signed_by}</dt><dd id="signatory" dir="auto">{e(brand.signatory_name)}'
        f"{', ' + e(brand.signatory_title) if brand.signatory_title else ''}</dd>"
        if brand.signatory_name
        else ""
    )
    status_colour = "#17663a" if v.status == "valid" else "#a11"
    return f"""<!doctype html>
<html lang="{lang}" dir="{direction(lang)}"><head><meta charset="utf-8">
<title>{title} {e(v.code)} — {e(brand.school)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta property="og:type" content="website">
<meta property="og:site_name" content="{e(brand.school)}">
<meta property="og:title" content="{e(v.qualification)} — {e(v.holder_name)}">
<meta property="og:description" content="{e(v.qualification)} ({e(v.level)}), {e(v.issuer)}">
<meta property="og:url" content="{e(url)}">
<meta property="og:image" content="{e(image)}">
<meta property="og:image:width" content="400"><meta property="og:image:height" content="400">
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}}
header{{border-bottom:4px solid {brand.accent};padding-bottom:.8rem;margin-bottom:1rem}}
h1{{color:{brand.colour}}} a{{color:{brand.colour}}}
.status{{font-weight:bold;color:{status_colour}}}
dt{{font-weight:bold;margin-top:.6rem}}</style></head>
<body><header id="brand" data-school="{e(brand.school)}">{logo}<h1>{heading}</h1></header>
<p class="status" id="status" data-status="{e(v.status)}">{e(status)}</p>
<dl><dt>{holder}</dt><dd id="holder" dir="auto">{e(v.holder_name)}</dd>
<dt>{qualification}</dt><dd dir="auto">{e(v.qualification)} — {level} {e(v.level)}</dd>
<dt>{issuer}</dt><dd dir="auto">{e(v.issuer)}</dd>
<dt>{day}</dt><dd>{v.issued_at:%d/%m/%Y}</dd>{expiry}{score}{signatory}
<dt>{code_word}</dt><dd dir="ltr">{e(v.code)}</dd></dl>
<p><a id="linkedin" href="{e(linkedin)}">LinkedIn +</a> ·
<a id="share" href="{e(share)}">{share_word}</a> ·
<a id="credential" href="{e(url)}/credential">Open Badges</a> ·
<a id="badge" href="{e(url)}/badge.png" download>{badge_word}</a></p></body></html>"""


handler = lambda_handler(app)
