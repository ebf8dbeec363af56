"""The catalogue holds one Avro record schema per event type and version, as files in the repository."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import fastavro
import pytest
from fastavro.validation import validate

from apps.eventstore.errors import UnknownEventType
from apps.eventstore.schemas import schema_catalogue, schema_current_version, schema_validate
from apps.eventstore.schemas.catalogue import SchemaCatalogueError, catalogue_load
from apps.orders.domain.events import EVENT_TYPES
from apps.orders.event_schemas import ORDER_SCHEMAS_ROOT
from tests.unit.eventstore.samples import DOMAIN_EVENTS, sample_data


def test_every_domain_event_type_has_a_schema_and_nothing_else_does() -> None:
    assert set(schema_catalogue().schemas) == set(EVENT_TYPES)
    assert set(DOMAIN_EVENTS) == set(EVENT_TYPES)


def test_schemas_are_files_per_type_and_version() -> None:
    for event_type, versions in schema_catalogue().schemas.items():
        for version, schema in versions.items():
            assert schema.path == ORDER_SCHEMAS_ROOT / event_type / f"v{version}.avsc"
            assert json.loads(schema.path.read_text()) == schema.schema


def test_order_placed_is_at_version_2_and_keeps_its_version_1_file() -> None:
    assert schema_current_version(event_type="OrderPlaced") == 2
    assert (ORDER_SCHEMAS_ROOT / "OrderPlaced" / "v1.avsc").is_file()
    v1_fields = [f["name"] for f in schema_catalogue().schemas["OrderPlaced"][1].schema["fields"]]
    assert "currency" not in v1_fields


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_what_the_domain_produces_is_valid_for_the_current_schema(event_type: str) -> None:
    version = schema_current_version(event_type=event_type)
    schema_validate(event_type=event_type, schema_version=version, data=sample_data(event_type))


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_current_schema_fields_are_the_domain_event_fields_in_order(event_type: str) -> None:
    schema = schema_catalogue().schemas[event_type][schema_current_version(event_type=event_type)].schema
    domain_fields = [field.name for field in dataclasses.fields(EVENT_TYPES[event_type])]
    assert [field["name"] for field in schema["fields"]] == domain_fields


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_domain_data_round_trips_through_fastavro_with_the_current_schema(event_type: str) -> None:
    parsed = schema_catalogue().schemas[event_type][schema_current_version(event_type=event_type)].parsed
    data = sample_data(event_type)
    assert validate(data, parsed)
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, parsed, data)
    buffer.seek(0)
    assert fastavro.schemaless_reader(buffer, parsed) == data


def test_money_and_quantities_are_avro_longs() -> None:
    placed = schema_catalogue().schemas["OrderPlaced"][2].schema
    lines = next(f for f in placed["fields"] if f["name"] == "lines")["type"]
    assert lines["type"] == "array"
    assert {f["name"]: f["type"] for f in lines["items"]["fields"]} == {
        "sku": "string",
        "quantity": "long",
        "unit_price_cents": "long",
    }
    authorized = schema_catalogue().schemas["PaymentAuthorized"][1].schema
    assert {f["name"]: f["type"] for f in authorized["fields"]}["amount_cents"] == "long"


def test_an_unknown_event_type_has_no_current_version() -> None:
    with pytest.raises(UnknownEventType, match="NoSuchEvent"):
        schema_current_version(event_type="NoSuchEvent")


def _write(root: Path, event_type: str, version: int, schema: object) -> None:
    (root / event_type).mkdir(parents=True, exist_ok=True)
    (root / event_type / f"v{version}.avsc").write_text(json.dumps(schema))


def _record(name: str) -> dict[str, object]:
    return {"type": "record", "name": name, "fields": [{"name": "id", "type": "string"}]}


def test_a_gap_in_versions_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "Thing", 1, _record("Thing"))
    _write(tmp_path, "Thing", 3, _record("Thing"))
    with pytest.raises(SchemaCatalogueError, match="without gaps"):
        catalogue_load(root=tmp_path)


def test_a_record_named_unlike_its_folder_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "Thing", 1, _record("Other"))
    with pytest.raises(SchemaCatalogueError, match="expected 'Thing'"):
        catalogue_load(root=tmp_path)


def test_a_malformed_avro_schema_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "Thing", 1, {"type": "record", "name": "Thing", "fields": [{"name": "id", "type": "strnig"}]})
    with pytest.raises(SchemaCatalogueError, match="strnig"):
        catalogue_load(root=tmp_path)


def test_bytes_cannot_be_part_of_an_event_schema_because_data_is_json(tmp_path: Path) -> None:
    _write(tmp_path, "Thing", 1, {"type": "record", "name": "Thing", "fields": [{"name": "blob", "type": "bytes"}]})
    with pytest.raises(SchemaCatalogueError, match="JSON"):
        catalogue_load(root=tmp_path)
