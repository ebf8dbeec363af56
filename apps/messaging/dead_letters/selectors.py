"""Reads over dead letters and failure rules, shared by the API, the console and the command."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from django.db.models import Count, Func, IntegerField, Max, Min, OuterRef, Q, QuerySet, Subquery

from apps.messaging.dead_letters.models import DeadLetter, DeadLetterAttempt, DeadLetterStatus, FailureRule


@dataclass(frozen=True)
class DeadLetterFilter:
    """Narrow a dead-letter list; each field left None matches everything."""

    group_id: str | None = None
    status: str | None = None
    stream_id: str | None = None
    event_type: str | None = None
    # A full dotted name or just the class name ("InjectedFailure").
    error_class: str | None = None
    # One failure group (fingerprint.py), exactly.
    fingerprint: str | None = None
    # Text the error message contains (case-insensitive).
    message_contains: str | None = None
    # When it was dead-lettered: created_after <= created_at < created_before.
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None

    def as_dict(self) -> dict[str, str]:
        return {
            name: value.isoformat() if isinstance(value, dt.datetime) else value
            for name, value in asdict(self).items()
            if value
        }


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
    if filters.fingerprint:
        queryset = queryset.filter(fingerprint=filters.fingerprint)
    if filters.message_contains:
        queryset = queryset.filter(error_message__icontains=filters.message_contains)
    if filters.created_after:
        queryset = queryset.filter(created_at__gte=filters.created_after)
    if filters.created_before:
        queryset = queryset.filter(created_at__lt=filters.created_before)
    return queryset


@dataclass(frozen=True)
class FailureGroup:
    """Dead letters that failed the same way (one fingerprint)."""

    fingerprint: str
    count: int
    group_ids: tuple[str, ...]
    first_seen: dt.datetime | None
    last_seen: dt.datetime | None


def dead_letter_failure_groups(*, filters: DeadLetterFilter | None = None) -> list[FailureGroup]:
    """The failure groups of what ``filters`` matches (parked ones by default), biggest first.

    One GROUP BY, over the fingerprint index when only the status narrows it. Only dead
    letters that failed themselves have a fingerprint; the events parked behind them are
    counted by the impact of a replay, not here.
    """
    filters = filters if filters is not None else DeadLetterFilter(status=DeadLetterStatus.PARKED)
    queryset = dead_letter_list(filters=filters).exclude(fingerprint="")
    rows = (
        queryset.values("fingerprint", "group_id")
        .annotate(n=Count("id"), first=Min("first_failed_at"), last=Max("last_failed_at"))
        .order_by()
    )
    merged: dict[str, FailureGroup] = {}
    for row in rows:
        seen = merged.get(row["fingerprint"])
        if seen is None:
            merged[row["fingerprint"]] = FailureGroup(
                fingerprint=row["fingerprint"],
                count=row["n"],
                group_ids=(row["group_id"],),
                first_seen=row["first"],
                last_seen=row["last"],
            )
            continue
        merged[row["fingerprint"]] = FailureGroup(
            fingerprint=seen.fingerprint,
            count=seen.count + row["n"],
            group_ids=tuple(sorted({*seen.group_ids, row["group_id"]})),
            first_seen=min(filter(None, (seen.first_seen, row["first"])), default=None),
            last_seen=max(filter(None, (seen.last_seen, row["last"])), default=None),
        )
    return sorted(merged.values(), key=lambda group: (-group.count, group.fingerprint))


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


def dead_letter_sequenced_heads(*, filters: DeadLetterFilter | None = None) -> QuerySet[DeadLetter]:
    """Parked heads, oldest event first, each with ``waiting``: how many of its stream's events are parked behind it.

    The count is a correlated subquery, so a page of heads costs a page of index lookups
    however many dead letters there are.
    """
    waiting = (
        DeadLetter.objects.filter(blocked_by_id=OuterRef("pk"), status=DeadLetterStatus.PARKED)
        .order_by()
        .annotate(n=Func("id", function="COUNT"))
        .values("n")
    )
    return (
        dead_letter_list(filters=filters)
        .filter(status=DeadLetterStatus.PARKED, blocked_by__isnull=True, position__isnull=False)
        .annotate(waiting=Subquery(waiting, output_field=IntegerField()))
        .order_by("position")
    )


def dead_letter_attempt_list(*, dead_letter_id: int) -> QuerySet[DeadLetterAttempt]:
    """Every try at a dead letter, oldest first: the consumer host's retries, then each replay."""
    return DeadLetterAttempt.objects.filter(dead_letter_id=dead_letter_id).order_by("at", "id")


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
