"""Payments API: the products on sale, checkout (Konnect or Wise), reading an order, staff
confirmation of a bank transfer, and the family's subscriptions (read, cancel, resume, change
plan; staff end one)."""

from typing import Annotated, Literal
from uuid import UUID

from fastapi import Query, Request, status
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from reussite import backoffice, history
from reussite.front_door import http_write
from reussite.http.app import create_app, lambda_handler
from reussite.http.auth import CurrentUser, IdempotencyKey
from reussite.http.pages import refused_link
from reussite.http.params import Cursor, Limit
from reussite.identity.models import User
from reussite.offers import service as offers
from reussite.offers.models import SubscriptionView
from reussite.payments import checkout as buying
from reussite.payments import orders, wise
from reussite.payments.models import Order, Product, Provider
from reussite.payments.receipts import Receipt
from reussite.settings import require

REQUIRED_SETTINGS = (
    "DATABASE_URL|DATABASE_SECRET_ARN",
    "IDEMPOTENCY_TABLE",
    "CERTIFICATES_BUCKET",
    "LINK_SECRET|LINK_SECRET_ARN",
)
require(*REQUIRED_SETTINGS)  # fails at init, naming what is missing

app = create_app("reussite payments")


@app.get("/v1/products")
def list_products(cursor: Cursor = None, limit: Limit = 50) -> history.Page[Product]:
    """What the school sells (packs, plans, add-ons), by code; public."""
    return orders.products(cursor, limit)


AriaSubject = Annotated[str, Field(pattern=r"^[A-Z_]{2,30}$")]


class CheckoutRequest(BaseModel):
    product_code: str = Field(pattern=r"^[A-Z0-9_]{1,40}$")
    student_id: UUID | None = None  # a parent's child; a student buys for themself
    provider: Literal["konnect", "wise"] = "konnect"
    aria_subjects: list[AriaSubject] = Field(
        default_factory=list,
        max_length=10,
        description="A plan's ARIA subjects (at most as many as the plan includes)",
    )


def _checkout(user: User, request: CheckoutRequest, key: str) -> Order:
    provider = Provider(request.provider.upper())
    return buying.checkout(
        user, request.product_code, request.student_id, provider, key, request.aria_subjects
    )


checkout_once = http_write(_checkout, Order)


@app.post("/v1/payments/checkout", status_code=status.HTTP_201_CREATED, response_model=Order)
def checkout(body: CheckoutRequest, user: CurrentUser, key: IdempotencyKey, http: Request) -> Order:
    return checkout_once(user, key, body, http.scope.get("aws.context"))


@app.get("/v1/payments/orders/{order_id}")
def read_order(order_id: UUID, user: CurrentUser) -> Order:
    return orders.get_order(user, order_id)


@app.get("/v1/payments/orders/{order_id}/receipt/pdf")
def receipt_pdf(
    order_id: UUID, token: Annotated[str, Query(min_length=1, max_length=100)], request: Request
) -> Response:
    """Public, with the signed link of the payment email: the receipt's PDF (a redirect to a
    short-lived copy), without a Bearer header."""
    from reussite import links
    from reussite.payments import receipts

    if not links.verify(token, f"receipt:{order_id}"):
        return refused_link(request, "receipt")
    return RedirectResponse(receipts.link({"id": order_id}).url, status_code=303)


@app.get("/v1/payments/orders/{order_id}/receipt")
def read_receipt(order_id: UUID, user: CurrentUser) -> Receipt:
    """The paid order's receipt: its number and a short-lived link to the PDF."""
    return orders.receipt(user, order_id)


class TransferConfirmation(BaseModel):
    transfer_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:/-]+$")
    amount_minor: int = Field(gt=0, le=10**12, description="Amount received, in minor units")
    currency: str = Field(pattern=r"^[A-Z]{3}$")


