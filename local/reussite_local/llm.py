"""Fake Gemini and OpenAI APIs on 127.0.0.1, speaking the documented calls reussite makes:

- Gemini `POST /v1beta/models/{model}:generateContent` (key in `x-goog-api-key`):
  `{"contents": [{"role", "parts": [{"text"}]}], "systemInstruction", "generationConfig"}` ->
  `{"candidates": [{"content": {"role": "model", "parts": [{"text"}]}, "finishReason"}],
  "usageMetadata", "modelVersion"}`
- OpenAI `POST /v1/chat/completions` (`Authorization: Bearer <key>`):
  `{"model", "messages": [{"role", "content"}]}` ->
  `{"id", "object": "chat.completion", "choices": [{"index", "message": {"role", "content"},
  "finish_reason"}], "usage"}`

Errors answer in each API's error shape. Test controls: `fail_next(n, status)` (then answer
normally), `failing` (always `status`), `reply` (the text to answer; by default a short
section naming the pass it was asked for), and `requests` (what was asked).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from typing import Any

from reussite_local.fake_http import Answer, FakeServer


class FakeModels(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.gemini_key = secrets.token_urlsafe(16)
        self.openai_key = f"sk-{secrets.token_urlsafe(16)}"
        self.requests: list[dict[str, Any]] = []
        self.reply: str | None = None
        self.failing: int | None = None  # always answer this status
        self.delay = 0.0  # seconds to think before answering
        self._fail_left = 0
        self._fail_status = 503
        self._lock = threading.Lock()

    def fail_next(self, count: int, status: int = 503) -> None:
        with self._lock:
            self._fail_left, self._fail_status = count, status

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.reply, self.failing, self._fail_left, self.delay = None, None, 0, 0.0

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: dict[str, Any],
    ) -> Answer:
        gemini = re.fullmatch(r"/v1beta/models/([\w.-]+):generateContent", path)
        if method != "POST" or not (gemini or path == "/v1/chat/completions"):
            return 404, {"error": {"code": 404, "message": "Not found"}}
        api = "gemini" if gemini else "openai"
        with self._lock:
            self.requests.append({"api": api, "path": path, "headers": headers, "body": body})
            status = self.failing
            if status is None and self._fail_left > 0:
                self._fail_left -= 1
                status = self._fail_status
        if status is not None:
            return status, _error(api, status, "Service temporarily unavailable")
        time.sleep(self.delay)
        if api == "gemini":
            return self._gemini(gemini.group(1) if gemini else "", headers, body)
        return self._openai(headers, body)

    def _text(self, prompt: str) -> str:
        if self.reply is not None:
            return self.reply
        asked = re.search(r"Section à écrire : ([^.\n]+)", prompt)
        section = asked.group(1) if asked else "section"
        return f"### {section}\n\nSection « {section} » rédigée par le modèle (faux serveur)."

    def _gemini(self, model: str, headers: dict[str, str], body: dict[str, Any]) -> Answer:
        if headers.get("x-goog-api-key") != self.gemini_key:
            return 403, _error("gemini", 403, "API key not valid. Please pass a valid API key.")
        try:
            prompt = "".join(p["text"] for c in body["contents"] for p in c["parts"])
        except (KeyError, TypeError):
            return 400, _error("gemini", 400, "Invalid JSON payload: contents.parts.text")
        text = self._text(prompt)
        return 200, {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": text}]},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": len(prompt) // 4,
                "candidatesTokenCount": len(text) // 4,
                "totalTokenCount": (len(prompt) + len(text)) // 4,
            },
            "modelVersion": model,
        }

    def _openai(self, headers: dict[str, str], body: dict[str, Any]) -> Answer:
        if headers.get("authorization") != f"Bearer {self.openai_key}":
            return 401, _error("openai", 401, "Incorrect API key provided.")
        try:
            prompt = "".join(str(m["content"]) for m in body["messages"] if m["role"] == "user")
            model = str(body["model"])
        except (KeyError, TypeError):
            return 400, _error("openai", 400, "'messages' and 'model' are required")
        text = self._text(prompt)
        return 200, {
            "id": f"chatcmpl-{secrets.token_hex(8)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": len(prompt) // 4,
                "completion_tokens": len(text) // 4,
                "total_tokens": (len(prompt) + len(text)) // 4,
            },
        }


def _error(api: str, status: int, message: str) -> dict[str, Any]:
    if api == "gemini":
        names = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 429: "RESOURCE_EXHAUSTED"}
        return {
            "error": {
                "code": status,
                "message": message,
                "status": names.get(status, "UNAVAILABLE"),
            }
        }
    kinds = {401: "invalid_request_error", 429: "rate_limit_exceeded"}
    return {"error": {"message": message, "type": kinds.get(status, "server_error"), "code": None}}
