"""Load Avro schema files: ``<root>/<EventType>/v<N>.avsc``, one record schema per version.

Versions of a type are numbered from 1 without gaps; the highest one is current. Each
file is parsed by fastavro (which refuses a malformed schema) and compiled into a checker.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastavro

from apps.eventstore.errors import EventStoreError, UnknownEventType
from apps.eventstore.schemas.validation import Checker, validator_compile

_VERSION_FILE = re.compile(r"^v([1-9][0-9]*)\.avsc$")


class SchemaCatalogueError(EventStoreError):
    """The schema files themselves are wrong: malformed, misnamed or with a gap in versions."""


@dataclass(frozen=True)
class EventSchema:
    """One version of one event type's schema."""

    event_type: str
    version: int
    schema: dict[str, Any]
    parsed: Any
    check: Checker = field(repr=False)
    path: Path


@dataclass(frozen=True)
class SchemaCatalogue:
    """Every schema under some roots (directories of schema files), by event type and version."""

    roots: tuple[Path, ...]
    schemas: dict[str, dict[int, EventSchema]]

    @property
    def current_versions(self) -> dict[str, int]:
        return {event_type: max(versions) for event_type, versions in self.schemas.items()}

    def schema_get(self, *, event_type: str, version: int) -> EventSchema:
        """The schema of ``event_type`` at ``version``; :class:`UnknownEventType` when there is none."""
        versions = self.schemas.get(event_type)
        if versions is None:
            raise UnknownEventType(f"no schema for event type {event_type!r}")
        schema = versions.get(version)
        if schema is None:
            raise UnknownEventType(
                f"{event_type} has no schema version {version!r} (versions 1 to {max(versions)} exist)"
            )
        return schema


def catalogue_load(*, root: Path) -> SchemaCatalogue:
    """Read and compile every ``<EventType>/v<N>.avsc`` under ``root``."""
    schemas: dict[str, dict[int, EventSchema]] = {}
    for type_dir in sorted(path for path in root.iterdir() if path.is_dir()):
        versions: dict[int, EventSchema] = {}
        for file in sorted(type_dir.iterdir()):
            match = _VERSION_FILE.match(file.name)
            if match is None:
                raise SchemaCatalogueError(f"{file}: expected files named v<N>.avsc")
            version = int(match.group(1))
            versions[version] = _schema_load(file, event_type=type_dir.name, version=version)
        if not versions:
            continue
        if sorted(versions) != list(range(1, len(versions) + 1)):
            raise SchemaCatalogueError(f"{type_dir}: versions must run 1..N without gaps, found {sorted(versions)}")
        schemas[type_dir.name] = versions
    return SchemaCatalogue(roots=(root,), schemas=schemas)


def catalogue_merge(first: SchemaCatalogue, second: SchemaCatalogue) -> SchemaCatalogue:
    """One catalogue with the schemas of both; an event type that both define is refused."""
    shared = sorted(set(first.schemas) & set(second.schemas))
    if shared:
        raise SchemaCatalogueError(f"{second.roots}: event types {shared} are already registered from {first.roots}")
    return SchemaCatalogue(roots=first.roots + second.roots, schemas={**first.schemas, **second.schemas})


def _schema_load(file: Path, *, event_type: str, version: int) -> EventSchema:
    try:
        schema = json.loads(file.read_text(encoding="utf-8"))
        parsed = fastavro.parse_schema(schema)
        check = validator_compile(schema)
    except (ValueError, KeyError, TypeError, fastavro.schema.SchemaParseException) as exc:
        raise SchemaCatalogueError(f"{file}: {exc}") from exc
    if not isinstance(schema, dict) or schema.get("type") != "record":
        raise SchemaCatalogueError(f"{file}: an event schema is an Avro record")
    if str(schema.get("name", "")).rsplit(".", 1)[-1] != event_type:
        raise SchemaCatalogueError(f"{file}: the record is named {schema.get('name')!r}, expected {event_type!r}")
    return EventSchema(event_type=event_type, version=version, schema=schema, parsed=parsed, check=check, path=file)