@app.post("/v1/admin/payments/{order_id}/confirm")
def confirm_transfer(order_id: UUID, body: TransferConfirmation, user: CurrentUser) -> Order:
    return wise.confirm_transfer(user, order_id, body.transfer_id, body.amount_minor, body.currency)


@app.get("/v1/me/subscriptions")
def my_subscriptions(
    user: CurrentUser, student_id: UUID | None = None, cursor: Cursor = None, limit: Limit = 20
) -> history.Page[SubscriptionView]:
    """A student's own subscriptions, a parent's children's (or one child's), newest first."""
    return offers.subscriptions_of(user, student_id, cursor, limit)


@app.post("/v1/subscriptions/{subscription_id}/cancel")
def cancel_subscription(subscription_id: UUID, user: CurrentUser) -> SubscriptionView:
    """Stop at the end of the paid period (asking twice gives the same answer)."""
    return offers.cancel(user, subscription_id)


@app.post("/v1/subscriptions/{subscription_id}/resume")
def resume_subscription(subscription_id: UUID, user: CurrentUser) -> SubscriptionView:
    return offers.resume(user, subscription_id)


class PlanChange(BaseModel):
    plan_code: str = Field(pattern=r"^[A-Z0-9_]{1,40}$")


@app.post("/v1/subscriptions/{subscription_id}/plan")
def change_plan(subscription_id: UUID, body: PlanChange, user: CurrentUser) -> SubscriptionView:
    """Upgrade or downgrade from the next period."""
    return offers.change_plan(user, subscription_id, body.plan_code)


class AriaChoice(BaseModel):
    subjects: list[AriaSubject] = Field(max_length=10)


@app.post("/v1/subscriptions/{subscription_id}/aria-subjects")
def choose_aria_subjects(
    subscription_id: UUID, body: AriaChoice, user: CurrentUser
) -> SubscriptionView:
    """The payer chooses the subjects ARIA tutors the student in (at most the plan's count)."""
    return offers.choose_aria_subjects(user, subscription_id, body.subjects)


class SubscriptionEnd(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


@app.get("/v1/admin/students/{student_id}/subscriptions")
def student_subscriptions(
    student_id: UUID, user: CurrentUser, cursor: Cursor = None, limit: Limit = 20
) -> history.Page[SubscriptionView]:
    """Any student's subscriptions, newest first (the back office's view)."""
    return offers.student_subscriptions(user, student_id, cursor, limit)


@app.post("/v1/admin/subscriptions/{subscription_id}/end")
def end_subscription(
    subscription_id: UUID, body: SubscriptionEnd, user: CurrentUser
) -> SubscriptionView:
    return offers.end_now(user, subscription_id, body.reason)


@app.get("/v1/me/orders")
def history_orders(
    user: CurrentUser,
    student_id: UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 20,
    order_status: str | None = Query(
        None, alias="status", pattern="^(CREATED|PENDING|PAID|MISMATCH|EXPIRED)$"
    ),
) -> history.Page[history.OrderItem]:
    """A student's orders, newest first, with their receipt and what they paid for (the
    credits' lot, the plan period). A parent names the child (`student_id`)."""
    return history.orders(user, student_id, cursor, limit, order_status)


@app.get("/v1/admin/orders")
def find_orders(
    user: CurrentUser,
    reference: str | None = Query(None, max_length=60, description="RSS-… or an order id"),
    order_status: str | None = Query(
        None, alias="status", pattern="^(CREATED|PENDING|PAID|MISMATCH|EXPIRED)$"
    ),
    provider: str | None = Query(None, pattern="^(KONNECT|WISE)$"),
    cursor: Cursor = None,
    limit: Limit = 20,
) -> history.Page[backoffice.OrderRow]:
    """Staff find orders by the bank reference a family wrote (or an id); `provider=WISE&
    status=PENDING` is the queue of transfers to confirm."""
    return backoffice.orders(user, cursor, limit, reference, order_status, provider)


handler = lambda_handler(app)
