"""The refusals of payments, each with its stable code."""

from __future__ import annotations

from reussite.errors import Conflict, DomainError, NotFound


class UnknownProduct(DomainError):
    code = "UNKNOWN_PRODUCT"
    status = 400
    title = "No such product on sale"


class OrderNotFound(NotFound):
    code = "ORDER_NOT_FOUND"
    title = "No such order"


class PaymentNotFound(NotFound):
    code = "PAYMENT_NOT_FOUND"
    title = "No payment has this reference"


class SubscriptionActive(Conflict):
    code = "SUBSCRIPTION_ACTIVE"
    title = "This student's plan is already paid for its next period"


class CheckoutInProgress(Conflict):
    code = "CHECKOUT_IN_PROGRESS"
    title = "This checkout is being opened with the provider; retry in a few seconds"


class PaymentAlreadyConfirmed(Conflict):
    code = "PAYMENT_ALREADY_CONFIRMED"
    title = "This order is already paid"


class TransferAlreadyUsed(Conflict):
    code = "TRANSFER_ALREADY_USED"
    title = "This transfer already paid another order"


class NotABankTransfer(Conflict):
    code = "NOT_A_BANK_TRANSFER"
    title = "This order is not paid by bank transfer"


class TransferAmountMismatch(DomainError):
    code = "TRANSFER_AMOUNT_MISMATCH"
    status = 422
    title = "The amount received does not match the order"
