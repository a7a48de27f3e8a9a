"""A client for Konnect's payment gateway API v2 (https://api.konnect.network/api/v2, sandbox
https://api.sandbox.konnect.network/api/v2): `init-payment` and reading a payment back.

Every call has a timeout (reussite.outbound); network failures, timeouts and 5xx answers
raise ProviderUnavailable (the caller answers 503 and the webhook is retried), 4xx answers to
our own requests raise ProviderRejected (a configuration error: key, wallet).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

from reussite.errors import DependencyUnavailable, DomainError
from reussite.observability import logger
from reussite.outbound import Unreachable, call_json
from reussite.secrets import credential
from reussite.settings import Settings, get_settings


class ProviderUnavailable(DependencyUnavailable):
    code = "PROVIDER_UNAVAILABLE"
    status = 502  # the upstream failed: Konnect retries a webhook answered with a 5xx
    title = "The payment provider cannot be reached; try again shortly"


class ProviderRejected(DomainError):
    code = "PROVIDER_ERROR"
    status = 502
    title = "The payment provider refused the request"


class ProviderNotConfigured(DependencyUnavailable):
    code = "PROVIDER_NOT_CONFIGURED"
    title = "This payment method is not configured"


@dataclass(frozen=True)
class InitiatedPayment:
    pay_url: str
    payment_ref: str


@dataclass(frozen=True)
class Payment:
    """What Konnect says of a payment: the fields we verify before fulfilling anything."""

    ref: str
    status: str  # "completed" once paid in full; "pending" before
    amount: int | None  # in the currency's minor unit (millimes for TND)
    token: str | None  # the currency
    order_id: str | None

    @classmethod
    def from_api(cls, ref: str, body: dict[str, Any]) -> Payment:
        payment = body.get("payment") or {}
        amount = payment.get("amount")
        return cls(
            ref=str(payment.get("id") or ref),
            status=str(payment.get("status") or "unknown"),
            amount=amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
            token=payment.get("token"),
            order_id=None if payment.get("orderId") is None else str(payment["orderId"]),
        )


class KonnectClient:
    def __init__(self, base_url: str, api_key: str, wallet_id: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.wallet_id = wallet_id
        self.timeout = timeout

    def init_payment(
        self,
        *,
        amount: int,
        token: str,
        order_id: str,
        webhook: str,
        lifespan_minutes: int,
        description: str,
        email: str | None = None,
    ) -> InitiatedPayment:
        body: dict[str, Any] = {
            "receiverWalletId": self.wallet_id,
            "token": token,
            "amount": amount,
            "type": "immediate",
            "description": description,
            "acceptedPaymentMethods": ["wallet", "bank_card", "e-DINAR"],
            "lifespan": lifespan_minutes,
            "checkoutForm": False,
            "addPaymentFeesToAmount": False,
            "orderId": order_id,
            "webhook": webhook,
            "theme": "light",
        }
        if email:
            body["email"] = email
        status, answer = self._call("POST", "/payments/init-payment", body)
        if status >= 400 or not answer.get("payUrl") or not answer.get("paymentRef"):
            logger.error("Konnect refused init-payment", extra={"status": status})
            raise ProviderRejected(f"Konnect answered {status} to init-payment")
        return InitiatedPayment(
            pay_url=str(answer["payUrl"]), payment_ref=str(answer["paymentRef"])
        )

    def payment(self, ref: str) -> Payment | None:
        """The payment as Konnect knows it, or None if it knows no such payment."""
        status, answer = self._call("GET", f"/payments/{urllib.parse.quote(ref, safe='')}")
        if status == 404:
            return None
        if status >= 400:
            raise ProviderRejected(f"Konnect answered {status} to a payment lookup")
        return Payment.from_api(ref, answer)

    def _call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        try:
            status, answer = call_json(
                method,
                self.base_url + path,
                headers={"x-api-key": self._api_key},
                body=body,
                timeout=self.timeout,
            )
        except Unreachable as exc:  # refused, reset, DNS, timeout
            raise ProviderUnavailable("Konnect did not answer") from exc
        if status >= 500 or status == 429:
            raise ProviderUnavailable(f"Konnect answered {status}")
        return status, answer


def client(settings: Settings | None = None) -> KonnectClient:
    """A client configured from the settings; the API key from its secret in AWS (cached by
    Powertools for five minutes, so a rotated key is picked up without a deploy)."""
    settings = settings or get_settings()
    if not settings.konnect_wallet_id:
        raise ProviderNotConfigured("KONNECT_WALLET_ID is not set")
    return KonnectClient(
        settings.konnect_base_url,
        _api_key(settings),
        settings.konnect_wallet_id,
        settings.konnect_timeout_seconds,
    )


def _api_key(settings: Settings) -> str:
    key = credential(settings.konnect_api_key, settings.konnect_api_key_secret_arn, "api_key")
    if not key:
        raise ProviderNotConfigured("KONNECT_API_KEY or KONNECT_API_KEY_SECRET_ARN must be set")
    return key
