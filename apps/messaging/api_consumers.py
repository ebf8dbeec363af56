"""Consumer groups and their lag over the JSON API (viewer role): ``GET /api/consumers``."""

# No postponed annotations here: ninja resolves the schemas at runtime.
import datetime as dt

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Router, Schema

from apps.accounts.api_auth import viewer_auth
from apps.messaging.lag import consumer_group_status_list, projection_lag_latest_list

router = Router(tags=["consumers"])


class PartitionOut(Schema):
    partition: int
    end_offset: int = Field(..., description="Log-end offset (the offset the next record will get)")
    committed_offset: int | None = Field(..., description="None: the group never committed on this partition")
    lag: int
    status: str
    last_commit_at: dt.datetime | None


class ConsumerGroupOut(Schema):
    group_id: str
    topic: str
    status: str = Field(..., description="OK, WARNING, STALLED, STOPPED, ERR, or NO SAMPLES before the first sample")
    reason: str
    total_lag: int | None = Field(..., description="None when the last round could not read the broker")
    sampled_at: dt.datetime | None
    offsets_sampled_at: dt.datetime | None = Field(..., description="The round the partitions were read in")
    last_commit_at: dt.datetime | None = Field(..., description="When the sampler last saw a commit move")
    error: str
    registered: bool = Field(..., description="Hosted by this deployment's worker (else found on the broker)")
    description: str
    partitions: list[PartitionOut]


class ProjectionLagOut(Schema):
    projection: str
    sampled_at: dt.datetime
    head_position: int
    checkpoint_position: int
    lag_positions: int
    lag_seconds: float


class ConsumersOut(Schema):
    topic: str
    groups: list[ConsumerGroupOut]
    projections: list[ProjectionLagOut]


@router.get(
    "/consumers",
    response=ConsumersOut,
    auth=viewer_auth,
    summary="Consumer groups with status, lag and per-partition offsets; projection lag",
)
def consumers(request: HttpRequest) -> ConsumersOut:
    """The lag sampler's latest view of every consumer group of the event topic, and of each projection."""
    return ConsumersOut.model_validate(
        {
            "topic": settings.KAFKA_TOPIC,
            "groups": consumer_group_status_list(),
            "projections": projection_lag_latest_list(),
        },
        from_attributes=True,
    )
