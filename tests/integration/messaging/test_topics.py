"""The relay and the worker create their topics when missing, as the settings say."""

from __future__ import annotations

from typing import Any

from apps.messaging.topics import topic_partition_count, topics_ensure
from tests.support.broker import KafkaSetup


def test_missing_topics_are_created_with_the_configured_partitions(kafka: KafkaSetup, settings: Any) -> None:
    settings.KAFKA_TOPIC_PARTITIONS = 10

    created = topics_ensure()

    assert created == [kafka.topic, kafka.dlq_topic]
    assert topic_partition_count(topic=kafka.topic) == 10
    assert topic_partition_count(topic=kafka.dlq_topic) == 10


def test_existing_topics_are_left_as_they_are(kafka: KafkaSetup, settings: Any) -> None:
    settings.KAFKA_TOPIC_PARTITIONS = 3
    topics_ensure()
    settings.KAFKA_TOPIC_PARTITIONS = 10

    assert topics_ensure() == []
    assert topic_partition_count(topic=kafka.topic) == 3
