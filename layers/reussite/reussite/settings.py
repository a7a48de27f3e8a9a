"""Settings read once from environment variables into one typed, frozen model.

A dataclass rather than pydantic: every function reads settings, and functions that validate
nothing else (scheduled jobs, migrations) should not pay pydantic's import on a cold start.
"""

from __future__ import annotations

import dataclasses
import os
import re
from functools import cache
from typing import get_type_hints


class MissingSettings(RuntimeError):
    """A function was deployed without settings it needs (a deployment error, not bad input)."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(f"missing settings: {', '.join(names)}")
        self.names = names


@dataclasses.dataclass(frozen=True)
class Settings:
    stage: str = "local"
    database_url: str | None = None
    database_secret_arn: str | None = None
    public_base_url: str = "http://127.0.0.1:3000"
    idempotency_table: str | None = None
    certificates_bucket: str | None = None
    certificate_queue_url: str | None = None
    bilan_queue_url: str | None = None
    link_code_ttl_hours: int = 7 * 24
    credit_validity_months: int = 12
    subscription_grace_days: int = 7  # PAST_DUE this long after an unpaid period end
    renewal_lead_days: int = 3  # the next period's order is opened and emailed this early
    attempt_token_secret: str | None = None  # locally; in AWS the secret below
    attempt_token_secret_arn: str | None = None
    link_secret: str | None = None  # locally; in AWS the secret below (links in emails)
    link_secret_arn: str | None = None
    webhook_secret: str | None = None  # locally; in AWS the secret below (outgoing events)
    webhook_secret_arn: str | None = None
    webhook_queue_url: str | None = None
    webhook_timeout_seconds: float = 10.0
    webhook_private_addresses: str = "refuse"  # "allow" only for the local stack's receiver
    submit_grace_seconds: int = 30  # network slack after an exam's deadline
    signing_key_secret_arn: str | None = None  # {"kid", "private_key"} for credentials
    issuer_name: str = "reussite"
    issuer_url: str = ""  # the school's site, in the issuer Profile (else the API's base URL)
    issuer_email: str = ""  # the school's contact address, in the issuer Profile
    school_address: str = ""  # printed on receipts under the school's name (issuer_name)
    # Branding of certificates, badges and the verify page: the logo (PNG or JPEG, an object in
    # the certificates bucket), who signs, and two colours (#rrggbb).
    brand_logo_key: str = ""
    signatory_name: str = ""
    signatory_title: str = ""
    brand_colour: str = "#1e3c6e"
    brand_accent: str = "#b8860b"
    email_sender: str = "certificats@reussite.example"
    feature_flags_file: str | None = None  # locally; in AWS the AppConfig profile below
    appconfig_application: str | None = None
    appconfig_environment: str | None = None
    appconfig_profile: str | None = None
    # Konnect (payment gateway API v2): sandbox or production base URL, the receiving wallet,
    # the API key locally or its secret in AWS; payments stay payable `lifespan` minutes.
    konnect_base_url: str = "https://api.sandbox.konnect.network/api/v2"
    konnect_wallet_id: str | None = None
    konnect_api_key: str | None = None
    konnect_api_key_secret_arn: str | None = None
    konnect_lifespan_minutes: int = 30
    konnect_timeout_seconds: int = 8
    # Orientation reports: who writes them ("offline", "gemini" or "openai"), the models' APIs
    # (keys locally, their secrets in AWS), timeouts and retries, the queue's receive limit.
    report_writer: str = "offline"
    gemini_base_url: str = "https://generativelanguage.googleapis.com"
    gemini_model: str = "gemini-2.5-flash"
    gemini_api_key: str | None = None
    gemini_api_key_secret_arn: str | None = None
    openai_base_url: str = "https://api.openai.com"
    openai_model: str = "gpt-4o-mini"
    openai_api_key: str | None = None
    openai_api_key_secret_arn: str | None = None
    llm_timeout_seconds: int = 60
    llm_max_attempts: int = 4
    llm_backoff_ms: int = 1000  # doubled after each failed attempt
    bilan_max_receives: int = 3  # = the queue's redrive maxReceiveCount
    support_url: str = "mailto:support@reussite.example"
    # Tutoring: video rooms (Jitsi-style: a domain and an unguessable room name), the time zone
    # coaches' weekly availability is written in, the free-cancellation notice, reminders.
    video_base_url: str = "https://meet.jit.si"
    school_timezone: str = "Africa/Tunis"
    cancellation_refund_hours: int = 24
    reminder_hours: int = 24
    # ARIA, the AI tutor: who answers ("offline", "openai" or "gemini"), the turns of a
    # conversation sent to the model, bounds, and the public widget's limits.
    aria_model: str = "offline"
    aria_openai_model: str = "gpt-4o-mini"
    aria_timeout_seconds: int = 12  # two attempts stay under API Gateway's 30 s
    aria_max_attempts: int = 2
    aria_history_turns: int = 6
    aria_max_conversation_messages: int = 200
    aria_widget_per_client_per_hour: int = 30
    aria_widget_exchanges: int = 3  # the quiz's questions before it asks for an email
    aria_widget_per_session: int = 12  # messages a widget session may send
    free_bilan_url: str = ""  # the free orientation report's page (default: the public URL's)
    # Wise (manual bank transfers): the account families transfer to.
    wise_account_holder: str | None = None
    wise_iban: str | None = None
    wise_bic: str | None = None

    def __post_init__(self) -> None:
        for name in ("brand_colour", "brand_accent"):
            if not re.fullmatch(r"#[0-9a-fA-F]{6}", getattr(self, name)):
                raise ValueError(f"{name.upper()} must be a colour like #1e3c6e")

    def require(self, name: str) -> str:
        """A setting this code path cannot do without (a queue to send to): its value, or
        MissingSettings naming its variable — never a guarantee silently switched off."""
        value = getattr(self, name)
        if value is None or value == "":
            raise MissingSettings([name.upper()])
        return str(value)

    @classmethod
    def from_env(cls, environ: dict[str, str]) -> Settings:
        """Each field from the variable of the same name in upper case; empty means unset."""
        hints = get_type_hints(cls)
        values: dict[str, object] = {}
        for field in dataclasses.fields(cls):
            raw = environ.get(field.name.upper(), "").strip()
            if not raw:
                continue
            try:
                values[field.name] = int(raw) if hints[field.name] is int else raw
            except ValueError as exc:
                raise ValueError(f"{field.name.upper()} must be an integer, not {raw!r}") from exc
        return cls(**values)  # type: ignore[arg-type]


@cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings.from_env(dict(os.environ))


def require(*names: str) -> Settings:
    """The settings, checked at a function's init for every variable it needs ("A|B": either
    will do); MissingSettings names all that are unset."""
    settings = get_settings()
    missing = [
        name
        for name in names
        if not any(getattr(settings, alt.lower()) not in (None, "") for alt in name.split("|"))
    ]
    if missing:
        raise MissingSettings(missing)
    return settings
