"""The real processes: ``celery -A eda_console worker`` consumes, ``manage.py run_relay`` publishes; both stop warm."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from apps.messaging.heartbeat import ConsumerHeartbeat, consumer_heartbeat_list
from apps.messaging.registry import consumer_specs
from apps.messaging.relay.checkpoint import relay_checkpoint_get
from tests.integration.messaging.conftest import orders_append
from tests.support.broker import KafkaSetup, topic_read

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[3]


def process_env(kafka: KafkaSetup) -> dict[str, str]:
    db = connection.settings_dict
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "eda_console.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
        "KAFKA_TOPIC": kafka.topic,
        "KAFKA_DLQ_TOPIC": kafka.dlq_topic,
    }


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def wait_until(condition: Any, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_run_relay_publishes_the_store_and_stops_on_sigterm(
    kafka: KafkaSetup, spawned: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    orders_append(streams=5, lines_per_order=1)
    log = (tmp_path / "relay.log").open("wb")
    relay = subprocess.Popen(
        [sys.executable, "manage.py", "run_relay"], cwd=ROOT, env=process_env(kafka), stdout=log, stderr=log
    )
    spawned.append(relay)

    wait_until(lambda: len(topic_read(bootstrap=kafka.bootstrap, topic=kafka.topic, timeout=30)) == 10, timeout=60)
    orders_append(streams=5, lines_per_order=0)
    wait_until(lambda: relay_checkpoint_get() > 0 and len(_positions(kafka)) == 15, timeout=30)

    relay.send_signal(signal.SIGTERM)
    assert relay.wait(20) == 0
    assert "stopped at position" in (tmp_path / "relay.log").read_text()


def test_the_celery_worker_hosts_every_registered_consumer_and_stops_warm(
    kafka: KafkaSetup, spawned: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    groups = {spec.group_id for spec in consumer_specs()}
    assert groups, "no consumer is registered"
    orders_append(streams=5, lines_per_order=1)
    from tests.integration.messaging.conftest import relay_publish

    relay_publish()
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "eda_console", "worker", "--pool", "solo", "-l", "info"],
        cwd=ROOT,
        env=process_env(kafka),
        stdout=log,
        stderr=log,
    )
    spawned.append(worker)

    def beats() -> dict[str, ConsumerHeartbeat]:
        # This worker's own beats: members are host:pid:thread.
        return {beat["group_id"]: beat for beat in consumer_heartbeat_list() if f":{worker.pid}:" in beat["member"]}

    wait_until(lambda: set(beats()) == groups and all(b["events"] >= 10 for b in beats().values()), timeout=90)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(60) == 0
    assert {beat["status"] for beat in beats().values()} == {"stopped"}


def _positions(kafka: KafkaSetup) -> list[int]:
    import orjson

    return [orjson.loads(r.value)["position"] for r in topic_read(bootstrap=kafka.bootstrap, topic=kafka.topic)]
