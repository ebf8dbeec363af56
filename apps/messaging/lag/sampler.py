"""The lag sampler: one round reads the broker, records every group's offsets and status, and prunes.

Celery beat runs :func:`consumer_lag_sample` every ``LAG_SAMPLE_INTERVAL_SECONDS``. A
round samples the registered consumer groups and every other group that committed on
the topic, each partition's end offset, committed offset and lag, judges each group
(apps.messaging.lag.status), measures the lag in positions and seconds of each projection
registered with apps.messaging.registry, and deletes what is older than
``LAG_RETENTION_HOURS``. When the broker cannot be read the round still completes: every
known group is recorded as ERR with the error.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from apps.messaging.lag.models import ConsumerGroupSample, ConsumerGroupState, ConsumerLagSample, ProjectionLagSample
from apps.messaging.lag.offsets import TopicOffsets, topic_offsets_read
from apps.messaging.lag.recorder import RoundRecorder
from apps.messaging.lag.status import GroupStatus, StatusPolicy
from apps.messaging.push import LAG_GROUP, LagGroupLine, LagSampledMessage, push_send
from apps.messaging.registry import consumer_specs, projection_sources

logger = logging.getLogger(__name__)

# Session advisory lock (two-integer form) so two workers never sample the same round.
_LOCK_KEY = (0x4C414753, 1)  # "LAGS"


@dataclass(frozen=True)
class LagRound:
    """What one round recorded."""

    sampled_at: dt.datetime
    topic: str
    error: str
    groups: dict[str, GroupStatus] = field(default_factory=dict)
    total_lag: dict[str, int | None] = field(default_factory=dict)
    projections: int = 0


def lag_sampled_message(result: LagRound) -> LagSampledMessage:
    """The message pushed to the browsers after a round."""
    return LagSampledMessage(
        type="lag.sampled",
        topic=result.topic,
        sampled_at=result.sampled_at.isoformat(),
        error=result.error,
        groups=[
            LagGroupLine(group_id=group_id, status=verdict.status.value, total_lag=result.total_lag.get(group_id))
            for group_id, verdict in sorted(result.groups.items())
        ],
    )


def lag_status_policy() -> StatusPolicy:
    """The status window and the STOPPED threshold from the ``LAG_*`` settings."""
    return StatusPolicy(
        window_samples=settings.LAG_STATUS_WINDOW_SAMPLES,
        window=dt.timedelta(seconds=settings.LAG_STATUS_WINDOW_SECONDS),
        stopped_after=dt.timedelta(seconds=settings.LAG_STOPPED_AFTER_SECONDS),
    )


def consumer_lag_sample(*, now: dt.datetime | None = None) -> LagRound | None:
    """Sample every consumer group of ``KAFKA_TOPIC`` and every projection once; prune old samples.

    Returns None when another process holds the sampler's lock (it is sampling now).
    Never raises for a broker outage: the round is recorded with the groups as ERR.
    """
    with _sampler_lock() as acquired:
        if not acquired:
            logger.info("lag sampler: another round is running, skipping this one")
            return None
        result = _round(now or timezone.now())
    push_send(group=LAG_GROUP, message=lag_sampled_message(result))
    return result


@contextmanager
def _sampler_lock() -> Iterator[bool]:
    connection = connections["default"]
    if connection.vendor != "postgresql":
        yield True  # SQLite is the single-process development setup
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", list(_LOCK_KEY))
        acquired = bool(cursor.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", list(_LOCK_KEY))


def _round(now: dt.datetime) -> LagRound:
    topic = settings.KAFKA_TOPIC
    registered = {spec.group_id for spec in consumer_specs()}
    states = {state.group_id: state for state in ConsumerGroupState.objects.filter(topic=topic)}
    offsets: TopicOffsets | None = None
    error = ""
    try:
        offsets = topic_offsets_read(topic=topic, group_ids=registered)
    except Exception as exc:  # any client failure is an outage to record, never a crashed task
        error = f"broker unreachable: {type(exc).__name__}: {exc}"[:500]
        logger.warning("lag sample of %s: %s", topic, error)
    recorder = RoundRecorder(topic=topic, now=now, states=states, policy=lag_status_policy())
    if offsets is None:
        for group_id in sorted(registered | states.keys()):
            recorder.unreachable(group_id, error)
    else:
        recorder.previous_load()
        for group_id in sorted(offsets.committed.keys() | offsets.errors.keys()):
            if group_id in offsets.errors:
                recorder.unreachable(group_id, offsets.errors[group_id])
            else:
                recorder.measured(group_id, offsets)
    with transaction.atomic():
        recorder.save(forget_others=offsets is not None)
    projection_rows = _projection_samples(now)
    ProjectionLagSample.objects.bulk_create(projection_rows)
    _prune(now)
    return LagRound(
        sampled_at=now,
        topic=topic,
        error=error,
        groups=recorder.verdicts,
        total_lag=recorder.totals,
        projections=len(projection_rows),
    )


def _projection_samples(now: dt.datetime) -> list[ProjectionLagSample]:
    rows = []
    for source in projection_sources():
        try:
            lag = source.lag_measure()
        except Exception:
            logger.exception("lag sample of projection %s failed", source.name)
            continue
        rows.append(
            ProjectionLagSample(
                sampled_at=now,
                projection=source.name,
                head_position=lag.head_position,
                checkpoint_position=lag.checkpoint_position,
                lag_positions=lag.lag_positions,
                lag_seconds=lag.lag_seconds,
            )
        )
    return rows


def _prune(now: dt.datetime) -> None:
    cutoff = now - dt.timedelta(hours=settings.LAG_RETENTION_HOURS)
    # No signals and no relations: each is a single DELETE on the sampled_at index.
    for model in (ConsumerLagSample, ConsumerGroupSample, ProjectionLagSample):
        model.objects.filter(sampled_at__lt=cutoff).delete()
