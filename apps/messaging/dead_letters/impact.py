"""What a replay would touch, shown before an operator confirms it (and taken as a bulk job's total)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.db.models import QuerySet

from apps.messaging.dead_letters.models import DeadLetter, DeadLetterStatus
from apps.messaging.dead_letters.selectors import DeadLetterFilter, dead_letter_list

PARKED = DeadLetterStatus.PARKED
# The confirmation names this many streams and says how many more there are.
IMPACT_STREAMS_SHOWN = 20


@dataclass(frozen=True)
class ReplayImpact:
    """How many dead letters a replay starts from, how many parked events follow them, and where."""

    dead_letters: int
    parked_behind: int
    stream_count: int
    streams: tuple[str, ...]
    group_ids: tuple[str, ...]

    @property
    def total(self) -> int:
        return self.dead_letters + self.parked_behind


def replay_heads(*, filters: DeadLetterFilter) -> QuerySet[DeadLetter]:
    """The parked heads a replay of ``filters`` replays, in global order (each releases its chain)."""
    return (
        dead_letter_list(filters=replace(filters, status=PARKED))
        .filter(position__isnull=False, blocked_by__isnull=True)
        .order_by("position")
    )


def _impact(heads: QuerySet[DeadLetter]) -> ReplayImpact:
    behind = DeadLetter.objects.filter(status=PARKED, blocked_by__in=heads.values("pk")).count()
    streams = heads.exclude(stream_id="").values_list("stream_id", flat=True).order_by("stream_id").distinct()
    return ReplayImpact(
        dead_letters=heads.count(),
        parked_behind=behind,
        stream_count=streams.count(),
        streams=tuple(streams[:IMPACT_STREAMS_SHOWN]),
        group_ids=tuple(heads.values_list("group_id", flat=True).order_by("group_id").distinct()),
    )


def dead_letter_replay_impact(*, filters: DeadLetterFilter) -> ReplayImpact:
    """The impact of replaying every parked dead letter ``filters`` matches (an empty filter: all of them)."""
    return _impact(replay_heads(filters=filters))


def dead_letter_one_impact(*, dead_letter_id: int) -> ReplayImpact:
    """The impact of replaying (or skipping) one dead letter: it, and what waits behind it."""
    heads = DeadLetter.objects.filter(pk=dead_letter_id, status=PARKED, blocked_by__isnull=True)
    return _impact(heads)
