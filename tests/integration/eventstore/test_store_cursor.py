"""The store's hot reads go through psycopg's own cursor, binding parameters on the server."""

from __future__ import annotations

import psycopg
import pytest
from django.db import ProgrammingError, connection
from django.test.utils import CaptureQueriesContext

from apps.eventstore.store.rows import store_cursor

pytestmark = pytest.mark.django_db


def test_the_store_cursor_binds_on_the_server_in_the_connections_transaction() -> None:
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE store_cursor_probe (n int)")
        cursor.execute("INSERT INTO store_cursor_probe VALUES (7)")
    with store_cursor("default") as cursor:
        assert type(cursor) is psycopg.Cursor  # not Django's ClientCursor, which inlines parameters
        cursor.execute("SELECT n FROM store_cursor_probe WHERE n = %s", [7])
        assert cursor.fetchall() == [(7,)]  # it sees the uncommitted row: same connection, same transaction


def test_while_queries_are_logged_it_is_djangos_cursor_so_the_log_sees_the_statement() -> None:
    with CaptureQueriesContext(connection) as queries, store_cursor("default") as cursor:
        cursor.execute("SELECT %s", [41])
        assert cursor.fetchone() == (41,)
    assert [query["sql"] for query in queries.captured_queries] == ["SELECT 41"]


def test_its_errors_are_djangos() -> None:
    with pytest.raises(ProgrammingError), store_cursor("default") as cursor:
        cursor.execute("SELECT * FROM store_cursor_no_such_table")


def test_a_transaction_marked_for_rollback_is_refused_as_by_djangos_cursor() -> None:
    from django.db import transaction
    from django.db.transaction import TransactionManagementError

    with transaction.atomic():
        transaction.set_rollback(True)
        with pytest.raises(TransactionManagementError), store_cursor("default") as cursor:
            cursor.execute("SELECT 1")


def test_a_read_run_as_often_as_the_threshold_is_prepared_and_answers_the_same() -> None:
    from django.conf import settings

    from apps.eventstore.store import append_to_stream, stream_read
    from apps.eventstore.types import NO_STREAM
    from tests.integration.eventstore.contract import new_event

    threshold = settings.DATABASE_PREPARE_THRESHOLD
    assert threshold > 0 and connection.get_connection_params()["prepare_threshold"] == threshold
    written = append_to_stream(
        stream_id="order-prepared-probe",
        stream_type="order",
        expected_version=NO_STREAM,
        events=[new_event("OrderPlaced"), new_event("OrderConfirmed")],
    )
    runs = threshold + 2
    answers = [[(e.version, e.event_type) for e in stream_read(stream_id=written.stream_id)] for _ in range(runs)]

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s", ["%stream_id = $1%"])
        prepared = [row[0] for row in cursor.fetchall()]
    assert prepared, "the stream read was not prepared"
    assert answers == [[(1, "OrderPlaced"), (2, "OrderConfirmed")]] * runs
