"""Replaying and skipping dead letters: order, idempotence, failures, filters, roles and the audit log."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.accounts.models import AuditLog
from apps.messaging.dead_letters import (
    DeadLetter,
    DeadLetterFilter,
    DeadLetterNotReplayable,
    DeadLetterStatus,
    dead_letter_parked_streams,
    dead_letter_record,
    dead_letter_replay,
    dead_letter_replay_matching,
    dead_letter_replay_stream,
    dead_letter_skip,
)
from tests.integration.dead_letters.conftest import (
    GROUP,
    TOPIC,
    ListConsumer,
    dead_letter_of,
    host_deliver,
    order_stream,
)

pytestmark = pytest.mark.django_db


def test_successful_replay_releases_the_parked_events_in_order(consumer: ListConsumer, operator: User) -> None:
    events = order_stream(confirmations=3)
    consumer.failing.add(events[0].position)
    host_deliver(consumer, events)
    consumer.failing.clear()

    result = dead_letter_replay(dead_letter_id=dead_letter_of(events[0]).pk, actor=operator)

    assert result.outcome == "replayed"
    assert result.released == tuple(dead_letter_of(e).pk for e in events[1:])
    assert consumer.applied == [e.position for e in events]
    for event in events:
        dead_letter = dead_letter_of(event)
        assert dead_letter.status == DeadLetterStatus.REPLAYED
        assert dead_letter.resolved_by == "opal" and dead_letter.resolved_at is not None
    assert dead_letter_parked_streams(group_id=GROUP) == set()


def test_failed_replay_stays_parked_with_one_more_attempt_and_the_new_error(
    consumer: ListConsumer, operator: User
) -> None:
    events = order_stream(confirmations=1)
    consumer.failing.add(events[0].position)
    host_deliver(consumer, events, attempts=3)
    head = dead_letter_of(events[0])
    first_failed_at = head.first_failed_at

    consumer.failure, consumer.failure_message = LookupError, "read model row is missing"
    result = dead_letter_replay(dead_letter_id=head.pk, actor=operator)

    head.refresh_from_db()
    assert result.outcome == "failed" and "read model row is missing" in result.error
    assert head.status == DeadLetterStatus.PARKED
    assert head.attempts == 4
    assert head.error_class == "LookupError"
    assert "read model row is missing" in head.error_message
    assert head.first_failed_at == first_failed_at
    assert head.last_failed_at is not None and first_failed_at is not None
    assert head.last_failed_at > first_failed_at
    assert dead_letter_of(events[1]).status == DeadLetterStatus.PARKED
    entry = AuditLog.objects.get(action="dead_letter.replay")
    assert (entry.actor, entry.outcome, entry.parameters) == ("opal", "failed", {"dead_letter_id": head.pk})


def test_replaying_a_replayed_dead_letter_changes_nothing_and_says_so(consumer: ListConsumer, operator: User) -> None:
    events = order_stream(confirmations=0)
    consumer.failing.add(events[0].position)
    host_deliver(consumer, events)
    consumer.failing.clear()
    head = dead_letter_of(events[0])
    dead_letter_replay(dead_letter_id=head.pk, actor=operator)
    resolved_at = dead_letter_of(events[0]).resolved_at

    again = dead_letter_replay(dead_letter_id=head.pk, actor=operator)

    assert again.outcome == "already_replayed"
    assert "already replayed; nothing changed" in again.message
    assert consumer.applied == [events[0].position]
    assert dead_letter_of(events[0]).resolved_at == resolved_at


def test_release_stops_at_the_first_parked_event_that_fails_which_becomes_the_new_head(
    consumer: ListConsumer, operator: User
) -> None:
    events = order_stream(confirmations=3)
    consumer.failing.add(events[0].position)
    host_deliver(consumer, events)
    consumer.failing = {events[2].position}

    result = dead_letter_replay(dead_letter_id=dead_letter_of(events[0]).pk, actor=operator)

    new_head = dead_letter_of(events[2])
    assert result.outcome == "replayed" and result.new_head == new_head.pk
    assert consumer.applied == [events[0].position, events[1].position]
    assert new_head.status == DeadLetterStatus.PARKED and new_head.blocked_by is None
    assert new_head.attempts == 1 and new_head.error_class == "RuntimeError"
    assert dead_letter_of(events[3]).blocked_by_id == new_head.pk
    assert dead_letter_parked_streams(group_id=GROUP) == {events[0].stream_id}


def test_a_dead_letter_parked_behind_another_cannot_be_replayed_out_of_order(
    consumer: ListConsumer, operator: User
) -> None:
    events = order_stream(confirmations=1)
    consumer.failing.add(events[0].position)
    host_deliver(consumer, events)

    with pytest.raises(DeadLetterNotReplayable, match="waits behind dead letter"):
        dead_letter_replay(dead_letter_id=dead_letter_of(events[1]).pk, actor=operator)
    assert consumer.applied == []


def test_skip_needs_a_reason_marks_skipped_and_releases_those_behind(consumer: ListConsumer, operator: User) -> None:
    events = order_stream(confirmations=2)
    consumer.failing.add(events[0].position)
    host_deliver(consumer, events)
    head = dead_letter_of(events[0])

    with pytest.raises(ValidationError):
        dead_letter_skip(dead_letter_id=head.pk, reason="  ", actor=operator)
    result = dead_letter_skip(dead_letter_id=head.pk, reason="bad data from an old client", actor=operator)

    head.refresh_from_db()
    assert result.outcome == "skipped" and len(result.released) == 2
    assert head.status == DeadLetterStatus.SKIPPED and head.skip_reason == "bad data from an old client"
    assert consumer.applied == [events[1].position, events[2].position]
    outcomes = list(AuditLog.objects.filter(action="dead_letter.skip").order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["failed", "ok"]


def test_an_undecodable_dead_letter_can_only_be_skipped(consumer: ListConsumer, operator: User) -> None:
    dead_letter = dead_letter_record(
        group_id=GROUP,
        event=None,
        raw_key=None,
        raw_value=b"\x00garbage",
        topic=TOPIC,
        partition=0,
        offset=5,
        error=ValueError("not an event"),
        attempts=1,
        first_failed_at=timezone.now(),
    )

    with pytest.raises(DeadLetterNotReplayable, match="could not be decoded"):
        dead_letter_replay(dead_letter_id=dead_letter.pk, actor=operator)
    result = dead_letter_skip(dead_letter_id=dead_letter.pk, reason="foreign producer", actor=operator)

    assert result.outcome == "skipped"
    assert DeadLetter.objects.get(pk=dead_letter.pk).status == DeadLetterStatus.SKIPPED


def test_replay_stream_replays_the_whole_stream_in_order(consumer: ListConsumer, operator: User) -> None:
    events = order_stream(confirmations=2)
    other = order_stream(confirmations=0)
    consumer.failing = {events[0].position, other[0].position}
    host_deliver(consumer, events + other)
    consumer.failing = {other[0].position}

    summary = dead_letter_replay_stream(group_id=GROUP, stream_id=events[0].stream_id, actor=operator)

    assert (summary.replayed, summary.failed, summary.still_parked) == (3, 0, 0)
    assert consumer.applied == [e.position for e in events]
    assert dead_letter_of(other[0]).status == DeadLetterStatus.PARKED


def test_replay_by_filter_counts_replayed_failed_and_still_parked(consumer: ListConsumer, operator: User) -> None:
    passing = order_stream(confirmations=1)
    failing = order_stream(confirmations=1)
    unmatched = order_stream(confirmations=0)
    consumer.failing = {passing[0].position, failing[0].position}
    host_deliver(consumer, passing + failing)
    dead_letter_record(
        group_id=GROUP,
        event=unmatched[0],
        raw_key=None,
        raw_value=None,
        topic=TOPIC,
        partition=0,
        offset=unmatched[0].position,
        error=KeyError("sku"),
        attempts=3,
        first_failed_at=timezone.now(),
    )
    consumer.failing = {failing[0].position}

    summary = dead_letter_replay_matching(filters=DeadLetterFilter(error_class="RuntimeError"), actor=operator)

    assert (summary.replayed, summary.failed, summary.still_parked) == (2, 1, 1)
    assert consumer.applied == [p.position for p in passing]
    assert dead_letter_of(failing[1]).status == DeadLetterStatus.PARKED
    assert dead_letter_of(unmatched[0]).status == DeadLetterStatus.PARKED
    entry = AuditLog.objects.get(action="dead_letter.replay_matching")
    assert entry.parameters == {"error_class": "RuntimeError"} and entry.outcome == "failed"
    assert "replayed 2, failed 1, still parked 1" in entry.detail


def test_a_viewer_is_refused_replay_and_skip_and_each_refusal_is_audited(consumer: ListConsumer, viewer: User) -> None:
    events = order_stream(confirmations=0)
    consumer.failing.add(events[0].position)
    host_deliver(consumer, events)
    head = dead_letter_of(events[0])
    consumer.failing.clear()

    with pytest.raises(PermissionDenied):
        dead_letter_replay(dead_letter_id=head.pk, actor=viewer)
    with pytest.raises(PermissionDenied):
        dead_letter_skip(dead_letter_id=head.pk, reason="x", actor=viewer)
    with pytest.raises(PermissionDenied):
        dead_letter_replay_matching(filters=DeadLetterFilter(group_id=GROUP), actor=viewer)

    assert dead_letter_of(events[0]).status == DeadLetterStatus.PARKED
    assert consumer.applied == []
    refused = AuditLog.objects.filter(outcome="refused", actor="vera").order_by("id")
    assert [e.action for e in refused] == ["dead_letter.replay", "dead_letter.skip", "dead_letter.replay_matching"]
    assert refused[0].target == f"dead_letter:{head.pk}" and refused[0].user == viewer


def test_a_successful_replay_is_audited_with_who_what_and_outcome(consumer: ListConsumer, operator: User) -> None:
    events = order_stream(confirmations=1)
    consumer.failing.add(events[0].position)
    host_deliver(consumer, events)
    consumer.failing.clear()
    head = dead_letter_of(events[0])

    dead_letter_replay(dead_letter_id=head.pk, actor=operator)

    entry = AuditLog.objects.get(action="dead_letter.replay")
    assert (entry.actor, entry.user, entry.target, entry.outcome) == ("opal", operator, f"dead_letter:{head.pk}", "ok")
    assert "released 1 parked behind it" in entry.detail
    assert entry.created_at is not None


def test_an_empty_filter_replays_nothing_unless_everything_is_asked_for(consumer: ListConsumer, operator: User) -> None:
    events = order_stream(confirmations=0)
    consumer.failing.add(events[0].position)
    host_deliver(consumer, events)
    consumer.failing.clear()

    with pytest.raises(ValidationError):
        dead_letter_replay_matching(filters=DeadLetterFilter(), actor=operator)
    with pytest.raises(ValidationError):
        dead_letter_replay_matching(filters=DeadLetterFilter(group_id=GROUP), everything=True, actor=operator)
    assert dead_letter_of(events[0]).status == DeadLetterStatus.PARKED
    assert consumer.applied == []

    summary = dead_letter_replay_matching(filters=DeadLetterFilter(), everything=True, actor=operator)

    assert summary.replayed == 1
    assert dead_letter_of(events[0]).status != DeadLetterStatus.PARKED
