"""The embedded registry speaks Confluent's REST API over the catalogue; the sync refuses a registry that disagrees."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from confluent_kafka.schema_registry import RegisteredSchema, Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from django.test import Client
from pytest_django.live_server_helper import LiveServer

from apps.eventstore.errors import SchemaIncompatible
from apps.eventstore.schemas import schema_catalogue, schema_compatibility_check
from apps.messaging.schema_registry.catalogue import (
    RegistrySchema,
    embedded_schema_id,
    registry_ids_forget,
    registry_schema_by_id,
    registry_schema_for,
    registry_schemas,
    schema_text,
)
from apps.messaging.schema_registry.sync import SchemaRegistryDisagrees, schema_registry_sync
from apps.messaging.schema_registry.views import MEDIA_TYPE

BASE = "/schema-registry"
SUBJECT = "order-events-eda.orders.events.OrderPlaced"


@pytest.fixture
def web() -> Client:
    return Client(HTTP_HOST="localhost")


@pytest.fixture(autouse=True)
def embedded_ids() -> Any:
    registry_ids_forget()
    yield
    registry_ids_forget()


def _incompatible_order_placed() -> dict[str, Any]:
    """OrderPlaced v3 with a new field and no default: data written with v2 cannot be read."""
    schema = copy.deepcopy(schema_catalogue().schema_get(event_type="OrderPlaced", version=2).schema)
    schema["fields"].append({"name": "channel", "type": "string"})
    return schema


def test_subjects_are_one_per_event_type_with_the_catalogues_versions(web: Client) -> None:
    subjects = web.get(f"{BASE}/subjects")
    versions = web.get(f"{BASE}/subjects/{SUBJECT}/versions")
    latest = web.get(f"{BASE}/subjects/{SUBJECT}/versions/latest")
    first = web.get(f"{BASE}/subjects/{SUBJECT}/versions/1")

    assert subjects["Content-Type"] == MEDIA_TYPE
    assert SUBJECT in subjects.json()
    assert len(subjects.json()) == len(schema_catalogue().schemas)
    assert versions.json() == [1, 2]
    v2 = schema_catalogue().schema_get(event_type="OrderPlaced", version=2).schema
    assert latest.json() == {"subject": SUBJECT, "version": 2, "id": embedded_schema_id(v2), "schema": schema_text(v2)}
    assert (
        json.loads(first.json()["schema"]) == schema_catalogue().schema_get(event_type="OrderPlaced", version=1).schema
    )


def test_schema_ids_are_stable_and_distinct_and_served_by_id(web: Client) -> None:
    entries = registry_schemas()
    ids = [entry.schema_id for entry in entries]
    assert len(set(ids)) == len(ids)
    assert all(0 < schema_id < 2**31 for schema_id in ids)
    for entry in entries:
        answer = web.get(f"{BASE}/schemas/ids/{entry.schema_id}")
        assert answer.status_code == 200
        assert json.loads(answer.json()["schema"]) == entry.schema
        assert entry.schema_id == embedded_schema_id(entry.schema)  # no table: the text decides


@pytest.mark.parametrize(
    ("url", "status", "error_code"),
    [
        (f"{BASE}/subjects/order-events-Nope/versions", 404, 40401),
        (f"{BASE}/subjects/order-events-Nope/versions/1", 404, 40401),
        (f"{BASE}/subjects/{SUBJECT}/versions/3", 404, 40402),
        (f"{BASE}/subjects/{SUBJECT}/versions/zero", 422, 42202),
        (f"{BASE}/schemas/ids/7", 404, 40403),
        (f"{BASE}/schemas/ids/x%0A", 404, 40403),
        (f"{BASE}/no/such/route", 404, 40400),
    ],
)
def test_unknown_subjects_versions_and_ids_get_the_registrys_error_bodies(
    web: Client, url: str, status: int, error_code: int
) -> None:
    answer = web.get(url)

    assert answer.status_code == status
    assert answer["Content-Type"] == MEDIA_TYPE
    assert answer.json()["error_code"] == error_code
    assert answer.json()["message"]


def test_an_incompatible_version_is_refused_by_the_projects_check_and_by_the_registry(
    web: Client, live_server: LiveServer
) -> None:
    candidate = _incompatible_order_placed()
    current = schema_catalogue().schema_get(event_type="OrderPlaced", version=2).schema

    with pytest.raises(SchemaIncompatible, match="'channel' is new and has no default"):
        schema_compatibility_check(previous=current, candidate=candidate)
    answer = web.post(
        f"{BASE}/compatibility/subjects/{SUBJECT}/versions/latest",
        data=json.dumps({"schema": json.dumps(candidate)}),
        content_type=MEDIA_TYPE,
    )
    assert answer.status_code == 200
    assert answer.json()["is_compatible"] is False
    assert "channel" in answer.json()["messages"][0]
    client = SchemaRegistryClient({"url": f"{live_server.url}{BASE}"})
    assert client.test_compatibility(SUBJECT, Schema(json.dumps(candidate), "AVRO")) is False
    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema(SUBJECT, Schema(json.dumps(candidate), "AVRO"))
    assert refused.value.error_code == 42205
    assert client.get_versions(SUBJECT) == [1, 2]


def test_a_compatible_version_passes_both_checks(web: Client) -> None:
    candidate = _incompatible_order_placed()
    candidate["fields"][-1]["default"] = "web"

    schema_compatibility_check(
        previous=schema_catalogue().schema_get(event_type="OrderPlaced", version=2).schema, candidate=candidate
    )
    answer = web.post(
        f"{BASE}/compatibility/subjects/{SUBJECT}/versions/2",
        data=json.dumps({"schema": json.dumps(candidate), "schemaType": "AVRO"}),
        content_type=MEDIA_TYPE,
    )
    assert answer.json() == {"is_compatible": True, "messages": []}


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"schema": 5}', b'{"schema": "{\\"type\\": \\"record\\"}"}', b'{"schema": "\\"string\\""}'],
)
def test_a_malformed_candidate_is_a_42201_and_changes_nothing(web: Client, body: bytes) -> None:
    answer = web.post(f"{BASE}/compatibility/subjects/{SUBJECT}/versions/latest", data=body, content_type=MEDIA_TYPE)

    assert (answer.status_code, answer.json()["error_code"]) == (422, 42201)


def test_the_sync_against_the_embedded_registry_finds_every_schema_already_there(live_server: LiveServer) -> None:
    client = SchemaRegistryClient({"url": f"{live_server.url}{BASE}"})

    synced = schema_registry_sync(client=client)

    assert len(synced) == len(registry_schemas())
    assert not any(item.registered for item in synced)
    assert all(item.schema_id == embedded_schema_id(item.entry.schema) for item in synced)
    assert (
        client.lookup_schema(
            SUBJECT, Schema(registry_schema_for(event_type="OrderPlaced", version=1).schema_str)
        ).version
        == 1
    )


class PermissiveRegistry:
    """A registry whose subjects have compatibility NONE: it takes any schema, in order."""

    def __init__(self) -> None:
        self.subjects: dict[str, list[str]] = {}
        self.ids: dict[str, int] = {}
        self.levels: dict[str, str] = {}

    def set_compatibility(self, subject_name: str | None = None, level: str | None = None) -> Any:
        # NONE whatever is asked: the misconfigured registry the sync must catch.
        self.levels[subject_name or ""] = "NONE"
        return {"compatibility": "NONE"}

    def lookup_schema(self, subject_name: str, schema: Schema) -> RegisteredSchema:
        versions = self.subjects.get(subject_name, [])
        if schema.schema_str not in versions:
            raise SchemaRegistryError(404, 40403, "Schema not found")
        text = schema.schema_str
        return RegisteredSchema(
            schema_id=self.ids[text], guid=None, schema=schema, subject=subject_name, version=versions.index(text) + 1
        )

    def test_compatibility(self, subject_name: str, schema: Schema, version: int | str = "latest") -> bool:
        return True

    def register_schema(self, subject_name: str, schema: Schema) -> int:
        assert schema.schema_str is not None
        self.subjects.setdefault(subject_name, []).append(schema.schema_str)
        return self.ids.setdefault(schema.schema_str, 100 + len(self.ids))


def test_the_sync_refuses_a_registry_that_takes_a_version_the_projects_rules_refuse() -> None:
    v2 = registry_schema_for(event_type="OrderPlaced", version=2)
    candidate = _incompatible_order_placed()
    v3 = RegistrySchema(
        event_type="OrderPlaced",
        version=3,
        subject=v2.subject,
        schema_id=embedded_schema_id(candidate),
        schema_str=schema_text(candidate),
        schema=candidate,
        parsed=None,
    )
    registry = PermissiveRegistry()

    with pytest.raises(SchemaRegistryDisagrees, match=r"project's rules say incompatible.*registry says compatible"):
        schema_registry_sync(
            client=registry, entries=[registry_schema_for(event_type="OrderPlaced", version=1), v2, v3]
        )

    assert len(registry.subjects[v2.subject]) == 2  # v3 was never registered


def test_the_sync_adopts_the_registrys_own_ids_for_encoding_and_decoding() -> None:
    registry = PermissiveRegistry()

    synced = schema_registry_sync(client=registry)

    assert all(item.registered for item in synced)
    placed = registry_schema_for(event_type="OrderPlaced", version=2)
    assert placed.schema_id == registry.ids[placed.schema_str]
    assert registry_schema_by_id(placed.schema_id) == placed


def test_the_embedded_registry_is_off_when_a_real_one_is_configured(web: Client, settings: Any) -> None:
    settings.SCHEMA_REGISTRY_URL = "http://schema-registry:8081"

    answer = web.get(f"{BASE}/subjects")

    assert (answer.status_code, answer.json()["error_code"]) == (404, 40400)
    assert "SCHEMA_REGISTRY_URL" in answer.json()["message"]
