"""Consumer lag: the sampler (a Celery beat task), Burrow-style group status, and the reads on them.

Public names:

- :func:`consumer_lag_sample`: one sampling round (the beat task ``messaging.consumer_lag_sample``).
- :func:`consumer_group_status_evaluate`: the pure status rule (OK, WARNING, STALLED, STOPPED, ERR).
- :func:`consumer_group_status_list`, :func:`consumer_lag_series`, :func:`projection_lag_latest_list`:
  the selectors the console, ``GET /api/consumers`` and ``/metrics`` read.
"""

from apps.messaging.lag.sampler import LagRound, consumer_lag_sample, lag_sampled_message, lag_status_policy
from apps.messaging.lag.selectors import (
    NO_SAMPLES,
    ConsumerGroupStatus,
    LagPoint,
    PartitionLag,
    ProjectionLagRow,
    consumer_group_status_list,
    consumer_lag_series,
    projection_lag_latest_list,
    projection_lag_series,
)
from apps.messaging.lag.status import (
    GroupStatus,
    LagStatus,
    PartitionSample,
    StatusPolicy,
    consumer_group_status_evaluate,
)

__all__ = [
    "NO_SAMPLES",
    "ConsumerGroupStatus",
    "GroupStatus",
    "LagPoint",
    "LagRound",
    "LagStatus",
    "PartitionLag",
    "PartitionSample",
    "ProjectionLagRow",
    "StatusPolicy",
    "consumer_group_status_evaluate",
    "consumer_group_status_list",
    "consumer_lag_sample",
    "consumer_lag_series",
    "lag_sampled_message",
    "lag_status_policy",
    "projection_lag_latest_list",
    "projection_lag_series",
]
