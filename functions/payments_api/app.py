"""Payments API: the products on sale, checkout (Konnect or Wise), reading an order, and staff
confirmation of a bank transfer."""

from typing import Any, Literal
from uuid import UUID

from fastapi import Request, status
from pydantic import BaseModel, Field, TypeAdapter

from reussite.http.app import create_app, lambda_handler
from reussite.http.auth import CurrentUser, IdempotencyKey, require_role
from reussite.http.idempotency import once
from reussite.identity.models import Role, User
from reussite.payments import service
from reussite.payments.models import Order, Product, Provider

app = create_app("reussite payments")
AS_JSON = TypeAdapter(Order)


@app.get("/v1/products")
def list_products() -> list[Product]:
    return service.products()


class CheckoutRequest(BaseModel):
    product_code: str = Field(pattern=r"^[A-Z0-9_]{1,40}$")
    student_id: UUID | None = None  # a parent's child; a student buys for themself
    provider: Literal["konnect", "wise"] = "konnect"


def _checkout(*, request: dict[str, Any], user: User) -> dict[str, Any]:
    order = service.checkout(
        user,
        request["product_code"],
        UUID(request["student_id"]) if request["student_id"] else None,
        Provider(request["provider"].upper()),
        request["key"],
    )
    return dict(AS_JSON.dump_python(order, mode="json"))


checkout_once = once(_checkout, payload="[product_code, student_id, provider]")


@app.post("/v1/payments/checkout", status_code=status.HTTP_201_CREATED, response_model=Order)
def checkout(
    body: CheckoutRequest, user: CurrentUser, key: IdempotencyKey, http: Request
) -> dict[str, Any]:
    request = {
        "sub": user.sub,
        "key": key,
        "product_code": body.product_code,
        "student_id": str(body.student_id) if body.student_id else None,
        "provider": body.provider,
    }
    return checkout_once(request=request, user=user, lambda_context=http.scope.get("aws.context"))


@app.get("/v1/payments/orders/{order_id}")
def read_order(order_id: UUID, user: CurrentUser) -> Order:
    return service.get_order(user, order_id)


class TransferConfirmation(BaseModel):
    transfer_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:/-]+$")
    amount_minor: int = Field(gt=0, le=10**12, description="Amount received, in minor units")
    currency: str = Field(pattern=r"^[A-Z]{3}$")


@app.post("/v1/admin/payments/{order_id}/confirm")
def confirm_transfer(order_id: UUID, body: TransferConfirmation, user: CurrentUser) -> Order:
    require_role(user, Role.ASSISTANTE, Role.ADMIN)
    return service.confirm_transfer(
        user, order_id, body.transfer_id, body.amount_minor, body.currency
    )


handler = lambda_handler(app)
