"""Burrow-style status of a consumer group, from a window of lag samples. Pure: no Django, no Kafka.

Each partition is judged on its own recent samples, oldest first, and the group takes the
worst partition's status (ERR > STOPPED > STALLED > WARNING > OK):

- **OK**: the partition has no lag now, or had none at some point in the window (it keeps
  up, and new events just arrived), or its committed offset moves and the lag does not grow.
- **STOPPED**: lag > 0, and no commit for ``stopped_after`` while lagging all that time.
  Judged on the carried ``last_commit_at`` and ``behind_since``, so it needs no long window.
- **STALLED**: a full window of samples, lag > 0 in every one, committed offset unchanged.
- **WARNING**: a full window, lag > 0 in every one, the committed offset moves, and the lag
  never shrinks from one sample to the next and ends higher than it started.
- **ERR**: the round could not read the broker (given as ``error``).

Until a partition has a full window (``window_samples`` samples within ``window``), only
STOPPED and ERR can be decided, as in Burrow: a trend needs enough points.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise


class LagStatus(StrEnum):
    OK = "OK"
    WARNING = "WARNING"
    STALLED = "STALLED"
    STOPPED = "STOPPED"
    ERR = "ERR"


_SEVERITY = {LagStatus.OK: 0, LagStatus.WARNING: 1, LagStatus.STALLED: 2, LagStatus.STOPPED: 3, LagStatus.ERR: 4}


@dataclass(frozen=True)
class PartitionSample:
    """One partition of one group at one sampling round.

    ``last_commit_at``: when the sampler first saw the current committed offset (Kafka does
    not report commit times), or first saw the partition without a commit.
    ``behind_since``: when the partition was first seen lagging in the current run of
    samples with lag > 0; None when it has no lag.
    """

    sampled_at: dt.datetime
    partition: int
    end_offset: int | None
    committed_offset: int | None
    lag: int | None
    last_commit_at: dt.datetime | None = None
    behind_since: dt.datetime | None = None


@dataclass(frozen=True)
class StatusPolicy:
    """How much history a verdict looks at, and when silence becomes STOPPED."""

    window_samples: int = 10
    window: dt.timedelta = dt.timedelta(minutes=5)
    stopped_after: dt.timedelta = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class GroupStatus:
    status: LagStatus
    reason: str
    partitions: dict[int, LagStatus] = field(default_factory=dict)


def consumer_group_status_evaluate(
    samples: Iterable[PartitionSample],
    *,
    error: str = "",
    policy: StatusPolicy | None = None,
    now: dt.datetime | None = None,
) -> GroupStatus:
    """The status of one group from its recent partition samples (any order).

    ``now`` defaults to the newest ``sampled_at``; ``error`` non-empty means the latest
    round could not reach the broker, which is ERR whatever the samples say.
    """
    policy = policy or StatusPolicy()
    by_partition: dict[int, list[PartitionSample]] = defaultdict(list)
    for sample in samples:
        by_partition[sample.partition].append(sample)
    if error:
        return GroupStatus(LagStatus.ERR, error)
    if not by_partition:
        return GroupStatus(LagStatus.OK, "no partitions sampled yet")
    if now is None:
        now = max(points[-1].sampled_at for points in _sorted(by_partition).values())
    verdicts = {
        partition: partition_status_evaluate(points, policy=policy, now=now)
        for partition, points in _sorted(by_partition).items()
    }
    worst = max(verdicts.items(), key=lambda item: (_SEVERITY[item[1][0]], -item[0]))
    statuses = {partition: status for partition, (status, _) in verdicts.items()}
    status, reason = worst[1]
    if status is LagStatus.OK:
        return GroupStatus(LagStatus.OK, _ok_reason(_sorted(by_partition), policy, now), statuses)
    others = sum(1 for other in statuses.values() if other is status) - 1
    suffix = f" (and {others} more partition{'s' if others > 1 else ''})" if others else ""
    return GroupStatus(status, f"partition {worst[0]}: {reason}{suffix}", statuses)


def partition_status_evaluate(
    samples: Sequence[PartitionSample], *, policy: StatusPolicy, now: dt.datetime
) -> tuple[LagStatus, str]:
    """One partition's status and why, from its samples oldest first."""
    last = samples[-1]
    lag = last.lag or 0
    if lag <= 0:
        return LagStatus.OK, "no lag"
    stuck_since = _latest(last.last_commit_at, last.behind_since)
    if stuck_since is not None and now - stuck_since >= policy.stopped_after:
        return LagStatus.STOPPED, f"no commit for {_seconds(now - stuck_since)} s with lag {lag}"
    window = [sample for sample in samples if now - sample.sampled_at <= policy.window][-policy.window_samples :]
    if len(window) < policy.window_samples:
        return LagStatus.OK, f"lag {lag}; window not full yet ({len(window)}/{policy.window_samples} samples)"
    if any((sample.lag or 0) <= 0 for sample in window):
        return LagStatus.OK, f"lag {lag}; caught up within the window"
    committed = [sample.committed_offset for sample in window]
    if all(offset == committed[0] for offset in committed):
        return LagStatus.STALLED, f"committed offset stuck at {_offset(committed[0])} with lag {lag}"
    lags = [sample.lag or 0 for sample in window]
    if all(later >= earlier for earlier, later in pairwise(lags)) and lags[-1] > lags[0]:
        return LagStatus.WARNING, f"lag grew from {lags[0]} to {lags[-1]} while committing"
    return LagStatus.OK, f"lag {lag}; committing, not growing"


def _ok_reason(by_partition: dict[int, list[PartitionSample]], policy: StatusPolicy, now: dt.datetime) -> str:
    total = sum(points[-1].lag or 0 for points in by_partition.values())
    if total <= 0:
        return "no lag"
    filled = min(
        len([sample for sample in points if now - sample.sampled_at <= policy.window][-policy.window_samples :])
        for points in by_partition.values()
        if (points[-1].lag or 0) > 0
    )
    if filled < policy.window_samples:
        return f"lag {total}; window not full yet ({filled}/{policy.window_samples} samples)"
    return f"lag {total}; committing, not growing"


def _sorted(by_partition: dict[int, list[PartitionSample]]) -> dict[int, list[PartitionSample]]:
    return {
        partition: sorted(points, key=lambda sample: sample.sampled_at)
        for partition, points in sorted(by_partition.items())
    }


def _latest(*moments: dt.datetime | None) -> dt.datetime | None:
    known = [moment for moment in moments if moment is not None]
    return max(known) if known else None


def _seconds(delta: dt.timedelta) -> int:
    return int(delta.total_seconds())


def _offset(offset: int | None) -> str:
    return "none (never committed)" if offset is None else str(offset)
