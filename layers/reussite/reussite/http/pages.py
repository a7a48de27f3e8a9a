"""What the public pages share: the caller's language (Accept-Language, French by default, as
the school's families read it) and the page a refused signed link answers."""

from __future__ import annotations

import html

from fastapi import Request
from fastapi.responses import HTMLResponse

from reussite.errors import DomainError
from reussite.http.languages import direction, preferred
from reussite.http.negotiation import wants_html
from reussite.settings import get_settings

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;"
    "line-height:1.5;color:#1d2330}a.button{display:inline-block;background:#1f4e8c;color:#fff;"
    "padding:.6rem 1rem;border-radius:6px;text-decoration:none}"
)


class LinkRefused(DomainError):
    code = "LINK_REFUSED"
    status = 403
    title = "This link has expired or is not valid; sign in to open it"


def page_language(request: Request) -> str:
    return preferred(request.headers.get("accept-language"), default="fr")


_REFUSED = {
    "fr": (
        "Lien expiré",
        "Ce lien a expiré ou n'est pas valide",
        "Les liens envoyés par email sont valables sept jours. Connectez-vous à votre espace "
        "pour retrouver {what}.",
        "Se connecter",
    ),
    "en": (
        "Link expired",
        "This link has expired or is not valid",
        "Links sent by email work for seven days. Sign in to your space to find {what}.",
        "Sign in",
    ),
    "ar": (
        "انتهت صلاحية الرابط",
        "انتهت صلاحية هذا الرابط أو هو غير صالح",
        "الروابط المرسلة بالبريد الإلكتروني صالحة سبعة أيام. "
        "سجلوا الدخول إلى فضائكم للعثور على {what}.",
        "تسجيل الدخول",
    ),
}
WHAT = {
    "report": {
        "fr": "le bilan d'orientation",
        "en": "the orientation report",
        "ar": "تقرير التوجيه",
    },
    "certificate": {"fr": "le certificat", "en": "the certificate", "ar": "الشهادة"},
    "receipt": {"fr": "le reçu", "en": "the receipt", "ar": "الإيصال"},
}


def refused_link(request: Request, what: str) -> HTMLResponse:
    """A browser gets a page in its language saying the link has expired, with a way to sign
    in; any other client gets the problem, 403 LINK_REFUSED."""
    if not wants_html(request):
        raise LinkRefused()
    lang = page_language(request)
    title, heading, text, action = _REFUSED[lang]
    sign_in = html.escape(get_settings().public_base_url.rstrip("/") + "/", quote=True)
    body = (
        f'<!doctype html><html lang="{lang}" dir="{direction(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f'<h1 id="status" data-status="LINK_REFUSED">{html.escape(heading)}</h1>'
        f"<p>{html.escape(text.format(what=WHAT[what][lang]))}</p>"
        f'<p><a class="button" id="sign-in" href="{sign_in}">{html.escape(action)}</a></p>'
        "</body></html>"
    )
    return HTMLResponse(body, status_code=403, headers={"Content-Language": lang})
