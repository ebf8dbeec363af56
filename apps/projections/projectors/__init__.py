"""Every projection, by name."""

from __future__ import annotations

from apps.projections.projector import Projector
from apps.projections.projectors.activity import OrderActivityProjector
from apps.projections.projectors.customers import CustomerOrderStatsProjector
from apps.projections.projectors.orders import OrderSummaryProjector
from apps.projections.projectors.stock import StockLevelProjector

PROJECTORS: dict[str, Projector] = {
    projector.name: projector
    for projector in (
        OrderSummaryProjector(),
        CustomerOrderStatsProjector(),
        OrderActivityProjector(),
        StockLevelProjector(),
    )
}


class UnknownProjection(KeyError):
    """No projection has that name."""


def projector_get(name: str) -> Projector:
    """The projector called ``name``; UnknownProjection when there is none."""
    try:
        return PROJECTORS[name]
    except KeyError:
        raise UnknownProjection(name) from None
