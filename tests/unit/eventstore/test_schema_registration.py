"""An app hands its schema directory to the catalogue at start; the event store itself knows no event type."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.eventstore import schemas
from apps.eventstore.schemas import (
    schema_catalogue,
    schema_current_version,
    schema_current_versions,
    schema_directory_register,
    schema_validate,
)
from apps.eventstore.schemas.catalogue import SchemaCatalogueError
from apps.orders.event_schemas import ORDER_SCHEMAS_ROOT

EVENTSTORE_DIR = Path(schemas.__file__).resolve().parents[1]


@pytest.fixture
def catalogue_restored() -> Iterator[None]:
    """Registration is process-wide: put the catalogue back as it was after the test."""
    catalogue, current, checks = schemas._CATALOGUE, dict(schemas._CURRENT), dict(schemas._CHECKS)
    yield
    schemas._CATALOGUE = catalogue
    schemas._CURRENT.clear()
    schemas._CURRENT.update(current)
    schemas._CHECKS.clear()
    schemas._CHECKS.update(checks)


def _sample_directory(root: Path, event_type: str, *fields: str) -> Path:
    (root / event_type).mkdir(parents=True)
    schema = {"type": "record", "name": event_type, "fields": [{"name": f, "type": "string"} for f in fields]}
    (root / event_type / "v1.avsc").write_text(json.dumps(schema))
    return root


def test_a_registered_directory_adds_its_types_to_the_catalogue(tmp_path: Path, catalogue_restored: None) -> None:
    root = _sample_directory(tmp_path / "shipping", "ParcelBooked", "parcel_id")

    schema_directory_register(root=root)

    assert schema_current_version(event_type="ParcelBooked") == 1
    assert schema_current_versions()["ParcelBooked"] == 1
    schema_validate(event_type="ParcelBooked", schema_version=1, data={"parcel_id": "p-1"})
    assert root.resolve() in schema_catalogue().roots
    assert "OrderPlaced" in schema_catalogue().schemas


def test_registering_the_same_directory_twice_changes_nothing(catalogue_restored: None) -> None:
    before = schema_catalogue()
    schema_directory_register(root=ORDER_SCHEMAS_ROOT)
    assert schema_catalogue() is before


def test_a_type_another_directory_defines_is_refused_and_nothing_is_registered(
    tmp_path: Path, catalogue_restored: None
) -> None:
    root = _sample_directory(tmp_path / "rival", "OrderPlaced", "order_id")
    _sample_directory(root, "ParcelBooked", "parcel_id")
    before = schema_catalogue()

    with pytest.raises(SchemaCatalogueError, match="already registered"):
        schema_directory_register(root=root)

    assert schema_catalogue() is before
    assert "ParcelBooked" not in schema_current_versions()


def test_the_orders_app_registers_the_order_domain_schemas_at_start() -> None:
    assert ORDER_SCHEMAS_ROOT in schema_catalogue().roots
    assert schema_current_version(event_type="OrderPlaced") == 2


def test_the_event_store_names_no_event_type_and_holds_no_schema_file() -> None:
    event_types = set(schema_catalogue().schemas)
    sources = [path for path in EVENTSTORE_DIR.rglob("*.py") if "migrations" not in path.parts]
    named = [
        f"{path.relative_to(EVENTSTORE_DIR)}: {event_type}"
        for path in sources
        for event_type in event_types
        if event_type in path.read_text()
    ]
    assert named == []
    assert list(EVENTSTORE_DIR.rglob("*.avsc")) == []
