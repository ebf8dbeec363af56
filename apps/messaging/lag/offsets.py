"""Reading offsets from the broker: committed offsets per group, log-start and log-end per partition.

Only the calls that work against both Apache Kafka and Tansu are used
(``list_groups``, ``list_group_offsets``, ``list_partition_offsets``, ``describe_topics``;
``describe_groups`` fails on Tansu). The clients are cached per process with short
timeouts; any failure closes them so the next round starts clean.

Tansu answers a ListOffsets(LATEST) with the base offset of the last record batch plus
one, not the end of the log, so a batch of 10 records reads as an end offset of 1. A
fetch from just before that offset returns the last batch with the true high watermark,
so with ``LAG_END_OFFSET_CHECK`` on (the default) the end offset is the larger of the two.
On Apache Kafka both agree and the check costs one small fetch per sample.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import OffsetSpec
from kafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError, NodeNotReadyError, RequestTimedOutError

logger = logging.getLogger(__name__)

# Partitions of a topic change rarely (only when an operator adds some).
_PARTITIONS_TTL_SECONDS = 60.0
_lock = threading.Lock()
_clients: dict[str, Any] = {}
_partitions_cache: dict[str, tuple[float, list[int]]] = {}
# The broker is gone, not one group in trouble: asking again group by group would only wait longer.
_UNREACHABLE = (KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError, RequestTimedOutError, OSError)


@dataclass(frozen=True)
class TopicOffsets:
    """Offsets of one topic read in one round; committed offsets were read before end offsets."""

    topic: str
    end: dict[int, int]
    # Log-start offsets, read only for partitions that some group never committed on.
    start: dict[int, int]
    # group id -> partition -> committed offset, for the partitions the group committed on.
    committed: dict[str, dict[int, int]] = field(default_factory=dict)
    # Groups whose committed offsets the broker refused to give, with the error.
    errors: dict[str, str] = field(default_factory=dict)


def topic_offsets_read(*, topic: str, group_ids: Iterable[str]) -> TopicOffsets:
    """Committed offsets of ``group_ids`` and of every group that committed on ``topic``, then end offsets.

    Raises whatever the client raises (``KafkaError``, timeouts, ``OSError``) after closing
    the cached clients; the caller records the round as an error.
    """
    with _lock:
        config = (tuple(settings.KAFKA_BOOTSTRAP_SERVERS), settings.LAG_KAFKA_TIMEOUT_MS)
        if _clients.get("config") != config:
            lag_clients_close()
            _clients["config"] = config
        try:
            return _read(topic, set(group_ids))
        except Exception:
            lag_clients_close()
            raise


def lag_clients_close() -> None:
    """Close this process's cached admin client and end-offset consumer."""
    clients = [client for key, client in _clients.items() if key != "config"]
    _clients.clear()
    _partitions_cache.clear()
    for client in clients:
        try:
            client.close()
        except Exception as exc:  # a half-dead client must not stop us dropping it
            logger.debug("closing lag client: %s", exc)


def _read(topic: str, group_ids: set[str]) -> TopicOffsets:
    admin = _admin()
    partitions = _partitions(admin, topic)
    listed = {str(group["group_id"]) for group in admin.list_groups()}
    committed: dict[str, dict[int, int]] = {}
    fetched, errors = _group_offsets(admin, sorted(group_ids | listed))
    for group_id, offsets in fetched.items():
        mine = {tp.partition: int(om.offset) for tp, om in offsets.items() if tp.topic == topic and om.offset >= 0}
        if mine or group_id in group_ids:
            committed[group_id] = mine
    errors = {group_id: error for group_id, error in errors.items() if group_id in group_ids}
    for group_id in group_ids - errors.keys():
        committed.setdefault(group_id, {})
    if not partitions:
        return TopicOffsets(topic=topic, end={}, start={}, committed=committed, errors=errors)
    tps = [TopicPartition(topic, partition) for partition in partitions]
    end = {tp.partition: int(found.offset) for tp, found in _offsets(admin, tps, OffsetSpec.LATEST).items()}
    if settings.LAG_END_OFFSET_CHECK:
        end = _end_offsets_checked(topic, end)
    uncommitted = [tp for tp in tps if any(tp.partition not in offsets for offsets in committed.values())]
    start = (
        {tp.partition: int(found.offset) for tp, found in _offsets(admin, uncommitted, OffsetSpec.EARLIEST).items()}
        if uncommitted
        else {}
    )
    return TopicOffsets(topic=topic, end=end, start=start, committed=committed, errors=errors)


