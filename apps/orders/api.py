"""The order command and query API: commands in, state and events out.

Writes need the operator role, reads the viewer role (the API's default auth).
Every command carries the caller as ``actor`` and a correlation id, taken from the
``X-Correlation-ID`` header or generated, in the metadata of the events it appends.
"""

from __future__ import annotations

import uuid

from django.http import HttpRequest
from ninja import Header, Path, Query, Router, Status

from apps.api.errors import ApiError, ErrorBodyOut, api_error_register
from apps.api.fields import BIGINT_MAX, Line
from apps.eventstore.store import global_log_read, head_position, stream_read
from apps.eventstore.types import RecordedEvent
from apps.orders import handlers
from apps.orders.domain import commands as cmds
from apps.orders.domain.errors import DomainError, RuleViolation
from apps.orders.handlers import AggregateNotFound, CommandContext, CommandResult
from apps.orders.schemas import (
    CommandOut,
    EventOut,
    GlobalLogOut,
    OrderCancelIn,
    OrderLineOut,
    OrderOut,
    OrderPlacedOut,
    OrderPlaceIn,
    StockAddIn,
    StockOut,
    StreamEventsOut,
)
from apps.orders.selectors import order_get, stock_item_get

router = Router()

api_error_register(DomainError, status=422, code="invalid_command")
api_error_register(RuleViolation, status=409, code="rule_violation")
api_error_register(AggregateNotFound, status=404, code="not_found")

# The store's stream ids and the read models' keys are at most 200 characters.
ORDER_ID = Path(..., max_length=200)
SKU = Path(..., max_length=200)
STREAM_ID = Path(..., max_length=200)
CONFLICT = {409: ErrorBodyOut}

CORRELATION_HEADER = Header(
    None,
    alias="X-Correlation-ID",
    pattern=r"^[A-Za-z0-9_.:-]{1,128}$",
    description="Ties the events of one conversation together; generated when absent",
)


def _context(request: HttpRequest, correlation_id: str | None) -> CommandContext:
    actor = request.user.get_username()
    return CommandContext(actor=actor, correlation_id=correlation_id or str(uuid.uuid4()))


def _command_out(result: CommandResult, ctx: CommandContext) -> CommandOut:
    return CommandOut(
        stream_id=result.stream_id,
        version=result.version,
        position=result.last_position,
        events=list(result.event_types),
        correlation_id=ctx.correlation_id,
    )


def _event_out(event: RecordedEvent) -> EventOut:
    return EventOut(
        position=event.position,
        stream_id=event.stream_id,
        stream_type=event.stream_type,
        version=event.version,
        event_type=event.event_type,
        schema_version=event.schema_version,
        data=event.data,
        metadata=event.metadata,
        recorded_at=event.recorded_at,
    )


@router.post("/orders", response={201: OrderPlacedOut, **CONFLICT}, tags=["orders"], summary="Place an order")
def order_place(
    request: HttpRequest, payload: OrderPlaceIn, x_correlation_id: str | None = CORRELATION_HEADER
) -> Status[OrderPlacedOut]:
    ctx = _context(request, x_correlation_id)
    order_id = payload.order_id or str(uuid.uuid4())
    command = cmds.PlaceOrder(
        order_id=order_id,
        customer_id=payload.customer_id,
        currency=payload.currency,
        lines=tuple(cmds.OrderLine(line.sku, line.quantity, line.unit_price_cents) for line in payload.lines),
    )
    result = handlers.place_order(command, ctx)
    if result.last_position is None:
        raise AssertionError("placing an order always appends")
    return Status(
        201,
        OrderPlacedOut(
            order_id=order_id,
            stream_id=result.stream_id,
            version=result.version,
            position=result.last_position,
            correlation_id=ctx.correlation_id,
        ),
    )


