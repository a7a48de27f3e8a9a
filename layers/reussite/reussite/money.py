"""Amounts are integers in the currency's minor unit; this is how they read."""

from __future__ import annotations

DECIMALS = {"TND": 3, "EUR": 2, "USD": 2}


def format_amount(minor: int, currency: str, language: str = "en") -> str:
    """79000 TND millimes -> '79.000 TND' (English) or '79,000 TND' (French, Arabic); 150000
    EUR cents -> '1,500.00 EUR' or '1 500,00 EUR' (a narrow no-break space groups thousands)."""
    places = DECIMALS.get(currency, 2)
    sign = "-" if minor < 0 else ""
    whole, part = divmod(abs(minor), 10**places)
    grouped = f"{whole:,}"
    fraction = f"{part:0{places}d}" if places else ""
    if language == "en":
        number = grouped + (f".{fraction}" if places else "")
    else:
        number = grouped.replace(",", "\u202f") + (f",{fraction}" if places else "")
    return f"{sign}{number} {currency}"
