"""The topics the pipeline needs, created at start when they are missing."""

from __future__ import annotations

import logging

from django.conf import settings
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

logger = logging.getLogger(__name__)

# KAFKA_COMPRESSION_TYPE values whose topic-config name differs.
_TOPIC_COMPRESSION = {"none": "uncompressed"}


def topic_names() -> list[str]:
    """The event topic and its dead-letter topic, as configured."""
    return [settings.KAFKA_TOPIC, settings.KAFKA_DLQ_TOPIC]


def topics_ensure(*, bootstrap_servers: list[str] | None = None) -> list[str]:
    """Create ``order-events`` and ``order-events.dlq`` when missing; return the names created.

    Partitions, replication, retention and the largest message size come from the
    ``KAFKA_TOPIC_*`` settings, ``compression.type`` from ``KAFKA_COMPRESSION_TYPE``. An
    existing topic is left as it is (Kafka cannot shrink partitions, and growing them would
    move keys to other partitions).
    """
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap_servers or settings.KAFKA_BOOTSTRAP_SERVERS, client_id="eda-topics"
    )
    try:
        existing = set(admin.list_topics())
        missing = [name for name in topic_names() if name not in existing]
        if not missing:
            return []
        configs = {
            "retention.ms": str(settings.KAFKA_TOPIC_RETENTION_MS),
            "max.message.bytes": str(settings.KAFKA_TOPIC_MAX_MESSAGE_BYTES),
            # The producers' codec: Kafka keeps their batches as sent instead of recompressing them.
            "compression.type": _TOPIC_COMPRESSION.get(
                settings.KAFKA_COMPRESSION_TYPE, settings.KAFKA_COMPRESSION_TYPE
            ),
        }
        new_topics = [
            NewTopic(name, settings.KAFKA_TOPIC_PARTITIONS, settings.KAFKA_TOPIC_REPLICATION, topic_configs=configs)
            for name in missing
        ]
        created = []
        for topic in new_topics:
            try:
                admin.create_topics([topic])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass  # another process (relay or worker) created it between our look and now
        if created:
            logger.info("created topics %s (%d partitions)", created, settings.KAFKA_TOPIC_PARTITIONS)
        return created
    finally:
        admin.close()


def topic_partition_count(*, topic: str, bootstrap_servers: list[str] | None = None) -> int:
    """How many partitions ``topic`` has (0 when it does not exist)."""
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap_servers or settings.KAFKA_BOOTSTRAP_SERVERS, client_id="eda-topics"
    )
    try:
        described = admin.describe_topics([topic])
    finally:
        admin.close()
    for entry in described:
        if entry.get("topic", entry.get("name")) == topic and not entry.get("error_code"):
            return len(entry["partitions"])
    return 0
