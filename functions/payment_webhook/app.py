"""Konnect's webhook: `GET` (or `POST`) /v1/webhooks/konnect?payment_ref=... - unsigned, so only
the reference is used; the payment is read back from Konnect before anything is fulfilled.

Powertools idempotency on the payment reference in front (a final outcome is answered from
DynamoDB without touching the database or Konnect), UNIQUE(provider, event id) behind. An
outcome that may still change (not completed yet) is answered but never stored."""

from typing import Annotated, Any

from fastapi import Query, Request

from reussite import aws
from reussite.emails import rendering
from reussite.front_door import Provisional, guard
from reussite.http.app import create_app, lambda_handler
from reussite.jsonable import jsonable
from reussite.payments import settlement
from reussite.settings import get_settings, require

REQUIRED_SETTINGS = (
    "DATABASE_URL|DATABASE_SECRET_ARN",
    "IDEMPOTENCY_TABLE",
    "LINK_SECRET|LINK_SECRET_ARN",
)
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing

app = create_app("reussite payment webhook")


def _settle(*, request: dict[str, Any]) -> dict[str, Any]:
    settled = settlement.settle_konnect(request["payment_ref"])
    answer = dict(jsonable(settled))
    if not settled.final:
        raise Provisional(answer)
    return answer


# A webhook's usual event is a payment to fulfil: the front door's claim, Konnect's key, the
# receipt mailed (its template rendered, its links signed) and the school's events queued. All of
# it is built at init, where the SnapStart snapshot holds it (boto3 itself included), so a
# restored container's first payment does not pay for it (688 ms of bench/cold_start's event).
settle_once = guard(_settle, key="payment_ref").warm()
aws.warm("ses", "sqs")
aws.warm_secrets(get_settings().konnect_api_key_secret_arn, get_settings().link_secret_arn)
rendering.prepare("payment_confirmed", "subscription_activated")

PaymentRef = Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@app.get("/v1/webhooks/konnect", operation_id="konnect_webhook_get")
@app.post("/v1/webhooks/konnect", operation_id="konnect_webhook_post")
def konnect_webhook(payment_ref: PaymentRef, http: Request) -> dict[str, Any]:
    settlement.known_payment(payment_ref)  # garbage refs get their 404 without a DynamoDB write
    return settle_once(
        request={"payment_ref": payment_ref}, lambda_context=http.scope.get("aws.context")
    )


handler = lambda_handler(app)
