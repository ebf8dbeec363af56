"""Payment rules: authorized or declined once, refunded at most once (refunding twice is a no-op)."""

from __future__ import annotations

import dataclasses

import pytest

from apps.orders.domain import events as ev
from apps.orders.domain.commands import AuthorizePayment
from apps.orders.domain.errors import InvalidCommand, RuleViolation
from apps.orders.domain.payment import Payment, PaymentStatus

AUTHORIZED = ev.PaymentAuthorized(order_id="order-1", amount_cents=2500, currency="EUR")
DECLINED = ev.PaymentDeclined(order_id="order-1", amount_cents=2500, currency="EUR", reason="over the limit")
REFUNDED = ev.PaymentRefunded(order_id="order-1", amount_cents=2500, currency="EUR")


def _payment(*history: ev.DomainEvent) -> Payment:
    payment = Payment()
    payment.replay(history)
    return payment


def _authorize(amount: int = 2500, limit: int = 1_000_000) -> AuthorizePayment:
    return AuthorizePayment(order_id="order-1", amount_cents=amount, currency="EUR", limit_cents=limit)


def test_a_payment_within_the_limit_is_authorized() -> None:
    payment = Payment()
    payment.authorize(_authorize())
    assert payment.pending == [AUTHORIZED]
    assert payment.status is PaymentStatus.AUTHORIZED


def test_a_payment_at_exactly_the_limit_is_authorized() -> None:
    payment = Payment()
    payment.authorize(_authorize(amount=5000, limit=5000))
    assert payment.status is PaymentStatus.AUTHORIZED


def test_a_payment_over_the_limit_is_declined_with_a_reason() -> None:
    payment = Payment()
    payment.authorize(_authorize(amount=5001, limit=5000))
    assert payment.pending == [
        ev.PaymentDeclined(
            order_id="order-1", amount_cents=5001, currency="EUR", reason="amount over the limit of 5000"
        )
    ]
    assert payment.status is PaymentStatus.DECLINED


def test_a_negative_amount_is_invalid() -> None:
    with pytest.raises(InvalidCommand):
        Payment().authorize(_authorize(amount=-1))


@pytest.mark.parametrize("history", [(AUTHORIZED,), (DECLINED,), (AUTHORIZED, REFUNDED)])
def test_a_payment_is_decided_once(history: tuple[ev.DomainEvent, ...]) -> None:
    payment = _payment(*history)
    payment.authorize(_authorize(amount=1))
    assert payment.pending == []


def test_an_authorized_payment_is_refunded_in_full() -> None:
    payment = _payment(AUTHORIZED)
    payment.refund()
    assert payment.pending == [REFUNDED]
    assert payment.status is PaymentStatus.REFUNDED


def test_refunding_twice_is_a_no_op() -> None:
    payment = _payment(AUTHORIZED, REFUNDED)
    payment.refund()
    assert payment.pending == []

    fresh = _payment(AUTHORIZED)
    fresh.refund()
    fresh.refund()
    assert fresh.pending == [REFUNDED]


@pytest.mark.parametrize("history", [(), (DECLINED,)])
def test_only_an_authorized_payment_can_be_refunded(history: tuple[ev.DomainEvent, ...]) -> None:
    with pytest.raises(RuleViolation, match="only an authorized payment"):
        _payment(*history).refund()


def test_replay_restores_amount_and_currency() -> None:
    payment = _payment(AUTHORIZED)
    assert (payment.order_id, payment.amount_cents, payment.currency, payment.version) == ("order-1", 2500, "EUR", 1)


def test_a_forced_decline_is_recorded_with_its_reason_even_under_the_limit() -> None:
    payment = Payment()
    payment.authorize(
        dataclasses.replace(_authorize(amount=100, limit=5000), decline_reason="failure rule 3: declined")
    )
    assert payment.pending == [
        ev.PaymentDeclined(order_id="order-1", amount_cents=100, currency="EUR", reason="failure rule 3: declined")
    ]
    assert payment.status is PaymentStatus.DECLINED
