"""What the console reads from the pipeline: consumer groups and lag, dead letters, heartbeats."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from apps.messaging.dead_letters.selectors import dead_letter_status_counts
from apps.messaging.heartbeat import ConsumerHeartbeat, consumer_heartbeat_list, heartbeat_age
from apps.messaging.lag import PartitionLag, consumer_group_status_list, consumer_lag_series


@dataclass(frozen=True)
class ConsumerMemberRow:
    """One consumer thread of a group, on the worker (``host:pid``) that runs it."""

    worker: str
    member: str  # host:pid:thread
    partitions: list[int]
    status: str
    last_poll_age: float
    # Running and assigned nothing because the group has more members than the topic has
    # partitions: a worker added for this group only waits as a standby.
    idle: bool


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
    member_rows: list[ConsumerMemberRow] = field(default_factory=list)

    @property
    def idle_members(self) -> int:
        return sum(1 for member in self.member_rows if member.idle)

    @property
    def partition_owners(self) -> list[str]:
        """The worker holding each partition of :attr:`partitions`, in the same order ("" for none)."""
        owner = {partition: member.worker for member in self.member_rows for partition in member.partitions}
        return [owner.get(part.partition, "") for part in self.partitions]


def consumer_member_rows(*, beats: list[ConsumerHeartbeat], partition_count: int) -> list[ConsumerMemberRow]:
    """One group's live consumer threads with the partitions each holds, by worker.

    A thread that stopped (a worker's warm shutdown) is no member any more, though its
    heartbeat outlives it until the key expires. ``partition_count`` 0 means unknown (no
    lag sample yet): the partitions the members hold stand in for it.
    """
    live = [beat for beat in beats if beat["status"] != "stopped"]
    partitions = partition_count or len({partition for beat in live for partition in beat["partitions"]})
    crowded = len(live) > partitions
    return sorted(
        (
            ConsumerMemberRow(
                worker=beat["member"].rsplit(":", 1)[0],
                member=beat["member"],
                partitions=sorted(beat["partitions"]),
                status=beat["status"],
                last_poll_age=heartbeat_age(beat),
                idle=crowded and beat["status"] == "running" and not beat["partitions"],
            )
            for beat in live
        ),
        key=lambda row: (not row.partitions, row.partitions[:1], row.member),
    )


def consumer_group_list() -> list[ConsumerGroupRow]:
    """Every registered or sampled consumer group: Burrow-style status, lag, partitions, live members.

    Each member row names the worker (``host:pid``) and the partitions it holds.
    """
    beats: dict[str, list[ConsumerHeartbeat]] = {}
    try:
        for beat in consumer_heartbeat_list():
            beats.setdefault(beat["group_id"], []).append(beat)
    except Exception:  # noqa: S110 - Redis down: the health list says so; the table goes on
        pass
    rows = []
    for group in consumer_group_status_list():
        members = consumer_member_rows(beats=beats.get(group.group_id, []), partition_count=len(group.partitions))
        rows.append(
            ConsumerGroupRow(
                group_id=group.group_id,
                status=group.status,
                reason=group.error or group.reason,
                total_lag=group.total_lag,
                partitions=group.partitions,
                sampled_at=group.sampled_at,
                last_commit_at=group.last_commit_at,
                description=group.description,
                members=len(members),
                last_poll_age=min(member.last_poll_age for member in members) if members else None,
                member_rows=members,
            )
        )
    return rows


def lag_series(*, minutes: int = 60) -> list[tuple[dt.datetime, str, int]]:
    """(sampled_at, group_id, total lag) over the last ``minutes``, oldest first."""
    return [(point.sampled_at, point.group_id, point.lag) for point in consumer_lag_series(minutes)]


def dead_letters_waiting() -> int:
    """Dead letters parked and waiting for an operator."""
    return int(dead_letter_status_counts().get("parked", 0))
