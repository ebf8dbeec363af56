"""What the projections tell messaging's lag sampler and ``/metrics``.

Messaging must not import projections, so each projector registers a
:class:`~apps.messaging.registry.ProjectionSource` with it in ``AppConfig.ready``.
"""

from __future__ import annotations

from functools import partial

from apps.messaging.registry import (
    ProjectionLagReading,
    ProjectionProgress,
    ProjectionSource,
    projection_source_register,
)
from apps.projections.lag import projection_lag_measure
from apps.projections.models import ProjectionCheckpoint
from apps.projections.projectors import PROJECTORS


def projection_sources_register() -> None:
    """Register every projector with messaging for lag sampling and metrics."""
    for name in PROJECTORS:
        projection_source_register(
            ProjectionSource(
                name=name,
                lag_measure=partial(projection_lag_reading, name=name),
                progress_read=partial(projection_progress_read, name=name),
            )
        )


def projection_lag_reading(*, name: str) -> ProjectionLagReading:
    """Measure the projection's lag (moving its settled position on) in messaging's terms."""
    lag = projection_lag_measure(name=name)
    return ProjectionLagReading(
        head_position=lag.head_position,
        checkpoint_position=lag.checkpoint_position,
        lag_positions=lag.lag_positions,
        lag_seconds=lag.lag_seconds,
    )


def projection_progress_read(*, name: str) -> ProjectionProgress:
    """Events applied and checkpoint position; zeros for a projection that has applied nothing yet."""
    row = ProjectionCheckpoint.objects.filter(projection=name).values_list("applied_count", "position").first()
    applied_count, position = row if row is not None else (0, 0)
    return ProjectionProgress(applied_count=applied_count, checkpoint_position=position)
