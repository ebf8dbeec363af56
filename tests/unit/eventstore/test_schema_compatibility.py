"""A new schema version must read the previous version's data (fastavro schema resolution)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from apps.eventstore.errors import SchemaIncompatible
from apps.eventstore.schemas import schema_catalogue, schema_catalogue_check, schema_compatibility_check
from apps.eventstore.schemas.compatibility import avro_samples


def _current(event_type: str) -> dict[str, Any]:
    versions = schema_catalogue().schemas[event_type]
    return copy.deepcopy(versions[max(versions)].schema)


def _next_of(event_type: str) -> dict[str, Any]:
    candidate = _current(event_type)
    candidate["doc"] = "a candidate next version"
    return candidate


def test_every_consecutive_version_in_the_repository_is_compatible() -> None:
    results = schema_catalogue_check(catalogue=schema_catalogue())
    steps = {(r.event_type, r.from_version, r.to_version) for r in results}
    expected = {
        (event_type, version, version + 1)
        for event_type, versions in schema_catalogue().schemas.items()
        for version in range(1, max(versions))
    }
    assert steps == expected
    assert ("OrderPlaced", 1, 2) in steps
    assert [r for r in results if not r.ok] == []


def test_a_new_required_field_without_default_is_refused() -> None:
    candidate = _next_of("OrderPlaced")
    candidate["fields"].append({"name": "channel", "type": "string"})
    with pytest.raises(SchemaIncompatible, match="'channel' is new and has no default"):
        schema_compatibility_check(previous=_current("OrderPlaced"), candidate=candidate)


def test_a_new_field_with_a_default_is_accepted() -> None:
    candidate = _next_of("OrderPlaced")
    candidate["fields"].append({"name": "channel", "type": "string", "default": "web"})
    schema_compatibility_check(previous=_current("OrderPlaced"), candidate=candidate)


def test_a_new_required_field_inside_the_lines_is_refused_by_path() -> None:
    candidate = _next_of("OrderPlaced")
    lines = next(f for f in candidate["fields"] if f["name"] == "lines")
    lines["type"]["items"]["fields"].append({"name": "discount_cents", "type": "long"})
    with pytest.raises(SchemaIncompatible, match=r"'lines\[\]\.discount_cents'"):
        schema_compatibility_check(previous=_current("OrderPlaced"), candidate=candidate)


def test_a_type_change_that_cannot_read_old_data_is_refused() -> None:
    candidate = _next_of("StockAdded")
    next(f for f in candidate["fields"] if f["name"] == "quantity")["type"] = "string"
    with pytest.raises(SchemaIncompatible, match="'quantity': type changed from long to string"):
        schema_compatibility_check(previous=_current("StockAdded"), candidate=candidate)


def test_a_promotion_avro_allows_is_accepted() -> None:
    previous = {"type": "record", "name": "Thing", "fields": [{"name": "n", "type": "int"}]}
    candidate = {"type": "record", "name": "Thing", "fields": [{"name": "n", "type": "long"}]}
    schema_compatibility_check(previous=previous, candidate=candidate)


def test_fastavro_refuses_what_the_structural_walk_leaves_to_it() -> None:
    # Dropping a union branch and an enum symbol only shows when data uses them.
    previous: dict[str, Any] = {
        "type": "record",
        "name": "Thing",
        "fields": [
            {"name": "note", "type": ["null", "string"]},
            {"name": "mode", "type": {"type": "enum", "name": "Mode", "symbols": ["AIR", "SEA"]}},
        ],
    }
    no_null = copy.deepcopy(previous)
    no_null["fields"][0]["type"] = ["string"]
    with pytest.raises(SchemaIncompatible, match="fastavro"):
        schema_compatibility_check(previous=previous, candidate=no_null)
    no_sea = copy.deepcopy(previous)
    no_sea["fields"][1]["type"]["symbols"] = ["AIR"]
    with pytest.raises(SchemaIncompatible, match="fastavro"):
        schema_compatibility_check(previous=previous, candidate=no_sea)


def test_samples_visit_every_union_branch_and_enum_symbol() -> None:
    schema = {
        "type": "record",
        "name": "Thing",
        "fields": [
            {"name": "note", "type": ["null", "string", "long"]},
            {"name": "mode", "type": {"type": "enum", "name": "Mode", "symbols": ["AIR", "SEA", "RAIL", "ROAD"]}},
        ],
    }
    samples = avro_samples(schema)
    assert {type(s["note"]) for s in samples} == {type(None), str, int}
    assert {s["mode"] for s in samples} == {"AIR", "SEA", "RAIL", "ROAD"}


def test_an_upcaster_whose_output_misses_the_new_field_is_refused() -> None:
    previous = copy.deepcopy(schema_catalogue().schemas["OrderPlaced"][1].schema)
    with pytest.raises(SchemaIncompatible, match="upcaster's output: field 'currency'"):
        schema_compatibility_check(previous=previous, candidate=_current("OrderPlaced"), upcast=lambda data: data)
