"""Dead letters a rebuild made moot: resolved with the swap, their parked followers released after it.

A rebuild reads the event store, not Kafka, and applies every event up to the position it
swapped in at, the ones its group dead-lettered included. Those dead letters are resolved
``resolved_by_rebuild`` in the swap transaction, so they stop counting as waiting exactly
when the new read model goes live. The events parked behind them that the rebuild did not
reach are released afterwards, in order, by the chain's own release (outside the
projection's lock: a release takes the chain lock first and the projection's lock second,
and the swap must not take them the other way round).
"""

from __future__ import annotations

from django.utils import timezone

import apps.messaging.dead_letters.chain as chain
from apps.messaging.dead_letters.models import DeadLetter, DeadLetterStatus
from apps.messaging.dead_letters.replay import ReplaySummary
from apps.messaging.push import read_model_changed_on_commit

PARKED = DeadLetterStatus.PARKED


def dead_letter_resolve_rebuilt(*, group_id: str, through_position: int, resolved_by: str, reason: str) -> int:
    """Resolve the parked dead letters of ``group_id`` at or below ``through_position``; how many.

    Call it inside the transaction that swaps in a read model holding every event of the
    store up to ``through_position``, then :func:`dead_letter_chains_release` once it has
    committed. A dead letter an operator is replaying at that moment (its row locked) is
    left to that replay, which finds its event already applied.
    """
    rebuilt = list(
        DeadLetter.objects.select_for_update(skip_locked=True)
        .filter(group_id=group_id, status=PARKED, position__lte=through_position)
        .values_list("pk", flat=True)
    )
    if not rebuilt:
        return 0
    DeadLetter.objects.filter(pk__in=rebuilt).update(
        status=DeadLetterStatus.RESOLVED_BY_REBUILD,
        resolved_at=timezone.now(),
        resolved_by=resolved_by,
        skip_reason=reason,
        updated_at=timezone.now(),
    )
    read_model_changed_on_commit(source=chain.DEAD_LETTERS_SOURCE)
    return len(rebuilt)


def dead_letter_chains_release(*, group_id: str, resolved_by: str) -> ReplaySummary:
    """Release, in order, the events still parked behind a resolved head of ``group_id``.

    Such a chain is what a rebuild leaves (it resolved the head but not the later events),
    or a release that stopped short (a crash midway). Each chain stops at its first event
    that fails, which becomes its new head, as an operator's replay would.
    """
    # This process's consumers stop parking the streams the rebuild freed at once.
    chain.parked_streams_forget(group_id)
    heads = (
        DeadLetter.objects.filter(group_id=group_id, status=PARKED, blocked_by__isnull=False)
        .exclude(blocked_by__status=PARKED)
        .order_by()
        .values_list("blocked_by_id", flat=True)
        .distinct()
    )
    replayed = failed = 0
    for head in DeadLetter.objects.filter(pk__in=list(heads)).order_by("position"):
        release = chain.chain_release(head, resolved_by=resolved_by)
        replayed += len(release.released)
        failed += int(release.new_head is not None)
    still_parked = DeadLetter.objects.filter(group_id=group_id, status=PARKED).count()
    return ReplaySummary(replayed=replayed, failed=failed, still_parked=still_parked)


def dead_letter_orphaned_chains_release() -> dict[str, ReplaySummary]:
    """Release every chain left behind a head that is no longer parked, in every group; by group.

    A rebuild releases its chains right after its swap; a worker that dies in between, or a
    release that fails, leaves them parked behind a resolved head, and every new event of
    those streams would park behind them too. Celery beat runs this periodically, so such
    a stream flows again on its own.
    """
    groups = (
        DeadLetter.objects.filter(status=PARKED, blocked_by__isnull=False)
        .exclude(blocked_by__status=PARKED)
        .order_by()
        .values_list("group_id", flat=True)
        .distinct()
    )
    return {
        group_id: dead_letter_chains_release(group_id=group_id, resolved_by=chain.SYSTEM_ACTOR)
        for group_id in sorted(groups)
    }
