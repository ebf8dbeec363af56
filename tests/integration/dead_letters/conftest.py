"""A test consumer group that applies into a list, and a tiny host that drives it like the worker does."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from apps.eventstore.store import append_to_stream, global_log_read
from apps.eventstore.types import NO_STREAM, NewEvent, RecordedEvent
from apps.messaging import registry
from apps.messaging.dead_letters import (
    DeadLetter,
    dead_letter_park_behind,
    dead_letter_parked_streams,
    dead_letter_record,
    failure_rules_wrap,
)
from apps.messaging.dead_letters.chain import parked_streams_forget
from apps.messaging.dead_letters.fault_injection import failure_rules_forget
from tests.support.broker import kafka, tansu  # noqa: F401  (fixtures for the DLQ-topic tests)

GROUP = "test-dead-letters"
TOPIC = "order-events"


@dataclass
class ListConsumer:
    """Applies events into ``applied`` once each; fails, on purpose, the positions in ``failing``."""

    applied: list[int] = field(default_factory=list)
    failing: set[int] = field(default_factory=set)
    # What a failing position raises; a test may change it to see a new error recorded.
    failure: type[Exception] = RuntimeError
    failure_message: str = "projection cannot apply position {position}"

    def handle_one(self, event: RecordedEvent) -> None:
        if event.position in self.failing:
            raise self.failure(self.failure_message.format(position=event.position))
        if event.position not in self.applied:
            self.applied.append(event.position)

    def handle_batch(self, events: Sequence[RecordedEvent]) -> None:
        for event in events:
            self.handle_one(event)


@pytest.fixture
def consumer() -> Iterator[ListConsumer]:
    target = ListConsumer()
    registry.consumer_register(
        registry.ConsumerSpec(group_id=GROUP, handle_batch=target.handle_batch, handle_one=target.handle_one)
    )
    parked_streams_forget(GROUP)
    failure_rules_forget()
    yield target
    registry._specs.pop(GROUP, None)
    parked_streams_forget(GROUP)
    failure_rules_forget()


def order_stream(*, customer_id: str = "cust-1", confirmations: int = 2) -> list[RecordedEvent]:
    """An order stream: placed, then ``confirmations`` events; returns them as stored."""
    order_id = str(uuid.uuid4())
    events = [
        NewEvent(
            "OrderPlaced",
            {
                "order_id": order_id,
                "customer_id": customer_id,
                "currency": "EUR",
                "lines": [{"sku": "sku-1", "quantity": 1, "unit_price_cents": 500}],
            },
        )
    ]
    events += [NewEvent("OrderConfirmed", {"order_id": order_id}) for _ in range(confirmations)]
    result = append_to_stream(
        stream_id=f"order-{order_id}", stream_type="order", expected_version=NO_STREAM, events=events
    )
    return global_log_read(after=result.first_position - 1, limit=len(events))


class Applier(Protocol):
    def handle_one(self, event: RecordedEvent) -> None: ...


def host_deliver(
    consumer: Applier, events: Sequence[RecordedEvent], *, attempts: int = 3, group_id: str = GROUP
) -> None:
    """What the consumer host does per message: park behind a parked stream, else apply, else record."""
    # The host applies with the handlers the failure rules wrap; so does this stand-in.
    handle_one = failure_rules_wrap(
        registry.ConsumerSpec(group_id=group_id, handle_batch=lambda events: None, handle_one=consumer.handle_one)
    ).handle_one
    for event in events:
        if event.stream_id in dead_letter_parked_streams(group_id=group_id):
            dead_letter_park_behind(group_id=group_id, event=event, topic=TOPIC, partition=0, offset=event.position)
            continue
        first_failed_at: dt.datetime | None = None
        error: Exception = RuntimeError("not attempted")
        for _ in range(attempts):
            try:
                handle_one(event)
                break
            except Exception as exc:
                first_failed_at = first_failed_at or timezone.now()
                error = exc
        else:
            dead_letter_record(
                group_id=group_id,
                event=event,
                raw_key=event.stream_id.encode(),
                raw_value=None,
                topic=TOPIC,
                partition=0,
                offset=event.position,
                error=error,
                attempts=attempts,
                first_failed_at=first_failed_at or timezone.now(),
            )


def dead_letter_of(event: RecordedEvent) -> DeadLetter:
    return DeadLetter.objects.get(group_id=GROUP, position=event.position)


def user_with_role(username: str, role: str) -> User:
    user = User.objects.create_user(username=username, password="pw-" + username)
    # get_or_create: a transactional test flushes the groups the migration made.
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def operator(db: None) -> User:
    return user_with_role("opal", "operator")


@pytest.fixture
def viewer(db: None) -> User:
    return user_with_role("vera", "viewer")
