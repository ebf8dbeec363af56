"""The dead-letter and failure-rule endpoints: viewers read, operators act, every answer in the API's shape."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from apps.accounts.models import AuditLog
from apps.accounts.services import api_token_create
from apps.messaging.dead_letters import DeadLetterStatus, FailureRule, dead_letter_record
from tests.integration.dead_letters.conftest import (
    GROUP,
    TOPIC,
    ListConsumer,
    dead_letter_of,
    host_deliver,
    order_stream,
)

pytestmark = pytest.mark.django_db


def bearer(user: User) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=user, name='tests')}")


def post(client: Client, path: str, body: Any = None) -> Any:
    return client.post(path, json.dumps(body or {}), content_type="application/json")


@pytest.fixture
def operator_client(operator: User) -> Client:
    return bearer(operator)


@pytest.fixture
def viewer_client(viewer: User) -> Client:
    return bearer(viewer)


def test_a_viewer_lists_dead_letters_with_filters_and_pages_and_sees_who_waits_behind_whom(
    consumer: ListConsumer, viewer_client: Client
) -> None:
    events = order_stream(confirmations=2)
    other = order_stream(confirmations=0)
    consumer.failing = {events[0].position, other[0].position}
    host_deliver(consumer, events + other)

    parked = viewer_client.get("/api/dead-letters", {"group": GROUP, "stream": events[0].stream_id})
    page = viewer_client.get("/api/dead-letters", {"page_size": 2, "page": 2})
    by_error = viewer_client.get("/api/dead-letters", {"error_class": "RuntimeError"})
    by_type = viewer_client.get("/api/dead-letters", {"event_type": "OrderConfirmed", "status": "parked"})

    assert parked.status_code == 200, parked.content
    items = parked.json()["items"]
    assert [item["position"] for item in items] == [e.position for e in reversed(events)]
    head_id = dead_letter_of(events[0]).pk
    assert [(i["blocked_by"], i["parked_behind"]) for i in items] == [(head_id, True), (head_id, True), (None, False)]
    assert page.json()["count"] == 4 and len(page.json()["items"]) == 2
    assert {item["position"] for item in by_error.json()["items"]} == {events[0].position, other[0].position}
    assert by_type.json()["count"] == 2


def test_the_detail_shows_the_traceback_raw_bytes_and_what_waits_behind(
    consumer: ListConsumer, viewer_client: Client
) -> None:
    events = order_stream(confirmations=1)
    consumer.failing = {events[0].position}
    host_deliver(consumer, events)
    poison = dead_letter_record(
        group_id=GROUP,
        event=None,
        raw_key=None,
        raw_value=b"\xffoops",
        topic=TOPIC,
        partition=2,
        offset=9,
        error=ValueError("undecodable"),
        attempts=1,
        first_failed_at=timezone.now(),
    )

    head = viewer_client.get(f"/api/dead-letters/{dead_letter_of(events[0]).pk}").json()
    raw = viewer_client.get(f"/api/dead-letters/{poison.pk}").json()
    missing = viewer_client.get("/api/dead-letters/999999")

    assert "RuntimeError" in head["traceback"]
    assert head["waiting_behind"] == [dead_letter_of(events[1]).pk]
    assert (
        raw["decodable"] is False and raw["raw_value_base64"] == "/29vcHM=" and raw["raw_value_preview"] == "\\xffoops"
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_an_operator_replays_one_and_the_answer_says_what_was_released(
    consumer: ListConsumer, operator_client: Client
) -> None:
    events = order_stream(confirmations=1)
    consumer.failing = {events[0].position}
    host_deliver(consumer, events)
    consumer.failing.clear()
    head = dead_letter_of(events[0])

    first = post(operator_client, f"/api/dead-letters/{head.pk}/replay")
    again = post(operator_client, f"/api/dead-letters/{head.pk}/replay")

    assert first.status_code == 200, first.content
    assert first.json()["outcome"] == "replayed" and first.json()["released"] == [dead_letter_of(events[1]).pk]
    assert again.json()["outcome"] == "already_replayed"
    assert consumer.applied == [e.position for e in events]


def test_replay_by_filter_answers_how_many_it_replayed(consumer: ListConsumer, operator_client: Client) -> None:
    first = order_stream(confirmations=1)
    second = order_stream(confirmations=0)
    consumer.failing = {first[0].position, second[0].position}
    host_deliver(consumer, first + second)
    consumer.failing.clear()

    response = post(operator_client, "/api/dead-letters/replay", {"group": GROUP})

    assert response.status_code == 200, response.content
    assert response.json() == {"replayed": 3, "failed": 0, "still_parked": 0}


@pytest.mark.parametrize("body", ["[]", "null", "123", "{}", '{"all": false}'])
def test_a_bulk_replay_with_a_malformed_or_empty_filter_replays_nothing(
    consumer: ListConsumer, operator_client: Client, body: str
) -> None:
    events = order_stream(confirmations=1)
    consumer.failing = {events[0].position}
    host_deliver(consumer, events)
    consumer.failing.clear()

    response = operator_client.post("/api/dead-letters/replay", body, content_type="application/json")

    assert response.status_code in {400, 422}, response.content
    assert dead_letter_of(events[0]).status == DeadLetterStatus.PARKED
    assert consumer.applied == []


def test_a_bulk_replay_of_everything_says_all(consumer: ListConsumer, operator_client: Client) -> None:
    events = order_stream(confirmations=1)
    consumer.failing = {events[0].position}
    host_deliver(consumer, events)
    consumer.failing.clear()

    response = post(operator_client, "/api/dead-letters/replay", {"all": True})

    assert response.json() == {"replayed": 2, "failed": 0, "still_parked": 0}


def test_skip_needs_a_reason_and_an_undecodable_one_cannot_be_replayed(
    consumer: ListConsumer, operator_client: Client
) -> None:
    poison = dead_letter_record(
        group_id=GROUP,
        event=None,
        raw_key=None,
        raw_value=b"\x00",
        topic=TOPIC,
        partition=0,
        offset=1,
        error=ValueError("undecodable"),
        attempts=1,
        first_failed_at=timezone.now(),
    )

    replay = post(operator_client, f"/api/dead-letters/{poison.pk}/replay")
    no_reason = post(operator_client, f"/api/dead-letters/{poison.pk}/skip", {"reason": ""})
    skipped = post(operator_client, f"/api/dead-letters/{poison.pk}/skip", {"reason": "garbage from a test producer"})

    assert replay.status_code == 409 and replay.json()["error"]["code"] == "not_replayable"
    assert no_reason.status_code == 422
    assert skipped.status_code == 200 and skipped.json()["outcome"] == "skipped"
    poison.refresh_from_db()
    assert poison.status == DeadLetterStatus.SKIPPED and poison.skip_reason == "garbage from a test producer"


def test_a_viewer_cannot_replay_skip_or_change_rules_and_is_audited(
    consumer: ListConsumer, viewer_client: Client
) -> None:
    events = order_stream(confirmations=0)
    consumer.failing = {events[0].position}
    host_deliver(consumer, events)
    head = dead_letter_of(events[0])

    responses = [
        post(viewer_client, f"/api/dead-letters/{head.pk}/replay"),
        post(viewer_client, f"/api/dead-letters/{head.pk}/skip", {"reason": "x"}),
        post(viewer_client, "/api/dead-letters/replay", {}),
        post(viewer_client, "/api/failure-rules", {"kind": "probability", "probability": 0.5}),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403, 403]
    assert all(r.json()["error"]["code"] == "forbidden" for r in responses)
    assert dead_letter_of(events[0]).status == DeadLetterStatus.PARKED
    assert AuditLog.objects.filter(outcome="refused", actor="vera").count() == 4
    assert viewer_client.get("/api/failure-rules").status_code == 200


def test_an_operator_creates_lists_and_switches_failure_rules(operator_client: Client) -> None:
    created = post(
        operator_client,
        "/api/failure-rules",
        {"group_id": GROUP, "kind": "field_regex", "field": "customer_id", "pattern": "^vip-"},
    )
    bad = post(operator_client, "/api/failure-rules", {"kind": "field_regex", "pattern": "(["})
    rule_id = created.json()["id"]
    off = post(operator_client, f"/api/failure-rules/{rule_id}/disable")
    on = post(operator_client, f"/api/failure-rules/{rule_id}/enable")
    listed = operator_client.get("/api/failure-rules")

    assert created.status_code == 201, created.content
    assert created.json()["description"].startswith(f"{GROUP} fails when customer_id ~ /^vip-/")
    assert bad.status_code == 422
    assert off.json()["enabled"] is False and on.json()["enabled"] is True
    assert [r["id"] for r in listed.json()] == [rule_id]
    assert FailureRule.objects.get(pk=rule_id).created_by == "opal"


def test_a_participant_rule_with_an_effect_goes_through_the_same_route_and_a_misfit_is_refused(
    operator_client: Client,
) -> None:
    created = post(
        operator_client,
        "/api/failure-rules",
        {
            "group_id": "participant.payment",
            "kind": "probability",
            "probability": 0.2,
            "effect": "delay",
            "delay_ms": 250,
        },
    )
    misfit = post(
        operator_client,
        "/api/failure-rules",
        {"group_id": GROUP, "kind": "probability", "probability": 0.2, "effect": "no_reply"},
    )

    assert created.status_code == 201, created.content
    assert created.json()["effect"] == "delay" and created.json()["delay_ms"] == 250
    assert created.json()["description"] == "participant.payment answers 250 ms late with p=0.2 (on)"
    assert misfit.status_code == 422, misfit.content
    assert "needs a participant target" in misfit.text
    assert FailureRule.objects.count() == 1
