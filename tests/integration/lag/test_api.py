"""GET /api/consumers: groups with status, lag and partitions, projection lag; viewers only."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.test import Client

from apps.accounts.services import api_token_create
from apps.messaging.lag import NO_SAMPLES, consumer_lag_sample
from apps.messaging.registry import consumer_specs
from tests.integration.lag.conftest import LagTopic


def bearer(user: User) -> Client:
    return Client(headers={"Authorization": f"Bearer {api_token_create(user=user, name='test')}"})


def test_consumers_lists_each_group_with_status_lag_and_partitions(
    lag_topic: LagTopic, group_id: str, viewer: User
) -> None:
    lag_topic.produce({0: 4, 2: 1})
    lag_topic.commit(group_id, {0: 1, 2: 1})
    consumer_lag_sample()

    response = bearer(viewer).get("/api/consumers")

    assert response.status_code == 200
    body = response.json()
    assert body["topic"] == lag_topic.name
    groups = {group["group_id"]: group for group in body["groups"]}
    assert set(groups) == {spec.group_id for spec in consumer_specs()} | {group_id}
    mine = groups[group_id]
    assert mine["status"] == "OK"
    assert mine["total_lag"] == 3
    assert mine["registered"] is False
    assert mine["error"] == ""
    assert mine["sampled_at"] and mine["last_commit_at"]
    assert [
        (part["partition"], part["end_offset"], part["committed_offset"], part["lag"]) for part in mine["partitions"]
    ] == [(0, 4, 1, 3), (1, 0, None, 0), (2, 1, 1, 0)]
    assert set(mine["partitions"][0]) == {
        "partition",
        "end_offset",
        "committed_offset",
        "lag",
        "status",
        "last_commit_at",
    }
    assert {row["projection"] for row in body["projections"]} >= {"order_summary"}
    assert set(body["projections"][0]) == {
        "projection",
        "sampled_at",
        "head_position",
        "checkpoint_position",
        "lag_positions",
        "lag_seconds",
    }


def test_registered_groups_show_before_the_first_sample(viewer: User) -> None:
    session = Client()
    session.force_login(viewer)

    body = session.get("/api/consumers").json()

    assert body["groups"], "the worker's consumer groups are registered at start"
    assert {group["status"] for group in body["groups"]} == {NO_SAMPLES}
    assert all(group["registered"] and group["partitions"] == [] for group in body["groups"])
    assert body["projections"] == []


def test_consumers_needs_a_user_with_the_viewer_role(nobody: User) -> None:
    assert Client().get("/api/consumers").status_code == 401
    assert bearer(nobody).get("/api/consumers").status_code == 403


def test_consumers_is_in_the_openapi_schema(viewer: User) -> None:
    schema = bearer(viewer).get("/api/openapi.json").json()
    assert "get" in schema["paths"]["/api/consumers"]
