from __future__ import annotations

from enum import StrEnum

from apps.orders.domain import events as ev
from apps.orders.domain.aggregate import Aggregate
from apps.orders.domain.commands import AuthorizePayment
from apps.orders.domain.errors import InvalidCommand, RuleViolation


class PaymentStatus(StrEnum):
    NONE = "none"
    AUTHORIZED = "authorized"
    DECLINED = "declined"
    REFUNDED = "refunded"


class Payment(Aggregate):
    """The payment of one order: authorized or declined once, refunded at most once."""

    stream_type = "payment"

    def __init__(self) -> None:
        super().__init__()
        self.order_id = ""
        self.amount_cents = 0
        self.currency = ""
        self.status = PaymentStatus.NONE

    def authorize(self, cmd: AuthorizePayment) -> None:
        if cmd.amount_cents < 0:
            raise InvalidCommand(f"amount must be >= 0, got {cmd.amount_cents}")
        if self.status is not PaymentStatus.NONE:
            return
        if cmd.decline_reason is not None or cmd.amount_cents > cmd.limit_cents:
            self.record(
                ev.PaymentDeclined(
                    order_id=cmd.order_id,
                    amount_cents=cmd.amount_cents,
                    currency=cmd.currency,
                    reason=cmd.decline_reason or f"amount over the limit of {cmd.limit_cents}",
                )
            )
            return
        self.record(ev.PaymentAuthorized(order_id=cmd.order_id, amount_cents=cmd.amount_cents, currency=cmd.currency))

    def refund(self) -> None:
        if self.status is PaymentStatus.REFUNDED:
            return
        if self.status is not PaymentStatus.AUTHORIZED:
            raise RuleViolation(f"only an authorized payment can be refunded; this one is {self.status}")
        self.record(ev.PaymentRefunded(order_id=self.order_id, amount_cents=self.amount_cents, currency=self.currency))

    def apply(self, event: ev.DomainEvent) -> None:
        match event:
            case ev.PaymentAuthorized():
                self.order_id, self.amount_cents, self.currency = event.order_id, event.amount_cents, event.currency
                self.status = PaymentStatus.AUTHORIZED
            case ev.PaymentDeclined():
                self.order_id, self.amount_cents, self.currency = event.order_id, event.amount_cents, event.currency
                self.status = PaymentStatus.DECLINED
            case ev.PaymentRefunded():
                self.status = PaymentStatus.REFUNDED
            case _:
                raise TypeError(f"Payment cannot apply {type(event).__name__}")
