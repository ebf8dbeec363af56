"""A live batch's fixed cost: its statements and round trips do not grow with the batch."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from psycopg import pq

from apps.projections.live import projection_batch_handle
from apps.projections.projectors import PROJECTORS
from tests.integration.projections.conftest import store_events
from tests.integration.projections.traffic import traffic_append

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def round_trips_counted() -> Iterator[list[int]]:
    """Counts the times the client sent and then waited for the server, from libpq's protocol trace."""
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    trips = [0]
    with tempfile.TemporaryFile("w+") as trace:
        pgconn.trace(os.dup(trace.fileno()))
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            yield trips
        finally:
            pgconn.untrace()
        trace.seek(0)
        last = "B"
        for line in trace:
            direction = line.split("\t", 1)[0]
            if direction == "F" and last == "B":
                trips[0] += 1
            if direction in ("F", "B"):
                last = direction


@pytest.mark.parametrize("size", [5, 300])
def test_a_live_batch_takes_eight_statements_in_five_round_trips_whatever_its_size(size: int) -> None:
    traffic_append(orders=size + 20)
    handled = [event for event in store_events() if event.event_type in PROJECTORS["order_summary"].event_types]
    projection_batch_handle(name="order_summary", events=handled[:5])  # the first one creates the checkpoint
    batch = handled[5 : 5 + size]

    with CaptureQueriesContext(connection) as queries, round_trips_counted() as trips:
        outcome = projection_batch_handle(name="order_summary", events=batch)

    assert outcome.applied == size
    # BEGIN | the lock, then the generation and cursors | the rows | rows, cursors, checkpoint written | COMMIT
    statements = [query["sql"][:80] for query in queries.captured_queries]
    assert len(statements) == 8, "\n".join(statements)
    assert trips[0] == 5
