"""The language a caller reads, from Accept-Language (RFC 9110 section 12.5.4): the supported
language (fr, en, ar) with the highest weight, else the default."""

from __future__ import annotations

SUPPORTED = ("fr", "en", "ar")


def preferred(header: str | None, default: str = "en") -> str:
    best, best_weight = default, 0.0
    for part in (header or "")[:500].split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    weight = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    weight = 0.0
        if primary in SUPPORTED and weight > best_weight:
            best, best_weight = primary, weight
    return best


def direction(language: str) -> str:
    return "rtl" if language == "ar" else "ltr"
