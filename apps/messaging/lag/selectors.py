"""Reads of the lag samples for the console, the API and /metrics. Each is two or three indexed queries."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import F, FloatField, Func, Max
from django.db.models.functions import Floor
from django.utils import timezone

from apps.messaging.lag.models import ConsumerGroupSample, ConsumerGroupState, ConsumerLagSample, ProjectionLagSample
from apps.messaging.registry import consumer_specs

# Status of a registered group the sampler has not measured yet (the console says the same).
NO_SAMPLES = "NO SAMPLES"


@dataclass(frozen=True)
class PartitionLag:
    partition: int
    end_offset: int
    # None: the group never committed on this partition.
    committed_offset: int | None
    lag: int
    status: str
    last_commit_at: dt.datetime | None


@dataclass(frozen=True)
class ConsumerGroupStatus:
    group_id: str
    topic: str
    # OK | WARNING | STALLED | STOPPED | ERR, or NO SAMPLES for a registered group not sampled yet.
    status: str
    reason: str
    # None when the last round could not read the broker, or before any sample.
    total_lag: int | None
    # The last round (successful or not); None before any sample.
    sampled_at: dt.datetime | None
    # The round the partitions come from: older than sampled_at while the broker is unreachable.
    offsets_sampled_at: dt.datetime | None
    # When the sampler last saw a committed offset move (Kafka reports no commit times).
    last_commit_at: dt.datetime | None
    error: str
    registered: bool
    description: str
    partitions: list[PartitionLag] = field(default_factory=list)


@dataclass(frozen=True)
class LagPoint:
    sampled_at: dt.datetime
    group_id: str
    lag: int


@dataclass(frozen=True)
class ProjectionLagRow:
    projection: str
    sampled_at: dt.datetime
    head_position: int
    checkpoint_position: int
    lag_positions: int
    lag_seconds: float


def consumer_group_status_list(*, topic: str | None = None) -> list[ConsumerGroupStatus]:
    """Every registered group and every sampled group of ``topic`` (default ``KAFKA_TOPIC``), by group id.

    Each carries its status, total lag and the partitions of its last successful round
    (end offset, committed offset, lag, status, last commit time).
    """
    topic = topic or settings.KAFKA_TOPIC
    specs = {spec.group_id: spec for spec in consumer_specs()}
    states = {state.group_id: state for state in ConsumerGroupState.objects.filter(topic=topic)}
    partitions: dict[str, list[PartitionLag]] = defaultdict(list)
    moments = {state.offsets_sampled_at for state in states.values() if state.offsets_sampled_at}
    if moments:
        rows = ConsumerLagSample.objects.filter(
            topic=topic, group_id__in=list(states), sampled_at__in=list(moments)
        ).order_by("group_id", "partition")
        for row in rows:
            if row.sampled_at == states[row.group_id].offsets_sampled_at:
                partitions[row.group_id].append(
                    PartitionLag(
                        partition=row.partition,
                        end_offset=row.end_offset,
                        committed_offset=row.committed_offset,
                        lag=row.lag,
                        status=row.status,
                        last_commit_at=row.last_commit_at,
                    )
                )
    groups = []
    for group_id in sorted(specs.keys() | states.keys()):
        state = states.get(group_id)
        spec = specs.get(group_id)
        groups.append(
            ConsumerGroupStatus(
                group_id=group_id,
                topic=topic,
                status=state.status if state else NO_SAMPLES,
                reason=state.reason if state else "the lag sampler has not measured this group yet",
                total_lag=state.total_lag if state else None,
                sampled_at=state.sampled_at if state else None,
                offsets_sampled_at=state.offsets_sampled_at if state else None,
                last_commit_at=state.last_commit_at if state else None,
                error=state.error if state else "",
                registered=spec is not None,
                description=spec.description if spec else "",
                partitions=partitions.get(group_id, []),
            )
        )
    return groups


def consumer_lag_series(minutes: int = 60, *, topic: str | None = None, max_points: int = 360) -> list[LagPoint]:
    """Total lag per group over the last ``minutes``, oldest first; rounds that could not read the broker left out.

    At most about ``max_points`` points per group: samples are bucketed in the database
    (never finer than the sampling interval), and each bucket keeps its highest lag, so a
    spike still shows, at the time of its newest sample.
    """
    topic = topic or settings.KAFKA_TOPIC
    since = timezone.now() - dt.timedelta(minutes=minutes)
    bucket_seconds = max(minutes * 60 / max(max_points, 1), settings.LAG_SAMPLE_INTERVAL_SECONDS, 0.001)
    rows = (
        ConsumerGroupSample.objects.filter(topic=topic, sampled_at__gte=since, total_lag__isnull=False)
        .annotate(epoch=_Epoch("sampled_at"))
        .annotate(bucket=Floor(F("epoch") / bucket_seconds))
        .values("group_id", "bucket")
        .annotate(at=Max("epoch"), lag=Max("total_lag"))
        .order_by("at", "group_id")
        .values_list("at", "group_id", "lag")
    )
    # Epoch seconds, not timestamps, come back: parsing thousands of timestamps costs more than the query.
    return [LagPoint(dt.datetime.fromtimestamp(at, dt.UTC), group_id, lag or 0) for at, group_id, lag in rows]


class _Epoch(Func):
    """Unix seconds of a datetime column, as a float, on PostgreSQL and SQLite."""

    output_field = FloatField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)::float8", **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # Django keeps SQLite datetimes as UTC text; julianday reads it.
        return self.as_sql(
            compiler, connection, template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)", **extra
        )


def projection_lag_latest_list() -> list[ProjectionLagRow]:
    """Each projection's lag as measured by the latest round, by name."""
    latest = ProjectionLagSample.objects.aggregate(at=Max("sampled_at"))["at"]
    if latest is None:
        return []
    return [
        ProjectionLagRow(
            projection=row.projection,
            sampled_at=row.sampled_at,
            head_position=row.head_position,
            checkpoint_position=row.checkpoint_position,
            lag_positions=row.lag_positions,
            lag_seconds=row.lag_seconds,
        )
        for row in ProjectionLagSample.objects.filter(sampled_at=latest).order_by("projection")
    ]


def projection_lag_series(*, minutes: int = 60, max_points: int = 120) -> dict[str, list[ProjectionLagRow]]:
    """Each projection's lag samples over the last ``minutes``, oldest first, thinned to about ``max_points`` each."""
    since = timezone.now() - dt.timedelta(minutes=minutes)
    series: dict[str, list[ProjectionLagRow]] = defaultdict(list)
    rows = ProjectionLagSample.objects.filter(sampled_at__gte=since).order_by("projection", "sampled_at")
    for row in rows.iterator(chunk_size=2000):
        series[row.projection].append(
            ProjectionLagRow(
                projection=row.projection,
                sampled_at=row.sampled_at,
                head_position=row.head_position,
                checkpoint_position=row.checkpoint_position,
                lag_positions=row.lag_positions,
                lag_seconds=row.lag_seconds,
            )
        )
    # Keep every n-th sample and the newest: a sparkline needs the shape, not each round.
    thinned = {}
    for name, points in series.items():
        step = max(len(points) // max(max_points, 1), 1)
        kept = points[::step]
        if kept[-1] is not points[-1]:
            kept.append(points[-1])
        thinned[name] = kept
    return thinned
