"""Content negotiation for the pages a browser opens (verify a certificate, read a report)."""

from __future__ import annotations

from fastapi import Request


def wants_html(request: Request) -> bool:
    """True when the client prefers HTML (a browser), false for JSON clients and `*/*`."""
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept.split(",")[0]
