"""The local mailbox: what the stack's functions sent through SES (moto keeps it), as pages a
browser opens at /_local/mail (the list, newest first) and /_local/mail/{n} (one message, as
its recipient reads it), and as JSON at /_local/mail.json."""

from __future__ import annotations

import html
import json
import os
import urllib.request
from typing import Any


def messages() -> list[dict[str, Any]]:
    """The emails moto's SES accepted, newest first."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=5) as response:
        data = json.loads(response.read())
    sent = list(data.get("ses", {}).get("Message", []))
    return [
        {
            "n": n,
            "to": m.get("destinations", {}).get("ToAddresses", []),
            "source": m.get("source"),
            "subject": m.get("subject", ""),
            "body": m.get("body", ""),
        }
        for n, m in reversed(list(enumerate(sent, start=1)))
    ]


_PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}}
li{{margin:.4rem 0}} pre{{white-space:pre-wrap;background:#f6f6f6;padding:1rem}}
.to{{color:#555}}</style></head><body>{body}</body></html>"""


def page(path: str) -> tuple[int, str, str]:
    """(status, content type, body) for a mailbox path."""
    mail = messages()
    if path in ("/_local/mail", "/_local/mail/"):
        items = "".join(
            f'<li><a href="/_local/mail/{m["n"]}" dir="auto">{html.escape(m["subject"])}</a>'
            f' <span class="to">→ {html.escape(", ".join(m["to"]))}</span></li>'
            for m in mail
        )
        body = f"<h1>Mailbox ({len(mail)})</h1><ol reversed>{items}</ol>"
        return 200, "text/html; charset=utf-8", _PAGE.format(title="Mailbox", body=body)
    if path == "/_local/mail.json":
        return 200, "application/json", json.dumps(mail, ensure_ascii=False)
    number = path.removeprefix("/_local/mail/")
    found = next((m for m in mail if str(m["n"]) == number), None)
    if found is None:
        body = '<h1>No such email</h1><p><a href="/_local/mail">Back to the mailbox</a></p>'
        return 404, "text/html; charset=utf-8", _PAGE.format(title="Not found", body=body)
    body = (
        f'<p><a href="/_local/mail">← Mailbox</a></p><h1 id="subject" dir="auto">'
        f"{html.escape(found['subject'])}</h1>"
        f'<p class="to">From {html.escape(str(found["source"]))} to '
        f'<span id="to">{html.escape(", ".join(found["to"]))}</span></p>'
        f'<pre id="body" dir="auto">{html.escape(found["body"])}</pre>'
    )
    return 200, "text/html; charset=utf-8", _PAGE.format(title=found["subject"], body=body)
