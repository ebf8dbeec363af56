"""/metrics: every family the pipeline promises, read from the database, and who may scrape it."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from apps.accounts.services import api_token_create
from apps.eventstore.store import append_to_stream, head_position
from apps.eventstore.types import NO_STREAM, NewEvent
from apps.messaging.dead_letters.models import DeadLetter, DeadLetterStatus
from apps.messaging.lag import consumer_lag_sample
from apps.messaging.relay.models import RelayCheckpoint
from apps.projections.models import ProjectionCheckpoint
from tests.integration.lag.conftest import LagTopic

SCRAPE_TOKEN = "prometheus-scrape-token-0123456789"


def order_place(order_id: str) -> None:
    append_to_stream(
        stream_id=f"order-{order_id}",
        stream_type="order",
        expected_version=NO_STREAM,
        events=[
            NewEvent(
                "OrderPlaced",
                {
                    "order_id": order_id,
                    "customer_id": "cust-1",
                    "currency": "EUR",
                    "lines": [{"sku": "sku-1", "quantity": 1, "unit_price_cents": 100}],
                },
            )
        ],
    )


def samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def key(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


@pytest.fixture
def scrape(settings: Any) -> Client:
    settings.METRICS_TOKEN = SCRAPE_TOKEN
    return Client(headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"})


def test_metrics_show_appended_published_applied_dead_letters_and_lag(
    lag_topic: LagTopic, group_id: str, scrape: Client
) -> None:
    # Positions come from a sequence that earlier tests have advanced (neither rollback
    # nor TRUNCATE resets it), so the expectations are relative to these three appends.
    for order in ("a", "b", "c"):
        order_place(order)
    before = head_position() - 3
    RelayCheckpoint.objects.create(name="default", position=before + 2)
    ProjectionCheckpoint.objects.update_or_create(projection="order_summary", defaults={"applied_count": 1})
    DeadLetter.objects.create(
        group_id=group_id, topic=lag_topic.name, partition=0, offset=0, status=DeadLetterStatus.PARKED
    )
    lag_topic.produce({0: 5})
    lag_topic.commit(group_id, {0: 2})
    consumer_lag_sample()

    response = scrape.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    found = samples(response.content.decode())
    assert found[key("eda_events_appended_total")] == before + 3
    assert found[key("eda_events_published_total", relay="default")] == before + 2
    assert found[key("eda_projection_events_applied_total", projection="order_summary")] == 1
    assert found[key("eda_projection_lag_positions", projection="order_summary")] == 3
    assert found[key("eda_projection_lag_seconds", projection="order_summary")] >= 0
    assert found[key("eda_dead_letters", status="parked")] == 1
    assert found[key("eda_dead_letters", status="replayed")] == 0
    group = {"group": group_id, "topic": lag_topic.name}
    assert found[key("eda_consumer_group_lag", **group)] == 3
    assert found[key("eda_consumer_group_partition_lag", partition="0", **group)] == 3
    assert found[key("eda_consumer_group_status", status="OK", **group)] == 1
    assert found[key("eda_consumer_group_status", status="ERR", **group)] == 0
    assert key("eda_consumer_group_sampled_timestamp_seconds", **group) in found


def test_a_scraper_asking_for_openmetrics_gets_it(db: None, scrape: Client) -> None:
    response = scrape.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.decode().rstrip().endswith("# EOF")


def test_an_anonymous_scrape_is_refused_with_a_bearer_challenge(db: None) -> None:
    response = Client().get("/metrics")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'


def test_a_wrong_token_is_refused(db: None, settings: Any) -> None:
    settings.METRICS_TOKEN = SCRAPE_TOKEN
    response = Client(headers={"Authorization": "Bearer not-the-token"}).get("/metrics")
    assert response.status_code == 401


def test_no_metrics_token_configured_means_no_token_gets_in(db: None, settings: Any) -> None:
    settings.METRICS_TOKEN = ""
    response = Client(headers={"Authorization": "Bearer "}).get("/metrics")
    assert response.status_code == 401


def test_a_viewer_may_scrape_with_a_session_or_an_api_token(viewer: User) -> None:
    session = Client()
    session.force_login(viewer)
    assert session.get("/metrics").status_code == 200

    token = api_token_create(user=viewer, name="prometheus")
    assert Client(headers={"Authorization": f"Bearer {token}"}).get("/metrics").status_code == 200


def test_a_user_without_the_viewer_role_is_forbidden(nobody: User) -> None:
    session = Client()
    session.force_login(nobody)
    assert session.get("/metrics").status_code == 403

    token = api_token_create(user=nobody, name="nope")
    assert Client(headers={"Authorization": f"Bearer {token}"}).get("/metrics").status_code == 403
