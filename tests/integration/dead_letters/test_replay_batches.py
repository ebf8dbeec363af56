"""Bulk replay in batches: lone heads in one transaction, everything else one at a time, same results."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import override_settings

from apps.eventstore.types import RecordedEvent
from apps.messaging import registry
from apps.messaging.dead_letters import (
    DeadLetter,
    DeadLetterFilter,
    DeadLetterStatus,
    ReplayJobStatus,
    dead_letter_replay_job_request,
    dead_letter_replay_job_run,
)
from apps.messaging.dead_letters.models import DeadLetterAttempt
from apps.messaging.dead_letters.replay import replay_apply
from apps.messaging.dead_letters.replay_batch import lone_heads_replay
from tests.integration.dead_letters.conftest import GROUP, ListConsumer, host_deliver, order_stream
from tests.support.broker import KafkaSetup

pytestmark = pytest.mark.django_db


def _failing(consumer: ListConsumer, *, confirmations: int) -> list[int]:
    events = order_stream(confirmations=confirmations)
    consumer.failing.add(events[0].position)
    host_deliver(consumer, events)
    return [event.position for event in events]


@override_settings(DEAD_LETTER_REPLAY_CANARY_SIZE=2, DEAD_LETTER_REPLAY_STOP_FAILURE_SHARE=0.9)
def test_a_job_mixing_lone_heads_chains_and_a_still_failing_head_counts_each_once(
    consumer: ListConsumer, operator: User
) -> None:
    lone = [_failing(consumer, confirmations=0) for _ in range(6)]
    chains = [_failing(consumer, confirmations=2) for _ in range(2)]
    still_failing = _failing(consumer, confirmations=0)
    consumer.failing = {still_failing[0]}
    consumer.applied.clear()

    job = dead_letter_replay_job_request(
        filters=DeadLetterFilter(group_id=GROUP), rate_limit=None, actor=operator, enqueue=False
    )
    job = dead_letter_replay_job_run(job_id=job.id)

    assert job.status == ReplayJobStatus.DONE
    assert (job.replayed, job.failed_again, job.heads_done, job.heads_total) == (12, 1, 9, 9)
    assert sorted(consumer.applied) == sorted(p for stream in lone + chains for p in stream)
    for stream in chains:  # each stream's parked events after its head, in version order
        assert [p for p in consumer.applied if p in stream] == stream
    parked = DeadLetter.objects.filter(status=DeadLetterStatus.PARKED)
    assert list(parked.values_list("position", flat=True)) == still_failing
    replayed = DeadLetter.objects.filter(status=DeadLetterStatus.REPLAYED)
    assert replayed.count() == 12 and set(replayed.values_list("resolved_by", flat=True)) == {"opal"}
    assert DeadLetterAttempt.objects.filter(by="opal", error_class="").count() == 12


def test_a_batch_replays_lone_heads_once_and_leaves_chains_and_resolved_ones(consumer: ListConsumer) -> None:
    lone = [_failing(consumer, confirmations=0) for _ in range(3)]
    chain = _failing(consumer, confirmations=1)
    consumer.failing.clear()
    ids = list(DeadLetter.objects.filter(blocked_by__isnull=True).order_by("position").values_list("pk", flat=True))

    first = lone_heads_replay(group_id=GROUP, head_ids=ids, resolved_by="opal")
    again = lone_heads_replay(group_id=GROUP, head_ids=ids, resolved_by="opal")

    chain_head = DeadLetter.objects.get(position=chain[0]).pk
    assert first.left == (chain_head,)
    assert len(first.replayed) == 3 and again.replayed == ()
    assert consumer.applied == [stream[0] for stream in lone]
    assert DeadLetter.objects.get(pk=chain_head).status == DeadLetterStatus.PARKED


def test_a_failing_batch_changes_nothing_and_hands_every_head_back(consumer: ListConsumer) -> None:
    heads = [_failing(consumer, confirmations=0)[0] for _ in range(3)]
    consumer.failing = {heads[1]}
    consumer.applied.clear()
    ids = list(DeadLetter.objects.order_by("position").values_list("pk", flat=True))

    result = lone_heads_replay(group_id=GROUP, head_ids=ids, resolved_by="opal")

    assert result.replayed == () and result.left == tuple(ids)
    assert DeadLetter.objects.filter(status=DeadLetterStatus.PARKED).count() == 3
    assert not DeadLetterAttempt.objects.filter(by="opal").exists()


@pytest.mark.django_db(transaction=True)
def test_a_batch_racing_single_replays_of_the_same_heads_applies_each_once(
    consumer: ListConsumer, kafka: KafkaSetup
) -> None:
    # Committed for real here, the dead letters put their copies on the DLQ topic of a real broker.
    heads = [_failing(consumer, confirmations=0)[0] for _ in range(8)]
    consumer.failing.clear()
    ids = list(DeadLetter.objects.order_by("position").values_list("pk", flat=True))
    calls: list[int] = []
    lock = threading.Lock()

    def counted(events: Sequence[RecordedEvent]) -> None:
        time.sleep(0.05)  # hold the transaction open so the other side has to wait for the chain locks
        with lock:
            calls.extend(event.position for event in events)

    registry.consumer_register(
        registry.ConsumerSpec(group_id=GROUP, handle_batch=counted, handle_one=lambda event: counted([event]))
    )

    def batch() -> None:
        try:
            lone_heads_replay(group_id=GROUP, head_ids=ids, resolved_by="opal")
        finally:
            connection.close()

    def singles() -> None:
        try:
            for pk in reversed(ids):
                replay_apply(pk, resolved_by="olga")
        finally:
            connection.close()

    threads = [threading.Thread(target=batch), threading.Thread(target=singles)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert sorted(calls) == heads
    assert DeadLetter.objects.filter(status=DeadLetterStatus.REPLAYED).count() == 8
    assert DeadLetterAttempt.objects.filter(error_class="", by__in=["opal", "olga"]).count() == 8
