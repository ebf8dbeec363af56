"""Every command handler, against an in-memory event store: what it records, what it refuses, and how it
retries when another writer appends to the stream between its load and its append. No database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pytest_django.fixtures import Settings

from apps.eventstore.errors import WrongExpectedVersion
from apps.orders import handlers
from apps.orders.domain import commands as cmds
from apps.orders.domain import events as ev
from apps.orders.domain.errors import InvalidCommand, RuleViolation
from apps.orders.domain.order import Order
from apps.orders.domain.payment import Payment
from apps.orders.domain.stock import StockItem
from apps.orders.handlers import AggregateNotFound, CommandContext, CommandResult
from tests.unit.orders.in_memory_streams import InMemoryEventStreams

LINE = cmds.OrderLine(sku="sku-1", quantity=2, unit_price_cents=1250)
PLACED = ev.OrderPlaced(
    order_id="o1", customer_id="c1", currency="EUR", lines=[{"sku": "sku-1", "quantity": 2, "unit_price_cents": 1250}]
)
LINE_ADDED = ev.OrderLineAdded(order_id="o1", sku="sku-2", quantity=1, unit_price_cents=500)
CONFIRMED = ev.OrderConfirmed(order_id="o1")
CANCELLED = ev.OrderCancelled(order_id="o1", reason="changed my mind")
SHIPPED = ev.OrderShipped(order_id="o1")
STOCK_ADDED = ev.StockAdded(sku="sku-1", quantity=10)
AUTHORIZED = ev.PaymentAuthorized(order_id="o1", amount_cents=2500, currency="EUR")
DECLINED = ev.PaymentDeclined(order_id="o1", amount_cents=2500, currency="EUR", reason="over the limit")


@pytest.fixture
def streams() -> InMemoryEventStreams:
    return InMemoryEventStreams()


@pytest.fixture
def ctx() -> CommandContext:
    return CommandContext(actor="tester", correlation_id="corr-1")


def _place(
    order_id: str = "o1", *, lines: tuple[cmds.OrderLine, ...] = (LINE,), currency: str = "EUR"
) -> cmds.PlaceOrder:
    return cmds.PlaceOrder(order_id=order_id, customer_id="c1", currency=currency, lines=lines)


# Orders


def test_placing_an_order_records_it_with_the_commands_metadata(
    streams: InMemoryEventStreams, ctx: CommandContext
) -> None:
    result = handlers.place_order(_place(), ctx, streams=streams)

    assert result == CommandResult("order-o1", 1, ("OrderPlaced",), 1, 1)
    (placed,) = streams.recorded(Order, "o1")
    assert placed.data == PLACED.to_data()
    metadata = placed.metadata
    assert (metadata["actor"], metadata["correlation_id"], metadata["command"]) == ("tester", "corr-1", "PlaceOrder")
    # Without a cause of its own, the command is the cause of what it records.
    assert metadata["causation_id"] == metadata["command_id"]


def test_a_given_causation_id_is_kept(streams: InMemoryEventStreams) -> None:
    ctx = CommandContext(actor="saga", correlation_id="corr-2", causation_id="event-7")
    handlers.place_order(_place(), ctx, streams=streams)
    assert streams.recorded(Order, "o1")[0].metadata["causation_id"] == "event-7"


def test_an_order_is_placed_only_once(streams: InMemoryEventStreams, ctx: CommandContext) -> None:
    streams.given(Order, "o1", PLACED)
    with pytest.raises(RuleViolation, match="already placed"):
        handlers.place_order(_place(), ctx, streams=streams)
    assert streams.recorded_types(Order, "o1") == ["OrderPlaced"]


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        (_place(lines=()), "at least one line"),
        (_place(lines=(cmds.OrderLine("sku-1", 0, 100),)), "quantity must be > 0"),
        (_place(lines=(cmds.OrderLine("sku-1", 1, -1),)), "unit price must be >= 0"),
        (_place(lines=(cmds.OrderLine("", 1, 100),)), "sku must not be empty"),
        (_place(currency="euro"), "3-letter ISO code"),
    ],
)
def test_a_malformed_order_is_refused_and_nothing_is_written(
    streams: InMemoryEventStreams, ctx: CommandContext, command: cmds.PlaceOrder, problem: str
) -> None:
    with pytest.raises(InvalidCommand, match=problem):
        handlers.place_order(command, ctx, streams=streams)
    assert streams.streams == {}


def test_a_line_is_added_to_a_placed_order(streams: InMemoryEventStreams, ctx: CommandContext) -> None:
    streams.given(Order, "o1", PLACED)
    result = handlers.add_order_line(cmds.AddOrderLine("o1", cmds.OrderLine("sku-2", 1, 500)), ctx, streams=streams)
    assert (result.version, result.event_types) == (2, ("OrderLineAdded",))
    assert streams.recorded(Order, "o1")[1].data == LINE_ADDED.to_data()


def test_no_line_is_added_to_a_confirmed_order(streams: InMemoryEventStreams, ctx: CommandContext) -> None:
    streams.given(Order, "o1", PLACED, CONFIRMED)
    with pytest.raises(RuleViolation, match="only be added to a placed order"):
        handlers.add_order_line(cmds.AddOrderLine("o1", LINE), ctx, streams=streams)
    assert streams.recorded_types(Order, "o1") == ["OrderPlaced", "OrderConfirmed"]


def test_a_placed_order_is_confirmed_once(streams: InMemoryEventStreams, ctx: CommandContext) -> None:
    streams.given(Order, "o1", PLACED)
    first = handlers.confirm_order(cmds.ConfirmOrder("o1"), ctx, streams=streams)
    again = handlers.confirm_order(cmds.ConfirmOrder("o1"), ctx, streams=streams)
    assert (first.version, first.event_types) == (2, ("OrderConfirmed",))
    assert again == CommandResult("order-o1", 2, (), None, None)
    assert streams.recorded_types(Order, "o1") == ["OrderPlaced", "OrderConfirmed"]


def test_a_cancelled_order_is_not_confirmed(streams: InMemoryEventStreams, ctx: CommandContext) -> None:
    streams.given(Order, "o1", PLACED, CANCELLED)
    with pytest.raises(RuleViolation, match="cancelled order cannot be confirmed"):
        handlers.confirm_order(cmds.ConfirmOrder("o1"), ctx, streams=streams)


def test_cancelling_records_the_reason_once(streams: InMemoryEventStreams, ctx: CommandContext) -> None:
    streams.given(Order, "o1", PLACED)
    first = handlers.cancel_order(cmds.CancelOrder("o1", "changed my mind"), ctx, streams=streams)
    again = handlers.cancel_order(cmds.CancelOrder("o1", "really"), ctx, streams=streams)
    assert first.event_types == ("OrderCancelled",)
    assert again.event_types == ()
    assert streams.recorded(Order, "o1")[-1].data == CANCELLED.to_data()


def test_a_shipped_order_is_not_cancelled(streams: InMemoryEventStreams, ctx: CommandContext) -> None:
    streams.given(Order, "o1", PLACED, CONFIRMED, SHIPPED)
    with pytest.raises(RuleViolation, match="shipped order cannot be cancelled"):
        handlers.cancel_order(cmds.CancelOrder("o1", "too late"), ctx, streams=streams)


def test_only_a_confirmed_order_is_shipped(streams: InMemoryEventStreams, ctx: CommandContext) -> None:
    streams.given(Order, "o1", PLACED)
    with pytest.raises(RuleViolation, match="confirm it first"):
        handlers.ship_order(cmds.ShipOrder("o1"), ctx, streams=streams)
    streams.given(Order, "o1", CONFIRMED)
    assert handlers.ship_order(cmds.ShipOrder("o1"), ctx, streams=streams).event_types == ("OrderShipped",)


# Stock


def test_adding_stock_starts_the_skus_stream(streams: InMemoryEventStreams, ctx: CommandContext) -> None:
    result = handlers.add_stock(cmds.AddStock("sku-1", 10), ctx, streams=streams)
    assert (result.stream_id, result.version, result.event_types) == ("stock-sku-1", 1, ("StockAdded",))
    with pytest.raises(InvalidCommand, match="quantity must be > 0"):
        handlers.add_stock(cmds.AddStock("sku-1", 0), ctx, streams=streams)
    assert streams.recorded_types(StockItem, "sku-1") == ["StockAdded"]


def test_stock_is_reserved_once_per_order_and_refused_beyond_what_is_available(
    streams: InMemoryEventStreams, ctx: CommandContext
) -> None:
    streams.given(StockItem, "sku-1", STOCK_ADDED)
    handlers.reserve_stock(cmds.ReserveStock("sku-1", "o1", 7), ctx, streams=streams)
    again = handlers.reserve_stock(cmds.ReserveStock("sku-1", "o1", 7), ctx, streams=streams)
    refused = handlers.reserve_stock(cmds.ReserveStock("sku-1", "o2", 4), ctx, streams=streams)

    assert again.event_types == ()
    assert refused.event_types == ("StockReservationRejected",)
    assert streams.recorded(StockItem, "sku-1")[-1].data == {
        "sku": "sku-1",
        "order_id": "o2",
        "quantity": 4,
        "available": 3,
        "reason": "4 requested, 3 available",
    }


def test_a_reservation_for_a_sku_never_stocked_is_rejected(streams: InMemoryEventStreams, ctx: CommandContext) -> None:
    result = handlers.reserve_stock(cmds.ReserveStock("sku-9", "o1", 1), ctx, streams=streams)
    assert result.event_types == ("StockReservationRejected",)
    with pytest.raises(InvalidCommand):
        handlers.reserve_stock(cmds.ReserveStock("sku-9", "o2", 0), ctx, streams=streams)


def test_releasing_gives_back_a_reservation_and_nothing_without_one(
    streams: InMemoryEventStreams, ctx: CommandContext
) -> None:
    streams.given(StockItem, "sku-1", STOCK_ADDED, ev.StockReserved(sku="sku-1", order_id="o1", quantity=2))
    released = handlers.release_stock(cmds.ReleaseStock("sku-1", "o1"), ctx, streams=streams)
    nothing = handlers.release_stock(cmds.ReleaseStock("sku-1", "o1"), ctx, streams=streams)
    assert released.event_types == ("StockReleased",)
    assert streams.recorded(StockItem, "sku-1")[-1].data == {"sku": "sku-1", "order_id": "o1", "quantity": 2}
    assert nothing.event_types == ()


# Payments


def test_a_payment_is_authorized_under_the_limit_and_declined_over_it(
    streams: InMemoryEventStreams, ctx: CommandContext
) -> None:
    ok = handlers.authorize_payment(cmds.AuthorizePayment("o1", 2500, "EUR"), ctx, streams=streams)
    over = handlers.authorize_payment(cmds.AuthorizePayment("o2", 2500, "EUR", limit_cents=2000), ctx, streams=streams)
    again = handlers.authorize_payment(cmds.AuthorizePayment("o1", 9, "EUR"), ctx, streams=streams)
    assert (ok.stream_id, ok.event_types) == ("payment-o1", ("PaymentAuthorized",))
    assert over.event_types == ("PaymentDeclined",)
    assert again.event_types == ()
    with pytest.raises(InvalidCommand, match="amount must be >= 0"):
        handlers.authorize_payment(cmds.AuthorizePayment("o3", -1, "EUR"), ctx, streams=streams)
    assert "payment-o3" not in streams.streams


def test_only_an_authorized_payment_is_refunded_and_only_once(
    streams: InMemoryEventStreams, ctx: CommandContext
) -> None:
    streams.given(Payment, "o1", AUTHORIZED)
    streams.given(Payment, "o2", DECLINED)
    refunded = handlers.refund_payment(cmds.RefundPayment("o1"), ctx, streams=streams)
    again = handlers.refund_payment(cmds.RefundPayment("o1"), ctx, streams=streams)
    assert refunded.event_types == ("PaymentRefunded",)
    assert streams.recorded(Payment, "o1")[-1].data == {"order_id": "o1", "amount_cents": 2500, "currency": "EUR"}
    assert again.event_types == ()
    with pytest.raises(RuleViolation, match="only an authorized payment"):
        handlers.refund_payment(cmds.RefundPayment("o2"), ctx, streams=streams)


# Commands that need an existing stream


@pytest.mark.parametrize(
    ("handler", "command", "message"),
    [
        (handlers.add_order_line, cmds.AddOrderLine("o404", LINE), "order 'o404' does not exist"),
        (handlers.confirm_order, cmds.ConfirmOrder("o404"), "order 'o404' does not exist"),
        (handlers.cancel_order, cmds.CancelOrder("o404", "why"), "order 'o404' does not exist"),
        (handlers.ship_order, cmds.ShipOrder("o404"), "order 'o404' does not exist"),
        (handlers.release_stock, cmds.ReleaseStock("sku-404", "o1"), "stock 'sku-404' does not exist"),
        (handlers.refund_payment, cmds.RefundPayment("o404"), "payment 'o404' does not exist"),
    ],
)
def test_a_command_on_a_stream_that_does_not_exist_is_not_found_and_writes_nothing(
    streams: InMemoryEventStreams,
    ctx: CommandContext,
    handler: Callable[..., CommandResult],
    command: Any,
    message: str,
) -> None:
    with pytest.raises(AggregateNotFound, match=message):
        handler(command, ctx, streams=streams)
    assert streams.streams == {}
    assert streams.attempts == 1


# Conflicts: another writer appends between the load and the append


@pytest.mark.parametrize(
    ("handler", "command", "aggregate", "key", "history", "rival", "recorded"),
    [
        (
            handlers.add_order_line,
            cmds.AddOrderLine("o1", LINE),
            Order,
            "o1",
            [PLACED],
            LINE_ADDED,
            ["OrderPlaced", "OrderLineAdded", "OrderLineAdded"],
        ),
        (
            handlers.confirm_order,
            cmds.ConfirmOrder("o1"),
            Order,
            "o1",
            [PLACED],
            LINE_ADDED,
            ["OrderPlaced", "OrderLineAdded", "OrderConfirmed"],
        ),
        (
            handlers.cancel_order,
            cmds.CancelOrder("o1", "why"),
            Order,
            "o1",
            [PLACED],
            LINE_ADDED,
            ["OrderPlaced", "OrderLineAdded", "OrderCancelled"],
        ),
        (
            handlers.ship_order,
            cmds.ShipOrder("o1"),
            Order,
            "o1",
            [PLACED, CONFIRMED],
            CONFIRMED,
            ["OrderPlaced", "OrderConfirmed", "OrderConfirmed", "OrderShipped"],
        ),
        (handlers.add_stock, cmds.AddStock("sku-1", 3), StockItem, "sku-1", [], STOCK_ADDED, ["StockAdded"] * 2),
        (
            handlers.reserve_stock,
            cmds.ReserveStock("sku-1", "o1", 2),
            StockItem,
            "sku-1",
            [STOCK_ADDED],
            STOCK_ADDED,
            ["StockAdded", "StockAdded", "StockReserved"],
        ),
        (
            handlers.release_stock,
            cmds.ReleaseStock("sku-1", "o1"),
            StockItem,
            "sku-1",
            [STOCK_ADDED, ev.StockReserved(sku="sku-1", order_id="o1", quantity=2)],
            ev.StockReserved(sku="sku-1", order_id="o2", quantity=1),
            ["StockAdded", "StockReserved", "StockReserved", "StockReleased"],
        ),
        (
            handlers.refund_payment,
            cmds.RefundPayment("o1"),
            Payment,
            "o1",
            [AUTHORIZED],
            AUTHORIZED,
            ["PaymentAuthorized", "PaymentAuthorized", "PaymentRefunded"],
        ),
    ],
)
def test_a_conflict_is_retried_from_a_fresh_load(
    streams: InMemoryEventStreams,
    ctx: CommandContext,
    handler: Callable[..., CommandResult],
    command: Any,
    aggregate: type[Order | StockItem | Payment],
    key: str,
    history: list[ev.DomainEvent],
    rival: ev.DomainEvent,
    recorded: list[str],
) -> None:
    if history:
        streams.given(aggregate, key, *history)
    streams.interleave(lambda: streams.given(aggregate, key, rival))

    result = handler(command, ctx, streams=streams)

    assert streams.attempts == 2
    assert streams.recorded_types(aggregate, key) == recorded
    assert result.version == len(recorded)


def test_a_rival_placing_the_same_order_first_makes_the_retry_refuse_it(
    streams: InMemoryEventStreams, ctx: CommandContext
) -> None:
    streams.interleave(lambda: streams.given(Order, "o1", PLACED))
    with pytest.raises(RuleViolation, match="already placed"):
        handlers.place_order(_place(), ctx, streams=streams)
    assert streams.attempts == 2
    assert streams.recorded(Order, "o1")[0].metadata == {}  # the rival's, not ours


def test_a_rival_cancelling_first_makes_the_retry_refuse_to_ship(
    streams: InMemoryEventStreams, ctx: CommandContext
) -> None:
    streams.given(Order, "o1", PLACED, CONFIRMED)
    streams.interleave(lambda: streams.given(Order, "o1", CANCELLED))
    with pytest.raises(RuleViolation, match="cancelled order cannot be shipped"):
        handlers.ship_order(cmds.ShipOrder("o1"), ctx, streams=streams)
    assert streams.recorded_types(Order, "o1") == ["OrderPlaced", "OrderConfirmed", "OrderCancelled"]


def test_a_rival_reservation_taking_the_stock_turns_the_retry_into_a_rejection(
    streams: InMemoryEventStreams, ctx: CommandContext
) -> None:
    streams.given(StockItem, "sku-1", STOCK_ADDED)
    streams.interleave(
        lambda: streams.given(StockItem, "sku-1", ev.StockReserved(sku="sku-1", order_id="o2", quantity=9))
    )
    result = handlers.reserve_stock(cmds.ReserveStock("sku-1", "o1", 2), ctx, streams=streams)
    assert result.event_types == ("StockReservationRejected",)
    assert streams.recorded(StockItem, "sku-1")[-1].data["available"] == 1


def test_a_rival_authorizing_first_leaves_the_retry_nothing_to_record(
    streams: InMemoryEventStreams, ctx: CommandContext
) -> None:
    streams.interleave(lambda: streams.given(Payment, "o1", AUTHORIZED))
    result = handlers.authorize_payment(cmds.AuthorizePayment("o1", 2500, "EUR"), ctx, streams=streams)
    assert result == CommandResult("payment-o1", 1, (), None, None)
    assert streams.attempts == 2


@pytest.mark.parametrize("retries", [0, 1, 3])
def test_after_the_configured_retries_the_conflict_is_raised_and_nothing_of_ours_is_written(
    streams: InMemoryEventStreams, ctx: CommandContext, settings: Settings, retries: int
) -> None:
    settings.EVENTSTORE_CONFLICT_RETRIES = retries
    streams.given(Order, "o1", PLACED)
    streams.interleave(lambda: streams.given(Order, "o1", LINE_ADDED), times=retries + 1)

    with pytest.raises(WrongExpectedVersion):
        handlers.confirm_order(cmds.ConfirmOrder("o1"), ctx, streams=streams)

    assert streams.attempts == retries + 1
    assert streams.recorded_types(Order, "o1") == ["OrderPlaced"] + ["OrderLineAdded"] * (retries + 1)


def test_one_conflict_fewer_than_the_retries_still_succeeds(
    streams: InMemoryEventStreams, ctx: CommandContext, settings: Settings
) -> None:
    settings.EVENTSTORE_CONFLICT_RETRIES = 2
    streams.given(Order, "o1", PLACED)
    streams.interleave(lambda: streams.given(Order, "o1", LINE_ADDED), times=2)
    result = handlers.confirm_order(cmds.ConfirmOrder("o1"), ctx, streams=streams)
    assert (streams.attempts, result.version, result.event_types) == (3, 4, ("OrderConfirmed",))
