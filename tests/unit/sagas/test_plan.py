"""The saga plan: what an order saga sends next and what it becomes, from its attempts alone."""

from __future__ import annotations

from apps.sagas.plan import AttemptView, SagaView, saga_next

ORDER = "o-1"
CONTEXT = {
    "customer_id": "c-1",
    "lines": [
        {"sku": "a", "quantity": 2, "unit_price_cents": 100},
        {"sku": "b", "quantity": 1, "unit_price_cents": 50},
        {"sku": "a", "quantity": 1, "unit_price_cents": 100},
    ],
    "total_cents": 350,
    "currency": "EUR",
}


def view(*attempts: AttemptView, status: str = "running", reason: str = "") -> SagaView:
    return SagaView(ORDER, status, reason, CONTEXT, attempts)


def tried(
    name: str, target: str, status: str, *, attempt: int = 1, outcome: str = "", position: int = 0
) -> AttemptView:
    return AttemptView(name, target, attempt, 5, status, outcome=outcome, answer_position=position or None)


def sent(decision_send: tuple[object, ...]) -> list[tuple[str, str]]:
    return [(step.name, step.target) for step in decision_send]  # type: ignore[attr-defined]


def test_a_new_saga_reserves_every_sku_at_once_summing_lines_of_the_same_sku() -> None:
    decision = saga_next(view())

    assert (decision.status, decision.current_step) == ("running", "reserve_stock")
    assert [step.command for step in decision.send] == [
        {"type": "ReserveStock", "participant": "inventory", "fields": {"sku": "a", "order_id": ORDER, "quantity": 3}},
        {"type": "ReserveStock", "participant": "inventory", "fields": {"sku": "b", "order_id": ORDER, "quantity": 1}},
    ]


def test_payment_waits_for_every_reservation_then_confirmation_follows_it() -> None:
    one_reserved = saga_next(view(tried("reserve_stock", "a", "succeeded"), tried("reserve_stock", "b", "pending")))
    both = (tried("reserve_stock", "a", "succeeded"), tried("reserve_stock", "b", "succeeded"))
    authorize = saga_next(view(*both))
    confirm = saga_next(view(*both, tried("authorize_payment", ORDER, "succeeded")))
    done = saga_next(
        view(*both, tried("authorize_payment", ORDER, "succeeded"), tried("confirm_order", ORDER, "succeeded"))
    )

    assert (one_reserved.send, one_reserved.current_step) == ((), "reserve_stock")
    assert authorize.send[0].command["fields"] == {"order_id": ORDER, "amount_cents": 350, "currency": "EUR"}
    assert sent(confirm.send) == [("confirm_order", ORDER)]
    assert (done.status, done.send) == ("completed", ())


def test_a_rejected_reservation_waits_for_the_other_then_releases_it_and_cancels_with_the_reason() -> None:
    rejected = tried("reserve_stock", "b", "rejected", outcome="rejected: 1 asked, 0 available")
    waiting = saga_next(view(tried("reserve_stock", "a", "pending"), rejected))
    release = saga_next(view(tried("reserve_stock", "a", "succeeded"), rejected))

    assert (waiting.status, waiting.send) == ("compensating", ())
    assert waiting.status_reason == "reserve_stock failed for b: rejected: 1 asked, 0 available"
    assert sent(release.send) == [("release_stock", "a")]
    assert release.send[0].compensates == "reserve_stock" and release.send[0].kind == "compensation"


def test_compensation_runs_in_reverse_refund_then_releases_then_cancel() -> None:
    forward = (
        tried("reserve_stock", "a", "succeeded", position=10),
        tried("reserve_stock", "b", "succeeded", position=11),
        tried("authorize_payment", ORDER, "succeeded", position=12),
        tried("confirm_order", ORDER, "errored", attempt=5),
    )
    refund = saga_next(view(*forward))
    refunded = (*forward, tried("refund_payment", ORDER, "succeeded", position=20))
    releases = saga_next(view(*refunded, status="compensating", reason=refund.status_reason))
    released = (
        *refunded,
        tried("release_stock", "a", "succeeded", position=21),
        tried("release_stock", "b", "succeeded", position=22),
    )
    cancel = saga_next(view(*released, status="compensating", reason=refund.status_reason))
    done = saga_next(view(*released, tried("cancel_order", ORDER, "succeeded"), status="compensating", reason="r"))

    assert sent(refund.send) == [("refund_payment", ORDER)]
    assert refund.status_reason.startswith("confirm_order failed: errored 5 times")
    assert sent(releases.send) == [("release_stock", "a"), ("release_stock", "b")]
    assert sent(cancel.send) == [("cancel_order", ORDER)]
    assert cancel.send[0].command["fields"]["reason"] == refund.status_reason
    assert (done.status, done.status_reason, done.current_step) == ("compensated", "r", "confirm_order")


def test_a_payment_without_any_answer_leaves_the_saga_stuck_not_compensated() -> None:
    decision = saga_next(
        view(
            tried("reserve_stock", "a", "succeeded"),
            tried("reserve_stock", "b", "succeeded"),
            tried("authorize_payment", ORDER, "timed_out", attempt=5),
        )
    )

    assert (decision.status, decision.send) == ("stuck", ())
    assert decision.status_reason == "payment outcome unknown after 5 attempts"


def test_a_reservation_that_lands_after_its_release_is_released_again() -> None:
    attempts = (
        tried("reserve_stock", "a", "succeeded", position=30),  # answered late, after the release
        tried("reserve_stock", "b", "rejected", outcome="rejected"),
        tried("release_stock", "a", "succeeded", position=25),
        tried("cancel_order", ORDER, "succeeded", position=26),
    )

    decision = saga_next(view(*attempts, status="compensating", reason="reserve_stock failed for b: rejected"))

    assert sent(decision.send) == [("release_stock", "a")]


def test_a_compensation_without_an_answer_stops_the_saga_as_stuck() -> None:
    decision = saga_next(
        view(
            tried("reserve_stock", "a", "succeeded"),
            tried("reserve_stock", "b", "rejected", outcome="rejected"),
            tried("release_stock", "a", "timed_out", attempt=5),
            status="compensating",
            reason="reserve_stock failed for b: rejected",
        )
    )

    assert decision.status == "stuck"
    assert decision.status_reason.startswith("release_stock failed for a: no reply after 5 attempts while compensating")
