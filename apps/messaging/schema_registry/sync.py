"""Register the schema catalogue with a real schema registry, and refuse when the two disagree.

Run at start by ``manage.py schema_registry_sync`` (compose runs it before the relay) and
by the relay itself when it writes Avro. For each event type, in version order: the
subject's compatibility is set to BACKWARD; every version after the first is checked
against the one before it by the registry (``POST /compatibility/...``) and by the
project's own rules (:func:`~apps.eventstore.schemas.schema_compatibility_check`); when
they disagree, or both refuse, nothing more is registered and
:class:`SchemaRegistryDisagrees` stops the process. A version the registry does not hold
yet is registered; the version number the registry gives it must be the catalogue's, or
the subject holds schemas that are not ours. The ids the registry assigned are adopted
for encoding and decoding in this process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from confluent_kafka.schema_registry import RegisteredSchema, Schema
from confluent_kafka.schema_registry.error import SchemaRegistryError
from django.conf import settings

from apps.eventstore.errors import SchemaIncompatible
from apps.eventstore.schemas import schema_compatibility_check
from apps.messaging.schema_registry.catalogue import RegistrySchema, registry_ids_adopt, registry_schemas

logger = logging.getLogger(__name__)

COMPATIBILITY = "BACKWARD"
# Confluent's codes for "no such subject" and "no such schema under the subject".
_NOT_FOUND_CODES = frozenset({40401, 40403})


class SchemaRegistryDisagrees(RuntimeError):
    """The registry and the project's rules give different verdicts, or the registry holds other schemas."""


class RegistryClient(Protocol):
    """What the sync needs of confluent-kafka's ``SchemaRegistryClient``."""

    def set_compatibility(self, subject_name: str | None = None, level: str | None = None) -> Any: ...

    def lookup_schema(self, subject_name: str, schema: Schema) -> RegisteredSchema: ...

    def test_compatibility(self, subject_name: str, schema: Schema, version: int | str = "latest") -> bool: ...

    def register_schema(self, subject_name: str, schema: Schema) -> int: ...


@dataclass(frozen=True)
class SyncedSchema:
    """One schema after the sync: the registry's id, and whether this run registered it."""

    entry: RegistrySchema
    schema_id: int
    registered: bool


def schema_registry_sync(
    *, client: RegistryClient, entries: Sequence[RegistrySchema] | None = None
) -> list[SyncedSchema]:
    """Register ``entries`` (default: the whole catalogue) with the registry behind ``client``.

    Raises :class:`SchemaRegistryDisagrees` before registering a version that either side
    refuses, or when the verdicts differ; adopts the registry's ids on success.
    """
    entries = list(entries if entries is not None else registry_schemas())
    by_subject: dict[str, list[RegistrySchema]] = {}
    for entry in entries:
        by_subject.setdefault(entry.subject, []).append(entry)
    synced: list[SyncedSchema] = []
    for subject, versions in sorted(by_subject.items()):
        versions.sort(key=lambda item: item.version)
        client.set_compatibility(subject_name=subject, level=COMPATIBILITY)
        previous: RegistrySchema | None = None
        for entry in versions:
            synced.append(_version_sync(client, entry, previous))
            previous = entry
    registry_ids_adopt({(item.entry.event_type, item.entry.version): item.schema_id for item in synced})
    return synced


def _version_sync(client: RegistryClient, entry: RegistrySchema, previous: RegistrySchema | None) -> SyncedSchema:
    schema = Schema(entry.schema_str, schema_type="AVRO")
    registered = _lookup(client, entry, schema)
    if previous is not None:
        _verdicts_compare(client, entry, previous, schema, registered=registered is not None)
    newly = registered is None
    if registered is None:
        schema_id = client.register_schema(entry.subject, schema)
        logger.info("schema registry: registered %s v%d as id %d", entry.subject, entry.version, schema_id)
        registered = _lookup(client, entry, schema)
        if registered is None:
            raise SchemaRegistryDisagrees(f"{entry.subject}: the registry lost version {entry.version} it just took")
    if registered.version != entry.version:
        raise SchemaRegistryDisagrees(
            f"{entry.subject}: the registry holds {entry.event_type} v{entry.version} as its version "
            f"{registered.version}; the subject has schemas that are not the catalogue's"
        )
    assert registered.schema_id is not None
    return SyncedSchema(entry=entry, schema_id=registered.schema_id, registered=newly)


def _lookup(client: RegistryClient, entry: RegistrySchema, schema: Schema) -> RegisteredSchema | None:
    try:
        return client.lookup_schema(entry.subject, schema)
    except SchemaRegistryError as exc:
        if exc.error_code in _NOT_FOUND_CODES:
            return None
        raise


def _verdicts_compare(
    client: RegistryClient, entry: RegistrySchema, previous: RegistrySchema, schema: Schema, *, registered: bool
) -> None:
    try:
        schema_compatibility_check(previous=previous.schema, candidate=entry.schema)
        ours, why = True, ""
    except SchemaIncompatible as exc:
        ours, why = False, str(exc)
    theirs = client.test_compatibility(entry.subject, schema, version=previous.version)
    where = f"{entry.subject} v{previous.version} -> v{entry.version}"
    if ours != theirs:
        raise SchemaRegistryDisagrees(
            f"{where}: the project's rules say {'compatible' if ours else 'incompatible'}"
            f"{f' ({why})' if why else ''}, the registry says {'compatible' if theirs else 'incompatible'}"
        )
    if not ours and not registered:
        raise SchemaRegistryDisagrees(f"{where}: refused by the project's rules and by the registry: {why}")


_ensured_lock = threading.Lock()
_ensured_for: set[str] = set()
_failed_at: dict[str, float] = {}
# After a failed sync, callers get the failure at once for this long instead of waiting on the network again.
_RETRY_AFTER_SECONDS = 30.0


class SchemaRegistryUnavailable(RuntimeError):
    """The registry could not be reached recently; not tried again yet."""


def registry_ids_ensure() -> None:
    """With a real registry configured, sync once per process before the first Avro record is written.

    Without one the embedded ids are already right, and this returns at once. After a
    failure, calls within the next 30 s raise :class:`SchemaRegistryUnavailable` without
    trying (a console page asks once per event row).
    """
    url = settings.SCHEMA_REGISTRY_URL
    if not url or url in _ensured_for:
        return
    from apps.messaging.schema_registry.client import registry_client

    with _ensured_lock:
        if url in _ensured_for:
            return
        failed_at = _failed_at.get(url)
        if failed_at is not None and time.monotonic() - failed_at < _RETRY_AFTER_SECONDS:
            raise SchemaRegistryUnavailable(f"{url} failed {time.monotonic() - failed_at:.0f} s ago")
        try:
            schema_registry_sync(client=registry_client(url=url))
        except Exception:
            _failed_at[url] = time.monotonic()
            raise
        _ensured_for.add(url)
