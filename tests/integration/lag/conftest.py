"""A real Tansu broker with a small topic, records put on given partitions, and groups that commit."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from apps.accounts.roles import VIEWER_GROUP
from apps.messaging.lag.offsets import lag_clients_close
from apps.messaging.topics import topics_ensure
from tests.support.broker import KafkaSetup, kafka, tansu  # noqa: F401

PARTITIONS = 3


@dataclass
class LagTopic:
    """The test's own ``order-events`` topic on the session's Tansu broker."""

    kafka: KafkaSetup

    @property
    def name(self) -> str:
        return self.kafka.topic

    def produce(self, counts: dict[int, int]) -> None:
        """Put ``counts[p]`` records on partition ``p``, batched (as the relay does)."""
        producer = KafkaProducer(bootstrap_servers=self.kafka.bootstrap, linger_ms=20)
        try:
            for partition, count in counts.items():
                for index in range(count):
                    producer.send(self.name, key=f"k{index}".encode(), value=b"{}", partition=partition)
            producer.flush(timeout=15)
        finally:
            producer.close(timeout=5)

    def commit(self, group_id: str, offsets: dict[int, int]) -> None:
        """A real KafkaConsumer of ``group_id`` moves to each offset and commits its position."""
        consumer = KafkaConsumer(bootstrap_servers=self.kafka.bootstrap, group_id=group_id, enable_auto_commit=False)
        try:
            tps = {partition: TopicPartition(self.name, partition) for partition in offsets}
            consumer.assign(list(tps.values()))
            for partition, offset in offsets.items():
                consumer.seek(tps[partition], offset)
            consumer.commit()
        finally:
            consumer.close(autocommit=False)


@pytest.fixture
def lag_topic(kafka: KafkaSetup, settings: Any, db: None) -> Iterator[LagTopic]:  # noqa: F811
    settings.KAFKA_TOPIC_PARTITIONS = PARTITIONS
    settings.LAG_KAFKA_TIMEOUT_MS = 1500
    topics_ensure()
    yield LagTopic(kafka=kafka)
    lag_clients_close()


@pytest.fixture
def group_id() -> str:
    return f"lag-test-{uuid.uuid4().hex[:8]}"


def user_with_role(username: str, role: str | None) -> User:
    user = User.objects.create_user(username=username, password="pw-123456")
    if role:
        group, _ = Group.objects.get_or_create(name=role)
        user.groups.add(group)
    return user


@pytest.fixture
def viewer(db: None) -> User:
    return user_with_role("vera", VIEWER_GROUP)


@pytest.fixture
def nobody(db: None) -> User:
    return user_with_role("norole", None)
