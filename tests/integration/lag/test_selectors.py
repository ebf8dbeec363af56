"""The reads on the samples: series for the chart, retention, the console's contract, the beat task."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.console.selectors import pipeline
from apps.messaging.lag import consumer_group_status_list, consumer_lag_sample, consumer_lag_series
from apps.messaging.lag.models import ConsumerGroupSample, ConsumerGroupState, ConsumerLagSample, ProjectionLagSample
from apps.messaging.lag.selectors import _Epoch
from apps.messaging.tasks import consumer_lag_sample_task
from tests.integration.lag.conftest import LagTopic

TOPIC = "order-events"


def history_fill(*, groups: list[str], partitions: int, minutes: int, step_seconds: float = 5.0) -> None:
    """``minutes`` of rounds for ``groups`` ending now, as the sampler writes them (lag = round index)."""
    now = timezone.now()
    rounds = int(minutes * 60 / step_seconds)
    group_rows: list[ConsumerGroupSample] = []
    partition_rows: list[ConsumerLagSample] = []
    for index in range(rounds):
        at = now - dt.timedelta(seconds=step_seconds * (rounds - 1 - index))
        for group_id in groups:
            group_rows.append(
                ConsumerGroupSample(sampled_at=at, topic=TOPIC, group_id=group_id, total_lag=index, status="OK")
            )
            partition_rows.extend(
                ConsumerLagSample(
                    sampled_at=at,
                    topic=TOPIC,
                    group_id=group_id,
                    partition=partition,
                    end_offset=1000 + index,
                    committed_offset=1000,
                    lag=index,
                    status="OK",
                )
                for partition in range(partitions)
            )
    ConsumerGroupSample.objects.bulk_create(group_rows, batch_size=5000)
    ConsumerLagSample.objects.bulk_create(partition_rows, batch_size=5000)
    ConsumerGroupState.objects.bulk_create(
        ConsumerGroupState(
            topic=TOPIC, group_id=group_id, status="OK", total_lag=rounds - 1, sampled_at=now, offsets_sampled_at=now
        )
        for group_id in groups
    )


def test_the_series_gives_each_groups_total_lag_oldest_first_without_error_rounds(db: None, settings: Any) -> None:
    settings.KAFKA_TOPIC = TOPIC
    now = timezone.now()
    rows = [
        ("g1", now - dt.timedelta(minutes=90), 50, "OK"),
        ("g1", now - dt.timedelta(seconds=20), 3, "OK"),
        ("g2", now - dt.timedelta(seconds=10), None, "ERR"),
        ("g1", now - dt.timedelta(seconds=10), 4, "OK"),
        ("g2", now - dt.timedelta(seconds=5), 7, "WARNING"),
    ]
    ConsumerGroupSample.objects.bulk_create(
        ConsumerGroupSample(sampled_at=at, topic=TOPIC, group_id=group, total_lag=lag, status=status)
        for group, at, lag, status in rows
    )

    series = consumer_lag_series(60)

    assert [(point.group_id, point.lag) for point in series] == [("g1", 3), ("g1", 4), ("g2", 7)]
    assert series == sorted(series, key=lambda point: point.sampled_at)


def test_a_long_series_keeps_the_highest_lag_of_each_bucket(db: None, settings: Any) -> None:
    settings.KAFKA_TOPIC = TOPIC
    history_fill(groups=["g1"], partitions=1, minutes=30)

    series = consumer_lag_series(30, max_points=36)

    assert 36 <= len(series) <= 37
    assert series[-1].lag == 359  # the newest round, the highest lag, survives
    assert [point.lag for point in series] == sorted(point.lag for point in series)


@pytest.mark.django_db(databases=["default", "sqlite"])
def test_the_series_buckets_the_same_on_postgresql_and_sqlite(settings: Any) -> None:
    settings.KAFKA_TOPIC = TOPIC
    moment = dt.datetime(2026, 3, 1, 12, 0, 7, 250000, tzinfo=dt.UTC)
    for alias in ("default", "sqlite"):
        ConsumerGroupSample.objects.using(alias).create(
            sampled_at=moment, topic=TOPIC, group_id="g", total_lag=5, status="OK"
        )

    epochs = {
        alias: ConsumerGroupSample.objects.using(alias).annotate(epoch=_Epoch("sampled_at")).get().epoch
        for alias in ("default", "sqlite")
    }

    # julianday() is a double of days: about a tenth of a millisecond of precision, plenty for a chart.
    assert epochs == {alias: pytest.approx(moment.timestamp(), abs=1e-3) for alias in ("default", "sqlite")}


def test_samples_older_than_the_retention_are_pruned_by_the_round(lag_topic: LagTopic, settings: Any) -> None:
    settings.LAG_RETENTION_HOURS = 1
    old = timezone.now() - dt.timedelta(hours=2)
    ConsumerGroupSample.objects.create(sampled_at=old, topic=lag_topic.name, group_id="gone", total_lag=1, status="OK")
    ConsumerLagSample.objects.create(
        sampled_at=old, topic=lag_topic.name, group_id="gone", partition=0, end_offset=1, lag=1, status="OK"
    )
    ProjectionLagSample.objects.create(
        sampled_at=old,
        projection="order_summary",
        head_position=1,
        checkpoint_position=0,
        lag_positions=1,
        lag_seconds=9,
    )

    consumer_lag_sample()

    assert not ConsumerGroupSample.objects.filter(sampled_at__lt=timezone.now() - dt.timedelta(hours=1)).exists()
    assert not ConsumerLagSample.objects.filter(group_id="gone").exists()
    assert not ProjectionLagSample.objects.filter(sampled_at=old).exists()
    assert ConsumerGroupSample.objects.exists() and ProjectionLagSample.objects.exists()


def test_the_console_reads_groups_partitions_and_series_from_the_sampler(lag_topic: LagTopic, group_id: str) -> None:
    lag_topic.produce({1: 3})
    lag_topic.commit(group_id, {1: 1})
    consumer_lag_sample()

    rows = {row.group_id: row for row in pipeline.consumer_group_list()}
    series = pipeline.lag_series(minutes=60)

    assert rows[group_id].status == "OK"
    assert rows[group_id].total_lag == 2
    assert [(p.partition, p.end_offset, p.committed_offset, p.lag) for p in rows[group_id].partitions] == [
        (0, 0, None, 0),
        (1, 3, 1, 2),
        (2, 0, None, 0),
    ]
    assert (group_id, 2) in {(group, lag) for _, group, lag in series}


def test_the_beat_task_samples_and_is_scheduled_every_interval(lag_topic: LagTopic, group_id: str) -> None:
    lag_topic.produce({0: 2})
    lag_topic.commit(group_id, {0: 2})

    consumer_lag_sample_task.apply().get()

    assert ConsumerGroupState.objects.get(group_id=group_id).total_lag == 0
    entry = settings.CELERY_BEAT_SCHEDULE["messaging.consumer_lag_sample"]
    assert entry["task"] == consumer_lag_sample_task.name
    assert entry["schedule"] == settings.LAG_SAMPLE_INTERVAL_SECONDS == 5


def test_an_hour_of_samples_is_read_in_three_queries_as_bounded_points(db: None, settings: Any, viewer: User) -> None:
    settings.KAFKA_TOPIC = TOPIC
    groups = [f"projection.g{index}" for index in range(6)]
    history_fill(groups=groups, partitions=10, minutes=60)

    timings = []
    for _ in range(20):
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            consumer_group_status_list()
            series = consumer_lag_series(60)
        timings.append(time.perf_counter() - started)
    timings.sort()
    p95 = timings[int(len(timings) * 0.95) - 1]

    assert len(queries) == 3
    # Ten-second buckets for an hour: at most 361 points a group.
    assert 6 * 350 <= len(series) <= 6 * 361
    # A guard against unbounded reads only: tests share two cores with other runs (measured: ~35 ms loaded).
    assert p95 < 0.5, f"selectors p95 {p95 * 1000:.1f} ms"
    client = Client()
    client.force_login(viewer)
    assert client.get("/consumers/").status_code == 200
