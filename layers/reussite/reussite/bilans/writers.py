"""Who writes a report's three passes: an offline deterministic writer (the default), or Gemini
or OpenAI over their documented HTTP APIs, with timeouts and retries with backoff on 429/5xx.

Each pass sees the questionnaire and the sections already written. A writer raises
WriterFailed with a reason a family can be shown; the worker retries the message, then records
the report as FAILED.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

from reussite.observability import logger
from reussite.outbound import Unreachable, call_json
from reussite.secrets import credential
from reussite.settings import Settings, get_settings


@dataclass(frozen=True)
class Pass:
    code: str
    title: str
    brief: str


PASSES = (
    Pass(
        "initial",
        "Analyse initiale",
        "Résume le profil scolaire de l'élève : niveau, moyenne et ce qu'elle signifie, "
        "matières fortes et fragiles, charge de travail. Sois factuel et bienveillant.",
    ),
    Pass(
        "psycho",
        "Analyse psychopédagogique",
        "Analyse la manière d'apprendre de l'élève (style d'apprentissage, motivation, stress, "
        "habitudes de travail) et donne des méthodes concrètes adaptées.",
    ),
    Pass(
        "orientation",
        "Orientation : domaines, filières et métiers",
        "Propose les trois domaines d'études les plus cohérents avec les intérêts et les "
        "matières de l'élève, avec filières, exemples de métiers et un plan d'action sur trois "
        "mois. Tiens compte des contraintes exprimées.",
    ),
)
SYSTEM = (
    "Tu es conseiller d'orientation scolaire pour des familles en Tunisie et en France. "
    "Tu écris une section d'un bilan d'orientation, en français, en Markdown simple (titres "
    "###, listes, gras), sans HTML ni liens. Tu t'adresses à la famille, avec précision et "
    "bienveillance, sans inventer de faits absents du questionnaire."
)


class WriterFailed(Exception):
    def __init__(self, reason: str, *, retryable: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class Writer(Protocol):
    name: str

    def write(self, step: Pass, questionnaire: dict[str, Any], before: list[str]) -> str: ...


def prompt(step: Pass, questionnaire: dict[str, Any], before: list[str]) -> str:
    earlier = "\n\n".join(before) if before else "(aucune)"
    return (
        f"Section à écrire : {step.title}.\n{step.brief}\n\n"
        f"Questionnaire (JSON) :\n{json.dumps(questionnaire, ensure_ascii=False, indent=1)}\n\n"
        f"Sections déjà écrites :\n{earlier}\n\n"
        f"Écris uniquement le contenu de la section « {step.title} »."
    )


class _HttpWriter:
    """Retries on no answer, 429 and 5xx with exponential backoff; other errors are final."""

    name = "http"

    def __init__(self, settings: Settings) -> None:
        self.timeout = settings.llm_timeout_seconds
        self.attempts = max(1, settings.llm_max_attempts)
        self.backoff = settings.llm_backoff_ms / 1000

    def write(self, step: Pass, questionnaire: dict[str, Any], before: list[str]) -> str:
        url, headers, body = self.request(prompt(step, questionnaire, before))
        reason = "no answer"
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                status, answer = call_json(
                    "POST", url, headers=headers, body=body, timeout=self.timeout
                )
            except Unreachable:
                reason = f"{self.name} did not answer within {self.timeout} s"
                continue
            if status == 429 or status >= 500:
                reason = f"{self.name} answered {status}"
                logger.warning("writer retrying", extra={"writer": self.name, "status": status})
                continue
            if status >= 400:
                raise WriterFailed(f"{self.name} refused the request ({status})", retryable=False)
            text = self.text(answer).strip()
            if not text:
                raise WriterFailed(f"{self.name} returned no text")
            return text
        raise WriterFailed(f"{reason} after {self.attempts} attempts")

    def request(self, text: str) -> tuple[str, dict[str, str], dict[str, Any]]:
        raise NotImplementedError

    def text(self, answer: dict[str, Any]) -> str:
        raise NotImplementedError


class GeminiWriter(_HttpWriter):
    """Gemini API `models.generateContent` (v1beta), key in the `x-goog-api-key` header."""

    name = "gemini"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        key = credential(settings.gemini_api_key, settings.gemini_api_key_secret_arn, "api_key")
        if not key:
            raise WriterFailed("the Gemini API key is not configured", retryable=False)
        self.key, self.model = key, settings.gemini_model
        self.base = settings.gemini_base_url.rstrip("/")

    def request(self, text: str) -> tuple[str, dict[str, str], dict[str, Any]]:
        body = {
            "systemInstruction": {"parts": [{"text": SYSTEM}]},
            "contents": [{"role": "user", "parts": [{"text": text}]}],
            "generationConfig": {"temperature": 0.4, "maxOutputTokens": 2048},
        }
        url = f"{self.base}/v1beta/models/{self.model}:generateContent"
        return url, {"x-goog-api-key": self.key}, body

    def text(self, answer: dict[str, Any]) -> str:
        candidates = answer.get("candidates") or []
        if not candidates:
            blocked = (answer.get("promptFeedback") or {}).get("blockReason")
            raise WriterFailed(f"gemini returned no candidate ({blocked or 'empty'})")
        parts = (candidates[0].get("content") or {}).get("parts") or []
        return "".join(str(part.get("text", "")) for part in parts)


class OpenAIWriter(_HttpWriter):
    """OpenAI Chat Completions (`POST /v1/chat/completions`), bearer key."""

    name = "openai"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        key = credential(settings.openai_api_key, settings.openai_api_key_secret_arn, "api_key")
        if not key:
            raise WriterFailed("the OpenAI API key is not configured", retryable=False)
        self.key, self.model = key, settings.openai_model
        self.base = settings.openai_base_url.rstrip("/")

    def request(self, text: str) -> tuple[str, dict[str, str], dict[str, Any]]:
        body = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": text},
            ],
            "temperature": 0.4,
            "max_tokens": 2048,
        }
        return f"{self.base}/v1/chat/completions", {"Authorization": f"Bearer {self.key}"}, body

    def text(self, answer: dict[str, Any]) -> str:
        choices = answer.get("choices") or []
        if not choices:
            raise WriterFailed("openai returned no choice")
        return str((choices[0].get("message") or {}).get("content") or "")


def writer(settings: Settings | None = None) -> Writer:
    settings = settings or get_settings()
    if settings.report_writer == "gemini":
        return GeminiWriter(settings)
    if settings.report_writer == "openai":
        return OpenAIWriter(settings)
    if settings.report_writer != "offline":
        raise WriterFailed(f"unknown REPORT_WRITER {settings.report_writer!r}", retryable=False)
    from reussite.bilans.offline import OfflineWriter

    return OfflineWriter()
