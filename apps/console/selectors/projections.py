"""What the projections page shows: each read model's status, lag trend and rebuilds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from apps.console.charts import build_projection_lag_figure, figure_json
from apps.console.selectors.read_models import rebuild_view
from apps.messaging.lag import projection_lag_series
from apps.projections.models import ProjectionRebuild
from apps.projections.selectors import ProjectionStatus, projection_rebuild_list, projection_status_list

TREND_MINUTES = 60
HISTORY_LIMIT = 25
# The dead-letter list's own route (the dead-letters page); a plain path keeps this page
# free of a dependency on that page's module.
DEAD_LETTERS_PATH = "/dead-letters/"


@dataclass(frozen=True)
class ProjectionRow:
    status: ProjectionStatus
    # The last rebuild shaped like the rebuild.progress push, for the shared progress partial.
    rebuild: dict[str, Any] | None
    trend_figure: str

    @property
    def parked_url(self) -> str:
        """The dead-letter list filtered to the streams this projection waits on."""
        query = urlencode({"group": self.status.consumer_group, "status": "parked"})
        return f"{DEAD_LETTERS_PATH}?{query}"


def projection_row_list() -> list[ProjectionRow]:
    """Every projection with its status, its last rebuild and its lag over the last hour."""
    series = projection_lag_series(minutes=TREND_MINUTES)
    rows = []
    for status in projection_status_list():
        points = [(p.sampled_at, p.lag_positions, p.lag_seconds) for p in series.get(status.name, [])]
        rows.append(
            ProjectionRow(
                status=status,
                rebuild=rebuild_view(status.last_rebuild),
                trend_figure=figure_json(build_projection_lag_figure(points)),
            )
        )
    return rows


def projection_rebuild_history(*, name: str | None = None) -> list[ProjectionRebuild]:
    """Past and running rebuilds, newest first."""
    return list(projection_rebuild_list(name=name, limit=HISTORY_LIMIT))
