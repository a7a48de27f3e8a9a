"""The local mailbox: what the stack's functions sent through SES (moto keeps it), as pages a
browser opens at /_local/mail (the list, newest first) and /_local/mail/{n} (one message: its
recipients, its HTML as the recipient's mail client shows it, and its plain text), and as JSON
at /_local/mail.json."""

from __future__ import annotations

import email
import html
import json
import os
import urllib.request
from email import policy
from email.message import EmailMessage
from typing import Any


def parse(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The emails in moto's SES state (`/moto-api/data.json`), oldest first: subject, `to`,
    `body` (the plain text), `html` (or None) and `n` (1 for the first one sent)."""
    ses = data.get("ses", {})
    found = []
    for m in ses.get("Message", []):  # sent with SendEmail: one body
        to = m.get("destinations", {}).get("ToAddresses", [])
        found.append(
            {
                "to": to,
                "source": m.get("source"),
                "subject": m.get("subject", ""),
                "body": m.get("body", ""),
                "html": None,
            }
        )
    for m in ses.get("RawMessage", []):  # sent as MIME: text and its HTML alternative
        raw = m.get("raw_data", "").encode("utf-8", "surrogateescape")
        message = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        text = message.get_body(preferencelist=("plain",))
        rich = message.get_body(preferencelist=("html",))
        found.append(
            {
                "to": [a for a in m.get("destinations", [])],
                "source": m.get("source"),
                "subject": str(message.get("Subject", "")),
                "body": text.get_content() if text is not None else "",
                "html": rich.get_content() if rich is not None else None,
            }
        )
    for n, m in enumerate(found, start=1):
        m["n"] = n
        m["destinations"] = {"ToAddresses": m["to"]}
    return found


def messages() -> list[dict[str, Any]]:
    """The emails moto's SES accepted, newest first."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=5) as response:
        data = json.loads(response.read())
    return list(reversed(parse(data)))


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}}
li{{margin:.4rem 0}} pre{{white-space:pre-wrap;background:#f6f6f6;padding:1rem}}
iframe{{width:100%;height:40rem;border:1px solid #ddd}} .to{{color:#555}}</style></head>
<body>{body}</body></html>"""


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
    # The HTML part is shown as a mail client would: in a sandboxed frame (no script runs).
    rendered = (
        f'<h2>HTML</h2><iframe id="html" sandbox title="HTML" '
        f'srcdoc="{html.escape(found["html"], quote=True)}"></iframe>'
        if found["html"]
        else ""
    )
    body = (
        f'<p><a href="/_local/mail">← Mailbox</a></p><h1 id="subject" dir="auto">'
        f"{html.escape(found['subject'])}</h1>"
        f'<p class="to">From {html.escape(str(found["source"]))} to '
        f'<span id="to">{html.escape(", ".join(found["to"]))}</span></p>'
        f'{rendered}<h2>Text</h2><pre id="body" dir="auto">{html.escape(found["body"])}</pre>'
    )
    return 200, "text/html; charset=utf-8", _PAGE.format(title=found["subject"], body=body)
