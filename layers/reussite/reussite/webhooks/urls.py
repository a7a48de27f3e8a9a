"""Where events may be sent: an `https` URL whose host is a public name or address. A staff
account taken over must not turn the delivery worker against the network it runs in, so
loopback, private, link-local (the cloud's metadata service), multicast and reserved
addresses are refused — at registration for a literal address or a local name, and before
each delivery for whatever the name resolves to then. Redirects are never followed.

The local stack (whose receiver is 127.0.0.1 over http) sets WEBHOOK_PRIVATE_ADDRESSES=allow;
the template's default is `refuse`."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from reussite.errors import DomainError
from reussite.settings import get_settings

_LOCAL_NAMES = ("localhost", ".localhost", ".local", ".internal", ".home.arpa")


class WebhookUrlRefused(DomainError):
    code = "WEBHOOK_URL_REFUSED"
    status = 422
    title = "Events are sent only to https URLs on public hosts"


def private_addresses_allowed() -> bool:
    choice = get_settings().webhook_private_addresses
    if choice not in ("allow", "refuse"):
        raise ValueError(f"WEBHOOK_PRIVATE_ADDRESSES must be allow or refuse, not {choice!r}")
    return choice == "allow"


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def refusal(url: str, private_allowed: bool) -> str | None:
    """Why `url` may not receive events (None when it may), judged from the URL alone."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        return "The URL has no host"
    if parts.username or parts.password:
        return "The URL must not carry credentials"
    if private_allowed:
        return None if parts.scheme in ("http", "https") else "The URL must be http(s)"
    if parts.scheme != "https":
        return "The URL must be https"
    if host == "localhost" or host.endswith(_LOCAL_NAMES):
        return "The host is a local name"
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: judged by what it resolves to, before each delivery
    return None if _public(str(literal)) else "The address is not a public one"


def resolved_refusal(url: str, private_allowed: bool) -> str | None:
    """Why `url` may not receive an event now: `refusal`, or its host resolving to an address
    that is not public (any of them)."""
    why = refusal(url, private_allowed)
    if why or private_allowed:
        return why
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname or "", parts.port or 443, type=socket.SOCK_STREAM)
    except OSError:
        return "The host does not resolve"
    addresses = {str(info[4][0]) for info in infos}
    if not addresses or not all(_public(a) for a in addresses):
        return "The host resolves to an address that is not public"
    return None
