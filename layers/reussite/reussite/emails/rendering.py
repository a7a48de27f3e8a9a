"""Emails rendered from Jinja2 templates, one per email and language (`templates/<lang>/<name>.j2`,
with three blocks: `subject`, `text` and `html`). Text is rendered with autoescaping off, HTML
with it on, so user text (a child's name, a product) can never become markup; the HTML part is
set in `templates/layout.html`, which gives the language and its direction (Arabic reads right
to left). Filters format for the recipient: amounts for their currency, times in the school's
time zone, codes as human labels, links absolute to PUBLIC_BASE_URL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup, escape

from reussite.emails.labels import label
from reussite.money import format_amount
from reussite.settings import get_settings

LANGUAGES = ("fr", "en", "ar")
DEFAULT_LANGUAGE = "fr"
TEMPLATES = (
    "welcome",
    "session_booked",
    "session_reminder",
    "session_cancelled",
    "payment_confirmed",
    "subscription_activated",
    "renewal_due",
    "subscription_lapsed",
    "credits_expiring",
    "credits_expired",
    "monthly_report",
    "certificate_ready",
    "bilan_ready",
    "bilan_failed",
)
_FOLDER = Path(__file__).parent / "templates"
_CITIES = {"ar": {"Tunis": "تونس", "Paris": "باريس"}}
_AT = {"fr": "{d} à {t} (heure de {city})", "en": "{d} at {t} ({city} time)"}
_AT["ar"] = "{d} على الساعة {t} (بتوقيت {city})"


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


def language_of(value: str | None) -> str:
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def render(template: str, language: str, context: dict[str, Any]) -> Email:
    """The email `template` in `language`, filled from `context` (JSON values: times as ISO
    strings). A missing value is an error, never an empty gap."""
    lang = language_of(language)
    settings = get_settings()
    values = context | {
        "lang": lang,
        "dir": "rtl" if lang == "ar" else "ltr",
        "school": settings.issuer_name,
        "base_url": settings.public_base_url.rstrip("/"),
    }
    name = f"{lang}/{template}.j2"
    text_template = _environment(html=False).get_template(name)
    subject = " ".join(_block(text_template, "subject", values).split())
    text = _block(text_template, "text", values).strip() + "\n"
    html_env = _environment(html=True)
    inner = Markup(_block(html_env.get_template(name), "html", values))
    page = html_env.get_template("layout.html").render(
        values | {"subject": subject, "content": inner}
    )
    return Email(subject=subject, text=text, html=page)


def prepare(*templates: str) -> None:
    """Compile these emails' templates in every language now (at init, where a SnapStart
    snapshot keeps them compiled): Jinja compiles a template on its first render, ~10 ms each
    here, on the first event of a restored container otherwise."""
    for html in (False, True):
        env = _environment(html=html)
        for template in templates:
            for lang in LANGUAGES:
                env.get_template(f"{lang}/{template}.j2")
    _environment(html=True).get_template("layout.html")


def _block(template: jinja2.Template, block: str, values: dict[str, Any]) -> str:
    return "".join(template.blocks[block](template.new_context(values)))


@cache
def _environment(html: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_FOLDER),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(
        money=_money,
        when=_when,
        day=_day,
        month=_month,
        label=_label,
        link=_link,
        bdi=_bdi if html else _plain,
    )
    if html:
        env.globals["button"] = _button
    return env


def _lang(context: Any) -> str:
    return str(context.get("lang", DEFAULT_LANGUAGE))


@jinja2.pass_context
def _money(context: Any, minor: int, currency: str) -> str:
    return format_amount(int(minor), str(currency), _lang(context))


def _moment(value: str | datetime) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(ZoneInfo(get_settings().school_timezone))


@jinja2.pass_context
def _when(context: Any, value: str | datetime) -> str:
    """A time as the family reads it, in the school's time zone, which it names."""
    lang = _lang(context)
    zone = get_settings().school_timezone
    city = zone.rsplit("/", 1)[-1].replace("_", " ")
    city = _CITIES.get(lang, {}).get(city, city)
    moment = _moment(value)
    return _AT[lang].format(d=f"{moment:%d/%m/%Y}", t=f"{moment:%H:%M}", city=city)


def _day(value: str | date) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = _moment(value).date()
    return f"{value:%d/%m/%Y}"


_MONTHS = {
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "en": "January February March April May June July August September October November December",
    "ar": "جانفي فيفري مارس أفريل ماي جوان جويلية أوت سبتمبر أكتوبر نوفمبر ديسمبر",
}


@jinja2.pass_context
def _month(context: Any, value: str | date) -> str:
    """The month of a date, named ("novembre 2026"; Arabic as Tunisia names months)."""
    day = date.fromisoformat(value[:10]) if isinstance(value, str) else value
    return f"{_MONTHS[_lang(context)].split()[day.month - 1]} {day.year}"


@jinja2.pass_context
def _label(context: Any, code: str, fallback: str | None = None) -> str:
    return label(str(code), _lang(context), fallback)


@jinja2.pass_context
def _link(context: Any, path: str) -> str:
    """An absolute link: paths are joined to PUBLIC_BASE_URL, full URLs kept."""
    if path.startswith(("https://", "http://")):
        return path
    return f"{context['base_url']}/{path.lstrip('/')}"


def _bdi(value: Any) -> Any:
    """A name in HTML, isolated so an Arabic name in a French sentence (or the reverse) keeps
    the sentence's order."""
    return Markup("<bdi>") + escape(str(value)) + Markup("</bdi>")


def _button(href: str, text: str) -> Markup:
    """A call to action, as a link styled as a button (email clients run no script)."""
    return Markup(
        '<p style="margin:24px 0"><a href="{}" style="display:inline-block;background:#1f4e8c;'
        "color:#ffffff;text-decoration:none;padding:12px 20px;border-radius:6px;"
        'font-weight:bold">{}</a></p>'
    ).format(href, text)


def _plain(value: Any) -> str:
    return str(value)
