"""What the console reads from the pipeline: consumer groups and lag, dead letters, heartbeats."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from apps.messaging.dead_letters.selectors import dead_letter_status_counts
from apps.messaging.heartbeat import consumer_heartbeat_list, heartbeat_age
from apps.messaging.lag import PartitionLag, consumer_group_status_list, consumer_lag_series


@dataclass(frozen=True)
class ConsumerGroupRow:
    group_id: str
    status: str
    reason: str
    total_lag: int | None
    partitions: list[PartitionLag] = field(default_factory=list)
    sampled_at: dt.datetime | None = None
    last_commit_at: dt.datetime | None = None
    description: str = ""
    # Worker threads consuming for this group whose heartbeat has not expired.
    members: int = 0
    last_poll_age: float | None = None


def consumer_group_list() -> list[ConsumerGroupRow]:
    """Every registered or sampled consumer group: Burrow-style status, lag, partitions, live workers."""
    beats: dict[str, list[float]] = {}
    try:
        for beat in consumer_heartbeat_list():
            beats.setdefault(beat["group_id"], []).append(heartbeat_age(beat))
    except Exception:  # noqa: S110 - Redis down: the health list says so; the table goes on
        pass
    return [
        ConsumerGroupRow(
            group_id=group.group_id,
            status=group.status,
            reason=group.error or group.reason,
            total_lag=group.total_lag,
            partitions=group.partitions,
            sampled_at=group.sampled_at,
            last_commit_at=group.last_commit_at,
            description=group.description,
            members=len(beats.get(group.group_id, [])),
            last_poll_age=min(beats[group.group_id]) if group.group_id in beats else None,
        )
        for group in consumer_group_status_list()
    ]


def lag_series(*, minutes: int = 60) -> list[tuple[dt.datetime, str, int]]:
    """(sampled_at, group_id, total lag) over the last ``minutes``, oldest first."""
    return [(point.sampled_at, point.group_id, point.lag) for point in consumer_lag_series(minutes)]


def dead_letters_waiting() -> int:
    """Dead letters parked and waiting for an operator."""
    return int(dead_letter_status_counts().get("parked", 0))
