"""The dead-letter pages: what they show, the impact before each action, and who may act."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from apps.accounts.models import AuditLog
from apps.eventstore.store import event_read
from apps.messaging.dead_letters import DeadLetter, DeadLetterReplayJob, DeadLetterStatus
from tests.integration.dead_letters.conftest import GROUP, ListConsumer, dead_letter_of, host_deliver, order_stream

pytestmark = pytest.mark.django_db

HOSTILE = "<script>alert('dl')</script>"


def _client(user: User, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def _parked_stream(consumer: ListConsumer, *, confirmations: int = 2) -> list[DeadLetter]:
    events = order_stream(customer_id=HOSTILE, confirmations=confirmations)
    consumer.failing.add(events[0].position)
    consumer.failure_message = HOSTILE + " at {position}"
    host_deliver(consumer, events)
    return [dead_letter_of(event) for event in events]


def test_the_list_shows_groups_and_rows_escaped_and_filters_by_text(consumer: ListConsumer, viewer: User) -> None:
    head, *_ = _parked_stream(consumer)
    client = _client(viewer)

    page = client.get("/dead-letters/").content.decode()
    filtered = client.get("/dead-letters/", {"q": f"at {head.position}", "status": ""}).content.decode()
    nothing = client.get("/dead-letters/", {"q": "no such text"}).content.decode()

    assert HOSTILE not in page and "&lt;script&gt;" in page
    assert head.fingerprint and head.fingerprint in page
    assert f'data-id="{head.pk}"' in filtered
    assert "No dead letter matches." in nothing
    # A viewer is shown no action.
    assert "Replay group" not in page and "Replay all that match" not in page


def test_bad_filters_are_a_400(viewer: User) -> None:
    client = _client(viewer)
    assert client.get("/dead-letters/", {"status": "exploded"}).status_code == 400
    assert client.get("/dead-letters/", {"from": "yesterday"}).status_code == 400
    assert client.get("/dead-letters/", {"group": "a\x00b"}).status_code == 400


def test_the_detail_shows_error_payload_attempts_sequence_and_links(consumer: ListConsumer, viewer: User) -> None:
    head, first, second = _parked_stream(consumer)

    page = _client(viewer).get(f"/dead-letters/{head.pk}/").content.decode()

    assert HOSTILE not in page
    assert "Traceback" in page and "consumer host" in page
    assert f"/aggregates/stream/{head.stream_id}" in page and "/trace/?correlation_id=" in page
    assert page.index(f'data-id="{first.pk}"') < page.index(f'data-id="{second.pk}"')
    assert "&quot;customer_id&quot;" in page or "customer_id" in page


def test_the_sequenced_view_counts_what_waits_behind_each_head(consumer: ListConsumer, viewer: User) -> None:
    head, *_ = _parked_stream(consumer, confirmations=3)
    page = _client(viewer).get("/dead-letters/sequenced/").content.decode()
    assert f'data-id="{head.pk}"' in page and ">3</a>" in page


def test_the_confirmation_shows_the_impact_before_anything_happens(consumer: ListConsumer, operator: User) -> None:
    head, *_ = _parked_stream(consumer)
    _parked_stream(consumer)
    client = _client(operator)

    one = client.get("/dead-letters/confirm/", {"action": "replay-stream", "id": str(head.pk)}).content.decode()
    bulk = client.get("/dead-letters/confirm/", {"action": "replay-filter", "group": GROUP}).content.decode()

    assert 'data-impact="dead_letters">1<' in one and 'data-impact="parked_behind">2<' in one
    assert 'data-impact="dead_letters">2<' in bulk and 'data-impact="parked_behind">4<' in bulk
    assert 'data-impact="streams">2<' in bulk and GROUP in bulk
    assert DeadLetter.objects.filter(status=DeadLetterStatus.PARKED).count() == 6
    assert not DeadLetterReplayJob.objects.exists()


def test_the_operator_replays_from_the_page_and_the_stream_follows_in_order(
    consumer: ListConsumer, operator: User
) -> None:
    head, first, second = _parked_stream(consumer)
    consumer.failing.clear()

    client = _client(operator)
    response = client.post(f"/dead-letters/{head.pk}/replay")
    twice = client.post(f"/dead-letters/{head.pk}/replay")

    assert response.status_code == 302 and twice.status_code == 302
    assert consumer.applied == [head.position, first.position, second.position]
    assert set(DeadLetter.objects.values_list("status", flat=True)) == {DeadLetterStatus.REPLAYED}
    page = client.get(response["Location"]).content.decode()
    assert "already replayed" in page and "applied" in page


def test_skip_needs_a_reason_and_releases_the_stream(consumer: ListConsumer, operator: User) -> None:
    head, *_ = _parked_stream(consumer)
    consumer.failing.clear()
    client = _client(operator)

    client.post(f"/dead-letters/{head.pk}/skip", {"reason": "  "})
    assert DeadLetter.objects.get(pk=head.pk).status == DeadLetterStatus.PARKED
    client.post(f"/dead-letters/{head.pk}/skip", {"reason": "known bad order"})

    head.refresh_from_db()
    assert head.status == DeadLetterStatus.SKIPPED and head.skip_reason == "known bad order"
    assert DeadLetter.objects.filter(status=DeadLetterStatus.REPLAYED).count() == 2


def test_a_bulk_replay_from_the_page_is_a_job_with_its_rate(consumer: ListConsumer, operator: User) -> None:
    _parked_stream(consumer)
    response = _client(operator).post("/dead-letters/replay-jobs/", {"group": GROUP, "rate": "25"})

    job = DeadLetterReplayJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/dead-letters/replay-jobs/{job.id}/"
    assert (job.filters, job.rate_limit, job.status) == ({"group_id": GROUP}, 25, "queued")
    page = _client(operator).get(response["Location"]).content.decode()
    assert f'id="replay-job-{job.id}"' in page and "Cancel" in page and "push.dead-letter-replay" in page
    assert _client(operator).post("/dead-letters/replay-jobs/", {"group": GROUP, "rate": "fast"}).status_code == 400


def test_an_active_job_polls_itself_so_a_missed_push_cannot_leave_it_running(
    consumer: ListConsumer, operator: User
) -> None:
    _parked_stream(consumer)
    _client(operator).post("/dead-letters/replay-jobs/", {"group": GROUP})
    job = DeadLetterReplayJob.objects.get()
    url = f"/dead-letters/replay-jobs/{job.id}/"

    queued = _client(operator).get(url, HTTP_HX_REQUEST="true").content.decode()
    DeadLetterReplayJob.objects.filter(pk=job.pk).update(status="stopped", detail="7 of 10 failed again")
    ended = _client(operator).get(url, HTTP_HX_REQUEST="true").content.decode()

    # The htmx poll gets the partial alone, which polls again only while the job is active.
    assert queued.startswith(f'<div class="replay-job" id="replay-job-{job.id}" data-status="queued"')
    assert f'hx-get="{url}" hx-trigger="every 3s"' in queued and "<html" not in queued
    assert 'data-status="stopped"' in ended and "hx-trigger" not in ended and "7 of 10 failed again" in ended
    # Back to the page after it was left: htmx restores history with a whole page, not the partial.
    restored = _client(operator).get(url, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in restored.content.decode()


def test_a_viewer_or_a_forged_request_gets_403_and_nothing_changes(
    consumer: ListConsumer, operator: User, viewer: User
) -> None:
    head, *_ = _parked_stream(consumer)
    consumer.failing.clear()
    job = DeadLetterReplayJob.objects.create(
        filters={"group_id": GROUP}, scope_key="k", canary_size=1, stop_failure_share=0.5, requested_by="opal"
    )
    posts = [
        (f"/dead-letters/{head.pk}/replay", {}),
        (f"/dead-letters/{head.pk}/replay-stream", {}),
        (f"/dead-letters/{head.pk}/skip", {"reason": "r"}),
        ("/dead-letters/replay-jobs/", {"group": GROUP}),
        (f"/dead-letters/replay-jobs/{job.id}/cancel", {}),
    ]
    for path, data in posts:
        assert _client(viewer).post(path, data).status_code == 403, path
        assert _client(operator, csrf=True).post(path, data).status_code == 403, path
    assert _client(viewer).get("/dead-letters/confirm/", {"action": "replay", "id": str(head.pk)}).status_code == 403

    assert set(DeadLetter.objects.values_list("status", flat=True)) == {DeadLetterStatus.PARKED}
    assert DeadLetterReplayJob.objects.get().status == "queued"
    assert consumer.applied == []
    assert AuditLog.objects.filter(outcome="refused").count() >= len(posts)


def test_bulk_replay_progress_is_pushed_as_the_pages_own_partial() -> None:
    from apps.console.push_renderers import LiveFilters, PushViewer, push_frame_render
    from apps.messaging.push import DeadLetterReplayProgressMessage

    message = DeadLetterReplayProgressMessage(
        type="dead_letter_replay.progress",
        job_id="6f1c0000-0000-4000-8000-000000000001",
        status="running",
        total=10,
        replayed=4,
        failed_again=1,
        remaining=5,
        new_dead_letters=0,
        rate=12.5,
        detail=HOSTILE,
    )
    no_filters = LiveFilters({})
    operator_frame = push_frame_render(message=message, viewer=PushViewer(is_operator=True, live_filters=no_filters))
    viewer_frame = push_frame_render(message=message, viewer=PushViewer(is_operator=False, live_filters=no_filters))

    assert (
        'id="replay-job-6f1c0000-0000-4000-8000-000000000001"' in operator_frame
        and 'hx-swap-oob="true"' in operator_frame
    )
    assert 'value="5"' in operator_frame and ">4<" in operator_frame
    assert "Cancel" in operator_frame and "Cancel" not in viewer_frame
    assert HOSTILE not in operator_frame


def test_the_detail_links_the_schema_the_record_was_written_with(consumer: ListConsumer, viewer: User) -> None:
    head, *_ = _parked_stream(consumer)

    page = _client(viewer).get(f"/dead-letters/{head.pk}/").content.decode()

    # Recorded by the stand-in host without the record's own schema: the stored event's version is shown.
    assert head.position is not None
    stored = event_read(position=head.position)
    assert stored is not None
    assert f"schema v{stored.schema_version} · id " in page
    assert 'class="schema-ref" href="/schemas/' in page
