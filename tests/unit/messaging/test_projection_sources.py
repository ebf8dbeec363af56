"""Projections reach the lag sampler and /metrics through messaging's registry, not imports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.messaging import registry
from apps.messaging.registry import (
    ProjectionLagReading,
    ProjectionProgress,
    ProjectionSource,
    projection_source_register,
    projection_sources,
)


@pytest.fixture(autouse=True)
def _registry_restored() -> Iterator[None]:
    saved = dict(registry._projection_sources)
    yield
    registry._projection_sources.clear()
    registry._projection_sources.update(saved)


def _source(name: str, lag_positions: int = 0) -> ProjectionSource:
    return ProjectionSource(
        name=name,
        lag_measure=lambda: ProjectionLagReading(
            head_position=10, checkpoint_position=10 - lag_positions, lag_positions=lag_positions, lag_seconds=0.0
        ),
        progress_read=lambda: ProjectionProgress(applied_count=3, checkpoint_position=10 - lag_positions),
    )


def test_sources_are_listed_in_name_order() -> None:
    registry._projection_sources.clear()
    projection_source_register(_source("zeta"))
    projection_source_register(_source("alpha"))

    assert [source.name for source in projection_sources()] == ["alpha", "zeta"]


def test_registering_a_name_again_replaces_its_source() -> None:
    registry._projection_sources.clear()
    projection_source_register(_source("orders", lag_positions=1))
    projection_source_register(_source("orders", lag_positions=7))

    (source,) = projection_sources()
    assert source.lag_measure().lag_positions == 7


def test_every_projector_registers_a_source_when_django_starts() -> None:
    from apps.projections.projectors import PROJECTORS

    assert [source.name for source in projection_sources()] == sorted(PROJECTORS)
