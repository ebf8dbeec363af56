"""What the console reads from the projections app's read models."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from apps.projections.models import ACTIVE_REBUILD_STATUSES, OrderSummary, ProjectionRebuild
from apps.projections.progress import rebuild_progress_message
from apps.projections.selectors import ProjectionStatus, order_summary_list, projection_status_list


def order_stream_ids_for_customer(*, customer_id: str, limit: int = 50) -> list[str]:
    """Order stream ids of one customer, newest first, from OrderSummary."""
    return [f"order-{summary.order_id}" for summary in order_summary_list(customer_id=customer_id, limit=limit)]


def orders_by_status() -> list[tuple[str, int]]:
    """Orders per status from OrderSummary (an index-only count on the status index)."""
    rows = OrderSummary.objects.values("status").annotate(n=Count("order_id")).order_by("status")
    return [(row["status"], row["n"]) for row in rows]


def rebuild_view(job: ProjectionRebuild | None) -> dict[str, Any] | None:
    """A rebuild job as the progress partial shows it: the same shape the websocket pushes."""
    if job is None:
        return None
    view: dict[str, Any] = dict(rebuild_progress_message(job))
    view["active"] = job.status in ACTIVE_REBUILD_STATUSES
    view["finished_at"] = job.finished_at
    return view


def projection_lag_list() -> list[tuple[ProjectionStatus, dict[str, Any] | None]]:
    """Each projection's status and lag, with its last rebuild shaped for the progress partial."""
    return [(status, rebuild_view(status.last_rebuild)) for status in projection_status_list()]
