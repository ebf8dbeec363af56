"""Command handlers: load the stream, let the aggregate decide, append with the expected version.

A conflicting append (another writer got there first) is retried from the load, a
bounded number of times.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TypeVar

from django.conf import settings
from django.db import connection, transaction

from apps.eventstore.errors import WrongExpectedVersion
from apps.eventstore.store import append_to_stream, stream_event_data
from apps.eventstore.types import NO_STREAM, NewEvent
from apps.orders.domain import commands as cmds
from apps.orders.domain.aggregate import Aggregate
from apps.orders.domain.errors import DomainError
from apps.orders.domain.events import event_from_data
from apps.orders.domain.order import Order
from apps.orders.domain.payment import Payment
from apps.orders.domain.stock import StockItem

A = TypeVar("A", bound=Aggregate)


class AggregateNotFound(DomainError):
    """The command names a stream that does not exist."""


@dataclass(frozen=True)
class CommandContext:
    """Who sent the command and which conversation it belongs to."""

    actor: str
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    causation_id: str | None = None


@dataclass(frozen=True)
class CommandResult:
    stream_id: str
    version: int
    event_types: tuple[str, ...]
    first_position: int | None
    last_position: int | None


def aggregate_load(aggregate_class: type[A], key: str, *, up_to_version: int | None = None) -> A:
    aggregate = aggregate_class()
    stored = stream_event_data(stream_id=aggregate_class.stream_id_for(key), up_to_version=up_to_version)
    aggregate.replay(event_from_data(event_type, data) for event_type, data in stored)
    return aggregate


def _execute(
    aggregate_class: type[A],
    key: str,
    decide: Callable[[A], None],
    ctx: CommandContext,
    *,
    command_name: str,
    must_exist: bool,
) -> CommandResult:
    stream_id = aggregate_class.stream_id_for(key)
    command_id = str(uuid.uuid4())
    metadata = {
        "correlation_id": ctx.correlation_id,
        "causation_id": ctx.causation_id or command_id,
        "actor": ctx.actor,
        "command": command_name,
        "command_id": command_id,
    }
    retries = settings.EVENTSTORE_CONFLICT_RETRIES
    for attempt in range(retries + 1):
        try:
            # The expected version guards the append, so the load needs no transaction of
            # its own; inside a caller's transaction a savepoint keeps a conflict retryable.
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                aggregate = aggregate_load(aggregate_class, key)
                if must_exist and aggregate.version == 0:
                    raise AggregateNotFound(f"{aggregate_class.stream_type} {key!r} does not exist")
                decide(aggregate)
                if not aggregate.pending:
                    return CommandResult(stream_id, aggregate.version, (), None, None)
                result = append_to_stream(
                    stream_id=stream_id,
                    stream_type=aggregate_class.stream_type,
                    expected_version=aggregate.version or NO_STREAM,
                    events=[NewEvent(e.type, e.to_data(), metadata) for e in aggregate.pending],
                )
                return CommandResult(
                    stream_id,
                    result.version,
                    tuple(e.type for e in aggregate.pending),
                    result.first_position,
                    result.last_position,
                )
        except WrongExpectedVersion:
            if attempt == retries:
                raise
    raise AssertionError("unreachable")


def place_order(cmd: cmds.PlaceOrder, ctx: CommandContext) -> CommandResult:
    return _execute(Order, cmd.order_id, lambda o: o.place(cmd), ctx, command_name="PlaceOrder", must_exist=False)


def add_order_line(cmd: cmds.AddOrderLine, ctx: CommandContext) -> CommandResult:
    return _execute(
        Order, cmd.order_id, lambda o: o.add_line(cmd.line), ctx, command_name="AddOrderLine", must_exist=True
    )


def confirm_order(cmd: cmds.ConfirmOrder, ctx: CommandContext) -> CommandResult:
    return _execute(Order, cmd.order_id, lambda o: o.confirm(), ctx, command_name="ConfirmOrder", must_exist=True)


def cancel_order(cmd: cmds.CancelOrder, ctx: CommandContext) -> CommandResult:
    return _execute(
        Order, cmd.order_id, lambda o: o.cancel(cmd.reason), ctx, command_name="CancelOrder", must_exist=True
    )


def ship_order(cmd: cmds.ShipOrder, ctx: CommandContext) -> CommandResult:
    return _execute(Order, cmd.order_id, lambda o: o.ship(), ctx, command_name="ShipOrder", must_exist=True)


def add_stock(cmd: cmds.AddStock, ctx: CommandContext) -> CommandResult:
    return _execute(
        StockItem, cmd.sku, lambda s: s.add(cmd.sku, cmd.quantity), ctx, command_name="AddStock", must_exist=False
    )


def reserve_stock(cmd: cmds.ReserveStock, ctx: CommandContext) -> CommandResult:
    return _execute(
        StockItem,
        cmd.sku,
        lambda s: s.reserve(cmd.sku, cmd.order_id, cmd.quantity),
        ctx,
        command_name="ReserveStock",
        must_exist=False,
    )


def release_stock(cmd: cmds.ReleaseStock, ctx: CommandContext) -> CommandResult:
    return _execute(
        StockItem, cmd.sku, lambda s: s.release(cmd.order_id), ctx, command_name="ReleaseStock", must_exist=True
    )


def authorize_payment(cmd: cmds.AuthorizePayment, ctx: CommandContext) -> CommandResult:
    return _execute(
        Payment, cmd.order_id, lambda p: p.authorize(cmd), ctx, command_name="AuthorizePayment", must_exist=False
    )


def refund_payment(cmd: cmds.RefundPayment, ctx: CommandContext) -> CommandResult:
    return _execute(Payment, cmd.order_id, lambda p: p.refund(), ctx, command_name="RefundPayment", must_exist=True)
