"""Saga state: one row per saga, one row per attempt of each of its steps, and the orchestrator's cursors.

One row per attempt (not per step) so a timeline can draw every retry and the wait before
it. The orchestrator's stream cursors are its tracking records: they change in the same
transaction as the saga rows, so a duplicated or replayed event changes nothing.
"""

from __future__ import annotations

import uuid

from django.db import models


class SagaStatus(models.TextChoices):
    RUNNING = "running"
    COMPLETED = "completed"
    COMPENSATING = "compensating"
    COMPENSATED = "compensated"
    FAILED = "failed"
    STUCK = "stuck"


class StepKind(models.TextChoices):
    ACTION = "action"
    COMPENSATION = "compensation"


class AttemptStatus(models.TextChoices):
    PENDING = "pending"  # command sent (or due to be sent), awaiting its answer
    SUCCEEDED = "succeeded"
    REJECTED = "rejected"  # answered negatively: reservation rejected, payment declined
    ERRORED = "errored"  # the command raised
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


class SagaInstance(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    saga_type = models.CharField(max_length=32, default="order")
    order_id = models.CharField(max_length=64, db_index=True)
    correlation_id = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16, choices=SagaStatus.choices, default=SagaStatus.RUNNING, db_index=True)
    current_step = models.CharField(max_length=64, blank=True)
    status_reason = models.TextField(blank=True)
    context = models.JSONField(default=dict)
    trigger_event_id = models.CharField(max_length=64)
    trigger_position = models.BigIntegerField()
    started_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            # A duplicated OrderPlaced starts nothing: its event id is taken.
            models.UniqueConstraint(fields=["saga_type", "trigger_event_id"], name="sagas_instance_one_per_trigger"),
        ]
        indexes = [models.Index(fields=["-started_at"], name="sagas_instance_started")]

    def __str__(self) -> str:
        return f"{self.saga_type} saga of {self.order_id} ({self.status})"


class SagaStep(models.Model):
    saga = models.ForeignKey(SagaInstance, on_delete=models.CASCADE, related_name="steps")
    name = models.CharField(max_length=64)
    target = models.CharField(max_length=120, blank=True)
    kind = models.CharField(max_length=16, choices=StepKind.choices)
    sequence = models.SmallIntegerField()
    attempt = models.SmallIntegerField(default=1)
    max_attempts = models.SmallIntegerField()
    status = models.CharField(max_length=16, choices=AttemptStatus.choices, default=AttemptStatus.PENDING)
    command = models.JSONField(default=dict)
    command_id = models.CharField(max_length=64)
    causation_id = models.CharField(max_length=64)
    wait_before_ms = models.IntegerField(default=0)
    started_at = models.DateTimeField()
    deadline_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    answer_event_id = models.CharField(max_length=64, blank=True)
    answer_event_type = models.CharField(max_length=64, blank=True)
    answer_stream_id = models.CharField(max_length=200, blank=True)
    answer_position = models.BigIntegerField(null=True, blank=True)
    compensates = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["sequence", "started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["saga", "name", "target", "kind", "attempt"], name="sagas_step_one_row_per_attempt"
            ),
        ]
        indexes = [
            # The beat task's question: which pending attempts are past their deadline.
            models.Index(fields=["status", "deadline_at"], name="sagas_step_overdue"),
        ]

    def __str__(self) -> str:
        return f"{self.name}[{self.target}] attempt {self.attempt} {self.status}"


class SagaStreamCursor(models.Model):
    """The last version of each stream the orchestrator applied (its tracking record)."""

    stream_id = models.CharField(max_length=200, primary_key=True)
    version = models.IntegerField()
    position = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.stream_id}@{self.version}"
