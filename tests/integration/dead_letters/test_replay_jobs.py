"""Bulk replay as a job: impact first, canary, self-stop, rate limit, cancel, roles, groups and filters."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from apps.accounts.models import AuditLog
from apps.messaging.dead_letters import (
    DeadLetter,
    DeadLetterFilter,
    DeadLetterReplayJob,
    DeadLetterStatus,
    ReplayJobAlreadyActive,
    ReplayJobNotCancellable,
    ReplayJobStatus,
    dead_letter_failure_groups,
    dead_letter_one_impact,
    dead_letter_replay_impact,
    dead_letter_replay_job_cancel,
    dead_letter_replay_job_request,
    dead_letter_replay_job_run,
)
from apps.messaging.dead_letters.selectors import dead_letter_list
from tests.integration.dead_letters.conftest import GROUP, ListConsumer, host_deliver, order_stream
from tests.support.broker import KafkaSetup

pytestmark = pytest.mark.django_db


def _failing_streams(consumer: ListConsumer, *, streams: int, confirmations: int = 1) -> list[list[int]]:
    """``streams`` order streams whose first event fails: each a head with ``confirmations`` parked behind."""
    positions = []
    for _ in range(streams):
        events = order_stream(confirmations=confirmations)
        consumer.failing.add(events[0].position)
        host_deliver(consumer, events)
        positions.append([event.position for event in events])
    return positions


def test_groups_count_failures_by_fingerprint_with_groups_and_times(consumer: ListConsumer) -> None:
    _failing_streams(consumer, streams=3)
    consumer.failure = LookupError
    _failing_streams(consumer, streams=2)

    groups = dead_letter_failure_groups()

    assert [(group.count, group.fingerprint.split(" @ ")[0]) for group in groups] == [
        (3, "RuntimeError"),
        (2, "LookupError"),
    ]
    assert all(group.fingerprint.split(" @ ")[1].startswith("apps/") for group in groups)
    assert all(group.group_ids == (GROUP,) for group in groups)
    assert all(group.first_seen and group.last_seen and group.first_seen <= group.last_seen for group in groups)


def test_the_flat_list_filters_by_fingerprint_and_message_text(consumer: ListConsumer) -> None:
    _failing_streams(consumer, streams=2)
    consumer.failure, consumer.failure_message = LookupError, "row {position} is missing"
    [[lookup_head, _]] = _failing_streams(consumer, streams=1)
    fingerprint = DeadLetter.objects.get(position=lookup_head).fingerprint

    by_group = dead_letter_list(filters=DeadLetterFilter(fingerprint=fingerprint))
    by_text = dead_letter_list(filters=DeadLetterFilter(message_contains=f"ROW {lookup_head} IS"))

    assert [row.position for row in by_group] == [lookup_head]
    assert [row.position for row in by_text] == [lookup_head]


def test_impact_counts_heads_parked_events_streams_and_groups(consumer: ListConsumer) -> None:
    positions = _failing_streams(consumer, streams=3, confirmations=2)

    impact = dead_letter_replay_impact(filters=DeadLetterFilter(group_id=GROUP))
    one = dead_letter_one_impact(dead_letter_id=DeadLetter.objects.get(position=positions[0][0]).pk)

    assert (impact.dead_letters, impact.parked_behind, impact.total, impact.stream_count) == (3, 6, 9, 3)
    assert impact.group_ids == (GROUP,)
    assert (one.dead_letters, one.parked_behind, one.stream_count) == (1, 2, 1)


def test_a_bulk_replay_replays_exactly_its_impact_and_reports_it(consumer: ListConsumer, operator: User) -> None:
    _failing_streams(consumer, streams=4, confirmations=2)
    consumer.failing.clear()
    impact = dead_letter_replay_impact(filters=DeadLetterFilter(group_id=GROUP))

    job = dead_letter_replay_job_request(
        filters=DeadLetterFilter(group_id=GROUP), rate_limit=None, actor=operator, enqueue=False
    )
    job = dead_letter_replay_job_run(job_id=job.id)

    assert job.status == ReplayJobStatus.DONE
    assert (job.total, job.replayed, job.failed_again, job.remaining, job.new_dead_letters) == (
        impact.total,
        12,
        0,
        0,
        0,
    )
    assert not DeadLetter.objects.filter(status=DeadLetterStatus.PARKED).exists()
    assert AuditLog.objects.filter(action="dead_letter.replay_job", actor="opal", outcome="ok").count() == 1
    finished = AuditLog.objects.get(action="dead_letter.replay_job.finished")
    assert finished.parameters["replayed"] == 12


@override_settings(DEAD_LETTER_REPLAY_CANARY_SIZE=3, DEAD_LETTER_REPLAY_STOP_FAILURE_SHARE=0.5)
def test_a_bulk_replay_that_fails_again_stops_after_its_canary_batch(consumer: ListConsumer, operator: User) -> None:
    _failing_streams(consumer, streams=10, confirmations=0)

    job = dead_letter_replay_job_request(
        filters=DeadLetterFilter(group_id=GROUP), rate_limit=None, actor=operator, enqueue=False
    )
    job = dead_letter_replay_job_run(job_id=job.id)

    assert job.status == ReplayJobStatus.STOPPED
    assert (job.heads_done, job.failed_again, job.replayed) == (3, 3, 0)
    assert "failed again" in job.detail
    assert DeadLetter.objects.filter(status=DeadLetterStatus.PARKED).count() == 10
    # Only the canary was tried again: the seven others keep their single recorded try set.
    assert sorted(DeadLetter.objects.values_list("attempts", flat=True)) == [3] * 7 + [4] * 3


def test_new_dead_letters_arriving_during_a_job_are_reported(consumer: ListConsumer, operator: User) -> None:
    _failing_streams(consumer, streams=2, confirmations=0)
    consumer.failing.clear()
    job = dead_letter_replay_job_request(
        filters=DeadLetterFilter(group_id=GROUP), rate_limit=None, actor=operator, enqueue=False
    )
    DeadLetterReplayJob.objects.filter(pk=job.pk).update(started_after_id=0)
    job = dead_letter_replay_job_run(job_id=job.id)
    assert job.status == ReplayJobStatus.DONE and job.new_dead_letters == 0

    consumer.failure = LookupError
    started_after = DeadLetter.objects.order_by("-pk").values_list("pk", flat=True).first()
    _failing_streams(consumer, streams=1, confirmations=0)
    assert DeadLetter.objects.filter(pk__gt=started_after or 0, blocked_by__isnull=True).count() == 1


def test_the_same_bulk_replay_asked_twice_is_queued_once(consumer: ListConsumer, operator: User) -> None:
    _failing_streams(consumer, streams=1)
    first = dead_letter_replay_job_request(
        filters=DeadLetterFilter(group_id=GROUP), rate_limit=10, actor=operator, enqueue=False
    )
    with pytest.raises(ReplayJobAlreadyActive) as refused:
        dead_letter_replay_job_request(
            filters=DeadLetterFilter(group_id=GROUP), rate_limit=10, actor=operator, enqueue=False
        )
    assert refused.value.job.pk == first.pk
    assert DeadLetterReplayJob.objects.count() == 1
    assert AuditLog.objects.filter(action="dead_letter.replay_job", outcome="refused").count() == 1


def test_a_job_whose_runner_went_silent_does_not_hold_its_filter_for_ever(
    consumer: ListConsumer, operator: User
) -> None:
    _failing_streams(consumer, streams=1)
    lost = dead_letter_replay_job_request(
        filters=DeadLetterFilter(group_id=GROUP), rate_limit=None, actor=operator, enqueue=False
    )
    DeadLetterReplayJob.objects.filter(pk=lost.pk).update(
        status=ReplayJobStatus.RUNNING, heartbeat_at=timezone.now() - dt.timedelta(minutes=3)
    )

    again = dead_letter_replay_job_request(
        filters=DeadLetterFilter(group_id=GROUP), rate_limit=None, actor=operator, enqueue=False
    )

    lost.refresh_from_db()
    assert lost.status == ReplayJobStatus.FAILED and "abandoned" in lost.detail
    assert again.status == ReplayJobStatus.QUEUED


def test_a_viewer_cannot_start_or_cancel_a_bulk_replay(consumer: ListConsumer, operator: User, viewer: User) -> None:
    _failing_streams(consumer, streams=1)
    with pytest.raises(PermissionDenied):
        dead_letter_replay_job_request(filters=DeadLetterFilter(group_id=GROUP), rate_limit=None, actor=viewer)
    assert not DeadLetterReplayJob.objects.exists()
    job = dead_letter_replay_job_request(
        filters=DeadLetterFilter(group_id=GROUP), rate_limit=None, actor=operator, enqueue=False
    )
    with pytest.raises(PermissionDenied):
        dead_letter_replay_job_cancel(job_id=job.id, actor=viewer)
    job.refresh_from_db()
    assert job.status == ReplayJobStatus.QUEUED


def test_bad_requests_are_refused_and_queue_nothing(operator: User) -> None:
    for kwargs in (
        {"filters": DeadLetterFilter(), "rate_limit": None},
        {"filters": DeadLetterFilter(group_id=GROUP), "everything": True, "rate_limit": None},
        {"filters": DeadLetterFilter(group_id=GROUP), "rate_limit": 0},
    ):
        with pytest.raises(ValidationError):
            dead_letter_replay_job_request(actor=operator, enqueue=False, **kwargs)  # type: ignore[arg-type]
    assert not DeadLetterReplayJob.objects.exists()


def test_a_job_cancelled_before_it_starts_replays_nothing(consumer: ListConsumer, operator: User) -> None:
    _failing_streams(consumer, streams=2)
    consumer.failing.clear()
    job = dead_letter_replay_job_request(
        filters=DeadLetterFilter(group_id=GROUP), rate_limit=None, actor=operator, enqueue=False
    )
    dead_letter_replay_job_cancel(job_id=job.id, actor=operator)

    job = dead_letter_replay_job_run(job_id=job.id)

    assert job.status == ReplayJobStatus.CANCELLED and job.replayed == 0
    assert DeadLetter.objects.filter(status=DeadLetterStatus.PARKED).count() == 4
    with pytest.raises(ReplayJobNotCancellable):
        dead_letter_replay_job_cancel(job_id=job.id, actor=operator)


def _run_and_disconnect(job_id: object) -> None:
    try:
        dead_letter_replay_job_run(job_id=str(job_id))
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_the_rate_limit_paces_the_replay_and_a_cancel_stops_it_midway(
    consumer: ListConsumer, operator: User, kafka: KafkaSetup
) -> None:
    # Committed for real here, the dead letters put their copies on the DLQ topic of a real broker.
    _failing_streams(consumer, streams=30, confirmations=0)
    consumer.failing.clear()
    job = dead_letter_replay_job_request(
        filters=DeadLetterFilter(group_id=GROUP), rate_limit=10, actor=operator, enqueue=False
    )
    started = time.monotonic()
    runner = threading.Thread(target=_run_and_disconnect, args=(job.id,))
    runner.start()
    time.sleep(1.0)
    dead_letter_replay_job_cancel(job_id=job.id, actor=operator)
    runner.join(timeout=10)
    elapsed = time.monotonic() - started

    job.refresh_from_db()
    assert not runner.is_alive() and elapsed < 5
    assert job.status == ReplayJobStatus.CANCELLED
    # At 10 events/s about ten in the first second: far from all 30, and not more than the rate allows.
    assert 3 <= job.replayed <= 14
    assert DeadLetter.objects.filter(status=DeadLetterStatus.REPLAYED).count() == job.replayed
    assert DeadLetter.objects.filter(status=DeadLetterStatus.PARKED).count() == 30 - job.replayed
