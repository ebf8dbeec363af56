"""The schema catalogue: one Avro record schema per event type and version.

TEMPORARY pass-through until the catalogue lands (validation, upcasters, compatibility).
"""

from typing import Any


def schema_current_version(*, event_type: str) -> int:
    """The schema version new events of this type are written with."""
    return 1


def schema_validate(*, event_type: str, schema_version: int, data: dict[str, Any]) -> None:
    """Raise SchemaValidationError naming the field when data does not match the schema."""


def event_upcast(*, event_type: str, schema_version: int, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Turn data stored with an older schema version into the current shape."""
    return schema_version, data
