"""The console shows which schema a record was written with and links to it."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client

from apps.eventstore.types import RecordedEvent
from apps.messaging.codec import event_record_encode
from apps.messaging.dead_letters import DeadLetter
from apps.messaging.schema_registry.catalogue import registry_schema_for
from apps.messaging.schema_registry.sync import SchemaRegistryUnavailable, registry_ids_ensure
from apps.orders import handlers
from apps.orders.domain import commands as cmds
from apps.orders.handlers import CommandContext
from eda_console.embedded import free_port

pytestmark = pytest.mark.django_db


def test_a_stream_pages_events_link_to_the_schema_they_are_written_with(viewer_client: Client) -> None:
    ctx = CommandContext(actor="tester", correlation_id="corr-s")
    line = cmds.OrderLine(sku="sku-1", quantity=1, unit_price_cents=100)
    stream_id = handlers.place_order(
        cmds.PlaceOrder(order_id="o-schema", customer_id="c", currency="EUR", lines=(line,)), ctx
    ).stream_id
    placed = registry_schema_for(event_type="OrderPlaced", version=2)

    html = viewer_client.get(f"/aggregates/stream/{quote(stream_id)}").content.decode()

    assert f'href="/schemas/{placed.schema_id}/"' in html
    assert f"schema v2 · id {placed.schema_id}" in html


def test_the_schema_page_shows_the_subject_versions_and_the_registry_link(viewer_client: Client) -> None:
    v1 = registry_schema_for(event_type="OrderPlaced", version=1)
    v2 = registry_schema_for(event_type="OrderPlaced", version=2)

    answer = viewer_client.get(f"/schemas/{v1.schema_id}/")
    html = answer.content.decode()

    assert answer.status_code == 200
    assert v1.subject in html
    assert f'href="/schema-registry/schemas/ids/{v1.schema_id}"' in html
    assert f'href="/schemas/{v2.schema_id}/"' in html  # the other version, one click away
    assert "&quot;customer_id&quot;" in html


def test_an_unknown_schema_id_is_a_404_and_anonymous_users_go_to_the_login(viewer_client: Client) -> None:
    assert viewer_client.get("/schemas/7/").status_code == 404
    assert (
        Client().get(f"/schemas/{registry_schema_for(event_type='OrderPlaced', version=2).schema_id}/").status_code
        == 302
    )


def test_the_dead_letter_api_says_what_the_record_was_written_with_and_previews_avro_as_json(
    viewer_client: Client,
) -> None:
    schema = registry_schema_for(event_type="OrderConfirmed", version=1)
    event = RecordedEvent(5, "order-x", "order", 2, "OrderConfirmed", 1, {"order_id": "x"}, {}, dt.datetime.now(dt.UTC))
    value = event_record_encode(event, value_format="avro").value
    dead_letter = DeadLetter.objects.create(
        group_id="g",
        topic="order-events",
        partition=0,
        offset=3,
        raw_value=value,
        error_class="apps.messaging.codec.UndecodableMessage",
        record_format="avro",
        record_schema_id=schema.schema_id,
        record_schema_version=1,
    )

    body = viewer_client.get(f"/api/dead-letters/{dead_letter.pk}").json()

    assert (body["record_format"], body["record_schema_id"], body["record_schema_version"]) == (
        "avro",
        schema.schema_id,
        1,
    )
    preview = body["raw_value_preview"]
    assert preview.startswith(f"(avro, schema id {schema.schema_id}: OrderConfirmed v1)")
    assert json.loads(preview.split("\n", 1)[1]) == {"order_id": "x"}


def test_the_trace_links_each_event_to_its_schema(viewer_client: Client) -> None:
    ctx = CommandContext(actor="tester", correlation_id="corr-trace-schema")
    line = cmds.OrderLine(sku="sku-1", quantity=1, unit_price_cents=100)
    handlers.place_order(cmds.PlaceOrder(order_id="o-trace", customer_id="c", currency="EUR", lines=(line,)), ctx)
    placed = registry_schema_for(event_type="OrderPlaced", version=2)

    html = viewer_client.get("/trace/?correlation_id=corr-trace-schema").content.decode()

    assert f'href="/schemas/{placed.schema_id}/"' in html


def test_a_stream_page_still_renders_without_schema_links_when_the_real_registry_is_down(
    viewer_client: Client, settings: Any
) -> None:
    settings.SCHEMA_REGISTRY_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    ctx = CommandContext(actor="tester", correlation_id="corr-down")
    line = cmds.OrderLine(sku="sku-1", quantity=1, unit_price_cents=100)
    stream_id = handlers.place_order(
        cmds.PlaceOrder(order_id="o-down", customer_id="c", currency="EUR", lines=(line,)), ctx
    ).stream_id

    started = time.monotonic()
    answer = viewer_client.get(f"/aggregates/stream/{quote(stream_id)}")
    with pytest.raises(SchemaRegistryUnavailable):  # the failure is remembered, not retried per row
        registry_ids_ensure()

    assert answer.status_code == 200
    assert 'href="/schemas/' not in answer.content.decode()
    assert time.monotonic() - started < 30
