"""The report as a page: a progress page that refreshes itself while PENDING, the report
rendered from Markdown when COMPLETED, the reason and a support link when FAILED.

Model output is untrusted: Markdown is rendered with raw HTML disabled (markdown-it-py escapes
it) and unsafe link schemes refused, and the page's Content-Security-Policy runs no script but
the page's own print button (by nonce)."""

from __future__ import annotations

import html
import secrets
from typing import Any

STYLE = """body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;
line-height:1.5;color:#1d2330}h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #ccd}
.muted{color:#667}button{font:inherit;padding:.4rem .9rem}@media print{button{display:none}}"""


def render(bilan: dict[str, Any], support_url: str) -> tuple[str, str]:
    """(HTML, Content-Security-Policy) for the report's current state."""
    nonce = secrets.token_urlsafe(16)
    e = html.escape
    refresh = ""
    if bilan["status"] == "PENDING":
        refresh = '<meta http-equiv="refresh" content="5">'
        body = (
            "<h1>Bilan d'orientation en cours de rédaction</h1>"
            f'<p id="status" data-status="PENDING">Étape {bilan["passes_done"]} sur 3 '
            f'<progress max="3" value="{int(bilan["passes_done"])}"></progress></p>'
            '<p class="muted">Cette page se met à jour toute seule toutes les 5 secondes.</p>'
        )
    elif bilan["status"] == "COMPLETED":
        from markdown_it import MarkdownIt

        report = MarkdownIt("commonmark", {"html": False}).render(bilan["report_markdown"])
        body = (
            '<p><button id="print" type="button">Imprimer / enregistrer en PDF</button></p>'
            f'<article id="report" data-status="COMPLETED" dir="auto">{report}</article>'
            f'<script nonce="{nonce}">document.getElementById("print")'
            '.addEventListener("click",function(){window.print()})</script>'
        )
    else:
        body = (
            "<h1>Le bilan d'orientation n'a pas pu être rédigé</h1>"
            f'<p id="status" data-status="FAILED">Raison : {e(bilan["failure_reason"] or "")}</p>'
            f'<p><a href="{e(support_url)}">Contacter le support</a> : nous relancerons la '
            "rédaction.</p>"
        )
    page = (
        '<!doctype html><html lang="fr" dir="ltr"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{refresh}<title>Bilan d'orientation</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
    policy = (
        f"default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return page, policy
