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

import copy
import html
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from reussite_local.fake_http import Answer, FakeServer

TOKENS = {"TND", "EUR", "USD"}


class FakeKonnect(FakeServer):
    def __init__(self, api_key: str | None = None, wallet_id: str | None = None) -> None:
        super().__init__()
        self.api_key = api_key or secrets.token_urlsafe(24)
        self.wallet_id = wallet_id or secrets.token_hex(12)
        self.payments: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of API calls, for tests
        self.mode = "normal"
        self.delay = 0.0
        self.webhook_calls: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self.api_url = f"{self.url}/api/v2"

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
            return 200, {"payment": copy.deepcopy(payment)}

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

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: dict[str, Any],
    ) -> Answer:
        if path.startswith("/api/v2/"):
            refused = self._refused(method, path, headers)
            if refused is not None:
                return refused
            if method == "POST" and path == "/api/v2/payments/init-payment":
                return self.init_payment(body)
            if method == "GET" and path.startswith("/api/v2/payments/"):
                return self.payment(path.removeprefix("/api/v2/payments/"))
        elif path.startswith("/pay/"):
            return self._pay_page(method, path.removeprefix("/pay/"))
        elif (
            method == "POST" and path.startswith("/_fake/payments/") and path.endswith("/complete")
        ):
            ref = path.removeprefix("/_fake/payments/").removesuffix("/complete")
            if ref not in self.payments:
                return 404, {"errors": [{"message": "Payment not found"}]}
            self.complete(ref, body.get("amount"), bool(body.get("notify", True)))
            return self.payment(ref)
        elif method == "POST" and path == "/_fake/mode":
            self.set_mode(str(body.get("mode", "normal")), float(body.get("delay", 0)))
            return 200, {"mode": self.mode, "delay": self.delay}
        return 404, {"errors": [{"message": "Not found"}]}

    def _pay_page(self, method: str, ref: str) -> Answer:
        if ref not in self.payments:
            return 404, {"errors": [{"message": "Payment not found"}]}
        if method == "POST":  # the payer presses "Pay": paid, then Konnect calls the webhook
            self.complete(ref)
            hook = self.payments[ref]["webhook"]
            threading.Thread(target=self.notify, args=(ref, hook), daemon=True).start()
        return 200, self._page(ref)

    def _refused(self, method: str, path: str, headers: dict[str, str]) -> Answer | None:
        self.requests.append((method, path))
        if self.mode == "slow":
            time.sleep(self.delay)
        if self.mode == "failing":
            return 503, {"errors": [{"message": "Service unavailable"}]}
        if headers.get("x-api-key") != self.api_key:
            return 401, {"errors": [{"message": "Invalid API key"}]}
        return None

    def _page(self, ref: str) -> str:
        payment = self.payments[ref]
        amount = f"{payment['amount']} {payment['token']} (minor units)"
        action = (
            "<p id='status'>Paid. You can close this page.</p>"
            if payment["status"] == "completed"
            else f"<form method='post' action='/pay/{html.escape(ref)}'>"
            "<button id='pay' type='submit'>Pay</button></form>"
        )
        return (
            "<!doctype html><meta charset='utf-8'><title>Konnect (fake sandbox)</title>"
            "<h1>Konnect sandbox (local fake)</h1>"
            f"<p>{html.escape(str(payment['description']))}</p>"
            f"<p>Amount: {html.escape(amount)}</p>{action}"
        )

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
