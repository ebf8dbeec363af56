"""The schema catalogue as a schema registry sees it: subjects, versions and schema ids.

Subjects follow Confluent's TopicRecordNameStrategy, ``<topic>-<full record name>``
(``order-events-eda.orders.events.OrderPlaced``): one topic carries many event types, so
each type is its own subject, and a producer configured with that strategy finds them.
A subject's versions are the event type's schema versions, 1..N.

Schema ids: the embedded registry's id of a schema is derived from its text (the first
31 bits of the SHA-256 of its JSON with sorted keys), so every process, today and after a
restart, gives the same schema the same id without a table, and a schema file that
changes gets a new id instead of silently re-using the old one. With a real registry
(``SCHEMA_REGISTRY_URL``) ids are the registry's: :mod:`.sync` adopts them at start, and
an id this process has not seen is asked of the registry and matched to the catalogue.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from apps.eventstore.schemas import schema_catalogue
from apps.eventstore.schemas.catalogue import SchemaCatalogue, SchemaCatalogueError


@dataclass(frozen=True)
class RegistrySchema:
    """One version of one event type's schema, with its subject and schema id."""

    event_type: str
    version: int
    subject: str
    schema_id: int
    schema_str: str
    schema: dict[str, Any]
    parsed: Any


@dataclass(frozen=True)
class _Table:
    catalogue: SchemaCatalogue
    topic: str
    by_type: dict[tuple[str, int], RegistrySchema]
    by_id: dict[int, RegistrySchema]
    by_subject: dict[str, dict[int, RegistrySchema]]


_lock = threading.Lock()
_table: _Table | None = None
# Ids a real registry gave our schemas, keyed by (event type, version); see registry_ids_adopt.
_adopted: dict[tuple[str, int], int] = {}


def registry_subject(*, topic: str, schema: dict[str, Any]) -> str:
    """The subject of a record schema on ``topic`` (TopicRecordNameStrategy)."""
    return f"{topic}-{schema_full_name(schema)}"


def schema_full_name(schema: dict[str, Any]) -> str:
    """The record's full name: ``namespace.name`` (or the name when it is already dotted or has no namespace)."""
    name = str(schema["name"])
    namespace = schema.get("namespace")
    return name if "." in name or not namespace else f"{namespace}.{name}"


def schema_text(schema: dict[str, Any]) -> str:
    """The schema as the registry serves it: compact JSON with sorted keys (stable across processes)."""
    return json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def embedded_schema_id(schema: dict[str, Any]) -> int:
    """The embedded registry's id for ``schema``: positive, 31 bits, from the schema's text."""
    digest = hashlib.sha256(schema_text(schema).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF or 1


def registry_schemas() -> list[RegistrySchema]:
    """Every schema of the catalogue, by event type and version."""
    return sorted(_current().by_type.values(), key=lambda item: (item.event_type, item.version))


def registry_schema_for(*, event_type: str, version: int) -> RegistrySchema:
    """The registry entry of ``event_type`` at ``version``; KeyError when the catalogue has none."""
    return _current().by_type[(event_type, version)]


def registry_schema_by_id(schema_id: int) -> RegistrySchema | None:
    """The schema with id ``schema_id``, or None when neither the catalogue nor the registry knows it.

    With a real registry, an id not adopted yet is fetched from it once and matched to the
    catalogue by content (another process may have registered it after this one started).
    """
    table = _current()
    found = table.by_id.get(schema_id)
    if found is None and settings.SCHEMA_REGISTRY_URL:
        from apps.messaging.schema_registry.client import registry_schema_fetch

        fetched = registry_schema_fetch(schema_id=schema_id)
        match = None if fetched is None else schema_match(fetched)
        if match is not None:
            registry_ids_adopt({(match.event_type, match.version): schema_id})
            found = _current().by_id.get(schema_id)
    return found


def registry_subjects() -> dict[str, dict[int, RegistrySchema]]:
    """Every subject with its versions."""
    return _current().by_subject


def schema_match(schema: dict[str, Any]) -> RegistrySchema | None:
    """The catalogue entry whose schema is ``schema`` (equal as JSON), if any."""
    for entry in _current().by_type.values():
        if entry.schema == schema:
            return entry
    return None


def registry_ids_adopt(ids: dict[tuple[str, int], int]) -> None:
    """Use a real registry's ids for these (event type, version) pairs from now on, in this process."""
    global _table
    with _lock:
        _adopted.update(ids)
        _table = None


def registry_ids_forget() -> None:
    """Back to the embedded ids (tests that switch between registries)."""
    global _table
    with _lock:
        _adopted.clear()
        _table = None


def _current() -> _Table:
    global _table
    catalogue = schema_catalogue()
    topic = settings.KAFKA_TOPIC
    table = _table
    if table is not None and table.catalogue is catalogue and table.topic == topic:
        return table
    with _lock:
        table = _table_build(catalogue, topic)
        _table = table
    return table


def _table_build(catalogue: SchemaCatalogue, topic: str) -> _Table:
    by_type: dict[tuple[str, int], RegistrySchema] = {}
    by_id: dict[int, RegistrySchema] = {}
    by_subject: dict[str, dict[int, RegistrySchema]] = {}
    for event_type, versions in catalogue.schemas.items():
        for version, event_schema in versions.items():
            key = (event_type, version)
            entry = RegistrySchema(
                event_type=event_type,
                version=version,
                subject=registry_subject(topic=topic, schema=event_schema.schema),
                schema_id=_adopted.get(key) or embedded_schema_id(event_schema.schema),
                schema_str=schema_text(event_schema.schema),
                schema=event_schema.schema,
                parsed=event_schema.parsed,
            )
            clash = by_id.get(entry.schema_id)
            if clash is not None and clash.schema != entry.schema:
                raise SchemaCatalogueError(
                    f"schema id {entry.schema_id} of {event_type} v{version} is also that of "
                    f"{clash.event_type} v{clash.version}; change either schema's doc to separate them"
                )
            by_type[key] = entry
            by_id.setdefault(entry.schema_id, entry)
            by_subject.setdefault(entry.subject, {})[version] = entry
    return _Table(catalogue=catalogue, topic=topic, by_type=by_type, by_id=by_id, by_subject=by_subject)
