"""Command handlers: load the stream, let the aggregate decide, append with the expected version.

A conflicting append (another writer got there first) is retried from the load, a
bounded number of times (``EVENTSTORE_CONFLICT_RETRIES``). Handlers reach the store
through the :class:`~apps.orders.repository.EventStreams` port; by default the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from django.conf import settings

from apps.eventstore.errors import WrongExpectedVersion
from apps.eventstore.types import NewEvent
from apps.orders.domain import commands as cmds
from apps.orders.domain.aggregate import Aggregate
from apps.orders.domain.errors import DomainError
from apps.orders.domain.order import Order
from apps.orders.domain.payment import Payment
from apps.orders.domain.stock import StockItem
from apps.orders.repository import EventStreams, aggregate_load, django_event_streams

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
    # The events as appended (at first_position..last_position), so a caller can act on them
    # without reading them back. Not compared: their metadata carries the command's fresh id.
    events: tuple[NewEvent, ...] = field(default=(), compare=False, repr=False)


def _execute(
    aggregate_class: type[A],
    key: str,
    decide: Callable[[A], None],
    *,
    cmd: object,
    ctx: CommandContext,
    streams: EventStreams,
    must_exist: bool = True,
) -> CommandResult:
    """Run one command against the aggregate of ``key``: load, decide, append; retried on a conflict."""
    stream_id = aggregate_class.stream_id_for(key)
    command_id = str(uuid.uuid4())
    metadata = {
        "correlation_id": ctx.correlation_id,
        "causation_id": ctx.causation_id or command_id,
        "actor": ctx.actor,
        "command": type(cmd).__name__,
        "command_id": command_id,
    }
    retries = settings.EVENTSTORE_CONFLICT_RETRIES
    for attempt in range(retries + 1):
        try:
            with streams.attempt():
                aggregate = aggregate_load(aggregate_class, key, streams=streams)
                if must_exist and aggregate.version == 0:
                    raise AggregateNotFound(f"{aggregate_class.stream_type} {key!r} does not exist")
                decide(aggregate)
                if not aggregate.pending:
                    return CommandResult(stream_id, aggregate.version, (), None, None)
                events = tuple(NewEvent(e.type, e.to_data(), metadata) for e in aggregate.pending)
                result = streams.events_append(
                    stream_id=stream_id,
                    stream_type=aggregate_class.stream_type,
                    expected_version=aggregate.version,
                    events=events,
                )
                return CommandResult(
                    stream_id,
                    result.version,
                    tuple(e.event_type for e in events),
                    result.first_position,
                    result.last_position,
                    events,
                )
        except WrongExpectedVersion:
            if attempt == retries:
                raise
    raise AssertionError("unreachable")


def place_order(
    cmd: cmds.PlaceOrder, ctx: CommandContext, *, streams: EventStreams = django_event_streams
) -> CommandResult:
    return _execute(Order, cmd.order_id, lambda o: o.place(cmd), cmd=cmd, ctx=ctx, must_exist=False, streams=streams)


def add_order_line(
    cmd: cmds.AddOrderLine, ctx: CommandContext, *, streams: EventStreams = django_event_streams
) -> CommandResult:
    return _execute(Order, cmd.order_id, lambda o: o.add_line(cmd.line), cmd=cmd, ctx=ctx, streams=streams)


def confirm_order(
    cmd: cmds.ConfirmOrder, ctx: CommandContext, *, streams: EventStreams = django_event_streams
) -> CommandResult:
    return _execute(Order, cmd.order_id, lambda o: o.confirm(), cmd=cmd, ctx=ctx, streams=streams)


def cancel_order(
    cmd: cmds.CancelOrder, ctx: CommandContext, *, streams: EventStreams = django_event_streams
) -> CommandResult:
    return _execute(Order, cmd.order_id, lambda o: o.cancel(cmd.reason), cmd=cmd, ctx=ctx, streams=streams)


def ship_order(
    cmd: cmds.ShipOrder, ctx: CommandContext, *, streams: EventStreams = django_event_streams
) -> CommandResult:
    return _execute(Order, cmd.order_id, lambda o: o.ship(), cmd=cmd, ctx=ctx, streams=streams)


def add_stock(
    cmd: cmds.AddStock, ctx: CommandContext, *, streams: EventStreams = django_event_streams
) -> CommandResult:
    return _execute(
        StockItem, cmd.sku, lambda s: s.add(cmd.sku, cmd.quantity), cmd=cmd, ctx=ctx, must_exist=False, streams=streams
    )


def reserve_stock(
    cmd: cmds.ReserveStock, ctx: CommandContext, *, streams: EventStreams = django_event_streams
) -> CommandResult:
    return _execute(
        StockItem,
        cmd.sku,
        lambda s: s.reserve(cmd.sku, cmd.order_id, cmd.quantity, reject_reason=cmd.reject_reason),
        cmd=cmd,
        ctx=ctx,
        must_exist=False,
        streams=streams,
    )


def release_stock(
    cmd: cmds.ReleaseStock, ctx: CommandContext, *, streams: EventStreams = django_event_streams
) -> CommandResult:
    return _execute(StockItem, cmd.sku, lambda s: s.release(cmd.order_id), cmd=cmd, ctx=ctx, streams=streams)


def authorize_payment(
    cmd: cmds.AuthorizePayment, ctx: CommandContext, *, streams: EventStreams = django_event_streams
) -> CommandResult:
    return _execute(
        Payment, cmd.order_id, lambda p: p.authorize(cmd), cmd=cmd, ctx=ctx, must_exist=False, streams=streams
    )


def refund_payment(
    cmd: cmds.RefundPayment, ctx: CommandContext, *, streams: EventStreams = django_event_streams
) -> CommandResult:
    return _execute(Payment, cmd.order_id, lambda p: p.refund(), cmd=cmd, ctx=ctx, streams=streams)
