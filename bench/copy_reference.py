"""Raw COPY: the batch-append reference, and a fast way to fill eventsourcing's log for the read figure."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from itertools import count
from typing import Any

import orjson
import psycopg
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import sql

from apps.eventstore.types import NewEvent
from bench.common import batch_metadata, connect_kwargs, phase
from bench.reference import EsOrder, EsOrders

# The event store's columns with the same types, in a plain table: no keys, no indexes,
# no triggers, no sequence. What PostgreSQL can take in at best.
COPY_TABLE_DDL = """
CREATE SCHEMA IF NOT EXISTS bench_reference;
DROP TABLE IF EXISTS bench_reference.copied_event;
DROP TABLE IF EXISTS bench_reference.inserted_row;
CREATE TABLE bench_reference.inserted_row (id bigserial PRIMARY KEY, stream_id text NOT NULL, data jsonb NOT NULL);
CREATE TABLE bench_reference.copied_event (
    position bigint, stream_id varchar(200), stream_type varchar(64), version bigint,
    event_type varchar(100), schema_version smallint, data jsonb, metadata jsonb,
    correlation_id varchar(64), recorded_at timestamptz
);
"""
INSERT_CEILING = "INSERT INTO bench_reference.inserted_row (stream_id, data) VALUES (%s, %s)"
_COPY_EVENTS = (
    "COPY bench_reference.copied_event (position, stream_id, stream_type, version, event_type,"
    " schema_version, data, metadata, correlation_id, recorded_at) FROM STDIN"
)


def copy_step(connection: psycopg.Connection[Any], events: list[NewEvent]) -> Callable[[], int]:
    """A step that COPYs the rows an append of ``events`` would store, JSON encoding included."""
    positions = count(1)
    dumps = orjson.dumps

    def step() -> int:
        stream_id = f"order-bulk-{uuid.uuid4().hex}"
        now = dt.datetime.now(dt.UTC)
        metadata = batch_metadata()
        correlation_id = metadata["correlation_id"]
        with connection.transaction(), connection.cursor() as cursor, cursor.copy(_COPY_EVENTS) as copy:
            for version, event in enumerate(events, 1):
                copy.write_row(
                    (
                        next(positions),
                        stream_id,
                        "order",
                        version,
                        event.event_type,
                        1,
                        dumps(event.data).decode(),
                        dumps(metadata).decode(),
                        correlation_id,
                        now,
                    )
                )
        return len(events)

    return step


def es_notifications_seed(app: EsOrders, database: str, total: int) -> None:
    """Fill eventsourcing's log up to ``total`` notifications with real five-event orders.

    The stored events are what the library's own mapper makes of one order's events,
    repeated under fresh aggregate ids, so the rows read back are the library's own.
    """
    order = EsOrder.place(
        order_id="seed",
        customer_id="customer-1",
        currency="EUR",
        lines=[{"sku": "SKU-1", "quantity": 2, "unit_price_cents": 1250}],
    )
    order.add_line(sku="SKU-2", quantity=1, unit_price_cents=499)
    order.add_line(sku="SKU-3", quantity=3, unit_price_cents=10)
    order.confirm()
    order.ship()
    template = [app.mapper.to_stored_event(event) for event in order.collect_events()]
    recorder = app.recorder
    assert isinstance(recorder, PostgresApplicationRecorder)
    statement = sql.SQL("COPY {} (originator_id, originator_version, topic, state) FROM STDIN").format(
        sql.Identifier(recorder.events_table_name)
    )
    have = recorder.max_notification_id() or 0
    with (
        phase("seeding eventsourcing's log", total) as advance,
        psycopg.connect(**connect_kwargs(database), autocommit=True) as connection,  # type: ignore[arg-type]
    ):
        advance(min(have, total))
        while have < total:
            orders = min(2000, (total - have + len(template) - 1) // len(template))
            with (
                connection.transaction(),
                connection.cursor() as cursor,
                cursor.copy(statement) as copy,
            ):
                for _ in range(orders):
                    originator_id = uuid.uuid4()
                    for stored in template:
                        copy.write_row((originator_id, stored.originator_version, stored.topic, stored.state))
            added = orders * len(template)
            advance(min(added, total - have))
            have += added
