"""Public verification of certificates (JSON or HTML), the signing key set, the holder's list,
and revocation by an administrator."""

import html
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from reussite.certificates import service, signing
from reussite.certificates.service import HeldCertificate, Verification
from reussite.http.app import create_app, lambda_handler
from reussite.http.auth import CurrentUser
from reussite.http.negotiation import wants_html
from reussite.settings import require

REQUIRED_SETTINGS = ("DATABASE_URL|DATABASE_SECRET_ARN", "CERTIFICATES_BUCKET")
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing

app = create_app("reussite certificates")


@app.get("/v1/certificates/{code}", response_model=Verification)
def verify_certificate(code: str, request: Request) -> Any:
    found = service.verify(code[:40])
    if wants_html(request):
        return HTMLResponse(_page(found), headers={"Content-Security-Policy": PAGE_POLICY})
    return found


# The verify page runs no script and loads nothing: its only style is inline.
PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


@app.get("/.well-known/jwks.json")
def key_set() -> dict[str, Any]:
    return signing.jwks()


@app.get("/v1/me/certificates")
def my_certificates(user: CurrentUser) -> list[HeldCertificate]:
    return service.held_by(user)


class Revocation(BaseModel):
    reason: str = Field(min_length=3, max_length=500)


@app.post("/v1/admin/certificates/{code}/revoke")
def revoke_certificate(code: str, body: Revocation, user: CurrentUser) -> Verification:
    return service.revoke(user, code[:40], body.reason)


def _page(v: Verification) -> str:
    e = html.escape
    status = "Valide" if v.status == "valid" else f"Révoqué le {v.revoked_at:%d/%m/%Y}"
    score = f"<dt>Score</dt><dd>{v.score} %</dd>" if v.score is not None else ""
    return f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Certificat {e(v.code)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}}
.status{{font-weight:bold;color:{"#17663a" if v.status == "valid" else "#a11"}}}
dt{{font-weight:bold;margin-top:.6rem}}</style></head>
<body><h1>Vérification de certificat</h1>
<p class="status" id="status" data-status="{e(v.status)}">{e(status)}</p>
<dl><dt>Titulaire</dt><dd id="holder">{e(v.holder_name)}</dd>
<dt>Certification</dt><dd>{e(v.qualification)} — niveau {e(v.level)}</dd>
<dt>Délivré par</dt><dd>{e(v.issuer)}</dd>
<dt>Date</dt><dd>{v.issued_at:%d/%m/%Y}</dd>{score}
<dt>Code</dt><dd>{e(v.code)}</dd></dl></body></html>"""


handler = lambda_handler(app)
