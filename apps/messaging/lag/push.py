"""After each round, tell the browsers: one small message to a Channels group.

A websocket consumer that joins ``LAG_CHANNEL_GROUP`` gets a ``lag.sampled`` message
(method ``lag_sampled``) per round, and can refresh its table and chart without polling.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

if TYPE_CHECKING:
    from apps.messaging.lag.sampler import LagRound

logger = logging.getLogger(__name__)

LAG_CHANNEL_GROUP = "consumer-lag"


class LagGroupLine(TypedDict):
    group_id: str
    status: str
    total_lag: int | None


class LagSampledMessage(TypedDict):
    type: Literal["lag.sampled"]
    topic: str
    sampled_at: str  # ISO 8601
    error: str
    groups: list[LagGroupLine]


def lag_sampled_message(result: LagRound) -> LagSampledMessage:
    """The message pushed for one round."""
    return LagSampledMessage(
        type="lag.sampled",
        topic=result.topic,
        sampled_at=result.sampled_at.isoformat(),
        error=result.error,
        groups=[
            LagGroupLine(group_id=group_id, status=verdict.status.value, total_lag=result.total_lag.get(group_id))
            for group_id, verdict in sorted(result.groups.items())
        ],
    )


def lag_round_push(result: LagRound) -> None:
    """Send the round to ``LAG_CHANNEL_GROUP``; a channel-layer failure is logged, never raised."""
    try:
        layer = get_channel_layer()
        if layer is None:
            return
        async_to_sync(layer.group_send)(LAG_CHANNEL_GROUP, lag_sampled_message(result))
    except Exception:
        logger.warning("lag push of the %s round failed", result.sampled_at, exc_info=True)