def _group_offsets(admin: KafkaAdminClient, group_ids: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Committed offsets of every group in one request; group by group when that one fails.

    The broker answered ``list_groups`` a moment ago, so a failure here is most likely one
    group's error (which fails the whole batched call): the others must still be measured.
    """
    if not group_ids:
        return {}, {}
    try:
        return {
            str(group): offsets for group, offsets in admin.list_group_offsets({g: None for g in group_ids}).items()
        }, {}
    except _UNREACHABLE:
        raise
    except KafkaError as exc:
        logger.info("batched committed-offset read failed (%s); reading group by group", exc)
    fetched: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for group_id in group_ids:
        try:
            fetched.update({str(g): offsets for g, offsets in admin.list_group_offsets({group_id: None}).items()})
        except _UNREACHABLE:
            raise
        except KafkaError as exc:
            errors[group_id] = f"{type(exc).__name__}: {exc}"[:500]
    if len(errors) == len(group_ids):
        raise KafkaError(f"no committed offsets readable: {next(iter(errors.values()))}")
    return fetched, errors


def _admin() -> KafkaAdminClient:
    admin = _clients.get("admin")
    if admin is None:
        timeout = settings.LAG_KAFKA_TIMEOUT_MS
        admin = KafkaAdminClient(
            bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
            client_id="eda-lag-sampler",
            request_timeout_ms=timeout,
            bootstrap_timeout_ms=timeout,
            reconnect_backoff_max_ms=timeout,
        )
        _clients["admin"] = admin
    return admin


def _partitions(admin: KafkaAdminClient, topic: str) -> list[int]:
    cached = _partitions_cache.get(topic)
    if cached is not None and time.monotonic() - cached[0] < _PARTITIONS_TTL_SECONDS:
        return cached[1]
    partitions: list[int] = []
    for entry in admin.describe_topics([topic]):
        if entry.get("name", entry.get("topic")) == topic and not entry.get("error_code"):
            partitions = sorted(int(part["partition_index"]) for part in entry["partitions"])
    if partitions:
        # A missing topic is not cached: the relay may create it any moment.
        _partitions_cache[topic] = (time.monotonic(), partitions)
    return partitions


def _offsets(admin: KafkaAdminClient, tps: list[TopicPartition], spec: OffsetSpec) -> dict[TopicPartition, Any]:
    return dict(admin.list_partition_offsets({tp: spec for tp in tps}))


def _end_consumer() -> KafkaConsumer:
    consumer = _clients.get("consumer")
    if consumer is None:
        timeout = settings.LAG_KAFKA_TIMEOUT_MS
        consumer = KafkaConsumer(
            bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
            client_id="eda-lag-sampler",
            group_id=None,
            enable_auto_commit=False,
            # Tansu answers nothing to a fetch with max wait 0; 50 ms keeps a round short.
            fetch_max_wait_ms=50,
            # Kafka still returns a whole batch when it is larger than this.
            max_partition_fetch_bytes=64 * 1024,
            request_timeout_ms=max(timeout, 1000),
            reconnect_backoff_max_ms=timeout,
        )
        _clients["consumer"] = consumer
    return consumer


def _end_offsets_checked(topic: str, listed: dict[int, int]) -> dict[int, int]:
    """The larger of the listed end offset and the high watermark seen fetching the last batch."""
    wanted = {partition: offset for partition, offset in listed.items() if offset > 0}
    if not wanted:
        return listed
    consumer = _end_consumer()
    tps = {partition: TopicPartition(topic, partition) for partition in wanted}
    if set(consumer.assignment()) != set(tps.values()):
        consumer.assign(list(tps.values()))
    for partition, offset in wanted.items():
        consumer.seek(tps[partition], offset - 1)
    seen: dict[int, int] = {}
    deadline = time.monotonic() + settings.LAG_KAFKA_TIMEOUT_MS / 1000
    while len(seen) < len(wanted) and time.monotonic() < deadline:
        remaining_ms = max(1, int((deadline - time.monotonic()) * 1000))
        for tp, records in consumer.poll(timeout_ms=min(remaining_ms, 500)).items():
            highwater = consumer.highwater(tp) or 0
            seen[tp.partition] = max(seen.get(tp.partition, 0), records[-1].offset + 1, highwater)
    if len(seen) < len(wanted):
        logger.debug("end-offset check: no records from partitions %s", sorted(wanted.keys() - seen.keys()))
    return {partition: max(offset, seen.get(partition, 0)) for partition, offset in listed.items()}
