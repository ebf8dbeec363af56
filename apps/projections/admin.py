"""Admin for read models, checkpoints and rebuild jobs: read-only; a projector alone writes a read model.

Rebuilds are asked for from the console's projections page (or the API), which audits
them; the admin shows the jobs. Stream cursors have a composite primary key, which the
admin cannot list.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.safestring import SafeString

from apps.eventstore.admin import CappedCountPaginator, ReadOnlyAdmin, console_link
from apps.projections.models import (
    ActivityOrderTotal,
    CustomerOrderStats,
    CustomerStatsOrder,
    OrderActivity,
    OrderSummary,
    ProjectionCheckpoint,
    ProjectionRebuild,
    StockLevel,
)

PROJECTIONS_CONSOLE_PATH = "/projections/"


class _ReadModelAdmin(ReadOnlyAdmin):
    paginator = CappedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50


@admin.register(OrderSummary)
class OrderSummaryAdmin(_ReadModelAdmin):
    list_display = ("order_id", "customer_id", "status", "total_cents", "currency", "line_count", "placed_at")
    list_filter = ("status", "currency", ("placed_at", admin.DateFieldListFilter))
    search_fields = ("=order_id", "=customer_id")
    search_help_text = "Exact order id or customer id."
    ordering = ("-placed_at",)

    def view_on_site(self, summary: OrderSummary) -> str:
        return f"/aggregates/stream/order-{summary.order_id}"


@admin.register(CustomerOrderStats)
class CustomerOrderStatsAdmin(_ReadModelAdmin):
    list_display = ("customer_id", "order_count", "cancelled_count", "total_spent_cents")
    search_fields = ("=customer_id",)
    ordering = ("-total_spent_cents",)


@admin.register(CustomerStatsOrder)
class CustomerStatsOrderAdmin(_ReadModelAdmin):
    list_display = ("order_id", "customer_id", "total_cents", "cancelled")
    list_filter = ("cancelled",)
    search_fields = ("=order_id", "=customer_id")


@admin.register(OrderActivity)
class OrderActivityAdmin(_ReadModelAdmin):
    list_display = ("minute", "placed", "confirmed", "cancelled", "revenue_cents")
    list_filter = (("minute", admin.DateFieldListFilter),)
    ordering = ("-minute",)


@admin.register(ActivityOrderTotal)
class ActivityOrderTotalAdmin(_ReadModelAdmin):
    list_display = ("order_id", "total_cents")
    search_fields = ("=order_id",)


@admin.register(StockLevel)
class StockLevelAdmin(_ReadModelAdmin):
    list_display = ("sku", "on_hand", "reserved", "updated_at")
    search_fields = ("sku",)
    ordering = ("sku",)


@admin.register(ProjectionCheckpoint)
class ProjectionCheckpointAdmin(ReadOnlyAdmin):
    list_display = ("projection", "generation", "position", "settled_position", "applied_count", "updated_at")
    search_fields = ("projection",)

    def view_on_site(self, checkpoint: ProjectionCheckpoint) -> str:
        return PROJECTIONS_CONSOLE_PATH


@admin.register(ProjectionRebuild)
class ProjectionRebuildAdmin(ReadOnlyAdmin):
    list_display = (
        "requested_at",
        "projection",
        "status",
        "requested_by",
        "events_done",
        "events_total",
        "duration",
        "digests",
    )
    list_filter = ("status", "projection", ("requested_at", admin.DateFieldListFilter))
    search_fields = ("projection", "requested_by", "=id")
    ordering = ("-requested_at",)
    readonly_fields = (
        "console",
        "id",
        "projection",
        "status",
        "generation",
        "events_done",
        "events_total",
        "applied_count",
        "rate",
        "requested_by",
        "requested_at",
        "started_at",
        "finished_at",
        "shadow_digest",
        "live_digest",
        "digest_position",
        "digest_live_position",
        "error",
    )
    fields = readonly_fields

    def view_on_site(self, job: ProjectionRebuild) -> str:
        return PROJECTIONS_CONSOLE_PATH

    @admin.display(description="console")
    def console(self, job: ProjectionRebuild) -> SafeString:
        return console_link(PROJECTIONS_CONSOLE_PATH)

    @admin.display(description="duration (s)")
    def duration(self, job: ProjectionRebuild) -> str:
        seconds = job.duration_seconds
        return "-" if seconds is None else f"{seconds:.1f}"

    @admin.display(description="shadow = live", boolean=True)
    def digests(self, job: ProjectionRebuild) -> bool | None:
        return job.digests_match
