"""Each fault test gets its own migrated database, Tansu broker and Redis database, and runs the real processes.

The database is cloned from a template migrated once per session with ``manage.py
migrate`` (pytest-django's test database is not used: the processes need a database
they can all reach, and the test process switches to it too). Kafka consumer timings
are shortened so a restarted worker rejoins its groups in seconds on Tansu.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from apps.messaging.lag.offsets import lag_clients_close
from apps.messaging.producer import shared_producers_close
from tests.integration.faults.catch_up import consumer_groups
from tests.integration.faults.traffic import OrderTraffic
from tests.support.stack import (
    PipelineStack,
    database_create,
    database_drop,
    database_migrate,
    default_database_use,
    pipeline_stack,
)

REDIS_URL = os.environ.get("FAULTS_REDIS_URL", "redis://127.0.0.1:6379/11")
# A dead member is evicted after the session timeout; a join waits up to the rebalance timeout
# (the max poll interval). Both short, so a restarted worker is back within seconds.
CONSUMER_TIMINGS = {
    "KAFKA_CONSUMER_SESSION_TIMEOUT_MS": "6000",
    "KAFKA_CONSUMER_HEARTBEAT_INTERVAL_MS": "1000",
    "KAFKA_CONSUMER_MAX_POLL_INTERVAL_MS": "6000",
}


@pytest.fixture(scope="session")
def faults_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated once per session; each test runs on a copy of it."""
    name = f"eda_faults_{uuid.uuid4().hex[:8]}_template"
    var_dir = tmp_path_factory.mktemp("faults-migrate")
    database_create(name)
    try:
        database_migrate(name, env={"EDA_VAR_DIR": str(var_dir), "REDIS_URL": REDIS_URL})
        yield name
    finally:
        database_drop(name)


@pytest.fixture
def stack(faults_template: str, settings: Any, django_db_blocker: Any, tmp_path: Path) -> Iterator[PipelineStack]:
    """The test's database, broker and Redis database, with this process's Django pointed at them."""
    env = {**CONSUMER_TIMINGS, "CONSUMER_GROUPS": ",".join(consumer_groups())}
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
        shared_producers_close()
        lag_clients_close()
        try:
            with django_db_blocker.unblock(), default_database_use(stack.database):
                yield stack
        finally:
            lag_clients_close()
            shared_producers_close()


@pytest.fixture
def order_traffic(stack: PipelineStack) -> Iterator[Callable[..., OrderTraffic]]:
    """Makes :class:`OrderTraffic` runs that are stopped before the stack goes (even when the test failed)."""
    made: list[OrderTraffic] = []

    def make(**kwargs: Any) -> OrderTraffic:
        traffic = OrderTraffic(**kwargs)
        made.append(traffic)
        return traffic

    yield make
    for traffic in made:
        traffic.stop()
