"""Request and response bodies of the order command and query API.

Request bodies are strict: unknown fields are refused, numbers must be JSON
integers (no strings, booleans or floats), and strings hold no control characters. Money is an integer number of minor
units (cents), never a float.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from ninja import Field, Schema
from pydantic import ConfigDict

from apps.api.fields import Line, Text

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
MAX_QUANTITY = 1_000_000
# 10^12 cents is ten billion in the major unit: above that a price is a typo.
MAX_UNIT_PRICE_CENTS = 10**12

Identifier = Annotated[str, Field(pattern=ID_PATTERN, description="1-64 of A-Z a-z 0-9 _ . : - (starting alnum)")]
Quantity = Annotated[int, Field(gt=0, le=MAX_QUANTITY, description="A whole number, 1 to 1,000,000")]


class CommandIn(Schema):
    model_config = ConfigDict(extra="forbid", strict=True)


class OrderLineIn(CommandIn):
    sku: Identifier
    quantity: Quantity
    unit_price_cents: int = Field(
        ...,
        ge=0,
        le=MAX_UNIT_PRICE_CENTS,
        description="Unit price as an integer number of cents (minor units of the order's currency); 1999 = 19.99",
    )


class OrderPlaceIn(CommandIn):
    order_id: Identifier | None = Field(
        None, description="Chosen by the client for idempotent retries; generated when absent"
    )
    customer_id: Line = Field(..., min_length=1, max_length=100)
    currency: str = Field(..., pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR")
    lines: list[OrderLineIn] = Field(..., min_length=1, max_length=100)


class OrderCancelIn(CommandIn):
    reason: Text = Field(..., min_length=1, max_length=500)


class StockAddIn(CommandIn):
    sku: Identifier
    quantity: Quantity


class OrderPlacedOut(Schema):
    order_id: str
    stream_id: str
    version: int
    position: int = Field(..., description="Global position of the OrderPlaced event")
    correlation_id: str


class CommandOut(Schema):
    stream_id: str
    version: int
    position: int | None = Field(
        ..., description="Global position of the last event appended; null when nothing changed"
    )
    events: list[str] = Field(..., description="Types of the events the command appended (empty for a no-op)")
    correlation_id: str


class OrderLineOut(Schema):
    sku: str
    quantity: int
    unit_price_cents: int


class OrderOut(Schema):
    order_id: str
    stream_id: str
    status: str
    customer_id: str
    currency: str
    lines: list[OrderLineOut]
    total_cents: int
    cancel_reason: str | None
    version: int


class StockOut(Schema):
    sku: str
    stream_id: str
    on_hand: int
    available: int
    reservations: dict[str, int]
    version: int


class EventOut(Schema):
    position: int
    stream_id: str
    stream_type: str
    version: int
    event_type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: dt.datetime


class StreamEventsOut(Schema):
    stream_id: str
    version: int = Field(..., description="Version of the last event returned")
    events: list[EventOut]


class GlobalLogOut(Schema):
    after: int
    next_after: int = Field(..., description="Pass as ?after= to continue; equals after when nothing new")
    head_position: int
    events: list[EventOut]
