"""The Burrow-style verdict on a consumer group, from hand-written samples (no database, no broker)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from apps.messaging.lag.status import (
    LagStatus,
    PartitionSample,
    StatusPolicy,
    consumer_group_status_evaluate,
)

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
STEP = dt.timedelta(seconds=5)
POLICY = StatusPolicy(window_samples=5, window=dt.timedelta(minutes=5), stopped_after=dt.timedelta(minutes=2))


def series(
    committed: Sequence[int | None],
    lag: Sequence[int],
    *,
    partition: int = 0,
    start: dt.datetime = T0,
    last_commit_at: dt.datetime | None = None,
    behind_since: dt.datetime | None = None,
) -> list[PartitionSample]:
    """Samples 5 s apart; commit and behind times as the sampler would carry them, unless given."""
    samples = []
    seen_commit = start
    seen_behind: dt.datetime | None = None
    for index, (offset, behind) in enumerate(zip(committed, lag, strict=True)):
        at = start + index * STEP
        if index and offset != committed[index - 1]:
            seen_commit = at
        seen_behind = (seen_behind or at) if behind > 0 else None
        samples.append(
            PartitionSample(
                sampled_at=at,
                partition=partition,
                end_offset=(offset or 0) + behind,
                committed_offset=offset,
                lag=behind,
                last_commit_at=last_commit_at or seen_commit,
                behind_since=behind_since or seen_behind,
            )
        )
    return samples


def test_a_group_that_keeps_up_is_ok() -> None:
    verdict = consumer_group_status_evaluate(series([10, 12, 14, 16, 18], [0, 0, 1, 0, 0]), policy=POLICY)
    assert verdict.status is LagStatus.OK


def test_lag_that_moves_but_does_not_grow_is_ok() -> None:
    verdict = consumer_group_status_evaluate(series([10, 20, 30, 40, 50], [5, 8, 4, 6, 5]), policy=POLICY)
    assert verdict.status is LagStatus.OK


def test_lag_growing_over_the_window_while_committing_is_a_warning() -> None:
    verdict = consumer_group_status_evaluate(series([10, 20, 30, 40, 50], [5, 5, 7, 9, 12]), policy=POLICY)
    assert verdict.status is LagStatus.WARNING
    assert verdict.reason == "partition 0: lag grew from 5 to 12 while committing"


def test_lag_that_shrinks_once_in_the_window_is_not_a_warning() -> None:
    verdict = consumer_group_status_evaluate(series([10, 20, 30, 40, 50], [5, 7, 6, 9, 12]), policy=POLICY)
    assert verdict.status is LagStatus.OK


def test_a_committed_offset_stuck_with_lag_is_stalled() -> None:
    verdict = consumer_group_status_evaluate(series([40] * 5, [3, 4, 6, 6, 9]), policy=POLICY)
    assert verdict.status is LagStatus.STALLED
    assert "stuck at 40" in verdict.reason


def test_a_group_that_never_committed_and_lags_is_stalled() -> None:
    verdict = consumer_group_status_evaluate(series([None] * 5, [7] * 5), policy=POLICY)
    assert verdict.status is LagStatus.STALLED
    assert "never committed" in verdict.reason


def test_no_commit_for_longer_than_the_threshold_with_lag_is_stopped() -> None:
    long_ago = T0 - dt.timedelta(minutes=10)
    samples = series([40] * 5, [9] * 5, last_commit_at=long_ago, behind_since=long_ago)
    verdict = consumer_group_status_evaluate(samples, policy=POLICY)
    assert verdict.status is LagStatus.STOPPED
    assert verdict.reason.startswith("partition 0: no commit for 620 s with lag 9")


def test_stopped_needs_no_full_window_only_the_carried_times() -> None:
    long_ago = T0 - dt.timedelta(minutes=10)
    samples = series([40], [9], last_commit_at=long_ago, behind_since=long_ago)
    assert consumer_group_status_evaluate(samples, policy=POLICY).status is LagStatus.STOPPED


def test_an_idle_consumer_that_just_got_new_events_is_not_stopped() -> None:
    # No commit for 10 minutes because nothing arrived; the lag appeared 5 s ago.
    long_ago = T0 - dt.timedelta(minutes=10)
    samples = series([40], [2], last_commit_at=long_ago, behind_since=T0)
    assert consumer_group_status_evaluate(samples, policy=POLICY).status is LagStatus.OK


def test_a_stopped_consumer_with_no_lag_is_ok() -> None:
    long_ago = T0 - dt.timedelta(minutes=10)
    samples = series([40] * 5, [0] * 5, last_commit_at=long_ago)
    assert consumer_group_status_evaluate(samples, policy=POLICY).status is LagStatus.OK


def test_a_broker_that_cannot_be_reached_is_err() -> None:
    verdict = consumer_group_status_evaluate(
        series([10] * 5, [0] * 5), error="broker unreachable: KafkaTimeoutError", policy=POLICY
    )
    assert verdict.status is LagStatus.ERR
    assert verdict.reason == "broker unreachable: KafkaTimeoutError"


def test_trends_wait_for_a_full_window() -> None:
    verdict = consumer_group_status_evaluate(series([40] * 3, [3, 4, 6]), policy=POLICY)
    assert verdict.status is LagStatus.OK
    assert "window not full yet (3/5 samples)" in verdict.reason


def test_a_recent_zero_lag_in_the_window_means_ok_even_if_the_offset_stands_still() -> None:
    verdict = consumer_group_status_evaluate(series([40] * 5, [0, 0, 1, 2, 3]), policy=POLICY)
    assert verdict.status is LagStatus.OK


def test_samples_older_than_the_window_do_not_count() -> None:
    old = series([40] * 4, [3] * 4, start=T0 - dt.timedelta(minutes=30))
    recent = series([40], [3], start=T0)
    assert consumer_group_status_evaluate([*old, *recent], policy=POLICY).status is LagStatus.OK


def test_only_the_last_window_samples_are_judged() -> None:
    # Stuck long ago, committing and steady in the last five samples.
    samples = series([40, 40, 40, 40, 41, 50, 60, 70, 80], [3, 3, 3, 3, 3, 4, 3, 4, 3])
    assert consumer_group_status_evaluate(samples, policy=POLICY).status is LagStatus.OK


def test_the_group_takes_its_worst_partition_and_says_which() -> None:
    samples = [
        *series([10, 20, 30, 40, 50], [0, 0, 0, 0, 0], partition=0),
        *series([10, 20, 30, 40, 50], [1, 2, 3, 4, 5], partition=1),
        *series([7] * 5, [4] * 5, partition=2),
    ]
    verdict = consumer_group_status_evaluate(list(reversed(samples)), policy=POLICY)
    assert verdict.status is LagStatus.STALLED
    assert verdict.reason.startswith("partition 2: committed offset stuck at 7")
    assert verdict.partitions == {0: LagStatus.OK, 1: LagStatus.WARNING, 2: LagStatus.STALLED}


def test_several_partitions_with_the_same_worst_status_are_counted() -> None:
    samples = [*series([7] * 5, [4] * 5, partition=3), *series([9] * 5, [2] * 5, partition=5)]
    verdict = consumer_group_status_evaluate(samples, policy=POLICY)
    assert verdict.reason.startswith("partition 3:")
    assert verdict.reason.endswith("(and 1 more partition)")


def test_a_group_without_partitions_is_ok() -> None:
    assert consumer_group_status_evaluate([], policy=POLICY).status is LagStatus.OK


def test_the_default_policy_is_ten_samples_in_five_minutes_and_stopped_after_five_minutes() -> None:
    policy = StatusPolicy()
    assert (policy.window_samples, policy.window, policy.stopped_after) == (
        10,
        dt.timedelta(minutes=5),
        dt.timedelta(minutes=5),
    )


def test_an_ok_group_says_how_much_it_lags_and_whether_the_window_is_full() -> None:
    lagging = [*series([10, 20], [0, 0], partition=0), *series([10, 20], [3, 4], partition=1)]
    assert consumer_group_status_evaluate(lagging, policy=POLICY).reason == ("lag 4; window not full yet (2/5 samples)")
    caught_up = [*series([10, 20], [0, 0], partition=0), *series([10, 20], [0, 0], partition=1)]
    assert consumer_group_status_evaluate(caught_up, policy=POLICY).reason == "no lag"
    steady = [*series([10, 20, 30, 40, 50], [3, 2, 3, 2, 3], partition=0), *series([9] * 5, [0] * 5, partition=1)]
    assert consumer_group_status_evaluate(steady, policy=POLICY).reason == "lag 3; committing, not growing"
