"""Read models, the tracking records of what each projection applied, and rebuild jobs.

Read-model tables have natural primary keys and no foreign keys, so a rebuild can build a
shadow copy beside each one and rename it into place (see tables.py).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q


class OrderSummary(models.Model):
    """One row per order, as the order list shows it. Timestamps are the events' recorded_at."""

    order_id = models.CharField(max_length=200, primary_key=True)
    customer_id = models.CharField(max_length=200)
    status = models.CharField(max_length=20)
    currency = models.CharField(max_length=3)
    total_cents = models.BigIntegerField()
    line_count = models.IntegerField()
    placed_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    last_position = models.BigIntegerField()

    class Meta:
        db_table = "projections_order_summary"
        # Plain btree indexes: db_index on a CharField would add a second, pattern-ops index per column.
        indexes = [
            models.Index(fields=["customer_id", "-placed_at"], name="proj_order_summary_customer"),
            models.Index(fields=["status", "-placed_at"], name="proj_order_summary_status"),
            models.Index(fields=["-placed_at"], name="proj_order_summary_placed"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.status} {self.total_cents} {self.currency}"


class CustomerOrderStats(models.Model):
    """Per customer: orders placed, orders cancelled, and total spent.

    ``total_spent_cents`` is the current total of every order the customer placed that is
    not cancelled (placed lines plus added lines; a cancellation takes its order's total
    back out). Amounts of different currencies are summed as they are; the demo trades in one.
    """

    customer_id = models.CharField(max_length=200, primary_key=True)
    order_count = models.IntegerField()
    total_spent_cents = models.BigIntegerField()
    cancelled_count = models.IntegerField()

    class Meta:
        db_table = "projections_customer_order_stats"

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.order_count} orders, {self.total_spent_cents} spent"


class CustomerStatsOrder(models.Model):
    """What CustomerOrderStats remembers of each order: its customer, total and whether it was cancelled."""

    order_id = models.CharField(max_length=200, primary_key=True)
    customer_id = models.CharField(max_length=200)
    total_cents = models.BigIntegerField()
    cancelled = models.BooleanField()

    class Meta:
        db_table = "projections_customer_stats_order"

    def __str__(self) -> str:
        return f"{self.order_id} of {self.customer_id}"


class OrderActivity(models.Model):
    """Per UTC minute of recorded_at: orders placed, confirmed and cancelled, and revenue.

    ``revenue_cents`` is the total of the orders confirmed in that minute, at their total
    when confirmed; a later cancellation counts in ``cancelled`` and does not reverse it.
    """

    minute = models.DateTimeField(primary_key=True)
    placed = models.IntegerField()
    confirmed = models.IntegerField()
    cancelled = models.IntegerField()
    revenue_cents = models.BigIntegerField()

    class Meta:
        db_table = "projections_order_activity"

    def __str__(self) -> str:
        return f"{self.minute:%Y-%m-%d %H:%M} +{self.placed} ok{self.confirmed} x{self.cancelled}"


class ActivityOrderTotal(models.Model):
    """What OrderActivity remembers of each order: its running total, the revenue at confirmation."""

    order_id = models.CharField(max_length=200, primary_key=True)
    total_cents = models.BigIntegerField()

    class Meta:
        db_table = "projections_activity_order_total"

    def __str__(self) -> str:
        return f"{self.order_id} {self.total_cents}"


class StockLevel(models.Model):
    """Per sku: units on hand and units reserved by orders (available = on_hand - reserved)."""

    sku = models.CharField(max_length=200, primary_key=True)
    on_hand = models.BigIntegerField()
    reserved = models.BigIntegerField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "projections_stock_level"

    def __str__(self) -> str:
        return f"{self.sku}: {self.on_hand} on hand, {self.reserved} reserved"


class ProjectionCheckpoint(models.Model):
    """How far one projection got: the tracking record written with every applied batch.

    ``generation`` points at the set of stream cursors that belongs to the live read
    model; a rebuild writes the next generation and the swap moves the pointer.
    ``settled_position``: every handled event at or below it is applied (for lag).
    """

    projection = models.CharField(max_length=100, primary_key=True)
    generation = models.IntegerField(default=1)
    position = models.BigIntegerField(default=0)
    applied_count = models.BigIntegerField(default=0)
    settled_position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "projections_checkpoint"

    def __str__(self) -> str:
        return f"{self.projection}@{self.position} (gen {self.generation})"


class ProjectionStreamCursor(models.Model):
    """The last stream version a projection applied, per stream: what makes a replay a no-op."""

    pk = models.CompositePrimaryKey("projection", "generation", "stream_id")
    projection = models.CharField(max_length=100)
    generation = models.IntegerField()
    stream_id = models.CharField(max_length=200)
    version = models.BigIntegerField()
    position = models.BigIntegerField()

    class Meta:
        db_table = "projections_stream_cursor"

    def __str__(self) -> str:
        return f"{self.projection}/{self.generation} {self.stream_id}@{self.version}"


class RebuildStatus(models.TextChoices):
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    SWAPPING = "swapping", "swapping"
    DONE = "done", "done"
    CANCELLED = "cancelled", "cancelled"
    FAILED = "failed", "failed"


ACTIVE_REBUILD_STATUSES = (RebuildStatus.QUEUED, RebuildStatus.RUNNING, RebuildStatus.SWAPPING)


class ProjectionRebuild(models.Model):
    """One rebuild job: a read model rebuilt from the event store into a shadow, then swapped in.

    ``events_done`` counts the stored events read so far, ``events_total`` those to read
    (it grows while appends go on during the rebuild); ``rate`` is events read per second.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    projection = models.CharField(max_length=100, db_index=True)
    status = models.CharField(max_length=10, choices=RebuildStatus.choices, default=RebuildStatus.QUEUED)
    generation = models.IntegerField(null=True, blank=True)
    events_done = models.BigIntegerField(default=0)
    events_total = models.BigIntegerField(default=0)
    applied_count = models.BigIntegerField(default=0)
    rate = models.FloatField(default=0.0)
    eta_seconds = models.FloatField(null=True, blank=True)
    requested_by = models.CharField(max_length=150)
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # Taken just before the swap: the shadow's content against the live model's, the
    # live one at its checkpoint ``digest_live_position`` (equal when it had caught up).
    shadow_digest = models.CharField(max_length=64, blank=True)
    live_digest = models.CharField(max_length=64, blank=True)
    digest_position = models.BigIntegerField(null=True, blank=True)
    digest_live_position = models.BigIntegerField(null=True, blank=True)

    class Meta:
        db_table = "projections_rebuild"
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["projection"],
                condition=Q(status__in=["queued", "running", "swapping"]),
                name="projections_one_active_rebuild",
            )
        ]

    def __str__(self) -> str:
        return f"rebuild {self.projection} {self.status} {self.events_done}/{self.events_total}"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def digests_match(self) -> bool | None:
        """Whether shadow and live had the same content before the swap; None when not compared."""
        if not (self.shadow_digest and self.live_digest):
            return None
        return self.shadow_digest == self.live_digest
