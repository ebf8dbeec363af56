"""Replaying many lone heads of one group in one transaction, through the group's ``handle_batch``.

A bulk replay of one-event chains spent most of its time on per-dead-letter round trips
(a lock, a row lock, a transaction, a status write, an attempt row, the handler's own
transaction). Here a batch of heads with nothing parked behind them, each of a different
stream, takes its chain locks in one query, is applied in one transaction as the consumer
host applies a batch, and is marked replayed with one update and one insert.

Anything else is handed back to be replayed one at a time with the single-replay code:
a head that is no longer a parked lone head once its lock is held (replayed meanwhile,
a follower parked behind it), and the whole batch when ``handle_batch`` raises (rolled
back, nothing changed), as the consumer host isolates a failing batch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

import apps.messaging.dead_letters.chain as chain
from apps.messaging.dead_letters.models import DeadLetter, DeadLetterAttempt, DeadLetterStatus
from apps.messaging.registry import consumer_spec

logger = logging.getLogger(__name__)
PARKED = DeadLetterStatus.PARKED


@dataclass(frozen=True)
class BatchReplay:
    """What a batch did: the heads replayed, and those left for a replay one at a time (in order)."""

    replayed: tuple[int, ...]
    left: tuple[int, ...]


class _BatchFailed(Exception):
    pass


def lone_heads_replay(*, group_id: str, head_ids: Sequence[int], resolved_by: str) -> BatchReplay:
    """Replay the lone parked heads among ``head_ids`` (all of ``group_id``) in one transaction."""
    try:
        spec = chain.failure_rules_wrap(consumer_spec(group_id))
    except KeyError:
        return BatchReplay(replayed=(), left=tuple(head_ids))
    rows = DeadLetter.objects.filter(pk__in=head_ids, group_id=group_id).values_list("pk", "stream_id")
    streams: dict[str, int] = {}
    for pk, stream_id in sorted(rows):
        if stream_id and stream_id not in streams:
            streams[stream_id] = pk
    candidates = set(streams.values())
    replayed: list[int] = []
    try:
        with transaction.atomic():
            chain.chain_locks(group_id=group_id, stream_ids=list(streams))
            heads = list(
                DeadLetter.objects.select_for_update()
                .filter(
                    pk__in=candidates, status=PARKED, blocked_by__isnull=True, position__isnull=False, group_id=group_id
                )
                .order_by("position")
            )
            followed = set(
                DeadLetter.objects.filter(blocked_by_id__in=[head.pk for head in heads], status=PARKED).values_list(
                    "blocked_by_id", flat=True
                )
            )
            heads = [head for head in heads if head.pk not in followed]
            events = [chain.dead_letter_event_read(head) for head in heads]
            handled = [e for e in events if spec.event_types is None or e.event_type in spec.event_types]
            if handled:
                try:
                    with transaction.atomic():
                        spec.handle_batch(handled)
                except Exception as exc:
                    logger.info("%s: replay batch of %d failed (%s); one at a time", group_id, len(handled), exc)
                    raise _BatchFailed from exc
            now = timezone.now()
            replayed = [head.pk for head in heads]
            DeadLetter.objects.filter(pk__in=replayed).update(
                status=DeadLetterStatus.REPLAYED, resolved_at=now, resolved_by=resolved_by
            )
            DeadLetterAttempt.objects.bulk_create(
                DeadLetterAttempt(dead_letter_id=pk, at=now, tries=1, by=resolved_by, error_class="", error_message="")
                for pk in replayed
            )
            if replayed:
                chain.read_model_changed_on_commit(source=chain.DEAD_LETTERS_SOURCE)
    except _BatchFailed:
        replayed = []
    chain.parked_streams_forget(group_id)
    done = set(replayed)
    return BatchReplay(replayed=tuple(replayed), left=tuple(pk for pk in head_ids if pk not in done))
