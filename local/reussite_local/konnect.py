"""A fake Konnect gateway (API v2) on 127.0.0.1, speaking the documented calls reussite makes:

- `POST /api/v2/payments/init-payment` (x-api-key; receiverWalletId, token, amount, type,
  lifespan, orderId, webhook, ...) -> `{"payUrl", "paymentRef"}`
- `GET /api/v2/payments/{paymentRef}` (x-api-key) -> `{"payment": {...}}`

and, like the sandbox, a payment page (`GET /pay/{ref}`, a button that pays) after which
Konnect calls the webhook: `GET {webhook}?payment_ref={ref}`.

Test controls, not part of Konnect: `complete(ref, amount=..., notify=...)`, and `mode`:
"normal", "slow" (answers after `delay` seconds) or "failing" (503 to every API call).
Over HTTP: `POST /_fake/payments/{ref}/complete` and `POST /_fake/mode`.
"""

from __future__ import annotations

import contextlib
import html
import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKENS = {"TND", "EUR", "USD"}


class FakeKonnect:
    def __init__(self, api_key: str | None = None, wallet_id: str | None = None) -> None:
        self.api_key = api_key or secrets.token_urlsafe(24)
        self.wallet_id = wallet_id or secrets.token_hex(12)
        self.payments: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of API calls, for tests
        self.mode = "normal"
        self.delay = 0.0
        self.webhook_calls: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.api_url = f"{self.url}/api/v2"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> FakeKonnect:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def set_mode(self, mode: str, delay: float = 0.0) -> None:
        if mode not in ("normal", "slow", "failing"):
            raise ValueError(mode)
        self.mode, self.delay = mode, delay

    # -- the gateway ---------------------------------------------------------------------------

    def init_payment(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        problems = []
        if body.get("receiverWalletId") != self.wallet_id:
            problems.append("receiverWalletId is not a wallet of this account")
        if body.get("token") not in TOKENS:
            problems.append("token must be one of TND, EUR, USD")
        amount = body.get("amount")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            problems.append("amount must be a positive integer (millimes, cents)")
        if body.get("type", "immediate") not in ("immediate", "partial"):
            problems.append("type must be immediate or partial")
        lifespan = body.get("lifespan", 10)
        if not isinstance(lifespan, int) or lifespan <= 0:
            problems.append("lifespan must be a positive number of minutes")
        if problems:
            return 400, {"errors": [{"message": p} for p in problems]}
        ref = secrets.token_hex(12)  # Konnect's refs look like MongoDB ObjectIds
        now = datetime.now(UTC)
        payment = {
            "id": ref,
            "status": "pending",
            "amount": amount,
            "amountDue": amount,
            "reachedAmount": 0,
            "token": body["token"],
            "type": body.get("type", "immediate"),
            "orderId": body.get("orderId"),
            "description": body.get("description"),
            "webhook": body.get("webhook"),
            "successUrl": body.get("successUrl"),
            "failUrl": body.get("failUrl"),
            "link": f"{self.url}/pay/{ref}",
            "receiverWallet": {"id": self.wallet_id},
            "acceptedPaymentMethods": body.get("acceptedPaymentMethods", ["wallet", "bank_card"]),
            "createdAt": now.isoformat(),
            "expirationDate": (now + timedelta(minutes=lifespan)).isoformat(),
            "transactions": [],
        }
        with self._lock:
            self.payments[ref] = payment
        return 200, {"payUrl": payment["link"], "paymentRef": ref}

    def payment(self, ref: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            payment = self.payments.get(ref)
            if payment is None:
                return 404, {"errors": [{"message": "Payment not found"}]}
            return 200, {"payment": json.loads(json.dumps(payment))}

    def complete(self, ref: str, amount: int | None = None, notify: bool = False) -> None:
        """The payer pays: in full, or `amount` (a provider-side discrepancy); then, if
        `notify`, Konnect calls the payment's webhook."""
        with self._lock:
            payment = self.payments[ref]
            paid = payment["amount"] if amount is None else amount
            payment.update(
                status="completed",
                amount=paid,
                reachedAmount=paid,
                amountDue=0,
                transactions=[{"id": secrets.token_hex(12), "status": "success", "amount": paid}],
            )
            webhook = payment["webhook"]
        if notify and webhook:
            self.notify(ref, webhook)

    def notify(self, ref: str, webhook: str) -> int:
        url = f"{webhook}{'&' if '?' in webhook else '?'}payment_ref={urllib.parse.quote(ref)}"
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError:
            status = 0
        self.webhook_calls.append((ref, status))
        return status


def _handler(fake: FakeKonnect) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            path = urllib.parse.urlsplit(self.path).path
            if path.startswith("/pay/"):
                return self._page(path.removeprefix("/pay/"))
            if path.startswith("/api/v2/payments/") and self._api_allowed():
                return self._json(*fake.payment(path.removeprefix("/api/v2/payments/")))
            if not path.startswith("/api/v2/"):
                self._json(404, {"errors": [{"message": "Not found"}]})

        def do_POST(self) -> None:
            path = urllib.parse.urlsplit(self.path).path
            body = self._body()
            if path == "/api/v2/payments/init-payment":
                if self._api_allowed():
                    self._json(*fake.init_payment(body if isinstance(body, dict) else {}))
            elif path.startswith("/pay/"):
                ref = path.removeprefix("/pay/")
                if ref not in fake.payments:
                    return self._json(404, {"errors": [{"message": "Payment not found"}]})
                fake.complete(ref)
                threading.Thread(
                    target=fake.notify, args=(ref, fake.payments[ref]["webhook"]), daemon=True
                ).start()
                self._page(ref)
            elif path.startswith("/_fake/payments/") and path.endswith("/complete"):
                ref = path.removeprefix("/_fake/payments/").removesuffix("/complete")
                if ref not in fake.payments:
                    return self._json(404, {"errors": [{"message": "Payment not found"}]})
                fake.complete(ref, body.get("amount"), bool(body.get("notify", True)))
                self._json(*fake.payment(ref))
            elif path == "/_fake/mode":
                fake.set_mode(str(body.get("mode", "normal")), float(body.get("delay", 0)))
                self._json(200, {"mode": fake.mode, "delay": fake.delay})
            else:
                self._json(404, {"errors": [{"message": "Not found"}]})

        def _api_allowed(self) -> bool:
            fake.requests.append((self.command, self.path))
            if fake.mode == "slow":
                time.sleep(fake.delay)
            if fake.mode == "failing":
                self._json(503, {"errors": [{"message": "Service unavailable"}]})
                return False
            if self.headers.get("x-api-key") != fake.api_key:
                self._json(401, {"errors": [{"message": "Invalid API key"}]})
                return False
            return True

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.headers.get("Content-Type", "").startswith("application/x-www-form"):
                return {}
            try:
                value = json.loads(raw or b"{}")
            except ValueError:
                return {}
            return value if isinstance(value, dict) else {}

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # caller gave up
                self.wfile.write(data)

        def _page(self, ref: str) -> None:
            payment = fake.payments.get(ref)
            if payment is None:
                return self._json(404, {"errors": [{"message": "Payment not found"}]})
            amount = f"{payment['amount']} {payment['token']} (minor units)"
            action = (
                "<p id='status'>Paid. You can close this page.</p>"
                if payment["status"] == "completed"
                else f"<form method='post' action='/pay/{html.escape(ref)}'>"
                "<button id='pay' type='submit'>Pay</button></form>"
            )
            data = (
                "<!doctype html><meta charset='utf-8'><title>Konnect (fake sandbox)</title>"
                "<h1>Konnect sandbox (local fake)</h1>"
                f"<p>{html.escape(str(payment['description']))}</p>"
                f"<p>Amount: {html.escape(amount)}</p>{action}"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # caller gave up
                self.wfile.write(data)

    return Handler