@router.get("/orders/{order_id}", response=OrderOut, tags=["orders"], summary="An order's current state")
def order_detail(request: HttpRequest, order_id: Line = ORDER_ID) -> OrderOut:
    order = order_get(order_id=order_id)
    if order is None:
        raise ApiError(404, "not_found", f"order {order_id!r} does not exist")
    return OrderOut(
        order_id=order.order_id,
        stream_id=order.stream_id_for(order.order_id),
        status=str(order.status),
        customer_id=order.customer_id,
        currency=order.currency,
        lines=[OrderLineOut(sku=x.sku, quantity=x.quantity, unit_price_cents=x.unit_price_cents) for x in order.lines],
        total_cents=order.total_cents,
        cancel_reason=order.cancel_reason or None,
        version=order.version,
    )


@router.post(
    "/orders/{order_id}/cancel", response={200: CommandOut, **CONFLICT}, tags=["orders"], summary="Cancel an order"
)
def order_cancel(
    request: HttpRequest,
    payload: OrderCancelIn,
    order_id: Line = ORDER_ID,
    x_correlation_id: str | None = CORRELATION_HEADER,
) -> CommandOut:
    ctx = _context(request, x_correlation_id)
    return _command_out(handlers.cancel_order(cmds.CancelOrder(order_id=order_id, reason=payload.reason), ctx), ctx)


@router.post(
    "/orders/{order_id}/confirm",
    response={200: CommandOut, **CONFLICT},
    tags=["orders"],
    summary="Confirm a placed order",
)
def order_confirm(
    request: HttpRequest, order_id: Line = ORDER_ID, x_correlation_id: str | None = CORRELATION_HEADER
) -> CommandOut:
    ctx = _context(request, x_correlation_id)
    return _command_out(handlers.confirm_order(cmds.ConfirmOrder(order_id=order_id), ctx), ctx)


@router.post(
    "/orders/{order_id}/ship", response={200: CommandOut, **CONFLICT}, tags=["orders"], summary="Ship a confirmed order"
)
def order_ship(
    request: HttpRequest, order_id: Line = ORDER_ID, x_correlation_id: str | None = CORRELATION_HEADER
) -> CommandOut:
    ctx = _context(request, x_correlation_id)
    return _command_out(handlers.ship_order(cmds.ShipOrder(order_id=order_id), ctx), ctx)


@router.post("/stock", response={200: CommandOut, **CONFLICT}, tags=["stock"], summary="Add stock to a sku")
def stock_add(
    request: HttpRequest, payload: StockAddIn, x_correlation_id: str | None = CORRELATION_HEADER
) -> CommandOut:
    ctx = _context(request, x_correlation_id)
    return _command_out(handlers.add_stock(cmds.AddStock(sku=payload.sku, quantity=payload.quantity), ctx), ctx)


@router.get("/stock/{sku}", response=StockOut, tags=["stock"], summary="Stock on hand and reserved for a sku")
def stock_detail(request: HttpRequest, sku: Line = SKU) -> StockOut:
    item = stock_item_get(sku=sku)
    if item is None:
        raise ApiError(404, "not_found", f"no stock was ever recorded for sku {sku!r}")
    return StockOut(
        sku=sku,
        stream_id=item.stream_id_for(sku),
        on_hand=item.on_hand,
        available=item.available,
        reservations=dict(item.reservations),
        version=item.version,
    )


@router.get("/streams/{stream_id}/events", response=StreamEventsOut, tags=["events"], summary="One stream's events")
def stream_events(
    request: HttpRequest, stream_id: Line = STREAM_ID, up_to_version: int | None = Query(None, ge=1, le=BIGINT_MAX)
) -> StreamEventsOut:
    events = stream_read(stream_id=stream_id, up_to_version=up_to_version)
    if not events:
        raise ApiError(404, "not_found", f"stream {stream_id!r} does not exist")
    return StreamEventsOut(stream_id=stream_id, version=events[-1].version, events=[_event_out(e) for e in events])


@router.get("/events", response=GlobalLogOut, tags=["events"], summary="The global log, in position order")
def events_after(
    request: HttpRequest, after: int = Query(0, ge=0, le=BIGINT_MAX), limit: int = Query(100, ge=1, le=1000)
) -> GlobalLogOut:
    events = global_log_read(after=after, limit=limit)
    return GlobalLogOut(
        after=after,
        next_after=events[-1].position if events else after,
        head_position=head_position(),
        events=[_event_out(e) for e in events],
    )
