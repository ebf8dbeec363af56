"""The real relay, worker and beat pass their health checks while they run and fail them once stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from apps.messaging.health import Health, beat_health, relay_health, this_host, worker_health
from tests.support.broker import KafkaSetup

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
        "LAG_SAMPLE_INTERVAL_SECONDS": "1",
    }


@pytest.fixture
def spawned() -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    processes: dict[str, subprocess.Popen[bytes]] = {}
    yield processes
    for process in processes.values():
        if process.poll() is None:
            process.kill()
            process.wait()


def wait_for(check: Callable[[], Health], *, healthy: bool, timeout: float) -> Health:
    deadline = time.monotonic() + timeout
    while True:
        health = check()
        if health.healthy == healthy or time.monotonic() > deadline:
            return health
        time.sleep(0.5)


def healthcheck_cli(process: str, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "healthcheck", process, *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.timeout(240)
def test_relay_worker_and_beat_are_healthy_while_running_and_unhealthy_once_stopped(
    kafka: KafkaSetup, spawned: dict[str, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    env = process_env(kafka)
    commands = {
        "relay": [sys.executable, "manage.py", "run_relay"],
        "worker": [sys.executable, "-m", "celery", "-A", "eda_console", "worker", "--pool", "solo", "-l", "info"],
        "beat": [
            *(sys.executable, "-m", "celery", "-A", "eda_console", "beat", "-l", "info"),
            *("--schedule", str(tmp_path / "celerybeat-schedule")),
        ],
    }
    for name, argv in commands.items():
        log = (tmp_path / f"{name}.log").open("wb")
        spawned[name] = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=log)
    host = this_host()
    checks: dict[str, Callable[[], Health]] = {
        "relay": lambda: relay_health(host=host),
        "worker": lambda: worker_health(host=host),
        "beat": lambda: beat_health(max_age=3, host=host),
    }

    for name, check in checks.items():
        health = wait_for(check, healthy=True, timeout=90)
        assert health.healthy, f"{health.reason}\n{(tmp_path / f'{name}.log').read_text()[-3000:]}"
    for name in checks:
        result = healthcheck_cli(name, env, *(["--max-age", "3"] if name == "beat" else []))
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("healthy: ")

    for process in spawned.values():
        process.send_signal(signal.SIGTERM)
    for process in spawned.values():
        process.wait(60)

    assert "relay default: stopped" in relay_health(host=host).reason
    assert "stopped" in worker_health(host=host).reason
    assert not wait_for(checks["beat"], healthy=False, timeout=10).healthy
    result = healthcheck_cli("relay", env)
    assert result.returncode == 1
    assert "unhealthy: relay default: stopped" in result.stderr
