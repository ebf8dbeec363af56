"""Dead letters and failure rules. Imported by ``apps/messaging/models.py`` (app label ``messaging``)."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q


class DeadLetterStatus(models.TextChoices):
    PARKED = "parked", "parked"
    REPLAYED = "replayed", "replayed"
    SKIPPED = "skipped", "skipped"
    # A rebuild of the group's read model applied the event from the store.
    RESOLVED_BY_REBUILD = "resolved_by_rebuild", "resolved by rebuild"


class DeadLetter(models.Model):
    """An event a consumer group could not apply, or one waiting behind such an event.

    A *head* failed on its own (``blocked_by`` is null). Later events of the same stream
    for the same group are parked behind the head (``blocked_by`` set) so the stream keeps
    its order. A message that could not be decoded keeps its raw bytes and no stream.
    """

    group_id = models.CharField(max_length=200)
    position = models.BigIntegerField(null=True, blank=True)
    stream_id = models.CharField(max_length=255, blank=True)
    event_type = models.CharField(max_length=200, blank=True)
    topic = models.CharField(max_length=255)
    partition = models.IntegerField()
    # -position for an event the consumer host read from the store to close a gap: it had
    # no record of its own (apps/messaging/consumer_host/ordering.py).
    offset = models.BigIntegerField()
    error_class = models.CharField(max_length=255, blank=True)
    error_message = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    # The error class and the frame of our code it came from (fingerprint.py); blank for
    # an event parked behind a head, which did not fail itself. Indexed for the group view.
    fingerprint = models.CharField(max_length=500, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    first_failed_at = models.DateTimeField(null=True, blank=True)
    last_failed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=DeadLetterStatus.choices, default=DeadLetterStatus.PARKED)
    raw_key = models.BinaryField(null=True, blank=True)
    raw_value = models.BinaryField(null=True, blank=True)
    blocked_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="parked_behind"
    )
    skip_reason = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=150, blank=True)
    # The format and schema the Kafka record was written with (KAFKA_VALUE_FORMAT at the
    # relay's side): "avro" with the schema id from its bytes, or "json". Blank for an event
    # the consumer host read from the store, which had no record of its own.
    record_format = models.CharField(max_length=10, blank=True)
    record_schema_id = models.BigIntegerField(null=True, blank=True)
    record_schema_version = models.IntegerField(null=True, blank=True)
    # When the copy on the DLQ topic was acknowledged; null until then.
    dlq_published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "messaging"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["group_id", "topic", "partition", "offset"], name="messaging_dead_letter_message_uniq"
            ),
            models.UniqueConstraint(
                fields=["group_id", "position"],
                condition=Q(position__isnull=False),
                name="messaging_dead_letter_event_uniq",
            ),
        ]
        indexes = [
            models.Index(fields=["group_id", "status", "stream_id"], name="messaging_dl_group_status_idx"),
            models.Index(fields=["stream_id", "position"], name="messaging_dl_stream_idx"),
            models.Index(fields=["status", "created_at"], name="messaging_dl_status_idx"),
            models.Index(fields=["status", "fingerprint", "group_id"], name="messaging_dl_fingerprint_idx"),
        ]

    def __str__(self) -> str:
        what = f"#{self.position} {self.event_type}" if self.position is not None else "undecodable"
        return f"dead letter {self.pk} ({self.group_id}, {what}, {self.status})"

    @property
    def decodable(self) -> bool:
        return self.position is not None

    @property
    def is_head(self) -> bool:
        return self.blocked_by_id is None


class DeadLetterAttempt(models.Model):
    """One try at a dead letter: the consumer host's retries (one row for the run of them) or a replay.

    ``tries`` is how many deliveries the row stands for; ``error_class`` is blank for the
    attempt that succeeded.
    """

    dead_letter = models.ForeignKey(DeadLetter, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    tries = models.PositiveIntegerField(default=1)
    by = models.CharField(max_length=150)
    error_class = models.CharField(max_length=255, blank=True)
    error_message = models.TextField(blank=True)

    class Meta:
        app_label = "messaging"
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["dead_letter", "at"], name="messaging_dl_attempt_idx")]

    def __str__(self) -> str:
        return f"attempt on dead letter {self.dead_letter_id} at {self.at:%Y-%m-%d %H:%M:%S}"


class FailureRuleKind(models.TextChoices):
    FIELD_REGEX = "field_regex", "field matches regex"
    PROBABILITY = "probability", "with probability p"


class FailureRuleEffect(models.TextChoices):
    FAIL = "fail", "fail (raise)"
    REJECT = "reject", "answer negatively"
    NO_REPLY = "no_reply", "swallow the command"
    DELAY = "delay", "answer late"


class FailureRule(models.Model):
    """An operator-controlled fault: make a consumer group, or a saga participant, misbehave.

    The target (``group_id``) is a consumer group, ``*`` for every group, or a participant
    (``participant.inventory``, ``participant.payment``). ``field_regex`` matches events (or
    commands) whose ``data[field]`` matches ``pattern`` (re.search); ``probability`` matches a
    deterministic share ``probability`` of them, so a replay or a retry under the same rule
    meets the same fault. A consumer can only ``fail``; a participant may also ``reject``,
    give ``no_reply`` or ``delay`` its answer by ``delay_ms``.
    """

    ANY_GROUP = "*"
    PARTICIPANT_TARGETS = ("participant.inventory", "participant.payment")

    group_id = models.CharField(max_length=200, default=ANY_GROUP)
    kind = models.CharField(max_length=20, choices=FailureRuleKind.choices)
    field = models.CharField(max_length=100, blank=True, default="customer_id")
    pattern = models.CharField(max_length=500, blank=True)
    probability = models.FloatField(default=0.0)
    effect = models.CharField(max_length=20, choices=FailureRuleEffect.choices, default=FailureRuleEffect.FAIL)
    delay_ms = models.PositiveIntegerField(default=0)
    enabled = models.BooleanField(default=True)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "messaging"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"failure rule {self.pk}: {self.describe()}"

    def describe(self) -> str:
        state = "on" if self.enabled else "off"
        verb = {
            FailureRuleEffect.FAIL: "fails",
            FailureRuleEffect.REJECT: "rejects",
            FailureRuleEffect.NO_REPLY: "does not reply",
            FailureRuleEffect.DELAY: f"answers {self.delay_ms} ms late",
        }.get(FailureRuleEffect(self.effect), "fails")
        if self.kind == FailureRuleKind.FIELD_REGEX:
            return f"{self.group_id} {verb} when {self.field} ~ /{self.pattern}/ ({state})"
        return f"{self.group_id} {verb} with p={self.probability:g} ({state})"


class ReplayJobStatus(models.TextChoices):
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    DONE = "done", "done"
    # Stopped itself: more than the allowed share failed again (after the canary or later).
    STOPPED = "stopped", "stopped"
    CANCELLED = "cancelled", "cancelled"
    FAILED = "failed", "failed"


ACTIVE_REPLAY_JOB_STATUSES = (ReplayJobStatus.QUEUED, ReplayJobStatus.RUNNING)


class DeadLetterReplayJob(models.Model):
    """A bulk replay of the parked dead letters a filter matches, run by a Celery task like a rebuild.

    ``scope_key`` names the filter: one job per filter may be active, so the same bulk
    replay asked twice at once runs once. ``total`` is what matched when the job started
    (heads and the events parked behind them); ``replayed`` and ``failed_again`` count
    dead letters; ``new_dead_letters`` counts failures recorded while the job ran.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    filters = models.JSONField(default=dict)
    everything = models.BooleanField(default=False)
    scope_key = models.CharField(max_length=64)
    # Events per second; null replays as fast as it can.
    rate_limit = models.PositiveIntegerField(null=True, blank=True)
    canary_size = models.PositiveIntegerField()
    stop_failure_share = models.FloatField()
    status = models.CharField(max_length=10, choices=ReplayJobStatus.choices, default=ReplayJobStatus.QUEUED)
    total = models.PositiveIntegerField(default=0)
    replayed = models.PositiveIntegerField(default=0)
    failed_again = models.PositiveIntegerField(default=0)
    heads_done = models.PositiveIntegerField(default=0)
    heads_total = models.PositiveIntegerField(default=0)
    new_dead_letters = models.PositiveIntegerField(default=0)
    # The newest dead letter when the job started: anything after it arrived meanwhile.
    started_after_id = models.BigIntegerField(null=True, blank=True)
    rate = models.FloatField(default=0.0)
    requested_by = models.CharField(max_length=150)
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        app_label = "messaging"
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["scope_key"],
                condition=Q(status__in=["queued", "running"]),
                name="messaging_one_active_replay_per_scope",
            )
        ]

    def __str__(self) -> str:
        return f"replay job {self.id} {self.status} {self.replayed}/{self.total}"

    @property
    def remaining(self) -> int:
        return max(self.total - self.replayed - self.failed_again, 0)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_REPLAY_JOB_STATUSES
