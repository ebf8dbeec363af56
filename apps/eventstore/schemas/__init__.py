"""The schema catalogue: one Avro record schema per event type and version.

The event store knows no domain: an app that owns event types registers a directory of
schema files, ``<EventType>/v<N>.avsc``, with :func:`schema_directory_register` when it
starts (the orders app does it in ``OrdersConfig.ready``), and its upcasters with
:func:`~apps.eventstore.schemas.upcasters.upcaster`. The highest version of a type is
current. Appends are validated against the schema of the version they are written with;
reads are upcast to the current version by the chain of registered upcasters.
``python manage.py check_event_schemas`` proves that every version can read the previous
one's data.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from apps.eventstore.errors import EventStoreError, SchemaValidationError, UnknownEventType
from apps.eventstore.schemas.catalogue import SchemaCatalogue, catalogue_load, catalogue_merge
from apps.eventstore.schemas.compatibility import (
    CompatibilityResult,
    schema_catalogue_check,
    schema_compatibility_check,
)
from apps.eventstore.schemas.upcasters import UPCASTERS
from apps.eventstore.schemas.validation import Checker, DataInvalid

__all__ = [
    "CompatibilityResult",
    "event_upcast",
    "schema_catalogue",
    "schema_catalogue_check",
    "schema_compatibility_check",
    "schema_current_version",
    "schema_directory_register",
    "schema_validate",
]

_CATALOGUE = SchemaCatalogue(roots=(), schemas={})
# Read on every stored event: a type already at its current version costs one lookup.
# Registration updates this dict in place, so the read-only view below stays current.
_CURRENT: dict[str, int] = {}
_CURRENT_VIEW: Mapping[str, int] = MappingProxyType(_CURRENT)
# Read on every appended event: the compiled check of each (type, version).
_CHECKS: dict[tuple[str, int], Checker] = {}


def schema_directory_register(*, root: Path) -> None:
    """Add every ``<EventType>/v<N>.avsc`` under ``root`` to the catalogue.

    Registering the same directory again does nothing; an event type that another
    directory already defines raises :class:`SchemaCatalogueError` and registers nothing.
    """
    global _CATALOGUE
    root = root.resolve()
    if root in _CATALOGUE.roots:
        return
    _CATALOGUE = catalogue_merge(_CATALOGUE, catalogue_load(root=root))
    _CURRENT.update(_CATALOGUE.current_versions)
    _CHECKS.update(
        ((event_type, version), schema.check)
        for event_type, versions in _CATALOGUE.schemas.items()
        for version, schema in versions.items()
    )


def schema_catalogue() -> SchemaCatalogue:
    """Every schema registered so far, from every registered directory."""
    return _CATALOGUE


def schema_current_version(*, event_type: str) -> int:
    """The schema version new events of this type are written with.

    Raises :class:`UnknownEventType` when the type has no schema.
    """
    try:
        return _CURRENT[event_type]
    except KeyError:
        raise UnknownEventType(f"no schema for event type {event_type!r}") from None


def schema_validate(*, event_type: str, schema_version: int, data: dict[str, Any]) -> None:
    """Raise :class:`SchemaValidationError` naming the field when ``data`` does not match the schema.

    Every field must be present with its type (``bool`` is not a number) and no other
    key is allowed; the error's ``field`` is a path such as ``lines[0].quantity``. An
    unknown type or version raises :class:`UnknownEventType`.
    """
    check = _CHECKS.get((event_type, schema_version))
    if check is None:
        check = _CATALOGUE.schema_get(event_type=event_type, version=schema_version).check
    try:
        check(data)
    except DataInvalid as exc:
        raise SchemaValidationError(
            event_type=event_type, schema_version=schema_version, field=exc.path, problem=exc.problem
        ) from None


def schema_current_versions() -> Mapping[str, int]:
    """Every known event type's current schema version, as a read-only mapping.

    For readers that check many events: data already at its type's current version needs
    no call to :func:`event_upcast`.
    """
    return _CURRENT_VIEW


def event_upcast(*, event_type: str, schema_version: int, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Turn data stored with an older schema version into the current shape.

    Returns ``(current_version, data)``. Data already at the current version is returned
    as it is; older data runs through the upcasters one version at a time. A type or
    version the catalogue does not know raises :class:`UnknownEventType`.
    """
    if _CURRENT.get(event_type) == schema_version:
        return schema_version, data
    current = _CURRENT.get(event_type)
    if current is None:
        raise UnknownEventType(f"no schema for event type {event_type!r}")
    if not 1 <= schema_version <= current:
        raise UnknownEventType(f"{event_type} has no schema version {schema_version} (current is {current})")
    for version in range(schema_version, current):
        step = UPCASTERS.get((event_type, version))
        if step is None:
            raise EventStoreError(f"no upcaster registered for {event_type} v{version} -> v{version + 1}")
        data = step(data)
    return current, data
