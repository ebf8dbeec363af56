"""Reads over dead letters and failure rules, shared by the API, the console and the command."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from django.db.models import Count, Q, QuerySet

from apps.messaging.dead_letters.models import DeadLetter, DeadLetterStatus, FailureRule


@dataclass(frozen=True)
class DeadLetterFilter:
    """Narrow a dead-letter list; each field left None matches everything."""

    group_id: str | None = None
    status: str | None = None
    stream_id: str | None = None
    event_type: str | None = None
    # A full dotted name or just the class name ("InjectedFailure").
    error_class: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {name: value for name, value in asdict(self).items() if value}


def dead_letter_list(*, filters: DeadLetterFilter | None = None) -> QuerySet[DeadLetter]:
    """Dead letters matching ``filters``, newest first, without their raw bytes loaded."""
    queryset = DeadLetter.objects.defer("raw_key", "raw_value", "traceback").order_by("-id")
    if filters is None:
        return queryset
    if filters.group_id:
        queryset = queryset.filter(group_id=filters.group_id)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.stream_id:
        queryset = queryset.filter(stream_id=filters.stream_id)
    if filters.event_type:
        queryset = queryset.filter(event_type=filters.event_type)
    if filters.error_class:
        name = filters.error_class
        queryset = queryset.filter(Q(error_class=name) | Q(error_class__endswith=f".{name}"))
    return queryset


def dead_letter_get(*, dead_letter_id: int) -> DeadLetter:
    """One dead letter with everything; DeadLetter.DoesNotExist when there is none."""
    return DeadLetter.objects.get(pk=dead_letter_id)


def dead_letter_parked_behind_list(*, dead_letter_id: int) -> QuerySet[DeadLetter]:
    """The events waiting behind a head, in the order they will be released."""
    return (
        DeadLetter.objects.defer("raw_key", "raw_value", "traceback")
        .filter(blocked_by_id=dead_letter_id, status=DeadLetterStatus.PARKED)
        .order_by("position")
    )


def dead_letter_status_counts(*, group_id: str | None = None) -> dict[str, int]:
    """How many dead letters are parked, replayed and skipped (every status present, zeros included)."""
    queryset = DeadLetter.objects.all()
    if group_id:
        queryset = queryset.filter(group_id=group_id)
    counts = {status: 0 for status in DeadLetterStatus.values}
    for row in queryset.values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts


def failure_rule_list() -> QuerySet[FailureRule]:
    """Every failure rule, newest first."""
    return FailureRule.objects.order_by("-id")


def dead_letter_parked_stream_count(*, group_id: str) -> int:
    """How many streams the group holds up: streams with a parked dead letter (each undecodable one counts)."""
    parked = DeadLetter.objects.filter(group_id=group_id, status=DeadLetterStatus.PARKED)
    streams = parked.exclude(stream_id="").values("stream_id").distinct().count()
    return streams + parked.filter(stream_id="").count()


def dead_letter_ids_at(*, positions: Iterable[int]) -> list[tuple[int, str, str]]:
    """(id, group, stream) of every dead letter of an event at one of ``positions``."""
    return list(DeadLetter.objects.filter(position__in=list(positions)).values_list("pk", "group_id", "stream_id"))
