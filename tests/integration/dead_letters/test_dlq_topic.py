"""Failed messages are copied to the DLQ topic with the error in headers; poison goes on the event topic."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import orjson
import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from apps.accounts.models import AuditLog
from apps.messaging import producer
from apps.messaging.dead_letters import (
    DeadLetter,
    dead_letter_dlq_publish_pending,
    dead_letter_record,
    poison_message_publish,
)
from apps.messaging.topics import topics_ensure
from tests.integration.dead_letters.conftest import (
    GROUP,
    TOPIC,
    ListConsumer,
    dead_letter_of,
    host_deliver,
    order_stream,
)
from tests.support.broker import KafkaSetup, topic_read

pytestmark = pytest.mark.django_db

Capture = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]


def test_a_recorded_dead_letter_is_produced_to_the_dlq_topic_with_the_error_in_headers(
    consumer: ListConsumer,
    kafka: KafkaSetup,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    topics_ensure()
    events = order_stream(customer_id="cust-dlq", confirmations=1)
    consumer.failing = {events[0].position}

    with django_capture_on_commit_callbacks(execute=True):
        host_deliver(consumer, events)

    [record] = topic_read(bootstrap=kafka.bootstrap, topic=kafka.dlq_topic, count=1)
    headers = {name: value.decode() for name, value in record.headers}
    head = dead_letter_of(events[0])
    assert record.key == events[0].stream_id.encode()
    assert orjson.loads(record.value)["position"] == events[0].position
    assert orjson.loads(record.value)["data"]["customer_id"] == "cust-dlq"
    assert headers["dlq.error_class"] == "RuntimeError"
    assert f"cannot apply position {events[0].position}" in headers["dlq.error_message"]
    assert headers["dlq.group_id"] == GROUP and headers["dlq.attempts"] == "3"
    assert headers["dlq.original_topic"] == TOPIC and headers["dlq.original_offset"] == str(events[0].position)
    assert headers["dlq.dead_letter_id"] == str(head.pk)
    assert head.dlq_published_at is not None
    # Only the failed event goes to the DLQ; the one parked behind it has no error of its own.
    assert dead_letter_of(events[1]).dlq_published_at is None


def test_a_dead_letter_the_broker_did_not_take_stays_pending_and_is_produced_later(
    consumer: ListConsumer,
    kafka: KafkaSetup,
    django_capture_on_commit_callbacks: Capture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topics_ensure()
    monkeypatch.setattr(producer, "_ACK_TIMEOUT_SECONDS", 2.0)  # the 30 s the worker waits, shortened
    producer.dlq_publish(key=b"warm-up", value=b"", headers=[])  # connected, and the topic's metadata known
    with kafka.broker.paused(), django_capture_on_commit_callbacks(execute=True):
        dead_letter = dead_letter_record(
            group_id=GROUP,
            event=None,
            raw_key=b"poison-key",
            raw_value=b"\xfe\xff",
            topic=TOPIC,
            partition=0,
            offset=3,
            error=ValueError("undecodable"),
            attempts=1,
            first_failed_at=timezone.now(),
        )
    assert DeadLetter.objects.get(pk=dead_letter.pk).dlq_published_at is None

    assert dead_letter_dlq_publish_pending() == 1

    copies = [r for r in topic_read(bootstrap=kafka.bootstrap, topic=kafka.dlq_topic) if r.key == b"poison-key"]
    assert copies and all(record.value == b"\xfe\xff" for record in copies)
    assert dict(copies[-1].headers)["dlq.error_class"] == b"ValueError"
    assert DeadLetter.objects.get(pk=dead_letter.pk).dlq_published_at is not None


def test_an_operator_puts_an_undecodable_message_on_the_event_topic_and_it_is_audited(
    operator: User,
    kafka: KafkaSetup,
) -> None:
    topics_ensure()

    poison_message_publish(raw=b"\x00not an event", key=b"order-poison", actor=operator)

    [record] = topic_read(bootstrap=kafka.bootstrap, topic=kafka.topic, count=1)
    assert (record.key, record.value) == (b"order-poison", b"\x00not an event")
    entry = AuditLog.objects.get(action="poison_message.publish")
    assert (entry.actor, entry.outcome, entry.parameters["size"]) == ("opal", "ok", len(b"\x00not an event"))
