"""The event store's contract, proven on PostgreSQL and on SQLite: same calls, same answers."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import transaction

from apps.eventstore.errors import SchemaValidationError, UnknownEventType, WrongExpectedVersion
from apps.eventstore.models import StoredEvent
from apps.eventstore.store import (
    append_to_stream,
    correlation_read,
    global_log_iter,
    global_log_read,
    head_position,
    stream_read,
    stream_version,
)
from apps.eventstore.types import ANY, NO_STREAM, AppendResult, ExpectedVersion, NewEvent
from tests.integration.eventstore.contract import BOTH_DATABASES, event_count, new_event, on_both_databases
from tests.unit.eventstore.samples import order_placed_v1

pytestmark = pytest.mark.django_db(databases=BOTH_DATABASES)


def _append(
    using: str, stream_id: str, expected: ExpectedVersion, *event_types: str, correlation_id: str | None = None
) -> AppendResult:
    return append_to_stream(
        stream_id=stream_id,
        stream_type="order",
        expected_version=expected,
        events=[new_event(t, correlation_id=correlation_id) for t in event_types],
        using=using,
    )


@on_both_databases
def test_append_to_a_new_stream_then_read_it_back(using: str, stream_id: str) -> None:
    result = _append(using, stream_id, NO_STREAM, "OrderPlaced", "OrderConfirmed")

    assert result.stream_id == stream_id
    assert result.version == 2
    assert result.last_position == result.first_position + 1
    events = stream_read(stream_id=stream_id, using=using)
    assert [(e.version, e.event_type, e.position) for e in events] == [
        (1, "OrderPlaced", result.first_position),
        (2, "OrderConfirmed", result.last_position),
    ]
    placed = events[0]
    assert placed.stream_id == stream_id and placed.stream_type == "order"
    assert placed.schema_version == 2
    assert placed.data == new_event("OrderPlaced").data
    assert placed.metadata["actor"] == "test"
    assert placed.recorded_at.tzinfo is not None
    assert stream_version(stream_id=stream_id, using=using) == 2


@on_both_databases
def test_stream_read_up_to_a_version_stops_there(using: str, stream_id: str) -> None:
    _append(using, stream_id, NO_STREAM, "OrderPlaced", "OrderConfirmed", "OrderShipped")

    assert [e.version for e in stream_read(stream_id=stream_id, up_to_version=2, using=using)] == [1, 2]
    assert stream_read(stream_id=stream_id, up_to_version=0, using=using) == []
    assert stream_read(stream_id="order-missing", using=using) == []
    assert stream_version(stream_id="order-missing", using=using) == 0


@on_both_databases
def test_an_int_expected_version_appends_after_that_version(using: str, stream_id: str) -> None:
    _append(using, stream_id, NO_STREAM, "OrderPlaced")
    result = _append(using, stream_id, 1, "OrderConfirmed")
    assert result.version == 2
    assert _append(using, stream_id, 2, "OrderShipped").version == 3


@on_both_databases
def test_expected_version_zero_means_the_stream_is_new(using: str, stream_id: str) -> None:
    assert _append(using, stream_id, 0, "OrderPlaced").version == 1
    with pytest.raises(WrongExpectedVersion), transaction.atomic(using=using):
        _append(using, stream_id, 0, "OrderConfirmed")


@on_both_databases
def test_any_appends_whatever_the_stream_version(using: str, stream_id: str) -> None:
    assert _append(using, stream_id, ANY, "OrderPlaced").version == 1
    assert _append(using, stream_id, ANY, "OrderConfirmed", "OrderShipped").version == 3
    assert [e.version for e in stream_read(stream_id=stream_id, using=using)] == [1, 2, 3]


@on_both_databases
def test_no_stream_refuses_an_existing_stream_and_writes_nothing(using: str, stream_id: str) -> None:
    _append(using, stream_id, NO_STREAM, "OrderPlaced")
    before = event_count(using)

    with pytest.raises(WrongExpectedVersion) as caught, transaction.atomic(using=using):
        _append(using, stream_id, NO_STREAM, "OrderPlaced")

    assert caught.value.expected == NO_STREAM
    assert caught.value.actual == 1
    assert event_count(using) == before
    assert stream_version(stream_id=stream_id, using=using) == 1


@on_both_databases
def test_stale_expected_version_is_rejected_with_a_clear_message_and_writes_nothing(using: str, stream_id: str) -> None:
    _append(using, stream_id, NO_STREAM, "OrderPlaced", "OrderConfirmed")
    before = event_count(using)

    with pytest.raises(WrongExpectedVersion) as caught, transaction.atomic(using=using):
        _append(using, stream_id, 1, "OrderCancelled", "OrderShipped")

    error = caught.value
    assert (error.stream_id, error.expected, error.actual) == (stream_id, 1, 2)
    assert str(error) == f"conflict on stream {stream_id!r}: expected version 1, stream is at 2"
    assert event_count(using) == before
    assert stream_version(stream_id=stream_id, using=using) == 2
    assert [e.event_type for e in stream_read(stream_id=stream_id, using=using)] == ["OrderPlaced", "OrderConfirmed"]


@on_both_databases
@pytest.mark.parametrize("expected", [5, 3])
def test_an_expected_version_ahead_of_the_stream_is_rejected(using: str, stream_id: str, expected: int) -> None:
    _append(using, stream_id, NO_STREAM, "OrderPlaced", "OrderConfirmed")
    with pytest.raises(WrongExpectedVersion) as caught, transaction.atomic(using=using):
        _append(using, stream_id, expected, "OrderShipped")
    assert caught.value.actual == 2


@on_both_databases
def test_an_int_expected_version_on_a_missing_stream_is_rejected(using: str, stream_id: str) -> None:
    before = event_count(using)
    with pytest.raises(WrongExpectedVersion) as caught, transaction.atomic(using=using):
        _append(using, stream_id, 3, "OrderPlaced")
    assert caught.value.actual == 0
    assert event_count(using) == before
    assert stream_version(stream_id=stream_id, using=using) == 0


@on_both_databases
def test_a_conflict_inside_a_callers_transaction_spoils_only_that_transaction(using: str, stream_id: str) -> None:
    _append(using, stream_id, NO_STREAM, "OrderPlaced")
    with pytest.raises(WrongExpectedVersion), transaction.atomic(using=using):
        _append(using, f"{stream_id}-other", NO_STREAM, "OrderPlaced")
        _append(using, stream_id, NO_STREAM, "OrderPlaced")
    assert stream_version(stream_id=f"{stream_id}-other", using=using) == 0


@on_both_databases
def test_a_multi_event_append_lands_together_with_consecutive_positions_and_versions(
    using: str, stream_id: str
) -> None:
    _append(using, stream_id, NO_STREAM, "OrderPlaced")
    result = _append(using, stream_id, 1, "OrderLineAdded", "OrderLineAdded", "OrderConfirmed")

    events = stream_read(stream_id=stream_id, using=using)
    assert [e.version for e in events] == [1, 2, 3, 4]
    assert [e.position for e in events[1:]] == list(range(result.first_position, result.last_position + 1))
    assert result.last_position - result.first_position == 2
    assert len({e.recorded_at for e in events[1:]}) == 1


@on_both_databases
def test_one_invalid_event_refuses_the_whole_batch(using: str, stream_id: str) -> None:
    before = event_count(using)
    with pytest.raises(SchemaValidationError, match="quantity"):
        append_to_stream(
            stream_id=stream_id,
            stream_type="order",
            expected_version=NO_STREAM,
            events=[new_event("OrderPlaced"), new_event("OrderLineAdded", quantity="three")],
            using=using,
        )
    assert event_count(using) == before
    assert stream_version(stream_id=stream_id, using=using) == 0


@on_both_databases
@pytest.mark.parametrize(
    ("data_change", "field"),
    [
        ({"coupon": "FREE"}, "coupon"),
        ({"customer_id": 7}, "customer_id"),
        ({"lines": [{"sku": "s", "quantity": True, "unit_price_cents": 1}]}, "lines[0].quantity"),
        ({"lines": [{"sku": "s", "unit_price_cents": 1}]}, "lines[0].quantity"),
    ],
)
def test_schema_refusal_names_the_field_and_writes_nothing(
    using: str, stream_id: str, data_change: dict[str, Any], field: str
) -> None:
    before = event_count(using)
    with pytest.raises(SchemaValidationError) as caught:
        append_to_stream(
            stream_id=stream_id,
            stream_type="order",
            expected_version=ANY,
            events=[new_event("OrderPlaced", **data_change)],
            using=using,
        )
    assert caught.value.field == field
    assert event_count(using) == before


@on_both_databases
def test_a_missing_field_is_refused_and_writes_nothing(using: str, stream_id: str) -> None:
    data = new_event("OrderPlaced").data
    del data["currency"]
    with pytest.raises(SchemaValidationError, match="'currency'"):
        append_to_stream(
            stream_id=stream_id,
            stream_type="order",
            expected_version=ANY,
            events=[NewEvent("OrderPlaced", data)],
            using=using,
        )
    assert stream_version(stream_id=stream_id, using=using) == 0


@on_both_databases
def test_an_unknown_event_type_is_refused_and_writes_nothing(using: str, stream_id: str) -> None:
    before = event_count(using)
    with pytest.raises(UnknownEventType):
        append_to_stream(
            stream_id=stream_id,
            stream_type="order",
            expected_version=ANY,
            events=[NewEvent("OrderTeleported", {"order_id": "o"})],
            using=using,
        )
    assert event_count(using) == before


@on_both_databases
def test_a_v1_event_is_stored_as_v1_and_read_back_as_v2(using: str, stream_id: str) -> None:
    correlation_id = str(uuid.uuid4())
    result = append_to_stream(
        stream_id=stream_id,
        stream_type="order",
        expected_version=NO_STREAM,
        events=[NewEvent("OrderPlaced", order_placed_v1(), {"correlation_id": correlation_id}, schema_version=1)],
        using=using,
    )

    stored = StoredEvent.objects.using(using).get(position=result.first_position)
    assert stored.schema_version == 1
    assert "currency" not in stored.data
    expected = order_placed_v1() | {"currency": "EUR"}
    for read in (
        stream_read(stream_id=stream_id, using=using),
        correlation_read(correlation_id=correlation_id, using=using),
        global_log_read(after=result.first_position - 1, using=using),
    ):
        assert [(e.schema_version, e.data) for e in read] == [(2, expected)]


@on_both_databases
def test_a_v1_shape_cannot_be_appended_as_v2(using: str, stream_id: str) -> None:
    with pytest.raises(SchemaValidationError, match="'currency'"):
        append_to_stream(
            stream_id=stream_id,
            stream_type="order",
            expected_version=NO_STREAM,
            events=[NewEvent("OrderPlaced", order_placed_v1())],
            using=using,
        )


@on_both_databases
def test_correlation_read_returns_a_conversation_across_streams_in_global_order(using: str, stream_id: str) -> None:
    conversation, other = str(uuid.uuid4()), str(uuid.uuid4())
    _append(using, stream_id, NO_STREAM, "OrderPlaced", correlation_id=conversation)
    _append(using, f"payment-{stream_id}", NO_STREAM, "PaymentAuthorized", correlation_id=conversation)
    _append(using, f"{stream_id}-unrelated", NO_STREAM, "OrderPlaced", correlation_id=other)
    _append(using, stream_id, 1, "OrderConfirmed", correlation_id=conversation)

    read = correlation_read(correlation_id=conversation, using=using)
    assert [e.event_type for e in read] == ["OrderPlaced", "PaymentAuthorized", "OrderConfirmed"]
    assert [e.position for e in read] == sorted(e.position for e in read)
    assert {e.correlation_id for e in read} == {conversation}
    assert correlation_read(correlation_id=str(uuid.uuid4()), using=using) == []


@on_both_databases
def test_an_event_without_a_correlation_id_gets_one(using: str, stream_id: str) -> None:
    append_to_stream(
        stream_id=stream_id,
        stream_type="order",
        expected_version=NO_STREAM,
        events=[NewEvent("OrderConfirmed", {"order_id": "order-1"})],
        using=using,
    )
    (event,) = stream_read(stream_id=stream_id, using=using)
    assert uuid.UUID(event.correlation_id)
    assert correlation_read(correlation_id=event.correlation_id, using=using) == [event]


@on_both_databases
def test_global_log_read_returns_events_after_a_position_in_order_in_batches(using: str, stream_id: str) -> None:
    start = head_position(using=using)
    appended = []
    for n in range(4):
        result = _append(using, f"{stream_id}-{n}", NO_STREAM, "OrderPlaced", "OrderConfirmed")
        appended += [result.first_position, result.last_position]
    assert head_position(using=using) == appended[-1]

    assert [e.position for e in global_log_read(after=start, using=using)] == appended
    assert [e.position for e in global_log_read(after=start, limit=3, using=using)] == appended[:3]
    assert [e.position for e in global_log_read(after=appended[2], limit=3, using=using)] == appended[3:6]
    assert global_log_read(after=appended[-1], using=using) == []
    with pytest.raises(ValueError, match="limit"):
        global_log_read(after=start, limit=0, using=using)


@on_both_databases
def test_global_log_iter_walks_every_event_once_in_order(using: str, stream_id: str) -> None:
    start = head_position(using=using)
    for n in range(5):
        _append(using, f"{stream_id}-{n}", NO_STREAM, "OrderPlaced", "OrderConfirmed", "OrderShipped")

    walked = list(global_log_iter(after=start, batch_size=4, using=using))
    assert len(walked) == 15
    positions = [e.position for e in walked]
    assert positions == sorted(set(positions))
    assert [e.event_type for e in walked[:3]] == ["OrderPlaced", "OrderConfirmed", "OrderShipped"]
    assert [e.position for e in global_log_iter(after=positions[9], batch_size=4, using=using)] == positions[10:]


@on_both_databases
def test_bad_arguments_are_refused_before_anything_is_written(using: str, stream_id: str) -> None:
    with pytest.raises(ValueError, match="at least one event"):
        append_to_stream(stream_id=stream_id, stream_type="order", expected_version=ANY, events=[], using=using)
    for expected in (-1, True, "latest"):
        with pytest.raises(ValueError, match="expected_version"):
            append_to_stream(
                stream_id=stream_id,
                stream_type="order",
                expected_version=expected,  # type: ignore[arg-type]
                events=[new_event("OrderPlaced")],
                using=using,
            )
    assert stream_version(stream_id=stream_id, using=using) == 0
