"""One round's rows: each group's partitions with commit times carried forward, and its verdict."""

from __future__ import annotations

import datetime as dt

from apps.messaging.lag.models import ConsumerGroupSample, ConsumerGroupState, ConsumerLagSample
from apps.messaging.lag.offsets import TopicOffsets
from apps.messaging.lag.status import (
    GroupStatus,
    LagStatus,
    PartitionSample,
    StatusPolicy,
    consumer_group_status_evaluate,
)


class RoundRecorder:
    """Builds one round's rows, carrying commit times forward from the previous round."""

    def __init__(
        self, *, topic: str, now: dt.datetime, states: dict[str, ConsumerGroupState], policy: StatusPolicy
    ) -> None:
        self.topic = topic
        self.now = now
        self.states = states
        self.policy = policy
        self.previous: dict[tuple[str, int], ConsumerLagSample] = {}
        self.partition_rows: list[ConsumerLagSample] = []
        self.group_rows: list[ConsumerGroupSample] = []
        self.new_states: list[ConsumerGroupState] = []
        self.verdicts: dict[str, GroupStatus] = {}
        self.totals: dict[str, int | None] = {}

    def previous_load(self) -> None:
        """The partition rows of each group's last successful round (however old)."""
        moments = {state.offsets_sampled_at for state in self.states.values() if state.offsets_sampled_at}
        if not moments:
            return
        rows = ConsumerLagSample.objects.filter(
            topic=self.topic, group_id__in=list(self.states), sampled_at__in=list(moments)
        )
        for row in rows:
            if row.sampled_at == self.states[row.group_id].offsets_sampled_at:
                self.previous[(row.group_id, row.partition)] = row

    def measured(self, group_id: str, offsets: TopicOffsets) -> None:
        committed = offsets.committed.get(group_id, {})
        current: list[PartitionSample] = []
        for partition, end in sorted(offsets.end.items()):
            offset = committed.get(partition)
            # Never committed: the consumer host starts from the log start (auto_offset_reset=earliest).
            lag = max(end - (offset if offset is not None else offsets.start.get(partition, 0)), 0)
            before = self.previous.get((group_id, partition))
            if before is not None and before.committed_offset == offset:
                last_commit_at = before.last_commit_at
            else:
                last_commit_at = self.now
            behind_since = None
            if lag > 0:
                behind_since = self.now
                if before is not None and before.lag > 0 and before.behind_since is not None:
                    behind_since = before.behind_since
            current.append(PartitionSample(self.now, partition, end, offset, lag, last_commit_at, behind_since))
        verdict = consumer_group_status_evaluate(
            [*self._window(group_id, len(current)), *current], policy=self.policy, now=self.now
        )
        total = sum(sample.lag or 0 for sample in current)
        for sample in current:
            self.partition_rows.append(
                ConsumerLagSample(
                    sampled_at=self.now,
                    topic=self.topic,
                    group_id=group_id,
                    partition=sample.partition,
                    end_offset=sample.end_offset or 0,
                    committed_offset=sample.committed_offset,
                    lag=sample.lag or 0,
                    last_commit_at=sample.last_commit_at,
                    behind_since=sample.behind_since,
                    status=verdict.partitions.get(sample.partition, LagStatus.OK),
                )
            )
        commits = [s.last_commit_at for s in current if s.committed_offset is not None and s.last_commit_at]
        self._group(group_id, verdict, total, offsets_sampled_at=self.now, last_commit_at=max(commits, default=None))

    def unreachable(self, group_id: str, error: str) -> None:
        state = self.states.get(group_id)
        verdict = consumer_group_status_evaluate([], error=error)
        self._group(
            group_id,
            verdict,
            None,
            offsets_sampled_at=state.offsets_sampled_at if state else None,
            last_commit_at=state.last_commit_at if state else None,
            error=error,
        )

    def _window(self, group_id: str, partitions: int) -> list[PartitionSample]:
        if group_id not in self.states or self.policy.window_samples <= 1:
            return []
        rows = ConsumerLagSample.objects.filter(
            group_id=group_id, topic=self.topic, sampled_at__gte=self.now - self.policy.window, sampled_at__lt=self.now
        ).order_by("-sampled_at")[: (self.policy.window_samples - 1) * max(partitions, 1)]
        return [
            PartitionSample(
                row.sampled_at,
                row.partition,
                row.end_offset,
                row.committed_offset,
                row.lag,
                row.last_commit_at,
                row.behind_since,
            )
            for row in rows
        ]

    def _group(
        self,
        group_id: str,
        verdict: GroupStatus,
        total: int | None,
        *,
        offsets_sampled_at: dt.datetime | None,
        last_commit_at: dt.datetime | None,
        error: str = "",
    ) -> None:
        self.verdicts[group_id] = verdict
        self.totals[group_id] = total
        reason = verdict.reason[:500]
        self.group_rows.append(
            ConsumerGroupSample(
                sampled_at=self.now,
                topic=self.topic,
                group_id=group_id,
                total_lag=total,
                status=verdict.status,
                reason=reason,
            )
        )
        self.new_states.append(
            ConsumerGroupState(
                topic=self.topic,
                group_id=group_id,
                status=verdict.status,
                reason=reason,
                total_lag=total,
                sampled_at=self.now,
                offsets_sampled_at=offsets_sampled_at,
                last_commit_at=last_commit_at,
                error=error[:500],
            )
        )

    def save(self, *, forget_others: bool) -> None:
        ConsumerLagSample.objects.bulk_create(self.partition_rows)
        ConsumerGroupSample.objects.bulk_create(self.group_rows)
        ConsumerGroupState.objects.bulk_create(
            self.new_states,
            update_conflicts=True,
            unique_fields=["topic", "group_id"],
            update_fields=[
                "status",
                "reason",
                "total_lag",
                "sampled_at",
                "offsets_sampled_at",
                "last_commit_at",
                "error",
            ],
        )
        if forget_others:
            # A group that no longer has offsets on the topic (deleted, or expired) leaves the table.
            ConsumerGroupState.objects.filter(topic=self.topic).exclude(group_id__in=list(self.verdicts)).delete()
