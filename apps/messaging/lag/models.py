"""What the lag sampler records: offsets per partition, totals and status per group, projection lag.

No foreign keys between these tables: pruning old rows is then one indexed DELETE each.
"""

from __future__ import annotations

from django.db import models


class ConsumerLagSample(models.Model):
    """One partition of one consumer group at one sampling round."""

    sampled_at = models.DateTimeField()
    topic = models.CharField(max_length=249)
    group_id = models.CharField(max_length=255)
    partition = models.IntegerField()
    end_offset = models.BigIntegerField()
    # None: the group never committed on this partition (it will start from the log start).
    committed_offset = models.BigIntegerField(null=True)
    lag = models.BigIntegerField()
    # When the sampler first saw this committed offset (Kafka does not report commit times).
    last_commit_at = models.DateTimeField(null=True)
    # When the partition was first seen lagging in the current run of lagging samples.
    behind_since = models.DateTimeField(null=True)
    status = models.CharField(max_length=8)

    class Meta:
        db_table = "messaging_consumer_lag_sample"
        indexes = [
            models.Index(fields=["group_id", "sampled_at"], name="messaging_lag_group_at_idx"),
            models.Index(fields=["sampled_at"], name="messaging_lag_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.group_id}[{self.partition}] lag {self.lag} at {self.sampled_at:%H:%M:%S}"


class ConsumerGroupSample(models.Model):
    """One consumer group at one sampling round: total lag and status, for the charts."""

    sampled_at = models.DateTimeField()
    topic = models.CharField(max_length=249)
    group_id = models.CharField(max_length=255)
    # None when the broker could not be read (status ERR).
    total_lag = models.BigIntegerField(null=True)
    status = models.CharField(max_length=8)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        db_table = "messaging_consumer_group_sample"
        indexes = [
            models.Index(fields=["group_id", "sampled_at"], name="messaging_lag_grp_group_at_idx"),
            models.Index(fields=["sampled_at"], name="messaging_lag_grp_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.group_id} {self.status} lag {self.total_lag} at {self.sampled_at:%H:%M:%S}"


class ConsumerGroupState(models.Model):
    """The latest verdict per (topic, group): what the console and the API read, one row per group."""

    topic = models.CharField(max_length=249)
    group_id = models.CharField(max_length=255)
    status = models.CharField(max_length=8)
    reason = models.CharField(max_length=500, blank=True)
    total_lag = models.BigIntegerField(null=True)
    # The last round, successful or not.
    sampled_at = models.DateTimeField()
    # The last round that read the offsets: its ConsumerLagSample rows are the current partitions.
    offsets_sampled_at = models.DateTimeField(null=True)
    last_commit_at = models.DateTimeField(null=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        db_table = "messaging_consumer_group_state"
        constraints = [models.UniqueConstraint(fields=["topic", "group_id"], name="messaging_lag_state_uniq")]

    def __str__(self) -> str:
        return f"{self.group_id} {self.status}"


class ProjectionLagSample(models.Model):
    """One projection at one sampling round: how far behind the head of the event store it is."""

    sampled_at = models.DateTimeField()
    projection = models.CharField(max_length=100)
    head_position = models.BigIntegerField()
    checkpoint_position = models.BigIntegerField()
    lag_positions = models.BigIntegerField()
    # Age of the oldest event of a handled type not yet applied; 0 when none is waiting.
    lag_seconds = models.FloatField()

    class Meta:
        db_table = "messaging_projection_lag_sample"
        indexes = [
            models.Index(fields=["projection", "sampled_at"], name="messaging_lag_proj_at_idx"),
            models.Index(fields=["sampled_at"], name="messaging_lag_proj_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.projection} lag {self.lag_positions} at {self.sampled_at:%H:%M:%S}"
