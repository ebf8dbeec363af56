"""Bulk replay jobs over the API: start, read, cancel; bad input is a clear 4xx and changes nothing."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from apps.messaging.dead_letters import DeadLetterReplayJob, dead_letter_replay_job_run
from tests.integration.dead_letters.conftest import GROUP, ListConsumer, host_deliver, order_stream
from tests.integration.dead_letters.test_api import bearer, post

pytestmark = pytest.mark.django_db


def test_an_operator_starts_reads_and_cancels_a_bulk_replay(consumer: ListConsumer, operator: User) -> None:
    events = order_stream(confirmations=1)
    consumer.failing = {events[0].position}
    host_deliver(consumer, events)
    client = bearer(operator)

    started = post(client, "/api/dead-letters/replay-jobs", {"group": GROUP, "rate_limit": 50})
    twice = post(client, "/api/dead-letters/replay-jobs", {"group": GROUP, "rate_limit": 50})
    job_id = started.json()["job_id"]
    read = client.get(f"/api/dead-letters/replay-jobs/{job_id}")
    cancelled = post(client, f"/api/dead-letters/replay-jobs/{job_id}/cancel")
    again = post(client, f"/api/dead-letters/replay-jobs/{job_id}/cancel")

    assert started.status_code == 202, started.content
    assert started.json()["status"] == "queued" and started.json()["filters"] == {"group_id": GROUP}
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "replay_job_active"
    assert read.status_code == 200 and read.json()["rate_limit"] == 50
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert again.status_code == 409
    assert dead_letter_replay_job_run(job_id=job_id).replayed == 0


def test_a_finished_job_reports_what_it_did(consumer: ListConsumer, operator: User) -> None:
    events = order_stream(confirmations=2)
    consumer.failing = {events[0].position}
    host_deliver(consumer, events)
    consumer.failing.clear()
    client = bearer(operator)
    job_id = post(client, "/api/dead-letters/replay-jobs", {"all": True}).json()["job_id"]

    dead_letter_replay_job_run(job_id=job_id)
    body = client.get(f"/api/dead-letters/replay-jobs/{job_id}").json()

    assert (body["status"], body["total"], body["replayed"], body["failed_again"], body["remaining"]) == (
        "done",
        3,
        3,
        0,
        0,
    )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"all": True, "group": GROUP},
        {"group": ""},
        {"group": GROUP, "rate_limit": 0},
        {"group": GROUP, "rate_limit": "fast"},
        {"group": GROUP, "colour": "red"},
        {"group": "a\u0000b"},
        {"created_after": "2026-12-06T04:20:00"},
        {"created_after": "yesterday"},
    ],
)
def test_bad_input_is_a_clear_4xx_and_starts_nothing(operator: User, body: dict[str, object]) -> None:
    response = post(bearer(operator), "/api/dead-letters/replay-jobs", body)
    assert 400 <= response.status_code < 500 and response.status_code != 404, response.content
    assert "error" in response.json()
    assert not DeadLetterReplayJob.objects.exists()


def test_a_viewer_reads_but_cannot_start_or_cancel(operator: User, viewer: User) -> None:
    job_id = post(bearer(operator), "/api/dead-letters/replay-jobs", {"group": GROUP}).json()["job_id"]
    client: Client = bearer(viewer)
    assert client.get(f"/api/dead-letters/replay-jobs/{job_id}").status_code == 200
    assert post(client, "/api/dead-letters/replay-jobs", {"group": "other"}).status_code == 403
    assert post(client, f"/api/dead-letters/replay-jobs/{job_id}/cancel").status_code == 403
    assert DeadLetterReplayJob.objects.get().status == "queued"
    assert client.get("/api/dead-letters/replay-jobs/00000000-0000-0000-0000-000000000000").status_code == 404
