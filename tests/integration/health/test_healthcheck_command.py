"""``manage.py healthcheck`` judges each process by the heartbeats it left in Redis."""

from __future__ import annotations

import time
from io import StringIO

import pytest
from celery.signals import after_task_publish
from django.core.management import CommandError, call_command

from apps.messaging.health import beat_max_age_default, this_host
from apps.messaging.heartbeat import (
    ConsumerHeartbeat,
    RelayHeartbeat,
    beat_heartbeat_get,
    consumer_heartbeat_record,
    relay_heartbeat_record,
)
from apps.messaging.registry import consumer_specs

LAG_TASK = "messaging.consumer_lag_sample"


def healthcheck(*args: str) -> str:
    out = StringIO()
    call_command("healthcheck", *args, stdout=out)
    return out.getvalue()


def unhealthy(*args: str) -> str:
    with pytest.raises(CommandError) as error:
        healthcheck(*args)
    assert error.value.returncode == 1
    return str(error.value)


def relay_beat(
    *, status: str = "running", age: float = 0.0, host: str | None = None, role: str = "active", pid: int = 4242
) -> None:
    beat: RelayHeartbeat = {
        "name": "default",
        "member": f"{host or this_host()}:{pid}",
        "status": status,
        "role": role,
        "started_at": time.time() - 100,
        "updated_at": time.time() - age,
        "position": 7,
        "head_position": 9,
        "published": 7,
        "last_batch_size": 1,
        "last_batch_ms": 1.0,
    }
    relay_heartbeat_record(beat)


def consumer_beat(group_id: str, *, status: str = "running", age: float = 0.0) -> None:
    beat: ConsumerHeartbeat = {
        "group_id": group_id,
        "member": f"{this_host()}:4242:0",
        "status": status,
        "started_at": time.time() - 100,
        "last_poll_at": time.time() - age,
        "batches": 0,
        "events": 0,
        "applied": 0,
        "dead_lettered": 0,
        "last_batch_size": 0,
        "last_batch_ms": 0.0,
        "partitions": [0],
        "errors": 0,
        "last_error": "",
    }
    consumer_heartbeat_record(beat)


def scheduled_publish(task: str) -> None:
    # What Celery sends after putting a task on the broker, in whichever process published it.
    after_task_publish.send(sender=task, body=(), headers={}, exchange="", routing_key="celery")


def test_a_running_relay_that_beat_just_now_is_healthy() -> None:
    relay_beat()

    assert "healthy: relay default: running at position 7 of 9" in healthcheck("relay")


def test_a_relay_without_heartbeat_is_unhealthy() -> None:
    assert "relay default: no heartbeat" in unhealthy("relay")


def test_a_relay_whose_last_beat_is_older_than_the_limit_is_unhealthy() -> None:
    relay_beat(age=20)

    assert "last heartbeat 20s ago (limit 10s)" in unhealthy("relay", "--max-age", "10")
    assert "healthy" in healthcheck("relay", "--max-age", "30")


def test_a_stopped_relay_is_unhealthy_however_fresh_its_last_beat() -> None:
    relay_beat(status="stopped")

    assert "relay default: stopped" in unhealthy("relay")


def test_a_relay_beating_on_another_host_does_not_make_this_one_healthy() -> None:
    relay_beat(host="elsewhere")

    assert "comes from elsewhere:4242" in unhealthy("relay")
    assert "healthy" in healthcheck("relay", "--any-host")


def test_a_relay_standing_by_is_healthy_and_names_the_active_relay() -> None:
    relay_beat(role="standby", pid=4343)
    relay_beat(host="elsewhere")

    assert f"healthy: relay default: standing by ({this_host()}:4343); active: elsewhere:4242" in healthcheck("relay")


def test_the_active_relay_beside_a_standby_on_the_same_host_is_the_one_judged() -> None:
    relay_beat(role="standby", pid=4343)
    relay_beat()

    assert f"running at position 7 of 9 (active, {this_host()}:4242)" in healthcheck("relay")


def test_a_worker_is_healthy_when_every_registered_group_polls_on_this_host() -> None:
    groups = [spec.group_id for spec in consumer_specs()]
    assert groups
    for group in groups:
        consumer_beat(group)

    assert f"worker: {len(groups)} consumer groups polling on {this_host()}" in healthcheck("worker")


def test_a_worker_missing_a_group_or_with_a_stale_one_is_unhealthy_and_says_which() -> None:
    first, second, *others = [spec.group_id for spec in consumer_specs()]
    consumer_beat(first, age=120)
    for group in others:
        consumer_beat(group)

    reason = unhealthy("worker", "--max-age", "60")

    assert f"{first}: running, last poll 120s ago" in reason
    assert f"{second}: no consumer thread on {this_host()}" in reason
    assert not any(f"{group}:" in reason for group in others)


def test_a_worker_whose_consumers_stopped_is_unhealthy() -> None:
    for spec in consumer_specs():
        consumer_beat(spec.group_id, status="stopped")

    assert "stopped, last poll 0s ago" in unhealthy("worker")


def test_beat_publishing_a_scheduled_task_is_its_heartbeat_and_other_publishes_are_not() -> None:
    scheduled_publish("projections.rebuild")
    assert beat_heartbeat_get() is None
    assert "has not published a scheduled task" in unhealthy("beat")

    scheduled_publish(LAG_TASK)

    beat = beat_heartbeat_get()
    assert beat is not None and beat["task"] == LAG_TASK
    assert f"healthy: beat: published {LAG_TASK} 0s ago" in healthcheck("beat")


def test_beat_that_stopped_publishing_is_unhealthy_after_its_limit() -> None:
    scheduled_publish(LAG_TASK)
    time.sleep(1.2)

    assert "(limit 1s)" in unhealthy("beat", "--max-age", "1")


def test_beats_default_limit_is_three_intervals_of_its_schedule_but_not_under_the_heartbeat_ttl(settings) -> None:
    settings.HEARTBEAT_TTL_SECONDS = 30
    settings.CELERY_BEAT_SCHEDULE = {"lag": {"task": LAG_TASK, "schedule": 5.0}}
    assert beat_max_age_default() == 30

    settings.CELERY_BEAT_SCHEDULE = {"lag": {"task": LAG_TASK, "schedule": 60.0}, "x": {"task": "x", "schedule": 20}}
    assert beat_max_age_default() == 60
