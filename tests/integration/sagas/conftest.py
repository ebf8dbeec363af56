"""Saga tests run the real pipeline: relay, worker (the orchestrator and its step tasks) and beat.

Each test gets its own database, broker and Redis database (the fault tests' stack), with
saga timings shortened so a timeout and its retries take seconds, in the processes and
in this one (the operator actions run here).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from apps.messaging.lag.offsets import lag_clients_close
from apps.messaging.producer import shared_producers_close
from tests.integration.dead_letters.conftest import user_with_role
from tests.integration.faults.conftest import CONSUMER_TIMINGS, REDIS_URL, faults_template  # noqa: F401
from tests.support.stack import PipelineStack, default_database_use, pipeline_stack

SAGA_TIMINGS = {
    "SAGA_STEP_TIMEOUT_SECONDS": "2.0",
    "SAGA_STEP_MAX_ATTEMPTS": "3",
    "SAGA_RETRY_BACKOFF_SECONDS": "0.2",
    "SAGA_OVERDUE_CHECK_SECONDS": "0.5",
    # Failure rules made in a test reach the worker's participants at once.
    "DEAD_LETTER_CACHE_SECONDS": "0.2",
}


@pytest.fixture
def saga_stack(
    faults_template: str,  # noqa: F811
    settings: Any,
    django_db_blocker: Any,
    tmp_path: Path,
) -> Iterator[PipelineStack]:
    """The test's pipeline with relay, worker and beat running, and this process pointed at its database."""
    env = {**CONSUMER_TIMINGS, **SAGA_TIMINGS}
    with pipeline_stack(template=faults_template, redis_url=REDIS_URL, var_dir=tmp_path / "stack", env=env) as stack:
        settings.KAFKA_BOOTSTRAP_SERVERS = [stack.bootstrap]
        settings.REDIS_URL = REDIS_URL
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15}]},
            }
        }
        for name, value in CONSUMER_TIMINGS.items():
            setattr(settings, name, int(value))
        settings.SAGA_STEP_TIMEOUT_SECONDS = float(SAGA_TIMINGS["SAGA_STEP_TIMEOUT_SECONDS"])
        settings.SAGA_STEP_MAX_ATTEMPTS = int(SAGA_TIMINGS["SAGA_STEP_MAX_ATTEMPTS"])
        settings.SAGA_RETRY_BACKOFF_SECONDS = float(SAGA_TIMINGS["SAGA_RETRY_BACKOFF_SECONDS"])
        shared_producers_close()
        lag_clients_close()
        try:
            with django_db_blocker.unblock(), default_database_use(stack.database):
                for name in ("relay", "worker", "beat"):
                    stack.start(name)
                yield stack
        finally:
            lag_clients_close()
            shared_producers_close()


@pytest.fixture
def operator(db: None) -> User:
    """An operator for the saga tests' failure rules (in pytest-django's database)."""
    return user_with_role("opal", "operator")
