"""The projections API and the rebuild_projection command."""

from __future__ import annotations

import io
import uuid

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client

from apps.accounts.services import api_token_create
from apps.eventstore.types import RecordedEvent
from apps.projections.models import ProjectionRebuild
from apps.projections.projectors import PROJECTORS
from apps.projections.rebuild import projection_rebuild_run
from apps.projections.selectors import projection_digest
from tests.integration.projections.conftest import deliver_with_duplicates


def bearer(user: User) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=user, name='tests')}")


def test_operator_starts_a_rebuild_and_follows_it_to_the_end(
    operator: User, traffic: list[RecordedEvent], django_capture_on_commit_callbacks: object
) -> None:
    client = bearer(operator)
    with django_capture_on_commit_callbacks() as enqueued:  # type: ignore[operator]
        response = client.post("/api/projections/order_summary/rebuild", content_type="application/json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["projection"], body["status"], body["requested_by"]) == ("order_summary", "queued", "olga")
    assert len(enqueued) == 1

    again = client.post("/api/projections/order_summary/rebuild", content_type="application/json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "rebuild_active"

    projection_rebuild_run(job_id=body["job_id"])
    detail = client.get(f"/api/projections/rebuilds/{body['job_id']}").json()
    assert detail["status"] == "done"
    assert detail["events_done"] == detail["events_total"] == len(traffic)
    assert detail["rate"] > 0 and detail["finished_at"]

    listed = client.get("/api/projections/rebuilds", {"projection": "order_summary"}).json()
    assert [job["job_id"] for job in listed] == [body["job_id"]]


def test_viewer_reads_status_but_may_not_rebuild(viewer: User, traffic: list[RecordedEvent]) -> None:
    client = bearer(viewer)
    deliver_with_duplicates("stock_level", traffic)

    response = client.get("/api/projections")
    assert response.status_code == 200
    projections = {item["name"]: item for item in response.json()}
    assert set(projections) == set(PROJECTORS)
    stock = projections["stock_level"]
    assert stock["status"] == "ok"
    assert (stock["lag_positions"], stock["lag_seconds"]) == (0, 0.0)
    assert stock["head_position"] == traffic[-1].position
    assert stock["consumer_group"] == "projection.stock_level"
    assert stock["last_rebuild"] is None
    summary = projections["order_summary"]
    assert summary["status"] == "stalled"
    first_order = next(event for event in traffic if event.event_type == "OrderPlaced")
    assert summary["lag_positions"] == traffic[-1].position - first_order.position + 1
    assert summary["lag_seconds"] > 0

    refused = client.post("/api/projections/stock_level/rebuild", content_type="application/json")
    assert refused.status_code == 403
    assert not ProjectionRebuild.objects.exists()


def test_cancel_over_the_api_and_unknown_names_and_jobs(operator: User) -> None:
    client = bearer(operator)
    assert client.post("/api/projections/nope/rebuild", content_type="application/json").status_code == 404
    assert client.get(f"/api/projections/rebuilds/{uuid.uuid4()}").status_code == 404

    job_id = client.post("/api/projections/stock_level/rebuild", content_type="application/json").json()["job_id"]
    cancelled = client.post(f"/api/projections/rebuilds/{job_id}/cancel", content_type="application/json")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert (
        client.post(f"/api/projections/rebuilds/{job_id}/cancel", content_type="application/json").json()["error"][
            "code"
        ]
        == "not_cancellable"
    )

    listed = {item["name"]: item for item in client.get("/api/projections").json()}
    assert listed["stock_level"]["last_rebuild"]["status"] == "cancelled"


def test_rebuild_command_runs_in_the_foreground_with_a_progress_bar(traffic: list[RecordedEvent]) -> None:
    deliver_with_duplicates("order_activity", traffic)
    digest = projection_digest(name="order_activity")
    out = io.StringIO()

    call_command("rebuild_projection", "order_activity", "--batch-size", "100", stdout=out)

    job = ProjectionRebuild.objects.get()
    assert job.status == "done" and job.requested_by.startswith("cli:")
    assert "order_activity" in out.getvalue() and "the rebuilt model is live" in out.getvalue()
    assert projection_digest(name="order_activity") == digest


def test_rebuild_command_refuses_an_unknown_projection(db: None) -> None:
    with pytest.raises(CommandError, match="no projection is called 'nope'"):
        call_command("rebuild_projection", "nope", stdout=io.StringIO())
