"""Reads the console and the API use: projection status and lag, read-model rows, rebuild jobs."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db.models import F, QuerySet
from django.utils import timezone

from apps.messaging.dead_letters import DeadLetterStatus
from apps.messaging.dead_letters.selectors import dead_letter_parked_stream_count, dead_letter_status_counts
from apps.projections.lag import projection_lag_measure
from apps.projections.live import consumer_group_for
from apps.projections.models import (
    ACTIVE_REBUILD_STATUSES,
    CustomerOrderStats,
    OrderActivity,
    OrderSummary,
    ProjectionCheckpoint,
    ProjectionRebuild,
    StockLevel,
)
from apps.projections.projectors import PROJECTORS, projector_get
from apps.projections.projectors.activity import activity_minute
from apps.projections.tables import tables_digest

# A projection with lag whose checkpoint has not moved for this long is reported stalled.
STALLED_AFTER = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class ProjectionStatus:
    name: str
    description: str
    consumer_group: str
    event_types: list[str]
    generation: int
    checkpoint_position: int
    applied_count: int
    checkpoint_updated_at: dt.datetime | None
    head_position: int
    lag_positions: int
    lag_seconds: float
    # ok | catching_up | stalled | blocked | rebuilding
    status: str
    last_rebuild: ProjectionRebuild | None
    # Dead letters of its consumer group waiting for an operator (or a rebuild).
    dead_letters_parked: int = 0
    # Streams held up behind those dead letters.
    parked_streams: int = 0

    @property
    def status_words(self) -> str:
        """The status as an operator reads it: live, catching up, stalled, blocked by N parked streams, rebuilding."""
        if self.status == "ok":
            return "live"
        if self.status == "blocked":
            streams = self.parked_streams
            return f"blocked by {streams} parked stream{'' if streams == 1 else 's'}"
        return self.status.replace("_", " ")


def projection_status_list() -> list[ProjectionStatus]:
    """Every projection with its checkpoint, head position, lag, status and last rebuild.

    Status: ``rebuilding`` while a rebuild is queued, running or swapping; else ``blocked``
    while dead letters of its consumer group are parked (the dead-letter table's own count,
    which a rebuild or a replay that applies their events brings down); else ``ok`` at no
    lag; ``stalled`` when lagging and the checkpoint has not moved for a minute; else
    ``catching_up``. Lag is defined in apps.projections.lag; measuring it also stores each
    projection's settled position, so the next measurement starts from there.
    """
    checkpoints = {c.projection: c for c in ProjectionCheckpoint.objects.all()}
    now = timezone.now()
    statuses = []
    for name, projector in PROJECTORS.items():
        checkpoint = checkpoints.get(name) or ProjectionCheckpoint(projection=name)
        lag = projection_lag_measure(name=name)
        last = ProjectionRebuild.objects.filter(projection=name).order_by("-requested_at").first()
        parked = dead_letter_status_counts(group_id=consumer_group_for(name))[DeadLetterStatus.PARKED]
        if last is not None and last.status in ACTIVE_REBUILD_STATUSES:
            status = "rebuilding"
        elif parked:
            status = "blocked"
        elif lag.lag_positions == 0:
            status = "ok"
        elif checkpoint.updated_at is None or now - checkpoint.updated_at > STALLED_AFTER:
            status = "stalled"
        else:
            status = "catching_up"
        statuses.append(
            ProjectionStatus(
                name=name,
                description=projector.description,
                consumer_group=consumer_group_for(name),
                event_types=sorted(projector.event_types),
                generation=checkpoint.generation,
                checkpoint_position=checkpoint.position,
                applied_count=checkpoint.applied_count,
                checkpoint_updated_at=checkpoint.updated_at,
                head_position=lag.head_position,
                lag_positions=lag.lag_positions,
                lag_seconds=lag.lag_seconds,
                status=status,
                last_rebuild=last,
                dead_letters_parked=parked,
                parked_streams=dead_letter_parked_stream_count(group_id=consumer_group_for(name)) if parked else 0,
            )
        )
    return statuses


def projection_digest(*, name: str, using: str = "default") -> str:
    """A stable sha256 of every row of the projection's live read-model tables (no column left out)."""
    return tables_digest(tables=projector_get(name).models, using=using)


def projection_rebuild_get(*, job_id: uuid.UUID | str) -> ProjectionRebuild:
    """One rebuild job; ProjectionRebuild.DoesNotExist when there is none."""
    return ProjectionRebuild.objects.get(pk=job_id)


def projection_rebuild_list(*, name: str | None = None, limit: int = 50) -> QuerySet[ProjectionRebuild]:
    """Rebuild jobs, newest first, optionally of one projection."""
    jobs = ProjectionRebuild.objects.order_by("-requested_at")
    if name:
        jobs = jobs.filter(projection=name)
    return jobs[:limit]


def order_summary_list(
    *,
    customer_id: str | None = None,
    status: str | None = None,
    placed_from: dt.datetime | None = None,
    placed_to: dt.datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> QuerySet[OrderSummary]:
    """Orders, newest placed first, filtered by customer, status and placed time range."""
    orders = OrderSummary.objects.all()
    if customer_id:
        orders = orders.filter(customer_id=customer_id)
    if status:
        orders = orders.filter(status=status)
    if placed_from:
        orders = orders.filter(placed_at__gte=placed_from)
    if placed_to:
        orders = orders.filter(placed_at__lt=placed_to)
    return orders.order_by("-placed_at", "order_id")[offset : offset + limit]


def stock_level_list() -> QuerySet[StockLevel]:
    """Every sku with on hand, reserved and ``available`` (on hand minus reserved), by sku."""
    return StockLevel.objects.annotate(available=F("on_hand") - F("reserved")).order_by("sku")


def customer_stats_list(*, limit: int = 100) -> QuerySet[CustomerOrderStats]:
    """Customers by total spent, highest first."""
    return CustomerOrderStats.objects.order_by("-total_spent_cents", "customer_id")[:limit]


@dataclass(frozen=True)
class ActivityPoint:
    minute: dt.datetime
    placed: int
    confirmed: int
    cancelled: int
    revenue_cents: int


def order_activity_series(*, minutes: int = 60, now: dt.datetime | None = None) -> list[ActivityPoint]:
    """The last ``minutes`` minutes up to the current one, oldest first, minutes without orders as zeros."""
    end = activity_minute(now or timezone.now())
    start = end - dt.timedelta(minutes=minutes - 1)
    found = {row.minute: row for row in OrderActivity.objects.filter(minute__gte=start, minute__lte=end)}
    series = []
    for index in range(minutes):
        minute = start + dt.timedelta(minutes=index)
        row = found.get(minute)
        series.append(
            ActivityPoint(
                minute=minute,
                placed=row.placed if row else 0,
                confirmed=row.confirmed if row else 0,
                cancelled=row.cancelled if row else 0,
                revenue_cents=row.revenue_cents if row else 0,
            )
        )
    return series
